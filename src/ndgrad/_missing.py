"""PyTorch APIs that ndgrad names but does not implement: they exist, and raise a clear
NotImplementedError naming the torch API when used (never an AttributeError at import).

Programs (d2l's library among them) bind or subclass such names at import and use them only
in some chapters; the stand-in lets them import, and says what is missing when it is used.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _message(api: str, why: str) -> str:
    from ndgrad import __version__

    return f"{api} is not implemented in ndgrad {__version__}" + (f" ({why})" if why else "")


def not_implemented_class(api: str, why: str = "") -> type:
    """A class named like PyTorch's whose construction raises NotImplementedError."""
    qualname = api.rsplit(".", 1)[-1]

    def __init__(self: Any, *args: Any, **kwargs: Any) -> NoReturn:  # noqa: N807
        raise NotImplementedError(_message(api, why))

    module = api.rsplit(".", 1)[0].replace("torch", "ndgrad", 1)
    return type(qualname, (), {"__init__": __init__, "__module__": module,
                               "__doc__": f"Not implemented: {_message(api, why)}."})  # fmt: skip


def not_implemented_function(api: str, why: str = "") -> Any:
    """A function named like PyTorch's that raises NotImplementedError when called."""

    def function(*args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(_message(api, why))

    function.__name__ = function.__qualname__ = api.rsplit(".", 1)[-1]
    function.__doc__ = f"Not implemented: {_message(api, why)}."
    return function
