"""Transformer layers against torch 2.13 on the same weights: TransformerEncoderLayer,
TransformerDecoderLayer, their stacks and nn.Transformer (outputs and the gradients of every
parameter and input), masks (causal float masks, bool masks, key padding), batch_first both
ways, norm_first, gelu/callable activations, bias=False, unbatched input, eval mode (PyTorch's
fast path), state_dict keys, deep-copied layers, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.nn._helpers import to_nd

import ndgrad
from ndgrad import nn
from ndgrad.nn import functional as F

TOL = {"float32": {"rtol": 2e-4, "atol": 2e-5}, "float64": {"rtol": 1e-9, "atol": 1e-10}}


def _arr(rng, shape, dtype="float64"):
    return rng.standard_normal(shape).astype(dtype)


def _close(a, b, dtype="float64", where=""):
    a = a.detach().numpy() if hasattr(a, "detach") else a
    b = b.detach().numpy() if hasattr(b, "detach") else b
    np.testing.assert_allclose(
        np.asarray(a, np.float64), np.asarray(b, np.float64), err_msg=where, **TOL[dtype]
    )


def _pair(make, dtype="float64", seed=0):
    """``make(lib)`` built for both; torch's weights (random biases too) copied into ndgrad."""
    torch.manual_seed(seed)
    theirs = make(torch)
    if dtype == "float64":
        theirs = theirs.double()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for _, p in theirs.named_parameters():
            if p.dim() == 1:
                p.add_(torch.from_numpy(_arr(rng, tuple(p.shape), dtype) * 0.1))
    ours = make(ndgrad)
    if dtype == "float64":
        ours = ours.double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: to_nd(v) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _nd_t(x):
    if isinstance(x, np.ndarray):
        grad = x.dtype.kind == "f" and x.ndim > 1 and np.isfinite(x).all() and x.shape[-1] > 0
        return ndgrad.tensor(x, requires_grad=bool(grad)), torch.tensor(x, requires_grad=bool(grad))
    return x, x


def _step(ours, theirs, args, kwargs=None, dtype="float64", grad_inputs=(0,)):
    kwargs = kwargs or {}
    nd_args, t_args = zip(*(_nd_t(a) for a in args), strict=True)
    for i, (a, b) in enumerate(zip(nd_args, t_args, strict=True)):
        if i not in grad_inputs and hasattr(a, "requires_grad_"):
            a.requires_grad_(False)
            b.requires_grad_(False)
    nd_kw = {k: _nd_t(v)[0] for k, v in kwargs.items()}
    t_kw = {k: _nd_t(v)[1] for k, v in kwargs.items()}
    for d in (nd_kw, t_kw):
        for v in d.values():
            if hasattr(v, "requires_grad_") and v.requires_grad:
                v.requires_grad_(False)
    ya, yb = ours(*nd_args, **nd_kw), theirs(*t_args, **t_kw)
    _close(ya, yb, dtype, "output")
    if not yb.requires_grad:
        return
    g = _arr(np.random.default_rng(9), tuple(yb.shape), dtype)
    ya.backward(ndgrad.tensor(g))
    yb.backward(torch.tensor(g))
    for i in grad_inputs:
        _close(nd_args[i].grad, t_args[i].grad, dtype, f"input {i} grad")
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if named[name].grad is None:
            assert p.grad is None or not p.grad.detach().numpy().any(), name
        else:
            _close(p.grad, named[name].grad, dtype, f"{name}.grad")


def _enc_layer(lib, **kw):
    kw = {"dim_feedforward": 16, "dropout": 0.0, **kw}
    return lib.nn.TransformerEncoderLayer(8, 2, **kw)


def _dec_layer(lib, **kw):
    kw = {"dim_feedforward": 16, "dropout": 0.0, **kw}
    return lib.nn.TransformerDecoderLayer(8, 2, **kw)


