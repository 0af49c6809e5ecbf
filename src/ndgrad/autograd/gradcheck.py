"""``gradcheck`` and ``gradgradcheck``: analytical gradients against central differences.

Same defaults as PyTorch (``eps=1e-6``, ``atol=1e-5``, ``rtol=1e-3``); the check is
``|analytical - numerical| <= atol + rtol * |numerical|`` element by element. The error names
the output, the input, and the first disagreeing element (input element, output element and
both values), then prints both Jacobians laid out as PyTorch does: one row per input element,
one column per output element. ``fast_mode`` is accepted and runs the full (slow) check.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` and :func:`gradgradcheck` (a ``RuntimeError``)."""


def _as_tuple(x: Any) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _is_tensor(x: Any) -> bool:
    from ndgrad._tensor import Tensor

    return isinstance(x, Tensor)


def _differentiable_outputs(outputs: Any) -> tuple:
    return tuple(o for o in _as_tuple(outputs) if _is_tensor(o) and o.requires_grad)


def _evaluate(func: Callable, inputs: tuple) -> tuple[np.ndarray, ...]:
    """The outputs of ``func`` as float64 arrays (every Tensor output, in order)."""
    outs = _as_tuple(func(*inputs))
    return tuple(np.array(o._data, dtype=np.float64) for o in outs if _is_tensor(o))


def _numerical_jacobians(func: Callable, inputs: tuple, eps: float) -> list[list[np.ndarray]]:
    """``jac[i][j]``: d output j / d input i by central differences, shape (in.numel, out.numel).

    Each evaluation gets fresh leaf copies of the inputs (same requires_grad), so functions
    that differentiate internally (gradgradcheck) work and the caller's tensors are untouched.
    """
    from ndgrad._tensor import Tensor

    def fresh(perturbed: dict[int, np.ndarray]) -> tuple:
        res = []
        for k, x in enumerate(inputs):
            if not _is_tensor(x):
                res.append(x)
                continue
            t = Tensor._make(perturbed.get(k, x._data).copy())
            t._requires_grad = x._requires_grad
            res.append(t)
        return tuple(res)

    base = _evaluate(func, fresh({}))
    jacs: list[list[np.ndarray]] = []
    for i, x in enumerate(inputs):
        if not (_is_tensor(x) and x.requires_grad):
            continue
        per_out = [np.zeros((x.numel(), o.size)) for o in base]
        flat = x._data.reshape(-1)
        for k in range(flat.size):
            plus = flat.copy()
            plus[k] += eps
            minus = flat.copy()
            minus[k] -= eps
            out_plus = _evaluate(func, fresh({i: plus.reshape(x._data.shape)}))
            out_minus = _evaluate(func, fresh({i: minus.reshape(x._data.shape)}))
            for j, (a, b) in enumerate(zip(out_plus, out_minus, strict=False)):
                per_out[j][k] = ((a - b) / (2 * eps)).reshape(-1)
        jacs.append(per_out)
    return jacs


def _analytical_jacobians(outputs: tuple, diff_inputs: tuple) -> list[list[np.ndarray]]:
    """``jac[i][j]``: built row by row from backward passes with one-hot grad_outputs."""
    from ndgrad._tensor import Tensor
    from ndgrad.autograd import grad

    jacs = [[np.zeros((x.numel(), o.numel())) for o in outputs] for x in diff_inputs]
    for j, out in enumerate(outputs):
        for m in range(out.numel()):
            onehot = np.zeros(out._data.size, dtype=out._data.dtype)
            onehot[m] = 1
            g_out = Tensor._make(onehot.reshape(out._data.shape))
            grads = grad((out,), diff_inputs, (g_out,), retain_graph=True, allow_unused=True)
            for i, g in enumerate(grads):
                if g is None:
                    continue
                if g.shape != diff_inputs[i].shape:
                    raise GradcheckError(
                        f"Gradient has incorrect size: input {i} has shape "
                        f"{list(diff_inputs[i].shape)} but its gradient has shape {list(g.shape)}"
                    )
                jacs[i][j][:, m] = np.asarray(g._data, dtype=np.float64).reshape(-1)
    return jacs


def _fmt(a: np.ndarray) -> str:
    from ndgrad._tensor import Tensor

    return repr(Tensor._make(a))


def _mismatch_message(
    analytical: np.ndarray,
    numerical: np.ndarray,
    out_idx: int,
    in_idx: int,
    in_shape: tuple,
    out_shape: tuple,
    atol: float,
    rtol: float,
) -> str:
    bad = np.abs(analytical - numerical) > atol + rtol * np.abs(numerical)
    bad |= np.isnan(analytical) != np.isnan(numerical)
    k, m = (int(v) for v in np.argwhere(bad)[0])
    in_elem = tuple(int(v) for v in np.unravel_index(k, in_shape)) if in_shape else ()
    out_elem = tuple(int(v) for v in np.unravel_index(m, out_shape)) if out_shape else ()
    return (
        f"Jacobian mismatch for output {out_idx:d} with respect to input {in_idx:d},\n"
        f"first mismatch at jacobian index ({k}, {m}): d output[{out_idx}]{list(out_elem)} / "
        f"d input[{in_idx}]{list(in_elem)}: numerical {float(numerical[k, m])!r} vs analytical "
        f"{float(analytical[k, m])!r} ({int(bad.sum())} of {bad.size} elements differ; "
        f"atol={atol}, "
        f"rtol={rtol})\n"
        f"numerical:{_fmt(numerical)}\nanalytical:{_fmt(analytical)}\n"
    )


