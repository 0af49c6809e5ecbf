"""``torch.special``'s functions beyond the core pointwise ops: the incomplete gamma functions
(``igamma``/``igammac``), ``entr``, ``erfcx``, ``i0e``/``i1e``, ``log_ndtr``, ``ndtri``,
``xlog1py``, ``zeta``, and the functions PyTorch does not differentiate (Bessel and Airy
functions, the orthogonal polynomials).

Values come from SciPy (``scipy.special``, or CuPy's on a GPU); each derivative is PyTorch's
formula written with these same ops (a Tensor backward, so every order works).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._backend import array_module, special
from ndgrad._tensor import Tensor
from ndgrad.autograd.graph import record_multi
from ndgrad.ops._common import float_operands, method, not_implemented, operands, to_float
from ndgrad.ops.pointwise import exp, lgamma, log, where

_SQRT_2PI = math.sqrt(2 * math.pi)


def _call(fn: str, *arrays: Any, dtype: Any) -> Any:
    xp = array_module(arrays[0])
    with np.errstate(all="ignore"):
        out = xp.asarray(getattr(special(xp), fn)(*arrays))
    return out.astype(dtype, copy=False)


def _unary(name: str, fn: str, x: Tensor, backward: Any = None) -> Tensor:
    x = to_float(x)
    data = _call(fn, x._data, dtype=x._data.dtype)
    if backward is None:
        return Tensor._make(data)
    return record_multi(name, (data,), (x,), lambda g: (backward(g, x),))[0]


# ----------------------------------------------------------------------------- incomplete gamma
def _igamma_operands(a: Any, x: Any, op: str) -> tuple[Tensor, Tensor]:
    a, x = operands(a, x, op)
    if a._data.dtype.kind != "f":
        raise not_implemented(f"{op}_cpu", a)
    return a, x


def _igamma_slope(a: Tensor, x: Tensor) -> Tensor:
    """``d/dx P(a, x) = x^(a-1) e^-x / Gamma(a)``."""
    return exp((a - 1) * log(x) - x - lgamma(a))


def _input_grad(op: str) -> Any:
    def fail(*_: Any) -> Any:
        raise NotImplementedError(f"the derivative for '{op}: input' is not implemented.")

    return fail


@method("igamma", inplace="igamma_")
def igamma(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The regularized lower incomplete gamma function ``P(a, x)``."""
    a, x = _igamma_operands(input, other, "igamma")
    data = _call("gammainc", a._data, x._data, dtype=a._data.dtype)
    return _igamma_node("IgammaBackward0", data, a, x, 1.0)


