"""In-place ops with PyTorch's rules.

An in-place op is its out-of-place op whose result is written back into the
tensor's storage. When autograd is recording, the result's node becomes the
tensor's ``grad_fn`` (the old value is kept for the node), and the version
counter is bumped so that nodes which saved the tensor notice the change.

In place on a view (PyTorch's CopySlices): the op's result is computed from the view's
value and written into the storage it shares with its base; the base then gets a
``CopySlices`` node (the old base gets the gradient with the view's region zeroed, the
result the gradient's view region) and the view an ``AsStridedBackward0`` node on the new
base. A view is located in its base by its memory layout (``view_positions``: PyTorch's
as_strided geometry), so every view op works without telling how it was made. A base
keeps weak references to the views made from it while autograd records; when an in-place
op gives the base a new history, its live views get theirs regenerated from it (PyTorch
does this lazily; here it happens at the in-place op, so reading a tensor's ``grad_fn``
stays a plain attribute).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._backend import address, array_module, mixed_devices, to_device, writeable
from ndgrad._backend import as_strided as _as_strided
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import STATE
from ndgrad.autograd.graph import Node, record

LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_LEAF_MESSAGE = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)
NO_GRAD_VIEW_MESSAGE = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block "
    "(if you don't want the inplace to be tracked) or both outside (if you want the inplace "
    "to be tracked)."
)
NO_GRAD_VIEW = -1  # ``_view_version`` of a view of a tensor requiring grad made in no_grad mode


def _recording(x: Tensor, others: tuple) -> bool:
    if not STATE.enabled:
        return False
    base = x._base
    if base is not None and base._requires_grad:
        if getattr(x, "_view_version", None) == NO_GRAD_VIEW:
            raise RuntimeError(NO_GRAD_VIEW_MESSAGE)
        if base.grad_fn is None:
            raise RuntimeError(VIEW_LEAF_MESSAGE)
    if x._requires_grad:
        if x.grad_fn is None:
            raise RuntimeError(LEAF_MESSAGE)
        return True
    return any(isinstance(o, Tensor) and o._requires_grad for o in others)


def _check_castable(x: Tensor, result_dtype: np.dtype, name: str) -> None:
    if (
        result_dtype.kind == "f"
        and x._data.dtype.kind in "iub"
        or (result_dtype.kind in "iu" and x._data.dtype.kind == "b")
    ):
        res = _dtype.from_numpy_dtype(result_dtype)
        raise RuntimeError(
            f"{name}: result type {_dtype.SCALAR_NAMES[res.name]} can't be cast to the desired output "
            f"type {_dtype.SCALAR_NAMES[x.dtype.name]}"
        )


def _output_mismatch(name: str, out_shape: tuple, other_shape: tuple) -> RuntimeError:
    """PyTorch's error for an in-place result that does not fit the tensor written to."""
    try:
        target = list(np.broadcast_shapes(out_shape, other_shape))
    except ValueError:
        target = list(other_shape)
    return RuntimeError(
        f"{name}: output with shape {list(out_shape)} doesn't match the broadcast shape {target}"
    )


def _internal_overlap() -> RuntimeError:
    """PyTorch's words, exactly, for writing into a tensor whose elements share memory
    (``expand``'s output: NumPy's broadcast views are read-only)."""
    return RuntimeError(
        "unsupported operation: more than one element of the written-to tensor "
        "refers to a single memory location. Please clone() the tensor before performing "
        "the operation."
    )


def _write(x: Tensor, data: np.ndarray, name: str) -> None:
    if data.shape != x._data.shape and not _fits(data.shape, x._data.shape):
        raise _output_mismatch(name, x._data.shape, data.shape)
    _check_castable(x, data.dtype, name)
    try:
        array_module(x._data).copyto(x._data, data, casting="unsafe")
    except ValueError:
        raise _internal_overlap() from None


def apply_inplace(
    x: Tensor, name: str, compute: Callable[[Tensor], Tensor], *others: Any
) -> Tensor:
    """Writes ``compute(x)`` into ``x`` in place, keeping the graph correct."""
    if _recording(x, others):
        if x._base is not None:
            return _inplace_on_view(x, name, compute)
        old = Tensor._make(x._data.copy())
        old.grad_fn, old._output_nr, old._requires_grad = x.grad_fn, x._output_nr, x._requires_grad
        result = compute(old)
        _write(x, result._data, name)
        x.grad_fn, x._output_nr, x._requires_grad = (
            result.grad_fn,
            result._output_nr,
            result._requires_grad,
        )
        x._version_counter[0] += 1
        _adopt_output(result, x)
        _refresh_views(x, x)
        return x
    else:
        prev = STATE.enabled
        STATE.enabled = False
        try:
            result = compute(x)
        finally:
            STATE.enabled = prev
        if result._data is not x._data:
            _write(x, result._data, name)
    x._version_counter[0] += 1
    return x


