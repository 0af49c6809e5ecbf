"""The array-library seam: ops ask a tensor's backend for array functions.

NumPy backs the ``cpu`` device today; a library with NumPy's API (CuPy) can back
``cuda`` later through :func:`register_backend`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy


class device:  # noqa: N801 - mirrors torch.device
    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        if ":" in type:
            type, _, idx = type.partition(":")
            index = int(idx)
        # Naming a device is not using it: torch.device("cuda") works on a CPU-only build
        # (d2l prints gpu() there); tensors are only refused a device without a backend.
        if type not in DEVICE_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
                f"string: {type}"
            )
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


# torch's device types, in the order its error message lists them
DEVICE_TYPES = (
    "cpu cuda ipu xpu mkldnn opengl opencl ideep hip ve fpga maia xla lazy vulkan mps meta hpu "
    "mtia privateuseone"
).split()
# Device type -> the array library (with NumPy's API) that backs it.
_BACKENDS: dict[str, ModuleType] = {"cpu": numpy}
CPU = device("cpu")


def check_available(dev: str | device) -> device:
    """The device, if tensors can live there; torch's error for one this build lacks."""
    dev = device(dev)
    if dev.type not in _BACKENDS:
        if dev.type == "cuda":
            raise AssertionError("Torch not compiled with CUDA enabled (ndgrad runs on the CPU)")
        raise RuntimeError(f"ndgrad has no backend for device type '{dev.type}' on this machine")
    return dev


# Array type -> (array module, device). One dict lookup on an array's exact type answers
# "which library computes on this array" on the hot path; subclasses fall back to a scan.
_XP_BY_TYPE: dict[type, ModuleType] = {numpy.ndarray: numpy}
_DEVICE_BY_TYPE: dict[type, device] = {numpy.ndarray: CPU}


def register_backend(device_type: str, xp: ModuleType, array_type: type | None = None) -> None:
    """Backs ``device_type`` with ``xp``; its arrays are instances of ``array_type``."""
    _BACKENDS[device_type] = xp
    if array_type is not None:
        _XP_BY_TYPE[array_type] = xp
        _DEVICE_BY_TYPE[array_type] = device(device_type)


def unregister_backend(device_type: str) -> None:
    """Forgets a backend registered with :func:`register_backend` (the CPU stays)."""
    if device_type == "cpu":
        raise ValueError("the cpu backend cannot be unregistered")
    _BACKENDS.pop(device_type, None)
    for array_type, dev in list(_DEVICE_BY_TYPE.items()):
        if dev.type == device_type:
            del _DEVICE_BY_TYPE[array_type]
            del _XP_BY_TYPE[array_type]


def _lookup(table: dict, data: Any, default: Any) -> Any:
    # Most-derived registered type first: a subclass of ndarray beats ndarray itself.
    for array_type in reversed(table):
        if isinstance(data, array_type):
            return table[array_type]
    return default


def array_module(data: Any) -> ModuleType:
    """The array library that computes on ``data`` (NumPy for anything unregistered)."""
    xp = _XP_BY_TYPE.get(type(data))
    return xp if xp is not None else _lookup(_XP_BY_TYPE, data, numpy)


def array_device(data: Any) -> device:
    """The device an array lives on, from its type."""
    dev = _DEVICE_BY_TYPE.get(type(data))
    return dev if dev is not None else _lookup(_DEVICE_BY_TYPE, data, CPU)
