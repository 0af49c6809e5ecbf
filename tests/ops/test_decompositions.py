"""``torch.linalg``'s decompositions and solvers (solve, cholesky, eigh, svd, qr, slogdet)
and what is built on them (pinv, lstsq, matrix_rank, matrix_power, multi_dot, the 2/nuc
matrix norms, torch.svd/qr/logdet): values and gradients against torch in float64 (through
losses that do not depend on the arbitrary signs of eigen/singular vectors), finite
differences to second order over random shapes, float32 values and torch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad.autograd import gradcheck, gradgradcheck


def _sym(lib, x):
    return (x + x.transpose(-1, -2)) / 2


def _pd(lib, x):
    n = x.shape[-1]
    return x @ x.transpose(-1, -2) + n * lib.eye(n, dtype=x.dtype)


def _sign_free(lib, vectors, weights):
    """A loss of (eigen/singular) vectors that a column's sign does not change."""
    m, k = vectors.shape[-2:]
    squares = (vectors * vectors) * weights[..., :m, :k]
    gram = (vectors @ vectors.transpose(-1, -2)) * weights[..., :m, :m]
    return squares.sum() + gram.sum()


# name -> (function of (lib, A, W), shape of A); W is a fixed weight array
LOSSES = {
    "solve": (lambda lib, a, w: (lib.linalg.solve(_pd(lib, a), w[:3, :2]) * w[:3, :2]).sum(), (3, 3)),
    "solve_vector": (lambda lib, a, w: (lib.linalg.solve(_pd(lib, a), w[:3, 0]) ** 2).sum(), (3, 3)),
    "solve_right": (lambda lib, a, w: lib.linalg.solve(_pd(lib, a), w[:2, :3], left=False).sum(), (3, 3)),
    "cholesky": (lambda lib, a, w: (lib.linalg.cholesky(_pd(lib, a)) * w[:3, :3]).sum(), (3, 3)),
    "cholesky_upper": (
        lambda lib, a, w: (lib.linalg.cholesky(_pd(lib, a), upper=True) ** 2 * w[:, :3, :3]).sum(),
        (2, 3, 3),
    ),
    "eigh": (lambda lib, a, w: _eigh_loss(lib, _sym(lib, a), w), (3, 3)),
    "eigh_batched_upper": (lambda lib, a, w: _eigh_loss(lib, _sym(lib, a), w, "U"), (2, 3, 3)),
    "eigvalsh": (lambda lib, a, w: (lib.linalg.eigvalsh(_sym(lib, a)) * w[0, :3]).sum(), (3, 3)),
    "svd_tall": (lambda lib, a, w: _svd_loss(lib, a, w), (4, 3)),
    "svd_wide": (lambda lib, a, w: _svd_loss(lib, a, w), (2, 4)),
    "svdvals": (lambda lib, a, w: (lib.linalg.svdvals(a) * w[0, :3]).sum(), (4, 3)),
    "qr": (lambda lib, a, w: _qr_loss(lib, a, w), (4, 3)),
    "qr_square_batched": (lambda lib, a, w: _qr_loss(lib, a, w), (2, 3, 3)),
    "slogdet": (lambda lib, a, w: lib.linalg.slogdet(a).logabsdet.sum(), (3, 3)),
    "logdet": (lambda lib, a, w: lib.logdet(_pd(lib, a)), (3, 3)),
    "pinv": (lambda lib, a, w: (lib.linalg.pinv(a) * w[:3, :4]).sum(), (4, 3)),
    "lstsq": (lambda lib, a, w: (lib.linalg.lstsq(a, w[:4, :2]).solution * w[:3, :2]).sum(), (4, 3)),
    "matrix_power": (lambda lib, a, w: (lib.linalg.matrix_power(a, 3) * w[:3, :3]).sum(), (3, 3)),
    "matrix_power_neg": (lambda lib, a, w: (lib.linalg.matrix_power(_pd(lib, a), -2) * w[:3, :3]).sum(), (3, 3)),
    "multi_dot": (lambda lib, a, w: lib.linalg.multi_dot([w[0, :3], a, a.T, w[:3, 1]]), (3, 3)),
    "norm_2": (lambda lib, a, w: lib.linalg.matrix_norm(a, 2), (3, 4)),
    "norm_nuc": (lambda lib, a, w: lib.linalg.matrix_norm(a, "nuc"), (3, 4)),
    "old_svd": (lambda lib, a, w: (lib.svd(a).S * w[0, :3]).sum() + _sign_free(lib, lib.svd(a).V, w[:3, :3]), (4, 3)),
}  # fmt: skip