def _seq(rng, L, N, batch_first, dtype="float64"):  # noqa: N803
    return _arr(rng, (N, L, 8) if batch_first else (L, N, 8), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(dtype, batch_first, norm_first, activation):
    def make(lib):
        return _enc_layer(
            lib, batch_first=batch_first, norm_first=norm_first, activation=activation
        )

    ours, theirs = _pair(make, dtype)
    rng = np.random.default_rng(1)
    x = _seq(rng, 5, 3, batch_first, dtype)
    causal = np.triu(np.full((5, 5), -np.inf), 1).astype(dtype)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, 3:] = True
    _step(ours, theirs, (x,), dtype=dtype)
    _step(ours, theirs, (x,), {"src_mask": causal, "is_causal": True}, dtype)
    _step(ours, theirs, (x,), {"src_key_padding_mask": kpm}, dtype)
    _step(ours, theirs, (x,), {"src_mask": causal < 0, "src_key_padding_mask": kpm}, dtype)


def test_encoder_layer_callable_activation_bias_false_and_unbatched():
    ours, theirs = _pair(lambda lib: _enc_layer(lib, activation=lib.nn.functional.silu))
    x = _arr(np.random.default_rng(2), (5, 8))
    _step(ours, theirs, (x,))
    ours, theirs = _pair(lambda lib: _enc_layer(lib, bias=False, activation=lib.nn.GELU()))
    _step(ours, theirs, (x,))
    _step(ours, theirs, (_seq(np.random.default_rng(3), 4, 2, False),))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(batch_first, norm_first):
    ours, theirs = _pair(
        lambda lib: _dec_layer(lib, batch_first=batch_first, norm_first=norm_first)
    )
    rng = np.random.default_rng(4)
    tgt, mem = _seq(rng, 4, 3, batch_first), _seq(rng, 6, 3, batch_first)
    causal = np.triu(np.full((4, 4), -np.inf), 1)
    mkpm = np.zeros((3, 6), dtype=bool)
    mkpm[2, 4:] = True
    _step(ours, theirs, (tgt, mem), grad_inputs=(0, 1))
    _step(
        ours,
        theirs,
        (tgt, mem),
        {"tgt_mask": causal, "tgt_is_causal": True, "memory_key_padding_mask": mkpm},
        grad_inputs=(0, 1),
    )


@pytest.mark.parametrize("batch_first", [False, True])
def test_stacks_and_transformer_match_torch(batch_first):
    def make(lib):
        return lib.nn.Transformer(
            8, 2, 2, 2, 16, dropout=0.0, batch_first=batch_first, activation="gelu"
        )

    ours, theirs = _pair(make)
    assert len(ours.encoder.layers) == 2 and ours.encoder.layers[0] is not ours.encoder.layers[1]
    rng = np.random.default_rng(5)
    src, tgt = _seq(rng, 6, 2, batch_first), _seq(rng, 4, 2, batch_first)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=ndgrad.float64).numpy()
    skpm = np.zeros((2, 6), dtype=bool)
    skpm[0, 5:] = True
    _step(ours, theirs, (src, tgt), grad_inputs=(0, 1))
    _step(
        ours,
        theirs,
        (src, tgt),
        {"tgt_mask": tgt_mask, "src_key_padding_mask": skpm, "memory_key_padding_mask": skpm},
        grad_inputs=(0, 1),
    )
    enc = lambda lib: lib.nn.TransformerEncoder(  # noqa: E731
        _enc_layer(lib, batch_first=batch_first), 2, lib.nn.LayerNorm(8), mask_check=False
    )
    ours, theirs = _pair(enc)
    causal = np.triu(np.full((6, 6), -np.inf), 1)
    _step(ours, theirs, (src,), {"mask": causal})  # detected as causal, as torch
    dec = lambda lib: lib.nn.TransformerDecoder(_dec_layer(lib, batch_first=batch_first), 2)  # noqa: E731
    ours, theirs = _pair(dec)
    _step(ours, theirs, (tgt, src), {"tgt_mask": tgt_mask}, grad_inputs=(0, 1))


