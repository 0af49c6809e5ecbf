"""Pixel/channel shuffles, cosine similarity, pairwise and cdist distances, local response
norm, power-average pooling, Fold/Unfold modules and ``Tensor.unfold`` against torch: values
and gradients in float64 (at the zero-distance and zero-norm corners too), finite differences
to second order, reprs and torch's errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.nn._helpers import assert_close, to_nd

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

G = torch.Generator().manual_seed(0)


def _r(*shape):
    return torch.randn(*shape, generator=G, dtype=torch.float64)


def _both(fn_ours, fn_ref, *inputs, atol=1e-12, rtol=1e-10):
    """Values and gradients of every input, ndgrad vs torch."""
    refs = [t.clone().requires_grad_(True) for t in inputs]
    ours = [to_nd(t, requires_grad=True) for t in inputs]
    ry, oy = fn_ref(*refs), fn_ours(*ours)
    assert_close(oy, ry, atol=atol, rtol=rtol)
    up = torch.randn(ry.shape, generator=G, dtype=torch.float64)
    ry.backward(up)
    oy.backward(to_nd(up))
    for o, r in zip(ours, refs):
        assert_close(o.grad, r.grad, atol=atol * 100, rtol=rtol * 100)
    return oy, ry


CASES = {
    "pixel_shuffle": (lambda lib, x: lib.nn.functional.pixel_shuffle(x, 2), [(2, 8, 3, 4)]),
    "pixel_shuffle_batchdims": (lambda lib, x: lib.nn.functional.pixel_shuffle(x, 3), [(2, 1, 9, 2, 2)]),
    "pixel_unshuffle": (lambda lib, x: lib.nn.functional.pixel_unshuffle(x, 2), [(2, 3, 4, 6)]),
    "channel_shuffle": (lambda lib, x: lib.nn.functional.channel_shuffle(x, 3), [(2, 6, 2, 3)]),
    "cosine_similarity": (lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b), [(4, 5), (4, 5)]),
    "cosine_broadcast": (lambda lib, a, b: lib.nn.functional.cosine_similarity(a, b, dim=-1), [(3, 1, 6), (4, 6)]),
    "pairwise_distance": (lambda lib, a, b: lib.nn.functional.pairwise_distance(a, b), [(4, 5), (4, 5)]),
    "pairwise_p1_keepdim": (
        lambda lib, a, b: lib.nn.functional.pairwise_distance(a, b, p=1, keepdim=True),
        [(4, 5), (1, 5)],
    ),
    "cdist": (lambda lib, a, b: lib.cdist(a, b), [(5, 3), (4, 3)]),
    "cdist_p1_batched": (lambda lib, a, b: lib.cdist(a, b, p=1), [(2, 5, 3), (2, 4, 3)]),
    "cdist_p3": (lambda lib, a, b: lib.cdist(a, b, p=3.0), [(5, 3), (4, 3)]),
    "cdist_inf": (lambda lib, a, b: lib.cdist(a, b, p=math.inf), [(5, 3), (4, 3)]),
    "cdist_mm": (lambda lib, a, b: lib.cdist(a, b), [(30, 3), (4, 3)]),
    "cdist_mm_forced": (lambda lib, a, b: lib.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), [(5, 3), (4, 3)]),
    "local_response_norm": (lambda lib, x: lib.nn.functional.local_response_norm(x, 3), [(2, 5, 3, 4)]),
    "local_response_norm_3d": (
        lambda lib, x: lib.nn.functional.local_response_norm(x, 2, alpha=0.1, beta=0.5, k=2.0),
        [(2, 4, 7)],
    ),
    "lp_pool2d": (lambda lib, x: lib.nn.functional.lp_pool2d(x, 2, 2), [(2, 3, 4, 6)]),
    "lp_pool2d_p3": (lambda lib, x: lib.nn.functional.lp_pool2d(x.abs() + 0.1, 3, (2, 3), stride=1), [(2, 3, 4, 6)]),
    "lp_pool1d": (
        lambda lib, x: lib.nn.functional.lp_pool1d(x.abs() + 0.1, 1.5, 3, stride=2, ceil_mode=True),
        [(2, 3, 8)],
    ),
    "tensor_unfold": (lambda lib, x: x.unfold(1, 3, 2), [(2, 7, 3)]),
    "tensor_unfold_last": (lambda lib, x: x.unfold(-1, 2, 1), [(3, 4)]),
    "fold_module": (lambda lib, x: lib.nn.Fold((4, 5), 2)(x), [(2, 12, 12)]),
    "unfold_module": (lambda lib, x: lib.nn.Unfold((2, 3), dilation=1, padding=1, stride=2)(x), [(2, 3, 5, 6)]),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_torch(name):
    fn, shapes = CASES[name]
    inputs = [_r(*s) for s in shapes]
    _both(lambda *a: fn(ndgrad, *a), lambda *a: fn(torch, *a), *inputs)


@pytest.mark.parametrize("name", CASES)
def test_finite_differences_to_second_order(name):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(1)
    inputs = [
        ndgrad.tensor(rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s), requires_grad=True)
        for s in shapes
    ]
    if name.startswith("cdist_inf"):
        return  # max's gradient: checked against torch above
    assert gradcheck(lambda *a: fn(ndgrad, *a), tuple(inputs), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(lambda *a: fn(ndgrad, *a), tuple(inputs), eps=1e-6, atol=1e-4, rtol=1e-3)


def test_zero_norm_and_zero_distance_corners_match_torch():
    a, b = torch.zeros(2, 3, dtype=torch.float64), _r(2, 3)
    _both(F.cosine_similarity, TF.cosine_similarity, a, b, atol=1e-6, rtol=1e-8)
    x = _r(4, 3)
    x[2] = x[0]
    for p in (2.0, 1.0, 3.0):
        _both(
            lambda u, v, p=p: ndgrad.cdist(u, v, p=p),
            lambda u, v, p=p: torch.cdist(u, v, p=p),
            x,
            x.clone(),
        )
    big = _r(30, 3)
    _both(ndgrad.cdist, torch.cdist, big, big.clone(), atol=1e-7, rtol=1e-6)
    _both(F.pairwise_distance, TF.pairwise_distance, x, x.clone())


def test_float32_values_match_torch():
    x = torch.randn(2, 8, 5, 6)
    for name in ("pixel_shuffle", "local_response_norm", "lp_pool2d"):
        fn = CASES[name][0]
        assert_close(fn(ndgrad, to_nd(x)), fn(torch, x), atol=1e-5, rtol=1e-5)
    a, b = torch.randn(40, 8), torch.randn(7, 8)
    assert_close(ndgrad.cdist(to_nd(a), to_nd(b)), torch.cdist(a, b), atol=1e-4, rtol=1e-4)


def test_modules_reprs_and_values_match_torch():
    x = torch.randn(2, 8, 4, 6)
    pairs = [
        ("PixelShuffle", (2,), (x,)), ("PixelUnshuffle", (2,), (x,)), ("ChannelShuffle", (4,), (x,)),
        ("CosineSimilarity", (), (x, x.flip(0))), ("CosineSimilarity", (2, 1e-6), (x, x.flip(0))),
        ("PairwiseDistance", (), (x, x.flip(0))), ("PairwiseDistance", (1.0, 1e-5, True), (x, x.flip(0))),
        ("LocalResponseNorm", (2,), (x,)), ("LocalResponseNorm", (3, 0.01, 0.5, 2.0), (x,)),
        ("LPPool2d", (2, 3), (x,)), ("LPPool2d", (1.5, (2, 2), 1, True), (x.abs(),)),
        ("LPPool1d", (2, 3, 2), (x[0],)), ("Unfold", (3,), (x,)), ("Unfold", ((2, 3), 2, 1, 2), (x,)),
        ("Fold", ((4, 5), 2), (torch.randn(2, 12, 12),)),
    ]  # fmt: skip
    for name, args, inputs in pairs:
        ours, ref = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(ours) == repr(ref)
        assert_close(ours(*(to_nd(t) for t in inputs)), ref(*inputs), atol=1e-5, rtol=1e-5)


ERRORS = [
    lambda lib: lib.nn.functional.pixel_shuffle(lib.ones(3, 4), 2),
    lambda lib: lib.nn.functional.pixel_shuffle(lib.ones(1, 5, 2, 2), 2),
    lambda lib: lib.nn.functional.pixel_shuffle(lib.ones(1, 4, 2, 2), 0),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.ones(1, 1, 3, 4), 2),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.ones(1, 1, 4, 3), 2),
    lambda lib: lib.nn.functional.channel_shuffle(lib.ones(1, 5, 2, 2), 2),
    lambda lib: lib.nn.functional.channel_shuffle(lib.ones(5), 2),
    lambda lib: lib.nn.functional.cosine_similarity(lib.ones(2, 3), lib.ones(2, 4)),
    lambda lib: lib.cdist(lib.ones(3), lib.ones(3)),
    lambda lib: lib.cdist(lib.ones(2, 3), lib.ones(2, 4)),
    lambda lib: lib.cdist(lib.ones(2, 3), lib.ones(2, 3), p=-1),
    lambda lib: lib.cdist(lib.ones(2, 3, dtype=lib.int32), lib.ones(2, 3, dtype=lib.int32)),
    lambda lib: lib.nn.functional.local_response_norm(lib.ones(3, 4), 2),
    lambda lib: lib.ones(2, 8, 3).unfold(2, 5, 1),
    lambda lib: lib.ones(2, 8, 3).unfold(2, 2, 0),
    lambda lib: lib.nn.functional.lp_pool2d(lib.ones(1, 2, 4, 4), 0, 2),
]


@pytest.mark.parametrize("call", ERRORS)
def test_bad_input_gets_torchs_exception_and_words(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(ndgrad)
    assert str(theirs.value).replace("torch.", "") in str(ours.value).replace("ndgrad.", "")


def test_cdist_zero_p_counts_differences():
    a, b = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[0.0, 1.5, 2.0], [1.0, 1.0, 0.0]])
    assert ndgrad.cdist(to_nd(a), to_nd(b), p=0).tolist() == torch.cdist(a, b, p=0).tolist()
    assert ndgrad.tensor(3.0).unfold(0, 1, 1).shape == torch.tensor(3.0).unfold(0, 1, 1).shape


@pytest.mark.parametrize("shape,ns", [((2, 5), (5,)), ((2, 3, 4), (3, 4)), ((3, 4), [4])])
def test_rms_norm_matches_torch_and_differentiates_twice(shape, ns):
    x = _r(*shape)
    w = _r(*ns)
    _both(lambda a, b: F.rms_norm(a, ns, b), lambda a, b: TF.rms_norm(a, ns, b), x, w, atol=1e-12)
    _both(lambda a: F.rms_norm(a, ns, eps=1e-3), lambda a: TF.rms_norm(a, ns, eps=1e-3), x)
    a = ndgrad.tensor(x.numpy(), requires_grad=True)
    assert gradgradcheck(lambda t: F.rms_norm(t, ns), (a,), eps=1e-6, atol=1e-5, rtol=1e-4)
    xf = torch.randn(*shape)
    assert_close(F.rms_norm(to_nd(xf), ns), TF.rms_norm(xf, ns), atol=1e-6, rtol=1e-5)


def test_rms_norm_module_and_orthogonal_init_match_torch():
    for args in [(4,), ([2, 3], 1e-5, False)]:
        ours, ref = nn.RMSNorm(*args), torch.nn.RMSNorm(*args)
        assert repr(ours) == repr(ref)
        assert list(ours.state_dict()) == list(ref.state_dict())
        x = torch.randn(3, 2, 3) if len(args) > 1 else torch.randn(3, 4)
        assert_close(ours(to_nd(x)), ref(x), atol=1e-6, rtol=1e-5)
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*3\]"):
        F.rms_norm(ndgrad.ones(2, 4), (3,))
    for shape in [(3, 5), (5, 3), (4, 2, 3)]:
        w = ndgrad.empty(shape)
        nn.init.orthogonal_(w, gain=2.0)
        m = w.reshape(shape[0], -1).numpy().astype(np.float64)
        gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        nn.init.orthogonal_(ndgrad.empty(3))