def _eigh_loss(lib, a, w, uplo="L"):
    values, vectors = lib.linalg.eigh(a, UPLO=uplo)
    n = values.shape[-1]
    return (values * w[..., 0, :n]).sum() + _sign_free(lib, vectors, w)


def _svd_loss(lib, a, w):
    u, s, vh = lib.linalg.svd(a, full_matrices=False)
    k = s.shape[-1]
    paired = (u * s.unsqueeze(-2)) @ vh  # a column's sign flips in u and vh together
    return (
        (s * w[..., 0, :k]).sum()
        + (paired * w[..., : a.shape[-2], : a.shape[-1]]).sum()
        + _sign_free(lib, u, w)
        + _sign_free(lib, vh.transpose(-1, -2), w)
    )


def _qr_loss(lib, a, w):
    q, r = lib.linalg.qr(a)
    return (q * w[..., : q.shape[-2], : q.shape[-1]]).sum() + (
        r**2 * w[..., : r.shape[-2], : r.shape[-1]]
    ).sum()


W = np.random.default_rng(5).standard_normal((2, 4, 4))


@pytest.mark.parametrize("name", LOSSES)
def test_values_and_gradients_match_torch(name):
    fn, shape = LOSSES[name]
    a = np.random.default_rng(1).standard_normal(shape)
    w = W[0] if len(shape) == 2 else W
    ours_a, theirs_a = ndgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours = fn(ndgrad, ours_a, ndgrad.tensor(w))
    theirs = fn(torch, theirs_a, torch.tensor(w))
    assert_close(ours, theirs, atol=1e-10, rtol=1e-9)
    ours.backward()
    theirs.backward()
    assert_close(ours_a.grad, theirs_a.grad, atol=1e-9, rtol=1e-8)


@pytest.mark.parametrize("name", LOSSES)
def test_finite_differences_to_second_order(name):
    fn, shape = LOSSES[name]
    a = ndgrad.tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
    w = ndgrad.tensor(W[0] if len(shape) == 2 else W)
    assert gradcheck(lambda x: fn(ndgrad, x, w), (a,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(lambda x: fn(ndgrad, x, w), (a,), eps=1e-6, atol=1e-4, rtol=1e-3)


@settings(max_examples=15, deadline=None)
@given(
    batch=st.sampled_from([(), (2,)]),
    m=st.integers(1, 4),
    n=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_svd_qr_eigh_gradients(batch, m, n, seed):
    rng = np.random.default_rng(seed)
    a = ndgrad.tensor(rng.standard_normal(batch + (m, n)), requires_grad=True)
    w = ndgrad.tensor(rng.standard_normal(batch + (4, 4)))
    assert gradcheck(lambda x: _svd_loss(ndgrad, x, w), (a,), eps=1e-6, atol=1e-4, rtol=1e-3)
    if m >= n:
        assert gradcheck(lambda x: _qr_loss(ndgrad, x, w), (a,), eps=1e-6, atol=1e-4, rtol=1e-3)
    s = ndgrad.tensor(rng.standard_normal(batch + (n, n)), requires_grad=True)
    assert gradcheck(
        lambda x: _eigh_loss(ndgrad, _sym(ndgrad, x), w), (s,), eps=1e-6, atol=1e-4, rtol=1e-3
    )


def test_float32_values_and_return_types_match_torch():
    a = torch.randn(5, 3)
    s = a.T @ a + torch.eye(3)
    for ours, theirs in [
        (
            ndgrad.linalg.eigh(ndgrad.tensor(s.numpy())).eigenvalues,
            torch.linalg.eigh(s).eigenvalues,
        ),
        (ndgrad.linalg.svdvals(ndgrad.tensor(a.numpy())), torch.linalg.svdvals(a)),
        (ndgrad.linalg.cholesky(ndgrad.tensor(s.numpy())), torch.linalg.cholesky(s)),
        (ndgrad.linalg.qr(ndgrad.tensor(a.numpy())).R.abs(), torch.linalg.qr(a).R.abs()),
        (
            ndgrad.linalg.slogdet(ndgrad.tensor(s.numpy())).logabsdet,
            torch.linalg.slogdet(s).logabsdet,
        ),
        (ndgrad.linalg.matrix_rank(ndgrad.ones(3, 3)), torch.linalg.matrix_rank(torch.ones(3, 3))),
    ]:
        assert ours.dtype == getattr(ndgrad, str(theirs.dtype).split(".")[1])
        assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    for ours, theirs in [
        (ndgrad.linalg.slogdet(ndgrad.eye(2)), torch.linalg.slogdet(torch.eye(2))),
        (ndgrad.linalg.eigh(ndgrad.eye(2)), torch.linalg.eigh(torch.eye(2))),
        (ndgrad.svd(ndgrad.eye(2) * 2), torch.svd(torch.eye(2) * 2)),
    ]:
        assert repr(ours).replace("ndgrad.", "torch.") == repr(theirs)
    ours = ndgrad.linalg.lstsq(ndgrad.ones(3, 2), ndgrad.ones(3, 1))
    theirs = torch.linalg.lstsq(torch.ones(3, 2), torch.ones(3, 1))
    assert ours.rank.item() == theirs.rank.item() and ours.residuals.shape == theirs.residuals.shape


ERRORS = [
    lambda lib: lib.linalg.cholesky(-lib.eye(2)),
    lambda lib: lib.linalg.cholesky(lib.ones(2, 3)),
    lambda lib: lib.linalg.solve(lib.zeros(2, 2), lib.ones(2)),
    lambda lib: lib.linalg.solve(lib.eye(2), lib.ones(3, 1)),
    lambda lib: lib.linalg.eigh(lib.ones(2, 3)),
    lambda lib: lib.linalg.svd(lib.ones(3)),
    lambda lib: lib.linalg.qr(lib.ones(2, 2), mode="full"),
    lambda lib: lib.linalg.matrix_power(lib.ones(2, 3), 2),
]


@pytest.mark.parametrize("call", ERRORS)
def test_bad_input_gets_torchs_exception_class(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(ndgrad)
    assert (
        isinstance(ours.value, type(theirs.value))
        or type(theirs.value).__name__ == type(ours.value).__name__
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda lib, a: lib.linalg.cholesky(a),
        lambda lib, a: lib.linalg.solve(a, lib.ones(3, 2, dtype=a.dtype)),
    ],
)
def test_changing_a_saved_output_in_place_makes_backward_raise_as_torch(make):
    a = np.random.default_rng(3).standard_normal((3, 3))
    a = a @ a.T + 3 * np.eye(3)
    for lib in (torch, ndgrad):
        x = lib.tensor(a, requires_grad=True)
        out = make(lib, x)
        with lib.no_grad():
            out.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()


def test_ex_forms_report_failure_in_info_as_torch():
    for call in (
        lambda lib: lib.linalg.cholesky_ex(-lib.eye(2)),
        lambda lib: lib.linalg.inv_ex(lib.zeros(2, 2)),
        lambda lib: lib.linalg.inv_ex(2 * lib.eye(2)),
    ):
        ours, theirs = call(ndgrad), call(torch)
        assert ours[1].item() == (theirs[1].item() != 0)
        assert str(ours[1].dtype).split(".")[1] == str(theirs[1].dtype).split(".")[1]
    assert_close(
        ndgrad.linalg.inv_ex(2 * ndgrad.eye(2))[0], torch.linalg.inv_ex(2 * torch.eye(2))[0]
    )
