"""The array-library seam: ops ask a tensor's backend for array functions.

NumPy backs the ``cpu`` device today; a library with NumPy's API (CuPy) can back
``cuda`` later by registering another :class:`Backend`.
"""

from __future__ import annotations

from types import ModuleType

import numpy


class device:  # noqa: N801 - mirrors torch.device
    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        if ":" in type:
            type, _, idx = type.partition(":")
            index = int(idx)
        if type not in _BACKENDS:
            raise RuntimeError(
                f"Expected one of {', '.join(_BACKENDS)} device type at start of device string: "
                f"{type} (ndgrad has no backend for '{type}' on this machine)"
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


class Backend:
    """An array library with NumPy's API, bound to one device type."""

    __slots__ = ("device_type", "xp")

    def __init__(self, device_type: str, xp: ModuleType) -> None:
        self.device_type = device_type
        self.xp = xp


_BACKENDS: dict[str, Backend] = {"cpu": Backend("cpu", numpy)}
CPU = device("cpu")


def backend_for(dev: device) -> Backend:
    return _BACKENDS[dev.type]


def register_backend(device_type: str, xp: ModuleType) -> None:
    _BACKENDS[device_type] = Backend(device_type, xp)
