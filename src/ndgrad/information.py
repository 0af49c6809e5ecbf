"""Information theory for discrete distributions given as probability tensors.

``entropy(p)``, ``cross_entropy(p, q)`` and ``kl_divergence(p, q)`` reduce over ``dim``
(default the last), in any log ``base`` (``None``/e for nats, 2 for bits, 10 for hartleys).
As in the notes: H(p) = -sum p log p, H(p, q) = -sum p log q, and
KL(p || q) = sum p log(p / q) = H(p, q) - H(p).

Zeros follow the limits: 0 log 0 = 0 and 0 log(0 / q) = 0, while p > 0 with q = 0 gives
inf. The results are differentiable (the logs are taken of safe values where p = 0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._tensor import Tensor
from ndgrad.ops import pointwise as _pw
from ndgrad.ops._common import as_tensor, to_float, wrap_dim

__all__ = ["entropy", "cross_entropy", "kl_divergence", "check_probabilities"]


def _log_scale(base: float | None) -> float:
    """Factor turning natural logs into logs of ``base``."""
    if base is None or base == math.e:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, (int, float)) or base <= 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    return 1.0 / math.log(base)


def check_probabilities(p: Tensor, name: str, dim: int) -> None:
    """Raises ValueError unless every entry is in [0, 1] and each slice along ``dim`` sums to 1."""
    data = p._data
    if data.size == 0:
        return
    if np.isnan(data).any():
        raise ValueError(f"{name} contains NaN; expected probabilities in [0, 1]")
    if (data < 0).any() or (data > 1).any():
        bad = data[(data < 0) | (data > 1)].flat[0]
        raise ValueError(
            f"{name} must hold probabilities in [0, 1], but it contains {float(bad)} "
            f"(shape {list(p.shape)})"
        )
    n = data.shape[dim] if data.ndim else 1
    sums = data.sum(axis=dim, dtype=np.float64) if data.ndim else data.astype(np.float64)
    tol = max(1e-6, 16 * np.finfo(data.dtype).eps * n)
    if not np.all(np.abs(sums - 1) <= tol):
        raise ValueError(
            f"{name} must sum to 1 along dim {dim}, but its sums are {np.round(sums, 6).tolist()} "
            f"(shape {list(p.shape)}, tolerance {tol:.1e})"
        )


def _prepare(p: Any, name: str, dim: int, validate: bool) -> tuple[Tensor, int]:
    t = to_float(as_tensor(p, name))
    d = wrap_dim(dim, t._data.ndim, name) if t._data.ndim else 0
    if validate:
        check_probabilities(t, name, d)
    return t, d


def _prepare_pair(p: Any, q: Any, dim: int, validate: bool, op: str) -> tuple[Tensor, Tensor, int]:
    """``p`` and ``q`` as float tensors (checked as distributions when ``validate``) that
    broadcast together, and ``dim`` wrapped for ``p``."""
    p, d = _prepare(p, "p", dim, validate)
    q, _ = _prepare(q, "q", dim, validate)
    try:
        np.broadcast_shapes(p._data.shape, q._data.shape)
    except ValueError:
        raise ValueError(
            f"{op}(): p of shape {list(p.shape)} and q of shape {list(q.shape)} do not "
            "broadcast to a common shape"
        ) from None
    return p, q, d


def _plogq(p: Tensor, q: Tensor) -> Tensor:
    """Elementwise p log q with 0 log q = 0 (also for q = 0), and p log 0 = -inf for p > 0."""
    positive = p > 0
    safe_q = _pw.where(positive, q, 1.0)
    return _pw.where(positive, p * _pw.log(safe_q), 0.0)


def _sum(x: Tensor, dim: int) -> Tensor:
    return x.sum(dim) if x.dim() else x


def entropy(p: Any, dim: int = -1, base: float | None = None, *, validate: bool = True) -> Tensor:
    """Shannon entropy H(p) = -sum p log p along ``dim``."""
    p, d = _prepare(p, "p", dim, validate)
    return _sum(_plogq(p, p), d) * -_log_scale(base)


def cross_entropy(
    p: Any, q: Any, dim: int = -1, base: float | None = None, *, validate: bool = True
) -> Tensor:
    """Cross-entropy H(p, q) = -sum p log q along ``dim`` (p: the true distribution)."""
    p, q, d = _prepare_pair(p, q, dim, validate, "cross_entropy")
    return _sum(_plogq(p, q), d) * -_log_scale(base)


def kl_divergence(
    p: Any, q: Any, dim: int = -1, base: float | None = None, *, validate: bool = True
) -> Tensor:
    """Relative entropy KL(p || q) = sum p log(p / q) along ``dim``; >= 0, 0 iff p == q."""
    p, q, d = _prepare_pair(p, q, dim, validate, "kl_divergence")
    # p log p - p log q, with the zero conventions of each term; summed per element first so
    # that equal distributions give exactly 0.
    return _sum(_plogq(p, p) - _plogq(p, q), d) * _log_scale(base)
