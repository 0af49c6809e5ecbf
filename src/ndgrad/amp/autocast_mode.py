"""``torch.autocast``: a context manager (and decorator) that records the autocast state."""

from __future__ import annotations

import functools
import warnings
from typing import Any

from ndgrad import _dtype

_STATE: dict[str, list] = {"cpu": [False, None], "cuda": [False, None]}
_DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}


def is_autocast_available(device_type: str) -> bool:
    return device_type in ("cpu", "cuda")


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("ndgrad.", "torch.")


class autocast:  # noqa: N801 - PyTorch's name
    """``with torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``.

    ndgrad keeps every op in its inputs' dtype inside the region (it has no reduced-precision
    kernels): a CUDA region on a machine without CUDA, or a CPU region with an unsupported
    dtype, is disabled with PyTorch's warning; an enabled CPU region warns once that it runs
    in full precision."""

    def __init__(
        self,
        device_type: str,
        dtype: Any = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(
                f"User specified an unsupported autocast device_type '{device_type}'"
            )
        self.device = device_type
        self.fast_dtype = (
            dtype if dtype is not None else getattr(_dtype, _DEFAULT_DTYPE[device_type], None)
        )
        self._enabled = bool(enabled)
        self._cache_enabled = True if cache_enabled is None else cache_enabled
        if not self._enabled:
            return
        if device_type == "cuda":
            from ndgrad import cuda

            if not cuda.is_available():
                warnings.warn(
                    "CUDA is not available or torch_xla is imported. Disabling autocast.",
                    stacklevel=2,
                )
                self._enabled = False
        elif dtype is not None and _dtype_name(dtype) not in ("torch.bfloat16", "torch.float16"):
            warnings.warn(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                stacklevel=2,
            )
            self._enabled = False
        if self._enabled:
            warnings.warn(
                "ndgrad has no reduced-precision kernels: this autocast region computes in "
                "the tensors' own dtype (results match PyTorch's full-precision numbers, not "
                "its autocast ones)",
                stacklevel=2,
            )

    def __enter__(self) -> autocast:
        self._previous = list(_STATE[self.device])
        _STATE[self.device][:] = [self._enabled, self.fast_dtype]
        return self

    def __exit__(self, *exc: Any) -> None:
        _STATE[self.device][:] = self._previous

    def __call__(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper


def is_autocast_enabled(device_type: str | None = None) -> bool:
    return bool(_STATE["cuda" if device_type is None else device_type][0])


def get_autocast_dtype(device_type: str) -> Any:
    dtype = _STATE[device_type][1]
    return dtype if dtype is not None else getattr(_dtype, _DEFAULT_DTYPE[device_type], None)
