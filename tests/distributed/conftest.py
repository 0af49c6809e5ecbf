"""Helpers of the distributed tests: jobs of 2 ranks started by ``ndgrad run --nproc-per-node``,
each with a hard timeout after which its whole process group (mpiexec, the ranks) is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import ndgrad

SRC = str(Path(ndgrad.__file__).resolve().parents[1])
PROGRAMS = Path(__file__).resolve().parent / "programs"

needs_mpi = pytest.mark.skipif(
    not ndgrad.distributed.is_available(),
    reason="mpi4py and an MPI library are not installed (pip install 'ndgrad[distributed]')",
)


def start(*args: str, **env: str) -> subprocess.Popen:
    """``ndgrad ARGS`` in a new session (so that a timeout can kill every process it started)."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([SRC, *filter(None, [environ.get("PYTHONPATH")])])
    environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg", **env)
    return subprocess.Popen(
        [sys.executable, "-m", "ndgrad", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=environ, start_new_session=True,
    )  # fmt: skip


def finish(process: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    """(exit status, stdout, stderr); the job is killed and the test fails past ``timeout``."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"the job hung for {timeout} s:\n{out}\n{err}")
    return process.returncode, out, err


def launch(program: str, *args: str, timeout: float = 60, nproc: int = 2, **env: str):
    job = start("run", "--nproc-per-node", str(nproc), str(PROGRAMS / program), *args, **env)
    return finish(job, timeout)
