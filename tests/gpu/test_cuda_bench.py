"""``benchmarks.run --device cuda``: the GPU workloads' code paths, run on the ``cuda`` fixture.

Without a GPU for PyTorch the command skips with a message; the ndgrad engine's W3/W7/W9 run
on the fake CuPy and reach the CPU engines' losses.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from benchmarks.workloads import WORKLOADS  # noqa: E402

from benchmarks import run as bench  # noqa: E402


def test_device_cuda_skips_with_a_message_without_a_gpu(tmp_path: Path) -> None:
    import torch

    import ndgrad

    if ndgrad.cuda.is_available() and torch.cuda.is_available():
        pytest.skip("a GPU is here: the real run is make bench-gpu's job")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = bench.main(["--quick", "--device", "cuda", "--out", str(tmp_path / "r.json")])
    assert code == 0
    assert "--device cuda skipped:" in out.getvalue()
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("key", bench.GPU_WORKLOADS)
def test_gpu_workloads_run_ndgrad_on_cuda(cuda: Any, key: str) -> None:
    workload = next(w for w in WORKLOADS if w.key == key)
    on_gpu = bench.time_workload(workload, True, 1, "concise", device="cuda", engines=("ndgrad",))
    on_cpu = bench.time_workload(workload, True, 1, "concise", engines=("ndgrad",))
    assert set(on_gpu["losses"]) == {"ndgrad"}
    assert on_gpu["losses"]["ndgrad"] == pytest.approx(on_cpu["losses"]["ndgrad"], rel=1e-4)
    row = dict(on_gpu, device="Fake CUDA GPU", ratios={"pytorch": 1.2})
    assert bench.target_status(row) in ("", "<=1.5xPT met")