@method("igammac", inplace="igammac_")
def igammac(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``."""
    a, x = _igamma_operands(input, other, "igammac")
    data = _call("gammaincc", a._data, x._data, dtype=a._data.dtype)
    return _igamma_node("IgammacBackward0", data, a, x, -1.0)


def _igamma_node(name: str, data: Any, a: Tensor, x: Tensor, sign: float) -> Tensor:
    op = "igamma" if sign > 0 else "igammac"

    def backward(g: Tensor) -> tuple:
        ga = _input_grad(op)() if a._requires_grad else None
        return ga, g * sign * _igamma_slope(a, x)

    return record_multi(name, (data,), (a, x), backward)[0]


gammainc = igamma
gammaincc = igammac


# ----------------------------------------------------------------------------- unary, differentiable
def entr(x: Tensor) -> Tensor:
    """``-x log x`` (0 at 0, -inf below)."""
    x = to_float(x)
    xp = array_module(x._data)
    d = x._data
    with np.errstate(all="ignore"):
        data = xp.where(d > 0, -d * xp.log(d), xp.where(d == 0, d.dtype.type(0), -np.inf))
        data = xp.where(xp.isnan(d), d, data).astype(d.dtype, copy=False)
    return record_multi("SpecialEntrBackward0", (data,), (x,), lambda g: (g * -(1 + log(x)),))[0]


def erfcx(x: Tensor) -> Tensor:
    """The scaled complementary error function ``exp(x^2) erfc(x)``."""
    return _unary(
        "SpecialErfcxBackward0",
        "erfcx",
        x,
        lambda g, x: g * (2 * x * erfcx(x) - 2 / math.sqrt(math.pi)),
    )


def i0e(x: Tensor) -> Tensor:
    """``exp(-|x|) I0(x)``."""
    return _unary("SpecialI0EBackward0", "i0e", x, lambda g, x: g * (i1e(x) - x.sign() * i0e(x)))


def i1e(x: Tensor) -> Tensor:
    """``exp(-|x|) I1(x)``; its slope at 0 is 1/2."""

    def backward(g: Tensor, x: Tensor) -> Tensor:
        safe = where(x == 0, 1.0, x)
        slope = i0e(x) - i1e(x) * (x.sign() + 1 / safe)
        return g * where(x == 0, 0.5, slope)

    return _unary("SpecialI1EBackward0", "i1e", x, backward)


def log_ndtr(x: Tensor) -> Tensor:
    """The log of the standard normal distribution function."""
    return _unary(
        "SpecialLogNdtrBackward0",
        "log_ndtr",
        x,
        lambda g, x: g * exp(-0.5 * x * x - log_ndtr(x)) / _SQRT_2PI,
    )


def ndtri(x: Tensor) -> Tensor:
    """The inverse of the standard normal distribution function."""
    return _unary(
        "SpecialNdtriBackward0",
        "ndtri",
        x,
        lambda g, x: g * _SQRT_2PI * exp(0.5 * ndtri(x) ** 2),
    )


def xlog1py(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``x log(1 + y)``, 0 where ``x`` is 0 (unless ``y`` is nan)."""
    a, b = float_operands(input, other, "xlog1py")
    xp = array_module(a._data)
    x, y = a._data, b._data
    with np.errstate(all="ignore"):
        data = xp.where((x == 0) & ~xp.isnan(y), x.dtype.type(0), x * xp.log1p(y))

    def backward(g: Tensor) -> tuple:
        return g * xlog1py((a != 0).to(a.dtype), b), g * a / (b + 1)

    return record_multi("SpecialXlog1PyBackward0", (data,), (a, b), backward)[0]


def zeta(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The Hurwitz zeta function ``sum_k (k + q)^-x``; differentiable in ``q`` only."""
    # PyTorch's node for a number as x (or q) is SpecialZetaBackward1 (2)
    name = "SpecialZetaBackward" + (
        "1" if not isinstance(input, Tensor) else "2" if not isinstance(other, Tensor) else "0"
    )
    a, q = float_operands(input, other, "zeta")
    data = _call("zeta", a._data, q._data, dtype=a._data.dtype)

    def backward(g: Tensor) -> tuple:
        if a._requires_grad:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        return None, g * -a * zeta(a + 1, q)

    return record_multi(name, (data,), (a, q), backward)[0]


# ----------------------------------------------------------------------------- not differentiated
def _plain(fn: str) -> Any:
    def op(input: Tensor) -> Tensor:  # noqa: A002
        return _unary("", fn, input)

    op.__name__ = fn
    return op


bessel_j0 = _plain("j0")
bessel_j1 = _plain("j1")
bessel_y0 = _plain("y0")
bessel_y1 = _plain("y1")
modified_bessel_i0 = _plain("i0")
modified_bessel_i1 = _plain("i1")
modified_bessel_k0 = _plain("k0")
modified_bessel_k1 = _plain("k1")
scaled_modified_bessel_k0 = _plain("k0e")
scaled_modified_bessel_k1 = _plain("k1e")


def spherical_bessel_j0(input: Tensor) -> Tensor:  # noqa: A002
    """``sin(x) / x`` (1 at 0)."""
    x = to_float(input)
    xp = array_module(x._data)
    d = x._data
    with np.errstate(all="ignore"):
        data = xp.where(d == 0, d.dtype.type(1), xp.sin(d) / d).astype(d.dtype, copy=False)
    return Tensor._make(data)


def airy_ai(input: Tensor) -> Tensor:  # noqa: A002
    x = to_float(input)
    xp = array_module(x._data)
    with np.errstate(all="ignore"):
        data = xp.asarray(special(xp).airy(x._data)[0])
    return Tensor._make(data.astype(x._data.dtype, copy=False))


def _polynomial(evaluate: Any) -> Any:
    """A polynomial of degree ``n`` (a tensor or a number, truncated to an integer) at ``x``;
    0 for negative degrees, as in PyTorch."""

    def op(input: Any, n: Any) -> Tensor:  # noqa: A002
        x, k = operands(input, n, "polynomial")
        if x._data.dtype.kind != "f":
            x = to_float(x)
            k = k if k._data.dtype.kind != "f" else k.to(x.dtype)
        xp = array_module(x._data)
        deg = k._data
        x_data = xp.broadcast_to(x._data, np.broadcast_shapes(x._data.shape, deg.shape))
        degree = xp.trunc(deg).astype(np.int64) if deg.dtype.kind == "f" else deg.astype(np.int64)
        with np.errstate(all="ignore"):
            values = evaluate(special(xp), xp.maximum(degree, 0), x_data.astype(np.float64))
            data = xp.where(degree < 0, 0.0, values)
        return Tensor._make(xp.asarray(data).astype(x._data.dtype, copy=False))

    return op


def _cheb_v(sp: Any, n: Any, x: Any) -> Any:
    return np.where(n == 0, 1.0, sp.eval_chebyu(n, x) - sp.eval_chebyu(np.maximum(n - 1, 0), x))


def _cheb_w(sp: Any, n: Any, x: Any) -> Any:
    return np.where(n == 0, 1.0, sp.eval_chebyu(n, x) + sp.eval_chebyu(np.maximum(n - 1, 0), x))


chebyshev_polynomial_t = _polynomial(lambda sp, n, x: sp.eval_chebyt(n, x))
chebyshev_polynomial_u = _polynomial(lambda sp, n, x: sp.eval_chebyu(n, x))
chebyshev_polynomial_v = _polynomial(_cheb_v)
chebyshev_polynomial_w = _polynomial(_cheb_w)
shifted_chebyshev_polynomial_t = _polynomial(lambda sp, n, x: sp.eval_chebyt(n, 2 * x - 1))
shifted_chebyshev_polynomial_u = _polynomial(lambda sp, n, x: sp.eval_chebyu(n, 2 * x - 1))
shifted_chebyshev_polynomial_v = _polynomial(lambda sp, n, x: _cheb_v(sp, n, 2 * x - 1))
shifted_chebyshev_polynomial_w = _polynomial(lambda sp, n, x: _cheb_w(sp, n, 2 * x - 1))
hermite_polynomial_h = _polynomial(lambda sp, n, x: sp.eval_hermite(n, x))
hermite_polynomial_he = _polynomial(lambda sp, n, x: sp.eval_hermitenorm(n, x))
laguerre_polynomial_l = _polynomial(lambda sp, n, x: sp.eval_laguerre(n, x))
legendre_polynomial_p = _polynomial(lambda sp, n, x: sp.eval_legendre(n, x))

__all__ = ["igamma", "igammac"]
