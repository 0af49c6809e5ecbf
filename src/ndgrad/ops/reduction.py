"""Reductions: sum, mean, prod, var/std, max/min, norms, logsumexp, softmax, cumsum."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import STATE
from ndgrad.ops._common import named, normalize_dims, record_tensor, return_type, to_float, wrap_dim
from ndgrad.ops.pointwise import _ignore, sqrt, where

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
_RESULT_TYPES = {"max": return_type("max"), "min": return_type("min")}


def _restore_dims(g: Tensor, dims: tuple[int, ...], keepdim: bool, shape: tuple) -> Tensor:
    """Brings a reduced gradient back to the input's rank so it broadcasts."""
    if not keepdim and dims and len(shape):
        g = g.reshape(tuple(1 if i in dims else s for i, s in enumerate(shape)))
    return g


def _reduced_grad(g: Tensor, dims: tuple[int, ...], keepdim: bool, shape: tuple) -> Tensor:
    """The gradient of a sum over ``dims``: ``g`` broadcast back to the input's ``shape``."""
    if STATE.enabled:  # building a graph of the gradient (create_graph): differentiable ops
        return _restore_dims(g, dims, keepdim, shape).expand(shape)
    # First-order backward records nothing: the same values straight from NumPy.
    data = g._data
    if not keepdim and dims and shape:
        if len(dims) == len(shape):  # a full reduction (loss.sum()): the gradient is one number
            data = data.reshape((1,) * len(shape))
        else:
            data = data.reshape(tuple([1 if i in dims else s for i, s in enumerate(shape)]))
    if data.shape != shape:
        xp = array_module(data)
        if math.prod(shape) <= _MATERIALIZE:
            out = xp.empty(shape, data.dtype)
            out[...] = data
            data = out
        else:
            data = xp.broadcast_to(data, shape)
    return Tensor._make(data)


# Up to this many elements a broadcast gradient is written out: cheaper than np.broadcast_to's
# Python-level setup (about 2 us), and the result is an ordinary array the engine can keep.
_MATERIALIZE = 4096


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    dims = normalize_dims(dim, x._data.ndim, "sum")
    np_dtype = _dtype.to_dtype(dtype).np if dtype is not None else None
    if np_dtype is None and x._data.dtype.kind in "bui":
        np_dtype = np.dtype(np.int64)
    xp = array_module(x._data)
    # np.add.reduce is what np.sum calls, without its 1 us of argument handling.
    reduce = np.add.reduce if xp is np else xp.sum
    data = reduce(x._data, axis=dims, dtype=np_dtype, keepdims=keepdim)
    shape = x._data.shape
    return record_tensor(
        "SumBackward0" if dim is None else "SumBackward1",
        data,
        (x,),
        lambda g: (_reduced_grad(g, dims, keepdim, shape),),
    )


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {x.dtype}"
        )
    dims = normalize_dims(dim, x._data.ndim, "mean")
    count = 1
    for d in dims:
        count *= x._data.shape[d]
    with _ignore():
        xp = array_module(x._data)
        data = xp.mean(x._data, axis=dims, keepdims=keepdim)
    shape = x._data.shape
    return record_tensor(
        "MeanBackward0" if dim is None else "MeanBackward1",
        data,
        (x,),
        lambda g: (_reduced_grad(g, dims, keepdim, shape) / count,),
    )


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        return named(prod(x.reshape(-1), 0), "ProdBackward0")
    d = wrap_dim(dim, x._data.ndim, "prod")
    np_dtype = np.int64 if x._data.dtype.kind in "bui" else None
    xp = array_module(x._data)
    data = xp.prod(x._data, axis=d, keepdims=keepdim, dtype=np_dtype)

    def backward(g: Tensor) -> tuple:
        # The product of the other elements, exact when x has zeros.
        g = _restore_dims(g, (d,), keepdim, x._data.shape)
        is_zero = x == 0
        nonzero = where(is_zero, 1.0, x)
        prod_nonzero = prod(nonzero, d, keepdim=True)
        zeros = is_zero.sum(d, keepdim=True)
        others = where(
            zeros == 0, prod_nonzero / nonzero, where(is_zero & (zeros == 1), prod_nonzero, 0.0)
        )
        return (g * others,)

    return record_tensor("ProdBackward1", data, (x,), backward, (x,))


def var(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    if isinstance(dim, bool):  # the legacy var(input, unbiased) form
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"var(): input dtype should be floating point, got {x.dtype}")
    dims = normalize_dims(dim, x._data.ndim, "var")
    n = 1
    for d in dims:
        n *= x._data.shape[d]
    centered = x - x.mean(dims, keepdim=True)
    sq_sum = (centered * centered).sum(dims, keepdim=keepdim)
    return named(sq_sum / builtins.max(n - correction, 0), "VarBackward0")


