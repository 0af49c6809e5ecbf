"""``ndgrad.cuda`` (``torch.cuda`` under the alias): reports no GPU.

NumPy backs the CPU only for now, so code that asks ``torch.cuda.is_available()`` takes its
CPU branch; the seeding calls are accepted and do nothing, as PyTorch's do without a GPU.
"""

from __future__ import annotations


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    pass


def manual_seed_all(seed: int) -> None:
    pass


def synchronize(device: object = None) -> None:
    pass


def empty_cache() -> None:
    pass


def _no_gpu(name: str) -> None:
    raise RuntimeError(
        f"torch.cuda.{name}: no CUDA GPUs are available (ndgrad computes on the CPU with NumPy)"
    )


def current_device() -> int:
    _no_gpu("current_device")
    return 0  # unreachable


def get_device_name(device: object = None) -> str:
    _no_gpu("get_device_name")
    return ""  # unreachable


def set_device(device: object) -> None:
    _no_gpu("set_device")
