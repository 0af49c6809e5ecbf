"""In-place writes of new contents: ``copy_``, ``fill_``, ``zero_`` and the random fills
(``normal_``, ``uniform_``...). The old contents get a zero gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._tensor import Tensor
from ndgrad.ops import inplace
from ndgrad.ops._common import as_tensor, bind, record


def _copy_rule(xp: Any, g: Any) -> tuple:
    return xp.zeros_like(g), g


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Writes ``src`` (broadcast, converted to this tensor's dtype) into the tensor."""
    src = as_tensor(src, "copy_")
    if type(src._data) is not type(self._data):  # across devices, as torch's copy_ (differentiable)
        src = src.to(self.device)

    def compute(s: Tensor) -> Tensor:
        if src._data.dtype == s._data.dtype:
            value = src
        elif src._data.dtype.kind == "f" and s._data.dtype.kind == "f":
            value = src.to(s.dtype)
        else:
            value = Tensor._make(src._data.astype(s._data.dtype))
        try:
            expanded = value.expand(s.shape) if value.shape != s.shape else value
        except RuntimeError:
            raise RuntimeError(
                f"copy_: the source of shape {list(src.shape)} must be broadcastable to "
                f"the destination of shape {list(s.shape)}"
            ) from None
        return record("CopyBackwards", expanded._data, (s, expanded), _copy_rule)

    return inplace.apply_inplace(self, "copy_", compute, src)


def zero_(self: Tensor) -> Tensor:
    return inplace.fill_with(self, self.xp.zeros((), self._data.dtype), "zero_")


def fill(input: Tensor, value: Any) -> Tensor:  # noqa: A002
    """``torch.fill``: a copy of ``input`` with every element ``value``."""
    return fill_(input.clone(), value)


def fill_(self: Tensor, value: Any) -> Tensor:
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(
            "fill_ only supports 0-dimension value tensor but got tensor with "
            f"{value._data.ndim} dimensions (of shape {list(value.shape)})."
        )
    return inplace.fill_with(
        self, np.asarray(value._data if isinstance(value, Tensor) else value), "fill_"
    )


def _random_fill(name: str, sample: Any) -> Any:
    """An in-place fill with ``sample(rng, shape, *args)`` from the (given or default) generator."""

    def op_(self: Tensor, *args: Any, generator: Any = None) -> Tensor:
        from ndgrad import _creation

        rng = (generator or _creation.default_generator)._rng
        return inplace.fill_with(self, sample(rng, self._data.shape, *args), name)

    op_.__name__ = name
    return op_


def _bernoulli(rng: Any, shape: tuple, p: Any = 0.5) -> Any:
    return rng.random(shape) < (p._data if isinstance(p, Tensor) else p)


def _random(rng: Any, shape: tuple, *bounds: Any) -> Any:
    """``random_()``: [0, 2**24); ``random_(to)``: [0, to); ``random_(from, to)``."""
    if len(bounds) == 2 and bounds[1] is not None:
        return rng.integers(bounds[0], bounds[1], shape)
    if len(bounds) == 2:
        return rng.integers(bounds[0], 2**24, shape)
    return rng.integers(0, bounds[0] if bounds else 2**24, shape)


for _name, _fn in (
    ("copy_", copy_),
    ("zero_", zero_),
    ("fill_", fill_),
    (
        "normal_",
        _random_fill("normal_", lambda rng, s, mean=0.0, std=1.0: rng.normal(mean, std, s)),
    ),
    ("uniform_", _random_fill("uniform_", lambda rng, s, a=0.0, b=1.0: rng.uniform(a, b, s))),
    ("bernoulli_", _random_fill("bernoulli_", _bernoulli)),
    (
        "exponential_",
        _random_fill("exponential_", lambda rng, s, lambd=1.0: rng.exponential(1 / lambd, s)),
    ),
    ("random_", _random_fill("random_", _random)),
):
    bind(_name, _fn)
