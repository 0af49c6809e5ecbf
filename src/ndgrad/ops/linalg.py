"""Matrix products and linear algebra: matmul and its fixed-rank forms, addmm (and
``nn.functional.linear``), addmv, baddbmm, einsum, inverse, det, trace.

The gradient of a product ``a @ b`` is written once (:func:`_matmul_grads`): ``g @ b.mT``
for ``a`` and ``a.mT @ g`` for ``b`` (PyTorch's ``mm_mat1_backward`` / ``mm_mat2_backward``),
vectors taken as one-row or one-column matrices, batch broadcasting summed by the engine.
matmul, mm, mv, dot and bmm are one op; addmm, addmv, baddbmm and the 2-D
``linear`` are one more (``beta * input + alpha * (mat1 @ mat2)``), whose rule reuses it.
As in PyTorch, each operand is saved only when the other one's gradient needs it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ndgrad import _dtype, _parallel
from ndgrad._backend import array_module, same_device
from ndgrad._tensor import Tensor
from ndgrad.ops._common import as_tensor, bind, method, named, not_implemented, operands, record
from ndgrad.ops.inplace import variant


class _LinAlgError(RuntimeError):  # noqa: N818 - PyTorch's name (torch._C._LinAlgError)
    """``torch.linalg.LinAlgError``: a singular (or otherwise failed) matrix, a RuntimeError."""


def _shape_str(shape: tuple) -> str:
    return "x".join(str(s) for s in shape) if shape else "scalar"


def _check_dtypes(op: str, a: Tensor, b: Tensor) -> None:
    if type(a._data) is not type(b._data):
        same_device(op, a._data, b._data)
    if a._data.dtype != b._data.dtype:
        # PyTorch's text (what people paste into forums), led by the op's name
        names = [_dtype.SCALAR_NAMES[t._data.dtype.name] for t in (a, b)]
        if (
            op == "bmm"
            or max(a._data.ndim, b._data.ndim) > 2
            and min(a._data.ndim, b._data.ndim) > 2
        ):
            detail = f"expected scalar type {names[0]} but found {names[1]}"
        else:
            detail = f"expected m1 and m2 to have the same dtype, but got: {names[0].lower()} != {names[1].lower()}"
        raise RuntimeError(f"{op}(): {detail}")
    if a._data.dtype.kind == "b":  # no bool kernel: PyTorch names the one it dispatched to
        na, nb = a._data.ndim, b._data.ndim
        if op == "dot" or na == nb == 1:
            kernel = "dot"
        elif op == "bmm" or max(na, nb) > 2:
            kernel = "bmm"
        else:
            kernel = "addmv_impl_cpu" if nb == 1 else "addmm_impl_cpu_"
        raise not_implemented(kernel, a)


# ----------------------------------------------------------------------------- rules
def _mT(xp: Any, x: Any) -> Any:
    """The matrices of ``x`` transposed (a view; ``.T`` for a plain matrix)."""
    return x.T if x.ndim == 2 else xp.swapaxes(x, -1, -2)


def _mat2_grad(xp: Any, g: Any, mat1: Any, column_major: bool) -> Any:
    """``mat1.mT @ g``, the gradient of ``mat2`` in ``mat1 @ mat2`` (``mm_mat2_backward``).

    A column-major ``mat2`` (linear's ``weight.T``) gets a column-major gradient, as in
    PyTorch: ``(g.mT @ mat1).mT``, so that the weight's gradient is row-major like the
    weight (an optimizer step on mixed layouts is several times slower). With fewer than 32
    columns BLAS is faster with the long side outer (256 x 784 input, 10 outputs: 75 -> 55
    us), and the few rows of the weight's gradient make its layout cheap.
    """
    if column_major and g.shape[-1] >= 32:
        return _mT(xp, xp.matmul(_mT(xp, g), mat1))
    return xp.matmul(_mT(xp, mat1), g)


def _matmul_grads(
    xp: Any, g: Any, a: Any, b: Any, vec_a: bool, vec_b: bool, b_column_major: bool = False
) -> tuple:
    """The gradients of ``a @ b`` (matmul's rules for 1-D operands and batches) from ``g``.

    ``a``'s gradient reads ``b`` and ``b``'s reads ``a``: pass None for an operand that was
    not saved, and that gradient is None. A vector ``a`` is the row ``(1, k)`` and a vector
    ``b`` the column ``(k, 1)``; the engine sums gradients over broadcast batch dims.
    """
    if vec_a and vec_b:  # dot
        return (None if b is None else g * b, None if a is None else g * a)
    if vec_a:
        g = xp.expand_dims(g, -2)
        if a is not None:
            a = xp.expand_dims(a, 0)
    elif vec_b:
        g = xp.expand_dims(g, -1)
        if b is not None:
            b = xp.expand_dims(b, -1)
    ga = None if b is None else xp.matmul(g, _mT(xp, b))  # mm_mat1_backward
    gb = None if a is None else _mat2_grad(xp, g, a, b_column_major)
    if vec_a and ga is not None:
        ga = xp.squeeze(ga, -2)
    if vec_b and gb is not None:
        gb = xp.squeeze(gb, -1)
    return ga, gb


@lru_cache(maxsize=512)
def _product_rule(
    has_input: bool,
    need1: bool,
    need2: bool,
    beta: float = 1,
    alpha: float = 1,
    vec_a: bool = False,
    vec_b: bool = False,
    transposed: bool = False,
) -> Any:
    """The rule of ``beta * input + alpha * (mat1 @ mat2)`` (``input`` absent: matmul).

    ``saved`` is ``(mat1,)`` when only mat2 needs a gradient, ``(mat2,)`` when only mat1
    does, else both. ``transposed``: the op was given ``mat2.T`` (linear's weight), and gets
    its gradient transposed back.
    """

    def rule(xp: Any, g: Any, *saved: Any) -> tuple:
        m1 = saved[0] if need2 else None
        m2 = saved[-1] if need1 else None
        if transposed and m2 is not None:
            m2 = m2.T
        g1, g2 = _matmul_grads(xp, g, m1, m2, vec_a, vec_b, transposed)
        if alpha != 1:
            g1 = None if g1 is None else g1 * alpha
            g2 = None if g2 is None else g2 * alpha
        if transposed and g2 is not None:
            g2 = g2.T
        if not has_input:
            return g1, g2
        return (g if beta == 1 else g * beta), g1, g2

    return rule


def _record_product(
    name: str,
    data: Any,
    input: Tensor | None,  # noqa: A002
    mat1: Tensor,
    mat2: Tensor,
    beta: float = 1,
    alpha: float = 1,
    transposed: bool = False,
) -> Tensor:
    need1, need2 = mat1._requires_grad, mat2._requires_grad
    saved = (mat1, mat2) if need1 and need2 else (mat1,) if need2 else (mat2,)
    rule = _product_rule(
        input is not None,
        need1,
        need2,
        beta,
        alpha,
        mat1._data.ndim == 1,
        mat2._data.ndim == 1,
        transposed,
    )
    inputs = (mat1, mat2) if input is None else (input, mat1, mat2)
    return record(name, data, inputs, rule, saved)


# ----------------------------------------------------------------------------- products
def _product(op: str, a: Tensor, b: Tensor) -> Any:
    """``a @ b`` as an array, with PyTorch's errors."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"{op}(): argument must be Tensor, got {type(a).__name__} and {type(b).__name__}"
        )
    _check_dtypes(op, a, b)
    na, nb = a._data.ndim, b._data.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(
            f"{op}(): both arguments to {op} need to be at least 1D, but they are {na}D and {nb}D"
        )
    ka = a._data.shape[-1]
    kb = b._data.shape[-2] if nb >= 2 else b._data.shape[0]
    if ka != kb:
        if na == 1 and nb == 1:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{ka}] and src [{kb}] to have the "
                f"same number of elements, but got {ka} and {kb} elements respectively"
            )
        sa = _shape_str(a._data.shape[-2:] if na > 1 else (1, ka))
        sb = _shape_str(b._data.shape[-2:] if nb > 1 else (kb, 1))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa} and {sb})")
    try:
        if type(a._data) is np.ndarray:  # stacks of small products use the intra-op threads
            return _parallel.matmul(a._data, b._data)
        return array_module(a._data).matmul(a._data, b._data)
    except ValueError:
        raise RuntimeError(
            f"{op}(): batch dimensions of {list(a.shape)} and {list(b.shape)} cannot be broadcast"
        ) from None


