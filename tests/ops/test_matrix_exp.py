"""``linalg.matrix_exp`` and ``linalg.householder_product`` (and ``torch.geqrf``): values
and gradients against torch in float64 and float32, finite differences to second order,
torch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad.autograd import gradcheck, gradgradcheck


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("scale", [1e-3, 0.5, 3.0, 30.0])
def test_matrix_exp_values_and_grad_vs_torch(dtype, scale):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((2, 3, 4, 4)) * scale).astype(dtype)
    g = rng.standard_normal(a.shape).astype(dtype)
    x = ndgrad.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    out, ref = ndgrad.linalg.matrix_exp(x), torch.linalg.matrix_exp(t)
    out.backward(ndgrad.tensor(g))
    ref.backward(torch.tensor(g))
    rtol = 1e-10 if dtype == "float64" else 2e-5
    scale_out = float(np.abs(ref.detach().numpy()).max())
    assert out.dtype == getattr(ndgrad, dtype)
    assert_close(out, ref, atol=rtol * scale_out, rtol=rtol)
    scale_grad = float(np.abs(t.grad.numpy()).max())
    assert_close(x.grad, t.grad, atol=rtol * 10 * scale_grad, rtol=rtol * 10)
    assert out.grad_fn.name() == "LinalgMatrixExpBackward0"


def test_matrix_exp_aliases_and_edge_cases():
    a = np.random.default_rng(1).standard_normal((3, 3))
    ref = torch.linalg.matrix_exp(torch.tensor(a)).numpy()
    np.testing.assert_allclose(ndgrad.matrix_exp(ndgrad.tensor(a)).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(ndgrad.tensor(a).matrix_exp().numpy(), ref, rtol=1e-12)
    assert ndgrad.linalg.matrix_exp(ndgrad.zeros(0, 0)).shape == (0, 0)
    assert ndgrad.linalg.matrix_exp(ndgrad.zeros(2, 0, 0)).shape == (2, 0, 0)
    np.testing.assert_allclose(ndgrad.linalg.matrix_exp(ndgrad.zeros(2, 2)).numpy(), np.eye(2))
    # a skew-symmetric matrix: an orthogonal exponential
    s = a - a.T
    q = ndgrad.linalg.matrix_exp(ndgrad.tensor(s)).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)


def test_matrix_exp_gradcheck_to_second_order():
    rng = np.random.default_rng(2)
    for shape in [(3, 3), (2, 2, 2)]:
        x = ndgrad.tensor(rng.standard_normal(shape), requires_grad=True)
        assert gradcheck(ndgrad.linalg.matrix_exp, (x,))
        assert gradgradcheck(ndgrad.linalg.matrix_exp, (x,))


def test_matrix_exp_double_backward_vs_torch():
    a = np.random.default_rng(3).standard_normal((3, 3))
    results = []
    for lib in (ndgrad, torch):
        x = lib.tensor(a, requires_grad=True)
        (g,) = lib.autograd.grad((lib.linalg.matrix_exp(x) ** 2).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        results.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((3,), "linalg.matrix_exp: The input tensor A must have at least 2 dimensions."),
        ((3, 4), "linalg.matrix_exp: A must be batches of square matrices, but they are 3 by 4"),
    ],
)
def test_matrix_exp_errors(shape, message):
    for lib in (ndgrad, torch):
        with pytest.raises(RuntimeError, match=message):
            lib.linalg.matrix_exp(lib.ones(shape))
    for lib in (ndgrad, torch):
        with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor"):
            lib.linalg.matrix_exp(lib.ones((2, 2), dtype=lib.int64))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape, k", [((5, 3), 2), ((4, 4), 4), ((2, 6, 3), 3), ((3, 2), 0)])
def test_householder_product_vs_torch(dtype, shape, k):
    rng = np.random.default_rng(4)
    a = rng.standard_normal(shape).astype(dtype)
    tau = rng.standard_normal(shape[:-2] + (k,)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    outs = []
    for lib in (ndgrad, torch):
        x = lib.tensor(a, requires_grad=True)
        t = lib.tensor(tau, requires_grad=True)
        q = lib.linalg.householder_product(x, t)
        q.backward(lib.tensor(g))
        outs.append((q, x.grad, t.grad))
    tol = 1e-12 if dtype == "float64" else 1e-5
    for mine, ref in zip(outs[0], outs[1], strict=True):
        if ref is None:  # no reflector: torch leaves the gradients None, ndgrad gives zeros
            assert not mine.numpy().any()
        else:
            assert_close(mine, ref, atol=tol, rtol=tol)
    np.testing.assert_allclose(
        ndgrad.orgqr(ndgrad.tensor(a), ndgrad.tensor(tau)).numpy(),
        torch.orgqr(torch.tensor(a), torch.tensor(tau)).numpy(),
        atol=tol,
    )


def test_householder_product_gradcheck_to_second_order():
    rng = np.random.default_rng(5)
    x = ndgrad.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    t = ndgrad.tensor(rng.standard_normal(2), requires_grad=True)
    fn = ndgrad.linalg.householder_product
    assert gradcheck(fn, (x, t))
    assert gradgradcheck(fn, (x, t))


def test_geqrf_householder_product_gives_q():
    a = np.random.default_rng(6).standard_normal((2, 5, 3))
    x, tau = ndgrad.geqrf(ndgrad.tensor(a))
    tx, ttau = torch.geqrf(torch.tensor(a))
    np.testing.assert_allclose(x.numpy(), tx.numpy(), atol=1e-12)
    np.testing.assert_allclose(tau.numpy(), ttau.numpy(), atol=1e-12)
    q = ndgrad.linalg.householder_product(x, tau).numpy()
    np.testing.assert_allclose(q, np.linalg.qr(a)[0], atol=1e-12)


@pytest.mark.parametrize(
    "a_shape, tau_shape, message",
    [
        ((3,), (1,), "input must have at least 2 dimensions"),
        ((3, 4), (2,), r"input.shape\[-2\] must be greater than or equal to input.shape\[-1\]"),
        ((4, 3), (4,), r"input.shape\[-1\] must be greater than or equal to tau.shape\[-1\]"),
        ((2, 4, 3), (3, 2), r"Expected batch dimensions of tau to be equal to input.shape\[:-2\]"),
    ],
)
def test_householder_product_errors(a_shape, tau_shape, message):
    for lib in (ndgrad, torch):
        with pytest.raises(RuntimeError, match=message):
            lib.linalg.householder_product(lib.ones(a_shape), lib.ones(tau_shape))
    for lib in (ndgrad, torch):
        with pytest.raises(RuntimeError, match="tau dtype Double does not match input dtype Float"):
            lib.linalg.householder_product(lib.ones(4, 3), lib.ones(2, dtype=lib.float64))
