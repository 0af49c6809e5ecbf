"""ReduceLROnPlateau, OneCycleLR, CyclicLR, CosineAnnealingWarmRestarts, SequentialLR,
ChainedScheduler and PolynomialLR against torch 2.13: the same floats at every step."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

import ndgrad
from ndgrad.optim import lr_scheduler


def _optimizer(lib, name="SGD", **kwargs):
    w = lib.zeros(2, requires_grad=True)
    c = lib.zeros(3, requires_grad=True)
    groups = [{"params": [w]}, {"params": [c], "lr": 0.5}]
    return getattr(lib.optim, name)(groups, lr=0.1, **kwargs)


def _sched(lib):
    return lib.optim.lr_scheduler


# name -> (optimizer name and options, scheduler factory)
CASES = {
    "poly": ({}, lambda lib, o: _sched(lib).PolynomialLR(o, total_iters=20, power=2.0)),
    "poly_default": ({}, lambda lib, o: _sched(lib).PolynomialLR(o)),
    "sequential": (
        {},
        lambda lib, o: _sched(lib).SequentialLR(
            o,
            [
                _sched(lib).LinearLR(o, 0.1, total_iters=5),
                _sched(lib).ExponentialLR(o, 0.9),
                _sched(lib).CosineAnnealingLR(o, 10),
            ],
            milestones=[5, 20],
        ),
    ),
    "chained": (
        {},
        lambda lib, o: _sched(lib).ChainedScheduler(
            [
                _sched(lib).ConstantLR(o, 0.5, 4),
                _sched(lib).ExponentialLR(o, 0.95),
                _sched(lib).StepLR(o, 7, 0.5),
            ]
        ),
    ),
    "warm_restarts": (
        {},
        lambda lib, o: _sched(lib).CosineAnnealingWarmRestarts(o, 5, 2, eta_min=0.001),
    ),
    "warm_restarts_tmult1": ({}, lambda lib, o: _sched(lib).CosineAnnealingWarmRestarts(o, 7)),
    "cyclic_triangular": (
        {"momentum": 0.9},
        lambda lib, o: _sched(lib).CyclicLR(o, 0.01, [0.1, 0.3], step_size_up=4, step_size_down=7),
    ),
    "cyclic_triangular2": (
        {"momentum": 0.9},
        lambda lib, o: _sched(lib).CyclicLR(o, 0.01, 0.1, step_size_up=5, mode="triangular2"),
    ),
    "cyclic_exp_range": (
        {"momentum": 0.9},
        lambda lib, o: _sched(lib).CyclicLR(
            o, [0.01, 0.02], 0.1, step_size_up=3, mode="exp_range", gamma=0.9
        ),
    ),
    "cyclic_adam_betas": (
        {"name": "Adam"},
        lambda lib, o: _sched(lib).CyclicLR(
            o, 0.01, 0.1, step_size_up=3, base_momentum=0.7, max_momentum=0.95
        ),
    ),
    "cyclic_no_momentum": (
        {"name": "Adagrad"},
        lambda lib, o: _sched(lib).CyclicLR(o, 0.01, 0.1, step_size_up=3, cycle_momentum=False),
    ),
    "cyclic_scale_fn": (
        {"momentum": 0.9},
        lambda lib, o: _sched(lib).CyclicLR(
            o, 0.01, 0.1, step_size_up=4, scale_fn=lambda x: 0.9**x, scale_mode="iterations"
        ),
    ),
    "onecycle_cos_sgd": (
        {"momentum": 0.9},
        lambda lib, o: _sched(lib).OneCycleLR(o, [0.1, 1.0], total_steps=50),
    ),
    "onecycle_linear_adam": (
        {"name": "Adam"},
        lambda lib, o: _sched(lib).OneCycleLR(
            o, 0.1, epochs=5, steps_per_epoch=10, anneal_strategy="linear", pct_start=0.25
        ),
    ),
    "onecycle_three_phase": (
        {"momentum": 0.9},
        lambda lib, o: _sched(lib).OneCycleLR(
            o, 0.1, total_steps=50, three_phase=True, div_factor=10.0, final_div_factor=100.0
        ),
    ),
    "onecycle_no_momentum": (
        {"name": "RMSprop"},
        lambda lib, o: _sched(lib).OneCycleLR(o, 0.1, total_steps=60, cycle_momentum=False),
    ),
}


def _build(lib, case):
    options, factory = CASES[case]
    options = dict(options)
    opt = _optimizer(lib, options.pop("name", "SGD"), **options)
    return opt, factory(lib, opt)


def _record(opt, sched):
    """The last lrs and the groups' lr, momentum and betas: all must be the same floats."""
    groups = [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]
    return sched.get_last_lr(), groups


