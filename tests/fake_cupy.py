"""A fake CuPy on the CPU: CuPy's API (the subset ndgrad uses) over NumPy, for the CUDA seam tests.

Its array type is *not* an ``ndarray`` and, like CuPy's, refuses to become one implicitly:
``numpy.asarray(a)`` raises CuPy's ``TypeError`` and NumPy ufuncs/functions refuse it. NumPy
arrays are refused as operands (CuPy raises ``TypeError`` for them too), so any direct NumPy
call on tensor data, or a host array leaking into a device op, fails loudly. Reductions and
scalar indexing give 0-d arrays, as CuPy's do. ``cuda``, ``random`` and the memory pool are
stubs sufficient for ``ndgrad.cuda``.

Register it with ``install()`` (the ``fake_cuda`` fixture in tests/gpu/conftest.py does).
"""

from __future__ import annotations

import json
import sys
import time
import types
import weakref
from pathlib import Path
from typing import Any

import numpy as _np
import scipy.special as _scipy_special

__version__ = "13.6.0"
_IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)
# NumPy functions CuPy's namespace does not have (ndgrad must not ask for them).
_MISSING = {"add_docstring", "lib", "ma", "char", "rec", "ctypeslib", "polynomial", "testing"}
# Functions that copy host data to the device (NumPy arrays allowed as their argument).
_HOST_OK = {"asarray", "array", "asanyarray", "ascontiguousarray"}


# CuPy 14.2's own signatures (tests/cupy_signatures.json, read from its wheel): a call with an
# argument CuPy's function lacks (NumPy's ``writeable=``, ``initial=``...) fails here as there.
_SIGNATURES: dict = json.loads((Path(__file__).with_name("cupy_signatures.json")).read_text())


def _check_signature(key: str, args: tuple, kwargs: dict) -> None:
    sig = _SIGNATURES.get(key)
    if sig is None:
        return
    positional, keyword_only, varargs, varkw = sig
    if len(args) > len(positional) and not varargs:
        raise TypeError(
            f"cupy.{key}() takes at most {len(positional)} positional arguments ({len(args)} given)"
        )
    if not varkw:
        for name in kwargs:
            if name not in positional and name not in keyword_only:
                raise TypeError(f"cupy.{key}() got an unexpected keyword argument '{name}'")


def _unsupported(value: Any) -> TypeError:
    return TypeError(f"Unsupported type {type(value)}")


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: an ndarray inside, CuPy's manners outside."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100
    __array_ufunc__ = None  # NumPy's ufuncs give way (binary ops) or refuse

    def __init__(self, shape: Any, dtype: Any = float) -> None:
        self._a = _np.empty(shape, dtype)
        _track(self)

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(_IMPLICIT)

    def __array_function__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(_IMPLICIT)

    # --- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    # CuPy's Flags has these three only (no writeable, no aligned)
    flags = property(
        lambda self: types.SimpleNamespace(
            c_contiguous=self._a.flags.c_contiguous,
            f_contiguous=self._a.flags.f_contiguous,
            owndata=self._a.flags.owndata,
        )
    )
    T = property(lambda self: _wrap(self._a.T))
    mT = property(lambda self: _wrap(_np.swapaxes(self._a, -1, -2)))
    real = property(lambda self: _wrap(self._a.real))
    imag = property(lambda self: _wrap(self._a.imag))
    device = property(lambda self: cuda.Device(0))

    @property
    def data(self) -> Any:
        """CuPy's MemoryPointer: the device address is ``.ptr``."""
        return types.SimpleNamespace(ptr=self._a.__array_interface__["data"][0])

    @property
    def base(self) -> Any:
        return None if self._a.base is None else _wrap(self._a.base)

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> _np.ndarray:
        return _np.array(self._a, order=order)

    def __getattr__(self, name: str) -> Any:
        # never NumPy's protocols (__array_interface__, __array_struct__...): NumPy would read
        # the buffer through them, which no device array allows
        if name == "_a" or name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):

            def method(*args: Any, **kwargs: Any) -> Any:
                _check_signature("ndarray." + name, args, kwargs)
                return _wrap(attr(*_unwrap_all(args), **_unwrap_all(kwargs)))

            return method
        return _wrap(attr)

    # --- Python protocol
    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (_wrap(x) for x in self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __index__(self) -> int:
        return self._a.__index__()

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __format__(self, spec: str) -> str:
        return format(self._a if self._a.ndim else self._a[()], spec)

    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, key: Any) -> Any:
        key = _unwrap_index(key)
        out = self._a[key]
        if isinstance(out, _np.generic):  # CuPy: a 0-d view, never a scalar copy
            out = self._a[(key if isinstance(key, tuple) else (key,)) + (Ellipsis,)]
        return _wrap(out)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._a[_unwrap_index(key)] = value._a if isinstance(value, ndarray) else value

    def __copy__(self) -> ndarray:
        return _wrap(self._a.copy())

    def __deepcopy__(self, memo: Any) -> ndarray:
        return _wrap(self._a.copy())

    def __reduce__(self) -> Any:
        raise TypeError("fake CuPy arrays are not pickled directly: move them to the host")