@method("matmul")
def matmul(a: Tensor, b: Tensor) -> Tensor:
    data = _product("matmul", a, b)
    na, nb = a._data.ndim, b._data.ndim
    if na == 2 and nb == 2:
        name = "MmBackward0"
    elif nb == 1 and na == 2:
        name = "MvBackward0"
    elif na == 1 and nb == 1:
        name = "DotBackward0"
    else:
        name = "MatmulBackward0" if na > 2 or nb > 2 else "MmBackward0"
    return _record_product(name, data, None, a, b)


bind("__matmul__", lambda a, b: matmul(a, as_tensor(b, "matmul")))
bind("__rmatmul__", lambda a, b: matmul(as_tensor(b, "matmul"), a))
bind("__imatmul__", variant("matmul_", matmul))


def _require_dims(op: str, t: Tensor, ndim: int, what: str) -> None:
    if t._data.ndim != ndim:
        raise RuntimeError(
            f"{op}(): {what} must be a {ndim}D tensor, got {t._data.ndim}D of shape {list(t.shape)}"
        )


@method("mm")
def mm(a: Tensor, b: Tensor) -> Tensor:
    _require_dims("mm", a, 2, "self")
    _require_dims("mm", b, 2, "mat2")
    return matmul(a, b)


def _check_mv(a: Tensor, v: Tensor) -> None:
    _require_dims("mv", a, 2, "matrix")
    _require_dims("mv", v, 1, "vector")
    if a._data.shape[1] != v._data.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({a._data.shape[0]}), mat ({_shape_str(a._data.shape)}), "
            f"vec ({v._data.shape[0]})"
        )


