"""In-place ops on views of tensors in a graph work as in PyTorch (its CopySlices).

Each program ``program(lib)`` runs on ndgrad and on torch 2.13 and returns what to compare:
gradients (as arrays) and ``grad_fn`` names. Covered: the programs of issue 10, d2l's
``masked_softmax`` (``X[~mask] = value`` on a reshaped view inside a graph), ``h[:, 0] = v``,
views of views, older views of a base modified in place (regenerated ``AsStridedBackward0``),
second order through a CopySlices, the shared version counter, and PyTorch's errors for
leaves and for views made in no_grad mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad

X6 = [0.5, -1.0, 2.0, 1.5, -0.25, 3.0]


def _name(t: Any) -> str | None:
    """The node's name as its repr prints it (torch's ``name()`` adds ``torch::autograd::``)."""
    return None if t.grad_fn is None else t.grad_fn.name().removeprefix("torch::autograd::")


def _grad(t: Any) -> np.ndarray | None:
    return None if t.grad is None else np.array(t.grad.tolist())


def issue_mul_on_slice(lib: Any) -> dict:
    """Issue 10: ``y = x * 2; y[1:].mul_(x[:3]); y.sum().backward()``."""
    x = lib.tensor(X6[:4], requires_grad=True)
    y = x * 2
    v = y[1:]
    before = _name(v)
    v.mul_(x[:3])
    names = {"before": before, "view": _name(v), "base": _name(y)}
    y.sum().backward()
    return {**names, "x.grad": _grad(x), "y": y.tolist()}


def sequence_mask(lib: Any, X: Any, valid_len: Any, value: float = 0) -> Any:
    """d2l's ``sequence_mask``, as in the book."""
    maxlen = X.size(1)
    mask = lib.arange((maxlen), dtype=lib.float32, device=X.device)[None, :] < valid_len[:, None]
    X[~mask] = value
    return X


