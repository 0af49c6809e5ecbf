"""Normalisation primitives: batch, layer and group norm, one derivative rule each.

Each op normalises ``x`` viewed as a small-rank array (batch norm: ``(N, C, L)`` with statistics
per channel over ``N`` and ``L``; layer norm: ``(R, K)`` with statistics per row; group norm:
``(N, G, D)`` with statistics per group), then applies the per-channel (per-element for layer
norm) affine. The forward follows PyTorch's ``native_*_norm`` (two-pass mean and biased variance,
``rstd = 1 / sqrt(var + eps)``); the backward is PyTorch's closed form

    gx = rstd * (w g - mean(w g) - xhat * mean(w g xhat)),   xhat = (x - mean) * rstd,

written once with the rule namespace. Like PyTorch, the node saves the input, the weight and the
mean and rstd. Those two are recorded as functions of ``x`` (their nodes run only under
``create_graph``), so the rule's gradient differentiates through them: second order for free.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.autograd.graph import array_namespace
from ndgrad.ops._common import record
from ndgrad.ops.pointwise import elementwise

# -------------------------------------------------------------------- statistics as functions


def _stats(x: Tensor, view: tuple, axes: tuple, mean: Any, rstd: Any) -> tuple[Tensor, Tensor]:
    """``mean`` and ``rstd`` (keepdims shape of ``view``) as Tensors differentiable w.r.t. ``x``.

    Recorded, not run at first order: under ``create_graph`` the normalisation rule reads them
    as Tensors and the gradient's graph goes through these two nodes back to ``x``.
    """
    shape = x.shape
    count = math.prod(view[a] for a in axes)

    def mean_rule(xp: Any, g: Any) -> tuple:
        return (xp.broadcast_to(g / count, view).reshape(shape),)

    mean_t = record("MeanBackward1", mean, (x,), mean_rule)

    def rstd_rule(xp: Any, g: Any, x: Any, mean: Any, result: Any) -> tuple:
        # rstd = (mean((x - m)^2) + eps)^(-1/2): d/dx = -rstd^3 (x - m) / count (the term
        # through m vanishes since sum(x - m) = 0).
        return (
            ((g * result * result * result) / -count * (x.reshape(view) - mean)).reshape(shape),
        )

    rstd_t = record("RsqrtBackward0", rstd, (x,), rstd_rule, (x, mean_t), save_output=True)
    return mean_t, rstd_t


def _moments(xp: Any, v: Any, axes: tuple, spec: str, eps: float) -> tuple[Any, Any, Any, Any]:
    """Two-pass mean, centred data, biased variance and rstd of ``v`` over ``axes`` (kept).

    ``spec`` is the einsum of a sum over ``axes`` (``"ncl->c"``): one pass, no temporaries.
    """
    count = math.prod(v.shape[a] for a in axes)
    keep = tuple(1 if i in axes else s for i, s in enumerate(v.shape))
    dt = v.dtype.type
    n = dt(max(count, 1))
    mean = (xp.einsum(spec, v) / n).reshape(keep)
    xc = v - mean
    sq = spec.split("->")[0]
    var = (xp.einsum(f"{sq},{sq}->{spec.split('->')[1]}", xc, xc) / n).reshape(keep)
    with _quiet(xp):
        rstd = (1 / xp.sqrt(var + dt(eps))).astype(v.dtype, copy=False)
    return mean.astype(v.dtype, copy=False), xc, var.astype(v.dtype, copy=False), rstd


def _quiet(xp: Any) -> Any:
    """NumPy's floating-point warnings off (an ``eps=0`` constant input: inf, as PyTorch)."""
    return np.errstate(all="ignore") if xp is np else contextlib.nullcontext()


# ----------------------------------------------------------------------------- batch norm


