"""``ndgrad.compile`` (PyTorch's ``torch.compile``): record one call's NumPy program, replay it.

See ``tracer`` for how a call is recorded and ``eval_frame`` for the guard cache and replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndgrad._dynamo.eval_frame import CompiledFunction, Unsupported

__all__ = ["CompiledFunction", "Unsupported", "compile", "explain"]


def compile(  # noqa: A001 - torch.compile's name
    model: Callable | None = None,
    *,
    fullgraph: bool = False,
    dynamic: bool | None = None,
    backend: Any = "inductor",
    mode: str | None = None,
    options: dict | None = None,
    disable: bool = False,
) -> Any:
    """Compiles ``model`` (a function or an ``nn.Module``); also a decorator, with or without
    arguments. ``mode="explain"`` prints each traced program as NumPy source.

    ``dynamic`` is accepted and does not generalise shapes: every new signature (shapes,
    dtypes, requires_grad, grad mode, train/eval, Python scalars read) traces its own program,
    up to ``CACHE_LIMIT`` per function, after which calls run eagerly (one warning)."""
    if model is None:
        return lambda fn: compile(
            fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, disable=disable
        )
    if disable:
        return model
    from ndgrad.nn.modules.module import Module

    if isinstance(model, Module):
        forward = CompiledFunction(model.forward, fullgraph, mode, module=model)
        model.forward = forward  # the instance's forward: model(x) runs the compiled one
        model._compiled_forward = forward
        return model
    return CompiledFunction(model, fullgraph, mode)


def explain(fn: Callable, *args: Any, **kwargs: Any) -> str:
    """Runs ``fn(*args)`` once under the tracer and returns (and prints) its NumPy program."""
    compiled = fn if isinstance(fn, CompiledFunction) else CompiledFunction(fn, False, None)
    compiled(*args, **kwargs)
    sources = [e.source for e in compiled.entries()]
    text = "\n".join(sources) if sources else "# no replayable program (graph break)\n"
    print(text)
    return text
