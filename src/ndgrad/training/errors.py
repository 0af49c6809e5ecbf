"""The one error type of the training library that carries more than a message."""

from __future__ import annotations


class InvalidSetting(ValueError):
    """A setting (hyper-parameter, split fraction, layer widths) has an impossible value.

    ``str(exc)`` reads ``"lr must be a positive number, got -1.0"``; ``name`` is the Python
    name of the setting, so a front end can say it in its own words (``--lr``).
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason
