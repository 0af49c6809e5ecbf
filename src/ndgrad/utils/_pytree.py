"""A small ``torch.utils._pytree``: nested tuples, lists, dicts and namedtuples flattened
to their leaves and rebuilt (``None`` is a node without leaves, as in PyTorch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TreeSpec", "LeafSpec", "tree_flatten", "tree_unflatten", "tree_map", "tree_leaves"]


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


@dataclass(eq=True)
class TreeSpec:
    """The structure of a tree: the node's type, its keys (dicts), children's specs."""

    type: Any
    context: Any = None
    children_specs: list = field(default_factory=list)

    @property
    def num_leaves(self) -> int:
        if self.type is None:
            return 1
        return sum(c.num_leaves for c in self.children_specs)

    def is_leaf(self) -> bool:
        return self.type is None

    def __repr__(self) -> str:
        if self.type is None:
            return "*"
        inner = ", ".join(repr(c) for c in self.children_specs)
        name = getattr(self.type, "__name__", str(self.type))
        if self.context is not None and not isinstance(self.context, type):
            return f"TreeSpec({name}, {self.context}, [{inner}])"
        return f"TreeSpec({name}, None, [{inner}])"


def LeafSpec() -> TreeSpec:  # noqa: N802 - PyTorch's name
    return TreeSpec(None)


def _children(tree: Any) -> tuple[Any, list, Any] | None:
    """(node type, children, context), or None for a leaf."""
    if tree is None:
        return type(None), [], None
    if _is_namedtuple(tree):
        return type(tree), list(tree), type(tree)
    if isinstance(tree, (tuple, list)):
        return type(tree), list(tree), None
    if isinstance(tree, dict):
        keys = list(tree.keys())
        return type(tree), [tree[k] for k in keys], keys
    return None


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, TreeSpec]:
    if is_leaf is not None and is_leaf(tree):
        return [tree], LeafSpec()
    node = _children(tree)
    if node is None:
        return [tree], LeafSpec()
    kind, children, context = node
    leaves: list = []
    specs = []
    for child in children:
        child_leaves, spec = tree_flatten(child, is_leaf)
        leaves.extend(child_leaves)
        specs.append(spec)
    return leaves, TreeSpec(kind, context, specs)


def _build(spec: TreeSpec, it: Any) -> Any:
    if spec.type is None:
        return next(it)
    children = [_build(c, it) for c in spec.children_specs]
    if spec.type is type(None):
        return None
    if spec.type is tuple or spec.type is list:
        return spec.type(children)
    if isinstance(spec.context, type):  # namedtuple
        return spec.type(*children)
    if issubclass(spec.type, dict):
        out = spec.type() if spec.type is not dict else {}
        for k, v in zip(spec.context, children, strict=True):
            out[k] = v
        return out
    return spec.type(children)


def tree_unflatten(leaves: Any, spec: TreeSpec) -> Any:
    leaves = list(leaves)
    if len(leaves) != spec.num_leaves:
        raise ValueError(
            f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} but the spec refers "
            f"to a pytree that holds {spec.num_leaves} items ({spec})."
        )
    return _build(spec, iter(leaves))


def tree_map(fn: Callable[..., Any], tree: Any, *rests: Any, is_leaf: Any = None) -> Any:
    leaves, spec = tree_flatten(tree, is_leaf)
    others = [tree_flatten(r, is_leaf)[0] for r in rests]
    return tree_unflatten([fn(*xs) for xs in zip(leaves, *others, strict=True)], spec)


def tree_leaves(tree: Any, is_leaf: Any = None) -> list:
    return tree_flatten(tree, is_leaf)[0]


def broadcast_prefix(prefix: Any, tree: Any) -> list | None:
    """``prefix``'s leaves repeated over the subtrees of ``tree`` they stand for, one per
    leaf of ``tree``; None when ``prefix`` is not a prefix of ``tree``'s structure."""
    if _children(prefix) is None or prefix is None:
        return [prefix] * len(tree_leaves(tree))
    node = _children(tree)
    pnode = _children(prefix)
    if node is None:
        return None
    kind, children, context = node
    pkind, pchildren, pcontext = pnode
    if kind is type(None):
        return []
    same_kind = (
        issubclass(kind, dict) and issubclass(pkind, dict) and set(context) == set(pcontext)
    ) or (not issubclass(kind, dict) and not issubclass(pkind, dict) and kind == pkind)
    if not same_kind or len(children) != len(pchildren):
        return None
    if issubclass(kind, dict):
        pchildren = [prefix[k] for k in context]
    out: list = []
    for p, c in zip(pchildren, children, strict=True):
        sub = broadcast_prefix(p, c)
        if sub is None:
            return None
        out.extend(sub)
    return out
