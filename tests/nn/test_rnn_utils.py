"""nn.utils.rnn (padding and packing, RNNs on packed batches) and gradient clipping,
against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn
from tests.nn._helpers import assert_close, copy_weights

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn.utils import rnn as nrnn

LENGTHS = [3, 5, 2]


@pytest.mark.parametrize(
    ("mode", "kw"),
    [
        ("GRU", {}),
        ("RNN", {"bidirectional": True}),
        ("LSTM", {"bidirectional": True, "num_layers": 2}),
        ("LSTM", {"proj_size": 2, "bidirectional": True}),
    ],
)
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_rnn_on_packed_batch_matches_torch(mode, kw, enforce_sorted):
    rng = np.random.default_rng(0)
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)  # batch first
    ndgrad.manual_seed(0)
    ours = getattr(nn, mode)(4, 5, batch_first=True, **kw)
    ref = getattr(torch.nn, mode)(4, 5, batch_first=True, **kw)
    copy_weights(ours, ref)
    xa, xb = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pa = nrnn.pack_padded_sequence(xa, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    pb = trnn.pack_padded_sequence(xb, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    assert_close(pa.data, pb.data)
    np.testing.assert_array_equal(pa.batch_sizes.numpy(), pb.batch_sizes.numpy())
    oa, ob = ours(pa), ref(pb)
    assert isinstance(oa[0], nrnn.PackedSequence)
    assert_close(oa[0].data, ob[0].data)
    sa = list(oa[1]) if mode == "LSTM" else [oa[1]]
    sb = list(ob[1]) if mode == "LSTM" else [ob[1]]
    for a, b in zip(sa, sb):
        assert_close(a, b)  # final states at each sequence's own length, original order
    ya, la = nrnn.pad_packed_sequence(oa[0], batch_first=True, total_length=6)
    yb, lb = trnn.pad_packed_sequence(ob[0], batch_first=True, total_length=6)
    assert_close(ya, yb)
    np.testing.assert_array_equal(la.numpy(), lb.numpy())
    loss_a = (ya * ya).sum() + sum((s * s).sum() * 2 for s in sa)
    loss_b = (yb * yb).sum() + sum((s * s).sum() * 2 for s in sb)
    loss_a.backward()
    loss_b.backward()
    assert_close(xa.grad, xb.grad, atol=1e-5)
    for p, q in zip(ours.parameters(), ref.parameters()):
        assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4)


def test_packed_with_initial_state_unsorted():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 2)).astype(np.float32)
    h = rng.standard_normal((2, 3, 3)).astype(np.float32)
    ndgrad.manual_seed(0)
    ours, ref = nn.GRU(2, 3, bidirectional=True), torch.nn.GRU(2, 3, bidirectional=True)
    copy_weights(ours, ref)
    pa = nrnn.pack_padded_sequence(ndgrad.tensor(x), LENGTHS, enforce_sorted=False)
    pb = trnn.pack_padded_sequence(torch.tensor(x), LENGTHS, enforce_sorted=False)
    ha, hb = ndgrad.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
    oa, ob = ours(pa, ha), ref(pb, hb)
    assert_close(oa[0].data, ob[0].data)
    assert_close(oa[1], ob[1])
    (oa[1].sum() + oa[0].data.sum()).backward()
    (ob[1].sum() + ob[0].data.sum()).backward()
    assert_close(ha.grad, hb.grad)


def test_packed_gradcheck_first_and_second_order():
    rng = np.random.default_rng(2)
    ndgrad.manual_seed(0)
    m = nn.LSTM(2, 2, bidirectional=True).double()
    x = ndgrad.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)

    def f(x):
        out, (h, c) = m(nrnn.pack_padded_sequence(x, [3, 1]))
        return out.data, h, c

    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence(batch_first, padding_side):
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (2, 4, 1)]
    a = nrnn.pad_sequence(
        [ndgrad.tensor(s) for s in seqs], batch_first, padding_value=-1.0, padding_side=padding_side
    )
    b = trnn.pad_sequence(
        [torch.tensor(s) for s in seqs], batch_first, padding_value=-1.0, padding_side=padding_side
    )
    assert_close(a, b)


def test_pack_sequence_unpack_and_indices():
    rng = np.random.default_rng(4)
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (2, 4, 1)]
    pa = nrnn.pack_sequence([ndgrad.tensor(s) for s in seqs], enforce_sorted=False)
    pb = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    assert_close(pa.data, pb.data)
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        np.testing.assert_array_equal(getattr(pa, name).numpy(), getattr(pb, name).numpy())
    for u, v in zip(nrnn.unpack_sequence(pa), trnn.unpack_sequence(pb)):
        assert_close(u, v)
    sorted_seqs = sorted(seqs, key=len, reverse=True)
    pa = nrnn.pack_sequence([ndgrad.tensor(s) for s in sorted_seqs])
    assert pa.sorted_indices is None and pa.unsorted_indices is None


def _raises_like(fn_ours, fn_ref):
    with pytest.raises(Exception) as ref_info:
        fn_ref()
    with pytest.raises(type(ref_info.value)) as ours_info:
        fn_ours()
    assert str(ours_info.value) == str(ref_info.value)


def test_packing_errors_like_torch():
    x = np.zeros((5, 3, 2), np.float32)
    _raises_like(
        lambda: nrnn.pack_padded_sequence(ndgrad.tensor(x), [3, 5, 2]),
        lambda: trnn.pack_padded_sequence(torch.tensor(x), [3, 5, 2]),
    )
    _raises_like(
        lambda: nrnn.pack_padded_sequence(ndgrad.tensor(x), [3, 0, 2], enforce_sorted=False),
        lambda: trnn.pack_padded_sequence(torch.tensor(x), [3, 0, 2], enforce_sorted=False),
    )
    pa = nrnn.pack_padded_sequence(ndgrad.tensor(x), [5, 3, 2])
    pb = trnn.pack_padded_sequence(torch.tensor(x), [5, 3, 2])
    _raises_like(
        lambda: nrnn.pad_packed_sequence(pa, total_length=4),
        lambda: trnn.pad_packed_sequence(pb, total_length=4),
    )


# ----------------------------------------------------------------------------- clipping
GRADS = [np.array([3.0, 4.0], np.float32), np.array([[1.0, -2.0], [0.0, 5.0]], np.float32), None]


def _clip(lib, grads, *args, **kwargs):
    params = []
    for g in grads:
        p = lib.zeros(2, requires_grad=True)
        if g is not None:
            p = lib.zeros(g.shape, requires_grad=True)
            p.grad = lib.tensor(g)
        params.append(p)
    total = lib.nn.utils.clip_grad_norm_(params, *args, **kwargs)
    return total, [p.grad for p in params]


@pytest.mark.parametrize(
    "args",
    [(1.0,), (10.0,), (1.0, float("inf")), (1.0, 1), (1.0, 3.5), (1.0, 0), (0.5, 2.0, False, True)],
)
def test_clip_grad_norm_matches_torch(args):
    ta, ga = _clip(ndgrad, GRADS, *args)
    tb, gb = _clip(torch, GRADS, *args)
    assert_close(ta, tb)
    assert ta.dtype == ndgrad.float32 and ta.shape == ()
    for a, b in zip(ga, gb):
        if b is None:
            assert a is None
        else:
            assert_close(a, b)


def test_clip_grad_norm_nonfinite_and_empty():
    nan = [np.array([np.nan, 1.0], np.float32)]
    _raises_like(
        lambda: _clip(ndgrad, nan, 1.0, error_if_nonfinite=True),
        lambda: _clip(torch, nan, 1.0, error_if_nonfinite=True),
    )
    ta, ga = _clip(ndgrad, [np.array([np.inf, 1.0], np.float32)], 1.0)
    tb, gb = _clip(torch, [np.array([np.inf, 1.0], np.float32)], 1.0)
    assert_close(ta, tb)
    np.testing.assert_array_equal(ga[0].numpy(), gb[0].numpy())
    ta, _ = _clip(ndgrad, [None], 1.0)
    assert float(ta) == 0.0 and ta.dtype == ndgrad.float32
    p = ndgrad.zeros(2, requires_grad=True, dtype=ndgrad.float64)
    p.grad = ndgrad.tensor([3.0, -4.0], dtype=ndgrad.float64)
    total = nn.utils.clip_grad_norm_(p, ndgrad.tensor(1.0))
    assert total.dtype == ndgrad.float64
    np.testing.assert_allclose(p.grad.numpy(), [0.6, -0.8], rtol=1e-6)


def test_clip_grad_value_and_total_norm_helpers():
    p = ndgrad.zeros(2, requires_grad=True)
    p.grad = ndgrad.tensor([3.0, -5.0])
    assert nn.utils.clip_grad_value_(p, 4.0, foreach=True) is None
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, -4.0])
    grads = [ndgrad.tensor(g) for g in GRADS[:2]]
    ref = torch.nn.utils.get_total_norm([torch.tensor(g) for g in GRADS[:2]], 3.0)
    assert_close(nn.utils.get_total_norm(grads, 3.0), ref)
    q = ndgrad.zeros(2, requires_grad=True)
    q.grad = ndgrad.tensor([3.0, 4.0])
    nn.utils.clip_grads_with_norm_([q], 1.0, ndgrad.tensor(5.0))
    np.testing.assert_allclose(q.grad.numpy(), [0.6, 0.8], rtol=1e-5)
