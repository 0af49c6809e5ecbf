"""Shape ops: views (reshape, transpose, expand...), joining and splitting.

Each op computes its array with the tensor's array library and records one derivative rule
(``rule(xp, g)``, see ``ndgrad.ops.namespace``): shape ops read no tensor, so their rules
keep only shapes, axes and offsets in their closure and save nothing. Outputs that share the
input's storage are views (``as_view``): one version counter for both.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._backend import array_module
from ndgrad._tensor import Size, Tensor
from ndgrad.autograd.graph import sum_to
from ndgrad.ops._common import (
    _identity,
    all_on_one_device,
    bind,
    broadcast_error,
    cast,
    method,
    named,
    normalize_dims,
    record,
    shape_arg,
    wrap_dim,
)
from ndgrad.ops.inplace import as_view, mark_multi_output_views


def _infer_shape(shape: tuple[int, ...], numel: int, op: str) -> tuple[int, ...]:
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}(): only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}(): invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 and numel == 0:
            raise RuntimeError(
                f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                "unspecified dimension size -1 can be any value and is ambiguous"
            )
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


# ----------------------------------------------------------------------------- views
def _restriding(name: str, fn: Any, node_name: Any) -> Any:
    """The in-place variant of a view op (``x.t_()``): ``x`` takes the view's shape over the
    same storage and its history; the version counter moves (as in PyTorch: what saved
    ``x`` sees it changed). ``node_name(*args)`` is PyTorch's name for the in-place node."""

    def op_(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        from ndgrad.ops.inplace import _recording

        recording = _recording(self, ())
        out = fn(self, *args, **kwargs)
        node = out.grad_fn  # read before the version moves (a view would regenerate it)
        self._data = out._data
        self._version_counter[0] += 1
        if recording and node is not None:
            node._name = node_name(*args, **kwargs)
            self.grad_fn = node
            self._output_nr = 0
            self._requires_grad = True
        if getattr(self, "_view_version", None) is not None and self._view_version >= 0:
            self._view_version = self._version_counter[0]  # its own history, not regenerated
        return self

    op_.__name__ = name
    return op_


def _reshape_rule(shape: tuple) -> Any:
    """The rule of reshape-like views: the gradient takes the input's shape back."""

    def rule(xp: Any, g: Any) -> tuple:
        return (g.reshape(shape),)

    return rule


@method("reshape")
def reshape(x: Tensor, *shape: Any) -> Tensor:
    target = _infer_shape(shape_arg(shape, "reshape"), x._data.size, "reshape")
    if target == x._data.shape:
        return as_view(record("ViewBackward0", x._data.view(), (x,), _identity), x)
    data = x._data.reshape(target)
    return as_view(record("ViewBackward0", data, (x,), _reshape_rule(x._data.shape)), x)


@method("view")
def view(x: Tensor, *shape: Any) -> Tensor:
    if len(shape) == 1 and (
        isinstance(shape[0], _dtype.dtype) or shape[0] is float or shape[0] is int
    ):
        raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
    target = _infer_shape(shape_arg(shape, "view"), x._data.size, "view")
    try:
        xp = array_module(x._data)
        data = xp.reshape(x._data, target, copy=False)
    except ValueError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead. "
            f"(input shape {list(x.shape)}, requested {list(target)})"
        ) from None
    return as_view(record("ViewBackward0", data, (x,), _reshape_rule(x._data.shape)), x)


bind("view_as", lambda self, other: view(self, other.shape))
bind("reshape_as", lambda self, other: reshape(self, other.shape))


@method("flatten")
def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x._data.ndim == 0:
        return reshape(x, 1)
    s = wrap_dim(start_dim, x._data.ndim, "flatten")
    e = wrap_dim(end_dim, x._data.ndim, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = x._data.shape
    return reshape(x, shp[:s] + (-1 if 0 not in shp[s : e + 1] else 0,) + shp[e + 1 :])


@method("unflatten")
def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "unflatten")
    shp = x._data.shape
    sizes = tuple(sizes)
    if -1 in sizes:
        sizes = _infer_shape(sizes, shp[d], "unflatten")
    return reshape(x, shp[:d] + sizes + shp[d + 1 :])


@method("ravel")
def ravel(x: Tensor) -> Tensor:
    return reshape(x, -1)


@method("permute")
def permute(x: Tensor, *dims: Any) -> Tensor:
    dims = shape_arg(dims, "permute")
    if len(dims) != x._data.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {x._data.ndim} is "
            f"not equal to len(dims) = {len(dims)}"
        )
    axes = tuple(wrap_dim(d, x._data.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    xp = array_module(x._data)
    inverse = tuple(int(i) for i in np.argsort(axes))
    data = xp.transpose(x._data, axes)

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.transpose(g, inverse),)

    return as_view(record("PermuteBackward0", data, (x,), rule), x)


bind("T", property(lambda self: permute(self, *reversed(range(self._data.ndim)))))


@method("transpose", "swapaxes", "swapdims")
def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    n = x._data.ndim
    if n == 0:
        return as_view(record("TransposeBackward0", x._data.view(), (x,), _identity), x)
    d0, d1 = wrap_dim(dim0, n, "transpose"), wrap_dim(dim1, n, "transpose")
    xp = array_module(x._data)
    data = xp.swapaxes(x._data, d0, d1)

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.swapaxes(g, d0, d1),)

    return as_view(record("TransposeBackward0", data, (x,), rule), x)


