"""Runs the workloads on ndgrad, PyTorch and hand-written NumPy and prints the table.

    python -m benchmarks.run            # the full suite (make bench)
    python -m benchmarks.run --quick    # tiny sizes, one repeat: a smoke run (make bench-quick)

All engines run in this one process, alternating (the order rotates every repeat), after a
warm-up run each; the table shows medians, the ratios ndgrad/PyTorch and ndgrad/NumPy, the
targets of issue 7 and each engine's final loss. PyTorch and NumPy's BLAS keep their default
thread counts; the BLAS-bound workloads (W2, W3) run a second time with one thread for every
engine (rows ``W2/1t``, ``W3/1t``), where the matrix products cost the same for all three and
the ratios show the frameworks' own overhead. Results also go to ``benchmarks/results.json``
(or ``--out``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.workloads import (
    ENGINES,
    MEMORY_ENGINES,
    TRACE_COST,
    WORKLOADS,
    Workload,
    classification_data,
    concise_api_available,
    functional_api_available,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
REPO = Path(__file__).resolve().parent.parent

# Issue 7's targets: (ratio column, bound) pairs that must all hold.
TARGETS: dict[str, list[tuple[str, float]]] = {
    "W1": [("pytorch", 0.35)],
    "W2": [("numpy", 1.2)],
    "W3": [("numpy", 1.15), ("pytorch", 1.0)],
    "W4": [("numpy", 2.0)],
    # Issue 16's targets (ndgrad.compile).
    "W1c": [("numpy", 1.25)],
    "W4c": [("numpy", 1.3)],
    "W2c": [("eager", 1.0)],  # compiled no slower than eager ndgrad
    "W3c": [("eager", 1.0)],
    "W6": [("numpy", 1.3)],
    # Issue 11's targets.
    "W7": [("pytorch", 1.0)],
    "W8": [("pytorch", 1.2)],
    "W7m": [("pytorch", 1.5)],
    # Issue 12's targets.
    "W9": [("pytorch", 1.3)],
    "W10a": [("pytorch", 0.6)],
    "W10b": [("pytorch", 0.6)],
}
ENGINE_LABELS = {"ndgrad": "ndgrad", "pytorch": "PyTorch", "numpy": "NumPy"}
SHORT = {"pytorch": "PT", "numpy": "NP", "eager": " eager ndgrad"}
LOSS_RTOL = 1e-3
# Workloads whose time is mostly BLAS: also timed with one thread for every engine.
BLAS_BOUND = ("W2", "W3", "W7", "W9", "W10a", "W10b")
SINGLE_THREAD_SUFFIX = "/1t"


def losses_agree(losses: dict[str, float]) -> bool:
    values = list(losses.values())
    ref = values[0]
    return all(abs(v - ref) <= LOSS_RTOL * max(abs(ref), 1e-3) for v in values[1:])


@contextmanager
def single_thread() -> Iterator[None]:
    """One thread for PyTorch, for ndgrad's intra-op pool and for every BLAS/OpenMP pool in
    the process (threadpoolctl)."""
    import torch

    import ndgrad

    # Read before threadpoolctl limits anything: its limits apply when it is created, and
    # they include PyTorch's OpenMP pool, whose size get_num_threads() reports.
    previous = torch.get_num_threads()
    previous_nd = ndgrad.get_num_threads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn; without it NumPy's BLAS keeps its threads
        limiter: Any = nullcontext()
    else:
        limiter = threadpool_limits(limits=1)
    torch.set_num_threads(1)
    try:
        with limiter:  # restores BLAS's own thread counts on leaving
            ndgrad.set_num_threads(1)
            try:
                yield
            finally:
                ndgrad.set_num_threads(previous_nd)
    finally:
        torch.set_num_threads(previous)


def _time_once(run: Any) -> tuple[float, float]:
    gc.collect()
    start = time.perf_counter()
    loss = run()
    return time.perf_counter() - start, loss


# ``--device cuda``: the GPU workloads of issue 17 (ndgrad+CuPy against PyTorch CUDA eager).
GPU_WORKLOADS = ("W3", "W7", "W9")
GPU_TARGETS: dict[str, list[tuple[str, float]]] = {
    "W3": [("pytorch", 1.5)],
    "W7": [("pytorch", 1.5)],
}


def time_workload(
    workload: Workload,
    quick: bool,
    repeats: int,
    form: str,
    device: str = "cpu",
    engines: Sequence[str] | None = None,
) -> dict:
    data = workload.make_data(quick)
    data["form"] = form
    data["device"] = device
    if engines is None:  # NumPy (and eager ndgrad beside a compiled row) only on the CPU
        engines = tuple(workload.engines) if device == "cpu" else ("ndgrad", "pytorch")
    runs = {name: prepare(data) for name, prepare in workload.engines.items() if name in engines}
    scale = (1e3 if workload.unit == "ms" else 1e6) / workload.steps(data)
    if not quick:
        for run in runs.values():
            run()  # warm-up: imports, caches, BLAS threads
    samples: dict[str, list[float]] = {name: [] for name in runs}
    losses: dict[str, float] = {}
    order = list(runs)
    for r in range(repeats):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            seconds, loss = _time_once(runs[name])
            samples[name].append(seconds * scale)
            losses[name] = loss
    medians = {name: statistics.median(s) for name, s in samples.items()}
    return {
        "key": workload.key,
        "title": workload.title,
        "unit": workload.unit if workload.unit == "ms" else "us/step",
        "medians": medians,
        "samples": samples,
        "ratios": {
            o: medians["ndgrad"] / medians[o] for o in ("pytorch", "numpy", "eager") if o in medians
        },
        "losses": losses,
        "losses_agree": losses_agree(losses),
    }


def measure_memory(quick: bool, form: str) -> dict:
    """W6: peak traced allocation during one W3 epoch (tracemalloc sees NumPy buffers)."""
    data = classification_data(quick)
    data["form"] = form
    runs = {name: prepare(data) for name, prepare in MEMORY_ENGINES.items()}
    peaks: dict[str, float] = {}
    losses: dict[str, float] = {}
    for name, run in runs.items():
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        losses[name] = run()
        peaks[name] = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
    return {
        "key": "W6",
        "title": "peak memory of one W3 epoch (tracemalloc)",
        "unit": "MiB",
        "medians": peaks,
        "ratios": {"numpy": peaks["ndgrad"] / peaks["numpy"]},
        "losses": losses,
        "losses_agree": losses_agree(losses),
    }


def measure_step_memory(quick: bool) -> dict:
    """W7m: peak resident memory one W7 (LeNet) step adds, each engine in a fresh process.

    PyTorch's CPU allocator bypasses tracemalloc, so W6's tool cannot see it; both engines are
    measured with the kernel's peak-RSS mark instead (see ``benchmarks/memstep.py``).
    """
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    peaks: dict[str, float] = {}
    losses: dict[str, float] = {}
    for name in ENGINES:
        cmd = [sys.executable, "-m", "benchmarks.memstep", name, *(["--quick"] if quick else [])]
        out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=True)
        peak, loss = out.stdout.split()[-2:]
        if int(peak) < 0:  # no /proc/self/clear_refs: nothing to report
            continue
        peaks[name], losses[name] = int(peak) / 2**20, float(loss)
    return {
        "key": "W7m",
        "title": "peak resident memory one W7 step (batch 256) adds, fresh process each (RSS)",
        "unit": "MiB",
        "medians": peaks,
        "ratios": {o: peaks["ndgrad"] / peaks[o] for o in ("pytorch", "numpy") if o in peaks},
        "losses": losses,
        "losses_agree": losses_agree(losses),
    }


def target_status(row: dict) -> str:
    key = row["key"].removesuffix(SINGLE_THREAD_SUFFIX)
    targets = GPU_TARGETS.get(key) if row.get("device", "cpu") != "cpu" else TARGETS.get(key)
    if not targets:
        return ""
    parts = []
    for other, bound in targets:
        ok = row["ratios"].get(other, float("inf")) <= bound
        parts.append(f"<={bound:g}x{SHORT[other]} {'met' if ok else 'MISSED'}")
    return ", ".join(parts)


def _fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f} {unit}"
    if value >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def format_table(rows: list[dict]) -> str:
    header = [
        "workload", "ndgrad", "PyTorch", "NumPy", "nd/PT", "nd/NP", "target",
        "loss ndgrad", "loss PyTorch", "loss NumPy", "losses",
    ]  # fmt: skip
    lines = [header]
    for row in rows:
        unit = row["unit"]
        med, ratios, losses = row["medians"], row["ratios"], row["losses"]
        lines.append([
            row["key"],
            *(_fmt_value(med.get(e), unit) for e in ENGINES),
            *(f"{ratios[o]:.2f}" if o in ratios else "-" for o in ("pytorch", "numpy")),
            target_status(row),
            *(f"{losses[e]:.6g}" if e in losses else "-" for e in ENGINES),
            "agree" if row["losses_agree"] else "DISAGREE",
        ])  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for j, line in enumerate(lines):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def environment() -> dict:
    import torch

    import ndgrad

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "ndgrad": ndgrad.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat, no warm-up")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per engine (5)")
    parser.add_argument("--only", default=None, help="comma-separated keys, e.g. W1,W3,W6")
    parser.add_argument(
        "--form",
        choices=("auto", "concise", "scratch"),
        default="auto",
        help="W2/W3 as d2l's concise nn/optim/DataLoader code or from scratch "
        "(auto: concise once ndgrad has nn, optim and DataLoader)",
    )
    parser.add_argument(
        "--no-single-thread",
        action="store_true",
        help=f"skip the second, one-thread run of {', '.join(BLAS_BOUND)}",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help=f"cuda: {', '.join(GPU_WORKLOADS)} on ndgrad+CuPy against PyTorch CUDA (skipped "
        "with a message without a GPU for both)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    return parser.parse_args(argv)


def gpu_unavailable() -> str | None:
    """Why ``--device cuda`` cannot run here (None when ndgrad and PyTorch both see a GPU)."""
    import torch

    import ndgrad

    if not ndgrad.cuda.is_available():
        return 'ndgrad has no cuda device (install CuPy: pip install "ndgrad[cuda12]")'
    if not torch.cuda.is_available():
        return f"PyTorch {torch.__version__} has no CUDA device (a CPU build, or no GPU)"
    return None


def main_gpu(args: argparse.Namespace, repeats: int, form: str) -> int:
    """The GPU table: ndgrad+CuPy against PyTorch CUDA eager on W3, W7, W9."""
    reason = gpu_unavailable()
    if reason is not None:
        print(f"--device cuda skipped: {reason}")
        return 0
    import torch

    import ndgrad

    env = environment()
    env["device"] = torch.cuda.get_device_name(0)
    env["cupy"] = ndgrad.cuda._xp().__version__
    print(f"GPU {env['device']} | ndgrad {env['ndgrad']} + CuPy {env['cupy']} | "
          f"PyTorch {env['torch']} (CUDA {torch.version.cuda}) | {repeats} timed repeat(s)\n")  # fmt: skip
    only = {k.strip().upper() for k in args.only.split(",")} if args.only else None
    rows = []
    for workload in WORKLOADS:
        if workload.key not in GPU_WORKLOADS or (only is not None and workload.key not in only):
            continue
        row = time_workload(workload, args.quick, repeats, form, device="cuda")
        row["device"] = env["device"]
        rows.append(row)
        print(f"  {workload.key} done", file=sys.stderr, flush=True)
    print(format_table(rows))
    for row in rows:
        print(f"  {row['key']}: {row['title']} (on {row['device']})")
    result = {"environment": env, "quick": args.quick, "repeats": repeats, "form": form,
              "device": "cuda", "workloads": rows}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults written to {args.out}")
    return 0 if all(row["losses_agree"] for row in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    only = {k.strip().upper() for k in args.only.split(",")} if args.only else None
    form = args.form
    if form == "auto":
        form = "concise" if concise_api_available() else "scratch"
    if args.device == "cuda":
        return main_gpu(args, repeats, form)
    env = environment()
    print(
        f"ndgrad {env['ndgrad']} | PyTorch {env['torch']} CPU, {env['torch_threads']} threads "
        f"(default) | NumPy {env['numpy']} | Python {env['python']} | {env['cpu_count']} CPUs"
    )
    print(
        f"W2/W3 written in d2l's {form} form; {repeats} timed repeat(s) per engine"
        f"{'' if args.quick else ' after one warm-up'}; medians shown.\n"
    )
    rows: list[dict] = []
    skipped: list[str] = []
    single: list[Workload] = []
    for workload in WORKLOADS:
        family = workload.key.rstrip("abcdefghijklmnopqrstuvwxyz").upper()  # W5a -> W5
        if only is not None and workload.key.upper() not in only and family not in only:
            continue
        if workload.key.startswith("W5") and not functional_api_available():
            skipped.append(f"{workload.key} skipped: ndgrad.autograd.functional has not landed yet")
            continue
        rows.append(time_workload(workload, args.quick, repeats, form))
        print(f"  {workload.key} done", file=sys.stderr, flush=True)
        if workload.key in BLAS_BOUND and not args.no_single_thread:
            single.append(workload)
    # The one-thread rows come last: PyTorch set back to its threads after
    # set_num_threads(1) ran W10a 30-80% slower in this process than before it did.
    for workload in single:
        with single_thread():
            row = time_workload(workload, args.quick, repeats, form)
        row["key"] += SINGLE_THREAD_SUFFIX
        row["title"] += ", one thread for every engine"
        at = next(i for i, r in enumerate(rows) if r["key"] == workload.key)
        rows.insert(at + 1, row)
        print(f"  {row['key']} done", file=sys.stderr, flush=True)
    if only is None or "W6" in only:
        rows.append(measure_memory(args.quick, form))
    if only is None or "W7M" in only:
        rows.append(measure_step_memory(args.quick))
    print(format_table(rows))
    for row in rows:
        print(f"  {row['key']}: {row['title']}")
    for row in rows:
        if "eager" in row["medians"]:
            eager, ratio = row["medians"]["eager"], row["ratios"]["eager"]
            print(f"  {row['key']}: eager ndgrad {_fmt_value(eager, row['unit'])}, compiled/eager"
                  f" {ratio:.2f}")  # fmt: skip
    for key, seconds in TRACE_COST.items():
        shown = ", ".join(f"{1e3 * s:.1f} ms" for s in seconds)
        print(f"  {key}: tracing cost {shown} (each trace; replays after)")
    for line in skipped:
        print(f"  {line}")
    result = {
        "environment": env,
        "quick": args.quick,
        "repeats": repeats,
        "form": form,
        "workloads": rows,
        "skipped": skipped,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults written to {args.out}")
    return 0 if all(row["losses_agree"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
