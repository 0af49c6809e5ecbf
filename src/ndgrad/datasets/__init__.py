"""``ndgrad.datasets``: data sets for the d2l programs (loaders live in their own modules)."""

from __future__ import annotations

from ndgrad.datasets.synthetic import synthetic_data

__all__ = ["synthetic_data"]
