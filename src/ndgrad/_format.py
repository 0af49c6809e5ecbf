"""``repr(tensor)`` in PyTorch's style: ``tensor([0., 4.], grad_fn=<MulBackward0>)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ndgrad import _dtype

if TYPE_CHECKING:
    from ndgrad._tensor import Tensor

THRESHOLD = 1000
EDGEITEMS = 3


def _formatter(data: np.ndarray) -> tuple:
    """A function formatting one element, chosen like PyTorch's _Formatter."""
    kind = data.dtype.kind
    if kind == "b":
        return lambda v: "True" if v else "False"
    if kind in "iu":
        return lambda v: str(int(v))
    finite = data[np.isfinite(data)]
    nonzero = np.abs(finite[finite != 0]).astype(np.float64)
    if nonzero.size == 0:
        return lambda v: _special(v) or "0."
    if np.all(finite == np.ceil(finite)):
        if nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8:
            return lambda v: _special(v) or f"{v:.4e}"
        return lambda v: _special(v) or f"{v:.0f}."
    if nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8 or nonzero.min() < 1e-4:
        return lambda v: _special(v) or f"{v:.4e}"
    return lambda v: _special(v) or f"{v:.4f}"


def _special(v: float) -> str | None:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _summarize(data: np.ndarray) -> np.ndarray:
    """The elements that will be printed (edge items only for big tensors)."""
    if data.ndim == 0:
        return data.reshape(1)
    if data.size <= THRESHOLD:
        return data.reshape(-1)
    parts = []

    def walk(a: np.ndarray) -> None:
        if a.ndim == 1:
            parts.append(a[:EDGEITEMS] if a.shape[0] <= 2 * EDGEITEMS else np.concatenate([a[:EDGEITEMS], a[-EDGEITEMS:]]))
            return
        rows = range(a.shape[0]) if a.shape[0] <= 2 * EDGEITEMS else [*range(EDGEITEMS), *range(a.shape[0] - EDGEITEMS, a.shape[0])]
        for i in rows:
            walk(a[i])

    walk(data)
    return np.concatenate(parts) if parts else data.reshape(-1)


def format_array(data: np.ndarray, indent: int) -> str:
    fmt = _formatter(_summarize(data))
    sample = _summarize(data)
    # Like PyTorch, a float column is as wide as its widest nonzero finite value (nan/inf
    # do not widen it: tensor([1., nan])).
    shown = sample[np.isfinite(sample) & (sample != 0)] if data.dtype.kind == "f" else sample
    width = max((len(fmt(v)) for v in shown), default=1)
    summarize = data.size > THRESHOLD

    def render(a: np.ndarray, depth: int) -> str:
        if a.ndim == 0:
            return fmt(a.item()).rjust(width)
        if a.ndim == 1:
            items = [fmt(v).rjust(width) for v in a] if not (summarize and a.shape[0] > 2 * EDGEITEMS) else (
                [fmt(v).rjust(width) for v in a[:EDGEITEMS]] + ["..."] + [fmt(v).rjust(width) for v in a[-EDGEITEMS:]]
            )
            return "[" + ", ".join(items) + "]"
        n = a.shape[0]
        idx = list(range(n)) if not (summarize and n > 2 * EDGEITEMS) else [*range(EDGEITEMS), None, *range(n - EDGEITEMS, n)]
        sep = "," + "\n" * (a.ndim - 1) + " " * (indent + depth + 1)
        rows = ["..." if i is None else render(a[i], depth + 1) for i in idx]
        return "[" + sep.join(rows) + "]"

    return render(data, 0)


def tensor_repr(t: Tensor) -> str:
    data = t._data
    prefix = "tensor("
    body = format_array(data, len(prefix)) if data.size or data.ndim == 0 else "[]"
    extras = []
    dt = t.dtype
    default = {_dtype.get_default_dtype(), _dtype.int64, _dtype.bool_}
    if data.size == 0 and data.shape != (0,):
        extras.append(f"size={tuple(data.shape)}")
    if dt not in default:
        extras.append(f"dtype={dt!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return prefix + ", ".join([body, *extras]) + ")"