swapaxes = transpose
swapdims = transpose
bind("transpose_", _restriding("transpose_", transpose, lambda *a, **k: "TransposeBackward1"))


def _mT(x: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name
    if x._data.ndim < 2:
        raise RuntimeError(
            "tensor.mT is only supported on matrices or batches of matrices. "
            f"Got {x._data.ndim}-D tensor."
        )
    return transpose(x, -2, -1)


bind("mT", property(_mT))


def _adjoint(x: Tensor, what: str) -> Tensor:
    """``mH``/``adjoint()``: the conjugate transpose of (batches of) matrices; on real
    tensors the transpose of the last two dims."""
    if x._data.ndim < 2:
        raise RuntimeError(
            f"tensor.{what} is only supported on matrices or batches of matrices. "
            f"Got {x._data.ndim}-D tensor."
        )
    return transpose(x, -2, -1)


def _H(x: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name
    n = x._data.ndim
    if n == 0:
        import warnings

        warnings.warn(
            "Tensor.H is deprecated on 0-D tensors. Consider using x.conj().", UserWarning, 2
        )
        return x
    if n != 2:
        extra = " For batches of matrices, consider using tensor.mH" if n > 2 else ""
        raise RuntimeError(
            f"tensor.H is only supported on matrices (2-D tensors). Got {n}-D tensor.{extra}"
        )
    return transpose(x, 0, 1)


def _mH(x: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name
    if x._data.ndim == 0:
        import warnings

        warnings.warn(
            "Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().", UserWarning, 2
        )
        return x
    return _adjoint(x, "mH")


@method("adjoint")
def adjoint(x: Tensor) -> Tensor:
    return _adjoint(x, "adjoint()")


bind("H", property(_H))
bind("mH", property(_mH))


def _t_rule(xp: Any, g: Any) -> tuple:
    return (g.T,)


@method("t")
def t(x: Tensor) -> Tensor:
    if x._data.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {x._data.ndim}D"
        )
    if x._data.ndim < 2:
        return as_view(record("TBackward0", x._data.view(), (x,), _identity), x)
    return as_view(record("TBackward0", x._data.T, (x,), _t_rule), x)


bind("t_", _restriding("t_", t, lambda: "TBackward1"))


@method("movedim")
def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    n = x._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [wrap_dim(s, n, "movedim") for s in src]
    dst = [wrap_dim(d, n, "movedim") for d in dst]
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, *order)


@method("unsqueeze")
def unsqueeze(x: Tensor, dim: int) -> Tensor:
    d = wrap_dim(dim, x._data.ndim + 1, "unsqueeze")
    xp = array_module(x._data)
    data = xp.expand_dims(x._data, d)
    return as_view(record("UnsqueezeBackward0", data, (x,), _reshape_rule(x._data.shape)), x)


bind("unsqueeze_", _restriding("unsqueeze_", unsqueeze, lambda *a, **k: "UnsqueezeBackward1"))


@method("squeeze")
def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    shp = x._data.shape
    if dim is None:
        axes = tuple(i for i, s in enumerate(shp) if s == 1)
        name = "SqueezeBackward0"
    else:
        axes = tuple(
            d for d in normalize_dims(dim, x._data.ndim, "squeeze") if x._data.ndim and shp[d] == 1
        )
        name = "SqueezeBackward1"
    if not axes:
        return as_view(record(name, x._data.view(), (x,), _identity), x)
    xp = array_module(x._data)
    data = xp.squeeze(x._data, axes)
    return as_view(record(name, data, (x,), _reshape_rule(shp)), x)


def _squeeze_inplace_name(dim: Any = None) -> str:
    if dim is None:
        return "SqueezeBackward3"
    return "SqueezeBackward4" if isinstance(dim, int) else "SqueezeBackward5"


bind("squeeze_", _restriding("squeeze_", squeeze, _squeeze_inplace_name))


@method("expand")
def expand(x: Tensor, *sizes: Any) -> Tensor:
    sizes = shape_arg(sizes, "expand")
    shp = x._data.shape
    if len(sizes) < len(shp):
        raise RuntimeError(
            f"expand({_dtype.printed_prefix()}.{_type_name(x)}{{{list(shp)}}}, "
            f"size={list(sizes)}): the number of sizes "
            f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
            f"tensor ({len(shp)})"
        )
    lead = len(sizes) - len(shp)
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"expand(): the expanded size {s} is not allowed in a leading, non-existing dimension {i}"
                )
            target.append(s)
            continue
        own = shp[i - lead]
        if s == -1:
            s = own
        if own != s and own != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({own}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(shp)}"
            )
        target.append(s)
    target = tuple(target)
    if target == shp:
        return as_view(record("ExpandBackward0", x._data.view(), (x,), _identity), x)
    xp = array_module(x._data)
    data = xp.broadcast_to(x._data, target)
    # The engine sums the gradient back to x's shape.
    return as_view(record("ExpandBackward0", data, (x,), _identity), x)


