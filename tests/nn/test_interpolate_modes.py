"""``F.interpolate`` / ``nn.Upsample`` in every PyTorch mode vs torch 2.13: values, gradients
and grad_fn names in float32 and float64 (odd sizes, up and down, align_corners both ways,
antialiasing, recompute_scale_factor), finite differences to second order, and PyTorch's
errors for wrong modes, ranks, sizes and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as F
from ndgrad.autograd import gradcheck, gradgradcheck

from ._error_table import check_same_outcome
from ._pool_helpers import compare

SPECS = [
    {"scale_factor": 2},
    {"scale_factor": 0.5},
    {"scale_factor": 1.7},
    {"scale_factor": 0.37},
    {"size": (3, 11, 4)},
    {"size": (1, 2, 9)},
    {"scale_factor": (1.5, 0.6, 2.5)},
    {"scale_factor": 1.7, "recompute_scale_factor": True},
]
MODES = [
    ("nearest", (2, 3, 7)),
    ("nearest", (2, 3, 5, 7)),
    ("nearest", (1, 2, 4, 5, 6)),
    ("nearest-exact", (2, 3, 7)),
    ("nearest-exact", (2, 3, 5, 7)),
    ("nearest-exact", (1, 2, 4, 5, 6)),
    ("area", (2, 3, 7)),
    ("area", (1, 2, 5, 7)),
    ("area", (1, 2, 4, 5, 6)),
    ("linear", (2, 3, 7)),
    ("bilinear", (2, 3, 5, 7)),
    ("trilinear", (1, 2, 4, 5, 6)),
    ("bicubic", (2, 3, 5, 7)),
    ("bicubic", (1, 2, 3, 9)),
]


def _spec(spec: dict, n: int) -> dict:
    out = dict(spec)
    for key in ("size", "scale_factor"):
        if isinstance(out.get(key), tuple):
            out[key] = out[key][:n]
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec", SPECS, ids=str)
@pytest.mark.parametrize("mode_shape", MODES, ids=str)
def test_interpolate_matches_torch(mode_shape: tuple, spec: dict, dtype: str) -> None:
    mode, shape = mode_shape
    kw = _spec(spec, len(shape) - 2)
    corners = [None] if mode in ("nearest", "nearest-exact", "area") else [False, True]
    for align_corners in corners:
        opts = {**kw, "mode": mode, "align_corners": align_corners}
        compare(
            lambda x, o=opts: F.interpolate(x, **o),
            lambda x, o=opts: TF.interpolate(x, **o),
            shape,
            dtype,
        )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("spec", [{"scale_factor": 0.37}, {"size": (3, 4)}, {"size": (9, 17)}])
def test_antialias_matches_torch(mode: str, spec: dict, dtype: str) -> None:
    corners = [False] if mode == "lanczos" else [False, True]
    for align_corners in corners:
        opts = {**spec, "mode": mode, "antialias": True, "align_corners": align_corners}
        compare(
            lambda x, o=opts: F.interpolate(x, **o),
            lambda x, o=opts: TF.interpolate(x, **o),
            (2, 3, 11, 8),
            dtype,
        )


def test_upsample_module_modes() -> None:
    for kw in (
        {"scale_factor": 2, "mode": "bicubic", "align_corners": True},
        {"size": (3, 4, 5), "mode": "trilinear"},
        {"scale_factor": (2, 3, 1), "mode": "nearest-exact"},
    ):
        m, ref = ndgrad.nn.Upsample(**kw), torch.nn.Upsample(**kw)
        assert repr(m) == repr(ref)
        shape = (1, 2, 4, 5) if kw["mode"] == "bicubic" else (1, 2, 3, 4, 5)
        compare(m, ref, shape)


SECOND_ORDER = {
    "trilinear": lambda x: F.interpolate(x, scale_factor=(1.5, 0.7, 2), mode="trilinear"),
    "trilinear_corners": lambda x: F.interpolate(
        x, size=(3, 7, 2), mode="trilinear", align_corners=True
    ),
    "nearest3d": lambda x: F.interpolate(x, size=(3, 7, 2)),
    "nearest3d_repeat": lambda x: F.interpolate(x, scale_factor=(2, 1, 3)),
    "nearest_exact_repeat": lambda x: F.interpolate(x[0], size=(8, 10), mode="nearest-exact"),
    "nearest_exact": lambda x: F.interpolate(x[0], size=(3, 7), mode="nearest-exact"),
    "bicubic": lambda x: F.interpolate(x[0], size=(7, 4), mode="bicubic"),
    "bicubic_aa": lambda x: F.interpolate(x[0], size=(3, 2), mode="bicubic", antialias=True),
    "bilinear_aa": lambda x: F.interpolate(
        x[0], size=(3, 4), mode="bilinear", antialias=True, align_corners=True
    ),
    "area3d": lambda x: F.interpolate(x, size=(3, 2, 4), mode="area"),
    "linear": lambda x: F.interpolate(x[0, 0], scale_factor=1.6, mode="linear"),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_finite_differences_first_and_second_order(name: str) -> None:
    x = ndgrad.tensor(np.random.default_rng(3).normal(size=(1, 2, 4, 5, 5)), requires_grad=True)
    assert gradcheck(SECOND_ORDER[name], (x,))
    assert gradgradcheck(SECOND_ORDER[name], (x,))


ARRAYS = {
    "x": np.random.default_rng(0).normal(size=(2, 3, 5, 6, 7)),
    "x4": np.random.default_rng(1).normal(size=(2, 3, 9, 8)),
}
CASES = """
F.interpolate(x4, scale_factor=0.5, mode='nearest', antialias=True)
F.interpolate(x, scale_factor=0.5, mode='trilinear', antialias=True)
F.interpolate(x4[:, 0], scale_factor=2, mode='bicubic')
F.interpolate(x, scale_factor=2, mode='bicubic')
F.interpolate(x4, scale_factor=2, mode='trilinear')
F.interpolate(x4, scale_factor=2, mode='linear')
F.interpolate(x, scale_factor=2, mode='linear')
F.interpolate(x, scale_factor=2, mode='bilinear')
F.interpolate(x4[:, 0], scale_factor=2, mode='bilinear')
F.interpolate(x4[:, 0], scale_factor=2, mode='trilinear')
F.interpolate(x4, scale_factor=2, mode='foo')
F.interpolate(x4[0,0], scale_factor=2)
F.interpolate(x4[0,0], size=3)
F.interpolate(x4[0,0], size=(3,))
F.interpolate(x4[0,0,0], size=3)
F.interpolate(x4, size=(3.0, 4))
F.interpolate(x4, size=(3, 4), recompute_scale_factor=True)
F.interpolate(x4, size=(3, 4), scale_factor=2)
F.interpolate(x4)
F.interpolate(x4, size=(3, 4), mode='nearest', align_corners=True)
F.interpolate(x4, size=(3, 4), mode='area', align_corners=False)
F.interpolate(x4, size=(0, 4))
F.interpolate(x4, size=(0, 4), mode='bilinear')
F.interpolate(x4, scale_factor=0.1, mode='bicubic')
F.interpolate(x4[:, 0], scale_factor=0.1)
F.interpolate(x, scale_factor=0.1, mode='trilinear')
F.interpolate(x4[:0], scale_factor=2)
F.interpolate(x4[:0], scale_factor=2, mode='bicubic')
F.interpolate(x4[:, :0], scale_factor=2)
F.interpolate(x4[:, :0], scale_factor=2, mode='bilinear')
F.interpolate(x[:, :0], scale_factor=2, mode='trilinear')
F.interpolate(x4[:, :0, 0], scale_factor=2, mode='linear')
F.interpolate(x4[:, :, :0], scale_factor=2)
F.interpolate(x4, scale_factor=(2,3,4))
F.interpolate(x4, size=(2,3,4))
F.interpolate(x4, scale_factor=0.5, mode='lanczos')
F.interpolate(x4, scale_factor=0.5, mode='lanczos', align_corners=True)
F.interpolate(x, size=(3,17,2), mode='lanczos')
F.interpolate(x4, scale_factor=1.7, recompute_scale_factor=False)
F.interpolate(x4.to(T.int64), scale_factor=2)
F.interpolate(x4[:, 0].to(T.int64), scale_factor=2)
F.interpolate(x4.to(T.int64), scale_factor=2, mode='bilinear')
F.interpolate(x4.to(T.int64), scale_factor=2, mode='bicubic')
F.interpolate(x4.to(T.int64), scale_factor=0.5, mode='area')
F.interpolate(x4.to(T.int64), size=(3,17), mode='bilinear', antialias=True)
F.interpolate(x.to(T.uint8), size=(3,17,2), mode='trilinear')
F.interpolate(x4.to(T.uint8), size=(3,17), mode='nearest')
F.interpolate(x4.to(T.uint8), size=(3,17), mode='bilinear', antialias=True)
F.interpolate(x4.to(T.uint8), size=(3,17), mode='bicubic')
F.interpolate(x4.to(T.uint8), size=(3,17), mode='area')
F.interpolate(x4[:, 0].to(T.uint8), size=17, mode='linear')
F.interpolate(x4.to(T.uint8), size=(3,17), mode='lanczos', antialias=True)
F.interpolate(x4.float(), scale_factor=2, mode='bicubic')
""".strip().splitlines()


@pytest.mark.parametrize("expr", CASES)
def test_errors_and_shapes_as_torch(expr: str) -> None:
    check_same_outcome(expr, ARRAYS)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("align_corners", [False, True])
def test_uint8_resize_is_pytorchs_fixed_point(mode: str, antialias: bool, align_corners: bool):
    rng = np.random.default_rng(1)
    for channels, (h, w), spec in [
        (3, (17, 23), {"size": (9, 11)}),
        (8, (17, 23), {"size": (31, 40)}),
        (1, (64, 48), {"size": (21, 48)}),
        (3, (33, 21), {"scale_factor": 0.37}),
        (4, (13, 21), {"scale_factor": (1.7, 0.6)}),
    ]:
        a = rng.integers(0, 256, (2, channels, h, w)).astype(np.uint8)
        kw = {**spec, "mode": mode, "antialias": antialias, "align_corners": align_corners}
        ref = TF.interpolate(torch.tensor(a), **kw).numpy()
        out = F.interpolate(ndgrad.tensor(a), **kw)
        assert out.dtype == ndgrad.uint8
        np.testing.assert_array_equal(out.numpy(), ref)
