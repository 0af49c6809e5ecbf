"""Data types and PyTorch's type-promotion rules."""

from __future__ import annotations

from typing import Any

import numpy as np


class dtype:  # noqa: N801 - mirrors torch.dtype
    """A tensor element type; ``ndgrad.float32`` etc. are the instances."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "category")

    def __init__(self, name: str, np_dtype: type, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category  # 0 bool, 1 integer, 2 floating
        self.is_floating_point = category == 2
        self.is_signed = self.np.kind in "if"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"{printed_prefix()}.{self.name}"

    def __reduce__(self) -> str:
        return self.name


# How printed type names start: "ndgrad.float32", or "torch.float32" while `import torch` is
# ndgrad (ndgrad.install_as_torch), so that a PyTorch program prints what it prints on PyTorch.
_PRINTED_PREFIX = ["ndgrad"]


def printed_prefix() -> str:
    return _PRINTED_PREFIX[0]


def set_printed_prefix(prefix: str) -> None:
    _PRINTED_PREFIX[0] = prefix


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

ALL_DTYPES = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_FROM_NUMPY = {d.np: d for d in ALL_DTYPES}

_default_float = float32


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d: dtype) -> None:
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    try:
        return _FROM_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).type.__name__}. The "
            "only supported types are: float64, float32, float16, int64, int32, int16, int8, "
            "uint8, and bool."
        ) from None


def to_dtype(d: object) -> dtype:
    """Accepts an ndgrad dtype, a NumPy dtype, or the Python types float/int/bool."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return _default_float
    if d is int:
        return int64
    if d is bool:
        return bool_
    if hasattr(d, "is_floating_point") and hasattr(d, "itemsize") and str(d).startswith("torch."):
        return from_numpy_dtype(np.dtype(str(d).split(".")[1]))
    try:
        return from_numpy_dtype(np.dtype(d))
    except TypeError as exc:
        raise TypeError(f"invalid dtype {d!r}: {exc}") from None


def scalar_dtype(value: object) -> dtype:
    """The dtype PyTorch gives a Python scalar."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    return _default_float


def promote(a: dtype, b: dtype) -> dtype:
    # A higher category wins outright (int64 + float32 is float32 in PyTorch, not float64).
    if a.category != b.category:
        return a if a.category > b.category else b
    return _FROM_NUMPY[np.promote_types(a.np, b.np)]


def result_type(*operands: object) -> dtype:
    """PyTorch's promotion: dimensioned tensors > zero-dim tensors > Python scalars.

    A lower-priority operand only changes the result when its category
    (bool < integer < floating) is higher than the current result's.
    """
    tiers: list[dtype | None] = [None, None, None]
    for op in operands:
        data = getattr(op, "_data", None)  # a Tensor (no import: this module is below it)
        if data is not None:
            tier, d = (0 if data.ndim else 1), from_numpy_dtype(data.dtype)
        else:
            tier, d = 2, scalar_dtype(op)
        cur = tiers[tier]
        if cur is None:
            tiers[tier] = d
        elif tier == 2:
            tiers[tier] = d if d.category > cur.category else cur
        else:
            tiers[tier] = promote(cur, d)
    result = None
    for d in tiers:
        if d is None:
            continue
        if result is None:
            result = d
        elif d.category > result.category:
            result = d if d is not int64 or result is not bool_ else int64
    assert result is not None
    return result


# PyTorch's ScalarType names, as its kernel-dispatch errors spell them.
SCALAR_NAMES = {
    "float16": "Half",
    "bfloat16": "BFloat16",
    "float32": "Float",
    "float64": "Double",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


# dtypes as ATen's TypeMeta prints them (C++ type names), in some of its checks.
CPP_NAMES = {
    "float64": "double",
    "float32": "float",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
    "complex64": "c10::complex<float>",
    "complex128": "c10::complex<double>",
}


def not_floating(op: str, dtype: Any) -> RuntimeError:
    """PyTorch's error for an integer or bool tensor given to a floating-point-only op."""
    return RuntimeError(
        f"{op}: Expected a floating point or complex tensor as input. "
        f"Got {SCALAR_NAMES[np.dtype(dtype).name]}"
    )


def not_implemented(kernel: str, t: Any) -> NotImplementedError:
    """PyTorch's error for a dtype (of a tensor ``t``, or a NumPy dtype) its kernel ``kernel``
    has no implementation for."""
    dt = t._data.dtype if hasattr(t, "_data") else np.dtype(t)
    name = SCALAR_NAMES.get(dt.name, str(dt))
    return NotImplementedError(f"\"{kernel}\" not implemented for '{name}'")
