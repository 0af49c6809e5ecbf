"""Autograd semantics, each checked against torch 2.13 where torch defines the answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad


def _np(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


# ----------------------------------------------------------------------------- seed examples
def test_seed_dot_product_gradient():
    x = ndgrad.arange(4.0)
    x.requires_grad_(True)
    y = 2 * ndgrad.dot(x, x)
    assert y.item() == 28.0
    y.backward()
    np.testing.assert_array_equal(_np(x.grad), [0.0, 4.0, 8.0, 12.0])
    assert x.grad.dtype == ndgrad.float32
    assert bool((x.grad == 4 * x).all())


def test_seed_zero_grad_then_sum():
    x = ndgrad.arange(4.0, requires_grad=True)
    (2 * ndgrad.dot(x, x)).backward()
    x.grad.zero_()
    x.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), [1.0, 1.0, 1.0, 1.0])


def test_seed_backward_with_gradient_argument():
    x = ndgrad.arange(4.0, requires_grad=True)
    y = x * x
    y.backward(gradient=ndgrad.ones(len(x)))
    np.testing.assert_array_equal(_np(x.grad), [0.0, 2.0, 4.0, 6.0])


def test_seed_detach_cuts_the_graph():
    x = ndgrad.arange(4.0, requires_grad=True)
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), _np(u))
    assert u.grad_fn is None and not u.requires_grad
    x.grad.zero_()
    y.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), _np(2 * x))


def _control_flow(lib, a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    c = b if b.sum() > 0 else 100 * b
    return c


@pytest.mark.parametrize("start", [0.3, -0.7, 1e-3])
def test_seed_control_flow(start):
    a = ndgrad.tensor(start, requires_grad=True)
    d = _control_flow(ndgrad, a)
    d.backward()
    assert a.grad.item() == pytest.approx((d / a).item())
    ta = torch.tensor(start, requires_grad=True)
    _control_flow(torch, ta).backward()
    assert a.grad.item() == pytest.approx(ta.grad.item())


# ----------------------------------------------------------------------------- .grad
def test_grad_accumulates_across_backward_calls():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    first = x.grad
    (x * x).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [5.0, 7.0])
    assert x.grad is first  # accumulated in place, like PyTorch


def test_value_used_twice_accumulates():
    x = ndgrad.tensor(3.0, requires_grad=True)
    (x + x * x).backward()
    assert x.grad.item() == 7.0


def test_non_leaf_grad_is_none_and_retain_grad():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y
    y.retain_grad()
    z.sum().backward()
    assert y.retains_grad and not x.retains_grad
    np.testing.assert_allclose(_np(y.grad), [4.0, 8.0])
    w = x * 5
    (w * w).sum().backward()
    assert w.grad is None
    assert not w.is_leaf and x.is_leaf


def test_leaf_flags_like_torch():
    for lib in (ndgrad, torch):
        a = lib.ones(2)
        b = lib.ones(2, requires_grad=True)
        c = a * 2
        d = b * 2
        assert a.is_leaf and b.is_leaf and c.is_leaf and not d.is_leaf
        assert not c.requires_grad and d.requires_grad
        assert d.detach().is_leaf and not d.detach().requires_grad


# ----------------------------------------------------------------------------- graph lifetime
def test_retain_graph_allows_second_backward():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = _np(x.grad).copy()
    y.backward()
    np.testing.assert_allclose(_np(x.grad), 2 * first)


def test_second_backward_raises_after_graph_freed():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_saved_tensors_are_freed_after_backward():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    node = y.grad_fn
    assert node.saved
    y.sum().backward()
    assert node.saved == ()


def test_long_chain_has_no_recursion_limit():
    x = ndgrad.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-5
    y.backward()
    assert x.grad.item() == 1.0


# ----------------------------------------------------------------------------- higher order
def test_third_derivative_of_cube():
    x = ndgrad.tensor(2.0, requires_grad=True)
    y = x**3
    (g1,) = ndgrad.autograd.grad(y, x, create_graph=True)
    (g2,) = ndgrad.autograd.grad(g1, x, create_graph=True)
    (g3,) = ndgrad.autograd.grad(g2, x)
    assert (g1.item(), g2.item(), g3.item()) == (12.0, 12.0, 6.0)


def test_create_graph_backward_gives_differentiable_grad():
    x = ndgrad.tensor([0.5, -1.0], requires_grad=True)
    tx = torch.tensor([0.5, -1.0], requires_grad=True)
    for lib, v in ((ndgrad, x), (torch, tx)):
        y = (lib.sin(v) * v).sum()
        y.backward(create_graph=True)
        g = v.grad
        assert g.requires_grad
        v.grad = None
        g.sum().backward()
    np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-6)


def test_hessian_vector_product_matches_torch():
    data = np.array([[0.3, -0.2], [1.1, 0.4]])
    results = []
    for lib in (ndgrad, torch):
        w = lib.tensor(data, requires_grad=True)
        loss = (lib.tanh(w @ w) ** 2).sum()
        (g,) = lib.autograd.grad(loss, w, create_graph=True)
        (hv,) = lib.autograd.grad((g * lib.ones_like(g)).sum(), w)
        results.append(_np(hv))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


# ----------------------------------------------------------------------------- autograd.grad
def test_grad_returns_without_accumulating():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    (g,) = ndgrad.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(_np(g), [2.0, 4.0])
    assert x.grad is None


def test_grad_allow_unused_and_error():
    x = ndgrad.tensor(1.0, requires_grad=True)
    z = ndgrad.tensor(1.0, requires_grad=True)
    y = x * 2
    gx, gz = ndgrad.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gx.item() == 2.0 and gz is None
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        ndgrad.autograd.grad(y, [x, z])
    tx, tz = torch.tensor(1.0, requires_grad=True), torch.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        torch.autograd.grad(tx * 2, [tx, tz])


def test_grad_outputs_and_non_leaf_inputs():
    x = ndgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * x
    y = h * 3
    gh, gx = ndgrad.autograd.grad(y, [h, x], grad_outputs=ndgrad.tensor([1.0, 0.5, 2.0]))
    np.testing.assert_allclose(_np(gh), [3.0, 1.5, 6.0])
    np.testing.assert_allclose(_np(gx), [6.0, 6.0, 36.0])


def test_grad_of_several_outputs():
    x = ndgrad.tensor(2.0, requires_grad=True)
    (g,) = ndgrad.autograd.grad([x * x, x * 3], x)
    assert g.item() == 7.0


def test_backward_inputs_restricts_accumulation():
    a = ndgrad.tensor(2.0, requires_grad=True)
    b = ndgrad.tensor(3.0, requires_grad=True)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 3.0 and b.grad is None
    ta, tb = torch.tensor(2.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    (ta * tb).backward(inputs=[ta])
    assert tb.grad is None


def test_backward_inputs_non_leaf():
    a = ndgrad.tensor(2.0, requires_grad=True)
    h = a * 3
    (h * h).backward(inputs=[h])
    assert h.grad.item() == 12.0 and a.grad is None


# ----------------------------------------------------------------------------- hooks
def test_hook_on_leaf_modifies_grad_and_remove():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(_np(g).copy()) or g * 10)
    (x * 2).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [20.0, 20.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [2.0, 2.0])
    assert len(seen) == 1


def test_hook_on_non_leaf_changes_upstream_gradient():
    results = []
    for lib in (ndgrad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        handle = y.register_hook(lambda g: g * 3)
        y.sum().backward()
        results.append(_np(x.grad).copy())
        handle.remove()
        x.grad = None
        (x * x).sum().backward()
        y2 = x * x
        y2.sum().backward()
        results.append(_np(x.grad).copy())
    np.testing.assert_allclose(results[0], results[2])
    np.testing.assert_allclose(results[1], results[3])
    np.testing.assert_allclose(results[0], [6.0, 12.0])


def test_removed_non_leaf_hook_is_not_called():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    calls = []
    handle = y.register_hook(lambda g: calls.append(1))
    handle.remove()
    y.sum().backward()
    assert calls == []
    np.testing.assert_allclose(_np(x.grad), [2.0, 4.0])


def test_hook_on_tensor_without_grad_raises():
    for lib in (ndgrad, torch):
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.ones(2).register_hook(lambda g: g)


# ----------------------------------------------------------------------------- grad modes
def test_no_grad_context_and_decorator():
    x = ndgrad.ones(2, requires_grad=True)
    with ndgrad.no_grad():
        assert not ndgrad.is_grad_enabled()
        y = x * 2
    assert ndgrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @ndgrad.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert ndgrad.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = ndgrad.ones(2, requires_grad=True)
    with ndgrad.no_grad():
        with ndgrad.enable_grad():
            y = x * 2
        z = x * 2

        @ndgrad.enable_grad()
        def f(t):
            return t * 2

        w = f(x)
    assert y.requires_grad and not z.requires_grad and w.requires_grad


def test_set_grad_enabled_forms():
    x = ndgrad.ones(2, requires_grad=True)
    with ndgrad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ndgrad.is_grad_enabled()
    ndgrad.set_grad_enabled(False)
    assert not ndgrad.is_grad_enabled()
    ndgrad.set_grad_enabled(True)

    @ndgrad.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert ndgrad.is_grad_enabled()
    assert not f(x).requires_grad
    assert ndgrad.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with ndgrad.no_grad():
            raise ValueError("boom")
    assert ndgrad.is_grad_enabled()


# ----------------------------------------------------------------------------- graph structure
@pytest.mark.parametrize(
    "expr",
    [
        lambda lib, a, b: a + b,
        lambda lib, a, b: a - b,
        lambda lib, a, b: 4.2 - a,  # d2l prints `true_b - b`: RsubBackward1, one input
        lambda lib, a, b: lib.rsub(a, 2),
        lambda lib, a, b: a * b,
        lambda lib, a, b: a / b,
        lambda lib, a, b: a @ b,
        lambda lib, a, b: a.sum(),
        lambda lib, a, b: a.sum(0),
        lambda lib, a, b: a.mean(),
        lambda lib, a, b: lib.exp(a),
        lambda lib, a, b: lib.log(a),
        lambda lib, a, b: lib.relu(a),
        lambda lib, a, b: lib.sigmoid(a),
        lambda lib, a, b: lib.tanh(a),
        lambda lib, a, b: a**2,
        lambda lib, a, b: -a,
        lambda lib, a, b: a.reshape(-1),
        lambda lib, a, b: a.view(4),
        lambda lib, a, b: a.T,
        lambda lib, a, b: a.t(),
        lambda lib, a, b: a[0],
        lambda lib, a, b: a[:, 1:],
        lambda lib, a, b: a.unsqueeze(0),
        lambda lib, a, b: a.transpose(0, 1),
        lambda lib, a, b: a.permute(1, 0),
        lambda lib, a, b: lib.cat([a, b]),
        lambda lib, a, b: a.abs(),
        lambda lib, a, b: a.sqrt(),
        lambda lib, a, b: lib.softmax(a, 1),
        lambda lib, a, b: lib.log_softmax(a, 1),
        lambda lib, a, b: a.max(),
        lambda lib, a, b: a.max(1).values,
        lambda lib, a, b: lib.matmul(a, b[0]),
        lambda lib, a, b: a.clone(),
        lambda lib, a, b: a.gather(1, lib.tensor([[0], [1]])),
        lambda lib, a, b: lib.where(a > 0.5, a, b),
    ],
)
def test_grad_fn_names_and_next_functions_like_torch(expr):
    data = np.array([[0.25, 0.5], [0.75, 1.5]], dtype=np.float32)
    mine_a = ndgrad.tensor(data, requires_grad=True)
    mine_b = ndgrad.tensor(data + 1)
    ref_a = torch.tensor(data, requires_grad=True)
    ref_b = torch.tensor(data + 1)
    mine, ref = expr(ndgrad, mine_a, mine_b), expr(torch, ref_a, ref_b)
    assert mine.grad_fn.name() == ref.grad_fn.name()
    mine_next = [None if f is None else f.name() for f, _ in mine.grad_fn.next_functions]
    # torch spells the leaf node "torch::autograd::AccumulateGrad" in name(), its C++ name.
    ref_next = [
        None if f is None else f.name().replace("torch::autograd::", "")
        for f, _ in ref.grad_fn.next_functions
    ]
    assert mine_next == ref_next
    assert mine.is_leaf is ref.is_leaf is False


def test_accumulate_grad_points_at_leaf():
    x = ndgrad.ones(2, requires_grad=True)
    (acc, nr), _ = (x * 2).grad_fn.next_functions
    assert acc.name() == "AccumulateGrad" and acc.variable is x and nr == 0


# ----------------------------------------------------------------------------- in-place
def _inplace_program(lib, x_data, op):
    x = lib.tensor(x_data, requires_grad=True)
    y = x * 1.5
    op(lib, y)
    (y * lib.arange(float(y.numel())).reshape(y.shape)).sum().backward()
    return _np(y), _np(x.grad)


@pytest.mark.parametrize(
    "op",
    [
        lambda lib, y: y.add_(2.0),
        lambda lib, y: y.add_(lib.ones(3), alpha=3),
        lambda lib, y: y.sub_(0.5),
        lambda lib, y: y.mul_(3.0),
        lambda lib, y: y.div_(4.0),
        lambda lib, y: y.clamp_(-1.0, 1.0),
        lambda lib, y: y.zero_(),
        lambda lib, y: y.fill_(2.5),
        lambda lib, y: y.copy_(lib.tensor([4.0, 5.0, 6.0])),
        lambda lib, y: y.__iadd__(1.0),
        lambda lib, y: y.exp_(),
    ],
)
def test_inplace_values_and_gradients_match_torch(op):
    data = np.array([0.2, -1.3, 0.9], dtype=np.float32)
    mine_y, mine_g = _inplace_program(ndgrad, data, op)
    ref_y, ref_g = _inplace_program(torch, data, op)
    np.testing.assert_allclose(mine_y, ref_y, rtol=1e-6)
    np.testing.assert_allclose(mine_g, ref_g, rtol=1e-6)


@pytest.mark.parametrize("lib", [ndgrad, torch], ids=["ndgrad", "torch"])
def test_inplace_on_self_operand_trips_the_version_check(lib):
    # y.mul_(y) saves y for backward and then changes it: both libraries refuse.
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _inplace_program(
            lib, np.array([0.2, -1.3, 0.9], dtype=np.float32), lambda lib, y: y.mul_(y)
        )


def test_iadd_keeps_identity_and_bumps_version():
    x = ndgrad.zeros(3)
    ident = id(x)
    x += 1
    x *= 2
    x -= ndgrad.ones(3)
    x /= 2
    assert id(x) == ident
    np.testing.assert_allclose(_np(x), [0.5, 0.5, 0.5])
    assert x._version == 4


def test_inplace_through_no_grad_on_leaf_is_allowed():
    w = ndgrad.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    with ndgrad.no_grad():
        w -= 0.1 * w.grad
        w.normal_(0, 0.01)
        w.uniform_(-1, 1)
    assert w.is_leaf and w.requires_grad
    assert float(w.abs().max()) <= 1.0


def test_random_fills_have_the_requested_statistics():
    ndgrad.manual_seed(0)
    w = ndgrad.empty(20000)
    w.normal_(1.0, 0.5)
    assert abs(float(w.mean()) - 1.0) < 0.02 and abs(float(w.std()) - 0.5) < 0.02
    w.uniform_(2.0, 3.0)
    assert 2.0 <= float(w.min()) and float(w.max()) < 3.0
    assert abs(float(w.mean()) - 2.5) < 0.02


def test_requires_grad_detach_clone():
    x = ndgrad.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    d = x.detach()
    d[0] = 5.0  # shares storage, like torch
    assert x[0].item() == 5.0
    c = x.clone()
    assert c.grad_fn.name() == "CloneBackward0"
    (c * c).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [10.0, 4.0])
    x.requires_grad_(False)
    assert not x.requires_grad


def test_setitem_on_non_leaf_gradients_match_torch():
    grads = []
    for lib in (ndgrad, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        v = lib.tensor([10.0, 20.0], requires_grad=True)
        y = x * 2
        y[0] = v * v
        y[:, 1] = y[:, 1] + 1
        (y * y).sum().backward()
        grads.append((_np(x.grad), _np(v.grad)))
    np.testing.assert_allclose(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1])
