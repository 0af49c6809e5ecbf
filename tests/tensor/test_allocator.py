"""glibc malloc settings: temporaries of a few MB reuse warm memory instead of faulting."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ndgrad import _allocator

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _allocator.tuned, reason="glibc only"
)


@glibc
def test_repeated_temporaries_do_not_fault() -> None:
    """In a fresh interpreter: what other tests did to this process's heap does not count."""
    code = textwrap.dedent(
        """
        import resource
        import numpy as np
        import ndgrad  # noqa: F401 - the malloc settings, on import

        x = np.ones((64, 4, 50, 50), np.float32)  # 2.5 MB, as attention's scores

        def step():
            y = x * 2
            z = y + 1
            del y, z

        step()  # the heap grows once
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            step()
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    env.pop("NDGRAD_MALLOC_TUNING", None)
    src = str(Path(_allocator.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < 200  # untuned: ~640 pages a temporary, ~25000 here


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
