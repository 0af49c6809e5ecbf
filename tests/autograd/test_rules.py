"""The one-rule core: every op's derivative is one rule, run on arrays and on Tensors alike.

A rule reads tensors only through what its op saved (so in-place changes are caught by the
version check); constants may sit in its closure. The namespaces a rule is written against
offer the same names for arrays and for Tensors, so a rule that runs at first order runs at
every order.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.ops.helpers import float_outputs
from tests.ops.op_table import OPS

import ndgrad
from ndgrad.autograd.graph import Node
from ndgrad.ops import namespace


def test_array_and_tensor_namespaces_offer_the_same_names():
    arrays = set(vars(namespace.array_namespace(np.empty(0))))
    tensors = set(vars(namespace.TENSOR))
    assert arrays == tensors == set(namespace.API)


def _nodes(outputs):
    seen, stack = set(), [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(e[0] for e in node.edges if e is not None and isinstance(e[0], Node))


def _captured(fn):
    """Everything a rule reaches without being handed it: closure cells and defaults,
    following nested functions."""
    todo, out = [fn], []
    while todo:
        f = todo.pop()
        for cell in getattr(f, "__closure__", None) or ():
            value = cell.cell_contents
            out.append(value)
            if callable(value) and hasattr(value, "__closure__"):
                todo.append(value)
        out.extend(getattr(f, "__defaults__", None) or ())
    return out


@pytest.mark.parametrize("op", [op for op in OPS if op.grad], ids=lambda op: op.name)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_rules_hold_no_tensor_or_array_in_their_closure(op, data):
    arrays, params = data.draw(op.inputs, label="inputs")
    inputs = [
        ndgrad.tensor(a, requires_grad=True) if a.dtype.kind == "f" else ndgrad.tensor(a)
        for a in arrays
    ]
    outputs = float_outputs(op.fn(ndgrad, *inputs, **params))
    for node in _nodes(outputs):
        if node.tensor_rule:
            continue
        for value in _captured(node.rule):
            assert not isinstance(value, (ndgrad.Tensor, np.ndarray)), (
                f"{node.name()}'s rule keeps a {type(value).__name__} in its closure: pass it "
                "through `saved` (or save_output) so that in-place changes are caught"
            )
