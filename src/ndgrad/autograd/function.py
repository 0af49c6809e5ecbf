"""User-defined differentiable ops: ``ndgrad.autograd.Function``, as PyTorch users write them.

A subclass gives ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static
methods and is called through ``Function.apply``. ``forward`` runs with grad mode off; its
outputs are linked into the graph by :func:`ndgrad.autograd.graph.record_multi`, and the
node's backward calls the user's ``backward``. When ``backward`` is written with Tensor
ops it is recorded under ``create_graph=True``, so higher derivatives work as in PyTorch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad.autograd.grad_mode import STATE, no_grad
from ndgrad.autograd.graph import FREED_MESSAGE, Node, record_multi

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` passed to ``forward``/``backward``: saved tensors and flags for one call."""

    def __init__(self) -> None:
        self.needs_input_grad: tuple[bool, ...] = ()
        self.materialize_grads = True
        self._to_save: tuple | None = None
        self._non_differentiable: set[int] = set()
        self._dirty: set[int] = set()
        self._node: Node | None = None
        # Saved tensors are kept here when no graph was recorded (grad mode off).
        self._saved_plain: tuple | None = None

    def save_for_backward(self, *tensors: Any) -> None:
        from ndgrad._tensor import Tensor

        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {i} is of type "
                    f"{type(t).__name__}"
                )
        self._to_save = tensors

    def save_for_forward(self, *tensors: Any) -> None:
        # Forward-mode AD is not implemented; accepted so PyTorch code runs unchanged.
        self.saved_for_forward = tensors

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors: Any) -> None:
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        """The saved tensors, after checking none was changed in place since being saved."""
        if self._to_save is None:
            return ()
        node = self._node
        if node is None:
            return self._saved_plain if self._saved_plain is not None else self._to_save
        if node.rule is None:
            raise RuntimeError(FREED_MESSAGE)
        node.check_saved()
        saved = iter(node.saved)
        return tuple(None if t is None else next(saved) for t in self._to_save)

    @property
    def saved_variables(self) -> tuple:
        return self.saved_tensors


class BackwardCFunction(FunctionCtx):
    """Kept for ``isinstance`` checks written against PyTorch's class name."""


class FunctionMeta(type):
    """Gives each subclass a ``_backward_name`` like PyTorch's ``ExpBackward``."""

    def __init__(cls, name: str, bases: tuple, attrs: dict) -> None:
        cls._backward_name = name + "Backward"
        super().__init__(name, bases, attrs)


