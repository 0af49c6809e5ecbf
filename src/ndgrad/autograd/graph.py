"""The recorded graph and the reverse-mode engine.

Every differentiable op calls :func:`record` with its output array, its input
tensors and a ``backward`` closure written with Tensor ops (so it can itself be
differentiated). The engine walks the graph iteratively in topological order,
reduces broadcast gradients to each input's shape in one place, and frees saved
tensors after use unless ``retain_graph``. ``loss.backward()`` first runs the nodes
that have a single consumer straight after that consumer (``_run_tree``), without an
ordering pass; nodes used more than once go to the general engine (``_run_graph``).
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
        "_uses",
        "__weakref__",
    )

    def __init__(
        self,
        name: str,
        backward_fn: BackwardFn,
        inputs: Sequence[Tensor],
        saved: tuple,
        num_outputs: int = 1,
    ) -> None:
        self._name = name
        self.backward_fn: BackwardFn | None = backward_fn
        # The edges to the inputs and their (shape, dtype); each input node counts this use.
        edges = []
        meta = []
        for t in inputs:
            node = t.grad_fn
            if node is not None:
                node._uses += 1
                edges.append((node, t._output_nr))
            elif t._requires_grad:
                edges.append((t, 0))
            else:
                edges.append(None)
            data = t._data
            meta.append((data.shape, data.dtype))
        self.edges = tuple(edges)
        self.input_meta = tuple(meta)
        self.saved = saved
        self.saved_versions = tuple([t._version[0] for t in saved]) if saved else ()
        self.num_outputs = num_outputs
        self.pre_hooks: dict[int, list[Callable]] | None = None
        self.retain_hooks: dict[int, Callable] | None = None
        # How many edges of recorded nodes ever pointed here (only grows). A node with one
        # can receive a gradient from one consumer only: the engine's tree fast path.
        self._uses = 0

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


# graph.py is imported while ndgrad._tensor is still being imported, so the class is bound on
# first use; a function-level ``from ... import`` costs about 0.5 us per call on the hot path.
_Tensor: Any = None


def tensor_type() -> type[Tensor]:
    """The Tensor class (bound lazily, see ``_Tensor``)."""
    global _Tensor
    if _Tensor is None:
        from ndgrad._tensor import Tensor

        _Tensor = Tensor
    return _Tensor


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
    out = (_Tensor or tensor_type())._make(data)
    if not STATE.enabled:
        return out
    for t in inputs:
        if t._requires_grad:
            break
    else:
        return out
    out.grad_fn = Node(name, backward, inputs, saved)
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
    make = tensor_type()._make
    outs = tuple(make(d) for d in datas)
    if not STATE.enabled or not any(t._requires_grad for t in inputs):
        return outs
    node = Node(name, backward, inputs, saved, num_outputs=len(outs))
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
    if inputs is None and len(outputs) == 1 and outputs[0].grad_fn is not None:
        # One output into the leaves' .grad (loss.backward()): the tree fast path.
        root = outputs[0].grad_fn
        grads = [None] * root.num_outputs
        grads[outputs[0]._output_nr] = grad_outputs[0]
        _run_tree(root, grads, retain_graph, create_graph)
        return None

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

    _run_graph(roots, root_grads, retain_graph, create_graph, inputs, targets, capture, results)

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


def _run_node_hooks(node: Node, grads: list) -> None:
    """A node's pre-hooks (``register_hook`` on a non-leaf) and ``retain_grad`` stores."""
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


def _call_node(node: Node, grads: list, retain_graph: bool) -> Sequence[Any]:
    """Runs a node's backward (after checking its saved tensors) and frees what it saved."""
    if node.saved or node.backward_fn is None:
        node.check_saved()
    if node.num_outputs == 1:
        in_grads = node.backward_fn(grads[0])
    else:
        in_grads = node.backward_fn(*grads)
    if not retain_graph and node.saved:
        node.backward_fn = None
        node.saved = ()
    return in_grads


