"""The margin/embedding/likelihood losses, 3-D and negative padding and the dropout variants
on ``cuda`` (the fake CuPy here, a GPU under ``make test-gpu``): the CPU's values and
gradients; dropout's output and gradients stay on the device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tests.gpu._device import TOL

import ndgrad
from ndgrad.nn import functional as F

RNG = np.random.default_rng(5)
X, Y, Z = (RNG.normal(size=(4, 3)) for _ in range(3))
SIGNS = RNG.choice([-1.0, 1.0], size=(4, 3))
VOLUME = RNG.normal(size=(1, 2, 3, 3, 3))


def _t(a: Any, dev: str) -> ndgrad.Tensor:
    return ndgrad.tensor(a, device=dev)


CASES: dict[str, Callable[[ndgrad.Tensor, str], ndgrad.Tensor]] = {
    "margin_ranking": lambda x, d: F.margin_ranking_loss(x, _t(Y, d), _t(SIGNS, d)),
    "hinge": lambda x, d: F.hinge_embedding_loss(x, _t(SIGNS, d)),
    "soft_margin": lambda x, d: F.soft_margin_loss(x, _t(SIGNS, d)),
    "cosine": lambda x, d: F.cosine_embedding_loss(x, _t(Y, d), _t(SIGNS[:, 0], d)),
    "triplet": lambda x, d: F.triplet_margin_loss(x, _t(Y, d), _t(Z, d), swap=True),
    "triplet_distance": lambda x, d: F.triplet_margin_with_distance_loss(x, _t(Y, d), _t(Z, d)),
    "multilabel_soft": lambda x, d: F.multilabel_soft_margin_loss(
        x, _t(Y > 0, d).double(), weight=_t(np.ones(3) / 2, d)
    ),
    "multi_margin": lambda x, d: F.multi_margin_loss(
        x, _t(np.array([0, 2, 1, 1]), d), p=2, weight=_t(np.full(3, 0.5), d)
    ),
    "multilabel_margin": lambda x, d: F.multilabel_margin_loss(
        x, _t(np.array([[0, 2, -1], [1, -1, 0], [2, 1, 0], [-1, 0, 0]]), d)
    ),
    "poisson": lambda x, d: F.poisson_nll_loss(x, _t(np.abs(Y).round(), d), full=True),
    "gaussian": lambda x, d: F.gaussian_nll_loss(x, _t(Y, d), _t(np.abs(Z[:, :1]), d)),
    "pad_circular": lambda x, d: (
        F.pad(x.reshape(1, 1, 2, 2, 3), (1, -1, 2, 0, 1, 1), mode="circular").pow(2).sum()
    ),
    "pad_reflect": lambda x, d: (
        F.pad(x.reshape(1, 2, 2, 3), (2, -1, 1, 1), mode="reflect").pow(2).sum()
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_losses_and_pads_on_cuda_equal_the_cpu(cuda: Any, name: str) -> None:
    results = []
    for dev in ("cpu", "cuda"):
        x = ndgrad.tensor(X, device=dev, requires_grad=True)
        out = CASES[name](x, dev)
        assert out.device.type == dev
        out.backward()
        results.append((out.detach().cpu().numpy(), x.grad.cpu().numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, **TOL)


@pytest.mark.parametrize(
    ("fn", "shape"),
    [
        (F.dropout1d, (2, 3, 4)),
        (F.dropout3d, (2, 3, 2, 2, 2)),
        (F.alpha_dropout, (3, 4)),
        (F.feature_alpha_dropout, (2, 3, 4)),
    ],
)
def test_dropout_variants_on_cuda(cuda: Any, fn: Callable, shape: tuple) -> None:
    x = ndgrad.tensor(VOLUME.reshape(-1)[: int(np.prod(shape))].reshape(shape), device="cuda")
    x.requires_grad_(True)
    y = fn(x, 0.3, True)
    assert y.device.type == "cuda"
    y.sum().backward()
    assert x.grad.device.type == "cuda" and x.grad.shape == x.shape