def masked_softmax(lib: Any, X: Any, valid_lens: Any) -> Any:
    """d2l's ``masked_softmax``, as in the book: the mask is written into a reshaped view."""
    if valid_lens is None:
        return lib.nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = lib.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = sequence_mask(lib, X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return lib.nn.functional.softmax(X.reshape(shape), dim=-1)


def _masked_softmax_program(lens: list) -> Callable[[Any], dict]:
    def program(lib: Any) -> dict:
        gen = np.random.default_rng(0)
        q = lib.tensor(gen.normal(size=(2, 3, 4)).tolist(), requires_grad=True)
        k = lib.tensor(gen.normal(size=(2, 4, 4)).tolist(), requires_grad=True)
        weights = lib.tensor(gen.normal(size=(2, 3, 4)).tolist())
        scores = lib.bmm(q, k.transpose(1, 2)) / 2
        out = masked_softmax(lib, scores, lib.tensor(lens))
        (out * weights).sum().backward()
        return {
            "out": np.array(out.tolist()),
            "q.grad": _grad(q),
            "k.grad": _grad(k),
            "scores": _name(scores),
            "out_fn": _name(out),
        }

    return program


def setitem_column(lib: Any) -> dict:
    """``h[:, 0] = v`` on a non-leaf, ``v`` requiring grad; then ``h`` is used."""
    x = lib.tensor([X6[:3], X6[3:]], requires_grad=True)
    v = lib.tensor([4.0, -2.0], requires_grad=True)
    h = x * x
    h[:, 0] = v * 3
    (h * lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    return {"x.grad": _grad(x), "v.grad": _grad(v), "h": h.tolist()}


def setitem_into_zeros(lib: Any) -> dict:
    """``h = zeros(...); a = h[1]; h[:, 0] = v``: the older view ``a`` joins the graph."""
    v = lib.tensor([4.0, -2.0], requires_grad=True)
    h = lib.zeros(2, 3)
    a = h[1]
    h[:, 0] = v
    names = {"a": _name(a), "a.requires_grad": a.requires_grad}
    (a * lib.tensor([5.0, 6.0, 7.0])).sum().backward()
    return {**names, "v.grad": _grad(v)}


def setitem_on_view(lib: Any) -> dict:
    """``w = h.view(-1); w[mask] = value`` and ``h[1][1:] = v`` on views of a non-leaf."""
    x = lib.tensor([X6[:3], X6[3:]], requires_grad=True)
    v = lib.tensor([1.0, -3.0], requires_grad=True)
    h = x * 3 + 1
    w = h.view(-1)
    w[w > 3] = -1.0
    row = h[1]
    row[1:] = v
    names = {"w": _name(w), "row": _name(row), "h": _name(h)}
    (h * lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    return {**names, "x.grad": _grad(x), "v.grad": _grad(v)}


def chained_views(lib: Any) -> dict:
    """A view of a view: ``y.t()[0].add_(1)``, then ``y.t()[1].mul_(x[:, 2])``."""
    x = lib.tensor([X6[:3], X6[3:]], requires_grad=True)
    y = x * 1
    t = y.t()
    r = t[0]
    r.add_(1)
    y.t()[1].mul_(x[:, 2])
    names = {"r": _name(r), "t": _name(t), "y": _name(y), "same base": r._base is y}
    (y * y).sum().backward()
    return {**names, "x.grad": _grad(x), "y": y.tolist()}


def older_views(lib: Any) -> dict:
    """Views made before an in-place op on another view see the new values and history."""
    x = lib.tensor(X6, requires_grad=True)
    y = x * 2
    a = y[:3]
    b = y.view(2, 3)
    c = b[1]
    y[1:4].mul_(x[2:5])
    names = {n: _name(t) for n, t in (("a", a), ("b", b), ("c", c), ("y", y))}
    loss = (a * a).sum() + (b * lib.tensor([1.0, 2.0, 3.0])).sum() + c.prod()
    loss.backward()
    return {**names, "x.grad": _grad(x), "a": a.tolist()}


def inplace_on_base_then_view(lib: Any) -> dict:
    """An in-place op on the base itself: its views are regenerated too."""
    x = lib.tensor(X6, requires_grad=True)
    y = x * 2
    a = y[2:]
    y.mul_(x)
    names = {"a": _name(a), "y": _name(y)}
    (a * a).sum().backward()
    return {**names, "x.grad": _grad(x)}


def fill_on_view(lib: Any) -> dict:
    """``y[1:3].fill_(0)`` and ``y[4:].zero_()``: the filled region gets no gradient."""
    x = lib.tensor(X6, requires_grad=True)
    y = x.sin()
    y[1:3].fill_(0.5)
    y[4:].zero_()
    (y * y).sum().backward()
    return {"x.grad": _grad(x), "y": _name(y)}


def view_of_no_grad_base(lib: Any) -> dict:
    """In place on a view of a tensor that needs no grad, with an operand that does."""
    x = lib.tensor(X6[:2], requires_grad=True)
    z = lib.zeros(3)
    zz = z[1:]
    zz.add_(x * 3)
    names = {"z": _name(z), "zz": _name(zz), "z.requires_grad": z.requires_grad}
    (z * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return {**names, "x.grad": _grad(x)}


def shared_version(lib: Any) -> dict:
    """A view and its base share one version counter."""
    x = lib.tensor(X6, requires_grad=True)
    y = x * 2
    v = y[1:].view(5)
    versions = [(_version(lib, y), _version(lib, v))]
    v.add_(1)
    versions.append((_version(lib, y), _version(lib, v)))
    y[:1].mul_(3)
    versions.append((_version(lib, y), _version(lib, v)))
    return {"versions": versions}


def _version(lib: Any, t: Any) -> int:
    return t._version


PROGRAMS = {
    "issue_mul_on_slice": issue_mul_on_slice,
    "masked_softmax_1d_lens": _masked_softmax_program([2, 3]),
    "masked_softmax_2d_lens": _masked_softmax_program([[1, 3, 2], [2, 4, 1]]),
    "setitem_column": setitem_column,
    "setitem_into_zeros": setitem_into_zeros,
    "setitem_on_view": setitem_on_view,
    "chained_views": chained_views,
    "older_views": older_views,
    "inplace_on_base_then_view": inplace_on_base_then_view,
    "fill_on_view": fill_on_view,
    "view_of_no_grad_base": view_of_no_grad_base,
    "shared_version": shared_version,
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_same_as_torch(name: str) -> None:
    program = PROGRAMS[name]
    ours, theirs = program(ndgrad), program(torch)
    assert ours.keys() == theirs.keys()
    for key in ours:
        a, b = ours[key], theirs[key]
        if isinstance(a, (np.ndarray, list)):
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-6, err_msg=key)
        else:
            assert a == b, (key, a, b)


# ----------------------------------------------------------------------------- second order
def _copy_slices_fn(lib: Any) -> Callable[..., Any]:
    def fn(x: Any, w: Any) -> Any:
        y = x * x
        y[1:].mul_(w)
        y.view(2, 2)[:, 0].add_(x[:2].exp())
        return (y * y).sum() + y[2:].prod()

    return fn


def test_gradgradcheck_through_copy_slices() -> None:
    x = ndgrad.tensor([0.3, -0.7, 1.1, 0.4], dtype=ndgrad.float64, requires_grad=True)
    w = ndgrad.tensor([1.2, 0.5, -0.8], dtype=ndgrad.float64, requires_grad=True)
    fn = _copy_slices_fn(ndgrad)
    assert ndgrad.autograd.gradcheck(fn, (x, w))
    assert ndgrad.autograd.gradgradcheck(fn, (x, w))


def test_second_order_matches_torch() -> None:
    def second(lib: Any) -> list:
        x = lib.tensor([0.3, -0.7, 1.1, 0.4], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([1.2, 0.5, -0.8], dtype=lib.float64, requires_grad=True)
        out = _copy_slices_fn(lib)(x, w)
        gx, gw = lib.autograd.grad(out, (x, w), create_graph=True)
        hx, hw = lib.autograd.grad((gx * gx).sum() + gw.sum() * gx[0], (x, w))
        return [gx.tolist(), gw.tolist(), hx.tolist(), hw.tolist()]

    for ours, theirs in zip(second(ndgrad), second(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)


# ----------------------------------------------------------------------------- errors
def _leaf_view(lib: Any) -> None:
    x = lib.tensor(X6, requires_grad=True)
    x[1:].mul_(2)


def _leaf(lib: Any) -> None:
    x = lib.tensor(X6, requires_grad=True)
    x.mul_(2)


def _leaf_view_of_view(lib: Any) -> None:
    x = lib.tensor(X6, requires_grad=True)
    x.view(2, 3).t()[0].add_(1)


def _leaf_masked_setitem(lib: Any) -> None:
    x = lib.tensor(X6, requires_grad=True)
    x[x > 1] = 0.0


def _no_grad_view_of_leaf(lib: Any) -> None:
    x = lib.tensor(X6, requires_grad=True)
    with lib.no_grad():
        v = x[1:]
    v.add_(1)


def _no_grad_view_of_nonleaf(lib: Any) -> None:
    x = lib.tensor(X6, requires_grad=True)
    y = x * 2
    with lib.no_grad():
        v = y[1:]
    v.add_(1)


def _saved_base_modified_through_view(lib: Any) -> None:
    x = lib.tensor(X6, requires_grad=True)
    s = (x * 1).sigmoid()  # saves its output
    s[2:].mul_(2)
    s.sum().backward()


def _expanded_view(lib: Any) -> None:
    x = lib.tensor(X6[:3], requires_grad=True)
    y = x * 2
    y.expand(2, 3).add_(1)


ERRORS = [
    _leaf_view,
    _leaf,
    _leaf_view_of_view,
    _leaf_masked_setitem,
    _no_grad_view_of_leaf,
    _no_grad_view_of_nonleaf,
    _saved_base_modified_through_view,
    _expanded_view,
]


def _message(program: Callable[[Any], None], lib: Any) -> str:
    with pytest.raises(RuntimeError) as info:
        program(lib)
    text = str(info.value).split("Hint:")[0].strip()
    return re.sub(r"\btorch\.", "ndgrad.", text)


@pytest.mark.parametrize("program", ERRORS, ids=lambda p: p.__name__.strip("_"))
def test_errors_as_torch(program: Callable[[Any], None]) -> None:
    assert _message(program, ndgrad) == _message(program, torch)


def test_no_grad_updates_build_no_history() -> None:
    """Optimizer-style updates under no_grad: plain writes, no view tracking, no nodes."""
    w = ndgrad.tensor(X6, requires_grad=True)
    with ndgrad.no_grad():
        v = w[1:]
        v.mul_(2)
        w.view(2, 3)[0].add_(1)
    assert type(v) is ndgrad.Tensor
    assert w.grad_fn is None and v.grad_fn is None and not v.requires_grad
    np.testing.assert_allclose(w.tolist(), [1.5, -1.0, 5.0, 3.0, -0.5, 6.0])


def test_a_base_does_not_keep_its_dead_views():
    """Views made while recording are followed weakly: a long loop of slices stays small."""
    base = ndgrad.zeros(100, 4)
    for i in range(10_000):
        base[i % 100 : i % 100 + 1].sum()
    assert len(base._views) < 200


def _select_then_add(lib: Any) -> list:
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y[0].add_(1)  # y[0] is a 0-d view: the write reaches y
    y.sum().backward()
    return [y.grad_fn.name(), y.detach().tolist(), x.grad.tolist()]


def _setitem_scalar_tensor(lib: Any) -> list:
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1
    v = lib.tensor(5.0, requires_grad=True)
    h[0] = v
    (h * h).sum().backward()
    return [h.grad_fn.name(), v.grad.item(), x.grad.tolist()]


def _setitem_column_of_data(lib: Any) -> list:
    h = lib.zeros(2, 3)
    v = lib.ones(2, requires_grad=True)
    h[:, 0] = v * 3
    (h * h).sum().backward()
    return [h.grad_fn.name(), v.grad.tolist()]


def _setitem_on_leaf(lib: Any) -> list:
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[0] = 1.0
    return []


@pytest.mark.parametrize(
    "program",
    [_select_then_add, _setitem_scalar_tensor, _setitem_column_of_data, _setitem_on_leaf],
    ids=lambda f: f.__name__.strip("_"),
)
def test_setitem_with_a_basic_key_is_a_copy_into_a_view_as_in_torch(program):
    def outcome(lib):
        try:
            out = program(lib)
        except RuntimeError as exc:
            return ("raises", str(exc))
        return [o.replace("torch::autograd::", "") if isinstance(o, str) else o for o in out]

    assert outcome(ndgrad) == outcome(torch)
