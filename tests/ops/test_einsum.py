"""einsum's one rule against torch, ``...`` included, to first and second order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd import gradgradcheck

CASES = [
    ("...ij,jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),  # broadcast dims of size 1
    ("...ij->...", [(2, 3, 4)]),
    ("...j,jk", [(2, 3), (3, 4)]),  # implicit output with broadcast dims
    ("a...b,b->a...", [(2, 3, 5, 4), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),  # attention scores
    ("ij->", [(3, 4)]),
    ("ijk->ki", [(2, 3, 4)]),
]


@pytest.mark.parametrize("equation,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_matches_torch_and_second_order(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=s) for s in shapes]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    expected, got = torch.einsum(equation, *theirs), ndgrad.einsum(equation, *ours)
    weights = rng.normal(size=tuple(expected.shape))
    (expected * torch.tensor(weights)).sum().backward()
    (got * ndgrad.tensor(weights)).sum().backward()
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-10)
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-10, atol=1e-12)
    fresh = tuple(ndgrad.tensor(a, requires_grad=True) for a in arrays)
    assert gradgradcheck(lambda *x: ndgrad.einsum(equation, *x), fresh)


def test_a_repeated_subscript_says_its_derivative_is_missing():
    m = ndgrad.randn(3, 3, requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"repeated subscript \('ii'"):
        ndgrad.einsum("ii->i", m)
    assert ndgrad.einsum("ii->i", m.detach()).shape == (3,)  # without grad it is computed
