"""Indexing: ``x[key]``, ``x[key] = v``, gather/scatter, index_select."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.ops._common import as_tensor, named, record_tensor, wrap_dim
from ndgrad.ops.shape import as_view


def _index_error(exc: Exception, x: Tensor, op: str) -> IndexError:
    msg = str(exc).replace("axis", "dimension")
    if "too many indices" in msg:
        msg = f"too many indices for tensor of dimension {x._data.ndim}"
    return IndexError(f"{op}: {msg} (tensor of shape {list(x.shape)})")


def to_numpy_key(key: Any, op: str = "index") -> tuple[Any, bool]:
    """The key in NumPy's terms, and whether it uses advanced (array) indexing."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    advanced = False
    for k in key:
        if isinstance(k, Tensor):
            if k._data.dtype.kind == "f":
                raise IndexError(
                    f"{op}: tensors used as indices must be long, int, byte or bool tensors, "
                    f"got {k.dtype}"
                )
            out.append(k._data)
            advanced = True
        elif isinstance(k, (list, np.ndarray, range)):  # d2l indexes with range(len(y))
            arr = np.asarray(k)
            if arr.dtype.kind == "f":
                raise IndexError(f"{op}: index lists must hold integers or bools, got {arr.dtype}")
            out.append(arr)
            advanced = True
        elif (
            k is None
            or k is Ellipsis
            or isinstance(k, (slice, int, np.integer))
            and not isinstance(k, bool)
        ):
            if isinstance(k, slice) and k.step is not None and k.step <= 0:
                raise ValueError(f"{op}: step must be greater than zero, got {k.step}")
            out.append(k)
        elif isinstance(k, bool):
            out.append(k)
            advanced = True
        else:
            raise IndexError(
                f"{op}: only integers, slices (`:`), ellipsis (`...`), None and long or bool "
                f"tensors are valid indices (got {type(k).__name__})"
            )
    return tuple(out), advanced


def _basic_index_name(npkey: tuple) -> str:
    """PyTorch names basic indexing after its last step that does something (``:`` does not)."""
    for k in reversed(npkey):
        if isinstance(k, (int, np.integer)):
            return "SelectBackward0"
        if k is None:
            return "UnsqueezeBackward0"
        if k is not Ellipsis and k != slice(None):
            return "SliceBackward0"
    return "SliceBackward0"


def getitem(x: Tensor, key: Any) -> Tensor:
    npkey, advanced = to_numpy_key(key)
    try:
        data = x._data[npkey]
    except IndexError as exc:
        raise _index_error(exc, x, "index") from None
    shape = x._data.shape
    if advanced:
        name = "IndexBackward0"
    elif len(npkey) == 1 and isinstance(npkey[0], (int, np.integer)):  # x[i], the common case
        name = "SelectBackward0"
    else:
        name = _basic_index_name(npkey)
    # a NumPy scalar (x[i] of a vector) becomes a 0-d array in record's Tensor._make
    out = record_tensor(name, data, (x,), lambda g: (index_put_zeros(shape, npkey, g, advanced),))
    return out if advanced else as_view(out, x)


def index_put_zeros(shape: tuple, npkey: tuple, src: Tensor, advanced: bool) -> Tensor:
    """Zeros of ``shape`` with ``src`` added at ``npkey``: the gradient of indexing."""
    xp = array_module(src._data)
    data = xp.zeros(shape, dtype=src._data.dtype)
    if advanced:
        xp.add.at(data, npkey, src._data)
    else:
        data[npkey] = src._data
    return record_tensor("IndexPutBackward0", data, (src,), lambda g: (g[npkey],))


def index_put(x: Tensor, key: Any, value: Any) -> Tensor:
    """Out-of-place ``x[key] = value``; ``__setitem__`` applies it in place."""
    npkey, advanced = to_numpy_key(key, "index_put")
    xp = array_module(x._data)
    if isinstance(value, Tensor):
        v = value if value._data.dtype == x._data.dtype else value.to(x.dtype)
    elif isinstance(value, (bool, int, float)):
        # Straight to x's dtype: a float64 target keeps every digit of a Python float.
        v = Tensor._make(xp.array(value, dtype=x._data.dtype))
    else:
        v = as_tensor(value, "index_put").to(x.dtype)
    data = x._data.copy()
    try:
        data[npkey] = v._data
    except IndexError as exc:
        raise _index_error(exc, x, "index_put") from None
    except ValueError:
        target = x._data[npkey].shape
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(v.shape)} cannot be broadcast to "
            f"indexing result of shape {list(target)}"
        ) from None
    mask = xp.ones(x._data.shape, dtype=bool)
    mask[npkey] = False
    keep = Tensor._make(mask)

    def backward(g: Tensor) -> tuple:
        return g * keep, g[npkey]

    return record_tensor("IndexPutBackward0", data, (x, v), backward)


def _gather_key(index: np.ndarray, dim: int) -> tuple:
    """Full NumPy index arrays for ``out[i...] = x[..., index[i...], ...]`` along ``dim``."""
    xp = array_module(index)
    n = index.ndim
    # Open grids, as np.indices(sparse=True) gives (which CuPy lacks).
    return tuple(
        index if k == dim else xp.arange(size).reshape((1,) * k + (size,) + (1,) * (n - k - 1))
        for k, size in enumerate(index.shape)
    )


def _check_index(op: str, x: Tensor, dim: int, index: Tensor) -> np.ndarray:
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index")
    idx = index._data
    if idx.ndim != x._data.ndim and not (idx.ndim <= 1 and x._data.ndim <= 1):
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as input tensor "
            f"({op}: index shape {list(index.shape)}, input shape {list(x.shape)})"
        )
    size = x._data.shape[dim] if x._data.ndim else 1
    if idx.size and (idx.min() < -size or idx.max() >= size):
        bad = idx[(idx < -size) | (idx >= size)].flat[0]
        raise RuntimeError(
            f"{op}(): index {bad} is out of bounds for dimension {dim} with size {size}"
        )
    return array_module(idx).where(idx < 0, idx + size, idx)