def _type_name(x: Tensor) -> str:
    return x.type().split(".")[-1]


@method("expand_as")
def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, other.shape)


@method("broadcast_to")
def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    return expand(x, tuple(shape))


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    try:
        shape = np.broadcast_shapes(*(t._data.shape for t in tensors))
    except ValueError:
        raise broadcast_error("broadcast_tensors", *(t._data.shape for t in tensors)) from None
    return tuple(expand(t, shape) for t in tensors)


@method("sum_to_size")
def sum_to_size(x: Tensor, *shape: Any) -> Tensor:
    """Sums a broadcast tensor back to ``shape`` (the reduction every broadcast gradient needs)."""
    shape = shape_arg(shape, "sum_to_size")
    data = sum_to(x._data, shape)  # the engine's unbroadcast
    if data is x._data:
        return x
    src = x._data.shape

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.broadcast_to(g, src),)

    return record("SumBackward1", data, (x,), rule)


# ----------------------------------------------------------------------------- copies
@method("repeat")
def repeat(x: Tensor, *sizes: Any) -> Tensor:
    sizes = shape_arg(sizes, "repeat")
    if builtins.any(s < 0 for s in sizes):
        raise RuntimeError(
            f"repeat(): Trying to create tensor with negative dimension: {list(sizes)}"
        )
    if len(sizes) < x._data.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    shp = (1,) * (len(sizes) - x._data.ndim) + x._data.shape
    xp = array_module(x._data)
    data = xp.tile(x._data.reshape(shp), sizes)
    # The gradient seen as (repeat, size) pairs per dim, summed over the repeats.
    split = tuple(n for pair in zip(sizes, shp) for n in pair)
    axes = tuple(range(0, 2 * len(sizes), 2))

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.sum(g.reshape(split), axis=axes),)

    return record("RepeatBackward0", data, (x,), rule)


@method("tile")
def tile(x: Tensor, dims: Sequence[int]) -> Tensor:
    dims = tuple(dims)
    if len(dims) < x._data.ndim:
        dims = (1,) * (x._data.ndim - len(dims)) + dims
    return repeat(x, dims)


@method("flip")
def flip(x: Tensor, dims: Any) -> Tensor:
    axes = normalize_dims(dims, x._data.ndim, "flip")
    xp = array_module(x._data)
    if not axes:
        return record("FlipBackward0", x._data.copy(), (x,), _identity)
    data = xp.ascontiguousarray(xp.flip(x._data, axes))

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.flip(g, axes),)

    return record("FlipBackward0", data, (x,), rule)


@method("fliplr")
def fliplr(x: Tensor) -> Tensor:
    if x.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(x, 1)


@method("flipud")
def flipud(x: Tensor) -> Tensor:
    if x.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(x, 0)


