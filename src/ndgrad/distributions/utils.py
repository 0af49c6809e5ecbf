"""Helpers shared by the distributions: broadcasting, probs <-> logits, lazy properties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._tensor import Tensor
from ndgrad.ops import pointwise as _pw
from ndgrad.ops import reduction as _red
from ndgrad.ops.shape import broadcast_tensors


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """Numbers become tensors of the default dtype (or of the tensors'), then all broadcast."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    if not all(isinstance(v, (Tensor, int, float)) for v in values):
        raise ValueError(
            "Input arguments must all be instances of numbers.Number, ndgrad.Tensor or objects "
            "implementing __torch_function__."
        )
    np_dtype = tensors[0]._data.dtype if tensors else _dtype.get_default_dtype().np
    if np_dtype.kind != "f":
        np_dtype = _dtype.get_default_dtype().np
    as_t = [
        v if isinstance(v, Tensor) else Tensor._make(np.asarray(v, dtype=np_dtype)) for v in values
    ]
    return tuple(broadcast_tensors(*as_t))


def clamp_probs(probs: Tensor) -> Tensor:
    eps = float(np.finfo(probs._data.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    ps = clamp_probs(probs)
    if is_binary:
        return _pw.log(ps) - _pw.log1p(-ps)
    return _pw.log(ps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    if is_binary:
        return _pw.sigmoid(logits)
    return _red.softmax(logits, -1)


class lazy_property:  # noqa: N801 - PyTorch's name
    """Computed on first access, then stored in the instance (a non-data descriptor)."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance: Any, obj_type: Any = None) -> Any:
        if instance is None:
            return self
        value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def gammaln(x: np.ndarray) -> np.ndarray:
    """log Γ(x) elementwise (for constants such as counts; not differentiated)."""
    from ndgrad._backend import array_module, special

    return special(array_module(x)).gammaln(x)
