"""F.cross_entropy / F.nll_loss option combinations against PyTorch: K-dim targets with
ignore_index, weight and label smoothing; probability targets with weight and smoothing;
'mean' over targets that are all ignored (NaN loss, zero gradient)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd import gradgradcheck
from ndgrad.nn import functional as F


def _compare(fn_name, x, target, weight, **kw):
    out = []
    for lib, fns in ((ndgrad, F), (torch, torch.nn.functional)):
        xt = lib.tensor(x, requires_grad=True)
        w = None if weight is None else lib.tensor(weight)
        loss = getattr(fns, fn_name)(xt, lib.tensor(target), weight=w, **kw)
        g = np.linspace(-1, 1, loss.numel()).reshape(tuple(loss.shape)).astype(x.dtype)
        (loss * lib.tensor(g)).sum().backward()
        out.append((loss.detach().numpy(), xt.grad.numpy()))
    tol = {"atol": 1e-12, "rtol": 1e-10} if x.dtype == np.float64 else {"atol": 1e-6, "rtol": 1e-5}
    for a, b in zip(*out):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, equal_nan=True, **tol)


SHAPES = [(5, 4), (3, 4, 2, 3), (4,)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_indices(dtype, shape, reduction):
    rng = np.random.default_rng(0)
    classes = shape[0] if len(shape) == 1 else shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, classes, tshape)
    ignored = t.copy()
    if t.ndim:
        ignored.flat[::2] = -100
    weight = (rng.random(classes) + 0.1).astype(dtype)
    for target, ii in (
        (t, -100),
        (ignored, -100),
        (np.where(t == 1, 7, t), 7),
        (np.full(tshape, 3), 3),
    ):
        for w in (None, weight):
            kw = {"reduction": reduction, "ignore_index": ii}
            for ls in (0.0, 0.2):
                _compare("cross_entropy", x, target, w, label_smoothing=ls, **kw)
            _compare("nll_loss", x, target, w, **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_class_probabilities(dtype, shape):
    rng = np.random.default_rng(1)
    classes = shape[0] if len(shape) == 1 else shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    probs = rng.random(shape).astype(dtype)
    probs /= probs.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    weight = (rng.random(classes) + 0.1).astype(dtype)
    for reduction in ("mean", "sum", "none"):
        for w in (None, weight):
            for ls in (0.0, 0.3):
                _compare("cross_entropy", x, probs, w, reduction=reduction, label_smoothing=ls)


def test_all_ignored_mean_is_nan_with_zero_gradient_and_twice_differentiable():
    x = ndgrad.tensor(np.random.default_rng(2).standard_normal((3, 4)), requires_grad=True)
    t = ndgrad.tensor([-100, -100, -100])
    loss = F.nll_loss(x.log_softmax(1), t)
    loss.backward()
    assert np.isnan(float(loss)) and not x.grad.numpy().any()
    t = ndgrad.tensor([0, -100, 2])
    w = ndgrad.tensor([0.5, 1.0, 2.0, 1.5], dtype=ndgrad.float64)
    assert gradgradcheck(lambda x: F.cross_entropy(x, t, weight=w, label_smoothing=0.1), (x,))
