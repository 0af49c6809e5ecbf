"""nn.AdaptiveLogSoftmaxWithLoss against PyTorch with the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close, copy_weights

import ndgrad
from ndgrad import nn


def _pair(*args, dtype=np.float32, **kw):
    a = nn.AdaptiveLogSoftmaxWithLoss(*args, **kw)
    b = torch.nn.AdaptiveLogSoftmaxWithLoss(*args, **kw)
    if dtype == np.float64:
        a, b = a.double(), b.double()
    copy_weights(a, b)
    return a, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("head_bias", [False, True])
def test_forward_backward_log_prob_predict_match_torch(dtype, head_bias):
    rng = np.random.default_rng(0)
    a, b = _pair(13, 23, [3, 9, 15], div_value=2.0, head_bias=head_bias, dtype=dtype)
    tol = {} if dtype == np.float32 else {"atol": 1e-12, "rtol": 1e-10}
    for target in ([0, 22, 5, 9, 14, 2, 17, 1], [1, 2, 0, 1, 2, 2, 0, 0], [20] * 8):
        x = rng.standard_normal((8, 13)).astype(dtype)
        xa, xb = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ra, rb = a(xa, ndgrad.tensor(target)), b(xb, torch.tensor(target))
        assert type(ra).__name__ == "_ASMoutput" and ra._fields == ("output", "loss")
        assert_close(ra.output, rb.output, **tol)
        assert_close(ra.loss, rb.loss, **tol)
        a.zero_grad()
        b.zero_grad()
        (ra.loss + ra.output[1]).backward()
        (rb.loss + rb.output[1]).backward()
        assert_close(xa.grad, xb.grad, **tol)
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert_close(
                pa.grad if pa.grad is not None else ndgrad.zeros(pa.shape),
                pb.grad if pb.grad is not None else torch.zeros(pb.shape),
                **tol,
            )
        assert_close(a.log_prob(xa), b.log_prob(xb), **tol)
        assert (a.predict(xa).numpy() == b.predict(xb).numpy()).all()
    # Rows whose best head logit is a cluster's, mixed with shortlist rows.
    x = rng.standard_normal((40, 13)).astype(dtype) * 3
    pa, pb = a.predict(ndgrad.tensor(x)), b.predict(torch.tensor(x))
    assert pa.dtype == ndgrad.int64 and (pa.numpy() == pb.numpy()).all()


def test_unbatched_input():
    a, b = _pair(6, 10, [4])
    x = np.linspace(-1, 1, 6).astype(np.float32)
    for t in (2, 7):
        ra, rb = a(ndgrad.tensor(x), ndgrad.tensor(t)), b(torch.tensor(x), torch.tensor(t))
        assert ra.output.shape == () and ra.loss.shape == ()
        assert_close(ra.output, rb.output)
        assert_close(ra.loss, rb.loss)
    # log_prob wants a batch (PyTorch's log_softmax over dim 1 fails on one row)
    with pytest.raises(IndexError):
        b.log_prob(torch.tensor(x))
    with pytest.raises(IndexError):
        a.log_prob(ndgrad.tensor(x))


def test_structure_state_dict_and_init():
    for args, kw in (
        ((16, 20, [4, 10]), {}),
        ((32, 100, (5, 50)), {"div_value": 3.0, "head_bias": True}),
    ):
        a = nn.AdaptiveLogSoftmaxWithLoss(*args, **kw)
        b = torch.nn.AdaptiveLogSoftmaxWithLoss(*args, **kw)
        assert repr(a) == repr(b)
        assert list(a.state_dict()) == list(b.state_dict())
        for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
            assert tuple(va.shape) == tuple(vb.shape), k
        assert (a.cutoffs, a.shortlist_size, a.n_clusters, a.head_size) == (
            b.cutoffs,
            b.shortlist_size,
            b.n_clusters,
            b.head_size,
        )
    # Linear's init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    ndgrad.manual_seed(0)
    m = nn.AdaptiveLogSoftmaxWithLoss(64, 2000, [1000])
    w = m.head.weight.detach().numpy().copy()
    assert np.abs(w).max() <= 1 / 8 and np.abs(w).max() > 0.12
    m.reset_parameters()
    assert not np.array_equal(w, m.head.weight.detach().numpy())


def _raises(call_nd, call_t):
    with pytest.raises(Exception) as ref:
        call_t()
    with pytest.raises(type(ref.value)) as got:
        call_nd()
    assert str(got.value) == str(ref.value).replace("torch.", "ndgrad."), (got.value, ref.value)


@pytest.mark.parametrize("cutoffs", [[], [5, 3], [0, 4], [4, 10], [4, 4], [2.5], [3, 9]])
def test_bad_cutoffs(cutoffs):
    if cutoffs == [3, 9]:
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs)
        return
    _raises(
        lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs),
        lambda: torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs),
    )


@pytest.mark.parametrize(
    "shapes",
    [
        ((4, 6), [0, 1, 12, 3]),
        ((4, 6), [0, -1, 2, 3]),
        ((4, 6), [0, 1, 2]),
        ((4, 2, 6), [[0, 1]] * 4),
        ((4, 2, 6), [0, 1, 2, 3]),
        ((4, 6), 1),
        ((6,), [1]),
    ],
)
def test_bad_targets_and_shapes(shapes):
    size, target = shapes
    a, b = _pair(6, 10, [4])
    x = np.zeros(size, dtype=np.float32)
    _raises(
        lambda: a(ndgrad.tensor(x), ndgrad.tensor(target)),
        lambda: b(torch.tensor(x), torch.tensor(target)),
    )
