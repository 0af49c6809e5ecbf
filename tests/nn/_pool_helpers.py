"""Shared comparison of an ndgrad op and its torch twin: values, indices, gradients, grad_fn."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import ndgrad


def compare(
    fnd: Callable,
    fto: Callable,
    shape: tuple,
    dtype: str = "float64",
    ties: bool = False,
    seed: int = 0,
) -> None:
    rng = np.random.default_rng(seed)
    if ties:
        a = rng.integers(0, 3, size=shape).astype(dtype)
    else:
        a = rng.normal(size=shape).astype(dtype)
    xn = ndgrad.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    on, ot = fnd(xn), fto(xt)
    if isinstance(ot, tuple):
        assert on[1].dtype == ndgrad.int64
        np.testing.assert_array_equal(on[1].numpy(), ot[1].numpy())
        on, ot = on[0], ot[0]
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    assert on.shape == tuple(ot.shape)
    assert on.dtype == getattr(ndgrad, dtype)
    np.testing.assert_allclose(on.detach().numpy(), ot.detach().numpy(), **tol)
    g = rng.normal(size=tuple(ot.shape)).astype(dtype)
    on.backward(ndgrad.tensor(g))
    ot.backward(torch.tensor(g))
    assert xn.grad.dtype == xn.dtype
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), **tol)
    assert on.grad_fn.name() == type(ot.grad_fn).__name__