def _sequence(lib, case, steps=50, start=None):
    opt, sched = start if start is not None else _build(lib, case)
    out = [_record(opt, sched)]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(_record(opt, sched))
    return out, opt, sched


@pytest.mark.parametrize("case", list(CASES))
def test_lr_sequence_matches_torch_exactly(case):
    ours, _, sched = _sequence(ndgrad, case)
    ref, _, tsched = _sequence(torch, case)
    assert ours == ref
    assert len({lrs[0] for lrs, _ in ours}) > 3  # it really scheduled
    assert set(sched.state_dict()) == set(tsched.state_dict())


def _fresh_children(lib, case, opt):
    """A new scheduler for ``case`` on an existing optimizer (a resumed run builds it again)."""
    return CASES[case][1](lib, opt)


@pytest.mark.parametrize("case", list(CASES))
def test_state_dict_round_trip_matches_torch(case):
    def run(lib):
        first, opt, sched = _sequence(lib, case, steps=20)
        opt_state = copy.deepcopy(opt.state_dict())
        sched_state = copy.deepcopy(sched.state_dict())
        opt2, _ = _build(lib, case)
        sched2 = _fresh_children(lib, case, opt2)
        opt2.load_state_dict(opt_state)
        sched2.load_state_dict(sched_state)
        rest, _, _ = _sequence(lib, case, steps=30, start=(opt2, sched2))
        return first + rest[1:]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the rebuilt schedulers step before their optimizer
        ours, ref = run(ndgrad), run(torch)
    assert ours == ref
    straight, _, _ = _sequence(ndgrad, case)
    assert [lrs for lrs, _ in ours] == [lrs for lrs, _ in straight]


LOSSES = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94, 0.89, 0.9, 0.9, 0.9, 0.9, 0.88] * 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"patience": 2},
        {"patience": 1, "cooldown": 2, "factor": 0.5, "min_lr": [0.02, 0.1]},
        {"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 0},
        {"mode": "max", "patience": 1, "factor": 0.7},
        {"threshold_mode": "abs", "patience": 0, "eps": 0.05, "factor": 0.3},
        {"threshold": 0.05, "patience": 1, "min_lr": 0.03},
    ],
    ids=str,
)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    def run(lib):
        opt = _optimizer(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        out = [sched.get_last_lr()]
        for i, loss in enumerate(LOSSES):
            opt.step()
            sched.step(lib.tensor(loss) if i % 2 else loss)
            out.append(
                (sched.get_last_lr(), sched.best, sched.num_bad_epochs, sched.cooldown_counter)
            )
            if i == 20:  # a round trip mid-run
                state = copy.deepcopy(sched.state_dict())
                sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt)
                sched.load_state_dict(state)
        return out, sched

    (ours, sched), (ref, tsched) = run(ndgrad), run(torch)
    assert ours == ref
    assert set(sched.state_dict()) == set(tsched.state_dict())


def test_reduce_lr_on_plateau_reduces_after_patience():
    opt = _optimizer(ndgrad)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for loss in (1.0, 1.0, 1.0):
        sched.step(loss)
    assert sched.get_last_lr() == [0.1, 0.5]
    sched.step(1.0)
    assert sched.get_last_lr() == [0.05, 0.25]


def test_warm_restarts_fractional_epochs_match_torch():
    epochs = [0.0, 0.5, 1.25, 3.0, 4.9, 5.0, 7.3, 14.99, 15.0, 16.5, 40.2, 2.0]

    def run(lib):
        opt = _optimizer(lib)
        sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 5, 2, eta_min=0.01)
        out = []
        for epoch in epochs:
            opt.step()
            sched.step(epoch)
            out.append((sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch))
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation warning for this scheduler's epoch
        ours = run(ndgrad)
    assert ours == run(torch)


