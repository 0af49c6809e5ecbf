"""Every differentiable op's float64 gradient equals central finite differences.

Shapes (broadcasting included) and values come from hypothesis; domains keep clear of
points where an op is not differentiable.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import check_gradients_fd, float_outputs
from .op_table import OPS

DIFFERENTIABLE = [op for op in OPS if op.grad]


@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=lambda op: op.name)
@settings(max_examples=30)
@given(data=st.data())
def test_gradient_matches_finite_differences(op, data):
    arrays, params = data.draw(op.inputs, label="inputs")
    check_gradients_fd(op.fn, arrays, params)


def _float64_inputs(arrays):
    import ndgrad

    return [
        ndgrad.tensor(a, dtype=ndgrad.float64, requires_grad=True)
        if a.dtype.kind == "f"
        else ndgrad.tensor(a)
        for a in arrays
    ]


@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=lambda op: op.name)
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_second_order_matches_finite_differences(op, data):
    """The same rule differentiated again (create_graph) equals finite differences of it."""
    import ndgrad
    from ndgrad.autograd import gradgradcheck

    arrays, params = data.draw(op.inputs, label="inputs")
    inputs = _float64_inputs(arrays)
    float_positions = [i for i, t in enumerate(inputs) if t.is_floating_point()]

    def fn(*floats):
        args = list(inputs)
        for i, t in zip(float_positions, floats):
            args[i] = t
        outs = float_outputs(op.fn(ndgrad, *args, **params))
        return tuple(outs)

    floats = tuple(inputs[i] for i in float_positions)
    assert gradgradcheck(fn, floats, eps=1e-6, atol=1e-5, rtol=1e-4)
