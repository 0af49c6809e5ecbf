"""``torch.func``: grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, vmap,
functional_call (and ``nn.utils.stateless``), stack_module_state: values against torch,
compositions (per-sample gradients as in the torch.func tutorial, jacrev(jacrev),
vmap(vmap)), and torch's errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad

LIBS = (ndgrad, torch)
RNG = np.random.default_rng(0)
X = RNG.standard_normal(4)
Y = RNG.standard_normal(4)
M = RNG.standard_normal((3, 4))


def _both(fn):
    """``fn(lib)`` for ndgrad and torch, leaves compared (float64)."""
    mine, ref = fn(ndgrad), fn(torch)
    flat_mine, spec_mine = ndgrad.utils._pytree.tree_flatten(mine)
    flat_ref, _ = ndgrad.utils._pytree.tree_flatten(ref)
    assert len(flat_mine) == len(flat_ref)
    for a, b in zip(flat_mine, flat_ref, strict=True):
        if isinstance(b, torch.Tensor):
            assert tuple(a.shape) == tuple(b.shape)
            assert a.requires_grad == b.requires_grad
            assert_close(a, b, atol=1e-10, rtol=1e-9)
        else:
            assert a == b
    return mine


def _f(lib, x, y):
    return (lib.sin(x) * y).sum() + (x**3).sum()


def test_grad_argnums_has_aux_and_grad_and_value():
    _both(lambda lib: lib.func.grad(lambda x, y: _f(lib, x, y))(lib.tensor(X), lib.tensor(Y)))
    _both(
        lambda lib: lib.func.grad(lambda x, y: _f(lib, x, y), argnums=(0, 1))(
            lib.tensor(X), lib.tensor(Y)
        )
    )
    _both(
        lambda lib: lib.func.grad(lambda x, y: _f(lib, x, y), argnums=-1)(
            lib.tensor(X), lib.tensor(Y)
        )
    )
    _both(
        lambda lib: lib.func.grad(lambda x: (_f(lib, x, x), {"a": x.cos()}), has_aux=True)(
            lib.tensor(X)
        )
    )
    _both(
        lambda lib: lib.func.grad_and_value(lambda x, y: _f(lib, x, y))(
            lib.tensor(X), lib.tensor(Y)
        )
    )
    _both(
        lambda lib: lib.func.grad_and_value(lambda x: (_f(lib, x, x), x * 2), has_aux=True)(
            lib.tensor(X)
        )
    )
    # a dict of tensors (a pytree) as the differentiated argument
    _both(
        lambda lib: lib.func.grad(lambda p, x: (p["w"] * x).sum() * p["b"])(
            {"w": lib.tensor(X), "b": lib.tensor(2.0, dtype=lib.float64)}, lib.tensor(Y)
        )
    )


def test_grad_of_grad_and_results_differentiable_by_autograd():
    _both(lambda lib: lib.func.grad(lib.func.grad(lambda x: lib.sin(x) * x**2))(lib.tensor(1.3)))

    def outer(lib):
        x = lib.tensor(X, requires_grad=True)
        g = lib.func.grad(lambda x: (x**3).sum())(x)
        assert g.requires_grad
        (gg,) = lib.autograd.grad(g.sum(), x)
        return gg

    _both(outer)
    # a closure's parameter that requires grad keeps the result differentiable
    for lib in LIBS:
        w = lib.tensor(Y, requires_grad=True)
        g = lib.func.grad(lambda x, w=w: (w * x**2).sum())(lib.tensor(X))
        assert g.requires_grad
        with lib.no_grad():
            assert not lib.func.grad(lambda x: (x**2).sum())(lib.tensor(X)).requires_grad


def test_vjp_and_jvp():
    def vjp_case(lib):
        out, fn = lib.func.vjp(lambda x, y: (lib.sin(x) * y, x.exp()), lib.tensor(X), lib.tensor(Y))
        return out, fn((lib.ones(4, dtype=lib.float64), lib.tensor(Y)))

    _both(vjp_case)

    def vjp_aux(lib):
        out, fn, aux = lib.func.vjp(lambda x: (x**2, x.sum()), lib.tensor(X), has_aux=True)
        return out, fn(lib.tensor(Y)), aux

    _both(vjp_aux)
    _both(
        lambda lib: lib.func.jvp(
            lambda x, y: (lib.sin(x) * y).sum(-1),
            (lib.tensor(M), lib.tensor(Y)),
            (lib.ones(3, 4, dtype=lib.float64), lib.tensor(X)),
        )
    )
    _both(
        lambda lib: lib.func.jvp(
            lambda x: (x.exp(), x.sum()), (lib.tensor(X),), (lib.tensor(Y),), has_aux=True
        )
    )


def test_jacobians_and_hessian():
    _both(lambda lib: lib.func.jacrev(lambda x: lib.sin(x) * x.sum())(lib.tensor(X)))
    _both(lambda lib: lib.func.jacfwd(lambda x: lib.sin(x) * x.sum())(lib.tensor(X)))
    _both(
        lambda lib: lib.func.jacrev(lambda x, y: (x @ y, (x * 2).sum()), argnums=(0, 1))(
            lib.tensor(M), lib.tensor(X)
        )
    )
    _both(lambda lib: lib.func.jacrev(lambda x: (x.exp(), x.sum()), has_aux=True)(lib.tensor(X)))
    _both(lambda lib: lib.func.jacrev(lib.func.jacrev(lambda x: lib.sin(x) * x))(lib.tensor(X)))
    _both(lambda lib: lib.func.hessian(lambda x: (lib.sin(x) * x).sum() * x[0])(lib.tensor(X)))
    _both(
        lambda lib: lib.func.hessian(lambda x, y: (x * y).sum() ** 2, argnums=(0, 1))(
            lib.tensor(X), lib.tensor(Y)
        )
    )
    # a Jacobian of an output that does not depend on the input is zeros
    _both(lambda lib: lib.func.jacrev(lambda x, y: y * 2, argnums=0)(lib.tensor(X), lib.tensor(Y)))


def test_vmap_in_dims_out_dims_and_nesting():
    _both(lambda lib: lib.func.vmap(lambda a, b: a @ b)(lib.tensor(M), lib.tensor(M)))
    _both(
        lambda lib: lib.vmap(lambda a, b: a * b, in_dims=(1, None))(
            lib.tensor(M), lib.tensor(Y[:3])
        )
    )
    _both(lambda lib: lib.func.vmap(lambda a: (a.sum(), a * 2), out_dims=(0, 1))(lib.tensor(M)))
    _both(
        lambda lib: lib.func.vmap(lambda t, c: t[0] * t[1] + c, in_dims=((0, 1), None))(
            (lib.tensor(M), lib.tensor(M.T)), lib.tensor(2.0, dtype=lib.float64)
        )
    )
    _both(
        lambda lib: lib.func.vmap(lambda d: d["a"] - d["b"])(
            {"a": lib.tensor(M), "b": lib.tensor(M)}
        )
    )
    _both(lambda lib: lib.func.vmap(lib.func.vmap(lambda a: a.sum() * a))(lib.tensor(M)))
    _both(lambda lib: lib.func.vmap(lambda a: a.exp(), in_dims=-1, out_dims=-1)(lib.tensor(M)))
    _both(
        lambda lib: lib.func.vmap(lambda a: a.exp(), chunk_size=2, randomness="different")(
            lib.tensor(M)
        )
    )
    _both(lambda lib: lib.func.vmap(lambda a, k: a * k, in_dims=(0, None))(lib.tensor(M), 3))
    _both(lambda lib: lib.func.vmap(lambda a: (a * 2, 5), out_dims=(0, None))(lib.tensor(M)))
    # vmap of a jacobian and a jacobian of vmap
    _both(lambda lib: lib.func.vmap(lib.func.jacrev(lambda a: a.sin() * a.sum()))(lib.tensor(M)))
    _both(lambda lib: lib.func.jacrev(lib.func.vmap(lambda a: a.sin() * a.sum()))(lib.tensor(M)))


def test_vmap_randomness_error_and_same():
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="vmap: called random operation while in randomness"):
            lib.func.vmap(lambda a, F=lib.nn.functional: F.dropout(a, 0.5))(lib.ones(3, 2))
        out = lib.func.vmap(lambda a, F=lib.nn.functional: F.dropout(a, 0.5, training=False))(
            lib.ones(3, 2)
        )
        np.testing.assert_array_equal(out.numpy(), np.ones((3, 2)))
    assert ndgrad.rand(()).shape == ()  # the generator is back
    ndgrad.manual_seed(0)
    out = ndgrad.func.vmap(lambda a: a + ndgrad.rand(()), randomness="same")(ndgrad.zeros(5))
    assert np.unique(out.numpy()).size == 1
    out = ndgrad.func.vmap(lambda a: a + ndgrad.rand(()), randomness="different")(ndgrad.zeros(5))
    assert np.unique(out.numpy()).size == 5


class _Tutorial:
    """The model of the torch.func per-sample-gradients tutorial."""

    @staticmethod
    def make(lib):
        nn, F = lib.nn, lib.nn.functional

        class SimpleCNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 8, 3, 1)
                self.conv2 = nn.Conv2d(8, 16, 3, 1)
                self.fc1 = nn.Linear(576, 32)
                self.fc2 = nn.Linear(32, 10)

            def forward(self, x):
                x = F.relu(self.conv1(x))
                x = F.relu(self.conv2(x))
                x = F.max_pool2d(x, 2)
                x = lib.flatten(x, 1)
                x = F.relu(self.fc1(x))
                x = self.fc2(x)
                return F.log_softmax(x, dim=1)

        return SimpleCNN()


def test_per_sample_gradients_tutorial_matches_torch():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((6, 1, 16, 16)).astype(np.float32)
    targets = rng.integers(0, 10, 6)
    nd_model, t_model = _Tutorial.make(ndgrad), _Tutorial.make(torch)
    with torch.no_grad():
        for (_, p), (_, q) in zip(
            nd_model.named_parameters(), t_model.named_parameters(), strict=True
        ):
            q.copy_(torch.tensor(p.detach().numpy()))
    results = []
    for lib, model in ((ndgrad, nd_model), (torch, t_model)):
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}

        def compute_loss(params, buffers, sample, target, lib=lib, model=model):
            from_func = lib.func
            batch = sample.unsqueeze(0)
            targets = target.unsqueeze(0)
            predictions = from_func.functional_call(model, (params, buffers), (batch,))
            return lib.nn.functional.nll_loss(predictions, targets)

        per_sample = lib.func.vmap(lib.func.grad(compute_loss), in_dims=(None, None, 0, 0))(
            params, buffers, lib.tensor(data), lib.tensor(targets)
        )
        results.append(per_sample)
        # the per-sample gradients are the gradients of each sample's loss
        loss = compute_loss(params | {}, buffers, lib.tensor(data[2]), lib.tensor(targets[2]))
        assert loss.requires_grad is False
    for name, ref in results[1].items():
        assert tuple(results[0][name].shape) == tuple(ref.shape) == (6, *ref.shape[1:])
        assert_close(results[0][name], ref, atol=2e-5, rtol=1e-4)


def test_functional_call_stateless_and_stack_module_state():
    for lib in LIBS:
        model = lib.nn.Linear(3, 2)
        x = lib.ones(1, 3)
        w = lib.zeros(2, 3)
        out = lib.func.functional_call(model, {"weight": w}, (x,))
        np.testing.assert_allclose(out.detach().numpy(), model.bias.detach().numpy()[None])
        assert model.weight is not w  # restored
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.utils.stateless.functional_call(model, {"weight": w}, x)
        assert caught[0].category is FutureWarning
        assert "torch.func.functional_call" in str(caught[0].message)
        with pytest.raises(RuntimeError, match="Error\\(s\\) in reparametrizing for Linear"):
            lib.func.functional_call(model, {"weight": w, "extra": w}, (x,), strict=True)
        with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
            lib.func.functional_call(model, ({"weight": w}, {"weight": w}), (x,))
        # tied weights follow the given one
        seq = lib.nn.Sequential(lib.nn.Linear(3, 3, bias=False), lib.nn.Linear(3, 3, bias=False))
        seq[1].weight = seq[0].weight
        out = lib.func.functional_call(seq, {"0.weight": lib.eye(3)}, (x,))
        np.testing.assert_allclose(out.detach().numpy(), x.numpy())
        # ensembling
        models = [lib.nn.Linear(3, 2) for _ in range(4)]
        params, buffers = lib.func.stack_module_state(models)
        assert params["weight"].shape == (4, 2, 3) and params["weight"].requires_grad
        out = lib.func.vmap(
            lambda p, b, d, lib=lib, m=models[0]: lib.func.functional_call(m, (p, b), (d,)),
            (0, 0, None),
        )(params, buffers, lib.ones(5, 3))
        expected = np.stack([m(lib.ones(5, 3)).detach().numpy() for m in models])
        np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda f, x: f.grad(lambda x: x * 2)(x),
            RuntimeError,
            "Expected f\\(\\*args\\) to return a scalar Tensor, got tensor with 1 dims",
        ),
        (
            lambda f, x: f.grad(lambda x: 3.0)(x),
            RuntimeError,
            "Expected f\\(\\*args\\) to return a Tensor, got <class 'float'>",
        ),
        (
            lambda f, x: f.grad(lambda x: x.sum(), has_aux=True)(x),
            RuntimeError,
            "output of function f should be a tuple: \\(output, aux\\)",
        ),
        (
            lambda f, x: f.grad(lambda x: x.sum(), argnums=2)(x),
            RuntimeError,
            "Got argnum=2, but only 1 positional inputs",
        ),
        (
            lambda f, x: f.grad(lambda x: x.sum(), argnums=[0])(x),
            RuntimeError,
            "argnums must be int or Tuple\\[int, ...\\], got: <class 'list'>",
        ),
        (
            lambda f, x: f.grad(lambda x, y: x.sum(), argnums=(0, 0))(x, x),
            RuntimeError,
            "argnums elements must be unique",
        ),
        (
            lambda f, x: f.grad(lambda x, y: x.sum(), argnums=1)(x, 2.0),
            ValueError,
            "Thing passed to transform API must be Tensor",
        ),
        (lambda f, x: f.vmap(lambda x: x)(x, x), TypeError, ""),
        (
            lambda f, x: f.vmap(lambda x: x, in_dims=2)(x),
            ValueError,
            "Got in_dim=2 for some input, but that input is a Tensor of dimensionality 1 so "
            "expected in_dim to satisfy -1 <= in_dim < 1.",
        ),
        (
            lambda f, x: f.vmap(lambda x, y: x, in_dims=(0, 0))(x, 1.0),
            ValueError,
            "We cannot vmap over non-Tensor arguments, please use None as the respective in_dim",
        ),
        (
            lambda f, x: f.vmap(lambda x, y: x)(x, x[:2]),
            ValueError,
            "vmap: Expected all tensors to have the same size in the mapped dimension, got sizes \\[4, 2\\]",
        ),
        (
            lambda f, x: f.vmap(lambda x: x, in_dims=(None,))(x),
            ValueError,
            "vmap: Expected at least one Tensor to vmap over",
        ),
        (
            lambda f, x: f.vmap(lambda x: x, in_dims=None)(x),
            ValueError,
            "expected `in_dims` to be int or a",
        ),
        (
            lambda f, x: f.vmap(lambda x: x, in_dims=(0, 0))(x),
            ValueError,
            "in_dims is not compatible with the structure of `inputs`",
        ),
        (
            lambda f, x: f.vmap(lambda x: x, in_dims="a")(x),
            ValueError,
            "expected `in_dims` to be int or a \\(potentially nested\\) tuple",
        ),
        (lambda f, x: f.vmap(lambda x: x)(), ValueError, "got no inputs"),
        (
            lambda f, x: f.vmap(lambda x: 3.0)(x),
            ValueError,
            "must only return Tensors, got type <class 'float'>",
        ),
        (
            lambda f, x: f.vmap(lambda x: x, out_dims=(0, 0))(x),
            ValueError,
            "out_dims is not compatible with the structure of `outputs`",
        ),
        (
            lambda f, x: f.vmap(lambda x: x, randomness="x")(x),
            RuntimeError,
            "Only allowed values for randomness are 'error', 'different', or 'same'. Got x",
        ),
        (
            lambda f, x: f.vmap(lambda x: x, chunk_size=0)(x),
            ValueError,
            "vmap: chunk_size should be None or greater than 0. \\(got 0\\)",
        ),
        (lambda f, x: f.jvp(lambda x: x, x, x), RuntimeError, "Expected primals to be a tuple"),
        (
            lambda f, x: f.jvp(lambda x: x, (x,), (x[:2],)),
            RuntimeError,
            "Trying to set a forward gradient that has a different size",
        ),
        (
            lambda f, x: f.vjp(lambda x: x, x)[1]((x, x)),
            RuntimeError,
            "Expected pytree structure of cotangents to be the same",
        ),
        (
            lambda f, x: f.jacrev(lambda x: x, chunk_size=0),
            ValueError,
            "jacrev: `chunk_size` should be greater than 0.",
        ),
    ],
)
def test_errors_as_torch(call, error, message):
    for lib in LIBS:
        with pytest.raises(error, match=message):
            call(lib.func, lib.tensor(X))