@pytest.mark.parametrize("case", ["poly", "cyclic_triangular", "onecycle_cos_sgd", "sequential"])
def test_warns_when_scheduler_steps_before_optimizer_like_torch(case):
    def messages(lib):
        opt, sched = _build(lib, case)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step()
        return [str(w.message) for w in caught]

    ours = messages(ndgrad)
    assert ours == messages(torch)
    assert ours and "before `optimizer.step()`" in ours[0]


def test_onecycle_past_total_steps_raises_like_torch():
    for lib in (ndgrad, torch):
        opt = _optimizer(lib, momentum=0.9)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=3)
        for _ in range(3):
            opt.step()
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of"):
            sched.step()


BAD = [
    ("OneCycleLR", {"max_lr": 0.1}),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 0}),
    ("OneCycleLR", {"max_lr": 0.1, "epochs": -1, "steps_per_epoch": 2}),
    ("OneCycleLR", {"max_lr": 0.1, "epochs": 2, "steps_per_epoch": 1.5}),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 10, "pct_start": 1}),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 10, "pct_start": 1.5}),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 10, "anneal_strategy": "exp"}),
    ("OneCycleLR", {"max_lr": [0.1], "total_steps": 10}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "mode": "sawtooth"}),
    ("CyclicLR", {"base_lr": [0.01, 0.02, 0.03], "max_lr": 0.1}),
    ("CosineAnnealingWarmRestarts", {"T_0": 0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 2.5}),
    ("CosineAnnealingWarmRestarts", {"T_0": 5, "T_mult": 0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 5, "eta_min": "0"}),
    ("ReduceLROnPlateau", {"factor": 1.0}),
    ("ReduceLROnPlateau", {"mode": "up"}),
    ("ReduceLROnPlateau", {"threshold_mode": "pct"}),
    ("ReduceLROnPlateau", {"min_lr": [0.1]}),
]


@pytest.mark.parametrize(("name", "kwargs"), BAD, ids=str)
def test_bad_arguments_raise_like_torch(name, kwargs):
    with pytest.raises(Exception) as ref:
        getattr(torch.optim.lr_scheduler, name)(_optimizer(torch), **kwargs)
    with pytest.raises(type(ref.value)) as ours:
        getattr(lr_scheduler, name)(_optimizer(ndgrad), **kwargs)
    assert str(ours.value) == str(ref.value)


def test_cycle_momentum_needs_momentum_or_betas():
    for lib in (ndgrad, torch):
        s = lib.optim.lr_scheduler
        with pytest.raises(ValueError, match="must support momentum or beta1"):
            s.CyclicLR(_optimizer(lib, "Adagrad"), 0.01, 0.1)
        with pytest.raises(ValueError, match="must support momentum or beta1"):
            s.OneCycleLR(_optimizer(lib, "Adagrad"), 0.1, total_steps=10)


def test_composite_schedulers_check_their_children():
    def errors(lib):
        s = lib.optim.lr_scheduler
        opt, other = _optimizer(lib), _optimizer(lib)
        attempts = [
            lambda: s.SequentialLR(opt, [], milestones=[]),
            lambda: s.SequentialLR(opt, [s.StepLR(opt, 2)], milestones=[3]),
            lambda: s.SequentialLR(opt, [s.StepLR(opt, 2), s.StepLR(other, 2)], [3]),
            lambda: s.SequentialLR(opt, [s.StepLR(opt, 2), s.ReduceLROnPlateau(opt)], [3]),
            lambda: s.SequentialLR(opt, [object()], milestones=[]),
            lambda: s.ChainedScheduler([]),
            lambda: s.ChainedScheduler([s.StepLR(opt, 2), s.ReduceLROnPlateau(opt)]),
        ]
        out = []
        for attempt in attempts:
            with pytest.raises((ValueError, TypeError)) as info:
                attempt()
            out.append((type(info.value), str(info.value).split(" has ")[0]))
        return out

    assert errors(ndgrad) == errors(torch)


def test_new_names_are_exported():
    for name in (
        "ReduceLROnPlateau",
        "OneCycleLR",
        "CyclicLR",
        "CosineAnnealingWarmRestarts",
        "SequentialLR",
        "ChainedScheduler",
        "PolynomialLR",
    ):
        assert name in lr_scheduler.__all__
        assert issubclass(getattr(lr_scheduler, name), lr_scheduler.LRScheduler)
