"""Intra-op parallelism: split work is bit-identical to serial work; the thread-count
settings behave as PyTorch's."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ndgrad
from ndgrad import _parallel
from ndgrad.nn import functional as F


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Three threads, and no minimum work: even tiny ops are split."""
    monkeypatch.setattr(_parallel, "GRAIN_NS", 0)
    monkeypatch.setattr(_parallel, "_blas_spins_until", 0.0)
    monkeypatch.setattr(_parallel, "_num_threads", 3)
    yield


def _serial(fn: object, *args: object) -> object:
    before = _parallel._num_threads
    _parallel._num_threads = 1
    try:
        return fn(*args)  # type: ignore[operator]
    finally:
        _parallel._num_threads = before


DTYPES = (np.float32, np.float64, np.int64, np.int32)


@st.composite
def _operands(draw: st.DrawFn) -> tuple:
    m, k, n = (draw(st.integers(1, 6)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    # each operand drops leading batch dims or sets some to 1 (broadcasting)
    ba = [1 if draw(st.booleans()) else s for s in batch][draw(st.integers(0, len(batch))) :]
    bb = [1 if draw(st.booleans()) else s for s in batch][draw(st.integers(0, len(batch))) :]
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))

    def make(shape: list, rows: int, cols: int) -> np.ndarray:
        if draw(st.booleans()):  # non-contiguous: a transposed view
            return np.swapaxes(rng.integers(-9, 9, (*shape, cols, rows)).astype(dtype), -1, -2)
        if draw(st.booleans()):  # non-contiguous: every other column
            return rng.integers(-9, 9, (*shape, rows, 2 * cols)).astype(dtype)[..., ::2]
        return (rng.standard_normal((*shape, rows, cols)) * 3).astype(dtype)

    return make(ba, m, k), make(bb, k, n)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_operands())
