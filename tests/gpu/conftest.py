"""The ``cuda`` fixture: the fake CuPy (tests/fake_cupy.py) on the CPU, real CuPy on a GPU.

``make test-gpu`` sets ``NDGRAD_TEST_CUDA=real``: the tests then run on the GPU CuPy finds
(skipped without one); otherwise on the fake, which proves the seam on any machine.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.gpu._device import REAL

from ndgrad import _backend


@pytest.fixture(scope="module")
def cuda() -> Any:
    """The array library behind ``device="cuda"`` for the duration of a test."""
    if REAL:
        if "cuda" not in _backend._BACKENDS and not _backend.register_cupy():
            pytest.skip("NDGRAD_TEST_CUDA=real: CuPy is not installed or finds no GPU")
        yield _backend._BACKENDS["cuda"]
        return
    import fake_cupy

    previous = _backend._BACKENDS.get("cuda")
    _backend.register_backend("cuda", fake_cupy, fake_cupy.ndarray)
    try:
        yield fake_cupy
    finally:
        _backend.unregister_backend("cuda")
        if previous is not None:
            _backend.register_backend("cuda", previous, previous.ndarray)
