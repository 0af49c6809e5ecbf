"""In-place ops with PyTorch's rules.

An in-place op is its out-of-place op whose result is written back into the
tensor's storage. When autograd is recording, the result's node becomes the
tensor's ``grad_fn`` (the old value is kept for the node), and the version
counter is bumped so that nodes which saved the tensor notice the change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import STATE
from ndgrad.ops._common import record_tensor

LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation."


def _recording(x: Tensor, others: tuple) -> bool:
    if not STATE.enabled:
        return False
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
            f"{name}: result type {_SCALAR_NAMES[res.name]} can't be cast to the desired output "
            f"type {_SCALAR_NAMES[x.dtype.name]}"
        )


# PyTorch's ScalarType names, as its casting errors spell them.
_SCALAR_NAMES = {
    "float16": "Half",
    "float32": "Float",
    "float64": "Double",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


def _output_mismatch(name: str, out_shape: tuple, other_shape: tuple) -> RuntimeError:
    """PyTorch's error for an in-place result that does not fit the tensor written to."""
    try:
        target = list(np.broadcast_shapes(out_shape, other_shape))
    except ValueError:
        target = list(other_shape)
    return RuntimeError(
        f"{name}: output with shape {list(out_shape)} doesn't match the broadcast shape {target}"
    )


def _write(x: Tensor, data: np.ndarray, name: str) -> None:
    if data.shape != x._data.shape and not _fits(data.shape, x._data.shape):
        raise _output_mismatch(name, x._data.shape, data.shape)
    _check_castable(x, data.dtype, name)
    try:
        array_module(x._data).copyto(x._data, data, casting="unsafe")
    except ValueError:
        raise RuntimeError(
            f"{name}: unsupported operation: more than one element of the written-to tensor "
            "refers to a single memory location. Please clone() the tensor before performing "
            "the operation."
        ) from None


def apply_inplace(
    x: Tensor, name: str, compute: Callable[[Tensor], Tensor], *others: Any
) -> Tensor:
    """Writes ``compute(x)`` into ``x`` in place, keeping the graph correct."""
    if _recording(x, others):
        base = x._base
        if base is not None and (base._requires_grad or base.grad_fn is not None):
            raise RuntimeError(
                f"{name}: an in-place operation on a view of a tensor that requires grad is not "
                "supported by ndgrad (it would silently give wrong gradients); clone() the view "
                "or use the out-of-place op"
            )
        old = Tensor._make(x._data.copy())
        old.grad_fn, old._output_nr, old._requires_grad = x.grad_fn, x._output_nr, x._requires_grad
        result = compute(old)
        _write(x, result._data, name)
        x.grad_fn, x._output_nr, x._requires_grad = (
            result.grad_fn,
            result._output_nr,
            result._requires_grad,
        )
    else:
        prev = STATE.enabled
        STATE.enabled = False
        try:
            result = compute(x)
        finally:
            STATE.enabled = prev
        if result._data is not x._data:
            _write(x, result._data, name)
    x._version[0] += 1
    return x


def inplace_binary(x: Tensor, other: Any, ufunc: Any, op: Callable, name: str) -> Tensor:
    """``x op= other``; a direct ufunc write when nothing is recorded (optimizer updates)."""
    if not _recording(x, (other,)):
        arr = other._data if isinstance(other, Tensor) else other
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
            raise _output_mismatch(name, x._data.shape, getattr(arr, "shape", ())) from None
        x._version[0] += 1
        return x
    return apply_inplace(x, name, lambda s: op(s, other), other)


def _fits(shape: tuple, out_shape: tuple) -> bool:
    """Whether ``shape`` broadcasts to exactly ``out_shape``."""
    try:
        return np.broadcast_shapes(shape, out_shape) == out_shape
    except ValueError:
        return False


def fill_with(x: Tensor, data: np.ndarray, name: str) -> Tensor:
    """Overwrites every element (fill_, zero_, normal_...): the old value gets zero gradient."""
    if x._data.flags.writeable and not _recording(x, ()):  # e.g. an optimizer's grad.zero_()
        x._data[...] = data
        x._version[0] += 1
        return x
    return apply_inplace(
        x,
        name,
        lambda s: record_tensor(
            "FillBackward0",
            array_module(s._data).broadcast_to(data, s._data.shape).astype(s._data.dtype),
            (s,),
            lambda g: (g * 0,),
        ),
    )


def variant(name: str, fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """The in-place variant of ``fn``: its result written into the tensor (``x.exp_()``)."""

    def op_(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return apply_inplace(self, name, lambda s: fn(s, *args, **kwargs), *args, *kwargs.values())

    op_.__name__ = name
    return op_
