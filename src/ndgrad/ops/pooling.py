"""Pooling, unpooling, padding and interpolation primitives: one derivative rule each.

The pooling ops work on the last N dims (1, 2 or 3: 1-D pooling is 2-D pooling of height 1,
composed in ``nn.functional``); a geometry holds one size, kernel, stride, padding and
dilation per pooled dim. Max pooling gathers its windows with one strided view per kernel
offset, takes the first maximum of each (PyTorch's tie rule) and saves PyTorch's flat
per-plane indices (int64); its gradient scatters ``g`` to them (``xp.add_along_axis_zeros``,
whose Tensor side is differentiable, so second order comes from the same rule); unpooling is
its adjoint (a write at the indices, a gather back). Average pooling sums strided slices (a
loop over kernel offsets) and its gradient spreads ``g`` back over the windows
(``xp.window_sum``/``xp.window_spread``, each the other's derivative). Adaptive average
pooling and interpolation (nearest, linear, cubic, antialiased) are separable linear maps: one
small matrix per dim (``A_h @ x @ A_w^T`` in 2-D) saved as tensors; their gradients apply the
transposes. Padding is slicing (constant) or one gather by index arrays (reflect, replicate,
circular) whose gradient is ``xp.index_add_zeros``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.ops._common import record

# (ins, outs, ks, ss, ps, ds): a pooling's geometry over the last len(ins) dims, each entry a
# tuple with one int per pooled dim (input size, output size, kernel, stride, padding,
# dilation); a closure constant.
Geometry = tuple


def pool_out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape``."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _padded_extent(geom: Geometry) -> tuple:
    """The sizes of the padded block every window fits in (ceil_mode may reach past)."""
    ins, outs, ks, ss, ps, ds = geom
    return tuple(
        max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1)
        for n, o, k, s, p, d in zip(ins, outs, ks, ss, ps, ds)
    )


def _pad_planes(xp: Any, x: Any, geom: Geometry, fill: Any) -> Any:
    ins, ps = geom[0], geom[4]
    ext = _padded_extent(geom)
    if ext == ins:
        return x
    out = xp.full(x.shape[: -len(ins)] + ext, fill, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(p, p + n) for n, p in zip(ins, ps))] = x
    return out


def _offset_slices(geom: Geometry, offs: tuple) -> tuple:
    """The key of the padded block's entries at kernel offset ``offs`` of every window."""
    _, outs, _, ss, _, ds = geom
    return (Ellipsis,) + tuple(
        slice(i * d, i * d + (o - 1) * s + 1, s) for i, o, s, d in zip(offs, outs, ss, ds)
    )


def _kernel_offsets(geom: Geometry) -> list:
    """Every kernel offset, the last dim fastest (PyTorch's window order)."""
    return list(itertools.product(*(range(k) for k in geom[2])))


def window_sum(xp: Any, x: Any, geom: Geometry) -> Any:
    """Sum of each window of ``x`` (..., *ins), zero-padded: (..., *outs)."""
    padded = _pad_planes(xp, x, geom, 0)
    parts = [padded[_offset_slices(geom, offs)] for offs in _kernel_offsets(geom)]
    if len(parts) == 1:
        return parts[0].copy()
    out = parts[0] + parts[1]
    for part in parts[2:]:
        out += part
    return out


def window_spread(xp: Any, g: Any, geom: Geometry) -> Any:
    """The adjoint of ``window_sum``: each ``g`` (..., *outs) added over its window."""
    ins, outs, ks, ss, ps, ds = geom
    n = len(ins)
    lead = g.shape[:-n]
    if (
        ss == ks
        and not any(ps)
        and all(d == 1 for d in ds)
        and ins == tuple(o * k for o, k in zip(outs, ks))
    ):
        # windows tiling the input (LeNet's 2x2, stride 2): each entry written once, no adds
        out = xp.empty(lead + sum(((o, k) for o, k in zip(outs, ks)), ()), dtype=g.dtype)
        for offs in _kernel_offsets(geom):
            out[(Ellipsis,) + sum(((slice(None), i) for i in offs), ())] = g
        return out.reshape(lead + ins)
    out = xp.zeros(lead + _padded_extent(geom), dtype=g.dtype)
    for offs in _kernel_offsets(geom):
        out[_offset_slices(geom, offs)] += g
    return out[(Ellipsis,) + tuple(slice(p, p + m) for m, p in zip(ins, ps))]


