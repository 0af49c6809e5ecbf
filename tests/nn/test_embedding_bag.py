"""nn.EmbeddingBag and F.embedding_bag against PyTorch, and by finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

IDX = [1, 2, 4, 1, 0, 6, 3, 3, 2, 5, 1]
OFFSETS = [[0, 3, 3, 7], [0, 11], [0], [0, 0, 2, 11]]


def _run(lib, idx, w, offsets, psw, g, **kw):
    wt = lib.tensor(w, requires_grad=True)
    pt = None if psw is None else lib.tensor(psw, requires_grad=True)
    off = None if offsets is None else lib.tensor(offsets)
    fn = F.embedding_bag if lib is ndgrad else torch.nn.functional.embedding_bag
    out = fn(lib.tensor(idx), wt, off, per_sample_weights=pt, **kw)
    (out * lib.tensor(g.astype(w.dtype))).sum().backward()
    return out, wt, pt


def _compare(idx, offsets, kw, psw, dtype, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((7, 5)).astype(dtype)
    p = rng.standard_normal(np.shape(idx)).astype(dtype) if psw else None
    ref, wr, pr = _run(torch, idx, w, offsets, p, np.zeros(1), **kw)
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    ref, wr, pr = _run(torch, idx, w, offsets, p, g, **kw)
    out, wa, pa = _run(ndgrad, idx, w, offsets, p, g, **kw)
    tol = {"atol": 1e-12, "rtol": 1e-10} if dtype == np.float64 else {}
    assert_close(out, ref, **tol)
    assert_close(wa.grad, wr.grad, **tol)
    if psw:
        assert_close(pa.grad, pr.grad, **tol)
    assert out.dtype == getattr(ndgrad, str(ref.dtype).split(".")[1])
    assert out.grad_fn.name() == ref.grad_fn.name()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 1, -4])
def test_1d_offsets_match_torch(dtype, mode, padding_idx):
    for offsets in OFFSETS:
        for last in (False, True):
            if last and offsets[-1] != len(IDX):
                continue
            freq = (False,) if mode == "max" else (False, True)
            for sgf in freq:
                kw = {"mode": mode, "padding_idx": padding_idx, "include_last_offset": last}
                kw["scale_grad_by_freq"] = sgf
                _compare(IDX, offsets, kw, False, dtype)
                if mode == "sum":
                    _compare(IDX, offsets, kw, True, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_2d_input_matches_torch(dtype, mode):
    idx = [[1, 2, 2], [2, 2, 2], [0, 6, 5], [3, 3, 4]]
    for pad in (None, 2):
        _compare(idx, None, {"mode": mode, "padding_idx": pad}, mode == "sum", dtype)


def test_max_ties_nan_and_int32_indices():
    w = np.array([[1.0, 2.0], [1.0, 5.0], [np.nan, 0.0], [3.0, 5.0]])
    for idx, off in (([0, 1, 3, 1], [0, 2]), ([1, 2, 0, 3], [0, 1]), ([3, 0, 1], [0, 0])):
        wa, wb = ndgrad.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        oa = F.embedding_bag(
            ndgrad.tensor(idx, dtype=ndgrad.int32), wa, ndgrad.tensor(off), mode="max"
        )
        ob = torch.nn.functional.embedding_bag(
            torch.tensor(idx, dtype=torch.int32), wb, torch.tensor(off), mode="max"
        )
        np.testing.assert_array_equal(oa.detach().numpy(), ob.detach().numpy())
        oa.sum().backward()
        ob.sum().backward()
        np.testing.assert_array_equal(wa.grad.numpy(), wb.grad.numpy())


def test_empty_input_and_bags():
    w = np.arange(6.0).reshape(3, 2)
    for mode in ("sum", "mean", "max"):
        oa = F.embedding_bag(
            ndgrad.tensor([], dtype=ndgrad.int64),
            ndgrad.tensor(w),
            ndgrad.tensor([0, 0]),
            mode=mode,
        )
        ob = torch.nn.functional.embedding_bag(
            torch.tensor([], dtype=torch.long), torch.tensor(w), torch.tensor([0, 0]), mode=mode
        )
        assert_close(oa, ob)


def test_max_norm_renormalises_in_place():
    rng = np.random.default_rng(1)
    w = (3 * rng.standard_normal((6, 4))).astype(np.float32)
    wa, wb = ndgrad.tensor(w.copy()), torch.tensor(w.copy())
    kw = {"max_norm": 1.5, "norm_type": 1.0, "mode": "sum"}
    oa = F.embedding_bag(ndgrad.tensor([[0, 2], [2, 5]]), wa, **kw)
    ob = torch.nn.functional.embedding_bag(torch.tensor([[0, 2], [2, 5]]), wb, **kw)
    assert_close(oa, ob)
    assert_close(wa, wb)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_gradcheck_and_gradgradcheck(mode):
    rng = np.random.default_rng(2)
    w = ndgrad.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    idx, off = ndgrad.tensor([1, 2, 5, 1, 0, 3, 4]), ndgrad.tensor([0, 2, 2, 5])
    if mode == "sum":
        p = ndgrad.tensor(rng.standard_normal(7), requires_grad=True)

        def fn(w, p):
            return F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=p, padding_idx=0)

        assert gradcheck(fn, (w, p))
        assert gradgradcheck(fn, (w, p))
    else:

        def fn(w):
            return F.embedding_bag(idx, w, off, mode=mode, padding_idx=3) ** 2

        assert gradcheck(fn, (w,))
        assert gradgradcheck(fn, (w,))


def _raises(call_nd, call_t, text=True):
    with pytest.raises(Exception) as ref:
        call_t()
    with pytest.raises(type(ref.value)) as got:
        call_nd()
    assert not text or str(got.value) == str(ref.value).replace("torch.", "ndgrad."), (
        got.value,
        ref.value,
    )


@pytest.mark.parametrize(
    "args",
    [
        ([1, 2, 3], [1], {}),
        ([1, 2, 3], [0, 5], {}),
        ([1, 2, 7], [0, 2], {}),
        ([1, 2, 7], [0, 2], {"mode": "max"}),
        ([1, 2, 3], [0, 1], {"mode": "foo"}),
        ([1, 2, 3], [0, 1], {"padding_idx": 7}),
        ([1, 2, 3], [0, 1], {"mode": "max", "scale_grad_by_freq": True}),
        ([1, 2, 3], [0, 1], {"mode": "max", "sparse": True}),
        ([1, 2, 3], [0, 1], {"mode": "mean", "psw": 3}),
        ([1, 2, 3], [0, 1], {"mode": "sum", "psw": 2}),
        ([1, 2, 3], [0, 1], {"mode": "sum", "psw": 3, "psw_dtype": "float64"}),
        ([[1, 2, 3]], [0, 1], {}),
        ([1, 2, 3], None, {}),
        ([[[1, 2, 3]]], None, {}),
        ([1, 2, 3], [[0, 1]], {}),
        ([1.0, 2.0], [0, 1], {}),
        (np.zeros((3, 0), np.int64), None, {}),
    ],
)
def test_errors_match_torch(args):
    idx, off, kw = args
    kw = dict(kw)
    # PyTorch's sum/mean kernels word an index out of range in two ways (which one varies)
    text = not (isinstance(idx, list) and idx == [1, 2, 7] and kw.get("mode") != "max")
    n, pdt = kw.pop("psw", None), kw.pop("psw_dtype", "float32")

    def call(lib, fn):
        p = None if n is None else lib.ones(n, dtype=getattr(lib, pdt))
        o = None if off is None else lib.tensor(off)
        return fn(lib.tensor(idx), lib.zeros(5, 3), o, per_sample_weights=p, **kw)

    _raises(
        lambda: call(ndgrad, F.embedding_bag),
        lambda: call(torch, torch.nn.functional.embedding_bag),
        text,
    )
    _raises(
        lambda: F.embedding_bag(ndgrad.tensor([1]), ndgrad.zeros(5), ndgrad.tensor([0])),
        lambda: torch.nn.functional.embedding_bag(
            torch.tensor([1]), torch.zeros(5), torch.tensor([0])
        ),
    )


def test_swapped_arguments_warn_as_torch():
    w = np.arange(6.0, dtype=np.float32).reshape(3, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        oa = F.embedding_bag(ndgrad.tensor(w), ndgrad.tensor([[0, 2]]))
    assert "Argument order of nn.functional.embedding_bag was changed" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ob = torch.nn.functional.embedding_bag(torch.tensor(w), torch.tensor([[0, 2]]))
    assert_close(oa, ob)


def test_module_repr_state_dict_init_and_forward():
    for kw in (
        {},
        {"mode": "sum", "padding_idx": -2},
        {"max_norm": 2.0, "norm_type": 1.0, "scale_grad_by_freq": True, "mode": "max"},
        {"sparse": True, "include_last_offset": True, "padding_idx": 0},
    ):
        kw_t = dict(kw)
        if kw_t.get("mode") == "max":
            kw_t["scale_grad_by_freq"] = True
        a, b = nn.EmbeddingBag(7, 3, **kw), torch.nn.EmbeddingBag(7, 3, **kw_t)
        assert repr(a) == repr(b)
        assert list(a.state_dict()) == list(b.state_dict())
        assert a.padding_idx == b.padding_idx
        if a.padding_idx is not None:
            np.testing.assert_array_equal(a.weight.detach().numpy()[a.padding_idx], 0)
    ndgrad.manual_seed(0)
    big = nn.EmbeddingBag(400, 50).weight.detach().numpy()
    assert abs(big.mean()) < 0.02 and abs(big.std() - 1) < 0.02
    a = nn.EmbeddingBag(7, 3, mode="sum")
    b = torch.nn.EmbeddingBag(7, 3, mode="sum")
    b.load_state_dict({"weight": torch.tensor(a.weight.detach().numpy())})
    p = np.linspace(-1, 1, 5).astype(np.float32)
    oa = a(ndgrad.tensor([1, 2, 6, 0, 2]), ndgrad.tensor([0, 2]), ndgrad.tensor(p))
    ob = b(torch.tensor([1, 2, 6, 0, 2]), torch.tensor([0, 2]), torch.tensor(p))
    assert_close(oa, ob)
    with pytest.raises(AssertionError, match="padding_idx must be within num_embeddings"):
        nn.EmbeddingBag(3, 2, padding_idx=3)


def test_from_pretrained():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    a = nn.EmbeddingBag.from_pretrained(ndgrad.tensor(w), mode="max", padding_idx=1)
    b = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), mode="max", padding_idx=1)
    assert not a.weight.requires_grad and repr(a) == repr(b)
    assert_close(a(ndgrad.tensor([[0, 1], [1, 1]])), b(torch.tensor([[0, 1], [1, 1]])))
    assert nn.EmbeddingBag.from_pretrained(ndgrad.tensor(w), freeze=False).weight.requires_grad
    with pytest.raises(
        AssertionError, match="Embeddings parameter is expected to be 2-dimensional"
    ):
        nn.EmbeddingBag.from_pretrained(ndgrad.zeros(3))