@method("roll")
def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shifts elements along ``dims`` (of the flattened tensor when ``dims`` is None)."""
    if isinstance(shifts, (tuple, list)):
        shifts = tuple(int(s) for s in shifts)
        back: Any = tuple(-s for s in shifts)
    else:
        shifts = int(shifts)
        back = -shifts
    if isinstance(dims, list | tuple):
        dims = tuple(wrap_dim(d, x._data.ndim, "roll") for d in dims)
    elif dims is not None:
        dims = wrap_dim(dims, x._data.ndim, "roll")
    xp = array_module(x._data)
    data = xp.roll(x._data, shifts, dims)

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.roll(g, back, dims),)

    return record("RollBackward0", data, (x,), rule)


@method("contiguous")
def contiguous(x: Tensor) -> Tensor:
    if x._data.flags.c_contiguous:
        return x
    xp = array_module(x._data)
    return record("CloneBackward0", xp.ascontiguousarray(x._data), (x,), _identity)


@method("clone")
def clone(x: Tensor, *, memory_format: Any = None) -> Tensor:
    return record("CloneBackward0", x._data.copy(), (x,), _identity)


@method("tril", inplace="tril_")
def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    if x._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    xp = array_module(x._data)

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.tril(g, diagonal),)

    return record("TrilBackward0", xp.tril(x._data, diagonal), (x,), rule)


@method("triu", inplace="triu_")
def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    if x._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    xp = array_module(x._data)

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.triu(g, diagonal),)

    return record("TriuBackward0", xp.triu(x._data, diagonal), (x,), rule)


# ----------------------------------------------------------------------------- parts
@method("narrow")
def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "narrow")
    size = x._data.shape[d]
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise RuntimeError(
            f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({size})."
        )
    key = (slice(None),) * d + (slice(start, start + length),)
    return x[key]


@method("unfold")
def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """The windows of ``size`` entries, ``step`` apart, along ``dimension``: that dim becomes
    the window count and a new last dim of ``size`` holds each window. (A copy, where
    PyTorch returns a view.)"""
    from ndgrad.ops.indexing import index_select

    d = wrap_dim(dimension, x._data.ndim, "unfold")
    length = x._data.shape[d] if x._data.ndim else 1
    if size > length:
        raise RuntimeError(
            f"maximum size for tensor at dimension {d} is {length} but size is {size}"
        )
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    count = (length - size) // step + 1
    xp = array_module(x._data)
    starts = xp.arange(count)[:, None] * step
    index = Tensor._make((starts + xp.arange(size)[None, :]).reshape(-1))
    src = x if x._data.ndim else x.reshape(1)
    picked = index_select(src, d, index)
    if not x._data.ndim:  # a 0-d tensor's one window
        return named(picked.reshape(size), "UnfoldBackward0")
    shape = src.shape[:d] + (count, size) + src.shape[d + 1 :]
    return named(picked.reshape(shape).movedim(d + 1, -1), "UnfoldBackward0")


@method("select")
def select(x: Tensor, dim: int, index: int) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "select")
    return x[(slice(None),) * d + (index,)]


@method("diagonal")
def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset``-th diagonal of the matrices in dims ``dim1``, ``dim2``, as the last dim."""
    n = x._data.ndim
    if n < 2:
        raise RuntimeError(
            f"diagonal(): expected a tensor of at least 2 dimensions, got {n}"
            if n
            else "diagonal(): Dimension out of range (expected to be in range of [-1, 0], but "
            f"got {dim1})"
        )
    d1, d2 = wrap_dim(dim1, n, "diagonal"), wrap_dim(dim2, n, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if (d1, d2) != (n - 2, n - 1):
        x = movedim(x, (d1, d2), (n - 2, n - 1))
    xp = array_module(x._data)
    rows = xp.arange(x._data.shape[-2])
    cols = rows + offset
    keep = (cols >= 0) & (cols < x._data.shape[-1])
    key = (Tensor._make(rows[keep]), Tensor._make(cols[keep]))
    return named(x[key] if n == 2 else x[(Ellipsis, *key)], "DiagonalBackward0")


_diagonal_of = diagonal  # diag's argument is also called diagonal


def _diag_embed(x: Tensor, k: int) -> Tensor:
    """A square matrix with the 1-D ``x`` on its ``k``-th diagonal."""
    n = x._data.shape[0]
    xp = array_module(x._data)
    data = xp.zeros((n + builtins.abs(k),) * 2, dtype=x._data.dtype)
    # The diagonal is a view of the new matrix: written here, before anyone else sees it.
    data[xp.arange(n) + builtins.max(-k, 0), xp.arange(n) + builtins.max(k, 0)] = x._data

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.diagonal(g, k),)

    return record("DiagEmbedBackward0", data, (x,), rule)


@method("diag")
def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    if x._data.ndim == 1:
        return _diag_embed(x, diagonal)
    if x._data.ndim == 2:
        return named(_diagonal_of(x, diagonal, 0, 1), "DiagonalBackward0_copy")
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x._data.ndim}D")


# ----------------------------------------------------------------------------- joining
def _cat_dtype(tensors: Sequence[Tensor]) -> np.dtype:
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = _dtype.promote(dt, t.dtype)
    return dt.np


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' must be a tuple or list of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"cat(): expected Tensor as element {i} in argument 0, but got {type(t).__name__}"
            )
    # PyTorch skips legacy empty 1-D tensors.
    kept = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ndim = kept[0]._data.ndim
    if ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, ndim, "cat")
    ref = kept[0]._data.shape
    for i, t in enumerate(kept):
        shp = t._data.shape
        if len(shp) != ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ndim} and {len(shp)}"
            )
        for k in range(ndim):
            if k != d and shp[k] != ref[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref[k]} but got size {shp[k]} for tensor number {i} in the list."
                )
    all_on_one_device("cat", kept)
    np_dtype = _cat_dtype(kept)
    kept = [cast(t, np_dtype) for t in kept]
    xp = array_module(kept[0]._data)
    data = xp.concatenate([t._data for t in kept], axis=d)
    # Each input's gradient is its slice of g along d (basic slicing: arrays and Tensors).
    keys, start = [], 0
    for t in kept:
        stop = start + t._data.shape[d]
        keys.append((slice(None),) * d + (slice(start, stop),))
        start = stop

    def rule(xp: Any, g: Any) -> tuple:
        return tuple([g[key] for key in keys])

    return record("CatBackward0", data, tuple(kept), rule)


