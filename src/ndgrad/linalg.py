"""``ndgrad.linalg``: PyTorch's ``torch.linalg`` names over the core's differentiable ops."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndgrad._tensor import Tensor
from ndgrad.ops import _common as _ops_common
from ndgrad.ops import decompositions as _dec
from ndgrad.ops import linalg as _ops
from ndgrad.ops import reduction as _reduction
from ndgrad.ops import shape as _shape
from ndgrad.ops import solves as _solves
from ndgrad.ops._common import named as _named

LinAlgError = _ops._LinAlgError
_SolveExResult = _ops_common.return_type("linalg_solve_ex", ("result", "info"))
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
ldl_factor = _solves.ldl_factor
ldl_factor_ex = _solves.ldl_factor_ex
ldl_solve = _solves.ldl_solve


def solve_ex(
    A: Tensor,  # noqa: N803
    B: Tensor,  # noqa: N803
    *,
    left: bool = True,
    check_errors: bool = False,
) -> Any:
    """``(result, info)``: ``solve``'s result and 0, or for a singular ``A`` what LAPACK's
    LU solve gives (inf/nan) and the index of the zero pivot."""
    from ndgrad import _creation, _dtype

    try:
        result = _named(_dec.solve(A, B, left=left), "LinalgSolveExBackward0")
        info = _creation.zeros(A.shape[:-2], dtype=_dtype.int32)
    except LinAlgError:
        if check_errors:
            raise LinAlgError(
                "torch.linalg.solve_ex: The solver failed because the input matrix is singular."
            ) from None
        lu, piv, info = _solves.lu_factor_ex(A.detach())
        vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
        bm = B.unsqueeze(-1) if vector else B
        with np.errstate(all="ignore"):
            result = _solves.lu_solve(lu, piv, bm.detach(), left=left)
        result = result.squeeze(-1) if vector else result
    return _SolveExResult(result, info)


def cond(A: Tensor, p: Any = None) -> Tensor:  # noqa: N803
    """The condition number of ``A`` in the norm ``p``: the ratio of its extreme singular
    values for ``p`` in (None, 2, -2), else ``|A| |A^-1|`` (inf for a singular ``A``)."""
    if A.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    if p in (None, 2, -2):
        s = _dec.svdvals(A)
        big, small = s.narrow(-1, 0, 1), s.narrow(-1, s.shape[-1] - 1, 1)
        return (big / small if p != -2 else small / big).squeeze(-1)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            f"linalg.cond(ord={p}): A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )
    inverse, info = _dec.inv_ex(A)
    inverse = inverse.masked_fill((info > 0).unsqueeze(-1).unsqueeze(-1), float("inf"))
    result = matrix_norm(A, p) * matrix_norm(inverse, p)
    if p == "nuc":  # as PyTorch: only the other orders map nan to inf
        return result
    return result.nan_to_num(float("inf"), float("inf"), float("-inf"))


def vander(x: Tensor, *, N: int | None = None) -> Tensor:  # noqa: N803
    """The powers ``x^0 ... x^(N-1)`` of each element along a new last dim."""
    n = x.shape[-1] if N is None and x.ndim else N
    if n is None or n <= 1:
        raise RuntimeError("N must be greater than 1.")
    ones = _shape.cat([x.unsqueeze(-1) * 0 + 1], -1)
    powers = x.unsqueeze(-1).expand(*x.shape, n - 1).cumprod(-1)
    return _shape.cat([ones, powers], -1)


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:  # noqa: N803
    """The inverse of ``A`` seen as a map from its first ``ind`` dims to the rest."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    lead, rest = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    p, q = math.prod(lead), math.prod(rest)
    if p != q:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[ind:]) == "
            f"prod(self.shape[:ind]), but got {q} != {p}"
        )
    return inv(A.reshape(p, q)).reshape(rest + lead)


def tensorsolve(A: Tensor, B: Tensor, dims: Any = None) -> Tensor:  # noqa: N803
    """``X`` with ``tensordot(A, X, X.ndim) = B``."""
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        keep = [d for d in range(A.ndim) if d not in dims]
        A = A.permute(*keep, *dims)
    lead, rest = tuple(A.shape[: B.ndim]), tuple(A.shape[B.ndim :])
    p, q = math.prod(lead), math.prod(rest)
    if p != q or p != B.numel():
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
            f"prod(self.shape[:other.ndim]), but got {q} != {B.numel()}"
        )
    return _dec.solve(A.reshape(p, q), B.reshape(p)).reshape(rest)


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


from ndgrad.ops import matrix_functions as _matfn  # noqa: E402 - appended with matrix_exp

matrix_exp = _matfn.matrix_exp
householder_product = _matfn.householder_product
