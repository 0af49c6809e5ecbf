"""Convolution (issue 11): F.conv1d/conv2d/conv_transpose1d/2d/unfold/fold and the Conv layers,
against torch (values and gradients), by finite differences to second order, errors, modules."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.nn._helpers import assert_close, to_nd

import ndgrad
from ndgrad.autograd.gradcheck import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

RNG = np.random.default_rng(11)

# (batch, in_ch, spatial, out_ch, kernel, stride, padding, dilation, groups)
CONV2D = [
    (2, 4, (7, 6), 6, (3, 3), 1, 0, 1, 1),
    (2, 4, (7, 6), 6, (3, 3), 2, 1, 1, 2),
    (1, 3, (9, 8), 5, (3, 2), (2, 3), (1, 2), (2, 1), 1),
    (3, 6, (5, 5), 6, (2, 2), 1, "same", 2, 3),
    (2, 2, (6, 7), 4, (4, 3), 1, "same", 1, 1),
    (2, 3, (5, 6), 2, (3, 3), 1, "valid", 1, 1),
    (0, 2, (5, 5), 2, (3, 3), 1, 1, 1, 1),
    (None, 3, (6, 5), 4, (3, 3), 2, 1, 1, 1),
    (3, 6, (14, 14), 16, (5, 5), 1, 0, 1, 1),  # LeNet's conv2: the banded grid, col2im
]
CONV1D = [
    (2, 4, (9,), 6, (3,), 1, 0, 1, 1),
    (1, 4, (10,), 2, (4,), 3, 2, 2, 2),
    (2, 3, (8,), 3, (4,), 1, "same", 1, 1),
    (None, 2, (7,), 3, (3,), 1, 1, 1, 1),
    (0, 2, (7,), 3, (3,), 1, 1, 1, 1),
]


def _arrays(case, dtype, bias=True):
    n, c, spatial, o, k, _, _, _, groups = case
    shape = ((n,) if n is not None else ()) + (c,) + spatial
    x = RNG.standard_normal(shape).astype(dtype)
    w = RNG.standard_normal((o, c // groups) + k).astype(dtype)
    b = RNG.standard_normal(o).astype(dtype) if bias else None
    return x, w, b


def _compare(nd_fn, torch_fn, arrays, dtype):
    tol = dict(atol=1e-4, rtol=1e-4) if dtype == np.float32 else dict(atol=1e-10, rtol=1e-10)
    nds = [ndgrad.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    y, yt = nd_fn(*nds), torch_fn(*ts)
    assert_close(y, yt, **tol)
    assert y.dtype == ndgrad.float32 if dtype == np.float32 else ndgrad.float64
    g = RNG.standard_normal(tuple(yt.shape)).astype(dtype)
    y.backward(ndgrad.tensor(g))
    yt.backward(torch.tensor(g))
    for a, at in zip(nds, ts):
        if a is not None:
            assert_close(a.grad, at.grad, **tol)
    if y.requires_grad:
        assert y.grad_fn.name() == yt.grad_fn.name()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV2D + CONV1D, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_matches_torch(case, dtype, bias):
    stride, padding, dilation, groups = case[5:]
    nd_f, t_f = (F.conv2d, TF.conv2d) if len(case[2]) == 2 else (F.conv1d, TF.conv1d)
    _compare(
        lambda x, w, b: nd_f(x, w, b, stride, padding, dilation, groups),
        lambda x, w, b: t_f(x, w, b, stride, padding, dilation, groups),
        _arrays(case, dtype, bias),
        dtype,
    )


# (batch, in_ch, spatial, out_ch_per_group, kernel, stride, padding, output_padding, groups, dil)
TRANSPOSE = [
    (2, 4, (4, 5), 3, (3, 3), 1, 0, 0, 1, 1),
    (2, 4, (4, 5), 3, (3, 2), (2, 3), (1, 0), (1, 2), 2, 1),
    (1, 2, (3, 3), 2, (3, 3), 2, 1, 1, 1, 2),
    (None, 2, (3, 4), 2, (2, 2), 2, 0, 0, 1, 1),
    (0, 2, (3, 4), 2, (2, 2), 2, 0, 0, 1, 1),
    (2, 4, (6,), 3, (3,), 2, 1, 1, 2, 1),
    (None, 2, (5,), 3, (4,), 3, 2, 0, 1, 2),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TRANSPOSE, ids=str)
def test_conv_transpose_matches_torch(case, dtype):
    n, c, spatial, og, k, stride, padding, out_pad, groups, dil = case
    x = RNG.standard_normal(((n,) if n is not None else ()) + (c,) + spatial).astype(dtype)
    w = RNG.standard_normal((c, og) + k).astype(dtype)
    b = RNG.standard_normal(og * groups).astype(dtype)
    nd_f, t_f = (
        (F.conv_transpose2d, TF.conv_transpose2d)
        if len(spatial) == 2
        else (F.conv_transpose1d, TF.conv_transpose1d)
    )
    _compare(
        lambda x, w, b: nd_f(x, w, b, stride, padding, out_pad, groups, dil),
        lambda x, w, b: t_f(x, w, b, stride, padding, out_pad, groups, dil),
        (x, w, b),
        dtype,
    )


@pytest.mark.parametrize(
    "shape, kernel, dilation, padding, stride",
    [
        ((2, 3, 5, 6), 2, 1, 0, 1),
        ((1, 2, 7, 6), (3, 2), (2, 1), (1, 2), (2, 3)),
        ((3, 5, 5), 3, 1, 1, 2),
        ((0, 2, 4, 4), 2, 1, 0, 1),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unfold_fold_match_torch(shape, kernel, dilation, padding, stride, dtype):
    x = RNG.standard_normal(shape).astype(dtype)
    _compare(
        lambda x: F.unfold(x, kernel, dilation, padding, stride),
        lambda x: TF.unfold(x, kernel, dilation, padding, stride),
        (x,),
        dtype,
    )
    cols = TF.unfold(torch.tensor(x), kernel, dilation, padding, stride).numpy()
    _compare(
        lambda c: F.fold(c, shape[-2:], kernel, dilation, padding, stride),
        lambda c: TF.fold(c, shape[-2:], kernel, dilation, padding, stride),
        (cols,),
        dtype,
    )


# ----------------------------------------------------------------------------- finite differences
SMALL = [
    ("conv2d", (1, 2, (4, 5), 2, (2, 3), 1, 0, 1, 1)),
    ("conv2d", (2, 4, (5, 4), 2, (2, 2), (2, 1), (1, 0), (1, 2), 2)),
    ("conv2d", (1, 2, (4, 4), 2, (2, 2), 1, "same", 1, 1)),
    ("conv1d", (2, 2, (6,), 4, (3,), 2, 1, 2, 2)),
    # banded grids (most first-dim rows unused): the row lowering, col2im and flipped kernel
    ("conv2d", (2, 2, (7, 6), 3, (5, 3), 1, 0, 1, 1)),
    ("conv2d", (1, 3, (5, 5), 2, (4, 3), 1, 1, 1, 1)),
]


@pytest.mark.parametrize("name, case", SMALL, ids=str)
def test_conv_first_and_second_order(name, case):
    stride, padding, dilation, groups = case[5:]
    arrays = _arrays(case, np.float64)
    inputs = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    fn = getattr(F, name)

    def f(x, w, b):
        return fn(x, w, b, stride, padding, dilation, groups)

    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


@pytest.mark.parametrize(
    "name, x_shape, w_shape, kw",
    [
        ("conv_transpose2d", (1, 2, 3, 3), (2, 2, 2, 2), dict(stride=2, output_padding=1)),
        ("conv_transpose2d", (2, 4, 2, 3), (4, 1, 2, 2), dict(groups=2, padding=1, dilation=2)),
        ("conv_transpose1d", (2, 2, 4), (2, 3, 3), dict(stride=2, padding=1)),
    ],
)
def test_conv_transpose_first_and_second_order(name, x_shape, w_shape, kw):
    arrays = [RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)]
    arrays.append(RNG.standard_normal(w_shape[1] * kw.get("groups", 1)))
    inputs = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    fn = getattr(F, name)

    def f(x, w, b):
        return fn(x, w, b, **kw)

    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


def test_unfold_fold_second_order():
    x = ndgrad.tensor(RNG.standard_normal((1, 2, 4, 3)), requires_grad=True)
    assert gradgradcheck(lambda x: F.unfold(x, 2, padding=1, stride=(1, 2)) ** 2, [x])
    c = ndgrad.tensor(RNG.standard_normal((1, 8, 6)), requires_grad=True)
    assert gradgradcheck(lambda c: F.fold(c, (3, 4), 2) ** 2, [c])


def test_second_order_matches_torch():
    x, w, b = _arrays((2, 4, (6, 5), 4, (3, 3), 2, 1, 1, 2), np.float64)
    xn, wn = (ndgrad.tensor(a, requires_grad=True) for a in (x, w))
    xt, wt = (torch.tensor(a, requires_grad=True) for a in (x, w))
    outs = []
    for lib, f, xx, ww in ((ndgrad, F.conv2d, xn, wn), (torch, TF.conv2d, xt, wt)):
        y = f(xx, ww, None, 2, 1, 1, 2)
        gx, gw = lib.autograd.grad((y**2).sum(), (xx, ww), create_graph=True)
        ((gx**2).sum() + (gw * ww).sum()).backward()
        outs.append((xx.grad, ww.grad))
    assert_close(outs[0][0], outs[1][0], atol=1e-9)
    assert_close(outs[0][1], outs[1][1], atol=1e-9)


# ----------------------------------------------------------------------------- errors
def _t(*shape):
    return ndgrad.randn(*shape)


ERRORS = [
    (
        lambda: F.conv2d(_t(1, 3, 28, 28), _t(6, 1, 5, 5)),
        "Given groups=1, weight of size [6, 1, 5, 5], expected input[1, 3, 28, 28] to have 1 "
        "channels, but got 3 channels instead",
    ),
    (
        lambda: F.conv2d(_t(1, 3, 2, 2), _t(6, 3, 5, 5)),
        "Calculated padded input size per channel: (2 x 2). Kernel size: (5 x 5). Kernel size "
        "can't be greater than actual input size",
    ),
    (
        lambda: F.conv2d(_t(28, 28), _t(6, 3, 5, 5)),
        "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [28, 28]",
    ),
    (
        lambda: F.conv2d(_t(1, 3, 28, 28), _t(5, 1, 5, 5), groups=3),
        "Given groups=3, expected weight to be divisible by 3 at dimension 0, but got weight of "
        "size [[5, 1, 5, 5]] instead",
    ),
    (
        lambda: F.conv2d(_t(1, 3, 28, 28), _t(6, 1, 5, 5), groups=2),
        "Given groups=2, weight of size [6, 1, 5, 5], expected input[1, 3, 28, 28] to have 2 "
        "channels, but got 3 channels instead",
    ),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), groups=0), "non-positive groups"),
    (
        lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), stride=2, padding="same"),
        "padding='same' is not supported for strided convolutions",
    ),
    (
        lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), padding="foo"),
        "Invalid padding string: 'foo'",
    ),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), padding=-1), "negative padding"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), stride=0), "non-positive stride"),
    (
        lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), bias=_t(5)),
        "Given weight of size [6, 3, 3, 3], expected bias to be 1-dimensional with 6 elements, "
        "but got bias of size [5] instead",
    ),
    (
        lambda: F.conv2d(_t(1, 3, 8, 8).double(), _t(6, 3, 3, 3)),
        "expected scalar type Double but found Float",
    ),
    (
        lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), stride=(1, 1, 1)),
        "expected stride to be a single integer value or a list of 2 values to match the "
        "convolution dimensions, but got stride=[1, 1, 1]",
    ),
    (
        lambda: F.conv1d(_t(1, 3, 2), _t(6, 3, 5)),
        "Calculated padded input size per channel: (2). Kernel size: (5).",
    ),
    (
        lambda: F.conv_transpose2d(_t(1, 3, 8, 8), _t(6, 3, 5, 5)),
        "Given transposed=1, weight of size [6, 3, 5, 5], expected input[1, 3, 8, 8] to have 6 "
        "channels, but got 3 channels instead",
    ),
    (
        lambda: F.conv_transpose2d(_t(1, 3, 8, 8), _t(3, 3, 5, 5), stride=2, output_padding=2),
        "output padding must be smaller than either stride or dilation, but got "
        "output_padding_height: 2 output_padding_width: 2 stride_height: 2 stride_width: 2 "
        "dilation_height: 1 dilation_width: 1",
    ),
    (
        lambda: F.unfold(_t(1, 3, 4, 4), 5),
        "Given input with spatial size (4, 4), kernel_size=(5, 5), dilation=(1, 1), "
        "padding=(0, 0), calculated shape of the array of sliding blocks as (0, 0), but its "
        "components must be at least one.",
    ),
    (
        lambda: F.fold(_t(1, 13, 9), (4, 4), 2),
        "Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
        "but got input.size(1)=13 and kernel_size=(2, 2).",
    ),
    (
        lambda: F.fold(_t(1, 12, 8), (4, 4), 2),
        "expected size of input's dimension 2 to match the calculated number of sliding blocks "
        "3 * 3 = 9, but got input.size(2)=8.",
    ),
]


@pytest.mark.parametrize("fn, message", ERRORS, ids=lambda v: v if isinstance(v, str) else "")
def test_errors_as_torch(fn, message):
    with pytest.raises(RuntimeError, match=re.escape(message)):
        fn()


def test_torch_gives_the_same_errors():
    """The messages above are torch's own (checked on the same calls)."""
    torch_calls = {
        0: lambda: TF.conv2d(torch.randn(1, 3, 28, 28), torch.randn(6, 1, 5, 5)),
        2: lambda: TF.conv2d(torch.randn(28, 28), torch.randn(6, 3, 5, 5)),
        3: lambda: TF.conv2d(torch.randn(1, 3, 28, 28), torch.randn(5, 1, 5, 5), groups=3),
        10: lambda: TF.conv2d(torch.randn(1, 3, 8, 8), torch.randn(6, 3, 3, 3), torch.randn(5)),
    }
    for i, call in torch_calls.items():
        with pytest.raises(RuntimeError, match=re.escape(ERRORS[i][1])):
            call()


