"""Element-wise ops. Each op's forward and its derivative live together here.

Backward closures use Tensor ops, so they are themselves differentiable
(higher-order derivatives need nothing extra); broadcast gradients are reduced
to each input's shape by the engine.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ndgrad import _dtype, _parallel
from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.autograd.graph import array_namespace
from ndgrad.ops import inplace
from ndgrad.ops._common import (
    SCALAR_NAMES,
    as_tensor,
    bind,
    broadcast_error,
    cast,
    float_operands,
    method,
    named,
    not_implemented,
    one_device,
    operands,
    record,
    reflected,
    to_float,
)


def _ignore() -> np.errstate:
    """Silences NumPy's floating-point warnings: PyTorch returns inf/nan without warning."""
    return np.errstate(all="ignore")


def _binary(op: str, ufunc: str, a: Tensor, b: Tensor) -> Any:
    """``xp.<ufunc>(a, b)`` in the array library of ``a``'s backend."""
    fn = getattr(array_module(a._data), ufunc)
    try:
        if ufunc in _QUIET:
            return fn(a._data, b._data)
        with _ignore():
            return fn(a._data, b._data)
    except ValueError:
        raise broadcast_error(op, a._data.shape, b._data.shape) from None


# Ufuncs that do not warn on finite input: skip the errstate cost on the hot path.
_QUIET = frozenset(
    "add subtract multiply equal not_equal less less_equal greater greater_equal maximum minimum".split()
)


# A float tensor with a Python number keeps the tensor's dtype (PyTorch's promotion), so the
# number can go to NumPy as a scalar of that dtype: no wrapping tensor, no promotion lookup.
# ``bool`` is not in here on purpose. The node still has two edges (the number's is None).
_NUMBERS = (int, float)
_NUMBER_SLOT = Tensor._make(np.zeros((), np.float32))


def _float_scalar(a: Any, b: Any) -> bool:
    return type(b) in _NUMBERS and isinstance(a, Tensor) and a._data.dtype.kind == "f"


# ----------------------------------------------------------------------------- rules
# Rules shared by several ops. ``g`` is the output's gradient; see ndgrad.ops.namespace.
def _first(xp: Any, g: Any) -> tuple:
    return (g, None)


def _both(xp: Any, g: Any) -> tuple:
    return (g, g)


def _negated(xp: Any, g: Any) -> tuple:
    return (-g,)


def _zero(xp: Any, g: Any) -> tuple:
    # Step functions (floor, sign...) have a zero derivative wherever they have one.
    return (g * 0,)


# ----------------------------------------------------------------------------- binary
@method("add", "__add__")
def add(a: Any, b: Any, *, alpha: float = 1) -> Tensor:
    if alpha == 1:
        if _float_scalar(a, b):
            data = a._data + a._data.dtype.type(b)
            return record("AddBackward0", data, (a, _NUMBER_SLOT), _first)
        if _float_scalar(b, a):
            data = b._data.dtype.type(a) + b._data  # ``1 + x``: the tensor is input 0, as in torch
            return record("AddBackward0", data, (b, _NUMBER_SLOT), _first)
    a, b = operands(a, b, "add")
    if alpha != 1:
        b = mul(b, alpha)
    data = _binary("add", "add", a, b)
    return record("AddBackward0", data, (a, b), _both)


@method("sub", "subtract", "__sub__")
def sub(a: Any, b: Any, *, alpha: float = 1) -> Tensor:
    if alpha == 1 and _float_scalar(a, b):
        data = a._data - a._data.dtype.type(b)
        return record("SubBackward0", data, (a, _NUMBER_SLOT), _first)
    a, b = operands(a, b, "sub")
    if a._data.dtype.kind == "b":
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    if alpha != 1:
        b = mul(b, alpha)
    data = _binary("sub", "subtract", a, b)
    if not b._requires_grad:
        return record("SubBackward0", data, (a, b), _first)
    return record("SubBackward0", data, (a, b), _sub_rule)


def _sub_rule(xp: Any, g: Any) -> tuple:
    return (g, -g)


@method("__rsub__")
def rsub(a: Any, b: Any, *, alpha: float = 1) -> Tensor:
    """``b - alpha * a``; ``2 - x`` is RsubBackward1 with the tensor as its only input, as in torch."""
    if alpha == 1 and _float_scalar(a, b):
        data = a._data.dtype.type(b) - a._data
        return record("RsubBackward1", data, (a,), _negated)
    return sub(b, a, alpha=alpha)


@method("mul", "multiply", "__mul__")
def mul(a: Any, b: Any) -> Tensor:
    if _float_scalar(a, b):
        data = a._data * a._data.dtype.type(b)
        return record("MulBackward0", data, (a, _NUMBER_SLOT), lambda xp, g: (g * b, None))
    if _float_scalar(b, a):
        # ``2 * x``: PyTorch records the tensor as the first input.
        data = b._data.dtype.type(a) * b._data
        return record("MulBackward0", data, (b, _NUMBER_SLOT), lambda xp, g: (g * a, None))
    a, b = operands(a, b, "mul")
    data = _binary("mul", "multiply", a, b)
    # Each input's gradient reads the other input: PyTorch saves only what will be read.
    if not b._requires_grad:
        return record("MulBackward0", data, (a, b), _mul_first, (b,))
    if not a._requires_grad:
        return record("MulBackward0", data, (a, b), _mul_second, (a,))
    return record("MulBackward0", data, (a, b), _mul_both, (a, b))


def _mul_first(xp: Any, g: Any, b: Any) -> tuple:
    return (g * b, None)


def _mul_second(xp: Any, g: Any, a: Any) -> tuple:
    return (None, g * a)


def _mul_both(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    return (g * b, g * a)


@method("div", "divide", "true_divide", "__truediv__")
def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        a, b = operands(a, b, "div")
        _check_integer_divisor(a, b, "div", "div_trunc_cpu")
        with _ignore():
            xp = array_module(a._data)
            return Tensor._make(xp.trunc(_binary("div", "true_divide", a, b)).astype(a._data.dtype))
    if rounding_mode is not None:
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
        )
    if _float_scalar(a, b):
        divisor = a._data.dtype.type(b)
        if 1 <= math.fabs(b) < math.inf:  # |a / b| <= |a|: cannot overflow or divide by zero
            data = a._data / divisor
        else:
            with _ignore():
                data = a._data / divisor
        return record("DivBackward0", data, (a, _NUMBER_SLOT), lambda xp, g: _div_scalar(xp, g, b))
    a, b = float_operands(a, b, "div")
    data = _binary("div", "true_divide", a, b)
    if not b._requires_grad:
        return record("DivBackward0", data, (a, b), _div_first, (b,))
    need_a = a._requires_grad
    return record(
        "DivBackward0", data, (a, b), lambda xp, g, a, b: _div(xp, g, a, b, need_a), (a, b)
    )


def _div_scalar(xp: Any, g: Any, b: float) -> tuple:
    with xp.quiet():
        return (g / b, None)


def _div_first(xp: Any, g: Any, b: Any) -> tuple:
    with xp.quiet():
        return (g / b, None)


def _div(xp: Any, g: Any, a: Any, b: Any, need_a: bool) -> tuple:
    with xp.quiet():
        return (g / b if need_a else None, -g * a / (b * b))


@method("floor_divide", "__floordiv__", inplace="floor_divide_")
def floor_divide(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b, "floor_divide")
    _check_integer_divisor(a, b, "floor_divide", "div_floor_cpu")
    return Tensor._make(_binary("floor_divide", "floor_divide", a, b))


def _check_integer_divisor(a: Tensor, b: Tensor, op: str, kernel: str) -> None:
    """Integer division (of promoted operands): no bool kernel, no division by zero."""
    kind = a._data.dtype.kind
    if kind == "b":
        raise not_implemented(kernel, a)
    if kind in "iu" and array_module(a._data).any(b._data == 0):
        raise RuntimeError(f"ZeroDivisionError: {op}(): integer division by zero")