@method("mv")
def mv(a: Tensor, v: Tensor) -> Tensor:
    _check_mv(a, v)
    return matmul(a, v)


@method("dot", "vdot")
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


vdot = dot


@method("inner")
def inner(a: Tensor, b: Tensor) -> Tensor:
    """Sum of products over the last dims: ``dot`` for vectors, ``a * b`` with a scalar, else
    ``out[i..., j...] = sum_k a[i..., k] * b[j..., k]`` (one matrix product)."""
    a, b = operands(a, b, "inner")
    if a._data.ndim == 0 or b._data.ndim == 0:
        return a * b
    if a._data.ndim == 1 and b._data.ndim == 1:
        return dot(a, b)
    k, kb = a._data.shape[-1], b._data.shape[-1]
    if k != kb:
        raise RuntimeError(
            f"inner() the last dimension must match on both input tensors but got shapes "
            f"{list(a.shape)} and {list(b.shape)}"
        )
    out = matmul(a.reshape(-1, k), b.reshape(-1, k).T)
    return out.reshape(*a._data.shape[:-1], *b._data.shape[:-1])


def _check_bmm(op: str, a: Tensor, b: Tensor) -> None:
    _require_dims(op, a, 3, "batch1")
    _require_dims(op, b, 3, "batch2")
    expected = [a._data.shape[0], a._data.shape[2]]
    if list(b._data.shape[:2]) != expected:
        raise RuntimeError(
            f"{op}(): Expected size for first two dimensions of batch2 tensor to be: {expected} "
            f"but got: {list(b._data.shape[:2])}."
        )


@method("bmm")
def bmm(a: Tensor, b: Tensor) -> Tensor:
    _check_bmm("bmm", a, b)
    return matmul(a, b)


