"""F.pad, the padding layers, F.interpolate and Upsample vs torch 2.13: values, gradients,
grad_fn names, second order (finite differences), errors and reprs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
import ndgrad.nn.functional as F
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck

from ._pool_helpers import compare


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "pad", [(1, 2), (1, 2, 0, 3), (-1, 2, 1, -2), (1, 1, 1, 1, 1, 1), (0, 0)], ids=str
)
def test_constant_pad_matches_torch(pad: tuple, dtype: str) -> None:
    compare(lambda x: F.pad(x, pad, value=2.0), lambda x: TF.pad(x, pad, value=2.0), (2, 3, 5, 6))
    compare(lambda x: F.pad(x, pad), lambda x: TF.pad(x, pad), (2, 3, 5, 6), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    ("pad", "shape"),
    [
        ((1, 2), (2, 3, 9)),
        ((2, 0), (3, 9)),
        ((1, 2, 0, 3), (2, 3, 5, 6)),
        ((2, 0, 3, 1), (3, 5, 6)),
    ],
    ids=str,
)
def test_index_pad_matches_torch(pad: tuple, shape: tuple, mode: str, dtype: str) -> None:
    compare(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), shape, dtype)


INTERP = [
    {"scale_factor": 2},
    {"size": (5, 13)},
    {"scale_factor": 1.7},
    {"size": (3, 4)},
    {"scale_factor": (0.5, 2.5)},
    {"size": 1},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", INTERP, ids=str)
def test_interpolate_2d_matches_torch(kw: dict, dtype: str) -> None:
    shape = (2, 3, 7, 9)
    compare(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), shape, dtype)
    for ac in (False, True):
        compare(
            lambda x, ac=ac: F.interpolate(x, mode="bilinear", align_corners=ac, **kw),
            lambda x, ac=ac: TF.interpolate(x, mode="bilinear", align_corners=ac, **kw),
            shape,
            dtype,
        )


@pytest.mark.parametrize("kw", [{"scale_factor": 3}, {"size": 11}, {"scale_factor": 0.6}], ids=str)
def test_interpolate_1d_matches_torch(kw: dict) -> None:
    compare(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), (2, 3, 5))
    for ac in (False, True):
        compare(
            lambda x, ac=ac: F.interpolate(x, mode="linear", align_corners=ac, **kw),
            lambda x, ac=ac: TF.interpolate(x, mode="linear", align_corners=ac, **kw),
            (2, 3, 5),
        )


SECOND_ORDER = {
    "constant": lambda x: F.pad(x, (1, -1, 2, 0), value=1.5),
    "reflect": lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"),
    "replicate": lambda x: F.pad(x, (1, 2, 2, 1), mode="replicate"),
    "circular": lambda x: F.pad(x, (1, 2, 2, 1), mode="circular"),
    "nearest": lambda x: F.interpolate(x, scale_factor=2),
    "bilinear": lambda x: F.interpolate(x, size=(7, 4), mode="bilinear"),
    "bilinear_corners": lambda x: F.interpolate(
        x, scale_factor=1.5, mode="bilinear", align_corners=True
    ),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_finite_differences_first_and_second_order(name: str) -> None:
    x = ndgrad.tensor(np.random.default_rng(2).normal(size=(2, 2, 4, 5)), requires_grad=True)
    assert gradcheck(SECOND_ORDER[name], (x,))
    assert gradgradcheck(SECOND_ORDER[name], (x,))


def _message(fn, *args, **kw) -> tuple:  # noqa: ANN001
    try:
        fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__, str(exc)
    return None, None


ERRORS = [
    ("pad", {"pad": (6, 6, 6, 6), "mode": "reflect"}),
    ("pad", {"pad": (1, 1), "mode": "reflect"}),
    ("pad", {"pad": (1,)}),
    ("pad", {"pad": (1, 1) * 5}),
    ("interpolate", {"size": 3, "scale_factor": 2}),
    ("interpolate", {}),
    ("interpolate", {"size": 3, "align_corners": True}),
    ("interpolate", {"size": 3, "mode": "foo"}),
    ("interpolate", {"size": (3, 3, 3)}),
    ("interpolate", {"size": 3, "mode": "linear"}),
]


@pytest.mark.parametrize(("op", "kw"), ERRORS, ids=str)
def test_errors_as_torch(op: str, kw: dict) -> None:
    a = np.zeros((2, 3, 6, 7))
    ours = _message(getattr(F, op), ndgrad.tensor(a), **kw)
    ref = _message(getattr(TF, op), torch.tensor(a), **kw)
    assert ref[0] is not None
    assert ours == ref


MODULES = [
    "ZeroPad2d(2)",
    "ZeroPad2d((1, 2, 3, 4))",
    "ConstantPad2d(1, 3.5)",
    "ConstantPad1d(2, 1)",
    "ReflectionPad2d(1)",
    "ReflectionPad1d((1, 2))",
    "ReplicationPad2d((1, 2, 3, 4))",
    "ReplicationPad1d(3)",
    "Upsample(scale_factor=2)",
    "Upsample(size=3, mode='bilinear')",
    "Upsample(scale_factor=2, mode='bilinear', align_corners=True)",
    "Upsample(scale_factor=(2, 3))",
]


@pytest.mark.parametrize("expr", MODULES)
def test_module_repr_and_output_as_torch(expr: str) -> None:
    ours = eval(expr, {**vars(nn)})  # noqa: S307 - the test's own expressions
    ref = eval(expr, {**vars(torch.nn)})  # noqa: S307
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    shape = (2, 3, 9) if "1d" in expr else (2, 3, 5, 6)
    a = np.random.default_rng(0).normal(size=shape)
    np.testing.assert_allclose(
        ours(ndgrad.tensor(a)).numpy(), ref(torch.tensor(a)).numpy(), rtol=1e-12
    )
