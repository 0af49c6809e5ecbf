"""The 3-D and circular padding layers, negative pads, the dropout variants and the fixed-mode
upsampling layers against torch 2.13: values, gradients, grad_fn names, errors, warnings and
reprs; training-mode dropout by its statistics (not torch's random stream)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as F
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck

from ._pool_helpers import compare

PAD_MODULES = [
    ("ZeroPad1d", (2,), (2, 3, 5)),
    ("ZeroPad1d", ((1, -2),), (3, 5)),
    ("ZeroPad3d", (1,), (2, 2, 3, 4, 5)),
    ("ZeroPad3d", ((1, 0, -1, 2, 0, 1),), (2, 3, 4, 5)),
    ("ConstantPad3d", ((1, 2, 0, 1, 2, 0), 3.5), (2, 2, 3, 4, 5)),
    ("ReflectionPad3d", (1,), (2, 2, 3, 4, 5)),
    ("ReflectionPad3d", ((2, 0, 1, 3, 0, 1),), (2, 3, 4, 5)),
    ("ReplicationPad3d", ((1, 0, 2, 1, 0, 3),), (2, 2, 3, 4, 5)),
    ("ReplicationPad3d", (2,), (2, 3, 4, 5)),
    ("CircularPad1d", (2,), (2, 3, 5)),
    ("CircularPad1d", ((3, 1),), (3, 5)),
    ("CircularPad2d", ((1, 0, 2, 1),), (2, 3, 4, 5)),
    ("CircularPad2d", (2,), (3, 4, 5)),
    ("CircularPad3d", (1,), (2, 2, 3, 4, 5)),
    ("CircularPad3d", ((0, 2, 1, 0, 3, 1),), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "args", "shape"), PAD_MODULES, ids=str)
def test_padding_modules_match_torch(name, args, shape, dtype):
    ours, ref = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(ref)
    assert ours.padding == ref.padding
    assert list(ours.state_dict()) == list(ref.state_dict()) == []
    compare(ours, ref, shape, dtype)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    ("pad", "shape"),
    [
        ((-1, 2), (2, 3, 5)),
        ((2, -1), (3, 5)),
        ((-1, -2), (2, 3, 5)),
        ((-1, 2, 1, -2), (2, 3, 4, 5)),
        ((2, -1, -1, 1, 1, -2), (2, 3, 4, 5)),
        ((1, 2, 3, 1, 2, 1), (2, 1, 4, 4, 4)),
    ],
    ids=str,
)
def test_negative_and_3d_pads_match_torch(pad, shape, mode):
    """Negative pads crop; circular wraps what is left (PyTorch copies from the output)."""
    compare(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), shape)


def test_3d_pads_second_order():
    x = ndgrad.tensor(np.random.default_rng(0).normal(size=(1, 2, 3, 3, 4)), requires_grad=True)
    for mode in ("reflect", "replicate", "circular"):
        fn = lambda t: F.pad(t, (1, -1, 2, 1, 1, 0), mode=mode) ** 2  # noqa: B023, E731
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


def _outcome(fn):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn()
    except Exception as exc:  # noqa: BLE001 - the reference outcome, whatever it is
        return type(exc), str(exc)
    return "ok", tuple(out.shape), [str(w.message) for w in caught]


PAD_ERRORS = [
    ((2, 3, 3, 3), (3, 3, 0, 0, 0, 0), "reflect"),
    ((2, 3, 3, 3), (0, 0, 3, 3, 0, 0), "reflect"),
    ((2, 3, 3, 3), (0, 0, 0, 0, 3, 3), "reflect"),
    ((2, 3, 3), (0, 0, 3, 3), "reflect"),
    ((2, 3, 3), (3, -2), "reflect"),
    ((2, 0, 3), (1, 1), "reflect"),
    ((0, 3), (1, 1), "replicate"),
    ((3, 0, 3), (1, 1, 1, 1), "replicate"),
    ((0, 3, 3, 3), (1, 1, 1, 1, 1, 1), "reflect"),
    ((0, 3, 3, 3, 3), (1, 1, 1, 1, 1, 1), "replicate"),
    ((2, 3, 3), (-2, -1), "reflect"),
    ((2, 3, 3), (-4, 1), "replicate"),
    ((2, 3, 3, 3), (-2, -2, -2, -2), "reflect"),
    ((2, 3, 3, 3), (-2, -1, -2, -2), "replicate"),
    ((2, 3, 3, 3), (0, 0, -2, -1), "replicate"),
    ((2, 3, 3, 3, 3), (-2, -1, -2, -1, -2, -1), "reflect"),
    ((2, 3, 3, 3, 3), (0, 0, 0, 0, -3, 0), "replicate"),
    ((2, 3, 3), (4, 1), "circular"),
    ((2, 3, 0), (1, 1), "circular"),
    ((2, 0, 3), (1, 1), "circular"),
    ((2, 3, 3), (-2, -2), "circular"),
    ((2, 3, 3), (-2, -1), "circular"),
    ((4, 4, 4), (1, 1, 1, 1, 1, 1), "reflect"),
    ((2, 3), (1, 1, 1, 1, 1, 1), "replicate"),
]


@pytest.mark.parametrize(("shape", "pad", "mode"), PAD_ERRORS, ids=str)
def test_pad_checks_match_torch(shape, pad, mode):
    a = np.ones(shape)
    ref = _outcome(lambda: TF.pad(torch.tensor(a), pad, mode))
    assert _outcome(lambda: F.pad(ndgrad.tensor(a), pad, mode)) == ref


def test_circular_pad_modules_check_rank_like_torch():
    for name, shape in (
        ("CircularPad1d", (4,)),
        ("CircularPad2d", (4, 4)),
        ("CircularPad3d", (4,) * 3),
    ):
        a = np.ones(shape)
        ref = _outcome(lambda: getattr(torch.nn, name)(1)(torch.tensor(a)))  # noqa: B023
        assert ref[0] is ValueError
        assert _outcome(lambda: getattr(nn, name)(1)(ndgrad.tensor(a))) == ref  # noqa: B023


# ----------------------------------------------------------------------------- dropout
DROPOUTS = ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]
SHAPES = [(), (5,), (3, 5), (2, 3, 5), (2, 3, 4, 5), (2, 3, 2, 2, 3), (1, 2, 3, 1, 2, 2)]


@pytest.mark.parametrize("name", DROPOUTS)
def test_dropout_shapes_warnings_and_errors_match_torch(name):
    """Per rank: torch's result shape, warnings or exception, for p in {0, 0.3, 1}, both modes
    and in place; eval mode (and p=0) give the input's values back."""
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        a = np.asarray(rng.normal(size=shape), dtype=np.float32)
        for p in (0.0, 0.3, 1.0):
            for training in (True, False):
                for inplace in (False, True):
                    ref = _outcome(
                        lambda: getattr(TF, name)(torch.tensor(a) * 1, p, training, inplace)  # noqa: B023
                    )
                    out = _outcome(
                        lambda: getattr(F, name)(ndgrad.tensor(a) * 1, p, training, inplace)  # noqa: B023
                    )
                    assert out == ref, (shape, p, training, inplace)
                    if ref[0] == "ok" and (not training or p == 0.0):
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            y = getattr(F, name)(ndgrad.tensor(a), p, training, inplace)
                        np.testing.assert_array_equal(y.numpy(), a)
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        getattr(F, name)(ndgrad.ones(2, 3, 4), 1.5)
    ints = ndgrad.ones(2, 3, 4, dtype=ndgrad.int64)
    ref = _outcome(lambda: getattr(TF, name)(torch.ones(2, 3, 4, dtype=torch.int64), 0.5, True))
    assert _outcome(lambda: getattr(F, name)(ints, 0.5, True)) == ref


