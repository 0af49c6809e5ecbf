"""PyTorch's CPU random-number generator and its sampling kernels, draw for draw.

``torch.manual_seed(s)`` seeds a 32-bit Mersenne Twister exactly as NumPy's legacy seeding
does (the low 32 bits of ``s``), so NumPy's ``MT19937`` bit generator yields the same raw
stream. On top of it, ATen's CPU kernels turn raw 32/64-bit draws into numbers; this module
repeats those transformations in vectorised NumPy, in the same order and the same precision,
so that a seeded program prints PyTorch's numbers:

* uniform floats keep the low ``digits`` bits of one draw (24 for float32 from a 32-bit draw,
  53 for float64 from a 64-bit one) scaled by ``2**-digits``, then ``x * (to - from) + from``
  (one rounding, as the fused multiply-add the AVX2 kernel compiles to);
* ``normal_`` on 16 or more contiguous float32 elements is ATen's AVX2 Box-Muller over blocks
  of 16 (``normal_fill_16_AVX2``), whose log/sin/cos are the Cephes polynomials of
  ``avx_mathfun.h``: they are evaluated here operation by operation in float32, with the
  multiply-adds the compiler fuses fused (in float64, then rounded once); float16 runs the same
  float maths on 16 draws at a time and rounds; float64 uses the scalar Box-Muller with the C
  library's log/sin/cos; fewer than 16 elements (or a strided tensor) draw pairs in float64 and
  keep the second value for the next call;
* integers are a draw modulo the range (a 64-bit draw when the range needs it);
* ``randperm`` swaps ``i`` with ``i + draw % (n - i)``; Bernoulli compares a uniform draw
  (float64 for a scalar ``p``) with ``p``.

PyTorch on another CPU may take other kernels (MKL's Bernoulli, AVX512 maths); the numbers
here are those of the ``torch==2.13.0`` CPU wheel on x86-64, checked in tests/ops/test_rng.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_F32 = np.float32
_F64 = np.float64


def _fma32(a: Any, b: Any, c: Any) -> Any:
    """``a * b + c`` rounded once to float32 (the product of two floats is exact in float64)."""
    return (np.asarray(a, _F64) * np.asarray(b, _F64) + np.asarray(c, _F64)).astype(_F32)


def _fma64(a: np.ndarray, b: float, c: float) -> np.ndarray:
    """``a * b + c`` with one rounding, in float64: Dekker's exact product, then the sum."""

    def split(v: Any) -> tuple[Any, Any]:
        t = v * 134217729.0  # 2**27 + 1
        hi = t - (t - v)
        return hi, v - hi

    p = a * b
    (ah, al), (bh, bl) = split(a), split(_F64(b))
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    t = (p - (s - (s - p))) + (c - (s - p))  # two-sum: s + t == p + c exactly
    return s + (t + err)


def _log_ps(x: np.ndarray) -> np.ndarray:
    """avx_mathfun's ``log256_ps``: Cephes' logf on (0, 1], in float32 steps."""
    x = np.maximum(x, _F32(1.17549435e-38))
    bits = x.view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(_F32) + _F32(1)
    x = ((bits & ~0x7F800000) | np.int32(0x3F000000)).view(_F32)  # mantissa in [0.5, 1)
    small = x < _F32(0.707106781186547524)
    x = (x - _F32(1)) + np.where(small, x, _F32(0))
    e = e - small.astype(_F32)
    z = x * x
    y = np.full_like(x, _F32(7.0376836292e-2))
    for p in (
        -1.1514610310e-1,
        1.1676998740e-1,
        -1.2420140846e-1,
        1.4249322787e-1,
        -1.6668057665e-1,
        2.0000714765e-1,
        -2.4999993993e-1,
        3.3333331174e-1,
    ):
        y = _fma32(y, x, _F32(p))
    y = y * x
    y = _fma32(y, z, e * _F32(-2.12194440e-4))
    y = _fma32(z, _F32(-0.5), y)
    return _fma32(e, _F32(0.693359375), x + y)


