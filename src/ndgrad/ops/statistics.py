"""Order statistics and counting: median, mode, kthvalue, unique, bincount, histc, nansum.

Values picked out of the input (median, kthvalue, mode along a dim) pass their gradient back
to the picked element, as PyTorch does. Where several elements tie, PyTorch's index comes from
an unspecified selection algorithm; here it is the first tied element in a stable sort.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.ops._common import as_tensor, method, record, return_type, wrap_dim
from ndgrad.ops.reduction import select_rule

_MEDIAN = return_type("median")
_NANMEDIAN = return_type("nanmedian")
_KTHVALUE = return_type("kthvalue")
_MODE = return_type("mode")


def _one_along(shape: tuple, d: int) -> tuple:
    return shape[:d] + (1,) + shape[d + 1 :]


def _check_orderable(x: Tensor, op: str) -> None:
    if x._data.dtype.kind == "b":
        raise NotImplementedError(f"\"{op}_cpu\" not implemented for 'Bool'")


def _select_along(x: Tensor, dim: int, keepdim: bool, pick: Any, name: str, result: type) -> Any:
    """Values and indices chosen by ``pick(sorted_order, sorted_values) -> positions``."""
    d = wrap_dim(dim, x._data.ndim, name.lower())
    data = x._data if x._data.ndim else x._data.reshape(1)
    if data.shape[d] == 0:
        raise IndexError(f"{name.lower()}(): Expected reduction dim {d} to have non-zero size.")
    xp = array_module(x._data)
    order = xp.argsort(data, axis=d, kind="stable")
    pos = pick(order, xp.take_along_axis(data, order, axis=d), d)
    idx = xp.take_along_axis(order, pos, axis=d)
    values = xp.take_along_axis(data, idx, axis=d)
    if not keepdim or not x._data.ndim:
        idx, values = xp.squeeze(idx, d), xp.squeeze(values, d)
    if not x._data.ndim:
        idx, values = idx.reshape(()), values.reshape(())
    indices = Tensor._make(idx.astype(np.int64))
    rule = select_rule(x._data.shape, d, keepdim)
    return result(record(name, values, (x,), rule, (indices,)), indices)


def _lower_median_positions(ignore_nan: bool) -> Any:
    def pick(order: np.ndarray, sorted_values: np.ndarray, d: int) -> np.ndarray:
        n = sorted_values.shape[d]
        xp = array_module(sorted_values)
        if sorted_values.dtype.kind != "f":
            return xp.full(_one_along(order.shape, d), (n - 1) // 2)
        valid = xp.sum(~xp.isnan(sorted_values), axis=d, keepdims=True)
        if ignore_nan:  # the lower median of the non-NaN values (NaN when all are NaN)
            return xp.where(valid > 0, (valid - 1) // 2, 0)
        # NaN sorts last: any NaN in the slice makes the median the first NaN
        return xp.where(valid < n, valid, (n - 1) // 2)

    return pick


def _median_all(x: Tensor, name: str, ignore_nan: bool) -> Tensor:
    flat = x._data.reshape(-1)
    xp = array_module(x._data)
    if flat.size == 0:
        return Tensor._make(xp.array(np.nan, dtype=x._data.dtype))
    ordered = xp.sort(flat, kind="stable")
    pos = _lower_median_positions(ignore_nan)(ordered, ordered, 0)
    value = ordered[pos.item()]
    data = xp.array(value, dtype=x._data.dtype)
    return record(name, data, (x,), _median_all_rule, (x,), save_output=True)


def _median_all_rule(xp: Any, g: Any, x: Any, result: Any) -> tuple:
    # PyTorch spreads the gradient evenly over every element equal to the median (or NaN).
    hit = xp.where(result == result, x == result, x != x)
    return (g * hit / hit.sum(),)


@method("median")
def median(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median: of the whole tensor, or ``(values, indices)`` along ``dim``."""
    _check_orderable(x, "median")
    if dim is None:
        return _median_all(x, "MedianBackward0", ignore_nan=False)
    pick = _lower_median_positions(ignore_nan=False)
    return _select_along(x, dim, keepdim, pick, "MedianBackward1", _MEDIAN)