concat = cat
concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"stack(): expected Tensor as element {i}, but got {type(t).__name__}")
        if t._data.shape != ref:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(ref)} at entry 0 "
                f"and {list(t._data.shape)} at entry {i}"
            )
    d = wrap_dim(dim, len(ref) + 1, "stack")
    all_on_one_device("stack", tensors)
    np_dtype = _cat_dtype(tensors)
    tensors = [cast(t, np_dtype) for t in tensors]
    xp = array_module(tensors[0]._data)
    data = xp.stack([t._data for t in tensors], axis=d)
    # Each input's gradient is its entry of g along d.
    keys = [(slice(None),) * d + (i,) for i in range(len(tensors))]

    def rule(xp: Any, g: Any) -> tuple:
        return tuple([g[key] for key in keys])

    return record("StackBackward0", data, tuple(tensors), rule)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    tensors = [t if t.ndim else t.reshape(1) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors], 0)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    return hstack([t.reshape(-1, 1) if t.ndim < 2 else t for t in tensors])


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    return cat([atleast_3d(t) for t in tensors], 2)


# ----------------------------------------------------------------------------- splitting
# Each piece is a view of the input made by basic indexing (narrow/select): one rule each.
@method("split")
def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    d = wrap_dim(dim, x._data.ndim, "split")
    size = x._data.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"split(): split_size must be positive, got {step}")
        starts = range(0, size, step) if size else [0]
        lengths = [builtins.min(step, size - s) for s in starts]
    else:
        lengths = [int(s) for s in split_size_or_sections]
        if builtins.sum(lengths) != size:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                f"size at dimension {d}), but got split_sizes={lengths}"
            )
    out, start = [], 0
    for length in lengths:
        out.append(named(narrow(x, d, start, length), "SplitBackward0"))
        start += length
    op = "Split" if isinstance(split_size_or_sections, int) else "SplitWithSizes"
    return mark_multi_output_views(tuple(out), op)