# ----------------------------------------------------------------------------- modules
MODULES = [
    ("Conv2d", (1, 6, 5), dict(padding=2)),
    ("Conv2d", (4, 6, (3, 5), 2, 1), dict(dilation=2, groups=2, bias=False)),
    ("Conv2d", (4, 6, 3), dict(padding="same", padding_mode="reflect")),
    ("Conv2d", (4, 6, 3), dict(padding="valid")),
    ("Conv2d", (4, 6, 3), dict(padding=(2, 1), padding_mode="circular")),
    ("Conv1d", (4, 6, 3), dict(padding="same", padding_mode="replicate")),
    ("Conv1d", (4, 6, 4), dict(stride=2)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, output_padding=1, groups=2)),
    ("ConvTranspose1d", (4, 6, 3), dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("name, args, kw", MODULES, ids=str)
def test_modules_match_torch(name, args, kw):
    m = getattr(ndgrad.nn, name)(*args, **kw, dtype=ndgrad.float64)
    mt = getattr(torch.nn, name)(*args, **kw).double()
    assert repr(m) == repr(mt)
    assert list(m.state_dict()) == list(mt.state_dict())
    mt.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    spatial = (9, 8) if name.endswith("2d") else (10,)
    x = RNG.standard_normal((2, args[0]) + spatial)
    xn, xt = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = m(xn), mt(xt)
    assert_close(y, yt, atol=1e-10)
    y.sum().backward()
    yt.sum().backward()
    assert_close(xn.grad, xt.grad, atol=1e-10)
    assert_close(m.weight.grad, mt.weight.grad, atol=1e-10)
    # unbatched
    assert_close(m(ndgrad.tensor(x[0])), mt(torch.tensor(x[0])), atol=1e-10)


def test_module_argument_errors():
    cases = [
        (dict(padding_mode="foo"), "padding_mode must be one of"),
        (dict(groups=3), "in_channels must be divisible by groups"),
        (dict(groups=4, out_channels=6), "out_channels must be divisible by groups"),
        (dict(groups=0), "groups must be a positive integer"),
        (dict(stride=2, padding="same"), "padding='same' is not supported"),
        (dict(padding="bar"), "Invalid padding string 'bar'"),
    ]
    for kw, msg in cases:
        full = dict(in_channels=4, out_channels=6, kernel_size=3) | kw
        for lib in (ndgrad, torch):
            with pytest.raises(ValueError, match=re.escape(msg)):
                lib.nn.Conv2d(**full)
    for lib in (ndgrad, torch):
        with pytest.raises(ValueError, match='Only "zeros" padding mode'):
            lib.nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect")


def test_default_init_statistics():
    ndgrad.manual_seed(0)
    m = ndgrad.nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)  # kaiming_uniform_(a=sqrt(5)) on fan_in = 144
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert abs(w.mean()) < 0.05 * bound
    assert m.weight.shape == (32, 16, 3, 3) and m.weight.dtype == ndgrad.float32
    t = ndgrad.nn.ConvTranspose2d(4, 6, 3, groups=2)
    assert t.weight.shape == (4, 3, 3, 3) and t.bias.shape == (6,)


