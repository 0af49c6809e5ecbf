"""``torch.func``'s gradient transforms on ndgrad's reverse mode: ``grad``,
``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``, ``hessian``.

Each transform makes the differentiated inputs fresh leaves (or views, where they already
carry a graph from an enclosing transform or from user code), runs the function under
``enable_grad`` and differentiates with ``create_graph`` when grad mode is on, so transforms
nest (``jacrev(jacrev(f))``, ``vmap(grad(f))``) and their results stay differentiable
by ordinary autograd. Results that depend only on the transform's own leaves are returned
detached, as PyTorch's are. Forward-mode products use the double-backward trick of
``autograd.functional.jvp``; the Jacobians are ``autograd.functional.jacobian``'s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.autograd import functional as _functional
from ndgrad.autograd.grad_mode import enable_grad, is_grad_enabled
from ndgrad.utils._pytree import tree_flatten, tree_map, tree_unflatten

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]

argnums_t = int | tuple[int, ...]


# ----------------------------------------------------------------------------- argnums
def _validate_and_wrap_argnum(argnum: Any, num_args: int) -> int:
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _slice_argnums(args: tuple, argnums: Any, as_tuple: bool = True) -> tuple[Any, Any]:
    """The differentiated arguments and the argnums wrapped to non-negative."""
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if isinstance(argnums, int):
        argnums = _validate_and_wrap_argnum(argnums, len(args))
        return ((args[argnums],) if as_tuple else args[argnums]), argnums
    argnums = tuple(_validate_and_wrap_argnum(a, len(args)) for a in argnums)
    if len(argnums) == 0:
        raise RuntimeError("argnums must be non-empty")
    if len(set(argnums)) != len(argnums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return tuple(args[i] for i in argnums), argnums


def _replace_args(args: tuple, new: Any, argnums: Any) -> tuple:
    if isinstance(argnums, int):
        return tuple(new if i == argnums else a for i, a in enumerate(args))
    pos = {n: k for k, n in enumerate(argnums)}
    return tuple(new[pos[i]] if i in pos else a for i, a in enumerate(args))


# ----------------------------------------------------------------------------- levels
def _differentiable(tree: Any) -> tuple[Any, set[int]]:
    """``tree`` with each Tensor replaced by a tensor that requires grad: a view when it
    already has a graph (an enclosing transform's input), else a fresh leaf (returned ids)."""
    own: set[int] = set()

    def make(x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
        if x.requires_grad:
            return x.view_as(x)
        if not x.is_floating_point():
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        leaf = x.detach().requires_grad_(True)
        own.add(id(leaf))
        return leaf

    return tree_map(make, tree), own


def _depends_on_other_leaves(t: Tensor, own: set[int]) -> bool:
    """Whether ``t``'s graph reaches a leaf that is not one of ``own``."""
    from ndgrad.autograd.graph import Node

    if t.grad_fn is None:
        return t.requires_grad and id(t) not in own
    stack, seen = [t.grad_fn], {id(t.grad_fn)}
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge is None:
                continue
            child = edge[0]
            if isinstance(child, Node):
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)
            elif id(child) not in own:
                return True
    return False


def _undo(tree: Any, own: set[int]) -> Any:
    """Tensors that depend only on this transform's leaves, detached."""

    def undo(x: Any) -> Any:
        if isinstance(x, Tensor) and x.requires_grad and not _depends_on_other_leaves(x, own):
            return x.detach()
        return x

    return tree_map(undo, tree)


def _grads(
    outputs: list, inputs: list, grad_outputs: list | None, create_graph: bool
) -> list[Tensor]:
    """``autograd.grad`` allowing unused inputs and outputs that do not require grad;
    zeros where a gradient is None."""
    from ndgrad._creation import zeros_like

    res = _functional._autograd_grad(
        tuple(outputs),
        tuple(inputs),
        None if grad_outputs is None else tuple(grad_outputs),
        create_graph=create_graph,
        retain_graph=True,
    )
    return [zeros_like(x) if g is None else g for g, x in zip(res, inputs, strict=True)]


# ----------------------------------------------------------------------------- grad
def _grad_and_value(
    func: Callable[..., Any], argnums: Any, has_aux: bool, args: tuple, kwargs: dict
) -> tuple[Any, Any]:
    with enable_grad():
        diff_args, argnums = _slice_argnums(args, argnums, as_tuple=False)
        diff_args, own = _differentiable(diff_args)
        output = func(*_replace_args(args, diff_args, argnums), **kwargs)
        aux = None
        if has_aux:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise RuntimeError(
                    "grad_and_value(f)(*args): output of function f should be a tuple: "
                    "(output, aux) if has_aux is True"
                )
            output, aux = output
        if not isinstance(output, Tensor):
            raise RuntimeError(
                f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                f"{type(output)}"
            )
        if output.dim() != 0:
            raise RuntimeError(
                "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                f"tensor with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev "
                "APIs instead?"
            )
        flat_diff, spec = tree_flatten(diff_args)
        # a gradient that could only depend on this transform's leaves is returned detached:
        # no graph of the backward needed then
        create_graph = is_grad_enabled() and _depends_on_other_leaves(output, own)
        grads = tree_unflatten(_grads([output], flat_diff, None, create_graph), spec)
    grads = _undo(grads, own)
    output = _undo(output, own)
    if has_aux:
        return grads, (output, _undo(aux, own))
    return grads, output


def grad_and_value(
    func: Callable[..., Any], argnums: argnums_t = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """``func`` turned into a function returning ``(gradient, value)`` of its scalar output
    with respect to the arguments ``argnums`` (``(gradient, (value, aux))`` with
    ``has_aux``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _grad_and_value(func, argnums, has_aux, args, kwargs)

    return wrapper


def grad(func: Callable[..., Any], argnums: argnums_t = 0, has_aux: bool = False) -> Callable:
    """``func`` turned into the function computing the gradient of its scalar output with
    respect to the arguments ``argnums`` (``(gradient, aux)`` with ``has_aux``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        grads, value = _grad_and_value(func, argnums, has_aux, args, kwargs)
        return (grads, value[1]) if has_aux else grads

    return wrapper


# ----------------------------------------------------------------------------- vjp
def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """``(func(*primals), vjp_fn)`` (and ``aux``); ``vjp_fn(cotangents)`` gives the
    vector-Jacobian products, one per primal."""
    with enable_grad():
        diff_primals, own = _differentiable(primals)
        out = func(*diff_primals)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError(
                    "vjp(f, *primals): output of function f should be a tuple: (output, aux) "
                    "if has_aux is True"
                )
            out, aux = out
        flat_out, out_spec = tree_flatten(out)
        for o in flat_out:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"Expected tensors, got unsupported type {type(o)}")
            if not o.is_floating_point():
                raise RuntimeError(
                    "vjp(f, ...): All outputs of f must be floating-point or complex Tensors, "
                    f"got Tensor with dtype {o.dtype}"
                )
    flat_primals, primals_spec = tree_flatten(diff_primals)

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: bool | None = None) -> Any:
        flat_ct, ct_spec = tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure "
                f"of outputs to the function. cotangents: {ct_spec}, primal output: {out_spec}"
            )
        if create_graph is None:  # (a graph only where the result can keep one)
            create_graph = is_grad_enabled() and any(
                _depends_on_other_leaves(o, own) for o in flat_out
            )
        cg = create_graph
        with enable_grad():
            grads = _grads(flat_out, flat_primals, flat_ct, cg)
        return _undo(tree_unflatten(grads, primals_spec), own)

    result = (_undo(out, own), vjp_fn)
    return result + (_undo(aux, own),) if has_aux else result


