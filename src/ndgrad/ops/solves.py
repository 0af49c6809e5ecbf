"""Triangular and LU solves: ``linalg.solve_triangular``, ``linalg.lu_factor``/``lu``/
``lu_solve``, ``lu_unpack``, ``cholesky_solve``, ``cholesky_inverse``, ``triangular_solve``,
with PyTorch's gradients to any order.

Two ops carry a derivative of their own, written with Tensors as in ``decompositions``
(the backward re-runs the op on its saved inputs, so under ``create_graph`` the gradient is
itself differentiable): the triangular solve (``X = A^-1 B``: ``gB = A^-T g``, ``gA = -gB X^T``
on ``A``'s triangle) and the LU factorisation (PyTorch's ``linalg_lu_backward``: for
``A = P L U``, ``gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T``, with the extra block of
a wide ``U`` or a tall ``L`` carried through). ``cholesky_solve`` and ``cholesky_inverse``
keep PyTorch's formulas, which treat the factor as a full matrix. The rest are composites.
The forwards call the BLAS/LAPACK routines PyTorch's CPU build calls (``trsm``, ``getrf``),
so the pivots and the rounding agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _creation, _dtype
from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.autograd.graph import record_multi
from ndgrad.ops._common import bind, named, not_implemented, return_type

LuFactorResult = return_type("linalg_lu_factor", ("LU", "pivots"))
LuFactorExResult = return_type("linalg_lu_factor_ex", ("LU", "pivots", "info"))
LuWithInfoResult = return_type("_lu_with_info", ("LU", "pivots", "info"))
LuResult = return_type("linalg_lu", ("P", "L", "U"))
LuUnpackResult = return_type("lu_unpack", ("P", "L", "U"))
TriangularSolveResult = return_type("triangular_solve", ("solution", "cloned_coefficient"))


def _mT(t: Tensor) -> Tensor:  # noqa: N802
    return t.transpose(-1, -2)


def _shape2(t: Tensor) -> str:
    return f"{t._data.shape[-2]}x{t._data.shape[-1]}"


def _square(op: str, a: Tensor, name: str = "A") -> None:
    if a._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    if a._data.shape[-1] != a._data.shape[-2]:
        raise RuntimeError(
            f"{op}: {name} must be batches of square matrices, but they are "
            f"{a._data.shape[-2]} by {a._data.shape[-1]} matrices"
        )


def _batched(fn: Any, arrays: tuple, out_shapes: tuple, dtypes: tuple) -> tuple:
    """``fn`` over each matrix of (broadcast) batches of ``arrays``: one result array per
    entry of ``out_shapes`` (the matrix part) and ``dtypes``."""
    batch = np.broadcast_shapes(*(a.shape[:-2] for a in arrays))
    arrays = tuple(np.broadcast_to(a, batch + a.shape[-2:]) for a in arrays)
    outs = tuple(np.empty(batch + s, dtype=d) for s, d in zip(out_shapes, dtypes))
    for idx in np.ndindex(*batch):
        for out, value in zip(outs, fn(*(a[idx] for a in arrays))):
            out[idx] = value
    return outs


# ----------------------------------------------------------------------------- triangular solve
def _trsm(a: Any, b: Any, upper: bool, left: bool, unit: bool) -> Any:
    """``A^-1 B`` (``B A^-1`` when not ``left``) of triangular ``A``: BLAS trsm, no check for
    zeros on the diagonal (they give inf/nan, as in PyTorch)."""
    xp = array_module(a)
    many = int(np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), dtype=np.int64)) > 8
    if xp is not np or many:
        # another backend, or many small systems (one batched call, not a loop of trsm): a
        # general solve on the triangle; a zero on the diagonal goes to trsm, which gives
        # PyTorch's inf/nan
        tri = xp.triu(a) if upper else xp.tril(a)
        if unit:
            n = a.shape[-1]
            tri = tri * (1 - xp.eye(n, dtype=a.dtype)) + xp.eye(n, dtype=a.dtype)
        try:
            if left:
                return xp.linalg.solve(tri, b)
            tb = xp.linalg.solve(xp.swapaxes(tri, -1, -2), xp.swapaxes(b, -1, -2))
            return xp.swapaxes(tb, -1, -2)
        except np.linalg.LinAlgError:
            if xp is not np:
                raise
    from scipy.linalg import get_blas_funcs

    trsm = get_blas_funcs("trsm", dtype=a.dtype)
    shape = b.shape[-2:]

    def one(am: Any, bm: Any) -> tuple:
        return (trsm(1.0, am, bm, side=0 if left else 1, lower=not upper, diag=int(unit)),)

    return _batched(one, (a, b), (shape,), (a.dtype,))[0]


def solve_triangular(
    A: Tensor,  # noqa: N803 - PyTorch's names
    B: Tensor,  # noqa: N803
    *,
    upper: bool,
    left: bool = True,
    unitriangular: bool = False,
) -> Tensor:
    """``X`` with ``A X = B`` (``X A = B`` when not ``left``) for triangular ``A`` (its upper
    or lower triangle read; its diagonal taken as ones when ``unitriangular``)."""
    op = "linalg.solve_triangular"
    _square(op, A)
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if A._data.dtype.kind != "f":
        raise not_implemented("triangular_solve_cpu", A)
    n = A._data.shape[-1]
    if (B._data.shape[-2] if left else B._data.shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation {eq} ({_shape2(A)} and "
            f"{_shape2(B)})"
        )
    if B._data.dtype != A._data.dtype:
        B = B.to(A.dtype)
    data = _trsm(A._data, B._data, upper, left, unitriangular)

    def backward(g: Tensor) -> tuple:
        gb = solve_triangular(_mT(A), g, upper=not upper, left=left, unitriangular=unitriangular)
        x = solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular)
        ga = -(gb @ _mT(x)) if left else -(_mT(x) @ gb)
        ga = ga.triu(int(unitriangular)) if upper else ga.tril(-int(unitriangular))
        return ga, gb

    return record_multi("LinalgSolveTriangularBackward0", (data,), (A, B), backward)[0]


def triangular_solve(
    b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False, unitriangular: bool = False
) -> Any:  # noqa: N803
    """The deprecated ``torch.triangular_solve``: ``(A^-1 b, A.clone())`` (``A^-T b`` when
    ``transpose``)."""
    if b._data.ndim < 2:
        raise RuntimeError(
            "torch.triangular_solve: Expected b to have at least 2 dimensions, but it has "
            f"{b._data.ndim} dimensions instead"
        )
    if A._data.ndim < 2:
        raise RuntimeError(
            "torch.triangular_solve: Expected A to have at least 2 dimensions, but it has "
            f"{A._data.ndim} dimensions instead"
        )
    coef = _mT(A) if transpose else A
    x = solve_triangular(coef, b, upper=upper != transpose, unitriangular=unitriangular)
    return TriangularSolveResult(named(x, "TriangularSolveBackward0"), A.clone())


# ----------------------------------------------------------------------------- LU
def _getrf(a: Any) -> tuple:
    """LAPACK getrf over the batch: the packed factors, 1-based int32 pivots, info."""
    from scipy.linalg import get_lapack_funcs

    getrf = get_lapack_funcs("getrf", dtype=a.dtype)
    m, n = a.shape[-2:]
    k = min(m, n)

    def one(am: Any) -> tuple:
        lu, piv, info = getrf(am)
        return lu, piv[:k] + 1, info

    lu, piv, info = _batched(one, (a,), ((m, n), (1, k), (1, 1)), (a.dtype, np.int32, np.int32))
    return lu, piv.reshape(piv.shape[:-2] + (k,)), info.reshape(info.shape[:-2])


def _permutation(pivots: Any, m: int, dtype: Any) -> Any:
    """``P`` with ``A = P L U`` from LAPACK's 1-based row swaps."""
    batch = pivots.shape[:-1]
    piv = pivots.reshape(-1, pivots.shape[-1]).astype(np.int64) - 1
    count, k = piv.shape
    if count <= k:  # few matrices: the swaps one by one, in Python lists
        rows = []
        for swaps in piv.tolist():
            perm = list(range(m))
            for i, j in enumerate(swaps):
                perm[i], perm[j] = perm[j], perm[i]
            rows.append(perm)
        perm = np.array(rows, dtype=np.int64).reshape(batch + (m,))
    else:  # many small ones: each swap over the whole batch at once
        flat = np.broadcast_to(np.arange(m), (count, m)).copy()
        at = np.arange(count)
        for i in range(k):
            j = piv[:, i]
            a, b = flat[at, i].copy(), flat[at, j].copy()
            flat[at, i], flat[at, j] = b, a
        perm = flat.reshape(batch + (m,))
    p = np.zeros(batch + (m, m), dtype=dtype)
    # (P^T A)[i] = A[perm[i]]: P[perm[i], i] = 1
    np.put_along_axis(p, perm[..., None, :], 1, axis=-2)
    return p