def test_channel_dropout_statistics_and_gradient():
    ndgrad.manual_seed(0)
    for fn, shape in ((F.dropout1d, (400, 50, 3)), (F.dropout3d, (400, 50, 2, 1, 2))):
        x = ndgrad.ones(*shape, requires_grad=True)
        y = fn(x, 0.3)
        planes = y.detach().numpy().reshape(400, 50, -1)
        assert np.all(planes.min(-1) == planes.max(-1))  # whole channels kept or dropped
        assert set(np.unique(planes)) <= {0.0, np.float32(1 / 0.7)}
        assert abs((planes[..., 0] == 0).mean() - 0.3) < 0.02
        y.backward(ndgrad.ones_like(y))
        np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # d y / d x = mask
    unbatched = F.dropout1d(ndgrad.ones(300, 4), 0.5).numpy()  # (C, L): channels are rows
    assert np.all(unbatched.min(1) == unbatched.max(1))
    x = ndgrad.ones(300, 4)
    assert F.dropout1d(x, 0.5, inplace=True) is x and x.shape == (300, 4)
    assert np.all(x.numpy().min(1) == x.numpy().max(1))


def test_alpha_dropout_statistics_and_values():
    ndgrad.manual_seed(0)
    p, alpha = 0.2, 1.7580993408473766
    a = 1 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    b = alpha * a * p
    x = ndgrad.randn(400, 250, dtype=ndgrad.float64)
    y = F.alpha_dropout(x, p, True).numpy()
    kept = np.isclose(y, a * x.numpy() + b, rtol=0, atol=1e-12)
    dropped = np.isclose(y, -alpha * a + b, rtol=0, atol=1e-12)
    assert np.all(kept | dropped)
    assert abs(dropped.mean() - p) < 0.01
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01  # SELU's fixed point kept
    f = F.feature_alpha_dropout(ndgrad.randn(500, 40, 20), p, True).numpy()
    assert abs(f.mean()) < 0.02 and abs(f.std() - 1) < 0.02
    gone = np.isclose(f, np.float32(-alpha * a + b), atol=1e-6).all(-1)
    assert abs(gone.mean() - p) < 0.02  # whole channels are set to the saturation value
    x = ndgrad.randn(30, 20, requires_grad=True)
    y = F.alpha_dropout(x, 0.5, True)
    y.sum().backward()
    scale = np.float32(1 / np.sqrt((alpha**2 * 0.5 + 1) * 0.5))
    np.testing.assert_allclose(np.unique(x.grad.numpy()), [0.0, scale], rtol=1e-6)
    assert F.alpha_dropout(x, 0.5) is x  # training defaults to False


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("Dropout1d", (0.2, True)),
        ("Dropout3d", ()),
        ("AlphaDropout", (0.1,)),
        ("FeatureAlphaDropout", ()),
    ],
)
def test_dropout_modules_match_torch(name, args):
    ours, ref = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(ref)
    assert (ours.p, ours.inplace) == (ref.p, ref.inplace)
    assert list(ours.state_dict()) == list(ref.state_dict()) == []
    x = ndgrad.randn(4, 5, 20) if name == "Dropout1d" else ndgrad.randn(4, 5, 2, 3, 4)
    ours.eval()
    np.testing.assert_array_equal(ours(x).numpy(), x.numpy())
    ours.train()
    before = x.numpy().copy()
    y = ours(x)
    assert y.shape == x.shape and not np.array_equal(y.numpy(), before)
    assert (y is x) == ours.inplace
    for bad in (-0.1, 2):
        with pytest.raises(ValueError, match=f"but got {bad}"):
            getattr(nn, name)(bad)
    assert not isinstance(ours, nn.Dropout) and not isinstance(ref, torch.nn.Dropout)


