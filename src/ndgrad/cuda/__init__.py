"""``ndgrad.cuda`` (``torch.cuda`` under the alias): the GPU, when CuPy backs the ``cuda`` device.

``import ndgrad`` registers CuPy as the ``cuda`` backend when it imports and finds a device
(``ndgrad._backend.register_cupy``). Without it every query answers as CPU-only PyTorch does:
``is_available()`` is False, ``device_count()`` 0, the seeding and cache calls do nothing,
and the calls that need a device raise torch's error with the install command.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ndgrad import _backend


def _xp() -> Any:
    return _backend._BACKENDS.get("cuda")


def _need(name: str) -> Any:
    xp = _xp()
    if xp is None:
        raise AssertionError(f"torch.cuda.{name}(): {_backend.NO_CUDA}")
    return xp


def is_available() -> bool:
    return _xp() is not None


def device_count() -> int:
    return _backend.device_count()


def is_initialized() -> bool:
    return _xp() is not None


def _index(device: Any) -> int:
    """A device argument (None, int, 'cuda:1', torch.device) as a device number."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    dev = _backend.device(device)
    return current_device() if dev.index is None else dev.index


def current_device() -> int:
    return int(_need("current_device").cuda.runtime.getDevice())


def set_device(device: Any) -> None:
    xp = _need("set_device")
    index = _index(device)
    if index != 0:
        # tensors report cuda:0 (_backend registers one device): refuse rather than mislabel
        raise RuntimeError(
            f"torch.cuda.set_device({index}): ndgrad computes on CUDA device 0 only "
            f"({device_count()} device(s) found)"
        )
    xp.cuda.Device(index).use()


def get_device_name(device: Any = None) -> str:
    xp = _need("get_device_name")
    name = xp.cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


class _DeviceProperties(NamedTuple):
    name: str
    major: int
    minor: int
    total_memory: int
    multi_processor_count: int


def get_device_properties(device: Any = None) -> _DeviceProperties:
    props = _need("get_device_properties").cuda.runtime.getDeviceProperties(_index(device))
    name = props["name"]
    return _DeviceProperties(
        name.decode() if isinstance(name, bytes) else str(name),
        int(props.get("major", 0)),
        int(props.get("minor", 0)),
        int(props.get("totalGlobalMem", 0)),
        int(props.get("multiProcessorCount", 0)),
    )


def get_device_capability(device: Any = None) -> tuple[int, int]:
    props = _need("get_device_capability").cuda.runtime.getDeviceProperties(_index(device))
    return int(props["major"]), int(props["minor"])


def synchronize(device: Any = None) -> None:
    xp = _xp()
    if xp is not None:
        xp.cuda.Device(_index(device)).synchronize()


def manual_seed(seed: int) -> None:
    """Seeds the CUDA generator (nothing without a GPU, as in CPU-only PyTorch)."""
    if _xp() is not None:
        from ndgrad import _creation

        _creation.device_generator(_backend.device("cuda")).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    manual_seed(seed)


def initial_seed() -> int:
    from ndgrad import _creation

    return _creation.device_generator(_backend.device("cuda")).initial_seed()


def empty_cache() -> None:
    xp = _xp()
    if xp is not None:
        xp.get_default_memory_pool().free_all_blocks()


# The memory counters: CuPy's default pool, which holds every device array ndgrad allocates.
_peak = [0]


def memory_allocated(device: Any = None) -> int:
    xp = _xp()
    if xp is None:
        return 0
    used = int(xp.get_default_memory_pool().used_bytes())
    _peak[0] = max(_peak[0], used)
    return used


def max_memory_allocated(device: Any = None) -> int:
    """The largest ``memory_allocated`` seen since the last reset (sampled at each query)."""
    return max(_peak[0], memory_allocated(device))


def memory_reserved(device: Any = None) -> int:
    xp = _xp()
    return 0 if xp is None else int(xp.get_default_memory_pool().total_bytes())


def reset_peak_memory_stats(device: Any = None) -> None:
    _peak[0] = 0
    memory_allocated(device)


def mem_get_info(device: Any = None) -> tuple[int, int]:
    free, total = _need("mem_get_info").cuda.runtime.memGetInfo()
    return int(free), int(total)


class Event:
    """``torch.cuda.Event``: ``record()`` marks the stream, ``elapsed_time`` in milliseconds."""

    def __init__(
        self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False
    ) -> None:
        xp = _need("Event")
        self.enable_timing = enable_timing
        self._event = xp.cuda.Event(block=blocking, disable_timing=not enable_timing)
        self._recorded = False

    def record(self, stream: Any = None) -> None:
        self._event.record()
        self._recorded = True

    def synchronize(self) -> None:
        self._event.synchronize()

    def wait(self, stream: Any = None) -> None:
        self._event.synchronize()

    def query(self) -> bool:
        return bool(self._event.done)

    def elapsed_time(self, end_event: Event) -> float:
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError(
                "CUDA error: invalid resource handle (both events need enable_timing=True)"
            )
        if not (self._recorded and end_event._recorded):
            raise RuntimeError("elapsed_time(): both events must be recorded first")
        return float(_xp().cuda.get_elapsed_time(self._event, end_event._event))


class OutOfMemoryError(RuntimeError):
    """``torch.cuda.OutOfMemoryError``: the GPU could not allocate (raised from CuPy's)."""


class device:  # noqa: N801 - torch.cuda.device, a context manager selecting a device
    def __init__(self, device: Any) -> None:
        self.idx = _index(device) if device is not None else -1

    def __enter__(self) -> device:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def out_of_memory(exc: BaseException) -> OutOfMemoryError:
    """CuPy's OutOfMemoryError as torch's, with the sizes."""
    total = 0
    xp = _xp()
    if xp is not None:
        try:
            total = int(xp.cuda.runtime.getDeviceProperties(0)["totalGlobalMem"])
        except Exception:  # noqa: BLE001 - the sizes are a courtesy
            total = 0
    gib = 2**30
    return OutOfMemoryError(
        f"CUDA out of memory. {exc} GPU 0 has a total capacity of {total / gib:.2f} GiB; "
        f"{memory_allocated() / gib:.2f} GiB is allocated by ndgrad tensors."
    )


from ndgrad.cuda import amp  # noqa: E402 - torch.cuda.amp (needs the names above)