@method("chunk")
def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, x._data.ndim, "chunk")
    size = x._data.shape[d]
    step = -(-size // chunks) if size else 1
    return split(x, step, d)


@method("unbind")
def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = wrap_dim(dim, x._data.ndim, "unbind")
    views = tuple(named(select(x, d, i), "UnbindBackward0") for i in range(x._data.shape[d]))
    return mark_multi_output_views(views, "Unbind")


@method("tensor_split")
def tensor_split(x: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Splits into ``n`` nearly equal parts (the first ones one larger), or at the given indices."""
    d = wrap_dim(dim, x._data.ndim, "tensor_split")
    size = x._data.shape[d]
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        lengths = [size // n + (1 if i < size % n else 0) for i in range(n)]
    else:
        bounds = [builtins.min(builtins.max(int(i), 0), size) for i in indices_or_sections]
        edges = [0, *bounds, size]
        lengths = [builtins.max(b - a, 0) for a, b in zip(edges, edges[1:])]
        starts = edges[:-1]
        return tuple(
            narrow(x, d, builtins.min(s, size), length) for s, length in zip(starts, lengths)
        )
    return split(x, lengths, d)


@method("split_with_sizes")
def split_with_sizes(x: Tensor, split_sizes: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return split(x, list(split_sizes), dim)


def _unsafe(pieces: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(named(p, "UnsafeSplitBackward0") for p in pieces)


@method("unsafe_split")
def unsafe_split(x: Tensor, split_size: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``split`` without the view checks (ndgrad's pieces are the same)."""
    d = wrap_dim(dim, x._data.ndim, "unsafe_split")
    if split_size == 0 and x._data.shape[d]:
        raise RuntimeError(
            "split_size can only be 0 if dimension size is 0, but got dimension size of "
            f"{x._data.shape[d]}"
        )
    return _unsafe(split(x, split_size, d))


@method("unsafe_split_with_sizes")
def unsafe_split_with_sizes(x: Tensor, split_sizes: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return tuple(
        named(p, "UnsafeSplitWithSizesBackward0") for p in split_with_sizes(x, split_sizes, dim)
    )


@method("unsafe_chunk")
def unsafe_chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    return _unsafe(chunk(x, chunks, dim))


def _directional_split(x: Tensor, arg: Any, op: str, dim: int, min_dims: int) -> tuple:
    """``hsplit``/``vsplit``/``dsplit``: ``tensor_split`` along one dim, equal parts only."""
    n = x._data.ndim
    if n < min_dims:
        raise RuntimeError(
            f"torch.{op} requires a tensor with at least {min_dims} dimension, but got a tensor "
            f"with {n} dimensions!"
        )
    if isinstance(arg, bool) or not isinstance(arg, (int, np.integer, list, tuple)):
        raise TypeError(
            f"{op}() received an invalid combination of arguments - got (Tensor, "
            f"{type(arg).__name__}), but expected one of:\n * (Tensor input, int sections)\n"
            " * (Tensor input, tuple of ints indices)"
        )
    if isinstance(arg, (int, np.integer)):
        size = x._data.shape[dim]
        if arg == 0 or size % arg:
            raise RuntimeError(
                f"torch.{op} attempted to split along dimension {dim}, but the size of the "
                f"dimension {size} is not divisible by the split_size {arg}!"
            )
    return tensor_split(x, arg, dim)


@method("hsplit")
def hsplit(x: Tensor, sections: Any) -> tuple[Tensor, ...]:
    return _directional_split(x, sections, "hsplit", 1 if x._data.ndim > 1 else 0, 1)


@method("vsplit")
def vsplit(x: Tensor, sections: Any) -> tuple[Tensor, ...]:
    return _directional_split(x, sections, "vsplit", 0, 2)


@method("dsplit")
def dsplit(x: Tensor, sections: Any) -> tuple[Tensor, ...]:
    return _directional_split(x, sections, "dsplit", 2, 3)


@method("narrow_copy")
def narrow_copy(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = wrap_dim(dim, x._data.ndim, "narrow_copy")
    size = x._data.shape[d]
    if start + length > size or length < 0:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return named(narrow(x, d, start, length).clone(), "NarrowCopyBackward0")


# ----------------------------------------------------------------------------- as_strided
def storage_of(x: Tensor) -> tuple[Any, int, Any]:
    """The flat storage ``x`` lives in, ``x``'s offset in it (in elements: PyTorch's
    storage_offset()) and the array owning it: its base's when that is C-contiguous, else a
    contiguous copy of ``x`` (owner None)."""
    from ndgrad._backend import address

    root = x._base if x._base is not None else x
    data = root._data
    if data.flags.c_contiguous and data.size:
        offset = (address(x._data) - address(data)) // data.itemsize
        if 0 <= offset < data.size:
            return data.reshape(-1), int(offset), data
    return array_module(x._data).ascontiguousarray(x._data).reshape(-1), 0, None


@method("as_strided")
def as_strided(x: Tensor, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:
    """A view of ``x``'s storage with the given sizes, strides (in elements) and offset; its
    gradient is summed into the storage positions and read back at ``x``'s."""
    from ndgrad._backend import as_strided as strided
    from ndgrad.ops.inplace import view_positions

    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    flat, own, owner = storage_of(x)
    offset = own if storage_offset is None else int(storage_offset)
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset}")
    if builtins.any(n < 0 for n in size):
        raise RuntimeError(f"as_strided: Negative size is not allowed, got sizes {list(size)}")
    if builtins.any(st < 0 for st in stride):
        raise RuntimeError(
            f"as_strided: Negative strides are not supported at the moment, got strides: "
            f"{list(stride)}"
        )
    span = builtins.sum((n - 1) * st for n, st in zip(size, stride))
    need = 0 if 0 in size else offset + 1 + span
    item = flat.itemsize
    if need > flat.size:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
            f"and itemsize {item} requiring a storage size of {need * item} are out of bounds "
            f"for storage of size {flat.size * item}"
        )
    xp = array_module(x._data)
    fn = strided(xp)
    data = fn(flat[offset:], size, tuple(st * item for st in stride))
    positions = xp.arange(flat.size, dtype=np.int64)
    out_pos = fn(positions[offset:], size, tuple(st * 8 for st in stride)).copy()
    if owner is None:
        in_pos = positions.reshape(x._data.shape)
    else:
        in_pos = view_positions(x._data, owner)
    n = flat.size

    def rule(xp: Any, g: Any, out_pos: Any, in_pos: Any) -> tuple:
        return (xp.index_add_zeros((n,), (out_pos.reshape(-1),), g.reshape(-1))[in_pos],)

    saved = (Tensor._make(out_pos), Tensor._make(in_pos))
    out = record("AsStridedBackward0", data, (x,), rule, saved)
    return as_view(out, x) if owner is not None else out


bind("as_strided_", _restriding("as_strided_", as_strided, lambda *a, **k: "AsStridedBackward1"))


@method("as_strided_scatter")
def as_strided_scatter(
    input: Tensor,  # noqa: A002
    src: Tensor,
    size: Any,
    stride: Any,
    storage_offset: int | None = None,
) -> Tensor:
    """A copy of ``input`` with ``src`` written where ``input.as_strided(...)`` looks."""
    out = input.clone()
    view = as_strided(out, size, stride, storage_offset)
    if tuple(view.shape) != tuple(src.shape):
        raise RuntimeError(
            f"expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(view.shape)}"
        )
    view.copy_(src)
    return named(out, "AsStridedScatterBackward0")


# ----------------------------------------------------------------------------- numpy-style helpers
@method("repeat_interleave")
def repeat_interleave(
    x: Tensor, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Tensor:
    """Repeats each element ``repeats`` times (an int or one count per element) along ``dim``.

    ``repeat_interleave(counts)`` alone gives ``arange(len(counts))`` repeated by the counts.
    """
    xp = array_module(x._data)
    if repeats is None:  # the one-tensor form: indices repeated by the counts in x
        counts = x._data
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if counts.size and counts.min() < 0:
            raise RuntimeError("repeats can not be negative")
        return Tensor._make(xp.repeat(xp.arange(counts.size, dtype=np.int64), counts))
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        d = wrap_dim(dim, x._data.ndim, "repeat_interleave")
    n = x._data.shape[d] if x._data.ndim else 1
    counts = repeats._data if isinstance(repeats, Tensor) else xp.asarray(repeats)
    if counts.ndim > 1 or (counts.ndim == 1 and counts.size not in (1, n)):
        raise RuntimeError(
            f"repeat_interleave(): repeats must have the same size as input along dim {d}, "
            f"but got repeats.size(0) = {counts.size} and input.size({d}) = {n}"
        )
    if counts.size and counts.min() < 0:
        raise RuntimeError("repeat_interleave(): repeats can not be negative")
    index = Tensor._make(xp.repeat(xp.arange(n, dtype=np.int64), counts.reshape(-1)))
    if not x._data.ndim:
        x = x.reshape(1)
    out = x.index_select(d, index)  # a method: indexing sits above shape
    return out.view(-1) if dim is None else out  # PyTorch's flat result is a view


def atleast_1d(x: Tensor) -> Tensor:
    return x.reshape(1) if x.ndim == 0 else x


def atleast_2d(x: Tensor) -> Tensor:
    return x.reshape(1, -1) if x.ndim < 2 else x


def atleast_3d(x: Tensor) -> Tensor:
    if x.ndim == 0:
        return x.reshape(1, 1, 1)
    if x.ndim == 1:
        return x.reshape(1, -1, 1)
    return x.unsqueeze(-1) if x.ndim == 2 else x


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors (``indexing="xy"`` swaps the first two axes)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    ts = [t.reshape(-1) if t.ndim == 0 else t for t in tensors]
    if any(t.ndim != 1 for t in ts):
        raise RuntimeError("meshgrid: Expected 0D or 1D tensor in the tensor list")
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    grids = [
        t.reshape(tuple(-1 if k == i else 1 for k in range(n))).expand(shape)
        for i, t in enumerate(ts)
    ]
    if indexing == "xy" and n >= 2:
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:  # noqa: A002
    """The length-``r`` combinations of a 1-D tensor's elements, one per row, in
    lexicographic order of positions (itertools' order)."""
    import itertools

    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor._make(array_module(input._data).empty((0,), dtype=input._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = np.array(list(pick(range(input._data.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    from ndgrad._backend import to_device

    index = Tensor._make(to_device(rows, input.device))
    return stack([input[index[:, j]] for j in range(r)], 1)


row_stack = vstack


def _copy_of_view(view: str, node: str) -> Any:
    """``torch.<view>_copy``: the view op's result as a new contiguous tensor (PyTorch names
    its node ``<node>_copy``)."""

    def op(input: Tensor, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        out = getattr(input, view)(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(named(t.clone(), node + "_copy") for t in out)
        return named(out.clone(), node + "_copy")

    op.__name__ = view + "_copy"
    return op


as_strided_copy = _copy_of_view("as_strided", "AsStridedBackward0")
diagonal_copy = _copy_of_view("diagonal", "DiagonalBackward0")
expand_copy = _copy_of_view("expand", "ExpandBackward0")
permute_copy = _copy_of_view("permute", "PermuteBackward0")
select_copy = _copy_of_view("select", "SelectBackward0")
split_copy = _copy_of_view("split", "SplitBackward0")
split_with_sizes_copy = _copy_of_view("split_with_sizes", "SplitWithSizesBackward0")
squeeze_copy = _copy_of_view("squeeze", "SqueezeBackward0")
t_copy = _copy_of_view("t", "TBackward0")
transpose_copy = _copy_of_view("transpose", "TransposeBackward0")
unbind_copy = _copy_of_view("unbind", "UnbindBackward0")
unfold_copy = _copy_of_view("unfold", "UnfoldBackward0")
unsqueeze_copy = _copy_of_view("unsqueeze", "UnsqueezeBackward0")
view_copy = _copy_of_view("view", "ViewBackward0")


def alias_copy(input: Tensor) -> Tensor:  # noqa: A002
    return named(input.clone(), "AliasBackward0_copy")


def slice_copy(
    input: Tensor,  # noqa: A002
    dim: int = 0,
    start: int | None = None,
    end: int | None = None,
    step: int = 1,
) -> Tensor:
    d = wrap_dim(dim, input._data.ndim, "slice_copy")
    key = (slice(None),) * d + (slice(start, end, step),)
    return named(input[key].clone(), "SliceBackward0_copy")


def detach_copy(input: Tensor) -> Tensor:  # noqa: A002
    return Tensor._make(input._data.copy())


def broadcast_shapes(*shapes: Any) -> Size:
    as_tuples = (tuple(s) if not isinstance(s, int) else (s,) for s in shapes)
    try:
        return Size(np.broadcast_shapes(*as_tuples))
    except ValueError:
        raise RuntimeError(
            f"Shape mismatch: objects cannot be broadcast to a single shape: {list(shapes)}"
        ) from None


# ----------------------------------------------------------------------------- built from the
# ops above (their gradients come from those ops)
def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (0-D, 1-D as a row, or 2-D) as blocks down the diagonal of one matrix."""
    from ndgrad._creation import zeros

    if not tensors:
        return Tensor._make(np.zeros((1, 0), np.float32))
    blocks = []
    for i, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} "
                f"has {t.dim()} dimensions"
            )
        blocks.append(t.reshape(1, -1) if t.dim() < 2 else t)
    dt = _dtype.from_numpy_dtype(_cat_dtype(blocks))
    width = builtins.sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        r, c = b.shape
        dev = b.device
        parts = [
            zeros(r, left, dtype=dt, device=dev),
            b.to(dt),
            zeros(r, width - left - c, dtype=dt, device=dev),
        ]
        rows.append(cat(parts, 1))
        left += c
    return cat(rows, 0)


@method("rot90")
def rot90(x: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """``x`` rotated by 90 degrees ``k`` times in the plane of ``dims`` (from the first
    towards the second), as PyTorch composes it of flip and transpose."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if x.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {x.dim()}")
    d0, d1 = (wrap_dim(d, x.dim(), "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    k %= 4
    if k == 1:
        return transpose(flip(x, (d1,)), d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return transpose(flip(x, (d0,)), d0, d1)
    return clone(x)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803
    """The Vandermonde matrix: columns ``x ** (N - 1) ... x ** 0`` (reversed if increasing)."""
    from ndgrad._creation import ones
    from ndgrad.ops.reduction import cumprod

    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "bui":
        x = x.to(_dtype.int64)
    columns = [ones(x.shape[0], 1, dtype=x.dtype, device=x.device)] if n else []
    if n > 1:
        columns.append(cumprod(x.unsqueeze(1).expand(x.shape[0], n - 1), 1))
    out = cat(columns, 1) if columns else x.reshape(-1, 1)[:, :0]
    return out if increasing else flip(out, (1,))


def tril_indices(
    row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None, **_: Any
) -> Tensor:
    """The (row, column) indices of the lower triangle of a ``row x col`` matrix, as 2 x N."""
    out = _triangle_indices(np.tril_indices, row, col, offset, dtype, "tril_indices")
    return out if device is None else out.to(device)


def triu_indices(
    row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None, **_: Any
) -> Tensor:
    """The (row, column) indices of the upper triangle of a ``row x col`` matrix, as 2 x N."""
    out = _triangle_indices(np.triu_indices, row, col, offset, dtype, "triu_indices")
    return out if device is None else out.to(device)


def _triangle_indices(fn: Any, row: int, col: int, offset: int, dtype: Any, op: str) -> Tensor:
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    np_dtype = np.int64 if dtype is None else _dtype.to_dtype(dtype).np
    if np.dtype(np_dtype).kind not in "iu":
        raise RuntimeError(f"\"{op}\" not implemented for '{_dtype.to_dtype(dtype)}'")
    rows, cols = fn(row, offset, col)
    return Tensor._make(np.stack([rows, cols]).astype(np_dtype).reshape(2, -1))


@method("diag_embed")
def diag_embed(x: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims ``dim1``, ``dim2`` of the result) with ``x``'s last dim on their
    ``offset``-th diagonal."""
    n = x.dim() + 1
    d1, d2 = wrap_dim(dim1, n, "diag_embed"), wrap_dim(dim2, n, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    xp = array_module(x._data)
    src = x._data if x._data.ndim else x._data.reshape(1)
    m = src.shape[-1] + builtins.abs(offset)
    out = xp.zeros(src.shape[:-1] + (m, m), dtype=src.dtype)
    i = xp.arange(src.shape[-1])
    out[..., i + builtins.max(-offset, 0), i + builtins.max(offset, 0)] = src
    data = xp.ascontiguousarray(xp.moveaxis(out, (-2, -1), (d1, d2)))

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.diagonal(g, offset, d1, d2),)

    return record("DiagEmbedBackward0", data, (x,), rule)


@method("diagflat")
def diagflat(x: Tensor, offset: int = 0) -> Tensor:
    """A matrix with ``x`` (flattened) on its ``offset``-th diagonal."""
    return _diag_embed(x.reshape(-1), offset)


@method("renorm", inplace="renorm_")
def renorm(x: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along ``dim`` scaled down to ``p``-norm ``maxnorm`` where it is larger."""
    from ndgrad.ops.pointwise import where
    from ndgrad.ops.reduction import norm

    if x.dim() < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {x.dim()} dimensions")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"renorm: expected a floating point input, got {x.dtype}")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = wrap_dim(dim, x.dim(), "renorm")
    others = tuple(i for i in range(x.dim()) if i != d)
    norms = norm(x, p, others, keepdim=True) if others else x.abs() if p else x
    factor = where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return x * factor


moveaxis = movedim
bind("moveaxis", movedim)
bind("swapaxes_", Tensor.transpose_)
bind("swapdims_", Tensor.transpose_)