def inplace_binary(x: Tensor, other: Any, ufunc: Any, op: Callable, name: str) -> Tensor:
    """``x op= other``; a direct ufunc write when nothing is recorded (optimizer updates)."""
    if not _recording(x, (other,)):
        arr = other._data if isinstance(other, Tensor) else other
        if isinstance(other, Tensor) and type(arr) is not type(x._data):
            arr = _on_device_of(x, other, name)
        if isinstance(other, Tensor) and other._data.dtype != x._data.dtype:  # same: castable
            _check_castable(x, np.result_type(x._data.dtype, other._data.dtype), name)
        elif isinstance(other, float) and x._data.dtype.kind in "iub":
            _check_castable(x, np.dtype(np.float32), name)
        if x._data.dtype.kind in "iu" and ufunc is np.true_divide:
            _check_castable(x, np.dtype(np.float32), name)
        xp = array_module(x._data)
        if xp is not np:  # another backend: its ufunc of the same name
            ufunc = getattr(xp, ufunc.__name__)
        try:
            with np.errstate(all="ignore"):
                ufunc(x._data, arr, out=x._data, casting="unsafe")
        except ValueError:
            if not getattr(x._data.flags, "writeable", True):
                raise _internal_overlap() from None
            raise _output_mismatch(name, x._data.shape, getattr(arr, "shape", ())) from None
        x._version_counter[0] += 1
        return x
    return apply_inplace(x, name, lambda s: op(s, other), other)


def _on_device_of(x: Tensor, other: Tensor, name: str) -> Any:
    """``other``'s data on ``x``'s device: a 0-d CPU tensor moves (as a scalar would); any
    other tensor on another device is torch's RuntimeError."""
    if other.device == x.device:
        return other._data
    if other.device.type == "cpu" and other._data.ndim == 0:
        return to_device(other._data, x.device)
    raise mixed_devices(name, x.device, other.device)


def _adopt_output(result: Tensor, x: Tensor) -> None:
    """A rule that reads its op's result now reads ``x``, where the result was written: a
    later in-place change of ``x`` is caught (PyTorch: "is at version 2; expected 1")."""
    node = result.grad_fn
    if node is not None and node.output is not None and node.output[0] is result._data:
        node.output = [x._data, x._version_counter, x._version_counter[0]]


def _fits(shape: tuple, out_shape: tuple) -> bool:
    """Whether ``shape`` broadcasts to exactly ``out_shape``."""
    try:
        return np.broadcast_shapes(shape, out_shape) == out_shape
    except ValueError:
        return False


def fill_with(x: Tensor, data: np.ndarray, name: str) -> Tensor:
    """Overwrites every element (fill_, zero_, normal_...): the old value gets zero gradient."""
    if writeable(x._data) and not _recording(x, ()):  # e.g. an optimizer's grad.zero_()
        x._data[...] = data
        x._version_counter[0] += 1
        return x
    return apply_inplace(
        x,
        name,
        lambda s: record(
            "FillBackward0",
            array_module(s._data).broadcast_to(data, s._data.shape).astype(s._data.dtype),
            (s,),
            _fill_rule,
        ),
    )


def _fill_rule(xp: Any, g: Any) -> tuple:
    """Every element overwritten: the old value gets a zero gradient."""
    return (xp.zeros_like(g),)


