"""The recorded graph and the reverse-mode engine.

An op computes its output array, then calls :func:`record` with its inputs and its one
derivative rule: ``rule(xp, g, *saved)`` returns one gradient (or ``None``) per input. The
rule is written once, against operations that arrays and Tensors both support (``xp`` is
the array library's namespace, or ndgrad's own over Tensors; see ``ndgrad.ops.namespace``):
a first-order backward runs it on raw arrays, ``create_graph=True`` runs it on Tensors and so
records the gradient's own graph (any order). What the rule reads (inputs, other tensors,
the op's own output) is saved and version-checked; constants may live in its closure.

The engine walks the graph iteratively in topological order, fits every gradient to its
input's shape and dtype in one place (:func:`_fit`), and frees saved values after use
unless ``retain_graph``. ``loss.backward()`` first runs the nodes that have a single
consumer straight after that consumer (``_run_tree``), without an ordering pass; nodes used
more than once go to the general engine (``_run_graph``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ndgrad import _dtype
from ndgrad.autograd.grad_mode import STATE

if TYPE_CHECKING:
    from ndgrad._tensor import Tensor

Rule = Callable[..., Sequence[Any]]

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)
_BACKWARD_SUFFIX = re.compile(r"Backward0?$|Backward(?=\d+$)")


class Node:
    """A recorded op (``grad_fn``): its derivative rule, what it saved, edges to its inputs.

    ``edges[i]`` is ``(node, output_nr)`` for a non-leaf input, ``(leaf_tensor, 0)`` for a
    leaf that requires grad, or ``None``. ``output`` is ``[data, version counter, version]``
    of the op's own result when the rule reads it (kept as its array and counter, not as the
    Tensor, which holds this node: no reference cycle). ``tensor_rule`` marks rules written
    with Tensors only (custom Functions): ``rule(*grads)``, always called with Tensors.
    """

    __slots__ = (
        "_name",
        "rule",
        "edges",
        "input_meta",
        "saved",
        "saved_versions",
        "output",
        "num_outputs",
        "tensor_rule",
        "pre_hooks",
        "retain_hooks",
        "_uses",
        "__weakref__",
    )

    def __init__(
        self,
        name: str,
        rule: Rule,
        inputs: Sequence[Tensor],
        saved: tuple,
        num_outputs: int = 1,
        tensor_rule: bool = False,
    ) -> None:
        self._name = name
        self.rule: Rule | None = rule
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
        self.saved_versions = tuple([t._version_counter[0] for t in saved]) if saved else ()
        self.output: list | None = None
        self.num_outputs = num_outputs
        self.tensor_rule = tensor_rule
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

    def save_output(self, out: Tensor) -> None:
        """The rule reads ``out``, the op's result: checked against in-place changes like inputs."""
        self.output = [out._data, out._version_counter, out._version_counter[0]]

    def check_saved(self) -> None:
        """PyTorch's errors for a freed graph or a saved tensor modified in place since."""
        if self.rule is None:
            raise RuntimeError(FREED_MESSAGE)
        for t, version in zip(self.saved, self.saved_versions):
            if t._version_counter[0] != version:
                creator = t.grad_fn._name if t.grad_fn is not None else None
                raise _modified_error(
                    t._data, t._output_nr, creator, t._version_counter[0], version
                )
        out = self.output
        if out is not None and out[1][0] != out[2]:
            raise _modified_error(out[0], 0, self._name, out[1][0], out[2])

    def output_tensor(self) -> Tensor:
        """The saved output as a Tensor of this node's graph (for rules run under create_graph)."""
        data, counter, _ = self.output
        t = (_Tensor or tensor_type())._make(data)
        t._version_counter = counter
        t.grad_fn = self
        t._requires_grad = True
        return t

    def free(self) -> None:
        self.rule = None
        self.saved = ()
        self.output = None


def _modified_error(data: Any, nr: int, creator: str | None, now: int, expected: int) -> Exception:
    from ndgrad._tensor import _TYPE_NAMES

    kind = f"{_dtype.printed_prefix()}.{_TYPE_NAMES.get(data.dtype.name, 'Tensor')}"
    # PyTorch 2.13 names the node without "Backward0": "output 0 of Sigmoid", "of Pow2".
    which = f", which is output {nr} of {_BACKWARD_SUFFIX.sub('', creator)}," if creator else ""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{kind} {list(data.shape)}]{which} is at version {now}; expected version "
        f"{expected} instead. Hint: the tensor was changed in place after it was used; clone() "
        "it before modifying it, or use the out-of-place op."
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
# The namespaces rules are written against (ndgrad.ops.namespace registers them: the ops
# depend on the engine, not the other way round). Array type -> namespace, and Tensors'.
_ARRAY_NS: dict = {}
_TENSOR_NS: Any = None
_array_namespace_for: Callable[[Any], Any] | None = None


