"""The array-library seam: ops ask a tensor's backend for array functions.

NumPy backs the ``cpu`` device; CuPy backs ``cuda`` when it imports and finds a GPU
(:func:`register_cupy`, called by ``import ndgrad``). Everything device-specific lives here:
copies between devices, the device random generator, the mixed-device error.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy


class device:  # noqa: N801 - mirrors torch.device
    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        if ":" in type:
            type, _, idx = type.partition(":")
            index = int(idx)
        # Naming a device is not using it: torch.device("cuda") works on a CPU-only build
        # (d2l prints gpu() there); tensors are only refused a device without a backend.
        if type not in DEVICE_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
                f"string: {type}"
            )
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


# torch's device types, in the order its error message lists them
DEVICE_TYPES = (
    "cpu cuda ipu xpu mkldnn opengl opencl ideep hip ve fpga maia xla lazy vulkan mps meta hpu "
    "mtia privateuseone"
).split()
# Device type -> the array library (with NumPy's API) that backs it.
_BACKENDS: dict[str, ModuleType] = {"cpu": numpy}
CPU = device("cpu")


INSTALL_CUDA = 'pip install "ndgrad[cuda12]"'
NO_CUDA = (
    "Torch not compiled with CUDA enabled (ndgrad computes on the CPU with NumPy: CuPy is not "
    f"installed or finds no GPU; with an NVIDIA driver, {INSTALL_CUDA} - or ndgrad[cuda13] "
    "for a CUDA 13 driver - and check with `ndgrad doctor`)"
)


def check_available(dev: str | device) -> device:
    """The device, if tensors can live there; torch's error for one this build lacks."""
    dev = device(dev)
    if dev.type not in _BACKENDS:
        if dev.type == "cuda":
            raise AssertionError(NO_CUDA)
        raise RuntimeError(f"ndgrad has no backend for device type '{dev.type}' on this machine")
    if dev.index is not None and dev.type == "cuda":
        count = device_count()
        if not 0 <= dev.index < count:
            raise RuntimeError(
                f"CUDA error: invalid device ordinal (cuda:{dev.index}; {count} device(s) found)"
            )
    return dev


def device_count() -> int:
    """How many CUDA devices the registered backend sees (0 without one)."""
    xp = _BACKENDS.get("cuda")
    if xp is None:
        return 0
    return int(xp.cuda.runtime.getDeviceCount())


# Array type -> (array module, device). One dict lookup on an array's exact type answers
# "which library computes on this array" on the hot path; subclasses fall back to a scan.
_XP_BY_TYPE: dict[type, ModuleType] = {numpy.ndarray: numpy}
_DEVICE_BY_TYPE: dict[type, device] = {numpy.ndarray: CPU}


def register_backend(device_type: str, xp: ModuleType, array_type: type | None = None) -> None:
    """Backs ``device_type`` with ``xp``; its arrays are instances of ``array_type``.

    ``xp`` has NumPy's API plus ``asnumpy`` (device to host) when it backs a device other
    than the CPU; a ``cuda`` backend also has CuPy's ``cuda`` and ``random`` modules.
    """
    _BACKENDS[device_type] = xp
    if array_type is not None:
        _XP_BY_TYPE[array_type] = xp
        # torch names the current CUDA device: tensor.device is cuda:0
        _DEVICE_BY_TYPE[array_type] = device(device_type, 0 if device_type == "cuda" else None)
    _GENERATORS.pop(device_type, None)


def unregister_backend(device_type: str) -> None:
    """Forgets a backend registered with :func:`register_backend` (the CPU stays)."""
    if device_type == "cpu":
        raise ValueError("the cpu backend cannot be unregistered")
    _BACKENDS.pop(device_type, None)
    _GENERATORS.pop(device_type, None)
    for array_type, dev in list(_DEVICE_BY_TYPE.items()):
        if dev.type == device_type:
            del _DEVICE_BY_TYPE[array_type]
            del _XP_BY_TYPE[array_type]


def _lookup(table: dict, data: Any, default: Any) -> Any:
    # Most-derived registered type first: a subclass of ndarray beats ndarray itself.
    for array_type in reversed(table):
        if isinstance(data, array_type):
            return table[array_type]
    return default