class Function(metaclass=FunctionMeta):
    """Base class for custom differentiable operations (``torch.autograd.Function``)."""

    _backward_name = "FunctionBackward"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # PyTorch warns that instantiating is deprecated; the legacy style is not supported.
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
        )

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with "
            "forward mode AD."
        )

    @classmethod
    def _uses_setup_context(cls) -> bool:
        return cls.setup_context is not Function.setup_context

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from ndgrad._tensor import Tensor

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(
            isinstance(a, Tensor) and a._requires_grad and STATE.enabled for a in args
        )
        with no_grad():
            if cls._uses_setup_context():
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)

        is_tuple = isinstance(output, (tuple, list))
        outputs = tuple(output) if is_tuple else (output,)
        tensor_inputs = [a for a in args if isinstance(a, Tensor)]
        tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        out_positions = [i for i, o in enumerate(outputs) if isinstance(o, Tensor)]
        if not out_positions:
            return output

        # An output that is an input (or carries history) gets a fresh alias, so the input's
        # own autograd state is untouched; it shares storage and version counter.
        input_ids = {id(t) for t in tensor_inputs}
        fresh = list(outputs)
        for i in out_positions:
            o = outputs[i]
            if id(o) in input_ids or o.grad_fn is not None or o._requires_grad:
                alias = Tensor._make(o._data)
                alias._version_counter = o._version_counter
                fresh[i] = alias
        for i in out_positions:
            if id(outputs[i]) in ctx._dirty:
                outputs[i]._version_counter[0] += 1

        out_tensors = [fresh[i] for i in out_positions]
        differentiable = [
            id(outputs[i]) not in ctx._non_differentiable and fresh[i]._data.dtype.kind in "fc"
            for i in out_positions
        ]
        to_save = ctx._to_save or ()
        # A saved output must be the object the user gets back (its grad_fn is this node).
        remap = {id(outputs[i]): fresh[i] for i in out_positions}
        saved = tuple(remap.get(id(t), t) for t in to_save if t is not None)
        if ctx._to_save is not None:
            ctx._to_save = tuple(None if t is None else remap.get(id(t), t) for t in to_save)

        out_meta = [(t._data.shape, t._data.dtype, array_module(t._data)) for t in out_tensors]
        n_args = len(args)

        def backward(*grads: Any) -> tuple:
            if ctx.materialize_grads:
                grads = tuple(
                    Tensor._make(xp.zeros(shape, dtype)) if g is None else g
                    for g, (shape, dtype, xp) in zip(grads, out_meta, strict=False)
                )
            # Non-tensor outputs receive None, as in PyTorch.
            full_grads: list = [None] * len(outputs)
            for pos, g in zip(out_positions, grads, strict=False):
                full_grads[pos] = g
            result = cls.backward(ctx, *full_grads)
            return _input_grads(cls.__name__, result, args, n_args, tensor_positions)

        graph_outs = record_multi(
            cls._backward_name,
            [t._data for t in out_tensors],
            tensor_inputs,
            backward,
            saved,
            differentiable,
        )
        node = next((g.grad_fn for g in graph_outs if g.grad_fn is not None), None)
        if node is not None:
            ctx._node = node
            # Move the graph links onto the very objects forward returned (or their aliases),
            # so tensors saved by forward are the graph's outputs.
            for t, g in zip(out_tensors, graph_outs, strict=False):
                t.grad_fn = g.grad_fn
                t._output_nr = g._output_nr
                t._requires_grad = g._requires_grad
        else:
            ctx._saved_plain = ctx._to_save

        if not is_tuple:
            return fresh[0]
        return type(output)(fresh) if isinstance(output, tuple) else fresh


def _input_grads(
    name: str, result: Any, args: tuple, n_args: int, tensor_positions: list[int]
) -> tuple:
    """Checks the user's backward result and keeps the gradients of tensor arguments."""
    from ndgrad._tensor import Tensor

    grads = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(grads) < n_args or any(g is not None for g in grads[n_args:]):
        raise RuntimeError(
            f"function {name}Backward returned an incorrect number of gradients (expected "
            f"{n_args}, got {len(grads)})"
        )
    out = []
    for i, g in enumerate(grads[:n_args]):
        if i not in tensor_positions:
            if g is not None:
                raise RuntimeError(
                    f"function {name}Backward returned a gradient different than None at "
                    f"position {i + 1}, but the corresponding forward input was not a Variable"
                )
            continue
        if g is not None:
            if not isinstance(g, Tensor):
                raise TypeError(
                    f"function {name}Backward returned a gradient of type {type(g).__name__} "
                    f"at position {i + 1}; expected a Tensor or None"
                )
            want = args[i]._data.shape
            try:
                ok = np.broadcast_shapes(want, g._data.shape) == g._data.shape
            except ValueError:
                ok = False
            if not ok:
                raise RuntimeError(
                    f"Function {name}Backward returned an invalid gradient at index {i} - got "
                    f"{list(g._data.shape)} but expected shape compatible with {list(want)}"
                )
        out.append(g)
    return tuple(out)


def once_differentiable(fn: Callable) -> Callable:
    """Runs a custom ``backward`` with grad mode off (its result is not differentiable)."""

    @functools.wraps(fn)
    def wrapper(ctx: Any, *args: Any) -> Any:
        with no_grad():
            return fn(ctx, *args)

    return wrapper