def _lu_parts(lu: Tensor, m: int, n: int) -> tuple[Tensor, Tensor]:
    """``L`` (m x k, unit diagonal) and ``U`` (k x n) of packed factors."""
    k = min(m, n)
    eye = _creation.eye(m, k, dtype=lu.dtype, device=lu.device)
    return lu[..., :, :k].tril(-1) + eye, lu[..., :k, :].triu()


def _lu_backward(g: Tensor, a: Tensor) -> Tensor:
    """The gradient of ``A`` from that of its packed factors (PyTorch's linalg_lu_backward
    with ``gL = tril(g, -1)``, ``gU = triu(g)``)."""
    lu, pivots, _ = lu_factor_ex(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    L, U = _lu_parts(lu, m, n)
    P = Tensor._make(array_module(a._data).asarray(_permutation(pivots._data, m, a._data.dtype)))
    gL, gU = g[..., :, :k].tril(-1), g[..., :k, :].triu()
    if m == n:
        inner = (_mT(L) @ gL).tril(-1) + (gU @ _mT(U)).triu()
        return P @ _left_lt_inv(L, _right_ut_inv(U, inner))
    if m < n:  # wide: U = [U1 U2]
        U1, U2, gU1, gU2 = U[..., :k], U[..., k:], gU[..., :k], gU[..., k:]
        inner = (_mT(L) @ gL - gU2 @ _mT(U2)).tril(-1) + (gU1 @ _mT(U1)).triu()
        from ndgrad.ops.shape import cat

        return P @ cat([_left_lt_inv(L, _right_ut_inv(U1, inner)), _left_lt_inv(L, gU2)], -1)
    L1, L2, gL1, gL2 = L[..., :k, :], L[..., k:, :], gL[..., :k, :], gL[..., k:, :]
    inner = (_mT(L1) @ gL1).tril(-1) + (gU @ _mT(U) - _mT(L2) @ gL2).triu()
    from ndgrad.ops.shape import cat

    return P @ cat([_left_lt_inv(L1, _right_ut_inv(U, inner)), _right_ut_inv(U, gL2)], -2)


def _left_lt_inv(L: Tensor, x: Tensor) -> Tensor:  # noqa: N803
    """``L^-T x`` for unit lower-triangular ``L``."""
    return solve_triangular(_mT(L), x, upper=True, unitriangular=True)


def _right_ut_inv(U: Tensor, x: Tensor) -> Tensor:  # noqa: N803
    """``x U^-T`` for upper-triangular ``U``."""
    return solve_triangular(_mT(U), x, upper=False, left=False)


def _check_lu_input(op: str, a: Tensor, pivot: bool) -> None:
    if a._data.ndim < 2:
        raise RuntimeError(
            f"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: "
            f"{list(a.shape)} instead"
        )
    if a._data.dtype.kind != "f":
        raise not_implemented("lu_cpu", a)
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")


def _singular_error(op: str, info: Any) -> RuntimeError | None:
    flat = info.reshape(-1)
    bad = np.flatnonzero(flat > 0)
    if not bad.size:
        return None
    i = int(bad[0])
    where = f"(Batch element {i}): " if info.ndim else ""
    j = int(flat[i])
    return RuntimeError(
        f"torch.{op}: {where}U[{j},{j}] is zero and using it on lu_solve would result in a "
        "division by zero. If you still want to perform the factorization, consider calling "
        "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)"
    )


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False) -> Any:  # noqa: N803
    """``(LU, pivots, info)``: ``A = P L U`` packed as LAPACK's getrf gives it (``L`` below
    the diagonal, ``U`` on and above), 1-based int32 row swaps, and per matrix 0 or the
    1-based index of the first zero on ``U``'s diagonal."""
    _check_lu_input("linalg.lu_factor", A, pivot)
    xp = array_module(A._data)
    host = A._data if xp is np else np.asarray(A._data.get())
    lu, piv, info = _getrf(host)
    if check_errors:
        err = _singular_error("linalg.lu_factor_ex", info)
        if err is not None:
            raise err
    if xp is not np:
        lu, piv, info = xp.asarray(lu), xp.asarray(piv), xp.asarray(info)

    def backward(g: Tensor, gpiv: Any, ginfo: Any) -> tuple:
        return (_lu_backward(g, A),)

    outs = record_multi(
        "LinalgLuFactorExBackward0",
        (lu, piv, info),
        (A,),
        backward,
        differentiable=(True, False, False),
    )
    return LuFactorExResult(*outs)