# ----------------------------------------------------------------------------- upsampling
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_upsampling_modules_match_torch(dtype):
    for name, kw in (
        ("UpsamplingNearest2d", {"scale_factor": 2}),
        ("UpsamplingNearest2d", {"size": (5, 7)}),
        ("UpsamplingBilinear2d", {"scale_factor": 2}),
        ("UpsamplingBilinear2d", {"size": (5, 7)}),
        ("UpsamplingBilinear2d", {"scale_factor": (1.5, 2)}),
    ):
        ours, ref = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(ours) == repr(ref)
        assert (ours.mode, ours.align_corners) == (ref.mode, ref.align_corners)
        compare(ours, ref, (2, 3, 4, 5), dtype)
    a = np.ones((1, 2, 3))
    ref = _outcome(lambda: torch.nn.UpsamplingBilinear2d(scale_factor=2)(torch.tensor(a)))
    assert _outcome(lambda: nn.UpsamplingBilinear2d(scale_factor=2)(ndgrad.tensor(a))) == ref


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("upsample", {"scale_factor": 2}),
        ("upsample", {"size": (5, 6), "mode": "bilinear", "align_corners": False}),
        ("upsample_nearest", {"scale_factor": 3}),
        ("upsample_bilinear", {"size": (6, 4)}),
    ],
)
def test_deprecated_upsample_functions_match_torch(name, kw):
    a = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated"):
        out = getattr(F, name)(ndgrad.tensor(a), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(TF, name)(torch.tensor(a), **kw)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), 1e-12, 1e-12)


@pytest.mark.parametrize("p", [0.04, 0.3, 0.42])
def test_kept_values_scaled_as_torch(p):
    """ATen divides the noise by (1 - p) in the tensor's dtype: kept values equal torch's to
    the bit (1 / (1 - p) rounded once in float64 is an ulp off for these p)."""
    x = ndgrad.randn(64, 32, 5)
    scale = torch.ones(1).div_(1 - p)
    for fn in (F.dropout, F.dropout1d, F.dropout3d):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dropout3d's rank warning
            y = fn(x, p).numpy()
        kept = y != 0
        np.testing.assert_array_equal(y[kept], (torch.tensor(x.numpy()) * scale).numpy()[kept])
