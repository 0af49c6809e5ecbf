"""Indexing: ``x[key]``, ``x[key] = v``, gather/scatter, index_select."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._backend import array_module, ufunc_at
from ndgrad._tensor import Tensor, out_of_range_ints
from ndgrad.autograd.grad_mode import STATE
from ndgrad.autograd.graph import array_namespace
from ndgrad.ops import inplace
from ndgrad.ops._common import (
    SCALAR_NAMES,
    as_tensor,
    bind,
    broadcast_error,
    method,
    named,
    record,
    wrap_dim,
)
from ndgrad.ops.inplace import as_view


def _mask_mismatch(x: Tensor, npkey: tuple) -> IndexError | None:
    """PyTorch's error for a boolean mask whose shape does not fit the dimensions it indexes."""
    consumed = [0 if k is None or k is Ellipsis else getattr(k, "ndim", 1) for k in npkey]
    dim = 0
    for i, k in enumerate(npkey):
        if k is Ellipsis:
            dim = x._data.ndim - sum(consumed[i + 1 :])
            continue
        if getattr(k, "dtype", None) is not None and k.dtype.kind == "b":
            for j, n in enumerate(k.shape):
                if dim + j < x._data.ndim and n != x._data.shape[dim + j]:
                    return IndexError(
                        f"The shape of the mask {list(k.shape)} at index {j} does not match the "
                        f"shape of the indexed tensor {list(x.shape)} at index {dim + j}"
                    )
        dim += consumed[i]
    return None


def _index_error(exc: Exception, x: Tensor, op: str, npkey: tuple = ()) -> IndexError:
    msg = str(exc)
    if "boolean index did not match" in msg and (mismatch := _mask_mismatch(x, npkey)):
        return mismatch
    msg = msg.replace("axis", "dimension")
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


def on_device_key(key: Any, x: Tensor) -> Any:
    """An advanced key for a tensor off the CPU: host index tensors, lists and arrays copied
    to its device (torch accepts CPU indices for a GPU tensor; CuPy wants its own arrays)."""
    from ndgrad._backend import to_device

    dev = x.device

    def move(k: Any) -> Any:
        if isinstance(k, Tensor):
            return k if type(k._data) is type(x._data) else Tensor._make(to_device(k._data, dev))
        if isinstance(k, (list, np.ndarray, range)):
            return Tensor._make(to_device(np.asarray(k), dev))
        return k

    return tuple(map(move, key)) if isinstance(key, tuple) else move(key)


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


# ----------------------------------------------------------------------------- keys
# A key's index arrays are what a rule reads: they travel through ``saved`` (Tensor keys as
# given, so changing them in place before backward raises, as in PyTorch; lists as fresh
# tensors), and the rule puts them back into the key's other, constant parts.
class _Slot:
    """Where a saved index goes back into a key."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<index>"


_SLOT = _Slot()


def _split_key(key: tuple) -> tuple[tuple, tuple]:
    """A NumPy key as (constant template, index arrays as Tensors)."""
    template = []
    tensors = []
    for k in key:
        if isinstance(k, Tensor):
            tensors.append(k)
            template.append(_SLOT)
        elif hasattr(k, "dtype") and hasattr(k, "shape"):  # an index array
            tensors.append(Tensor._make(k))
            template.append(_SLOT)
        else:
            template.append(k)
    return tuple(template), tuple(tensors)


def _join(template: tuple, indices: tuple) -> tuple:
    """The key again, with ``indices`` (arrays or Tensors) in the template's slots."""
    it = iter(indices)
    return tuple([next(it) if k is _SLOT else k for k in template])


def _saved_key(key: Any, npkey: tuple) -> tuple[tuple, tuple]:
    """The template and saved tensors of ``key`` (the user's), converted as ``npkey``."""
    user = key if isinstance(key, tuple) else (key,)
    parts = tuple(k if isinstance(k, Tensor) else n for k, n in zip(user, npkey))
    return _split_key(parts)


# ----------------------------------------------------------------------------- x[key]
def getitem(x: Tensor, key: Any) -> Tensor:
    npkey, advanced = to_numpy_key(key)
    if advanced and type(x._data) is not np.ndarray:
        key = on_device_key(key, x)
        npkey, advanced = to_numpy_key(key)
    try:
        data = x._data[npkey]
    except IndexError as exc:
        raise _index_error(exc, x, "index", npkey) from None
    shape = x._data.shape
    if not advanced:
        if type(data) is not type(x._data):  # a scalar copy: index again for a 0-d view
            data = x._data[tuple(k for k in npkey if k is not Ellipsis) + (Ellipsis,)]
        if len(npkey) == 1 and isinstance(npkey[0], (int, np.integer)):  # x[i], the common case
            name = "SelectBackward0"
        else:
            name = _basic_index_name(npkey)

        def rule(xp: Any, g: Any) -> tuple:
            return (xp.index_add_zeros(shape, npkey, g),)

        # a NumPy scalar (x[i] of a vector) becomes a 0-d array in record's Tensor._make
        return as_view(record(name, data, (x,), rule), x)
    if not (STATE.enabled and x._requires_grad):
        return Tensor._make(data)  # nothing to record: the index need not be saved
    template, indices = _saved_key(key, npkey)

    def index_rule(xp: Any, g: Any, *indices: Any) -> tuple:
        return (xp.index_add_zeros(shape, _join(template, indices), g),)

    return record("IndexBackward0", data, (x,), index_rule, indices)


