"""W3 (MLP) and W7 (LeNet) epoch time on 1 and 2 processes, ndgrad (MPI) and PyTorch (gloo).

    python -m benchmarks.distributed [--only W3,W7] [--repeats 3] [--quick] [--out FILE]

Every rank runs benchmarks/distributed_worker.py with one BLAS thread; 2 processes share the
global batch of 256 (128 rows each, DistributedDataParallel, DistributedSampler). The epoch
time is the median over ``--repeats`` epochs after a warm-up, rank 0's, between barriers. The
communication share is measured two ways: for ndgrad, the part of the epoch spent in DDP's
bucket all-reduces (copy in, start, wait, copy out; the wait includes waiting for the slower
rank); for both engines, one all-reduce of the whole gradient between barriers (median of 30)
times the steps of the epoch, over the epoch. PyTorch runs the same script under its own
launcher (gloo).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = str(HERE / "distributed_worker.py")


def _run(command: list[str]) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    # PyTorch's gloo ranks sometimes abort at exit (after printing): the timing still stands.
    return {**json.loads(lines[-1]), "exit_status": done.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="W3,W7")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-torch", action="store_true", help="ndgrad only")
    parser.add_argument("--procs", default="1,2", help="process counts to run, e.g. 2")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    extra = ["--quick"] if args.quick else []
    py = sys.executable
    rows = []
    for key in args.only.split(","):
        job = [key, str(args.repeats), *extra]
        engines = {
            "ndgrad": {
                1: [py, "-m", "ndgrad", "run", WORKER, *job],
                2: [py, "-m", "ndgrad", "run", "--nproc-per-node", "2", WORKER, *job],
            }
        }
        if not args.no_torch:
            engines["pytorch"] = {
                1: [py, WORKER, *job],
                2: [py, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                    WORKER, *job],
            }  # fmt: skip
        procs = {int(n) for n in args.procs.split(",")}
        for engine, commands in engines.items():
            for world, command in commands.items():
                if world not in procs:
                    continue
                row = {"engine": engine, **_run(command)}
                rows.append(row)
                share, reduce_ms = row["comm_share"], row["allreduce_ms"]
                print(f"{key} {engine:7s} {world} process(es): {row['ms']:9.1f} ms/epoch"
                      + (f", in DDP's all-reduces {100 * share:.1f}%" if share is not None else "")
                      + (f", one gradient all-reduce {reduce_ms:.2f} ms x {row['steps']} steps"
                         f" = {100 * reduce_ms * row['steps'] / row['ms']:.1f}%"
                         if reduce_ms is not None else "")
                      + f"  (epochs {row['times_ms']}, last loss {row['loss']:.4f})",
                      flush=True)  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