def variant(name: str, fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """The in-place variant of ``fn``: its result written into the tensor (``x.exp_()``)."""

    def op_(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return apply_inplace(self, name, lambda s: fn(s, *args, **kwargs), *args, *kwargs.values())

    op_.__name__ = name
    return op_


# ----------------------------------------------------------------------------- views
# The nodes of views that split/chunk/unbind return, with PyTorch's op name and the output's
# place: PyTorch refuses in-place changes to them in a graph (their one node could not be
# rewritten for every sibling).
MULTI_OUTPUT_VIEWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def mark_multi_output_views(views: tuple[Tensor, ...], op: str) -> tuple[Tensor, ...]:
    for i, view in enumerate(views):
        if view.grad_fn is not None:
            MULTI_OUTPUT_VIEWS[view.grad_fn] = (op, i)
    return views


def _inplace_on_view(x: Tensor, name: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """PyTorch's CopySlices: ``compute`` on the view's value, written into the base's storage;
    the base gets a ``CopySlices`` node, the view an ``AsStridedBackward0`` node on it."""
    if x.grad_fn is not None and x.grad_fn in MULTI_OUTPUT_VIEWS:
        op, i = MULTI_OUTPUT_VIEWS[x.grad_fn]
        raise RuntimeError(
            f"Output {i} of {op} is a view and is being modified inplace. This view is the "
            "output of a function that returns multiple views. Such functions do not allow the "
            "output views to be modified inplace. You should replace the inplace operation by "
            "an out-of-place one."
        )
    root = x._base
    old = Tensor._make(x._data.copy())
    old.grad_fn, old._output_nr, old._requires_grad = x.grad_fn, x._output_nr, x._requires_grad
    result = compute(old)
    _write(x, result._data, name)
    x._version_counter[0] += 1
    _adopt_output(result, x)
    if result._requires_grad or root._requires_grad:
        xp = array_module(root._data)
        idx = view_positions(x._data, root._data)
        region = xp.zeros(root._data.shape, dtype=bool)
        region.reshape(-1)[idx] = True
        index = Tensor._make(idx)
        # The node reads the base's history before the base takes the new one.
        root.grad_fn = Node(
            "CopySlices", _copy_slices_rule, (root, result), (index, Tensor._make(region))
        )
        root._output_nr = 0
        root._requires_grad = True
        x.grad_fn = Node(
            "AsStridedBackward0", _as_strided_rule(root._data.shape), (root,), (index,)
        )
        x._output_nr = 0
        x._requires_grad = True
        _refresh_views(root, x)
    x._view_version = x._version_counter[0]
    return x


def _copy_slices_rule(xp: Any, g: Any, index: Any, region: Any) -> tuple:
    """The old base: the gradient with the view's region zeroed; the result: that region."""
    return xp.where(region, 0.0, g), g.reshape(-1)[index]


def _as_strided_rule(shape: tuple) -> Callable[..., tuple]:
    """A view's gradient placed at its positions (``index``) in zeros of its base's shape."""
    size = int(np.prod(shape, dtype=np.int64))

    def rule(xp: Any, g: Any, index: Any) -> tuple:
        return (xp.index_add_zeros((size,), (index,), g).reshape(shape),)

    return rule


_address = address


def view_positions(view: Any, root: Any) -> Any:
    """For each element of ``view`` (an array sharing ``root``'s memory) its flat C-order
    position in ``root``: the view as PyTorch's ``as_strided`` of its base, however made."""
    xp = array_module(root)
    item = root.itemsize
    as_strided = _as_strided(xp)
    if root.flags.c_contiguous:
        positions = xp.arange(root.size, dtype=np.int64)
        start = 0
    else:  # the positions laid out in memory as root's elements are
        low = sum((n - 1) * s for n, s in zip(root.shape, root.strides) if s < 0 and n)
        high = sum((n - 1) * s for n, s in zip(root.shape, root.strides) if s > 0 and n)
        positions = xp.empty((high - low) // item + 1, dtype=np.int64)
        start = -low // item
        layout = tuple(s // item * 8 for s in root.strides)
        grid = xp.arange(root.size, dtype=np.int64).reshape(root.shape)
        as_strided(positions[start:], root.shape, layout)[...] = grid
    offset = start + (_address(view) - _address(root)) // item
    strides = tuple(s // item * 8 for s in view.strides)
    return as_strided(positions[offset:], view.shape, strides).copy()


def _regenerate(view: Tensor) -> None:
    """The view's history from its base's current one (an ``AsStridedBackward0`` node)."""
    view._view_version = view._version_counter[0]
    root = view._base
    if not root._requires_grad:
        return
    index = Tensor._make(view_positions(view._data, root._data))
    view.grad_fn = Node("AsStridedBackward0", _as_strided_rule(root._data.shape), (root,), (index,))
    view._requires_grad = True
    view._output_nr = 0


def _refresh_views(root: Tensor, modified: Tensor) -> None:
    """After an in-place op gave ``root`` a new history: its other live views follow it."""
    refs = getattr(root, "_views", None)
    if not refs:
        return
    alive = []
    for ref in refs:
        view = ref()
        if view is None:
            continue
        alive.append(ref)
        if view is not modified and view._base is root:
            _regenerate(view)
    root._views = alive


def track_view(out: Tensor, root: Tensor) -> None:
    """Called by ``as_view`` for a new view ``out`` of ``root``: views made while autograd
    records follow in-place changes of their base (except views of leaves that require
    grad: those cannot be modified in place while recording); a view of a tensor that
    requires grad made in no_grad mode is marked, so that an in-place op on it while
    recording raises PyTorch's error."""
    if STATE.enabled:
        if root.grad_fn is not None or not root._requires_grad:
            out._view_version = out._version_counter[0]
            refs = getattr(root, "_views", None)
            if refs is None:
                refs = root._views = []
            refs.append(weakref.ref(out))
            n = len(refs)
            if n >= 64 and not n & (n - 1):  # at each power of two: forget the dead views
                refs[:] = [ref for ref in refs if ref() is not None]
    elif root._requires_grad:
        out._view_version = NO_GRAD_VIEW


def as_view(out: Tensor, base: Tensor) -> Tensor:
    """Marks ``out`` as sharing ``base``'s storage: one version counter for both, ``_base``
    the tensor that owns the storage (in-place ops on views: ``ops.inplace``)."""
    xp = array_module(out._data)
    data = out._data
    # An empty view shares no memory, but it is still a view (x[0:0] = v keeps v's graph).
    if xp.may_share_memory(data, base._data) or (data.size == 0 and data.base is not None):
        root = base._base if base._base is not None else base
        out._version_counter = base._version_counter
        out._base = root
        track_view(out, root)
    return out
