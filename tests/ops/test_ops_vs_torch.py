"""Every op of the table gives torch 2.13's values, dtypes and gradients on the same inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import compare_with_torch
from .op_table import OPS


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@settings(max_examples=25)
@given(data=st.data())
def test_values_and_gradients_match_torch(op, dtype, data):
    arrays, params = data.draw(op.inputs, label="inputs")
    compare_with_torch(op.fn, arrays, params, dtype, grad=op.grad)
