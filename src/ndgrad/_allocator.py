"""glibc malloc settings for NumPy's temporaries (PyTorch's CPU tuning guide recommends a
caching allocator for the same reason).

An op on a batch allocates temporaries of a few MB. glibc serves those with ``mmap`` (below
an adaptive threshold) and gives freed heap memory back to the system when more than a
threshold sits at the top of the heap; either way the next temporary is fresh memory, and
each of its 4 KB pages costs a page fault on first touch. Attention on 64x4x50x32 takes
about 3300 faults (~13 MB) per step that way. Fixing the mmap threshold at its maximum
(32 MB) and keeping up to 128 MB of freed memory makes those temporaries reuse warm heap
memory. Set ``NDGRAD_MALLOC_TUNING=0`` to keep glibc's defaults; settings made through the
environment (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``) win.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 128 << 20
_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def tune() -> bool:
    """Applies the settings (Linux with glibc only); True when they took effect."""
    if os.environ.get("NDGRAD_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    if any(name in os.environ for name in _ENVIRONMENT) or "glibc.malloc" in os.environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return False  # the user's (or a benchmark's) own malloc settings
    try:
        mallopt = ctypes.CDLL(None).mallopt  # absent under musl and other C libraries
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


tuned = tune()
