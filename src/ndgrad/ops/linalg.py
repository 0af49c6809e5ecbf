"""Matrix products: matmul and its fixed-rank forms (mm, mv, dot, bmm, outer, addmm)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import STATE
from ndgrad.ops._common import operands, record_tensor


def _shape_str(shape: tuple) -> str:
    return "x".join(str(s) for s in shape) if shape else "scalar"


def _check_dtypes(op: str, a: Tensor, b: Tensor) -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"{op}(): expected both arguments to have the same dtype, but got: "
            f"{a.dtype} != {b.dtype}"
        )
    if a._data.dtype.kind == "b":
        raise RuntimeError(f"{op}(): not implemented for 'Bool' tensors")


def matmul(a: Tensor, b: Tensor) -> Tensor:
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"matmul(): argument must be Tensor, got {type(a).__name__} and {type(b).__name__}"
        )
    _check_dtypes("matmul", a, b)
    na, nb = a._data.ndim, b._data.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(
            f"matmul(): both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
        )
    ka = a._data.shape[-1]
    kb = b._data.shape[-2] if nb >= 2 else b._data.shape[0]
    if ka != kb:
        if na == 1 and nb == 1:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{ka}] and src [{kb}] to have the "
                "same number of elements, but got {ka} and {kb} elements respectively"
            )
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(a._data.shape[-2:] if na > 1 else (1, ka))} "
            f"and {_shape_str(b._data.shape[-2:] if nb > 1 else (kb, 1))})"
        )
    try:
        data = array_module(a._data).matmul(a._data, b._data)
    except ValueError:
        raise RuntimeError(
            f"matmul(): batch dimensions of {list(a.shape)} and {list(b.shape)} cannot be broadcast"
        ) from None

    def backward(g: Tensor) -> tuple:
        ga = gb = None
        if na == 1 and nb == 1:
            return (g * b if a._requires_grad else None, g * a if b._requires_grad else None)
        if na == 1:
            if a._requires_grad:
                ga = (g.unsqueeze(-2) @ b.mT).squeeze(-2)
            if b._requires_grad:
                gb = a.unsqueeze(-1) * g.unsqueeze(-2)
        elif nb == 1:
            if a._requires_grad:
                ga = g.unsqueeze(-1) * b
            if b._requires_grad:
                gb = (a.mT @ g.unsqueeze(-1)).squeeze(-1)
        elif na == 2 and nb == 2 and not STATE.enabled:  # first order: the products in NumPy
            gd = g._data
            ga = Tensor._make(gd @ b._data.T) if a._requires_grad else None
            gb = Tensor._make(a._data.T @ gd) if b._requires_grad else None
        else:
            if a._requires_grad:
                ga = g @ b.mT
            if b._requires_grad:
                gb = a.mT @ g
        return ga, gb

    if na == 2 and nb == 2:
        name = "MmBackward0"
    elif nb == 1 and na == 2:
        name = "MvBackward0"
    elif na == 1 and nb == 1:
        name = "DotBackward0"
    else:
        name = "MatmulBackward0" if na > 2 or nb > 2 else "MmBackward0"
    return record_tensor(name, data, (a, b), backward, (a, b))


def _require_dims(op: str, t: Tensor, ndim: int, what: str) -> None:
    if t._data.ndim != ndim:
        raise RuntimeError(
            f"{op}(): {what} must be a {ndim}D tensor, got {t._data.ndim}D of shape {list(t.shape)}"
        )


def mm(a: Tensor, b: Tensor) -> Tensor:
    _require_dims("mm", a, 2, "self")
    _require_dims("mm", b, 2, "mat2")
    return matmul(a, b)


def mv(a: Tensor, v: Tensor) -> Tensor:
    _require_dims("mv", a, 2, "matrix")
    _require_dims("mv", v, 1, "vector")
    if a._data.shape[1] != v._data.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({a._data.shape[0]}), mat ({_shape_str(a._data.shape)}), "
            f"vec ({v._data.shape[0]})"
        )
    return matmul(a, v)


def dot(a: Tensor, b: Tensor) -> Tensor:
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {a._data.ndim}D and {b._data.ndim}D tensors"
        )
    if a._data.shape[0] != b._data.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{a._data.shape[0]}] and src "
            f"[{b._data.shape[0]}] to have the same number of elements, but got "
            f"{a._data.shape[0]} and {b._data.shape[0]} elements respectively"
        )
    _check_dtypes("dot", a, b)
    return matmul(a, b)


inner = dot


def vdot(a: Tensor, b: Tensor) -> Tensor:
    return dot(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    _require_dims("bmm", a, 3, "batch1")
    _require_dims("bmm", b, 3, "batch2")
    if a._data.shape[0] != b._data.shape[0]:
        raise RuntimeError(
            f"bmm(): batch1 and batch2 must have the same batch size, got {a._data.shape[0]} and "
            f"{b._data.shape[0]}"
        )
    return matmul(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(f"outer(): expected 1D tensors, got {list(a.shape)} and {list(b.shape)}")
    a, b = operands(a, b, "outer")
    return a.unsqueeze(1) * b.unsqueeze(0)


ger = outer


def addmm(
    input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1
) -> Tensor:  # noqa: A002
    _require_dims("addmm", mat1, 2, "mat1")
    _require_dims("addmm", mat2, 2, "mat2")
    prod = matmul(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod + input * 0
    return prod + (input if beta == 1 else input * beta)


def _linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor | None:  # noqa: A002
    """``input @ weight.T + bias`` for a 2-D input as one op (PyTorch's addmm), else None.

    One BLAS call with the bias added in place, and one node whose backward is the three
    products ``g @ W``, ``g.T @ x`` and ``g.sum(0)``, instead of transpose, matmul, add and
    the engine's broadcast reduction of the bias gradient. ``nn.functional.linear`` uses it
    and keeps the general composite for every other case (None tells it to).
    """
    x, w = input._data, weight._data
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1] or x.dtype != w.dtype:
        return None
    if x.dtype.kind != "f":
        return None
    if bias is not None and (bias._data.shape != (w.shape[0],) or bias._data.dtype != x.dtype):
        return None
    data = x @ w.T
    if bias is not None:
        data += bias._data

    def backward(g: Tensor) -> tuple:
        if STATE.enabled:  # create_graph: the same formulas as differentiable ops
            gx = g @ weight if input._requires_grad else None
            gw = g.t() @ input if weight._requires_grad else None
        else:
            gd = g._data
            gx = Tensor._make(gd @ weight._data) if input._requires_grad else None
            gw = None
            if weight._requires_grad:
                # g.T @ x, C-ordered like the weight. With few outputs BLAS is faster on the
                # product with the long side outer, (x.T @ g).T, even with its transposed copy
                # (OpenBLAS, 256 x 784 input: 10 outputs 81 -> 61 us; from 32 on no gain).
                if gd.shape[1] < 32:
                    xp = array_module(gd)
                    gw = Tensor._make(xp.ascontiguousarray((input._data.T @ gd).T))
                else:
                    gw = Tensor._make(gd.T @ input._data)
            if bias is None:
                return gx, gw
            if not bias._requires_grad:
                return gx, gw, None
            xp = array_module(gd)
            # np.add.reduce is np.sum without its argument handling (about 1 us)
            return gx, gw, Tensor._make((np.add.reduce if xp is np else xp.sum)(gd, axis=0))
        if bias is None:
            return gx, gw
        return gx, gw, g.sum(0) if bias._requires_grad else None

    if bias is None:
        return record_tensor("MmBackward0", data, (input, weight), backward, (input, weight))
    return record_tensor("AddmmBackward0", data, (input, weight, bias), backward, (input, weight))


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:  # noqa: A002
    return input * beta + mv(mat, vec) * alpha


def baddbmm(input: Tensor, b1: Tensor, b2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:  # noqa: A002
    return input * beta + bmm(b1, b2) * alpha


def einsum(equation: str, *operands_: Any) -> Tensor:
    """Einstein summation on two operands or fewer, differentiable via matmul-free rules."""
    if len(operands_) == 1 and isinstance(operands_[0], (list, tuple)):
        operands_ = tuple(operands_[0])
    tensors = list(operands_)
    lhs, _, rhs = equation.replace(" ", "").partition("->")
    specs = lhs.split(",")
    if len(specs) != len(tensors):
        raise RuntimeError(
            f"einsum(): {len(specs)} operands in the equation but {len(tensors)} given"
        )
    if not _:
        letters = sorted(
            set("".join(specs)) - {c for c in "".join(specs) if "".join(specs).count(c) > 1}
        )
        rhs = "".join(letters)
    try:
        xp = array_module(tensors[0]._data)
        data = xp.einsum(f"{lhs}->{rhs}", *[t._data for t in tensors])
    except ValueError as exc:
        raise RuntimeError(f"einsum(): {exc} (shapes {[list(t.shape) for t in tensors]})") from None

    def backward(g: Tensor) -> tuple:
        grads = []
        for i, t in enumerate(tensors):
            if not t._requires_grad:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(specs) if j != i]
            sub = ",".join([rhs, *others]) + "->" + specs[i]
            # Letters of the input that appear nowhere else are broadcast back.
            missing = [c for c in specs[i] if c not in rhs and all(c not in o for o in others)]
            if missing:
                reduced = "".join(c for c in specs[i] if c not in missing)
                sub = ",".join([rhs, *others]) + "->" + reduced
                gi = einsum(sub, g, *[tensors[j] for j in range(len(tensors)) if j != i])
                shape = [t.shape[k] if c in missing else 1 for k, c in enumerate(specs[i])]
                view = [1 if c in missing else t.shape[k] for k, c in enumerate(specs[i])]
                grads.append(gi.reshape(view).expand([max(a, b) for a, b in zip(shape, view)]))
            else:
                grads.append(einsum(sub, g, *[tensors[j] for j in range(len(tensors)) if j != i]))
        return tuple(grads)

    return record_tensor("EinsumBackward0", data, tuple(tensors), backward, tuple(tensors))


def _require_square(op: str, x: Tensor) -> None:
    if x._data.ndim < 2 or x._data.shape[-1] != x._data.shape[-2]:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are "
            f"{'x'.join(str(s) for s in x._data.shape[-2:])} matrices"
            if x._data.ndim >= 2
            else f"{op}: The input tensor A must have at least 2 dimensions."
        )
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point tensor as input. Got {x.dtype}")


def inverse(x: Tensor) -> Tensor:
    """Inverse of a (batch of) square matrices; d(A⁻¹) = -A⁻¹ dA A⁻¹."""
    _require_square("linalg.inv", x)
    try:
        data = array_module(x._data).linalg.inv(x._data)
    except np.linalg.LinAlgError:
        raise RuntimeError(
            "linalg.inv: The input matrix is singular, the inversion could not be completed"
        ) from None
    out = record_tensor("LinalgInvExBackward0", data, (x,), lambda g: (-(out.mT @ g @ out.mT),), ())
    return out


def det(x: Tensor) -> Tensor:
    """Determinant; its gradient is det(A) A⁻ᵀ (Jacobi's formula, invertible A)."""
    _require_square("linalg.det", x)
    xp = array_module(x._data)
    data = xp.asarray(xp.linalg.det(x._data), dtype=x._data.dtype)

    def backward(g: Tensor) -> tuple:
        scale = (g * out).unsqueeze(-1).unsqueeze(-1)
        return (scale * inverse(x).mT,)

    out = record_tensor("LinalgDetBackward0", data, (x,), backward, (x,))
    return out


def trace(x: Tensor) -> Tensor:
    """Sum of the diagonal of a matrix (composite: diagonal, then sum)."""
    if x._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x._data.ndim}")
    return x.diagonal().sum()
