"""Matrix decompositions and solvers (``torch.linalg``): ``solve``, ``cholesky``, ``eigh``,
``svd``, ``qr``, ``slogdet``, with PyTorch's gradients to any order.

Each op computes with NumPy's LAPACK (the routines PyTorch's CPU build calls, so the same
signs of eigen/singular vectors) and records a backward written with Tensors: it re-runs the
decomposition of the saved input through these same ops, so under ``create_graph`` the
gradient is itself differentiable. The formulas are the standard ones PyTorch uses for real
inputs (its ``FunctionsManual``): eigenvector and singular-vector gradients divide by
differences of eigenvalues (squared singular values), which is defined only where those are
distinct, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _creation, _dtype
from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.autograd.graph import record_multi
from ndgrad.ops._common import bind, record, return_type
from ndgrad.ops.linalg import _LinAlgError, _require_square, inverse
from ndgrad.ops.pointwise import where
from ndgrad.ops.shape import diag_embed

EighResult = return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
SvdResult = return_type("linalg_svd", ("U", "S", "Vh"))
QrResult = return_type("linalg_qr", ("Q", "R"))
SlogdetResult = return_type("linalg_slogdet", ("sign", "logabsdet"))
CholeskyExResult = return_type("linalg_cholesky_ex", ("L", "info"))
InvExResult = return_type("linalg_inv_ex", ("inverse", "info"))


def _require_float(op: str, x: Tensor) -> None:
    if x._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if x._data.dtype.kind != "f":
        raise _dtype.not_floating(op, x._data.dtype)


def _mT(t: Tensor) -> Tensor:
    return t.transpose(-1, -2)


def _eye_like(t: Tensor, n: int) -> Tensor:
    return _creation.eye(n, dtype=t.dtype)


def _zero_if_none(g: Any, like: Tensor) -> Tensor:
    return _creation.zeros_like(like) if g is None else g


# ----------------------------------------------------------------------------- solve
def solve(a: Tensor, b: Tensor, *, left: bool = True) -> Tensor:
    """``X`` with ``A X = B`` (``X A = B`` when ``left=False``); ``B`` a matrix or a vector."""
    _require_square("linalg.solve", a)
    if not left:
        return _mT(solve(_mT(a), _mT(b)))
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{a.dtype} and B of type {b.dtype} instead"
        )
    vector = b._data.ndim == 1 or (
        b._data.ndim == a._data.ndim - 1 and b._data.shape == a._data.shape[:-1]
    )
    bm = b.unsqueeze(-1) if vector else b
    if bm._data.shape[-2] != a._data.shape[-1]:
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
            f"({a._data.shape[-2]}x{a._data.shape[-1]} and "
            f"{bm._data.shape[-2]}x{bm._data.shape[-1]})"
        )
    xp = array_module(a._data)
    try:
        data = xp.linalg.solve(a._data, bm._data)
    except np.linalg.LinAlgError:
        raise _LinAlgError(
            "linalg.solve: The solver failed because the input matrix is singular."
        ) from None

    def rule(xp: Any, g: Any, a: Any, x: Any) -> tuple:
        gb = xp.matmul(xp.swapaxes(xp.inv(a), -1, -2), g)
        return -xp.matmul(gb, xp.swapaxes(x, -1, -2)), gb

    out = record("LinalgSolveExBackward0", data, (a, bm), rule, (a,), save_output=True)
    return out.squeeze(-1) if vector else out


# ----------------------------------------------------------------------------- cholesky
def cholesky(a: Tensor, *, upper: bool = False) -> Tensor:
    """The lower-triangular ``L`` with ``A = L L^T`` (or ``U = L^T`` when ``upper``)."""
    _require_square("linalg.cholesky", a)
    try:
        low = array_module(a._data).linalg.cholesky(a._data)
    except np.linalg.LinAlgError:
        raise _LinAlgError(
            "linalg.cholesky: The factorization could not be completed because the input is "
            "not positive-definite."
        ) from None

    def rule(xp: Any, g: Any, low: Any) -> tuple:
        # A = L L^T: gA = L^-T phi(L^T gL) L^-1, symmetrised; phi keeps the lower triangle
        # with the diagonal halved.
        inv = xp.inv(low)
        m = xp.matmul(xp.swapaxes(low, -1, -2), g)
        phi = 0.5 * (xp.tril(m) + xp.tril(m, -1))
        ga = xp.matmul(xp.matmul(xp.swapaxes(inv, -1, -2), phi), inv)
        return (0.5 * (ga + xp.swapaxes(ga, -1, -2)),)

    out = record("LinalgCholeskyExBackward0", low, (a,), rule, save_output=True)
    return _mT(out) if upper else out


def _with_info(result_type: type, compute: Any, a: Tensor, check_errors: bool) -> Any:
    """The ``*_ex`` form: ``(result, info)``; a failure gives NaNs and info 1 unless
    ``check_errors``."""
    try:
        result = compute()
    except _LinAlgError:
        if check_errors:
            raise
        nan = _creation.full(a.shape, float("nan"), dtype=a.dtype)
        return result_type(nan, _creation.ones(a.shape[:-2], dtype=_dtype.int32))
    return result_type(result, _creation.zeros(a.shape[:-2], dtype=_dtype.int32))


def cholesky_ex(a: Tensor, *, upper: bool = False, check_errors: bool = False) -> Any:
    return _with_info(CholeskyExResult, lambda: cholesky(a, upper=upper), a, check_errors)


def inv_ex(a: Tensor, *, check_errors: bool = False) -> Any:
    return _with_info(InvExResult, lambda: inverse(a), a, check_errors)


# ----------------------------------------------------------------------------- eigh
def eigh(a: Tensor, UPLO: str = "L") -> Any:  # noqa: N803 - PyTorch's name
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric ``A`` (read from its
    lower triangle, or the upper with ``UPLO='U'``)."""
    _require_square("linalg.eigh", a)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    w, v = array_module(a._data).linalg.eigh(a._data, UPLO=UPLO)

    def backward(gw: Any, gv: Any) -> tuple:
        values, vectors = eigh(a, UPLO)
        gw = _zero_if_none(gw, values)
        inner = diag_embed(gw)
        if gv is not None:
            vtg = _mT(vectors) @ gv
            diff = values.unsqueeze(-2) - values.unsqueeze(-1)  # w_j - w_i
            eye = _eye_like(values, values.shape[-1])
            f = (1 - eye) / (diff + eye)
            # only the skew-symmetric part of V^T gV moves orthonormal eigenvectors
            inner = inner + f * (0.5 * (vtg - _mT(vtg)))
        return (vectors @ inner @ _mT(vectors),)

    outs = record_multi("LinalgEighBackward0", (w, v), (a,), backward)
    return EighResult(*outs)