def _sincos_ps(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """avx_mathfun's ``sincos256_ps`` for x >= 0, in float32 steps."""
    j = ((x * _F32(1.27323954473516)).astype(np.int32) + 1) & ~1
    y = j.astype(_F32)
    for dp in (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8):
        x = _fma32(y, _F32(dp), x)
    z = x * x
    cos_poly = np.full_like(x, _F32(2.443315711809948e-5))
    cos_poly = _fma32(cos_poly, z, _F32(-1.388731625493765e-3))
    cos_poly = _fma32(cos_poly, z, _F32(4.166664568298827e-2))
    cos_poly = _fma32(cos_poly * z, z, -(z * _F32(0.5))) + _F32(1)
    sin_poly = np.full_like(x, _F32(-1.9515295891e-4))
    sin_poly = _fma32(sin_poly, z, _F32(8.3321608736e-3))
    sin_poly = _fma32(sin_poly, z, _F32(-1.6666654611e-1))
    sin_poly = _fma32(sin_poly * z, x, x)
    first = (j & 2) == 0
    sin = np.where(first, sin_poly, cos_poly)
    cos = np.where(first, cos_poly, sin_poly)
    sin = np.where((j & 4) != 0, -sin, sin)
    cos = np.where(((~(j - 2)) & 4) != 0, -cos, cos)
    return sin, cos


def _libm(fn: Any, x: np.ndarray) -> np.ndarray:
    """The C library's double-precision ``fn`` (what ATen's scalar kernels call) element by
    element: NumPy's own SIMD log/sin/cos can differ from it in the last bit."""
    flat = x.astype(_F64).ravel().tolist()
    return np.fromiter(map(fn, flat), _F64, len(flat)).reshape(x.shape)


def _digits(dtype: np.dtype) -> int:
    return 53 if dtype.itemsize == 8 else 24  # half precision draws as float, then rounds


def draw_order(arr: Any, dense_only: bool = False) -> tuple[int, ...] | None:
    """The dimension order ATen's TensorIterator walks ``arr`` in (largest stride first, so
    memory order), when that is not C order; None for C order. ``dense_only``: only for an
    array without gaps, as ``empty_like`` keeps such a layout and makes others contiguous."""
    strides, shape = arr.strides, arr.shape
    order = tuple(sorted(range(arr.ndim), key=lambda d: -abs(strides[d])))
    if order == tuple(range(arr.ndim)) or any(s == 0 for s in strides):
        return None
    if dense_only:
        step = arr.itemsize
        for d in reversed(order):
            if shape[d] != 1 and strides[d] != step:
                return None
            step *= shape[d]
    return order


def in_draw_order(draw: Any, arr: Any, dense_only: bool = False) -> Any:
    """``draw(shape)`` for ``arr``'s shape, its values laid out in ATen's draw order."""
    order = draw_order(arr, dense_only)
    if order is None:
        return draw(arr.shape)
    values = draw(tuple(arr.shape[d] for d in order))
    return values.transpose(np.argsort(order))


class CPUEngine:
    """ATen's ``CPUGeneratorImpl``: a seeded Mersenne Twister, the cached second normal
    sample, and the sampling kernels of ``aten/src/ATen/native/cpu``."""

    DEFAULT_SEED = 67280421310721  # torch's default_rng_seed_val

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self.manual_seed(seed)

    # ------------------------------------------------------------------ state
    def manual_seed(self, seed: int) -> None:
        self.seed = int(seed)
        self._twister = np.random.MT19937()
        self._twister._legacy_seeding(self.seed & 0xFFFFFFFF)
        self._next_normal: float | None = None

    def get_state(self) -> dict:
        return {
            "seed": self.seed,
            "twister": self._twister.state,
            "next_normal": self._next_normal,
        }

    def set_state(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self._twister.state = state["twister"]
        self._next_normal = state["next_normal"]

    # ------------------------------------------------------------------ raw draws
    def random32(self, n: int) -> np.ndarray:
        return self._twister.random_raw(n).astype(np.uint64)

    def random64(self, n: int) -> np.ndarray:
        pairs = self.random32(2 * n).reshape(n, 2)  # the first draw is the high word
        return (pairs[:, 0] << np.uint64(32)) | pairs[:, 1]

    def _unit(self, n: int, dtype: np.dtype) -> np.ndarray:
        """``uniform_real_distribution<dtype>(0, 1)``: n draws in [0, 1)."""
        digits = _digits(dtype)
        raw = self.random64(n) if dtype.itemsize == 8 else self.random32(n)
        kept = raw & np.uint64((1 << digits) - 1)
        acc = _F64 if dtype.itemsize == 8 else _F32
        return kept.astype(acc) * acc(2.0**-digits)  # float16 rounds afterwards

    # ------------------------------------------------------------------ kernels
    def uniform(self, shape: tuple, dtype: Any, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """``Tensor.uniform_(low, high)``."""
        dtype = np.dtype(dtype)
        x = self._unit(math.prod(shape), dtype)
        if dtype.itemsize == 8:
            out = _fma64(x, high - low, low)
        else:
            lo, hi = _F32(low), _F32(high)
            out = _fma32(x, hi - lo, lo)
        return out.astype(dtype, copy=False).reshape(shape)

    def normal(
        self, shape: tuple, dtype: Any, mean: float = 0.0, std: float = 1.0, contiguous: bool = True
    ) -> np.ndarray:
        """``Tensor.normal_(mean, std)``: ATen's choice of kernel by dtype, size and layout."""
        dtype = np.dtype(dtype)
        n = math.prod(shape)
        if n >= 16 and contiguous:
            if dtype.itemsize == 2:  # half: float maths on 16 draws at a time, then rounded
                return (
                    self._blocks(n, _F32, self._fill16_f32, mean, std, False)
                    .astype(dtype)
                    .reshape(shape)
                )
            fill = self._fill16_f32 if dtype == _F32 else self._fill16
            return self._blocks(n, dtype, fill, mean, std).reshape(shape)
        return self._normal_pairs(n, mean, std).astype(dtype).reshape(shape)

    def _blocks(
        self, n: int, dtype: Any, fill: Any, mean: float, std: float, draw_all: bool = True
    ) -> np.ndarray:
        """Box-Muller over blocks of 16 uniforms; a partial last block is drawn afresh and
        recomputed over the last 16 places. ``draw_all``: the uniforms for every element are
        drawn first (float and double), else only those of whole blocks (half)."""
        dtype = np.dtype(dtype)
        whole = n // 16 * 16
        data = self._unit(n if draw_all else whole, dtype).astype(dtype, copy=False)
        out = np.empty(n, dtype)
        out[:whole] = fill(data[:whole].reshape(-1, 16), mean, std).reshape(-1)
        if n % 16:
            tail = self._unit(16, dtype).astype(dtype, copy=False).reshape(1, 16)
            out[n - 16 :] = fill(tail, mean, std).reshape(-1)
        return out

    @staticmethod
    def _fill16_f32(blocks: np.ndarray, mean: float, std: float) -> np.ndarray:
        u1 = _F32(1) - blocks[:, :8]
        radius = np.sqrt(_F32(-2) * _log_ps(u1))
        sin, cos = _sincos_ps(_F32(2.0 * math.pi) * blocks[:, 8:])
        s, m = _F32(std), _F32(mean)
        return np.concatenate([_fma32(radius * cos, s, m), _fma32(radius * sin, s, m)], axis=1)

    @staticmethod
    def _fill16(blocks: np.ndarray, mean: float, std: float) -> np.ndarray:
        """``normal_fill_16`` for float64 (and float16, computed in float64 and rounded)."""
        u1 = 1.0 - blocks[:, :8].astype(_F64)
        radius = np.sqrt(-2.0 * _libm(math.log, u1))
        theta = 2.0 * math.pi * blocks[:, 8:].astype(_F64)
        cos, sin = radius * _libm(math.cos, theta), radius * _libm(math.sin, theta)
        both = np.concatenate([_fma64(cos, std, mean), _fma64(sin, std, mean)], axis=1)
        return both.astype(blocks.dtype)

    def _normal_pairs(self, n: int, mean: float, std: float) -> np.ndarray:
        """``normal_distribution<double>`` one element at a time: each pair of uniforms gives
        r cos(theta) now and r sin(theta) for the next element (kept across calls)."""
        values = np.empty(n, _F64)
        start = 0
        if n and self._next_normal is not None:
            values[0], self._next_normal, start = self._next_normal, None, 1
        pairs = (n - start + 1) // 2
        if pairs:
            u = self._unit(2 * pairs, np.dtype(_F64)).reshape(pairs, 2)
            radius = np.sqrt(-2.0 * _libm(math.log1p, -u[:, 1]))
            theta = 2.0 * math.pi * u[:, 0]
            both = np.stack([radius * _libm(math.cos, theta), radius * _libm(math.sin, theta)], 1)
            both = both.reshape(-1)
            values[start:] = both[: n - start]
            if (n - start) % 2:
                self._next_normal = float(both[-1])
        return _fma64(values, std, mean)

    def integers(self, shape: tuple, low: int, high: int, dtype: Any = np.int64) -> np.ndarray:
        """``random_(low, high)``/``randint``: a draw modulo the range (64-bit if it needs)."""
        span = int(high) - int(low)
        n = math.prod(shape)
        raw = self.random64(n) if span >= 1 << 32 else self.random32(n)
        return ((raw % np.uint64(span)).astype(np.int64) + int(low)).astype(dtype).reshape(shape)

    def random_full(self, shape: tuple, dtype: Any) -> np.ndarray:
        """``random_()`` without bounds: [0, 2**digits] for floats, [0, max] for integers."""
        dtype = np.dtype(dtype)
        if dtype.kind == "f":
            span = (1 << _digits(dtype)) + 1
        elif dtype.kind == "b":
            span = 2
        else:
            span = int(np.iinfo(dtype).max) + 1
        n = math.prod(shape)
        raw = self.random64(n) if span > 1 << 32 else self.random32(n)
        return (raw % np.uint64(span)).astype(dtype).reshape(shape)

    def randperm(self, n: int) -> np.ndarray:
        order = np.arange(n, dtype=np.int64)
        if n < 2:
            return order
        offsets = self.random32(n - 1).astype(np.int64) % np.arange(n, 1, -1)
        swap = np.arange(n - 1) + offsets
        for i, j in enumerate(swap.tolist()):  # each swap sees the previous ones
            order[i], order[j] = order[j], order[i]
        return order

    def bernoulli(self, p: Any, shape: tuple | None = None) -> np.ndarray:
        """Booleans ``u < p``: a float64 uniform for a Python ``p``, else a uniform in ``p``'s
        own precision (float32's 24 bits) per element, as ATen's two Bernoulli kernels."""
        if isinstance(p, np.ndarray):
            shape = p.shape if shape is None else shape
            precision = np.dtype(_F64) if p.dtype == _F64 else np.dtype(_F32)
            u = self._unit(math.prod(shape), precision).reshape(shape)
            return u < np.broadcast_to(p, shape).astype(precision)
        assert shape is not None
        return self._unit(math.prod(shape), np.dtype(_F64)).reshape(shape) < float(p)

    def exponential(self, shape: tuple, dtype: Any, lambd: float = 1.0) -> np.ndarray:
        """``exponential_(lambd)``: -log1p(-u) / lambd from float64 uniforms."""
        u = self._unit(math.prod(shape), np.dtype(_F64))
        return (-1.0 / lambd * _libm(math.log1p, -u)).astype(dtype).reshape(shape)

    def cauchy(self, shape: tuple, dtype: Any, median: float = 0.0, sigma: float = 1.0) -> Any:
        """``cauchy_``: median + sigma * tan(pi * (u - 1/2)) from float64 uniforms."""
        u = self._unit(math.prod(shape), np.dtype(_F64))
        values = median + sigma * _libm(math.tan, math.pi * (u - 0.5))
        return values.astype(dtype).reshape(shape)

    def log_normal(self, shape: tuple, dtype: Any, mean: float = 1.0, std: float = 2.0) -> Any:
        """``log_normal_``: exp of ``normal_distribution<double>`` (pairs, cache included)."""
        values = _libm(math.exp, self._normal_pairs(math.prod(shape), mean, std))
        return values.astype(dtype).reshape(shape)

    def geometric(self, shape: tuple, dtype: Any, p: float) -> Any:
        """``geometric_``: ceil(log(u) / log1p(-p)) from float64 uniforms."""
        u = self._unit(math.prod(shape), np.dtype(_F64))
        return np.ceil(_libm(math.log, u) / math.log1p(-p)).astype(dtype).reshape(shape)

    def poisson(self, rates: np.ndarray) -> np.ndarray:
        """``torch.poisson``: per element, Hoermann's transformed rejection for rates of 10
        and more, else the product of uniforms; float64 uniforms, C library maths."""
        out = np.empty(rates.size, np.float64)
        for i, lam in enumerate(rates.astype(_F64).ravel().tolist()):
            out[i] = self._poisson_one(lam)
        return out.reshape(rates.shape).astype(rates.dtype)

    def _poisson_one(self, lam: float) -> int:
        def uniform() -> float:
            return float(self._unit(1, np.dtype(_F64))[0])

        if lam == math.inf:
            return -(2**63)  # ATen's int64 cast of an infinite draw
        if lam >= 10:
            slam, loglam = math.sqrt(lam), math.log(lam)
            b = 0.931 + 2.53 * slam
            a = -0.059 + 0.02483 * b
            invalpha = 1.1239 + 1.1328 / (b - 3.4)
            vr = 0.9277 - 3.6224 / (b - 2)
            while True:
                u = uniform() - 0.5
                v = uniform()
                us = 0.5 - abs(u)
                k = math.floor((2 * a / us + b) * u + lam + 0.43)
                if us >= 0.07 and v <= vr:
                    return k
                if k < 0 or (us < 0.013 and v > us):
                    continue
                lhs = math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                if lhs <= -lam + k * loglam - math.lgamma(k + 1.0):
                    return k
        if lam == 0:
            return 0
        enlam, count, prod = math.exp(-lam), 0, 1.0
        while True:
            prod *= uniform()
            if prod > enlam:
                count += 1
            else:
                return count

    def multinomial(self, probs: np.ndarray, num_samples: int, replacement: bool) -> Any:
        """``torch.multinomial`` on rows of ``probs`` (2-D): without replacement (or for one
        sample) the largest ``p / q`` with ``q ~ Exp(1)``; with replacement a float64
        uniform per sample placed in the row's normalised running sum."""
        if not replacement or num_samples == 1:
            q = probs / self.exponential(probs.shape, probs.dtype)
            if num_samples == 1:
                return np.argmax(q, axis=-1)[:, None]
            order = np.argsort(-q, axis=-1, kind="stable")
            return order[:, :num_samples]
        out = np.empty((probs.shape[0], num_samples), np.int64)
        for i, row in enumerate(probs):
            running = np.cumsum(row)  # sequential, in the row's dtype
            running = running / running[-1]
            running[-1] = 1
            u = self._unit(num_samples, np.dtype(_F64))
            out[i] = np.searchsorted(running.astype(_F64), u, side="left")
        return out