def tensor_type() -> type[Tensor]:
    """The Tensor class (bound lazily, see ``_Tensor``)."""
    global _Tensor
    if _Tensor is None:
        from ndgrad._tensor import Tensor

        _Tensor = Tensor
    return _Tensor


def register_namespaces(
    array_namespace_for: Callable[[Any], Any], cache: dict, tensors: Any
) -> None:
    """Called by ``ndgrad.ops.namespace``: how rules get their ``xp`` (``cache`` maps array
    types to the namespaces ``array_namespace_for`` has built)."""
    global _array_namespace_for, _ARRAY_NS, _TENSOR_NS
    _array_namespace_for = array_namespace_for
    _ARRAY_NS = cache
    _TENSOR_NS = tensors


def array_namespace(data: Any) -> Any:
    """The rule namespace for an array (NumPy's, or a registered backend's)."""
    return _ARRAY_NS.get(type(data)) or _array_namespace_for(data)


def edge_of(t: Tensor) -> tuple | None:
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if t._requires_grad:
        return (t, 0)
    return None


def record(
    name: str,
    data: Any,
    inputs: Sequence[Tensor],
    rule: Rule,
    saved: tuple = (),
    save_output: bool = False,
) -> Tensor:
    """Wraps ``data`` as the output of an op; links it into the graph when needed.

    ``rule(xp, g, *saved[, output])`` returns one gradient (or ``None``) per input; a
    gradient may keep a broadcast shape or another float dtype, the engine fits it to the
    input. ``saved`` are the tensors the rule reads; ``save_output`` appends the op's result.
    """
    out = (_Tensor or tensor_type())._make(data)
    if not STATE.enabled:
        return out
    for t in inputs:
        if t._requires_grad:
            break
    else:
        return out
    node = out.grad_fn = Node(name, rule, inputs, saved)
    if save_output:
        node.output = [data, out._version_counter, 0]
    out._requires_grad = True
    return out


def record_multi(
    name: str,
    datas: Sequence[Any],
    inputs: Sequence[Tensor],
    backward: Rule,
    saved: tuple = (),
    differentiable: Sequence[bool] | None = None,
) -> tuple[Tensor, ...]:
    """An op with several outputs whose ``backward(*grads)`` is written with Tensors
    (custom Functions): always called with Tensors, whatever the order of differentiation."""
    make = tensor_type()._make
    outs = tuple(make(d) for d in datas)
    if not STATE.enabled or not any(t._requires_grad for t in inputs):
        return outs
    node = Node(name, backward, inputs, saved, num_outputs=len(outs), tensor_rule=True)
    for i, out in enumerate(outs):
        if differentiable is None or differentiable[i]:
            out.grad_fn = node
            out._output_nr = i
            out._requires_grad = True
    return outs


def _topological_order(roots: list) -> list:
    """Vertices (Nodes and leaf Tensors) reachable from ``roots``, parents before children.

    Iterative depth-first post-order, reversed: no recursion limit on long chains. The walk
    allocates no container per vertex (a vertex stack and a parallel stack of edge positions,
    small ints): per-vertex tuples and iterators kept alive on a deep stack made the garbage
    collector rescan them again and again, so a chain of 10^6 nodes took far more than ten
    times a chain of 10^5.
    """
    visited: set[int] = set()
    post: list = []
    for root in roots:
        if id(root) in visited:
            continue
        visited.add(id(root))
        vertices = [root]
        positions = [0]
        while vertices:
            vertex = vertices[-1]
            edges = vertex.edges if type(vertex) is Node or isinstance(vertex, Node) else ()
            i = positions[-1]
            n = len(edges)
            while i < n:
                edge = edges[i]
                i += 1
                if edge is not None and id(edge[0]) not in visited:
                    child = edge[0]
                    visited.add(id(child))
                    positions[-1] = i
                    vertices.append(child)
                    positions.append(0)
                    break
            else:
                vertices.pop()
                positions.pop()
                post.append(vertex)
    post.reverse()
    return post


# ----------------------------------------------------------------------------- gradients
# A first-order backward passes raw arrays between rules; ``create_graph`` passes Tensors.
# Hooks and results always see Tensors: ``_as_grad`` / ``_as_tensor`` convert at the edges.


