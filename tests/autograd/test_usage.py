"""Autograd the way learners use it outside the book's listings, against PyTorch 2.13.

Each program runs once with ndgrad and once with PyTorch (``tests.side_by_side.run_both``);
everything it returns must agree. Error cases compare the exception class.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.ops.helpers import check_gradients_fd, compare_with_torch
from tests.side_by_side import assert_same, run_both
from tests.strategies import distinct, shapes


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return type(exc).__name__
    return "no error"


def grad_in_a_loop(fw):
    torch = fw.torch
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = []
    for power in range(1, 4):
        (g,) = torch.autograd.grad((x**power).sum(), x)
        out.append(g)
    out.append(x.grad)  # autograd.grad leaves .grad alone
    return out


def toggling_requires_grad(fw):
    torch = fw.torch
    x = torch.tensor([1.0, 2.0])
    out = [x.requires_grad, x.requires_grad_().requires_grad, x.is_leaf]
    x.requires_grad_(False)
    out.append(x.requires_grad)
    with torch.no_grad():
        with torch.enable_grad():
            inner = torch.tensor([1.0], requires_grad=True) * 2
        outer = torch.tensor([1.0], requires_grad=True) * 2
    out += [inner.requires_grad, outer.requires_grad, repr(inner), repr(outer)]
    return out


def accumulate_then_zero(fw):
    torch = fw.torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    out = []
    for _ in range(3):
        (x * x).sum().backward()
        out.append(x.grad.clone())
    x.grad.zero_()
    out.append(x.grad)
    x.grad = None
    out.append(x.grad)
    (x * 3).sum().backward()
    out.append(x.grad)
    return out


def double_backward(fw):
    torch = fw.torch
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad((x**3).sum(), x, create_graph=True)
    out = [g, repr(g)]
    (g2,) = torch.autograd.grad(g.sum(), x)
    out.append(g2)
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    out.append(x.grad)
    w = x.exp().sum()
    w.backward()
    out.append(_raised(w.backward))  # the graph is freed
    return out


def gradients_of_selections(fw):
    torch = fw.torch
    out = []

    def grad_of(values, f):
        x = torch.tensor(values, requires_grad=True)
        f(x).backward()
        return x.grad

    out.append(grad_of([3.0, 4.0], lambda x: x.norm()))
    out.append(grad_of([0.0, 0.0], lambda x: x.norm()))
    out.append(grad_of([3.0, 5.0, 5.0], lambda x: x.max()))  # ties share the gradient
    out.append(grad_of([3.0, 5.0, 5.0], lambda x: x.amax()))
    out.append(grad_of([[3.0, 5.0], [5.0, 1.0]], lambda x: x.max(dim=1).values.sum()))
    out.append(grad_of([-1.0, 2.0, 0.0], lambda x: torch.where(x > 0, x**2, -x).sum()))
    out.append(grad_of([-1.0, 2.0, 0.0], lambda x: torch.where(x > 0, x, 0.0).sum()))
    out.append(grad_of([1.0, 2.0, 3.0], lambda x: x[[0, 0, 2]].sum()))  # repeated indices add
    out.append(
        grad_of([1.0, 2.0], lambda x: (x[torch.tensor([1, 1])] * torch.tensor([2.0, 3])).sum())
    )
    out.append(grad_of([0.0, 2.0, 3.0], lambda x: x.abs().sum()))
    out.append(grad_of([0.0, 2.0, 3.0], lambda x: x.relu().sum()))
    out.append(grad_of([-1.0, 0.5, 2.0], lambda x: x.clamp(0, 1).sum()))
    out.append(grad_of([0.0, 2.0], lambda x: x.prod()))
    out.append(grad_of([1.0, 2.0, 2.0, 3.0], lambda x: x.median()))  # even split over ties
    out.append(grad_of([[1.0, 4.0, 2.0], [0.0, 5.0, 3.0]], lambda x: x.median(1).values.sum()))
    out.append(grad_of([3.0, 1.0, 2.0], lambda x: x.kthvalue(2).values))
    out.append(grad_of([1.0, 2.0, 2.0], lambda x: x.mode().values))
    out.append(grad_of([1.0, 2.0, 3.0], lambda x: x.repeat_interleave(2).pow(2).sum()))
    out.append(
        grad_of([1.0, 2.0], lambda x: (torch.diag(x, 1) * torch.arange(9.0).reshape(3, 3)).sum())
    )
    out.append(grad_of([1.0, float("nan")], lambda x: x.nansum()))
    return out


def updates_without_grad(fw):
    torch = fw.torch
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w * 2).sum().backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    out = [w.clone().detach(), w.is_leaf, w.requires_grad, w.grad_fn is None, repr(w)]
    w.grad.zero_()
    (w * 3).sum().backward()
    w.data -= 0.1 * w.grad
    out += [repr(w)]
    w.data = torch.tensor([5.0, 6.0])
    out += [repr(w), w.requires_grad]
    d = w.detach()
    d += 1  # shares storage with w
    out += [repr(w)]
    y = w * 2
    y.detach_()
    out += [y.requires_grad, y.grad_fn is None, y.is_leaf]

    out += [_raised(lambda: w.sub_(1))]  # a leaf that requires grad, outside no_grad
    out += [_raised(lambda: (w * 2).backward())]  # not a scalar
    out += [_raised(lambda: torch.tensor([1.0]).sum().backward())]  # nothing requires grad
    out += [_raised(lambda: torch.tensor([1, 2], requires_grad=True))]
    out += [_raised(lambda: (w * 2).numpy()), _raised(lambda: (w * 2).requires_grad_(False))]
    return out


def grad_mode_decorators(fw):
    torch = fw.torch
    x = torch.ones(2, requires_grad=True)

    @torch.no_grad()
    def doubled(t):
        return t * 2

    @torch.no_grad
    def tripled(t):
        return t * 3

    out = [doubled(x).requires_grad, tripled(x).requires_grad, torch.is_grad_enabled()]
    with torch.set_grad_enabled(False):
        out.append((x * 2).requires_grad)
    out.append(torch.is_grad_enabled())
    with torch.inference_mode():
        out.append((x * 2).requires_grad)
    y = torch.tensor(2.0, requires_grad=True)
    (y**2).backward(torch.tensor(3.0))
    out.append(y.grad)
    v = torch.tensor([1.0, 2.0], requires_grad=True)
    (v * v).backward(torch.ones(2))
    out.append(v.grad)
    h = v * 2
    h.retain_grad()
    h.sum().backward()
    out += [h.grad, v.grad]
    a = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(1.0, requires_grad=True)
    out.append(torch.autograd.grad(a * 2, [a, b], allow_unused=True))
    out.append(_raised(lambda: torch.autograd.grad(a * 2, [a, b])))
    return out


PROGRAMS = [
    grad_in_a_loop,
    toggling_requires_grad,
    accumulate_then_zero,
    double_backward,
    gradients_of_selections,
    updates_without_grad,
    grad_mode_decorators,
]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_autograd_usage_matches_torch(program):
    ours, ref = run_both(program)
    assert_same(ours, ref, where=program.__name__)


def test_default_dtype_follows_set_default_dtype():
    def program(fw):
        torch = fw.torch
        torch.set_default_dtype(torch.float64)
        try:
            made = [torch.tensor([1.5]), torch.arange(0.0, 2), torch.ones(1), torch.tensor(1)]
            made += [torch.tensor([1]) / 2, torch.get_default_dtype()]
        finally:
            torch.set_default_dtype(torch.float32)
        return [*made, torch.get_default_dtype()]

    ours, ref = run_both(program)
    assert_same(ours, ref)


# ------------------------------------------------------------------ new ops: gradients checked
def _median(lib, x, dim):
    return x.median() if dim is None else x.median(dim)


def _kthvalue(lib, x, k, dim):
    return x.kthvalue(min(k, x.shape[dim]), dim)


def _repeat_interleave(lib, x, repeats, dim):
    return x.repeat_interleave(repeats, dim=dim)


def _repeat_interleave_counts(lib, x):
    counts = lib.arange(x.shape[0]) % 3
    return lib.repeat_interleave(x, counts, dim=0)


def _diag_offset(lib, x, k):
    return lib.diag(x.reshape(-1), k)


def _nansum(lib, x, dim):
    return x.nansum(dim)


def _mode(lib, x, dim):
    return x.mode(dim)


@st.composite
def _with_dim(draw, min_dims=1):
    shape = draw(shapes(min_dims=min_dims, max_dims=3))
    x = draw(distinct(shape))
    return x, draw(st.integers(-len(shape), len(shape) - 1))


CASES = {
    "median_all": (lambda d: ([d[0]], {"dim": None}), _median),
    "median_dim": (lambda d: ([d[0]], {"dim": d[1]}), _median),
    "kthvalue": (lambda d: ([d[0]], {"k": 2, "dim": d[1]}), _kthvalue),
    "repeat_interleave": (lambda d: ([d[0]], {"repeats": 2, "dim": d[1]}), _repeat_interleave),
    "repeat_interleave_flat": (lambda d: ([d[0]], {"repeats": 3, "dim": None}), _repeat_interleave),
    "repeat_interleave_counts": (lambda d: ([d[0]], {}), _repeat_interleave_counts),
    "diag_offset": (lambda d: ([d[0]], {"k": (d[1] % 3) - 1}), _diag_offset),
    "nansum": (lambda d: ([d[0]], {"dim": d[1]}), _nansum),
    "mode": (lambda d: ([d[0]], {"dim": d[1]}), _mode),
}


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=10)
@given(data=_with_dim())
def test_new_ops_gradients_match_finite_differences_and_torch(name, data):
    make, fn = CASES[name]
    arrays, params = make(data)
    check_gradients_fd(fn, arrays, params)
    compare_with_torch(fn, arrays, params, "float64")
    compare_with_torch(fn, [a.astype(np.float32) for a in arrays], params, "float32")