@method("outer", "ger")
def outer(a: Tensor, b: Tensor) -> Tensor:
    """``a[:, None] * b[None, :]`` (PyTorch's composite too: MulBackward0)."""
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(f"outer(): expected 1D tensors, got {list(a.shape)} and {list(b.shape)}")
    a, b = operands(a, b, "outer")
    return a.unsqueeze(1) * b.unsqueeze(0)


ger = outer


# ----------------------------------------------------------------------------- addmm family
def _add_product(
    op: str,
    name: str,
    input: Any,  # noqa: A002
    mat1: Tensor,
    mat2: Tensor,
    beta: float,
    alpha: float,
) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` as one op (``input`` ignored when beta is 0)."""
    input = as_tensor(input, op)  # noqa: A001
    data = _product(op, mat1, mat2)
    if input._data.dtype != data.dtype:
        raise RuntimeError(
            f"{op}(): expected self and mat2 to have the same dtype, but got: {input.dtype} != "
            f"{mat2.dtype}"
        )
    shape = data.shape
    try:
        full = np.broadcast_shapes(input._data.shape, shape)
    except ValueError:
        full = None
    if full != shape:
        raise RuntimeError(
            f"{op}(): the input of shape {list(input.shape)} cannot be broadcast to the "
            f"product's shape {list(shape)}"
        )
    data = data * alpha if alpha != 1 else data
    if beta != 0:
        data = data + (input._data if beta == 1 else input._data * beta)
    return _record_product(name, data, input, mat1, mat2, beta, alpha)


@method("addmm", inplace="addmm_")
def addmm(
    input: Tensor,  # noqa: A002
    mat1: Tensor,
    mat2: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` (AddmmBackward0)."""
    _require_dims("addmm", mat1, 2, "mat1")
    _require_dims("addmm", mat2, 2, "mat2")
    return _add_product("addmm", "AddmmBackward0", input, mat1, mat2, beta, alpha)


@method("addmv", inplace="addmv_")
def addmv(
    input: Tensor,  # noqa: A002
    mat: Tensor,
    vec: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """``beta * input + alpha * (mat @ vec)`` (AddmvBackward0)."""
    _check_mv(mat, vec)
    return _add_product("addmv", "AddmvBackward0", input, mat, vec, beta, alpha)


@method("baddbmm", inplace="baddbmm_")
def baddbmm(
    input: Tensor,  # noqa: A002
    batch1: Tensor,
    batch2: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)`` (BaddbmmBackward0)."""
    _check_bmm("baddbmm", batch1, batch2)
    return _add_product("baddbmm", "BaddbmmBackward0", input, batch1, batch2, beta, alpha)


def _linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor | None:  # noqa: A002
    """``input @ weight.T + bias`` for a 2-D input as one op (PyTorch's addmm), else None.

    One BLAS call with the bias added in place, one node (addmm's rule, given the weight
    transposed: the products ``g @ W`` and ``(x.T @ g).T``, and the bias gradient ``g``
    that the engine sums over the rows). ``nn.functional.linear`` uses it and keeps the
    general composite for every other case (None tells it to).
    """
    x, w = input._data, weight._data
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1] or x.dtype != w.dtype:
        return None
    if x.dtype.kind != "f":
        return None
    if bias is not None and (bias._data.shape != (w.shape[0],) or bias._data.dtype != x.dtype):
        return None
    data = _parallel.matmul(x, w.T) if type(x) is np.ndarray else x @ w.T
    if bias is None:
        return _record_product("MmBackward0", data, None, input, weight, transposed=True)
    data += bias._data
    return _record_product("AddmmBackward0", data, bias, input, weight, transposed=True)


