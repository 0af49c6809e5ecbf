"""``torch.linalg.matrix_exp`` and ``torch.linalg.householder_product``, differentiable to any
order.

``matrix_exp`` computes with scaling and squaring over the degree-13 Padé approximant
(Higham 2005), per matrix of a batch, in float64 (float32 results rounded once). Its backward
is PyTorch's ``backward_analytic_function_of_a_matrix``: the gradient for ``A`` is the
upper-right block of ``exp([[A^T, G], [0, A^T]])``, written with this same op, so it is
itself differentiable. ``householder_product`` is written with Tensor ops (one reflector
applied at a time), so its gradients follow from theirs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _creation
from ndgrad._backend import array_module
from ndgrad._dtype import SCALAR_NAMES
from ndgrad._tensor import Tensor
from ndgrad.autograd.graph import record_multi
from ndgrad.ops._common import bind, return_type
from ndgrad.ops.shape import cat

# Padé 13 numerator coefficients b_0..b_13 and the 1-norm bound up to which it is exact
# in double precision (Higham 2005, table 2.3)
_PADE13 = (
    64764752532480000.0,
    32382376266240000.0,
    7771770303897600.0,
    1187353796428800.0,
    129060195264000.0,
    10559470521600.0,
    670442572800.0,
    33522128640.0,
    1323241920.0,
    40840800.0,
    960960.0,
    16380.0,
    182.0,
    1.0,
)
_THETA13 = 5.371920351148152


def _expm(data: Any) -> Any:
    """``exp`` of each square matrix in the last two dims of ``data``."""
    xp = array_module(data)
    n = data.shape[-1]
    if data.size == 0:
        return xp.empty_like(data)
    a = data.astype(np.float64)
    norm = xp.abs(a).sum(-2).max(-1)  # the 1-norm: the largest column sum
    with np.errstate(all="ignore"):
        s = xp.ceil(xp.log2(norm / _THETA13))
    s = xp.where(xp.isfinite(s), xp.maximum(s, 0), 0).astype(np.int64)
    a = a / (2.0 ** s.astype(np.float64))[..., None, None]
    b = _PADE13
    eye = xp.eye(n, dtype=np.float64)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (
        a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye
    )
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    # undo the scaling: square each matrix as often as it was halved
    for k in range(int(s.max()) if s.size else 0):
        more = s > k
        if more.all():
            r = r @ r
        else:
            r[more] = r[more] @ r[more]
    return r.astype(data.dtype, copy=False)


def _mT(t: Tensor) -> Tensor:
    return t.transpose(-1, -2)


def matrix_exp(a: Tensor) -> Tensor:
    """The matrix exponential ``sum_k A^k / k!`` of (batches of) square matrices."""
    shape = a._data.shape
    if len(shape) < 2:
        raise RuntimeError("linalg.matrix_exp: The input tensor A must have at least 2 dimensions.")
    if shape[-1] != shape[-2]:
        raise RuntimeError(
            "linalg.matrix_exp: A must be batches of square matrices, but they are "
            f"{shape[-2]} by {shape[-1]} matrices"
        )
    if a._data.dtype.kind != "f":
        raise RuntimeError(
            "linalg.matrix_exp: Expected a floating point or complex tensor as input. Got "
            f"{SCALAR_NAMES[a._data.dtype.name]}"
        )

    def backward(g: Tensor) -> tuple:
        n = a.shape[-1]
        at = _mT(a)
        meta = cat([cat([at, g.to(a.dtype)], -1), cat([_creation.zeros_like(a), at], -1)], -2)
        return (matrix_exp(meta)[..., :n, n:],)

    (out,) = record_multi("LinalgMatrixExpBackward0", (_expm(a._data),), (a,), backward)
    return out


def householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """The first ``n`` columns of ``H_1 ... H_k`` with ``H_i = I - tau_i v_i v_i^T``; ``v_i``
    is column ``i`` of ``A`` below the diagonal with a 1 on it (LAPACK's ``orgqr``)."""
    name = "torch.linalg.householder_product"
    if a.dim() < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    m, n = a.shape[-2:]
    if m < n:
        raise RuntimeError(
            f"{name}: input.shape[-2] must be greater than or equal to input.shape[-1]"
        )
    if tau.dim() < 1 or n < tau.shape[-1]:
        raise RuntimeError(
            f"{name}: input.shape[-1] must be greater than or equal to tau.shape[-1]"
        )
    if tau.dim() != a.dim() - 1 or tuple(tau.shape[:-1]) != tuple(a.shape[:-2]):
        raise RuntimeError(
            f"{name}: Expected batch dimensions of tau to be equal to input.shape[:-2], but "
            f"got {list(tau.shape[:-1])}"
        )
    if a._data.dtype.kind != "f":
        raise NotImplementedError(
            f"\"orgqr_cpu\" not implemented for '{SCALAR_NAMES[a._data.dtype.name]}'"
        )
    if tau.dtype != a.dtype:
        raise RuntimeError(
            f"{name}: tau dtype {SCALAR_NAMES[tau._data.dtype.name]} does not match input "
            f"dtype {SCALAR_NAMES[a._data.dtype.name]}"
        )
    eye = _creation.eye(m, n, dtype=a.dtype)
    reflectors = a.tril(-1) + eye  # column i: v_i
    q = eye.expand(a.shape)
    # Q = H_1 (H_2 (... (H_k E))): the last reflector first
    for i in reversed(range(tau.shape[-1])):
        v = reflectors[..., :, i : i + 1]
        t = tau[..., i : i + 1].unsqueeze(-1)
        q = q - (t * v) @ (_mT(v) @ q)
    if not tau.shape[-1]:
        # no reflector: the identity, still an output of both inputs (zero gradients)
        return q + 0 * a + 0 * tau.sum(-1)[..., None, None]
    return q


GeqrfResult = return_type("geqrf", ("a", "tau"))


def geqrf(a: Tensor) -> Any:
    """LAPACK's ``geqrf``: ``R`` on and above the diagonal, the Householder reflectors below
    it, and their scales ``tau`` (not differentiable, as in PyTorch)."""
    if a.dim() < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    xp = array_module(a._data)
    data = a._data
    if data.size == 0:
        k = min(data.shape[-2:])
        return GeqrfResult(
            Tensor._make(data.copy()), Tensor._make(xp.zeros(data.shape[:-2] + (k,), data.dtype))
        )
    h, tau = xp.linalg.qr(data, mode="raw")  # h holds the factors transposed (Fortran order)
    return GeqrfResult(
        Tensor._make(xp.ascontiguousarray(xp.swapaxes(h, -1, -2)).astype(data.dtype)),
        Tensor._make(tau.astype(data.dtype)),
    )


def orgqr(a: Tensor, tau: Tensor) -> Tensor:
    """``torch.orgqr``: ``torch.linalg.householder_product``."""
    return householder_product(a, tau)


bind("matrix_exp", matrix_exp)
bind("orgqr", orgqr)
bind("geqrf", geqrf)