def eigvalsh(a: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    return eigh(a, UPLO).eigenvalues


# ----------------------------------------------------------------------------- svd
def svd(a: Tensor, full_matrices: bool = True) -> Any:
    """``A = U diag(S) Vh`` (singular values descending). Gradients are defined for the
    reduced factors (``full_matrices=False``), as in PyTorch."""
    _require_float("linalg.svd", a)
    xp = array_module(a._data)
    u, s, vh = xp.linalg.svd(a._data, full_matrices=full_matrices)

    def backward(gu: Any, gs: Any, gvh: Any) -> tuple:
        if full_matrices and (gu is not None or gvh is not None):
            m, n = a.shape[-2:]
            if m != n:
                raise NotImplementedError(
                    "svd_backward: Setting full_matrices=True in backward is not supported. "
                    "Use torch.linalg.svd(A, full_matrices=False)`."
                )
        U, S, Vh = svd(a, full_matrices=False)
        V = _mT(Vh)
        k = S.shape[-1]
        if gu is not None:
            gu = gu[..., :k]
        if gvh is not None:
            gvh = gvh[..., :k, :]
        gs = _zero_if_none(gs, S)
        inner = diag_embed(gs)
        eye = _eye_like(S, k)
        s2 = S * S
        f = (1 - eye) / (s2.unsqueeze(-2) - s2.unsqueeze(-1) + eye)  # 1 / (s_j^2 - s_i^2)
        smat = diag_embed(S)
        result = None
        if gu is not None:
            utg = _mT(U) @ gu
            inner = inner + (f * (utg - _mT(utg))) @ smat
            # the part of gU outside the span of U
            rest = (gu - U @ utg) / S.unsqueeze(-2)
            result = rest @ Vh
        if gvh is not None:
            gv = _mT(gvh)
            vtg = _mT(V) @ gv
            inner = inner + smat @ (f * (vtg - _mT(vtg)))
            rest = (gv - V @ vtg) / S.unsqueeze(-2)
            extra = U @ _mT(rest)
            result = extra if result is None else result + extra
        core = U @ inner @ Vh
        return (core if result is None else core + result,)

    outs = record_multi("LinalgSvdBackward0", (u, s, vh), (a,), backward)
    return SvdResult(*outs)


def svdvals(a: Tensor) -> Tensor:
    return svd(a, full_matrices=False).S


# ----------------------------------------------------------------------------- qr
def qr(a: Tensor, mode: str = "reduced") -> Any:
    """``A = Q R`` (``mode`` 'reduced', 'complete' or 'r'); gradients for 'reduced' with
    ``m >= n`` (and square 'complete'), as in PyTorch."""
    _require_float("linalg.qr", a)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    xp = array_module(a._data)
    q, r = xp.linalg.qr(a._data, mode="complete" if mode == "complete" else "reduced")
    if mode == "r":
        q = xp.empty((0,), a._data.dtype)
        return QrResult(_creation.tensor(q), qr(a, "reduced").R)

    def backward(gq: Any, gr: Any) -> tuple:
        m, n = a.shape[-2:]
        if mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        if m < n:
            raise NotImplementedError(
                "linalg.qr: ndgrad differentiates the QR decomposition of tall or square "
                f"matrices only (got {m}x{n})"
            )
        Q, R = qr(a, "reduced")
        gq = _zero_if_none(gq, Q)
        gr = _zero_if_none(gr, R)
        mm = R @ _mT(gr) - _mT(gq) @ Q
        low = mm.tril(-1)
        sym = low + _mT(low) + mm * _eye_like(mm, mm.shape[-1])
        return ((gq + Q @ sym) @ _mT(inverse(R)),)

    outs = record_multi("LinalgQrBackward0", (q, r), (a,), backward)
    return QrResult(*outs)


# ----------------------------------------------------------------------------- slogdet
def slogdet(a: Tensor) -> Any:
    """``(sign, log|det A|)``; the log's gradient is ``A^-T``."""
    _require_square("linalg.slogdet", a)
    sign, logabs = array_module(a._data).linalg.slogdet(a._data)
    sign = np.asarray(sign, a._data.dtype)
    logabs = np.asarray(logabs, a._data.dtype)

    def backward(gsign: Any, glog: Any) -> tuple:
        if glog is None:
            return (None,)
        return (glog.unsqueeze(-1).unsqueeze(-1) * _mT(inverse(a)),)

    outs = record_multi(
        "LinalgSlogdetBackward0", (sign, logabs), (a,), backward, differentiable=(False, True)
    )
    return SlogdetResult(*outs)


# ----------------------------------------------------------------------------- built on them
LstsqResult = return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
OldSvdResult = return_type("svd", ("U", "S", "V"))


def matrix_power(a: Tensor, n: int) -> Tensor:
    """``A`` multiplied by itself ``n`` times (the inverse's power for ``n < 0``, the
    identity for 0), by repeated squaring."""
    if a._data.ndim < 2 or a._data.shape[-1] != a._data.shape[-2]:
        raise RuntimeError(
            "linalg.matrix_power: A must be batches of square matrices, but they are "
            f"{'x'.join(map(str, a._data.shape[-2:]))} matrices"
        )
    if n == 0:
        eye = _creation.eye(a.shape[-1], dtype=a.dtype)
        return eye.expand(a.shape).clone()
    base = inverse(a) if n < 0 else a
    n = abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def multi_dot(tensors: Any) -> Tensor:
    """The product of a chain of matrices (the first may be a row vector, the last a column
    vector, as 1-D tensors)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vec, last_vec = tensors[0].dim() == 1, tensors[-1].dim() == 1
    if first_vec:
        tensors[0] = tensors[0].unsqueeze(0)
    if last_vec:
        tensors[-1] = tensors[-1].unsqueeze(-1)
    for i, t in enumerate(tensors):
        if t.dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    out = tensors[0]
    for t in tensors[1:]:
        out = out @ t
    if first_vec:
        out = out.squeeze(0)
    if last_vec:
        out = out.squeeze(-1)
    return out


def _cutoff(s: Tensor, shape: tuple, atol: Any, rtol: Any) -> Any:
    smax = s.detach().amax(-1, keepdim=True) if s.shape[-1] else s.detach()
    if rtol is None:
        eps = np.finfo(s._data.dtype).eps
        rtol = 0.0 if atol is not None and atol > 0 else max(shape[-2:]) * eps
    tol = smax * rtol
    if atol is not None:
        tol = tol.clamp_min(atol)
    return tol


def matrix_rank(
    a: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False, tol: Any = None
) -> Tensor:
    """The number of singular values above the tolerance (PyTorch's defaults)."""
    if tol is not None:
        atol, rtol = tol, 0.0
    s = svdvals(a.detach())
    return (s > _cutoff(s, a.shape, atol, rtol)).sum(-1)


def pinv(
    a: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False, rcond: Any = None
) -> Tensor:
    """The Moore-Penrose pseudo-inverse: ``V diag(1/s) U^T`` over the singular values above
    the tolerance."""
    if rcond is not None:
        rtol = rcond
    u, s, vh = svd(a, full_matrices=False)
    keep = s > _cutoff(s, a.shape, atol, rtol)
    safe = where(keep, s, 1.0)
    s_inv = where(keep, 1.0 / safe, 0.0)
    return (_mT(vh) * s_inv.unsqueeze(-2)) @ _mT(u)


def lstsq(a: Tensor, b: Tensor, rcond: Any = None, *, driver: str | None = None) -> Any:
    """The least-squares solution of ``A X = B`` (through the pseudo-inverse). As PyTorch's
    default CPU driver ('gelsy'), the residuals and singular values come back empty."""

    vector = b.dim() == a.dim() - 1
    bm = b.unsqueeze(-1) if vector else b
    solution = pinv(a, rtol=rcond) @ bm
    if vector:
        solution = solution.squeeze(-1)
    empty = _creation.zeros(0, dtype=a.dtype)
    return LstsqResult(solution, empty, matrix_rank(a, rtol=rcond), empty)


def svd_old(a: Tensor, some: bool = True, compute_uv: bool = True) -> Any:
    """``torch.svd``: ``(U, S, V)`` with ``V`` (not ``Vh``)."""
    u, s, vh = svd(a, full_matrices=not some)
    return OldSvdResult(u, s, _mT(vh))


def logdet(a: Tensor) -> Tensor:
    """``log det A``: nan for a negative determinant, -inf for a zero one."""
    sign, logabs = slogdet(a)
    return where(sign < 0, float("nan"), where(sign == 0, -float("inf"), logabs))


def pinverse(a: Tensor, rcond: float = 1e-15) -> Tensor:
    """``torch.pinverse``: ``linalg.pinv`` with a relative cutoff ``rcond``."""
    return pinv(a, rtol=rcond)


def qr_old(a: Tensor, some: bool = True) -> Any:
    """``torch.qr``: reduced (``some=True``) or complete factors."""
    return qr(a, "reduced" if some else "complete")


def cholesky_old(a: Tensor, upper: bool = False) -> Tensor:
    """``torch.cholesky`` (PyTorch's deprecated spelling of ``linalg.cholesky``)."""
    return cholesky(a, upper=upper)


for _name, _fn in (
    ("svd", svd_old),
    ("qr", qr_old),
    ("cholesky", cholesky_old),
    ("slogdet", slogdet),
    ("logdet", logdet),
    ("pinverse", pinverse),
    ("matrix_power", matrix_power),
):
    bind(_name, _fn)
