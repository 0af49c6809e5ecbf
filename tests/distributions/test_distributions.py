"""ndgrad.distributions against torch.distributions on the same parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as TD
from tests.nn._helpers import assert_close, to_nd

import ndgrad
from ndgrad import distributions as D


def _pairs():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(3, 2, generator=g) * 0.9 + 0.05
    logits = torch.randn(3, 4, generator=g)
    probs = torch.softmax(torch.randn(2, 5, generator=g), -1)
    loc, scale = torch.randn(3, generator=g), torch.rand(3, generator=g) + 0.5
    return [
        ("Bernoulli(probs)", lambda m, t: m.Bernoulli(probs=t(p)), torch.bernoulli(p, generator=g)),
        (
            "Bernoulli(logits)",
            lambda m, t: m.Bernoulli(logits=t(logits)),
            torch.bernoulli(torch.sigmoid(logits), generator=g),
        ),
        (
            "Categorical(probs)",
            lambda m, t: m.Categorical(probs=t(probs)),
            torch.tensor([[0, 4], [2, 1], [3, 3]]),
        ),
        (
            "Categorical(logits)",
            lambda m, t: m.Categorical(logits=t(logits)),
            torch.tensor([0, 3, 1]),
        ),
        ("Normal", lambda m, t: m.Normal(t(loc), t(scale)), torch.randn(2, 3, generator=g)),
        ("Normal(scalars)", lambda m, t: m.Normal(0.5, 2.0), torch.randn(4, generator=g)),
        (
            "Multinomial(probs)",
            lambda m, t: m.Multinomial(6, probs=t(probs)),
            torch.tensor([[1.0, 2.0, 0.0, 3.0, 0.0], [0.0, 0.0, 6.0, 0.0, 0.0]]),
        ),
        (
            "Multinomial(logits)",
            lambda m, t: m.Multinomial(3, logits=t(logits)),
            torch.tensor([[1.0, 1.0, 0.0, 1.0]] * 3),
        ),
    ]


PAIRS = _pairs()


@pytest.mark.parametrize("name,make,value", PAIRS, ids=[p[0] for p in PAIRS])
def test_methods_match_torch(name, make, value):
    ours, ref = make(D, to_nd), make(TD, lambda t: t)
    assert tuple(ours.batch_shape) == tuple(ref.batch_shape)
    assert tuple(ours.event_shape) == tuple(ref.event_shape)
    assert repr(ours) == repr(ref).replace("torch.", "ndgrad.")
    assert_close(ours.log_prob(to_nd(value)), ref.log_prob(value), atol=1e-5)
    assert_close(ours.entropy(), ref.entropy(), atol=1e-5)
    for attr in ("mean", "variance", "stddev"):
        a, b = getattr(ours, attr), getattr(ref, attr)
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, equal_nan=True)
    if not name.startswith("Multinomial"):
        np.testing.assert_array_equal(ours.mode.numpy(), ref.mode.numpy())
    sample = ours.sample((5,))
    ref_sample = ref.sample((5,))
    assert tuple(sample.shape) == tuple(ref_sample.shape)
    assert sample.dtype.name == str(ref_sample.dtype).split(".")[1]
    assert bool(ours.support.check(sample).all())
    assert repr(ours.support) == repr(ref.support)


@pytest.mark.parametrize("name,make,value", PAIRS[:5], ids=[p[0] for p in PAIRS[:5]])
def test_log_prob_and_entropy_gradients_match_torch(name, make, value):
    holder = {}

    def t_nd(t):
        holder["nd"] = to_nd(t, requires_grad=True)
        return holder["nd"]

    def t_torch(t):
        holder["torch"] = t.clone().requires_grad_(True)
        return holder["torch"]

    ours, ref = make(D, t_nd), make(TD, t_torch)
    (ours.log_prob(to_nd(value)).sum() + ours.entropy().sum()).backward()
    (ref.log_prob(value).sum() + ref.entropy().sum()).backward()
    assert_close(holder["nd"].grad, holder["torch"].grad, atol=1e-5)


def test_normal_rsample_is_differentiable_and_cdf_icdf_match_torch():
    loc = ndgrad.tensor([0.0, 1.0], requires_grad=True)
    scale = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    d = D.Normal(loc, scale)
    x = d.rsample((1000,))
    assert x.requires_grad and not d.sample().requires_grad
    x.mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5], rtol=1e-4)  # float32 sums
    v = torch.tensor([[-1.0, 0.3], [2.0, 5.0]])
    ref = TD.Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
    assert_close(d.cdf(to_nd(v)), ref.cdf(v))
    u = torch.tensor([0.1, 0.975])
    assert_close(d.icdf(to_nd(u)), ref.icdf(u), atol=1e-5)


def test_sampling_statistics_follow_the_parameters():
    ndgrad.manual_seed(0)
    n = 20000
    b = D.Bernoulli(probs=ndgrad.tensor([0.2, 0.9])).sample((n,)).numpy()
    np.testing.assert_allclose(b.mean(0), [0.2, 0.9], atol=0.015)  # std <= 0.0035
    c = D.Categorical(probs=ndgrad.tensor([0.1, 0.6, 0.3])).sample((n,)).numpy()
    np.testing.assert_allclose(np.bincount(c, minlength=3) / n, [0.1, 0.6, 0.3], atol=0.015)
    x = D.Normal(ndgrad.tensor(2.0), ndgrad.tensor(3.0)).sample((n,)).numpy()
    assert abs(x.mean() - 2.0) < 0.07 and abs(x.std() - 3.0) < 0.07  # std of mean 0.021
    m = D.Multinomial(10, probs=ndgrad.tensor([0.5, 0.25, 0.25])).sample((2000,)).numpy()
    assert np.all(m.sum(-1) == 10)
    np.testing.assert_allclose(m.mean(0), [5.0, 2.5, 2.5], atol=0.15)
    ndgrad.manual_seed(1)
    s1 = D.Normal(0.0, 1.0).sample((3,)).numpy()
    ndgrad.manual_seed(1)
    np.testing.assert_array_equal(s1, D.Normal(0.0, 1.0).sample((3,)).numpy())


def _kl_pairs():
    g = torch.Generator().manual_seed(2)
    p1, p2 = torch.rand(4, generator=g), torch.rand(4, generator=g)
    p1[0], p2[1] = 0.0, 1.0  # exercises the 0 and inf conventions
    c1 = torch.softmax(torch.randn(2, 5, generator=g), -1)
    c2 = torch.softmax(torch.randn(2, 5, generator=g), -1)
    l1, l2 = torch.randn(3, generator=g), torch.randn(3, generator=g)
    s1, s2 = torch.rand(3, generator=g) + 0.2, torch.rand(3, generator=g) + 0.2
    return [
        (lambda m, t: (m.Bernoulli(probs=t(p1)), m.Bernoulli(probs=t(p2)))),
        (lambda m, t: (m.Bernoulli(probs=t(p2)), m.Bernoulli(probs=t(p1)))),
        (lambda m, t: (m.Categorical(probs=t(c1)), m.Categorical(probs=t(c2)))),
        (lambda m, t: (m.Categorical(logits=t(c1.log())), m.Categorical(probs=t(c1)))),
        (lambda m, t: (m.Normal(t(l1), t(s1)), m.Normal(t(l2), t(s2)))),
    ]


@pytest.mark.parametrize("make", _kl_pairs())
def test_kl_divergence_matches_torch(make):
    ours = D.kl_divergence(*make(D, to_nd))
    ref = TD.kl_divergence(*make(TD, lambda t: t))
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=1e-6, rtol=1e-5)


def test_categorical_kl_agrees_with_information_module():
    from ndgrad import information

    p = ndgrad.tensor([0.1, 0.2, 0.7], dtype=ndgrad.float64)
    q = ndgrad.tensor([0.3, 0.3, 0.4], dtype=ndgrad.float64)
    kl = D.kl_divergence(D.Categorical(probs=p), D.Categorical(probs=q)).item()
    assert kl == pytest.approx(information.kl_divergence(p, q).item(), rel=1e-12)
    h = D.Categorical(probs=p).entropy().item()
    assert h == pytest.approx(information.entropy(p).item(), rel=1e-12)


def test_register_kl_dispatches_to_the_most_specific_pair():
    class MyNormal(D.Normal):
        pass

    calls = []

    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        calls.append("mine")
        return ndgrad.tensor(0.0)

    try:
        D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(0.0, 1.0))
        assert calls == ["mine"]
        D.kl_divergence(D.Normal(0.0, 1.0), MyNormal(0.0, 1.0))  # falls back to Normal-Normal
        assert calls == ["mine"]
    finally:
        from ndgrad.distributions import kl

        del kl._KL_REGISTRY[MyNormal, D.Normal]
        kl._KL_MEMOIZE.clear()
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return type(exc), str(exc).replace("torch.", "ndgrad.")
    return None


@pytest.mark.parametrize(
    "case",
    [
        lambda m, t: m.Categorical(t(torch.tensor([0.5, -0.6, 0.1]))),
        lambda m, t: m.Bernoulli(t(torch.tensor([0.5, 1.6]))),
        lambda m, t: m.Bernoulli(t(torch.tensor([0.5, 0.6]))).log_prob(t(torch.tensor([2.0, 0.0]))),
        lambda m, t: m.Normal(0.0, -1.0),
        lambda m, t: m.Normal(t(torch.zeros(2)), t(torch.tensor([1.0, 0.0]))),
        lambda m, t: m.Bernoulli(probs=t(torch.tensor(0.3)), logits=t(torch.tensor(0.3))),
        lambda m, t: m.Categorical(t(torch.tensor([0.5, 0.5]))).log_prob(t(torch.tensor([2]))),
        lambda m, t: m.Multinomial(3, t(torch.tensor([0.5, 0.5]))).log_prob(
            t(torch.tensor([2.0, 2.0]))
        ),
        lambda m, t: m.kl_divergence(
            m.Multinomial(3, t(torch.tensor([0.5, 0.5]))),
            m.Multinomial(3, t(torch.tensor([0.5, 0.5]))),
        ),
        lambda m, t: m.Categorical(t(torch.tensor(0.5))),
        lambda m, t: m.Normal(0.0, 1.0).log_prob(t(torch.tensor([1.0, float("nan")]))),
        lambda m, t: m.Categorical(t(torch.ones(2, 3))).log_prob(t(torch.tensor([0, 1, 2]))),
    ],
)
def test_invalid_parameters_and_values_raise_like_torch(case):
    theirs = _error(lambda: case(TD, lambda t: t))
    ours = _error(lambda: case(D, to_nd))
    assert theirs is not None
    assert ours == theirs


def test_validate_args_false_skips_checks():
    d = D.Bernoulli(ndgrad.tensor([0.5, 1.6]), validate_args=False)
    assert d.mean.shape == (2,)
    b = D.Bernoulli(ndgrad.tensor([0.5]), validate_args=False)
    assert np.isfinite(b.log_prob(ndgrad.tensor([2.0])).item())
    # Categorical normalises probabilities that do not sum to 1, as PyTorch does
    c = D.Categorical(probs=ndgrad.tensor([1.0, 3.0]))
    np.testing.assert_allclose(c.probs.numpy(), [0.25, 0.75])