def test_eval_mode_and_no_grad_match_torchs_fast_path():
    make = lambda lib: lib.nn.TransformerEncoder(  # noqa: E731
        _enc_layer(lib, batch_first=True, dropout=0.5), 2, enable_nested_tensor=False
    )
    ours, theirs = _pair(make, "float32")
    ours.eval()
    theirs.eval()
    x = _seq(np.random.default_rng(6), 5, 3, True, "float32")
    with ndgrad.no_grad(), torch.no_grad():
        _close(ours(ndgrad.tensor(x)), theirs(torch.tensor(x)), "float32")
    model = lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16, batch_first=True)  # noqa: E731
    ours, theirs = _pair(model, "float32")
    ours.eval()
    theirs.eval()
    t = _seq(np.random.default_rng(7), 4, 3, True, "float32")
    with ndgrad.no_grad(), torch.no_grad():
        _close(
            ours(ndgrad.tensor(x), ndgrad.tensor(t)), theirs(torch.tensor(x), torch.tensor(t)),
            "float32",
        )  # fmt: skip


def test_dropout_in_training():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = ndgrad.randn(5, 2, 8)
    assert not np.allclose(layer(x).detach().numpy(), layer(x).detach().numpy())
    layer.eval()
    assert np.allclose(layer(x).detach().numpy(), layer(x).detach().numpy())


def test_generate_square_subsequent_mask_and_state_dict_keys():
    a = nn.Transformer.generate_square_subsequent_mask(4)
    b = torch.nn.Transformer.generate_square_subsequent_mask(4)
    assert a.dtype == ndgrad.float32
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=ndgrad.float64).dtype == (
        ndgrad.float64
    )
    ours = nn.Transformer(8, 2, 1, 1, 16)
    theirs = torch.nn.Transformer(8, 2, 1, 1, 16)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    for _, p in ours.named_parameters():  # xavier_uniform_ on every matrix
        if p.dim() > 1:
            bound = np.sqrt(6.0 / sum(p.shape))
            assert np.abs(p.detach().numpy()).max() <= bound
    assert repr(ours.encoder.layers[0].self_attn) == repr(theirs.encoder.layers[0].self_attn)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: lib.nn.TransformerEncoderLayer(8, 2, activation="tanh"),
        lambda lib: lib.nn.TransformerEncoderLayer(8, 3),
        lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16)(lib.zeros(5, 2, 8), lib.zeros(4, 3, 8)),
        lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16)(lib.zeros(5, 2, 6), lib.zeros(4, 2, 6)),
        lambda lib: lib.nn.TransformerEncoderLayer(8, 2)(lib.zeros(5, 2, 6)),
        lambda lib: lib.nn.TransformerEncoderLayer(8, 2)(
            lib.zeros(5, 2, 8), src_mask=lib.zeros(4, 4)
        ),
    ],
    ids=["activation", "heads", "batch", "d_model", "embed", "mask"],
)
def test_bad_input_raises_torchs_class(call):
    with pytest.raises(Exception) as ref:
        call(torch)
    with pytest.raises(ref.type) as ours:
        call(ndgrad)
    assert str(ours.value).replace("ndgrad", "torch") == str(ref.value)


def test_functional_gelu_is_exported():
    assert F.gelu is nn.functional.gelu


@pytest.mark.parametrize("left_aligned", [True, False])
@pytest.mark.parametrize("norm", [False, True])
def test_eval_with_padding_matches_torchs_nested_tensor_path(left_aligned, norm):
    """In inference with a key padding mask PyTorch's encoder runs on nested tensors and
    gives zeros at padded positions (left-aligned masks); ndgrad gives the same numbers."""

    def make(lib):
        layer = _enc_layer(lib, batch_first=True)
        return lib.nn.TransformerEncoder(layer, 2, lib.nn.LayerNorm(8) if norm else None)

    ours, theirs = _pair(make, "float32")
    ours.eval()
    theirs.eval()
    x = _seq(np.random.default_rng(8), 5, 3, True, "float32")
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, 3:] = True
    if not left_aligned:
        kpm[2, 1] = True
    with ndgrad.no_grad(), torch.no_grad():
        a = ours(ndgrad.tensor(x), src_key_padding_mask=ndgrad.tensor(kpm))
        b = theirs(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
        _close(a, b, "float32")
        a = ours.layers[0](ndgrad.tensor(x), src_key_padding_mask=ndgrad.tensor(kpm))
        b = theirs.layers[0](torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
        _close(a, b, "float32")
    # With gradients wanted, PyTorch keeps the ordinary path: the padded rows are not zero.
    _step(ours, theirs, (x,), {"src_key_padding_mask": kpm}, "float32")