def lu_factor(A: Tensor, *, pivot: bool = True) -> Any:  # noqa: N803
    """``(LU, pivots)``; a singular ``A`` (a zero on ``U``'s diagonal) is an error."""
    lu, piv, info = lu_factor_ex(A, pivot=pivot)
    err = _singular_error("linalg.lu_factor", info._data)
    if err is not None:
        raise err
    return LuFactorResult(lu, piv)


def lu(A: Tensor, *, pivot: bool = True) -> Any:  # noqa: N803
    """``(P, L, U)`` with ``A = P L U``."""
    _check_lu_input("linalg.lu", A, pivot)
    packed, piv, _ = lu_factor_ex(A)
    P, L, U = lu_unpack(packed, piv)
    return LuResult(P, named(L, "LinalgLuBackward0"), named(U, "LinalgLuBackward0"))


def lu_unpack(
    LU_data: Tensor,  # noqa: N803
    LU_pivots: Tensor,  # noqa: N803
    unpack_data: bool = True,
    unpack_pivots: bool = True,
) -> Any:
    """``(P, L, U)`` from ``lu_factor``'s packed factors and pivots."""
    if LU_pivots._data.dtype != np.int32:
        raise RuntimeError(
            "torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 "
            "dtype.\nNote: this function is intended to be used with the output produced by "
            "torch.linalg.lu_factor"
        )
    m, n = LU_data.shape[-2:]
    empty = _creation.zeros(0, dtype=LU_data.dtype, device=LU_data.device)
    if unpack_data:
        L, U = _lu_parts(LU_data, m, n)
        L, U = named(L, "LuUnpackBackward0"), named(U, "LuUnpackBackward0")
    else:
        L = U = empty
    if not unpack_pivots:
        return LuUnpackResult(empty, L, U)
    xp = array_module(LU_pivots._data)
    piv = LU_pivots._data if xp is np else np.asarray(LU_pivots._data.get())
    if piv.size and (piv.min() < 1 or piv.max() > m):
        raise RuntimeError(
            "pivots passed to lu_unpack must be between 1 and LU.size(-2) inclusive.Did you "
            "properly pass the result of lu_factor?"
        )
    p = _permutation(piv, m, LU_data._data.dtype)
    return LuUnpackResult(Tensor._make(xp.asarray(p)), L, U)