def _index_add_zeros(shape: tuple, key: tuple, values: Tensor) -> Tensor:
    """``index_add_zeros`` of the rules' Tensor namespace: zeros of ``shape`` with ``values``
    added at ``key`` (repeated indices accumulate), differentiable in ``values``."""
    template, indices = _split_key(key)
    xp = array_namespace(values._data)
    data = xp.index_add_zeros(shape, _join(template, [t._data for t in indices]), values._data)

    def rule(xp: Any, g: Any, *indices: Any) -> tuple:
        return (g[_join(template, indices)],)

    return record("IndexPutBackward0", data, (values,), rule, indices)


def index_put(x: Tensor, key: Any, value: Any, accumulate: bool = False) -> Tensor:
    """Out-of-place ``x[key] = value`` (``accumulate``: ``x[key] += value``, repeated indices
    adding up); ``__setitem__`` applies it in place."""
    if accumulate:
        return _index_put_accumulate(x, tuple(key) if isinstance(key, list) else key, value)
    npkey, advanced = to_numpy_key(key, "index_put")
    if advanced and type(x._data) is not np.ndarray:
        key = on_device_key(key, x)
        npkey, advanced = to_numpy_key(key, "index_put")
    xp = array_module(x._data)
    if isinstance(value, Tensor):
        v = value if value._data.dtype == x._data.dtype else value.to(x.dtype)
    elif isinstance(value, (bool, int, float)):
        # Straight to x's dtype: a float64 target keeps every digit of a Python float.
        try:
            v = Tensor._make(xp.array(value, dtype=x._data.dtype))
        except OverflowError:  # an int that does not fit: wrapped into uint8, else refused
            v = Tensor._make(out_of_range_ints(value, x._data.dtype, "index_put"))
    else:
        v = as_tensor(value, "index_put").to(x.dtype)
    data = x._data.copy()
    try:
        data[npkey] = v._data
    except IndexError as exc:
        raise _index_error(exc, x, "index_put", npkey) from None
    except ValueError:
        target = x._data[npkey].shape
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(v.shape)} cannot be broadcast to "
            f"indexing result of shape {list(target)}"
        ) from None
    if not (x._requires_grad or v._requires_grad):
        return Tensor._make(data)
    mask = xp.ones(x._data.shape, dtype=bool)
    mask[npkey] = False
    template, indices = _saved_key(key, npkey)

    def rule(xp: Any, g: Any, keep: Any, *indices: Any) -> tuple:
        return xp.where(keep, g, 0.0), g[_join(template, indices)]

    return record("IndexPutBackward0", data, (x, v), rule, (Tensor._make(mask), *indices))


def _index_put_accumulate(x: Tensor, key: Any, value: Any) -> Tensor:
    from ndgrad.ops.pointwise import add

    value = as_tensor(value, "index_put")
    if value._data.dtype != x._data.dtype:
        from ndgrad._dtype import SCALAR_NAMES

        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{SCALAR_NAMES[x._data.dtype.name]} for the destination and "
            f"{SCALAR_NAMES[value._data.dtype.name]} for the source."
        )
    npkey, _ = to_numpy_key(key, "index_put")
    try:
        target = x._data[npkey].shape
    except IndexError as exc:
        raise _index_error(exc, x, "index_put", npkey) from None
    if tuple(value.shape) != target:
        try:
            value = value.expand(target)
        except RuntimeError:
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast "
                f"to indexing result of shape {list(target)}"
            ) from None
    key = key if isinstance(key, tuple) else (key,)
    return named(add(x, _index_add_zeros(x._data.shape, key, value)), "IndexPutBackward0")


# ----------------------------------------------------------------------------- along a dim
def _gather_key(index: np.ndarray, dim: int, like: Any) -> tuple:
    """Full NumPy index arrays for ``out[i...] = x[..., index[i...], ...]`` along ``dim``
    (the grids from ``like``'s array library: the index tensor's)."""
    xp = array_module(like)
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
    if idx.size and (idx.min() < 0 or idx.max() >= size):  # no negative indices, as PyTorch
        bad = idx[(idx < 0) | (idx >= size)].flat[0]
        raise RuntimeError(
            f"{op}(): index {bad} is out of bounds for dimension {dim} with size {size}"
        )
    return idx