def test_lazy_conv():
    for name, shape in (("LazyConv2d", (2, 5, 8, 8)), ("LazyConv1d", (5, 8))):
        m, mt = getattr(ndgrad.nn, name)(6, 3), getattr(torch.nn, name)(6, 3)
        assert repr(m) == repr(mt)
        y = m(ndgrad.randn(*shape))
        yt = mt(torch.randn(*shape))
        assert tuple(y.shape) == tuple(yt.shape)
        assert repr(m) == repr(mt) and type(m).__name__ == type(mt).__name__
        assert m.weight.shape == tuple(mt.weight.shape)


def test_lenet_layer_forward_backward_vs_torch():
    m = ndgrad.nn.Conv2d(1, 6, 5, padding=2)
    mt = torch.nn.Conv2d(1, 6, 5, padding=2)
    mt.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    x = RNG.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = F.relu(m(ndgrad.tensor(x)))
    yt = TF.relu(mt(torch.tensor(x)))
    assert_close(y, yt, atol=1e-5)
    assert y.grad_fn is not None
    y.sum().backward()
    yt.sum().backward()
    assert_close(m.weight.grad, mt.weight.grad, atol=1e-3, rtol=1e-4)
    assert_close(m.bias.grad, mt.bias.grad, atol=1e-3, rtol=1e-4)


