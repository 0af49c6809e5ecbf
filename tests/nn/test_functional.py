"""Activations, softmax family, dropout and nn.init."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.nn._helpers import assert_close, to_nd

import ndgrad
from ndgrad import nn
from ndgrad.nn import functional as F
from ndgrad.nn import init


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("relu", {}),
        ("leaky_relu", {"negative_slope": 0.2}),
        ("gelu", {}),
        ("gelu", {"approximate": "tanh"}),
        ("sigmoid", {}),
        ("tanh", {}),
        ("softplus", {}),
        ("softplus", {"beta": 2.0, "threshold": 5.0}),
        ("logsigmoid", {}),
        ("softmax", {"dim": 1}),
        ("log_softmax", {"dim": 0}),
        ("softmax", {"dim": -1}),
    ],
)
def test_activation_values_and_gradients_match_torch(name, kwargs):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64) * 3
    x[0, :3] = torch.tensor([50.0, -50.0, 0.0], dtype=torch.float64)
    ref_x = x.clone().requires_grad_(True)
    ours_x = to_nd(x, requires_grad=True)
    ref = getattr(TF, name)(ref_x, **kwargs)
    out = getattr(F, name)(ours_x, **kwargs)
    assert_close(out, ref, atol=1e-12, rtol=1e-10)
    up = torch.rand(ref.shape, generator=g, dtype=torch.float64)
    ref.backward(up)
    out.backward(to_nd(up))
    assert_close(ours_x.grad, ref_x.grad, atol=1e-12, rtol=1e-10)


def test_activation_modules_match_torch():
    x = torch.randn(3, 4)
    pairs = [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)),
        (nn.GELU(), torch.nn.GELU()),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.Softmax(1), torch.nn.Softmax(1)),
        (nn.LogSoftmax(1), torch.nn.LogSoftmax(1)),
        (nn.Softplus(), torch.nn.Softplus()),
        (nn.LogSigmoid(), torch.nn.LogSigmoid()),
    ]
    for ours, ref in pairs:
        assert_close(ours(to_nd(x)), ref(x))


def test_relu_inplace_and_implicit_softmax_dim_warning():
    x = ndgrad.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x and x.tolist() == [0.0, 2.0]
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = F.softmax(ndgrad.ones(2, 3))
    assert np.allclose(out.numpy(), 1 / 3)


def test_dropout_scales_kept_units_and_uses_the_global_generator():
    x = ndgrad.ones(100, 100)
    ndgrad.manual_seed(3)
    a = F.dropout(x, 0.3).numpy()
    ndgrad.manual_seed(3)
    b = F.dropout(x, 0.3).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.02  # 10000 draws: std 0.0046
    assert abs(a.mean() - 1.0) < 0.03  # inverted dropout keeps the expectation
    assert F.dropout(x, 0.3, training=False) is x
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    w = ndgrad.ones(10, requires_grad=True)
    y = F.dropout(w, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), y.detach().numpy())  # grad = mask / (1-p)


def test_init_gain_and_fans_match_torch():
    for nl, param in [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("conv2d", None),
    ]:
        assert init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)
    for shape in [(3, 4), (5, 2, 3, 3)]:
        assert init._calculate_fan_in_and_fan_out(ndgrad.zeros(shape)) == (
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
        )
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(ndgrad.zeros(3))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")


def _stats(t):
    a = t.detach().numpy().astype(np.float64)
    return a.mean(), a.std(), np.abs(a).max()


def test_init_distributions_have_the_right_moments_and_bounds():
    # 200x300 = 60000 samples: the sample std is within ~0.6% of the true std.
    shape = (200, 300)
    fan_in, fan_out = 300, 200
    w = nn.Parameter(ndgrad.empty(shape))
    assert init.uniform_(w, -2, 3) is w and not w.grad_fn
    m, s, _ = _stats(w)
    a = w.detach().numpy()
    assert a.min() >= -2 and a.max() <= 3 and abs(m - 0.5) < 0.03
    assert abs(s - 5 / math.sqrt(12)) < 0.01 * 5 / math.sqrt(12) * 2
    init.normal_(w, 1.0, 2.0)
    m, s, _ = _stats(w)
    assert abs(m - 1.0) < 0.03 and abs(s - 2.0) < 0.02
    init.xavier_uniform_(w, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    m, s, mx = _stats(w)
    assert mx <= bound and abs(s - bound / math.sqrt(3)) < 0.02 * bound
    init.xavier_normal_(w)
    m, s, _ = _stats(w)
    assert abs(s - math.sqrt(2 / (fan_in + fan_out))) < 0.02 * s
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    m, s, mx = _stats(w)
    assert mx <= bound and abs(s - bound / math.sqrt(3)) < 0.02 * bound
    init.kaiming_normal_(w, a=0.1)
    m, s, _ = _stats(w)
    std = math.sqrt(2 / (1 + 0.01)) / math.sqrt(fan_in)
    assert abs(s - std) < 0.02 * std and abs(m) < 0.05 * std
    init.trunc_normal_(w, std=1.0, a=-1.0, b=1.5)
    a = w.detach().numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5 and a.mean() > 0.05
    init.constant_(w, 0.25)
    assert np.all(w.detach().numpy() == 0.25)
    init.ones_(w), init.zeros_(w)
    assert np.all(w.detach().numpy() == 0) and w.requires_grad and w.is_leaf
    assert w.dtype == ndgrad.float32


@pytest.mark.parametrize("fan_in", [2, 3, 5, 7, 784, 1000])
def test_uniform_init_bounds_are_torchs_floats(fan_in, monkeypatch):
    # The draws differ (different RNGs), but the bound handed to uniform_ must be the same float.
    bounds = {}
    monkeypatch.setattr(init, "uniform_", lambda t, a, b, generator=None: bounds.update(nd=b))
    monkeypatch.setattr(
        torch.Tensor, "uniform_", lambda t, a, b, generator=None: bounds.update(pt=b)
    )
    for name, kwargs in [
        ("kaiming_uniform_", {"a": math.sqrt(5)}),
        ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
        ("xavier_uniform_", {"gain": 5.0 / 3}),
    ]:
        getattr(init, name)(ndgrad.empty(3, fan_in), **kwargs)
        getattr(torch.nn.init, name)(torch.empty(3, fan_in), **kwargs)
        assert bounds["nd"] == bounds["pt"], (name, kwargs)


def test_init_is_reproducible_with_manual_seed():
    ndgrad.manual_seed(11)
    a = nn.Linear(5, 4).weight.detach().numpy().copy()
    ndgrad.manual_seed(11)
    b = nn.Linear(5, 4).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_clip_grad_norm_matches_torch():
    ours, ref = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    ref.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
    )
    x = torch.randn(4, 3) * 10
    (ours(to_nd(x)) ** 2).sum().backward()
    (ref(x) ** 2).sum().backward()
    n1 = nn.utils.clip_grad_norm_(ours.parameters(), 0.5)
    n2 = torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
    assert_close(n1, n2, rtol=1e-5)
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        assert_close(p.grad, q.grad, rtol=1e-5)
