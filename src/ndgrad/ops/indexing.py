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
    as_tensor,
    bind,
    broadcast_error,
    method,
    named,
    record,
    wrap_dim,
)
from ndgrad.ops.inplace import as_view


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
        raise _index_error(exc, x, "index") from None
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


def index_put(x: Tensor, key: Any, value: Any) -> Tensor:
    """Out-of-place ``x[key] = value``; ``__setitem__`` applies it in place."""
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
        raise _index_error(exc, x, "index_put") from None
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
