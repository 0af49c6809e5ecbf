"""nn.RNN / GRU / LSTM and their cells against PyTorch on the same weights, and by finite
differences to first and second order in float64."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close, copy_weights

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck

CASES = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu"}),
    ("GRU", {}),
    ("LSTM", {}),
    ("LSTM", {"proj_size": 3}),
    ("RNN", {"num_layers": 2}),
    ("GRU", {"num_layers": 2, "batch_first": True}),
    ("LSTM", {"num_layers": 2}),
    ("RNN", {"bidirectional": True}),
    ("GRU", {"bidirectional": True, "num_layers": 2}),
    ("LSTM", {"bidirectional": True, "num_layers": 2, "batch_first": True}),
    ("LSTM", {"bidirectional": True, "proj_size": 2, "num_layers": 2}),
    ("GRU", {"bias": False}),
    ("LSTM", {"bias": False, "proj_size": 2}),
]


def _pair(mode: str, kw: dict, input_size: int = 4, hidden: int = 5, dtype=None):
    ndgrad.manual_seed(0)
    ours = getattr(nn, mode)(input_size, hidden, **kw)
    ref = getattr(torch.nn, mode)(input_size, hidden, **kw)
    copy_weights(ours, ref)
    if dtype == "double":
        ours = ours.double()
        ref = ref.double()
    return ours, ref


def _states(mode: str, out: tuple) -> list:
    return [out[1][0], out[1][1]] if mode == "LSTM" else [out[1]]


def _hidden(mode: str, kw: dict, batch: int, hidden: int, rng) -> tuple:
    d = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1) * d
    p = kw.get("proj_size", 0) or hidden
    h = rng.standard_normal((layers, batch, p)).astype(np.float32)
    c = rng.standard_normal((layers, batch, hidden)).astype(np.float32)
    return h, c


def _compare(mode, kw, steps, batch, with_h0=True, unbatched=False):
    rng = np.random.default_rng(1)
    ours, ref = _pair(mode, kw)
    shape = (
        (steps, 4)
        if unbatched
        else ((batch, steps, 4) if kw.get("batch_first") else (steps, batch, 4))
    )
    x = rng.standard_normal(shape).astype(np.float32)
    xa = ndgrad.tensor(x, requires_grad=True)
    xb = torch.tensor(x, requires_grad=True)
    args_a, args_b, leaves_a, leaves_b = [xa], [xb], [xa], [xb]
    if with_h0:
        h, c = _hidden(mode, kw, batch, 5, rng)
        if unbatched:
            h, c = h[:, 0], c[:, 0]
        ha, hb = ndgrad.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
        ca, cb = ndgrad.tensor(c, requires_grad=True), torch.tensor(c, requires_grad=True)
        if mode == "LSTM":
            args_a.append((ha, ca))
            args_b.append((hb, cb))
            leaves_a += [ha, ca]
            leaves_b += [hb, cb]
        else:
            args_a.append(ha)
            args_b.append(hb)
            leaves_a.append(ha)
            leaves_b.append(hb)
    out_a, out_b = ours(*args_a), ref(*args_b)
    assert_close(out_a[0], out_b[0])
    states_a, states_b = _states(mode, out_a), _states(mode, out_b)
    for sa, sb in zip(states_a, states_b):
        assert_close(sa, sb)
    w = rng.standard_normal(tuple(out_b[0].shape)).astype(np.float32)
    loss_a = (out_a[0] * ndgrad.tensor(w)).sum()
    loss_b = (out_b[0] * torch.tensor(w)).sum()
    for k, (sa, sb) in enumerate(zip(states_a, states_b)):
        loss_a = loss_a + (sa * sa).sum() * (k + 2)
        loss_b = loss_b + (sb * sb).sum() * (k + 2)
    loss_a.backward()
    loss_b.backward()
    for la, lb in zip(leaves_a, leaves_b):
        assert_close(la.grad, lb.grad, atol=1e-5, rtol=1e-4)
    named_b = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, named_b[name].grad, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("mode", "kw"), CASES, ids=[f"{m}-{k}" for m, k in CASES])
def test_matches_torch(mode, kw):
    _compare(mode, kw, steps=4, batch=3)


@pytest.mark.parametrize("mode", ["RNN", "GRU", "LSTM"])
def test_default_hidden_length1_batch1_and_unbatched(mode):
    _compare(mode, {}, steps=1, batch=1, with_h0=False)
    _compare(mode, {"num_layers": 2}, steps=3, batch=1, with_h0=True)
    _compare(mode, {"bidirectional": True}, steps=3, batch=1, with_h0=True, unbatched=True)
    _compare(mode, {}, steps=2, batch=1, with_h0=False, unbatched=True)


@pytest.mark.parametrize(("mode", "kw"), CASES[:5] + [CASES[9], CASES[11]])
def test_names_shapes_and_flat_weights(mode, kw):
    ours, ref = _pair(mode, kw)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in ref.parameters()]
    assert ours._flat_weights_names == ref._flat_weights_names
    assert [tuple(w.shape) for w in ours._flat_weights] == [
        tuple(w.shape) for w in ref._flat_weights
    ]
    assert [[n for n in ws] for ws in ours._all_weights] == ref._all_weights
    assert len(ours.all_weights) == len(ref.all_weights)
    assert repr(ours) == repr(ref)


def test_init_range_and_order():
    ndgrad.manual_seed(0)
    m = nn.LSTM(3, 16, num_layers=2)
    bound = 1 / 4
    for p in m.parameters():
        assert float(p.abs().max()) <= bound
        assert float(p.abs().max()) > bound * 0.5
    ndgrad.manual_seed(0)
    first = nn.LSTM(3, 16).weight_ih_l0.detach().numpy()
    ndgrad.manual_seed(0)
    again = nn.init.uniform_(ndgrad.empty(64, 3), -bound, bound).numpy()
    np.testing.assert_array_equal(first, again)  # drawn first, as in PyTorch's order


def test_reprs():
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4)"  # as PyTorch prints it
    assert repr(nn.GRUCell(3, 4)) == repr(torch.nn.GRUCell(3, 4))
    assert repr(nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == repr(
        torch.nn.RNNCell(3, 4, bias=False, nonlinearity="relu")
    )
    assert repr(nn.LSTM(3, 4, 2, batch_first=True, dropout=0.1, bidirectional=True)) == repr(
        torch.nn.LSTM(3, 4, 2, batch_first=True, dropout=0.1, bidirectional=True)
    )


@pytest.mark.parametrize("cell", ["RNNCell", "GRUCell", "LSTMCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(cell, batched):
    rng = np.random.default_rng(2)
    ndgrad.manual_seed(0)
    ours = getattr(nn, cell)(4, 5)
    ref = getattr(torch.nn, cell)(4, 5)
    copy_weights(ours, ref)
    x = rng.standard_normal((3, 4) if batched else (4,)).astype(np.float32)
    h = rng.standard_normal((3, 5) if batched else (5,)).astype(np.float32)
    xa, xb = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ha, hb = ndgrad.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
    if cell == "LSTMCell":
        oa, ob = ours(xa, (ha, ha * 2)), ref(xb, (hb, hb * 2))
        la, lb = (oa[0] * 3 + oa[1]).sum(), (ob[0] * 3 + ob[1]).sum()
        assert_close(oa[1], ob[1])
        oa, ob = oa[0], ob[0]
    else:
        oa, ob = ours(xa, ha), ref(xb, hb)
        la, lb = (oa * oa).sum(), (ob * ob).sum()
    assert_close(oa, ob)
    la.backward()
    lb.backward()
    assert_close(xa.grad, xb.grad, atol=1e-5)
    assert_close(ha.grad, hb.grad, atol=1e-5)
    for p, q in zip(ours.parameters(), ref.parameters()):
        assert_close(p.grad, q.grad, atol=1e-5)
    none_a = ours(xa)
    none_b = ref(xb)
    assert_close(
        none_a[0] if cell == "LSTMCell" else none_a, none_b[0] if cell == "LSTMCell" else none_b
    )


GRADCHECK_CASES = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu"}),
    ("GRU", {}),
    ("LSTM", {}),
    ("LSTM", {"proj_size": 2}),
    ("GRU", {"bidirectional": True, "num_layers": 2}),
]


@pytest.mark.parametrize(
    ("mode", "kw"), GRADCHECK_CASES, ids=[f"{m}-{k}" for m, k in GRADCHECK_CASES]
)
def test_gradcheck_first_and_second_order(mode, kw):
    ndgrad.manual_seed(0)
    m = getattr(nn, mode)(2, 3, **kw).double()
    rng = np.random.default_rng(3)
    steps, batch = (2, 1) if kw.get("num_layers") else (3, 2)
    x = ndgrad.tensor(rng.standard_normal((steps, batch, 2)), requires_grad=True)
    d = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    p = kw.get("proj_size", 0) or 3
    h = ndgrad.tensor(rng.standard_normal((d, batch, p)) * 0.5, requires_grad=True)
    c = ndgrad.tensor(rng.standard_normal((d, batch, 3)) * 0.5, requires_grad=True)
    # a deep, bidirectional stack checks its last layer's reverse weights (the others are the
    # same code, checked in the one-layer cases): the second order costs a backward per input
    deep = kw.get("num_layers", 1) > 1
    named = [(n, q) for n, q in m.named_parameters() if not deep or n.endswith("_l1_reverse")]
    params = [q for _, q in named]
    names = [n for n, _ in named]

    def f(x, h, c, *ws):
        for name, w in zip(names, ws):
            m._parameters[name] = w
        out = m(x, (h, c)) if mode == "LSTM" else m(x, h)
        states = _states(mode, out)
        return (out[0], *states)

    inputs = (x, h, c, *[p.detach().clone().requires_grad_(True) for p in params])
    if mode != "LSTM":
        inputs = (x, h, c.detach(), *inputs[3:])
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-5)
    assert gradgradcheck(f, inputs, eps=1e-6, atol=1e-4)


def test_cells_gradgradcheck():
    ndgrad.manual_seed(0)
    cell = nn.LSTMCell(2, 3).double()
    rng = np.random.default_rng(4)
    x = ndgrad.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    h = ndgrad.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    c = ndgrad.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    assert gradgradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))


OUTPUT_ONLY_CASES = [
    {},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"proj_size": 3},
    {"bias": False},
]


@pytest.mark.parametrize("kw", OUTPUT_ONLY_CASES, ids=[str(k) for k in OUTPUT_ONLY_CASES])
def test_lstm_output_only_matches_torch(kw):
    """d2l's language model reads only the output (and h_n): the gradient reaching the
    layer's stored cells and gates is zero, and BPTT leaves their terms out."""
    rng = np.random.default_rng(5)
    ours, ref = _pair("LSTM", kw)
    shape = (3, 6, 4) if kw.get("batch_first") else (6, 3, 4)
    x = rng.standard_normal(shape).astype(np.float32)
    xa, xb = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ya, (ha, _)), (yb, (hb, _)) = ours(xa), ref(xb)
    w = rng.standard_normal(tuple(yb.shape)).astype(np.float32)
    ((ya * ndgrad.tensor(w)).sum() + (ha * ha).sum()).backward()
    ((yb * torch.tensor(w)).sum() + (hb * hb).sum()).backward()
    assert_close(ya, yb)
    assert_close(xa.grad, xb.grad, atol=1e-5, rtol=1e-4)
    named_b = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, named_b[name].grad, atol=1e-5, rtol=1e-4)


