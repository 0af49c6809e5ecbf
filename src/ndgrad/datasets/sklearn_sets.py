"""The small datasets bundled with scikit-learn (no download): digits, iris, wine, ...

Each loads into a :class:`TabularDataset` of NumPy arrays plus the names a report needs;
:func:`split_indices` makes a reproducible (optionally stratified) train/test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# CLI name -> (sklearn loader name, task)
SKLEARN_SETS: dict[str, tuple[str, str]] = {
    "digits": ("load_digits", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast-cancer": ("load_breast_cancer", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}


@dataclass
class TabularDataset:
    """Features ``X`` (float64 [n, d]) and targets ``y`` (int64 classes or float64 values)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str  # "classification" or "regression"
    feature_names: list[str]
    class_names: list[str] | None = None
    image_shape: tuple[int, ...] | None = None  # (8, 8) for digits: lets plots show images

    @property
    def num_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def tensors(self) -> tuple[Any, Any]:
        """``(X float32 tensor, y int64 or float32 tensor)``."""
        import ndgrad

        y = self.y.astype(np.int64 if self.task == "classification" else np.float32)
        return ndgrad.tensor(self.X.astype(np.float32)), ndgrad.tensor(y)


def load_sklearn(name: str) -> TabularDataset:
    """Loads one of :data:`SKLEARN_SETS` from scikit-learn's bundled files."""
    if name not in SKLEARN_SETS:
        raise ValueError(
            f"unknown scikit-learn dataset {name!r}; choose one of {', '.join(SKLEARN_SETS)}"
        )
    from sklearn import datasets as skd

    loader, task = SKLEARN_SETS[name]
    bunch = getattr(skd, loader)()
    X = np.asarray(bunch.data, dtype=np.float64)
    feature_names = [str(f) for f in getattr(bunch, "feature_names", [])] or [
        f"x{i}" for i in range(X.shape[1])
    ]
    if task == "classification":
        y = np.asarray(bunch.target, dtype=np.int64)
        class_names = [str(c) for c in bunch.target_names]
    else:
        y = np.asarray(bunch.target, dtype=np.float64)
        class_names = None
    image_shape = tuple(bunch.images.shape[1:]) if hasattr(bunch, "images") else None
    return TabularDataset(name, X, y, task, feature_names, class_names, image_shape)


def split_indices(
    n: int, test_fraction: float, seed: int = 0, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Reproducible ``(train_idx, test_idx)``; stratified per class when ``stratify`` is given."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"the test/validation fraction must lie in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    if stratify is None:
        order = rng.permutation(n)
        n_test = max(1, int(round(n * test_fraction)))
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    train, test = [], []
    for cls in np.unique(stratify):
        members = rng.permutation(np.flatnonzero(stratify == cls))
        n_test = int(round(len(members) * test_fraction))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


__all__ = ["SKLEARN_SETS", "TabularDataset", "load_sklearn", "split_indices"]