def array_module(data: Any) -> ModuleType:
    """The array library that computes on ``data`` (NumPy for anything unregistered)."""
    xp = _XP_BY_TYPE.get(type(data))
    return xp if xp is not None else _lookup(_XP_BY_TYPE, data, numpy)


def array_device(data: Any) -> device:
    """The device an array lives on, from its type."""
    dev = _DEVICE_BY_TYPE.get(type(data))
    return dev if dev is not None else _lookup(_DEVICE_BY_TYPE, data, CPU)


def backend(dev: str | device) -> ModuleType:
    """The array library of a device (torch's error when this build cannot use it)."""
    return _BACKENDS[check_available(dev).type]


def to_device(data: Any, dev: str | device) -> Any:
    """``data`` (an array on any device) on ``dev``: the same array when already there."""
    dev = device(dev)
    src = array_device(data)
    if src.type == dev.type:
        return data
    if src.type != "cpu":
        data = array_module(data).asnumpy(data)  # device to host
    if dev.type == "cpu":
        return data
    return backend(dev).asarray(data)  # host to device


def same_device(op: str, *arrays: Any) -> device:
    """The one device of ``arrays``; torch's RuntimeError when they span two."""
    first = array_device(arrays[0])
    for a in arrays[1:]:
        other = array_device(a)
        if other != first:
            raise mixed_devices(op, first, other)
    return first


def mixed_devices(op: str, a: device, b: device) -> RuntimeError:
    # torch names the non-CPU device first
    names = sorted((str(a), str(b)), key=lambda n: n == "cpu")
    return RuntimeError(
        "Expected all tensors to be on the same device, but found at least two devices, "
        f"{names[0]} and {names[1]}! (in {op})"
    )


def as_strided(xp: ModuleType) -> Any:
    """``xp.lib.stride_tricks.as_strided``; CuPy's takes no ``writeable`` (its views are all
    writeable), so the keyword is dropped there."""
    fn = xp.lib.stride_tricks.as_strided
    if xp is numpy:
        return fn

    def strided(x: Any, shape: Any = None, strides: Any = None, **_: Any) -> Any:
        return fn(x, shape, strides)

    return strided


def address(a: Any) -> int:
    """The address of an array's first element (CuPy's arrays: their MemoryPointer's)."""
    iface = getattr(a, "__array_interface__", None)
    return iface["data"][0] if iface is not None else a.data.ptr


def writeable(data: Any) -> bool:
    """Whether an array may be written in place (CuPy's flags have no ``writeable``)."""
    return getattr(data.flags, "writeable", True)


def ufunc_at(xp: ModuleType, name: str, data: Any, key: Any, values: Any) -> None:
    """``xp.<name>.at(data, key, values)``; CuPy's ``at`` exists only for the ufuncs with a
    scatter kernel (add, subtract, maximum, minimum): the others run on a host copy."""
    try:
        getattr(xp, name).at(data, key, values)
        return
    except NotImplementedError:
        if xp is numpy:
            raise
    host = to_device(data, "cpu")
    move = lambda a: to_device(a, "cpu") if type(a) in _XP_BY_TYPE else a  # noqa: E731
    keys = tuple(map(move, key)) if isinstance(key, tuple) else move(key)
    getattr(numpy, name).at(host, keys, move(values))
    data[...] = to_device(host, array_device(data))


def special(xp: ModuleType) -> ModuleType:
    """SciPy's special functions for an array library: ``scipy.special`` for NumPy (and its
    subclasses), ``cupyx.scipy.special`` for CuPy, else the backend's own ``special``."""
    if xp is numpy or getattr(xp, "special", None) is None and xp.__name__ != "cupy":
        import scipy.special  # scikit-learn's dependency

        return scipy.special
    if xp.__name__ == "cupy":
        import cupyx.scipy.special  # type: ignore[import-not-found]

        return cupyx.scipy.special
    return xp.special