# ----------------------------------------------------------------------------- einsum
def _einsum_rule(specs: tuple, rhs: str, need: tuple, kept: tuple, shapes: tuple) -> Any:
    """Each operand's gradient: the einsum of ``g`` with the other operands, to its subscripts.

    Letters of an operand that appear nowhere else were summed out: its gradient is
    broadcast back along them. ``...`` stays ``...`` in every term (NumPy broadcasts it; the
    engine sums a broadcast gradient back). ``kept`` are the operands saved (those another
    one's gradient reads).
    """

    def rule(xp: Any, g: Any, *saved: Any) -> tuple:
        ops: list = [None] * len(specs)
        for j, t in zip(kept, saved):
            ops[j] = t
        grads = []
        for i, spec in enumerate(specs):
            if not need[i]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(specs) if j != i]
            if "..." not in spec and ("..." in rhs or any("..." in o for o in others)):
                spec = "..." + spec  # no broadcast dims of its own: the engine sums them
            present = set(rhs.replace(".", "")).union(*[o.replace(".", "") for o in others])
            letters = spec.replace("...", "")
            target = spec.replace("...", "#")
            target = "".join(c for c in target if c == "#" or c in present).replace("#", "...")
            equation = ",".join([rhs, *others]) + "->" + target
            gi = xp.einsum(equation, g, *[t for j, t in enumerate(ops) if j != i])
            missing = [c for c in letters if c not in present]
            if missing:  # summed-out letters: size-1 axes, broadcast to their sizes
                lead = spec.index("...") if "..." in spec else len(spec)
                n_ellipsis = gi.ndim - (len(letters) - len(missing))
                own = len(shapes[i]) - len(letters)
                axes, sizes = [], []
                for k, c in enumerate(letters):
                    pos = k if k < lead else k + n_ellipsis
                    if c in missing:
                        axes.append(pos)
                    size_pos = k if k < lead else k + own
                    sizes.append(shapes[i][size_pos])
                gi = xp.expand_dims(gi, tuple(axes))
                full = list(gi.shape)
                for k, c in enumerate(letters):
                    if c in missing:
                        full[k if k < lead else k + n_ellipsis] = sizes[k]
                gi = xp.broadcast_to(gi, tuple(full))
            grads.append(gi)
        return tuple(grads)

    return rule


def einsum(equation: str, *operands_: Any) -> Tensor:
    """Einstein summation (explicit or implicit output, ``...`` for broadcast dims)."""
    if len(operands_) == 1 and isinstance(operands_[0], (list, tuple)):
        operands_ = tuple(operands_[0])
    tensors = tuple(operands_)
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    specs = tuple(lhs.split(","))
    if len(specs) != len(tensors):
        raise RuntimeError(
            f"einsum(): {len(specs)} operands in the equation but {len(tensors)} given"
        )
    if not arrow:  # NumPy's implicit output: the broadcast dims, then letters used once
        joined = "".join(specs).replace(".", "")
        singles = "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
        rhs = ("..." if "..." in lhs else "") + singles
    try:
        xp = array_module(tensors[0]._data)
        data = xp.einsum(f"{lhs}->{rhs}", *[t._data for t in tensors])
    except ValueError as exc:
        raise RuntimeError(f"einsum(): {exc} (shapes {[list(t.shape) for t in tensors]})") from None
    need = tuple(t._requires_grad for t in tensors)
    for spec, needed in zip(specs, need):
        letters = spec.replace("...", "")
        if needed and len(set(letters)) != len(letters):
            raise NotImplementedError(
                f"einsum(): the derivative for an operand with a repeated subscript ('{spec}', "
                "a diagonal) is not implemented in ndgrad; take torch.diagonal first"
            )
    kept = tuple(j for j in range(len(tensors)) if any(need[:j] + need[j + 1 :]))
    shapes = tuple(t._data.shape for t in tensors)
    rule = _einsum_rule(specs, rhs, need, kept, shapes)
    return record("EinsumBackward0", data, tensors, rule, tuple(tensors[j] for j in kept))


