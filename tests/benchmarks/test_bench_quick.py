"""The benchmark suite's smoke run: it must run, print its table and agree on losses.

Times are never asserted here (CI machines are noisy); ``make bench`` judges them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:  # `pytest` (not `python -m pytest`) leaves the repo root off the path
    sys.path.insert(0, REPO)

from benchmarks.workloads import WORKLOADS, functional_api_available  # noqa: E402

import ndgrad  # noqa: E402
from benchmarks import run as bench  # noqa: E402


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = bench.main(["--quick", "--out", str(out)])
    return code, buffer.getvalue(), json.loads(Path(out).read_text())


def test_quick_run_prints_the_table(quick_run: tuple[int, str, dict]) -> None:
    code, printed, _ = quick_run
    assert code == 0, printed
    header = next(line for line in printed.splitlines() if line.startswith("workload"))
    for column in ("ndgrad", "PyTorch", "NumPy", "nd/PT", "nd/NP", "target", "loss ndgrad"):
        assert column in header
    keys = [w.key for w in WORKLOADS if not w.key.startswith("W5") or functional_api_available()]
    for key in [*keys, "W6", "W7m"]:
        assert any(line.startswith(key + " ") for line in printed.splitlines()), key
    if not functional_api_available():
        assert "W5a skipped: ndgrad.autograd.functional has not landed yet" in printed


def test_quick_run_engines_agree_on_final_losses(quick_run: tuple[int, str, dict]) -> None:
    _, _, results = quick_run
    for row in results["workloads"]:
        losses = row["losses"]
        assert set(losses) == set(row["medians"]), row["key"]
        ref = losses.get("numpy", losses.get("pytorch"))  # W8 has no NumPy engine
        for engine, loss in losses.items():
            assert loss == pytest.approx(ref, rel=bench.LOSS_RTOL, abs=1e-6), (row["key"], engine)
        assert row["losses_agree"], row["key"]


def test_quick_run_reports_ratios_of_medians(quick_run: tuple[int, str, dict]) -> None:
    _, _, results = quick_run
    for row in results["workloads"]:
        for other, ratio in row["ratios"].items():
            assert ratio == pytest.approx(row["medians"]["ndgrad"] / row["medians"][other])


def test_losses_agree_flags_a_disagreement() -> None:
    assert bench.losses_agree({"ndgrad": 1.0, "pytorch": 1.0000001, "numpy": 1.0})
    assert not bench.losses_agree({"ndgrad": 1.1, "pytorch": 1.0, "numpy": 1.0})


def test_target_status_reads_the_issue_targets() -> None:
    row = {"key": "W3", "ratios": {"numpy": 1.1, "pytorch": 1.2}}
    assert bench.target_status(row) == "<=1.15xNP met, <=1xPT MISSED"


def test_blas_bound_workloads_also_run_single_threaded(quick_run: tuple[int, str, dict]) -> None:
    import torch

    _, printed, results = quick_run
    keys = [row["key"] for row in results["workloads"]]
    for key in bench.BLAS_BOUND:
        assert keys.index(key + bench.SINGLE_THREAD_SUFFIX) == keys.index(key) + 1
        assert any(line.startswith(key + "/1t ") for line in printed.splitlines())
    row = {"key": "W3/1t", "ratios": {"numpy": 1.1, "pytorch": 0.9}}
    assert bench.target_status(row) == "<=1.15xNP met, <=1xPT met"
    before, before_nd = torch.get_num_threads(), ndgrad.get_num_threads()
    with bench.single_thread():
        assert torch.get_num_threads() == 1
        assert ndgrad.get_num_threads() == 1
    assert torch.get_num_threads() == before
    assert ndgrad.get_num_threads() == before_nd
