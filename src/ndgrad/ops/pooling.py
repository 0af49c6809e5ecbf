"""Pooling, padding and interpolation primitives: one derivative rule each.

Every op works on the last two dims (1-D pooling is 2-D pooling of height 1, composed in
``nn.functional``). Max pooling gathers its windows with one strided view
(``as_strided``), takes the first maximum of each (``argmax``, PyTorch's tie rule) and saves
PyTorch's flat per-plane indices (int64); its gradient scatters ``g`` to them
(``xp.add_along_axis_zeros``, whose Tensor side is differentiable, so second order comes from
the same rule). Average pooling sums strided slices (a loop over kernel offsets) and its
gradient spreads ``g`` back over the windows (``xp.window_sum``/``xp.window_spread``, each the
other's derivative). Adaptive average pooling and interpolation are separable linear maps:
``A_h @ x @ A_w^T`` with small interpolation matrices saved as tensors; their gradients are
``A_h^T @ g @ A_w``. Padding is slicing (constant) or one gather by index arrays (reflect,
replicate, circular) whose gradient is ``xp.index_add_zeros``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.ops._common import record

# (H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw): a pooling's geometry, a closure constant.
Geometry = tuple


def pool_out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape``."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _padded_extent(geom: Geometry) -> tuple[int, int]:
    """Height and width of the padded plane every window fits in (ceil_mode may reach past)."""
    h, w, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw = geom
    hp = max(h + 2 * ph, (ho - 1) * sh + dh * (kh - 1) + 1)
    wp = max(w + 2 * pw, (wo - 1) * sw + dw * (kw - 1) + 1)
    return hp, wp


def _pad_planes(xp: Any, x: Any, geom: Geometry, fill: Any) -> Any:
    h, w, _, _, _, _, _, _, ph, pw, _, _ = geom
    hp, wp = _padded_extent(geom)
    if (hp, wp) == (h, w):
        return x
    out = xp.full(x.shape[:-2] + (hp, wp), fill, dtype=x.dtype)
    out[..., ph : ph + h, pw : pw + w] = x
    return out


def _offset_slices(geom: Geometry, i: int, j: int) -> tuple:
    """The key of the padded plane's entries at kernel offset (i, j) of every window."""
    _, _, ho, wo, _, _, sh, sw, _, _, dh, dw = geom
    return (
        Ellipsis,
        slice(i * dh, i * dh + (ho - 1) * sh + 1, sh),
        slice(j * dw, j * dw + (wo - 1) * sw + 1, sw),
    )


def window_sum(xp: Any, x: Any, geom: Geometry) -> Any:
    """Sum of each window of ``x`` (..., H, W), zero-padded: (..., Ho, Wo)."""
    kh, kw = geom[4], geom[5]
    padded = _pad_planes(xp, x, geom, 0)
    parts = [padded[_offset_slices(geom, i, j)] for i in range(kh) for j in range(kw)]
    if len(parts) == 1:
        return parts[0].copy()
    out = parts[0] + parts[1]
    for part in parts[2:]:
        out += part
    return out


