"""Switching graph recording on and off: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradState:
    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


STATE = _GradState()


def is_grad_enabled() -> bool:
    return STATE.enabled


class _GradModeContext:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    _target: bool

    def __enter__(self) -> None:
        self._prev = STATE.enabled
        STATE.enabled = self._target

    def __exit__(self, *exc: object) -> None:
        STATE.enabled = self._prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def clone(self) -> _GradModeContext:
        return type(self)()


class _BareDecorator(_GradModeContext):
    """Also usable without parentheses: ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, orig_func: Any = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_BareDecorator):  # noqa: N801
    _target = False


class enable_grad(_BareDecorator):  # noqa: N801
    _target = True


class inference_mode(_GradModeContext):  # noqa: N801
    def __init__(self, mode: bool = True) -> None:
        self._target = not mode


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """Sets grad mode immediately (like PyTorch), and restores it when used as a context."""

    def __init__(self, mode: bool) -> None:
        self._prev = STATE.enabled
        self._target = bool(mode)
        STATE.enabled = self._target

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: F) -> F:
        STATE.enabled = self._prev
        mode = self._target

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
