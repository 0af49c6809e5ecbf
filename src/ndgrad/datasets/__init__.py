"""``ndgrad.datasets``: data sets for the d2l programs (loaders live in their own modules)."""

from __future__ import annotations

from ndgrad.datasets.fashion_mnist import FashionMNIST, load_fashion_mnist, read_idx
from ndgrad.datasets.sklearn_sets import TabularDataset, load_sklearn
from ndgrad.datasets.synthetic import synthetic_data

__all__ = [
    "synthetic_data", "FashionMNIST", "load_fashion_mnist", "read_idx", "TabularDataset",
    "load_sklearn",
]  # fmt: skip
