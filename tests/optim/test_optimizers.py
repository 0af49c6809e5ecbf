"""SGD, Adam and AdamW against torch 2.13: 100-step trajectories, state, state_dict, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import ndgrad
from ndgrad import optim

RNG = np.random.default_rng(1234)
A = RNG.standard_normal((8, 5)).astype(np.float32)
B = RNG.standard_normal(8).astype(np.float32)
W0 = (RNG.standard_normal(5) * 3).astype(np.float32)
C0 = (RNG.standard_normal(3) * 3).astype(np.float32)
STEPS = 100
# float32 end to end: per-step rounding differs from torch's kernels (FMA, vector order) by an
# ulp or so; on this convex problem those differences do not grow.
ATOL = 5e-6


def _loss(lib, w, c, sign: float = 1.0):
    a, b = lib.tensor(A).to(w.dtype), lib.tensor(B).to(w.dtype)
    return sign * (((a @ w - b) ** 2).mean() + ((c - 1) ** 4).sum() * 0.1)


def _trajectory(lib, name, kwargs, groups=None, sign=1.0, steps=STEPS, dtype=np.float32):
    w = lib.tensor(W0.astype(dtype), requires_grad=True)
    c = lib.tensor(C0.astype(dtype), requires_grad=True)
    params = (
        [w, c] if groups is None else [dict(g, params=[[w, c][i]]) for i, g in enumerate(groups)]
    )
    opt = getattr(lib.optim, name)(params, **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        _loss(lib, w, c, sign).backward()
        opt.step()
        out.append(np.concatenate([w.detach().numpy().copy(), c.detach().numpy().copy()]))
    return np.array(out), opt, (w, c)


CONFIGS = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.2}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9)}),  # lerp weight >= 0.5: the other formula
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05, "eps": 1e-6}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=lambda v: str(v))
def test_trajectory_matches_torch(name, kwargs):
    ours, opt, _ = _trajectory(ndgrad, name, kwargs)
    ref, _, _ = _trajectory(torch, name, kwargs)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=0, atol=ATOL)
    assert np.abs(ours[-1] - np.concatenate([W0, C0])).max() > 0.05  # it really moved


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_maximize_matches_torch_and_ascends(name):
    kwargs = {"lr": 0.01, "maximize": True}
    if name == "SGD":
        kwargs["momentum"] = 0.9
    ours, _, (w, c) = _trajectory(ndgrad, name, kwargs, sign=-1.0)
    ref, _, _ = _trajectory(torch, name, kwargs, sign=-1.0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=ATOL)
    # maximising -loss lowers the loss
    start = _loss(ndgrad, ndgrad.tensor(W0), ndgrad.tensor(C0)).item()
    assert _loss(ndgrad, w.detach(), c.detach()).item() < start


@pytest.mark.parametrize(
    ("name", "kwargs", "groups"),
    [
        ("SGD", {"lr": 0.05}, [{"lr": 0.01, "momentum": 0.9}, {"weight_decay": 0.1}]),
        ("Adam", {"lr": 0.01}, [{"lr": 0.02, "amsgrad": True}, {"betas": (0.8, 0.99)}]),
        ("AdamW", {}, [{"lr": 0.02, "weight_decay": 0.5}, {"lr": 0.005}]),
    ],
)
def test_param_groups_match_torch(name, kwargs, groups):
    ours, opt, _ = _trajectory(ndgrad, name, kwargs, groups=groups)
    ref, topt, _ = _trajectory(torch, name, kwargs, groups=groups)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=ATOL)
    for g, tg in zip(opt.param_groups, topt.param_groups, strict=True):
        assert {k: v for k, v in g.items() if k != "params"} == {
            k: v for k, v in tg.items() if k != "params"
        }


def test_float64_parameters_stay_float64_and_match():
    ours, opt, (w, _) = _trajectory(ndgrad, "Adam", {"lr": 0.01}, dtype=np.float64)
    ref, _, _ = _trajectory(torch, "Adam", {"lr": 0.01}, dtype=np.float64)
    assert w.dtype == ndgrad.float64 and opt.state[w]["exp_avg"].dtype == ndgrad.float64
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_state_is_float32_and_step_is_a_tensor():
    _, opt, (w, c) = _trajectory(ndgrad, "Adam", {"amsgrad": True}, steps=3)
    _, topt, (tw, _) = _trajectory(torch, "Adam", {"amsgrad": True}, steps=3)
    state, tstate = opt.state[w], topt.state[tw]
    assert list(state) == list(tstate) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    assert isinstance(state["step"], ndgrad.Tensor) and state["step"].dim() == 0
    assert state["step"].dtype == ndgrad.float32 and state["step"].item() == 3.0
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        assert state[key].dtype == ndgrad.float32
        np.testing.assert_allclose(state[key].numpy(), tstate[key].numpy(), rtol=1e-5, atol=1e-7)
    assert w.dtype == ndgrad.float32 and w.grad.dtype == ndgrad.float32


def test_sgd_momentum_buffer_starts_as_first_gradient():
    p = ndgrad.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    (p * ndgrad.tensor([3.0, 4.0])).sum().backward()
    opt.step()
    buf = opt.state[p]["momentum_buffer"]
    np.testing.assert_array_equal(buf.numpy(), [3.0, 4.0])  # a clone, no dampening applied
    assert buf is not p.grad
    np.testing.assert_allclose(p.detach().numpy(), [0.7, -2.4], rtol=1e-6)
    opt.step()  # same grad: b = 0.9 b + 0.5 g
    np.testing.assert_allclose(buf.numpy(), [4.2, 5.6], rtol=1e-6)


def test_sgd_without_momentum_keeps_no_state():
    p = ndgrad.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.sum().backward()
    opt.step()
    assert opt.state_dict()["state"] == {}


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_parameters_without_grad_are_skipped(name):
    used = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    unused = ndgrad.tensor([5.0], requires_grad=True)
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1}
    opt = getattr(optim, name)([used, unused], weight_decay=0.1, **kwargs)
    (used**2).sum().backward()
    opt.step()
    assert unused.grad is None and unused.item() == 5.0 and unused not in opt.state
    assert not np.array_equal(used.detach().numpy(), [1.0, 2.0])


def test_step_returns_closure_loss_and_evaluates_with_grad():
    p = ndgrad.tensor([3.0], requires_grad=True)
    tp = torch.tensor([3.0], requires_grad=True)
    opt, topt = optim.SGD([p], lr=0.1), torch.optim.SGD([tp], lr=0.1)

    def make(lib, x, o):
        def closure():
            o.zero_grad()
            loss = ((x - 1) ** 2).sum()
            loss.backward()
            return loss

        return closure

    with ndgrad.no_grad():  # the closure still records: step enables grad for it
        loss = opt.step(make(ndgrad, p, opt))
    tloss = topt.step(make(torch, tp, topt))
    assert loss.item() == tloss.item() == 4.0
    assert p.item() == pytest.approx(tp.item())


def test_zero_grad_none_or_zeros():
    p = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_state_dict_structure_matches_torch():
    _, opt, _ = _trajectory(ndgrad, "SGD", {"lr": 0.05, "momentum": 0.9}, steps=2)
    _, topt, _ = _trajectory(torch, "SGD", {"lr": 0.05, "momentum": 0.9}, steps=2)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert list(sd["state"]) == list(tsd["state"]) == [0, 1]
    for i in (0, 1):
        np.testing.assert_allclose(
            sd["state"][i]["momentum_buffer"].numpy(),
            tsd["state"][i]["momentum_buffer"].numpy(),
            rtol=1e-5,
        )


def test_adam_state_dict_and_repr_match_torch():
    _, opt, _ = _trajectory(ndgrad, "Adam", {"lr": 0.01}, groups=[{}, {"lr": 0.1}], steps=2)
    _, topt, _ = _trajectory(torch, "Adam", {"lr": 0.01}, groups=[{}, {"lr": 0.1}], steps=2)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert {k: list(v) for k, v in sd["state"].items()} == {
        k: list(v) for k, v in tsd["state"].items()
    }
    assert sd["state"][1]["step"].item() == tsd["state"][1]["step"].item() == 2.0
    assert repr(opt) == repr(topt)
    assert repr(optim.SGD([ndgrad.zeros(1, requires_grad=True)], lr=0.1)) == repr(
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    )


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01, "amsgrad": True})],
)
def test_load_state_dict_resumes_exactly(name, kwargs):
    full, _, _ = _trajectory(ndgrad, name, kwargs, steps=40)
    half, opt, _ = _trajectory(ndgrad, name, kwargs, steps=20)
    w = ndgrad.tensor(half[-1][:5], requires_grad=True)
    c = ndgrad.tensor(half[-1][5:], requires_grad=True)
    resumed = getattr(optim, name)([w, c], lr=123.0)  # the loaded groups bring lr back
    resumed.load_state_dict(opt.state_dict())
    assert resumed.param_groups[0]["lr"] == kwargs["lr"]
    assert resumed.param_groups[0]["params"] == [w, c]
    for _ in range(20):
        resumed.zero_grad()
        _loss(ndgrad, w, c).backward()
        resumed.step()
    np.testing.assert_array_equal(
        np.concatenate([w.detach().numpy(), c.detach().numpy()]), full[-1]
    )


def test_load_state_dict_casts_state_to_parameter_dtype():
    p32 = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p32])
    p32.sum().backward()
    opt.step()
    p64 = ndgrad.tensor([1.0, 2.0], dtype=ndgrad.float64, requires_grad=True)
    opt64 = optim.Adam([p64])
    opt64.load_state_dict(opt.state_dict())
    assert opt64.state[p64]["exp_avg"].dtype == ndgrad.float64
    assert opt64.state[p64]["step"].dtype == ndgrad.float32  # the step keeps its own dtype


def test_add_param_group():
    a = ndgrad.tensor([1.0], requires_grad=True)
    b = ndgrad.tensor([1.0], requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.5
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([b])


def test_named_parameters_are_accepted():
    w = ndgrad.tensor([1.0], requires_grad=True)
    opt = optim.SGD([("w", w)], lr=0.1)
    assert opt.param_groups[0]["params"] == [w]
    assert opt.param_groups[0]["param_names"] == ["w"]


# ----------------------------------------------------------------------------- bad input
def _leaf():
    return ndgrad.tensor([1.0], requires_grad=True)


@pytest.mark.parametrize(
    ("make", "exc", "message"),
    [
        (lambda: optim.SGD([], lr=0.1), ValueError, "optimizer got an empty parameter list"),
        (lambda: optim.SGD([_leaf() * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
        (lambda: optim.SGD([_leaf()], lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda: optim.Adam([_leaf()], lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
        (lambda: optim.SGD([_leaf()], momentum=-1), ValueError, "Invalid momentum value: -1"),
        (lambda: optim.SGD([_leaf()], weight_decay=-1), ValueError, "Invalid weight_decay value"),
        (lambda: optim.SGD([_leaf()], nesterov=True), ValueError, "Nesterov momentum requires"),
        (
            lambda: optim.SGD([_leaf()], momentum=0.9, dampening=0.1, nesterov=True),
            ValueError,
            "Nesterov momentum requires a momentum and zero dampening",
        ),
        (
            lambda: optim.Adam([_leaf()], betas=(1.0, 0.9)),
            ValueError,
            "Invalid beta parameter at index 0",
        ),
        (
            lambda: optim.Adam([_leaf()], betas=(0.9, -0.1)),
            ValueError,
            "Invalid beta parameter at index 1",
        ),
        (lambda: optim.Adam([_leaf()], eps=-1.0), ValueError, "Invalid epsilon value: -1.0"),
        (
            lambda: optim.SGD(_leaf(), lr=0.1),
            TypeError,
            "should be an iterable of Tensors or dicts",
        ),
        (lambda: optim.SGD([1.0], lr=0.1), TypeError, "optimizer can only optimize Tensors"),
    ],
)
def test_bad_input_errors(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_bad_input_matches_torch_classes_and_messages():
    def capture(lib):
        out = []
        x = lib.tensor([1.0], requires_grad=True)
        for make in (
            lambda: lib.optim.SGD([], lr=0.1),
            lambda: lib.optim.SGD([x * 2], lr=0.1),
            lambda: lib.optim.SGD([x], lr=-0.1),
            lambda: lib.optim.SGD([x], lr=0.1, nesterov=True),
            lambda: lib.optim.Adam([x], betas=(1.5, 0.9)),
            lambda: lib.optim.SGD([{"params": [x]}, {"params": [x]}], lr=0.1),
        ):
            try:
                make()
                out.append(None)
            except Exception as e:  # noqa: BLE001 - comparing what each library raises
                out.append((type(e), str(e)))
        return out

    assert capture(ndgrad) == capture(torch)


def test_same_parameter_in_two_groups_is_an_error():
    x = _leaf()
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [x]}, {"params": [x], "lr": 0.1}])


def test_duplicate_parameter_in_one_group_warns():
    x = _leaf()
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([x, x], lr=0.1)


def test_load_state_dict_rejects_mismatched_groups():
    a, b = _leaf(), _leaf()
    src = optim.SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(src.state_dict())
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        optim.SGD([a], lr=0.1).load_state_dict(src.state_dict())
    with pytest.raises(KeyError, match="'param_groups'"):
        optim.SGD([a], lr=0.1).load_state_dict({"state": {}})


def test_base_optimizer_step_is_abstract_and_required_defaults():
    from ndgrad.optim.optimizer import required

    class Plain(optim.Optimizer):
        pass

    opt = Plain([_leaf()], {"lr": 0.1})
    with pytest.raises(NotImplementedError):
        opt.step()
    with pytest.raises(
        ValueError, match="didn't specify a value of required optimization parameter lr"
    ):
        Plain([_leaf()], {"lr": required})


# ----------------------------------------------------------------------------- property tests
def _steps_with_given_grads(lib, name, kwargs, p0, grads):
    p = lib.tensor(p0, requires_grad=True)
    opt = getattr(lib.optim, name)([p], **kwargs)
    for g in grads:
        p.grad = lib.tensor(g)
        opt.step()
    return p.detach().numpy().copy()


_shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3)


@given(
    shape=_shapes,
    seed=st.integers(0, 2**16),
    lr=st.floats(1e-3, 0.5),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),
    dampening=st.sampled_from([0.0, 0.3]),
    nesterov=st.booleans(),
    weight_decay=st.sampled_from([0.0, 0.01, 0.5]),
    maximize=st.booleans(),
)
def test_sgd_update_rule_matches_torch(
    shape, seed, lr, momentum, dampening, nesterov, weight_decay, maximize
):
    if nesterov and (momentum == 0 or dampening != 0):
        nesterov = False
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(5)]
    kwargs = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                  weight_decay=weight_decay, maximize=maximize)  # fmt: skip
    ours = _steps_with_given_grads(ndgrad, "SGD", kwargs, p0, grads)
    ref = _steps_with_given_grads(torch, "SGD", kwargs, p0, grads)
    assert ours.dtype == np.float32 and ours.shape == tuple(shape)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


@given(
    shape=_shapes,
    seed=st.integers(0, 2**16),
    name=st.sampled_from(["Adam", "AdamW"]),
    lr=st.floats(1e-4, 0.1),
    betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.99), (0.7, 0.0)]),
    eps=st.sampled_from([1e-8, 1e-3]),
    weight_decay=st.sampled_from([0.0, 0.1]),
    amsgrad=st.booleans(),
    maximize=st.booleans(),
)
def test_adam_update_rule_matches_torch(
    shape, seed, name, lr, betas, eps, weight_decay, amsgrad, maximize
):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(5)]
    kwargs = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                  maximize=maximize)  # fmt: skip
    ours = _steps_with_given_grads(ndgrad, name, kwargs, p0, grads)
    ref = _steps_with_given_grads(torch, name, kwargs, p0, grads)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