def _array_window(xp: Any) -> dict:
    return {
        "window_sum": lambda x, geom: window_sum(xp, x, geom),
        "window_spread": lambda g, geom: window_spread(xp, g, geom),
    }


def _window_sum_t(x: Tensor, geom: Geometry) -> Tensor:
    """``window_sum`` of the rules' Tensor namespace (its derivative is ``window_spread``)."""
    data = window_sum(array_module(x._data), x._data, geom)
    name = f"AvgPool{len(geom[0])}DBackwardBackward0"
    return record(name, data, (x,), lambda xp, g: (xp.window_spread(g, geom),))


def _window_spread_t(g: Tensor, geom: Geometry) -> Tensor:
    """``window_spread`` of the rules' Tensor namespace (its derivative is ``window_sum``)."""
    data = window_spread(array_module(g._data), g._data, geom)
    name = f"AvgPool{len(geom[0])}DBackward0"
    return record(name, data, (g,), lambda xp, g: (xp.window_sum(g, geom),))


# ----------------------------------------------------------------------------- max pooling
def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _scatter_rule(in_shape: tuple, out_shape: tuple, n: int) -> Any:
    """The gradient of a max pooling over the last ``n`` dims: ``g`` added at the saved flat
    per-plane indices."""
    lead = in_shape[:-n]
    planes = math.prod(lead)
    n_in = math.prod(in_shape[-n:])
    n_out = math.prod(out_shape[-n:])

    def rule(xp: Any, g: Any, x: Any, idx: Any) -> tuple:
        flat = xp.add_along_axis_zeros(
            (planes, n_in), idx.reshape((planes, n_out)), g.reshape((planes, n_out)), 1
        )
        return (flat.reshape(in_shape),)

    return rule


def _flat_index(xp: Any, arg: Any, geom: Geometry) -> Any:
    """PyTorch's flat per-plane input index of each window's winning kernel offset ``arg``
    (the offsets numbered with the last dim fastest)."""
    ins, outs, ks, ss, ps, ds = geom
    n = len(ins)
    idx: Any = None
    rem = arg
    plane = 1
    for j in reversed(range(n)):
        if j == 0:
            kj = rem
        elif ks[j] > 1:
            rem, kj = xp.divmod(rem, ks[j])
        else:
            kj = 0
        pos = xp.arange(outs[j]).reshape((-1,) + (1,) * (n - 1 - j)) * ss[j] - ps[j] + kj * ds[j]
        idx = pos * plane if idx is None else idx + pos * plane
        plane *= ins[j]
    return idx.astype(np.int64, copy=False)


def max_pool(x: Tensor, geom: Geometry, name: str = "") -> tuple:
    """Max pooling of the last len(geom[0]) dims: (values, int64 flat per-plane indices)."""
    d = x._data
    xp = array_module(d)
    padded = _pad_planes(xp, d, geom, _lowest(d.dtype))
    # The first maximum over the kernel offsets, one strided view each: no window copies
    # (NumPy's reductions over a short last axis are slow). ``c > best`` keeps the first max;
    # a NaN wins over everything before it (PyTorch's ``val > max || isnan(val)``).
    # The offsets come in increasing order, so a later winner's offset is the larger: the
    # running arg is max(arg, k * better), two fast ufunc calls per offset.
    offsets = _kernel_offsets(geom)
    values = padded[_offset_slices(geom, offsets[0])].copy()
    small = len(offsets) <= 255
    arg = xp.zeros(values.shape, dtype=np.uint8 if small else np.int64)
    floating = d.dtype.kind == "f"
    for k in range(1, len(offsets)):
        cand = padded[_offset_slices(geom, offsets[k])]
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
    idx = _flat_index(xp, arg.astype(np.int64), geom)
    name = name or f"MaxPool{len(geom[0])}DWithIndicesBackward0"
    return _record_max(x, values, idx, name, len(geom[0]))


def max_pool2d(x: Tensor, geom: Geometry, name: str = "MaxPool2DWithIndicesBackward0") -> tuple:
    """Max pooling of the last two dims: (values, int64 flat per-plane indices)."""
    return max_pool(x, geom, name)


