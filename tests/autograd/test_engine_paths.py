"""The engine's tree fast path gives the general engine's (and PyTorch's) gradients.

``loss.backward()`` runs nodes used by a single consumer straight after that consumer
(``graph._run_tree``) and hands nodes used more than once, with the leaves, to the general
engine. Random programs mix both kinds of node; ``autograd.grad`` always takes the general
path, and torch is the reference for both.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import ndgrad  # noqa: E402

SHAPES = [(3,), (2, 3), (1, 3)]
OPS = ["add", "mul", "sub", "tanh", "sum0", "square"]


def _apply(lib: object, op: str, a: object, b: object) -> object:
    if op == "add":
        return a + b
    if op == "mul":
        return a * b
    if op == "sub":
        return a - b
    if op == "tanh":
        return lib.tanh(a)
    if op == "sum0":
        return a.sum(0, keepdim=True) if a.dim() == 2 else a * 1.5
    return a**2


def _run(lib: object, leaves: list, program: list, retain: int | None) -> tuple:
    values = list(leaves)
    kept = None
    for i, (op, ia, ib) in enumerate(program):
        values.append(_apply(lib, op, values[ia % len(values)], values[ib % len(values)]))
        if retain == i:
            kept = values[-1]
            kept.retain_grad()
    return values[-1].sum(), kept


programs = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=9
)


@given(program=programs, retain=st.one_of(st.none(), st.integers(0, 8)), seed=st.integers(0, 99))
def test_random_programs_match_torch_and_the_general_engine(
    program: list, retain: int | None, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in SHAPES]
    mine = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    calls = []
    mine[0].register_hook(lambda g: calls.append(g.numpy().copy()))

    general = ndgrad.autograd.grad(_run(ndgrad, mine, program, None)[0], mine, allow_unused=True)
    loss, kept = _run(ndgrad, mine, program, retain)
    expected, kept_ref = _run(torch, ref, program, retain)
    loss.backward()
    expected.backward()

    for m, r, g in zip(mine, ref, general, strict=True):
        assert (m.grad is None) == (r.grad is None) == (g is None)
        if r.grad is not None:
            np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(m.grad.numpy(), g.numpy())
    # A leaf's hook sees its whole gradient once per backward (grad() ran it once too).
    assert len(calls) == (0 if ref[0].grad is None else 2)
    if calls:
        np.testing.assert_array_equal(calls[1], mine[0].grad.numpy())
    if kept_ref is not None and kept_ref.grad is not None:
        np.testing.assert_allclose(kept.grad.numpy(), kept_ref.grad.numpy(), rtol=1e-12)


def test_node_used_by_a_consumer_outside_the_backward_graph() -> None:
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    other = h.exp()  # a second use of h's node that this backward never reaches
    (h * h).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])
    assert other.grad_fn is not None


def test_tree_path_frees_the_graph_and_honours_retain_graph() -> None:
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).tanh().sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_tree_path_create_graph_gives_second_derivatives() -> None:
    x = ndgrad.tensor([0.5, -1.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gx,) = ndgrad.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(gx.numpy(), 6 * x.detach().numpy())


def test_non_leaf_hook_changes_what_flows_on_in_the_tree_path() -> None:
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: g * 10)
    (h + 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 20.0])


def test_multi_output_node_with_one_consumer() -> None:
    class Split(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx: object, x: object) -> tuple:
            return x * 2, x * 3

        @staticmethod
        def backward(ctx: object, ga: object, gb: object) -> object:
            total = 0
            if ga is not None:
                total = total + ga * 2
            if gb is not None:
                total = total + gb * 3
            return total

    x = ndgrad.tensor([1.0, 4.0], requires_grad=True)
    a, b = Split.apply(x)
    (b * b).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 72.0])
    x.grad = None
    a, b = Split.apply(x)
    (a + b).sum().backward()  # the node is used twice: the general engine takes over
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])