def std(
    x: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    return named(sqrt(var(x, dim, unbiased, keepdim, correction=correction)), "StdBackward0")


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


def _extreme_all(x: Tensor, name: str, fn: str) -> Tensor:
    if x._data.size == 0:
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
            "Specify the reduction dim with the 'dim' argument."
        )
    data = getattr(array_module(x._data), fn)(x._data)

    def backward(g: Tensor) -> tuple:
        # Ties share the gradient evenly, as PyTorch does for a full reduction.
        hit = x == out.detach()
        return (g * hit / hit.sum(),)

    out = record_tensor(name.capitalize() + "Backward1", data, (x,), backward, (x,))
    return out


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
    shape = x._data.shape

    def backward(g: Tensor) -> tuple:
        from ndgrad.ops.indexing import scatter_into_zeros

        if not shape:
            return (g,)
        gi = indices if keepdim else indices.unsqueeze(d)
        gg = g if keepdim else g.unsqueeze(d)
        return (scatter_into_zeros(shape, d, gi, gg),)

    values_t = record_tensor(name.capitalize() + "Backward0", values, (x,), backward, ())
    return _RESULT_TYPES.get(name, ValuesIndices)(values_t, indices)


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    if isinstance(dim, Tensor):
        from ndgrad.ops.pointwise import maximum

        return maximum(x, dim)
    if dim is None:
        return _extreme_all(x, "max", "max")
    return _extreme_dim(x, dim, keepdim, "max", "argmax")


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    if isinstance(dim, Tensor):
        from ndgrad.ops.pointwise import minimum

        return minimum(x, dim)
    if dim is None:
        return _extreme_all(x, "min", "min")
    return _extreme_dim(x, dim, keepdim, "min", "argmin")


def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    dims = normalize_dims(dim if dim != () else None, x._data.ndim, "amax")
    return _amaxmin(x, dims, keepdim, "max", "AmaxBackward0")


def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    dims = normalize_dims(dim if dim != () else None, x._data.ndim, "amin")
    return _amaxmin(x, dims, keepdim, "min", "AminBackward0")


def _amaxmin(x: Tensor, dims: tuple, keepdim: bool, fn: str, name: str) -> Tensor:
    data = getattr(array_module(x._data), fn)(x._data, axis=dims, keepdims=keepdim)
    shape = x._data.shape

    def backward(g: Tensor) -> tuple:
        o = _restore_dims(out.detach(), dims, keepdim, shape)
        hit = x == o
        return (_restore_dims(g, dims, keepdim, shape) * hit / hit.sum(dims, keepdim=True),)

    out = record_tensor(name, data, (x,), backward, (x,))
    return out


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        xp = array_module(x._data)
        return Tensor._make(xp.asarray(xp.argmax(x._data), dtype=np.int64))
    return _extreme_dim(x.detach(), dim, keepdim, "argmax", "argmax").indices


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    if dim is None:
        xp = array_module(x._data)
        return Tensor._make(xp.asarray(xp.argmin(x._data), dtype=np.int64))
    return _extreme_dim(x.detach(), dim, keepdim, "argmin", "argmin").indices