def _binary(name: str) -> Any:
    op = getattr(_np.ndarray, name)

    def method(self: ndarray, other: Any) -> Any:
        if isinstance(other, ndarray):
            other = other._a
        elif isinstance(other, _np.ndarray):  # CuPy refuses host arrays, 0-d ones too
            raise _unsupported(other)
        elif not isinstance(other, (int, float, complex, bool, _np.generic, _np.ndarray)):
            return NotImplemented
        out = op(self._a, other)
        if out is NotImplemented:
            return out
        if name.startswith("__i"):
            return self
        return _wrap(out)

    method.__name__ = name
    return method


for _name in (
    "add sub mul truediv floordiv mod pow matmul and or xor lshift rshift "
    "radd rsub rmul rtruediv rfloordiv rmod rpow rmatmul rand ror rxor "
    "iadd isub imul itruediv ifloordiv imod ipow iand ior ixor "
    "lt le gt ge eq ne"
).split():
    setattr(ndarray, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", lambda self, _f=_name: _wrap(getattr(self._a, f"__{_f}__")()))


# --- wrapping and unwrapping
_LIVE: dict[int, weakref.ref] = {}  # the live device arrays, for the memory pool's count
_PEAK = [0]


def _track(arr: ndarray) -> None:
    key = id(arr)
    _LIVE[key] = weakref.ref(arr, lambda _, key=key: _LIVE.pop(key, None))


def _used_bytes() -> int:
    owners = {}
    for ref in list(_LIVE.values()):
        a = ref()
        if a is not None and hasattr(a, "_a"):
            base = a._a
            while isinstance(base.base, _np.ndarray):
                base = base.base
            owners[id(base)] = base.nbytes
    return sum(owners.values())


def _wrap(value: Any) -> Any:
    if isinstance(value, _np.ndarray):
        out = ndarray.__new__(ndarray)
        out._a = value
        _track(out)
        return out
    if isinstance(value, _np.generic):
        return _wrap(_np.asarray(value))  # CuPy gives 0-d arrays, never host scalars
    if isinstance(value, tuple):
        return (
            type(value)(*map(_wrap, value))
            if hasattr(value, "_fields")
            else tuple(map(_wrap, value))
        )
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _unwrap(value: Any, host_ok: bool = False) -> Any:
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, _np.ndarray) and not host_ok:
        raise _unsupported(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, host_ok) for v in value)
    return value


def _unwrap_all(values: Any) -> Any:
    if isinstance(values, dict):
        return {k: _unwrap(v) for k, v in values.items()}
    return tuple(_unwrap(v) for v in values)


def _unwrap_index(key: Any) -> Any:
    # CuPy copies host index arrays and lists to the device
    if isinstance(key, tuple):
        return tuple(_unwrap(k, host_ok=True) for k in key)
    return _unwrap(key, host_ok=True)


class ufunc:  # noqa: N801 - CuPy's name
    def __init__(self, fn: _np.ufunc) -> None:
        self._fn = fn
        self.__name__ = fn.__name__
        self.nin, self.nout = fn.nin, fn.nout

    def __call__(self, *args: Any, out: Any = None, **kwargs: Any) -> Any:
        for a in args:
            if isinstance(a, (list, tuple)):  # CuPy's ufuncs take arrays and scalars only
                raise _unsupported(a)
        args = _unwrap_all(args)
        if out is not None:
            raw = out if isinstance(out, tuple) else (out,)
            if not all(isinstance(o, ndarray) for o in raw):
                raise TypeError("Output arrays must be cupy.ndarray")
            self._fn(*args, out=tuple(o._a for o in raw), **_unwrap_all(kwargs))
            return out
        return _wrap(self._fn(*args, **_unwrap_all(kwargs)))

    def at(self, a: ndarray, indices: Any, b: Any = None) -> None:
        if not isinstance(a, ndarray):
            raise _unsupported(a)
        if self.__name__ not in _SCATTER_UFUNCS:  # CuPy's ufunc.at needs a scatter kernel
            raise NotImplementedError(f"cupy.{self.__name__}.at is not supported")
        args = () if b is None else (_unwrap(b),)
        self._fn.at(a._a, _unwrap_index(indices), *args)

    def reduce(self, a: Any, *args: Any, **kwargs: Any) -> Any:
        return _wrap(self._fn.reduce(_unwrap(a), *args, **_unwrap_all(kwargs)))

    def accumulate(self, a: Any, *args: Any, **kwargs: Any) -> Any:
        return _wrap(self._fn.accumulate(_unwrap(a), *args, **_unwrap_all(kwargs)))

    def outer(self, a: Any, b: Any, **kwargs: Any) -> Any:
        return _wrap(self._fn.outer(_unwrap(a), _unwrap(b), **_unwrap_all(kwargs)))


