"""torch.autograd.functional's API on ndgrad: same values, return structure and errors as torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ndgrad
from ndgrad.autograd import functional as F
from strategies import floats

TF = torch.autograd.functional


def _pair(arr: np.ndarray, requires_grad: bool = False):
    return (
        ndgrad.tensor(arr, requires_grad=requires_grad),
        torch.tensor(arr, requires_grad=requires_grad),
    )


def _assert_same(ours, theirs, atol: float = 1e-10) -> None:
    """Same nesting (tensor / tuple / tuple of tuples), same shapes, same values."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs, strict=True):
            _assert_same(o, t, atol)
        return
    assert isinstance(ours, ndgrad.Tensor)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(
        ours.detach().numpy(), theirs.detach().numpy(), atol=atol, rtol=1e-10
    )


def exp_reducer(lib):
    return lambda x: x.exp().sum(dim=1)


def test_seed_gradient_of_2xTx_is_4x():
    x = ndgrad.arange(4.0)
    jac = F.jacobian(lambda v: 2 * v @ v, x)
    assert jac.tolist() == [0.0, 4.0, 8.0, 12.0]
    assert F.jacobian(lambda v: v.sum(), x).tolist() == [1.0, 1.0, 1.0, 1.0]


@settings(max_examples=10)
@given(a=floats((3, 4)), x=floats((4,)))
def test_jacobian_of_Ax_is_A(a, x):
    A = ndgrad.tensor(a)
    jac = F.jacobian(lambda v: A @ v, ndgrad.tensor(x))
    np.testing.assert_allclose(jac.numpy(), a, atol=1e-12)


@settings(max_examples=10)
@given(a=floats((3, 3)), x=floats((3,)))
def test_hessian_of_xTAx_is_A_plus_AT(a, x):
    A = ndgrad.tensor(a)
    hes = F.hessian(lambda v: v @ A @ v, ndgrad.tensor(x))
    np.testing.assert_allclose(hes.numpy(), a + a.T, atol=1e-12)
    _assert_same(hes, TF.hessian(lambda v: v @ torch.tensor(a) @ v, torch.tensor(x)))


FUNCS = {
    "exp_reducer": lambda lib: lambda x: x.exp().sum(dim=1),
    "tanh_mm": lambda lib: lambda x: (x @ x.T).tanh(),
    "pow_sum": lambda lib: lambda x: (x**3).sum(),
    "softmax": lambda lib: lambda x: lib.softmax(x, dim=-1),
}


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("create_graph", [False, True])
@settings(max_examples=4)
@given(x=floats((2, 3)))
def test_jacobian_vjp_jvp_match_torch(name, create_graph, x):
    ours_x, torch_x = _pair(x)
    f_ours, f_torch = FUNCS[name](ndgrad), FUNCS[name](torch)
    _assert_same(
        F.jacobian(f_ours, ours_x, create_graph=create_graph),
        TF.jacobian(f_torch, torch_x, create_graph=create_graph),
    )
    _assert_same(
        F.jacobian(f_ours, ours_x, vectorize=True), TF.jacobian(f_torch, torch_x, vectorize=True)
    )
    out_shape = tuple(f_torch(torch_x).shape)
    v = np.linspace(-1, 1, int(np.prod(out_shape))).reshape(out_shape)
    _assert_same(
        F.vjp(f_ours, ours_x, ndgrad.tensor(v), create_graph=create_graph),
        TF.vjp(f_torch, torch_x, torch.tensor(v), create_graph=create_graph),
    )
    u = np.linspace(-1, 1, x.size).reshape(x.shape)
    _assert_same(
        F.jvp(f_ours, ours_x, ndgrad.tensor(u), create_graph=create_graph),
        TF.jvp(f_torch, torch_x, torch.tensor(u), create_graph=create_graph),
    )


@pytest.mark.parametrize("create_graph", [False, True])
@settings(max_examples=5)
@given(x=floats((3,)), y=floats((3,)), v=floats((3,)), w=floats((3,)))
def test_hessian_hvp_vhp_tuple_inputs_match_torch(create_graph, x, y, v, w):
    def f(lib):
        return lambda a, b: (a.exp() * b).sum() + (a * b * b).sum()

    ours = (ndgrad.tensor(x), ndgrad.tensor(y))
    theirs = (torch.tensor(x), torch.tensor(y))
    ov, tv = (ndgrad.tensor(v), ndgrad.tensor(w)), (torch.tensor(v), torch.tensor(w))
    _assert_same(
        F.hessian(f(ndgrad), ours, create_graph=create_graph),
        TF.hessian(f(torch), theirs, create_graph=create_graph),
    )
    _assert_same(
        F.hvp(f(ndgrad), ours, ov, create_graph=create_graph),
        TF.hvp(f(torch), theirs, tv, create_graph=create_graph),
    )
    _assert_same(
        F.vhp(f(ndgrad), ours, ov, create_graph=create_graph),
        TF.vhp(f(torch), theirs, tv, create_graph=create_graph),
    )
    _assert_same(F.jacobian(f(ndgrad), ours), TF.jacobian(f(torch), theirs))


