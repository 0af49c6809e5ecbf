"""The tensor math ops added after the first op table (inverse trig, special functions,
float binaries, running extremes, searches, scatter reductions...): values, dtypes and errors
against torch 2.13 on integer, bool and edge inputs (inf, nan, 0, negatives). Gradients of
the differentiable ones are in the op table (test_ops_gradcheck / test_ops_vs_torch)."""

from __future__ import annotations

import pytest
import torch
from tests.ops._cases import check_expression

import ndgrad

E = "torch.tensor([0., -0., 1., -1., 0.5, 2., float('inf'), float('-inf'), float('nan')])"
I = "torch.tensor([-3, -1, 0, 1, 2, 5])"  # noqa: E741 - integer input
B = "torch.tensor([True, False, True])"
D = "torch.tensor([0.25, -0.75, 1.5], dtype=torch.float64)"

UNARY = (
    "asin acos atan asinh acosh atanh arcsin arccos arctan arcsinh arccosh arctanh tan "
    "deg2rad rad2deg sinc exp2 expm1 log1p log2 log10 rsqrt erf erfc erfinv lgamma digamma "
    "i0 isposinf isneginf isreal logit frac sgn positive"
).split()

POINTWISE = [f"torch.{op}({x})" for op in UNARY for x in (E, I, D)]
POINTWISE += [f"torch.{op}({B})" for op in "asin atan deg2rad sinc erf exp2 isposinf".split()]
POINTWISE += [f"{E}.{op}()" for op in ("atanh", "arcsin", "lgamma", "i0", "digamma")]
POINTWISE += [
    f"torch.{op}({a}, {b})"
    for op in ("atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "xlogy", "copysign")
    + ("fmax", "fmin", "nextafter", "float_power", "ldexp", "heaviside", "gcd", "lcm")
    for a, b in ((E, f"{E}.flip(0)"), (I, f"{I}.flip(0)"), (D, "torch.tensor(0.5)"))
]
POINTWISE += [
    "torch.xlogy(2, torch.tensor([0., 1., float('nan')]))",
    "torch.xlogy(torch.tensor([0., 0., 1.]), 3)",
    "torch.xlogy(torch.tensor([0., 0., 1.]), torch.tensor([float('nan'), 0., 0.]))",
    "torch.copysign(torch.tensor([1, -2, 3]), -1)",
    "torch.copysign(torch.tensor([1., 2.]), torch.tensor([-0., 0.]))",
    "torch.float_power(torch.tensor([1, 2, 3]), -1)",
    "torch.float_power(2, torch.tensor([1, 2, 3]))",
    "torch.float_power(torch.tensor([1., 2.]), 0.5).dtype",
    "torch.hypot(torch.tensor([3.]), 4)",
    "torch.logaddexp(torch.tensor([1, 2]), torch.tensor([1, 2]))",
    "torch.heaviside(torch.tensor([-1., 0., 2.]), torch.tensor([0.5]))",
    "torch.heaviside(torch.tensor([-1, 0, 2]), torch.tensor(7))",
    "torch.heaviside(torch.tensor([-1., 0.]), torch.tensor(1., dtype=torch.float64))",
    "torch.heaviside(torch.tensor([-1., 0.]), 0.5)",
    "torch.gcd(torch.tensor([-4, 0, 6]), torch.tensor([6, 0, -9]))",
    "torch.lcm(torch.tensor([-4, 0, 6]), torch.tensor([6, 0, -9]))",
    "torch.gcd(torch.tensor([1.]), torch.tensor([2.]))",
    "torch.gcd(torch.tensor([True]), torch.tensor([True]))",
    "torch.nextafter(torch.tensor([0., 1.]), torch.tensor([1., 0.]))",
    "torch.ldexp(torch.tensor([1., 2.]), torch.tensor([3, -1]))",
    "torch.logit(torch.tensor([-0.5, 0., 0.2, 1., 1.5]), eps=0.1)",
    "torch.logit(torch.tensor([-0.5, 0., 0.2, 1., 1.5]))",
    "torch.polygamma(1, torch.tensor([0.5, 1., 3.]))",
    "torch.polygamma(3, torch.tensor([1, 2]))",
    "torch.polygamma(-1, torch.tensor([1.]))",
    "torch.tensor([0.5, 2.]).polygamma(2)",
    "torch.mvlgamma(torch.tensor([2.5, 4.]), 3)",
    "torch.mvlgamma(torch.tensor([3, 4]), 2)",
    "torch.mvlgamma(torch.tensor([0.5, 1.]), 3)",
    "torch.mvlgamma(torch.tensor([2.]), 0)",
    "tuple(torch.frexp(torch.tensor([0., 1., -3.5, 1e-30, float('inf')])))",
    "torch.frexp(torch.tensor([8.], dtype=torch.float64)).exponent",
    "torch.frexp(torch.tensor([1, 2]))",
    "torch.isin(torch.tensor([1, 2, 3, 4]), torch.tensor([2, 4]))",
    "torch.isin(torch.tensor([[1., 2.], [3., 4.]]), torch.tensor([2, 4]), invert=True)",
    "torch.isin(torch.tensor([1, 2]), 2)",
    "torch.isin(2, torch.tensor([1, 2]))",
    "torch.positive(torch.tensor([True]))",
    "torch.tensor([1, 2]).is_signed()",
    "torch.tensor([1, 2], dtype=torch.uint8).is_signed()",
    "torch.is_signed(torch.tensor([1.]))",
    "torch.tensor([True]).is_signed()",
    "torch.is_complex(torch.tensor([1.]))",
    "torch.ones(2, 3).is_same_size(torch.ones(3, 2))",
    "(torch.ones(2, 3).nbytes, torch.ones(2, dtype=torch.int16).itemsize, torch.ones(1).is_cpu)",
    "torch.special.expit(torch.tensor([-100., 0., 3.]))",
    "torch.special.ndtr(torch.tensor([-1., 0., 2.]))",
    "torch.special.i1(torch.tensor([-1., 0., 2.]))",
    "torch.special.xlogy(torch.tensor([0., 2.]), torch.tensor([0., 3.]))",
    "torch.special.gammaln(torch.tensor([0.5, 3.]))",
    "torch.special.multigammaln(torch.tensor([2.5]), 2)",
]

INPLACE = [
    f"torch.tensor([0.25, -0.5, 0.75]).{op}_()"
    for op in "asin acos atan asinh atanh arcsin arctan tan exp2 expm1 log1p erf erfc erfinv "
    "sinc deg2rad rad2deg lgamma digamma i0 sgn frac negative".split()
]
INPLACE += [
    "torch.tensor([1, 2, 3]).exp2_()",
    "torch.tensor([1, 2, 3]).atan2_(torch.tensor([1, 2, 3]))",
    "torch.tensor([1., 2.]).atan2_(torch.tensor([1., -2.]))",
    "torch.tensor([1., 2.]).hypot_(torch.tensor([2., 2.]))",
    "torch.tensor([1., 2.]).xlogy_(3)",
    "torch.tensor([1., -2.]).copysign_(-1)",
    "torch.tensor([1., 2.], dtype=torch.float64).float_power_(2)",
    "torch.tensor([1., 2.]).float_power_(2)",
    "torch.tensor([0.2, 0.6]).logit_(0.3)",
    "torch.tensor([12, 18]).gcd_(torch.tensor([8, 27]))",
    "torch.tensor([1., 2.]).ldexp_(torch.tensor([2, 3]))",
    "torch.tensor([0.5, 2.]).polygamma_(1)",
    "torch.tensor([2.5, 3.]).mvlgamma_(2)",
    "torch.tensor([1, 2, 3]).eq_(2)",
    "torch.tensor([1., 2., 3.]).lt_(torch.tensor([2., 2., 2.]))",
    "torch.tensor([True, False]).ge_(torch.tensor([True, True]))",
    "torch.tensor([1, 0, 3]).greater_(1)",
    "torch.tensor([1., 0., 3.]).less_equal_(1)",
    "torch.tensor([1., 0., 3.]).not_equal_(0)",
    "torch.tensor([1, 0, 3]).logical_and_(torch.tensor([True, True, False]))",
    "torch.tensor([1., 0., 3.]).logical_not_()",
    "torch.tensor([1., 0.]).logical_xor_(torch.tensor([1., 1.]))",
    "torch.tensor([1, -2]).negative_()",
    "torch.tensor([[1., 2.], [3., 4.]]).cumsum_(1)",
    "torch.tensor([[1, 2], [3, 4]]).cumprod_(0)",
    "torch.ones(2, 3).swapaxes_(0, 1).shape",
    "torch.ones(2, 3, 4).swapdims_(0, 2).shape",
]

REDUCTIONS = [
    "tuple(torch.cummax(torch.tensor([1., 3., 2., 3., float('nan'), 1.]), 0))",
    "tuple(torch.cummin(torch.tensor([[2, 1, 1, 3], [0, -1, 5, -1]]), 1))",
    "tuple(torch.cummax(torch.tensor([True, False, True]), 0))",
    "tuple(torch.cummax(torch.tensor(3.), 0))",
    "tuple(torch.cummax(torch.ones(2, 0), 1))",
    "torch.cummax(torch.ones(2), 1)",
    "torch.logcumsumexp(torch.tensor([[-1000., 0., 1000.], [1., float('inf'), 3.]]), 1)",
    "torch.logcumsumexp(torch.tensor([1, 2, 3]), 0)",
    "torch.logcumsumexp(torch.tensor([-float('inf'), -float('inf'), 0.]), 0)",
    "torch.diff(torch.tensor([1, 3, 6, 10]), n=2)",
    "torch.diff(torch.tensor([True, False, False]))",
    "torch.diff(torch.tensor([[1., 2.], [4., 8.]]), dim=0, prepend=torch.zeros(1, 2))",
    "torch.diff(torch.tensor([1., 2.]), append=torch.tensor([5., 9.]), n=3)",
    "torch.diff(torch.tensor([1., 2.]), n=5)",
    "torch.diff(torch.tensor(1.))",
    "torch.diff(torch.ones(3), n=-1)",
    "torch.diff(torch.ones(3), prepend=torch.ones(2, 2))",
    "torch.nanmean(torch.tensor([[1., float('nan')], [float('nan'), float('nan')]]), 1)",
    "torch.tensor([1., float('nan'), 3.]).nanmean()",
    "torch.nanmean(torch.tensor([1, 2]))",
    "torch.nanquantile(torch.tensor([[1., float('nan'), 3., 4.], [float('nan')] * 4]), 0.4, 1)",
    "torch.nanquantile(torch.tensor([1., float('nan'), 3.]), torch.tensor([0.2, 0.9]))",
    "torch.nanquantile(torch.tensor([[1., float('nan')], [2., 5.]]), 0.5, 0, keepdim=True)",
    "torch.nanquantile(torch.tensor([1., 2.]), 1.5)",
    "torch.cov(torch.tensor([[0., 1., 2.], [2., 1., 0.5]]))",
    "torch.cov(torch.tensor([[1, 2, 5]]))",
    "torch.cov(torch.tensor([1., 2.]), correction=2)",
    "torch.cov(torch.tensor([[1., 2., 4.]]), fweights=torch.tensor([1, 2, 1]))",
    "torch.cov(torch.tensor([[1., 2., 4.]]), aweights=torch.tensor([0.5, 1., 2.]))",
    "torch.cov(torch.tensor([[1., 2.]]), fweights=torch.tensor([1., 2.]))",
    "torch.cov(torch.ones(2, 2, 2))",
    "torch.corrcoef(torch.tensor([[0., 1., 2.], [2., 1., 0.5], [1., 1., 1.]]))",
    "torch.corrcoef(torch.tensor([1., 2., 4.]))",
    "torch.trapezoid(torch.tensor([1, 2, 4]))",
    "torch.trapezoid(torch.tensor([[1., 2., 4.]]), torch.tensor([0., 1., 3.]))",
    "torch.trapezoid(torch.tensor([1., 2., 4.]), dx=0.5)",
    "torch.trapz(torch.tensor([1., 2., 4.]), torch.tensor([0., 2., 3.]))",
    "torch.trapezoid(torch.ones(2, 0))",
    "torch.cumulative_trapezoid(torch.tensor([[1., 2., 4.], [0., 1., -1.]]))",
    "torch.cumulative_trapezoid(torch.tensor([1., 2., 4.]), torch.tensor([0., 1., 3.]))",
    "tuple(torch.histogram(torch.tensor([1., 2., 1., 4., 2.5]), 3))",
    "tuple(torch.histogram(torch.tensor([1., 2., 1.]), bins=4, range=(0., 4.), density=True))",
    "tuple(torch.histogram(torch.tensor([1., 2., 5.]), torch.tensor([0., 1., 3.]), "
    "weight=torch.tensor([2., 3., 4.])))",
    "torch.histogram(torch.tensor([1, 2]), 3)",
    "torch.histc(torch.tensor([1., 2., 1.]), bins=4, min=0, max=3)",
]

LINALG_SHAPES = [
    "torch.kron(torch.tensor([[1, 2], [3, 4]]), torch.tensor([[0, 1], [1, 0]]))",
    "torch.kron(torch.tensor([1., 2.]), torch.ones(2, 2, dtype=torch.float64))",
    "torch.tensordot(torch.arange(6.).reshape(2, 3), torch.arange(6.).reshape(3, 2), dims=1)",
    "torch.tensordot(torch.ones(2, 3, 4), torch.ones(4, 3, 5), dims=([1, 2], [1, 0])).shape",
    "torch.tensordot(torch.ones(2, 3), torch.ones(2, 3))",
    "torch.tensordot(torch.ones(2, 3), torch.ones(2, 3), dims=1)",
    "torch.chain_matmul(torch.ones(2, 3), torch.ones(3, 4), torch.ones(4, 1))",
    "torch.addbmm(torch.ones(2, 2), torch.ones(3, 2, 4), torch.ones(3, 4, 2), beta=0.5, alpha=2)",
    "torch.addbmm(torch.full((2, 2), float('nan')), torch.ones(1, 2, 1), torch.ones(1, 1, 2), "
    "beta=0)",
    "torch.ones(2, 2).addbmm_(torch.ones(1, 2, 3), torch.ones(1, 3, 2))",
    "torch.addr(torch.zeros(2, 3), torch.tensor([1., 2.]), torch.tensor([1., 0., -1.]), alpha=3)",
    "torch.addr(torch.zeros(2, 2, dtype=torch.bool), torch.tensor([True, False]), "
    "torch.tensor([True, True]))",
    "torch.addr(torch.zeros(2, 2), torch.ones(3), torch.ones(3))",
    "torch.zeros(2, 2).addr_(torch.ones(2), torch.ones(2))",
    "torch.cross(torch.tensor([[1., 0., 0.]]), torch.tensor([[0., 1., 0.]]), dim=1)",
    "torch.linalg.cross(torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6]))",
    "torch.linalg.cross(torch.ones(3, 2), torch.ones(3, 2))",
    "torch.tensor([[1., 2., 3.]]).cross(torch.tensor([[3., 2., 1.]]), dim=-1)",
    "torch.block_diag(torch.tensor([[1, 2]]), torch.tensor(3.), torch.tensor([4, 5]))",
    "torch.block_diag(torch.ones(2, 2, 2))",
    "torch.rot90(torch.arange(6).reshape(2, 3), -1, [1, 0])",
    "torch.arange(6).reshape(2, 3).rot90(6)",
    "torch.rot90(torch.ones(3))",
    "torch.rot90(torch.ones(2, 2), 1, [0, 0])",
    "torch.vander(torch.tensor([1, 2, 3]), N=4, increasing=True)",
    "torch.vander(torch.tensor([0.5, -2.]))",
    "torch.vander(torch.tensor([True, False]), 3)",
    "torch.vander(torch.tensor([1., 2.]), 0)",
    "torch.tril_indices(3, 4, 1)",
    "torch.triu_indices(4, 3, -1, dtype=torch.int32)",
    "torch.tril_indices(0, 3)",
    "torch.tril_indices(-1, 3)",
    "torch.diag_embed(torch.tensor([[1, 2], [3, 4]]), -1, 0, 2)",
    "torch.diag_embed(torch.tensor([1., 2.]), 1)",
    "torch.diag_embed(torch.ones(2), 0, 0, 0)",
    "torch.diagflat(torch.tensor([[1, 2], [3, 4]]), 1)",
    "torch.ones(2, 3, 4).diagonal(1, 2, 0)",
    "torch.renorm(torch.tensor([[3., 4.], [0.3, 0.4]]), 2, 0, 1.)",
    "torch.renorm(torch.tensor([1., 2.]), 2, 0, 1.)",
    "torch.renorm(torch.tensor([[1, 2]]), 2, 0, 1.)",
    "torch.moveaxis(torch.ones(2, 3, 4), (0, 1), (2, 0)).shape",
]

INDEXING = [
    f"torch.tensor([[1., 2., 3.], [4., 5., 6.]]).scatter_reduce(1, "
    f"torch.tensor([[0, 1, 0], [2, 2, 1]]), torch.tensor([[10., -20., 30.], [50., 60., 70.]]), "
    f"'{r}', include_self={inc})"
    for r in ("sum", "prod", "mean", "amax", "amin", "max")
    for inc in (True, False)
]
INDEXING += [
    f"torch.tensor([[1, 2, 3], [4, 5, 6]]).scatter_reduce(1, torch.tensor([[0, 1, 0]]), "
    f"torch.tensor([[10, -20, 31]]), '{r}', include_self=False)"
    for r in ("sum", "prod", "mean", "amax", "amin")
]
INDEXING += [
    "torch.ones(2).scatter_reduce(0, torch.tensor([0]), torch.ones(1), 'median')",
    "torch.ones(2).scatter_reduce(0, torch.tensor([2]), torch.ones(1), 'sum')",
    "torch.ones(2, 3).index_add(1, torch.tensor([0, 2, 0]), torch.ones(2, 3), alpha=2)",
    "torch.index_add(torch.ones(2, 3, dtype=torch.int64), 0, torch.tensor([1, 1]), "
    "torch.ones(2, 3, dtype=torch.int64))",
    "torch.ones(2, 3).index_add(0, torch.tensor([1]), torch.ones(2, 3))",
    "torch.ones(2, 3).index_add(0, torch.tensor([1]), torch.ones(1, 3, dtype=torch.float64))",
    "torch.ones(2, 3).index_add(0, torch.tensor([5]), torch.ones(1, 3))",
    "torch.ones(2, 3).index_add_(0, torch.tensor([1]), torch.ones(1, 3))",
    "torch.index_copy(torch.ones(2, 3), 1, torch.tensor([2, 0]), torch.zeros(2, 2))",
    "torch.ones(2, 3).index_copy_(0, torch.tensor([1]), torch.zeros(1, 3))",
    "torch.ones(2, 3).index_reduce(1, torch.tensor([0, 2, 0]), torch.full((2, 3), 2.), 'prod')",
    "torch.ones(2, 3).index_reduce(0, torch.tensor([0, 0]), torch.tensor([[9., -1, 2], "
    "[3., 4, 5]]), 'amax', include_self=False)",
    "torch.ones(2, 3).index_reduce(0, torch.tensor([0, 0]), torch.full((2, 3), 9.), 'mean')",
    "torch.ones(2, 3).index_reduce(0, torch.tensor([0, 0]), torch.full((2, 3), 9.), 'sum')",
    "torch.ones(2, 3).index_reduce_(0, torch.tensor([1]), torch.full((1, 3), 4.), 'amin')",
    "torch.index_put(torch.zeros(2, 3), (torch.tensor([0, 0, 1]), torch.tensor([1, 1, 2])), "
    "torch.tensor(5.), accumulate=True)",
    "torch.zeros(2, 3).index_put((torch.tensor([0, 1]),), torch.tensor([7., 8., 9.]))",
    "torch.zeros(2, 3).index_put_((torch.tensor([0, 0]), torch.tensor([2, 2])), "
    "torch.tensor([1., 2.]), True)",
    "torch.zeros(2, 3).index_put((torch.tensor([0]),), torch.tensor([1.], dtype=torch.float64), "
    "True)",
    "torch.zeros(2, 3).masked_scatter(torch.tensor([[True, False, True], [False, True, True]]), "
    "torch.arange(10.))",
    "torch.masked_scatter(torch.zeros(2, 3), torch.tensor([True, False, True]), torch.ones(4))",
    "torch.zeros(2, 3).masked_scatter_(torch.tensor([[True], [False]]), torch.arange(5.))",
    "torch.zeros(2, 3).masked_scatter(torch.ones(2, 3, dtype=torch.bool), torch.ones(3))",
    "torch.zeros(2, 3).masked_scatter(torch.ones(2, 3), torch.ones(6))",
    "torch.select_scatter(torch.zeros(2, 3), torch.ones(3), 0, 1)",
    "torch.select_scatter(torch.zeros(2, 3), torch.ones(2), 1, -1)",
    "torch.select_scatter(torch.zeros(2, 3), torch.ones(3), 1, 0)",
    "torch.slice_scatter(torch.zeros(4, 4), torch.ones(2, 4), start=1, end=3)",
    "torch.zeros(4, 4).slice_scatter(torch.ones(4, 2), 1, step=2)",
    "torch.slice_scatter(torch.zeros(4, 4), torch.ones(4, 3), 1, step=2)",
    "torch.diagonal_scatter(torch.zeros(3, 4), torch.ones(3), 1)",
    "torch.diagonal_scatter(torch.zeros(2, 3, 4), torch.ones(2, 3), 0, 1, 2)",
    "torch.diagonal_scatter(torch.zeros(3, 3), torch.ones(3), -1)",
]

SEARCHES = [
    "torch.searchsorted(torch.tensor([1., 3., 5., 7., 9.]), torch.tensor([[3, 6, 9], [0, 10, 5]]))",
    "torch.searchsorted(torch.tensor([1, 3, 5]), torch.tensor([3., 6.]), right=True)",
    "torch.searchsorted(torch.tensor([1, 3, 5]), 3)",
    "torch.searchsorted(torch.tensor([1, 3, 5]), 3, side='right', out_int32=True)",
    "torch.searchsorted(torch.tensor([[1., 3., 5.], [2., 4., 6.]]), torch.tensor([[2., 6.], "
    "[1., 7.]]))",
    "torch.searchsorted(torch.tensor([1., 3.]), torch.tensor([1.]), right=True, side='left')",
    "torch.searchsorted(torch.tensor([1., 3.]), torch.tensor([1.]), side='middle')",
    "torch.searchsorted(torch.tensor([5., 1., 3.]), torch.tensor([2., 4.]), "
    "sorter=torch.tensor([1, 2, 0]))",
    "torch.searchsorted(torch.tensor([[1., 3.], [2., 4.]]), torch.tensor([2., 6.]))",
    "torch.searchsorted(torch.tensor([1., 2., 3.]), torch.tensor([float('nan'), "
    "float('inf'), -float('inf')]))",
    "torch.bucketize(torch.tensor([[3, 6, 9], [3, 6, 9]]), torch.tensor([1, 3, 5, 7, 9]))",
    "torch.bucketize(torch.tensor([1., 9., 10.]), torch.tensor([1., 3., 9.]), right=True)",
    "torch.bucketize(3, torch.tensor([1, 3, 5]))",
    "torch.bucketize(torch.tensor([1.]), torch.ones(2, 2))",
]


@pytest.mark.parametrize(
    "expr", POINTWISE + INPLACE + REDUCTIONS + LINALG_SHAPES + INDEXING + SEARCHES
)
def test_matches_torch(expr: str) -> None:
    check_expression(expr)


# torch's exception class and its words for bad input
MESSAGES = [
    "torch.hypot(torch.tensor([1, 2]), torch.tensor([1, 2]))",
    "torch.hypot(torch.tensor([1.]), 2)",
    "torch.heaviside(torch.tensor([-1., 0.]), torch.tensor(1., dtype=torch.float64))",
    "torch.gcd(torch.tensor([1.]), torch.tensor([2.]))",
    "torch.polygamma(-1, torch.tensor([1.]))",
    "torch.frexp(torch.tensor([1, 2]))",
    "torch.diff(torch.ones(3), n=-1)",
    "torch.nanmean(torch.tensor([1, 2]))",
    "torch.rot90(torch.ones(2, 2), 1, [0, 0])",
    "torch.renorm(torch.tensor([1., 2.]), 2, 0, 1.)",
    "torch.tensordot(torch.ones(2, 3), torch.ones(2, 3), dims=1)",
    "torch.ones(2, 3).index_add(0, torch.tensor([1]), torch.ones(2, 3))",
    "torch.zeros(2, 3).masked_scatter(torch.ones(2, 3, dtype=torch.bool), torch.ones(3))",
    "torch.searchsorted(torch.tensor([1., 3.]), torch.tensor([1.]), right=True, side='left')",
    "torch.tensor([1, 2, 3]).exp2_()",
]


def _raise(lib: object, expr: str) -> tuple[type, str]:
    try:
        eval(expr, {"torch": lib})  # noqa: S307 - this file's own test cases
    except Exception as exc:  # noqa: BLE001 - its class and message are compared
        return type(exc), str(exc)
    raise AssertionError(f"{expr} did not raise")


@pytest.mark.parametrize("expr", MESSAGES)
def test_bad_input_raises_torch_error(expr: str) -> None:
    ours, ref = _raise(ndgrad, expr), _raise(torch, expr)
    assert ours[0].__name__ == ref[0].__name__, (ours, ref)
    # torch's words, give or take the op name ndgrad puts first
    assert ref[1].split("\n")[0] in ours[1] or ours[1].endswith(ref[1].split("\n")[0]), (
        ours[1],
        ref[1],
    )


def test_ldexp_gradient_is_torchs_integer_power() -> None:
    """torch 2.13 multiplies ldexp's gradient by ``2 ** other`` in other's integer dtype: 0
    where other < 0 (not the true derivative); ndgrad gives the same numbers."""
    grads = []
    for lib in (ndgrad, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        lib.ldexp(x, lib.tensor([2, -1, 0])).sum().backward()
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1] == [4.0, 0.0, 1.0]


def test_cummax_gradient_goes_to_the_winning_index() -> None:
    grads = []
    for lib in (ndgrad, torch):
        x = lib.tensor([[1.0, 3.0, 2.0, 3.0], [0.0, -1.0, 5.0, 5.0]], requires_grad=True)
        values, _ = lib.cummax(x, 1)
        (values * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1]


def test_scatter_reduce_amax_gradient_splits_ties() -> None:
    grads = []
    for lib in (ndgrad, torch):
        x = lib.tensor([1.0, 5.0, 2.0], requires_grad=True)
        src = lib.tensor([5.0, 5.0, 0.5], requires_grad=True)
        out = x.scatter_reduce(0, lib.tensor([1, 1, 2]), src, "amax")
        (out * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        grads.append((x.grad.tolist(), src.grad.tolist()))
    assert grads[0] == grads[1]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize(
    "xs, ss",
    [
        ([2.0, 0.0, 3.0], [0.0, 4.0, 5.0]),
        ([2.0, 1.0, 3.0], [0.0, 0.0, 5.0]),
        ([0.0, 1.0, 3.0], [2.0, 0.0, 5.0]),
        ([0.0, 1.0, 3.0], [2.0, 7.0, 5.0]),
    ],
)
def test_scatter_reduce_prod_gradient_with_zeros(include_self, xs, ss) -> None:
    """A zero factor's gradient is the product of the others (torch's masked rule)."""
    results = []
    for lib in (ndgrad, torch):
        x = lib.tensor(xs, requires_grad=True)
        src = lib.tensor(ss, requires_grad=True)
        out = x.scatter_reduce(0, lib.tensor([0, 1, 1]), src, "prod", include_self=include_self)
        (out * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        results.append((out.tolist(), x.grad.tolist(), src.grad.tolist()))
    assert results[0] == results[1]
