"""Every op of the op table, forward and backward, on ``cuda`` tensors equals the CPU.

On the CPU the ``cuda`` fixture is the fake CuPy, whose arrays refuse NumPy: an op that calls
NumPy on tensor data (or mixes a host array into a device op) fails here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.gpu._device import TOL, OnDevice
from tests.ops.helpers import all_outputs, float_outputs, weights_for
from tests.ops.op_table import OPS

import ndgrad

CREATION = {"tensor", "linspace", "arange", "zeros", "ones", "full", "eye", "rand", "randn"}


def host(t: ndgrad.Tensor) -> np.ndarray:
    assert isinstance(t, ndgrad.Tensor)
    return t.detach().cpu().numpy()


def run(op: Any, arrays: tuple, params: dict, device: str) -> tuple[list, list]:
    lib = OnDevice(device, CREATION)
    inputs = [
        lib.tensor(a, dtype=ndgrad.float64, requires_grad=op.grad)
        if a.dtype.kind == "f"
        else lib.tensor(a)
        for a in arrays
    ]
    result = op.fn(lib, *inputs, **params)
    outs = all_outputs(result)
    for o in outs:
        assert o.device.type == device, f"{op.name} put an output on {o.device}"
    floats = float_outputs(result)
    grads = []
    if op.grad and floats and any(t.requires_grad for t in inputs):
        weights = weights_for(floats)
        loss = sum((o * lib.tensor(w)).sum() for o, w in zip(floats, weights))
        leaves = [t for t in inputs if t.requires_grad]
        grads = ndgrad.autograd.grad(loss, leaves, allow_unused=True)
        for g in grads:
            assert g is None or g.device.type == device
    return [host(o) for o in outs], [None if g is None else host(g) for g in grads]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@settings(max_examples=2, deadline=None)
@given(data=st.data())
def test_op_on_cuda_equals_cpu(cuda: Any, op: Any, data: Any) -> None:
    arrays, params = data.draw(op.inputs, label="inputs")
    want_out, want_grad = run(op, arrays, params, "cpu")
    got_out, got_grad = run(op, arrays, params, "cuda")
    for got, want in zip(got_out, want_out, strict=True):
        np.testing.assert_allclose(got, want, **TOL, err_msg=op.name)
    for got, want in zip(got_grad, want_grad, strict=True):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, **TOL, err_msg=op.name)