def all(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = normalize_dims(dim, x._data.ndim, "all")
    xp = array_module(x._data)
    return Tensor._make(xp.all(x._data, axis=dims, keepdims=keepdim))


def any(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = normalize_dims(dim, x._data.ndim, "any")
    xp = array_module(x._data)
    return Tensor._make(xp.any(x._data, axis=dims, keepdims=keepdim))


def count_nonzero(x: Tensor, dim: Any = None) -> Tensor:
    dims = normalize_dims(dim, x._data.ndim, "count_nonzero")
    xp = array_module(x._data)
    return Tensor._make(xp.asarray(xp.count_nonzero(x._data, axis=dims), dtype=np.int64))


def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    d = wrap_dim(dim, x._data.ndim, "cumsum")
    src = x._data if x._data.ndim else x._data.reshape(1)
    np_dtype = np.int64 if x._data.dtype.kind in "bui" else None
    xp = array_module(x._data)
    data = xp.cumsum(src, axis=d, dtype=np_dtype).reshape(x._data.shape)
    return record_tensor(
        "CumsumBackward0", data, (x,), lambda g: (g.flip(d).cumsum(d).flip(d) if g.ndim else g,)
    )


def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    d = wrap_dim(dim, x._data.ndim, "cumprod")
    xp = array_module(x._data)
    data = xp.cumprod(x._data, axis=d) if x._data.ndim else x._data.copy()

    def backward(g: Tensor) -> tuple:
        # sum_{j>=i} g_j * prod_{k<=j, k!=i} x_k, valid for nonzero x.
        return ((g * out).flip(d).cumsum(d).flip(d) / x,)

    out = record_tensor("CumprodBackward0", data, (x,), backward, (x,))
    return out


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

    def backward(g: Tensor) -> tuple:
        o = _restore_dims(out, dims, keepdim, shape)
        return (_restore_dims(g, dims, keepdim, shape) * (x - o).exp(),)

    out = record_tensor(
        "LogsumexpBackward0", data.astype(d.dtype, copy=False), (x,), backward, (x,)
    )
    return out


def _softmax_dim(x: Tensor, dim: int | None, name: str) -> int:
    if dim is None:
        # PyTorch's legacy implicit choice.
        dim = 0 if x._data.ndim in (0, 1, 3) else 1
    return wrap_dim(dim, x._data.ndim, name)


def softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    x = to_float(x)
    d = _softmax_dim(x, dim, "softmax")
    with _ignore():
        xp = array_module(x._data)
        e = (
            xp.exp(x._data - xp.max(x._data, axis=d, keepdims=True))
            if x._data.ndim
            else xp.ones_like(x._data)
        )
        data = e / xp.sum(e, axis=d, keepdims=True) if x._data.ndim else e

    def backward(g: Tensor) -> tuple:
        s = softmax(x, d)
        return (s * (g - (g * s).sum(d, keepdim=True)),)

    return record_tensor("SoftmaxBackward0", data, (x,), backward, (x,))


def log_softmax(x: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    x = to_float(x)
    d = _softmax_dim(x, dim, "log_softmax")
    src = x._data
    with _ignore():
        xp = array_module(src)
        if src.ndim:
            shifted = src - xp.max(src, axis=d, keepdims=True)
            data = shifted - xp.log(xp.sum(xp.exp(shifted), axis=d, keepdims=True))
        else:
            data = xp.zeros_like(src)

    def backward(g: Tensor) -> tuple:
        return (g - softmax(x, d) * g.sum(d, keepdim=True),)

    return record_tensor("LogSoftmaxBackward0", data, (x,), backward, (x,))


def _log_softmax_nll(x: Tensor, target: Tensor, reduction: str, ignore_index: int) -> Tensor | None:
    """``nll_loss(log_softmax(x, 1), target)`` for logits ``(N, C)`` and class indices ``(N,)``
    as one op, or None when another case applies (weights, ignored targets, other shapes).

    The gradient is PyTorch's two backward steps folded together: with ``c`` the upstream
    gradient of each row's loss, ``exp(logp) * c`` everywhere and ``- c`` at the target.
    """
    d, t = x._data, target._data
    if d.ndim != 2 or d.dtype.kind != "f" or t.ndim != 1 or t.dtype.kind not in "iu":
        return None
    n, classes = d.shape
    if t.shape[0] != n or n == 0 or reduction not in ("mean", "sum", "none"):
        return None
    if ((t < 0) | (t >= classes)).any():
        if (t == ignore_index).any():
            return None  # the general path masks the ignored rows
        raise IndexError(f"Target {int(t[(t < 0) | (t >= classes)][0])} is out of bounds.")
    with _ignore():
        xp = array_module(x._data)
        shifted = d - xp.max(d, axis=1, keepdims=True)
        logp = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    rows = xp.arange(n)
    losses = -logp[rows, t]
    if reduction == "none":
        data = losses
    elif reduction == "sum":
        data = xp.sum(losses)
    else:
        data = xp.sum(losses) / d.dtype.type(n)

    def backward(g: Tensor) -> tuple:
        if reduction == "mean":
            c = g / n
        else:
            c = g.unsqueeze(1) if reduction == "none" else g
        if STATE.enabled:  # create_graph: the same formula as differentiable ops
            picked = Tensor._make(xp.zeros_like(d))
            picked._data[rows, t] = 1
            return ((log_softmax(x, 1).exp() - picked) * c,)
        grad = xp.exp(logp) * c._data
        grad[rows, t] -= c._data if reduction != "none" else c._data[:, 0]
        return (Tensor._make(grad),)

    return record_tensor("NllLossBackward0", xp.asarray(data, dtype=d.dtype), (x,), backward, (x,))


def norm(
    x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None
) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point tensor as input. Got {x.dtype}"
        )
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise NotImplementedError("norm(): the nuclear norm is not supported")
    dims = normalize_dims(dim, x._data.ndim, "norm")
    if p == 2:
        return _norm2(x, dims, keepdim)
    if p in (math.inf, float("inf")):
        return amax(x.abs(), dims, keepdim)
    if p in (-math.inf, float("-inf")):
        return amin(x.abs(), dims, keepdim)
    if p == 0:
        return (x != 0).to(x.dtype).sum(dims, keepdim=keepdim)
    if p == 1:
        return x.abs().sum(dims, keepdim=keepdim)
    return (x.abs() ** p).sum(dims, keepdim=keepdim) ** (1.0 / p)


def _norm2(x: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    with _ignore():
        xp = array_module(x._data)
        data = xp.sqrt(xp.sum(x._data * x._data, axis=dims, keepdims=keepdim))
    shape = x._data.shape

    def backward(g: Tensor) -> tuple:
        # Zero gradient at the origin, as PyTorch does.
        o = _restore_dims(out, dims, keepdim, shape)
        gr = _restore_dims(g, dims, keepdim, shape)
        return (where(o == 0, 0.0, gr * x / o),)

    out = record_tensor("LinalgVectorNormBackward0", data, (x,), backward, (x,))
    return out


def dist(a: Tensor, b: Tensor, p: float = 2) -> Tensor:
    return norm(a - b, p)