# The ufuncs whose ``.at`` CuPy implements (a scatter kernel: cupy/_math/misc.py, _core).
_SCATTER_UFUNCS = {"add", "subtract", "maximum", "minimum"}


def _function(fn: Any, name: str, key: str | None = None) -> Any:
    host_ok = name in _HOST_OK
    key = key or name

    def call(*args: Any, **kwargs: Any) -> Any:
        _check_signature(key, args, kwargs)
        args = tuple(_unwrap(a, host_ok) for a in args)
        kwargs = {k: _unwrap(v, host_ok and k == "a") for k, v in kwargs.items()}
        out = fn(*args, **kwargs)
        if (
            name in _HOST_OK
            and isinstance(out, _np.ndarray)
            and any(isinstance(a, _np.ndarray) for a in args)
        ):
            out = out.copy() if name != "asarray" or out is args[0] else out
        return _wrap(out)

    call.__name__ = name
    return call


def _namespace(module: types.ModuleType, name: str, cache: dict, prefix: str = "") -> Any:
    if name in cache:
        return cache[name]
    if name.startswith("__") or name in _MISSING:
        raise AttributeError(f"module 'cupy' has no attribute '{name}'")
    attr = getattr(module, name)
    if isinstance(attr, _np.ufunc):
        out: Any = ufunc(attr)
    elif isinstance(attr, type) or not callable(attr):
        out = attr  # dtypes, constants (pi, inf, newaxis), exception classes
    else:
        out = _function(attr, name, prefix + name)
    cache[name] = out
    return out


_CACHE: dict = {}


def __getattr__(name: str) -> Any:
    return _namespace(_np, name, _CACHE)


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> _np.ndarray:
    return a.get() if isinstance(a, ndarray) else _np.asarray(a, order=order)


def get_array_module(*args: Any) -> Any:
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _np


class _Sub(types.ModuleType):
    """A CuPy submodule (linalg, fft) forwarding to NumPy's, with the same wrapping."""

    def __init__(self, name: str, module: types.ModuleType) -> None:
        super().__init__(f"cupy.{name}")
        self._module = module
        self._cache: dict = {}
        self._prefix = name + "."

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _namespace(self._module, name, self._cache, self._prefix)


linalg = _Sub("linalg", _np.linalg)
special = _Sub("special", _scipy_special)  # cupyx.scipy.special on real CuPy
fft = _Sub("fft", _np.fft)
lib = types.ModuleType("cupy.lib")
lib.stride_tricks = _Sub("lib.stride_tricks", _np.lib.stride_tricks)  # type: ignore[attr-defined]


def _as_strided(x: ndarray, shape: Any = None, strides: Any = None) -> ndarray:
    """CuPy's signature: no ``writeable`` or ``subok``."""
    return _wrap(_np.lib.stride_tricks.as_strided(_unwrap(x), shape, strides))


lib.stride_tricks._cache["as_strided"] = _as_strided  # type: ignore[attr-defined]


