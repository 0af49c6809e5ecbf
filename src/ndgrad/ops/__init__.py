"""All tensor ops, and the Tensor methods and operators that call them."""

from __future__ import annotations

from collections import namedtuple
from types import FunctionType
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._tensor import Tensor
from ndgrad.ops import indexing, inplace, linalg, pointwise, reduction, shape, statistics
from ndgrad.ops._common import (
    DIM_OPS,
    as_tensor,
    cast,
    named,
    numpy_aliases,
    record_tensor,
    return_type,
)
from ndgrad.ops.indexing import *  # noqa: F403
from ndgrad.ops.linalg import *  # noqa: F403
from ndgrad.ops.pointwise import *  # noqa: F403
from ndgrad.ops.reduction import *  # noqa: F403
from ndgrad.ops.shape import *  # noqa: F403
from ndgrad.ops.statistics import *  # noqa: F403

SortResult = return_type("sort")
TopkResult = return_type("topk")


def to(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``x.to(dtype)``, ``x.to("cpu")``, ``x.to(other)``, ``x.to("cpu", dtype)``."""
    from ndgrad._backend import check_available, device

    dtype = kwargs.get("dtype")
    copy = kwargs.get("copy", False)
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device)):
            check_available(a)
        elif a is not None:
            dtype = a
    if "device" in kwargs and kwargs["device"] is not None:
        check_available(kwargs["device"])
    if dtype is None:
        return x.clone() if copy else x
    np_dtype = _dtype.to_dtype(dtype).np
    if np_dtype == x._data.dtype:
        return x.clone() if copy else x
    return cast(x, np_dtype)


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
    from ndgrad.ops._common import wrap_dim

    d = wrap_dim(dim, x._data.ndim, "sort")
    src = x._data if x._data.ndim else x._data.reshape(1)
    idx = np.argsort(-src if descending else src, axis=d, kind="stable")
    if not x._data.ndim:
        idx = idx.reshape(())
        return SortResult(x.clone(), Tensor._make(idx.astype(np.int64)))
    indices = Tensor._make(idx.astype(np.int64))
    return SortResult(named(indexing.gather(x, d, indices), "SortBackward0"), indices)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(x, dim, descending, stable).indices


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> SortResult:
    from ndgrad.ops._common import wrap_dim

    d = wrap_dim(dim, x._data.ndim, "topk")
    if not 0 <= k <= (x._data.shape[d] if x._data.ndim else 1):
        raise RuntimeError(
            f"topk(): selected index k out of range (k={k}, size={x._data.shape[d] if x._data.ndim else 1})"
        )
    s = sort(x, d, descending=largest)
    key = (slice(None),) * d + (slice(0, k),)
    return TopkResult(named(s.values[key], "TopkBackward0"), s.indices[key])


def addcmul(x: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """``x + value * tensor1 * tensor2``, in PyTorch's evaluation order."""
    scaled = tensor1 if value == 1 else pointwise.mul(tensor1, value)
    return pointwise.add(x, pointwise.mul(scaled, tensor2))


def addcdiv(x: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
    """``x + value * tensor1 / tensor2``, in PyTorch's evaluation order."""
    scaled = tensor1 if value == 1 else pointwise.mul(tensor1, value)
    return pointwise.add(x, pointwise.div(scaled, tensor2))


def _bind_fused_inplace(T: Any) -> None:
    """addcmul_/addcdiv_: direct NumPy writes when nothing is recorded (optimizer steps)."""

    def fused(name: str, fn: Any, combine: Any) -> Any:
        def op_(self: Tensor, tensor1: Any, tensor2: Any, *, value: float = 1) -> Tensor:
            if inplace._recording(self, (tensor1, tensor2)):
                return inplace.apply_inplace(
                    self, name, lambda s: fn(s, tensor1, tensor2, value=value), tensor1, tensor2
                )
            term = combine(pointwise.mul(tensor1, value) if value != 1 else tensor1, tensor2)
            return inplace.inplace_binary(self, term, np.add, pointwise.add, name)

        op_.__name__ = name
        return op_

    T.addcmul = lambda self, t1, t2, *, value=1: addcmul(self, t1, t2, value=value)
    T.addcdiv = lambda self, t1, t2, *, value=1: addcdiv(self, t1, t2, value=value)
    T.addcmul_ = fused("addcmul_", addcmul, pointwise.mul)
    T.addcdiv_ = fused("addcdiv_", addcdiv, pointwise.div)


def _bind() -> None:
    T = Tensor
    red, sh, la, ix = reduction, shape, linalg, indexing

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
        # indexing
        "gather": ix.gather,
        "scatter": ix.scatter,
        "scatter_add": ix.scatter_add,
        "index_select": ix.index_select,
        "masked_select": ix.masked_select,
        "nonzero": ix.nonzero,
        "take_along_dim": ix.take_along_dim,
        "argwhere": ix.argwhere,
        "take": ix.take,
        "index_fill": ix.index_fill,
        # misc
        "to": to,
        "sort": sort,
        "argsort": argsort,
        "topk": topk,
    }
    for name in DIM_OPS:
        if name in names:
            names[name] = numpy_aliases(names[name])
    for name, fn in names.items():
        setattr(T, name, method(fn))

    T.view_as = lambda self, other: sh.view(self, other.shape)
    T.reshape_as = lambda self, other: sh.reshape(self, other.shape)
    T.type_as = lambda self, other: to(self, other.dtype)
    T.float = lambda self: to(self, _dtype.float32)
    T.double = lambda self: to(self, _dtype.float64)
    T.half = lambda self: to(self, _dtype.float16)
    T.long = lambda self: to(self, _dtype.int64)
    T.int = lambda self: to(self, _dtype.int32)
    T.bool = lambda self: to(self, _dtype.bool_)
    T.stride = lambda self, dim=None: (
        tuple(s // self._data.itemsize for s in self._data.strides)
        if dim is None
        else self._data.strides[dim] // self._data.itemsize
    )
    T.short = lambda self: to(self, _dtype.int16)
    T.char = lambda self: to(self, _dtype.int8)
    T.byte = lambda self: to(self, _dtype.uint8)
    T.cpu = lambda self: self

    def cuda(self: Tensor, *a: Any, **k: Any) -> Tensor:
        raise AssertionError("Torch not compiled with CUDA enabled (ndgrad runs on the CPU)")

    T.cuda = cuda
    T.T = property(lambda self: sh.permute(self, *reversed(range(self._data.ndim))))
    T.mT = property(lambda self: sh.transpose(self, -2, -1))
    T.new_tensor = lambda self, data, dtype=None, **k: _creation().tensor(
        data, dtype=dtype or self.dtype
    )
    T.new_zeros = lambda self, *size, dtype=None, **k: _creation().zeros(
        *size, dtype=dtype or self.dtype
    )
    T.new_ones = lambda self, *size, dtype=None, **k: _creation().ones(
        *size, dtype=dtype or self.dtype
    )
    T.new_full = lambda self, size, v, dtype=None, **k: _creation().full(
        size, v, dtype=dtype or self.dtype
    )
    T.new_empty = lambda self, *size, dtype=None, **k: _creation().zeros(
        *size, dtype=dtype or self.dtype
    )

    # operators
    T.__matmul__ = lambda a, b: la.matmul(a, as_tensor(b, "matmul"))
    T.__rmatmul__ = lambda a, b: la.matmul(as_tensor(b, "matmul"), a)
    T.__getitem__ = lambda a, key: ix.getitem(a, key)

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
        "scatter",
        "scatter_add",
        "t",
        "transpose",
        "squeeze",
        "unsqueeze",
        "tril",
        "triu",
        "index_fill",
    ):
        setattr(T, name + "_", inplace_method(name + "_", names[name]))

    def setitem(self: Tensor, key: Any, value: Any) -> None:
        ip.apply_inplace(self, "index_put_", lambda s: ix.index_put(s, key, value), value)

    T.__setitem__ = setitem

    def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
        src = as_tensor(src, "copy_")

        def compute(s: Tensor) -> Tensor:
            value = (
                src
                if src._data.dtype == s._data.dtype
                else src.to(s.dtype)
                if src._data.dtype.kind == "f" and s._data.dtype.kind == "f"
                else Tensor._make(src._data.astype(s._data.dtype))
            )
            try:
                expanded = value.expand(s.shape) if value.shape != s.shape else value
            except RuntimeError:
                raise RuntimeError(
                    f"copy_: the source of shape {list(src.shape)} must be broadcastable to "
                    f"the destination of shape {list(s.shape)}"
                ) from None
            return record_tensor(
                "CopyBackwards", expanded._data, (s, expanded), lambda g: (g * 0, g)
            )

        return ip.apply_inplace(self, "copy_", compute, src)

    T.copy_ = copy_
    T.fill_diagonal_ = lambda self, fill_value, wrap=False: ip.apply_inplace(
        self, "fill_diagonal_", lambda s: ix.fill_diagonal(s, fill_value, wrap), fill_value
    )
    T.zero_ = lambda self: ip.fill_with(self, np.zeros((), self._data.dtype), "zero_")
    T.fill_ = lambda self, value: ip.fill_with(
        self, np.asarray(value._data if isinstance(value, Tensor) else value), "fill_"
    )

    def random_fill(name: str, sample: Any) -> Any:
        def op_(self: Tensor, *args: Any, generator: Any = None) -> Tensor:
            rng = (generator or _creation().default_generator)._rng
            return ip.fill_with(self, sample(rng, self._data.shape, *args), name)

        return op_

    T.normal_ = random_fill(
        "normal_", lambda rng, shp, mean=0.0, std=1.0: rng.normal(mean, std, shp)
    )
    T.uniform_ = random_fill("uniform_", lambda rng, shp, a=0.0, b=1.0: rng.uniform(a, b, shp))
    T.bernoulli_ = random_fill(
        "bernoulli_",
        lambda rng, shp, p=0.5: rng.random(shp) < (p._data if isinstance(p, Tensor) else p),
    )
    T.exponential_ = random_fill(
        "exponential_", lambda rng, shp, lambd=1.0: rng.exponential(1 / lambd, shp)
    )
    T.random_ = random_fill(
        "random_",
        lambda rng, shp, lo=0, hi=2**24: (
            rng.integers(lo, hi, shp) if hi is not None else rng.integers(0, lo, shp)
        ),
    )
    _bind_fused_inplace(T)


def _creation() -> Any:
    from ndgrad import _creation as c

    return c


_bind()

# ``ndgrad.sum(x, axis=0)`` as well as ``x.sum(axis=0)``.
for _name in DIM_OPS:
    if _name in globals():
        globals()[_name] = numpy_aliases(globals()[_name])
