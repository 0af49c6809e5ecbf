"""Reverse-mode automatic differentiation: ``backward``, ``grad`` and grad-mode switches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ndgrad._backend import array_module
from ndgrad.autograd import functional
from ndgrad.autograd.function import Function, FunctionCtx, once_differentiable
from ndgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ndgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from ndgrad.autograd.graph import Node, backward_one, run_backward, tensor_type

if TYPE_CHECKING:
    from ndgrad._tensor import Tensor

__all__ = [
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "inference_mode",
    "Node",
    "Function",
    "FunctionCtx",
    "once_differentiable",
    "functional",
    "gradcheck",
    "gradgradcheck",
    "GradcheckError",
]


def _as_tuple(x: Any) -> tuple:
    if x is None:
        return ()
    return (x,) if isinstance(x, tensor_type()) else tuple(x)


def _ones(data: Any) -> Any:
    """The gradient of a one-element output when none is given: ones like ``data``."""
    g = array_module(data).empty(data.shape, data.dtype)
    g.fill(1)  # np.ones_like costs three times as much for one element
    return g


def _implicit_grad(out: Tensor) -> Tensor:
    return tensor_type()._make(_ones(out._data))


def _make_grads(outputs: tuple, grad_outputs: tuple, create_graph: bool) -> list:
    Tensor = tensor_type()  # noqa: N806 - bound lazily: this package is imported by _tensor

    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad requires one gradient per output: got {len(grad_outputs)} gradients for "
            f"{len(outputs)} outputs"
        )
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (output {i} has "
                    f"shape {list(out.shape)}; pass gradient= with that shape)"
                )
            if out._data.dtype.kind != "f":
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {out.dtype}"
                )
            g = _implicit_grad(out)
        else:
            if not isinstance(g, Tensor):
                from ndgrad._creation import tensor

                g = tensor(g, dtype=out.dtype)
            if g.shape != out.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                    f"output[{i}] has a shape of {out.shape}."
                )
            if not create_graph:
                g = g.detach()
        grads.append(g)
    return grads


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Tensor | Sequence[Tensor] | None = None,
) -> None:
    """Accumulates gradients of ``tensors`` into the ``.grad`` of graph leaves (or ``inputs``)."""
    if (
        grad_tensors is None
        and inputs is None
        and isinstance(tensors, tensor_type())
        and tensors._data.size == 1
        and tensors._data.dtype.kind == "f"
    ):
        # loss.backward(): what _make_grads checks holds, so the implicit ones go straight in.
        retain = create_graph if retain_graph is None else retain_graph
        backward_one(tensors, _ones(tensors._data), retain, create_graph)
        return
    outputs = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors) if grad_tensors is not None else ()
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(outputs, grad_tensors, create_graph)
    inputs_t = _as_tuple(inputs) if inputs is not None else None
    if inputs_t is not None and len(inputs_t) == 0:
        raise RuntimeError("backward() received an empty list of inputs")
    run_backward(outputs, grads, retain_graph, create_graph, inputs_t)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated)."""
    outputs_t = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(
        outputs_t, _as_tuple(grad_outputs) if grad_outputs is not None else (), create_graph
    )
    result = run_backward(
        outputs_t,
        grads,
        retain_graph,
        create_graph,
        inputs_t,
        capture=True,
        allow_unused=allow_unused,
    )
    if materialize_grads:
        from ndgrad._creation import zeros_like

        result = tuple(zeros_like(x) if r is None else r for r, x in zip(result, inputs_t))
    return result
