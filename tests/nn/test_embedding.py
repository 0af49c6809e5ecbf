"""nn.Embedding and F.embedding against PyTorch, and by finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

IDX = [[1, 2, 4, 1], [4, 3, 1, 0]]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"padding_idx": 1},
        {"padding_idx": -1},
        {"scale_grad_by_freq": True},
        {"scale_grad_by_freq": True, "padding_idx": 4},
        {"max_norm": 1.0},
        {"max_norm": 0.5, "norm_type": 1.0},
        {"max_norm": 0.5, "norm_type": float("inf")},
    ],
)
def test_matches_torch(kw):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    wa, wb = ndgrad.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    g = rng.standard_normal((2, 4, 3)).astype(np.float32)
    ia, ib = ndgrad.tensor(IDX), torch.tensor(IDX)
    oa = F.embedding(ia, wa, **kw)
    ob = torch.nn.functional.embedding(ib, wb, **kw)
    assert_close(oa, ob)
    (oa * ndgrad.tensor(g)).sum().backward()
    (ob * torch.tensor(g)).sum().backward()
    assert_close(wa.grad, wb.grad)
    assert_close(wa, wb)  # max_norm renormalised the same rows in place
    assert oa.grad_fn.name() == ob.grad_fn.name()


def test_module_init_padding_repr_and_state_dict():
    ndgrad.manual_seed(0)
    e = nn.Embedding(5, 3, padding_idx=-2)
    ref = torch.nn.Embedding(5, 3, padding_idx=-2)
    assert e.padding_idx == ref.padding_idx == 3
    np.testing.assert_array_equal(e.weight.detach().numpy()[3], 0)
    assert list(e.state_dict()) == list(ref.state_dict())
    kw = {"padding_idx": 1, "max_norm": 2.0, "scale_grad_by_freq": True, "sparse": True}
    assert repr(nn.Embedding(5, 3, **kw)) == repr(torch.nn.Embedding(5, 3, **kw))
    assert repr(nn.Embedding(5, 3, norm_type=1.0)) == repr(torch.nn.Embedding(5, 3, norm_type=1.0))
    # N(0, 1)
    ndgrad.manual_seed(0)
    big = nn.Embedding(400, 50).weight.detach().numpy()
    assert abs(big.mean()) < 0.02 and abs(big.std() - 1) < 0.02


def test_module_padding_row_gets_no_gradient_and_lookup():
    ndgrad.manual_seed(0)
    e = nn.Embedding(6, 2, padding_idx=0)
    ref = torch.nn.Embedding(6, 2, padding_idx=0)
    ref.load_state_dict({"weight": torch.tensor(e.weight.detach().numpy())})
    idx = [[0, 2, 0], [5, 5, 1]]
    oa, ob = e(ndgrad.tensor(idx)), ref(torch.tensor(idx))
    assert_close(oa, ob)
    oa.sum().backward()
    ob.sum().backward()
    assert_close(e.weight.grad, ref.weight.grad)
    np.testing.assert_array_equal(e.weight.grad.numpy()[0], 0)


def test_from_pretrained():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    e = nn.Embedding.from_pretrained(ndgrad.tensor(w))
    ref = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    assert e.weight.requires_grad is ref.weight.requires_grad is False
    assert_close(e(ndgrad.tensor([3, 0])), ref(torch.tensor([3, 0])))
    e2 = nn.Embedding.from_pretrained(ndgrad.tensor(w), freeze=False, padding_idx=1)
    assert e2.weight.requires_grad and e2.padding_idx == 1
    assert repr(e2) == repr(torch.nn.Embedding.from_pretrained(torch.tensor(w), False, 1))


def test_int32_indices_and_scalar_index():
    w = ndgrad.randn(5, 3)
    assert_close(
        F.embedding(ndgrad.tensor([1, 2], dtype=ndgrad.int32), w), torch.tensor(w.numpy())[[1, 2]]
    )
    assert F.embedding(ndgrad.tensor(2), w).shape == (3,)


def _raises_like(fn_ours, fn_ref):
    with pytest.raises(Exception) as ref_info:
        fn_ref()
    with pytest.raises(type(ref_info.value)) as ours_info:
        fn_ours()
    assert str(ours_info.value) == str(ref_info.value).replace("torch.", "ndgrad.")


@pytest.mark.parametrize(
    "case", ["too_big", "negative", "float", "padding_big", "padding_small", "weight", "pretrained"]
)
def test_bad_input_like_torch(case):
    def make(lib):
        n = nn if lib is ndgrad else torch.nn
        if case == "too_big":
            return lambda: n.Embedding(5, 3)(lib.tensor([5]))
        if case == "negative":
            return lambda: n.Embedding(5, 3)(lib.tensor([-1]))
        if case == "float":
            return lambda: n.Embedding(5, 3)(lib.tensor([1.0]))
        if case == "padding_big":
            return lambda: n.Embedding(5, 3, padding_idx=5)
        if case == "padding_small":
            return lambda: n.Embedding(5, 3, padding_idx=-6)
        if case == "weight":
            return lambda: n.Embedding(5, 3, _weight=lib.zeros(4, 3))
        return lambda: n.Embedding.from_pretrained(lib.zeros(4))

    _raises_like(make(ndgrad), make(torch))


def test_gradcheck_first_and_second_order():
    rng = np.random.default_rng(1)
    w = ndgrad.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    idx = ndgrad.tensor([[0, 2, 2], [4, 1, 2]])
    f = lambda w: F.embedding(idx, w) ** 2  # noqa: E731 - squared: a nonzero second order
    assert gradcheck(f, (w,))
    assert gradgradcheck(f, (w,))


@pytest.mark.parametrize(
    "kw",
    [
        {"padding_idx": 2},
        pytest.param(
            {"scale_grad_by_freq": True},
            marks=pytest.mark.xfail(
                strict=True,
                reason="known difference: PyTorch's double backward of embedding "
                "(embedding_dense_double_backward) ignores scale_grad_by_freq; ndgrad's one "
                "rule differentiates the scaled gradient it computes",
            ),
        ),
    ],
)
def test_double_backward_matches_torch(kw):
    # not the derivative of the forward (padding rows get none, frequencies divide), so
    # compared with PyTorch rather than with finite differences
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 2))
    idx = [[0, 2, 2], [4, 1, 2]]
    grads = []
    for lib in (ndgrad, torch):
        wt = lib.tensor(w, requires_grad=True)
        fn = F.embedding if lib is ndgrad else torch.nn.functional.embedding
        out = fn(lib.tensor(idx), wt, **kw) ** 3
        (gw,) = lib.autograd.grad(out.sum(), wt, create_graph=True)
        (gw * gw).sum().backward()
        grads.append((gw, wt.grad))
    assert_close(grads[0][0], grads[1][0])
    assert_close(grads[0][1], grads[1][1])
