"""Learning-rate schedulers against torch 2.13: the same floats at every step."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import optim
from ndgrad.optim import lr_scheduler


def _make(lib, name, kwargs, lrs=(0.1,)):
    params = [lib.tensor([1.0, -2.0], requires_grad=True) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)]
    opt = lib.optim.SGD(groups, lr=0.5, momentum=0.9)
    return opt, getattr(lib.optim.lr_scheduler, name)(opt, **kwargs), params


def _case_id(value):
    """Stable test ids (a lambda's repr has its address, which differs between xdist workers)."""
    if isinstance(value, str):
        return value
    return "-".join(f"{k}={getattr(v, '__name__', v)}" for k, v in value.items())


SCHEDULES = [
    ("StepLR", {"step_size": 7}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 20, 20, 60], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.95}),
    ("CosineAnnealingLR", {"T_max": 30}),
    ("CosineAnnealingLR", {"T_max": 17, "eta_min": 0.001}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 8}),
    ("LinearLR", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 12}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 1.0 / (1 + epoch)}),
    ("MultiplicativeLR", {"lr_lambda": lambda epoch: 0.97}),
]


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES, ids=_case_id)
def test_lr_sequence_matches_torch_exactly(name, kwargs):
    opt, sched, (p, q) = _make(ndgrad, name, kwargs, lrs=(0.1, 0.03))
    topt, tsched, (tp, tq) = _make(torch, name, kwargs, lrs=(0.1, 0.03))
    ours, ref = [sched.get_last_lr()], [tsched.get_last_lr()]
    for _ in range(100):
        for o, x, y in ((opt, p, q), (topt, tp, tq)):
            o.zero_grad()
            ((x**2).sum() + (y**2).sum()).backward()
            o.step()
        sched.step()
        tsched.step()
        ours.append(sched.get_last_lr())
        ref.append(tsched.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    assert ours == ref  # bit-for-bit: the same recursive arithmetic
    assert sched.last_epoch == tsched.last_epoch == 100
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES[:8], ids=_case_id)
def test_closed_form_agrees_with_recursion(name, kwargs):
    opt, sched, _ = _make(ndgrad, name, kwargs)
    _, tsched, _ = _make(torch, name, kwargs)
    opt.step()
    recursive = []
    for _ in range(60):
        sched.step()
        recursive.append(sched.get_last_lr()[0])
    for epoch in range(1, 61):
        sched.last_epoch = epoch
        tsched.last_epoch = epoch
        closed = sched._get_closed_form_lr()[0]
        assert closed == tsched._get_closed_form_lr()[0]
        assert closed == pytest.approx(recursive[epoch - 1], rel=1e-9, abs=1e-12)


def test_step_with_epoch_uses_closed_form_and_warns():
    opt, sched, _ = _make(ndgrad, "StepLR", {"step_size": 4})
    topt, tsched, _ = _make(torch, "StepLR", {"step_size": 4})
    opt.step()
    topt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsched.step(9)
    assert sched.get_last_lr() == tsched.get_last_lr() == [0.1 * 0.1**2]


def test_cosine_annealing_closed_form_values():
    opt, sched, _ = _make(ndgrad, "CosineAnnealingLR", {"T_max": 10, "eta_min": 0.0})
    lrs = []
    for _ in range(10):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    expected = [0.1 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(1, 11)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


def test_initial_lr_state_dict_and_resume():
    opt, sched, _ = _make(ndgrad, "ExponentialLR", {"gamma": 0.9})
    topt, tsched, _ = _make(torch, "ExponentialLR", {"gamma": 0.9})
    assert opt.param_groups[0]["initial_lr"] == topt.param_groups[0]["initial_lr"] == 0.1
    for _ in range(5):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state
    assert state["last_epoch"] == 5 and state["base_lrs"] == [0.1]
    assert set(state) == set(tsched.state_dict())

    opt2, sched2, _ = _make(ndgrad, "ExponentialLR", {"gamma": 0.9})
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    assert sched2.last_epoch == 5
    opt2.step()
    sched2.step()
    assert sched2.get_last_lr()[0] == pytest.approx(0.1 * 0.9**6)


def test_resuming_without_initial_lr_is_a_key_error():
    opt = optim.SGD([ndgrad.tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=2)


def test_warns_when_scheduler_steps_before_optimizer():
    opt, sched, _ = _make(ndgrad, "StepLR", {"step_size": 2})
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        sched.step()
    opt2, sched2, _ = _make(ndgrad, "StepLR", {"step_size": 2})
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_lambda_lr_per_group_lambdas():
    opt, sched, _ = _make(
        ndgrad, "LambdaLR", {"lr_lambda": [lambda e: 0.5**e, lambda e: 1 + e]}, lrs=(0.1, 0.2)
    )
    opt.step()
    sched.step()
    sched.step()
    assert sched.get_last_lr() == [0.1 * 0.25, 0.2 * 3]
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
