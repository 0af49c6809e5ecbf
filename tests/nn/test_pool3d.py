"""3-D max/average/adaptive/power pooling, max unpooling and fractional max pooling vs torch
2.13: values, indices, gradients and grad_fn names (float32 and float64), finite differences
to second order, PyTorch's errors and messages, the layers' reprs and state_dicts."""

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

POOL3D_ARGS = [
    {"kernel_size": 2},
    {"kernel_size": (3, 2, 2), "stride": (2, 1, 2), "padding": (1, 0, 1)},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (2, 3, 3), "stride": 2, "ceil_mode": True},
]
SHAPES3D = [(2, 3, 5, 6, 7), (3, 5, 6, 7), (1, 1, 4, 5, 4)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES3D, ids=str)
@pytest.mark.parametrize("kw", POOL3D_ARGS, ids=str)
def test_max_and_avg_pool3d_match_torch(kw: dict, shape: tuple, dtype: str) -> None:
    compare(
        lambda x: F.max_pool3d(x, return_indices=True, **kw),
        lambda x: TF.max_pool3d(x, return_indices=True, **kw),
        shape,
        dtype,
    )
    for opts in ({}, {"count_include_pad": False}, {"divisor_override": 5}):
        compare(
            lambda x, o=opts: F.avg_pool3d(x, **kw, **o),
            lambda x, o=opts: TF.avg_pool3d(x, **kw, **o),
            shape,
            dtype,
        )


