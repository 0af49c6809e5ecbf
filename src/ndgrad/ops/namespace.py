"""The two namespaces a derivative rule is written against: arrays and Tensors.

A rule ``rule(xp, g, *saved)`` is written once with operators (``+ - * / ** @``, comparisons,
``.shape``, ``.T``, ``.reshape``, ``.sum(axis=, keepdims=)``) and the functions listed in
``API``, called as ``xp.<name>``. A first-order backward passes the array library's namespace
and raw arrays (fast: no Tensor, no graph); ``create_graph=True`` passes ``TENSOR`` and
Tensors, so the same rule records the gradient's own graph. Both namespaces hold exactly the
names in ``API`` (a test checks), so a rule that runs at one order runs at every order.
Rules may also index with basic keys (ints, slices, ``...``, ``None``): ``g[key]`` is a
view for arrays and a differentiable ``getitem`` for Tensors (cat's and stack's rules).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import threading
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from ndgrad import _parallel
from ndgrad._backend import _XP_BY_TYPE
from ndgrad._backend import as_strided as _as_strided
from ndgrad.autograd.graph import register_namespaces, sum_to

# Element-wise functions of the same name and meaning in NumPy and in ``ops.pointwise``.
ELEMENTWISE = (
    "abs",
    "cos",
    "cosh",
    "exp",
    "expm1",
    "log",
    "log1p",
    "maximum",
    "minimum",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "where",
    "logical_and",
    "logical_or",
    "logical_not",
    "isfinite",
    "floor_divide",
    "trunc",
)
# NumPy's names, same meaning in both namespaces.
NUMPY_API = ELEMENTWISE + (
    "zeros_like",
    "ones_like",
    "broadcast_to",
    "expand_dims",
    "reshape",
    "squeeze",
    "swapaxes",
    "transpose",
    "flip",
    "roll",
    "diagonal",
    "cumsum",
    "concatenate",
    "matmul",
    "einsum",
    "tril",
    "triu",
    "sum",
    "prod",
)
# ndgrad's own helpers for rules, defined for both (below).
EXTRA_API = (
    "inv",
    "cofactor",
    "sum_to",
    "astype",
    "unreduce",
    "erf",
    "polygamma",
    "i0",
    "i1",
    "sigmoid",
    "quiet",
    "put_along_axis_zeros",
    "index_add_zeros",
    "take_along_axis",
    "add_along_axis_zeros",
    "conv_forward",
    "conv_input_grad",
    "conv_weight_grad",
    "window_sum",
    "window_spread",
    "softmax_grad",
    "over_batches",
)
API = NUMPY_API + EXTRA_API


# ----------------------------------------------------------------------------- arrays
def _astype(x: Any, dtype: np.dtype) -> Any:
    return x.astype(dtype, copy=False)


# Up to this many elements a broadcast gradient is written out: cheaper than np.broadcast_to's
# Python-level setup (about 2 us), and the result is an ordinary array the engine can keep.
_MATERIALIZE = 4096


def _array_unreduce(xp: Any) -> Any:
    def unreduce(g: Any, dims: tuple, keepdim: bool, shape: tuple) -> Any:
        """A gradient of a reduction over ``dims`` brought back to the input's ``shape``."""
        if not keepdim and dims and shape:
            if len(dims) == len(shape):  # a full reduction (loss.sum()): one number
                g = g.reshape((1,) * len(shape))
            else:
                g = g.reshape(tuple([1 if i in dims else s for i, s in enumerate(shape)]))
        if g.shape == shape:
            return g
        if math.prod(shape) <= _MATERIALIZE:
            out = xp.empty(shape, g.dtype)
            out[...] = g
            return out
        return xp.broadcast_to(g, shape)

    return unreduce


def _array_erf(xp: Any) -> Any:
    """The error function from SciPy (scikit-learn's dependency), or CuPy's on the GPU."""
    from ndgrad._backend import special

    return special(xp).erf


def _array_special(xp: Any) -> dict:
    """polygamma, i0, i1 (the rules of lgamma, digamma, polygamma and i0) in the array's dtype."""
    from ndgrad._backend import special
    from ndgrad.ops.pointwise import _polygamma_array

    def bessel(name: str) -> Callable[[Any], Any]:
        def fn(x: Any) -> Any:
            return xp.asarray(getattr(special(xp), name)(x)).astype(x.dtype, copy=False)

        return fn

    return {
        "polygamma": lambda n, x: _polygamma_array(xp, n, x),
        "i0": bessel("i0"),
        "i1": bessel("i1"),
    }


def _array_cofactor(xp: Any) -> Any:
    def cofactor(a: Any) -> Any:
        """adj(A)^T, from the SVD A = U S Vh: det(U) det(Vh) U diag(prod_{j != i} s_j) Vh
        (singular matrices included, where det(A) A^-T is undefined)."""
        u, s, vh = xp.linalg.svd(a)
        ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
        before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
        after = xp.flip(
            xp.cumprod(xp.concatenate([ones, xp.flip(s, -1)[..., :-1]], axis=-1), axis=-1), -1
        )
        sign = xp.linalg.det(u) * xp.linalg.det(vh)
        return sign[..., None, None] * ((u * (before * after)[..., None, :]) @ vh)

    return cofactor


def _array_sigmoid(xp: Any) -> Any:
    def sigmoid(x: Any) -> Any:
        with np.errstate(all="ignore"):
            return 1 / (1 + xp.exp(-x))

    return sigmoid


def _array_put_along_axis_zeros(xp: Any) -> Any:
    def put_along_axis_zeros(shape: tuple, index: Any, values: Any, axis: int) -> Any:
        """Zeros of ``shape`` with ``values`` (broadcast to ``index``'s shape) placed at
        ``index`` along ``axis``, NumPy's ``put_along_axis`` into a new array."""
        # zeros_like of the index (not zeros): ndgrad.compile records an array made from the
        # index, and the writes into it, where a fresh array would be a constant
        out = xp.zeros_like(index, values.dtype, "C", shape=shape)
        if axis == 1 and len(shape) == 2 and index.shape[1] == 1:  # one per row (losses)
            rows = xp.arange(shape[0])
            out[rows, index[:, 0]] = values[:, 0] if getattr(values, "ndim", 0) == 2 else values
            return out
        xp.put_along_axis(out, index, values, axis=axis)
        return out

    return put_along_axis_zeros


def along_axis_key(xp: Any, index: Any, axis: int) -> tuple:
    """Index arrays picking ``a[..., index[i...], ...]`` along ``axis`` (gather's key): ``index``
    in ``axis`` and open grids (``np.indices(sparse=True)``, which CuPy lacks) elsewhere."""
    n = index.ndim
    return tuple(
        index if k == axis else xp.arange(size).reshape((1,) * k + (size,) + (1,) * (n - k - 1))
        for k, size in enumerate(index.shape)
    )


def _is_integer_key(key: tuple) -> bool:
    """Whether ``key`` holds an integer index array (which may repeat a position)."""
    for k in key:
        kind = getattr(getattr(k, "dtype", None), "kind", None)
        if kind is not None and kind in "iu" and getattr(k, "ndim", 0):
            return True
        if isinstance(k, (list, tuple)):
            return True
    return False