def test_lstm_saturated_gates_match_torch():
    """Large pre-activations (sigmoid computed through tanh) give torch's states and
    gradients: saturated gates are exactly 0 or 1 to float32's absolute precision."""
    rng = np.random.default_rng(6)
    ours, ref = _pair("LSTM", {})
    with torch.no_grad(), ndgrad.no_grad():
        for (_, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
            p.mul_(40.0)
            q.mul_(40.0)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    xa, xb = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ya, (_, ca)), (yb, (_, cb)) = ours(xa), ref(xb)
    # weights x40: float32 pre-activations of size ~100 differ in their last bits between
    # the two GEMMs, which moves the unsaturated outputs by a few 1e-6
    assert_close(ya, yb, atol=1e-5, rtol=1e-4)
    assert_close(ca, cb, atol=1e-5)
    (ya.sum() + ca.sum()).backward()
    (yb.sum() + cb.sum()).backward()
    assert_close(xa.grad, xb.grad, atol=1e-4, rtol=1e-4)


def test_lstm_output_only_gradgradcheck():
    """Second order when only the output is read: the double backward sends gradients
    into the stored gates, whose terms the first-order rule then keeps."""
    ndgrad.manual_seed(0)
    m = nn.LSTM(2, 3).double()
    rng = np.random.default_rng(7)
    x = ndgrad.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    w = ndgrad.tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)

    def f(x, w):
        m._parameters["weight_hh_l0"] = ndgrad.cat([w, w, w, w], 0)
        return m(x)[0]

    assert gradcheck(f, (x, w), eps=1e-6, atol=1e-5)
    assert gradgradcheck(f, (x, w), eps=1e-6, atol=1e-4)