@method("gather")
def gather(x: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "gather")
    idx = _check_index("gather", x, d, index)
    for k in range(idx.ndim):
        if k != d and idx.shape[k] > x._data.shape[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(index.shape)} to be "
                f"smaller than self {list(x.shape)} apart from dimension {d}"
            )
    data = x._data[_gather_key(idx, d, index._data)]
    shape = x._data.shape

    def rule(xp: Any, g: Any, x: Any, index: Any) -> tuple:
        return (xp.add_along_axis_zeros(shape, index, g, d),)

    # PyTorch saves the input too (for sparse gradients): changing it in place raises.
    return record("GatherBackward0", data, (x,), rule, (x, index))


def _take_along_axis(a: Tensor, index: Tensor, axis: int) -> Tensor:
    """``take_along_axis`` of the rules' Tensor namespace: ``gather``."""
    return gather(a, axis, index)


def _add_along_axis_zeros(shape: tuple, index: Tensor, values: Tensor, axis: int) -> Tensor:
    """``add_along_axis_zeros`` of the rules' Tensor namespace: zeros of ``shape`` with
    ``values`` added at ``index`` along ``axis`` (``scatter_add`` into zeros)."""
    xp = array_namespace(values._data)
    data = xp.add_along_axis_zeros(shape, index._data, values._data, axis)
    return record(
        "ScatterAddBackward0",
        data,
        (values,),
        lambda xp, g, index: (xp.take_along_axis(g, index, axis),),
        (index,),
    )


def _src_for(src: Tensor, idx: Any, x: Tensor) -> Tensor:
    """``src`` in ``x``'s dtype, cut to the index's shape (only that part is scattered)."""
    if src._data.dtype != x._data.dtype:
        raise RuntimeError(
            f"scatter(): Expected self.dtype to be equal to src.dtype (got {x.dtype} and "
            f"{src.dtype})"
        )
    if src._data.shape != idx.shape:
        src = src[tuple(slice(0, s) for s in idx.shape)]
    return src


@method("scatter", inplace="scatter_")
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
    key = _gather_key(idx, d, index._data)
    data = x._data.copy()
    xp = array_module(data)
    if isinstance(src, Tensor):
        src = _src_for(src, idx, x)
        vals = src._data
    else:
        vals = xp.asarray(src, dtype=x._data.dtype)
    if reduce == "add":
        xp.add.at(data, key, vals)
    elif reduce == "multiply":
        ufunc_at(xp, "multiply", data, key, vals)
    else:
        data[key] = vals
    tensor_src = isinstance(src, Tensor)
    inputs = (x, src) if tensor_src else (x,)
    if not any(t._requires_grad for t in inputs):
        return Tensor._make(data)
    if reduce is not None:

        def reduce_rule(xp: Any, g: Any, index: Any) -> tuple:
            if reduce != "add":
                raise RuntimeError("derivative for aten::scatter is not implemented")
            return (g, xp.take_along_axis(g, index, d)) if tensor_src else (g,)

        return record("ScatterBackward0", data, inputs, reduce_rule, (index,))
    mask = xp.ones(x._data.shape, dtype=bool)
    mask[key] = False

    def rule(xp: Any, g: Any, index: Any, keep: Any) -> tuple:
        gx = xp.where(keep, g, 0.0)
        return (gx, xp.take_along_axis(g, index, d)) if tensor_src else (gx,)

    return record("ScatterBackward0", data, inputs, rule, (index, Tensor._make(mask)))


@method("scatter_add", inplace="scatter_add_")
def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "scatter_add")
    idx = _check_index("scatter_add", x, d, index)
    src = _src_for(as_tensor(src, "scatter_add"), idx, x)
    data = x._data.copy()
    array_module(data).add.at(data, _gather_key(idx, d, index._data), src._data)

    def rule(xp: Any, g: Any, index: Any) -> tuple:
        return g, xp.take_along_axis(g, index, d)

    return record("ScatterAddBackward0", data, (x, src), rule, (index,))


@method("index_select")
def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "index_select")
    index = as_tensor(index, "index_select")
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index._data.dtype not in (np.int32, np.int64):
        raise RuntimeError(
            f"index_select(): Expected dtype int32 or int64 for index, got {index.dtype}"
        )
    if index._data.ndim == 0:
        index = index.reshape(-1)
    size = x._data.shape[d] if x._data.ndim else 1
    bad = index._data[(index._data < 0) | (index._data >= size)]
    if bad.size:
        raise RuntimeError(
            f"index_select(): index {bad.flat[0]} is out of bounds for dimension {d} with "
            f"size {size} (INDICES element is out of DATA bounds)"
        )
    return named(getitem(x, (slice(None),) * d + (index,)), "IndexSelectBackward0")