def _record_max(x: Tensor, values: Any, idx: Any, name: str, n: int = 2) -> tuple:
    idx_t = Tensor._make(idx)
    # PyTorch saves the input as well as the indices (the rule reads only the indices)
    out = record(name, values, (x,), _scatter_rule(x._data.shape, values.shape, n), (x, idx_t))
    return out, idx_t


def adaptive_windows(n: int, out: int) -> tuple[Any, Any]:
    """PyTorch's adaptive windows [floor(i n / out), ceil((i + 1) n / out))."""
    i = np.arange(out)
    start = (i * n) // out
    end = -((-(i + 1) * n) // out)
    return start, end


def adaptive_max_pool(x: Tensor, out_size: tuple) -> tuple:
    """Adaptive max pooling of the last len(out_size) dims: (values, int64 flat per-plane
    indices)."""
    d = x._data
    xp = array_module(d)
    n = len(out_size)
    ins = d.shape[-n:]
    keys = []
    for m, o in zip(ins, out_size):
        start, end = adaptive_windows(m, o)
        k = int((end - start).max()) if o else 1
        # Windows padded to k by repeating their last entry (after it: ties stay first).
        keys.append(xp.asarray(np.minimum(start[:, None] + np.arange(k), end[:, None] - 1)))
    ks = [key.shape[1] for key in keys]
    lead = d.shape[:-n]
    if all(o and m % o == 0 for m, o in zip(ins, out_size)):
        # equal windows tiling the input: one reshape and transpose copy, no gather
        split = sum(((o, m // o) for m, o in zip(ins, out_size)), ())
        nl = len(lead)
        order = tuple(range(nl)) + tuple(nl + 2 * j for j in range(n))
        order += tuple(nl + 2 * j + 1 for j in range(n))
        win = xp.transpose(d.reshape(lead + split), order)
    else:
        # (o_1, .., o_n, k_1, .., k_n) gather keys, one per dim
        gather = tuple(
            key.reshape(
                tuple(o if i == j else 1 for i, o in enumerate(out_size))
                + tuple(k if i == j else 1 for i, k in enumerate(ks))
            )
            for j, key in enumerate(keys)
        )
        win = d[(Ellipsis,) + gather]
    win = win.reshape(lead + tuple(out_size) + (math.prod(ks),))
    arg = win.argmax(axis=-1) if win.size else xp.zeros(win.shape[:-1], dtype=np.int64)
    values = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    idx: Any = None
    rem = arg
    plane = 1
    for j in reversed(range(n)):
        rem, kj = xp.divmod(rem, ks[j]) if j else (None, rem)
        pos = keys[j][xp.arange(out_size[j]).reshape((-1,) + (1,) * (n - 1 - j)), kj]
        idx = pos * plane if idx is None else idx + pos * plane
        plane *= ins[j]
    idx = idx.astype(np.int64, copy=False)
    return _record_max(x, values, idx, f"AdaptiveMaxPool{n}DBackward0", n)


def adaptive_max_pool2d(x: Tensor, out_hw: tuple[int, int]) -> tuple:
    """Adaptive max pooling of the last two dims."""
    return adaptive_max_pool(x, out_hw)


# ----------------------------------------------------------------------------- average pooling
def avg_divisor(
    geom: Geometry, count_include_pad: bool, divisor_override: int | None
) -> float | Any:
    """PyTorch's divisor of each window: a number, or an (*outs) array where it varies."""
    if divisor_override:
        return float(divisor_override)
    ins, outs, ks, ss, ps, _ = geom
    div: Any = None
    for n, o, k, s, p in zip(ins, outs, ks, ss, ps):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if count_include_pad:
            c = end - start
        else:
            c = np.minimum(end, n) - np.maximum(start, 0)
        div = c if div is None else np.multiply.outer(div, c)
    div = div.astype(np.float64)
    if div.size == 0 or (div == div.flat[0]).all():
        return float(div.flat[0]) if div.size else 1.0
    return div


def avg_pool(x: Tensor, geom: Geometry, divisor: float | Any) -> Tensor:
    """Average pooling of the last len(geom[0]) dims by PyTorch's ``divisor``."""
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
    name = f"AvgPool{len(geom[0])}DBackward0"
    return record(name, data.astype(d.dtype, copy=False), (x,), rule, (x, *saved))


avg_pool2d = avg_pool


# ----------------------------------------------------------------------------- linear maps
def adaptive_avg_matrix(n: int, out: int) -> Any:
    """(out, n): row i averages PyTorch's adaptive window i."""
    start, end = adaptive_windows(n, out)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return inside / (end - start)[:, None]


def _along(xp: Any, m: Any, x: Any, k: int) -> Any:
    """The (out, n) matrix ``m`` applied to dim -k (k >= 2) of ``x``: one matmul."""
    if k == 2:
        return xp.matmul(m, x)
    shape = x.shape
    rest = shape[len(shape) - k + 1 :]
    y = xp.matmul(m, x.reshape(shape[: len(shape) - k] + (shape[-k], math.prod(rest))))
    return y.reshape(shape[: len(shape) - k] + (m.shape[0],) + rest)


def _repeat_sum(g: Any, r: int, k: int) -> Any:
    """The transpose of repeating each entry of dim -k ``r`` times in a row: sums of runs."""
    # r strided slices added (NumPy's reductions over a short axis are slow)
    if r == 1:
        return g
    tail = (slice(None),) * (k - 1)
    out = g[(Ellipsis, slice(0, None, r)) + tail] + g[(Ellipsis, slice(1, None, r)) + tail]
    for i in range(2, r):
        out = out + g[(Ellipsis, slice(i, None, r)) + tail]
    return out


def _separable(
    x: Tensor, mats: tuple, name: str, data: Any = None, repeats: tuple | None = None
) -> Tensor:
    """``x`` times one small matrix along each of its last len(mats) dims (``A_h @ x @ A_w^T``
    in 2-D); its gradient the transposes' (``A_h^T @ g @ A_w``); ``data`` is the forward
    where computed otherwise. ``repeats[j]``, where not None, says matrix j repeats each
    entry that many times in a row (nearest upsampling by an integer factor): its transpose
    is then a sum over runs, not a matmul."""
    d = x._data
    xp = array_module(d)
    ms = tuple(Tensor._make(xp.asarray(m, dtype=d.dtype)) for m in mats)
    n = len(ms)
    reps = repeats or (None,) * n
    if data is None:
        data = d @ xp.swapaxes(ms[-1]._data, 0, 1)
        for j in range(n - 1):
            data = _along(xp, ms[n - 2 - j]._data, data, j + 2)

    def rule(xp: Any, g: Any, *mats: Any) -> tuple:
        mats = mats[1:] if keeps_input else mats
        for j in range(n):  # dim -(j + 1) takes matrix n - 1 - j
            m, r = mats[n - 1 - j], reps[n - 1 - j]
            if r is not None:
                g = _repeat_sum(g, r, j + 1)
            elif j == 0:
                g = xp.matmul(g, m)
            else:
                g = _along(xp, xp.transpose(m, (1, 0)), g, j + 1)
        return (g,)

    # adaptive pooling saves its input, as PyTorch (upsampling saves nothing)
    keeps_input = name.startswith("Adaptive")
    return record(name, data, (x,), rule, (x, *ms) if keeps_input else ms)


def adaptive_avg_pool(x: Tensor, out_size: tuple) -> Tensor:
    """Adaptive average pooling of the last len(out_size) dims."""
    ins = x._data.shape[-len(out_size) :]
    mats = tuple(adaptive_avg_matrix(n, o) for n, o in zip(ins, out_size))
    return _separable(x, mats, f"AdaptiveAvgPool{len(out_size)}DBackward0")


def adaptive_avg_pool2d(x: Tensor, out_hw: tuple[int, int]) -> Tensor:
    return adaptive_avg_pool(x, out_hw)


def _source_scale(n: int, out: int, align_corners: bool, scale: float | None, ft: Any) -> Any:
    """PyTorch's ``area_pixel_compute_scale`` (in the kernel's float type ``ft``)."""
    if align_corners:
        return ft((n - 1) / (out - 1)) if out > 1 else ft(0.0)
    return ft(1.0 / scale if scale is not None and scale > 0 else n / out)


def nearest_index(n: int, out: int, scale: float | None, exact: bool = False) -> Any:
    """PyTorch's nearest (or nearest-exact) source index (float32 arithmetic, as its
    kernel)."""
    s = np.float32(1.0 / scale if scale is not None and scale > 0 else n / out)
    dst = np.arange(out, dtype=np.float32)
    idx = np.floor((dst + np.float32(0.5)) * s if exact else dst * s).astype(np.int64)
    return np.minimum(idx, n - 1)


def nearest_matrix(n: int, out: int, scale: float | None, exact: bool = False) -> Any:
    m = np.zeros((out, n))
    m[np.arange(out), nearest_index(n, out, scale, exact)] = 1.0
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


def _keys_near(x: Any, a: Any, ft: Any) -> Any:
    """Keys' cubic convolution kernel for |x| <= 1 (ATen's ``cubic_convolution1``)."""
    return ((a + ft(2)) * x - (a + ft(3))) * x * x + ft(1)


def _keys_far(x: Any, a: Any, ft: Any) -> Any:
    """Keys' kernel for 1 < |x| < 2 (ATen's ``cubic_convolution2``)."""
    return ((a * x - ft(5) * a) * x + ft(8) * a) * x - ft(4) * a


def _cubic_weights(t: Any, a: float, ft: Any) -> tuple:
    """The four cubic-convolution weights of the taps at -1, 0, 1, 2 for fraction ``t``
    (ATen's ``get_cubic_upsample_coefficients``, Keys' kernel with parameter ``a``)."""
    a, one = ft(a), ft(1)
    return (
        _keys_far(t + one, a, ft),
        _keys_near(t, a, ft),
        _keys_near(one - t, a, ft),
        _keys_far(one - t + one, a, ft),
    )


def cubic_matrix(
    n: int, out: int, align_corners: bool, scale: float | None, ft: Any = np.float64
) -> Any:
    """(out, n): PyTorch's bicubic weights (A = -0.75) along one dim; taps past the edges
    read the edge (ATen's clamped access)."""
    r = _source_scale(n, out, align_corners, scale, ft)
    dst = np.arange(out, dtype=ft)
    src = r * dst if align_corners else r * (dst + ft(0.5)) - ft(0.5)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    t = np.clip(src - i0.astype(ft), ft(0), ft(1)).astype(ft)
    m = np.zeros((out, n), dtype=ft)
    rows = np.arange(out)
    for j, w in enumerate(_cubic_weights(t, -0.75, ft)):
        np.add.at(m, (rows, np.clip(i0 - 1 + j, 0, n - 1)), w)
    return m


def antialias_matrix(
    n: int, out: int, align_corners: bool, scale: float | None, kind: str, ft: Any
) -> Any:
    """(out, n): ATen's antialiased weights (``_upsample_*_aa``): a triangle (bilinear),
    Keys' cubic with a = -0.5 (bicubic, as PIL) or Lanczos-3, widened by the downscaling
    factor, each row normalised to sum 1."""
    r = _source_scale(n, out, align_corners, scale, ft)
    half = ft({"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}[kind])
    support = half * r if r >= 1 else half
    invscale = ft(1) / r if r >= 1 else ft(1)
    # ATen's roundings: center = float(scale * (i + 0.5)), the bounds and the filter's
    # argument in double from float operands, the filter in the kernel's float type
    center = (np.float64(r) * (np.arange(out) + 0.5)).astype(ft)
    xmin = np.maximum(((center - support).astype(np.float64) + 0.5).astype(np.int64), 0)
    xmax = np.minimum(((center + support).astype(np.float64) + 0.5).astype(np.int64), n)
    width = int(math.ceil(support)) * 2 + 1
    xsize = np.clip(xmax - xmin, 0, width)
    j = np.arange(width)
    x = ((j[None, :] + xmin[:, None]).astype(ft) - center[:, None]).astype(np.float64)
    # the filters' constants are doubles: evaluated in double, stored in ``ft``
    x = np.abs(((x + 0.5) * np.float64(invscale)).astype(ft)).astype(np.float64)
    if kind == "lanczos":
        w = np.where(x < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
    elif kind == "bicubic":
        xf, a = x.astype(ft), ft(-0.5)  # ATen casts a to the kernel's type
        w = np.where(xf < 1, _keys_near(xf, a, ft), np.where(xf < 2, _keys_far(xf, a, ft), 0))
    else:
        w = np.where(x < 1, 1 - x, 0.0)
    w = np.where(j[None, :] < xsize[:, None], w, ft(0)).astype(ft)
    total = np.zeros((out, 1), dtype=ft)
    for col in range(width):  # the C++ loop's sequential sum
        total += w[:, col : col + 1]
    w = np.where(total != 0, w / np.where(total != 0, total, ft(1)), w).astype(ft)
    m = np.zeros((out, n), dtype=ft)
    cols = np.minimum(xmin[:, None] + j[None, :], n - 1)
    np.add.at(m, (np.repeat(np.arange(out), width), cols.ravel()), w.ravel())
    return m


_INTERP_NAMES = {
    "nearest": "UpsampleNearest{}DBackward0",
    "nearest-exact": "UpsampleNearestExact{}DBackward0",
    "linear": "UpsampleLinear1DBackward0",
    "bilinear": "UpsampleBilinear2DBackward0",
    "trilinear": "UpsampleTrilinear3DBackward0",
    "bicubic": "UpsampleBicubic2DBackward0",
}


def interpolate(
    x: Tensor,
    size: tuple,
    scales: tuple,
    mode: str,
    align_corners: bool,
    antialias: bool = False,
) -> Tensor:
    """Nearest (gathered, exact), (bi/tri)linear or bicubic interpolation of the last
    len(size) dims: one small matrix per dim (``_separable``)."""
    d = x._data
    xp = array_module(d)
    k = len(size)
    ins = d.shape[-k:]
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        idx = [nearest_index(n, o, s, exact) for n, o, s in zip(ins, size, scales)]
        mats = tuple(nearest_matrix(n, o, s, exact) for n, o, s in zip(ins, size, scales))
        key = tuple(xp.asarray(i.reshape((-1,) + (1,) * (k - 1 - j))) for j, i in enumerate(idx))
        data = d[(Ellipsis,) + key]
        reps = tuple(
            o // m if o % m == 0 and (i == np.arange(o) // (o // m)).all() else None
            for m, o, i in zip(ins, size, idx)
        )
        return _separable(x, mats, _INTERP_NAMES[mode].format(k), data, reps)
    ft = np.float32 if d.dtype == np.float32 else np.float64
    if antialias:
        mats = tuple(
            antialias_matrix(n, o, align_corners, s, mode, ft) for n, o, s in zip(ins, size, scales)
        )
        name = f"Upsample{mode.capitalize()}2DAaBackward0"
        return _separable(x, mats, name)
    make = cubic_matrix if mode == "bicubic" else linear_matrix
    mats = tuple(make(n, o, align_corners, s, ft) for n, o, s in zip(ins, size, scales))
    return _separable(x, mats, _INTERP_NAMES[mode])


def _fixed_point(m: Any) -> tuple[Any, int]:
    """ATen's int16 weights of a uint8 resize: the float64 weights scaled by 2**precision
    (the largest precision < 22 whose scaled maximum weight stays below 2**15, doubled),
    rounded half away from zero."""
    w_max = float(m.max()) if m.size else 0.0
    precision = 0
    while precision < 22 and int(0.5 + w_max * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    v = m * (1 << precision)
    return np.where(v < 0, v - 0.5, v + 0.5).astype(np.int64), precision


def resize_uint8(
    x: Tensor, size: tuple, scales: tuple, mode: str, align_corners: bool, antialias: bool
) -> Tensor:
    """PyTorch's uint8 bilinear/bicubic (antialiased or not) and Lanczos resize: per pass
    the float64 weights in fixed point, sums rounded and clamped to 0..255; the width pass
    first, each pass only where the size changes. Integers carry no gradient."""
    d = x._data
    xp = array_module(d)
    out = d
    for axis in (-1, -2):
        n, o, scale = d.shape[axis], size[axis], scales[axis]
        if n == o:
            continue
        if antialias:
            m = antialias_matrix(n, o, align_corners, scale, mode, np.float64)
        else:
            make = cubic_matrix if mode == "bicubic" else linear_matrix
            m = make(n, o, align_corners, scale, np.float64)
        w, precision = _fixed_point(m)
        moved = xp.moveaxis(out, axis, -1).astype(np.int64)
        acc = moved @ xp.asarray(w.T) + (1 << (precision - 1))
        out = xp.moveaxis(xp.clip(acc >> precision, 0, 255).astype(np.uint8), -1, axis)
    return Tensor._make(out if out is not d else d.copy())


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


# ----------------------------------------------------------------------------- unpooling and
# fractional max pooling
def max_unpool(x: Tensor, idx: Tensor, out_size: tuple, name: str) -> Tensor:
    """Zeros of the spatial size ``out_size`` with each ``x`` written at its flat per-plane
    index ``idx`` (a later duplicate wins, as PyTorch's serial kernel); the gradient gathers
    ``g`` at the indices (PyTorch's rule, duplicates included)."""
    d = x._data
    xp = array_module(d)
    n = len(out_size)
    lead = d.shape[:-n]
    planes = math.prod(lead)
    n_in = math.prod(d.shape[-n:])
    n_out = math.prod(out_size)
    flat_idx = idx._data.reshape((planes, n_in))
    out = xp.zeros((planes, n_out), dtype=d.dtype)
    out[xp.arange(planes)[:, None], flat_idx] = d.reshape((planes, n_in))
    in_shape = d.shape

    def rule(xp: Any, g: Any, i: Any) -> tuple:
        got = xp.take_along_axis(g.reshape((planes, n_out)), i.reshape((planes, n_in)), 1)
        return (got.reshape(in_shape),)

    return record(name, out.reshape(lead + tuple(out_size)), (x,), rule, (idx,))


def fractional_starts(samples: Any, n: int, out: int, k: int, ft: Any) -> Any:
    """ATen's ``generate_intervals``: the window starts of each plane (one uniform sample
    per plane, ``samples`` (P,)), computed in the input's float type ``ft``: (P, out)."""
    seq = np.zeros((samples.shape[0], out), dtype=np.int64)
    if out > 1:
        alpha = ft(n - k) / ft(out - 1)
        s = samples.astype(ft)[:, None]
        i = np.arange(out - 1, dtype=ft)[None, :]
        seq[:, :-1] = ((i + s) * alpha).astype(np.int64) - (s * alpha).astype(np.int64)
    if out > 0:
        seq[:, -1] = n - k
    return seq


def fractional_max_pool(x: Tensor, ks: tuple, out_size: tuple, samples: Any) -> tuple:
    """Fractional max pooling of the last len(ks) dims of ``x`` (..., *ins) with each
    plane's window starts drawn from its ``samples`` (..., n) (sample j for dim j, except in
    2-D where PyTorch takes sample 0 for the width): (values, int64 flat per-plane
    indices)."""
    n = len(ks)
    lead = x._data.shape[:-n]
    ins = x._data.shape[-n:]
    planes = math.prod(lead)
    d = x._data.reshape((planes,) + ins)
    samples = np.asarray(samples).reshape(planes, n)
    xp = array_module(d)
    ft = np.float32 if d.dtype == np.float32 else np.float64
    order = (1, 0) if n == 2 else tuple(range(n))
    # (P, o_1, .., o_n, k_1, .., k_n) per-plane gather keys, one per dim
    keys = []
    starts = []
    for j in range(n):
        start = fractional_starts(samples[:, order[j]], ins[j], out_size[j], ks[j], ft)
        oshape = (planes,) + tuple(out_size[j] if i == j else 1 for i in range(n))
        kshape = tuple(ks[j] if i == j else 1 for i in range(n))
        pos = start.reshape(oshape + (1,) * n) + np.arange(ks[j]).reshape(kshape)
        keys.append(xp.asarray(pos))
        starts.append(xp.asarray(start.reshape(oshape)))
    p_key = xp.arange(planes).reshape((planes,) + (1,) * (2 * n))
    win = d[(p_key,) + tuple(keys)]
    win = win.reshape((planes,) + tuple(out_size) + (math.prod(ks),))
    if win.size:
        arg = win.argmax(axis=-1)
        if d.dtype.kind == "f":
            nan = win != win
            if nan.any():  # PyTorch's ``val > max || isnan(val)``: the last NaN wins
                last = win.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
                arg = xp.where(nan.any(axis=-1), last, arg)
    else:
        arg = xp.zeros(win.shape[:-1], dtype=np.int64)
    values = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    idx: Any = None
    rem = arg
    plane = 1
    for j in reversed(range(n)):
        rem, kj = xp.divmod(rem, ks[j]) if j else (None, rem)
        pos = starts[j] + kj
        idx = pos * plane if idx is None else idx + pos * plane
        plane *= ins[j]
    idx = idx.astype(np.int64, copy=False).reshape(lead + tuple(out_size))
    values = values.reshape(lead + tuple(out_size))
    return _record_max(x, values, idx, f"FractionalMaxPool{n}DBackward0", n)
