"""torch.linalg names, legacy tensor types, float() warning and device checks, vs torch."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import ndgrad

A = np.array([[1.0, -2.0, 0.5], [3.0, 4.0, -1.0], [0.2, 0.0, 2.0]])


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x: lib.linalg.norm(x),
        lambda lib, x: lib.linalg.norm(x, dim=1),
        lambda lib, x: lib.linalg.norm(x, ord=1),
        lambda lib, x: lib.linalg.norm(x, ord=math.inf),
        lambda lib, x: lib.linalg.norm(x, ord="fro"),
        lambda lib, x: lib.linalg.norm(x[0], ord=3),
        lambda lib, x: lib.linalg.vector_norm(x, ord=1),
        lambda lib, x: lib.linalg.vector_norm(x, ord=math.inf, dim=0, keepdim=True),
        lambda lib, x: lib.linalg.matrix_norm(x, ord=1),
        lambda lib, x: lib.linalg.matrix_norm(x, ord=-math.inf),
        lambda lib, x: lib.linalg.inv(x),
        lambda lib, x: lib.linalg.det(x),
    ],
    ids=lambda _: "",
)
def test_linalg_values_and_gradients_match_torch(call):
    results = []
    for lib in (ndgrad, torch):
        x = lib.tensor(A, requires_grad=True)
        out = call(lib, x)
        out.sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor"])
def test_legacy_tensor_types(name):
    ours, theirs = getattr(ndgrad, name)([1, 2]), getattr(torch, name)([1, 2])
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    assert isinstance(ours, getattr(ndgrad, name))
    assert not isinstance(ndgrad.ones(2, dtype=ndgrad.bool), getattr(ndgrad, name))
    assert tuple(getattr(ndgrad, name)(2, 3).shape) == (2, 3)


@pytest.mark.parametrize("lib", [ndgrad, torch], ids=["ndgrad", "torch"])
def test_float_of_tensor_requiring_grad_warns_item_does_not(lib):
    x = lib.ones(1, requires_grad=True)
    # torch warns once per process: another test on this worker may have used it up
    always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        with pytest.warns(UserWarning, match="requires_grad=True to a scalar"):
            float(x)
    finally:
        torch.set_warn_always(always)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.item()
        float(x.detach())


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.ones(2, device="cuda"),
        lambda lib: lib.zeros((2, 2), device="cuda:0"),
        lambda lib: lib.tensor([1.0], device="cuda"),
        lambda lib: lib.ones(2).to("cuda"),
    ],
)
def test_cuda_device_is_refused_like_a_cpu_only_torch(make):
    for lib in (ndgrad, torch):
        if lib is torch and torch.cuda.is_available():
            continue
        with pytest.raises(AssertionError, match="not compiled with CUDA"):
            make(lib)
    assert ndgrad.ones(2, device="cpu").device == ndgrad.device("cpu")