@method("take_along_dim")
def take_along_dim(x: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` with ``x`` and ``indices`` broadcast against each other outside ``dim``
    (the broadcast index is a new tensor, as in PyTorch)."""
    if dim is None:
        x, indices, dim = x.reshape(-1), indices.reshape(-1), 0
    d = wrap_dim(dim, x._data.ndim, "take_along_dim")
    if indices._data.ndim != x._data.ndim:
        raise RuntimeError(
            f"take_along_dim(): input and indices should have the same number of dimensions, "
            f"but got {x._data.ndim} dimensions for input, and {indices._data.ndim} "
            "dimensions for indices"
        )
    xs, js = list(x._data.shape), list(indices._data.shape)
    xs[d] = js[d] = 1
    try:
        common = list(np.broadcast_shapes(tuple(xs), tuple(js)))
    except ValueError:
        raise broadcast_error("take_along_dim", x._data.shape, indices._data.shape) from None
    x_shape = tuple(common[:d] + [x._data.shape[d]] + common[d + 1 :])
    i_shape = tuple(common[:d] + [indices._data.shape[d]] + common[d + 1 :])
    if x._data.shape != x_shape:
        x = x.expand(x_shape)
    xp = array_module(indices._data)
    index = Tensor._make(xp.array(xp.broadcast_to(indices._data, i_shape)))
    return gather(x, d, index)


@method("masked_select")
def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    mask = as_tensor(mask, "masked_select")
    try:
        shape = np.broadcast_shapes(x._data.shape, mask._data.shape)
    except ValueError:
        raise broadcast_error("masked_select", x._data.shape, mask._data.shape) from None
    xp = array_module(x._data)
    m = mask._data if mask._data.shape == shape else xp.broadcast_to(mask._data, shape)
    src = x._data if x._data.shape == shape else xp.broadcast_to(x._data, shape)
    data = src[m]

    def rule(xp: Any, g: Any, x: Any, mask: Any) -> tuple:
        if mask.shape != shape:
            mask = xp.broadcast_to(mask, shape)
        return (xp.index_add_zeros(shape, (mask,), g),)

    # PyTorch saves the input and the mask.
    return record("MaskedSelectBackward0", data, (x,), rule, (x, mask))


@method("nonzero")
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


@method("argwhere")
def argwhere(x: Tensor) -> Tensor:
    return nonzero(x)


@method("index_fill", inplace="index_fill_")
def index_fill(x: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """``x`` with the slices at ``index`` along ``dim`` set to ``value``."""
    d = wrap_dim(dim, x._data.ndim, "index_fill")
    idx = as_tensor(index, "index_fill")._data.reshape(-1)
    xp = array_module(x._data)
    mask = xp.zeros(x._data.shape[d] if x._data.ndim else 1, dtype=bool)
    mask[idx] = True
    shape = [1] * x._data.ndim
    if shape:
        shape[d] = -1
    return x.masked_fill(Tensor._make(mask.reshape(shape)), value)


def fill_diagonal(x: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """``x`` with its main diagonal set to ``fill_value`` (``fill_diagonal_``'s result)."""
    shape = x._data.shape
    if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
        raise RuntimeError("all dimensions of input must be of equal length")
    xp = array_module(x._data)
    mask = xp.zeros(shape, dtype=bool)
    xp.fill_diagonal(mask, True, wrap=wrap)
    return x.masked_fill(Tensor._make(mask), fill_value)


@method("take")
def take(x: Tensor, index: Tensor) -> Tensor:
    """Elements of ``x`` as if it were 1-D, at ``index`` (the result has index's shape)."""
    index = as_tensor(index, "take")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {index.dtype}")
    size = x._data.size
    try:
        data = x._data.reshape(-1)[index._data]
    except IndexError:
        raise IndexError(
            f"take(): index out of range for tensor of size {list(x.shape)} ({size} elements)"
        ) from None
    shape = x._data.shape

    def rule(xp: Any, g: Any, x: Any, index: Any) -> tuple:
        return (xp.index_add_zeros((size,), (index,), g).reshape(shape),)

    # PyTorch saves the input and the index.
    return record("TakeBackward0", data, (x,), rule, (x, index))


@method("put", inplace="put_")
def put(x: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """``x`` with ``source`` written (added, when ``accumulate``) at ``index`` of ``x`` seen
    as 1-D."""
    index, source = as_tensor(index, "put_"), as_tensor(source, "put_")
    if index._data.dtype != np.int64:
        name = SCALAR_NAMES[index._data.dtype.name]
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {name}")
    if source._data.dtype != x._data.dtype:
        raise RuntimeError(
            "put_(): self and source expected to have the same dtype, but got self.dtype = "
            f"{SCALAR_NAMES[x._data.dtype.name]} and source.dtype = "
            f"{SCALAR_NAMES[source._data.dtype.name]}"
        )
    if source._data.size != index._data.size:
        raise IndexError(
            "put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source._data.size}, index.numel() = {index._data.size}"
        )
    n = x._data.size
    bad = (index._data < -n) | (index._data >= n)
    if bad.any():
        first = int(index._data[bad].reshape(-1)[0])
        raise IndexError(
            f"out of range: tried to access index {first} on a tensor of {n} elements."
        )
    flat = index_put(x.reshape(-1), (index.reshape(-1),), source.reshape(-1), accumulate)
    return named(flat.reshape(x.shape), "PutBackward0")


@method("nonzero_static")
def nonzero_static(x: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """``nonzero(x)`` cut or padded with ``fill_value`` to exactly ``size`` rows."""
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    xp = array_module(x._data)
    found = nonzero(x)._data[:size]
    out = xp.full((size, x._data.ndim), fill_value, dtype=np.int64)
    out[: found.shape[0]] = found
    return Tensor._make(out)


def unravel_index(indices: Any, shape: Any) -> tuple[Tensor, ...]:
    """The coordinates in a tensor of ``shape`` of flat (C-order) ``indices``."""
    indices = as_tensor(indices, "unravel_index")
    if indices._data.dtype.kind not in "iu":
        raise TypeError("expected 'indices' to be integer dtype, but got " + str(indices.dtype))
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got " + str(shape))
    # floor division and modulo, as PyTorch (no range check: indices wrap)
    out, rest = [], indices._data.astype(np.int64)
    for size in reversed(shape):
        out.append(rest % size if size else rest)
        rest = rest // size if size else rest
    return tuple(Tensor._make(o) for o in reversed(out))


def _setitem(self: Tensor, key: Any, value: Any) -> None:
    if STATE.enabled and (self._requires_grad or getattr(value, "_requires_grad", False)):
        npkey, advanced = to_numpy_key(key, "index_put")
        if not advanced:  # PyTorch: x[key].copy_(value), an in-place op on a view
            getitem(self, key).copy_(value)
            return
    inplace.apply_inplace(self, "index_put_", lambda s: index_put(s, key, value), value)


def _fill_diagonal_(self: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    return inplace.apply_inplace(
        self, "fill_diagonal_", lambda s: fill_diagonal(s, fill_value, wrap), fill_value
    )


bind("__getitem__", getitem)
bind("__setitem__", _setitem)
bind("fill_diagonal_", _fill_diagonal_)


# ----------------------------------------------------------------------------- reductions into
# a tensor along a dim
_SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _identity_of(reduce: str, dtype: np.dtype) -> Any:
    """The value a reduction starts from where ``include_self=False``."""
    if reduce in ("sum", "mean"):
        return dtype.type(0)
    if reduce == "prod":
        return dtype.type(1)
    if dtype.kind == "f":
        return dtype.type(-np.inf if reduce == "amax" else np.inf)
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


@method("scatter_reduce", inplace="scatter_reduce_")
def scatter_reduce(
    x: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """``x`` with each ``src`` element reduced (sum, prod, mean, amax, amin) into the place
    ``index`` gives along ``dim`` (``x``'s own value taking part unless ``include_self``)."""
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # accepted by PyTorch too
    if reduce not in _SCATTER_REDUCTIONS:
        raise RuntimeError(
            "reduce argument must be either sum, prod, mean, amax or amin, got " + str(reduce)
        )
    d = wrap_dim(dim, x._data.ndim, "scatter_reduce")
    idx = _check_index("scatter_reduce", x, d, index)
    src = _src_for(as_tensor(src, "scatter_reduce"), idx, x)
    xp = array_module(x._data)
    key = _gather_key(idx, d, index._data)
    data = x._data.copy()
    scattered = xp.zeros(x._data.shape, dtype=bool)
    scattered[key] = True
    if not include_self:
        data[scattered] = _identity_of(reduce, data.dtype)
    ufunc = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum"}
    ufunc_at(xp, ufunc.get(reduce, "minimum"), data, key, src._data)
    count = None
    if reduce == "mean":
        count = xp.full(x._data.shape, 1 if include_self else 0, dtype=np.int64)
        xp.add.at(count, key, 1)
        count = xp.maximum(count, 1)
        if data.dtype.kind == "f":
            data = (data / count).astype(data.dtype)
        else:
            data = xp.floor_divide(data, count).astype(data.dtype)
    if not (x._requires_grad or src._requires_grad):
        return Tensor._make(data)
    if data.dtype.kind != "f":
        return Tensor._make(data)
    index_t = Tensor._make(idx)
    outside = Tensor._make(~scattered)  # where x's gradient survives without include_self
    if reduce in ("sum", "mean"):
        scale = None if count is None else Tensor._make((1.0 / count).astype(data.dtype))

        def sum_rule(xp: Any, g: Any, index: Any, outside: Any, *scale: Any) -> tuple:
            if scale:
                g = g * scale[0]
            gx = g if include_self else xp.where(outside, g, 0.0)
            return gx, xp.take_along_axis(g, index, d)

        saved = (index_t, outside) + (() if scale is None else (scale,))
        return record("ScatterReduceBackward0", data, (x, src), sum_rule, saved)
    if reduce in ("amax", "amin"):
        # PyTorch's rule: the gradient shared evenly among the values equal to the result
        value = data[key]
        self_hit = (x._data == data).astype(data.dtype)
        src_hit = (src._data == value).astype(data.dtype)
        n = self_hit.copy()
        xp.add.at(n, key, src_hit)
        share = Tensor._make((1.0 / n).astype(data.dtype) if n.size else n)
        self_w = Tensor._make(self_hit if include_self else self_hit * ~scattered)
        src_w = Tensor._make(src_hit)

        def extreme_rule(xp: Any, g: Any, index: Any, share: Any, sw: Any, cw: Any) -> tuple:
            spread = g * share
            return spread * sw, xp.take_along_axis(spread, index, d) * cw

        saved = (index_t, share, self_w, src_w)
        return record("ScatterReduceBackward0", data, (x, src), extreme_rule, saved)

    if (x._data == 0).any() or (src._data == 0).any():
        return _prod_with_zeros(x, src, idx, key, d, data, include_self, index_t, outside)

    # prod, for nonzero inputs: each factor's gradient is the product over the others
    def prod_rule(
        xp: Any, g: Any, x: Any, src: Any, index: Any, outside: Any, result: Any
    ) -> tuple:
        with xp.quiet():
            gr = g * result
            gx = gr / x
            return (
                gx if include_self else xp.where(outside, g, 0.0),
                xp.take_along_axis(gr, index, d) / src,
            )

    return record(
        "ScatterReduceBackward0",
        data,
        (x, src),
        prod_rule,
        (x, src, index_t, outside),
        save_output=True,
    )


def _prod_with_zeros(
    x: Tensor,
    src: Tensor,
    idx: Any,
    key: tuple,
    d: int,
    data: Any,
    include_self: bool,
    index_t: Tensor,
    outside: Tensor,
) -> Tensor:
    """scatter_reduce's prod where a factor is 0: PyTorch's rule, the products of the other
    factors computed with the zeros masked (first order only; torch refuses double backward
    where several zeros meet)."""
    xp = array_module(data)
    one = data.dtype.type(1)

    def reduced(base: Any, values: Any) -> Any:
        out = base.copy()
        if not include_self:
            out[~outside._data] = one
        ufunc_at(xp, "multiply", out, key, values)
        return out

    masked_self = xp.where(x._data == 0, one, x._data)
    self_factor = reduced(masked_self, src._data) / masked_self
    src_zero = src._data == 0
    zeros_at = xp.zeros(data.shape, dtype=data.dtype)
    xp.add.at(zeros_at, key, src_zero.astype(data.dtype))
    single = src_zero & (zeros_at[key] == 1)
    others = reduced(x._data, xp.where(single, one, src._data))
    masked_src = xp.where(src_zero, one, src._data)
    saved = tuple(Tensor._make(a) for a in (self_factor, others, single, masked_src))

    def rule(
        xp: Any, g: Any, index: Any, outside: Any, sf: Any, ot: Any, sg: Any, ms: Any, result: Any
    ) -> tuple:
        gx = g * sf if include_self else xp.where(outside, g, 0.0)
        picked = xp.take_along_axis(g * ot, index, d)
        spread = xp.take_along_axis(g * result, index, d) / ms
        return gx, xp.where(sg, picked, spread)

    return record(
        "ScatterReduceBackward0",
        data,
        (x, src),
        rule,
        (index_t, outside, *saved),
        save_output=True,
    )


def _along(index: Tensor, source: Tensor, d: int, op: str) -> Tensor:
    """A 1-D ``index`` along ``d`` spread to ``source``'s shape (for the scatter ops)."""
    if index._data.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    idx = index._data.reshape(-1)
    n = source._data.shape[d] if source._data.ndim else 1
    if idx.size != n:
        raise RuntimeError(
            f"{op}(): Number of indices ({idx.size}) should be equal to source.size(dim): "
            f"({n}), for dim: {d}"
        )
    shape = [1] * max(source._data.ndim, 1)
    shape[d] = -1
    xp = array_module(idx)
    full = xp.broadcast_to(idx.reshape(shape), source._data.shape or (1,))
    return Tensor._make(xp.ascontiguousarray(full).astype(np.int64))


def _same_dtype(op: str, x: Tensor, source: Tensor) -> None:
    if x._data.dtype != source._data.dtype:
        from ndgrad._dtype import SCALAR_NAMES

        names = [SCALAR_NAMES[t._data.dtype.name] for t in (x, source)]
        raise RuntimeError(
            f"{op}(): self ({names[0]}) and source ({names[1]}) must have the same scalar type"
        )


@method("index_add", inplace="index_add_")
def index_add(x: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """``x`` with ``alpha * source``'s slices added at the positions ``index`` along ``dim``
    (repeated indices accumulate)."""
    from ndgrad.ops.pointwise import add, mul

    d = wrap_dim(dim, x._data.ndim, "index_add")
    source = as_tensor(source, "index_add")
    _same_dtype("index_add_", x, source)
    full = _along(index, source, d, "index_add_")
    _check_index("index_add", x, d, full if x._data.ndim else full.reshape(()))
    src = source if alpha == 1 else mul(source, alpha)
    if not x._data.ndim:
        return add(x, src.reshape(()) if src.numel() == 1 else src.sum())
    key = (slice(None),) * d + (index.reshape(-1),)
    return named(add(x, _index_add_zeros(x._data.shape, key, src)), "IndexAddBackward0")


@method("index_copy", inplace="index_copy_")
def index_copy(x: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """``x`` with ``source``'s slices written at the positions ``index`` along ``dim``."""
    d = wrap_dim(dim, x._data.ndim, "index_copy")
    source = as_tensor(source, "index_copy")
    if x._data.dtype != source._data.dtype:
        raise RuntimeError(
            "index_copy_(): self and source expected to have the same dtype, but got (self) "
            f"{x.dtype} and (source) {source.dtype}"
        )
    full = _along(index, source, d, "index_copy_")
    _check_index("index_copy", x, d, full)
    key = (slice(None),) * d + (index.reshape(-1),)
    return named(index_put(x, key, source), "IndexCopyBackward0")


@method("index_reduce", inplace="index_reduce_")
def index_reduce(
    x: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """``x`` with ``source``'s slices reduced (prod, mean, amax, amin) into the positions
    ``index`` along ``dim``."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(
            f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
            f"{reduce}."
        )
    d = wrap_dim(dim, x._data.ndim, "index_reduce")
    source = as_tensor(source, "index_reduce")
    _same_dtype("index_reduce_", x, source)
    full = _along(index, source, d, "index_reduce_")
    out = scatter_reduce(x, d, full, source, reduce, include_self=include_self)
    return named(out, "IndexReduceBackward0")


@method("masked_scatter", inplace="masked_scatter_")
def masked_scatter(x: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``x`` with ``source``'s first elements (in order) written where ``mask`` is True."""
    mask = as_tensor(mask, "masked_scatter")
    if mask._data.dtype.kind != "b":
        raise RuntimeError(
            f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype}"
        )
    source = as_tensor(source, "masked_scatter")
    if x._data.dtype != source._data.dtype:
        raise RuntimeError(
            "masked_scatter: expected self and source to have same dtypes but got "
            f"{x.dtype} and {source.dtype}"
        )
    xp = array_module(x._data)
    try:
        m = xp.broadcast_to(mask._data, x._data.shape)
    except ValueError:
        raise RuntimeError(
            f"The size of tensor a ({mask.shape[-1]}) must match the size of tensor b "
            f"({x.shape[-1]}) at non-singleton dimension {x.dim() - 1}"
        ) from None
    positions = xp.flatnonzero(m)
    k = positions.size
    if k > source._data.size:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    data = x._data.copy()
    data.reshape(-1)[positions] = source._data.reshape(-1)[:k]
    if not (x._requires_grad or source._requires_grad):
        return Tensor._make(data)
    src_shape, n_src = source._data.shape, source._data.size

    def rule(xp: Any, g: Any, keep: Any, positions: Any, first: Any) -> tuple:
        picked = xp.take_along_axis(g.reshape(-1), positions, 0)
        gs = xp.add_along_axis_zeros((n_src,), first, picked, 0).reshape(src_shape)
        return xp.where(keep, g, 0.0), gs

    saved = (
        Tensor._make(~m),
        Tensor._make(positions.astype(np.int64)),
        Tensor._make(xp.arange(k, dtype=np.int64)),
    )
    return record("MaskedScatterBackward0", data, (x, source), rule, saved)


# ----------------------------------------------------------------------------- embedding a slice
@method("select_scatter")
def select_scatter(x: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """``x`` with ``src`` written as its ``index``-th slice along ``dim``."""
    d = wrap_dim(dim, x._data.ndim, "select_scatter")
    size = x._data.shape[d]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(x.shape)} at "
            f"dimension {d}"
        )
    expected = x._data.shape[:d] + x._data.shape[d + 1 :]
    if tuple(src.shape) != expected:
        raise RuntimeError(
            f"expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(expected)}"
        )
    key = (slice(None),) * d + (index,)
    return named(index_put(x, key, src), "SelectScatterBackward0")


@method("slice_scatter")
def slice_scatter(
    x: Tensor,
    src: Tensor,
    dim: int = 0,
    start: int | None = None,
    end: int | None = None,
    step: int = 1,
) -> Tensor:
    """``x`` with ``src`` written into the slice ``start:end:step`` along ``dim``."""
    d = wrap_dim(dim, x._data.ndim, "slice_scatter")
    key = (slice(None),) * d + (slice(start, end, step),)
    expected = x._data[key].shape
    if tuple(src.shape) != expected:
        raise RuntimeError(
            f"expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(expected)}"
        )
    return named(index_put(x, key, src), "SliceScatterBackward0")


@method("diagonal_scatter")
def diagonal_scatter(
    x: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1
) -> Tensor:
    """``x`` with ``src`` written on the diagonal that ``x.diagonal(offset, dim1, dim2)`` reads."""
    from ndgrad.ops.shape import movedim

    n = x._data.ndim
    d1, d2 = wrap_dim(dim1, n, "diagonal_scatter"), wrap_dim(dim2, n, "diagonal_scatter")
    moved = movedim(x, (d1, d2), (n - 2, n - 1))
    xp = array_module(x._data)
    rows = xp.arange(moved._data.shape[-2])
    cols = rows + offset
    keep = (cols >= 0) & (cols < moved._data.shape[-1])
    key = (Ellipsis, Tensor._make(rows[keep]), Tensor._make(cols[keep]))
    expected = moved._data[..., rows[keep], cols[keep]].shape
    if tuple(src.shape) != expected:
        raise RuntimeError(
            f"expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(expected)}"
        )
    out = movedim(index_put(moved, key, src), (n - 2, n - 1), (d1, d2))
    return named(out.contiguous(), "DiagonalScatterBackward0")


# ----------------------------------------------------------------------------- sorted search
def searchsorted(
    sorted_sequence: Tensor,
    values: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
) -> Tensor:
    """For each value, the index where it would go in ``sorted_sequence`` (the innermost dim;
    the outer dims pair with ``values``'), keeping the order."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(
                f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
            )
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of "
                "left while right was True"
            )
        right = side == "right"
    scalar = not isinstance(values, Tensor)
    v = as_tensor(values, "searchsorted")
    seq = sorted_sequence._data
    if sorter is not None:
        if sorter._data.shape != seq.shape:
            raise RuntimeError(
                "torch.searchsorted(): boundary and sorter must have the same size, but got "
                f"boundary tensor {list(sorted_sequence.shape)}and got sorter tensor "
                f"{list(sorter.shape)}"
            )
        seq = array_module(seq).take_along_axis(seq, sorter._data, -1)
    if seq.ndim == 0:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
            "dimension"
        )
    if seq.ndim > 1 and (v._data.ndim != seq.ndim or v._data.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(sorted_sequence.shape)} and input value tensor "
            f"{list(v.shape)}"
        )
    xp = array_module(seq)
    how = "right" if right else "left"
    dt = np.result_type(seq.dtype, v._data.dtype)
    seq, vals = seq.astype(dt, copy=False), v._data.astype(dt, copy=False)
    if seq.ndim == 1:
        out = xp.searchsorted(seq, vals, side=how)
    else:
        rows_s = seq.reshape(-1, seq.shape[-1])
        rows_v = vals.reshape(-1, vals.shape[-1])
        out = xp.stack([xp.searchsorted(s, r, side=how) for s, r in zip(rows_s, rows_v)])
        out = out.reshape(vals.shape)
    out = xp.asarray(out).astype(np.int32 if out_int32 else np.int64)
    return Tensor._make(out.reshape(()) if scalar else out)


def bucketize(
    input: Any,  # noqa: A002 - PyTorch's name
    boundaries: Tensor,
    *,
    out_int32: bool = False,
    right: bool = False,
) -> Tensor:
    """The bucket of each value: the index of the first boundary it is at most (``right``:
    below)."""
    if boundaries.dim() != 1:
        raise RuntimeError(
            f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _index_put_method(x: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    return index_put(x, tuple(indices), values, accumulate)


def _index_put_(x: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    return inplace.apply_inplace(
        x, "index_put_", lambda s: index_put(s, tuple(indices), values, accumulate), values
    )


bind("index_put", _index_put_method)
bind("index_put_", _index_put_)
index_put_ = _index_put_
