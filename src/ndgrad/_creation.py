"""Creating tensors: from data, filled, ranges and random."""

from __future__ import annotations

import builtins
import contextlib
import math
import operator
import warnings
from typing import Any

import numpy as np

from ndgrad import _backend, _dtype
from ndgrad._backend import array_module, check_available, to_device
from ndgrad._dtype import not_implemented
from ndgrad._tensor import Tensor, to_array


def shape_arg(args: tuple, op: str) -> tuple[int, ...]:
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))`` or ``f(torch.Size)``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    try:
        return tuple(map(operator.index, args))  # ints (or 0-d integer tensors), not floats
    except TypeError:
        bad = next(i for i, a in enumerate(args) if not _is_index(a))
        if len(args) == 1:
            raise TypeError(
                f"{op}(): argument 'size' (position 1) must be tuple of ints, not "
                f"{type(args[bad]).__name__}"
            ) from None
        raise TypeError(
            f"{op}(): argument 'size' failed to unpack the object at pos {bad + 1} with error "
            f'"type must be tuple of ints,but got {type(args[bad]).__name__}"'
        ) from None


def _is_index(value: Any) -> bool:
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def new_shape(args: tuple, op: str) -> tuple[int, ...]:
    """The shape of a tensor to create: integer sizes, none negative (PyTorch's RuntimeError)."""
    shape = shape_arg(args, op)
    for s in shape:
        if s < 0:
            if op == "zeros":  # PyTorch's zeros checks first, in its own words
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(
                f"{op}(): Trying to create tensor with negative dimension {s}: {list(shape)}"
            )
    return shape


@contextlib.contextmanager
def allocating(op: str, shape: tuple, dtype: np.dtype) -> Any:
    """NumPy's MemoryError (or 'array is too big') as PyTorch's RuntimeError, naming the op."""
    try:
        yield
    except (MemoryError, ValueError) as exc:
        if isinstance(exc, ValueError) and "too big" not in str(exc):
            raise
        if type(exc).__name__ == "OutOfMemoryError":  # CuPy's: the GPU is full
            raise _backend.out_of_memory(exc) from exc
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        raise RuntimeError(
            f"{op}(): can't allocate memory: you tried to allocate {nbytes} bytes "
            f"(a tensor of shape {list(shape)} and dtype {np.dtype(dtype).name})"
        ) from None


def _finish(data: Any, requires_grad: bool, dev: Any = None) -> Tensor:
    if dev is not None:
        data = to_device(data, dev)
    t = Tensor._make(data)
    if requires_grad:
        t._require_grad_at_creation()
    return t


def tensor(
    data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    # the device named, the CPU included (a GPU tensor given as data stays there otherwise)
    dev = None if device is None else check_available(device)
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach()"
            ".clone() or sourceTensor.detach().clone().requires_grad_(True), rather than "
            "torch.tensor(sourceTensor).",
            UserWarning,
            stacklevel=2,
        )
    return _finish(to_array(data, dtype), requires_grad, dev)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    dev = None if device is None else check_available(device)
    if isinstance(data, Tensor):
        out = data if dtype is None or data.dtype is _dtype.to_dtype(dtype) else data.to(dtype)
        return out if dev is None else out.to(dev)
    if isinstance(data, np.ndarray) and (dtype is None or _dtype.to_dtype(dtype).np == data.dtype):
        return from_numpy(data) if dev is None or dev.type == "cpu" else _finish(data, False, dev)
    return tensor(data, dtype=dtype, device=dev)


def from_numpy(array: np.ndarray) -> Tensor:
    """Shares memory with ``array``, as PyTorch does."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._make(array)


def frombuffer(
    buffer: Any,
    *,
    dtype: Any,
    count: int = -1,
    offset: int = 0,
    requires_grad: bool = False,
) -> Tensor:
    """A 1-D tensor over the memory of an object that exposes the buffer protocol (shared, not
    copied, as in PyTorch)."""
    dt = _dtype.to_dtype(dtype)
    view = memoryview(buffer)
    length = view.nbytes
    item = dt.np.itemsize
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(
            f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
            f"({length} bytes) minus 1"
        )
    if count < 0:
        if (length - offset) % item:
            raise ValueError(
                f"buffer length ({length - offset} bytes) after offset ({offset} bytes) must be "
                f"a multiple of element size ({item})"
            )
        count = (length - offset) // item
    elif length - offset < count * item:
        raise ValueError(
            f"requested buffer length ({count} * {item} bytes) after offset ({offset} bytes) "
            f"must not be greater than actual buffer length ({length} bytes)"
        )
    data = np.frombuffer(buffer, dtype=dt.np, count=count, offset=offset)
    t = Tensor._make(data)
    return t.requires_grad_(True) if requires_grad else t


def scalar_tensor(
    s: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A 0-d tensor holding ``s`` (of the default float type unless ``dtype``)."""
    dtype = dtype if dtype is not None else _dtype.get_default_dtype()
    return full((), s, dtype=dtype, device=device, requires_grad=requires_grad)