# --- random: CuPy's legacy RandomState API (what ndgrad's device generator uses)
class _RandomState:
    def __init__(self, seed: Any = None) -> None:
        self._rs = _np.random.RandomState(None if seed is None else seed % 2**32)

    def seed(self, seed: Any = None) -> None:
        self._rs.seed(None if seed is None else seed % 2**32)  # curand takes 64-bit seeds

    def random_sample(self, size: Any = None, dtype: Any = float) -> ndarray:
        return _wrap(self._rs.random_sample(size).astype(dtype))

    def standard_normal(self, size: Any = None, dtype: Any = float) -> ndarray:
        return _wrap(self._rs.standard_normal(size).astype(dtype))

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None, dtype: Any = float):
        return _wrap(self._rs.uniform(_unwrap(low), _unwrap(high), size).astype(dtype))

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None, dtype: Any = float):
        return _wrap(self._rs.normal(_unwrap(loc), _unwrap(scale), size).astype(dtype))

    def randint(self, low: int, high: Any = None, size: Any = None, dtype: Any = int):
        return _wrap(_np.asarray(self._rs.randint(low, high, size, dtype=_np.int64), dtype))

    def permutation(self, n: Any) -> ndarray:
        return _wrap(self._rs.permutation(_unwrap(n)))

    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None) -> ndarray:
        return _wrap(self._rs.choice(_unwrap(a), size, replace, _unwrap(p)))


random = types.ModuleType("cupy.random")
random.RandomState = _RandomState  # type: ignore[attr-defined]
_GLOBAL_RS = [_RandomState(0)]
random.seed = lambda seed=None: _GLOBAL_RS[0].seed(seed)  # type: ignore[attr-defined]
random.get_random_state = lambda: _GLOBAL_RS[0]  # type: ignore[attr-defined]


# --- cuda: one fake device
class OutOfMemoryError(MemoryError):
    def __init__(self, size: int, total: int, limit: int = 0) -> None:
        self._size, self._total, self._limit = size, total, limit
        super().__init__(
            f"Out of memory allocating {size:,} bytes (allocated so far: {total:,} bytes)."
        )


class _MemoryPool:
    def used_bytes(self) -> int:
        used = _used_bytes()
        _PEAK[0] = max(_PEAK[0], used)
        return used

    def total_bytes(self) -> int:
        return self.used_bytes()

    def free_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass

    def set_limit(self, size: int | None = None, fraction: float | None = None) -> None:
        pass

    def get_limit(self) -> int:
        return 0


_POOL = _MemoryPool()


def get_default_memory_pool() -> _MemoryPool:
    return _POOL


def get_default_pinned_memory_pool() -> _MemoryPool:
    return _POOL


class _Device:
    def __init__(self, device: int | None = None) -> None:
        self.id = 0 if device is None else int(device)
        if not 0 <= self.id < _runtime.getDeviceCount():
            raise RuntimeError(f"CUDARuntimeError: cudaErrorInvalidDevice: device {self.id}")
        self.compute_capability = "90"

    def use(self) -> None:
        _CURRENT[0] = self.id

    def synchronize(self) -> None:
        pass

    def __enter__(self) -> _Device:
        self._prev = _CURRENT[0]
        self.use()
        return self

    def __exit__(self, *exc: Any) -> None:
        _CURRENT[0] = self._prev

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


_CURRENT = [0]


class _Event:
    def __init__(self, block: bool = False, disable_timing: bool = False, interprocess=False):
        self.disable_timing = disable_timing
        self._t: float | None = None

    def record(self, stream: Any = None) -> None:
        self._t = time.perf_counter()

    def synchronize(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return True


def _get_elapsed_time(start: _Event, end: _Event) -> float:
    if start._t is None or end._t is None:
        raise RuntimeError("cudaErrorInvalidResourceHandle: event not recorded")
    return (end._t - start._t) * 1000.0


_runtime = types.SimpleNamespace(
    getDeviceCount=lambda: 1,
    getDevice=lambda: _CURRENT[0],
    getDeviceProperties=lambda i: {
        "name": b"Fake CUDA GPU (NumPy)",
        "totalGlobalMem": 16 * 2**30,
        "major": 9,
        "minor": 0,
    },
    runtimeGetVersion=lambda: 12080,
    driverGetVersion=lambda: 12080,
    memGetInfo=lambda: (15 * 2**30, 16 * 2**30),
    deviceSynchronize=lambda: None,
    CUDARuntimeError=RuntimeError,
)
cuda = types.ModuleType("cupy.cuda")
cuda.Device = _Device  # type: ignore[attr-defined]
cuda.Event = _Event  # type: ignore[attr-defined]
cuda.get_elapsed_time = _get_elapsed_time  # type: ignore[attr-defined]
cuda.runtime = _runtime  # type: ignore[attr-defined]
cuda.memory = types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError)  # type: ignore[attr-defined]
cuda.Stream = types.SimpleNamespace(null=None)  # type: ignore[attr-defined]
cuda.get_current_stream = lambda: None  # type: ignore[attr-defined]
cuda.is_available = lambda: True  # type: ignore[attr-defined]


def is_available() -> bool:
    return True