# ----------------------------------------------------------------------------- inverse, det
def _require_square(op: str, x: Tensor) -> None:
    if x._data.ndim < 2 or x._data.shape[-1] != x._data.shape[-2]:
        raise RuntimeError(
            f"{op}: A must be batches of square matrices, but they are "
            f"{'x'.join(str(s) for s in x._data.shape[-2:])} matrices"
            if x._data.ndim >= 2
            else f"{op}: The input tensor A must have at least 2 dimensions."
        )
    if x._data.dtype.kind != "f":
        raise _dtype.not_floating(op, x._data.dtype)


def _inv_rule(xp: Any, g: Any, inv: Any) -> tuple:
    # d(A^-1) = -A^-1 dA A^-1, so the gradient is -A^-T g A^-T (from the saved result).
    inv_t = _mT(xp, inv)
    return (-(inv_t @ g @ inv_t),)


@method("inverse")
def inverse(x: Tensor) -> Tensor:
    """Inverse of a (batch of) square matrices (LinalgInvExBackward0: saves the result)."""
    _require_square("linalg.inv", x)
    try:
        data = array_module(x._data).linalg.inv(x._data)
    except np.linalg.LinAlgError:
        raise _LinAlgError(
            "linalg.inv: The input matrix is singular, the inversion could not be completed"
        ) from None
    return record("LinalgInvExBackward0", data, (x,), _inv_rule, save_output=True)


def _det_rule(xp: Any, g: Any, a: Any, det: Any) -> tuple:
    # Jacobi's formula: d det(A) = tr(adj(A) dA), so the gradient is g adj(A)^T, the cofactor
    # matrix (det(A) A^-T where A is invertible; defined for singular A too).
    return (xp.expand_dims(g, (-2, -1)) * xp.cofactor(a),)


@method("det")
def det(x: Tensor) -> Tensor:
    """Determinant (LinalgDetBackward0: saves the input and the result)."""
    _require_square("linalg.det", x)
    xp = array_module(x._data)
    data = xp.asarray(xp.linalg.det(x._data), dtype=x._data.dtype)
    return record("LinalgDetBackward0", data, (x,), _det_rule, (x,), save_output=True)


@method("trace")
def trace(x: Tensor) -> Tensor:
    """Sum of the diagonal of a matrix (composite: diagonal, then sum; saves nothing)."""
    if x._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x._data.ndim}")
    return named(x.diagonal().sum(), "TraceBackward0")


# ----------------------------------------------------------------------------- products built
# from the ones above (their gradients come from those ops)
@method("kron")
def kron(a: Tensor, b: Tensor) -> Tensor:
    """The Kronecker product: blocks ``a[i, j] * b`` (the shorter shape padded with ones)."""
    a, b = operands(a, b, "kron")
    n = max(a.dim(), b.dim())
    sa = (1,) * (n - a.dim()) + tuple(a.shape)
    sb = (1,) * (n - b.dim()) + tuple(b.shape)
    left = a.reshape(tuple(x for s in sa for x in (s, 1)))
    right = b.reshape(tuple(x for s in sb for x in (1, s)))
    return (left * right).reshape(tuple(p * q for p, q in zip(sa, sb)))


