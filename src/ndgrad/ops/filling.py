"""In-place writes of new contents: ``copy_``, ``fill_``, ``zero_`` and the random fills
(``normal_``, ``uniform_``...). The old contents get a zero gradient."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ndgrad._dtype import CPP_NAMES, SCALAR_NAMES, not_implemented
from ndgrad._mt19937 import draw_order, in_draw_order
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


class _Target(NamedTuple):
    """What a sampler needs of the tensor it fills."""

    shape: tuple
    dtype: np.dtype
    contiguous: bool


def _random_fill(name: str, sample: Any) -> Any:
    """An in-place fill with ``sample(rng, target, *args)`` drawn from the given generator or
    the tensor's device's default one (PyTorch's own kernels on the CPU), element by element
    in the order PyTorch's TensorIterator visits the tensor (memory order)."""

    def op_(self: Tensor, *args: Any, generator: Any = None, **kwargs: Any) -> Tensor:
        from ndgrad import _creation

        rng = _creation._rng(generator, self.device)
        contiguous = self.is_contiguous()
        order = draw_order(self._data)
        if order is not None:  # a tensor argument (bernoulli_'s p) is read in the same order
            args = tuple(
                Tensor._make(a.xp.broadcast_to(a._data, self._data.shape).transpose(order))
                if isinstance(a, Tensor)
                else a
                for a in args
            )

        def draw(shape: tuple) -> Any:
            return sample(rng, _Target(shape, self._data.dtype, contiguous), *args, **kwargs)

        return inplace.fill_with(self, in_draw_order(draw, self._data), name)

    op_.__name__ = name
    return op_


def _floating(kernel: str, t: _Target) -> np.dtype:
    if t.dtype.kind != "f":
        raise not_implemented(kernel, t.dtype)
    return t.dtype


def _normal(rng: Any, t: _Target, mean: float = 0.0, std: float = 1.0) -> Any:
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    return rng.normal(t.shape, _floating("normal_kernel_cpu", t), mean, std, t.contiguous)


def _uniform(rng: Any, t: _Target, low: float = 0.0, high: float = 1.0) -> Any:
    if low > high:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={low:g} > to={high:g}"
        )
    return rng.uniform(t.shape, _floating("check_uniform_bounds", t), low, high)


def _bernoulli(rng: Any, t: _Target, p: Any = 0.5) -> Any:
    if isinstance(p, Tensor):
        return rng.bernoulli(p._data, t.shape)
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
    return rng.bernoulli(p, t.shape)


def _exponential(rng: Any, t: _Target, lambd: float = 1.0) -> Any:
    if t.dtype.kind != "f":
        raise RuntimeError(
            "Exponential distribution is a continuous probability distribution. dtype must be a "
            f"floating point but you specified {SCALAR_NAMES[t.dtype.name]}"
        )
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    return rng.exponential(t.shape, t.dtype, lambd)


def _cauchy(rng: Any, t: _Target, median: float = 0.0, sigma: float = 1.0) -> Any:
    if t.dtype.kind != "f":
        raise RuntimeError(
            "Cauchy distribution is a continuous probability distribution. dtype must be a "
            f"floating point but you specified {CPP_NAMES[t.dtype.name]}"
        )
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    return rng.cauchy(t.shape, t.dtype, median, sigma)


def _log_normal(rng: Any, t: _Target, mean: float = 1.0, std: float = 2.0) -> Any:
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    return rng.log_normal(t.shape, _floating("log_normal_cpu", t), mean, std)


def _geometric(rng: Any, t: _Target, p: float) -> Any:
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    return rng.geometric(t.shape, t.dtype, p)


def _random(rng: Any, t: _Target, *bounds: Any) -> Any:
    """``random_()``: [0, 2**mantissa] for floats, [0, max] for integers; ``random_(to)``:
    [0, to); ``random_(from, to)``: [from, to), ``to=None`` for the default upper end."""
    dt = t.dtype
    if not bounds:
        return rng.random_full(t.shape, dt)
    low, high = (0, bounds[0]) if len(bounds) == 1 else bounds
    if high is None:
        top = 2 if dt.kind == "b" else 2**24 if dt == np.float32 else 2**53
        if dt.kind in "iu":
            top = int(np.iinfo(dt).max)
        high = top + 1
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    return rng.integers(t.shape, low, high, dt)


for _name, _fn in (
    ("copy_", copy_),
    ("zero_", zero_),
    ("fill_", fill_),
    ("normal_", _random_fill("normal_", _normal)),
    ("uniform_", _random_fill("uniform_", _uniform)),
    ("bernoulli_", _random_fill("bernoulli_", _bernoulli)),
    ("exponential_", _random_fill("exponential_", _exponential)),
    ("cauchy_", _random_fill("cauchy_", _cauchy)),
    ("log_normal_", _random_fill("log_normal_", _log_normal)),
    ("geometric_", _random_fill("geometric_", _geometric)),
    ("random_", _random_fill("random_", _random)),
):
    bind(_name, _fn)