def window_spread(xp: Any, g: Any, geom: Geometry) -> Any:
    """The adjoint of ``window_sum``: each ``g`` (..., Ho, Wo) added over its window."""
    h, w, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw = geom
    if (sh, sw, ph, pw, dh, dw) == (kh, kw, 0, 0, 1, 1) and (h, w) == (ho * kh, wo * kw):
        # windows tiling the plane (LeNet's 2x2, stride 2): each entry written once, no adds
        out = xp.empty(g.shape[:-2] + (ho, kh, wo, kw), dtype=g.dtype)
        for i in range(kh):
            for j in range(kw):
                out[..., :, i, :, j] = g
        return out.reshape(g.shape[:-2] + (h, w))
    hp, wp = _padded_extent(geom)
    out = xp.zeros(g.shape[:-2] + (hp, wp), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            out[_offset_slices(geom, i, j)] += g
    return out[..., ph : ph + h, pw : pw + w]


def _array_window(xp: Any) -> dict:
    return {
        "window_sum": lambda x, geom: window_sum(xp, x, geom),
        "window_spread": lambda g, geom: window_spread(xp, g, geom),
    }


def _window_sum_t(x: Tensor, geom: Geometry) -> Tensor:
    """``window_sum`` of the rules' Tensor namespace (its derivative is ``window_spread``)."""
    data = window_sum(array_module(x._data), x._data, geom)
    return record(
        "AvgPool2DBackwardBackward0", data, (x,), lambda xp, g: (xp.window_spread(g, geom),)
    )


def _window_spread_t(g: Tensor, geom: Geometry) -> Tensor:
    """``window_spread`` of the rules' Tensor namespace (its derivative is ``window_sum``)."""
    data = window_spread(array_module(g._data), g._data, geom)
    return record("AvgPool2DBackward0", data, (g,), lambda xp, g: (xp.window_sum(g, geom),))


# ----------------------------------------------------------------------------- max pooling
def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _scatter_rule(in_shape: tuple, out_shape: tuple) -> Any:
    """The gradient of a max pooling: ``g`` added at the saved flat per-plane indices."""
    lead = in_shape[:-2]
    planes = math.prod(lead)
    n_in = in_shape[-2] * in_shape[-1]
    n_out = out_shape[-2] * out_shape[-1]

    def rule(xp: Any, g: Any, x: Any, idx: Any) -> tuple:
        flat = xp.add_along_axis_zeros(
            (planes, n_in), idx.reshape((planes, n_out)), g.reshape((planes, n_out)), 1
        )
        return (flat.reshape(in_shape),)

    return rule


def max_pool2d(x: Tensor, geom: Geometry, name: str = "MaxPool2DWithIndicesBackward0") -> tuple:
    """Max pooling of the last two dims: (values, int64 flat per-plane indices)."""
    d = x._data
    xp = array_module(d)
    h, w, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw = geom
    padded = _pad_planes(xp, d, geom, _lowest(d.dtype))
    # The first maximum over the kernel offsets, one strided view each: no window copies
    # (NumPy's reductions over a short last axis are slow). ``c > best`` keeps the first max;
    # a NaN wins over everything before it (PyTorch's ``val > max || isnan(val)``).
    # The offsets come in increasing order, so a later winner's offset is the larger: the
    # running arg is max(arg, k * better), two fast ufunc calls per offset.
    values = padded[_offset_slices(geom, 0, 0)].copy()
    small = kh * kw <= 255
    arg = xp.zeros(values.shape, dtype=np.uint8 if small else np.int64)
    floating = d.dtype.kind == "f"
    for k in range(1, kh * kw):
        cand = padded[_offset_slices(geom, k // kw, k % kw)]
        better = xp.greater(cand, values)
        if floating:
            better |= cand != cand
        xp.maximum(values, cand, out=values)
        if small:
            step = better.view(np.uint8)
            xp.multiply(step, np.uint8(k), out=step)
        else:
            step = better * k
        xp.maximum(arg, step, out=arg)
    arg = arg.astype(np.int64)
    ki, kj = xp.divmod(arg, kw) if kw > 1 else (arg, 0)
    rows = xp.arange(ho).reshape(ho, 1) * sh - ph + ki * dh
    cols = xp.arange(wo) * sw - pw + kj * dw
    idx = (rows * w + cols).astype(np.int64, copy=False)
    return _record_max(x, values, idx, name)


def _record_max(x: Tensor, values: Any, idx: Any, name: str) -> tuple:
    idx_t = Tensor._make(idx)
    # PyTorch saves the input as well as the indices (the rule reads only the indices)
    out = record(name, values, (x,), _scatter_rule(x._data.shape, values.shape), (x, idx_t))
    return out, idx_t


def adaptive_windows(n: int, out: int) -> tuple[Any, Any]:
    """PyTorch's adaptive windows [floor(i n / out), ceil((i + 1) n / out))."""
    i = np.arange(out)
    start = (i * n) // out
    end = -((-(i + 1) * n) // out)
    return start, end


def adaptive_max_pool2d(x: Tensor, out_hw: tuple[int, int]) -> tuple:
    """Adaptive max pooling of the last two dims: (values, int64 flat per-plane indices)."""
    d = x._data
    xp = array_module(d)
    h, w = d.shape[-2:]
    ho, wo = out_hw
    keys = []
    for n, o in ((h, ho), (w, wo)):
        start, end = adaptive_windows(n, o)
        k = int((end - start).max()) if o else 1
        # Windows padded to k by repeating their last entry (after it: ties stay first).
        keys.append(np.minimum(start[:, None] + np.arange(k), end[:, None] - 1))
    hidx, widx = keys
    kh, kw = hidx.shape[1], widx.shape[1]
    hk, wk = xp.asarray(hidx), xp.asarray(widx)
    win = d[..., hk[:, None, :, None], wk[None, :, None, :]]
    win = win.reshape(d.shape[:-2] + (ho, wo, kh * kw))
    arg = win.argmax(axis=-1) if win.size else xp.zeros(win.shape[:-1], dtype=np.int64)
    values = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    ki, kj = xp.divmod(arg, kw)
    rows = hk[xp.arange(ho)[:, None], ki]
    cols = wk[xp.arange(wo)[None, :], kj]
    idx = (rows * w + cols).astype(np.int64, copy=False)
    return _record_max(x, values, idx, "AdaptiveMaxPool2DBackward0")


# ----------------------------------------------------------------------------- average pooling
def avg_divisor(
    geom: Geometry, count_include_pad: bool, divisor_override: int | None
) -> float | Any:
    """PyTorch's divisor of each window: a number, or an (Ho, Wo) array where it varies."""
    if divisor_override:
        return float(divisor_override)
    h, w, ho, wo, kh, kw, sh, sw, ph, pw, _, _ = geom
    counts = []
    for n, o, k, s, p in ((h, ho, kh, sh, ph), (w, wo, kw, sw, pw)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(np.minimum(end, n) - np.maximum(start, 0))
    div = (counts[0][:, None] * counts[1][None, :]).astype(np.float64)
    if div.size == 0 or (div == div.flat[0]).all():
        return float(div.flat[0]) if div.size else 1.0
    return div


def avg_pool2d(x: Tensor, geom: Geometry, divisor: float | Any) -> Tensor:
    d = x._data
    xp = array_module(d)
    total = window_sum(xp, d, geom)
    if isinstance(divisor, float):
        if d.dtype.kind == "f":
            data = xp.true_divide(total, d.dtype.type(divisor), out=total)  # total is fresh
        else:
            data = (total // int(divisor)).astype(d.dtype)
        saved: tuple = ()
    else:
        div = xp.asarray(divisor, dtype=d.dtype if d.dtype.kind == "f" else np.float64)
        data = (total / div).astype(d.dtype, copy=False)
        saved = (Tensor._make(div),)

    scalar = divisor if isinstance(divisor, float) else 1.0  # an array goes through saved

    def rule(xp: Any, g: Any, x: Any, *div: Any) -> tuple:
        return (xp.window_spread(g / (div[0] if div else scalar), geom),)

    # PyTorch saves the input (the rule reads only the divisor)
    return record("AvgPool2DBackward0", data.astype(d.dtype, copy=False), (x,), rule, (x, *saved))


# ----------------------------------------------------------------------------- linear maps
def adaptive_avg_matrix(n: int, out: int) -> Any:
    """(out, n): row i averages PyTorch's adaptive window i."""
    start, end = adaptive_windows(n, out)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return inside / (end - start)[:, None]


def _separable(x: Tensor, mats: tuple, name: str, data: Any = None) -> Tensor:
    """``A_h @ x @ A_w^T`` over the last len(mats) dims (``mats`` = (A_h, A_w) or (A_w,)),
    its gradient ``A_h^T @ g @ A_w``; ``data`` is the forward where computed otherwise."""
    d = x._data
    xp = array_module(d)
    ms = tuple(Tensor._make(xp.asarray(m, dtype=d.dtype)) for m in mats)
    if data is None:
        data = d @ xp.swapaxes(ms[-1]._data, 0, 1)
        if len(ms) == 2:
            data = xp.matmul(ms[0]._data, data)

    def rule(xp: Any, g: Any, *mats: Any) -> tuple:
        mats = mats[1:] if keeps_input else mats
        g = xp.matmul(g, mats[-1])
        if len(mats) == 2:
            g = xp.matmul(xp.transpose(mats[0], (1, 0)), g)
        return (g,)

    # adaptive pooling saves its input, as PyTorch (upsampling saves nothing)
    keeps_input = name.startswith("Adaptive")
    return record(name, data, (x,), rule, (x, *ms) if keeps_input else ms)


def adaptive_avg_pool2d(x: Tensor, out_hw: tuple[int, int]) -> Tensor:
    h, w = x._data.shape[-2:]
    mats = (adaptive_avg_matrix(h, out_hw[0]), adaptive_avg_matrix(w, out_hw[1]))
    return _separable(x, mats, "AdaptiveAvgPool2DBackward0")


def _source_scale(n: int, out: int, align_corners: bool, scale: float | None, ft: Any) -> Any:
    """PyTorch's ``area_pixel_compute_scale`` (in the kernel's float type ``ft``)."""
    if align_corners:
        return ft((n - 1) / (out - 1)) if out > 1 else ft(0.0)
    return ft(1.0 / scale if scale is not None and scale > 0 else n / out)


def nearest_index(n: int, out: int, scale: float | None) -> Any:
    """PyTorch's nearest source index (float32 arithmetic, as its kernel)."""
    s = np.float32(1.0 / scale if scale is not None and scale > 0 else n / out)
    idx = np.floor(np.arange(out, dtype=np.float32) * s).astype(np.int64)
    return np.minimum(idx, n - 1)


def nearest_matrix(n: int, out: int, scale: float | None) -> Any:
    m = np.zeros((out, n))
    m[np.arange(out), nearest_index(n, out, scale)] = 1.0
    return m


def linear_matrix(
    n: int, out: int, align_corners: bool, scale: float | None, ft: Any = np.float64
) -> Any:
    """(out, n): PyTorch's linear interpolation weights along one dim, computed in ``ft``
    (float32 for float32 input, as PyTorch's kernel)."""
    r = _source_scale(n, out, align_corners, scale, ft)
    dst = np.arange(out, dtype=ft)
    src = r * dst if align_corners else np.maximum(r * (dst + ft(0.5)) - ft(0.5), ft(0.0))
    i0 = np.minimum(src.astype(np.int64), n - 1)
    i1 = np.where(i0 < n - 1, i0 + 1, i0)
    l1 = src - i0.astype(ft)
    m = np.zeros((out, n), dtype=ft)
    rows = np.arange(out)
    np.add.at(m, (rows, i0), ft(1.0) - l1)
    np.add.at(m, (rows, i1), l1)
    return m


def interpolate(
    x: Tensor,
    size: tuple,
    scales: tuple,
    mode: str,
    align_corners: bool,
) -> Tensor:
    """Nearest (gathered, exact) or (bi)linear interpolation of the last len(size) dims."""
    d = x._data
    xp = array_module(d)
    ins = d.shape[-len(size) :]
    k = len(size)
    if mode == "nearest":
        mats = tuple(nearest_matrix(n, o, s) for n, o, s in zip(ins, size, scales))
        if k == 2:
            hi = xp.asarray(nearest_index(ins[0], size[0], scales[0]))
            wi = xp.asarray(nearest_index(ins[1], size[1], scales[1]))
            data = d[..., hi[:, None], wi[None, :]]
        else:
            data = d[..., xp.asarray(nearest_index(ins[0], size[0], scales[0]))]
        name = f"UpsampleNearest{k}DBackward0"
        return _separable(x, mats, name, data)
    ft = np.float32 if d.dtype == np.float32 else np.float64
    mats = tuple(linear_matrix(n, o, align_corners, s, ft) for n, o, s in zip(ins, size, scales))
    name = "UpsampleLinear1DBackward0" if k == 1 else "UpsampleBilinear2DBackward0"
    return _separable(x, mats, name)


# ----------------------------------------------------------------------------- padding
def constant_pad(x: Tensor, pad: tuple, value: float) -> Tensor:
    """``F.pad(mode='constant')``: ``pad`` as (left, right) pairs from the last dim back;
    negative entries crop."""
    d = x._data
    xp = array_module(d)
    shape = list(d.shape)
    src: list = [slice(None)] * d.ndim
    dst: list = [slice(None)] * d.ndim
    for i in range(len(pad) // 2):
        dim = d.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        n = d.shape[dim]
        shape[dim] = n + lo + hi
        src[dim] = slice(max(-lo, 0), n - max(-hi, 0))
        dst[dim] = slice(max(lo, 0), max(lo, 0) + max(n - max(-lo, 0) - max(-hi, 0), 0))
    in_shape = d.shape
    out = xp.full(tuple(shape), value, dtype=d.dtype)
    src_key, dst_key = tuple(src), tuple(dst)
    if all(s >= 0 for s in shape):
        out[dst_key] = d[src_key]
    cropped = any(p < 0 for p in pad)

    def rule(xp: Any, g: Any) -> tuple:
        part = g[dst_key]
        return (xp.index_add_zeros(in_shape, src_key, part) if cropped else part,)

    return record("ConstantPadNdBackward0", out, (x,), rule)


def pad_indices(n: int, lo: int, hi: int, mode: str) -> Any:
    """Source index of each padded position along one dim (reflect, replicate, circular)."""
    pos = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    if mode == "circular":
        # PyTorch wraps what is left after negative pads crop: x[cl : n - cr] repeated
        cl, cr = max(-lo, 0), max(-hi, 0)
        m = max(n - cl - cr, 1)
        return cl + (np.arange(-max(lo, 0), n - cl - cr + max(hi, 0)) % m)
    period = 2 * (n - 1) if n > 1 else 1
    pos = np.abs(pos) % period
    return np.where(pos >= n, period - pos, pos)


def index_pad(x: Tensor, pad: tuple, mode: str) -> Tensor:
    """``F.pad`` in reflect/replicate/circular mode over the last len(pad)//2 dims."""
    d = x._data
    xp = array_module(d)
    k = len(pad) // 2
    idx = []
    for i in range(k):
        dim = d.ndim - 1 - i
        idx.append(pad_indices(d.shape[dim], pad[2 * i], pad[2 * i + 1], mode))
    idx.reverse()  # first padded dim first
    grids = tuple(xp.asarray(a.reshape((-1,) + (1,) * (k - 1 - j))) for j, a in enumerate(idx))
    lead = d.shape[: d.ndim - k]
    planes = d.reshape((math.prod(lead),) + d.shape[d.ndim - k :])
    flat_in = planes.shape
    data = planes[(slice(None),) + grids]
    out_shape = lead + data.shape[1:]
    flat_out = data.shape
    in_shape = d.shape
    saved = tuple(Tensor._make(g) for g in grids)

    def rule(xp: Any, g: Any, *grids: Any) -> tuple:
        key = (slice(None),) + grids
        return (xp.index_add_zeros(flat_in, key, g.reshape(flat_out)).reshape(in_shape),)

    if mode == "circular":
        name = "CopySlices"
    else:
        name = ("ReflectionPad" if mode == "reflect" else "ReplicationPad") + f"{k}DBackward0"
    return record(name, data.reshape(out_shape), (x,), rule, saved)
