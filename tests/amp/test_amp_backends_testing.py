"""``torch.amp`` (GradScaler, autocast), ``torch.cuda.amp``, ``torch.backends``,
``torch.testing.assert_close``, ``torch.jit`` and the determinism switches, against CPU-only
PyTorch: the same numbers, warnings and messages."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import ndgrad


def _train_with_scaler(lib, grads_inf_at: set, steps: int = 8, interval: int = 3) -> list:
    lib.manual_seed(0)
    model = lib.nn.Linear(3, 1)
    with lib.no_grad():
        model.weight.copy_(lib.tensor([[0.1, -0.2, 0.3]]))
        model.bias.fill_(0.05)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=interval)
    x = lib.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    seen = []
    for step in range(steps):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        scaled = scaler.scale(loss)
        scaled.backward()
        if step in grads_inf_at:
            model.weight.grad[0, 0] = math.inf
        scaler.step(opt)
        scaler.update()
        seen.append(
            (float(scaled), scaler.get_scale(), model.weight.detach().numpy().copy().tolist())
        )
    seen.append(scaler.state_dict())
    return seen


def test_grad_scaler_matches_torch_step_for_step_with_skipped_steps():
    ours = _train_with_scaler(ndgrad, {2, 3})
    theirs = _train_with_scaler(torch, {2, 3})
    assert len(ours) == len(theirs)
    for a, b in zip(ours[:-1], theirs[:-1], strict=True):
        assert a[1] == b[1]
        np.testing.assert_allclose(a[0], b[0], rtol=1e-6)
        np.testing.assert_allclose(a[2], b[2], rtol=1e-6, atol=1e-6)
    assert ours[-1] == {k: (v.item() if hasattr(v, "item") else v) for k, v in theirs[-1].items()}


def test_grad_scaler_errors_and_state_round_trip():
    scaler = ndgrad.amp.GradScaler("cpu")
    model = ndgrad.nn.Linear(2, 1)
    opt = ndgrad.optim.SGD(model.parameters(), lr=0.1)
    scaler.scale(model(ndgrad.ones(1, 2)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    scaler.update()
    other = ndgrad.amp.GradScaler("cpu", init_scale=1.0)
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == scaler.get_scale() == 65536.0


def _warnings_of(fn) -> list:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        result = fn()
    return [(w.category, str(w.message)) for w in got], result


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.amp.GradScaler("cuda").is_enabled(),
        lambda lib: lib.amp.GradScaler().is_enabled(),
        lambda lib: lib.cuda.amp.GradScaler().is_enabled(),
        lambda lib: lib.amp.GradScaler("cuda", enabled=False).is_enabled(),
        lambda lib: lib.autocast("cuda").__enter__() and lib.is_autocast_enabled(),
        lambda lib: (
            lib.autocast("cpu", dtype=lib.float32).__enter__() and lib.is_autocast_enabled()
        ),
        lambda lib: lib.cuda.amp.autocast().__enter__() and lib.is_autocast_enabled(),
    ],
)
def test_cpu_only_machines_disable_cuda_amp_with_torchs_warnings(make):
    ours, our_result = _warnings_of(lambda: make(ndgrad))
    theirs, their_result = _warnings_of(lambda: make(torch))
    assert our_result == their_result
    for category, message in theirs:
        assert (category, message) in ours
    # leave autocast state as found
    ndgrad.amp.autocast_mode._STATE["cpu"][:] = [False, None]
    ndgrad.amp.autocast_mode._STATE["cuda"][:] = [False, None]


def test_autocast_is_a_decorator_and_restores_state():
    @ndgrad.autocast("cpu", enabled=False)
    def f():
        return ndgrad.is_autocast_enabled("cpu")

    assert f() is False and ndgrad.is_autocast_enabled("cpu") is False
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        ndgrad.autocast("tpu")


def test_backends_flags_and_determinism_switches_answer_as_cpu_only_torch():
    for name in ("deterministic", "benchmark", "enabled"):
        assert getattr(ndgrad.backends.cudnn, name) == getattr(torch.backends.cudnn, name)
    assert ndgrad.backends.cudnn.is_available() is torch.backends.cudnn.is_available() is False
    assert ndgrad.backends.mps.is_available() is False and ndgrad.backends.mps.is_built() is False
    assert ndgrad.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    ndgrad.backends.cudnn.deterministic = True
    try:
        assert ndgrad.backends.cudnn.deterministic is True
    finally:
        ndgrad.backends.cudnn.deterministic = False
    assert ndgrad.are_deterministic_algorithms_enabled() is False
    ndgrad.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert ndgrad.are_deterministic_algorithms_enabled() is True
        assert ndgrad.is_deterministic_algorithms_warn_only_enabled() is True
    finally:
        ndgrad.use_deterministic_algorithms(False)


PAIRS = [
    lambda lib: (lib.tensor([1.0, 2.0, 3.0]), lib.tensor([1.0, 2.1, 3.0]), {}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0], dtype=lib.float64), {}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0, 3.0]), {}),
    lambda lib: (1.0, 1.1, {}),
    lambda lib: (1, 2, {}),
    lambda lib: (1, 1.0, {}),
    lambda lib: (True, False, {}),
    lambda lib: (lib.tensor([[1, 2], [3, 4]]), lib.tensor([[1, 2], [3, 5]]), {}),
    lambda lib: ([lib.tensor(1.0)], [lib.tensor(2.0)], {}),
    lambda lib: ({"a": lib.tensor(1.0)}, {"a": lib.tensor(2.0)}, {}),
    lambda lib: ([1, [2.0, 3.0]], [1, [2.0, 3.5]], {}),
    lambda lib: (lib.tensor([float("nan")]), lib.tensor([float("nan")]), {}),
    lambda lib: (lib.tensor([float("nan")]), lib.tensor([float("nan")]), {"equal_nan": True}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.5]), {"rtol": 0, "atol": 0.1}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.5]), {"msg": "custom"}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.5]), {"rtol": 0.1}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0 + 1e-6]), {}),
    lambda lib: (lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0], dtype=lib.float64), {"check_dtype": False}),
    lambda lib: (lib.tensor([1.0, 2.0]), np.array([1.0, 2.0]), {}),
    lambda lib: (np.array([1.0, 2.0]), np.array([1.0, 2.5]), {}),
]  # fmt: skip


@pytest.mark.parametrize("pair", PAIRS)
def test_assert_close_matches_torch_word_for_word(pair):
    def outcome(lib):
        actual, expected, kwargs = pair(lib)
        try:
            lib.testing.assert_close(actual, expected, **kwargs)
        except Exception as e:  # noqa: BLE001 - compared below
            return type(e), str(e).replace("torch.", "").replace("ndgrad.", "")
        return None

    assert outcome(ndgrad) == outcome(torch)


def test_jit_hands_back_what_it_is_given():
    model = ndgrad.nn.Linear(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ndgrad.jit.script(model) is model
        assert ndgrad.jit.trace(model, ndgrad.ones(1, 2)) is model
    assert ndgrad.jit.is_scripting() is False
    with pytest.raises(NotImplementedError, match="torch.jit.save"):
        ndgrad.jit.save(model, "m.pt")
