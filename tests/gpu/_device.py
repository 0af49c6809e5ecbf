"""Which ``cuda`` the device tests run on, and how closely it must match the CPU."""

from __future__ import annotations

import os
from typing import Any

import ndgrad

# ``make test-gpu`` sets NDGRAD_TEST_CUDA=real: CuPy on the GPU; otherwise the fake CuPy.
REAL = os.environ.get("NDGRAD_TEST_CUDA") == "real"
# The fake computes with the same NumPy as the CPU: equal to rounding. A GPU sums in another
# order (cuBLAS, CuPy's reductions): float64 agrees to about 1e-12 relative, not bit for bit.
TOL = {"rtol": 1e-7, "atol": 1e-9} if REAL else {"rtol": 1e-10, "atol": 1e-12}


class OnDevice:
    """``ndgrad`` whose creation functions (the names in ``creation``) default to ``device``:
    the op tables build their constants there."""

    def __init__(self, device: str, creation: set[str]) -> None:
        self.device, self.creation = device, creation

    def __getattr__(self, name: str) -> Any:
        fn = getattr(ndgrad, name)
        if name not in self.creation:
            return fn

        def on_device(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("device", self.device)
            return fn(*args, **kwargs)

        return on_device
