"""``torch.random``: the global CPU generator's seed and state, and ``fork_rng``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from ndgrad._creation import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)


@contextlib.contextmanager
def fork_rng(
    devices: Iterable[Any] | None = None,
    enabled: bool = True,
    _caller: str = "fork_rng",
    _devices_kw: str = "devices",
    device_type: str = "cuda",
) -> Iterator[None]:
    """Restores the CPU generator's state (and the device generators' seeds) on leaving, so
    draws inside the block do not change what is drawn after it."""
    if not enabled:
        yield
        return
    from ndgrad import _backend

    cpu_state = get_rng_state()
    device_seeds = {name: gen.initial_seed() for name, gen in _backend._GENERATORS.items()}
    try:
        yield
    finally:
        set_rng_state(cpu_state)
        for name, value in device_seeds.items():
            _backend._GENERATORS[name].manual_seed(value)


def thread_safe_generator(gen: Generator | None) -> Generator | None:
    """The generator itself: ndgrad draws hold the GIL, so every generator is thread-safe."""
    return gen


__all__ = [
    "Generator",
    "default_generator",
    "fork_rng",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
    "thread_safe_generator",
]
