"""``torch.jit``: ndgrad has no TorchScript. ``script`` and ``trace`` hand back what they are
given (it runs eagerly, with the same results), so programs that decorate or trace for speed
run unchanged; saving or loading a TorchScript archive raises NotImplementedError."""

from __future__ import annotations

import warnings
from typing import Any

from ndgrad._missing import not_implemented_function

_warned = False


def _note(what: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            f"torch.jit.{what}: ndgrad has no TorchScript; the code runs eagerly, unchanged "
            "(ndgrad.compile compiles a training step)",
            stacklevel=3,
        )


def script(obj: Any = None, *args: Any, **kwargs: Any) -> Any:
    _note("script")
    return obj


def trace(func: Any, example_inputs: Any = None, *args: Any, **kwargs: Any) -> Any:
    _note("trace")
    return func


def ignore(drop: Any = False, **kwargs: Any) -> Any:
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn: Any) -> Any:
    return fn


def export(fn: Any) -> Any:
    return fn


def is_scripting() -> bool:
    return False


def is_tracing() -> bool:
    return False


def annotate(the_type: Any, the_value: Any) -> Any:
    return the_value


save = not_implemented_function("torch.jit.save", "no TorchScript archives")
load = not_implemented_function("torch.jit.load", "no TorchScript archives")
