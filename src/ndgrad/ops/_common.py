"""What every op needs: turning arguments into tensors, promotion, errors, recording."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from functools import wraps
from types import FunctionType
from typing import Any, TypeVar

import numpy as np

from ndgrad import _dtype
from ndgrad._backend import array_module, mixed_devices, same_device
from ndgrad._creation import shape_arg  # noqa: F401 - for ops
from ndgrad._dtype import SCALAR_NAMES, not_implemented  # noqa: F401 - for ops
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import STATE  # noqa: F401
from ndgrad.autograd.graph import record, record_multi  # noqa: F401 - for ops

_SCALARS = (float, int, bool)
F = TypeVar("F", bound=Callable[..., Any])


def as_tensor(x: Any, op: str = "op") -> Tensor:
    """An op argument as a Tensor (Python scalars, lists and arrays allowed)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _SCALARS) or isinstance(x, np.generic):
        return Tensor._make(np.array(x, dtype=_dtype.scalar_dtype(x).np))
    from ndgrad._creation import tensor

    try:
        return tensor(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{op}(): expected a Tensor or a number, got {type(x).__name__}: {exc}"
        ) from None


def named(out: Tensor, name: str) -> Tensor:
    """Gives the node that made ``out`` (a fresh one) PyTorch's name for the whole composite op."""
    if out.grad_fn is not None:
        out.grad_fn._name = name
    return out


def cast(t: Tensor, np_dtype: np.dtype) -> Tensor:
    """Differentiable dtype conversion (gradients flow between floating types)."""
    if t._data.dtype == np_dtype:
        return t
    data = t._data.astype(np_dtype)
    if np_dtype.kind != "f" or t._data.dtype.kind != "f":
        return Tensor._make(data)
    return record("ToCopyBackward0", data, (t,), _identity)


def _identity(xp: Any, g: Any) -> tuple:
    """The rule of ops whose gradient passes through (the engine casts it back)."""
    return (g,)


def operands(a: Any, b: Any, op: str) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of PyTorch's promoted dtype."""
    ta = isinstance(a, Tensor)
    tb = isinstance(b, Tensor)
    if ta and tb:
        if type(a._data) is not type(b._data):
            a, b = one_device(a, b, op)
        if a._data.dtype == b._data.dtype:
            return a, b
    elif ta and type(b) is float and a._data.dtype.kind == "f":
        return a, scalar_like(b, a._data.dtype, a)
    elif ta and type(b) is int and a._data.dtype.kind in "fiu":
        return a, scalar_like(b, a._data.dtype, a)
    elif tb and type(a) in (float, int) and b._data.dtype.kind == "f":
        return scalar_like(a, b._data.dtype, b), b
    if not ta:
        if not isinstance(a, _SCALARS):
            a = as_tensor(_not_a_sequence(a, op, "input", 1), op)
    if not tb:
        if not isinstance(b, _SCALARS):
            b = as_tensor(_not_a_sequence(b, op, "other", 2), op)
    dt = _dtype.result_type(a, b).np
    a = cast(a, dt) if isinstance(a, Tensor) else scalar_like(a, dt, b)
    b = cast(b, dt) if isinstance(b, Tensor) else scalar_like(b, dt, a)
    return a, b


def _not_a_sequence(value: Any, op: str, name: str, position: int) -> Any:
    """PyTorch takes tensors, arrays and numbers as operands, never Python lists."""
    if isinstance(value, list | tuple):
        raise TypeError(
            f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
            f"{type(value).__name__}"
        )
    return value


def one_device(a: Tensor, b: Tensor, op: str) -> tuple[Tensor, Tensor]:
    """Two tensors on one device, by torch's rule: a 0-d CPU tensor joins the other's device
    (as a scalar would); any other pair on two devices is torch's RuntimeError."""
    da, db = a.device, b.device
    if da == db:
        return a, b
    if da.type == "cpu" and a._data.ndim == 0:
        return a.to(db), b
    if db.type == "cpu" and b._data.ndim == 0:
        return a, b.to(da)
    raise mixed_devices(op, da, db)


def all_on_one_device(op: str, tensors: Any) -> None:
    """torch's RuntimeError when ``tensors`` span two devices (one type check when not)."""
    first = type(tensors[0]._data)
    for t in tensors:
        if type(t._data) is not first:
            same_device(op, *[t._data for t in tensors])


def scalar_like(value: Any, np_dtype: np.dtype, like: Any) -> Tensor:
    """A Python number as a 0-d tensor on ``like``'s backend (NumPy unless ``like`` is a tensor)."""
    xp = array_module(like._data) if isinstance(like, Tensor) else np
    try:
        if xp is np:
            return Tensor._make(np.asarray(value, dtype=np_dtype))
        # on a GPU: a fill kernel taking the number as an argument, not a host-to-device copy
        # (a synchronous one for pageable memory: it would stall the stream at every x * 2)
        return Tensor._make(xp.full((), value, dtype=np_dtype))
    except OverflowError:  # an int beyond a small integer dtype wraps, as in PyTorch
        return Tensor._make(xp.asarray(np.int64(value)).astype(np_dtype))


