"""The Winograd kernels of stride-1 3x3 convolutions (ops/namespace.py ``Wino``): the
transform programs against their matrices, forward / input gradient / weight gradient against
torch on odd sizes, finite differences to second order, and which convolutions take them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad.autograd.gradcheck import gradcheck, gradgradcheck
from ndgrad.nn import functional as F
from ndgrad.ops import namespace as NS

RNG = np.random.default_rng(23)


@pytest.fixture
def calls(monkeypatch):
    """Counts the Winograd kernels' calls (each builds its ``_Tiles``)."""
    count = [0]
    tiles = NS._tiles

    def counting(*args):
        count[0] += 1
        return tiles(*args)

    monkeypatch.setattr(NS, "_tiles", counting)
    return count


@pytest.fixture(params=[2, 4], ids=["F2", "F4"])
def wino(request, monkeypatch, calls):
    """Every stride-1 3x3 one-group convolution on the Winograd kernels, tile m, with small
    chunks and blocks (several per call, the last ones partial)."""
    monkeypatch.setattr(NS, "_WINO_TILE", request.param)
    monkeypatch.setattr(NS, "_WINO_MIN_CHANNELS", 1)
    monkeypatch.setattr(NS, "_WINO_MAX_PAIRS", 1 << 30)
    monkeypatch.setattr(NS, "_WINO_MIN_SIDE", 1)
    monkeypatch.setattr(NS, "_WINO_PHASE_BYTES", 1 << 10)
    monkeypatch.setattr(NS, "_WINO_BLOCK_BYTES", 1 << 10)
    return calls


@pytest.mark.parametrize("m", [2, 4])
def test_transform_programs_match_their_matrices(m):
    bt, at, a_ = NS._WINO_PROGRAMS[m]
    mats = [np.array(NS._WINO_BT[m]), np.array(NS._WINO_AT[m]), np.array(NS._WINO_AT[m]).T]
    for program, mat in zip((bt, at, a_), mats, strict=True):
        v = RNG.standard_normal((mat.shape[1], 3, 5))
        o = np.full((mat.shape[0], 3, 5), np.nan)
        t = [np.full((3, 5), np.nan) for _ in range(2)]
        program(list(v), list(o), t)
        np.testing.assert_allclose(o, np.einsum("kj,jab->kab", mat, v), atol=1e-12)
    # A^T [(G w G^T) * (B^T d B)] A is the 3x3 correlation of a tile d with w
    g, b_t, a_t = (np.array(t[m]) for t in (NS._WINO_G, NS._WINO_BT, NS._WINO_AT))
    d, w = RNG.standard_normal((m + 2, m + 2)), RNG.standard_normal((3, 3))
    y = a_t @ ((g @ w @ g.T) * (b_t @ d @ b_t.T)) @ a_t.T
    direct = [[(d[i : i + 3, j : j + 3] * w).sum() for j in range(m)] for i in range(m)]
    np.testing.assert_allclose(y, direct, atol=1e-12)


