"""Intra-op parallelism (PyTorch's ``at::parallel_for``) and the thread-count settings
``set_num_threads`` / ``get_num_threads`` / ``set_num_interop_threads`` /
``get_num_interop_threads``.

NumPy runs one ufunc or one stack of small matrix products on one core: OpenBLAS does not
thread a 50x32x50 product, and ufunc loops are single-threaded. Both release the GIL, so a
small persistent pool of Python threads can run disjoint slices of one op at the same time.
Work is split along batch dimensions only, never along a reduction, so the result is
bit-identical to the serial one; each slice writes its own part of one preallocated output.
With one thread (``set_num_threads(1)``, or ``OMP_NUM_THREADS=1``) the pool is never used.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

import numpy as np

# Below this much work per slice (in nanoseconds, roughly) a slice is not worth handing to
# another thread: waking one and getting the result back costs 10-40 us.
GRAIN_NS = 60_000
# Pieces of a parallel_for per thread, claimed in turn: more let the others take over a late
# thread's share, but each costs a call and GIL handoffs.
PIECES_PER_THREAD = 2


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _default_threads() -> int:
    """PyTorch's default: the cores available, or OMP_NUM_THREADS / MKL_NUM_THREADS (at most
    the cores, as PyTorch reports) when set."""
    cores = _cores()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.strip().isdigit() and int(value) > 0:
            return min(int(value), cores)
    return cores


_num_threads = _default_threads()
_num_interop_threads = _cores()
_interop_set = False
_local = threading.local()  # .busy: this thread is running a slice (nested calls run inline)


def _check_count(name: str, n: Any) -> int:
    if not isinstance(n, int) or isinstance(n, bool):
        raise RuntimeError(f"{name} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{name} expects a positive integer")
    return n


def get_num_threads() -> int:
    """The number of threads used for intra-op parallelism on CPU."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Sets the number of threads used for intra-op parallelism on CPU: ndgrad's pool and
    the BLAS library's threads (through threadpoolctl, as PyTorch sets MKL's)."""
    global _num_threads
    _num_threads = _check_count("set_num_threads", n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn; without it BLAS keeps its own count
        return
    threadpool_limits(limits=n, user_api="blas")


def get_num_interop_threads() -> int:
    """The number of threads used for inter-op parallelism on CPU (ndgrad runs none)."""
    return _num_interop_threads


def set_num_interop_threads(n: int) -> None:
    """Sets the number of inter-op threads; as in PyTorch, only once."""
    global _num_interop_threads, _interop_set
    _check_count("set_num_interop_threads", n)
    if _interop_set:
        raise RuntimeError(
            "Error: cannot set number of interop threads after parallel work has started or "
            "set_num_interop_threads called"
        )
    _num_interop_threads, _interop_set = n, True


class _Pool:
    """Worker threads waiting on one task queue; each task reports to its caller's queue."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.tasks: SimpleQueue = SimpleQueue()
        for _ in range(workers):
            threading.Thread(target=self._work, daemon=True, name="ndgrad-intraop").start()

    def _work(self) -> None:
        _local.busy = True
        while True:
            task = self.tasks.get()
            if task is None:
                return
            task.work()
            # Idle workers hold no task: its slices' closures keep the outputs alive, and a
            # gradient held elsewhere is copied before it becomes a leaf's .grad.
            task = None

    def stop(self) -> None:
        for _ in range(self.workers):
            self.tasks.put(None)


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool(workers: int) -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.workers != workers:
            if _pool is not None:
                _pool.stop()
            _pool = _Pool(workers)
        return _pool


def _forget_pool() -> None:  # a forked child has none of the parent's threads
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


# After a threaded call OpenBLAS's threads spin for more work for about 2**28 cycles (its
# THREAD_TIMEOUT, ~0.1 s) on the other cores; a slice handed to a thread there runs at half
# speed beside them and holds up the op (W10b: 12.4 ms on one thread, 13.4 on two).
BLAS_SPIN_S = 0.1
_blas_spins_until = 0.0


