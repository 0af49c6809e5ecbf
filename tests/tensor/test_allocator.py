"""glibc malloc settings: temporaries of a few MB reuse warm memory instead of faulting."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from ndgrad import _allocator

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _allocator.tuned, reason="glibc only"
)


@glibc
def test_repeated_temporaries_do_not_fault() -> None:
    resource = pytest.importorskip("resource")
    x = np.ones((64, 4, 50, 50), np.float32)  # 2.5 MB, as attention's scores

    def step() -> None:
        y = x * 2
        z = y + 1
        del y, z

    step()  # the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 200  # untuned: ~640 pages a temporary, ~25000 here


def test_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NDGRAD_MALLOC_TUNING", "0")
    assert _allocator.tune() is False


@pytest.mark.parametrize(
    "name, value",
    [("MALLOC_MMAP_THRESHOLD_", "65536"), ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0")],
)
def test_environment_settings_win(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    assert _allocator.tune() is False
