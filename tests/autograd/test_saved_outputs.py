"""Modifying a tensor an op saved for its derivative, then calling backward, raises exactly
when PyTorch raises, with PyTorch's message (up to its "Hint:", which differs).

Each case is a tiny program ``program(lib)`` run on ndgrad and on torch 2.13. Where PyTorch's
rule saves an op's output (``exp``, ``sigmoid``, ``softmax``...) changing the output in
place is caught; where it saves only the input, changing the output is fine (and the
reverse). Ops of other modules append their cases to ``CASES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import torch

import ndgrad


def _output_modified(op: Callable[[Any, Any], Any]) -> Callable[[Any], None]:
    """``y = op(x); y.mul_(2); y.sum().backward()``."""

    def program(lib: Any) -> None:
        x = lib.tensor([0.3, 0.6, 1.2, 2.0], requires_grad=True)
        y = op(lib, x * 1)
        y.mul_(2)
        y.sum().backward()

    return program


def _input_modified(op: Callable[[Any, Any], Any]) -> Callable[[Any], None]:
    """``h = x * 1; y = op(h); h.add_(1); y.sum().backward()``."""

    def program(lib: Any) -> None:
        x = lib.tensor([0.3, 0.6, 1.2, 2.0], requires_grad=True)
        h = x * 1
        y = op(lib, h)
        h.add_(1)
        y.sum().backward()

    return program


UNARY = {
    "exp": lambda lib, x: x.exp(),
    "expm1": lambda lib, x: x.expm1(),
    "log": lambda lib, x: x.log(),
    "log1p": lambda lib, x: x.log1p(),
    "sqrt": lambda lib, x: x.sqrt(),
    "rsqrt": lambda lib, x: x.rsqrt(),
    "reciprocal": lambda lib, x: x.reciprocal(),
    "sin": lambda lib, x: x.sin(),
    "cos": lambda lib, x: x.cos(),
    "tan": lambda lib, x: x.tan(),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "relu": lambda lib, x: x.relu(),
    "abs": lambda lib, x: x.abs(),
    "erf": lambda lib, x: x.erf(),
    "square": lambda lib, x: x**2,
    "pow3": lambda lib, x: x**3,
    "rpow": lambda lib, x: 2.0**x,
    "exp2": lambda lib, x: x.exp2(),
    "clamp": lambda lib, x: x.clamp(0.5, 1.5),
    "mul_self": lambda lib, x: x * x,
    "div_by": lambda lib, x: x / (x + 1),
    "mul_const": lambda lib, x: x * 3,
    "neg": lambda lib, x: -x,
    "lerp": lambda lib, x: x.lerp(lib.ones(4), 0.3),
    "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1),
    "softplus": lambda lib, x: lib.nn.functional.softplus(x),
    "logsigmoid": lambda lib, x: lib.nn.functional.logsigmoid(x),
}

CASES: dict[str, Callable[[Any], None]] = {}
for _name, _op in UNARY.items():
    CASES[f"{_name}-output"] = _output_modified(_op)
    CASES[f"{_name}-input"] = _input_modified(_op)


def _matrices(op: Callable[..., Any], modify: str, grads: str = "ab") -> Callable[[Any], None]:
    """``y = op(lib, a, b)`` on (3, 3) float64 matrices near 2 I (``grads`` say which require
    grad; those are used through ``* 1``); then ``modify`` ("a", "b" or "output") changes in
    place before backward."""

    def program(lib: Any) -> None:
        base = [[2.0, 0.5, 0.1], [0.3, 1.5, 0.2], [0.4, 0.1, 2.5]]
        leaves = [lib.tensor(base, dtype=lib.float64, requires_grad=n in grads) for n in "ab"]
        a, b = (t * 1 if t.requires_grad else t for t in leaves)
        y = op(lib, a, b)
        {"a": a, "b": b, "output": y}[modify].mul_(2)
        y.sum().backward()

    return program


LINALG = {
    "inv": (lambda lib, a, b: lib.linalg.inv(a), ("output", "a")),
    "inverse": (lambda lib, a, b: a.inverse(), ("output", "a")),
    "det": (lambda lib, a, b: lib.det(a), ("output", "a")),
    "linalg_det": (lambda lib, a, b: lib.linalg.det(a), ("output", "a")),
    "mm": (lambda lib, a, b: a @ b, ("output", "a", "b")),
    "mv": (lambda lib, a, b: a.mv(b[0]), ("a",)),
    "dot": (lambda lib, a, b: lib.dot(a[0], b[0]), ("output",)),
    "bmm": (lambda lib, a, b: a.unsqueeze(0).bmm(b.unsqueeze(0)), ("output",)),
    "addmm": (lambda lib, a, b: lib.addmm(b[0], a, b), ("output", "a")),
    "linear": (lambda lib, a, b: lib.nn.functional.linear(a, b, b[1]), ("output", "a")),
    "linear_nobias": (lambda lib, a, b: lib.nn.functional.linear(a, b), ("output", "a")),
    "trace": (lambda lib, a, b: a.trace(), ("output", "a")),
}
for _name, (_op, _modified) in LINALG.items():
    for _m in _modified:
        CASES[f"{_name}-{_m}"] = _matrices(_op, _m)
# Each factor of a product is saved only for the other's gradient (PyTorch's mm, addmm,
# linear): changing the one whose gradient alone is wanted is fine.
for _name in ("mm", "addmm", "linear", "linear_nobias"):
    _op = LINALG[_name][0]
    CASES[f"{_name}-a-only-a-grad"] = _matrices(_op, "a", "a")
    CASES[f"{_name}-b-only-a-grad"] = _matrices(_op, "b", "a")
    CASES[f"{_name}-b-only-b-grad"] = _matrices(_op, "b", "b")
CASES["inv-b"] = _matrices(lambda lib, a, b: lib.linalg.inv(a) @ b, "b", "ab")


REDUCTIONS = {
    "sum": lambda lib, x: x.sum(0),
    "mean": lambda lib, x: x.mean(),
    "prod": lambda lib, x: x.prod(),
    "prod_dim": lambda lib, x: x.prod(0),
    "var": lambda lib, x: x.var(0),
    "std": lambda lib, x: x.std(),
    "max": lambda lib, x: x.max(),
    "max_dim": lambda lib, x: x.max(0).values,
    "amax": lambda lib, x: x.amax(0),
    "amin": lambda lib, x: lib.amin(x),
    "median": lambda lib, x: x.median(),
    "kthvalue": lambda lib, x: x.kthvalue(2).values,
    "cumsum": lambda lib, x: x.cumsum(0),
    "cumprod": lambda lib, x: x.cumprod(0),
    "logsumexp": lambda lib, x: x.logsumexp(0),
    "softmax": lambda lib, x: x.softmax(0),
    "log_softmax": lambda lib, x: x.log_softmax(0),
    "norm": lambda lib, x: x.norm(),
    "norm_1": lambda lib, x: x.norm(p=1),
    "norm_3": lambda lib, x: x.norm(p=3, dim=0),
    "norm_inf": lambda lib, x: x.norm(p=float("inf")),
}
for _name, _op in REDUCTIONS.items():
    CASES[f"{_name}-output"] = _output_modified(_op)
    CASES[f"{_name}-input"] = _input_modified(_op)


def _loss(name: str, modify: str) -> Callable[[Any], None]:
    """A loss of ``h = x * 1`` (logits or probabilities) against a target; ``modify`` names
    what changes in place before backward: the input, the target or the class weight."""

    def program(lib: Any) -> None:
        F = lib.nn.functional
        x = lib.tensor([[0.2, 0.7, 0.4], [0.9, 0.1, 0.5]], requires_grad=True)
        h = x * 1
        weight = lib.tensor([1.0, 2.0, 0.5])
        if name == "binary_cross_entropy":
            target = lib.tensor([[0.0, 1.0, 0.5], [1.0, 0.0, 0.3]])
            loss = F.binary_cross_entropy(h, target, weight=weight)
        else:
            target = lib.tensor([2, 0])
            fn = F.nll_loss if name.startswith("nll") else F.cross_entropy
            loss = fn(h, target, weight=weight if name.endswith("weight") else None)
        {"input": h, "target": target, "weight": weight}[modify].add_(1)
        loss.backward()

    return program


for _name in ("cross_entropy", "cross_entropy_weight", "nll_loss", "nll_loss_weight"):
    for _modified in ("input", "target", "weight"):
        CASES[f"{_name}-{_modified}"] = _loss(_name, _modified)
for _modified in ("input", "target", "weight"):
    CASES[f"binary_cross_entropy-{_modified}"] = _loss("binary_cross_entropy", _modified)


def _indexed(op: Callable[[Any, Any, Any], Any], modify: str) -> Callable[[Any], None]:
    """``y = op(lib, h, i)`` on a (3, 4) input; then ``i`` (the index) or ``h`` (the input)
    changes in place before backward."""

    def program(lib: Any) -> None:
        x = lib.tensor([[0.3, 0.6, 1.2, 2.0]] * 3, requires_grad=True)
        h = x * 1
        i = lib.tensor([[0, 1, 2, 0]])
        y = op(lib, h, i)
        y = y[0] if isinstance(y, tuple) else y
        if modify == "index":
            i.add_(0)
        elif modify == "input":
            h.add_(1)
        else:  # "output" for ops returning (values, indices): the indices
            op(lib, h, i)
        y.sum().backward()

    return program


INDEXED = {
    "gather": lambda lib, h, i: lib.gather(h, 0, i),
    "getitem": lambda lib, h, i: h[i[0, :2]],
    "getitem_rows": lambda lib, h, i: h[i],
    "index_select": lambda lib, h, i: h.index_select(1, i[0]),
    "take": lambda lib, h, i: h.take(i),
    "scatter_add": lambda lib, h, i: h.scatter_add(0, i, h[:1] * 2),
    "scatter": lambda lib, h, i: h.scatter(0, i, 1.5),
    "masked_select": lambda lib, h, i: h.masked_select(h > 1),
}
for _name, _op in INDEXED.items():
    CASES[f"{_name}-index"] = _indexed(_op, "index")
    CASES[f"{_name}-input"] = _indexed(_op, "input")
# take_along_dim gathers from an expanded input (PyTorch names it AsStrided): its index only.
CASES["take_along_dim-index"] = _indexed(lambda lib, h, i: lib.take_along_dim(h, i, 0), "index")


def _sorted_indices(op: Callable[[Any, Any], Any]) -> Callable[[Any], None]:
    """``values, indices = op(x)``; the indices change in place before backward."""

    def program(lib: Any) -> None:
        x = lib.tensor([[0.3, 1.6, 1.2, 2.0]] * 3, requires_grad=True)
        values, indices = op(lib, x * 1)
        indices.add_(0)
        values.sum().backward()

    return program


SORTING = {
    "sort": lambda lib, x: x.sort(-1),
    "topk": lambda lib, x: x.topk(2),
}
for _name, _op in SORTING.items():
    CASES[f"{_name}-indices"] = _sorted_indices(_op)
    CASES[f"{_name}-output"] = _output_modified(lambda lib, x, _op=_op: _op(lib, x)[0])
    CASES[f"{_name}-input"] = _input_modified(lambda lib, x, _op=_op: _op(lib, x)[0])


def _setitem_index_modified(lib: Any) -> None:
    x = lib.tensor([0.3, 0.6, 1.2, 2.0], requires_grad=True)
    i = lib.tensor([0, 2])
    y = x * 1
    y[i] = x[:2] * 2
    i.add_(0)
    y.sum().backward()


CASES["index_put-index"] = _setitem_index_modified


def _outcome(program: Callable[[Any], None], lib: Any) -> str | None:
    try:
        program(lib)
    except RuntimeError as exc:
        return str(exc)
    return None


def _normalised(message: str) -> str:
    message = message.split(" Hint:")[0]
    return re.sub(r"\btorch\.", "ndgrad.", message)


def _inplace_op_then_modified(lib: Any) -> None:
    """An in-place op's result is the tensor itself: changing it again is caught."""
    x = lib.tensor([0.3, 0.6, 1.2, 2.0], requires_grad=True)
    y = x * 1
    y.sigmoid_()
    y.mul_(2)
    y.sum().backward()