def blas_threaded() -> None:
    """Notes a BLAS call large enough for BLAS's own threads (ndgrad's 2-D products)."""
    global _blas_spins_until
    _blas_spins_until = time.perf_counter() + BLAS_SPIN_S


def chunks_for(n: int, cost: float) -> int:
    """How many slices ``n`` items of ``cost`` nanoseconds each are worth: 1 when one
    thread is set, when nested in a slice, when the work is too small to share, or while
    BLAS's threads are spinning after a threaded product."""
    threads = _num_threads
    if threads <= 1 or n <= 1 or getattr(_local, "busy", False):
        return 1
    if _blas_spins_until and time.perf_counter() < _blas_spins_until:
        return 1
    return max(1, min(threads, n, int(n * cost // max(GRAIN_NS, 1e-9))))


class _Task:
    """One parallel_for call: pieces claimed in turn by the caller and the woken workers.

    Claiming (not a fixed piece per thread) keeps a thread that the OS runs late, on a busy
    machine or beside BLAS's spinning threads, from holding everyone up: whoever is free
    takes the next piece, and the caller waits only for pieces others have claimed.
    """

    def __init__(self, fn: Callable[[int, int], Any], bounds: list) -> None:
        self.fn, self.bounds = fn, bounds
        self.pieces = len(bounds) - 1
        self.claim = itertools.count()  # next() is atomic under the GIL
        self.done: SimpleQueue = SimpleQueue()  # one entry per piece a worker claimed
        self.failed = False  # the caller failed: the rest is skipped

    def work(self) -> None:
        """A worker's part: each claimed piece is reported (None, or its exception)."""
        while (i := next(self.claim)) < self.pieces:
            if self.failed:
                self.done.put(None)
                continue
            try:
                self.fn(self.bounds[i], self.bounds[i + 1])
            except BaseException as e:  # the caller raises it
                self.done.put(e)
            else:
                self.done.put(None)

    def join(self) -> None:
        """The caller's part: run pieces, then wait for those the workers claimed."""
        ran = 0
        try:
            while (i := next(self.claim)) < self.pieces:
                self.fn(self.bounds[i], self.bounds[i + 1])
                ran += 1
        except BaseException:
            self.failed = True
            claimed = min(next(self.claim), self.pieces) - ran - 1
            for _ in range(claimed):
                self.done.get()
            raise
        errors = [self.done.get() for _ in range(self.pieces - ran)]
        for e in errors:
            if e is not None:
                raise e


def parallel_for(n: int, cost: float, fn: Callable[[int, int], Any]) -> None:
    """Calls ``fn(begin, end)`` on consecutive slices covering ``range(n)``, on up to
    ``get_num_threads()`` threads (the caller takes part); ``cost`` is the rough time of one
    item in nanoseconds. Slices must write disjoint parts of their output."""
    parts = chunks_for(n, cost)
    if parts == 1:
        fn(0, n)
        return
    pieces = min(n, PIECES_PER_THREAD * parts)
    bounds = [n * i // pieces for i in range(pieces + 1)]
    pool = _get_pool(parts - 1)
    task = _Task(fn, bounds)
    for _ in range(parts - 1):
        pool.tasks.put(task)
    _local.busy = True
    try:
        task.join()
    finally:
        _local.busy = False


def batch_axis(shape: tuple) -> int:
    """The batch axis to split: the longest (the first of equals)."""
    return max(range(len(shape)), key=lambda i: (shape[i], -i))


def _batch_shape(arrays: tuple, core: int) -> tuple | None:
    shapes = [a.shape[: max(0, a.ndim - core)] for a in arrays if a is not None]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def split_batches(
    fn: Callable[..., tuple],
    arrays: tuple,
    core: int,
    cost: float,
    outputs: tuple | None = None,
) -> tuple:
    """``fn(*arrays)``, computed on slices of the arrays' broadcast batch dims (all but the
    last ``core`` dims of each; None passes through) in parallel. ``fn`` returns a tuple of
    arrays (or None) led by those batch dims; ``cost`` is the rough time of one batch item
    in nanoseconds. The first slice to finish allocates the outputs; each writes its part.
    With ``outputs`` (``(trailing shape, dtype)`` per result) the outputs are allocated
    first and ``fn`` is called with ``out=``, its slices of them, to fill (no copies)."""
    batch = _batch_shape(arrays, core)
    if not batch:
        return fn(*arrays)
    ax = batch_axis(batch)
    length = batch[ax]
    item = cost * math.prod(batch) / max(length, 1)
    if chunks_for(length, item) == 1:
        return fn(*arrays)
    views = [
        None if a is None else np.broadcast_to(a, batch + a.shape[a.ndim - core :]) for a in arrays
    ]
    outs: list = []
    if outputs is not None:
        outs = [np.empty(batch + tuple(shape), dtype) for shape, dtype in outputs]
    lock = threading.Lock()

    # One call per thread: smaller blocks (for the cache) lost more to the GIL between
    # their NumPy calls than they gained (W10a: 3.5 ms whole, 4.1 ms in 300 us blocks).
    def part(begin: int, end: int) -> None:
        key = (slice(None),) * ax + (slice(begin, end),)
        args = (None if a is None else a[key] for a in views)
        if outputs is not None:
            fn(*args, out=tuple(o[key] for o in outs))
            return
        results = fn(*args)
        with lock:
            if not outs:
                outs.extend(
                    None if r is None else np.empty(batch + r.shape[len(batch) :], r.dtype)
                    for r in results
                )
        for o, r in zip(outs, results, strict=True):
            if o is not None:
                o[key] = r

    parallel_for(length, item, part)
    results = tuple(outs)
    outs.clear()  # ``part`` may outlive this call (a worker's last task): it keeps no output
    return results


# OpenBLAS runs a product of at most this many multiply-adds on one thread (interface/gemm.c:
# SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD); larger ones it threads itself.
_BLAS_ONE_THREAD = 65536 * 4
# Rough nanoseconds per multiply-add of one core, by dtype kind and size (BLAS for floats).
_NS_PER_MAC = {("f", 4): 0.025, ("f", 8): 0.05, ("c", 8): 0.1, ("c", 16): 0.2}


def matmul(a: Any, b: Any, out: Any = None) -> Any:
    """``np.matmul(a, b)``; a stack of small products is split along its batch dims across
    the intra-op threads (the same per-matrix products: bit-identical results)."""
    if a.ndim == 2 and b.ndim == 2:
        if a.shape[0] * a.shape[1] * b.shape[1] > _BLAS_ONE_THREAD:
            blas_threaded()
    elif a.ndim > 2 or b.ndim > 2:
        if a.ndim >= 2 and b.ndim >= 2 and type(a) is np.ndarray and type(b) is np.ndarray:
            m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
            if m * k * n <= _BLAS_ONE_THREAD and k == b.shape[-2]:
                per = _NS_PER_MAC.get((a.dtype.kind, a.dtype.itemsize), 1.0) * m * k * n
                batch = _batch_shape((a, b), 2)
                if batch and _threads_for(batch, per) > 1:
                    return _split_matmul(a, b, batch, per, out)
    return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)


def _threads_for(batch: tuple, per: float) -> int:
    length = batch[batch_axis(batch)]
    return chunks_for(length, per * math.prod(batch) / length)


def _split_matmul(a: Any, b: Any, batch: tuple, per: float, out: Any) -> Any:
    m, n = a.shape[-2], b.shape[-1]
    if out is None:
        out = np.empty(batch + (m, n), np.result_type(a.dtype, b.dtype))
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    ax = batch_axis(batch)
    length = batch[ax]

    def part(begin: int, end: int) -> None:
        key = (slice(None),) * ax + (slice(begin, end),)
        np.matmul(a[key], b[key], out=out[key])

    parallel_for(length, per * math.prod(batch) / length, part)
    return out
