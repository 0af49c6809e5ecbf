"""``ndgrad.linalg``: PyTorch's ``torch.linalg`` names over the core's differentiable ops."""

from __future__ import annotations

import math
from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.ops import decompositions as _dec
from ndgrad.ops import linalg as _ops
from ndgrad.ops import reduction as _reduction
from ndgrad.ops import shape as _shape
from ndgrad.ops import solves as _solves

LinAlgError = _ops._LinAlgError
inv = _ops.inverse
det = _ops.det
matmul = _ops.matmul
solve = _dec.solve
cholesky = _dec.cholesky
cholesky_ex = _dec.cholesky_ex
inv_ex = _dec.inv_ex
eigh = _dec.eigh
eigvalsh = _dec.eigvalsh
svd = _dec.svd
svdvals = _dec.svdvals
qr = _dec.qr
slogdet = _dec.slogdet
matrix_power = _dec.matrix_power
multi_dot = _dec.multi_dot
matrix_rank = _dec.matrix_rank
pinv = _dec.pinv
lstsq = _dec.lstsq
cross = _ops._linalg_cross
solve_triangular = _solves.solve_triangular
lu_factor = _solves.lu_factor
lu_factor_ex = _solves.lu_factor_ex
lu = _solves.lu
lu_solve = _solves.lu_solve


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
    """``torch.diagonal`` with the last two dims as the default."""
    bound = max(A.ndim, 1)
    for d in (dim1, dim2):
        if not -bound <= d < bound:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-bound}, {bound - 1}], "
                f"but got {d})"
            )
    return _shape.diagonal(A, offset, dim1, dim2)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Dot products of (broadcast) batches of vectors along ``dim``: ``(x * y).sum(dim)``."""
    return (x * y).sum(dim)


def vector_norm(
    x: Tensor,
    ord: float = 2,
    dim: Any = None,
    keepdim: bool = False,
    *,  # noqa: A002
    dtype: Any = None,
) -> Tensor:
    """The ``ord``-norm of ``x`` flattened (``dim=None``) or along ``dim``."""
    return _reduction.norm(x, ord, dim, keepdim, dtype=dtype)


def matrix_norm(
    x: Tensor,
    ord: Any = "fro",
    dim: tuple[int, int] = (-2, -1),  # noqa: A002
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """Frobenius (default), 1 or inf norm of the matrices in the last two dims."""
    if x.ndim < 2:
        raise RuntimeError(
            f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions "
            f"(got shape {list(x.shape)})"
        )
    if ord == "fro":
        return _reduction.norm(x, 2, dim, keepdim, dtype=dtype)
    if ord in (1, -1, math.inf, -math.inf):
        # 1: max column sum; inf: max row sum (sum over the other of the two dims).
        reduce_dim, pick_dim = (dim[0], dim[1]) if ord in (1, -1) else (dim[1], dim[0])
        sums = x.abs().sum(reduce_dim, keepdim=True)
        picked = sums.amax(pick_dim, keepdim=True) if ord > 0 else sums.amin(pick_dim, keepdim=True)
        return picked if keepdim else picked.squeeze(dim)
    if ord in (2, -2, "nuc"):
        # the largest / smallest / summed singular values
        moved = x.movedim(dim, (-2, -1)) if tuple(dim) != (-2, -1) else x
        s = _dec.svdvals(moved)
        out = s.amax(-1) if ord == 2 else s.amin(-1) if ord == -2 else s.sum(-1)
        if keepdim:
            for d in sorted(d % x.ndim for d in dim):
                out = out.unsqueeze(d)
        return out
    raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} is not supported by ndgrad")


def norm(
    x: Tensor,
    ord: Any = None,
    dim: Any = None,
    keepdim: bool = False,
    *,  # noqa: A002
    dtype: Any = None,
) -> Tensor:
    """``torch.linalg.norm``: a vector norm, or a matrix norm when ``ord`` is a matrix order."""
    if ord is None:
        return vector_norm(x, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dim is not None and not isinstance(dim, int) and len(dim) == 2):
        return matrix_norm(x, ord, dim if dim is not None else (-2, -1), keepdim, dtype=dtype)
    if dim is None and x.ndim == 2:
        return matrix_norm(x, ord, (-2, -1), keepdim, dtype=dtype)
    return vector_norm(x, ord, dim, keepdim, dtype=dtype)
