"""Max, average and adaptive pooling vs torch 2.13: values, indices, gradients, second order
(finite differences), PyTorch's errors, and the layers' reprs."""

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

POOL_ARGS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 1},
]
SHAPES = [(2, 3, 7, 9), (1, 1, 6, 6), (3, 5, 8)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kw", POOL_ARGS, ids=str)
def test_max_pool2d_matches_torch(kw: dict, shape: tuple, dtype: str) -> None:
    compare(
        lambda x: F.max_pool2d(x, return_indices=True, **kw),
        lambda x: TF.max_pool2d(x, return_indices=True, **kw),
        shape,
        dtype,
    )


@pytest.mark.parametrize("kw", POOL_ARGS, ids=str)
def test_max_pool2d_ties_take_the_first_maximum(kw: dict) -> None:
    compare(
        lambda x: F.max_pool2d(x, return_indices=True, **kw),
        lambda x: TF.max_pool2d(x, return_indices=True, **kw),
        (2, 3, 7, 9),
        ties=True,
    )


@pytest.mark.parametrize("kw", [{"dilation": 2}, {"dilation": (2, 1), "padding": 1}], ids=str)
def test_max_pool2d_dilation(kw: dict) -> None:
    compare(
        lambda x: F.max_pool2d(x, 3, 1, return_indices=True, **kw),
        lambda x: TF.max_pool2d(x, 3, 1, return_indices=True, **kw),
        (2, 2, 9, 8),
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("divisor_override", [None, 3])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kw", POOL_ARGS, ids=str)
def test_avg_pool2d_matches_torch(
    kw: dict, count_include_pad: bool, divisor_override: int | None, dtype: str
) -> None:
    opts = {"count_include_pad": count_include_pad, "divisor_override": divisor_override}
    compare(
        lambda x: F.avg_pool2d(x, **kw, **opts),
        lambda x: TF.avg_pool2d(x, **kw, **opts),
        (2, 3, 7, 9),
        dtype,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(2, 3, 10), (3, 11)])
@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    ],
    ids=str,
)
def test_pool1d_matches_torch(kw: dict, shape: tuple, dtype: str) -> None:
    compare(
        lambda x: F.max_pool1d(x, return_indices=True, **kw),
        lambda x: TF.max_pool1d(x, return_indices=True, **kw),
        shape,
        dtype,
    )
    compare(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), shape, dtype)
    compare(
        lambda x: F.avg_pool1d(x, **kw, count_include_pad=False),
        lambda x: TF.avg_pool1d(x, **kw, count_include_pad=False),
        shape,
        dtype,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [(2, 3), (3, 4), (5, 9), (7, 9), (4, None), 1, 2], ids=str)
def test_adaptive_pool2d_matches_torch(size: object, dtype: str) -> None:
    compare(
        lambda x: F.adaptive_avg_pool2d(x, size),
        lambda x: TF.adaptive_avg_pool2d(x, size),
        (2, 3, 7, 9),
        dtype,
    )
    compare(
        lambda x: F.adaptive_max_pool2d(x, size, return_indices=True),
        lambda x: TF.adaptive_max_pool2d(x, size, return_indices=True),
        (2, 3, 7, 9),
        dtype,
        ties=True,
    )
    compare(
        lambda x: F.adaptive_max_pool2d(x, size),
        lambda x: TF.adaptive_max_pool2d(x, size),
        (3, 7, 9),
        dtype,
    )


@pytest.mark.parametrize("size", [1, 3, 4, 10])
def test_adaptive_pool1d_matches_torch(size: int) -> None:
    compare(
        lambda x: F.adaptive_avg_pool1d(x, size),
        lambda x: TF.adaptive_avg_pool1d(x, size),
        (2, 3, 10),
    )
    compare(
        lambda x: F.adaptive_max_pool1d(x, size, True),
        lambda x: TF.adaptive_max_pool1d(x, size, True),
        (2, 3, 10),
        ties=True,
    )


def test_empty_batch() -> None:
    x = ndgrad.zeros(0, 3, 6, 6)
    assert F.max_pool2d(x, 2).shape == (0, 3, 3, 3)
    assert F.avg_pool2d(x, 2).shape == (0, 3, 3, 3)