def test_split_matmul_is_bit_identical(threads: None, operands: tuple) -> None:
    a, b = operands
    expected = np.matmul(a, b)
    got = _parallel.matmul(a, b)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_split_matmul_uses_the_threads(threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = _parallel.parallel_for
    monkeypatch.setattr(
        _parallel, "parallel_for", lambda n, c, fn: seen.append(n) or real(n, c, fn)
    )
    a = np.ones((7, 5, 4, 3), np.float32)
    np.testing.assert_array_equal(_parallel.matmul(a, a.swapaxes(-1, -2)), np.full((7, 5, 4, 4), 3))
    assert seen == [7]


@pytest.mark.parametrize("dtype", [ndgrad.float32, ndgrad.float64])
def test_matmul_and_its_gradients_match_serial(threads: None, dtype: ndgrad.dtype) -> None:
    gen = ndgrad.Generator().manual_seed(0)
    a = ndgrad.randn(6, 3, 5, 4, generator=gen, dtype=dtype, requires_grad=True)
    b = ndgrad.randn(3, 4, 7, generator=gen, dtype=dtype, requires_grad=True)

    def run() -> tuple:
        a.grad = b.grad = None
        out = a @ b
        (out * out).sum().backward()
        return out.detach().numpy().copy(), a.grad.numpy().copy(), b.grad.numpy().copy()

    for got, expected in zip(run(), _serial(run), strict=True):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mask", [None, "float", "bool"])
def test_attention_matches_serial(threads: None, mask: str | None) -> None:
    gen = ndgrad.Generator().manual_seed(1)
    q = ndgrad.randn(5, 3, 6, 4, generator=gen, requires_grad=True)
    k = ndgrad.randn(1, 3, 7, 4, generator=gen, requires_grad=True)  # broadcast over dim 0
    v = ndgrad.randn(5, 3, 7, 2, generator=gen, requires_grad=True)
    m = None
    if mask == "float":
        m = ndgrad.randn(6, 7, generator=gen, requires_grad=True)
    elif mask == "bool":
        m = ndgrad.rand(5, 1, 6, 7, generator=gen) > 0.3

    def run() -> list:
        for t in (q, k, v, m):
            if t is not None and t.requires_grad:
                t.grad = None
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        (out * out).sum().backward()
        grads = [t.grad.numpy().copy() for t in (q, k, v, m) if t is not None and t.requires_grad]
        return [out.detach().numpy().copy(), *grads]

    for got, expected in zip(run(), _serial(run), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_worker_errors_reach_the_caller(threads: None) -> None:
    def fail(begin: int, end: int) -> None:
        if begin > 0:
            raise ValueError(f"slice {begin}")

    with pytest.raises(ValueError, match="slice"):
        _parallel.parallel_for(6, 1.0, fail)
    done = []
    _parallel.parallel_for(9, 1.0, lambda b, e: done.append((b, e)))  # the pool still works
    # two pieces a thread, consecutive, covering the range once
    assert sorted(done) == [(0, 1), (1, 3), (3, 4), (4, 6), (6, 7), (7, 9)]


def test_a_late_worker_does_not_hold_up_the_caller(threads: None) -> None:
    import threading
    import time

    ran: list = []

    def piece(begin: int, end: int) -> None:
        main = threading.current_thread() is threading.main_thread()
        if not main:
            time.sleep(0.2)  # a worker the OS runs late: the caller takes the other pieces
        ran.append((begin, end, main))

    _parallel.parallel_for(12, 1.0, piece)
    assert sorted((b, e) for b, e, _ in ran) == [(2 * i, 2 * i + 2) for i in range(6)]
    assert sum(main for _, _, main in ran) >= 4  # each worker claimed at most one piece


def test_no_split_while_blas_threads_spin(threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "BLAS_SPIN_S", 60.0)
    assert _parallel.chunks_for(9, 1e9) == 3
    a = np.ones((300, 40), np.float32)
    _parallel.matmul(a, np.ones((40, 300), np.float32))  # 3.6e6 multiply-adds: BLAS threads
    assert _parallel.chunks_for(9, 1e9) == 1
    monkeypatch.setattr(_parallel, "_blas_spins_until", 0.0)
    _parallel.matmul(a[:10], np.ones((40, 10), np.float32))  # small: BLAS runs one thread
    assert _parallel.chunks_for(9, 1e9) == 3


def test_nested_calls_run_inline(threads: None) -> None:
    inner = []

    def outer(begin: int, end: int) -> None:
        inner.append(_parallel.chunks_for(100, 1e9))

    _parallel.parallel_for(3, 1.0, outer)
    assert inner == [1, 1, 1]


def test_one_thread_never_uses_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "GRAIN_NS", 0)
    monkeypatch.setattr(_parallel, "_num_threads", 1)
    monkeypatch.setattr(_parallel, "_get_pool", lambda n: pytest.fail("pool used"))
    a = np.ones((8, 3, 3))
    np.testing.assert_array_equal(_parallel.matmul(a, a), np.full((8, 3, 3), 3.0))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool(threads: None) -> None:
    a = np.ones((4, 2, 2))
    _parallel.matmul(a, a)  # the parent's pool exists
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        ok = np.array_equal(_parallel.matmul(a, a), np.full((4, 2, 2), 2.0))
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# ----------------------------------------------------------------------------- settings
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("value", [0, -2, 1.5, "2", True])
@pytest.mark.parametrize("name", ["set_num_threads", "set_num_interop_threads"])
def test_bad_thread_counts_raise_as_in_torch(name: str, value: object) -> None:
    with pytest.raises(Exception) as expected:
        getattr(torch, name)(value)
    with pytest.raises(type(expected.value)) as got:
        getattr(ndgrad, name)(value)
    assert str(got.value) == str(expected.value)


def test_set_num_threads_sets_the_count_and_blas(monkeypatch: pytest.MonkeyPatch) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = ndgrad.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=None):  # BLAS's counts restored on leaving
        try:
            ndgrad.set_num_threads(1)
            assert ndgrad.get_num_threads() == 1
            blas = [
                p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"
            ]
            assert blas and all(n == 1 for n in blas)
            ndgrad.set_num_threads(5)  # more than the cores: allowed, as in PyTorch
            assert ndgrad.get_num_threads() == 5
        finally:
            ndgrad.set_num_threads(before)


def test_set_num_interop_threads_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "_interop_set", False)
    monkeypatch.setattr(_parallel, "_num_interop_threads", _parallel._num_interop_threads)
    ndgrad.set_num_interop_threads(3)
    assert ndgrad.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="cannot set number of interop threads"):
        ndgrad.set_num_interop_threads(2)


@pytest.mark.parametrize("env", [None, "1", "2", "64"])
def test_default_count_respects_omp_num_threads(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    expected = cores if env is None else min(int(env), cores)
    assert _parallel._default_threads() == expected


@pytest.mark.parametrize("dtype", [ndgrad.float32, ndgrad.float64])
def test_softmax_matches_serial(threads: None, dtype: ndgrad.dtype) -> None:
    gen = ndgrad.Generator().manual_seed(2)
    x = ndgrad.randn(7, 3, 9, generator=gen, dtype=dtype, requires_grad=True)
    w = ndgrad.randn(7, 3, 9, generator=gen, dtype=dtype)

    def run() -> tuple:
        x.grad = None
        y = ndgrad.softmax(x, -1)
        (y * w).sum().backward()
        return y.detach().numpy().copy(), x.grad.numpy().copy()

    for got, expected in zip(run(), _serial(run), strict=True):
        np.testing.assert_array_equal(got, expected)
