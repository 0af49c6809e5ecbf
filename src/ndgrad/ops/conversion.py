"""Conversions: ``to`` (dtype, device), ``float()``/``long()``..., ``new_*`` factories,
``stride``, ``cpu``/``cuda``."""

from __future__ import annotations

from typing import Any

from ndgrad import _dtype
from ndgrad._tensor import Tensor
from ndgrad.ops._common import bind, cast, method


@method("to")
def to(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``x.to(dtype)``, ``x.to("cpu")``, ``x.to(other)``, ``x.to("cpu", dtype)``."""
    from ndgrad._backend import check_available, device

    dtype = kwargs.get("dtype")
    copy = kwargs.get("copy", False)
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device)):
            check_available(a)
        elif a is not None:
            dtype = a
    if "device" in kwargs and kwargs["device"] is not None:
        check_available(kwargs["device"])
    if dtype is None:
        return x.clone() if copy else x
    np_dtype = _dtype.to_dtype(dtype).np
    if np_dtype == x._data.dtype:
        return x.clone() if copy else x
    return cast(x, np_dtype)


def _converter(name: str, dtype: Any) -> Any:
    def convert(self: Tensor) -> Tensor:
        return to(self, dtype)

    convert.__name__ = name
    return convert


for _name, _dt in (
    ("float", _dtype.float32),
    ("double", _dtype.float64),
    ("half", _dtype.float16),
    ("long", _dtype.int64),
    ("int", _dtype.int32),
    ("bool", _dtype.bool_),
    ("short", _dtype.int16),
    ("char", _dtype.int8),
    ("byte", _dtype.uint8),
):
    bind(_name, _converter(_name, _dt))


def _type_as(self: Tensor, other: Tensor) -> Tensor:
    return to(self, other.dtype)


def _stride(self: Tensor, dim: int | None = None) -> Any:
    data = self._data
    if dim is None:
        return tuple(s // data.itemsize for s in data.strides)
    return data.strides[dim] // data.itemsize


def _cpu(self: Tensor) -> Tensor:
    return self


def _cuda(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    raise AssertionError("Torch not compiled with CUDA enabled (ndgrad runs on the CPU)")


def _new_tensor(self: Tensor, data: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    from ndgrad import _creation

    return _creation.tensor(data, dtype=dtype or self.dtype)


def _new_zeros(self: Tensor, *size: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    from ndgrad import _creation

    return _creation.zeros(*size, dtype=dtype or self.dtype)


def _new_ones(self: Tensor, *size: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    from ndgrad import _creation

    return _creation.ones(*size, dtype=dtype or self.dtype)


def _new_full(self: Tensor, size: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    from ndgrad import _creation

    return _creation.full(size, fill_value, dtype=dtype or self.dtype)


for _name, _fn in (
    ("type_as", _type_as),
    ("stride", _stride),
    ("cpu", _cpu),
    ("cuda", _cuda),
    ("new_tensor", _new_tensor),
    ("new_zeros", _new_zeros),
    ("new_ones", _new_ones),
    ("new_full", _new_full),
    ("new_empty", _new_zeros),  # zeros: PyTorch leaves the memory uninitialised
):
    bind(_name, _fn)
