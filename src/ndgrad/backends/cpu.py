"""``torch.backends.cpu``."""

import numpy as _np


def get_cpu_capability() -> str:
    """The best SIMD extension NumPy's kernels use here (PyTorch's names)."""
    found = getattr(_np._core._multiarray_umath, "__cpu_features__", {})
    if found.get("AVX512F"):
        return "AVX512"
    return "AVX2" if found.get("AVX2") else "DEFAULT"
