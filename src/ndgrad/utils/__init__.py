"""``ndgrad.utils``: ``from ndgrad.utils import data`` as with ``torch.utils``."""

from __future__ import annotations

from ndgrad.utils import data

__all__ = ["data"]
