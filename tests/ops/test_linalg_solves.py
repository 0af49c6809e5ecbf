"""Triangular, LU and Cholesky solves (``linalg.solve_triangular``, ``linalg.lu_factor``/
``lu``/``lu_solve``, ``lu_unpack``, ``cholesky_solve``, ``cholesky_inverse``,
``triangular_solve``, ``torch.lu``/``lu_solve``): values, pivots, gradients and grad_fn
names against torch in float64, float32 values, finite differences to second order, and
torch's exceptions and messages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad.autograd import gradcheck, gradgradcheck

warnings.filterwarnings("ignore", message=".*deprecated.*")


def _tri(lib, a):
    """A well-conditioned triangular-ish matrix (both triangles set: only one is read)."""
    n = a.shape[-1]
    return a + 3 * lib.eye(n, dtype=a.dtype)


def _pd_factor(lib, a):
    n = a.shape[-1]
    return a.tril() + 3 * lib.eye(n, dtype=a.dtype)


def _lu_loss(lib, a, w):
    lu, piv = lib.linalg.lu_factor(a)
    return (lu * w[..., : lu.shape[-2], : lu.shape[-1]]).sum()


def _plu_loss(lib, a, w):
    p, l, u = lib.linalg.lu(a)
    return (l * w[..., : l.shape[-2], : l.shape[-1]]).sum() + (u**2).sum() + p.sum()


# name -> (loss of (lib, A, W), shape of A); W a fixed weight array
LOSSES = {
    "solve_triangular_upper": (
        lambda lib, a, w: (
            lib.linalg.solve_triangular(_tri(lib, a), w[:3, :2], upper=True) * w[1:, 2:]
        ).sum(),
        (3, 3),
    ),
    "solve_triangular_lower_right_unit": (
        lambda lib, a, w: (
            lib.linalg.solve_triangular(
                _tri(lib, a), w[:, :2, :3], upper=False, left=False, unitriangular=True
            )
            ** 2
        ).sum(),
        (2, 3, 3),
    ),
    "solve_triangular_broadcast": (
        lambda lib, a, w: lib.linalg.solve_triangular(
            _tri(lib, a), lib.stack([w[:3, :1], w[1:, 2:3]]), upper=False
        ).sum(),
        (3, 3),
    ),
    "lu_factor_square": (_lu_loss, (3, 3)),
    "lu_factor_batched": (_lu_loss, (2, 3, 3)),
    "lu_factor_wide": (_lu_loss, (2, 4)),
    "lu_factor_tall": (_lu_loss, (4, 2)),
    "lu_wide": (_plu_loss, (3, 4)),
    "lu_tall": (_plu_loss, (4, 3)),
    "lu_solve": (
        lambda lib, a, w: (
            lib.linalg.lu_solve(*lib.linalg.lu_factor(a), w[:3, :2]) * w[1:, 2:]
        ).sum(),
        (3, 3),
    ),
    "lu_solve_adjoint": (
        lambda lib, a, w: (
            lib.linalg.lu_solve(*lib.linalg.lu_factor(a), w[:3, :2], adjoint=True) ** 2
        ).sum(),
        (3, 3),
    ),
    "lu_solve_right": (
        lambda lib, a, w: lib.linalg.lu_solve(
            *lib.linalg.lu_factor(a), w[:, :2, :3], left=False
        ).sum(),
        (2, 3, 3),
    ),
    "lu_solve_right_adjoint": (
        lambda lib, a, w: (
            lib.linalg.lu_solve(*lib.linalg.lu_factor(a), w[:2, :3], left=False, adjoint=True)
            * w[2:, 1:]
        ).sum(),
        (3, 3),
    ),
    "lu_unpack": (
        lambda lib, a, w: (
            lib.lu_unpack(a, lib.tensor([2, 3, 3], dtype=lib.int32)).L * w[:3, :3]
        ).sum(),
        (3, 3),
    ),
    "old_lu_solve": (lambda lib, a, w: lib.lu_solve(w[:3, :2], *lib.lu(a)).sum(), (3, 3)),
    "cholesky_solve": (
        lambda lib, a, w: (lib.cholesky_solve(w[:3, :2], _pd_factor(lib, a)) * w[1:, 2:]).sum(),
        (3, 3),
    ),
    "cholesky_solve_upper": (
        lambda lib, a, w: (
            lib.cholesky_solve(w[:, :3, :2], _pd_factor(lib, a).mT, upper=True) ** 2
        ).sum(),
        (2, 3, 3),
    ),
    "cholesky_inverse": (
        lambda lib, a, w: (lib.cholesky_inverse(_pd_factor(lib, a)) * w[:3, :3]).sum(),
        (3, 3),
    ),
    "cholesky_inverse_upper": (
        lambda lib, a, w: (
            lib.cholesky_inverse(_pd_factor(lib, a).mT, upper=True) * w[:3, :3]
        ).sum(),
        (3, 3),
    ),
    "triangular_solve": (
        lambda lib, a, w: (
            lib.triangular_solve(w[:3, :2], _tri(lib, a)).solution * w[1:, 2:]
        ).sum(),
        (3, 3),
    ),
    "triangular_solve_transpose_unit": (
        lambda lib, a, w: (
            lib.triangular_solve(
                w[:3, :2], _tri(lib, a), upper=False, transpose=True, unitriangular=True
            ).solution
            ** 2
        ).sum(),
        (3, 3),
    ),
}

W = np.random.default_rng(5).standard_normal((2, 4, 4))


def _weights(shape):
    return W[0] if len(shape) == 2 else W


@pytest.mark.parametrize("name", LOSSES)
def test_values_and_gradients_match_torch(name):
    fn, shape = LOSSES[name]
    a = np.random.default_rng(1).standard_normal(shape)
    w = _weights(shape)
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
    w = ndgrad.tensor(_weights(shape))
    assert gradcheck(lambda x: fn(ndgrad, x, w), (a,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(lambda x: fn(ndgrad, x, w), (a,), eps=1e-6, atol=1e-4, rtol=1e-3)


def test_gradients_of_the_right_hand_side_and_both_inputs_to_second_order():
    rng = np.random.default_rng(3)
    a = ndgrad.tensor(rng.standard_normal((3, 3)) + 3 * np.eye(3), requires_grad=True)
    b = ndgrad.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    for f in (
        lambda a, b: ndgrad.linalg.solve_triangular(a, b, upper=True),
        lambda a, b: ndgrad.cholesky_solve(b, a.tril()),
        lambda a, b: ndgrad.linalg.lu_solve(*ndgrad.linalg.lu_factor(a), b),
    ):
        assert gradcheck(f, (a, b), eps=1e-6, atol=1e-5, rtol=1e-4)
        assert gradgradcheck(f, (a, b), eps=1e-6, atol=1e-4, rtol=1e-3)


def test_pivots_info_return_types_and_grad_fn_names_match_torch():
    rng = np.random.default_rng(4)
    for shape in [(3, 3), (2, 3, 3), (2, 5), (5, 2), (2, 4, 3), (7, 2, 2), (3, 5, 3, 3)]:
        a = rng.standard_normal(shape)
        ours = ndgrad.linalg.lu_factor_ex(ndgrad.tensor(a))
        theirs = torch.linalg.lu_factor_ex(torch.tensor(a))
        assert_close(ours.LU, theirs.LU, atol=1e-12, rtol=1e-12)
        assert ours.pivots.dtype == ndgrad.int32 and ours.info.dtype == ndgrad.int32
        assert ours.pivots.tolist() == theirs.pivots.tolist()
        assert ours.info.tolist() == theirs.info.tolist()
        for o, t in zip(ndgrad.linalg.lu(ndgrad.tensor(a)), torch.linalg.lu(torch.tensor(a))):
            assert_close(o, t, atol=1e-12, rtol=1e-12)
    singular = [[1.0, 2.0], [2.0, 4.0]]
    ours = ndgrad.linalg.lu_factor_ex(ndgrad.tensor(singular))
    theirs = torch.linalg.lu_factor_ex(torch.tensor(singular))
    assert repr(ours).replace("ndgrad.", "torch.") == repr(theirs)
    x = torch.eye(2, requires_grad=True)
    y = ndgrad.eye(2, requires_grad=True)
    pairs = [
        (ndgrad.linalg.lu_factor(y).LU, torch.linalg.lu_factor(x).LU),
        (
            ndgrad.linalg.solve_triangular(y, y, upper=True),
            torch.linalg.solve_triangular(x, x, upper=True),
        ),
        (ndgrad.cholesky_solve(y, y), torch.cholesky_solve(x, x)),
        (ndgrad.cholesky_inverse(y), torch.cholesky_inverse(x)),
        (ndgrad.linalg.lu(y).L, torch.linalg.lu(x).L),
    ]
    for o, t in pairs:
        assert o.grad_fn.name() == t.grad_fn.name()
    assert repr(ndgrad.triangular_solve(ndgrad.ones(2, 1), ndgrad.eye(2))).replace(
        "ndgrad.", "torch."
    ) == repr(torch.triangular_solve(torch.ones(2, 1), torch.eye(2)))


def test_float32_values_match_torch():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((2, 4, 4)).astype(np.float32) + 4 * np.eye(4, dtype=np.float32)
    b = rng.standard_normal((2, 4, 3)).astype(np.float32)
    na, nb, ta, tb = ndgrad.tensor(a), ndgrad.tensor(b), torch.tensor(a), torch.tensor(b)
    pairs = [
        (
            ndgrad.linalg.solve_triangular(na, nb, upper=False),
            torch.linalg.solve_triangular(ta, tb, upper=False),
        ),
        (ndgrad.linalg.lu_factor(na).LU, torch.linalg.lu_factor(ta).LU),
        (
            ndgrad.linalg.lu_solve(*ndgrad.linalg.lu_factor(na), nb),
            torch.linalg.lu_solve(*torch.linalg.lu_factor(ta), tb),
        ),
        (ndgrad.cholesky_solve(nb, na.tril()), torch.cholesky_solve(tb, ta.tril())),
        (
            ndgrad.cholesky_inverse(na.triu(), upper=True),
            torch.cholesky_inverse(ta.triu(), upper=True),
        ),
        (na.lu_solve(*na.lu()), ta.lu_solve(*ta.lu())),
        (ndgrad.linalg.diagonal(na, offset=1), torch.linalg.diagonal(ta, offset=1)),
    ]
    for ours, theirs in pairs:
        assert ours.dtype == ndgrad.float32
        assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    # zeros on the diagonal give inf/nan, as in torch (no error)
    ours = ndgrad.linalg.solve_triangular(ndgrad.zeros(2, 2), ndgrad.ones(2, 1), upper=True)
    theirs = torch.linalg.solve_triangular(torch.zeros(2, 2), torch.ones(2, 1), upper=True)
    assert str(ours.tolist()) == str(theirs.tolist())


ERRORS = [
    lambda lib: lib.linalg.solve_triangular(lib.eye(2), lib.ones(2), upper=True),
    lambda lib: lib.linalg.solve_triangular(lib.eye(2), lib.ones(3, 1), upper=True),
    lambda lib: lib.linalg.solve_triangular(lib.eye(2), lib.ones(2, 1), upper=True, left=False),
    lambda lib: lib.linalg.solve_triangular(lib.ones(2, 3), lib.ones(2, 1), upper=True),
    lambda lib: lib.linalg.solve_triangular(
        lib.eye(2, dtype=lib.long), lib.ones(2, 1, dtype=lib.long), upper=True
    ),
    lambda lib: lib.linalg.lu_factor(lib.tensor([[1.0, 2.0], [2.0, 4.0]])),
    lambda lib: lib.linalg.lu_factor(lib.zeros(2, 2, 3, 3) + lib.eye(3) * lib.tensor([1.0, 0, 1])),
    lambda lib: lib.linalg.lu_factor_ex(lib.zeros(2, 2), check_errors=True),
    lambda lib: lib.linalg.lu_factor(lib.eye(2), pivot=False),
    lambda lib: lib.linalg.lu_factor(lib.ones(3)),
    lambda lib: lib.linalg.lu_factor(lib.ones(2, 2, dtype=lib.long)),
    lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(lib.eye(2)), lib.ones(2)),
    lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(lib.eye(2)), lib.ones(3, 1)),
    lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(lib.randn(2, 3)), lib.ones(2, 1)),
    lambda lib: lib.lu_unpack(lib.eye(2), lib.tensor([1, 2])),
    lambda lib: lib.lu_unpack(lib.eye(2), lib.tensor([3, 2], dtype=lib.int32)),
    lambda lib: lib.triangular_solve(lib.ones(2), lib.eye(2)),
    lambda lib: lib.cholesky_solve(lib.ones(2), lib.eye(2)),
    lambda lib: lib.cholesky_solve(lib.ones(2, 1), lib.eye(3)),
    lambda lib: lib.cholesky_solve(lib.ones(2, 1, dtype=lib.float64), lib.eye(2)),
    lambda lib: lib.cholesky_inverse(lib.ones(2)),
    lambda lib: lib.cholesky_inverse(lib.ones(2, 3)),
    lambda lib: lib.linalg.diagonal(lib.ones(3)),
]


@pytest.mark.parametrize("call", ERRORS)
def test_bad_input_gets_torchs_exception_and_message(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(ndgrad)
    # torch's LinAlgError is torch._C._LinAlgError: the same name, a RuntimeError
    assert isinstance(ours.value, type(theirs.value)) or (
        type(ours.value).__name__ == type(theirs.value).__name__
        and isinstance(ours.value, RuntimeError)
    )
    assert str(ours.value).replace("ndgrad", "torch") == str(theirs.value)


# the rest of torch.linalg for real tensors: results (values, dtypes, grad_fn) print as torch's
MORE = [
    lambda lib: lib.linalg.solve_ex(
        lib.tensor([[4.0, 1], [2, 3]], requires_grad=True), lib.ones(2)
    ),
    lambda lib: lib.linalg.solve_ex(lib.zeros(2, 2), lib.ones(2)),
    lambda lib: lib.linalg.cond(lib.tensor([[4.0, 1], [2, 3]], requires_grad=True)),
    lambda lib: [
        lib.linalg.cond(lib.tensor([[4.0, 1], [2, 3]], requires_grad=True), p)
        for p in ("fro", "nuc", 1, -1, float("inf"), -float("inf"), -2)
    ],
    lambda lib: (lib.linalg.cond(lib.zeros(2, 2)), lib.linalg.cond(lib.zeros(2, 2), 1)),
    lambda lib: lib.linalg.vander(lib.tensor([1.0, 2, 3])),
    lambda lib: lib.linalg.vander(lib.tensor([1, 2, 3]), N=2),
    lambda lib: lib.linalg.vander(lib.tensor([[1.0, 2], [3, 4]], requires_grad=True), N=3),
    lambda lib: lib.linalg.tensorinv(lib.eye(4).reshape(4, 2, 2), ind=1),
    lambda lib: lib.linalg.tensorinv(lib.eye(6).reshape(2, 3, 6)),
    lambda lib: lib.linalg.tensorsolve(lib.eye(6).reshape(2, 3, 6), lib.ones(2, 3)),
    lambda lib: lib.linalg.tensorsolve(lib.eye(6).reshape(2, 6, 3), lib.ones(2, 3), dims=(1,)),
    lambda lib: lib.linalg.ldl_factor(lib.tensor([[4.0, 1], [1, 3]])),
    lambda lib: lib.linalg.ldl_factor_ex(
        lib.tensor([[0.0, 1, 2], [1, 0, 3], [2, 3, 1]], dtype=lib.float64)
    ),
    lambda lib: lib.linalg.ldl_solve(
        *lib.linalg.ldl_factor(lib.tensor([[0.0, 1, 2], [1, 0, 3], [2, 3, 1]])), lib.ones(2, 3, 1)
    ),
]

MORE_ERRORS = [
    lambda lib: lib.linalg.solve_ex(lib.zeros(2, 2), lib.ones(2), check_errors=True),
    lambda lib: lib.linalg.cond(lib.ones(2, 3), 1),
    lambda lib: lib.linalg.cond(lib.ones(3)),
    lambda lib: lib.linalg.vander(lib.tensor(1.0)),
    lambda lib: lib.linalg.tensorinv(lib.eye(6).reshape(2, 3, 6), ind=0),
    lambda lib: lib.linalg.tensorinv(lib.eye(6).reshape(2, 3, 6), ind=1),
    lambda lib: lib.linalg.tensorsolve(lib.eye(6).reshape(6, 2, 3), lib.ones(6), dims=(0,)),
    lambda lib: lib.linalg.ldl_factor(lib.ones(2, 3)),
]


@pytest.mark.parametrize("call", MORE)
def test_more_linalg_results_print_as_torchs(call):
    assert repr(call(ndgrad)).replace("ndgrad", "torch") == repr(call(torch))


@pytest.mark.parametrize("call", MORE_ERRORS)
def test_more_linalg_errors_match_torch(call):
    test_bad_input_gets_torchs_exception_and_message(call)


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, a: lib.linalg.cond(a) + lib.linalg.cond(a, -2),
        lambda lib, a: lib.linalg.vander(a[0], N=4),
        lambda lib, a: lib.linalg.tensorinv(a.reshape(3, 1, 3), ind=1).sum(0),
        lambda lib, a: lib.linalg.tensorsolve(a.reshape(3, 1, 3), a[0].reshape(3, 1) * 2),
        lambda lib, a: lib.linalg.solve_ex(a, a[:, :1]).result,
    ],
)
def test_more_linalg_gradients_match_torch_and_finite_differences(fn):
    a = np.random.default_rng(7).standard_normal((3, 3)) + 3 * np.eye(3)
    ours_a, theirs_a = ndgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = fn(ndgrad, ours_a), fn(torch, theirs_a)
    assert_close(ours, theirs, atol=1e-10, rtol=1e-9)
    ours.sum().backward()
    theirs.sum().backward()
    assert_close(ours_a.grad, theirs_a.grad, atol=1e-9, rtol=1e-8)
    x = ndgrad.tensor(a, requires_grad=True)
    assert gradcheck(lambda t: fn(ndgrad, t), (x,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(lambda t: fn(ndgrad, t), (x,), eps=1e-6, atol=1e-4, rtol=1e-3)


def test_cond_in_other_norms_is_differentiable():
    # torch 2.13 cannot differentiate these (its cond changes inv_ex's saved output in
    # place): checked by finite differences
    a = np.random.default_rng(8).standard_normal((3, 3)) + 3 * np.eye(3)
    x = ndgrad.tensor(a, requires_grad=True)
    for p in ("fro", "nuc", 1, -1, float("inf")):
        assert gradcheck(
            lambda t, p=p: ndgrad.linalg.cond(t, p), (x,), eps=1e-6, atol=1e-5, rtol=1e-4
        )
        assert gradgradcheck(
            lambda t, p=p: ndgrad.linalg.cond(t, p), (x,), eps=1e-6, atol=1e-4, rtol=1e-3
        )


def test_many_small_systems_match_torch_and_keep_infs():
    # more than 8 systems go through one batched solve (zeros on a diagonal: through trsm)
    rng = np.random.default_rng(9)
    a = rng.standard_normal((12, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((12, 3, 2))
    a[4, 1, 1] = 0.0
    for kw in ({"upper": True}, {"upper": False, "unitriangular": True}, {"upper": False}):
        for left in (True, False):
            bb = b if left else b.transpose(0, 2, 1)
            ours = ndgrad.linalg.solve_triangular(
                ndgrad.tensor(a), ndgrad.tensor(bb), left=left, **kw
            )
            theirs = torch.linalg.solve_triangular(
                torch.tensor(a), torch.tensor(bb), left=left, **kw
            )
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-12)
