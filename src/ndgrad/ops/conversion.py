"""Conversions: ``to`` (dtype, device), ``float()``/``long()``..., ``new_*`` factories,
``stride``, ``cpu``/``cuda``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._backend import array_device, check_available, device, to_device
from ndgrad._tensor import Tensor
from ndgrad.ops._common import bind, cast, method, record


@method("to")
def to(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``x.to(dtype)``, ``x.to("cuda")``, ``x.to(other)``, ``x.to("cuda", dtype)``:
    differentiable, the gradient goes back to ``x``'s device and dtype."""
    dtype = kwargs.get("dtype")
    dev = kwargs.get("device")
    copy = kwargs.get("copy", False)
    for a in args:
        if isinstance(a, Tensor):
            dtype, dev = a.dtype, a.device
        elif isinstance(a, (str, device)):
            dev = a
        elif a is not None and not isinstance(a, bool):  # non_blocking
            dtype = a
    out = x
    if dev is not None:
        dev = check_available(dev)
        if dev.type != array_device(x._data).type:
            out, copy = to_device_op(x, dev), False
    if dtype is None:
        return out.clone() if copy else out
    np_dtype = _dtype.to_dtype(dtype).np
    if np_dtype == out._data.dtype:
        return out.clone() if copy else out
    return cast(out, np_dtype)


def to_device_op(x: Tensor, dev: device) -> Tensor:
    """``x`` copied to ``dev``, its gradient copied back (torch's ToCopyBackward0)."""
    source = array_device(x._data)

    def back(xp: Any, g: Any) -> tuple:
        return (g.to(source) if isinstance(g, Tensor) else to_device(g, source),)

    return record("ToCopyBackward0", to_device(x._data, dev), (x,), back)


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


def _cpu(self: Tensor, memory_format: Any = None) -> Tensor:
    return to(self, "cpu")


def _cuda(self: Tensor, device: Any = None, non_blocking: bool = False, **kwargs: Any) -> Tensor:
    if isinstance(device, int):
        device = f"cuda:{device}"
    return to(self, device if device is not None else "cuda")


def _pin_memory(self: Tensor, device: Any = None) -> Tensor:
    """Page-locked host memory in torch; NumPy's memory serves as it is (a copy, as torch's)."""
    if self.device.type != "cpu":
        raise RuntimeError(
            f"cannot pin '{self.device}' memory: only dense CPU tensors can be pinned"
        )
    out = self.clone()
    out._pinned = True
    return out


def _is_pinned(self: Tensor, device: Any = None) -> bool:
    return getattr(self, "_pinned", False)


def _on(self: Tensor, kwargs: dict) -> Any:
    """The device a ``new_*`` factory creates on: the one named, else ``self``'s."""
    return kwargs.get("device") or self.device


