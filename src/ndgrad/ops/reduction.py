"""Reductions: sum, mean, prod, var/std, max/min, norms, logsumexp, softmax, cumsum.

Each op saves what PyTorch's derivatives.yaml saves: the result where its rule reads it
(prod, std, max/amax, cumprod, logsumexp, softmax, log_softmax, norm), the input otherwise.
"""

from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple
from typing import Any

import numpy as np

from ndgrad import _dtype, _parallel
from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.ops._common import (
    method,
    named,
    normalize_dims,
    not_implemented,
    record,
    return_type,
    to_float,
    wrap_dim,
)
from ndgrad.ops.pointwise import _ignore

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
_RESULT_TYPES = {name: return_type(name) for name in ("max", "min", "cummax", "cummin")}


def _kept(a: Any, dims: tuple[int, ...], keepdim: bool, shape: tuple) -> Any:
    """A reduced array or Tensor brought back to the input's rank (size 1 along ``dims``)."""
    if not keepdim and dims and len(shape):
        return a.reshape(tuple([1 if i in dims else s for i, s in enumerate(shape)]))
    return a


def _all_if_empty(dim: Any) -> Any:
    """An empty list of dims reduces over all of them, as in PyTorch's sum/mean/amax/amin."""
    return None if isinstance(dim, list | tuple) and not dim else dim


@method("sum")
def sum(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    dims = normalize_dims(_all_if_empty(dim), x._data.ndim, "sum")
    np_dtype = _dtype.to_dtype(dtype).np if dtype is not None else None
    if np_dtype is None and x._data.dtype.kind in "bui":
        np_dtype = np.dtype(np.int64)
    xp = array_module(x._data)
    # np.add.reduce is what np.sum calls, without its 1 us of argument handling.
    reduce = np.add.reduce if xp is np else xp.sum
    data = reduce(x._data, axis=dims, dtype=np_dtype, keepdims=keepdim)
    shape = x._data.shape

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.unreduce(g, dims, keepdim, shape),)

    return record("SumBackward0" if dim is None else "SumBackward1", data, (x,), rule)


@method("mean")
def mean(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {_dtype.SCALAR_NAMES[x._data.dtype.name]}"
        )
    dims = normalize_dims(_all_if_empty(dim), x._data.ndim, "mean")
    count = 1
    for d in dims:
        count *= x._data.shape[d]
    with _ignore():
        xp = array_module(x._data)
        data = xp.mean(x._data, axis=dims, keepdims=keepdim)
    shape = x._data.shape

    def rule(xp: Any, g: Any) -> tuple:
        return (xp.unreduce(g, dims, keepdim, shape) / count,)

    return record("MeanBackward0" if dim is None else "MeanBackward1", data, (x,), rule)


@method("prod")
def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        dims, keepdim = tuple(range(x._data.ndim)), False
    else:
        dims = (wrap_dim(dim, x._data.ndim, "prod"),) if x._data.ndim else ()
    np_dtype = np.int64 if x._data.dtype.kind in "bui" else None
    xp = array_module(x._data)
    data = xp.prod(x._data, axis=dims, keepdims=keepdim, dtype=np_dtype)
    shape = x._data.shape

    def rule(xp: Any, g: Any, x: Any, result: Any) -> tuple:
        # result / x where x has no zeros; the product of the others where it has exactly one.
        g, r = _kept(g, dims, keepdim, shape), _kept(result, dims, keepdim, shape)
        is_zero = x == 0
        zeros = is_zero.sum(axis=dims, keepdims=True)
        nonzero = xp.where(is_zero, 1.0, x)
        with xp.quiet():
            others = xp.where(
                zeros == 0,
                r / nonzero,
                xp.where(
                    xp.logical_and(is_zero, zeros == 1),
                    xp.prod(nonzero, axis=dims, keepdims=True),
                    0.0,
                ),
            )
        return (g * others,)

    name = "ProdBackward0" if dim is None else "ProdBackward1"
    return record(name, data, (x,), rule, (x,), save_output=True)