def _array_indexing(xp: Any) -> dict:
    def index_add_zeros(shape: tuple, key: tuple, values: Any) -> Any:
        """Zeros of ``shape`` with ``values`` added at ``key`` (repeated indices accumulate):
        the gradient of ``a[key]``."""
        out = xp.zeros_like(values, order="C", shape=shape)  # (ndgrad.compile sees it)
        if _is_integer_key(key):
            xp.add.at(out, key, values)
        else:
            out[key] = values
        return out

    def take_along_axis(a: Any, index: Any, axis: int) -> Any:
        """``gather``: ``out[i...] = a[..., index[i...], ...]``; ``index`` may be smaller than
        ``a`` in the other dims."""
        return a[along_axis_key(xp, index, axis)]

    def add_along_axis_zeros(shape: tuple, index: Any, values: Any, axis: int) -> Any:
        """Zeros of ``shape`` with ``values`` (``index``'s shape) added along ``axis``, repeated
        indices accumulating (``scatter_add`` into zeros): the gradient of ``take_along_axis``."""
        key = along_axis_key(xp, index, axis)
        if xp is np and values.dtype.kind == "f" and values.size:
            # bincount sums repeated positions far faster than add.at (max pooling's gradient)
            flat = 0
            step = 1
            for k, size in zip(reversed(key), reversed(shape)):
                flat = flat + k * step if step != 1 else k + flat
                step *= size
            flat = np.broadcast_to(flat, values.shape)
            out = np.bincount(flat.ravel(), values.ravel(), math.prod(shape))
            return out.astype(values.dtype, copy=False).reshape(shape)
        out = xp.zeros(shape, values.dtype)
        xp.add.at(out, key, values)
        return out

    return {
        "index_add_zeros": index_add_zeros,
        "take_along_axis": take_along_axis,
        "add_along_axis_zeros": add_along_axis_zeros,
    }


# Bytes of im2col columns built at a time by the stride-1 kernels: a few MiB stay in the cache
# between the copies that build them and the GEMM that reads them (measured on W7/W8's shapes:
# 1 MiB pays too much per-chunk overhead, 16 MiB falls out of the cache).
_CHUNK_BYTES = 1 << 22


class _Scratch:
    """Memory for the temporaries of one kernel call that never leave it (the padded grid, the
    im2col columns, the GEMM outputs), kept between calls.

    Fresh large arrays cost a page fault per 4 KiB (about 2 us here) each time, because glibc
    hands large freed blocks back to the OS; a training loop calls the same kernels every step.
    ``scope()`` yields ``take(shape, dtype, zero=False)``, which hands out an array carved from
    a kept byte buffer (the smallest free one large enough, else a new one); every buffer taken
    goes back when the scope ends. A buffer is out to one scope at a time, so nested or
    concurrent calls never share one; at most ``keep`` buffers (the largest) stay between
    calls. Nothing taken may be returned by the kernel: its results are fresh arrays.
    """

    def __init__(self, xp: Any, keep: int = 8) -> None:
        self.xp, self.keep = xp, keep
        self.free: list = []
        self.lock = threading.Lock()

    def _get(self, nbytes: int) -> Any:
        with self.lock:
            fits = [(b.nbytes, i) for i, b in enumerate(self.free) if b.nbytes >= nbytes]
            if fits:
                return self.free.pop(min(fits)[1])
        return self.xp.empty(max(nbytes, 1), np.uint8)

    def _give(self, bufs: list) -> None:
        with self.lock:
            self.free.extend(bufs)
            if len(self.free) > self.keep:
                self.free.sort(key=lambda b: b.nbytes)
                del self.free[: len(self.free) - self.keep]

    @contextlib.contextmanager
    def scope(self) -> Iterator[Callable[..., Any]]:
        taken: list = []

        def take(shape: tuple, dtype: Any, zero: bool = False) -> Any:
            dtype = np.dtype(dtype)
            nbytes = math.prod(shape) * dtype.itemsize
            raw = self._get(nbytes)
            taken.append(raw)
            out = raw[:nbytes].view(dtype).reshape(shape)
            if zero:
                out.fill(0)
            return out

        try:
            yield take
        finally:
            self._give(taken)


class _Shifted:
    """The geometry of a stride-1 convolution computed on the padded input's own grid.

    The input is padded into a ``(C, B, *padded)`` buffer, so each channel's ``B`` images are
    one contiguous row of ``B * P`` entries (``P`` the padded plane's size). The output at
    flat grid position ``q`` (its top-left input corner) is then ``sum_t W_t @ X[:, q + s_t]``
    over the kernel offsets ``t``, whose shifts ``s_t`` are constants: the im2col columns of
    offset ``t`` are the 2-D slice ``X[:, s_t : s_t + L]`` (a contiguous copy per channel, no
    gather), and the positions past an image's valid outputs (the last ``k - 1`` columns and
    rows of the grid) are computed and dropped. ``L = B * P - s_max`` covers every valid output.
    """

    def __init__(
        self, spatial: tuple, kernel: tuple, padding: tuple, dilation: tuple, band: bool = True
    ) -> None:
        self.full = tuple(m + lo + hi for m, (lo, hi) in zip(spatial, padding))
        self.plane_strides = tuple(math.prod(self.full[i + 1 :]) for i in range(len(self.full)))
        reach0 = dilation[0] * (kernel[0] - 1)
        rows0 = self.full[0] - reach0
        # Banded: when the grid's first dim holds many rows that no output uses (LeNet's conv2,
        # 10 of 14), the columns of first-dim offset i are taken from a band of the ``rows0``
        # input rows it reads (one strided copy per i), so the GEMM skips those rows.
        self.band = band and len(kernel) > 1 and kernel[0] > 1 and 5 * rows0 <= 4 * self.full[0]
        self.grid = ((rows0,) + self.full[1:]) if self.band else self.full
        self.plane = math.prod(self.grid)
        self.rows0 = rows0
        self.band_starts = [i * dilation[0] for i in range(kernel[0])] if self.band else [0]
        dims = range(1, len(kernel)) if self.band else range(len(kernel))
        self.shifts = [
            sum(offs[j] * dilation[i] * self.plane_strides[i] for j, i in enumerate(dims))
            for offs in itertools.product(*(range(kernel[i]) for i in dims))
        ]
        self.kk = math.prod(kernel)
        self.inner = (slice(None), slice(None)) + _inner(spatial, padding)

    def batch(self, n: int, rows: int, itemsize: int) -> int:
        """Images per chunk: ``rows`` column rows of ``P`` entries per image in the budget."""
        return max(1, min(n, _CHUNK_BYTES // max(rows * self.plane * itemsize, 1)))

    def length(self, b: int) -> int:
        return b * self.plane - self.shifts[-1]


@functools.lru_cache(maxsize=64)
def _shifted(spatial: tuple, kernel: tuple, padding: tuple, dilation: tuple) -> _Shifted:
    """``_Shifted`` for one geometry, built once (a training loop asks for the same few)."""
    return _Shifted(spatial, kernel, padding, dilation)


def _shifted_ok(padding: tuple, stride: tuple, spatial: tuple, out: tuple, n: int, c: int) -> bool:
    return (
        all(st == 1 for st in stride)
        and all(lo >= 0 and hi >= 0 for lo, hi in padding)
        and all(m > 0 for m in out)
        and all(m > 0 for m in spatial)
        and n > 0
        and c > 0
    )


# ------------------------------------------------------------- Winograd's minimal filtering
# F(m x m, 3 x 3) (Lavin & Gray 2015): an output tile of m x m from an input tile of a = m + 2
# squared is A^T [(G w G^T) * (B^T d B)] A, so the a * a products per tile and channel pair
# replace 9 m^2 (2.25x fewer at m = 2, 4x at m = 4). The transforms below apply B^T, A^T and
# A (the weight gradient's) to lists of equally shaped arrays with NumPy's ufuncs, each row of
# the matrix a few adds on whole slices, common terms shared; the matrices are kept to test
# them against.
_WINO_BT = {
    2: ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1)),
    4: (
        (4, 0, -5, 0, 1, 0),
        (0, -4, -4, 1, 1, 0),
        (0, 4, -4, -1, 1, 0),
        (0, -2, -1, 2, 1, 0),
        (0, 2, -1, -2, 1, 0),
        (0, 4, 0, -5, 0, 1),
    ),
}
_WINO_G = {
    2: ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1)),
    4: (
        (1 / 4, 0, 0),
        (-1 / 6, -1 / 6, -1 / 6),
        (-1 / 6, 1 / 6, -1 / 6),
        (1 / 24, 1 / 12, 1 / 6),
        (1 / 24, -1 / 12, 1 / 6),
        (0, 0, 1),
    ),
}
_WINO_AT = {
    2: ((1, 1, 1, 0), (0, 1, -1, -1)),
    4: ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1)),
}