def test_integer_max_pool() -> None:
    a = np.arange(32).reshape(2, 4, 4)
    out, idx = F.max_pool2d(ndgrad.tensor(a), 2, return_indices=True)
    ref, ridx = TF.max_pool2d(torch.tensor(a), 2, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(idx.numpy(), ridx.numpy())
    assert out.dtype == ndgrad.int64


SECOND_ORDER = {
    "max_pool2d": lambda x: F.max_pool2d(x, 3, 2, 1),
    "max_pool2d_ceil": lambda x: F.max_pool2d(x, 2, ceil_mode=True),
    "max_pool1d": lambda x: F.max_pool1d(x[0], 3, 2, 1),
    "avg_pool2d": lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    "avg_pool2d_override": lambda x: F.avg_pool2d(x, 2, divisor_override=3),
    "adaptive_avg": lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
    "adaptive_max": lambda x: F.adaptive_max_pool2d(x, (3, 4)),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_finite_differences_first_and_second_order(name: str) -> None:
    rng = np.random.default_rng(1)
    x = ndgrad.tensor(rng.normal(size=(2, 2, 5, 6)), requires_grad=True)
    assert gradcheck(SECOND_ORDER[name], (x,))
    assert gradgradcheck(SECOND_ORDER[name], (x,))


def _message(fn, *args, **kw) -> tuple:  # noqa: ANN001
    try:
        fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__, str(exc)
    return None, None


ERRORS = [
    ("max_pool2d", (2, 3, 6, 7), {"kernel_size": 2, "padding": 3}),
    ("max_pool2d", (2, 3, 6, 7), {"kernel_size": (2, 4), "padding": (1, 3)}),
    ("max_pool2d", (1, 2, 2), {"kernel_size": 3}),
    ("max_pool2d", (6, 7), {"kernel_size": 2}),
    ("max_pool2d", (2, 3, 6, 7), {"kernel_size": 0}),
    ("max_pool2d", (2, 3, 6, 7), {"kernel_size": 2, "stride": 0}),
    ("max_pool2d", (2, 3, 6, 7), {"kernel_size": 2, "dilation": 0}),
    ("avg_pool2d", (1, 2, 2), {"kernel_size": 3}),
    ("avg_pool2d", (2, 3, 6, 7), {"kernel_size": 2, "padding": 2}),
    ("avg_pool2d", (6, 7), {"kernel_size": 2}),
    ("max_pool1d", (1, 2), {"kernel_size": 3}),
    ("adaptive_avg_pool2d", (6, 7), {"output_size": 2}),
    ("adaptive_max_pool2d", (6, 7), {"output_size": 2}),
]


@pytest.mark.parametrize(("op", "shape", "kw"), ERRORS, ids=str)
def test_errors_as_torch(op: str, shape: tuple, kw: dict) -> None:
    a = np.zeros(shape)
    ours = _message(getattr(F, op), ndgrad.tensor(a), **kw)
    ref = _message(getattr(TF, op), torch.tensor(a), **kw)
    assert ref[0] is not None
    assert ours == ref


MODULES = [
    "MaxPool2d(2)",
    "MaxPool2d((2, 3), stride=1, padding=1)",
    "MaxPool2d(2, return_indices=True, ceil_mode=True)",
    "MaxPool1d(3)",
    "AvgPool2d(2)",
    "AvgPool2d(3, 2, 1, True, False, 2)",
    "AvgPool1d(3)",
    "AdaptiveAvgPool2d(1)",
    "AdaptiveAvgPool2d((2, None))",
    "AdaptiveAvgPool1d(3)",
    "AdaptiveMaxPool2d(2)",
    "AdaptiveMaxPool2d((2, 3), True)",
    "AdaptiveMaxPool1d(2)",
    "Dropout2d()",
    "Dropout2d(0.2, True)",
]


@pytest.mark.parametrize("expr", MODULES)
def test_module_repr_and_output_as_torch(expr: str) -> None:
    ours = eval(expr, {**vars(nn)})  # noqa: S307 - the test's own expressions
    ref = eval(expr, {**vars(torch.nn)})  # noqa: S307
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    if "Dropout" in expr:
        return
    shape = (2, 3, 9) if "1d" in expr else (2, 3, 7, 9)
    a = np.random.default_rng(0).normal(size=shape)
    out, r = ours(ndgrad.tensor(a)), ref(torch.tensor(a))
    if isinstance(r, tuple):
        np.testing.assert_array_equal(out[1].numpy(), r[1].numpy())
        out, r = out[0], r[0]
    np.testing.assert_allclose(out.numpy(), r.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 6, 5, 5), (4, 6, 7)])
def test_dropout2d_zeroes_whole_channels(shape: tuple) -> None:
    x = ndgrad.ones(*shape, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.dropout2d(x, 0.5)
    planes = out.detach().numpy().reshape(shape[0], shape[1], -1)
    assert set(np.unique(planes)) <= {0.0, 2.0}
    assert (planes == planes[..., :1]).all()  # one value per (sample, channel)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())
    assert F.dropout2d(x, 0.5, training=False) is x
    assert F.dropout2d(x, 0.0) is x


def test_dropout2d_warnings_and_errors_as_torch() -> None:
    for shape in [(3, 4, 5), (3, 4), (2, 3, 4, 5, 6)]:
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            F.dropout2d(ndgrad.ones(*shape))
        with warnings.catch_warnings(record=True) as ref:
            warnings.simplefilter("always")
            TF.dropout2d(torch.ones(*shape))
        assert [str(w.message) for w in ours] == [str(w.message) for w in ref]
    assert _message(F.dropout2d, ndgrad.ones(2, 2, 2, 2), 1.5) == _message(
        TF.dropout2d, torch.ones(2, 2, 2, 2), 1.5
    )
    x = ndgrad.ones(2, 3, 4, 4)
    out = F.dropout2d(x, 1.0)
    assert (out.numpy() == 0).all()
    y = ndgrad.ones(2, 3, 4, 4)
    assert F.dropout2d(y, 0.5, inplace=True) is y
