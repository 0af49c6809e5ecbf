"""``torch.func.vmap`` by mapping: ``func`` is called once per index of the mapped
dimension on slices of the inputs, and the outputs are stacked along ``out_dims``. The
results are those of a vectorized map (and differentiable through ``select``/``stack``);
``vmap`` composes with itself and with the gradient transforms."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.utils._pytree import broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["vmap"]


def _get_name(func: Any) -> str:
    return func.__name__ if hasattr(func, "__name__") else repr(func)


def _flat_in_dims(func: Any, in_dims: Any, args: tuple) -> tuple[list, list, Any]:
    name = _get_name(func)
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(
            f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): "
            f"expected `in_dims` to be int or a (potentially nested) tuple "
            f"matching the structure of inputs, got: {type(in_dims)}."
        )
    if len(args) == 0:
        raise ValueError(
            f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add "
            f"inputs, or you are trying to vmap over a function with no inputs. "
            f"The latter is unsupported."
        )
    flat_args, args_spec = tree_flatten(args)
    flat_in_dims = broadcast_prefix(in_dims, args)
    if flat_in_dims is None:
        raise ValueError(
            f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): "
            f"in_dims is not compatible with the structure of `inputs`. "
            f"in_dims has structure {tree_flatten(in_dims)[1]} but inputs "
            f"has structure {args_spec}."
        )
    for arg, in_dim in zip(flat_args, flat_in_dims, strict=True):
        if not isinstance(in_dim, int) and in_dim is not None:
            raise ValueError(
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): "
                f"Got in_dim={in_dim} for an input but in_dim must be either "
                f"an integer dimension or None."
            )
        if isinstance(in_dim, int) and not isinstance(arg, Tensor):
            raise ValueError(
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): "
                f"Got in_dim={in_dim} for an input but the input is of type "
                f"{type(arg)}. We cannot vmap over non-Tensor arguments, "
                f"please use None as the respective in_dim"
            )
        if in_dim is not None and (in_dim < -arg.dim() or in_dim >= arg.dim()):
            raise ValueError(
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): "
                f"Got in_dim={in_dim} for some input, but that input is a Tensor "
                f"of dimensionality {arg.dim()} so expected in_dim to satisfy "
                f"-{arg.dim()} <= in_dim < {arg.dim()}."
            )
    return flat_args, flat_in_dims, args_spec


def _batch_size(flat_in_dims: list, flat_args: list) -> int:
    sizes = [a.size(d) for d, a in zip(flat_in_dims, flat_args, strict=True) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(
            f"vmap: Expected all tensors to have the same size in the mapped "
            f"dimension, got sizes {sizes} for the mapped dimension"
        )
    return sizes[0]


def _flat_out_dims(func: Any, out_dims: Any, output: Any, output_spec: Any) -> list:
    def incompatible() -> ValueError:
        return ValueError(
            f"vmap({_get_name(func)}, ..., out_dims={out_dims})(<inputs>): "
            f"out_dims is not compatible with the structure of `outputs`. "
            f"out_dims has structure {tree_flatten(out_dims)[1]} but outputs "
            f"has structure {output_spec}."
        )

    for d in tree_flatten(out_dims)[0] if out_dims is not None else []:
        if not isinstance(d, int):
            raise ValueError(
                f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be "
                f"an int, None or a python collection of ints representing where in the "
                f"outputs the vmapped dimension should appear."
            )
    if isinstance(output, Tensor):
        if isinstance(out_dims, int) or out_dims is None:
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        raise incompatible()
    flat = broadcast_prefix(out_dims, output)
    if flat is None:
        raise incompatible()
    return flat


class _NoRandomness:
    """Stands for the default generator's NumPy generator inside ``vmap(...,
    randomness='error')``: any draw raises, as PyTorch's."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            "vmap: called random operation while in randomness error mode. Please either use "
            "the 'same' or 'different' randomness flags on vmap or perform the randomness "
            "operation out of vmap"
        )


@contextlib.contextmanager
def _randomness(mode: str) -> Iterator[None]:
    from ndgrad import _creation

    if mode != "error":
        yield
        return
    gen = _creation.default_generator
    saved = gen._rng
    gen._rng = _NoRandomness()
    try:
        yield
    finally:
        gen._rng = saved


def vmap(
    func: Callable[..., Any],
    in_dims: Any = 0,
    out_dims: Any = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable[..., Any]:
    """``func`` mapped over dimension ``in_dims`` of its inputs (None: not mapped; nested
    tuples follow the inputs' structure); the results stacked at ``out_dims``.
    ``randomness='same'`` draws the same random numbers for every index."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            "Only allowed values for randomness are 'error', 'different', or 'same'. "
            f"Got {randomness}"
        )
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from ndgrad import _creation
        from ndgrad.ops.shape import stack

        flat_args, flat_in_dims, args_spec = _flat_in_dims(func, in_dims, args)
        size = _batch_size(flat_in_dims, flat_args)
        rng_state = _creation.get_rng_state() if randomness == "same" else None
        results = []
        with _randomness(randomness):
            for i in range(size):
                if rng_state is not None:  # every index draws the same numbers
                    _creation.set_rng_state(rng_state)
                sliced = [
                    a if d is None else a.select(d, i)
                    for a, d in zip(flat_args, flat_in_dims, strict=True)
                ]
                results.append(func(*tree_unflatten(sliced, args_spec), **kwargs))
        if size == 0:
            raise ValueError("vmap: the mapped dimension has size 0; ndgrad maps by calling func")
        flat_first, output_spec = tree_flatten(results[0])
        flat_dims = _flat_out_dims(func, out_dims, results[0], output_spec)
        per_index = [tree_flatten(r)[0] for r in results]
        name = _get_name(func)
        flat_out = []
        for j, out_dim in enumerate(flat_dims):
            if out_dim is None:
                flat_out.append(flat_first[j])
                continue
            column = [leaves[j] for leaves in per_index]
            if not isinstance(column[0], Tensor):
                raise ValueError(
                    f"vmap({name}, ...): `{name}` must only return "
                    f"Tensors, got type {type(column[0])}. "
                    "Did you mean to set out_dims= to None for output?"
                )
            flat_out.append(stack(column, dim=out_dim))
        return tree_unflatten(flat_out, output_spec)

    return wrapped