def test_conv_grad_fn_names():
    x = ndgrad.randn(1, 2, 5, 5, requires_grad=True)
    assert F.conv2d(x, ndgrad.randn(3, 2, 3, 3)).grad_fn.name() == "ConvolutionBackward0"
    assert F.conv_transpose2d(x, ndgrad.randn(2, 3, 3, 3)).grad_fn.name() == "ConvolutionBackward0"
    assert F.unfold(x, 2).grad_fn.name() == "Im2ColBackward0"
    assert to_nd(torch.zeros(1)).shape == (1,)


# ----------------------------------------------------------------------------- scratch memory
LENET_CONVS = [((4, 1, 28, 28), (6, 1, 5, 5), 2), ((4, 6, 14, 14), (16, 6, 5, 5), 0)]


@pytest.mark.parametrize("x_shape, w_shape, pad", LENET_CONVS, ids=["conv1", "conv2"])
def test_results_survive_the_next_call(x_shape, w_shape, pad):
    # The kernels reuse scratch memory between calls: the first call's output, its gradients
    # and what backward saved must stay as they were while a second call runs on other data.
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in (x_shape, x_shape, w_shape)]
    x1, x2, w = (ndgrad.tensor(a, requires_grad=True) for a in arrays)
    y1 = F.conv2d(x1, w, None, padding=pad)
    kept = y1.detach().numpy().copy()
    y2 = F.conv2d(x2, w, None, padding=pad)
    np.testing.assert_array_equal(y1.detach().numpy(), kept)
    assert not np.shares_memory(y1.detach().numpy(), y2.detach().numpy())
    g1, g2 = (RNG.standard_normal(tuple(y1.shape)).astype(np.float32) for _ in range(2))
    gx1, gw1 = ndgrad.autograd.grad(y1, (x1, w), ndgrad.tensor(g1))
    first = (gx1.numpy().copy(), gw1.numpy().copy())
    gx2, gw2 = ndgrad.autograd.grad(y2, (x2, w), ndgrad.tensor(g2))
    np.testing.assert_array_equal(gx1.numpy(), first[0])
    np.testing.assert_array_equal(gw1.numpy(), first[1])
    for a in (gx1, gw1):
        assert not any(np.shares_memory(a.numpy(), b.detach().numpy()) for b in (gx2, gw2, y1, y2))
    for x, g, gx, gw in ((arrays[0], g1, gx1, gw1), (arrays[1], g2, gx2, gw2)):
        xt, wt = (torch.tensor(a, requires_grad=True) for a in (x, arrays[2]))
        TF.conv2d(xt, wt, None, padding=pad).backward(torch.tensor(g))
        assert_close(gx, xt.grad, atol=1e-4, rtol=1e-4)
        assert_close(gw, wt.grad, atol=1e-3, rtol=1e-4)


def test_scratch_hands_out_each_buffer_once():
    from ndgrad.ops.namespace import _Scratch

    scratch = _Scratch(np, keep=2)
    with scratch.scope() as take:
        a = take((3, 4), np.float32, zero=True)
        assert not a.any() and a.dtype == np.float32 and a.shape == (3, 4)
        with scratch.scope() as inner:
            b = inner((3, 4), np.float32)
            assert not np.shares_memory(a, b)
        a[...] = 1
        c = take((2, 2), np.float64)  # b's buffer is free again: reused, a's is not
        assert np.shares_memory(b, c) and not np.shares_memory(a, c)
    assert len(scratch.free) == 2  # kept between scopes, at most ``keep``
    with scratch.scope() as take:
        for _ in range(3):
            take((5,), np.float32)
    assert len(scratch.free) == 2