# ----------------------------------------------------------------------------- jvp
def jvp(
    func: Callable[..., Any],
    primals: Any,
    tangents: Any,
    *,
    strict: bool = False,
    has_aux: bool = False,
) -> tuple:
    """``(func(*primals), J @ tangents)`` (and ``aux``): the Jacobian-vector product, by
    the double-backward trick."""
    from ndgrad._creation import zeros_like

    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(
            f"{api}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals)."
        )
    flat_primals, primals_spec = tree_flatten(primals)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise RuntimeError(
            f"{api}: Expected primals and tangents to have the same python structure. For "
            "example, if primals is a tuple of 3 tensors, tangents also must be. Got primals "
            f"with structure {primals_spec} and tangents with structure {tangents_spec}"
        )
    for name, flat in (("primals", flat_primals), ("tangents", flat_tangents)):
        if not flat:
            raise RuntimeError(f"{api}: Expected {name} to contain at least one Tensor.")
        for x in flat:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{api}: Expected {name} to only contain Tensors, got {type(x)}")
    for p, t in zip(flat_primals, flat_tangents, strict=True):
        if p.shape != t.shape:
            raise RuntimeError(
                "Trying to set a forward gradient that has a different size than that of the "
                f"original Tensor, this is not supported. Tensor is of size {list(p.shape)} "
                f"while the given forward gradient is of size {list(t.shape)}."
            )
    create_graph = is_grad_enabled()
    with enable_grad():
        diff, own = _differentiable(primals)
        out = func(*diff)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError(
                    f"{api}: output of function f should be a tuple: (output, aux) if has_aux "
                    "is True"
                )
            out, aux = out
        flat_out, out_spec = tree_flatten(out)
        for o in flat_out:
            if not isinstance(o, Tensor):
                raise RuntimeError(
                    f"{api}: expected f(*args) to return only tensors, got unsupported type "
                    f"{type(o)}"
                )
        flat_diff = tree_flatten(diff)[0]
        # vᵀJ is linear in v: differentiating it with respect to v in the direction of the
        # tangents gives J t (autograd.functional.jvp's trick)
        dummies = [zeros_like(o).requires_grad_(True) for o in flat_out]
        vjps = _functional._autograd_grad(
            tuple(flat_out), tuple(flat_diff), tuple(dummies), create_graph=True, retain_graph=True
        )
        pairs = [(g, t) for g, t in zip(vjps, flat_tangents, strict=True) if g is not None]
        if not pairs:
            if strict:
                raise RuntimeError(
                    "jvp(f, primals, tangents, strict=True): The output of f is independent of "
                    "the inputs. This is not allowed with strict=True."
                )
            jvps = [zeros_like(o) for o in flat_out]
        else:
            jvps = _grads([g for g, _ in pairs], dummies, [t for _, t in pairs], create_graph)
    result = (_undo(out, own), _undo(tree_unflatten(jvps, out_spec), own))
    return result + (_undo(aux, own),) if has_aux else result


