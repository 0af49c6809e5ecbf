"""The ops on the benchmarks' hot paths (the fused linear and cross-entropy primitives, Python
number operands, in-place fills, batch sampling) give PyTorch's numbers, gradients and second
derivatives.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ndgrad  # noqa: E402
import ndgrad.nn.functional as F  # noqa: E402
from ndgrad.utils.data import BatchSampler, SequentialSampler  # noqa: E402


def _pair(arr: np.ndarray, grad: bool = True) -> tuple:
    return ndgrad.tensor(arr, requires_grad=grad), torch.tensor(arr, requires_grad=grad)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("needs", ["all", "weight", "input"])
def test_linear_2d_matches_torch(bias: bool, needs: str) -> None:
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(6, 4), (3, 4), (3,)])
    mine = [ndgrad.tensor(v, requires_grad=needs in ("all", n)) for v, n in
            [(x, "input"), (w, "weight"), (b, "weight")]]  # fmt: skip
    ref = [torch.tensor(t.detach().numpy(), requires_grad=t.requires_grad) for t in mine]
    out = F.linear(mine[0], mine[1], mine[2] if bias else None)
    expected = torch.nn.functional.linear(ref[0], ref[1], ref[2] if bias else None)
    assert out.grad_fn.name() == expected.grad_fn.name()
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    (out**2).sum().backward()
    (expected**2).sum().backward()
    for m, r in zip(mine[: 2 + bias], ref[: 2 + bias], strict=True):
        assert (m.grad is None) == (r.grad is None)
        if m.grad is not None:
            assert m.grad.dtype == ndgrad.float32
            np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_second_derivatives_are_exact() -> None:
    rng = np.random.default_rng(1)
    args = [
        ndgrad.tensor(rng.standard_normal(s), requires_grad=True) for s in [(5, 3), (2, 3), (2,)]
    ]
    assert ndgrad.autograd.gradcheck(F.linear, args)
    assert ndgrad.autograd.gradgradcheck(F.linear, args)


def test_linear_of_batched_inputs_and_mismatched_shapes() -> None:
    rng = np.random.default_rng(2)
    x3 = rng.standard_normal((2, 5, 3)).astype(np.float32)
    w, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    out = F.linear(ndgrad.tensor(x3), ndgrad.tensor(w), ndgrad.tensor(b))
    ref = torch.nn.functional.linear(torch.tensor(x3), torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        F.linear(ndgrad.ones(2, 5), ndgrad.ones(4, 3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_logits_matches_torch(reduction: str) -> None:
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal((9, 4)) * 5).astype(np.float32)
    target = rng.integers(0, 4, 9)
    mine, ref = _pair(logits)
    out = F.cross_entropy(mine, ndgrad.tensor(target), reduction=reduction)
    expected = torch.nn.functional.cross_entropy(ref, torch.tensor(target), reduction=reduction)
    assert out.dtype == ndgrad.float32 and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    upstream = rng.standard_normal(expected.shape).astype(np.float32)
    out.backward(ndgrad.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_second_derivatives_are_exact() -> None:
    rng = np.random.default_rng(4)
    target = ndgrad.tensor(rng.integers(0, 3, 5))
    for reduction in ("mean", "sum", "none"):
        logits = ndgrad.tensor(rng.standard_normal((5, 3)), requires_grad=True)
        fn = lambda v, r=reduction: F.cross_entropy(v, target, reduction=r)
        assert ndgrad.autograd.gradcheck(fn, [logits])
        assert ndgrad.autograd.gradgradcheck(fn, [logits])


def test_cross_entropy_ignored_and_bad_targets() -> None:
    logits = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    target = np.array([0, -100, 2, 1])
    out = F.cross_entropy(ndgrad.tensor(logits), ndgrad.tensor(target))
    ref = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(ndgrad.tensor(logits), ndgrad.tensor([0, 7, 1, 1]))


def test_cross_entropy_saves_the_target_not_the_logits() -> None:
    # As PyTorch: log_softmax saves its result (internal), nll_loss the target.
    logits = ndgrad.randn(3, 4, requires_grad=True)
    scaled = logits * 1.0
    loss = F.cross_entropy(scaled, ndgrad.tensor([0, 1, 2]))
    scaled.add_(1.0)
    loss.backward()
    target = ndgrad.tensor([0, 1, 2])
    loss = F.cross_entropy(logits * 1.0, target)
    target.add_(0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_python_number_operands_keep_dtype_and_graph_shape() -> None:
    for dtype in (ndgrad.float32, ndgrad.float64, ndgrad.float16):
        x = ndgrad.ones(2, dtype=dtype, requires_grad=True)
        for y in (x * 2, 2 * x, x + 1, 1 + x, x - 1, x / 3, x / 0.5):
            assert y.dtype == dtype
            assert [f is None for f, _ in y.grad_fn.next_functions] == [False, True]
    x = ndgrad.tensor([1.0, -2.0], requires_grad=True)
    ((x * 3 + 1) / 0.25 - 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [12.0, 12.0])
    with np.errstate(all="raise"):  # no floating-point warnings escape, as in PyTorch
        big = ndgrad.tensor([3e38, 0.0]) / 1e-3
    assert np.isinf(big.numpy()[0])
    assert (ndgrad.tensor([1.0]) / 0).item() == float("inf")
    ints = ndgrad.tensor([3]) * 2.5
    assert ints.dtype == ndgrad.float32 and ints.item() == 7.5


def test_pow_two_gradient_matches_torch_formula() -> None:
    arr = np.array([0.3, -1.7, 2.5], dtype=np.float32)
    (mine, ref) = _pair(arr)
    (mine**2).sum().backward()
    (ref**2).sum().backward()
    np.testing.assert_array_equal(mine.grad.numpy(), ref.grad.numpy())
    assert ndgrad.autograd.gradgradcheck(
        lambda v: v**3, [ndgrad.tensor(arr.astype(np.float64), requires_grad=True)]
    )


def test_fill_and_zero_write_in_place_and_bump_the_version() -> None:
    base = ndgrad.ones(2, 3)
    row = base[0]
    before = base._version
    row.zero_()
    assert base.tolist() == [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]] and base._version == before + 1
    ints = ndgrad.zeros(2, dtype=ndgrad.long).fill_(1.7)
    assert ints.tolist() == [1, 1]
    leaf = ndgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.zero_()


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_batches(drop_last: bool) -> None:
    batches = list(BatchSampler(SequentialSampler(range(7)), 3, drop_last))
    expected = [[0, 1, 2], [3, 4, 5]] + ([] if drop_last else [[6]])
    assert batches == expected
    assert len(BatchSampler(SequentialSampler(range(7)), 3, drop_last)) == len(expected)


def test_batch_indices_from_a_list_of_ints() -> None:
    t = ndgrad.tensor([3, 1, 2])
    assert t.dtype == ndgrad.int64 and t.tolist() == [3, 1, 2]
    assert ndgrad.tensor([True, 1]).dtype == ndgrad.int64
    assert ndgrad.tensor([1, 2.0]).dtype == ndgrad.float32


def test_first_gradients_never_share_a_buffer() -> None:
    """A leaf's .grad may keep the backward's buffer only when nothing else can see it."""
    a, b = ndgrad.ones(3, requires_grad=True), ndgrad.ones(3, requires_grad=True)
    (a + b).sum().backward()  # the same gradient tensor reaches both leaves
    a.grad.add_(10.0)
    assert b.grad.tolist() == [1.0, 1.0, 1.0]
    kept: list = []
    c = ndgrad.ones(2, requires_grad=True)
    c.register_hook(lambda g: kept.append(g))
    (c * 3).sum().backward()
    c.grad.add_(1.0)
    assert kept[0].tolist() == [3.0, 3.0]
    x = ndgrad.randn(4, 3)
    w = ndgrad.randn(2, 3, requires_grad=True)
    bias = ndgrad.randn(2, requires_grad=True)
    F.linear(x, w, bias).sum().backward()
    first = w.grad.clone()
    F.linear(x, w, bias).sum().backward()  # accumulates in place into the kept buffer
    np.testing.assert_allclose(w.grad.numpy(), 2 * first.numpy(), rtol=1e-6)
    assert w.grad.numpy().flags.writeable and bias.grad.numpy().flags.writeable