def lu_solve(
    LU: Tensor,  # noqa: N803
    pivots: Tensor,
    B: Tensor,  # noqa: N803
    *,
    left: bool = True,
    adjoint: bool = False,
) -> Tensor:
    """``X`` with ``A X = B`` from ``A``'s LU factors (``A^T``'s with ``adjoint``; ``X A = B``
    when not ``left``)."""
    op = "linalg.lu_solve"
    if LU._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor LU must have at least 2 dimensions.")
    if LU._data.shape[-1] != LU._data.shape[-2]:
        raise RuntimeError(
            f"torch.{op}: A must be batches of square matrices, but they are "
            f"{LU._data.shape[-2]} by {LU._data.shape[-1]} matrices"
        )
    if B._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    n = LU._data.shape[-1]
    if (B._data.shape[-2] if left else B._data.shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation {eq} ({_shape2(LU)} and "
            f"{_shape2(B)})"
        )
    P, L, U = lu_unpack(LU, pivots)
    if left and not adjoint:  # U^-1 L^-1 P^T B
        y = solve_triangular(L, _mT(P) @ B, upper=False, unitriangular=True)
        x = solve_triangular(U, y, upper=True)
    elif left:  # A^T X = B: X = P L^-T U^-T B
        y = solve_triangular(_mT(U), B, upper=False)
        x = P @ solve_triangular(_mT(L), y, upper=True, unitriangular=True)
    elif not adjoint:  # X A = B: X = B U^-1 L^-1 P^T
        y = solve_triangular(U, B, upper=True, left=False)
        x = solve_triangular(L, y, upper=False, left=False, unitriangular=True) @ _mT(P)
    else:  # X A^T = B: X = B P L^-T U^-T
        y = solve_triangular(_mT(L), B @ P, upper=True, left=False, unitriangular=True)
        x = solve_triangular(_mT(U), y, upper=False, left=False)
    return named(x, "LinalgLuSolveBackward0")


def lu_old(A: Tensor, pivot: bool = True, get_infos: bool = False) -> Any:  # noqa: N803
    """The deprecated ``torch.lu``: ``(LU, pivots)`` (and ``infos`` when ``get_infos``)."""
    if get_infos:
        return LuWithInfoResult(*lu_factor_ex(A, pivot=pivot))
    return tuple(lu_factor(A, pivot=pivot))


def lu_solve_old(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:  # noqa: N803
    """The deprecated ``torch.lu_solve(b, LU_data, LU_pivots)``."""
    return lu_solve(LU_data, LU_pivots, b)


# ----------------------------------------------------------------------------- Cholesky
def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:  # noqa: N803
    """``X`` with ``A X = B`` for ``A = L L^T`` (``U^T U`` when ``upper``). The gradient of
    the factor is PyTorch's, as of a full matrix: ``-(gB X^T + X gB^T) L``."""
    if B._data.ndim < 2:
        raise RuntimeError(
            f"b should have at least 2 dimensions, but has {B._data.ndim} dimensions instead"
        )
    if L._data.ndim < 2:
        raise RuntimeError(
            f"u should have at least 2 dimensions, but has {L._data.ndim} dimensions instead"
        )
    if B._data.dtype != L._data.dtype:
        names = [_dtype.SCALAR_NAMES[t._data.dtype.name] for t in (B, L)]
        raise RuntimeError(
            f"Expected b and A to have the same dtype, but found b of type {names[0]} and A of "
            f"type {names[1]} instead."
        )
    n = L._data.shape[-1]
    if L._data.shape[-2] != n or B._data.shape[-2] != n:
        raise RuntimeError(
            f"Incompatible matrix sizes for cholesky_solve: each A matrix is "
            f"{L._data.shape[-2]} by {n} but each b matrix is {B._data.shape[-2]} by "
            f"{B._data.shape[-1]}"
        )
    if L._data.dtype.kind != "f":
        raise not_implemented("cholesky_solve_cpu", L)
    xp = array_module(L._data)
    low = xp.swapaxes(L._data, -1, -2) if upper else L._data
    y = _trsm(low, B._data, False, True, False)
    data = _trsm(xp.swapaxes(low, -1, -2), y, True, True, False)

    def backward(g: Tensor) -> tuple:
        x = cholesky_solve(B, L, upper)
        gb = cholesky_solve(g, L, upper)
        common = gb @ _mT(x)
        common = common + _mT(common)
        return gb, (-(L @ common) if upper else -(common @ L))

    return record_multi("CholeskySolveBackward0", (data,), (B, L), backward)[0]


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:  # noqa: N803
    """``(L L^T)^-1`` (``(U^T U)^-1`` when ``upper``); PyTorch's gradient,
    ``-(A^-1 (g + g^T) A^-1) L``."""
    _square("cholesky_inverse", L)
    if L._data.dtype.kind != "f":
        raise not_implemented("cholesky_inverse_out_cpu", L)
    n = L._data.shape[-1]
    xp = array_module(L._data)
    eye = xp.broadcast_to(xp.eye(n, dtype=L._data.dtype), L._data.shape)
    low = xp.swapaxes(L._data, -1, -2) if upper else L._data
    y = _trsm(low, eye, False, True, False)
    data = _trsm(xp.swapaxes(low, -1, -2), y, True, True, False)

    def backward(g: Tensor) -> tuple:
        inv = cholesky_inverse(L, upper)
        common = inv @ (g + _mT(g)) @ inv
        return (-(L @ common) if upper else -(common @ L),)

    return record_multi("CholeskyInverseBackward0", (data,), (L,), backward)[0]


# ----------------------------------------------------------------------------- LDL^T
LdlFactorResult = return_type("linalg_ldl_factor", ("LD", "pivots"))
LdlFactorExResult = return_type("linalg_ldl_factor_ex", ("LD", "pivots", "info"))


def _host(t: Tensor) -> Any:
    return t._data if array_module(t._data) is np else np.asarray(t._data.get())


def ldl_factor_ex(
    A: Tensor,  # noqa: N803
    *,
    hermitian: bool = False,
    check_errors: bool = False,
) -> Any:
    """``(LD, pivots, info)``: LAPACK sytrf's Bunch-Kaufman factorisation of symmetric ``A``
    (read from its lower triangle). Not differentiable, as in PyTorch."""
    _square("torch.linalg.ldl_factor_ex", A)
    if A._data.dtype.kind != "f":
        raise not_implemented("linalg_ldl_factor_ex_cpu", A)
    from scipy.linalg import get_lapack_funcs

    sytrf = get_lapack_funcs("sytrf", dtype=A._data.dtype)
    n = A._data.shape[-1]

    def one(am: Any) -> tuple:
        ld, piv, info = sytrf(am, lower=1)
        return np.tril(ld), piv, info

    ld, piv, info = _batched(
        one, (_host(A),), ((n, n), (1, n), (1, 1)), (A._data.dtype, np.int32, np.int32)
    )
    piv, info = piv.reshape(piv.shape[:-2] + (n,)), info.reshape(info.shape[:-2])
    if check_errors and (info != 0).any():
        raise RuntimeError(
            "torch.linalg.ldl_factor_ex: The factorization could not be completed because the "
            "input is not positive-definite (the leading minor of order "
            f"{int(info.reshape(-1)[np.flatnonzero(info.reshape(-1))[0]])} is not "
            "positive-definite)."
        )
    xp = array_module(A._data)
    return LdlFactorExResult(*(Tensor._make(xp.asarray(a)) for a in (ld, piv, info)))


def ldl_factor(A: Tensor, *, hermitian: bool = False) -> Any:  # noqa: N803
    ld, piv, _ = ldl_factor_ex(A, hermitian=hermitian)
    return LdlFactorResult(ld, piv)


def ldl_solve(
    LD: Tensor,  # noqa: N803
    pivots: Tensor,
    B: Tensor,  # noqa: N803
    *,
    hermitian: bool = False,
) -> Tensor:
    """``X`` with ``A X = B`` from ``ldl_factor``'s result (LAPACK sytrs)."""
    _square("torch.linalg.ldl_solve", LD, "LD")
    if B._data.ndim < 2:
        raise RuntimeError(
            "torch.linalg.ldl_solve: Expected B to have at least 2 dimensions, but it has "
            f"{B._data.ndim} dimensions instead"
        )
    from scipy.linalg import get_lapack_funcs

    sytrs = get_lapack_funcs("sytrs", dtype=LD._data.dtype)
    piv = _host(pivots)
    ld = _host(LD)
    b = _host(B).astype(ld.dtype, copy=False)
    batch = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    ld = np.broadcast_to(ld, batch + ld.shape[-2:])
    piv = np.broadcast_to(piv, batch + piv.shape[-1:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + b.shape[-2:], ld.dtype)
    for idx in np.ndindex(*batch):
        out[idx] = sytrs(ld[idx], piv[idx], b[idx], lower=1)[0]
    return Tensor._make(array_module(LD._data).asarray(out))


def _triangular_solve_method(
    self: Tensor,
    A: Tensor,
    upper: bool = True,
    transpose: bool = False,
    unitriangular: bool = False,
) -> Any:  # noqa: N803
    return triangular_solve(self, A, upper, transpose, unitriangular)


def _lu_method(self: Tensor, pivot: bool = True, get_infos: bool = False) -> Any:
    return lu_old(self, pivot, get_infos)


for _name, _fn in (
    ("cholesky_solve", cholesky_solve),
    ("cholesky_inverse", cholesky_inverse),
    ("triangular_solve", _triangular_solve_method),
    ("lu", _lu_method),
    ("lu_solve", lu_solve_old),
):
    bind(_name, _fn)

__all__ = [
    "cholesky_inverse",
    "cholesky_solve",
    "lu_unpack",
    "triangular_solve",
]