@method("remainder", "__mod__", inplace="remainder_")
def remainder(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b, "remainder")
    _check_integer_divisor(a, b, "remainder", "remainder_cpu")
    data = _binary("remainder", "remainder", a, b)
    if not b._requires_grad:
        return record("RemainderBackward0", data, (a, b), _first)
    return record("RemainderBackward0", data, (a, b), _remainder_rule, (a, b))


def _remainder_rule(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    with xp.quiet():
        return (g, -g * xp.floor_divide(a, b))


@method("fmod", inplace="fmod_")
def fmod(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b, "fmod")
    data = _binary("fmod", "fmod", a, b)
    if not b._requires_grad:
        return record("FmodBackward0", data, (a, b), _first)
    return record("FmodBackward0", data, (a, b), _fmod_rule, (a, b))


def _fmod_rule(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    with xp.quiet():
        return (g, -g * xp.trunc(a / b))


@method("pow", "__pow__", inplace="pow_")
def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - mirrors torch.pow
    if not isinstance(a, Tensor):
        return _rpow(a, b)
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        if a._data.dtype.kind in "iub" and isinstance(b, float):
            a = to_float(a)
        elif a._data.dtype.kind == "b":  # bool ** int is int64, as in PyTorch
            a = cast(a, np.dtype(np.int64))
        if a._data.dtype.kind in "iu" and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        exponent = b
        xp = array_module(a._data)
        with _ignore():
            if exponent == 2 and a._data.dtype.kind == "f":
                data = xp.square(a._data)  # x * x, as torch computes it; 3x faster than power
            else:
                data = xp.power(a._data, a._data.dtype.type(exponent))
        if exponent == 0:
            return record("PowBackward0", data, (a,), _zero)
        return record(
            "PowBackward0", data, (a,), lambda xp, g, a: _pow_scalar(xp, g, a, exponent), (a,)
        )
    a, b = operands(a, b, "pow")
    if a._data.dtype.kind in "iu" and (b._data < 0).any():
        data = _integer_pow_with_negatives(a, b)
    else:
        data = _binary("pow", "power", a, b)
    need_a = a._requires_grad
    if not b._requires_grad:
        return record("PowBackward1", data, (a, b), _pow_base, (a, b))
    return record(
        "PowBackward1",
        data,
        (a, b),
        lambda xp, g, a, b, result: (
            _pow_base(xp, g, a, b)[0] if need_a else None,
            _pow_exponent(xp, g, a, b, result),
        ),
        (a, b),
        save_output=True,
    )


def _pow_scalar(xp: Any, g: Any, a: Any, exponent: float) -> tuple:
    # PyTorch's formula: grad * (exponent * self.pow(exponent - 1))
    if exponent == 2:  # a.pow(1) is a: skip it
        return (g * (a * 2.0),)
    with xp.quiet():
        return (g * (a ** (exponent - 1) * exponent),)


def _pow_base(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    with xp.quiet():
        return (g * b * a ** (b - 1), None)


def _pow_exponent(xp: Any, g: Any, a: Any, b: Any, result: Any) -> Any:
    with xp.quiet():
        return g * xp.where(xp.logical_and(a == 0, b >= 0), 0.0, result * xp.log(a))


def _integer_pow_with_negatives(a: Tensor, b: Tensor) -> np.ndarray:
    """Integer ``a ** b`` where some ``b < 0``: PyTorch truncates ``1 / a**|b|`` (0 unless a is ±1)."""
    try:
        xp = array_module(a._data)
        base, exp = xp.broadcast_arrays(a._data, b._data)
    except ValueError:
        raise broadcast_error("pow", a._data.shape, b._data.shape) from None
    negative = exp < 0
    data = xp.power(base, xp.where(negative, 0, exp))
    odd = (exp % 2) != 0
    unit = xp.where(base == 1, 1, xp.where(base == -1, xp.where(odd, -1, 1), 0))
    return xp.where(negative, unit, data).astype(data.dtype)


def _rpow(a: Any, b: Tensor) -> Tensor:
    """``number ** tensor``: PowBackward2, whose rule reads the result."""
    # A Python scalar base stays a scalar for promotion (3 ** float32 tensor is float32).
    base = a if isinstance(a, (int, float)) else as_tensor(a, "pow")
    base, b = operands(base, b, "pow")
    if base._data.dtype.kind != "f" and isinstance(a, float):
        base, b = to_float(base), to_float(b)
    if base._data.dtype.kind in "iu" and (b._data < 0).any():
        data = _integer_pow_with_negatives(base, b)
    else:
        data = _binary("pow", "power", base, b)
    value = float(base._data)
    ln_base = math.log(value) if value > 0 else float("nan")

    def rule(xp: Any, g: Any, exponent: Any, result: Any) -> tuple:
        return (None, g * result * ln_base if value != 0 else g * 0)

    # PyTorch saves the exponent as well as the result
    return record("PowBackward2", data, (base, b), rule, (b,), save_output=True)


@method("maximum", inplace="maximum_")
def maximum(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b, "maximum")
    data = _binary("maximum", "maximum", a, b)
    return record("MaximumBackward0", data, (a, b), _minmax_rule, (a, b))


@method("minimum", inplace="minimum_")
def minimum(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b, "minimum")
    data = _binary("minimum", "minimum", a, b)
    return record("MinimumBackward0", data, (a, b), _minmax_rule, (b, a))


def _minmax_rule(xp: Any, g: Any, high: Any, low: Any) -> tuple:
    """maximum(a, b) saves (a, b); minimum(a, b) saves (b, a): the gradients of (a, b) alike."""
    share = xp.where(high == low, g / 2, g)  # ties split the gradient, as in PyTorch
    return xp.where(high < low, 0.0, share), xp.where(high > low, 0.0, share)


@method("atan2", "arctan2", inplace=("atan2_", "arctan2_"))
def atan2(a: Any, b: Any) -> Tensor:
    a, b = float_operands(a, b, "atan2")
    data = _binary("atan2", "arctan2", a, b)
    return record("Atan2Backward0", data, (a, b), _atan2_rule, (a, b))


def _atan2_rule(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    with xp.quiet():
        denom = a * a + b * b
        return g * b / denom, -g * a / denom


# ----------------------------------------------------------------------------- comparisons
def _compare(op: str, ufunc: str, a: Any, b: Any) -> Tensor:
    a, b = operands(a, b, op)
    return Tensor._make(_binary(op, ufunc, a, b))


@method("eq", "__eq__", inplace=("eq_",))
def eq(a: Any, b: Any) -> Tensor:
    return _compare("eq", "equal", a, b)


@method("ne", "not_equal", "__ne__", inplace=("ne_", "not_equal_"))
def ne(a: Any, b: Any) -> Tensor:
    return _compare("ne", "not_equal", a, b)


@method("lt", "less", "__lt__", inplace=("lt_", "less_"))
def lt(a: Any, b: Any) -> Tensor:
    return _compare("lt", "less", a, b)


@method("le", "less_equal", "__le__", inplace=("le_", "less_equal_"))
def le(a: Any, b: Any) -> Tensor:
    return _compare("le", "less_equal", a, b)


@method("gt", "greater", "__gt__", inplace=("gt_", "greater_"))
def gt(a: Any, b: Any) -> Tensor:
    return _compare("gt", "greater", a, b)


@method("ge", "greater_equal", "__ge__", inplace=("ge_", "greater_equal_"))
def ge(a: Any, b: Any) -> Tensor:
    return _compare("ge", "greater_equal", a, b)


def _logical(op: str, ufunc: str, a: Any, b: Any) -> Tensor:
    a, b = operands(a, b, op)
    if a._data.dtype.kind == "f":  # bitwise ops have integer and bool kernels only
        raise not_implemented(f"{op}_cpu", a)
    return Tensor._make(_binary(op, ufunc, a, b))


@method("bitwise_and", "__and__", inplace="bitwise_and_")
def bitwise_and(a: Any, b: Any) -> Tensor:
    return _logical("bitwise_and", "bitwise_and", a, b)


@method("bitwise_or", "__or__", inplace="bitwise_or_")
def bitwise_or(a: Any, b: Any) -> Tensor:
    return _logical("bitwise_or", "bitwise_or", a, b)


@method("bitwise_xor", "__xor__", inplace="bitwise_xor_")
def bitwise_xor(a: Any, b: Any) -> Tensor:
    return _logical("bitwise_xor", "bitwise_xor", a, b)


@method("bitwise_not", inplace="bitwise_not_")
def bitwise_not(a: Tensor) -> Tensor:
    if a._data.dtype.kind == "f":
        raise not_implemented("bitwise_not_cpu", a)
    xp = array_module(a._data)
    return Tensor._make(xp.invert(a._data))


def _shift(op: str, kernel: str, left: bool, a: Any, b: Any) -> Tensor:
    """``a << b`` / ``a >> b`` as PyTorch computes them: bools shift as integers; a shift by
    the bit width or more gives 0 (left) or the sign (right); negative shifts give 0."""
    a, b = operands(a, b, op)
    if a._data.dtype.kind == "f":
        raise not_implemented(kernel, a)
    if a._data.dtype.kind == "b":
        a, b = cast(a, np.dtype(np.int64)), cast(b, np.dtype(np.int64))
    xp = array_module(a._data)
    x, s = a._data, b._data
    bits = x.dtype.itemsize * 8
    wide = (s < 0) | (s >= bits)
    shift = xp.where(wide, 0, s).astype(x.dtype)
    if left:
        out = xp.where(wide, 0, xp.left_shift(x, shift))
    else:
        out = xp.where(wide, xp.where(x < 0, -1, 0), xp.right_shift(x, shift))
    return Tensor._make(out.astype(x.dtype, copy=False))


@method("bitwise_left_shift", "__lshift__", inplace=("bitwise_left_shift_", "__ilshift__"))
def bitwise_left_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _shift("bitwise_left_shift", "lshift_cpu", True, input, other)


@method("bitwise_right_shift", "__rshift__", inplace=("bitwise_right_shift_", "__irshift__"))
def bitwise_right_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    return _shift("bitwise_right_shift", "rshift_cpu", False, input, other)


@method("logical_not", inplace="logical_not_")
def logical_not(a: Tensor) -> Tensor:
    a = as_tensor(a)
    return Tensor._make(array_module(a._data).logical_not(a._data))


@method("logical_and", inplace="logical_and_")
def logical_and(a: Any, b: Any) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    return Tensor._make(array_module(a._data).logical_and(a._data, b._data))


@method("logical_or", inplace="logical_or_")
def logical_or(a: Any, b: Any) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    return Tensor._make(array_module(a._data).logical_or(a._data, b._data))


@method("logical_xor", inplace="logical_xor_")
def logical_xor(a: Any, b: Any) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    return Tensor._make(array_module(a._data).logical_xor(a._data, b._data))


@method("isclose")
def isclose(
    a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> Tensor:
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._data.dtype != b._data.dtype:
        names = [SCALAR_NAMES.get(t._data.dtype.name, t._data.dtype.name) for t in (a, b)]
        raise RuntimeError(f"isclose(): {names[0]} did not match {names[1]} (the dtypes differ)")
    a, b = operands(a, b, "isclose")
    xp = array_module(a._data)
    return Tensor._make(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@method("allclose")
def allclose(
    a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> bool:
    return bool(isclose(a, b, rtol, atol, equal_nan).all())


@method("equal")
def equal(a: Tensor, b: Tensor) -> bool:
    xp = array_module(a._data)
    return a.shape == b.shape and bool(xp.array_equal(a._data, b._data))


# ----------------------------------------------------------------------------- unary
def _unary(name: str, fn: str, x: Tensor, rule: Any, saves: str) -> Tensor:
    """A float op ``xp.<fn>(x)`` whose rule reads its input (``saves="input"``), its result
    (``"result"``, as PyTorch saves it) or nothing (``""``)."""
    x = to_float(x)
    with _ignore():
        data = getattr(array_module(x._data), fn)(x._data)
    if saves == "result":
        return record(name, data, (x,), rule, save_output=True)
    return record(name, data, (x,), rule, (x,) if saves else ())


@method("neg", "negative", "__neg__", inplace=("neg_", "negative_"))
def neg(x: Tensor) -> Tensor:
    if x._data.dtype.kind == "b":
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. "
            "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    xp = array_module(x._data)
    return record("NegBackward0", xp.negative(x._data), (x,), _negated)


@method("abs", "absolute", "__abs__", inplace=("abs_", "absolute_"))
def abs(x: Tensor) -> Tensor:  # noqa: A001
    if x._data.dtype.kind == "b":
        raise not_implemented("abs_cpu", x)
    xp = array_module(x._data)
    return record("AbsBackward0", xp.abs(x._data), (x,), lambda xp, g, x: (g * xp.sign(x),), (x,))


@method("angle")
def angle(x: Tensor) -> Tensor:
    """The argument of a real number: 0, or pi for negatives (nan stays nan); its gradient
    is zero."""
    x = to_float(x)
    xp = array_module(x._data)
    d = x._data
    data = xp.where(d < 0, d.dtype.type(math.pi), xp.where(xp.isnan(d), d, d.dtype.type(0)))
    return record("AngleBackward0", data, (x,), _zero)


@method("sign", "sgn", inplace=("sign_", "sgn_"))
def sign(x: Tensor) -> Tensor:
    if x._data.dtype.kind == "b":  # the sign of a bool is itself
        return x.clone()
    xp = array_module(x._data)
    data = xp.sign(x._data)
    if data.dtype.kind == "f":  # the sign of NaN is 0 in PyTorch (no data-dependent branch)
        data = xp.nan_to_num(data, nan=0.0)
    return record("SignBackward0", data, (x,), _zero)


@method("exp", inplace="exp_")
def exp(x: Tensor) -> Tensor:
    return _unary("ExpBackward0", "exp", x, lambda xp, g, result: (g * result,), "result")


@method("exp2", inplace="exp2_")
def exp2(x: Tensor) -> Tensor:
    return _unary("Exp2Backward0", "exp2", x, lambda xp, g, result: (g * result * _LN2,), "result")


_LN2 = math.log(2.0)


@method("expm1", inplace="expm1_")
def expm1(x: Tensor) -> Tensor:
    return _unary("Expm1Backward0", "expm1", x, lambda xp, g, result: (g * (result + 1),), "result")


def _quiet_div(xp: Any, g: Any, denominator: Any) -> tuple:
    with xp.quiet():
        return (g / denominator,)


@method("log", inplace="log_")
def log(x: Tensor) -> Tensor:
    return _unary("LogBackward0", "log", x, _quiet_div, "input")


@method("log2", inplace="log2_")
def log2(x: Tensor) -> Tensor:
    return _unary(
        "Log2Backward0", "log2", x, lambda xp, g, x: _quiet_div(xp, g, x * math.log(2.0)), "input"
    )


@method("log10", inplace="log10_")
def log10(x: Tensor) -> Tensor:
    return _unary(
        "Log10Backward0",
        "log10",
        x,
        lambda xp, g, x: _quiet_div(xp, g, x * math.log(10.0)),
        "input",
    )


@method("log1p", inplace="log1p_")
def log1p(x: Tensor) -> Tensor:
    return _unary("Log1PBackward0", "log1p", x, lambda xp, g, x: _quiet_div(xp, g, x + 1), "input")


@method("sqrt", inplace="sqrt_")
def sqrt(x: Tensor) -> Tensor:
    return _unary(
        "SqrtBackward0", "sqrt", x, lambda xp, g, result: _quiet_div(xp, g, 2 * result), "result"
    )


@method("rsqrt", inplace="rsqrt_")
def rsqrt(x: Tensor) -> Tensor:
    x = to_float(x)
    with _ignore():
        data = 1 / array_module(x._data).sqrt(x._data)
    return record("RsqrtBackward0", data, (x,), _rsqrt_rule, save_output=True)


def _rsqrt_rule(xp: Any, g: Any, result: Any) -> tuple:
    with xp.quiet():
        return (-0.5 * g * result**3,)


@method("square", inplace="square_")
def square(x: Tensor) -> Tensor:
    return pow(x, 2)


@method("reciprocal", inplace="reciprocal_")
def reciprocal(x: Tensor) -> Tensor:
    x = to_float(x)
    with _ignore():
        data = 1 / x._data
    return record("ReciprocalBackward0", data, (x,), _reciprocal_rule, save_output=True)


def _reciprocal_rule(xp: Any, g: Any, result: Any) -> tuple:
    with xp.quiet():
        return (-g * (result * result),)


@method("sin", inplace="sin_")
def sin(x: Tensor) -> Tensor:
    return _unary("SinBackward0", "sin", x, lambda xp, g, x: (g * xp.cos(x),), "input")


@method("cos", inplace="cos_")
def cos(x: Tensor) -> Tensor:
    return _unary("CosBackward0", "cos", x, lambda xp, g, x: (-g * xp.sin(x),), "input")


@method("sinh", inplace="sinh_")
def sinh(x: Tensor) -> Tensor:
    return _unary("SinhBackward0", "sinh", x, lambda xp, g, x: (g * xp.cosh(x),), "input")


@method("cosh", inplace="cosh_")
def cosh(x: Tensor) -> Tensor:
    return _unary("CoshBackward0", "cosh", x, lambda xp, g, x: (g * xp.sinh(x),), "input")


@method("tan", inplace="tan_")
def tan(x: Tensor) -> Tensor:
    return _unary("TanBackward0", "tan", x, lambda xp, g, result: (g * (1 + result**2),), "result")


@method("tanh", inplace="tanh_")
def tanh(x: Tensor) -> Tensor:
    return _unary(
        "TanhBackward0", "tanh", x, lambda xp, g, result: (g * (1 - result * result),), "result"
    )


@method("sigmoid", inplace="sigmoid_")
def sigmoid(x: Tensor) -> Tensor:
    x = to_float(x)
    d = x._data
    # PyTorch's formula: exp(-x) may overflow to inf for very negative x, giving exactly 0
    # (not a denormal), which is what PyTorch prints.
    with _ignore():
        xp = array_module(x._data)
        data = xp.negative(d, out=xp.empty_like(d))  # one buffer, each step in place
        xp.exp(data, out=data)
        xp.add(data, 1, out=data)
        xp.divide(1, data, out=data)
    return record("SigmoidBackward0", data, (x,), _sigmoid_rule, save_output=True)


def _sigmoid_rule(xp: Any, g: Any, result: Any) -> tuple:
    return (g * (1 - result) * result,)


def logsigmoid(x: Tensor) -> Tensor:
    x = to_float(x)
    d = x._data
    with _ignore():
        xp = array_module(x._data)
        data = (xp.minimum(d, 0) - xp.log1p(xp.exp(-xp.abs(d)))).astype(d.dtype, copy=False)
    return record("LogSigmoidBackward0", data, (x,), lambda xp, g, x: (g * xp.sigmoid(-x),), (x,))


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    x = to_float(x)
    d = x._data * beta
    with _ignore():
        xp = array_module(x._data)
        data = xp.where(d > threshold, x._data, xp.logaddexp(0, d) / beta).astype(x._data.dtype)

    def rule(xp: Any, g: Any, x: Any) -> tuple:
        z = x * beta
        return (xp.where(z > threshold, g, g * xp.sigmoid(z)),)

    return record("SoftplusBackward0", data, (x,), rule, (x,))


@method("relu", inplace="relu_")
def relu(x: Tensor) -> Tensor:
    if x._data.dtype.kind == "b":
        raise RuntimeError(f"relu(): Boolean inputs not supported for relu (got {x.dtype})")
    d = x._data
    (data,) = elementwise(array_namespace(d), _relu_data, (d,), d.shape)
    return record("ReluBackward0", data, (x,), _relu_rule, save_output=True)


# Nanoseconds per element of a large element-wise pass (memory-bound, about 3 streams of
# 4 bytes): arrays of a few hundred thousand elements and more go to the intra-op threads.
_NS_PER_ELEMENT = 0.3


def elementwise(xp: Any, fn: Any, arrays: tuple, shape: tuple, core: int | None = None) -> tuple:
    """``fn(xp, *arrays)``: element-wise work over arrays of ``shape``, split over the leading
    dims (all but the last ``core``; default all but the first) across the intra-op threads
    (``xp.over_batches``) when it is large enough to pay for the split (below that, directly:
    a small op pays no more than the call)."""
    size = math.prod(shape)
    if size * _NS_PER_ELEMENT < 2 * _parallel.GRAIN_NS:
        return fn(xp, *arrays)
    core = max(len(shape) - 1, 0) if core is None else core
    per_item = _NS_PER_ELEMENT * math.prod(shape[len(shape) - core :])
    return xp.over_batches(fn, arrays, core, per_item)


def _relu_data(xp: Any, d: Any) -> tuple:
    return (xp.maximum(d, 0),)


def _relu_mask(xp: Any, g: Any, result: Any) -> tuple:
    return (g * (result > 0),)


def _relu_rule(xp: Any, g: Any, result: Any) -> tuple:
    return elementwise(xp, _relu_mask, (g, result), g.shape)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    xp = array_module(x._data)
    data = xp.where(x._data > 0, x._data, x._data * x._data.dtype.type(negative_slope))
    return record(
        "LeakyReluBackward0",
        data,
        (x,),
        lambda xp, g, x: (xp.where(x > 0, g, g * negative_slope),),
        (x,),
    )


def _float_only(op: str, x: Tensor) -> None:
    if x._data.dtype.kind != "f":
        raise NotImplementedError(
            f"\"{op}_cpu\" not implemented for '{_dtype.SCALAR_NAMES[x._data.dtype.name]}'"
        )


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``clamp(x, min_val, max_val)``, but its gradient is 0 at the ends too (PyTorch's)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    xp = array_module(x._data)
    kind = x._data.dtype.type
    data = xp.clip(x._data, kind(min_val), kind(max_val))
    return record(
        "HardtanhBackward0",
        data,
        (x,),
        lambda xp, g, x: (g * xp.logical_and(x > min_val, x < max_val),),
        (x,),
    )


# PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32, in every dtype.
_ONE_SIXTH_F32 = float(np.float32(1 / 6))


def hardsigmoid(x: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``; gradient ``1/6`` strictly between -3 and 3."""
    _float_only("hardsigmoid", x)
    xp = array_module(x._data)
    data = xp.clip(x._data + 3, 0, 6) / 6
    return record(
        "HardsigmoidBackward0",
        data.astype(x._data.dtype, copy=False),
        (x,),
        lambda xp, g, x: (g * xp.logical_and(x > -3, x < 3) * _ONE_SIXTH_F32,),
        (x,),
    )


def hardswish(x: Tensor) -> Tensor:
    """``x * relu6(x + 3) / 6``, with PyTorch's gradient: 0 up to -3, ``x / 3 + 1/2`` between
    -3 and 3, 1 from 3."""
    _float_only("hardswish", x)
    xp = array_module(x._data)
    d = x._data
    data = (d * (xp.clip(d + 3, 0, 6) / 6)).astype(d.dtype, copy=False)

    def rule(xp: Any, g: Any, x: Any) -> tuple:
        slope = xp.where(x < 3, x / 3 + 0.5, 1.0)
        return (g * xp.where(x <= -3, 0.0, slope),)

    return record("HardswishBackward0", data, (x,), rule, (x,))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        return named(0.5 * x * (1 + tanh(c * (x + 0.044715 * x**3))), "GeluBackward0")
    return named(0.5 * x * (1 + erf(x / math.sqrt(2.0))), "GeluBackward0")


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


@method("erf", inplace="erf_")
def erf(x: Tensor) -> Tensor:
    x = to_float(x)
    data = array_namespace(x._data).erf(x._data)
    return record(
        "ErfBackward0",
        data,
        (x,),
        lambda xp, g, x: (g * _TWO_OVER_SQRT_PI * xp.exp(-x * x),),
        (x,),
    )


@method("clamp", "clip", inplace=("clamp_", "clip_"))
def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    d = x._data
    if x._data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        x = to_float(x)
        d = x._data
    lo = None if min is None else d.dtype.type(min)
    hi = None if max is None else d.dtype.type(max)
    xp = array_module(x._data)
    data = xp.clip(d, lo, hi)
    low = None if lo is None else lo.item()
    high = None if hi is None else hi.item()

    def rule(xp: Any, g: Any, x: Any) -> tuple:
        inside = x == x if low is None else x >= low
        if high is not None:
            inside = xp.logical_and(inside, x <= high)
        return (g * inside,)

    return record("ClampBackward1", data, (x,), rule, (x,))


clip = clamp


@method("clamp_min", inplace="clamp_min_")
def clamp_min(x: Tensor, min: Any) -> Tensor:  # noqa: A002
    return clamp(x, min=min)


@method("clamp_max", inplace="clamp_max_")
def clamp_max(x: Tensor, max: Any) -> Tensor:  # noqa: A002
    return clamp(x, max=max)


absolute = abs
sgn = sign
# numpy-style names PyTorch also accepts
true_divide = divide = div
multiply = mul
subtract = sub
negative = neg
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _where_method(self: Tensor, condition: Any, other: Any) -> Tensor:
    return where(condition, self, other)


def where(condition: Any, a: Any = None, b: Any = None) -> Any:
    if a is None and b is None:  # where(cond) is nonzero(cond, as_tuple=True)
        return as_tensor(condition, "where").nonzero(as_tuple=True)
    if a is None or b is None:
        raise TypeError("where(): expected both 'input' and 'other', or neither")
    cond = as_tensor(condition, "where")
    if cond._data.dtype.kind != "b":
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{_dtype.SCALAR_NAMES[cond._data.dtype.name]}"
        )
    a, b = operands(a, b, "where")
    if type(cond._data) is not type(a._data) or type(cond._data) is not type(b._data):
        cond, a = one_device(cond, a, "where")
        cond, b = one_device(cond, b, "where")
    try:
        xp = array_module(cond._data)
        data = xp.where(cond._data, a._data, b._data)
    except ValueError:
        raise broadcast_error("where", a._data.shape, b._data.shape) from None
    return record("WhereBackward0", data, (a, b), _where_rule, (cond,))


def _where_rule(xp: Any, g: Any, cond: Any) -> tuple:
    return xp.where(cond, g, 0.0), xp.where(cond, 0.0, g)


@method("masked_fill", inplace="masked_fill_")
def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    mask = as_tensor(mask, "masked_fill")
    if type(mask._data) is not type(x._data):
        mask, x = one_device(mask, x, "masked_fill")
    if mask._data.dtype.kind != "b":
        raise RuntimeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}"
        )
    try:
        np.broadcast_shapes(mask._data.shape, x._data.shape)
    except ValueError:
        raise broadcast_error("masked_fill", x._data.shape, mask._data.shape) from None
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                f"masked_fill only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s)."
            )
        out = where(mask, value.to(x.dtype), x)
        return out if out._data.shape == x._data.shape else out.expand(x.shape)
    if x._data.dtype.kind in "iub" and isinstance(value, float) and not math.isfinite(value):
        raise RuntimeError(f"value cannot be converted to type {x.dtype} without overflow")
    # a float value fills an integer tensor truncated toward zero, as PyTorch casts it
    fill = int(value) if x._data.dtype.kind in "iu" and isinstance(value, float) else value
    xp = array_module(x._data)
    data = xp.where(mask._data, x._data.dtype.type(fill), x._data)
    if data.shape != x._data.shape:
        raise RuntimeError(
            f"masked_fill(): mask of shape {list(mask.shape)} does not broadcast to the "
            f"tensor's shape {list(x.shape)}"
        )
    return record(
        "MaskedFillBackward0", data, (x,), lambda xp, g, mask: (xp.where(mask, 0.0, g),), (mask,)
    )


def _step(name: str, fn: str) -> Any:
    """A piecewise-constant op (floor, ceil, trunc): a zero gradient."""

    def op(x: Tensor) -> Tensor:
        data = getattr(array_module(x._data), fn)(x._data)
        return record(name, data, (x,), _zero)

    op.__name__ = fn
    return op


floor = method("floor", inplace="floor_")(_step("FloorBackward0", "floor"))
ceil = method("ceil", inplace="ceil_")(_step("CeilBackward0", "ceil"))
trunc = method("trunc", "fix", inplace=("trunc_", "fix_"))(_step("TruncBackward0", "trunc"))
fix = trunc


@method("round", inplace="round_")
def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001
    xp = array_module(x._data)
    return record("RoundBackward0", xp.round(x._data, decimals), (x,), _zero)


@method("frac", inplace="frac_")
def frac(x: Tensor) -> Tensor:
    if x._data.dtype.kind != "f":
        raise not_implemented("frac_cpu", x)
    return x - trunc(x)


@method("isnan")
def isnan(x: Tensor) -> Tensor:
    xp = array_module(x._data)
    return Tensor._make(xp.isnan(x._data))


@method("isinf")
def isinf(x: Tensor) -> Tensor:
    xp = array_module(x._data)
    return Tensor._make(xp.isinf(x._data))


@method("signbit")
def signbit(x: Tensor) -> Tensor:
    xp = array_module(x._data)
    return Tensor._make(xp.signbit(x._data))


@method("isfinite")
def isfinite(x: Tensor) -> Tensor:
    xp = array_module(x._data)
    return Tensor._make(xp.isfinite(x._data))


@method("nan_to_num", inplace="nan_to_num_")
def nan_to_num(
    x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Tensor:
    xp = array_module(x._data)
    data = xp.nan_to_num(x._data, nan=nan, posinf=posinf, neginf=neginf)
    return record("NanToNumBackward0", data, (x,), lambda xp, g, x: (g * xp.isfinite(x),), (x,))


@method("lerp", inplace="lerp_")
def lerp(a: Tensor, end: Any, weight: Any) -> Tensor:
    """``a + weight * (end - a)`` with PyTorch's two-sided formula (exact at both ends)."""
    scalar_weight = isinstance(weight, (int, float)) and not isinstance(weight, bool)
    if scalar_weight and isinstance(a, Tensor) and a._data.dtype.kind != "f":
        raise not_implemented("lerp_kernel_scalar", a)
    a, end = float_operands(a, end, "lerp")
    xp = array_module(a._data)
    if isinstance(weight, (int, float)) and not isinstance(weight, bool):
        w = a._data.dtype.type(weight)
        with _ignore():
            diff = end._data - a._data
            if builtins.abs(weight) < 0.5:
                data = a._data + w * diff
            else:
                data = end._data - diff * (1 - w)
        return record("LerpBackward0", data, (a, end), lambda xp, g: (g * (1 - weight), g * weight))
    weight = as_tensor(weight, "lerp")
    if weight._data.dtype != a._data.dtype:
        weight = weight.to(a.dtype)
    with _ignore():
        diff = end._data - a._data
        w = weight._data
        data = xp.where(xp.abs(w) < 0.5, a._data + w * diff, end._data - diff * (1 - w))
    need_weight = weight._requires_grad
    return record(
        "LerpBackward1",
        data,
        (a, end, weight),
        lambda xp, g, a, end, w: (
            g * (1 - w),
            g * w,
            g * (end - a) if need_weight else None,
        ),
        (a, end, weight),
    )


# Operators and in-place variants that need more than the op itself.
bind("where", _where_method)
bind("__radd__", reflected(add))
bind("__rmul__", reflected(mul))
bind("__rfloordiv__", reflected(floor_divide))
bind("__rmod__", reflected(remainder))
bind("__rpow__", reflected(pow))
bind("__rand__", reflected(bitwise_and))
bind("__ror__", reflected(bitwise_or))
bind("__rxor__", reflected(bitwise_xor))
bind("__rlshift__", reflected(bitwise_left_shift))
bind("__rrshift__", reflected(bitwise_right_shift))
bind("__pos__", lambda a: a)


def __invert__(a: Tensor) -> Tensor:  # noqa: N807
    if a._data.dtype.kind == "f":
        raise TypeError(
            "~ (operator.invert) is only implemented on integer and Boolean-type tensors"
        )
    return logical_not(a) if a._data.dtype.kind == "b" else bitwise_not(a)


bind("__invert__", __invert__)


def __rtruediv__(a: Tensor, b: Any) -> Tensor:  # noqa: N807
    # PyTorch computes ``number / x`` as ``reciprocal(x) * number``.
    return mul(reciprocal(a), b)


# add_/sub_/mul_/div_ write the same ufunc's result straight into the tensor when nothing is
# recorded (optimizer updates); recorded, they are the op's result written back.
def add_(self: Tensor, other: Any, *, alpha: float = 1) -> Tensor:
    other = other if alpha == 1 else mul(other, alpha)
    return inplace.inplace_binary(self, other, np.add, add, "add_")


def sub_(self: Tensor, other: Any, *, alpha: float = 1) -> Tensor:
    other = other if alpha == 1 else mul(other, alpha)
    return inplace.inplace_binary(self, other, np.subtract, sub, "sub_")


def mul_(self: Tensor, other: Any) -> Tensor:
    return inplace.inplace_binary(self, other, np.multiply, mul, "mul_")


def div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return inplace.inplace_binary(self, other, np.true_divide, div, "div_")
    return inplace.apply_inplace(
        self, "div_", lambda s: div(s, other, rounding_mode=rounding_mode), other
    )


for _name, _fn in (
    ("__rtruediv__", __rtruediv__),
    ("add_", add_),
    ("__iadd__", add_),
    ("sub_", sub_),
    ("__isub__", sub_),
    ("mul_", mul_),
    ("__imul__", mul_),
    ("div_", div_),
    ("divide_", div_),
    ("true_divide_", div_),
    ("subtract_", sub_),
    ("multiply_", mul_),
    ("__itruediv__", div_),
    ("__ixor__", Tensor.bitwise_xor_),
    ("__ifloordiv__", Tensor.floor_divide_),
    ("__imod__", Tensor.remainder_),
    ("__ipow__", Tensor.pow_),
    ("__iand__", Tensor.bitwise_and_),
    ("__ior__", Tensor.bitwise_or_),
):
    bind(_name, _fn)


@method("addcmul")
def addcmul(x: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """``x + value * tensor1 * tensor2``, in PyTorch's evaluation order."""
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(x, mul(scaled, tensor2))


@method("addcdiv")
def addcdiv(x: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """``x + value * tensor1 / tensor2``, in PyTorch's evaluation order."""
    scaled = tensor1 if value == 1 else mul(tensor1, value)
    return add(x, div(scaled, tensor2))


def _fused_inplace(name: str, fn: Any, combine: Any) -> Any:
    """addcmul_/addcdiv_: ``fn``'s result written back; when nothing is recorded (optimizer
    steps), the same term added by one ufunc write, in the same order (same bits)."""

    def op_(self: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
        if inplace._recording(self, (tensor1, tensor2)):
            return inplace.apply_inplace(
                self, name, lambda s: fn(s, tensor1, tensor2, value=value), tensor1, tensor2
            )
        term = combine(tensor1 if value == 1 else mul(tensor1, value), tensor2)
        return inplace.inplace_binary(self, term, np.add, add, name)

    op_.__name__ = name
    return op_


bind("addcmul_", _fused_inplace("addcmul_", addcmul, mul))
bind("addcdiv_", _fused_inplace("addcdiv_", addcdiv, div))


# ----------------------------------------------------------------------------- inverse trig
def _one_minus_square(x: Any) -> Any:
    return 1 - x * x


@method("asin", "arcsin", inplace=("asin_", "arcsin_"))
def asin(x: Tensor) -> Tensor:
    return _unary("AsinBackward0", "arcsin", x, _asin_rule, "input")


def _asin_rule(xp: Any, g: Any, x: Any) -> tuple:
    with xp.quiet():
        return (g / xp.sqrt(_one_minus_square(x)),)


@method("acos", "arccos", inplace=("acos_", "arccos_"))
def acos(x: Tensor) -> Tensor:
    return _unary("AcosBackward0", "arccos", x, _acos_rule, "input")


def _acos_rule(xp: Any, g: Any, x: Any) -> tuple:
    with xp.quiet():
        return (-g / xp.sqrt(_one_minus_square(x)),)


@method("atan", "arctan", inplace=("atan_", "arctan_"))
def atan(x: Tensor) -> Tensor:
    return _unary("AtanBackward0", "arctan", x, _atan_rule, "input")


def _atan_rule(xp: Any, g: Any, x: Any) -> tuple:
    return (g / (x * x + 1),)


@method("asinh", "arcsinh", inplace=("asinh_", "arcsinh_"))
def asinh(x: Tensor) -> Tensor:
    return _unary("AsinhBackward0", "arcsinh", x, _asinh_rule, "input")


def _asinh_rule(xp: Any, g: Any, x: Any) -> tuple:
    return (g / xp.sqrt(x * x + 1),)


@method("acosh", "arccosh", inplace=("acosh_", "arccosh_"))
def acosh(x: Tensor) -> Tensor:
    return _unary("AcoshBackward0", "arccosh", x, _acosh_rule, "input")


def _acosh_rule(xp: Any, g: Any, x: Any) -> tuple:
    with xp.quiet():
        return (g / xp.sqrt(x * x - 1),)


@method("atanh", "arctanh", inplace=("atanh_", "arctanh_"))
def atanh(x: Tensor) -> Tensor:
    return _unary("AtanhBackward0", "arctanh", x, _atanh_rule, "input")


def _atanh_rule(xp: Any, g: Any, x: Any) -> tuple:
    with xp.quiet():
        return (g / _one_minus_square(x),)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = (
    asin,
    acos,
    atan,
    asinh,
    acosh,
    atanh,
    atan2,
)


# ----------------------------------------------------------------------------- float binaries
def _float_kernel(op: str, a: Tensor) -> None:
    """Ops with floating kernels only: PyTorch's NotImplementedError for integer/bool input."""
    if a._data.dtype.kind != "f":
        raise not_implemented(f"{op}_cpu", a)


def _tensor_operand(op: str, value: Any, name: str, position: int) -> Tensor:
    """Ops without a Scalar overload (hypot, heaviside): PyTorch's TypeError for numbers."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
            f"{type(value).__name__}"
        )
    return value


@method("hypot", inplace="hypot_")
def hypot(a: Tensor, b: Tensor) -> Tensor:
    a, b = operands(a, _tensor_operand("hypot", b, "other", 2), "hypot")
    _float_kernel("hypot", a)
    data = _binary("hypot", "hypot", a, b)
    return record("HypotBackward0", data, (a, b), _hypot_rule, (a, b), save_output=True)


def _hypot_rule(xp: Any, g: Any, a: Any, b: Any, result: Any) -> tuple:
    with xp.quiet():
        return g * a / result, g * b / result


@method("logaddexp")
def logaddexp(a: Tensor, b: Tensor) -> Tensor:
    a, b = operands(a, _tensor_operand("logaddexp", b, "other", 2), "logaddexp")
    _float_kernel("logaddexp", a)
    data = _binary("logaddexp", "logaddexp", a, b)
    return record("LogaddexpBackward0", data, (a, b), _logaddexp_rule, (a, b))


def _logaddexp_rule(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    with xp.quiet():
        return g / (xp.exp(b - a) + 1), g / (xp.exp(a - b) + 1)


@method("logaddexp2")
def logaddexp2(a: Tensor, b: Tensor) -> Tensor:
    a, b = operands(a, _tensor_operand("logaddexp2", b, "other", 2), "logaddexp2")
    _float_kernel("logaddexp2", a)
    data = _binary("logaddexp2", "logaddexp2", a, b)
    return record("Logaddexp2Backward0", data, (a, b), _logaddexp2_rule, (a, b))


def _logaddexp2_rule(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    with xp.quiet():
        return g / (2.0 ** (b - a) + 1), g / (2.0 ** (a - b) + 1)


@method("xlogy", inplace="xlogy_")
def xlogy(a: Any, b: Any) -> Tensor:
    """``a * log(b)``, 0 where ``a`` is 0 (unless ``b`` is nan)."""
    a, b = float_operands(a, b, "xlogy")
    xp = array_module(a._data)
    with _ignore():
        x, y = a._data, b._data
        data = xp.where((x == 0) & ~xp.isnan(y), x.dtype.type(0), x * xp.log(y))
    return record("XlogyBackward0", data, (a, b), _xlogy_rule, (a, b))


def _xlogy_rule(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    with xp.quiet():
        # PyTorch: xlogy(grad, b) with 0 where a == 0 and b <= 0; grad * a / b
        ga = xp.where(xp.logical_and(a == 0, b <= 0), 0.0, g * xp.log(b))
        return ga, g * a / b


@method("logit", inplace="logit_")
def logit(x: Tensor, eps: float | None = None) -> Tensor:
    x = to_float(x)
    xp = array_module(x._data)
    d = x._data
    if eps is not None and eps >= 0:
        d = xp.clip(d, d.dtype.type(eps), d.dtype.type(1 - eps))
    with _ignore():
        data = xp.log(d / (1 - d))
    return record("LogitBackward0", data, (x,), lambda xp, g, x: _logit_rule(xp, g, x, eps), (x,))


def _logit_rule(xp: Any, g: Any, x: Any, eps: float | None) -> tuple:
    with xp.quiet():
        grad = g / (x * (1 - x))
    if eps is None or eps < 0:
        return (grad,)
    return (xp.where(xp.logical_or(x < eps, x > 1 - eps), 0.0, grad),)


@method("heaviside", inplace="heaviside_")
def heaviside(x: Tensor, values: Tensor) -> Tensor:
    values = _tensor_operand("heaviside", values, "values", 2)
    if x._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    xp = array_module(x._data)
    d = x._data
    zero = d.dtype.type(0)
    try:
        data = xp.where(d == zero, values._data, (d > zero).astype(d.dtype))
    except ValueError:
        raise broadcast_error("heaviside", d.shape, values._data.shape) from None
    return Tensor._make(data.astype(d.dtype, copy=False))


@method("copysign", inplace="copysign_")
def copysign(a: Any, b: Any) -> Tensor:
    a, b = float_operands(a, b, "copysign")
    data = _binary("copysign", "copysign", a, b)
    return record("CopysignBackward0", data, (a, b), _copysign_rule, (a,), save_output=True)


def _copysign_rule(xp: Any, g: Any, a: Any, result: Any) -> tuple:
    with xp.quiet():
        ratio = xp.where(a == 0, 0.0, result / a)
    return g * ratio, g * 0


@method("float_power", inplace="float_power_")
def float_power(a: Any, b: Any) -> Tensor:
    """``a ** b`` computed in float64, whatever the inputs' dtypes (PyTorch's)."""
    f64 = np.dtype(np.float64)
    a = cast(as_tensor(a, "float_power"), f64)
    if isinstance(b, Tensor):
        b = cast(b, f64)
    elif isinstance(b, int) and not isinstance(b, bool):
        b = float(b)
    return pow(a, b)


def _float_power_(self: Tensor, other: Any) -> Tensor:
    if self._data.dtype != np.float64:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {SCALAR_NAMES[self._data.dtype.name]} "
            "but the operation's result requires dtype Double"
        )
    return inplace.apply_inplace(self, "float_power_", lambda s: float_power(s, other), other)


@method("fmax")
def fmax(a: Tensor, b: Tensor) -> Tensor:
    """The larger of the two, ignoring nan (nan only where both are)."""
    a, b = operands(a, _tensor_operand("fmax", b, "other", 2), "fmax")
    data = _binary("fmax", "fmax", a, b)
    return record("FmaxBackward0", data, (a, b), _fmax_rule, (a, b))


def _fmax_rule(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    take_a = xp.logical_or(a >= b, b != b)
    return xp.where(take_a, g, 0.0), xp.where(take_a, 0.0, g)


@method("fmin")
def fmin(a: Tensor, b: Tensor) -> Tensor:
    """The smaller of the two, ignoring nan (nan only where both are)."""
    a, b = operands(a, _tensor_operand("fmin", b, "other", 2), "fmin")
    data = _binary("fmin", "fmin", a, b)
    return record("FminBackward0", data, (a, b), _fmin_rule, (a, b))


def _fmin_rule(xp: Any, g: Any, a: Any, b: Any) -> tuple:
    take_a = xp.logical_or(a <= b, b != b)
    return xp.where(take_a, g, 0.0), xp.where(take_a, 0.0, g)


_PI_180 = math.pi / 180
_180_PI = 180 / math.pi


@method("deg2rad", inplace="deg2rad_")
def deg2rad(x: Tensor) -> Tensor:
    return mul(to_float(x), _PI_180)


@method("rad2deg", inplace="rad2deg_")
def rad2deg(x: Tensor) -> Tensor:
    return mul(to_float(x), _180_PI)


@method("sinc", inplace="sinc_")
def sinc(x: Tensor) -> Tensor:
    """``sin(pi x) / (pi x)``, 1 at 0."""
    x = to_float(x)
    xp = array_module(x._data)
    d = x._data
    with _ignore():
        product = d * d.dtype.type(math.pi)
        data = xp.where(d == 0, d.dtype.type(1), xp.sin(product) / product)
    return record("SincBackward0", data.astype(d.dtype, copy=False), (x,), _sinc_rule, (x,))


def _sinc_rule(xp: Any, g: Any, x: Any) -> tuple:
    with xp.quiet():
        product = x * math.pi
        slope = (product * xp.cos(product) - xp.sin(product)) / (product * x)
        return (g * xp.where(x == 0, 0.0, slope),)


# ----------------------------------------------------------------------------- special functions
def _special(x: Tensor, fn: str, *args: Any) -> Any:
    """``scipy.special.<fn>(*args, x)`` (or the GPU backend's) in ``x``'s dtype."""
    from ndgrad._backend import special

    xp = array_module(x._data)
    with _ignore():
        out = xp.asarray(getattr(special(xp), fn)(*args, x._data))  # 0-d: not a scalar
        return out.astype(x._data.dtype, copy=False)


@method("erfc", inplace="erfc_")
def erfc(x: Tensor) -> Tensor:
    x = to_float(x)
    return record("ErfcBackward0", _special(x, "erfc"), (x,), _erfc_rule, (x,))


def _erfc_rule(xp: Any, g: Any, x: Any) -> tuple:
    return (g * -_TWO_OVER_SQRT_PI * xp.exp(-x * x),)


_HALF_SQRT_PI = math.sqrt(math.pi) / 2


@method("erfinv", inplace="erfinv_")
def erfinv(x: Tensor) -> Tensor:
    x = to_float(x)
    data = _special(x, "erfinv")
    return record("ErfinvBackward0", data, (x,), _erfinv_rule, save_output=True)


def _erfinv_rule(xp: Any, g: Any, result: Any) -> tuple:
    with xp.quiet():
        return (g * _HALF_SQRT_PI * xp.exp(result * result),)


@method("lgamma", inplace="lgamma_")
def lgamma(x: Tensor) -> Tensor:
    x = to_float(x)
    data = _special(x, "gammaln")
    data = array_module(data).where(x._data == -np.inf, data.dtype.type(np.inf), data)  # torch
    return record("LgammaBackward0", data, (x,), lambda xp, g, x: (g * xp.polygamma(0, x),), (x,))


@method("digamma", inplace="digamma_")
def digamma(x: Tensor) -> Tensor:
    x = to_float(x)
    xp = array_module(x._data)
    # PyTorch's pole at 0 is -inf from the right, +inf at -0.0 (SciPy gives -inf for both)
    data = xp.where(
        x._data == 0, xp.copysign(x._data.dtype.type(np.inf), -x._data), _special(x, "psi")
    )
    return record("DigammaBackward0", data, (x,), lambda xp, g, x: (g * xp.polygamma(1, x),), (x,))


def polygamma(n: int, x: Tensor) -> Tensor:
    """The ``n``-th derivative of digamma."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(
            f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}"
        )
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    if n == 0:
        return digamma(x)
    x = to_float(x)
    data = _polygamma_array(array_module(x._data), n, x._data)
    return record(
        "PolygammaBackward0", data, (x,), lambda xp, g, x: (g * xp.polygamma(n + 1, x),), (x,)
    )


def _polygamma_array(xp: Any, n: int, x: Any) -> Any:
    """``polygamma(n, x)`` of an array in its dtype (SciPy's, by the Hurwitz zeta function)."""
    from ndgrad._backend import special

    sp = special(xp)
    with _ignore():
        if n == 0:
            out = sp.psi(x)
        else:
            out = (-1.0) ** (n + 1) * math.gamma(n + 1) * sp.zeta(n + 1, x)
    return xp.asarray(out).astype(x.dtype, copy=False)


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    return polygamma(n, self)


def _polygamma_(self: Tensor, n: int) -> Tensor:
    return inplace.apply_inplace(self, "polygamma_", lambda s: polygamma(n, s))


@method("i0", inplace="i0_")
def i0(x: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 0."""
    x = to_float(x)
    return record("I0Backward0", _special(x, "i0"), (x,), lambda xp, g, x: (g * xp.i1(x),), (x,))


def _special_i1(x: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 1 (``torch.special.i1``)."""
    x = to_float(x)
    return record("SpecialI1Backward0", _special(x, "i1"), (x,), _i1_rule, (x,), save_output=True)


def _i1_rule(xp: Any, g: Any, x: Any, result: Any) -> tuple:
    with xp.quiet():
        slope = xp.i0(x) - result / x
    return (g * xp.where(x == 0, 0.5, slope),)


@method("mvlgamma", inplace="mvlgamma_")
def mvlgamma(x: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma function of dimension ``p``."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = to_float(x)
    from ndgrad._creation import arange

    offsets = arange(-p * 0.5 + 0.5, 0.5, 0.5, dtype=x.dtype, device=x.device)
    terms = lgamma(add(offsets, x.unsqueeze(-1)))
    out = add(terms.sum(-1), p * (p - 1) * math.log(math.pi) / 4)
    return named(out, "MvlgammaBackward0")


class _Frexp(tuple):
    """``torch.return_types.frexp``: (mantissa, exponent)."""

    __slots__ = ()

    def __new__(cls, mantissa: Tensor, exponent: Tensor) -> _Frexp:
        return tuple.__new__(cls, (mantissa, exponent))

    @property
    def mantissa(self) -> Tensor:
        return self[0]

    @property
    def exponent(self) -> Tensor:
        return self[1]

    def __repr__(self) -> str:
        return f"ndgrad.return_types.frexp(\nmantissa={self[0]!r},\nexponent={self[1]!r})"


@method("frexp")
def frexp(x: Tensor) -> tuple:
    if x._data.dtype.kind != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = array_module(x._data).frexp(x._data)
    return _Frexp(Tensor._make(mantissa), Tensor._make(exponent.astype(np.int32)))


@method("ldexp", inplace="ldexp_")
def ldexp(x: Any, other: Any) -> Tensor:
    """``x * 2 ** other``, as PyTorch composes it."""
    other = as_tensor(other, "ldexp")
    scale = pow(2.0, other.detach())
    x, scale = operands(x, scale, "ldexp")
    data = _binary("ldexp", "multiply", x, scale)
    e = other._data
    if e.dtype.kind in "iub":
        # PyTorch's rule multiplies by 2 ** other in other's integer dtype: 0 where other < 0
        xp = array_module(e)
        e = e.astype(np.int64)
        factor = xp.where(e < 0, 0, xp.left_shift(1, xp.maximum(e, 0)))
        factor = Tensor._make(factor.astype(other._data.dtype))
        return record("LdexpBackward0", data, (x, other), _ldexp_rule, (factor,))
    return record("LdexpBackward0", data, (x, other), _ldexp_float_rule, (scale,), save_output=True)


def _ldexp_rule(xp: Any, g: Any, factor: Any) -> tuple:
    return (g * factor, None)


def _ldexp_float_rule(xp: Any, g: Any, scale: Any, result: Any) -> tuple:
    return (g * scale, g * result * _LN2)


def _integer_binary(op: str, ufunc: str, a: Any, b: Any) -> Tensor:
    a, b = operands(a, b, op)
    if a._data.dtype.kind not in "iu":
        raise not_implemented(f"{op}_cpu", a)
    return Tensor._make(_binary(op, ufunc, a, b))


@method("gcd", inplace="gcd_")
def gcd(a: Any, b: Any) -> Tensor:
    return _integer_binary("gcd", "gcd", a, b)


@method("lcm", inplace="lcm_")
def lcm(a: Any, b: Any) -> Tensor:
    return _integer_binary("lcm", "lcm", a, b)


@method("nextafter", inplace="nextafter_")
def nextafter(a: Tensor, b: Tensor) -> Tensor:
    a, b = operands(a, _tensor_operand("nextafter", b, "other", 2), "nextafter")
    _float_kernel("nextafter", a)
    return Tensor._make(_binary("nextafter", "nextafter", a, b))


# ----------------------------------------------------------------------------- predicates
@method("isposinf")
def isposinf(x: Tensor) -> Tensor:
    xp = array_module(x._data)
    d = x._data
    return Tensor._make(d == np.inf if d.dtype.kind == "f" else xp.zeros(d.shape, bool))


@method("isneginf")
def isneginf(x: Tensor) -> Tensor:
    xp = array_module(x._data)
    d = x._data
    return Tensor._make(d == -np.inf if d.dtype.kind == "f" else xp.zeros(d.shape, bool))


@method("isreal")
def isreal(x: Tensor) -> Tensor:
    return Tensor._make(array_module(x._data).ones(x._data.shape, bool))


def isin(
    elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False
) -> Tensor:
    """Whether each of ``elements`` is among ``test_elements`` (either may be a number)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: no Tensor given")
    e = elements if isinstance(elements, Tensor) else as_tensor(elements, "isin")
    t = test_elements if isinstance(test_elements, Tensor) else as_tensor(test_elements, "isin")
    xp = array_module(e._data)
    data = xp.isin(e._data, t._data.reshape(-1), invert=invert)
    return Tensor._make(xp.asarray(data, dtype=bool).reshape(e._data.shape))


@method("positive")
def positive(x: Tensor) -> Tensor:
    if x._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return x


bind("float_power_", _float_power_)
bind("polygamma", _polygamma_method)
bind("polygamma_", _polygamma_)


# ----------------------------------------------------------------------------- dtype questions
@method("is_signed")
def is_signed(x: Tensor) -> bool:
    """Whether the dtype holds negative numbers (floats, signed integers)."""
    return x._data.dtype.kind in "fi"


@method("is_complex")
def is_complex(x: Tensor) -> bool:
    return x._data.dtype.kind == "c"


@method("is_same_size")
def is_same_size(x: Tensor, other: Tensor) -> bool:
    return tuple(x._data.shape) == tuple(other._data.shape)


def _bernoulli_method(self: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    """``x.bernoulli()``: draws with ``x``'s probabilities, or ``p`` for every element."""
    from ndgrad._creation import bernoulli as draw

    return draw(self, p, generator=generator)


def _multinomial_method(
    self: Tensor, num_samples: int, replacement: bool = False, *, generator: Any = None
) -> Tensor:
    from ndgrad._creation import multinomial as draw

    return draw(self, num_samples, replacement, generator=generator)


bind("bernoulli", _bernoulli_method)
bind("multinomial", _multinomial_method)
bind("is_cpu", property(lambda self: self.device.type == "cpu"))
bind("nbytes", property(lambda self: int(self._data.nbytes)))
bind("itemsize", property(lambda self: int(self._data.itemsize)))
