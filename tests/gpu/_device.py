"""Which ``cuda`` the device tests run on, and how closely it must match the CPU."""

from __future__ import annotations

import os

# ``make test-gpu`` sets NDGRAD_TEST_CUDA=real: CuPy on the GPU; otherwise the fake CuPy.
REAL = os.environ.get("NDGRAD_TEST_CUDA") == "real"
# The fake computes with the same NumPy as the CPU: equal to rounding. A GPU sums in another
# order (cuBLAS, CuPy's reductions): float64 agrees to about 1e-12 relative, not bit for bit.
TOL = {"rtol": 1e-7, "atol": 1e-9} if REAL else {"rtol": 1e-10, "atol": 1e-12}