def test_reads_tail_looks_at_plain_arrays_only():
    from ndgrad.ops.recurrent import _reads_tail

    g = np.zeros(10, np.float32)
    assert not _reads_tail(g, 4)
    g[2] = 1.0  # before the tail
    assert not _reads_tail(g, 4)
    for value in (-0.0, 1e-45, np.nan):
        g[7] = value
        assert _reads_tail(g, 4)
    g[7] = 0
    assert not _reads_tail(g[::2], 2)  # strided
    assert not _reads_tail(np.zeros(6), 3)  # float64
    assert _reads_tail(ndgrad.zeros(10), 4)  # a Tensor: a gradient with its own graph


# ----------------------------------------------------------------------------- errors
def _raises_like(fn_ours, fn_ref):
    with pytest.raises(Exception) as ref_info:
        fn_ref()
    with pytest.raises(type(ref_info.value)) as ours_info:
        fn_ours()
    assert str(ours_info.value) == str(ref_info.value).replace("torch.", "ndgrad.")


@pytest.mark.parametrize(
    "case",
    [
        "input_size",
        "hidden_shape",
        "lstm_h",
        "lstm_c",
        "input_dims",
        "unbatched_hx",
        "dtype",
    ],
)
def test_bad_input_like_torch(case):
    mode = "LSTM" if case.startswith("lstm") else "GRU"
    ours, ref = _pair(mode, {}, input_size=10, hidden=20)

    def make(lib):
        r = np.random.default_rng(0)

        def t(*shape):
            return lib.tensor(r.standard_normal(shape).astype(np.float32))

        m = ours if lib is ndgrad else ref
        if case == "input_size":
            return lambda: m(t(5, 3, 5))
        if case == "hidden_shape":
            return lambda: m(t(5, 3, 10), t(1, 4, 20))
        if case == "lstm_h":
            return lambda: m(t(5, 3, 10), (t(2, 3, 20), t(1, 3, 20)))
        if case == "lstm_c":
            return lambda: m(t(5, 3, 10), (t(1, 3, 20), t(1, 3, 21)))
        if case == "input_dims":
            return lambda: m(t(5, 3, 10, 1))
        if case == "unbatched_hx":
            return lambda: m(t(5, 10), t(1, 3, 20))
        return lambda: m(t(3, 5, 10).double())

    _raises_like(make(ndgrad), make(torch))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dropout": 1.5},
        {"proj_size": 2},
        {"hidden_size": 0},
        {"num_layers": 0},
        {"hidden_size": 4.0},
    ],
)
def test_bad_construction_like_torch(kwargs):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    _raises_like(lambda: nn.GRU(**args), lambda: torch.nn.GRU(**args))


