"""Reading .grad of a non-leaf warns as in PyTorch (and stays None)."""

from __future__ import annotations

import warnings

import pytest
import torch

import ndgrad


@pytest.mark.parametrize("lib", [ndgrad, torch], ids=["ndgrad", "torch"])
def test_non_leaf_grad_warns_and_is_none(lib):
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None


@pytest.mark.parametrize("lib", [ndgrad, torch], ids=["ndgrad", "torch"])
def test_leaf_and_retained_grads_do_not_warn(lib):
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad is not None and y.grad is not None
        assert lib.zeros(2).grad is None