@method("nanmedian")
def nanmedian(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """``median`` ignoring NaN values."""
    _check_orderable(x, "nanmedian")
    if dim is None:
        return _median_all(x, "NanmedianBackward0", ignore_nan=True)
    pick = _lower_median_positions(ignore_nan=True)
    return _select_along(x, dim, keepdim, pick, "NanmedianBackward1", _NANMEDIAN)


@method("kthvalue")
def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """The ``k``-th smallest value (1-based) along ``dim``, with its index."""
    _check_orderable(x, "kthvalue")
    n = x._data.shape[wrap_dim(dim, x._data.ndim, "kthvalue")] if x._data.ndim else 1
    if n == 0:
        d = wrap_dim(dim, x._data.ndim, "kthvalue")
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")

    def pick(order: np.ndarray, sorted_values: np.ndarray, d: int) -> np.ndarray:
        xp = array_module(x._data)
        return xp.full(_one_along(order.shape, d), k - 1)

    return _select_along(x, dim, keepdim, pick, "KthvalueBackward0", _KTHVALUE)


@method("mode")
def mode(x: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """The most frequent value along ``dim`` (the smallest on ties) and its last index."""
    _check_orderable(x, "mode")

    def pick(order: np.ndarray, sorted_values: np.ndarray, d: int) -> np.ndarray:
        n = sorted_values.shape[d]
        xp = array_module(x._data)
        rows_v = xp.moveaxis(sorted_values, d, -1).reshape(-1, n)
        rows_o = xp.moveaxis(order, d, -1).reshape(-1, n)
        pos = xp.empty(rows_v.shape[0], dtype=np.int64)
        for r, (vals, idx) in enumerate(zip(rows_v, rows_o, strict=True)):
            starts = xp.flatnonzero(xp.concatenate(([True], vals[1:] != vals[:-1])))
            lengths = xp.diff(xp.append(starts, n))
            best = int(xp.argmax(lengths))  # the first longest run holds the smallest value
            s, e = starts[best], starts[best] + lengths[best]
            pos[r] = s + xp.argmax(idx[s:e])  # of tied elements, PyTorch returns the last
        shape = xp.moveaxis(sorted_values, d, -1).shape[:-1] + (1,)
        return xp.moveaxis(pos.reshape(shape), -1, d)

    return _select_along(x, dim, keepdim, pick, "ModeBackward0", _MODE)


@method("msort")
def msort(x: Tensor) -> Tensor:
    """``sort`` along the first dimension, values only."""
    from ndgrad.ops.sorting import sort

    return sort(x, 0).values


@method("nansum")
def nansum(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """``sum`` treating NaN as zero."""
    from ndgrad.ops.pointwise import isnan, where

    if x._data.dtype.kind == "f":
        x = where(isnan(x), 0.0, x)
    if dim is None:
        return (
            x.sum(dtype=dtype) if not keepdim else x.sum(tuple(range(x.dim())), True, dtype=dtype)
        )
    return x.sum(dim, keepdim, dtype=dtype)


@method("unique")
def unique(
    x: Tensor,
    sorted: bool = True,  # noqa: A002 - PyTorch's name
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct values in ascending order; optionally where each input went, and counts."""
    data = x._data
    xp = array_module(x._data)
    if dim is None:
        values, inverse, counts = xp.unique(
            data.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False
        )
        inverse = inverse.reshape(data.shape)
    else:
        d = wrap_dim(dim, data.ndim, "unique")
        values, inverse, counts = xp.unique(
            data, return_inverse=True, return_counts=True, axis=d, equal_nan=False
        )
        inverse = inverse.reshape(-1)
    out = Tensor._make(values.astype(data.dtype, copy=False))
    if not (return_inverse or return_counts):
        return out
    result = (out,)
    if return_inverse:
        result += (Tensor._make(inverse.astype(np.int64)),)
    if return_counts:
        result += (Tensor._make(counts.astype(np.int64)),)
    return result


@method("unique_consecutive")
def unique_consecutive(
    x: Tensor, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None
) -> Any:
    """Collapses runs of equal consecutive values (of the flattened tensor, or along ``dim``)."""
    xp = array_module(x._data)
    data = (
        x._data.reshape(-1)
        if dim is None
        else xp.moveaxis(x._data, wrap_dim(dim, x.dim(), "unique_consecutive"), 0)
    )
    if data.shape[0] == 0:
        starts = xp.zeros(0, dtype=np.int64)
    else:
        differs = data[1:] != data[:-1]
        if differs.ndim > 1:
            differs = differs.reshape(differs.shape[0], -1).any(axis=1)
        starts = xp.concatenate(([0], xp.flatnonzero(differs) + 1))
    values = data[starts]
    if dim is not None:
        values = xp.moveaxis(values, 0, wrap_dim(dim, x.dim(), "unique_consecutive"))
    out = Tensor._make(xp.ascontiguousarray(values))
    if not (return_inverse or return_counts):
        return out
    result = (out,)
    if return_inverse:
        run = xp.zeros(data.shape[0], dtype=np.int64)
        run[starts[1:]] = 1
        inverse = xp.cumsum(run)
        result += (Tensor._make(inverse.reshape(x._data.shape) if dim is None else inverse),)
    if return_counts:
        result += (Tensor._make(xp.diff(xp.append(starts, data.shape[0])).astype(np.int64)),)
    return result


@method("bincount")
def bincount(x: Tensor, weights: Any = None, minlength: int = 0) -> Tensor:
    """How often each non-negative integer occurs (or the sum of its ``weights``)."""
    data = x._data
    if data.dtype.kind not in "iub":
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{x.dtype}'")
    if data.ndim != 1 or (data.size and data.min() < 0):
        raise RuntimeError(
            f"bincount only supports 1-d non-negative integral inputs, got a {data.ndim}-d "
            f"tensor of dtype {x.dtype}"
        )
    if minlength < 0:
        raise RuntimeError("bincount(): minlength should be >= 0")
    xp = array_module(x._data)
    if weights is None:
        return Tensor._make(xp.bincount(data, minlength=minlength).astype(np.int64))
    w = as_tensor(weights, "bincount")
    if w._data.shape != data.shape:
        raise RuntimeError(
            f"bincount(): weights should be 1-d and have the same length as input "
            f"({list(w.shape)} vs {list(x.shape)})"
        )
    # float32 weights count in float32; any other weights in float64, as PyTorch does
    out_dtype = np.float32 if w._data.dtype == np.float32 else np.float64
    counts = xp.bincount(data, weights=w._data.astype(np.float64), minlength=minlength)
    return Tensor._make(counts.astype(out_dtype))


@method("histc")
def histc(x: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """Counts in ``bins`` equal-width bins over ``[min, max]`` (the data's range when equal)."""
    data = x._data
    if data.dtype.kind != "f":
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{x.dtype}'")
    if bins <= 0:
        raise RuntimeError(f"histc(): bins must be > 0, but got {bins}")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError(f"histc(): max must be larger than min, got min={lo} and max={hi}")
    xp = array_module(x._data)
    if lo == hi and data.size:
        finite = data[xp.isfinite(data)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (lo, hi)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    edges = xp.linspace(lo, hi, bins + 1).astype(data.dtype)
    inside = data[(data >= edges[0]) & (data <= edges[-1])]
    pos = ((inside - edges[0]) / (edges[-1] - edges[0]) * bins).astype(np.int64)
    pos = xp.clip(pos, 0, bins - 1)
    # the division may land one bin off near an edge; the edges decide
    pos -= (inside < edges[pos]).astype(np.int64)
    pos += ((inside >= edges[xp.minimum(pos + 1, bins)]) & (pos + 1 < bins)).astype(np.int64)
    return Tensor._make(xp.bincount(pos, minlength=bins).astype(data.dtype))


@method("quantile")
def quantile(
    x: Tensor,
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """The ``q``-th quantiles (``q`` a number or a 1-D tensor, whose dim comes first)."""
    from ndgrad.ops.pointwise import isnan, where
    from ndgrad.ops.sorting import sort

    if x._data.dtype.kind != "f":
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    xp = array_module(x._data)
    qs = xp.asarray(q._data if isinstance(q, Tensor) else q, dtype=np.float64)
    if qs.ndim > 1:
        raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    if qs.size and (qs.min() < 0 or qs.max() > 1):
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
    modes = ("linear", "lower", "higher", "midpoint", "nearest")
    if interpolation not in modes:
        raise RuntimeError(f"quantile() interpolation must be one of {', '.join(modes)}")
    src, d = (x.reshape(-1), 0) if dim is None else (x, wrap_dim(dim, x.dim(), "quantile"))
    n = src.shape[d] if src.dim() else 1
    if n == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    src = src if src.dim() else src.reshape(1)
    ordered = sort(src, d).values  # NaN last
    rank = xp.atleast_1d(qs) * (n - 1)
    if interpolation == "nearest":
        rank = xp.round(rank)  # half to even, as PyTorch rounds
    lower = xp.floor(rank).astype(np.int64)
    upper = xp.ceil(rank).astype(np.int64)
    weight = {"lower": 0 * rank, "higher": 0 * rank + (upper > lower), "midpoint": 0.5 + 0 * rank}
    w = weight.get(interpolation, rank - lower)
    lo = ordered.index_select(d, Tensor._make(lower))
    hi = ordered.index_select(d, Tensor._make(upper))
    shape = [1] * ordered.dim()
    shape[d] = -1
    w_t = Tensor._make(w.astype(x._data.dtype).reshape(shape))
    result = lo + w_t * (hi - lo)
    result = where(isnan(src).any(d, keepdim=True), float("nan"), result)  # NaN propagates
    result = result.movedim(d, 0)
    if keepdim:
        result = result.reshape((-1,) + (1,) * x.dim()) if dim is None else result.unsqueeze(d + 1)
    return result.squeeze(0) if qs.ndim == 0 else result


class _MinMax(tuple):
    """``torch.return_types.aminmax``: the named tuple ``(min, max)``."""

    __slots__ = ()

    def __new__(cls, lo: Tensor, hi: Tensor) -> _MinMax:
        return super().__new__(cls, (lo, hi))

    min = property(lambda self: self[0])  # noqa: A003
    max = property(lambda self: self[1])  # noqa: A003

    def __repr__(self) -> str:
        return f"ndgrad.return_types.aminmax(\nmin={self[0]!r},\nmax={self[1]!r})"


_MinMax.__module__ = "ndgrad.return_types"
_MinMax.__name__ = _MinMax.__qualname__ = "aminmax"


@method("aminmax")
def aminmax(x: Tensor, *, dim: int | None = None, keepdim: bool = False) -> _MinMax:
    """The smallest and largest values, of the whole tensor or along ``dim``."""
    dims = () if dim is None else dim
    return _MinMax(x.amin(dims, keepdim), x.amax(dims, keepdim))


@method("nanmean")
def nanmean(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """``mean`` of the non-NaN elements."""
    from ndgrad.ops.pointwise import div, isnan, logical_not

    if x._data.dtype.kind != "f":
        raise RuntimeError(
            "nanmean(): expected input to have floating point or complex dtype but got "
            f"{_type_name(x)}"
        )
    count = logical_not(isnan(x)).sum(dim, keepdim) if dim is not None else None
    if count is None:
        count = logical_not(isnan(x)).sum(tuple(range(x.dim())), keepdim)
    return div(nansum(x, dim, keepdim, dtype=dtype), count)


def _type_name(x: Tensor) -> str:
    from ndgrad._dtype import SCALAR_NAMES

    return SCALAR_NAMES[x._data.dtype.name]


@method("nanquantile")
def nanquantile(
    x: Tensor,
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """``quantile`` of the non-NaN elements of each slice (NaN where a slice has none)."""
    from ndgrad.ops.indexing import gather
    from ndgrad.ops.pointwise import where
    from ndgrad.ops.sorting import sort

    if x._data.dtype.kind != "f":
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    xp = array_module(x._data)
    qs = xp.asarray(q._data if isinstance(q, Tensor) else q, dtype=np.float64)
    quantile(x.detach()[(0,) * x.dim()] if x.numel() else x, q, interpolation=interpolation)
    src, d = (x.reshape(-1), 0) if dim is None else (x, wrap_dim(dim, x.dim(), "quantile"))
    src = src if src.dim() else src.reshape(1)
    ordered = sort(src, d).values  # NaN last
    count = (~xp.isnan(src._data)).sum(axis=d, keepdims=True)  # per slice
    qq = xp.atleast_1d(qs).reshape((-1,) + (1,) * src.dim())
    rank = qq * xp.maximum(count - 1, 0)
    if interpolation == "nearest":
        rank = xp.round(rank)
    lower = xp.floor(rank).astype(np.int64)
    upper = xp.ceil(rank).astype(np.int64)
    weights = {
        "lower": 0 * rank,
        "higher": 0 * rank + (upper > lower),
        "midpoint": 0.5 + 0 * rank,
    }
    w = weights.get(interpolation, rank - lower)
    k = qq.shape[0]
    big = ordered.unsqueeze(0).expand((k,) + tuple(ordered.shape))
    lo = gather(big, d + 1, Tensor._make(lower))
    hi = gather(big, d + 1, Tensor._make(upper))
    result = lo + Tensor._make(w.astype(x._data.dtype)) * (hi - lo)
    result = where(Tensor._make(xp.broadcast_to(count == 0, result.shape)), float("nan"), result)
    if keepdim:
        if dim is None:
            result = result.reshape((-1,) + (1,) * x.dim())
    else:
        result = result.squeeze(d + 1)
    return result.squeeze(0) if qs.ndim == 0 else result


@method("cov")
def cov(
    x: Tensor,
    *,
    correction: int = 1,
    fweights: Tensor | None = None,
    aweights: Tensor | None = None,
) -> Tensor:
    """The covariance matrix of the variables in ``x``'s rows (observations in columns)."""
    from ndgrad.ops.linalg import mm
    from ndgrad.ops.pointwise import div, mul

    if x.dim() > 2:
        raise RuntimeError(
            f"cov(): expected input to have two or fewer dimensions but got an input with {x.dim()} dimensions"
        )
    x = x.reshape(1, -1) if x.dim() < 2 else x
    n = x.shape[1]
    w = None
    if fweights is not None:
        if fweights.dim() > 1 or fweights.numel() != n:
            raise RuntimeError(
                f"cov(): expected fweights to have one or fewer dimensions and {n} elements"
            )
        if fweights._data.dtype.kind not in "iu":
            raise RuntimeError(
                f"cov(): expected fweights to have integral dtype but got fweights with {_type_name(fweights)} dtype"
            )
        if bool((fweights._data < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights
    if aweights is not None:
        if aweights.dim() > 1 or aweights.numel() != n:
            raise RuntimeError(
                f"cov(): expected aweights to have one or fewer dimensions and {n} elements"
            )
        if aweights._data.dtype.kind != "f":
            raise RuntimeError(
                "cov(): expected aweights to have floating point dtype but got aweights with "
                f"{_type_name(aweights)} dtype"
            )
        if bool((aweights._data < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        w = aweights if w is None else mul(w, aweights)
    if x._data.dtype.kind != "f":
        x = x.to(_default_float())
    if w is None:
        avg = x.mean(1)
        w_sum: Any = n
        norm = n - correction
    else:
        w_sum = w.sum()
        avg = div((x * w).sum(1), w_sum)
        if aweights is not None and correction != 0:
            norm = w_sum - correction * div((w * aweights).sum(), w_sum)
        else:
            norm = w_sum - correction
    if isinstance(norm, Tensor):
        if bool((norm._data <= 0).all()):
            norm = norm * 0
    elif norm <= 0:
        norm = 0
    centered = x - avg.unsqueeze(1)
    c = mm(centered, (centered if w is None else centered * w).t())
    return div(c, norm).squeeze()


def _default_float() -> Any:
    from ndgrad._dtype import get_default_dtype

    return get_default_dtype()


@method("corrcoef")
def corrcoef(x: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in ``x``'s rows."""
    from ndgrad.ops.pointwise import clamp, div, sqrt

    if x.dim() > 2:
        raise RuntimeError(
            f"corrcoef(): expected input to have two or fewer dimensions but got an input with {x.dim()} dimensions"
        )
    c = cov(x)
    if c.dim() == 0:
        return div(c, c)
    std = sqrt(c.diagonal())
    c = div(c, std.reshape(-1, 1))
    c = div(c, std.reshape(1, -1))
    return clamp(c, -1, 1)


def trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The trapezoid rule along ``dim``: spacing ``dx`` (1 by default) or sample points ``x``."""
    from ndgrad.ops.reduction import diff

    if y.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")

    if isinstance(x, Tensor):
        if dx is not None:
            raise TypeError("trapezoid() received an invalid combination of arguments")
        d = wrap_dim(dim, y.dim(), "trapezoid")
        if y.shape[d] == 0:
            return y.sum(d) * 0
        spacing = diff(x, dim=dim if x.dim() == y.dim() else -1)
        if spacing.dim() == 1 and y.dim() > 1:
            shape = [1] * y.dim()
            shape[d] = -1
            spacing = spacing.reshape(shape)
        n = y.shape[d]
        pair = y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)
        return (spacing * pair).sum(d) / 2
    step = 1 if dx is None else dx
    if x is not None:  # trapezoid(y, 0.5): a number is the spacing
        step = x
    d = wrap_dim(dim, y.dim(), "trapezoid")
    if y.shape[d] == 0:
        return y.sum(d) * 0
    ends = y.select(d, 0) + y.select(d, -1)
    return (y.sum(d) - ends * 0.5) * step


def trapz(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1) -> Tensor:
    """The running trapezoid rule along ``dim`` (one element fewer than ``y``)."""
    from ndgrad.ops.reduction import cumsum, diff

    if y.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, y.dim(), "cumulative_trapezoid")
    n = y.shape[d]
    pair = y.narrow(d, 1, max(n - 1, 0)) + y.narrow(d, 0, max(n - 1, 0))
    if isinstance(x, Tensor):
        spacing = diff(x, dim=dim if x.dim() == y.dim() else -1)
        if spacing.dim() == 1 and y.dim() > 1:
            shape = [1] * y.dim()
            shape[d] = -1
            spacing = spacing.reshape(shape)
        return cumsum(spacing * pair / 2, d)
    step = x if x is not None else (1 if dx is None else dx)
    return cumsum(pair * (step / 2), d)


def gradient(
    input: Tensor,  # noqa: A002
    *,
    spacing: Any = 1,
    dim: Any = None,
    edge_order: int = 1,
) -> tuple[Tensor, ...]:
    """Central differences along each of ``dim`` (every dim by default), one-sided ones of
    order ``edge_order`` at the ends; ``spacing`` a number, one number per dim, or one 1-D
    tensor of sample coordinates per dim (numpy.gradient's formulas)."""
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    n = input.dim()
    if dim is None:
        dims = list(range(n))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
        bound = max(n, 1)
        for d in dims:
            if not -bound <= d < bound:
                raise IndexError(
                    f"Dimension out of range (expected to be in range of [{-bound}, "
                    f"{bound - 1}], but got {d})"
                )
        dims = [d % bound for d in dims]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            if dim is None:
                raise RuntimeError(
                    "torch.gradient expected spacing to be unspecified, a scalar, or a list of "
                    f"length equal to 'self.dim() = {n}', since dim argument was not given, "
                    f"but got a list of length {len(spacing)}"
                )
            raise RuntimeError(
                "torch.gradient expected spacing to be unspecified, a scalar or it's spacing "
                "and dim arguments to have the same length, but got a spacing argument of "
                f"length {len(spacing)} and a dim argument of length {len(dims)}."
            )
        steps = list(spacing)
    else:  # one number (or 0-d tensor) for every dim
        steps = [spacing.item() if isinstance(spacing, Tensor) else spacing] * len(dims)
    for s in steps:
        if isinstance(s, Tensor) and s.dim() != 1:
            raise RuntimeError(
                "torch.gradient expected each element of spacing to have one dimension, but "
                f"got an element with {s.dim()} dimensions!"
            )
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError(
                "torch.gradient expected each dimension size to be at least edge_order+1"
            )
    f = input if input.is_floating_point() else input.to(_default_float())
    return tuple(_gradient_along(f, d, s, edge_order) for d, s in zip(dims, steps))


def _gradient_along(f: Tensor, d: int, step: Any, edge_order: int) -> Tensor:
    from ndgrad.ops.reduction import diff
    from ndgrad.ops.shape import cat

    size = f.shape[d]

    def part(start: int, length: int) -> Tensor:
        return f.narrow(d, start, length)

    if isinstance(step, Tensor):
        x = step if step.is_floating_point() else step.to(f.dtype)
        shape = [1] * f.dim()
        shape[d] = -1
        dx = diff(x).reshape(shape)

        def h(start: int, length: int) -> Tensor:
            return dx.narrow(d, start, length)

        dx1, dx2 = h(0, size - 2), h(1, size - 2)
        a = -dx2 / (dx1 * (dx1 + dx2))
        b = (dx2 - dx1) / (dx1 * dx2)
        c = dx1 / (dx2 * (dx1 + dx2))
        inner = a * part(0, size - 2) + b * part(1, size - 2) + c * part(2, size - 2)
        if edge_order == 1:
            first = (part(1, 1) - part(0, 1)) / h(0, 1)
            last = (part(size - 1, 1) - part(size - 2, 1)) / h(size - 2, 1)
        else:
            d1, d2 = h(0, 1), h(1, 1)
            first = (
                -(2 * d1 + d2) / (d1 * (d1 + d2)) * part(0, 1)
                + (d1 + d2) / (d1 * d2) * part(1, 1)
                - d1 / (d2 * (d1 + d2)) * part(2, 1)
            )
            d1, d2 = h(size - 3, 1), h(size - 2, 1)
            last = (
                d2 / (d1 * (d1 + d2)) * part(size - 3, 1)
                - (d2 + d1) / (d1 * d2) * part(size - 2, 1)
                + (2 * d2 + d1) / (d2 * (d1 + d2)) * part(size - 1, 1)
            )
        return cat([first, inner, last], d)
    step = step.item() if isinstance(step, Tensor) else step
    inner = (part(2, size - 2) - part(0, size - 2)) / (2 * step)
    if edge_order == 1:
        first = (part(1, 1) - part(0, 1)) / step
        last = (part(size - 1, 1) - part(size - 2, 1)) / step
    else:
        first = (-1.5 * part(0, 1) + 2 * part(1, 1) - 0.5 * part(2, 1)) / step
        last = (0.5 * part(size - 3, 1) - 2 * part(size - 2, 1) + 1.5 * part(size - 1, 1)) / step
    return cat([first, inner, last], d)


class _HistogramResult(tuple):
    """``torch.return_types.histogram``: (hist, bin_edges)."""

    __slots__ = ()

    def __new__(cls, hist: Tensor, edges: Tensor) -> _HistogramResult:
        return tuple.__new__(cls, (hist, edges))

    hist = property(lambda self: self[0])
    bin_edges = property(lambda self: self[1])

    def __repr__(self) -> str:
        return f"ndgrad.return_types.histogram(\nhist={self[0]!r},\nbin_edges={self[1]!r})"


@method("histogram")
def histogram(
    x: Tensor,
    bins: Any = 100,
    *,
    range: Any = None,  # noqa: A002 - PyTorch's name
    weight: Tensor | None = None,
    density: bool = False,
) -> _HistogramResult:
    """Counts (or weights' sums) of ``x`` in bins: ``bins`` equal ones over ``range`` (the
    data's min and max by default), or the edges ``bins``."""
    data = x._data
    if data.dtype.kind != "f":
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{_type_name(x)}'")
    xp = array_module(data)
    if isinstance(bins, Tensor):
        if bins.dim() != 1:
            raise RuntimeError(
                "torch.histogram(): bins tensor should have one dimension, but got "
                f"{bins.dim()} dimensions in the bins tensor"
            )
        edges = bins._data.astype(data.dtype)
    else:
        if bins <= 0:
            raise RuntimeError(
                f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0"
            )
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
            if lo > hi:
                raise RuntimeError(
                    f"torch.histogram(): min should not exceed max, but got min {lo} max {hi} for dimension 0"
                )
        elif data.size:
            lo, hi = float(data.min()), float(data.max())
        else:
            lo, hi = 0.0, 0.0
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = xp.linspace(lo, hi, bins + 1).astype(data.dtype)
    flat = data.reshape(-1)
    nb = edges.shape[0] - 1
    inside = (flat >= edges[0]) & (flat <= edges[-1])
    pos = xp.searchsorted(edges, flat[inside], side="right") - 1
    pos = xp.clip(pos, 0, max(nb - 1, 0))
    w = None if weight is None else weight._data.reshape(-1)[inside]
    hist = xp.bincount(pos, weights=w, minlength=nb).astype(data.dtype)
    if density:
        total = hist.sum()
        hist = hist / (total * xp.diff(edges)) if total else hist * xp.nan
        hist = hist.astype(data.dtype)
    return _HistogramResult(Tensor._make(hist), Tensor._make(edges.copy()))


__all__ = [
    "aminmax",
    "gradient",
    "bincount",
    "corrcoef",
    "cov",
    "cumulative_trapezoid",
    "histogram",
    "nanmean",
    "nanquantile",
    "trapezoid",
    "trapz",
    "histc",
    "kthvalue",
    "median",
    "mode",
    "msort",
    "nanmedian",
    "nansum",
    "quantile",
    "unique",
    "unique_consecutive",
]