def _inplace_op_on_view_then_modified(lib: Any) -> None:
    x = lib.tensor([0.3, 0.6, 1.2, 2.0], requires_grad=True)
    y = x * 1
    y[1:].exp_()
    y.mul_(2)
    y.sum().backward()


CASES["sigmoid_-then-mul_"] = _inplace_op_then_modified
CASES["view-exp_-then-mul_"] = _inplace_op_on_view_then_modified


def _image_program(op: Callable[[Any, Any, Any], Any], modify: str) -> Callable[[Any], None]:
    """``y = op(lib, h, w)`` on a (1, 2, 6, 6) image ``h`` and (3, 2, 3, 3) weight ``w`` (both
    non-leaves); then ``modify`` ("input", "weight" or "output") changes in place."""

    def program(lib: Any) -> None:
        x = lib.linspace(-1.0, 1.0, 72).reshape(1, 2, 6, 6).requires_grad_()
        k = lib.linspace(-0.5, 0.5, 54).reshape(3, 2, 3, 3).requires_grad_()
        h, w = x * 1, k * 1
        y = op(lib, h, w)
        {"input": h, "weight": w, "output": y}[modify].add_(1)
        y.sum().backward()

    return program


IMAGE_OPS = {
    "conv2d": lambda lib, h, w: lib.nn.functional.conv2d(h, w, padding=1),
    "conv_transpose2d": lambda lib, h, w: lib.nn.functional.conv_transpose2d(h, w.transpose(0, 1)),
    "max_pool2d": lambda lib, h, w: lib.nn.functional.max_pool2d(h, 2),
    "avg_pool2d": lambda lib, h, w: lib.nn.functional.avg_pool2d(h, 2),
    "adaptive_avg_pool2d": lambda lib, h, w: lib.nn.functional.adaptive_avg_pool2d(h, 3),
    "batch_norm": lambda lib, h, w: lib.nn.functional.batch_norm(
        h, None, None, w[:2, 0, 0, 0], w[:2, 0, 0, 1], training=True
    ),
    "layer_norm": lambda lib, h, w: lib.nn.functional.layer_norm(
        h, (6,), w.reshape(-1)[:6], w.reshape(-1)[6:12]
    ),
    "group_norm": lambda lib, h, w: lib.nn.functional.group_norm(h, 2, w[:2, 0, 0, 0]),
    "interpolate": lambda lib, h, w: lib.nn.functional.interpolate(h, scale_factor=2.0),
}
for _name, _op in IMAGE_OPS.items():
    for _what in ("input", "weight", "output"):
        CASES[f"{_name}-{_what}"] = _image_program(_op, _what)


# Where ndgrad still saves more than PyTorch (kept visible: the test fails once they agree).
KNOWN_DIFFERENCES = {
    "group_norm-weight": "PyTorch's group norm does not version-check its weight; ndgrad's rule "
    "reads it through saved",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_change_of_a_saved_tensor_raises_as_in_torch(name, request):
    if name in KNOWN_DIFFERENCES:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_DIFFERENCES[name]))
    program = CASES[name]
    theirs = _outcome(program, torch)
    ours = _outcome(program, ndgrad)
    if theirs is None:
        assert ours is None, f"ndgrad raised where torch does not: {ours}"
    else:
        assert ours is not None, f"torch raises, ndgrad does not: {theirs}"
        assert _normalised(ours) == _normalised(theirs)
