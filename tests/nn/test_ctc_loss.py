"""nn.CTCLoss and F.ctc_loss against PyTorch, and by finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck
from ndgrad.nn import functional as F


def _run(lib, x, targets, il, tl, g=None, lengths_as_tensor=False, **kw):
    """The loss of log_softmax(x), and the gradients of x and of the log-probabilities."""
    xt = lib.tensor(x, requires_grad=True)
    lp = xt.log_softmax(-1)
    lp.retain_grad()
    if lengths_as_tensor:
        il, tl = lib.tensor(il), lib.tensor(tl)
    fn = F.ctc_loss if lib is ndgrad else torch.nn.functional.ctc_loss
    out = fn(lp, lib.tensor(targets), il, tl, **kw)
    weights = 1.0 if g is None else lib.tensor(g)
    (out * weights).sum().backward()
    return out, xt.grad, lp.grad


def _compare(x, targets, il, tl, dtype, **kw):
    x = x.astype(dtype)
    ref = _run(torch, x, targets, il, tl, **kw)
    got = _run(ndgrad, x, targets, il, tl, **kw)
    tol = {"atol": 1e-10, "rtol": 1e-9} if dtype == np.float64 else {"atol": 2e-5, "rtol": 2e-5}
    for a, b in zip(got, ref):
        assert a.dtype == getattr(ndgrad, str(b.dtype).split(".")[1])
        a, b = a.detach().numpy(), b.detach().numpy()
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, equal_nan=True, **tol)
    return got


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("concatenated", [False, True])
def test_matches_torch(dtype, reduction, zero_infinity, concatenated):
    rng = np.random.default_rng(0)
    for steps, batch, classes, longest in ((7, 4, 5, 3), (11, 3, 6, 5), (2, 3, 3, 2)):
        x = rng.standard_normal((steps, batch, classes))
        targets = rng.integers(1, classes, (batch, longest))
        targets[0, 1] = targets[0, 0]  # a repeated label: needs a blank between
        tl = [longest, 0, 1] + [2] * (batch - 3)  # a target of length 0
        il = [steps, steps - 1, 0] + [1] * (batch - 3)  # 0 frames, 1 frame for 2 labels: inf
        if concatenated:
            targets = np.concatenate([targets[i, : tl[i]] for i in range(batch)])
        g = rng.standard_normal(batch) if reduction == "none" else None
        kw = {"reduction": reduction, "zero_infinity": zero_infinity}
        _compare(x, targets, tuple(il), tuple(tl), dtype, g=g, **kw)


def test_blank_index_tensor_lengths_and_impossible_alignment():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, 4))
    targets = np.array([[0, 1, 1, 1], [2, 2, 2, 0]])
    for blank in (3, 2):
        t = np.where(targets == blank, 0, targets)
        _compare(x, t, [6, 5], [4, 3], np.float64, blank=blank, lengths_as_tensor=True)
    # Three repeated labels need five frames: four give an infinite loss and NaN gradients.
    x = x[:, :1]
    out, gx, _ = _compare(x, [[1, 1, 1]], [4], [3], np.float64, reduction="none")
    assert np.isinf(out.detach().numpy()).all() and np.isnan(gx.numpy()[:4]).all()
    out, gx, _ = _compare(x, [[1, 1, 1]], [4], [3], np.float64, zero_infinity=True)
    assert float(out) == 0 and not gx.numpy().any()


def test_unbatched_and_module():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    for red in ("none", "mean", "sum"):
        _compare(x, [1, 3], 5, 2, np.float32, reduction=red, lengths_as_tensor=True)
    m, ref = (
        nn.CTCLoss(blank=2, reduction="sum", zero_infinity=True),
        torch.nn.CTCLoss(2, "sum", True),
    )
    assert repr(m) == repr(ref) == "CTCLoss()"
    assert (m.blank, m.reduction, m.zero_infinity) == (ref.blank, ref.reduction, ref.zero_infinity)
    assert list(m.state_dict()) == []
    lp = rng.standard_normal((6, 2, 3))
    targets, il, tl = [[1, 0], [1, 1]], (6, 6), (1, 2)
    out = m(ndgrad.tensor(lp).log_softmax(2), ndgrad.tensor(targets), il, tl)
    assert_close(out, ref(torch.tensor(lp).log_softmax(2), torch.tensor(targets), il, tl))


def test_gradcheck_through_log_softmax():
    rng = np.random.default_rng(3)
    x = ndgrad.tensor(rng.standard_normal((6, 2, 4)), requires_grad=True)

    def fn(x):
        lp = x.log_softmax(2)
        return F.ctc_loss(
            lp, ndgrad.tensor([[1, 2, 2], [3, 1, 0]]), (6, 5), (3, 2), reduction="none"
        )

    assert gradcheck(fn, (x,))


def test_double_backward_raises_as_torch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 1, 3))
    messages = []
    for lib, fn in ((torch, torch.nn.functional.ctc_loss), (ndgrad, F.ctc_loss)):
        lp = lib.tensor(x, requires_grad=True)
        loss = fn(lp, lib.tensor([[1, 2]]), (5,), (2,), reduction="sum")
        (g,) = lib.autograd.grad(loss, lp, create_graph=True)
        assert g.requires_grad and g.grad_fn.name().endswith("NotImplemented")
        with pytest.raises(RuntimeError) as err:
            lib.autograd.grad(g.sum(), lp)
        messages.append(str(err.value))
        assert loss.grad_fn.next_functions[0][0].name() == "CtcLossBackward0"
    assert messages[0] == messages[1]


def _raises(call_nd, call_t):
    with pytest.raises(Exception) as ref:
        call_t()
    with pytest.raises(type(ref.value)) as got:
        call_nd()
    assert str(got.value) == str(ref.value).replace("torch.", "ndgrad."), (got.value, ref.value)


LP = np.zeros((5, 2, 4), dtype=np.float32)
TG = [[1, 2], [3, 3]]


@pytest.mark.parametrize(
    "args",
    [
        (LP, TG, (6, 4), (1, 2), {}),
        (LP, TG, (5, 4), (3, 2), {}),
        (LP, TG, (5, 4), (-1, 2), {}),
        (LP, TG, (5, -1), (1, 2), {}),
        (LP, TG, (5, 4, 3), (1, 2), {}),
        (LP, TG, (5, 4), (1, 2, 3), {}),
        (LP, TG, (5, 4), (1, 2), {"blank": 4}),
        (LP, TG, (5, 4), (1, 2), {"blank": -1}),
        (LP, TG, (5, 4), (1, 2), {"reduction": "foo"}),
        (LP, [1, 2, 3], (5, 4), (2, 2), {}),
        (LP, [[1, 2, 3]], (5, 4), (2, 2), {}),
        (LP, [[[1, 2]]], (5, 4), (2, 2), {}),
        (LP[0], TG, (5, 4), (2, 2), {}),
        (LP[0, 0], [1], (5, 4), (2, 2), {}),
        (LP.astype(np.float16), TG, (5, 4), (1, 2), {}),
    ],
)
def test_errors_match_torch(args):
    lp, targets, il, tl, kw = args

    def call(lib, fn):
        return fn(lib.tensor(lp), lib.tensor(targets), il, tl, **kw)

    _raises(lambda: call(ndgrad, F.ctc_loss), lambda: call(torch, torch.nn.functional.ctc_loss))


@pytest.mark.parametrize("lengths", [([5.0, 4.0], [1, 2]), ([5, 4], [1.0, 2.0])])
def test_float_lengths_raise_as_torch(lengths):
    il, tl = lengths
    _raises(
        lambda: F.ctc_loss(
            ndgrad.tensor(LP), ndgrad.tensor(TG), ndgrad.tensor(il), ndgrad.tensor(tl)
        ),
        lambda: torch.nn.functional.ctc_loss(
            torch.tensor(LP), torch.tensor(TG), torch.tensor(il), torch.tensor(tl)
        ),
    )