def gather(x: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "gather")
    idx = _check_index("gather", x, d, index)
    for k in range(idx.ndim):
        if k != d and idx.shape[k] > x._data.shape[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(index.shape)} to be "
                f"smaller than self {list(x.shape)} apart from dimension {d}"
            )
    key = _gather_key(idx, d)
    data = x._data[key]
    shape = x._data.shape
    return record_tensor(
        "GatherBackward0", data, (x,), lambda g: (scatter_into_zeros(shape, d, index, g),)
    )


def scatter_into_zeros(shape: tuple, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """Zeros of ``shape`` with ``src`` added at ``index`` along ``dim`` (gather's gradient)."""
    xp = array_module(src._data)
    data = xp.zeros(shape, dtype=src._data.dtype)
    key = _gather_key(index._data, dim)
    xp.add.at(data, key, src._data[tuple(slice(0, s) for s in index._data.shape)])
    return record_tensor("ScatterAddBackward0", data, (src,), lambda g: (gather(g, dim, index),))


def scatter(
    x: Tensor,
    dim: int,
    index: Tensor,
    src: Any = None,
    *,
    value: Any = None,
    reduce: str | None = None,
) -> Tensor:
    if src is None:
        src = value
    d = wrap_dim(dim, x._data.ndim, "scatter")
    idx = _check_index("scatter", x, d, index)
    key = _gather_key(idx, d)
    data = x._data.copy()
    xp = array_module(data)
    if isinstance(src, Tensor):
        vals = src._data[tuple(slice(0, s) for s in idx.shape)].astype(x._data.dtype, copy=False)
    else:
        vals = xp.asarray(src, dtype=x._data.dtype)
    if reduce == "add":
        xp.add.at(data, key, vals)
    elif reduce == "multiply":
        xp.multiply.at(data, key, vals)
    else:
        data[key] = vals
    mask = xp.ones(x._data.shape, dtype=bool)
    mask[key] = False
    keep = Tensor._make(mask)
    inputs = (x, src) if isinstance(src, Tensor) else (x,)

    def backward(g: Tensor) -> tuple:
        gx = g * keep
        if isinstance(src, Tensor):
            return gx, _pad_to(gather(g, d, Tensor._make(idx)), src)
        return (gx,)

    return record_tensor("ScatterBackward0", data, inputs, backward)


def _pad_to(g: Tensor, like: Tensor) -> Tensor:
    if g.shape == like.shape:
        return g
    xp = array_module(g._data)
    data = xp.zeros(like._data.shape, dtype=g._data.dtype)
    key = tuple(slice(0, s) for s in g._data.shape)
    data[key] = g._data
    return Tensor._make(data)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "scatter_add")
    _check_index("scatter_add", x, d, index)
    return x + scatter_into_zeros(x._data.shape, d, index, src.to(x.dtype))


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "index_select")
    index = as_tensor(index, "index_select")
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    return named(getitem(x, (slice(None),) * d + (index.reshape(-1),)), "IndexSelectBackward0")


def take_along_dim(x: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    if dim is None:
        return gather(x.reshape(-1), 0, indices.reshape(-1))
    return gather(x, dim, indices)


def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    mask = as_tensor(mask, "masked_select")
    shape = np.broadcast_shapes(x._data.shape, mask._data.shape)
    return named(getitem(x.expand(shape), mask.expand(shape)), "MaskedSelectBackward0")


def nonzero(x: Tensor, *, as_tuple: bool = False) -> Any:
    xp = array_module(x._data)
    if x._data.ndim == 0:  # a scalar is treated as one element of a 1-D tensor
        hit = xp.flatnonzero(x._data.reshape(1)).astype(np.int64)
        if as_tuple:
            return (Tensor._make(hit),)
        return Tensor._make(xp.zeros((hit.size, 0), dtype=np.int64))
    idx = xp.nonzero(x._data)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in idx)
    return Tensor._make(xp.stack(idx, axis=-1).astype(np.int64))


def argwhere(x: Tensor) -> Tensor:
    return nonzero(x)


def index_fill(x: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """``x`` with the slices at ``index`` along ``dim`` set to ``value``."""
    from ndgrad.ops.pointwise import masked_fill

    d = wrap_dim(dim, x._data.ndim, "index_fill")
    idx = as_tensor(index, "index_fill")._data.reshape(-1)
    xp = array_module(x._data)
    mask = xp.zeros(x._data.shape[d] if x._data.ndim else 1, dtype=bool)
    mask[idx] = True
    shape = [1] * x._data.ndim
    if shape:
        shape[d] = -1
    return masked_fill(x, Tensor._make(mask.reshape(shape)), value)


def fill_diagonal(x: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """``x`` with its main diagonal set to ``fill_value`` (``fill_diagonal_``'s result)."""
    from ndgrad.ops.pointwise import masked_fill

    shape = x._data.shape
    if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
        raise RuntimeError("all dimensions of input must be of equal length")
    xp = array_module(x._data)
    mask = xp.zeros(shape, dtype=bool)
    xp.fill_diagonal(mask, True, wrap=wrap)
    return masked_fill(x, Tensor._make(mask), fill_value)


def take(x: Tensor, index: Tensor) -> Tensor:
    """Elements of ``x`` as if it were 1-D, at ``index`` (the result has index's shape)."""
    index = as_tensor(index, "take")
    return getitem(x.reshape(-1), index)
