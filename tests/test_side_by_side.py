"""The comparison itself must be able to fail: one check per kind of difference it guards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.side_by_side import NDGRAD, TORCH, _normalise, assert_same

import ndgrad


def _pair(ours, ref):
    return _normalise(ours, NDGRAD), _normalise(ref, TORCH)


@pytest.mark.parametrize(
    ("ours", "ref"),
    [
        (ndgrad.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1])),  # values
        (ndgrad.tensor([1.0, 2.0]), torch.tensor([[1.0, 2.0]])),  # shape
        (ndgrad.tensor([1, 2]), torch.tensor([1.0, 2.0])),  # dtype
        (ndgrad.tensor([1.0], requires_grad=True), torch.tensor([1.0])),  # requires_grad
        (ndgrad.float64, torch.float32),
        ("tensor([1., 2.])", "tensor([1., 3.])"),  # printed numbers
        ("Linear(in_features=2)", "Linear(out_features=2)"),  # printed text
        ([1, 2], [1, 2, 3]),
        ({"a": 1}, {"b": 1}),
        (1, 1.0),  # an int where torch gives a float
        (0.5, 0.50001),
        (np.array([1.0]), np.array([1.0], np.float32)),
    ],
)
def test_assert_same_notices_each_kind_of_difference(ours, ref):
    with pytest.raises(AssertionError):
        assert_same(*_pair(ours, ref))


def test_assert_same_accepts_the_allowed_differences():
    assert_same(*_pair(ndgrad.ones(2).shape, torch.ones(2).shape))
    assert_same(*_pair(repr(ndgrad.ones(2).shape), repr(torch.ones(2).shape)))
    assert_same(*_pair(str(ndgrad.float64), str(torch.float64)))
    # the last printed digit of a float32 transcendental
    assert_same("tensor([162754.7812,  2.0000])", "tensor([162754.7969, 2.0000])")
    assert_same(*_pair(ndgrad.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-7])))