def float_operands(a: Any, b: Any, op: str) -> tuple[Tensor, Tensor]:
    """Operands promoted, then moved to the default float type when integral (true division)."""
    a, b = operands(a, b, op)
    if a._data.dtype.kind != "f":
        dt = _dtype.get_default_dtype().np
        a, b = cast(a, dt), cast(b, dt)
    return a, b


def to_float(t: Tensor) -> Tensor:
    """Integral tensors go to the default float type for ops like exp and sqrt."""
    if t._data.dtype.kind == "f":
        return t
    return cast(t, _dtype.get_default_dtype().np)


def broadcast_error(op: str, *shapes: tuple) -> RuntimeError:
    """PyTorch's message for incompatible shapes, naming the op and the shapes."""
    a, b = shapes[0], shapes[1]
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    for i in range(n - 1, -1, -1):
        if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
            return RuntimeError(
                f"{op}(): The size of tensor a ({pa[i]}) must match the size of tensor b "
                f"({pb[i]}) at non-singleton dimension {i} (shapes {list(a)} and {list(b)})"
            )
    return RuntimeError(f"{op}(): shapes {[list(s) for s in shapes]} cannot be broadcast")


def check_float_grad(op: str, t: Tensor) -> None:
    if t._data.dtype.kind != "f":
        raise RuntimeError(f"{op}(): expected a floating point tensor, got {t.dtype}")


def normalize_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``dim`` (int, sequence or None) as sorted non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    bound = max(ndim, 1)
    out = []
    for d in dims:
        if not -bound <= d < bound:
            raise IndexError(
                f"{op}(): Dimension out of range (expected to be in range of "
                f"[{-bound}, {bound - 1}], but got {d})"
            )
        out.append(d % bound if ndim else 0)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}(): dim {dims} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else ()


def wrap_dim(dim: int, ndim: int, op: str) -> int:
    bound = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}(): dim must be an int, got {type(dim).__name__}")
    if not -bound <= dim < bound:
        raise IndexError(
            f"{op}(): Dimension out of range (expected to be in range of "
            f"[{-bound}, {bound - 1}], but got {dim})"
        )
    return int(dim) % bound


def numpy_aliases(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Accepts NumPy's keyword names, as PyTorch does: ``axis`` for ``dim``, ``keepdims``."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs and ("axis" in kwargs or "keepdims" in kwargs):
            if "axis" in kwargs:
                kwargs["dim"] = kwargs.pop("axis")
            if "keepdims" in kwargs:
                kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)

    return wrapper


# Ops whose ``dim`` keyword may be spelled ``axis`` (and ``keepdim`` ``keepdims``).
DIM_OPS = (
    "sum",
    "mean",
    "prod",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "all",
    "any",
    "cumsum",
    "cumprod",
    "logsumexp",
    "softmax",
    "log_softmax",
    "norm",
    "count_nonzero",
    "squeeze",
    "unsqueeze",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "split",
    "chunk",
    "unbind",
    "sort",
    "argsort",
    "topk",
    "gather",
    "index_select",
    "narrow",
    "select",
)


def bind(name: str, fn: Callable[..., Any]) -> None:
    """``Tensor.<name>`` calls ``fn`` with the tensor first (NumPy's ``axis``/``keepdims``
    spellings accepted for the ops in ``DIM_OPS``)."""
    if name in DIM_OPS:
        fn = numpy_aliases(fn)
    elif not isinstance(fn, (FunctionType, property)):
        # A Python function binds as a method by itself: no wrapper call per use.
        builtin = fn
        fn = lambda self, *args, **kwargs: builtin(self, *args, **kwargs)  # noqa: E731
    setattr(Tensor, name, fn)


def method(*names: str, inplace: str | tuple[str, ...] = ()) -> Callable[[F], F]:
    """Registers an op, beside its definition, as the Tensor methods ``names`` and the
    in-place variants ``inplace`` (its result written into the tensor, see ``ops.inplace``):
    PyTorch's ``variants: function, method``."""

    def register(fn: F) -> F:
        for name in names:
            bind(name, fn)
        for name in (inplace,) if isinstance(inplace, str) else inplace:
            from ndgrad.ops.inplace import variant

            bind(name, variant(name, fn))
        return fn

    return register


def reflected(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``other <op> tensor`` (``__radd__`` and friends): the op with its operands swapped."""

    def swapped(a: Any, b: Any) -> Any:
        return fn(b, a)

    return swapped


def return_type(name: str, fields: tuple = ("values", "indices")) -> type:
    """``torch.return_types.<name>``: a named tuple (``values``, ``indices`` unless other
    ``fields`` are given) printed like PyTorch's."""
    base = namedtuple(name, fields)  # type: ignore[misc]

    def __repr__(self: Any) -> str:  # noqa: N807
        items = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self, strict=True))
        return f"ndgrad.return_types.{name}(\n{items})"

    return type(
        name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": "ndgrad.return_types"}
    )
