"""Sorting: sort, argsort, topk. The values' gradient goes back to where each value came from."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.ops._common import method, record, return_type, wrap_dim

SortResult = return_type("sort")
TopkResult = return_type("topk")


def _sorted(x: Tensor, d: int, descending: bool) -> tuple[Any, Any]:
    """(values, int64 indices) of ``x``'s data sorted stably along ``d``."""
    xp = array_module(x._data)
    src = x._data
    idx = xp.argsort(-src if descending else src, axis=d, kind="stable").astype(np.int64)
    return xp.take_along_axis(src, idx, axis=d), idx


def _values(name: str, x: Tensor, values: Any, indices: Tensor, d: int) -> Tensor:
    """``values`` (taken from ``x`` at ``indices`` along ``d``) recorded with their gradient:
    zeros with the gradient put back at the indices (PyTorch saves the indices)."""
    shape = x._data.shape

    def rule(xp: Any, g: Any, indices: Any) -> tuple:
        return (xp.add_along_axis_zeros(shape, indices, g, d),)

    return record(name, values, (x,), rule, (indices,))


@method("sort")
def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
    d = wrap_dim(dim, x._data.ndim, "sort")
    if not x._data.ndim:
        xp = array_module(x._data)
        return SortResult(x.clone(), Tensor._make(xp.zeros((), dtype=np.int64)))
    values, idx = _sorted(x, d, descending)
    indices = Tensor._make(idx)
    return SortResult(_values("SortBackward0", x, values, indices, d), indices)


@method("argsort")
def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "argsort")
    if not x._data.ndim:
        return Tensor._make(array_module(x._data).zeros((), dtype=np.int64))
    xp = array_module(x._data)
    src = x._data
    return Tensor._make(
        xp.argsort(-src if descending else src, axis=d, kind="stable").astype(np.int64)
    )


@method("topk")
def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopkResult:  # noqa: A002
    d = wrap_dim(dim, x._data.ndim, "topk")
    size = x._data.shape[d] if x._data.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk(): selected index k out of range (k={k}, size={size})")
    if not x._data.ndim:
        return TopkResult(x.clone(), Tensor._make(array_module(x._data).zeros((), dtype=np.int64)))
    values, idx = _sorted(x, d, largest)
    key = (slice(None),) * d + (slice(0, k),)
    indices = Tensor._make(idx[key].copy())
    return TopkResult(_values("TopkBackward0", x, values[key].copy(), indices, d), indices)