def _var_args(
    x: Tensor, dim: Any, unbiased: bool | None, correction: float | None, op: str
) -> tuple:
    if isinstance(dim, bool):  # the legacy var(input, unbiased) form
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if x._data.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = normalize_dims(dim, x._data.ndim, op)
    n = 1
    for d in dims:
        n *= x._data.shape[d]
    if n - correction <= 0:
        warnings.warn(
            f"{op}(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "reduction factor (input numel divided by output numel).",
            UserWarning,
            stacklevel=4,
        )
    return dims, n, builtins.max(n - correction, 0)


def _var_data(x: Tensor, dims: tuple, keepdim: bool, n: int, dof: float) -> Any:
    d = x._data
    xp = array_module(d)
    with _ignore():
        centered = d - xp.sum(d, axis=dims, keepdims=True) / d.dtype.type(builtins.max(n, 1))
        sq_sum = xp.sum(centered * centered, axis=dims, keepdims=keepdim)
        return (sq_sum / d.dtype.type(dof)).astype(d.dtype, copy=False)


def _var_grad(xp: Any, g: Any, x: Any, dims: tuple, n: int, dof: float) -> Any:
    """``2 (x - mean) / (n - correction)`` times ``g`` (kept to x's rank)."""
    with xp.quiet():
        centered = x - x.sum(axis=dims, keepdims=True) / builtins.max(n, 1)
        return g * (2.0 / dof if dof else math.inf) * centered