def test_bad_lstm_and_rnn_construction_like_torch():
    _raises_like(lambda: nn.LSTM(3, 4, proj_size=4), lambda: torch.nn.LSTM(3, 4, proj_size=4))
    _raises_like(lambda: nn.LSTM(3, 4, proj_size=-1), lambda: torch.nn.LSTM(3, 4, proj_size=-1))
    _raises_like(
        lambda: nn.RNN(3, 4, nonlinearity="sig"), lambda: torch.nn.RNN(3, 4, nonlinearity="sig")
    )


def test_dropout_warning_with_one_layer():
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        nn.GRU(3, 4, dropout=0.5)
    with warnings.catch_warnings(record=True) as ref:
        warnings.simplefilter("always")
        torch.nn.GRU(3, 4, dropout=0.5)
    assert [str(w.message) for w in ours] == [str(w.message) for w in ref]
    assert ours[0].category is UserWarning


def test_dropout_between_layers_only_in_training():
    ndgrad.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=3, dropout=0.5)
    x = ndgrad.randn(5, 2, 3)
    m.eval()
    a = m(x)[0]
    b = m(x)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    c = m(x)[0]
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())


@pytest.mark.parametrize("case", ["input_size", "batch", "hidden_size", "dims"])
def test_cell_bad_input_like_torch(case):
    def make(lib):
        r = np.random.default_rng(0)

        def t(*shape):
            return lib.tensor(r.standard_normal(shape).astype(np.float32))

        cell = (nn if lib is ndgrad else torch.nn).LSTMCell(10, 20)
        gru = (nn if lib is ndgrad else torch.nn).GRUCell(10, 20)
        if case == "input_size":
            return lambda: cell(t(3, 5))
        if case == "batch":
            return lambda: cell(t(3, 10), (t(4, 20), t(3, 20)))
        if case == "hidden_size":
            return lambda: gru(t(3, 10), t(3, 21))
        return lambda: cell(t(3, 10, 1))

    _raises_like(make(ndgrad), make(torch))
