"""``nn.utils``: gradient clipping and flattening parameters into one vector."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ndgrad._backend import array_module
from ndgrad._dynamo import tracer as _tracer
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import no_grad
from ndgrad.nn.utils import rnn


def _as_list(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _vector_norm(data: np.ndarray, norm_type: float) -> np.ndarray:
    """``torch.linalg.vector_norm`` of one array, accumulated in float64: a 0-d array on the
    array's device (no host round trip per tensor)."""
    xp = array_module(data)
    if norm_type == 2 and type(data) is np.ndarray and data.dtype in (np.float32, np.float64):
        # the squares summed in float64 as NumPy converts them, block by block (pairwise):
        # no float64 copy of the whole gradient and of its absolute value (4x the time)
        return np.sqrt(np.asarray(np.add.reduce(np.square(data.reshape(-1)), dtype=np.float64)))
    a = xp.abs(data.astype(np.float64, copy=False)).reshape(-1)
    if norm_type == math.inf:
        return xp.asarray(a.max() if a.size else 0.0)
    if norm_type == -math.inf:
        return xp.asarray(a.min() if a.size else math.inf)
    if norm_type == 0:
        return xp.asarray(xp.count_nonzero(a), dtype=np.float64)
    if norm_type == 1:
        return xp.asarray(a.sum())
    if norm_type == 2:
        return xp.sqrt(xp.dot(a, a))
    return xp.asarray(xp.sum(a**norm_type) ** (1.0 / norm_type))


def _total_norm(norm_type: float, dtype: np.dtype, *arrays: np.ndarray) -> np.ndarray:
    xp = array_module(arrays[0])
    norms = xp.stack([_vector_norm(a, norm_type) for a in arrays]).astype(dtype)
    return xp.asarray(_vector_norm(norms, norm_type).astype(dtype))


def _clip_coef(limit: float, total: np.ndarray) -> np.ndarray:
    """min(max_norm / (total + 1e-6), 1) in the total norm's dtype, as PyTorch clamps it,
    where the norm lives (no host round trip for a GPU's total norm)."""
    dtype = total.dtype.type
    with np.errstate(all="ignore"):
        coef = dtype(limit) / (total + dtype(1e-6))
    xp = array_module(total)
    return xp.asarray(xp.minimum(coef, dtype(1.0)), dtype=dtype)


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The ``norm_type``-norm of the norms of ``tensors`` (as if concatenated into one vector),
    as PyTorch computes it: each tensor's norm in its dtype, then the norm of those."""
    tensors = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._make(np.asarray(0.0, dtype=np.float32))
    dtype = np.result_type(*[t._data.dtype for t in tensors])
    # one recorded call: ndgrad.compile replays it rather than breaking the graph
    total = _tracer.host_call(_total_norm, norm_type, dtype, *[t._data for t in tensors])
    if error_if_nonfinite and not bool(array_module(total).isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor._make(total)


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    total_norm: Tensor,
    foreach: bool | None = None,
) -> None:
    """Scales the gradients by ``min(max_norm / (total_norm + 1e-6), 1)`` in place."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else np.float32(total_norm)
    limit = float(max_norm._data) if isinstance(max_norm, Tensor) else float(max_norm)
    coef = _tracer.host_call(_clip_coef, limit, total)
    with no_grad():
        for g in grads:
            g._data *= coef.astype(g._data.dtype)
            g._version_counter[0] += 1


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scales all gradients together so that their joint norm is at most ``max_norm``;
    returns the joint norm before clipping. ``foreach`` is accepted (one code path here)."""
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total, foreach)
    return total


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


# after the helpers above; these import nn.modules (complete by then: it does not import
# nn.utils' names)
from ndgrad.nn.utils import parametrizations, parametrize, stateless  # noqa: E402
from ndgrad.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm  # noqa: E402
from ndgrad.nn.utils.weight_norm import remove_weight_norm, weight_norm  # noqa: E402