@method("var")
def var(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    dims, n, dof = _var_args(x, dim, unbiased, correction, "var")
    data = _var_data(x, dims, keepdim, n, dof)
    shape = x._data.shape

    def rule(xp: Any, g: Any, x: Any) -> tuple:
        return (_var_grad(xp, _kept(g, dims, keepdim, shape), x, dims, n, dof),)

    return record("VarBackward0", data, (x,), rule, (x,))


@method("std")
def std(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    dims, n, dof = _var_args(x, dim, unbiased, correction, "std")
    with _ignore():
        data = array_module(x._data).sqrt(_var_data(x, dims, keepdim, n, dof))
    shape = x._data.shape

    def rule(xp: Any, g: Any, x: Any, result: Any) -> tuple:
        g, r = _kept(g, dims, keepdim, shape), _kept(result, dims, keepdim, shape)
        with xp.quiet():
            gv = xp.where(r == 0, 0.0, g / (2 * r))
        return (_var_grad(xp, gv, x, dims, n, dof),)

    return record("StdBackward0", data, (x,), rule, (x,), save_output=True)


def var_mean(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    return var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def std_mean(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    return std(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def _spread_rule(dims: tuple, keepdim: bool, shape: tuple) -> Any:
    """The rule of max/min/amax/amin over ``dims``: ties share the gradient evenly."""

    def rule(xp: Any, g: Any, x: Any, result: Any) -> tuple:
        hit = x == _kept(result, dims, keepdim, shape)
        count = hit.sum(axis=dims, keepdims=True)
        return (_kept(g, dims, keepdim, shape) * hit / count,)

    return rule


def _extreme_all(x: Tensor, name: str, fn: str) -> Tensor:
    if x._data.size == 0:
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument."
        )
    data = getattr(array_module(x._data), fn)(x._data)
    rule = _spread_rule(tuple(range(x._data.ndim)), False, x._data.shape)
    return record(name.capitalize() + "Backward1", data, (x,), rule, (x,), save_output=True)


def select_rule(shape: tuple, d: int, keepdim: bool) -> Any:
    """The rule of values picked along ``d`` at saved ``indices`` (max/min/median/kthvalue
    with a dim): the gradient goes back to the picked elements."""

    def rule(xp: Any, g: Any, indices: Any) -> tuple:
        if not shape:
            return (g,)
        index = _kept(indices, (d,), keepdim, shape)
        return (xp.put_along_axis_zeros(shape, index, _kept(g, (d,), keepdim, shape), d),)

    return rule


def _extreme_dim(x: Tensor, dim: int, keepdim: bool, name: str, argfn: str) -> ValuesIndices:
    d = wrap_dim(dim, x._data.ndim, name)
    if x._data.ndim and x._data.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    data = x._data if x._data.ndim else x._data.reshape(1)
    xp = array_module(x._data)
    idx = xp.expand_dims(getattr(xp, argfn)(data, axis=d), d)
    values = xp.take_along_axis(data, idx, axis=d)
    if not keepdim or not x._data.ndim:
        idx, values = xp.squeeze(idx, d), xp.squeeze(values, d)
    if not x._data.ndim:
        idx, values = idx.reshape(()), values.reshape(())
    indices = Tensor._make(idx.astype(np.int64))
    rule = select_rule(x._data.shape, d, keepdim)
    values_t = record(name.capitalize() + "Backward0", values, (x,), rule, (indices,))
    return _RESULT_TYPES.get(name, ValuesIndices)(values_t, indices)


@method("max")
def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    if isinstance(dim, Tensor):
        from ndgrad.ops.pointwise import maximum

        return maximum(x, dim)
    if dim is None:
        return _extreme_all(x, "max", "max")
    return _extreme_dim(x, dim, keepdim, "max", "argmax")


@method("min")
def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    if isinstance(dim, Tensor):
        from ndgrad.ops.pointwise import minimum

        return minimum(x, dim)
    if dim is None:
        return _extreme_all(x, "min", "min")
    return _extreme_dim(x, dim, keepdim, "min", "argmin")


@method("amax")
def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    if dim in ((), None) and not x._data.size:
        raise RuntimeError(
            "amax(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument."
        )
    dims = normalize_dims(_all_if_empty(dim), x._data.ndim, "amax")
    return _amaxmin(x, dims, keepdim, "max", "AmaxBackward0")


@method("amin")
def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    if dim in ((), None) and not x._data.size:
        raise RuntimeError(
            "amin(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument."
        )
    dims = normalize_dims(_all_if_empty(dim), x._data.ndim, "amin")
    return _amaxmin(x, dims, keepdim, "min", "AminBackward0")


def _amaxmin(x: Tensor, dims: tuple, keepdim: bool, fn: str, name: str) -> Tensor:
    for d in dims:
        if x._data.ndim and x._data.shape[d] == 0:
            raise IndexError(f"a{fn}(): Expected reduction dim {d} to have non-zero size.")
    data = getattr(array_module(x._data), fn)(x._data, axis=dims, keepdims=keepdim)
    rule = _spread_rule(dims, keepdim, x._data.shape)
    return record(name, data, (x,), rule, (x,), save_output=True)


def _check_not_empty(x: Tensor, name: str) -> None:
    if not x._data.size:
        raise IndexError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
        )


@method("argmax")
def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        _check_not_empty(x, "argmax")
        xp = array_module(x._data)
        return Tensor._make(xp.asarray(xp.argmax(x._data), dtype=np.int64))
    return _extreme_dim(x.detach(), dim, keepdim, "argmax", "argmax").indices


@method("argmin")
def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        _check_not_empty(x, "argmin")
        xp = array_module(x._data)
        return Tensor._make(xp.asarray(xp.argmin(x._data), dtype=np.int64))
    return _extreme_dim(x.detach(), dim, keepdim, "argmin", "argmin").indices


@method("all")
def all(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = normalize_dims(dim, x._data.ndim, "all")
    xp = array_module(x._data)
    return Tensor._make(xp.all(x._data, axis=dims, keepdims=keepdim))


@method("any")
def any(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = normalize_dims(dim, x._data.ndim, "any")
    xp = array_module(x._data)
    return Tensor._make(xp.any(x._data, axis=dims, keepdims=keepdim))


@method("count_nonzero")
def count_nonzero(x: Tensor, dim: Any = None) -> Tensor:
    dims = normalize_dims(dim, x._data.ndim, "count_nonzero")
    xp = array_module(x._data)
    return Tensor._make(xp.asarray(xp.count_nonzero(x._data, axis=dims), dtype=np.int64))


@method("cumsum", inplace="cumsum_")
def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    d = wrap_dim(dim, x._data.ndim, "cumsum")
    src = x._data if x._data.ndim else x._data.reshape(1)
    np_dtype = np.int64 if x._data.dtype.kind in "bui" else None
    xp = array_module(x._data)
    data = xp.cumsum(src, axis=d, dtype=np_dtype).reshape(x._data.shape)
    scalar = not x._data.ndim

    def rule(xp: Any, g: Any) -> tuple:
        return (g if scalar else xp.flip(xp.cumsum(xp.flip(g, d), d), d),)

    return record("CumsumBackward0", data, (x,), rule)


@method("cumprod", inplace="cumprod_")
def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    d = wrap_dim(dim, x._data.ndim, "cumprod")
    xp = array_module(x._data)
    data = xp.cumprod(x._data, axis=d) if x._data.ndim else x._data.copy()
    scalar = not x._data.ndim

    def rule(xp: Any, g: Any, x: Any, result: Any) -> tuple:
        # sum_{j>=i} g_j * prod_{k<=j, k!=i} x_k, valid for nonzero x.
        if scalar:
            return (g,)
        with xp.quiet():
            return (xp.flip(xp.cumsum(xp.flip(g * result, d), d), d) / x,)

    return record("CumprodBackward0", data, (x,), rule, (x,), save_output=True)


@method("logsumexp")
def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    x = to_float(x)
    dims = normalize_dims(dim, x._data.ndim, "logsumexp")
    d = x._data
    with _ignore():
        xp = array_module(x._data)
        m = xp.max(d, axis=dims, keepdims=True) if d.size else xp.zeros((1,) * d.ndim, d.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        data = xp.log(xp.sum(xp.exp(d - m), axis=dims, keepdims=True)) + m
    if not keepdim:
        data = xp.squeeze(data, axis=dims) if dims else data
    shape = d.shape

    def rule(xp: Any, g: Any, x: Any, result: Any) -> tuple:
        with xp.quiet():
            e = xp.exp(x - _kept(result, dims, keepdim, shape))
        return (_kept(g, dims, keepdim, shape) * e,)

    data = data.astype(d.dtype, copy=False)
    return record("LogsumexpBackward0", data, (x,), rule, (x,), save_output=True)


def _softmax_dim(x: Tensor, dim: int | None, name: str) -> int:
    if dim is None:
        # PyTorch's legacy implicit choice.
        dim = 0 if x._data.ndim in (0, 1, 3) else 1
    return wrap_dim(dim, x._data.ndim, name)


def log_softmax_array(data: Any, axis: int) -> Any:
    """``log_softmax`` of an array along ``axis`` (max-shifted: finite for any finite input);
    the forward of ``log_softmax`` and of the fused cross-entropy (``ops.nn``)."""
    if not data.ndim:
        return data * 0
    if not data.size:  # an empty dim (or an empty batch): an empty result, as in PyTorch
        return data.copy()
    xp = array_module(data)
    with _ignore():
        shifted = data - xp.max(data, axis=axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def softmax_rule(d: int) -> Any:
    def rule(xp: Any, g: Any, result: Any) -> tuple:
        if not result.ndim:
            return (g * 0,)
        return (xp.softmax_grad(g, result, d),)

    return rule


def log_softmax_rule(d: int) -> Any:
    def rule(xp: Any, g: Any, result: Any) -> tuple:
        if not result.ndim:
            return (g * 0,)
        return (g - xp.exp(result) * g.sum(axis=d, keepdims=True),)

    return rule


def _softmax_input(x: Tensor, dtype: Any, kernel: str) -> Tensor:
    """``x`` cast to ``dtype``; without one, a floating tensor (PyTorch has no integer kernel)."""
    if dtype is not None:
        return to_float(x.to(dtype))
    if x._data.dtype.kind != "f":
        raise not_implemented(kernel, x)
    return x


@method("softmax", inplace="softmax_")
def softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    x = _softmax_input(x, dtype, "softmax_lastdim_kernel_impl")
    d = _softmax_dim(x, dim, "softmax")
    src = x._data
    with _ignore():
        if not src.size or not src.ndim:
            data = array_module(src).ones_like(src)
        elif d == src.ndim - 1 and src.ndim > 1 and type(src) is np.ndarray:
            # rows split across the intra-op threads (bit-identical: each row is whole)
            data = _parallel.split_batches(_softmax_rows, (src,), 1, 3.0 * src.shape[-1])[0]
        else:
            data = _softmax_array(src, d)
    return record("SoftmaxBackward0", data, (x,), softmax_rule(d), save_output=True)


def _softmax_array(a: Any, d: int) -> Any:
    """softmax along ``d`` in one buffer: shifted, exponentiated, normalised in place."""
    xp = array_module(a)
    data = a - xp.max(a, axis=d, keepdims=True)
    xp.exp(data, out=data)
    data /= xp.sum(data, axis=d, keepdims=True)
    return data


def _softmax_rows(a: Any) -> tuple:
    with _ignore():
        return (_softmax_array(a, -1),)


@method("log_softmax", inplace="log_softmax_")
def log_softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    x = _softmax_input(x, dtype, "log_softmax_lastdim_kernel_impl")
    d = _softmax_dim(x, dim, "log_softmax")
    data = log_softmax_array(x._data, d)
    return record("LogSoftmaxBackward0", data, (x,), log_softmax_rule(d), save_output=True)


@method("norm")
def norm(
    x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None
) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f":
        raise _dtype.not_floating("linalg.vector_norm", x._data.dtype)
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise NotImplementedError("norm(): the nuclear norm is not supported")
    p = float(p)
    dims = normalize_dims(dim, x._data.ndim, "norm")
    src = x._data
    xp = array_module(src)
    with _ignore():
        if p == 2:
            data = xp.sqrt(xp.sum(src * src, axis=dims, keepdims=keepdim))
        elif math.isinf(p):
            reduce = xp.max if p > 0 else xp.min
            data = reduce(xp.abs(src), axis=dims, keepdims=keepdim)
        elif p == 0:
            data = xp.sum(src != 0, axis=dims, keepdims=keepdim).astype(src.dtype)
        elif p == 1:
            data = xp.sum(xp.abs(src), axis=dims, keepdims=keepdim)
        else:
            data = xp.sum(xp.abs(src) ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)
    data = xp.asarray(data, dtype=src.dtype)
    return record(
        "LinalgVectorNormBackward0",
        data,
        (x,),
        _norm_rule(p, dims, keepdim, src.shape),
        (x,),
        save_output=True,
    )


def _norm_rule(p: float, dims: tuple, keepdim: bool, shape: tuple) -> Any:
    """PyTorch's ``norm_backward``: zero gradient where the norm is zero."""

    def rule(xp: Any, g: Any, x: Any, result: Any) -> tuple:
        g, r = _kept(g, dims, keepdim, shape), _kept(result, dims, keepdim, shape)
        with xp.quiet():
            if p == 0:
                return (g * xp.zeros_like(x),)
            if p == 1:
                return (g * xp.sign(x),)
            if p == 2:
                return (xp.where(r == 0, 0.0, g * x / r),)
            if math.isinf(p):
                a = xp.abs(x)
                hit = xp.logical_or(a == r, a != a)
                return (xp.sign(x) * (g / hit.sum(axis=dims, keepdims=True)) * hit,)
            if p < 1:
                power = xp.where(x == 0, 0.0, xp.abs(x) ** (p - 1))
                return (xp.sign(x) * power * g * r ** (1 - p),)
            if p < 2:
                grad = xp.sign(x) * xp.abs(x) ** (p - 1) * g * r ** (1 - p)
            else:
                grad = x * xp.abs(x) ** (p - 2) * g / r ** (p - 1)
            return (xp.where(r == 0, 0.0, grad),)

    return rule


@method("dist")
def dist(a: Tensor, b: Tensor, p: float = 2) -> Tensor:
    return named(norm(a - b, p), "DistBackward0")


# ----------------------------------------------------------------------------- running extremes
def _cumulative_extreme(x: Tensor, dim: int, name: str, ufunc: str) -> ValuesIndices:
    """cummax/cummin: running extreme along ``dim`` and the index where it was (the last of
    ties, as PyTorch's ``>=``; NaN propagates, pointing at the latest NaN)."""
    d = wrap_dim(dim, x._data.ndim, name)
    xp = array_module(x._data)
    src = x._data if x._data.ndim else x._data.reshape(1)
    values = getattr(xp, ufunc).accumulate(src, axis=d) if src.shape[d] else src.copy()
    shape = [1] * src.ndim
    shape[d] = -1
    positions = xp.arange(src.shape[d], dtype=np.int64).reshape(shape)
    hit = src == values
    if src.dtype.kind == "f":
        hit = hit | xp.isnan(src)
    idx = xp.where(hit, positions, 0)
    idx = xp.maximum.accumulate(idx, axis=d) if src.shape[d] else idx
    values, idx = values.reshape(x._data.shape), idx.reshape(x._data.shape)
    indices = Tensor._make(idx)
    full = x._data.shape
    scalar = not x._data.ndim

    def rule(xp: Any, g: Any, index: Any) -> tuple:
        if scalar:
            return (g,)
        return (xp.add_along_axis_zeros(full, index, g, d),)

    out = record(name.capitalize() + "Backward0", values, (x,), rule, (indices,))
    return _RESULT_TYPES[name](out, indices)


@method("cummax")
def cummax(x: Tensor, dim: int) -> ValuesIndices:
    return _cumulative_extreme(x, dim, "cummax", "maximum")


@method("cummin")
def cummin(x: Tensor, dim: int) -> ValuesIndices:
    return _cumulative_extreme(x, dim, "cummin", "minimum")


@method("logcumsumexp")
def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(x)))`` along ``dim``, without overflow."""
    if x._data.dtype.kind != "f":
        raise not_implemented("logcumsumexp_out_cpu", x)
    d = wrap_dim(dim, x._data.ndim, "logcumsumexp")
    xp = array_module(x._data)
    src = x._data if x._data.ndim else x._data.reshape(1)
    with _ignore():
        data = xp.logaddexp.accumulate(src, axis=d) if src.shape[d] else src.copy()
    data = data.reshape(x._data.shape)
    # the rule's exponents shifted by each slice's total (the largest value of the result)
    last = data if not x._data.ndim else xp.take(data, [-1], axis=d) if data.shape[d] else data
    shift = Tensor._make(xp.where(xp.isfinite(last), last, 0).astype(data.dtype))
    scalar = not x._data.ndim
    dt, wide = data.dtype, np.dtype(np.float64)

    def rule(xp: Any, g: Any, x: Any, shift: Any, result: Any) -> tuple:
        if scalar:
            return (g,)
        # d out_j / d x_i = exp(x_i - out_j) for j >= i; in float64, whose exponent range
        # keeps both factors finite for float32 inputs spanning hundreds
        g, x, shift, result = (xp.astype(a, wide) for a in (g, x, shift, result))
        with xp.quiet():
            tail = xp.flip(xp.cumsum(xp.flip(g * xp.exp(shift - result), d), d), d)
            return (xp.astype(tail * xp.exp(x - shift), dt),)

    return record("LogcumsumexpBackward0", data, (x,), rule, (x, shift), save_output=True)


@method("diff")
def diff(x: Tensor, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``prepend``/``append`` joined first)."""
    from ndgrad.ops.pointwise import logical_xor, sub
    from ndgrad.ops.shape import cat, narrow

    if x._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, x._data.ndim, "diff")
    if n == 0:
        return x
    parts = [t for t in (prepend, x, append) if t is not None]
    if len(parts) > 1:
        for t in parts:
            if t._data.ndim != x._data.ndim:
                raise RuntimeError(
                    "diff expects prepend or append to be the same dimension as input"
                )
        x = cat(parts, d)
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        hi, lo = narrow(x, d, 1, length - 1), narrow(x, d, 0, length - 1)
        x = logical_xor(hi, lo) if x._data.dtype.kind == "b" else sub(hi, lo)
    return x


def frobenius_norm(input: Tensor, dim: Any = (-2, -1), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The square root of the sum of squares over ``dim``."""
    return norm(input, 2, dim, keepdim)


def nuclear_norm(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The sum of the singular values of the matrices in ``dim`` (the last two by default);
    ``nuclear_norm(x, keepdim)`` is accepted as in PyTorch."""
    from ndgrad.linalg import matrix_norm

    if isinstance(dim, bool):
        dim, keepdim = None, dim
    if input.dim() != 2 and dim is None:
        raise RuntimeError(
            f"Expected a tensor with 2 dimensions, but got a tensor with {input.dim()} "
            f"dimension{'s' if input.dim() != 1 else ''} instead."
        )
    return matrix_norm(input, "nuc", tuple(dim) if dim is not None else (-2, -1), keepdim)
