"""Generated data sets, as d2l builds them."""

from __future__ import annotations

from ndgrad import _creation
from ndgrad._tensor import Tensor
from ndgrad.ops import matmul


def synthetic_data(w: Tensor, b: float | Tensor, num_examples: int) -> tuple[Tensor, Tensor]:
    """d2l's linear-regression data: ``X ~ N(0, 1)`` of shape ``(n, len(w))`` and
    ``y = Xw + b + ε`` with ``ε ~ N(0, 0.01²)``, returned as a column ``(n, 1)``.

    Draws from the global generator (``ndgrad.manual_seed`` makes it reproducible).
    """
    if not isinstance(w, Tensor) or w.dim() != 1:
        shape = list(w.shape) if isinstance(w, Tensor) else type(w).__name__
        raise ValueError(f"synthetic_data(): w must be a 1-D tensor of weights, got {shape}")
    if num_examples < 0:
        raise ValueError(f"synthetic_data(): num_examples must be non-negative, got {num_examples}")
    X = _creation.normal(0, 1, (num_examples, len(w)))
    y = matmul(X, w) + b
    y += _creation.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


__all__ = ["synthetic_data"]