def _new_tensor(self: Tensor, data: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    from ndgrad import _creation

    return _creation.tensor(data, dtype=dtype or self.dtype, device=_on(self, kwargs))


def _new_zeros(self: Tensor, *size: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    from ndgrad import _creation

    return _creation.zeros(*size, dtype=dtype or self.dtype, device=_on(self, kwargs))


def _new_ones(self: Tensor, *size: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    from ndgrad import _creation

    return _creation.ones(*size, dtype=dtype or self.dtype, device=_on(self, kwargs))


def _new_full(self: Tensor, size: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    from ndgrad import _creation

    dev = _on(self, kwargs)
    return _creation.full(size, fill_value, dtype=dtype or self.dtype, device=dev)


def _new(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """The legacy ``x.new(...)``: sizes (ints or a Size) give an uninitialised (here zero)
    tensor, data (a list or tuple) a copy in ``x``'s dtype, a tensor of ``x``'s dtype itself."""
    from ndgrad import _creation
    from ndgrad._tensor import Size

    extra = [k for k in kwargs if k != "device"]
    if extra:
        got = ", ".join(
            [type(a).__name__ for a in args] + [f"{k}={type(kwargs[k]).__name__}" for k in extra]
        )
        raise TypeError(
            f"new() received an invalid combination of arguments - got ({got}), but expected "
            "one of:\n * (*, torch.device device = None)\n * (torch.Storage storage)\n"
            " * (Tensor other)\n * (tuple of ints size, *, torch.device device = None)\n"
            " * (object data, *, torch.device device = None)\n"
        )
    dev = _on(self, kwargs)
    if not args:
        return _creation.empty(0, dtype=self.dtype, device=dev)
    first = args[0]
    if len(args) == 1 and isinstance(first, Tensor):
        if first.dtype != self.dtype:
            raise TypeError(
                f"expected {self.dtype} (got {first.dtype}): new(Tensor) keeps the tensor's dtype"
            )
        return first.detach()
    if len(args) == 1 and isinstance(first, (list, tuple)) and not isinstance(first, Size):
        return _creation.tensor(first, dtype=self.dtype, device=dev)
    return _creation.zeros(*args, dtype=self.dtype, device=dev)


def _new_empty_strided(
    self: Tensor, size: Any, stride: Any, dtype: Any = None, **kwargs: Any
) -> Tensor:
    """``empty_strided`` (zeros here) of ``x``'s dtype and device."""
    from ndgrad import _creation

    return _creation.empty_strided(
        size, stride, dtype=dtype or self.dtype, device=_on(self, kwargs)
    )


def _resize_(self: Tensor, *sizes: Any, memory_format: Any = None) -> Tensor:
    """The tensor reshaped to ``sizes`` over its elements in memory order: cut, or grown
    with new elements (zero here; uninitialised in PyTorch)."""
    from ndgrad._creation import shape_arg

    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    shape = shape_arg(sizes, "resize_")
    if builtins_any(n < 0 for n in shape):
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}"
        )
    xp = self.xp
    flat = self._data.reshape(-1)
    n = int(np.prod(shape, dtype=np.int64))
    if n <= flat.size:
        data = flat[:n].reshape(shape)
    else:
        data = xp.concatenate([flat, xp.zeros(n - flat.size, dtype=flat.dtype)]).reshape(shape)
    self._data = data
    self._version_counter[0] += 1
    return self


def _resize_as_(self: Tensor, other: Tensor, memory_format: Any = None) -> Tensor:
    return _resize_(self, *other.shape)


def _resize(self: Tensor, *sizes: Any) -> Tensor:
    import warnings

    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _resize_(Tensor._make(self._data.copy()), *sizes)


def _resize_as(self: Tensor, other: Tensor) -> Tensor:
    import warnings

    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    return _resize_(Tensor._make(self._data.copy()), *other.shape)


def _as_subclass(self: Tensor, cls: type) -> Tensor:
    """The tensor's data (shared, with its version counter) as an instance of ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass(): argument 'cls' must be a subclass of Tensor (got {cls!r})")
    out = object.__new__(cls)
    Tensor._init(out, self._data)
    out._version_counter = self._version_counter
    if self._requires_grad:
        out.grad_fn, out._requires_grad = self.grad_fn, True
    return out


def _set_(self: Tensor, source: Tensor | None = None, *args: Any, **kwargs: Any) -> Tensor:
    """The tensor made to look at ``source``'s memory, or at an empty one; with
    ``(source, storage_offset, size, stride)`` through ``as_strided``."""
    from ndgrad.ops.inplace import LEAF_MESSAGE

    if self._requires_grad and self.grad_fn is None:
        raise RuntimeError(LEAF_MESSAGE)
    if source is None:
        self._data = self.xp.empty((0,), dtype=self._data.dtype)
    else:
        if source._data.dtype != self._data.dtype:
            raise RuntimeError(
                f"Could not set tensor of type {_dtype.CPP_NAMES[source._data.dtype.name]} to a "
                f"tensor of type {_dtype.CPP_NAMES[self._data.dtype.name]}"
            )
        if args or kwargs:
            offset = kwargs.get("storage_offset", args[0] if args else 0)
            size = kwargs.get("size", args[1] if len(args) > 1 else source.shape)
            stride = kwargs.get("stride", args[2] if len(args) > 2 else None)
            if stride is None:  # contiguous strides of ``size``
                stride, step = [], 1
                for n in reversed(tuple(size)):
                    stride.insert(0, step)
                    step *= max(int(n), 1)
            source = source.detach().as_strided(size, stride, offset)
        self._data = source._data  # the memory, not the version counter (as in PyTorch)
    self._version_counter[0] += 1
    return self


def _elementwise(name: str, self: Tensor, fn: Any, *others: Tensor) -> Tensor:
    """``apply_``/``map_``/``map2_``: a Python function over the elements (CPU only)."""
    if self._requires_grad:
        raise RuntimeError(
            f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() "
            "instead."
        )
    self._host_only(name)
    args = [np.broadcast_to(o._data, self._data.shape).reshape(-1).tolist() for o in others]
    flat = self._data.reshape(-1)
    values = [fn(*vs) for vs in zip(flat.tolist(), *args)]
    self._data[...] = np.asarray(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._version_counter[0] += 1
    return self


def _apply_(self: Tensor, callable: Any) -> Tensor:  # noqa: A002
    return _elementwise("apply_", self, callable)


def _map_(self: Tensor, tensor: Tensor, callable: Any) -> Tensor:  # noqa: A002
    return _elementwise("map_", self, callable, tensor)


def _map2_(self: Tensor, x: Tensor, y: Tensor, callable: Any) -> Tensor:  # noqa: A002
    return _elementwise("map2_", self, callable, x, y)


builtins_any = any

for _name, _fn in (
    ("type_as", _type_as),
    ("stride", _stride),
    ("cpu", _cpu),
    ("cuda", _cuda),
    ("pin_memory", _pin_memory),
    ("is_pinned", _is_pinned),
    ("new_tensor", _new_tensor),
    ("new_zeros", _new_zeros),
    ("new_ones", _new_ones),
    ("new_full", _new_full),
    ("new_empty", _new_zeros),  # zeros: PyTorch leaves the memory uninitialised
    ("new", _new),
    ("new_empty_strided", _new_empty_strided),
    ("resize_", _resize_),
    ("resize_as_", _resize_as_),
    ("resize", _resize),
    ("set_", _set_),
    ("resize_as", _resize_as),
    ("as_subclass", _as_subclass),
    ("apply_", _apply_),
    ("map_", _map_),
    ("map2_", _map2_),
):
    bind(_name, _fn)