def tensordot(a: Tensor, b: Tensor, dims: Any = 2, out: Any = None) -> Tensor:
    """Sums of products over ``dims``: the last ``dims`` of ``a`` with the first of ``b``, or
    the pairs of lists ``dims = (dims_a, dims_b)``."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.dim() or dims > b.dim():
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        given_a, given_b = list(range(-dims, 0)), list(range(dims))
    else:
        given_a, given_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(given_a) != len(given_b):
        raise RuntimeError("both dimension lists should have same length")
    da = [d % max(a.dim(), 1) for d in given_a]
    db = [d % max(b.dim(), 1) for d in given_b]
    for x, y, gx, gy in zip(da, db, given_a, given_b):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[x]} in dim "
                f"{gx} and second has size {b.shape[y]} in dim {gy}"
            )
    keep_a = [d for d in range(a.dim()) if d not in da]
    keep_b = [d for d in range(b.dim()) if d not in db]
    k = int(np.prod([a.shape[d] for d in da], dtype=np.int64))
    lhs = a.permute(*keep_a, *da).reshape(-1, k)
    rhs = b.permute(*db, *keep_b).reshape(k, -1)
    shape = tuple(a.shape[d] for d in keep_a) + tuple(b.shape[d] for d in keep_b)
    return mm(lhs, rhs).reshape(shape)


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of the matrices, left to right (``torch.linalg.multi_dot``)."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    out = matrices[0]
    if len(matrices) == 1:
        return out.clone()
    for m in matrices[1:]:
        out = mm(out, m)
    return out


@method("addbmm", inplace="addbmm_")
def addbmm(
    input: Tensor,  # noqa: A002
    batch1: Tensor,
    batch2: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    _check_bmm("addbmm", batch1, batch2)
    product = bmm(batch1, batch2).sum(0)
    return _scaled_sum(input, product, beta, alpha)


def _scaled_sum(input: Any, product: Tensor, beta: float, alpha: float) -> Tensor:  # noqa: A002
    """``beta * input + alpha * product`` (``input`` ignored when beta is 0, as in BLAS)."""
    input = as_tensor(input, "addbmm")  # noqa: A001
    try:
        if np.broadcast_shapes(tuple(input.shape), tuple(product.shape)) != tuple(product.shape):
            raise ValueError
    except ValueError:
        raise RuntimeError(
            f"The expanded size of the tensor ({product.shape[-1]}) must match the existing "
            f"size ({input.shape[-1]}) at non-singleton dimension {product.dim() - 1}.  Target "
            f"sizes: {list(product.shape)}.  Tensor sizes: {list(input.shape)}"
        ) from None
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:
        return _beta_zero(scaled, input)
    return (input if beta == 1 else input * beta) + scaled


def _beta_zero(scaled: Tensor, input: Tensor) -> Tensor:  # noqa: A002
    """beta = 0: the input's values (nan and inf too) are not read, only its shape."""
    shape = np.broadcast_shapes(tuple(input.shape), tuple(scaled.shape))
    return scaled if tuple(scaled.shape) == shape else scaled.expand(shape).contiguous()


@method("addr", inplace="addr_")
def addr(
    input: Tensor,  # noqa: A002
    vec1: Tensor,
    vec2: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``."""
    if vec1.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(
            f"addr: Expected 1-D argument vec1, but got {vec1.dim()}-D"
            if vec1.dim() != 1
            else f"addr: Expected 1-D argument vec2, but got {vec2.dim()}-D"
        )
    input = as_tensor(input, "addr")  # noqa: A001
    if input._data.dtype.kind == "b" or vec1._data.dtype.kind == "b":
        product = outer(vec1, vec2)
        return product if beta == 0 else product | input
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def cross(a: Tensor, b: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (the first dim of size 3 when None)."""
    from ndgrad.ops.shape import broadcast_tensors

    if a.dim() != b.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    a, b = operands(a, b, "cross")
    a, b = broadcast_tensors(a, b)
    if dim is None:
        sizes = [i for i, s in enumerate(a.shape) if s == 3]
        if not sizes:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sizes[0]
    return _cross(a, b, dim)


def _linalg_cross(a: Tensor, b: Tensor, *, dim: int = -1) -> Tensor:
    """``torch.linalg.cross``: the cross product along ``dim`` (inputs broadcast)."""
    from ndgrad.ops.shape import broadcast_tensors

    if a.dim() != b.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    a, b = operands(a, b, "linalg.cross")
    a, b = broadcast_tensors(a, b)
    return _cross(a, b, dim)


def _cross(a: Tensor, b: Tensor, dim: int) -> Tensor:
    from ndgrad.ops._common import wrap_dim
    from ndgrad.ops.shape import stack

    d = wrap_dim(dim, a.dim(), "cross")
    if a.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {a.shape[d]} and "
            f"{b.shape[d]}"
        )
    x = [a.select(d, i) for i in range(3)]
    y = [b.select(d, i) for i in range(3)]
    parts = [x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]]
    return stack(parts, d)


bind("cross", cross)
