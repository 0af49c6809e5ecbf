"""Attention against torch 2.13: ``F.scaled_dot_product_attention`` and
``nn.MultiheadAttention`` on the same weights (outputs, and gradients of every parameter and
input), masks (bool/float, key padding, causal, fully masked rows), batch_first, kdim/vdim,
add_bias_kv/add_zero_attn, need_weights/average_attn_weights, unbatched input, eval mode;
finite differences to second order in float64; PyTorch's exception classes for bad input;
d2l chapter 11's attention written with ``bmm`` and a masked softmax."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.nn._helpers import to_nd

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

TOL = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-9, "atol": 1e-10}}


def _arr(rng, shape, dtype="float64"):
    return rng.standard_normal(shape).astype(dtype)


def _close(a, b, dtype="float64", where=""):
    a = a.detach().numpy() if hasattr(a, "detach") else a
    b = b.detach().numpy() if hasattr(b, "detach") else b
    np.testing.assert_allclose(
        np.asarray(a, np.float64), np.asarray(b, np.float64), err_msg=where, **TOL[dtype]
    )


def _both(x):
    """A NumPy array (or None, or a scalar) as an (ndgrad, torch) pair."""
    if isinstance(x, np.ndarray):
        grad = x.dtype.kind == "f"
        return ndgrad.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)
    return x, x


# ----------------------------------------------------------------------------- SDPA
def _sdpa_case(rng, qs, ks, vs, mask=None, dtype="float64", **kw):
    arrays = [_arr(rng, s, dtype) for s in (qs, ks, vs)]
    pairs = [_both(a) for a in arrays]
    m_nd, m_t = (None, None) if mask is None else (ndgrad.tensor(mask), torch.tensor(mask))
    ya = F.scaled_dot_product_attention(*(p[0] for p in pairs), attn_mask=m_nd, **kw)
    yb = torch.nn.functional.scaled_dot_product_attention(
        *(p[1] for p in pairs), attn_mask=m_t, **kw
    )
    _close(ya, yb, dtype, "output")
    g = _arr(rng, tuple(yb.shape), dtype)
    ya.backward(ndgrad.tensor(g))
    yb.backward(torch.tensor(g))
    for name, (a, b) in zip("qkv", pairs, strict=True):
        _close(a.grad, b.grad, dtype, f"grad {name}")
    return ya


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "qs,ks,vs",
    [
        ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),
        ((3, 4, 5), (3, 6, 5), (3, 6, 5)),
        ((4, 5), (6, 5), (6, 3)),
        ((2, 3, 4, 5), (1, 3, 6, 5), (1, 3, 6, 5)),  # batch dims broadcast
    ],
)
def test_sdpa_matches_torch_without_mask(dtype, qs, ks, vs):
    _sdpa_case(np.random.default_rng(0), qs, ks, vs, dtype=dtype)


@pytest.mark.parametrize("mask_shape", [(4, 6), (2, 1, 4, 6), (3, 1, 6), (1, 6)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_masks_broadcast_and_fully_masked_rows_give_zeros(mask_shape, kind):
    rng = np.random.default_rng(1)
    if kind == "bool":
        mask = rng.random(mask_shape) > 0.4
        mask[..., 0, :] = False  # a row that attends to nothing: zeros, as torch
    else:
        mask = _arr(rng, mask_shape)
        mask[mask < -0.8] = -np.inf
        mask[..., 0, :] = -np.inf
    y = _sdpa_case(rng, (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), mask)
    assert np.isfinite(y.detach().numpy()).all()


@pytest.mark.parametrize("shape", [((2, 3, 4, 5), (2, 3, 6, 5)), ((2, 5, 5), (2, 5, 5))])
def test_sdpa_causal_and_scale(shape):
    qs, ks = shape
    rng = np.random.default_rng(2)
    _sdpa_case(rng, qs, ks, ks, is_causal=True)
    _sdpa_case(rng, qs, ks, ks, scale=0.3)
    _sdpa_case(rng, qs, ks, ks, is_causal=True, scale=2.0)


def test_sdpa_grouped_query_heads():
    _sdpa_case(np.random.default_rng(3), (2, 4, 3, 5), (2, 2, 6, 5), (2, 1, 6, 5), enable_gqa=True)


def test_sdpa_float_mask_gets_a_gradient():
    rng = np.random.default_rng(4)
    q, k, v, m = (_arr(rng, s) for s in ((2, 4, 5), (2, 6, 5), (2, 6, 5), (4, 6)))
    (qa, qb), (ka, kb), (va, vb), (ma, mb) = (_both(a) for a in (q, k, v, m))
    F.scaled_dot_product_attention(qa, ka, va, ma).sum().backward()
    torch.nn.functional.scaled_dot_product_attention(qb, kb, vb, mb).sum().backward()
    _close(ma.grad, mb.grad)


def test_sdpa_dropout_uses_ndgrads_generator():
    rng = np.random.default_rng(5)
    q = ndgrad.tensor(_arr(rng, (2, 3, 8, 4)))
    v = ndgrad.tensor(_arr(rng, (2, 3, 8, 4)))
    ndgrad.manual_seed(0)
    a = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    ndgrad.manual_seed(0)
    b = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    c = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    assert np.array_equal(a.numpy(), b.numpy()) and not np.array_equal(a.numpy(), c.numpy())
    zero = F.scaled_dot_product_attention(q, q, v, dropout_p=1.0)
    assert not zero.numpy().any()


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.7}])
def test_sdpa_finite_differences_first_and_second_order(kw):
    rng = np.random.default_rng(6)
    q, k, v = (
        ndgrad.tensor(_arr(rng, s), requires_grad=True) for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3))
    )
    if kw.get("is_causal"):
        k, v = k[:, :3].detach().requires_grad_(), v[:, :3].detach().requires_grad_()

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **kw)

    assert gradcheck(fn, (q, k, v), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(fn, (q, k, v), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_sdpa_finite_differences_with_masks():
    rng = np.random.default_rng(7)
    q, k, v = (ndgrad.tensor(_arr(rng, s), requires_grad=True) for s in ((3, 2), (4, 2), (4, 2)))
    bool_mask = ndgrad.tensor(np.array([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=bool))
    float_mask = ndgrad.tensor(_arr(rng, (3, 4)), requires_grad=True)
    for fn, args in (
        (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, bool_mask), (q, k, v)),
        (lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m), (q, k, v, float_mask)),
    ):
        assert gradcheck(fn, args, eps=1e-6, atol=1e-5, rtol=1e-4)
        assert gradgradcheck(fn, args, eps=1e-6, atol=1e-5, rtol=1e-4)


def _raises_like_torch(call):
    """``call(lib)`` raises the same exception class with ndgrad and with torch."""
    with pytest.raises(Exception) as ref:
        call(torch)
    with pytest.raises(ref.type) as ours:
        call(ndgrad)
    return str(ours.value), str(ref.value)


def _sdpa(lib, qs=(2, 3, 4, 5), ks=(2, 3, 6, 5), vs=(2, 3, 6, 5), dtypes=None, **kw):
    dtypes = dtypes or ("float32",) * 3
    q, k, v = (lib.zeros(s, dtype=getattr(lib, d)) for s, d in zip((qs, ks, vs), dtypes))
    return lib.nn.functional.scaled_dot_product_attention(q, k, v, **kw)


@pytest.mark.parametrize(
    "kw",
    [
        {"ks": (2, 3, 6, 4)},  # key's head size differs from query's
        {"qs": (5,)},
        {"dtypes": ("float64", "float32", "float32")},
        {"dropout_p": 1.5},
        {"ks": (2, 2, 6, 5), "vs": (2, 2, 6, 5)},  # heads do not broadcast
        {"ks": (2, 2, 6, 5), "vs": (2, 2, 6, 5), "enable_gqa": True},
    ],
    ids=["head-size", "1-D", "dtypes", "dropout", "heads", "gqa-heads"],
)
def test_sdpa_bad_input_raises_torchs_class(kw):
    _raises_like_torch(lambda lib: _sdpa(lib, **kw))


@pytest.mark.parametrize(
    "mask",
    [
        lambda lib: lib.ones(5, 6, dtype=lib.bool),  # wrong shape
        lambda lib: lib.ones(4, 6, dtype=lib.int64),  # wrong dtype
    ],
)
def test_sdpa_bad_masks_raise_torchs_class(mask):
    _raises_like_torch(lambda lib: _sdpa(lib, attn_mask=mask(lib)))


def test_sdpa_causal_with_explicit_mask_raises():
    # PyTorch's reference (math) kernel raises; its CPU flash kernel would combine the two.
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        _sdpa(ndgrad, attn_mask=ndgrad.ones(4, 6, dtype=ndgrad.bool), is_causal=True)


# ----------------------------------------------------------------------------- MHA
def _mha_pair(dtype="float64", seed=0, **kw):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(**kw)
    if dtype == "float64":
        theirs = theirs.double()
    rng = np.random.default_rng(seed)
    with torch.no_grad():  # non-zero biases, so that every parameter matters
        for _, p in theirs.named_parameters():
            if p.dim() == 1:
                p.copy_(torch.from_numpy(_arr(rng, tuple(p.shape), dtype) * 0.1))
    ours = nn.MultiheadAttention(**kw)
    if dtype == "float64":
        ours = ours.double()
    ours.load_state_dict({k: to_nd(v) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _mha_step(ours, theirs, inputs, dtype="float64", self_attention=False, **fw):
    """Runs both modules on the same inputs; compares outputs, weights and every gradient."""
    pairs = [_both(a) for a in inputs]
    nd_in = [p[0] for p in pairs]
    t_in = [p[1] for p in pairs]
    if self_attention:
        nd_in, t_in = [nd_in[0]] * 3, [t_in[0]] * 3
    nd_kw = {k: _both(v)[0] for k, v in fw.items()}
    t_kw = {k: _both(v)[1] for k, v in fw.items()}
    for d in (nd_kw, t_kw):
        for k in ("key_padding_mask", "attn_mask"):
            if d.get(k) is not None and d[k].is_floating_point():
                d[k].requires_grad_(False)
    ya, wa = ours(*nd_in, **nd_kw)
    yb, wb = theirs(*t_in, **t_kw)
    _close(ya, yb, dtype, "attn_output")
    assert (wa is None) == (wb is None)
    if wb is not None:
        _close(wa, wb, dtype, "attn_weights")
    rng = np.random.default_rng(11)
    g = _arr(rng, tuple(yb.shape), dtype)
    loss_a = (ya * ndgrad.tensor(g)).sum()
    loss_b = (yb * torch.tensor(g)).sum()
    if wb is not None:
        gw = _arr(rng, tuple(wb.shape), dtype)
        loss_a = loss_a + (wa * ndgrad.tensor(gw)).sum()
        loss_b = loss_b + (wb * torch.tensor(gw)).sum()
    loss_a.backward()
    loss_b.backward()
    for i, (a, b) in enumerate(pairs[: 1 if self_attention else 3]):
        _close(a.grad, b.grad, dtype, f"input {i} grad")
    named_b = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        _close(p.grad, named_b[name].grad, dtype, f"{name}.grad")
    return ya, wa


def _seq(rng, L, N, E, batch_first=False, dtype="float64"):  # noqa: N803
    return _arr(rng, (N, L, E) if batch_first else (L, N, E), dtype)


def test_mha_parameters_state_dict_init_and_repr_match_torch():
    for kw in (
        {"embed_dim": 8, "num_heads": 2},
        {"embed_dim": 8, "num_heads": 2, "kdim": 3, "vdim": 5, "add_bias_kv": True},
        {"embed_dim": 8, "num_heads": 4, "bias": False},
    ):
        ours, theirs = nn.MultiheadAttention(**kw), torch.nn.MultiheadAttention(**kw)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
        ]
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
        assert repr(ours) == repr(theirs)
        assert ours._qkv_same_embed_dim == theirs._qkv_same_embed_dim
        assert ours.head_dim == theirs.head_dim
    ours = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    assert not ours.in_proj_bias.detach().numpy().any()
    assert not ours.out_proj.bias.detach().numpy().any()
    bound = math.sqrt(6.0 / (64 + 3 * 64))  # xavier_uniform_ on the (3E, E) weight
    w = ours.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert ours.bias_k.detach().numpy().std() > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_matches_torch(dtype, batch_first, need_weights, average):
    ours, theirs = _mha_pair(dtype, embed_dim=8, num_heads=2, batch_first=batch_first)
    rng = np.random.default_rng(1)
    q, k = (_seq(rng, L, 3, 8, batch_first, dtype) for L in (4, 5))
    _mha_step(
        ours, theirs, (q, k, k.copy()), dtype, need_weights=need_weights,
        average_attn_weights=average,
    )  # fmt: skip


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_one_tensor(batch_first):
    ours, theirs = _mha_pair(embed_dim=8, num_heads=4, batch_first=batch_first)
    x = _seq(np.random.default_rng(2), 5, 3, 8, batch_first)
    _mha_step(ours, theirs, (x,), self_attention=True)
    _mha_step(ours, theirs, (x,), self_attention=True, need_weights=False)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mha_self_attention_without_weights_masks_and_layouts(batch_first, dtype):
    # One projection whose heads are views (ops.nn.attention_heads): its one rule gathers the
    # three heads' gradients, laid out as the input is (batch or sequence major).
    ours, theirs = _mha_pair(dtype, embed_dim=8, num_heads=2, batch_first=batch_first)
    rng = np.random.default_rng(12)
    x = _seq(rng, 5, 3, 8, batch_first, dtype)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, 3:] = True
    m = np.where(rng.random((5, 5)) > 0.7, -1e9, _arr(rng, (5, 5), dtype)).astype(dtype)
    for fw in ({}, {"key_padding_mask": kpm}, {"attn_mask": m, "key_padding_mask": kpm}):
        ours.zero_grad()
        theirs.zero_grad()
        _mha_step(ours, theirs, (x,), dtype, self_attention=True, need_weights=False, **fw)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_finite_differences_to_second_order(batch_first):
    mha = nn.MultiheadAttention(4, 2, batch_first=batch_first).double()
    x = ndgrad.tensor(_seq(np.random.default_rng(13), 3, 2, 4, batch_first), requires_grad=True)
    w = mha.in_proj_weight

    def fn(x, w):
        out = F.multi_head_attention_forward(
            *(x.transpose(0, 1) if batch_first else x,) * 3, 4, 2, w, mha.in_proj_bias,
            None, None, False, 0.0, mha.out_proj.weight, mha.out_proj.bias, need_weights=False,
        )[0]  # fmt: skip
        return out.tanh()

    assert gradcheck(fn, (x, w), eps=1e-6, atol=1e-6, rtol=1e-5)
    assert gradgradcheck(fn, (x, w), eps=1e-6, atol=1e-5, rtol=1e-4)
    y = fn(x, w)
    assert y.grad_fn is not None


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize(
    "mask",
    ["bool2d", "float2d", "bool3d", "float3d", "kpm_bool", "kpm_float", "both_bool", "causal"],
)
def test_mha_masks(need_weights, mask):
    ours, theirs = _mha_pair(embed_dim=8, num_heads=2)
    rng = np.random.default_rng(3)
    L, S, N = 4, 5, 3  # noqa: N806
    q, k, v = _seq(rng, L, N, 8), _seq(rng, S, N, 8), _seq(rng, S, N, 8)
    fw: dict = {"need_weights": need_weights}
    keep_first = np.zeros((L, S), dtype=bool)
    if mask.startswith(("bool", "float")):
        shape = (L, S) if mask.endswith("2d") else (N * 2, L, S)
        m = rng.random(shape) > 0.6
        m[..., 0] = False  # every row keeps a key: no NaN rows
        fw["attn_mask"] = m if mask.startswith("bool") else np.where(m, -1e9, _arr(rng, shape))
    elif mask.startswith("kpm"):
        kpm = np.zeros((N, S), dtype=bool)
        kpm[0, 3:] = kpm[2, 1:] = True
        fw["key_padding_mask"] = kpm if mask == "kpm_bool" else np.where(kpm, -np.inf, 0.0)
    elif mask == "both_bool":
        fw["attn_mask"] = np.triu(np.ones((L, S), dtype=bool), 1) | keep_first
        fw["key_padding_mask"] = np.array([[0, 0, 0, 1, 1]] * N, dtype=bool)
    else:
        m = np.triu(np.ones((L, S), dtype=bool), 1)
        fw["attn_mask"], fw["is_causal"] = m, True
    _mha_step(ours, theirs, (q, k, v), **fw)


@pytest.mark.parametrize(
    "kw",
    [
        {"kdim": 3, "vdim": 6},
        {"add_bias_kv": True},
        {"add_zero_attn": True},
        {"add_bias_kv": True, "add_zero_attn": True, "kdim": 5},
        {"bias": False},
    ],
)
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_variants(kw, need_weights):
    ours, theirs = _mha_pair(embed_dim=8, num_heads=2, **kw)
    rng = np.random.default_rng(4)
    q = _seq(rng, 4, 2, 8)
    k = _seq(rng, 5, 2, kw.get("kdim", 8))
    v = _seq(rng, 5, 2, kw.get("vdim", 8))
    m = np.zeros((4, 5), dtype=bool)
    m[1, 2:] = True
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 4] = True
    _mha_step(ours, theirs, (q, k, v), need_weights=need_weights, attn_mask=m)
    _mha_step(ours, theirs, (q, k, v), need_weights=need_weights, key_padding_mask=kpm)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched(need_weights):
    ours, theirs = _mha_pair(embed_dim=6, num_heads=3, batch_first=True)
    rng = np.random.default_rng(5)
    q, k, v = _arr(rng, (4, 6)), _arr(rng, (5, 6)), _arr(rng, (5, 6))
    kpm = np.array([0, 0, 1, 0, 1], dtype=bool)
    mask3 = rng.random((3, 4, 5)) > 0.7
    mask3[..., 0] = False
    _mha_step(ours, theirs, (q, k, v), need_weights=need_weights, key_padding_mask=kpm)
    _mha_step(ours, theirs, (q, k, v), need_weights=need_weights, attn_mask=mask3)


def test_mha_fully_masked_rows_match_torch():
    # need_weights: the explicit softmax gives NaN rows (as torch); without: SDPA's zeros.
    ours, theirs = _mha_pair(embed_dim=4, num_heads=2)
    rng = np.random.default_rng(6)
    x = _seq(rng, 3, 2, 4)
    m = np.zeros((3, 3), dtype=bool)
    m[1] = True
    for need in (True, False):
        ya, _ = ours(*(ndgrad.tensor(x),) * 3, attn_mask=ndgrad.tensor(m), need_weights=need)
        yb, _ = theirs(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(m), need_weights=need)
        np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), 1e-9, 1e-12)


def test_mha_eval_mode_and_no_grad_match_torchs_fast_path():
    ours, theirs = _mha_pair("float32", embed_dim=8, num_heads=2, batch_first=True, dropout=0.3)
    ours.eval()
    theirs.eval()
    x = _seq(np.random.default_rng(7), 5, 3, 8, True, "float32")
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, 3:] = True
    with ndgrad.no_grad(), torch.no_grad():
        for kw in ({}, {"key_padding_mask": kpm}, {"need_weights": False}):
            a = ours(*(ndgrad.tensor(x),) * 3, **{k: _both(v)[0] for k, v in kw.items()})
            b = theirs(*(torch.tensor(x),) * 3, **{k: _both(v)[1] for k, v in kw.items()})
            _close(a[0], b[0], "float32")
            if b[1] is not None:
                _close(a[1], b[1], "float32")


def test_mha_dropout_in_training_only():
    ours = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = ndgrad.randn(4, 2, 8)
    ndgrad.manual_seed(0)
    a = ours(x, x, x)[1]
    ndgrad.manual_seed(1)
    b = ours(x, x, x)[1]
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    ours.eval()
    assert np.allclose(ours(x, x, x)[1].detach().numpy(), ours(x, x, x)[1].detach().numpy())


def _mha_call(lib, ctor=(8, 2), q=(4, 2, 8), k=(4, 2, 8), v=None, **kw):
    m = lib.nn.MultiheadAttention(*ctor)
    qt, kt = lib.zeros(q), lib.zeros(k)
    vt = lib.zeros(v if v is not None else k)
    return m(qt, kt, vt, **{n: f(lib) for n, f in kw.items()})


@pytest.mark.parametrize(
    "kw",
    [
        {"ctor": (8, 3)},
        {"ctor": (0, 2)},
        {"q": (4, 2, 6)},
        {"k": (5, 2, 8), "v": (4, 2, 8)},
        {"k": (4, 8)},
        {"q": (2, 4, 2, 8), "k": (2, 4, 2, 8)},
        {"attn_mask": lambda lib: lib.zeros(4, 5)},
        {"attn_mask": lambda lib: lib.zeros(3, 4, 4)},
        {"attn_mask": lambda lib: lib.zeros(1, 2, 4, 4)},
        {"attn_mask": lambda lib: lib.zeros(4, 4, dtype=lib.int64)},
        {"key_padding_mask": lambda lib: lib.zeros(2, 5, dtype=lib.bool)},
        {"key_padding_mask": lambda lib: lib.zeros(3, 4, dtype=lib.bool)},
        {"key_padding_mask": lambda lib: lib.zeros(2, 4, dtype=lib.int32)},
        {"is_causal": lambda lib: True},
    ],
    ids=lambda kw: "-".join(kw),
)
def test_mha_bad_input_raises_torchs_class(kw):
    ours, ref = _raises_like_torch(lambda lib: _mha_call(lib, **kw))
    assert ours.replace("ndgrad", "torch") == ref


# ----------------------------------------------------------------------------- d2l 11
def d2l_attention_program(fw, x, valid_lens, w):
    """d2l 11.3/11.5/11.7: masked softmax, DotProductAttention, MultiHeadAttention (bmm) and
    TransformerEncoderBlock, forward and backward."""
    torch, nn = fw.torch, fw.nn

    def sequence_mask(X, valid_len, value=0):  # noqa: N803
        maxlen = X.size(1)
        mask = torch.arange((maxlen), dtype=torch.float32)[None, :] < valid_len[:, None]
        X[~mask] = value
        return X

    def masked_softmax(X, valid_lens):  # noqa: N803
        if valid_lens is None:
            return nn.functional.softmax(X, dim=-1)
        shape = X.shape
        if valid_lens.dim() == 1:
            valid_lens = torch.repeat_interleave(valid_lens, shape[1])
        else:
            valid_lens = valid_lens.reshape(-1)
        X = sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
        return nn.functional.softmax(X.reshape(shape), dim=-1)

    class DotProductAttention(nn.Module):
        def __init__(self, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens=None):
            d = queries.shape[-1]
            scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
            self.attention_weights = masked_softmax(scores, valid_lens)
            return torch.bmm(self.dropout(self.attention_weights), values)

    class MultiHeadAttention(nn.Module):
        def __init__(self, num_hiddens, num_heads, dropout, bias=False):
            super().__init__()
            self.num_heads = num_heads
            self.attention = DotProductAttention(dropout)
            self.W_q = nn.Linear(num_hiddens, num_hiddens, bias=bias)
            self.W_k = nn.Linear(num_hiddens, num_hiddens, bias=bias)
            self.W_v = nn.Linear(num_hiddens, num_hiddens, bias=bias)
            self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

        def transpose_qkv(self, X):  # noqa: N803
            X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1)
            X = X.permute(0, 2, 1, 3)
            return X.reshape(-1, X.shape[2], X.shape[3])

        def transpose_output(self, X):  # noqa: N803
            X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2])
            X = X.permute(0, 2, 1, 3)
            return X.reshape(X.shape[0], X.shape[1], -1)

        def forward(self, queries, keys, values, valid_lens):
            queries = self.transpose_qkv(self.W_q(queries))
            keys = self.transpose_qkv(self.W_k(keys))
            values = self.transpose_qkv(self.W_v(values))
            if valid_lens is not None:
                valid_lens = torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
            output = self.attention(queries, keys, values, valid_lens)
            return self.W_o(self.transpose_output(output))

    class PositionWiseFFN(nn.Module):
        def __init__(self, ffn_num_hiddens, ffn_num_outputs):
            super().__init__()
            self.dense1 = nn.LazyLinear(ffn_num_hiddens)
            self.relu = nn.ReLU()
            self.dense2 = nn.LazyLinear(ffn_num_outputs)

        def forward(self, X):  # noqa: N803
            return self.dense2(self.relu(self.dense1(X)))

    class AddNorm(nn.Module):
        def __init__(self, norm_shape, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.ln = nn.LayerNorm(norm_shape)

        def forward(self, X, Y):  # noqa: N803
            return self.ln(self.dropout(Y) + X)

    class TransformerEncoderBlock(nn.Module):
        def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias=False):
            super().__init__()
            self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
            self.addnorm1 = AddNorm(num_hiddens, dropout)
            self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
            self.addnorm2 = AddNorm(num_hiddens, dropout)

        def forward(self, X, valid_lens):  # noqa: N803
            Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))  # noqa: N806
            return self.addnorm2(Y, self.ffn(Y))

    block = TransformerEncoderBlock(24, 48, 8, 0.5)
    block.eval()
    X = torch.tensor(x, requires_grad=True)  # noqa: N806
    out = block(X, torch.tensor(valid_lens))
    block(X, torch.tensor(valid_lens))  # materialise the lazy layers, then load the weights
    with torch.no_grad():
        for (_, p), a in zip(block.named_parameters(), w, strict=True):
            p.copy_(torch.tensor(a))
    out = block(X, torch.tensor(valid_lens))
    (out * out).sum().backward()
    weights = block.attention.attention.attention_weights
    grads = [p.grad for p in block.parameters()]
    return [out.shape, out, weights, X.grad, *grads]


def test_d2l_chapter_11_attention_and_encoder_block_match_torch():
    from tests.side_by_side import assert_same, run_both

    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 100, 24)).astype(np.float32)
    shapes = [(24, 24)] * 4 + [(24,), (24,), (48, 24), (48,), (24, 48), (24,), (24,), (24,)]
    w = [(rng.standard_normal(s) * 0.2).astype(np.float32) for s in shapes]
    ours, ref = run_both(d2l_attention_program, x, np.array([3, 2]), w)
    assert_same(ours, ref, rtol=1e-4, atol=1e-4)