# ----------------------------------------------------------------------------- random
class _DeviceRandom:
    """The sampling calls of ndgrad's CPU engine (``ndgrad._mt19937.CPUEngine``) on a CuPy
    ``RandomState``: the same calls, the device library's numbers."""

    def __init__(self, xp: ModuleType, seed: int) -> None:
        self._xp = xp
        self._state = xp.random.RandomState(seed)

    def manual_seed(self, seed: int) -> None:
        self._state.seed(seed)

    def uniform(self, shape: tuple, dtype: Any, low: float = 0.0, high: float = 1.0) -> Any:
        return self._state.uniform(low, high, shape).astype(dtype)

    def normal(
        self, shape: tuple, dtype: Any, mean: float = 0.0, std: float = 1.0, contiguous: bool = True
    ) -> Any:
        return (self._state.standard_normal(shape) * std + mean).astype(dtype)

    def integers(self, shape: tuple, low: int, high: int, dtype: Any = numpy.int64) -> Any:
        return self._state.randint(low, high, shape, dtype=numpy.int64).astype(dtype)

    def random_full(self, shape: tuple, dtype: Any) -> Any:
        dt = numpy.dtype(dtype)
        if dt.kind == "f":  # [0, 2**mantissa] as the CPU engine (and PyTorch)
            span = (1 << (53 if dt.itemsize == 8 else 24)) + 1
        else:
            span = 2 if dt.kind == "b" else int(numpy.iinfo(dt).max) + 1
        return self._state.randint(0, span, shape, dtype=numpy.uint64).astype(dt)

    def randperm(self, n: int) -> Any:
        return self._state.permutation(n)

    def bernoulli(self, p: Any, shape: tuple | None = None) -> Any:
        shape = getattr(p, "shape", None) if shape is None else shape
        return self._state.random_sample(shape) < p

    def exponential(self, shape: tuple, dtype: Any, lambd: float = 1.0) -> Any:
        return (self._state.standard_exponential(shape) / lambd).astype(dtype)

    def cauchy(self, shape: tuple, dtype: Any, median: float = 0.0, sigma: float = 1.0) -> Any:
        u = self._state.random_sample(shape)
        return (median + sigma * self._xp.tan(numpy.pi * (u - 0.5))).astype(dtype)

    def log_normal(self, shape: tuple, dtype: Any, mean: float = 1.0, std: float = 2.0) -> Any:
        return self._xp.exp(self._state.standard_normal(shape) * std + mean).astype(dtype)

    def geometric(self, shape: tuple, dtype: Any, p: float) -> Any:
        u = self._state.random_sample(shape)
        return self._xp.ceil(self._xp.log(u) / numpy.log1p(-p)).astype(dtype)


_GENERATORS: dict[str, Any] = {}


def device_random(dev: device, seed: int) -> Any:
    """A random generator whose draws land on ``dev``: on the CPU PyTorch's own (its
    Mersenne Twister and sampling kernels, so seeded draws are PyTorch's numbers)."""
    if dev.type == "cpu":
        from ndgrad._mt19937 import CPUEngine

        return CPUEngine(seed)
    return _DeviceRandom(backend(dev), seed)


def out_of_memory(exc: BaseException) -> BaseException:
    """CuPy's OutOfMemoryError as torch.cuda.OutOfMemoryError (a RuntimeError) with the
    sizes; any other MemoryError (NumPy's, on the host) stays as it is."""
    if type(exc).__name__ != "OutOfMemoryError" or "cuda" not in _BACKENDS:
        return exc
    from ndgrad import cuda

    return cuda.out_of_memory(exc)


def device_mismatch(op: str, exc: BaseException, args: Any, module: Any) -> Any:
    """torch's mixed-device RuntimeError for a module call that failed with ``exc`` (CuPy's
    TypeError for a host array) when its tensor arguments and parameters span two devices;
    None when they do not (``exc`` was about something else)."""
    if len(_BACKENDS) == 1:
        return None
    tensors = [a for a in args if hasattr(a, "_data")]
    tensors += [p for p in module.parameters() if p is not None]
    tensors += [b for b in module.buffers() if b is not None]
    devices = {array_device(t._data) for t in tensors}
    if len(devices) < 2:
        return None
    a, b = sorted(devices, key=lambda d: d.type == "cpu")[:2]
    return mixed_devices(op, a, b)


# ----------------------------------------------------------------------------- CuPy
def register_cupy() -> bool:
    """Registers CuPy as the ``cuda`` backend when it imports and sees a GPU."""
    try:
        import cupy  # type: ignore[import-not-found]

        if cupy.cuda.runtime.getDeviceCount() <= 0:
            return False
    except Exception:  # noqa: BLE001 - no CuPy, no driver, no device: stay on the CPU
        return False
    register_backend("cuda", cupy, cupy.ndarray)
    return True
