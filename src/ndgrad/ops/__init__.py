"""All tensor ops, and the Tensor methods and operators that call them."""

from __future__ import annotations

from types import FunctionType
from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.ops import (
    inplace,
    namespace,  # noqa: F401 - registers the rules' namespaces with the engine
)
from ndgrad.ops import namespace  # noqa: F401 - registers the rules' namespaces with the engine
from ndgrad.ops._common import (
    DIM_OPS,
    numpy_aliases,
)
from ndgrad.ops.conversion import *  # noqa: F403
from ndgrad.ops.filling import *  # noqa: F403
from ndgrad.ops.indexing import *  # noqa: F403
from ndgrad.ops.linalg import *  # noqa: F403
from ndgrad.ops.pointwise import *  # noqa: F403
from ndgrad.ops.reduction import *  # noqa: F403
from ndgrad.ops.shape import *  # noqa: F403
from ndgrad.ops.sorting import *  # noqa: F403
from ndgrad.ops.statistics import *  # noqa: F403


def _bind() -> None:
    T = Tensor

    def method(fn: Any) -> Any:
        # A Python function binds as a method by itself: no wrapper call per use.
        if isinstance(fn, FunctionType):
            return fn
        return lambda self, *a, **k: fn(self, *a, **k)

    names: dict[str, Any] = {}
    for name in DIM_OPS:
        if name in names:
            names[name] = numpy_aliases(names[name])
    for name, fn in names.items():
        setattr(T, name, method(fn))

    # operators

    ip = inplace

    def inplace_method(name: str, fn: Any) -> Any:
        def op_(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
            return ip.apply_inplace(
                self, name, lambda s: fn(s, *args, **kwargs), *args, *kwargs.values()
            )

        op_.__name__ = name
        return op_


_bind()

# ``ndgrad.sum(x, axis=0)`` as well as ``x.sum(axis=0)``.
for _name in DIM_OPS:
    if _name in globals():
        globals()[_name] = numpy_aliases(globals()[_name])