def batch_norm(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    training: bool,
    eps: float,
) -> tuple[Tensor, Any, Any]:
    """PyTorch's ``native_batch_norm`` for ``x`` of shape ``(N, C, *)``.

    Training: batch statistics (biased variance); eval: ``running_mean``/``running_var``.
    Returns the output and, in training, the batch mean and the UNBIASED variance (arrays of
    shape ``(C,)``) for the caller's running-statistics update (``None, None`` in eval).
    """
    d = x._data
    xp = array_module(d)
    shape = d.shape
    n, c = shape[0], shape[1]
    length = math.prod(shape[2:])
    view = (n, c, length)
    cshape = (1, c, 1)
    v = d.reshape(view)
    dt = d.dtype
    if training:
        mean, xc, var, rstd = _moments(xp, v, (0, 2), "ncl->c", eps)
    else:
        mean = running_mean._data.astype(dt, copy=False).reshape(cshape)
        var = running_var._data.astype(dt, copy=False).reshape(cshape)
        with _quiet(xp):
            rstd = (1 / xp.sqrt(var + dt.type(eps))).astype(dt, copy=False)
        xc = v - mean
    count = max(n * length, 1)  # an empty batch: an empty gradient, no 0/0
    scale = rstd if weight is None else rstd * weight._data.reshape(cshape)
    shift = None if bias is None else bias._data.reshape(cshape)

    def affine(ns: Any, xc: Any) -> tuple:
        out = xc * scale
        if shift is not None:
            out += shift
        return (out,)

    # large batches: the element-wise passes on the intra-op threads, a slice of images each
    (out,) = elementwise(array_namespace(d), affine, (xc,), view, 2)
    out = out.reshape(shape)
    stats = (None, None)
    if training:
        with _quiet(xp):
            unbiased = (
                var * (dt.type(count) / dt.type(count - 1)) if count > 1 else var * dt.type(xp.inf)
            )
        stats = (mean.reshape(c), unbiased.reshape(c))
    del xc, v
    if training:
        mean_t, rstd_t = _stats(x, view, (0, 2), mean, rstd)
    else:
        mean_t, rstd_t = Tensor._make(mean), Tensor._make(rstd)
    has_w, has_b = weight is not None, bias is not None
    need_x = x._requires_grad
    need_w = has_w and weight._requires_grad
    need_b = has_b and bias._requires_grad

    def rule(xp: Any, g: Any, x: Any, *rest: Any) -> tuple:
        mean, rstd = rest[-2], rest[-1]
        g3 = g.reshape(view)
        (xc,) = elementwise(xp, lambda ns, x3: (x3 - mean,), (x.reshape(view),), view, 2)
        sum_g = xp.einsum("ncl->c", g3)
        dot = xp.einsum("ncl,ncl->c", xc, g3)
        r = rstd.reshape((c,))
        gx = None
        if need_x:
            k = rest[0].reshape(cshape) * rstd if has_w else rstd
            if training:
                corr = (dot * r * r / count).reshape(cshape)
                mg = (sum_g / count).reshape(cshape)

                def part(ns: Any, g3: Any, xc: Any) -> tuple:
                    return ((g3 - mg - xc * corr) * k,)

            else:

                def part(ns: Any, g3: Any, xc: Any) -> tuple:
                    return (g3 * k,)

            gx = elementwise(xp, part, (g3, xc), view, 2)[0].reshape(shape)
        return _grads(gx, dot * r if need_w else None, sum_g if need_b else None, has_w, has_b)

    inputs = _present(x, weight, bias)
    saved = (x,) + ((weight,) if has_w else ()) + (mean_t, rstd_t)
    return record("NativeBatchNormBackward0", out, inputs, rule, saved), *stats


def _present(x: Tensor, weight: Tensor | None, bias: Tensor | None) -> tuple:
    return (x,) + ((weight,) if weight is not None else ()) + ((bias,) if bias is not None else ())


def _grads(gx: Any, gw: Any, gb: Any, has_w: bool, has_b: bool) -> tuple:
    return (gx,) + ((gw,) if has_w else ()) + ((gb,) if has_b else ())


# ----------------------------------------------------------------------------- layer norm


