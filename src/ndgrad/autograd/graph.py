"""The recorded graph and the reverse-mode engine.

Every differentiable op calls :func:`record` with its output array, its input
tensors and a ``backward`` closure written with Tensor ops (so it can itself be
differentiated). The engine walks the graph iteratively in topological order,
reduces broadcast gradients to each input's shape in one place, and frees saved
tensors after use unless ``retain_graph``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ndgrad.autograd.grad_mode import STATE

if TYPE_CHECKING:
    from ndgrad._tensor import Tensor

BackwardFn = Callable[..., Sequence[Any]]

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class Node:
    """A recorded op (``grad_fn``): its backward closure and edges to its inputs.

    ``edges[i]`` is ``(node, output_nr)`` for a non-leaf input, ``(leaf_tensor, 0)``
    for a leaf that requires grad, or ``None``.
    """

    __slots__ = (
        "_name",
        "backward_fn",
        "edges",
        "input_meta",
        "saved",
        "saved_versions",
        "num_outputs",
        "pre_hooks",
        "retain_hooks",
        "__weakref__",
    )

    def __init__(
        self,
        name: str,
        backward_fn: BackwardFn,
        edges: tuple,
        input_meta: tuple,
        saved: tuple,
        num_outputs: int = 1,
    ) -> None:
        self._name = name
        self.backward_fn: BackwardFn | None = backward_fn
        self.edges = edges
        self.input_meta = input_meta
        self.saved = saved
        self.saved_versions = tuple([t._version[0] for t in saved]) if saved else ()
        self.num_outputs = num_outputs
        self.pre_hooks: dict[int, list[Callable]] | None = None
        self.retain_hooks: dict[int, Callable] | None = None

    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<{self._name} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        out = []
        for edge in self.edges:
            if edge is None:
                out.append((None, 0))
            elif isinstance(edge[0], Node):
                out.append(edge)
            else:
                out.append((AccumulateGrad(edge[0]), 0))
        return tuple(out)

    def add_pre_hook(self, output_nr: int, hook: Callable) -> None:
        if self.pre_hooks is None:
            self.pre_hooks = {}
        self.pre_hooks.setdefault(output_nr, []).append(hook)

    def check_saved(self) -> None:
        if self.backward_fn is None:
            raise RuntimeError(FREED_MESSAGE)
        for i, (t, version) in enumerate(zip(self.saved, self.saved_versions)):
            if t._version[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{t.type()} {list(t.shape)}], which is saved tensor "
                    f"{i} of {self._name}, is at version {t._version[0]}; expected version "
                    f"{version} instead. Hint: clone() the tensor before modifying it in place."
                )


class AccumulateGrad:
    """Stands for a leaf in ``next_functions``, as in PyTorch."""

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def edge_of(t: Tensor) -> tuple | None:
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if t._requires_grad:
        return (t, 0)
    return None


def record(
    name: str, data: Any, inputs: Sequence[Tensor], backward: BackwardFn, saved: tuple = ()
) -> Tensor:
    """Wraps ``data`` as the output of an op; links it into the graph when needed.

    ``backward(grad)`` returns one gradient (or ``None``) per input; gradients may
    have a broadcast shape, the engine sums them back to each input's shape.
    """
    from ndgrad._tensor import Tensor

    out = Tensor._make(data)
    if not STATE.enabled:
        return out
    for t in inputs:
        if t._requires_grad:
            break
    else:
        return out
    # edge_of and the metadata inlined as list displays: this runs once per recorded op.
    edges = tuple([
        (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t, 0) if t._requires_grad
        else None
        for t in inputs
    ])  # fmt: skip
    meta = tuple([(t._data.shape, t._data.dtype) for t in inputs])
    out.grad_fn = Node(name, backward, edges, meta, saved)
    out._requires_grad = True
    return out


def record_multi(
    name: str,
    datas: Sequence[Any],
    inputs: Sequence[Tensor],
    backward: BackwardFn,
    saved: tuple = (),
    differentiable: Sequence[bool] | None = None,
) -> tuple[Tensor, ...]:
    """Like :func:`record` for an op with several outputs (custom Functions)."""
    from ndgrad._tensor import Tensor

    outs = tuple(Tensor._make(d) for d in datas)
    if not STATE.enabled or not any(t._requires_grad for t in inputs):
        return outs
    edges = tuple(edge_of(t) for t in inputs)
    meta = tuple((t._data.shape, t._data.dtype) for t in inputs)
    node = Node(name, backward, edges, meta, saved, num_outputs=len(outs))
    for i, out in enumerate(outs):
        if differentiable is None or differentiable[i]:
            out.grad_fn = node
            out._output_nr = i
            out._requires_grad = True
    return outs


def _topological_order(roots: list) -> list:
    """Vertices (Nodes and leaf Tensors) reachable from ``roots``, parents before children.

    Iterative depth-first post-order, reversed: no recursion limit on long chains.
    """
    visited: set[int] = set()
    post: list = []
    for root in roots:
        if id(root) in visited:
            continue
        visited.add(id(root))
        stack = [(root, iter(root.edges) if isinstance(root, Node) else iter(()))]
        while stack:
            vertex, children = stack[-1]
            for edge in children:
                if edge is None or id(edge[0]) in visited:
                    continue
                child = edge[0]
                visited.add(id(child))
                stack.append((child, iter(child.edges) if isinstance(child, Node) else iter(())))
                break
            else:
                stack.pop()
                post.append(vertex)
    post.reverse()
    return post


def run_backward(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Tensor | None],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
    capture: bool = False,
    allow_unused: bool = False,
) -> tuple | None:
    """The engine behind ``Tensor.backward`` (``capture=False``) and ``autograd.grad``."""
    from ndgrad._tensor import Tensor

    roots = []
    root_grads: dict[int, list] = {}
    for out, grad in zip(outputs, grad_outputs):
        edge = edge_of(out)
        if edge is None:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
        vertex, nr = edge
        if id(vertex) not in root_grads:
            roots.append(vertex)
            root_grads[id(vertex)] = [None] * (
                vertex.num_outputs if isinstance(vertex, Node) else 1
            )
        buf = root_grads[id(vertex)]
        buf[nr] = grad if buf[nr] is None else buf[nr] + grad

    # What to deliver gradients to: leaves' .grad (backward) or a result tuple (grad).
    targets: dict[tuple[int, int], int] | None = None
    if inputs is not None:
        targets = {}
        for i, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            edge = edge_of(t)
            targets[(id(edge[0]), edge[1])] = i
    results: list = [None] * (len(inputs) if inputs is not None else 0)

    order = _topological_order(roots)
    needed: set[int] | None = None
    if targets is not None:
        target_vertices = {key[0] for key in targets}
        needed = set()
        for vertex in reversed(order):
            if id(vertex) in target_vertices or (
                isinstance(vertex, Node)
                and any(e is not None and id(e[0]) in needed for e in vertex.edges)
            ):
                needed.add(id(vertex))

    buffers = root_grads
    prev_mode = STATE.enabled
    STATE.enabled = create_graph
    try:
        for vertex in order:
            grads = buffers.pop(id(vertex), None)
            if grads is None or (needed is not None and id(vertex) not in needed):
                continue
            if not isinstance(vertex, Node):  # a leaf
                grad = grads[0]
                for hook in vertex._hooks or ():
                    new = hook(grad)
                    if new is not None:
                        grad = new
                if targets is not None:
                    slot = targets.get((id(vertex), 0))
                    if slot is not None:
                        if capture:
                            results[slot] = grad
                        else:
                            _accumulate(inputs[slot], grad, create_graph)
                else:
                    del grads  # so that a gradient nobody else holds can be kept without a copy
                    _accumulate(vertex, grad, create_graph, may_steal=not vertex._hooks)
                continue

            node = vertex
            if node.pre_hooks:
                for nr, hooks in node.pre_hooks.items():
                    for hook in hooks:
                        if grads[nr] is not None:
                            new = hook(grads[nr])
                            if new is not None:
                                grads[nr] = new
            if node.retain_hooks:
                for nr, hook in node.retain_hooks.items():
                    if grads[nr] is not None:
                        hook(grads[nr])
            if targets is not None:
                for nr in range(node.num_outputs):
                    slot = targets.get((id(node), nr))
                    if slot is not None and grads[nr] is not None:
                        if capture:
                            results[slot] = grads[nr]
                        else:
                            _accumulate(inputs[slot], grads[nr], create_graph)
            # A recorded node always has an edge to follow; only autograd.grad prunes them.
            if needed is not None and not any(
                e is not None and id(e[0]) in needed for e in node.edges
            ):
                continue
            if node.saved or node.backward_fn is None:
                node.check_saved()
            if node.num_outputs == 1:
                in_grads = node.backward_fn(grads[0])
            else:
                in_grads = node.backward_fn(*grads)
            if not retain_graph and node.saved:
                node.backward_fn = None
                node.saved = ()
            for edge, grad, (shape, np_dtype) in zip(node.edges, in_grads, node.input_meta):
                if edge is None or grad is None:
                    continue
                if not isinstance(grad, Tensor):
                    raise TypeError(f"{node._name} returned a gradient of type {type(grad)}")
                if grad._data.shape != shape:
                    grad = grad.sum_to_size(shape)
                if grad._data.dtype != np_dtype:
                    grad = grad.to(np_dtype)
                child, nr = edge
                buf = buffers.get(id(child))
                if buf is None:
                    buf = buffers[id(child)] = [None] * (
                        child.num_outputs if isinstance(child, Node) else 1
                    )
                buf[nr] = grad if buf[nr] is None else buf[nr] + grad
            # Drop this frame's extra references, so _sole_owner's counts see only real holders.
            in_grads = grad = buf = None
    finally:
        STATE.enabled = prev_mode

    if capture:
        for i, r in enumerate(results):
            if r is None and not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}, shape "
                    f"{list(inputs[i].shape)}) appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
        return tuple(results)
    return None


# CPython before 3.14 counts every reference, so a count can prove that nothing else holds a
# gradient (3.14 may skip counting references held by the interpreter's stack).
_EXACT_REFCOUNTS = sys.implementation.name == "cpython" and sys.version_info < (3, 14)


def _sole_owner(grad: Tensor) -> bool:
    """Whether ``grad`` and its buffer are seen by nobody but the engine's leaf step.

    The references counted: the engine's local, ``_accumulate``'s argument, this argument
    and getrefcount's own. One more (the same tensor bound for two leaves by ``a + b``, a
    hook or retain_grad that kept it, another tensor or a view on the buffer) means a copy.
    """
    if not _EXACT_REFCOUNTS or sys.getrefcount(grad) > 4:
        return False
    data = grad._data
    if not data.flags.writeable:
        return False
    if data.base is None:
        return sys.getrefcount(data) == 3  # grad._data, this local and the argument
    # A transposed result ((x.T @ g).T) is a view of a buffer that nothing else uses.
    base = data.base
    return (
        type(base) is np.ndarray
        and base.base is None
        and base.size == data.size
        and sys.getrefcount(data) == 3
        and sys.getrefcount(base) == 3  # data.base, this local and the argument
    )


def _accumulate(leaf: Tensor, grad: Tensor, create_graph: bool, may_steal: bool = False) -> None:
    """Adds ``grad`` into ``leaf.grad`` (in place unless building a graph of the gradient).

    The first gradient is copied so that ``.grad`` owns its buffer, unless ``may_steal`` and
    the buffer is provably private to ``grad`` (a fresh product of a backward formula).
    """
    from ndgrad._tensor import Tensor

    if leaf._grad is None:
        if create_graph:
            leaf._grad = grad
        elif may_steal and _sole_owner(grad):
            leaf._grad = Tensor._make(grad._data)
        else:
            leaf._grad = Tensor._make(grad._data.copy())
    elif create_graph or leaf._grad._requires_grad:
        leaf._grad = leaf._grad + grad
    else:
        leaf._grad._data += grad._data
