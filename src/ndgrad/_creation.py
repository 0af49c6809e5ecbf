"""Creating tensors: from data, filled, ranges and random."""

from __future__ import annotations

import builtins
import contextlib
import math
import operator
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._backend import check_available
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
        raise TypeError(
            f"{op}(): argument 'size' must be a tuple of ints, but got "
            f"{type(args[bad]).__name__} at position {bad + 1} ({args!r})"
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
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        raise RuntimeError(
            f"{op}(): can't allocate memory: you tried to allocate {nbytes} bytes "
            f"(a tensor of shape {list(shape)} and dtype {np.dtype(dtype).name})"
        ) from None


def _finish(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(
    data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device)
    return _finish(to_array(data, dtype), requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype is _dtype.to_dtype(dtype) else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or _dtype.to_dtype(dtype).np == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """Shares memory with ``array``, as PyTorch does."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._make(array)


def _float_or(dtype: Any) -> np.dtype:
    return (_dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).np


def _filled(sizes: tuple, value: Any, dtype: Any, requires_grad: bool, op: str) -> Tensor:
    shape = new_shape(sizes, op)
    dt = _float_or(dtype)
    with allocating(op, shape, dt):
        data = np.full(shape, value, dtype=dt)
    return _finish(data, requires_grad)


def _check_device(device: Any) -> None:
    """Tensors live on the CPU: naming another device raises torch's error for it."""
    if device is not None:
        check_available(device)


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
    _check_device(device)
    return _filled(_sizes(sizes, size), 0, dtype, requires_grad, "zeros")


def ones(
    *sizes: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
    return _filled(_sizes(sizes, size), 1, dtype, requires_grad, "ones")


def empty(
    *sizes: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
    return _filled(_sizes(sizes, size), 0, dtype, requires_grad, "empty")


def full(
    size: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
    if dtype is None:
        dtype = _dtype.scalar_dtype(fill_value)
    return _filled(
        (size,) if isinstance(size, int) else tuple(size), fill_value, dtype, requires_grad, "full"
    )


def _like(x: Tensor, dtype: Any) -> np.dtype:
    return _dtype.to_dtype(dtype).np if dtype is not None else x._data.dtype


def zeros_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device)
    return _finish(np.zeros(x._data.shape, dtype=_like(x, dtype)), requires_grad)


def ones_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device)
    return _finish(np.ones(x._data.shape, dtype=_like(x, dtype)), requires_grad)


def empty_like(
    x: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device)
    return zeros_like(x, dtype=dtype, requires_grad=requires_grad)


def full_like(
    x: Tensor,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
    return _finish(np.full(x._data.shape, fill_value, dtype=_like(x, dtype)), requires_grad)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye(): n and m must be non-negative, got n={n}, m={m}")
    return _finish(np.eye(n, m, dtype=_float_or(dtype)), requires_grad)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
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
            f"arange(): upper bound and larger bound inconsistent with step sign "
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
    return _finish(data, requires_grad)


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
    if steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    return _finish(np.linspace(start, end, steps).astype(_float_or(dtype)), requires_grad)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    return _finish(
        np.logspace(start, end, steps, base=base).astype(_float_or(dtype)), requires_grad
    )


# ----------------------------------------------------------------------------- random
class Generator:
    """A random-number generator with PyTorch's seeding API, on NumPy's PCG64."""

    def __init__(self, device: Any = "cpu") -> None:
        self._seed = 67280421310721
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        import json

        state = json.dumps(self._rng.bit_generator.state).encode()
        return Tensor._make(np.frombuffer(state, dtype=np.uint8).copy())

    def set_state(self, state: Tensor) -> Generator:
        import json

        self._rng.bit_generator.state = json.loads(bytes(state._data.tobytes()).decode())
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(state: Tensor) -> None:
    default_generator.set_state(state)


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator)._rng


def rand(
    *sizes: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
    shape = new_shape(_sizes(sizes, size), "rand")
    dt = _random_float(dtype, "check_uniform_bounds")
    with allocating("rand", shape, dt):
        data = _rng(generator).random(shape).astype(dt)
    return _finish(data, requires_grad)


def randn(
    *sizes: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device)
    shape = new_shape(_sizes(sizes, size), "randn")
    dt = _random_float(dtype, "normal_kernel_cpu")
    with allocating("randn", shape, dt):
        data = _rng(generator).standard_normal(shape).astype(dt)
    return _finish(data, requires_grad)


def _random_float(dtype: Any, kernel: str) -> np.dtype:
    """rand/randn draw floats only: another dtype is PyTorch's NotImplementedError."""
    dt = _float_or(dtype)
    if dt.kind != "f":
        raise not_implemented(kernel, dt)
    return dt


def rand_like(x: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return rand(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def randn_like(x: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return randn(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


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
    _check_device(device)
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
        data = _rng(generator).integers(low, high, size=shape).astype(dt)
    return _finish(data, requires_grad)


def randint_like(x: Tensor, low: int, high: Any = None) -> Tensor:
    return randint(low, high, x.shape, dtype=x.dtype)


def randperm(
    n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None
) -> Tensor:
    _check_device(device)
    dt = _dtype.to_dtype(dtype).np if dtype is not None else np.dtype(np.int64)
    (n,) = new_shape((n,), "randperm")
    return Tensor._make(_rng(generator).permutation(n).astype(dt))


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``normal(mean, std, size)`` with floats, or elementwise with tensors of means/stds."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {np.min(s)}")
    if size is None:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    else:
        shape = tuple(size)
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    dt = (
        _dtype.to_dtype(dtype).np
        if dtype
        else (ref._data.dtype if ref is not None else _float_or(None))
    )
    data = (_rng(generator).standard_normal(shape) * s + m).astype(dt)
    return _finish(data, requires_grad)


def bernoulli(p: Tensor, *, generator: Generator | None = None) -> Tensor:
    return Tensor._make((_rng(generator).random(p._data.shape) < p._data).astype(p._data.dtype))


def multinomial(
    probs: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    p = np.asarray(probs._data, dtype=np.float64)
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise RuntimeError(
            "multinomial(): probability tensor contains either `inf`, `nan` or element < 0"
        )
    rows = p.reshape(-1, p.shape[-1])
    rng = _rng(generator)
    out = []
    for row in rows:
        total = row.sum()
        if total <= 0:
            raise RuntimeError(
                "multinomial(): invalid multinomial distribution (sum of probabilities <= 0)"
            )
        if not replacement and num_samples > np.count_nonzero(row):
            raise RuntimeError(
                "multinomial(): cannot sample n_sample > prob_dist.size(-1) samples without replacement"
            )
        out.append(rng.choice(len(row), size=num_samples, replace=replacement, p=row / total))
    data = np.array(out, dtype=np.int64).reshape(p.shape[:-1] + (num_samples,))
    return Tensor._make(data)
