"""Maximum likelihood: closed forms and gradient ascent agree, and BCE is the NLL."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import distributions as D
from ndgrad import estimation as E
from ndgrad.nn import functional as F

# The notes' draws: 7 white balls (x = 1) and 3 black ones (x = 0).
DRAWS = [1.0] * 7 + [0.0] * 3


def test_closed_form_bernoulli_gives_theta_07():
    assert E.fit_bernoulli(ndgrad.tensor(DRAWS)).probs.item() == pytest.approx(0.7)


def test_gradient_ascent_gives_theta_07_and_increases_the_likelihood():
    result = E.fit_mle(D.Bernoulli, ndgrad.tensor(DRAWS), lr=1.0, tol=1e-9)
    assert result.converged and result.iterations < 500
    assert result.distribution.probs.item() == pytest.approx(0.7, abs=1e-6)
    lls = result.log_likelihoods
    assert all(b >= a - 1e-9 for a, b in zip(lls, lls[1:], strict=False))
    # the maximum is log L(0.7) = 7 log 0.7 + 3 log 0.3
    assert lls[-1] == pytest.approx(7 * np.log(0.7) + 3 * np.log(0.3), abs=1e-5)


def test_likelihood_curve_peaks_at_07():
    thetas = np.linspace(0.01, 0.99, 99)
    lik = [
        np.exp(E.log_likelihood(D.Bernoulli(probs=ndgrad.tensor(t)), ndgrad.tensor(DRAWS)).item())
        for t in thetas
    ]
    np.testing.assert_allclose(lik, thetas**7 * (1 - thetas) ** 3, rtol=1e-4)
    assert thetas[int(np.argmax(lik))] == pytest.approx(0.7)


def test_binary_cross_entropy_of_the_data_is_its_negative_log_likelihood():
    x = ndgrad.tensor(DRAWS, dtype=ndgrad.float64)
    for theta in (0.3, 0.5, 0.7, 0.9):
        q = ndgrad.full((10,), theta, dtype=ndgrad.float64)
        bce = F.binary_cross_entropy(q, x, reduction="sum").item()
        nll = -E.log_likelihood(D.Bernoulli(probs=q), x).item()
        assert bce == pytest.approx(nll, rel=1e-12)
        assert bce == pytest.approx(-(7 * np.log(theta) + 3 * np.log(1 - theta)), rel=1e-12)
        # with logits too, and matching torch's BCE
        logit = np.log(theta / (1 - theta))
        bce_logits = F.binary_cross_entropy_with_logits(
            ndgrad.full((10,), logit, dtype=ndgrad.float64), x, reduction="sum"
        ).item()
        assert bce_logits == pytest.approx(nll, rel=1e-10)
        ref = torch.nn.functional.binary_cross_entropy(
            torch.full((10,), theta, dtype=torch.float64),
            torch.tensor(DRAWS).double(),
            reduction="sum",
        ).item()
        assert bce == pytest.approx(ref, rel=1e-12)


def test_closed_form_and_gradient_ascent_agree_for_every_family():
    rng = np.random.default_rng(0)
    cats = ndgrad.tensor(rng.choice(4, size=300, p=[0.1, 0.2, 0.3, 0.4]))
    closed = E.fit_categorical(cats)
    ga = E.fit_mle(D.Categorical, cats, lr=2.0, tol=1e-8)
    assert ga.converged
    np.testing.assert_allclose(ga.distribution.probs.numpy(), closed.probs.numpy(), atol=1e-5)
    np.testing.assert_allclose(closed.probs.numpy(), np.bincount(cats.numpy()) / 300)

    normal = ndgrad.tensor(rng.normal(1.5, 2.0, size=400), dtype=ndgrad.float64)
    closed = E.fit_normal(normal)
    assert closed.loc.item() == pytest.approx(normal.numpy().mean())
    assert closed.scale.item() == pytest.approx(normal.numpy().std())  # biased (1/n) MLE
    ga = E.fit_mle(D.Normal, normal, lr=0.5, tol=1e-10)
    assert ga.converged
    assert ga.distribution.loc.item() == pytest.approx(closed.loc.item(), abs=1e-6)
    assert ga.distribution.scale.item() == pytest.approx(closed.scale.item(), abs=1e-6)

    counts = ndgrad.tensor(rng.multinomial(5, [0.5, 0.3, 0.2], size=200).astype(np.float32))
    closed = E.fit_multinomial(counts)
    assert closed.total_count == 5
    ga = E.fit_mle(D.Multinomial, counts, lr=0.5, tol=1e-8)
    np.testing.assert_allclose(ga.distribution.probs.numpy(), closed.probs.numpy(), atol=1e-5)
    assert E.fit_closed_form(D.Bernoulli, ndgrad.tensor(DRAWS)).probs.item() == pytest.approx(0.7)


def test_generic_maximize_likelihood_with_a_custom_parametrisation():
    # theta itself (not logits) with small steps stays inside (0, 1) and reaches 0.7
    result = E.maximize_likelihood(
        lambda theta: D.Bernoulli(probs=theta),
        {"theta": 0.5},
        ndgrad.tensor(DRAWS),
        lr=0.05,
        tol=1e-10,
    )
    assert result.converged
    assert result.params["theta"].item() == pytest.approx(0.7, abs=1e-6)


def test_bad_data_raise():
    with pytest.raises(ValueError, match="must be 0 or 1"):
        E.fit_bernoulli(ndgrad.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="empty"):
        E.fit_normal(ndgrad.tensor([]))
    with pytest.raises(ValueError, match="integer class indices"):
        E.fit_categorical(ndgrad.tensor([0.5]))
    with pytest.raises(NotImplementedError):
        E.fit_closed_form(int, ndgrad.tensor([1.0]))