def _wino_bt2(v: list, o: list, t: list) -> None:
    np.subtract(v[0], v[2], out=o[0])
    np.add(v[1], v[2], out=o[1])
    np.subtract(v[2], v[1], out=o[2])
    np.subtract(v[1], v[3], out=o[3])


def _wino_bt4(v: list, o: list, t: list) -> None:
    # o0 = 4 (v0 - v2) + (v4 - v2)      o5 = 4 (v1 - v3) + (v5 - v3)
    # o3, o4 = (v4 - v2) -+ 2 (v1 - v3)   o1, o2 = (v3 + v4) - 4 (v1 + v2), (v4 - v3) + 4 (v1 - v2)
    t0, t1 = t
    np.subtract(v[4], v[2], out=t0)
    np.subtract(v[0], v[2], out=o[0])
    o[0] *= 4
    o[0] += t0
    np.subtract(v[1], v[3], out=t1)
    np.subtract(v[5], v[3], out=o[5])
    np.multiply(t1, 4, out=o[3])
    o[5] += o[3]
    t1 *= 2
    np.add(t0, t1, out=o[4])
    np.subtract(t0, t1, out=o[3])
    np.add(v[1], v[2], out=t0)
    t0 *= 4
    np.add(v[3], v[4], out=o[1])
    o[1] -= t0
    np.subtract(v[1], v[2], out=t0)
    t0 *= 4
    np.subtract(v[4], v[3], out=o[2])
    o[2] += t0


def _wino_at2(v: list, o: list, t: list) -> None:
    np.add(v[1], v[2], out=o[0])
    o[0] += v[0]
    np.subtract(v[1], v[2], out=o[1])
    o[1] -= v[3]


def _wino_at4(v: list, o: list, t: list) -> None:
    t0 = t[0]
    np.add(v[1], v[2], out=o[0])
    np.add(v[3], v[4], out=t0)
    np.multiply(t0, 4, out=o[2])
    o[2] += o[0]
    o[0] += t0
    o[0] += v[0]
    np.subtract(v[1], v[2], out=o[1])
    np.subtract(v[3], v[4], out=t0)
    np.multiply(t0, 8, out=o[3])
    o[3] += o[1]
    o[3] += v[5]
    t0 *= 2
    o[1] += t0


def _wino_a2(v: list, o: list, t: list) -> None:  # A = AT^T: the output gradient's transform
    o[0][...] = v[0]
    np.add(v[0], v[1], out=o[1])
    np.subtract(v[0], v[1], out=o[2])
    np.negative(v[1], out=o[3])


def _wino_a4(v: list, o: list, t: list) -> None:
    t0, t1 = t
    o[0][...] = v[0]
    o[5][...] = v[3]
    np.add(v[0], v[2], out=t0)
    np.add(v[1], v[3], out=t1)
    np.add(t0, t1, out=o[1])
    np.subtract(t0, t1, out=o[2])
    np.multiply(v[2], 4, out=t0)
    t0 += v[0]
    np.multiply(v[3], 4, out=t1)
    t1 += v[1]
    t1 *= 2
    np.add(t0, t1, out=o[3])
    np.subtract(t0, t1, out=o[4])


_WINO_PROGRAMS = {2: (_wino_bt2, _wino_at2, _wino_a2), 4: (_wino_bt4, _wino_at4, _wino_a4)}
# Which convolutions take the Winograd kernels, measured against the im2col ones (2 threads,
# batch 32, 3x3 padding 1): m = 2 (m = 4's transforms cost more than its products save, in
# time and in float32 error, about 10x m = 2's); 64 channels each way, at least 8x8 outputs:
# 31 vs 40 ms forward and 35 vs 41 ms weight gradient at 56x56 (W8), 9 vs 10 ms at 28x28;
# 32 channels: no gain. Up to 64 x 64 channel pairs (products of 64 tile columns stay on one
# BLAS thread, so the chunks run in parallel); with more channels the products are threaded
# by BLAS, the transforms are not, and they lost or tied (512 at 7x7: 75 vs 44 ms forward).
_WINO_TILE = 2
_WINO_MIN_CHANNELS = 64
_WINO_MAX_PAIRS = 64 * 64
_WINO_MIN_SIDE = 8
# Bytes of one chunk's input phases, and of one block's transformed tiles (see ``Wino``).
_WINO_PHASE_BYTES = 1 << 20
_WINO_BLOCK_BYTES = 1 << 20


