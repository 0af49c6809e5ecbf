"""Every differentiable op's float64 gradient equals central finite differences.

Shapes (broadcasting included) and values come from hypothesis; domains keep clear of
points where an op is not differentiable.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import check_gradients_fd
from .op_table import OPS

DIFFERENTIABLE = [op for op in OPS if op.grad]


@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=lambda op: op.name)
@settings(max_examples=30)
@given(data=st.data())
def test_gradient_matches_finite_differences(op, data):
    arrays, params = data.draw(op.inputs, label="inputs")
    check_gradients_fd(op.fn, arrays, params)
