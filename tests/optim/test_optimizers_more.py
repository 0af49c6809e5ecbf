"""Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop and LBFGS against torch 2.13:
parameters and every state tensor after each step, state_dict round trips, groups, errors."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import optim

RNG = np.random.default_rng(7)
A = RNG.standard_normal((8, 5))
B = RNG.standard_normal(8)
W0 = RNG.standard_normal(5) * 2
C0 = RNG.standard_normal(3) * 2
STEPS = 20
# float64: the same operations in the same order, so only an ulp or two; float32: torch's
# vectorised kernels (FMA) round differently by an ulp, and those differences stay small.
TOL = {np.float64: {"rtol": 1e-12, "atol": 1e-13}, np.float32: {"rtol": 2e-5, "atol": 2e-6}}


def _loss(lib, w, c, sign=1.0):
    a, b = lib.tensor(A).to(w.dtype), lib.tensor(B).to(w.dtype)
    return sign * (((a @ w - b) ** 2).mean() + ((c - 1) ** 4).sum() * 0.1)


def _params(lib, dtype):
    return (
        lib.tensor(W0.astype(dtype), requires_grad=True),
        lib.tensor(C0.astype(dtype), requires_grad=True),
    )


def _as_array(value):
    if hasattr(value, "numpy"):
        return value.detach().numpy().copy()
    if isinstance(value, list):  # LBFGS's history
        return [_as_array(v) for v in value]
    return value


def _assert_state_value(ours, ref, tol, msg):
    if isinstance(ref, np.ndarray):
        assert ours.dtype == ref.dtype, msg
        np.testing.assert_allclose(ours, ref, **tol, err_msg=msg)
    elif isinstance(ref, list):
        assert len(ours) == len(ref), msg
        for a, b in zip(ours, ref, strict=True):
            _assert_state_value(a, b, tol, msg)
    elif isinstance(ref, float):  # LBFGS's prev_loss
        assert ours == pytest.approx(ref, rel=tol["rtol"]), msg
    else:
        assert ours == ref, msg


def _snapshot(opt, w, c):
    """The parameters and every state entry (tensors as arrays) after a step."""
    state = {}
    for index, entries in opt.state_dict()["state"].items():
        for key, value in entries.items():
            state[index, key] = _as_array(value)
    return np.concatenate([w.detach().numpy(), c.detach().numpy()]), state


def _one_step(lib, opt, w, c, sign=1.0):
    if isinstance(opt, lib.optim.LBFGS):

        def closure():
            opt.zero_grad()
            loss = _loss(lib, w, c, sign)
            loss.backward()
            return loss

        return opt.step(closure)
    opt.zero_grad()
    _loss(lib, w, c, sign).backward()
    return opt.step()


def _run(lib, name, kwargs, dtype, steps=STEPS, sign=1.0, groups=None):
    w, c = _params(lib, dtype)
    params = [w, c] if groups is None else [dict(g, params=[p]) for g, p in zip(groups, (w, c))]
    opt = getattr(lib.optim, name)(params, **kwargs)
    out = []
    for _ in range(steps):
        _one_step(lib, opt, w, c, sign)
        out.append(_snapshot(opt, w, c))
    return out, opt, (w, c)


def _assert_same(ours, ref, dtype, tol=None):
    tol = tol or TOL[dtype]
    for step, ((p, state), (tp, tstate)) in enumerate(zip(ours, ref, strict=True)):
        np.testing.assert_allclose(p, tp, **tol, err_msg=f"parameters, step {step + 1}")
        assert list(state) == list(tstate), f"state keys, step {step + 1}"
        for key, value in tstate.items():
            _assert_state_value(state[key], value, tol, f"{key}, step {step + 1}")


CONFIGS = [
    ("Adagrad", {}),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
    ),
    ("Adagrad", {"lr": 0.05, "eps": 1e-3}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "centered": True}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "eps": 1e-4}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5, "weight_decay": 0.1, "eps": 1e-4}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.05, "betas": (0.5, 0.9), "weight_decay": 0.1}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.05, "momentum_decay": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}),  # rho_t <= 5 in the first steps, rectified after
    ("RAdam", {"lr": 0.05, "betas": (0.8, 0.9), "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.7), "step_sizes": (1e-3, 0.2)}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=str)
def test_every_step_matches_torch(name, kwargs, dtype):
    ours, opt, (w, _) = _run(ndgrad, name, kwargs, dtype)
    ref, _, _ = _run(torch, name, kwargs, dtype)
    _assert_same(ours, ref, dtype)
    assert w.dtype == getattr(ndgrad, np.dtype(dtype).name)
    assert np.abs(ours[-1][0] - np.concatenate([W0, C0])).max() > 0.02  # it really moved


@pytest.mark.parametrize(
    "name", ["Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]
)
def test_maximize_matches_torch(name):
    kwargs = {"lr": 0.01, "maximize": True}
    ours, _, _ = _run(ndgrad, name, kwargs, np.float64, steps=10, sign=-1.0)
    ref, _, _ = _run(torch, name, kwargs, np.float64, steps=10, sign=-1.0)
    _assert_same(ours, ref, np.float64)
    plain, _, _ = _run(ndgrad, name, {"lr": 0.01}, np.float64, steps=10)
    np.testing.assert_allclose(ours[-1][0], plain[-1][0], rtol=1e-12)  # ascent on -f = descent


def _round_trip(lib, name, kwargs, dtype):
    """Five steps, state_dict() saved, a fresh optimizer on fresh tensors loads it, five more."""
    first, opt, _ = _run(lib, name, kwargs, dtype, steps=5)
    saved = copy.deepcopy(opt.state_dict())
    w, c = _params(lib, dtype)
    with lib.no_grad():
        w.copy_(lib.tensor(first[-1][0][:5]))
        c.copy_(lib.tensor(first[-1][0][5:]))
    fresh = getattr(lib.optim, name)([w, c], **kwargs)
    fresh.load_state_dict(saved)
    rest = []
    for _ in range(5):
        _one_step(lib, fresh, w, c)
        rest.append(_snapshot(fresh, w, c))
    return first + rest, saved


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [c for c in CONFIGS if c[1]] + [("LBFGS", {"history_size": 3, "max_iter": 3})],
    ids=str,
)
def test_state_dict_round_trip_continues_like_torch(name, kwargs):
    dtype = np.float64
    ours, saved = _round_trip(ndgrad, name, kwargs, dtype)
    ref, tsaved = _round_trip(torch, name, kwargs, dtype)
    # torch's layout: the group options and each parameter's state keys
    assert saved["param_groups"] == tsaved["param_groups"]
    assert {k: list(v) for k, v in saved["state"].items()} == {
        k: list(v) for k, v in tsaved["state"].items()
    }
    # (loading casts floating state such as NAdam's mu_product to the parameters' dtype,
    # all but ``step``, in both); LBFGS's two-loop recursion lets ulps grow a little
    _assert_same(ours, ref, dtype, {"rtol": 1e-10, "atol": 1e-12} if name == "LBFGS" else None)
    uninterrupted, _, _ = _run(ndgrad, name, kwargs, dtype, steps=10)
    np.testing.assert_allclose(ours[-1][0], uninterrupted[-1][0], rtol=1e-9)


@pytest.mark.parametrize(
    ("name", "kwargs", "groups"),
    [
        ("Adagrad", {"lr": 0.1}, [{"lr": 0.02, "lr_decay": 0.1}, {"weight_decay": 0.2}]),
        ("RMSprop", {"lr": 0.01}, [{"centered": True}, {"lr": 0.003, "momentum": 0.8}]),
        ("Adadelta", {}, [{"lr": 0.3}, {"rho": 0.7}]),
        ("Adamax", {"lr": 0.01}, [{"lr": 0.05}, {"betas": (0.7, 0.99)}]),
        (
            "NAdam",
            {"lr": 0.01},
            [{"lr": 0.03}, {"decoupled_weight_decay": True, "weight_decay": 1}],
        ),
        ("RAdam", {"lr": 0.01}, [{"lr": 0.03}, {"betas": (0.5, 0.8)}]),
        ("ASGD", {"lr": 0.01}, [{"lr": 0.03, "t0": 3}, {"alpha": 0.9}]),
        ("Rprop", {"lr": 0.01}, [{"lr": 0.03}, {"etas": (0.1, 2.0)}]),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_param_groups_with_their_own_options(name, kwargs, groups):
    ours, opt, _ = _run(ndgrad, name, kwargs, np.float64, steps=10, groups=groups)
    ref, topt, _ = _run(torch, name, kwargs, np.float64, steps=10, groups=groups)
    _assert_same(ours, ref, np.float64)
    for g, tg in zip(opt.param_groups, topt.param_groups, strict=True):
        assert {k: v for k, v in g.items() if k != "params"} == {
            k: v for k, v in tg.items() if k != "params"
        }


def _rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lr": 0.5, "max_iter": 4, "history_size": 2},
        {"line_search_fn": "strong_wolfe"},
        {"line_search_fn": "strong_wolfe", "max_iter": 3, "history_size": 4, "max_eval": 6},
    ],
    ids=str,
)
def test_lbfgs_on_rosenbrock_matches_torch(kwargs):
    def run(lib, dtype, steps):
        x = lib.tensor(np.array([-1.5, 2.0], dtype=dtype), requires_grad=True)
        opt = lib.optim.LBFGS([x], **kwargs)
        out = []
        for _ in range(steps):

            def closure():
                opt.zero_grad()
                loss = _rosenbrock(x)
                loss.backward()
                return loss

            loss = opt.step(closure)
            state = opt.state[x]
            out.append(
                (x.detach().numpy().copy(), loss.item(), state["func_evals"], state["n_iter"])
            )
        return out

    # Rosenbrock's curved valley amplifies ulp differences in the gradient (1e-16 after four
    # iterations, 1e-13 after twenty): a few outer steps, loosely.
    for dtype, steps, tol in ((np.float32, 1, 1e-4), (np.float64, 3, 1e-6)):
        ours, ref = run(ndgrad, dtype, steps), run(torch, dtype, steps)
        for (x, loss, evals, iters), (tx, tloss, tevals, titers) in zip(ours, ref, strict=True):
            np.testing.assert_allclose(x, tx, rtol=tol, atol=tol)
            assert loss == pytest.approx(tloss, rel=tol)
            assert (evals, iters) == (tevals, titers)
    assert np.abs(ours[-1][0] - [-1.5, 2.0]).max() > 0.05


def test_lbfgs_stops_at_tolerance_and_keeps_one_group():
    x = ndgrad.tensor([1.0, 1.0], requires_grad=True)  # the minimum: gradient zero
    opt = optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}
    y = ndgrad.tensor([1.0], requires_grad=True)
    for lib, a, b in ((ndgrad, x, y), (torch, torch.ones(2), torch.ones(1))):
        a, b = a.detach().requires_grad_(), b.detach().requires_grad_()
        with pytest.raises(ValueError, match="doesn't support per-parameter options"):
            lib.optim.LBFGS([{"params": [a]}, {"params": [b]}])
    z = ndgrad.tensor([0.5, 0.5], requires_grad=True)
    bad = optim.LBFGS([z], line_search_fn="armijo")

    def closure_z():
        bad.zero_grad()
        loss = _rosenbrock(z)
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad.step(closure_z)


def test_adagrad_creates_state_at_construction_like_torch():
    w, c = _params(ndgrad, np.float32)
    tw, tc = _params(torch, np.float32)
    opt = optim.Adagrad([w, c], initial_accumulator_value=0.3)
    topt = torch.optim.Adagrad([tw, tc], initial_accumulator_value=0.3)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd["state"]) == list(tsd["state"]) == [0, 1]
    assert sd["state"][0]["step"].dtype == ndgrad.float32
    np.testing.assert_array_equal(sd["state"][1]["sum"].numpy(), tsd["state"][1]["sum"].numpy())


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop", "NAdam", "ASGD", "Rprop", "LBFGS"])
def test_repr_matches_torch(name):
    w, _ = _params(ndgrad, np.float32)
    tw, _ = _params(torch, np.float32)
    assert repr(getattr(optim, name)([w])) == repr(getattr(torch.optim, name)([tw]))


BAD = [
    ("Adagrad", {"lr": -1}),
    ("Adagrad", {"lr_decay": -0.1}),
    ("Adagrad", {"weight_decay": -0.1}),
    ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adagrad", {"eps": -1e-3}),
    ("Adagrad", {"fused": True, "differentiable": True}),
    ("RMSprop", {"lr": -0.5}),
    ("RMSprop", {"eps": -1.0}),
    ("RMSprop", {"momentum": -0.9}),
    ("RMSprop", {"weight_decay": -1}),
    ("RMSprop", {"alpha": -0.99}),
    ("Adadelta", {"lr": -1.0}),
    ("Adadelta", {"rho": 1.5}),
    ("Adadelta", {"eps": -1.0}),
    ("Adadelta", {"weight_decay": -1.0}),
    ("Adamax", {"lr": -1.0}),
    ("Adamax", {"betas": (1.0, 0.9)}),
    ("Adamax", {"betas": (0.9, -0.1)}),
    ("Adamax", {"eps": -1.0}),
    ("NAdam", {"momentum_decay": -1.0}),
    ("NAdam", {"betas": (0.9, 1.0)}),
    ("RAdam", {"weight_decay": -1.0}),
    ("RAdam", {"lr": -0.1}),
    ("ASGD", {"lr": -0.1}),
    ("ASGD", {"weight_decay": -0.1}),
    ("Rprop", {"etas": (1.2, 0.5)}),
    ("Rprop", {"etas": (0.0, 1.2)}),
    ("Rprop", {"lr": -0.01}),
    ("LBFGS", {"lr": -1}),
]


@pytest.mark.parametrize(("name", "kwargs"), BAD, ids=str)
def test_bad_arguments_raise_like_torch(name, kwargs):
    w, _ = _params(ndgrad, np.float32)
    tw, _ = _params(torch, np.float32)
    with pytest.raises(Exception) as ref:
        getattr(torch.optim, name)([tw], **kwargs)
    with pytest.raises(type(ref.value)) as ours:
        getattr(optim, name)([w], **kwargs)
    assert str(ours.value) == str(ref.value)


@pytest.mark.parametrize("name", ["Adagrad", "RMSprop", "Adamax", "Rprop"])
def test_tensor_lr_must_have_one_element(name):
    w, _ = _params(ndgrad, np.float32)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        getattr(optim, name)([w], lr=ndgrad.tensor([0.1, 0.2]))


def test_new_names_are_exported():
    for name in ("Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD"):
        assert name in optim.__all__ and issubclass(getattr(optim, name), optim.Optimizer)
    assert "Rprop" in optim.__all__ and "LBFGS" in optim.__all__


def test_lbfgs_step_is_silent_like_torch():
    # it converts the closure's loss with float() under no_grad, where PyTorch does not warn
    x = ndgrad.tensor([0.5, 0.5], requires_grad=True)
    opt = optim.LBFGS([x], max_iter=3, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step(closure)
    with pytest.warns(UserWarning, match="Converting a tensor with requires_grad=True"):
        float(x.sum())  # with grad enabled it still warns


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("Adagrad", {"lr_decay": 0.1}),
        ("RMSprop", {"centered": True, "momentum": 0.5}),
        ("Adadelta", {}),
        ("Adamax", {}),
        ("NAdam", {"weight_decay": 0.1}),
        ("RAdam", {}),  # the rectification switches on at step 6: a guard, traced again
        ("ASGD", {"t0": 3}),  # averaging starts after t0: likewise
        ("Rprop", {}),
    ],
    ids=str,
)
def test_compiled_step_is_one_graph_and_bit_identical(name, kwargs):
    # the per-step scalars (bias corrections, eta, mu) are replayed, not frozen constants
    def run(compiled):
        w, c = _params(ndgrad, np.float32)
        opt = getattr(optim, name)([w, c], lr=0.05, **kwargs)

        def step():
            opt.zero_grad()
            loss = _loss(ndgrad, w, c)
            loss.backward()
            opt.step()
            return loss

        fn = ndgrad.compile(step, fullgraph=True) if compiled else step
        for _ in range(10):
            fn()
        return _snapshot(opt, w, c)

    (p, state), (cp, cstate) = run(False), run(True)
    np.testing.assert_array_equal(cp, p)
    for key, value in state.items():
        np.testing.assert_array_equal(cstate[key], value)