@pytest.mark.parametrize("dilation", [2, (1, 2, 1)], ids=str)
def test_max_pool3d_dilation_and_ties(dilation: object) -> None:
    kw = {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": dilation}
    compare(
        lambda x: F.max_pool3d(x, return_indices=True, **kw),
        lambda x: TF.max_pool3d(x, return_indices=True, **kw),
        (2, 2, 5, 6, 5),
        ties=True,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [3, (2, None, 3), (4, 1, 5), (7, 7, 7), 1], ids=str)
def test_adaptive_pool3d_matches_torch(size: object, dtype: str) -> None:
    compare(
        lambda x: F.adaptive_avg_pool3d(x, size),
        lambda x: TF.adaptive_avg_pool3d(x, size),
        (2, 3, 5, 6, 7),
        dtype,
    )
    compare(
        lambda x: F.adaptive_max_pool3d(x, size, return_indices=True),
        lambda x: TF.adaptive_max_pool3d(x, size, return_indices=True),
        (3, 5, 6, 7),
        dtype,
        ties=dtype == "float64",
    )


def test_empty_batch_and_integers() -> None:
    x = ndgrad.zeros(0, 3, 4, 6, 6)
    assert F.max_pool3d(x, 2).shape == (0, 3, 2, 3, 3)
    assert F.avg_pool3d(x, 2).shape == (0, 3, 2, 3, 3)
    assert F.adaptive_max_pool3d(x, 2).shape == (0, 3, 2, 2, 2)
    a = np.arange(2 * 4 * 4 * 4).reshape(2, 4, 4, 4) % 7
    for fn, tfn in ((F.max_pool3d, TF.max_pool3d), (F.avg_pool3d, TF.avg_pool3d)):
        out, ref = fn(ndgrad.tensor(a), 2), tfn(torch.tensor(a), 2)
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
        assert out.dtype == ndgrad.int64


@pytest.mark.parametrize("p", [2.0, 3.5, float("inf"), -float("inf")])
def test_lp_pool3d_matches_torch(p: float) -> None:
    compare(
        lambda x: F.lp_pool3d(x.abs() + 0.1, p, (2, 3, 2), (1, 2, 2), True),
        lambda x: TF.lp_pool3d(x.abs() + 0.1, p, (2, 3, 2), (1, 2, 2), True),
        (2, 2, 5, 6, 7),
    )


def _unpool_case(n: int, shape: tuple, dtype: str, **kw: object) -> None:
    rng = np.random.default_rng(n)
    a = rng.normal(size=shape).astype(dtype)
    pool_t = (TF.max_pool1d, TF.max_pool2d, TF.max_pool3d)[n - 1]
    unpool_t = (TF.max_unpool1d, TF.max_unpool2d, TF.max_unpool3d)[n - 1]
    unpool_n = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[n - 1]
    pooled, idx = pool_t(torch.tensor(a), 2, return_indices=True, **kw)
    size = shape[-n:]
    idx_n = ndgrad.tensor(idx.numpy())
    compare(
        lambda y: unpool_n(y, idx_n, 2, output_size=size, **kw),
        lambda y: unpool_t(y, idx, 2, output_size=size, **kw),
        tuple(pooled.shape),
        dtype,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_unpool_matches_torch(dtype: str) -> None:
    _unpool_case(1, (2, 3, 9), dtype)
    _unpool_case(1, (3, 8), dtype, stride=1)
    _unpool_case(2, (2, 3, 7, 8), dtype)
    _unpool_case(2, (3, 6, 5), dtype, stride=1, padding=1)
    _unpool_case(3, (2, 2, 5, 4, 6), dtype)
    _unpool_case(3, (2, 4, 5, 5), dtype, stride=(1, 2, 2))


FRACTIONAL = [
    (2, (2, 3, 9, 8), 2, (4, 5)),
    (2, (3, 11, 10), (3, 2), (5, 7)),
    (2, (2, 3, 9, 8), 2, (8, 1)),
    (2, (1, 2, 5, 6), 2, (1, 1)),
    (3, (2, 2, 7, 8, 9), 2, (3, 4, 5)),
    (3, (2, 6, 7, 8), (2, 3, 1), (4, 3, 7)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", FRACTIONAL, ids=str)
def test_fractional_max_pool_matches_torch(case: tuple, dtype: str) -> None:
    n, shape, k, out = case
    batch = shape[0] if len(shape) == n + 2 else 1
    samples = np.random.default_rng(7).random((batch, shape[-n - 1], n)).astype(dtype)
    fn = F.fractional_max_pool2d if n == 2 else F.fractional_max_pool3d
    tfn = TF.fractional_max_pool2d if n == 2 else TF.fractional_max_pool3d
    s_nd, s_t = ndgrad.tensor(samples), torch.tensor(samples)
    compare(
        lambda x: fn(x, k, out, return_indices=True, _random_samples=s_nd),
        lambda x: tfn(x, k, out, return_indices=True, _random_samples=s_t),
        shape,
        dtype,
        ties=dtype == "float64",
    )
    ratio = (0.5,) * n
    compare(
        lambda x: fn(x, k, output_ratio=ratio, _random_samples=s_nd),
        lambda x: tfn(x, k, output_ratio=ratio, _random_samples=s_t),
        shape,
        dtype,
    )


def test_fractional_max_pool_draws_samples_and_layers_keep_them() -> None:
    x = ndgrad.randn(2, 3, 9, 8)
    out, idx = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), return_indices=True)
    assert out.shape == (2, 3, 4, 4) and idx.dtype == ndgrad.int64
    samples = ndgrad.rand(2, 3, 3, dtype=ndgrad.float32)
    m = ndgrad.nn.FractionalMaxPool3d(2, output_size=2, _random_samples=samples)
    assert list(m.state_dict()) == ["_random_samples"]
    ref = torch.nn.FractionalMaxPool3d(
        2, output_size=2, _random_samples=torch.tensor(samples.numpy())
    )
    y = np.random.default_rng(0).normal(size=(2, 3, 5, 6, 7)).astype("float32")
    np.testing.assert_array_equal(m(ndgrad.tensor(y)).numpy(), ref(torch.tensor(y)).numpy())


UNPOOL_INDEX = ndgrad.tensor(
    np.stack([np.random.default_rng(i).permutation(100)[:25] for i in range(4)]).reshape(2, 2, 5, 5)
)
SECOND_ORDER = {
    "max_pool3d": lambda x: F.max_pool3d(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), ceil_mode=True),
    "avg_pool3d": lambda x: F.avg_pool3d(x, 3, 2, 1, True, False),
    "adaptive_avg3d": lambda x: F.adaptive_avg_pool3d(x, (3, 2, 4)),
    "adaptive_max3d": lambda x: F.adaptive_max_pool3d(x, (3, 2, 4)),
    "fractional2d": lambda x: F.fractional_max_pool2d(
        x[0], 2, (3, 4), _random_samples=ndgrad.tensor(np.full((2, 4, 2), 0.3))
    ),
    # distinct indices per plane (a repeated one makes the forward keep only the last value)
    "unpool2d": lambda x: F.max_unpool2d(x[0, :, :2], UNPOOL_INDEX, 2),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_finite_differences_first_and_second_order(name: str) -> None:
    x = ndgrad.tensor(np.random.default_rng(1).normal(size=(1, 2, 4, 5, 5)), requires_grad=True)
    assert gradcheck(SECOND_ORDER[name], (x,))
    assert gradgradcheck(SECOND_ORDER[name], (x,))


ARRAYS = {
    "x": np.random.default_rng(0).normal(size=(2, 3, 5, 6, 7)),
    "x4": np.random.default_rng(1).normal(size=(2, 3, 9, 8)),
    "y": np.random.default_rng(2).normal(size=(2, 3, 6, 8, 8)),
}
POOLED = (
    "o, i = F.max_pool2d(x4, 2, return_indices=True)\n"
    "o1, i1 = F.max_pool1d(x4[0], 2, return_indices=True)\n"
    "o3, i3 = F.max_pool3d(y, 2, return_indices=True)\n"
)
CASES = """
F.max_pool3d(x, (2,2))
F.max_pool3d(x, 2, (1,1))
F.max_pool3d(x, 2, 1, (1,1))
F.max_pool3d(x, 2, 1, 0, (1,1))
F.max_pool3d(x, 0)
F.max_pool3d(x, 0, 1)
F.max_pool3d(x, -1, 1)
F.max_pool3d(x, 2, -1)
F.max_pool3d(x, 2, dilation=0)
F.max_pool3d(x, 2, padding=2)
F.max_pool3d(x, 2, 1, -1)
F.max_pool3d(x, 3, 1, 2, 2)
F.max_pool3d(x, 3, 1, 3, 2)
F.max_pool3d(x, (3,2,1), 1, (2,1,0))
F.max_pool3d(x, 6)
F.max_pool3d(x[0,0], 2)
F.max_pool3d(x[:, :0], 2)
F.max_pool3d(x.to(T.bool), 2)
F.max_pool3d(x, 5, 4, padding=2, ceil_mode=True)
F.avg_pool3d(x, (2,2))
F.avg_pool3d(x, 2, (1,1))
F.avg_pool3d(x, 2, 1, (1,1))
F.avg_pool3d(x, 0, 1)
F.avg_pool3d(x, 2, 0)
F.avg_pool3d(x, 6, padding=1)
F.avg_pool3d(x[0,0], 2)
F.avg_pool3d(x[:, :0], 2)
F.avg_pool3d(x, 2, divisor_override=0)
F.adaptive_avg_pool3d(x, (2,2))
F.adaptive_avg_pool3d(x[0,0], 2)
F.adaptive_avg_pool3d(x[:, :0], 2)
F.adaptive_avg_pool3d(x, (2,-1,3))
F.adaptive_avg_pool3d(x, (2,0,3))
F.adaptive_avg_pool3d(x.to(T.int64), 2)
F.adaptive_max_pool3d(x, (2,2))
F.adaptive_max_pool3d(x[0,0], 2)
F.adaptive_max_pool3d(x[:, :0], 2)
F.adaptive_max_pool3d(x, (2,-1,3))
F.adaptive_max_pool3d(x.to(T.int64), 2)
F.adaptive_avg_pool2d(x[0], (2,-1))
F.adaptive_avg_pool2d(x[0].to(T.int64), 2)
F.lp_pool3d(x, 0, 2)
F.max_unpool2d(o, i.int(), 2)
F.max_unpool2d(o, i[:1], 2)
F.max_unpool2d(o, i, 2, output_size=(3,3))
F.max_unpool2d(o, i, 2, output_size=(3,3,3))
F.max_unpool2d(o, i, 2, output_size=(2,3,9,9))
F.max_unpool2d(o[0,0], i[0,0], 2)
F.max_unpool2d(o[:, :0], i[:, :0], 2)
F.max_unpool2d(o[:0], i[:0], 2)
F.max_unpool2d(o[0], i[0], 2)
F.max_unpool3d(o3[None], i3[None], 2)
F.max_unpool3d(o3, i3.int(), 2)
F.max_unpool3d(o3, i3[:1], 2)
F.max_unpool3d(o3, i3, 2, 1, 3)
F.max_unpool3d(o3, i3, 2, (2,2,0), 0)
F.max_unpool1d(o1[0,0], i1[0,0], 2)
F.max_unpool1d(o1, i1, 2, output_size=[3])
F.fractional_max_pool2d(x4, 2)
F.fractional_max_pool2d(x4, 2, output_size=9)
F.fractional_max_pool2d(x4, 2, output_size=(9, 7))
F.fractional_max_pool2d(x4, (2,2,2), output_size=4)
F.fractional_max_pool2d(x4, 2, output_size=(4,4,4))
F.fractional_max_pool2d(x4, 2, output_ratio=(0.5,0.5,.5))
F.fractional_max_pool2d(x4, 2, output_ratio=0.5)
F.fractional_max_pool2d(x4, 2, output_ratio=(0.5,))
F.fractional_max_pool2d(x4[0,0], 2, output_size=4)
F.fractional_max_pool2d(x4[:, :0], 2, output_size=4)
F.fractional_max_pool2d(x4[:0], 2, output_size=4)
F.fractional_max_pool2d(x4, 2, output_size=4, _random_samples=T.rand(2,3,3, dtype=T.float64))
F.fractional_max_pool2d(x4, 2, output_size=4, _random_samples=T.rand(1,3,2, dtype=T.float64))
F.fractional_max_pool2d(x4, 2, output_size=4, _random_samples=T.rand(2,2,2, dtype=T.float64))
F.fractional_max_pool2d(x4, 2, output_size=4, _random_samples=T.rand(2,3,2))
F.fractional_max_pool2d(x4, 2, output_size=-1)
F.fractional_max_pool3d(y, 2, output_size=(5,3,3))
F.fractional_max_pool3d(y, 2, output_size=(2,3,9))
F.fractional_max_pool3d(x4, 2, output_size=2)
F.fractional_max_pool3d(y, 2)
F.fractional_max_pool3d(y[:, :0], 2, output_size=2)
F.fractional_max_pool3d(y[0,0], 2, output_size=2)
nn.FractionalMaxPool2d(2)
nn.FractionalMaxPool2d(2, 3, 0.5)
nn.FractionalMaxPool2d(2, output_ratio=1.5)
nn.FractionalMaxPool3d(2, output_ratio=1.5)
nn.FractionalMaxPool2d(2, output_ratio=0.5).output_ratio
nn.FractionalMaxPool3d((2,1,2), output_size=2).output_size
nn.MaxPool3d(2)
nn.MaxPool3d(2, 1, 1, 2, True, True)
nn.AvgPool3d((2,3,1), 1, 0, True, False, 3)
nn.AdaptiveAvgPool3d((2,None,3))
nn.AdaptiveMaxPool3d(2, True)
nn.LPPool3d(2, 3)
nn.MaxUnpool1d(2)
nn.MaxUnpool2d((2,3),None,1)
nn.MaxUnpool3d(2, 1, 1)
nn.MaxPool3d(2, return_indices=True)(x)[1]
nn.AvgPool3d(2)(x)
nn.AdaptiveMaxPool3d(2, True)(x)[1]
nn.MaxUnpool2d(2)(o, i, output_size=(9,9))
nn.MaxUnpool1d(2)(o1, i1)
nn.MaxUnpool3d(2)(o3, i3)
list(nn.MaxPool3d(2).state_dict())
F.max_pool3d_with_indices(x, 2)[1]
F.max_pool2d_with_indices(x4, 2, 1, 1)[1]
F.max_pool1d_with_indices(x4[0], 2)[1]
F.adaptive_max_pool3d_with_indices(x, 2)[1]
F.adaptive_max_pool2d_with_indices(x4, (2, 3))[1]
F.adaptive_max_pool1d_with_indices(x4[0], 3)[1]
F.fractional_max_pool2d_with_indices(x4, 2, 3)[1]
F.fractional_max_pool3d_with_indices(y, 2, output_ratio=0.5)[1]
""".strip().splitlines()


@pytest.mark.parametrize("expr", CASES)
def test_errors_reprs_and_shapes_as_torch(expr: str) -> None:
    check_same_outcome(expr, ARRAYS, POOLED)


def test_invalid_unpool_index_message() -> None:
    # PyTorch's threads report some invalid index; ndgrad the last one in memory order
    o, i = F.max_pool2d(ndgrad.randn(1, 2, 4, 4), 2, return_indices=True)
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: 1\d\d \(output "):
        F.max_unpool2d(o, i + 100, 2)
