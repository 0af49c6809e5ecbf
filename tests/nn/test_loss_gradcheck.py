"""Loss gradients against finite differences in float64 on hypothesis-drawn shapes.

Regression losses broadcast a target against the input (PyTorch warns but allows it), so
the shapes are drawn as mutually broadcastable pairs; their gradients must come back summed
to each operand's shape. Values stay away from the kinks of |x| and Huber's threshold.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from tests.strategies import broadcastable_shapes, shapes

import ndgrad
from ndgrad.autograd.gradcheck import gradcheck
from ndgrad.nn import functional as F


def _t(a):
    return ndgrad.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@given(
    data=st.data(),
    shp=broadcastable_shapes(2, min_dims=1),
    name=st.sampled_from(["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"]),
    reduction=st.sampled_from(["none", "mean", "sum"]),
)
def test_regression_losses_gradcheck_with_broadcasting(data, shp, name, reduction):
    a_shape, b_shape = shp
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    base = rng.normal()
    # |a - b| is kept away from 0 (the kink of abs) and from 1 (Huber's / smooth-L1's switch).
    a = base + rng.uniform(-0.05, 0.05, size=a_shape)
    b = base + rng.choice([-2.3, -1.6, -0.6, -0.3, 0.4, 0.7, 1.4, 2.1], size=b_shape)
    fn = getattr(F, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the size-mismatch warning
        assert gradcheck(lambda x, y: fn(x, y, reduction=reduction), (_t(a), _t(b)))


@given(
    shape=shapes(1, 2),
    seed=st.integers(0, 2**16),
    reduction=st.sampled_from(["none", "mean", "sum"]),
)
def test_binary_losses_and_kl_gradcheck(shape, seed, reduction):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, size=shape)
    t = rng.uniform(0, 1, size=shape)
    logits = rng.normal(size=shape) * 3
    pos_weight = _t(rng.uniform(0.5, 2.0, size=shape[-1:]))
    assert gradcheck(lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction), (_t(p), _t(t)))
    assert gradcheck(
        lambda x, y: F.binary_cross_entropy_with_logits(
            x, y, reduction=reduction, pos_weight=pos_weight
        ),
        (_t(logits), _t(t)),
    )
    log_q = np.log(p)
    assert gradcheck(lambda x, y: F.kl_div(x, y, reduction="sum"), (_t(log_q), _t(t)))
    assert gradcheck(
        lambda x, y: F.kl_div(x, y, reduction="sum", log_target=True),
        (_t(log_q), _t(np.log(t + 0.1))),
    )


@given(
    n=st.integers(1, 4),
    c=st.integers(2, 5),
    extra=st.integers(0, 2),
    seed=st.integers(0, 2**16),
    reduction=st.sampled_from(["none", "mean", "sum"]),
)
def test_cross_entropy_soft_and_spatial_targets_gradcheck(n, c, extra, seed, reduction):
    rng = np.random.default_rng(seed)
    shape = (n, c) + (2,) * extra
    logits = rng.normal(size=shape) * 2
    probs = rng.random(shape)
    probs /= probs.sum(1, keepdims=True)
    target = ndgrad.tensor(rng.integers(0, c, size=(n,) + (2,) * extra))
    w = ndgrad.tensor(rng.random(c) + 0.2, dtype=ndgrad.float64)
    assert gradcheck(
        lambda x, y: F.cross_entropy(x, y, weight=w, reduction=reduction, label_smoothing=0.1),
        (_t(logits), _t(probs)),
    )
    assert gradcheck(
        lambda x: F.cross_entropy(x, target, weight=w, reduction=reduction, label_smoothing=0.2),
        (_t(logits),),
    )
    assert gradcheck(
        lambda x: F.nll_loss(F.log_softmax(x, 1), target, reduction=reduction), (_t(logits),)
    )