def _fail(msg: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(
    func: Callable[..., Any],
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    """True when the gradients of ``func`` at ``inputs`` match finite differences.

    Inputs that require grad should be float64. On a mismatch raises :class:`GradcheckError`
    naming the disagreeing element, or returns False with ``raise_exception=False``.
    """
    from ndgrad.autograd.grad_mode import enable_grad

    tupled = _as_tuple(inputs)
    diff_inputs = tuple(x for x in tupled if _is_tensor(x) and x.requires_grad)
    if not diff_inputs:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of the "
            "them have requires_grad=True."
        )
    for idx, x in enumerate(tupled):
        if _is_tensor(x) and x.requires_grad and x._data.dtype != np.float64:
            warnings.warn(
                f"Input #{idx} requires gradient and is not a double precision floating point "
                "or complex. This check will likely fail if all the inputs are not of double "
                "precision floating point or complex. ",
                stacklevel=2,
            )
    if not check_backward_ad:
        return True

    with enable_grad():
        outputs = _as_tuple(func(*tupled))
        tensor_outputs = tuple(o for o in outputs if _is_tensor(o))
        numerical = _numerical_jacobians(func, tupled, eps)

        # Outputs that do not require grad must not change when the inputs do.
        for j, out in enumerate(tensor_outputs):
            if out.requires_grad:
                continue
            for i, per_out in enumerate(numerical):
                if not np.allclose(per_out[j], 0.0, rtol=rtol, atol=atol):
                    return _fail(
                        f"Numerical gradient for function expected to be zero: output {j} does "
                        f"not require grad but changes with input {i}",
                        raise_exception,
                    )

        diff_positions = [j for j, o in enumerate(tensor_outputs) if o.requires_grad]
        diff_outputs = tuple(tensor_outputs[j] for j in diff_positions)
        if not diff_outputs:
            return True
        analytical = _analytical_jacobians(diff_outputs, diff_inputs)
        in_indices = [k for k, x in enumerate(tupled) if _is_tensor(x) and x.requires_grad]
        for i, x in enumerate(diff_inputs):
            for jj, j in enumerate(diff_positions):
                a = analytical[i][jj]
                n = numerical[i][j]
                close = np.abs(a - n) <= atol + rtol * np.abs(n)
                if not (close | (np.isnan(a) & np.isnan(n))).all():
                    return _fail(
                        _mismatch_message(
                            a,
                            n,
                            j,
                            in_indices[i],
                            tuple(x.shape),
                            tuple(tensor_outputs[j].shape),
                            atol,
                            rtol,
                        ),
                        raise_exception,
                    )
                if check_grad_dtypes and a.dtype != n.dtype:
                    return _fail("Gradient has dtype mismatch", raise_exception)
        if nondet_tol >= 0.0:
            # Reentrancy: a second backward pass with the same inputs must agree.
            again = _analytical_jacobians(diff_outputs, diff_inputs)
            for i in range(len(diff_inputs)):
                for jj in range(len(diff_outputs)):
                    if np.abs(again[i][jj] - analytical[i][jj]).max(initial=0.0) > nondet_tol:
                        return _fail(
                            "Backward is not reentrant, i.e., running backward with same input "
                            "and grad_output multiple times gives different values, although "
                            "analytical gradient matches numerical gradient.The tolerance for "
                            f"nondeterminism was {nondet_tol}.",
                            raise_exception,
                        )
    return True


def gradgradcheck(
    func: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """Checks second derivatives: runs :func:`gradcheck` on the gradient of ``func``.

    Without ``grad_outputs``, random ones in [-1, 1) are drawn from ndgrad's generator.
    """
    from ndgrad._creation import rand
    from ndgrad.autograd import grad

    tupled_inputs = _as_tuple(inputs)
    if grad_outputs is None:
        outputs = _differentiable_outputs(func(*tupled_inputs))
        tupled_grad_outputs = tuple(
            (rand(*o.shape, dtype=o.dtype if o.is_floating_point() else None) * 2 - 1)
            .detach()
            .requires_grad_(True)
            for o in outputs
        )
    else:
        tupled_grad_outputs = _as_tuple(grad_outputs)
    num_outputs = len(tupled_grad_outputs)
    diff_input_indices = {
        i for i, x in enumerate(tupled_inputs) if _is_tensor(x) and x.requires_grad
    }
    diff_grad_output_indices = {i for i, x in enumerate(tupled_grad_outputs) if x.requires_grad}

    def new_func(*args: Any) -> tuple:
        input_args = tuple(
            x.requires_grad_() if i in diff_input_indices else x
            for i, x in enumerate(args[:-num_outputs] if num_outputs else args)
        )
        outs = _differentiable_outputs(func(*input_args))
        gouts = tuple(
            x.requires_grad_() if i in diff_grad_output_indices else x
            for i, x in enumerate(args[len(args) - num_outputs :])
        )
        diff_args = tuple(x for i, x in enumerate(input_args) if i in diff_input_indices)
        grads = grad(outs, diff_args, gouts, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        new_func,
        tupled_inputs + tupled_grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        fast_mode=fast_mode,
    )