class _Tiles:
    """The geometry of F(m x m, 3 x 3) on a 2-D input padded by ``padding``.

    The padded input is split into its m x m phases (rows ``p::m``, columns ``q::m``), each an
    ``(th + 1, R)`` plane (``R = tw + 1``) per channel and image, images one after another in a
    row of ``plane`` entries each. Element ``(r, s)`` of every tile is then one 2-D slice of
    phase ``(r % m, s % m)`` shifted by ``(r // m) * R + s // m``: the transforms are adds of
    whole slices, tile ``(t, u)`` of an image at ``t * R + u``; the one extra row and column
    per plane hold tiles that are computed and dropped.
    """

    def __init__(self, spatial: tuple, padding: tuple, m: int) -> None:
        self.m, self.a = m, m + 2
        self.out = tuple(n + lo + hi - 2 for n, (lo, hi) in zip(spatial, padding))
        self.th, self.tw = (-(-k // m) for k in self.out)
        self.row = self.tw + 1
        self.plane = (self.th + 1) * self.row
        # per dim and phase p: the first input index on it, its phase row/column, how many
        self.place = [
            [
                ((p - lo) % m, ((p - lo) % m + lo) // m, len(range((p - lo) % m, n, m)))
                for p in range(m)
            ]
            for n, (lo, _) in zip(spatial, padding)
        ]
        self.counts = [[len(range(i, k, m)) for i in range(m)] for k in self.out]

    def length(self, b: int) -> int:
        """Columns holding every tile of ``b`` images (one past the last)."""
        return b * self.plane - self.row - 1


@functools.lru_cache(maxsize=64)
def _tiles(spatial: tuple, padding: tuple, m: int) -> _Tiles:
    return _Tiles(spatial, padding, m)


def _array_conv(xp: Any) -> dict:
    """Convolution on arrays, any number of spatial dims (``x``: ``(N, C, *spatial)``, ``w``:
    ``(O, C // groups, *kernel)``; ``padding``: one ``(before, after)`` pair per spatial dim).

    Stride 1 (LeNet, ResNet's 3x3 blocks, every input gradient of a stride-1 convolution) runs
    on the padded grid (``_Shifted``): a chunk of images at a time, its im2col columns built by
    one 2-D slice copy per kernel offset into a workspace of a few MiB (reused across chunks,
    freed with the call) and multiplied by the weight in one 2-D GEMM per group. The weight
    gradient multiplies the output gradient, laid on the same grid, with the same columns; the
    input gradient is the flipped-kernel forward (when ``O <= C``) or the GEMM with the
    weight's transpose followed by one shifted 2-D add per kernel offset (col2im). When most of
    the grid's first-dim rows hold no output (``_Shifted.band``), all three work on a band of
    ``rows0`` rows per first-dim kernel offset instead of the whole grid; there a 2-D
    convolution with one group (LeNet's conv2) runs its forward and weight gradient on the row
    lowering (``Rows``) instead. Temporaries come from ``_Scratch``, kept between calls.

    Other strides use im2col on a strided view: the padded input with the kernel offsets before
    the output positions, copied into ``(N, groups, C_g * prod(kernel), L)`` columns, and one
    batched matmul; the input gradient's col2im adds into strided slices offset by offset.
    """
    as_strided = _as_strided(xp)
    scratch = _Scratch(xp)

    def padded(x: Any, padding: tuple) -> Any:
        if not any(lo or hi for lo, hi in padding):
            return x
        shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding))
        out = xp.zeros_like(x, order="C", shape=shape)  # (ndgrad.compile sees the write)
        out[(slice(None), slice(None)) + _inner(x.shape[2:], padding)] = x
        return out

    def columns(
        x: Any,
        kernel: tuple,
        out: tuple,
        stride: tuple,
        padding: tuple,
        dilation: tuple,
        groups: int,
    ) -> Any:
        xp_ = padded(x, padding)
        s = xp_.strides
        view = as_strided(
            xp_,
            xp_.shape[:2] + tuple(kernel) + tuple(out),
            s[:2]
            + tuple(st * d for st, d in zip(s[2:], dilation))
            + tuple(st * k for st, k in zip(s[2:], stride)),
            writeable=False,
        )
        n, c = x.shape[:2]
        return view.reshape(n, groups, (c // groups) * math.prod(kernel), math.prod(out))

    # ------------------------------------------------------------------ stride 1, on the grid
    class Columns:
        """The chunked im2col workspace of ``x`` on the grid: ``fill(n0, b)`` returns the
        ``(C * kk, L)`` columns of images ``n0 : n0 + b``."""

        def __init__(self, x: Any, geo: _Shifted, batch: int, take: Callable[..., Any]) -> None:
            self.x, self.geo, self.batch = x, geo, batch
            c = x.shape[1]
            self.buf = take((c, batch) + geo.full, x.dtype, zero=True)
            self.flat = self.buf.reshape(c, batch * math.prod(geo.full))
            if geo.band:
                self.bandbuf = take((c, batch) + geo.grid, x.dtype)
                self.bandflat = self.bandbuf.reshape(c, batch * geo.plane)
            self.cols = take((c, geo.kk, batch * geo.plane), x.dtype)

        def fill(self, n0: int, b: int) -> tuple:
            geo = self.geo
            key = (slice(None), slice(0, b)) + geo.inner[2:]
            self.buf[key] = self.x[n0 : n0 + b].swapaxes(0, 1)
            length = geo.length(b)
            per = len(geo.shifts)
            for i, r in enumerate(geo.band_starts):
                if geo.band:
                    self.bandbuf[:, :b] = self.buf[:, :b, r : r + geo.rows0]
                    src = self.bandflat
                else:
                    src = self.flat
                for t, s in enumerate(geo.shifts):
                    self.cols[:, i * per + t, :length] = src[:, s : s + length]
            c = self.cols.shape[0]
            return self.cols.reshape(c * geo.kk, -1)[:, :length], length

    class Grid:
        """An ``(O, N, *out)`` gradient laid on the grid chunk by chunk (zeros elsewhere)."""

        def __init__(self, g: Any, geo: _Shifted, batch: int, take: Callable[..., Any]) -> None:
            self.g, self.geo = g, geo
            o = g.shape[1]
            self.buf = take((o, batch) + geo.grid, g.dtype, zero=True)
            self.flat = self.buf.reshape(o, batch * geo.plane)
            self.valid = tuple(slice(0, m) for m in g.shape[2:])

        def fill(self, n0: int, b: int, length: int) -> Any:
            self.buf[(slice(None), slice(0, b)) + self.valid] = self.g[n0 : n0 + b].swapaxes(0, 1)
            return self.flat[:, :length]

    # ---------------------------------------------- stride 1, 2-D, banded: lowered along rows
    class Rows:
        """The row lowering of ``x`` (2-D, stride 1, dilation 1, one group): images ``n0 : n0 +
        b`` padded channels-last into ``(b, Hp, Wp, C)``, then copied into ``(b, Wo, Hp, k1 *
        C)`` (each output column's ``k1``-wide strip of every row, channels innermost, one
        strided copy with contiguous runs of ``k1 * C``). The columns of output row ``r`` are
        the ``k0`` rows from ``r`` of each strip: one ``(b * Wo, k0 * k1 * C)`` 2-D slice of
        the lowered buffer (overlapping between rows), so one batched GEMM over the output
        rows needs no im2col copy and computes no position that is dropped."""

        def __init__(self, x: Any, kernel: tuple, padding: tuple, batch: int, take: Any) -> None:
            self.x = x
            c, (h, w) = x.shape[1], x.shape[2:]
            (t, bo), (lf, ri) = padding
            self.hp, self.wp = h + t + bo, w + lf + ri
            self.k0, self.k1 = kernel
            self.ho, self.wo = self.hp - self.k0 + 1, self.wp - self.k1 + 1
            self.width = self.k1 * c
            self.xh = take((batch, self.hp, self.wp, c), x.dtype, zero=True)
            self.inner = (slice(t, t + h), slice(lf, lf + w))
            self.low = take((batch, self.wo, self.hp, self.width), x.dtype)

        def fill(self, n0: int, b: int) -> Any:
            """The ``(Ho, b * Wo, k0 * k1 * C)`` columns (a view) of images ``n0 : n0 + b``."""
            xh, low = self.xh[:b], self.low[:b]
            xh[(slice(None),) + self.inner] = self.x[n0 : n0 + b].transpose(0, 2, 3, 1)
            s = xh.strides
            strip = as_strided(xh, low.shape, (s[0], s[2], s[1], s[3]), writeable=False)
            low[...] = strip
            it = low.itemsize
            return as_strided(
                low,
                (self.ho, b * self.wo, self.k0 * self.width),
                (self.width * it, self.hp * self.width * it, it),
                writeable=False,
            )

    def rows_ok(geo: _Shifted, kernel: tuple, dilation: tuple, groups: int) -> bool:
        # LeNet's conv2 (14 -> 10): where the grid would hold many unused rows.
        return geo.band and len(kernel) == 2 and groups == 1 and all(d == 1 for d in dilation)

    def rows_batch(x: Any, o: int, kernel: tuple, padding: tuple) -> int:
        """Images per chunk: their lowered strips, padded images and outputs in the budget."""
        n, c = x.shape[:2]
        hp, wp = (m + lo + hi for m, (lo, hi) in zip(x.shape[2:], padding))
        wo = wp - kernel[1] + 1
        per_image = wo * hp * kernel[1] * c + hp * wp * c + o * (hp - kernel[0] + 1) * wo
        return max(1, min(n, _CHUNK_BYTES // (x.itemsize * per_image)))

    def wmatrix(w: Any) -> Any:
        """``w`` ``(O, C, k0, k1)`` as ``(O, k0 * k1 * C)``, the lowered columns' order."""
        return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)

    def forward_rows(x: Any, w: Any, padding: tuple) -> Any:
        n, c = x.shape[:2]
        o, kernel = w.shape[0], tuple(w.shape[2:])
        batch = rows_batch(x, o, kernel, padding)
        wm = wmatrix(w)
        with scratch.scope() as take:
            low = Rows(x, kernel, padding, batch, take)
            ho, wo = low.ho, low.wo
            y = xp.empty((n, o, ho, wo), x.dtype)
            prod = take((ho, o, batch * wo), x.dtype)
            for n0 in range(0, n, batch):
                b = min(batch, n - n0)
                a = low.fill(n0, b)
                part = prod[:, :, : b * wo]
                xp.matmul(wm, a.swapaxes(1, 2), out=part)
                y[n0 : n0 + b] = part.reshape(ho, o, b, wo).transpose(2, 1, 0, 3)
        return y

    def weight_grad_rows(x: Any, g: Any, w_shape: tuple, padding: tuple) -> Any:
        n, c = x.shape[:2]
        o, kernel = w_shape[0], tuple(w_shape[2:])
        batch = rows_batch(x, o, kernel, padding)
        ho, wo = g.shape[2:]
        gw = xp.zeros((o, math.prod(kernel) * c), g.dtype)
        with scratch.scope() as take:
            low = Rows(x, kernel, padding, batch, take)
            gt = take((ho, o, batch, wo), g.dtype)
            prod = take((ho, o, gw.shape[1]), g.dtype)
            for n0 in range(0, n, batch):
                b = min(batch, n - n0)
                a = low.fill(n0, b)
                gr = gt[:, :, :b]
                gr[...] = g[n0 : n0 + b].transpose(2, 1, 0, 3)
                xp.matmul(gr.reshape(ho, o, b * wo), a, out=prod)
                gw += prod.sum(axis=0)
        return gw.reshape((o,) + kernel + (c,)).transpose(0, 3, 1, 2).copy()

    def forward_shifted(x: Any, w: Any, padding: tuple, dilation: tuple, groups: int) -> Any:
        if m := wino_tile(x.shape, w.shape, padding, dilation, groups):
            y = wino_forward(x, w, padding, m)
            if y is not None:
                return y
        n, c = x.shape[:2]
        o, kernel = w.shape[0], w.shape[2:]
        geo = _shifted(tuple(x.shape[2:]), tuple(kernel), padding, dilation)
        if rows_ok(geo, kernel, dilation, groups):
            return forward_rows(x, w, padding)
        out = tuple(f - d * (k - 1) for f, k, d in zip(geo.full, kernel, dilation))
        batch = geo.batch(n, c * geo.kk, x.itemsize)
        wm = w.reshape(groups, o // groups, -1)
        rows, og = (c // groups) * geo.kk, o // groups
        y = xp.empty((n, o) + out, x.dtype)
        it = x.itemsize
        with scratch.scope() as take:
            cols = Columns(x, geo, batch, take)
            prod = take((o, batch * geo.plane), x.dtype)
            for n0 in range(0, n, batch):
                b = min(batch, n - n0)
                cv, length = cols.fill(n0, b)
                for gi in range(groups):
                    xp.matmul(
                        wm[gi],
                        cv[gi * rows : (gi + 1) * rows],
                        out=prod[gi * og : (gi + 1) * og, :length],
                    )
                # the valid outputs of each image, read off the grid
                y[n0 : n0 + b] = as_strided(
                    prod,
                    (b, o) + out,
                    (geo.plane * it, prod.strides[0]) + tuple(p * it for p in geo.plane_strides),
                    writeable=False,
                )
        return y

    def weight_grad_shifted(
        x: Any, g: Any, w_shape: tuple, padding: tuple, dilation: tuple, groups: int
    ) -> Any:
        if m := wino_tile(x.shape, w_shape, padding, dilation, groups):
            gw = wino_weight_grad(x, g, w_shape, padding, m)
            if gw is not None:
                return gw
        n, c = x.shape[:2]
        o = w_shape[0]
        geo = _shifted(tuple(x.shape[2:]), tuple(w_shape[2:]), padding, dilation)
        if rows_ok(geo, w_shape[2:], dilation, groups):
            return weight_grad_rows(x, g, w_shape, padding)
        batch = geo.batch(n, c * geo.kk + o, x.itemsize)
        rows, og = (c // groups) * geo.kk, o // groups
        gw = xp.zeros((o, rows), g.dtype)
        with scratch.scope() as take:
            cols, grid = Columns(x, geo, batch, take), Grid(g, geo, batch, take)
            part = take((o, rows), g.dtype)
            for n0 in range(0, n, batch):
                b = min(batch, n - n0)
                cv, length = cols.fill(n0, b)
                gm = grid.fill(n0, b, length)
                for gi in range(groups):
                    sl = slice(gi * og, (gi + 1) * og)
                    xp.matmul(gm[sl], cv[gi * rows : (gi + 1) * rows].T, out=part[sl])
                gw += part
        return gw.reshape(w_shape)

    def input_grad_col2im_shifted(
        g: Any, w: Any, x_shape: tuple, padding: tuple, dilation: tuple, groups: int
    ) -> Any:
        n, o = g.shape[:2]
        c = x_shape[1]
        geo = _shifted(tuple(x_shape[2:]), tuple(w.shape[2:]), padding, dilation)
        batch = geo.batch(n, c * geo.kk + o, g.itemsize)
        rows, og = (c // groups) * geo.kk, o // groups
        wt = w.reshape(groups, og, rows).swapaxes(1, 2)
        dx = xp.empty((n,) + tuple(x_shape[1:]), g.dtype)
        per = len(geo.shifts)
        with scratch.scope() as take:
            grid = Grid(g, geo, batch, take)
            cols = take((c * geo.kk, batch * geo.plane), g.dtype)
            cols3 = cols.reshape(c, geo.kk, batch * geo.plane)
            buf = take((c, batch) + geo.full, g.dtype)
            flat = buf.reshape(c, batch * math.prod(geo.full))
            if geo.band:
                bandbuf = take((c, batch) + geo.grid, g.dtype)
                bandflat = bandbuf.reshape(c, batch * geo.plane)
            for n0 in range(0, n, batch):
                b = min(batch, n - n0)
                length = geo.length(b)
                gm = grid.fill(n0, b, length)
                for gi in range(groups):
                    xp.matmul(
                        wt[gi],
                        gm[gi * og : (gi + 1) * og],
                        out=cols[gi * rows : (gi + 1) * rows, :length],
                    )
                buf.fill(0)
                for i, r in enumerate(geo.band_starts):
                    if geo.band:
                        bandbuf.fill(0)
                    for t, s in enumerate(geo.shifts):
                        (bandflat if geo.band else flat)[:, s : s + length] += cols3[
                            :, i * per + t, :length
                        ]
                    if geo.band:
                        buf[:, :b, r : r + geo.rows0] += bandbuf[:, :b]
                dx[n0 : n0 + b] = buf[(slice(None), slice(0, b)) + geo.inner[2:]].swapaxes(0, 1)
        return dx

    # ------------------------------------ stride 1, 3x3, one group: Winograd's minimal filtering
    def wino_tile(
        x_shape: tuple, w_shape: tuple, padding: tuple, dilation: tuple, groups: int
    ) -> int:
        """The m of F(m x m, 3 x 3) for this convolution, or 0 where the other kernels run
        (few channels or small images: the transforms cost more than the products save)."""
        if xp is not np or groups != 1 or tuple(w_shape[2:]) != (3, 3) or len(dilation) != 2:
            return 0
        if any(d != 1 for d in dilation) or min(w_shape[0], w_shape[1]) < _WINO_MIN_CHANNELS:
            return 0
        if w_shape[0] * w_shape[1] > _WINO_MAX_PAIRS:
            return 0
        out = _conv_out(tuple(x_shape[2:]), (3, 3), (1, 1), padding, (1, 1))
        return _WINO_TILE if min(out) >= _WINO_MIN_SIDE else 0

    class Wino:
        """One Winograd call's plan and its per-thread workspaces.

        Images go a chunk at a time (``batch`` of them, their phases a few hundred KiB); each
        chunk's columns (tiles) go a block of ``cols`` at a time through the input transform,
        the ``a * a`` products and the output transform, so a block's temporaries stay in the
        cache. Where an ``O x C`` product of 64 columns stays on one BLAS thread, the chunks
        run on the intra-op threads with products of 64 columns (OpenBLAS threads larger ones
        itself, and two threaded calls at once run slower than one after the other); else one
        after another with products of a whole block. Chunks and their sums do not depend on
        the thread count: the results are the same bits on any.

        The transforms mix a tile's entries, so an inf or nan input spreads nan over its
        tiles (where direct sums can give inf): a result that is not all finite is returned
        as None, and the caller runs the im2col kernel instead.
        """

        def __init__(self, x: Any, o: int, padding: tuple, m: int) -> None:
            n, c = x.shape[:2]
            self.x, self.o, self.c, self.n, self.dtype = x, o, c, n, x.dtype
            self.geo = geo = _tiles(tuple(x.shape[2:]), padding, m)
            self.m, self.a = m, geo.a
            self.bt, self.at, self.expand = _WINO_PROGRAMS[m]
            rows = geo.a * geo.a * max(c, o) * x.itemsize
            self.batch = max(
                1, min(n, _WINO_PHASE_BYTES // max(m * m * c * geo.plane * x.itemsize, 1))
            )
            self.cap = self.batch * geo.plane
            # (whatever the thread count: the same products, the same sums, the same bits)
            self.blk = _parallel._BLAS_ONE_THREAD // (o * c)
            if self.blk < 64:
                self.blk = 0
            cols = max(64, _WINO_BLOCK_BYTES // rows // 64 * 64)
            self.cols = min(cols, self.cap)
            self.chunks = -(-n // self.batch)

        def run(self, fn: Callable) -> None:
            """``fn(ws, ci, n0, b)`` for each chunk, ``ws`` the thread's workspaces."""

            def piece(c0: int, c1: int) -> None:
                with scratch.scope() as take, _quiet():
                    ws = self.workspaces(take)
                    for ci in range(c0, c1):
                        n0 = ci * self.batch
                        fn(ws, ci, n0, min(self.batch, self.n - n0))

            if self.blk:
                cost = self.a * self.a * self.o * self.c * self.cap * 0.02
                _parallel.parallel_for(self.chunks, cost, piece)
            else:
                piece(0, self.chunks)

        def workspaces(self, take: Callable) -> SimpleNamespace:
            """The thread's temporaries, carved from one buffer (one page-faulting fresh
            allocation at most, and one slot of ``_Scratch``'s few kept buffers)."""
            m, a, c, o, cols = self.m, self.a, self.c, self.o, self.cols
            shapes = {
                "phases": (m, m, c, self.cap),
                "out": (m, m, o, self.cap),
                "rows": (a, m, c, cols + 1),
                "tiles": (a, a, c, cols),
                "prod": (a, a, o, cols),
                "half": (a, a, o, cols),
                "tmp_c0": (a, c, cols + 1),
                "tmp_c1": (a, c, cols + 1),
                "tmp_o0": (a, o, cols),
                "tmp_o1": (a, o, cols),
            }
            sizes = [-(-math.prod(sh) // 16) * 16 for sh in shapes.values()]
            flat = take((sum(sizes),), self.dtype)
            ws, at = SimpleNamespace(), 0
            for (name, shape), size in zip(shapes.items(), sizes):
                setattr(ws, name, flat[at : at + math.prod(shape)].reshape(shape))
                at += size
            ws.phases.fill(0)
            ws.out.fill(0)
            ws.tmp_c, ws.tmp_o = [ws.tmp_c0, ws.tmp_c1], [ws.tmp_o0, ws.tmp_o1]
            return ws

        def fill(self, ph: Any, src: Any, n0: int, b: int, place: list) -> None:
            """Images ``n0 : n0 + b`` of ``src`` into their phases (``place``: per dim and
            phase, the first source index, its phase row/column, how many)."""
            m, geo = self.m, self.geo
            ph6 = ph.reshape(m, m, src.shape[1], self.batch, geo.th + 1, geo.row)
            for p, (i0, r0, nr) in enumerate(place[0]):
                for q, (j0, s0, nc) in enumerate(place[1]):
                    if nr and nc:
                        ph6[p, q, :, :b, r0 : r0 + nr, s0 : s0 + nc] = src[
                            n0 : n0 + b, :, i0::m, j0::m
                        ].swapaxes(0, 1)

        def tiles(self, ws: SimpleNamespace, f0: int, n: int) -> Any:
            """The ``(a * a, C, n)`` transformed tiles at columns ``f0 : f0 + n``."""
            m, a, row, ph = self.m, self.a, self.geo.row, ws.phases
            tr, v = ws.rows, ws.tiles
            t = [tt[:m, :, : n + 1] for tt in ws.tmp_c]
            views = [
                ph[r % m, :, :, f0 + r // m * row : f0 + r // m * row + n + 1] for r in range(a)
            ]
            self.bt(views, [tr[k, :, :, : n + 1] for k in range(a)], t)
            t = [tt[:, :, :n] for tt in ws.tmp_c]
            views = [tr[:, s % m, :, s // m : s // m + n] for s in range(a)]
            self.bt(views, [v[:, s, :, :n] for s in range(a)], t)
            return v.reshape(a * a, self.c, -1)[:, :, :n]

    def wino_forward(x: Any, w: Any, padding: tuple, m: int) -> Any:
        n, c = x.shape[:2]
        o = w.shape[0]
        plan = Wino(x, o, padding, m)
        geo, a, blk = plan.geo, plan.a, plan.blk
        g = np.array(_WINO_G[m])
        u = np.einsum("ki,ocij,lj->kloc", g, w, g, optimize=True)
        u = xp.ascontiguousarray(u.reshape(a * a, o, c), dtype=x.dtype)
        y = xp.empty((n, o) + geo.out, x.dtype)

        def chunk(ws: SimpleNamespace, ci: int, n0: int, b: int) -> None:
            plan.fill(ws.phases, x, n0, b, geo.place)
            length = geo.length(b)
            for f0 in range(0, length, plan.cols):
                k = min(plan.cols, length - f0)
                v = plan.tiles(ws, f0, k)
                prod = ws.prod.reshape(a * a, o, -1)[:, :, :k]
                full = k // blk * blk if blk else 0
                if full:
                    np.matmul(
                        u[:, None],
                        v[:, :, :full].reshape(a * a, c, -1, blk).swapaxes(1, 2),
                        out=prod[:, :, :full].reshape(a * a, o, -1, blk).swapaxes(1, 2),
                    )
                if full < k:
                    np.matmul(u, v[:, :, full:], out=prod[:, :, full:])
                half, t = ws.half, [tt[:, :, :k] for tt in ws.tmp_o]
                plan.at(
                    [ws.prod[r, :, :, :k] for r in range(a)],
                    [half[i, :, :, :k] for i in range(m)],
                    t,
                )
                t = [tt[:m, :, :k] for tt in ws.tmp_o]
                out = [ws.out[:, j, :, f0 : f0 + k] for j in range(m)]
                plan.at([half[:m, s, :, :k] for s in range(a)], out, t)
            if not np.isfinite(ws.out[:, :, :, :length].sum()):
                finite[0] = False
            out6 = ws.out.reshape(m, m, o, plan.batch, geo.th + 1, geo.row)
            for i, nr in enumerate(geo.counts[0]):
                for j, nc in enumerate(geo.counts[1]):
                    y[n0 : n0 + b, :, i::m, j::m] = out6[i, j, :, :b, :nr, :nc].swapaxes(0, 1)

        finite = [True]
        plan.run(chunk)
        return y if finite[0] else None

    def wino_weight_grad(x: Any, gy: Any, w_shape: tuple, padding: tuple, m: int) -> Any:
        n, c = x.shape[:2]
        o = w_shape[0]
        plan = Wino(x, o, padding, m)
        geo, a, blk = plan.geo, plan.a, plan.blk
        parts = xp.zeros((plan.chunks, a * a, o, c), x.dtype)
        place = [[(i, 0, k) for i, k in enumerate(ks)] for ks in geo.counts]

        def chunk(ws: SimpleNamespace, ci: int, n0: int, b: int) -> None:
            plan.fill(ws.phases, x, n0, b, geo.place)
            plan.fill(ws.out, gy, n0, b, place)  # the output gradient's phases
            length = geo.length(b)
            for f0 in range(0, length, plan.cols):
                k = min(plan.cols, length - f0)
                v = plan.tiles(ws, f0, k)
                half, gt = ws.half, ws.prod
                t = [tt[:m, :, :k] for tt in ws.tmp_o]
                plan.expand(
                    [ws.out[i, :, :, f0 : f0 + k] for i in range(m)],
                    [half[r, :m, :, :k] for r in range(a)],
                    t,
                )
                t = [tt[:, :, :k] for tt in ws.tmp_o]
                plan.expand(
                    [half[:, j, :, :k] for j in range(m)], [gt[:, s, :, :k] for s in range(a)], t
                )
                gtk = gt.reshape(a * a, o, -1)[:, :, :k]
                full = k // blk * blk if blk else 0
                if full:
                    nb = full // blk
                    blocks = np.matmul(
                        gtk[:, :, :full].reshape(a * a, o, nb, blk).swapaxes(1, 2),
                        v[:, :, :full].reshape(a * a, c, nb, blk).transpose(0, 2, 3, 1),
                    )
                    parts[ci] += blocks.sum(axis=1)
                if full < k:
                    parts[ci] += np.matmul(gtk[:, :, full:], v[:, :, full:].swapaxes(1, 2))

        plan.run(chunk)
        with _quiet():
            acc = parts.sum(axis=0).reshape(a, a, o, c)
        g = np.array(_WINO_G[m])
        with _quiet():
            gw = np.einsum("ku,kloc,lv->ocuv", g, acc, g, optimize=True).astype(x.dtype)
        return gw if np.isfinite(gw).all() else None

    # ------------------------------------------------------------------ the three rules' ops
    def conv_forward(
        x: Any, w: Any, stride: tuple, padding: tuple, dilation: tuple, groups: int
    ) -> Any:
        """The convolution of ``x`` with ``w`` (no bias)."""
        kernel = w.shape[2:]
        out = _conv_out(x.shape[2:], kernel, stride, padding, dilation)
        if _shifted_ok(padding, stride, x.shape[2:], out, x.shape[0], x.shape[1]):
            return forward_shifted(x, w, padding, dilation, groups)
        cols = columns(x, kernel, out, stride, padding, dilation, groups)
        o = w.shape[0]
        y = xp.matmul(w.reshape(groups, o // groups, -1), cols)
        return y.reshape((x.shape[0], o) + out)

    def conv_input_grad(
        g: Any, w: Any, x_shape: tuple, stride: tuple, padding: tuple, dilation: tuple, groups: int
    ) -> Any:
        """The gradient of ``conv_forward(x, w)`` wrt ``x`` (of ``x_shape``) for the output
        gradient ``g``: the transposed convolution of ``g`` with ``w``."""
        n, o = g.shape[:2]
        out, kernel, c = g.shape[2:], w.shape[2:], x_shape[1]
        reach = tuple(d * (k - 1) for d, k in zip(dilation, kernel))
        if _shifted_ok(padding, stride, x_shape[2:], out, n, c) and all(
            m + lo + hi - r >= size
            for m, (lo, hi), r, size in zip(x_shape[2:], padding, reach, out)
        ):
            if (
                o <= c
                and all(
                    lo <= r and hi <= r and m - lo - hi + r == size  # no output_padding to add
                    for (lo, hi), r, m, size in zip(padding, reach, out, x_shape[2:])
                )
            ):
                # The convolution of g with the flipped, transposed kernel: its columns
                # (O per kernel offset) are no larger than col2im's (C per offset).
                flipped = w.reshape((groups, o // groups, c // groups) + tuple(kernel))
                flipped = flipped.swapaxes(1, 2).reshape((c, o // groups) + tuple(kernel))
                flipped = flipped[
                    (slice(None), slice(None)) + (slice(None, None, -1),) * len(kernel)
                ]
                back = tuple((r - lo, r - hi) for (lo, hi), r in zip(padding, reach))
                return forward_shifted(g, flipped, back, dilation, groups)
            return input_grad_col2im_shifted(g, w, x_shape, padding, dilation, groups)
        wt = w.reshape(groups, o // groups, -1).swapaxes(-1, -2)
        cols = xp.matmul(wt, g.reshape(n, groups, o // groups, math.prod(out)))
        cols = cols.reshape((n, c) + tuple(kernel) + tuple(out))
        full = tuple(m + lo + hi for m, (lo, hi) in zip(x_shape[2:], padding))
        dx = xp.zeros((n, c) + full, cols.dtype)
        head = (slice(None), slice(None))
        for offs in itertools.product(*(range(k) for k in kernel)):
            key = tuple(
                slice(i * d, i * d + s * (m - 1) + 1, s)
                for i, d, s, m in zip(offs, dilation, stride, out)
            )
            dx[head + key] += cols[head + offs]
        if not any(lo or hi for lo, hi in padding):
            return dx
        return dx[head + _inner(x_shape[2:], padding)]

    def conv_weight_grad(
        x: Any, g: Any, w_shape: tuple, stride: tuple, padding: tuple, dilation: tuple, groups: int
    ) -> Any:
        """The gradient of ``conv_forward(x, w)`` wrt ``w`` (of ``w_shape``) for the output
        gradient ``g``: the correlation of ``x`` with ``g``."""
        n, o = g.shape[:2]
        if _shifted_ok(padding, stride, x.shape[2:], g.shape[2:], n, x.shape[1]) and o > 0:
            return weight_grad_shifted(x, g, w_shape, padding, dilation, groups)
        cols = columns(x, w_shape[2:], g.shape[2:], stride, padding, dilation, groups)
        gm = g.reshape(n, groups, o // groups, math.prod(g.shape[2:]))
        if n == 1:
            gw = xp.matmul(gm[0], cols[0].swapaxes(-1, -2))
        else:
            gw = xp.matmul(gm, cols.swapaxes(-1, -2)).sum(0)
        return gw.reshape(w_shape)

    return {
        "conv_forward": conv_forward,
        "conv_input_grad": conv_input_grad,
        "conv_weight_grad": conv_weight_grad,
    }


def _inner(shape: tuple, padding: tuple) -> tuple:
    """The slices of a padded array that hold the unpadded one."""
    return tuple(slice(lo, lo + n) for n, (lo, _) in zip(shape, padding))


def _conv_out(
    spatial: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple
) -> tuple:
    """A convolution's output size per spatial dim."""
    return tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, (lo, hi), d in zip(spatial, kernel, stride, padding, dilation)
    )


def _quiet() -> np.errstate:
    """Silences NumPy's floating-point warnings: PyTorch returns inf/nan without warning."""
    return np.errstate(all="ignore")


def _array_softmax_grad(xp: Any) -> Any:
    def softmax_grad(g: Any, p: Any, axis: int) -> Any:
        """``p * (g - sum(g * p, axis))``, softmax's gradient from its result ``p``, with
        one temporary; a float sum over either of the last two axes is a BLAS product with
        ones (several times faster than NumPy's reduction over a short axis)."""
        gp = g * p
        last = axis in (-1, gp.ndim - 1)
        if last and gp.dtype.kind == "f" and gp.ndim > 1:
            total = xp.matmul(gp, xp.ones((gp.shape[-1], 1), gp.dtype))
        elif axis in (-2, gp.ndim - 2) and gp.dtype.kind == "f" and gp.ndim > 1:
            total = xp.matmul(xp.ones((1, gp.shape[-2]), gp.dtype), gp)
        else:
            total = gp.sum(axis=axis, keepdims=True)
        xp.subtract(g, total, out=gp)
        gp *= p
        return gp

    return softmax_grad


def _array_over_batches(ns: SimpleNamespace) -> Any:
    def over_batches(fn: Any, arrays: tuple, core: int, cost: float) -> tuple:
        """``fn(xp, *arrays)``, on slices of the arrays' batch dims across the intra-op
        threads (``ndgrad._parallel.split_batches``); ``cost``: nanoseconds per batch item."""
        if all(a is None or type(a) is np.ndarray for a in arrays):
            return _parallel.split_batches(lambda *a: fn(ns, *a), arrays, core, cost)
        return fn(ns, *arrays)

    return over_batches


def _array_namespace_of(xp: ModuleType) -> SimpleNamespace:
    names = {name: getattr(xp, name) for name in NUMPY_API}
    if xp is np:
        names["sum"] = _np_sum
        names["matmul"] = _parallel.matmul
    names.update(
        inv=xp.linalg.inv,
        cofactor=_array_cofactor(xp),
        sum_to=sum_to,
        astype=_astype,
        unreduce=_array_unreduce(xp),
        erf=_array_erf(xp),
        **_array_special(xp),
        sigmoid=_array_sigmoid(xp),
        quiet=_quiet if xp is np else contextlib.nullcontext,
        **_array_indexing(xp),
        **_array_conv(xp),
        put_along_axis_zeros=_array_put_along_axis_zeros(xp),
    )
    from ndgrad.ops.pooling import _array_window

    names.update(_array_window(xp))
    names["softmax_grad"] = _array_softmax_grad(xp)
    ns = SimpleNamespace(**names)
    ns.over_batches = _array_over_batches(ns)
    return ns


def _np_sum(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    # np.add.reduce is what np.sum calls, without its 1 us of argument handling.
    return np.add.reduce(a, axis=axis, keepdims=keepdims)


ARRAY_NAMESPACES: dict[type, SimpleNamespace] = {}


def array_namespace(data: Any) -> SimpleNamespace:
    """The rule namespace for ``data``'s array library (built once per array type)."""
    ns = ARRAY_NAMESPACES.get(type(data))
    if ns is None:
        xp = _XP_BY_TYPE.get(type(data))
        if xp is None:
            from ndgrad._backend import array_module

            xp = array_module(data)
        ns = ARRAY_NAMESPACES[type(data)] = _array_namespace_of(xp)
    return ns


array_namespace(np.empty(0))


# ----------------------------------------------------------------------------- Tensors
def _tensor_namespace() -> SimpleNamespace:
    from ndgrad.ops import convolution, indexing, linalg, pointwise, pooling, reduction, shape
    from ndgrad.ops._common import cast

    def sum_(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return reduction.sum(a, axis, keepdims)

    def unreduce(g: Any, dims: tuple, keepdim: bool, shape_: tuple) -> Any:
        if not keepdim and dims and shape_:
            g = g.reshape(tuple([1 if i in dims else s for i, s in enumerate(shape_)]))
        return g if g.shape == shape_ else g.expand(shape_)

    def expand_dims(a: Any, axis: Any) -> Any:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        ndim = a.ndim + len(axes)
        for d in sorted(ax % ndim for ax in axes):
            a = shape.unsqueeze(a, d)
        return a

    def transpose(a: Any, axes: Any = None) -> Any:
        return shape.permute(a, *(reversed(range(a.ndim)) if axes is None else axes))

    def squeeze(a: Any, axis: Any = None) -> Any:
        return shape.squeeze(a, axis)

    def flip(a: Any, axis: Any) -> Any:
        return shape.flip(a, (axis,) if isinstance(axis, int) else axis)

    def cumsum(a: Any, axis: int) -> Any:
        return reduction.cumsum(a, axis)

    def concatenate(arrays: Any, axis: int = 0) -> Any:
        return shape.cat(list(arrays), axis)

    def tril(a: Any, k: int = 0) -> Any:
        return shape.tril(a, k)

    def prod(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        if axis is None or not isinstance(axis, int):
            axes = range(a.ndim) if axis is None else [d % max(a.ndim, 1) for d in axis]
            for d in sorted(axes):
                a = reduction.prod(a, d, keepdim=True)
            return (
                a
                if keepdims
                else a.reshape(tuple(s for i, s in enumerate(a.shape) if i not in set(axes)))
            )
        return reduction.prod(a, axis, keepdim=keepdims)

    def put_along_axis_zeros(shape_: tuple, index: Any, values: Any, axis: int) -> Any:
        if values.shape != index.shape:
            values = values.expand(index.shape)
        zeros = _creation.zeros(shape_, dtype=values.dtype)
        return indexing.scatter(zeros, axis, index, values)

    def triu(a: Any, k: int = 0) -> Any:
        return shape.triu(a, k)

    def softmax_grad(g: Any, p: Any, axis: int) -> Any:
        return p * (g - reduction.sum(g * p, axis, True))

    def over_batches(fn: Any, arrays: tuple, core: int, cost: float) -> tuple:
        return fn(TENSOR, *arrays)

    names = {name: getattr(pointwise, name) for name in (*ELEMENTWISE, "erf")}
    from ndgrad import _creation

    names.update(
        zeros_like=_creation.zeros_like,
        ones_like=_creation.ones_like,
        broadcast_to=shape.broadcast_to,
        expand_dims=expand_dims,
        reshape=shape.reshape,
        squeeze=squeeze,
        swapaxes=shape.transpose,
        transpose=transpose,
        flip=flip,
        roll=shape.roll,
        diagonal=lambda a, offset=0, axis1=0, axis2=1: shape.diagonal(a, offset, axis1, axis2),
        cumsum=cumsum,
        concatenate=concatenate,
        matmul=linalg.matmul,
        einsum=linalg.einsum,
        inv=linalg.inverse,
        cofactor=lambda a: expand_dims(linalg.det(a), (-2, -1)) * linalg.inverse(a).mT,
        tril=tril,
        triu=triu,
        sum=sum_,
        sum_to=lambda a, shape_: shape.sum_to_size(a, shape_),
        astype=cast,
        unreduce=unreduce,
        sigmoid=pointwise.sigmoid,
        polygamma=pointwise.polygamma,
        i0=pointwise.i0,
        i1=pointwise._special_i1,
        quiet=contextlib.nullcontext,
        index_add_zeros=indexing._index_add_zeros,
        take_along_axis=indexing._take_along_axis,
        add_along_axis_zeros=indexing._add_along_axis_zeros,
        prod=prod,
        put_along_axis_zeros=put_along_axis_zeros,
        conv_forward=convolution.conv_forward,
        conv_input_grad=convolution.conv_input_grad_tensor,
        conv_weight_grad=convolution.conv_weight_grad,
        window_sum=pooling._window_sum_t,
        window_spread=pooling._window_spread_t,
        softmax_grad=softmax_grad,
        over_batches=over_batches,
    )
    return SimpleNamespace(**names)


TENSOR = _tensor_namespace()
register_namespaces(array_namespace, ARRAY_NAMESPACES, TENSOR)