def sum_to(data: Any, shape: tuple) -> Any:
    """``data`` summed over the dims it was broadcast along, to ``shape`` (HIPS's unbroadcast)."""
    src = data.shape
    lead = len(src) - len(shape)
    if lead < 0:
        raise RuntimeError(f"size {list(shape)} is not expandable to size {list(src)}")
    axes = list(range(lead))  # the leading dims, then those broadcast from 1
    for i, s in enumerate(shape):
        if s != src[lead + i]:
            if s != 1:
                raise RuntimeError(f"size {list(shape)} is not expandable to size {list(src)}")
            axes.append(lead + i)
    if not axes:
        return data
    if type(data) is np.ndarray:
        return np.add.reduce(data, axis=tuple(axes)).reshape(shape)
    from ndgrad._backend import array_module

    return array_module(data).sum(data, axis=tuple(axes)).reshape(shape)


def _fit(grad: Any, meta: tuple, create_graph: bool, name: str) -> Any:
    """A rule's gradient for one input, summed to its shape and cast to its dtype."""
    shape, dtype = meta
    if create_graph:
        if not isinstance(grad, _Tensor):
            raise TypeError(f"{name} returned a gradient of type {type(grad).__name__}")
        if grad._data.shape != shape:
            grad = grad.sum_to_size(shape)
        if grad._data.dtype != dtype:
            grad = grad.to(dtype)
        return grad
    if type(grad) is not np.ndarray:
        grad = _array_of(grad, name)
    if grad.shape != shape:
        grad = sum_to(grad, shape)
    if grad.dtype is not dtype and grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def _array_of(grad: Any, name: str) -> Any:
    """A rule's array result as an array: NumPy scalars (0-d results) become 0-d arrays."""
    from ndgrad._backend import _XP_BY_TYPE

    if type(grad) in _XP_BY_TYPE:
        return grad
    if isinstance(grad, np.generic):
        return np.asarray(grad)
    raise TypeError(f"{name} returned a gradient of type {type(grad).__name__}")


def _as_tensor(grad: Any) -> Tensor | None:
    """A gradient for a hook or a result: Tensors stay, arrays are wrapped."""
    if grad is None or isinstance(grad, _Tensor):
        return grad
    return _Tensor._make(grad)


def _call_hook(hook: Callable, grad: Any, create_graph: bool) -> Any:
    """``hook(grad)`` with PyTorch's checks: a replacement keeps the gradient's shape and dtype."""
    t = _as_tensor(grad)
    new = hook(t)
    if new is None:
        return grad
    if not isinstance(new, _Tensor):
        raise TypeError(
            f"hook '{getattr(hook, '__name__', 'hook')}' returned an object of type "
            f"{type(new).__name__}: expected a Tensor or None"
        )
    hook_name = getattr(hook, "__name__", "hook")
    if new._data.shape != t._data.shape:
        raise RuntimeError(
            f"hook '{hook_name}' has changed the size of value (expected {list(t.shape)}, got "
            f"{list(new.shape)})"
        )
    if new._data.dtype != t._data.dtype:
        raise RuntimeError(
            f"hook '{hook_name}' has changed the type of value (expected {t.dtype}, got "
            f"{new.dtype})"
        )
    return new if create_graph else new._data


def _apply(node: Node, grads: list, retain_graph: bool, create_graph: bool) -> Sequence[Any]:
    """Runs ``node``'s rule on its output gradients (after checking what it saved)."""
    if node.saved or node.output is not None or node.rule is None:
        node.check_saved()
    rule = node.rule
    if node.tensor_rule:
        if create_graph:
            in_grads = rule(*grads)
        else:
            in_grads = rule(*[_as_tensor(g) for g in grads])
            in_grads = [_unwrap(g, node._name) for g in in_grads]
    elif create_graph:
        values = node.saved
        if node.output is not None:
            values = (*values, node.output_tensor())
        in_grads = rule(_TENSOR_NS, grads[0], *values)
    else:
        g = grads[0]
        xp = _ARRAY_NS.get(type(g)) or array_namespace(g)
        if node.saved:
            values = [t._data for t in node.saved]
            if node.output is not None:
                values.append(node.output[0])
            in_grads = rule(xp, g, *values)
        elif node.output is not None:
            in_grads = rule(xp, g, node.output[0])
        else:
            in_grads = rule(xp, g)
    if not retain_graph and (node.saved or node.output is not None):
        node.free()
    return in_grads


def _unwrap(grad: Any, name: str) -> Any:
    if grad is None:
        return None
    if isinstance(grad, _Tensor):
        return grad._data
    raise TypeError(f"{name} returned a gradient of type {type(grad).__name__}")


