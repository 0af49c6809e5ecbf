"""``nn.Parameter``: a leaf Tensor that a Module registers as one of its parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._backend import array_module, backend
from ndgrad._tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: a leaf that requires grad by default.

    Like PyTorch's, it shares storage (and the version counter) with the tensor it wraps.
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = Tensor._make(np.empty((0,), dtype=np.float32))
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): expected data to be a Tensor, got {type(data).__name__}")
        p = object.__new__(cls)
        Tensor._init(p, data._data)
        p._version_counter = data._version_counter
        if requires_grad:
            p._require_grad_at_creation()
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # everything happens in __new__

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild_parameter, (self._data, self._requires_grad))

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(Tensor._make(self._data.copy()), self._requires_grad)
        if self._grad is not None:
            p._grad = Tensor._make(self._grad._data.copy())
        memo[id(self)] = p
        return p


def _rebuild_parameter(data: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(Tensor._make(data), requires_grad)


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (``LazyLinear``); ``materialize`` sets it."""

    def materialize(self, shape: tuple[int, ...], device: Any = None, dtype: Any = None) -> None:
        from ndgrad import _dtype

        np_dtype = _dtype.to_dtype(dtype).np if dtype is not None else self._data.dtype
        # on the device the placeholder was moved to (Module.to before the first forward)
        xp = array_module(self._data) if device is None else backend(device)
        self._data = xp.empty(tuple(shape), dtype=np_dtype)
        self.__class__ = Parameter

    def __repr__(self) -> str:
        return "<UninitializedParameter>"

    @property
    def shape(self) -> Any:  # type: ignore[override]
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter. This error usually happens "
            "in `load_state_dict` when trying to load an uninitialized parameter into an "
            "initialized one. Call `forward` to initialize the parameters before accessing "
            "their attributes."
        )


class Buffer(Tensor):
    """``nn.Buffer``: marks a tensor assigned to a module attribute as a buffer."""

    def __new__(cls, data: Tensor, *, persistent: bool = True) -> Buffer:
        b = object.__new__(cls)
        Tensor._init(b, data._data)
        b._version_counter = data._version_counter
        b.persistent = persistent
        return b

    def __init__(self, data: Tensor, *, persistent: bool = True) -> None:
        pass


class UninitializedBuffer(Tensor):
    """A buffer whose shape is not known yet (lazy modules); ``materialize`` sets it."""

    __slots__ = ()

    def __init__(self, data: Tensor) -> None:
        Tensor._init(self, data._data)

    def materialize(self, shape: tuple[int, ...], device: Any = None, dtype: Any = None) -> None:
        from ndgrad import _dtype

        np_dtype = _dtype.to_dtype(dtype).np if dtype is not None else self._data.dtype
        # on the device the placeholder was moved to (Module.to before the first forward)
        xp = array_module(self._data) if device is None else backend(device)
        self._data = xp.empty(tuple(shape), dtype=np_dtype)
        self.__class__ = Tensor

    def __repr__(self) -> str:
        return "<UninitializedBuffer>"


def is_lazy(param: Tensor) -> bool:
    return isinstance(param, (UninitializedParameter, UninitializedBuffer))
