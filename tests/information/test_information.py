"""Entropy, cross-entropy and KL divergence against direct formulas and scipy.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

import ndgrad
from ndgrad import information as info


def _random_probs(rng, shape, zeros=False):
    p = rng.random(shape) + 0.01
    if zeros:
        p[rng.random(shape) < 0.3] = 0.0
        p[..., 0] += 0.5  # at least one nonzero entry per distribution
    return p / p.sum(-1, keepdims=True)


@pytest.mark.parametrize("base", [None, 2, math.e, 10, 3.5])
def test_entropy_cross_entropy_kl_match_scipy(base):
    rng = np.random.default_rng(0)
    p, q = _random_probs(rng, (4, 6), zeros=True), _random_probs(rng, (4, 6))
    pt, qt = ndgrad.tensor(p, dtype=ndgrad.float64), ndgrad.tensor(q, dtype=ndgrad.float64)
    h = info.entropy(pt, base=base).numpy()
    np.testing.assert_allclose(h, scipy.stats.entropy(p, base=base, axis=-1), rtol=1e-12)
    kl = info.kl_divergence(pt, qt, base=base).numpy()
    np.testing.assert_allclose(kl, scipy.stats.entropy(p, q, base=base, axis=-1), rtol=1e-12)
    ce = info.cross_entropy(pt, qt, base=base).numpy()
    scale = 1.0 if base is None else 1 / math.log(base)
    direct = -(p * np.log(q)).sum(-1) * scale
    np.testing.assert_allclose(ce, direct, rtol=1e-12)
    np.testing.assert_allclose(kl, ce - h, atol=1e-12)


def test_notes_examples_in_bits():
    fair = ndgrad.tensor([0.5, 0.5])
    assert info.entropy(fair, base=2).item() == pytest.approx(1.0)
    assert info.entropy(ndgrad.tensor([1.0, 0.0]), base=2).item() == 0.0  # 0 log 0 = 0
    assert info.entropy(ndgrad.full((8,), 1 / 8), base=2).item() == pytest.approx(3.0)
    p, q = ndgrad.tensor([0.5, 0.5, 0.0]), ndgrad.tensor([0.25, 0.25, 0.5])
    assert info.cross_entropy(p, q, base=2).item() == pytest.approx(2.0)
    assert info.kl_divergence(p, q, base=2).item() == pytest.approx(1.0)
    assert info.kl_divergence(q, p).item() == math.inf  # q puts mass where p has none
    assert info.kl_divergence(p, p).item() == 0.0
    # the base only rescales: H_2 = H_e / ln 2 = H_10 / log10(2)
    h_e = info.entropy(q).item()
    assert info.entropy(q, base=2).item() == pytest.approx(h_e / math.log(2))
    assert info.entropy(q, base=10).item() == pytest.approx(h_e / math.log(10))


@given(
    n=st.integers(1, 8),
    batch=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    dim=st.sampled_from([0, 1, -1]),
)
def test_kl_equals_cross_entropy_minus_entropy(n, batch, seed, dim):
    rng = np.random.default_rng(seed)
    p, q = _random_probs(rng, (batch, n), zeros=True), _random_probs(rng, (batch, n))
    if dim == 0:
        p, q = p.T / p.T.sum(0), q.T / q.T.sum(0)
    for dtype, tol in [(ndgrad.float64, 1e-12), (ndgrad.float32, 2e-6)]:
        pt, qt = ndgrad.tensor(p, dtype=dtype), ndgrad.tensor(q, dtype=dtype)
        kl = info.kl_divergence(pt, qt, dim=dim)
        ce, h = info.cross_entropy(pt, qt, dim=dim), info.entropy(pt, dim=dim)
        assert kl.dtype == dtype
        np.testing.assert_allclose(kl.numpy(), (ce - h).numpy(), atol=tol)
        assert np.all(kl.numpy() >= -tol)  # Gibbs' inequality


def test_gradients_are_finite_with_zeros_and_match_finite_differences():
    p = ndgrad.tensor([0.2, 0.0, 0.8], dtype=ndgrad.float64, requires_grad=True)
    q = ndgrad.tensor([0.3, 0.3, 0.4], dtype=ndgrad.float64, requires_grad=True)
    info.kl_divergence(p, q).backward()
    assert np.all(np.isfinite(p.grad.numpy()))
    # d/dq_i KL = -p_i / q_i ; d/dp_i KL = log(p_i / q_i) + 1 where p_i > 0
    np.testing.assert_allclose(q.grad.numpy(), [-0.2 / 0.3, 0.0, -0.8 / 0.4])
    np.testing.assert_allclose(
        p.grad.numpy()[[0, 2]], [math.log(0.2 / 0.3) + 1, math.log(0.8 / 0.4) + 1]
    )


@pytest.mark.parametrize(
    "fn", [info.entropy, lambda p: info.cross_entropy(p, p), lambda p: info.kl_divergence(p, p)]
)
def test_bad_probabilities_raise_value_error_naming_the_sums(fn):
    with pytest.raises(
        ValueError,
        match=r"p must sum to 1 along dim 1, but its sums are "
        r"\[1.0, 1.1\]",
    ):
        fn(ndgrad.tensor([[0.5, 0.5], [0.6, 0.5]]))
    with pytest.raises(
        ValueError, match=r"p must hold probabilities in \[0, 1\], but it contains 1.5"
    ):
        fn(ndgrad.tensor([1.5, -0.5]))


def test_validation_of_q_and_other_arguments():
    p = ndgrad.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match="q must sum to 1"):
        info.kl_divergence(p, ndgrad.tensor([0.5, 0.2]))
    with pytest.raises(ValueError, match="base must be a positive number other than 1"):
        info.entropy(p, base=1)
    with pytest.raises(ValueError, match="do not broadcast"):
        info.cross_entropy(p, ndgrad.tensor([0.2, 0.3, 0.5]))
    with pytest.raises(IndexError, match="Dimension out of range"):
        info.entropy(p, dim=2)
    # validate=False skips the checks (e.g. for unnormalised weights)
    assert info.entropy(ndgrad.tensor([1.0, 1.0]), validate=False).item() == 0.0
    # lists and arrays are accepted
    assert info.entropy([0.25, 0.75], base=2).item() == pytest.approx(0.8112781244591328)