# (batch, in_ch, spatial, out_ch, padding): H, W not multiples of the tile, 1x1, batch 1
CASES = [
    (2, 5, (9, 7), 6, 1),
    (3, 4, (8, 8), 3, 0),
    (1, 4, (5, 6), 5, 2),
    (2, 3, (1, 1), 4, 1),
    (1, 3, (4, 11), 2, (1, 2)),
    (2, 3, (6, 5), 3, "same"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(wino, case, dtype):
    n, c, spatial, o, padding = case
    x = RNG.standard_normal((n, c) + spatial).astype(dtype)
    w = RNG.standard_normal((o, c, 3, 3)).astype(dtype)
    b = RNG.standard_normal(o).astype(dtype)
    tol = dict(atol=1e-4, rtol=1e-4) if dtype == np.float32 else dict(atol=1e-10, rtol=1e-10)
    nds = [ndgrad.tensor(a, requires_grad=True) for a in (x, w, b)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y, yt = F.conv2d(*nds, padding=padding), TF.conv2d(*ts, padding=padding)
    assert_close(y, yt, **tol)
    g = RNG.standard_normal(tuple(yt.shape)).astype(dtype)
    y.backward(ndgrad.tensor(g))
    yt.backward(torch.tensor(g))
    for a, at in zip(nds, ts, strict=True):
        assert_close(a.grad, at.grad, **tol)
    # forward, weight gradient, and the input gradient where it is the flipped kernel's
    # forward (O <= C; else col2im)
    assert wino[0] == (3 if o <= c else 2)


def test_first_and_second_order(wino):
    arrays = [RNG.standard_normal(s) for s in ((2, 2, 5, 4), (3, 2, 3, 3), (3,))]
    inputs = [ndgrad.tensor(a, requires_grad=True) for a in arrays]

    def f(x, w, b):
        return F.conv2d(x, w, b, padding=1)

    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)
    assert wino[0] > 0


def test_products_of_whole_blocks(wino, monkeypatch):
    # with more channel pairs than a 64-column product keeps on one BLAS thread
    monkeypatch.setattr(NS._parallel, "_BLAS_ONE_THREAD", 1)
    x = RNG.standard_normal((3, 5, 9, 7))
    w = RNG.standard_normal((4, 5, 3, 3))
    xn, wn = (ndgrad.tensor(a, requires_grad=True) for a in (x, w))
    xt, wt = (torch.tensor(a, requires_grad=True) for a in (x, w))
    (F.conv2d(xn, wn, padding=1) ** 2).sum().backward()
    (TF.conv2d(xt, wt, padding=1) ** 2).sum().backward()
    assert_close(xn.grad, xt.grad, atol=1e-10, rtol=1e-10)
    assert_close(wn.grad, wt.grad, atol=1e-10, rtol=1e-10)
    assert wino[0] == 3


def test_non_finite_input_as_torch(wino):
    # The transforms spread an inf over its tile as nan; such results take the im2col kernel.
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    x[0, 1, 2, 3], x[1, 0, 0, 0] = np.inf, np.nan
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = F.conv2d(ndgrad.tensor(x), ndgrad.tensor(w), padding=1).numpy()
    yt = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(yt))
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(yt))
    np.testing.assert_allclose(y[np.isfinite(yt)], yt[np.isfinite(yt)], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "x_shape, w_shape, kw, used",
    [
        ((2, 64, 9, 8), (64, 64, 3, 3), dict(padding=1), True),  # W8's block, smaller
        ((2, 64, 7, 7), (64, 64, 3, 3), dict(padding=0), False),  # 5x5 outputs, 7x7 input
        ((2, 32, 9, 9), (32, 32, 3, 3), dict(padding=1), False),  # few channels
        ((2, 64, 9, 9), (128, 64, 3, 3), dict(padding=1), False),  # BLAS-threaded products
        ((2, 64, 9, 9), (64, 32, 3, 3), dict(padding=1, groups=2), False),
        ((2, 64, 9, 9), (64, 64, 3, 3), dict(padding=2, dilation=2), False),
        ((2, 64, 9, 9), (64, 64, 3, 3), dict(padding=1, stride=2), False),
        ((2, 64, 9, 9), (64, 64, 5, 5), dict(padding=2), False),
    ],
)
def test_which_convolutions_take_it(calls, x_shape, w_shape, kw, used):
    x = ndgrad.tensor(RNG.standard_normal(x_shape).astype(np.float32), requires_grad=True)
    w = ndgrad.tensor(RNG.standard_normal(w_shape).astype(np.float32), requires_grad=True)
    F.conv2d(x, w, **kw).sum().backward()
    assert (calls[0] == 3) if used else (calls[0] == 0)


def test_results_survive_the_next_call(calls):
    # The kernels' workspaces are reused between calls; results are fresh arrays.
    xs = [RNG.standard_normal((2, 64, 9, 9)).astype(np.float32) for _ in range(2)]
    w = ndgrad.tensor(RNG.standard_normal((64, 64, 3, 3)).astype(np.float32))
    y1 = F.conv2d(ndgrad.tensor(xs[0]), w, padding=1)
    kept = y1.numpy().copy()
    y2 = F.conv2d(ndgrad.tensor(xs[1]), w, padding=1)
    np.testing.assert_array_equal(y1.numpy(), kept)
    assert not np.shares_memory(y1.numpy(), y2.numpy()) and calls[0] == 2
