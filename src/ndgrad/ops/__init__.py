"""All tensor ops, and the Tensor methods and operators that call them."""

from __future__ import annotations

from types import FunctionType
from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.ops import inplace, linalg, reduction, shape
from ndgrad.ops._common import (
    DIM_OPS,
    as_tensor,
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
    red, sh, la = reduction, shape, linalg

    def method(fn: Any) -> Any:
        # A Python function binds as a method by itself: no wrapper call per use.
        if isinstance(fn, FunctionType):
            return fn
        return lambda self, *a, **k: fn(self, *a, **k)

    names = {
        # linear algebra
        "matmul": la.matmul,
        "mm": la.mm,
        "mv": la.mv,
        "dot": la.dot,
        "inner": la.inner,
        "bmm": la.bmm,
        "outer": la.outer,
        "ger": la.outer,
        "addmm": la.addmm,
        "inverse": la.inverse,
        "det": la.det,
        "trace": la.trace,
        # shapes
        "reshape": sh.reshape,
        "view": sh.view,
        "flatten": sh.flatten,
        "unflatten": sh.unflatten,
        "permute": sh.permute,
        "transpose": sh.transpose,
        "swapaxes": sh.transpose,
        "swapdims": sh.transpose,
        "t": sh.t,
        "movedim": sh.movedim,
        "unsqueeze": sh.unsqueeze,
        "squeeze": sh.squeeze,
        "expand": sh.expand,
        "expand_as": sh.expand_as,
        "broadcast_to": sh.broadcast_to,
        "sum_to_size": sh.sum_to_size,
        "repeat": sh.repeat,
        "tile": sh.tile,
        "flip": sh.flip,
        "roll": sh.roll,
        "narrow": sh.narrow,
        "select": sh.select,
        "split": sh.split,
        "chunk": sh.chunk,
        "unbind": sh.unbind,
        "contiguous": sh.contiguous,
        "clone": sh.clone,
        "tril": sh.tril,
        "triu": sh.triu,
        "diagonal": sh.diagonal,
        "diag": sh.diag,
        "repeat_interleave": sh.repeat_interleave,
        "fliplr": sh.fliplr,
        "flipud": sh.flipud,
        "ravel": sh.ravel,
        "tensor_split": sh.tensor_split,
    }
    for name in DIM_OPS:
        if name in names:
            names[name] = numpy_aliases(names[name])
    for name, fn in names.items():
        setattr(T, name, method(fn))

    T.view_as = lambda self, other: sh.view(self, other.shape)
    T.reshape_as = lambda self, other: sh.reshape(self, other.shape)
    T.T = property(lambda self: sh.permute(self, *reversed(range(self._data.ndim))))
    T.mT = property(lambda self: sh.transpose(self, -2, -1))

    # operators
    T.__matmul__ = lambda a, b: la.matmul(a, as_tensor(b, "matmul"))
    T.__rmatmul__ = lambda a, b: la.matmul(as_tensor(b, "matmul"), a)

    ip = inplace
    T.__imatmul__ = lambda self, o: ip.apply_inplace(self, "matmul_", lambda s: la.matmul(s, o), o)

    def inplace_method(name: str, fn: Any) -> Any:
        def op_(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
            return ip.apply_inplace(
                self, name, lambda s: fn(s, *args, **kwargs), *args, *kwargs.values()
            )

        op_.__name__ = name
        return op_

    for name in (
        "t",
        "transpose",
        "squeeze",
        "unsqueeze",
        "tril",
        "triu",
    ):
        setattr(T, name + "_", inplace_method(name + "_", names[name]))


_bind()

# ``ndgrad.sum(x, axis=0)`` as well as ``x.sum(axis=0)``.
for _name in DIM_OPS:
    if _name in globals():
        globals()[_name] = numpy_aliases(globals()[_name])