# ----------------------------------------------------------------------------- jacobians
def _jacobian(api: str, func: Callable[..., Any], argnums: Any, has_aux: bool, args: tuple) -> Any:
    create_graph = is_grad_enabled()
    diff_args, argnums = _slice_argnums(args, argnums, as_tuple=False)
    diff_args, own = _differentiable(diff_args)
    flat_diff, diff_spec = tree_flatten(diff_args)
    box: dict[str, Any] = {}

    def flat_func(*flat_inputs: Tensor) -> tuple:
        out = func(*_replace_args(args, tree_unflatten(flat_inputs, diff_spec), argnums))
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError(
                    f"{api}(f, ...)(*args): output of function f should be a tuple: "
                    "(output, aux) if has_aux is True"
                )
            out, box["aux"] = out
        flat_out, box["spec"] = tree_flatten(out)
        if not flat_out:
            raise RuntimeError(
                f"{api}(f, ...)(*args): Expected f to be a function that has non-empty output "
                f"(got output = {out})"
            )
        for o in flat_out:
            if not isinstance(o, Tensor):
                raise RuntimeError(
                    f"{api}(f, ...)(*args): expected f(*primals) to return only tensors, got "
                    f"unsupported type {type(o)}"
                )
        return tuple(flat_out)

    with enable_grad():
        # one reverse pass per output element (autograd.functional.jacobian)
        jac = _functional.jacobian(flat_func, tuple(flat_diff), create_graph=create_graph)
    # per output: the blocks in the structure of the differentiated arguments
    per_output = [tree_unflatten(list(row), diff_spec) for row in jac]
    result = _undo(tree_unflatten(per_output, box["spec"]), own)
    return (result, _undo(box["aux"], own)) if has_aux else result


def jacrev(
    func: Callable[..., Any],
    argnums: argnums_t = 0,
    *,
    has_aux: bool = False,
    chunk_size: int | None = None,
    _preallocate_and_copy: bool = False,
) -> Callable[..., Any]:
    """``func`` turned into the function computing its Jacobian with respect to the
    arguments ``argnums``: for each output, ``output.shape + input.shape``."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        return _jacobian("jacrev", func, argnums, has_aux, args)

    return wrapper


def jacfwd(
    func: Callable[..., Any],
    argnums: argnums_t = 0,
    has_aux: bool = False,
    *,
    randomness: str = "error",
) -> Callable[..., Any]:
    """The Jacobian as ``jacrev`` lays it out (computed here in reverse mode too)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            "Only allowed values for randomness are 'error', 'different', or 'same'. "
            f"Got {randomness}"
        )

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        return _jacobian("jacfwd", func, argnums, has_aux, args)

    return wrapper


def hessian(func: Callable[..., Any], argnums: argnums_t = 0) -> Callable[..., Any]:
    """The Hessian of ``func`` with respect to ``argnums``: ``jacfwd(jacrev(func))``."""
    return jacfwd(jacrev(func, argnums), argnums)