def layer_norm(
    x: Tensor, ndims: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """PyTorch's ``native_layer_norm``: statistics over the trailing ``ndims`` dims (``x`` viewed
    as ``(R, K)``), then the element-wise affine of ``weight``/``bias`` (shaped as those dims)."""
    d = x._data
    xp = array_module(d)
    shape = d.shape
    k = math.prod(shape[len(shape) - ndims :])
    rows = math.prod(shape[: len(shape) - ndims])
    view = (rows, k)
    v = d.reshape(view)
    mean, xc, _, rstd = _moments(xp, v, (1,), "rk->r", eps)
    out = xc * rstd
    if weight is not None:
        out *= weight._data.reshape((1, k))
    if bias is not None:
        out += bias._data.reshape((1, k))
    out = out.reshape(shape)
    del xc, v
    mean_t, rstd_t = _stats(x, view, (1,), mean, rstd)
    wshape = tuple(shape[len(shape) - ndims :])
    has_w, has_b = weight is not None, bias is not None
    need_x = x._requires_grad
    need_w = has_w and weight._requires_grad
    need_b = has_b and bias._requires_grad

    def rule(xp: Any, g: Any, x: Any, *rest: Any) -> tuple:
        mean, rstd = rest[-2], rest[-1]
        g2 = g.reshape(view)
        xhat = (x.reshape(view) - mean) * rstd
        gw = xp.einsum("rk,rk->k", g2, xhat).reshape(wshape) if need_w else None
        gb = xp.einsum("rk->k", g2).reshape(wshape) if need_b else None
        gx = None
        if need_x:
            gh = g2 * rest[0].reshape((1, k)) if has_w else g2
            a = gh.sum(axis=1, keepdims=True) / k
            b = (gh * xhat).sum(axis=1, keepdims=True) / k
            gx = ((gh - a - xhat * b) * rstd).reshape(shape)
        return _grads(gx, gw, gb, has_w, has_b)

    saved = (x,) + ((weight,) if has_w else ()) + (mean_t, rstd_t)
    return record("NativeLayerNormBackward0", out, _present(x, weight, bias), rule, saved)


# ----------------------------------------------------------------------------- group norm


def group_norm(
    x: Tensor, groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """PyTorch's ``native_group_norm`` for ``x`` of shape ``(N, C, *)``: statistics per sample
    and group of ``C / groups`` channels (``x`` viewed as ``(N, G, D)``), then the per-channel
    affine."""
    d = x._data
    xp = array_module(d)
    shape = d.shape
    n, c = shape[0], shape[1]
    length = math.prod(shape[2:])
    view = (n, groups, (c // groups) * length)
    cview = (n, c, length)
    cshape = (1, c, 1)
    v = d.reshape(view)
    mean, xc, _, rstd = _moments(xp, v, (2,), "ngd->ng", eps)
    out = (xc * rstd).reshape(cview)
    if weight is not None:
        out *= weight._data.reshape(cshape)
    if bias is not None:
        out += bias._data.reshape(cshape)
    out = out.reshape(shape)
    del xc, v
    mean_t, rstd_t = _stats(x, view, (2,), mean, rstd)
    has_w, has_b = weight is not None, bias is not None
    need_x = x._requires_grad
    need_w = has_w and weight._requires_grad
    need_b = has_b and bias._requires_grad
    size = view[2]

    def rule(xp: Any, g: Any, x: Any, *rest: Any) -> tuple:
        mean, rstd = rest[-2], rest[-1]
        g3 = g.reshape(cview)
        xhat = (x.reshape(view) - mean) * rstd
        gw = xp.einsum("ncl,ncl->c", g3, xhat.reshape(cview)) if need_w else None
        gb = xp.einsum("ncl->c", g3) if need_b else None
        gx = None
        if need_x:
            gh = (g3 * rest[0].reshape(cshape) if has_w else g3).reshape(view)
            a = gh.sum(axis=2, keepdims=True) / size
            b = (gh * xhat).sum(axis=2, keepdims=True) / size
            gx = ((gh - a - xhat * b) * rstd).reshape(shape)
        return _grads(gx, gw, gb, has_w, has_b)

    saved = (x,) + ((weight,) if has_w else ()) + (mean_t, rstd_t)
    return record("NativeGroupNormBackward0", out, _present(x, weight, bias), rule, saved)
