"""``nn.utils``: gradient clipping and flattening parameters into one vector."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import no_grad
from ndgrad.nn.utils import rnn


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scales all gradients together so that their joint norm is at most ``max_norm``."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor._make(np.asarray(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        norms = [np.max(np.abs(g._data)) if g._data.size else 0.0 for g in grads]
        total = np.max(norms)
    else:
        total = sum(np.sum(np.abs(g._data.astype(np.float64)) ** norm_type) for g in grads) ** (
            1.0 / norm_type
        )
    total_t = Tensor._make(np.asarray(total, dtype=grads[0]._data.dtype))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    with no_grad():
        for g in grads:
            g.mul_(coef)
    return total_t


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    from ndgrad.ops.shape import cat

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[offset : offset + n].reshape(p.shape))
            offset += n
