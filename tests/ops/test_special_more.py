"""``torch.special``'s remaining functions and ``igamma``/``igammac``: values (float64 and
float32, dtypes), gradients and grad_fn names against torch, finite differences to second
order, the functions torch does not differentiate, and torch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad.autograd import gradcheck, gradgradcheck

X = np.concatenate([np.random.default_rng(0).uniform(-3, 3, 20), [0.0, -0.0, 1.0, -1.0, 0.5, 2.0]])
UNARY = [
    "entr",
    "erfcx",
    "i0e",
    "i1e",
    "log_ndtr",
    "ndtri",
    "bessel_j0",
    "bessel_j1",
    "bessel_y0",
    "bessel_y1",
    "modified_bessel_i0",
    "modified_bessel_i1",
    "modified_bessel_k0",
    "modified_bessel_k1",
    "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1",
    "spherical_bessel_j0",
    "airy_ai",
]
POLYNOMIALS = [
    "chebyshev_polynomial_t",
    "chebyshev_polynomial_u",
    "chebyshev_polynomial_v",
    "chebyshev_polynomial_w",
    "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u",
    "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w",
    "hermite_polynomial_h",
    "hermite_polynomial_he",
    "laguerre_polynomial_l",
    "legendre_polynomial_p",
]


def _input(name):
    return np.abs(X) / 3.5 if name == "ndtri" else X


@pytest.mark.parametrize("name", UNARY)
def test_unary_values_match_torch(name):
    x = _input(name)
    for dtype, tol in ((np.float64, 1e-7 if name == "airy_ai" else 1e-10), (np.float32, 1e-6)):
        ours = getattr(ndgrad.special, name)(ndgrad.tensor(x.astype(dtype)))
        theirs = getattr(torch.special, name)(torch.tensor(x.astype(dtype)))
        assert ours.dtype == getattr(ndgrad, str(theirs.dtype).split(".")[1])
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tol, atol=tol)
    ints = torch.tensor([0, 1, 2])
    assert_close(
        getattr(ndgrad.special, name)(ndgrad.tensor([0, 1, 2])),
        getattr(torch.special, name)(ints),
        atol=1e-6,
    )


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_match_torch(name):
    degrees = np.array([-1, 0, 1, 2, 3, 5, 7, 9, 12] * 3)[: X.size]
    ours = getattr(ndgrad.special, name)(ndgrad.tensor(X / 3), ndgrad.tensor(degrees))
    theirs = getattr(torch.special, name)(torch.tensor(X / 3), torch.tensor(degrees))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-8, atol=1e-10)
    for x, n in ((X.astype(np.float32), 3), ([1, 2], 3), (X.astype(np.float32), 2.0)):
        ours = getattr(ndgrad.special, name)(ndgrad.tensor(x), n)
        theirs = getattr(torch.special, name)(torch.tensor(x), n)
        assert ours.dtype == getattr(ndgrad, str(theirs.dtype).split(".")[1])
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)


def test_not_differentiated_as_in_torch():
    x = ndgrad.tensor([0.3, 1.5], requires_grad=True)
    assert ndgrad.special.bessel_j0(x).grad_fn is None
    assert ndgrad.special.hermite_polynomial_h(x, 2).grad_fn is None
    assert ndgrad.special.airy_ai(x).requires_grad is False


# name -> (f(lib, x), domain of x)
GRADS = {
    "entr": (lambda lib, x: lib.special.entr(x), "positive"),
    "erfcx": (lambda lib, x: lib.special.erfcx(x), "any"),
    "i0e": (lambda lib, x: lib.special.i0e(x), "any"),
    "i1e": (lambda lib, x: lib.special.i1e(x), "any"),
    "log_ndtr": (lambda lib, x: lib.special.log_ndtr(x), "any"),
    "ndtri": (lambda lib, x: lib.special.ndtri(x), "unit"),
    "xlog1py": (lambda lib, x: lib.special.xlog1py(x, x * x), "any"),
    "zeta": (lambda lib, x: lib.special.zeta(3.0, x), "positive"),
    "igamma": (
        lambda lib, x: lib.igamma(lib.tensor([0.5, 1.0, 2.0, 3.5], dtype=x.dtype), x),
        "positive",
    ),
    "igammac": (
        lambda lib, x: lib.special.gammaincc(lib.tensor([0.5, 1.0, 2.0, 3.5], dtype=x.dtype), x),
        "positive",
    ),
}


def _domain(kind, dtype=np.float64):
    x = np.random.default_rng(1).uniform(-2, 2, 4)
    if kind == "positive":
        x = np.abs(x) + 0.2
    elif kind == "unit":
        x = np.abs(x) / 2.5 + 0.05
    return x.astype(dtype)


@pytest.mark.parametrize("name", GRADS)
def test_gradients_and_grad_fn_match_torch(name):
    fn, kind = GRADS[name]
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-5)):
        x = _domain(kind, dtype)
        ours_x = ndgrad.tensor(x, requires_grad=True)
        theirs_x = torch.tensor(x, requires_grad=True)
        ours, theirs = fn(ndgrad, ours_x), fn(torch, theirs_x)
        assert ours.grad_fn.name() == theirs.grad_fn.name()
        assert_close(ours, theirs, atol=tol, rtol=tol)
        ours.sum().backward()
        theirs.sum().backward()
        assert ours_x.grad.dtype == ours_x.dtype
        assert_close(ours_x.grad, theirs_x.grad, atol=tol, rtol=tol)


@pytest.mark.parametrize("name", GRADS)
def test_finite_differences_to_second_order(name):
    fn, kind = GRADS[name]
    x = ndgrad.tensor(_domain(kind), requires_grad=True)
    assert gradcheck(lambda t: fn(ndgrad, t), (x,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(lambda t: fn(ndgrad, t), (x,), eps=1e-6, atol=1e-4, rtol=1e-3)


def test_special_values_at_the_edges_match_torch():
    for ours, theirs in [
        (
            ndgrad.special.entr(ndgrad.tensor([0.0, -1.0, float("inf"), float("nan")])),
            torch.special.entr(torch.tensor([0.0, -1.0, float("inf"), float("nan")])),
        ),
        (ndgrad.special.entr(ndgrad.tensor([1, 2])), torch.special.entr(torch.tensor([1, 2]))),
        (
            ndgrad.special.log_ndtr(ndgrad.tensor([-40.0, 0.0, 5.0])),
            torch.special.log_ndtr(torch.tensor([-40.0, 0.0, 5.0])),
        ),
        (
            ndgrad.special.ndtri(ndgrad.tensor([0.0, 0.5, 1.0])),
            torch.special.ndtri(torch.tensor([0.0, 0.5, 1.0])),
        ),
        (
            ndgrad.special.xlog1py(ndgrad.tensor([0.0, 1.0]), ndgrad.tensor([-1.0, float("nan")])),
            torch.special.xlog1py(torch.tensor([0.0, 1.0]), torch.tensor([-1.0, float("nan")])),
        ),
        (
            ndgrad.special.zeta(2.0, ndgrad.tensor([1.0, 2.0])),
            torch.special.zeta(2.0, torch.tensor([1.0, 2.0])),
        ),
        (
            ndgrad.igammac(ndgrad.tensor([1.0, 2.0]), ndgrad.tensor([0.0, float("inf")])),
            torch.igammac(torch.tensor([1.0, 2.0]), torch.tensor([0.0, float("inf")])),
        ),
    ]:
        assert repr(ours).replace("ndgrad", "torch") == repr(theirs)


def test_the_first_argument_of_igamma_and_zeta_is_not_differentiated_as_in_torch():
    for lib in (torch, ndgrad):
        with pytest.raises(NotImplementedError) as err:
            lib.igamma(lib.tensor([1.0], requires_grad=True), lib.tensor([2.0])).sum().backward()
        assert str(err.value) == "the derivative for 'igamma: input' is not implemented."
        with pytest.raises(NotImplementedError) as err:
            lib.igammac(lib.tensor([1.0], requires_grad=True), lib.tensor([2.0])).sum().backward()
        assert str(err.value) == "the derivative for 'igammac: input' is not implemented."
    with pytest.raises(NotImplementedError, match=r'"igamma_cpu" not implemented for \'Long\''):
        ndgrad.igamma(ndgrad.tensor([1, 2]), ndgrad.tensor([1, 2]))
    with pytest.raises(
        NotImplementedError, match="^the derivative for 'zeta' is not implemented.$"
    ):
        ndgrad.special.zeta(ndgrad.tensor([2.0], requires_grad=True), 1.0).sum().backward()
