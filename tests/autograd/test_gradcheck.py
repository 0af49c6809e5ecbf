"""gradcheck / gradgradcheck: pass on every built-in op, fail (naming the element) on bad ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.ops.op_table import OPS

import ndgrad
from ndgrad.autograd import GradcheckError, gradcheck, gradgradcheck

DIFFERENTIABLE = [op for op in OPS if op.grad]


def _inputs(arrays):
    return tuple(
        ndgrad.tensor(a, dtype=ndgrad.float64, requires_grad=True)
        if a.dtype.kind == "f"
        else ndgrad.tensor(a)
        for a in arrays
    )


def _float_outputs(result):
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    return tuple(r for r in items if r.is_floating_point())


@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=lambda op: op.name)
@settings(max_examples=1)
@given(data=st.data())
def test_gradcheck_passes_on_builtin_op(op, data):
    arrays, params = data.draw(op.inputs, label="inputs")
    inputs = _inputs(arrays)
    assert gradcheck(lambda *xs: _float_outputs(op.fn(ndgrad, *xs, **params)), inputs)


SECOND_ORDER = [
    "exp",
    "log",
    "sin",
    "tanh",
    "sigmoid",
    "mul",
    "div",
    "pow",
    "matmul",
    "sum",
    "softmax",
    "log_softmax",
    "logsumexp",
    "prod",
    "sqrt",
]


@pytest.mark.parametrize(
    "op", [op for op in DIFFERENTIABLE if op.name in SECOND_ORDER], ids=lambda op: op.name
)
@settings(max_examples=1)
@given(data=st.data())
def test_gradgradcheck_passes(op, data):
    arrays, params = data.draw(op.inputs, label="inputs")
    inputs = _inputs(arrays)
    assert gradgradcheck(lambda *xs: _float_outputs(op.fn(ndgrad, *xs, **params)), inputs)


def _wrong_exp(lib):
    class WrongExp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.exp()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            scale = lib.ones_like(x)
            scale[2] = 1.5  # wrong on element 2 only
            return g * x.exp() * scale

    return WrongExp


def test_gradcheck_names_the_wrong_element():
    x = ndgrad.tensor([0.1, -0.3, 0.5, 0.2], dtype=ndgrad.float64, requires_grad=True)
    with pytest.raises(GradcheckError) as err:
        gradcheck(_wrong_exp(ndgrad).apply, (x,))
    msg = str(err.value)
    assert msg.startswith("Jacobian mismatch for output 0 with respect to input 0,")
    assert "jacobian index (2, 2)" in msg and "d input[0][2]" in msg
    assert f"numerical {np.exp(0.5):.5f}" in msg and f"analytical {1.5 * np.exp(0.5):.5f}" in msg
    assert isinstance(err.value, RuntimeError)
    assert gradcheck(_wrong_exp(ndgrad).apply, (x,), raise_exception=False) is False
    # torch agrees that this backward is wrong.
    tx = torch.tensor([0.1, -0.3, 0.5, 0.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_wrong_exp(torch).apply, (tx,), raise_exception=False) is False


def test_gradgradcheck_catches_a_non_differentiable_backward():
    class DetachedSquare(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x.detach() + g * 0  # first order right, second order wrong

    x = ndgrad.tensor([0.4, -0.7], dtype=ndgrad.float64, requires_grad=True)
    assert gradcheck(DetachedSquare.apply, (x,))
    assert gradgradcheck(DetachedSquare.apply, (x,), raise_exception=False) is False


def test_gradcheck_validates_inputs():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda x: x * 2, (ndgrad.ones(2, dtype=ndgrad.float64),))
    with pytest.warns(UserWarning, match="not of double precision"):
        gradcheck(lambda x: x * 2, (ndgrad.ones(2, requires_grad=True),), raise_exception=False)


def test_gradcheck_multiple_inputs_and_outputs_match_torch_verdicts():
    a = np.array([[0.2, -0.5], [1.0, 0.3]])
    b = np.array([0.7, -0.1])
    for lib in (ndgrad, torch):
        ta = lib.tensor(a, requires_grad=True)
        tb = lib.tensor(b, requires_grad=True)
        f = lambda p, q: (p @ q, (p * q).tanh().sum())  # noqa: E731
        assert lib.autograd.gradcheck(f, (ta, tb), eps=1e-6, atol=1e-5, rtol=1e-3)
        assert lib.autograd.gradgradcheck(f, (ta, tb))
