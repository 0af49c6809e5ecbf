"""Tolerance-stopped full-batch gradient descent (the seed notes' algorithm)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ndgrad
from ndgrad.optim import gd


def _regression_data(m=40, n=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (m, n))
    theta = rng.uniform(-3, 3, n + 1)
    y = theta[0] + X @ theta[1:] + rng.normal(0, 0.1, m)
    return X, y


def test_closure_form_stops_at_the_tolerance():
    x = ndgrad.tensor([0.0], dtype=ndgrad.float64, requires_grad=True)
    lr, tol = 0.1, 1e-6
    traj = gd.gradient_descent(lambda: ((x - 3) ** 2).sum(), [x], lr=lr, tol=tol)
    assert traj.converged
    assert traj.params[0] is x
    assert len(traj.losses) == len(traj.steps) == traj.iterations + 1
    # the last recorded step is the first one under the tolerance; the one before was not
    assert traj.steps[-1] < tol <= traj.steps[-2]
    assert abs(lr * 2 * (x.item() - 3)) == pytest.approx(traj.steps[-1])
    assert x.item() == pytest.approx(3, abs=tol / (2 * lr))  # |step| = 2 lr |x - 3| < tol
    # x_k = 3 - 3 (1 - 2 lr)^k exactly, for this quadratic
    k = traj.iterations
    assert x.item() == pytest.approx(3 - 3 * 0.8**k, rel=1e-12)
    assert all(a > b for a, b in zip(traj.losses, traj.losses[1:], strict=False))


def test_not_converged_after_max_iter():
    x = ndgrad.tensor([10.0], requires_grad=True)
    traj = gd.gradient_descent(lambda: (x**2).sum(), [x], lr=0.01, tol=1e-9, max_iter=5)
    assert not traj.converged and traj.iterations == 5 and len(traj.losses) == 6
    assert x.item() == pytest.approx(10 * 0.98**5, rel=1e-6)
    assert x.dtype == ndgrad.float32  # float32 kept
    assert "converged=False" in repr(traj)


def test_every_parameter_must_be_under_the_tolerance():
    # a is done at once, b still moves: descent must go on for b
    a = ndgrad.tensor([1.0], dtype=ndgrad.float64, requires_grad=True)
    b = ndgrad.tensor([5.0], dtype=ndgrad.float64, requires_grad=True)
    traj = gd.gradient_descent(
        lambda: (a - 1).pow(2).sum() + (b - 2).pow(2).sum(), [a, b], lr=0.1, tol=1e-4
    )
    assert traj.converged and traj.iterations > 10
    assert b.item() == pytest.approx(2, abs=1e-3)


def test_algebraic_and_matrix_forms_agree_and_reach_the_normal_equation():
    X, y = _regression_data()
    alg = gd.linear_regression_algebraic(X, y, lr=0.1, tol=1e-9, max_iter=5000)
    mat = gd.linear_regression_matrix(X, y, lr=0.1, tol=1e-9, max_iter=5000)
    assert alg.converged and mat.converged
    assert alg.iterations == mat.iterations
    np.testing.assert_allclose(alg.params[0].numpy(), mat.params[0].numpy(), rtol=1e-10)
    np.testing.assert_allclose(alg.losses, mat.losses, rtol=1e-10)
    np.testing.assert_allclose(alg.steps, mat.steps, rtol=1e-8, atol=1e-15)
    exact = gd.normal_equation(X, y).numpy()
    np.testing.assert_allclose(mat.params[0].numpy(), exact, atol=1e-6)
    expected = np.linalg.lstsq(np.hstack([np.ones((len(X), 1)), X]), y, rcond=None)[0]
    np.testing.assert_allclose(exact, expected, rtol=1e-10)


def test_closure_form_with_autograd_takes_the_same_steps_as_the_matrix_form():
    X, y = _regression_data(m=25, n=3, seed=3)
    Xt = ndgrad.tensor(np.hstack([np.ones((25, 1)), X]))
    yt = ndgrad.tensor(y)
    theta = ndgrad.zeros(4, dtype=ndgrad.float64, requires_grad=True)
    auto = gd.gradient_descent(
        lambda: ((Xt @ theta - yt) ** 2).sum() / (2 * 25), [theta], lr=0.05, tol=1e-7
    )
    mat = gd.linear_regression_matrix(X, y, lr=0.05, tol=1e-7)
    assert auto.converged and auto.iterations == mat.iterations
    np.testing.assert_allclose(theta.detach().numpy(), mat.params[0].numpy(), rtol=1e-10)
    np.testing.assert_allclose(auto.losses, mat.losses, rtol=1e-10)


@given(
    m=st.integers(2, 10),
    n=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    lr=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_forms_agree_on_random_problems(m, n, seed, lr):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = rng.normal(size=m)
    theta0 = rng.normal(size=n + 1)
    alg = gd.linear_regression_algebraic(X, y, lr=lr, tol=1e-6, max_iter=150, theta0=theta0)
    mat = gd.linear_regression_matrix(X, y, lr=lr, tol=1e-6, max_iter=150, theta0=theta0)
    assert alg.iterations == mat.iterations and alg.converged == mat.converged
    np.testing.assert_allclose(alg.params[0].numpy(), mat.params[0].numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(alg.losses, mat.losses, rtol=1e-9, atol=1e-14)


def test_one_feature_as_a_vector():
    x = np.linspace(0, 1, 11)
    y = 2 + 3 * x
    traj = gd.linear_regression_matrix(x, y, lr=0.5, tol=1e-10, max_iter=20000)
    assert traj.converged
    np.testing.assert_allclose(traj.params[0].numpy(), [2, 3], atol=1e-8)
    assert traj.params[0].dtype == ndgrad.float64


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda x: gd.gradient_descent(lambda: x.sum(), [x], lr=0), ValueError, "learning rate"),
        (lambda x: gd.gradient_descent(lambda: x.sum(), [x], tol=-1), ValueError, "tolerance"),
        (lambda x: gd.gradient_descent(lambda: x.sum(), []), ValueError, "empty parameter list"),
        (lambda x: gd.gradient_descent(lambda: x.sum(), [x * 2]), ValueError, "leaf tensor"),
        (lambda x: gd.gradient_descent(lambda: x.sum(), [3.0]), TypeError, "not a Tensor"),
        (lambda x: gd.gradient_descent(lambda: x * 2, [x]), RuntimeError, "one-element Tensor"),
        (
            lambda x: gd.linear_regression_matrix(np.ones((4, 2)), np.ones(3)),
            ValueError,
            "X has 4 samples but y has 3",
        ),
        (
            lambda x: gd.linear_regression_algebraic(np.ones((4, 2)), np.ones(4), theta0=[0.0]),
            ValueError,
            "theta0 needs 3 entries",
        ),
        (
            lambda x: gd.normal_equation(np.ones((2, 2, 2)), np.ones(2)),
            ValueError,
            "X must be 1-D or 2-D",
        ),
    ],
)
def test_bad_input(call, exc, message):
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(exc, match=message):
        call(x)