def test_tuple_outputs_and_inputs_nest_like_torch():
    x, y = np.arange(3.0), np.arange(2.0) + 1

    def f(lib):
        return lambda a, b: (a * 2, lib.outer(a, b), b.sum())

    ours = F.jacobian(f(ndgrad), (ndgrad.tensor(x), ndgrad.tensor(y)))
    theirs = TF.jacobian(f(torch), (torch.tensor(x), torch.tensor(y)))
    _assert_same(ours, theirs)
    # A single input with tuple outputs: a tuple of tensors.
    _assert_same(
        F.jacobian(lambda a: (a, a * a), ndgrad.tensor(x)),
        TF.jacobian(lambda a: (a, a * a), torch.tensor(x)),
    )


def test_create_graph_results_are_differentiable():
    x = ndgrad.tensor([0.5, -1.0, 2.0], requires_grad=True)
    tx = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    jac = F.jacobian(lambda v: v**3, x, create_graph=True)
    tjac = TF.jacobian(lambda v: v**3, tx, create_graph=True)
    assert jac.requires_grad and tjac.requires_grad
    (g,) = ndgrad.autograd.grad(jac.sum(), x)
    (tg,) = torch.autograd.grad(tjac.sum(), tx)
    np.testing.assert_allclose(g.numpy(), tg.numpy())
    assert not F.jacobian(lambda v: v**3, x).requires_grad


def test_strict_raises_like_torch_when_output_ignores_input():
    def f(lib):
        return lambda a, b: a * 2

    args = (ndgrad.ones(2), ndgrad.ones(2))
    targs = (torch.ones(2), torch.ones(2))
    for fn, targ_fn in [(F.jacobian, TF.jacobian), (F.vjp, TF.vjp)]:
        kwargs = {"v": ndgrad.ones(2)} if fn is F.vjp else {}
        tkwargs = {"v": torch.ones(2)} if fn is F.vjp else {}
        with pytest.raises(RuntimeError) as ours:
            fn(f(ndgrad), args, strict=True, **kwargs)
        with pytest.raises(RuntimeError) as theirs:
            targ_fn(f(torch), targs, strict=True, **tkwargs)
        assert str(ours.value) == str(theirs.value)
    # Without strict: zeros for the unused input.
    _assert_same(F.jacobian(f(ndgrad), args), TF.jacobian(f(torch), targs))
    # A constant output (does not require grad).
    with pytest.raises(RuntimeError, match="does not require gradients"):
        F.jacobian(lambda a: ndgrad.ones(2), ndgrad.ones(2), strict=True)
    with pytest.raises(RuntimeError, match="independent of the input"):
        F.hessian(lambda a: (a * 2).sum(), ndgrad.ones(2), strict=True)
    with pytest.raises(RuntimeError, match="not supported together"):
        F.jacobian(lambda a: a, ndgrad.ones(2), strict=True, vectorize=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, fn: fn.vjp(lambda a: a * 2, lib.ones(3)),  # v needed for non-scalar output
        lambda lib, fn: fn.jvp(lambda a: a * 2, lib.ones(3)),
        lambda lib, fn: fn.vjp(lambda a: a * 2, lib.ones(3), lib.ones(2)),
        lambda lib, fn: fn.hvp(lambda a: a * 2, lib.ones(3), lib.ones(3)),
        lambda lib, fn: fn.vhp(lambda a: (a, a), lib.ones(3), lib.ones(3)),
        lambda lib, fn: fn.jacobian(lambda a: a, [lib.ones(3)]),
        lambda lib, fn: fn.jacobian(lambda a: a, (lib.ones(3), 2.0)),
        lambda lib, fn: fn.hessian(lambda a: a * 2, lib.ones(3)),
    ],
)
def test_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch, TF)
    with pytest.raises(type(theirs.value)) as ours:
        call(ndgrad, F)
    assert str(ours.value).replace("ndgrad", "torch") == str(theirs.value)


def test_scalar_input_without_v():
    out, res = F.jvp(lambda a: a**2, ndgrad.tensor(3.0, dtype=ndgrad.float64))
    tout, tres = TF.jvp(lambda a: a**2, torch.tensor(3.0, dtype=torch.float64))
    _assert_same((out, res), (tout, tres))
    _assert_same(
        F.vjp(lambda a: (a**2).sum(), ndgrad.tensor([1.0, 2.0], dtype=ndgrad.float64)),
        TF.vjp(lambda a: (a**2).sum(), torch.tensor([1.0, 2.0], dtype=torch.float64)),
    )


@settings(max_examples=5)
@given(x=floats((2, 2)), data=st.data())
def test_hvp_equals_hessian_times_v(x, data):
    v = data.draw(floats((2, 2)))
    f = lambda a: (a.sin() * a).sum()  # noqa: E731
    H = F.hessian(f, ndgrad.tensor(x)).numpy().reshape(4, 4)
    _, hv = F.hvp(f, ndgrad.tensor(x), ndgrad.tensor(v))
    np.testing.assert_allclose(hv.numpy().reshape(-1), H @ v.reshape(-1), atol=1e-10)
