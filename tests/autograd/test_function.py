"""Custom autograd.Function: the same classes run on ndgrad and torch and give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad


def make_functions(lib):
    """The same user code, written once against ``lib`` (ndgrad or torch)."""

    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, i):
            result = i.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad_output):
            (result,) = ctx.saved_tensors
            return grad_output * result

    class MulAdd(lib.autograd.Function):
        """Two outputs (a*b, a+b) and a non-tensor argument (scale)."""

        @staticmethod
        def forward(ctx, a, b, scale):
            ctx.save_for_backward(a, b)
            ctx.scale = scale
            return a * b * scale, a + b

        @staticmethod
        def backward(ctx, g_mul, g_add):
            a, b = ctx.saved_tensors
            ga = g_mul * b * ctx.scale + g_add if ctx.needs_input_grad[0] else None
            gb = g_mul * a * ctx.scale + g_add if ctx.needs_input_grad[1] else None
            return ga, gb, None

    class Cube(lib.autograd.Function):
        """Backward written with Tensor ops on a saved input: differentiable again."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    class ArgmaxAndValue(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x, idx)
            return x.max(), idx

        @staticmethod
        def backward(ctx, g, g_idx):
            x, idx = ctx.saved_tensors
            grad = lib.zeros_like(x)
            grad[idx] = g
            return grad

    return Exp, MulAdd, Cube, ArgmaxAndValue


N_FUNCS = make_functions(ndgrad)
T_FUNCS = make_functions(torch)
X = np.array([0.3, -1.2, 2.0, 0.7])
Y = np.array([1.5, 0.2, -0.4, 1.1])


def leaves(lib, *arrays):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


def close(a, b):
    np.testing.assert_allclose(
        np.asarray(a.detach().numpy()), b.detach().numpy(), rtol=1e-12, atol=1e-12
    )


def test_exp_with_saved_output_matches_torch_to_third_order():
    results = []
    for lib, (Exp, *_rest) in ((ndgrad, N_FUNCS), (torch, T_FUNCS)):
        (x,) = leaves(lib, X)
        y = Exp.apply(x)
        assert y.grad_fn.name() == "ExpBackward"
        (g1,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x)
        results.append((y, g1, g2, g3))
    for ours, theirs in zip(*results, strict=True):
        close(ours, theirs)


def test_multi_output_function_used_twice_in_one_graph():
    grads = []
    for lib, (_, MulAdd, *_rest) in ((ndgrad, N_FUNCS), (torch, T_FUNCS)):
        a, b = leaves(lib, X, Y)
        p, s = MulAdd.apply(a, b, 2.0)
        p2, s2 = MulAdd.apply(p, s, 0.5)  # the Function applied twice, chained
        (p2 * s2 + p).sum().backward()
        grads.append((a.grad, b.grad, p2, s2))
    for ours, theirs in zip(*grads, strict=True):
        close(ours, theirs)


def test_unused_output_gets_materialized_zero_grad():
    for lib, (_, MulAdd, *_rest) in ((ndgrad, N_FUNCS), (torch, T_FUNCS)):
        a, b = leaves(lib, X, Y)
        p, _s = MulAdd.apply(a, b, 1.0)
        p.sum().backward()  # backward still receives g_add (zeros)
        np.testing.assert_allclose(a.grad.numpy(), Y)


def test_needs_input_grad_follows_requires_grad():
    seen = {}

    class Probe(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen["forward"] = ctx.needs_input_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            seen["backward"] = ctx.needs_input_grad
            return g, None, None

    a = ndgrad.tensor(X, requires_grad=True)
    Probe.apply(a, ndgrad.tensor(Y), 3).sum().backward()
    assert seen == {"forward": (True, False, False), "backward": (True, False, False)}


def test_double_backward_through_differentiable_custom_backward():
    out = []
    for lib, (_, _, Cube, _) in ((ndgrad, N_FUNCS), (torch, T_FUNCS)):
        (x,) = leaves(lib, X)
        (g,) = lib.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        out.append((g, h))
    close(out[0][0], out[1][0])
    close(out[0][1], out[1][1])
    np.testing.assert_allclose(out[0][1].numpy(), 6 * X)
    assert ndgrad.autograd.gradgradcheck(N_FUNCS[2].apply, (ndgrad.tensor(X, requires_grad=True),))


def test_non_differentiable_output():
    for lib, (*_, ArgmaxAndValue) in ((ndgrad, N_FUNCS), (torch, T_FUNCS)):
        (x,) = leaves(lib, X)
        value, idx = ArgmaxAndValue.apply(x)
        assert value.requires_grad and not idx.requires_grad
        value.backward()
        assert x.grad.tolist() == [0.0, 0.0, 1.0, 0.0]


def test_saved_tensors_freed_after_backward_and_version_checked():
    Exp = N_FUNCS[0]
    (x,) = leaves(ndgrad, X)
    y = Exp.apply(x)
    ctx_node = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()
    assert ctx_node is y.grad_fn

    (x,) = leaves(ndgrad, X)
    y = Exp.apply(x)
    with ndgrad.no_grad():
        y.mul_(2)  # modifies the saved output in place
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_tensors_accessible_with_retain_graph():
    class Keep(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, None)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            x, nothing = ctx.saved_tensors
            assert nothing is None
            return g * 2

    (x,) = leaves(ndgrad, X)
    y = Keep.apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 4.0))


def test_backward_result_errors_are_clear():
    class TooFew(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    class BadShape(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            return g[:2]

    a, b = leaves(ndgrad, X, Y)
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 2, got 1\)"):
        TooFew.apply(a, b).sum().backward()
    with pytest.raises(RuntimeError, match="invalid gradient at index 0 - got"):
        BadShape.apply(a).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward can only save variables"):
        ndgrad.autograd.function.FunctionCtx().save_for_backward(3)


def test_forward_returning_input_keeps_leaf_intact():
    class Identity(ndgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    (x,) = leaves(ndgrad, X)
    y = Identity.apply(x)
    assert x.is_leaf and y is not x and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.tolist() == [5.0] * 4


def test_setup_context_style():
    class Square(ndgrad.autograd.Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    (x,) = leaves(ndgrad, X)
    Square.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * X)