def backward_one(out: Tensor, grad: Any, retain_graph: bool, create_graph: bool) -> None:
    """``loss.backward()``: one output with its gradient array (made by the caller)."""
    if out.grad_fn is None:
        run_backward((out,), [_Tensor._make(grad)], retain_graph, create_graph)
        return
    _run_tree(
        out.grad_fn, [_Tensor._make(grad) if create_graph else grad], retain_graph, create_graph
    )


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
    tensor_type()
    if not create_graph:  # gradients travel as arrays
        grad_outputs = [None if g is None else g._data for g in grad_outputs]
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
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior."
                )
        return tuple(_as_tensor(r) for r in results)
    return None


def _run_node_hooks(node: Node, grads: list, create_graph: bool) -> None:
    """A node's pre-hooks (``register_hook`` on a non-leaf) and ``retain_grad`` stores."""
    if node.pre_hooks:
        for nr, hooks in node.pre_hooks.items():
            for hook in hooks:
                if grads[nr] is not None:
                    grads[nr] = _call_hook(hook, grads[nr], create_graph)
    if node.retain_hooks:
        for nr, hook in node.retain_hooks.items():
            if grads[nr] is not None:
                hook(_as_tensor(grads[nr]))


def _leaf_hooks(leaf: Tensor, grad: Any, create_graph: bool) -> Any:
    for hook in leaf._hooks:
        grad = _call_hook(hook, grad, create_graph)
    return grad


def _run_tree(root: Node, root_grads: list, retain_graph: bool, create_graph: bool) -> None:
    """Backward from ``root`` through the nodes that have a single consumer.

    Such a node's gradient is complete once its one consumer has run, so it runs straight
    after, depth first (the order the general engine gives a tree), without an ordering
    pass or buffers keyed by id. Nodes used more than once wait, and so do the leaves, which
    may get several gradients; then the general engine takes over from the waiting nodes
    (and leaves) if there are any, or the leaves' gradients are delivered.
    """
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
                _run_node_hooks(node, grads, create_graph)
            in_grads = _apply(node, grads, retain_graph, create_graph)
            for edge, grad, meta in zip(node.edges, in_grads, node.input_meta):
                if edge is None or grad is None:
                    continue
                # Most gradients fit already: skip the call (one check of _fit's three).
                if type(grad) is not np.ndarray or grad.shape != meta[0] or grad.dtype != meta[1]:
                    grad = _fit(grad, meta, create_graph, node._name)
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
                _accumulate(leaf, _leaf_hooks(leaf, grad, create_graph), create_graph)
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
                if vertex._hooks:
                    grad = _leaf_hooks(vertex, grad, create_graph)
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
                _run_node_hooks(node, grads, create_graph)
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
            in_grads = _apply(node, grads, retain_graph, create_graph)
            for edge, grad, meta in zip(node.edges, in_grads, node.input_meta):
                if edge is None or grad is None:
                    continue
                grad = _fit(grad, meta, create_graph, node._name)
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


def _sole_owner(data: Any) -> bool:
    """Whether the gradient array ``data`` is seen by nobody but the engine's leaf step.

    The references counted: the engine's local, ``_accumulate``'s argument, this argument
    and getrefcount's own. One more (the same array bound for two leaves by ``a + b``, a
    hook or retain_grad that kept it, a tensor or a view on the buffer) means a copy.
    """
    if not _EXACT_REFCOUNTS or type(data) is not np.ndarray or not data.flags.writeable:
        return False  # other backends' arrays: always copied
    if sys.getrefcount(data) > 4:
        return False
    if data.base is None:
        return True
    # A transposed result ((x.T @ g).T) is a view of a buffer that nothing else uses.
    base = data.base
    return (
        type(base) is np.ndarray
        and base.base is None
        and base.size == data.size
        and sys.getrefcount(base) == 3  # data.base, this local and the argument
    )


def _accumulate(leaf: Tensor, grad: Any, create_graph: bool, may_steal: bool = False) -> None:
    """Adds ``grad`` (an array, or a Tensor under create_graph) into ``leaf.grad``.

    In place unless building a graph of the gradient. The first gradient is copied so that
    ``.grad`` owns its buffer, unless ``may_steal`` and the buffer is provably private (a
    fresh product of a rule).
    """
    make = _Tensor._make
    if create_graph:
        leaf._grad = grad if leaf._grad is None else leaf._grad + grad
    elif leaf._grad is None:
        if may_steal and _sole_owner(grad):
            leaf._grad = make(grad)
        else:
            leaf._grad = make(grad.copy())
    elif leaf._grad._requires_grad:
        leaf._grad = leaf._grad + make(grad)
    else:
        leaf._grad._data += grad
    if leaf._post_accumulate_grad_hooks:  # register_post_accumulate_grad_hook (DDP's buckets)
        for hook in tuple(leaf._post_accumulate_grad_hooks):
            hook(leaf)
