"""3-D convolutions (``Conv3d``, ``ConvTranspose3d``, ``F.conv3d``, ``F.conv_transpose3d``) and
the lazy convolutions, against torch: values and every gradient in float64, finite
differences to second order, reprs, state_dict keys, lazy shapes and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close, copy_weights, to_nd

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

CONV3D = [
    dict(in_channels=2, out_channels=3, kernel_size=3),
    dict(in_channels=2, out_channels=4, kernel_size=(2, 3, 1), stride=(1, 2, 1), padding=1),
    dict(in_channels=4, out_channels=2, kernel_size=2, dilation=(2, 1, 1), groups=2, bias=False),
    dict(in_channels=2, out_channels=2, kernel_size=3, padding="same", padding_mode="reflect"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding=1, padding_mode="circular"),
]
TRANSPOSED3D = [
    dict(in_channels=2, out_channels=3, kernel_size=2, stride=2),
    dict(in_channels=4, out_channels=2, kernel_size=3, stride=(1, 2, 2), padding=1,
         output_padding=(0, 1, 1), groups=2),
]  # fmt: skip


def _pair(kind: str, kwargs: dict) -> tuple:
    ours = getattr(nn, kind)(**kwargs).double()
    ref = getattr(torch.nn, kind)(**kwargs).double()
    copy_weights(ours, ref)
    return ours, ref


@pytest.mark.parametrize(
    "kind,kwargs", [("Conv3d", k) for k in CONV3D] + [("ConvTranspose3d", k) for k in TRANSPOSED3D]
)
def test_3d_layers_match_torch_values_and_gradients(kind, kwargs):
    ours, ref = _pair(kind, kwargs)
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.randn(2, kwargs["in_channels"], 5, 6, 4, dtype=torch.float64)
    rx, ox = x.clone().requires_grad_(True), to_nd(x, requires_grad=True)
    ry, oy = ref(rx), ours(ox)
    assert_close(oy, ry, atol=1e-12, rtol=1e-10)
    up = torch.randn(ry.shape, dtype=torch.float64)
    ry.backward(up)
    oy.backward(to_nd(up))
    assert_close(ox.grad, rx.grad, atol=1e-12, rtol=1e-10)
    for name, p in ref.named_parameters():
        assert_close(dict(ours.named_parameters())[name].grad, p.grad, atol=1e-11, rtol=1e-10)
    # unbatched input
    assert_close(ours(to_nd(x[0])), ref(x[0]), atol=1e-12, rtol=1e-10)


def test_conv3d_and_transpose_finite_differences_to_second_order():
    rng = np.random.default_rng(0)
    x = ndgrad.tensor(rng.standard_normal((1, 2, 3, 4, 3)), requires_grad=True)
    w = ndgrad.tensor(rng.standard_normal((2, 2, 2, 2, 2)), requires_grad=True)
    b = ndgrad.tensor(rng.standard_normal(2), requires_grad=True)

    def conv(x, w, b):
        return F.conv3d(x, w, b, stride=(1, 2, 1), padding=1)

    def transposed(x, w, b):
        return F.conv_transpose3d(x, w, b, stride=2, output_padding=1)

    for fn in (conv, transposed):
        assert gradcheck(fn, (x, w, b), eps=1e-6, atol=1e-6, rtol=1e-5)
        assert gradgradcheck(fn, (x, w, b), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_float32_conv3d_matches_torch():
    x = torch.randn(2, 3, 6, 7, 5)
    w = torch.randn(4, 3, 3, 3, 3)
    assert_close(
        F.conv3d(to_nd(x), to_nd(w), padding=1),
        torch.nn.functional.conv3d(x, w, padding=1),
        atol=1e-4,
        rtol=1e-4,
    )


@pytest.mark.parametrize(
    "kind,n,args",
    [
        ("LazyConv3d", 3, (4, 3)),
        ("LazyConvTranspose1d", 1, (4, 3)),
        ("LazyConvTranspose2d", 2, (4, 3)),
        ("LazyConvTranspose3d", 3, (4, 2)),
    ],
)
def test_lazy_convolutions_infer_in_channels_like_torch(kind, n, args):
    ours, ref = getattr(nn, kind)(*args), getattr(torch.nn, kind)(*args)
    x = torch.randn((2, 5) + (6,) * n)
    oy, ry = ours(to_nd(x)), ref(x)
    assert tuple(oy.shape) == tuple(ry.shape)
    assert tuple(ours.weight.shape) == tuple(ref.weight.shape)
    assert type(ours).__name__ == type(ref).__name__
    assert repr(ours) == repr(ref)


def test_conv3d_bad_input_gets_torchs_messages():
    for call in (
        lambda lib: lib.nn.Conv3d(2, 3, 3)(lib.ones(1, 2, 5, 5)),
        lambda lib: lib.nn.Conv3d(2, 3, 3)(lib.ones(1, 1, 5, 5, 5)),
        lambda lib: lib.nn.Conv3d(2, 3, 3)(lib.ones(1, 2, 2, 5, 5)),
        lambda lib: lib.nn.ConvTranspose3d(2, 3, 3)(lib.ones(1, 3, 5, 5, 5)),
    ):
        with pytest.raises(Exception) as theirs:
            call(torch)
        with pytest.raises(type(theirs.value)) as ours:
            call(ndgrad)
        assert str(theirs.value) in str(ours.value)