def deprecated_range(
    start: Any,
    end: Any,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """The deprecated ``torch.range``: ``start`` to ``end`` inclusive, of the default float
    type."""
    warnings.warn(
        "torch.range is deprecated and will be removed in a future release because its "
        "behavior is inconsistent with Python's range builtin. Instead, use torch.arange, "
        "which produces values in [start, end).",
        UserWarning,
        stacklevel=2,
    )
    n = int(math.floor((end - start) / step)) + 1
    values = np.asarray(start, np.float64) + np.arange(max(n, 0), dtype=np.float64) * step
    out = tensor(values, dtype=dtype or _dtype.get_default_dtype(), device=device)
    return out.requires_grad_(True) if requires_grad else out


def asarray(
    obj: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    copy: bool | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """``obj`` as a tensor, sharing memory with a tensor or NumPy array where the dtype and
    device allow (a copy when ``copy=True``; ``copy=False`` refuses to copy)."""
    if isinstance(obj, Tensor) or isinstance(obj, np.ndarray):
        out = as_tensor(obj, dtype=dtype, device=device)
        if copy:
            out = out.clone()
        elif copy is False:
            src = obj._data if isinstance(obj, Tensor) else obj
            if out._data is not src and not np.shares_memory(out._data, src):
                raise ValueError("can't alias tensor from variable 'obj' without copying")
    else:
        out = tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        out = out.detach().requires_grad_(True) if out.grad_fn is not None else out
        out.requires_grad_(True)
    return out


def _window(name: str, length: int, dtype: Any) -> np.dtype:
    if length < 0:
        raise RuntimeError(
            f"{name} requires non-negative window_length, got window_length={length}"
        )
    dt = _float_or(dtype)
    if dt.kind != "f":
        raise RuntimeError(
            f"{name} expects floating point dtypes, got: {_dtype.from_numpy_dtype(dt)}"
        )
    return dt


def _finish_window(values: np.ndarray, periodic: bool, device: Any, requires_grad: bool) -> Tensor:
    out = values[:-1] if periodic else values
    t = tensor(np.ascontiguousarray(out), device=device)
    return t.requires_grad_(True) if requires_grad else t


def _cosine_window(
    name: str, length: int, periodic: bool, terms: tuple, dtype: Any, device: Any, rg: bool
) -> Tensor:
    """``sum_k a_k cos(2 pi k n / (N - 1))`` over n, in the window's dtype (as PyTorch)."""
    dt = _window(name, length, dtype)
    if length <= 1:
        return _finish_window(np.ones(length, dt), False, device, rg)
    n = length + 1 if periodic else length
    x = np.arange(n, dtype=dt) * dt.type(2 * math.pi / (n - 1))
    out = np.zeros(n, dt)
    for k, a in enumerate(terms):
        out = out + dt.type(a) * np.cos(x * dt.type(k)) if k else out + dt.type(a)
    return _finish_window(out.astype(dt), periodic, device, rg)


def hann_window(
    window_length: int, periodic: bool = True, *, dtype: Any = None, device: Any = None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    return _cosine_window(
        "hann_window", window_length, periodic, (0.5, -0.5), dtype, device, requires_grad
    )  # noqa: E501


def hamming_window(
    window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
    dtype: Any = None, device: Any = None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    return _cosine_window(
        "hamming_window", window_length, periodic, (alpha, -beta), dtype, device, requires_grad
    )  # noqa: E501


def blackman_window(
    window_length: int, periodic: bool = True, *, dtype: Any = None, device: Any = None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    dt = _window("blackman_window", window_length, dtype)
    if window_length <= 1:
        return _finish_window(np.ones(window_length, dt), False, device, requires_grad)
    n = window_length + 1 if periodic else window_length
    # PyTorch's order of operations: 0.08 cos(4x) - 0.5 cos(2x) + 0.42 with x = pi n / (N - 1)
    x = np.arange(n, dtype=dt) * dt.type(math.pi / (n - 1))
    one = dt.type
    values = np.cos(x * one(4)) * one(0.08) - np.cos(x * one(2)) * one(0.5) + one(0.42)
    return _finish_window(values.astype(dt), periodic, device, requires_grad)


def bartlett_window(
    window_length: int, periodic: bool = True, *, dtype: Any = None, device: Any = None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    dt = _window("bartlett_window", window_length, dtype)
    if window_length <= 1:
        return _finish_window(np.ones(window_length, dt), False, device, requires_grad)
    n = window_length + 1 if periodic else window_length
    x = np.arange(n, dtype=dt) * dt.type(2.0 / (n - 1))
    half = ((n - 1) >> 1) + 1
    x[half:] = dt.type(2) - x[half:]
    return _finish_window(x, periodic, device, requires_grad)


def kaiser_window(
    window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype: Any = None,
    device: Any = None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    dt = _window("kaiser_window", window_length, dtype)
    if window_length <= 1:
        return _finish_window(np.ones(window_length, dt), False, device, requires_grad)
    n = window_length + 1 if periodic else window_length
    alpha = (n - 1) / 2.0
    ratio = (np.arange(n, dtype=np.float64) - alpha) / alpha
    values = np.i0(beta * np.sqrt(np.clip(1 - ratio * ratio, 0, None))) / np.i0(beta)
    return _finish_window(values.astype(dt), periodic, device, requires_grad)


def _float_or(dtype: Any) -> np.dtype:
    return (_dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).np


def _filled(
    sizes: tuple, value: Any, dtype: Any, requires_grad: bool, op: str, dev: Any = None
) -> Tensor:
    shape = new_shape(sizes, op)
    dt = _float_or(dtype)
    xp = np if dev is None else _backend.backend(dev)
    with allocating(op, shape, dt):
        data = xp.full(shape, value, dtype=dt)
    return _finish(data, requires_grad)


def _check_device(device: Any) -> _backend.device | None:
    """The device named (None: the CPU); torch's error for one this machine lacks."""
    if device is None:
        return None
    dev = check_available(device)
    return None if dev.type == "cpu" else dev


def _sizes(sizes: tuple, size: Any) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` or torch's keyword form ``f(size=(2, 3))``."""
    return sizes if size is None else (size,)


def zeros(
    *sizes: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    return _filled(_sizes(sizes, size), 0, dtype, requires_grad, "zeros", dev)


def ones(
    *sizes: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    return _filled(_sizes(sizes, size), 1, dtype, requires_grad, "ones", dev)


def empty(
    *sizes: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    return _filled(_sizes(sizes, size), 0, dtype, requires_grad, "empty", dev)


def empty_strided(
    size: Any,
    stride: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of ``size`` laid out with ``stride`` (in elements) over a fresh buffer
    (zeros here; PyTorch leaves the memory uninitialised)."""
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    need = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    flat = empty(need, dtype=dtype, device=device)._data
    item = flat.itemsize
    data = _backend.as_strided(array_module(flat))(flat, size, tuple(s * item for s in stride))
    t = Tensor._make(data)
    return t.requires_grad_(True) if requires_grad else t


def full(
    size: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    if dtype is None:
        dtype = _dtype.scalar_dtype(fill_value)
    size = (size,) if isinstance(size, int) else tuple(size)
    return _filled(size, fill_value, dtype, requires_grad, "full", dev)


def _like(x: Tensor, dtype: Any) -> np.dtype:
    return _dtype.to_dtype(dtype).np if dtype is not None else x._data.dtype


def _xp_like(x: Tensor, device: Any) -> Any:
    """The array library of ``device``, or of ``x``'s device when none is named (as torch)."""
    return x.xp if device is None else _backend.backend(device)


def zeros_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    xp = _xp_like(x, device)
    return _finish(xp.zeros(x._data.shape, dtype=_like(x, dtype)), requires_grad)


def ones_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    xp = _xp_like(x, device)
    return _finish(xp.ones(x._data.shape, dtype=_like(x, dtype)), requires_grad)


def empty_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return zeros_like(x, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(
    x: Tensor,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    xp = _xp_like(x, device)
    return _finish(xp.full(x._data.shape, fill_value, dtype=_like(x, dtype)), requires_grad)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye(): n and m must be non-negative, got n={n}, m={m}")
    return _finish(np.eye(n, m, dtype=_float_or(dtype)), requires_grad, dev)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"arange(): unsupported range: {start} -> {end}")
    if step == 0 or math.isnan(step):
        raise RuntimeError("arange(): step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange(): upper bound and lower bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    if dtype is None:
        is_float = builtins.any(isinstance(v, float) for v in vals)
        dt = _dtype.get_default_dtype().np if is_float else np.dtype(np.int64)
    else:
        dt = _dtype.to_dtype(dtype).np
        if dt.kind == "b":
            raise not_implemented("arange_cpu", dt)
    n = builtins.max(math.ceil((end - start) / step), 0)
    # Computed in float64 like PyTorch's start + i*step, then cast.
    data = (
        (start + np.arange(n, dtype=np.float64) * step).astype(dt)
        if dt.kind == "f"
        else (np.arange(start, end, step).astype(dt))
    )
    return _finish(data, requires_grad, dev)


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    if steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    return _finish(np.linspace(start, end, steps).astype(_float_or(dtype)), requires_grad, dev)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    data = np.logspace(start, end, steps, base=base).astype(_float_or(dtype))
    return _finish(data, requires_grad, dev)


# ----------------------------------------------------------------------------- random
class Generator:
    """A random-number generator with PyTorch's API. On the CPU it is PyTorch's own: the same
    Mersenne Twister and sampling kernels (``ndgrad._mt19937``), so ``manual_seed(s)``
    followed by the same calls gives PyTorch's numbers; on a GPU, the device library's."""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = check_available(device)
        self._seed = 67280421310721  # PyTorch's default seed
        self._rng = _backend.device_random(self.device, self._seed)

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise RuntimeError(f"Overflow when unpacking long long: {seed}")
        self._seed = seed % 2**64
        self._rng.manual_seed(self._seed)
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        import json

        if self.device.type != "cpu":
            raise NotImplementedError(
                f"Generator.get_state(): only the CPU generator's state can be saved, not "
                f"{self.device}'s (reseed it with manual_seed)"
            )
        state = self._rng.get_state()
        state["twister"]["state"]["key"] = state["twister"]["state"]["key"].tolist()
        data = json.dumps(state).encode()
        return Tensor._make(np.frombuffer(data, dtype=np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        import json

        if not isinstance(new_state, Tensor) or new_state._data.dtype != np.uint8:
            raise TypeError(
                "expected a torch.ByteTensor, but got "
                f"{type(new_state).__name__ if not isinstance(new_state, Tensor) else new_state.type()}"
            )
        try:
            state = json.loads(bytes(new_state._data.tobytes()).decode())
            state["twister"]["state"]["key"] = np.array(state["twister"]["state"]["key"], np.uint32)
            self._rng.set_state(state)
        except (ValueError, KeyError, TypeError):
            raise RuntimeError(
                "Expected either a THGeneratorState of size 5048 or a CPUGeneratorImplState of "
                "size 5056 but found the input RNG state size to be "
                f"{new_state.numel()} (ndgrad reads only the states its get_state() writes)"
            ) from None
        self._seed = int(state["seed"])
        return self

    def __repr__(self) -> str:
        return f"<torch._C.Generator object at {hex(id(self))}>"


default_generator = Generator()


def device_generator(dev: _backend.device) -> Generator:
    """The default generator of a non-CPU device (created on first use, like torch's)."""
    gen = _backend._GENERATORS.get(dev.type)
    if gen is None:
        gen = _backend._GENERATORS[dev.type] = Generator(dev.type)
        gen.manual_seed(default_generator.initial_seed())
    return gen


def manual_seed(seed: int) -> Generator:
    """Seeds the CPU generator and every device's, as torch.manual_seed does."""
    for dev_type in _backend._BACKENDS:
        if dev_type != "cpu":
            device_generator(_backend.device(dev_type)).manual_seed(seed)
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(state: Tensor) -> None:
    default_generator.set_state(state)


def _rng(generator: Generator | None, dev: Any = None) -> Any:
    """The generator to draw with: the given one, else ``dev``'s default (the CPU's)."""
    if generator is not None:
        return generator._rng
    if dev is None or dev.type == "cpu":
        return default_generator._rng
    return device_generator(dev)._rng


def rand(
    *sizes: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    shape = new_shape(_sizes(sizes, size), "rand")
    dt = _random_float(dtype, "check_uniform_bounds")
    with allocating("rand", shape, dt):
        data = _rng(generator, dev).uniform(shape, dt)
    return _finish(data, requires_grad, dev)


def randn(
    *sizes: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    shape = new_shape(_sizes(sizes, size), "randn")
    dt = _random_float(dtype, "normal_kernel_cpu")
    with allocating("randn", shape, dt):
        data = _rng(generator, dev).normal(shape, dt)
    return _finish(data, requires_grad, dev)


def _random_float(dtype: Any, kernel: str) -> np.dtype:
    """rand/randn draw floats only: another dtype is PyTorch's NotImplementedError."""
    dt = _float_or(dtype)
    if dt.kind != "f":
        raise not_implemented(kernel, dt)
    return dt


def rand_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    dev = device or x.device
    return rand(x.shape, dtype=dtype or x.dtype, device=dev, requires_grad=requires_grad)


def randn_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    dev = device or x.device
    return randn(x.shape, dtype=dtype or x.dtype, device=dev, requires_grad=requires_grad)


def randint(
    low: int,
    high: Any = None,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dev = _check_device(device)
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    dt = _dtype.to_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    if not isinstance(size, tuple | list):
        raise TypeError(f"randint(): argument 'size' must be a tuple of ints, not {size!r}")
    shape = new_shape(tuple(size), "randint")
    with allocating("randint", shape, dt):
        data = _rng(generator, dev).integers(shape, low, high, dt)
    return _finish(data, requires_grad, dev)


def randint_like(
    x: Tensor,
    low: int,
    high: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``randint_like(x, high)`` or ``randint_like(x, low, high)``, of ``x``'s shape."""
    if high is None:
        low, high = 0, low
    return randint(
        low,
        high,
        tuple(x.shape),
        generator=generator,
        dtype=dtype or x.dtype,
        device=device or x.device,
        requires_grad=requires_grad,
    )


def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:  # noqa: A002
    """Poisson draws with the rates in ``input`` (PyTorch's sampler, on the host)."""
    rates = to_device(input._data, "cpu")
    if rates.dtype.kind != "f":
        raise not_implemented("poisson_cpu", rates.dtype)
    if not np.all(rates >= 0):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    drawn = (generator or default_generator)._rng.poisson(rates)
    return Tensor._make(to_device(drawn, input.device))


def randperm(
    n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None
) -> Tensor:
    dev = _check_device(device)
    dt = _dtype.to_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    (n,) = new_shape((n,), "randperm")
    return _finish(_rng(generator, dev).randperm(n).astype(dt), False, dev)


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``normal(mean, std, size)`` with floats, or elementwise with tensors of means/stds."""
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    dev = _check_device(device) if ref is None else _check_device(ref.device)
    xp = np if dev is None else _backend.backend(dev)
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if bool(xp.any(xp.asarray(s) < 0)):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {float(xp.min(s))}")
    if size is None:
        shape = np.broadcast_shapes(getattr(m, "shape", ()), getattr(s, "shape", ()))
    else:
        shape = tuple(size)
    dt = (
        _dtype.to_dtype(dtype).np
        if dtype
        else (ref._data.dtype if ref is not None else _float_or(None))
    )
    rng = _rng(generator, dev)
    if ref is None:  # empty(size).normal_(mean, std)
        return _finish(rng.normal(shape, dt, mean, std), requires_grad, dev)
    # PyTorch's tensor overloads: N(0, std) + mean for a float std, else N(0, 1) * std + mean,
    # each step rounded in the output's dtype
    if isinstance(std, Tensor):
        data = (rng.normal(shape, dt) * xp.asarray(s, dt)).astype(dt, copy=False)
    else:
        data = rng.normal(shape, dt, 0.0, std)
    data = (data + xp.asarray(m, dt)).astype(dt, copy=False)
    return _finish(data, requires_grad, dev)


def bernoulli(
    p: Tensor, p_value: float | None = None, *, generator: Generator | None = None
) -> Tensor:
    """``torch.bernoulli(input)`` draws with probabilities ``input``; ``bernoulli(input, p)``
    with the one probability ``p`` (``input`` gives the shape and dtype)."""
    rng = _rng(generator, p.device)
    draws = rng.bernoulli(p._data) if p_value is None else rng.bernoulli(p_value, p._data.shape)
    return Tensor._make(draws.astype(p._data.dtype))


def multinomial(
    probs: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """PyTorch's sampler, drawn on the host by the CPU generator (given or default)."""
    if probs._data.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > probs._data.shape[-1]:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    p = to_device(probs._data, "cpu")
    if p.dtype.kind != "f":
        raise not_implemented("multinomial", p.dtype)
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = p.reshape(-1, p.shape[-1])
    if np.any(rows.sum(axis=-1) <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = (generator or default_generator)._rng
    data = rng.multinomial(rows, num_samples, replacement)
    data = data.reshape(p.shape[:-1] + (num_samples,)).astype(np.int64)
    return Tensor._make(to_device(data, probs.device))