def _run_tree(root: Node, root_grads: list, retain_graph: bool, create_graph: bool) -> None:
    """Backward from ``root`` through the nodes that have a single consumer.

    Such a node's gradient is complete once its one consumer has run, so it runs straight
    after, depth first (the order the general engine gives a tree), without an ordering
    pass or buffers keyed by id. Nodes used more than once wait, and so do the leaves, which
    may get several gradients; then the general engine takes over from the waiting nodes
    (and leaves) if there are any, or the leaves' gradients are delivered.
    """
    tensor_cls = _Tensor or tensor_type()
    stack = [(root, root_grads)]
    shared: dict[int, list] | None = None  # id -> [node, gradient per output]
    leaves: list = []
    leaf_grads: list = []
    leaf_slots: dict[int, int] = {}
    prev_mode = STATE.enabled
    STATE.enabled = create_graph
    try:
        while stack:
            node, grads = stack.pop()
            if node.pre_hooks or node.retain_hooks:
                _run_node_hooks(node, grads)
            # _call_node inlined: this loop runs once per node of every backward.
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
                if type(grad) is not tensor_cls and not isinstance(grad, tensor_cls):
                    raise TypeError(f"{node._name} returned a gradient of type {type(grad)}")
                if grad._data.shape != shape:
                    grad = grad.sum_to_size(shape)
                dtype = grad._data.dtype
                if dtype is not np_dtype and dtype != np_dtype:
                    grad = grad.to(np_dtype)
                child, nr = edge
                if type(child) is Node:
                    if child._uses == 1:
                        if child.num_outputs == 1:
                            stack.append((child, [grad]))
                        else:
                            buf = [None] * child.num_outputs
                            buf[nr] = grad
                            stack.append((child, buf))
                        continue
                    if shared is None:
                        shared = {}
                    entry = shared.get(id(child))
                    if entry is None:
                        entry = shared[id(child)] = [child, [None] * child.num_outputs]
                    buf = entry[1]
                    buf[nr] = grad if buf[nr] is None else buf[nr] + grad
                else:
                    slot = leaf_slots.get(id(child))
                    if slot is None:
                        leaf_slots[id(child)] = len(leaves)
                        leaves.append(child)
                        leaf_grads.append(grad)
                    else:
                        leaf_grads[slot] = leaf_grads[slot] + grad
        # Drop this frame's extra references, so _sole_owner's counts see only real holders.
        node = grads = in_grads = grad = buf = entry = None

        if shared is not None:
            roots = [entry[0] for entry in shared.values()]
            buffers = {id(entry[0]): entry[1] for entry in shared.values()}
            for leaf, grad in zip(leaves, leaf_grads):
                roots.append(leaf)
                buffers[id(leaf)] = [grad]
            shared = leaf_grads = entry = grad = None
            _run_graph(roots, buffers, retain_graph, create_graph)
            return
        for i, leaf in enumerate(leaves):
            grad = leaf_grads[i]
            leaf_grads[i] = None
            if leaf._hooks:
                for hook in leaf._hooks:
                    new = hook(grad)
                    if new is not None:
                        grad = new
                _accumulate(leaf, grad, create_graph)
            else:
                _accumulate(leaf, grad, create_graph, may_steal=True)
    finally:
        STATE.enabled = prev_mode


def _run_graph(
    roots: list,
    buffers: dict[int, list],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
    targets: dict[tuple[int, int], int] | None = None,
    capture: bool = False,
    results: list | None = None,
) -> None:
    """The general engine: any graph, several roots, ``inputs`` (``targets``) to deliver to.

    ``buffers`` maps each root's id to its gradients (one per output); vertices run in
    topological order, so a node runs once every consumer has added its gradient.
    """
    tensor_cls = _Tensor or tensor_type()
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
            if node.pre_hooks or node.retain_hooks:
                _run_node_hooks(node, grads)
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
            in_grads = _call_node(node, grads, retain_graph)
            for edge, grad, (shape, np_dtype) in zip(node.edges, in_grads, node.input_meta):
                if edge is None or grad is None:
                    continue
                if not isinstance(grad, tensor_cls):
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
    if type(data) is not np.ndarray or not data.flags.writeable:
        return False  # other backends' arrays: always copied
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
    if leaf._grad is None:
        make = (_Tensor or tensor_type())._make
        if create_graph:
            leaf._grad = grad
        elif may_steal and _sole_owner(grad):
            leaf._grad = make(grad._data)
        else:
            leaf._grad = make(grad._data.copy())
    elif create_graph or leaf._grad._requires_grad:
        leaf._grad = leaf._grad + grad
    else:
        leaf._grad._data += grad._data
