"""d2l's networks, every optimizer and every loss on ``cuda`` equal the CPU, step for step.

A model is built on the CPU, a copy moved with ``Module.to("cuda")``; both train a few steps
on the same batches and their losses, gradients and parameters must agree.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tests.gpu._device import TOL

import ndgrad
from ndgrad import nn
from ndgrad.nn import functional as F

RNG = np.random.default_rng(7)


def host(t: ndgrad.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def close(a: ndgrad.Tensor, b: ndgrad.Tensor, what: str) -> None:
    np.testing.assert_allclose(host(a), host(b), **TOL, err_msg=what)


class LSTMStep(nn.Module):
    """An LSTM over a short sequence and a linear head on its last state (d2l ch. 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(5, 8, num_layers=2)
        self.head = nn.Linear(8, 3)

    def forward(self, x: ndgrad.Tensor) -> ndgrad.Tensor:
        out, (h, c) = self.rnn(x)
        return self.head(out[-1]) + h.sum() * 0.1 + c.mean()


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = nn.LayerNorm(8)

    def forward(self, x: ndgrad.Tensor) -> ndgrad.Tensor:
        out, weights = self.mha(x, x, x)
        return self.norm(out + x).sum(1) + weights.sum()


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.0), nn.Linear(16, 3)
    )


def lenet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 4, kernel_size=5),
        nn.BatchNorm2d(4),
        nn.Sigmoid(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(3),
    )


NETWORKS: dict[str, tuple[Callable[[], nn.Module], tuple]] = {
    "mlp": (mlp, (4, 3, 4)),
    "lenet": (lenet, (2, 1, 20, 20)),
    "lstm": (LSTMStep, (6, 4, 5)),
    "attention": (Attention, (2, 5, 8)),
}


def train(net: nn.Module, device: str, batches: list, opt_cls: Any, **opt_kw: Any) -> list:
    opt = opt_cls(net.parameters(), **opt_kw)
    losses = []
    for x, y in batches:
        x, y = ndgrad.tensor(x, device=device), ndgrad.tensor(y, device=device)
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss)
    return losses


def _pair(name: str) -> tuple[nn.Module, nn.Module, list]:
    make, shape = NETWORKS[name]
    ndgrad.manual_seed(0)
    ndgrad.set_default_dtype(ndgrad.float64)  # the conftest restores float32
    net = make()
    batches = [
        (RNG.normal(size=shape), RNG.integers(0, 3, size=shape[1] if name == "lstm" else shape[0]))
        for _ in range(2)
    ]
    net(ndgrad.tensor(batches[0][0]))  # materialise lazy layers on the CPU first
    moved = copy.deepcopy(net)
    params = list(moved.parameters())
    assert moved.to("cuda") is moved
    assert [id(p) for p in moved.parameters()] == [id(p) for p in params]  # moved in place
    for t in list(moved.parameters()) + list(moved.buffers()):
        assert t.is_cuda, "Module.to('cuda') left a parameter or buffer on the CPU"
    return net, moved, batches


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_network_trains_on_cuda_like_on_cpu(cuda: Any, name: str) -> None:
    net, moved, batches = _pair(name)
    cpu_losses = train(net, "cpu", batches, ndgrad.optim.SGD, lr=0.1, momentum=0.9)
    cuda_losses = train(moved, "cuda", batches, ndgrad.optim.SGD, lr=0.1, momentum=0.9)
    for a, b in zip(cuda_losses, cpu_losses):
        assert a.device.type == "cuda"
        close(a, b, f"{name} loss")
    for (pname, a), b in zip(moved.named_parameters(), net.parameters()):
        close(a, b, f"{name}.{pname}")
        close(a.grad, b.grad, f"{name}.{pname}.grad")
    for a, b in zip(moved.buffers(), net.buffers()):
        close(a, b, f"{name} buffer")


OPTIMIZERS = [
    (ndgrad.optim.SGD, {"lr": 0.1}),
    (ndgrad.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (ndgrad.optim.Adam, {"lr": 0.01}),
    (ndgrad.optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    (ndgrad.optim.AdamW, {"lr": 0.01}),
]
_OPTIMIZER_NAMES = ("Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop")
OPTIMIZERS += [(getattr(ndgrad.optim, n), {}) for n in _OPTIMIZER_NAMES if hasattr(ndgrad.optim, n)]
OPTIMIZERS += [
    (ndgrad.optim.RMSprop, {"centered": True, "momentum": 0.9, "weight_decay": 0.01}),
    (ndgrad.optim.ASGD, {"t0": 1, "weight_decay": 0.01}),  # averaging with the 0-d mu
    (ndgrad.optim.NAdam, {"weight_decay": 0.01, "decoupled_weight_decay": True}),
]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: f"{o[0].__name__}{sorted(o[1])}")
def test_optimizer_steps_on_cuda_like_on_cpu(cuda: Any, opt: tuple) -> None:
    net, moved, batches = _pair("mlp")
    cls, kw = opt
    train(net, "cpu", batches, cls, **kw)
    train(moved, "cuda", batches, cls, **kw)
    for a, b in zip(moved.parameters(), net.parameters()):
        close(a, b, cls.__name__)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_on_cuda_like_on_cpu(cuda: Any, line_search_fn: str | None) -> None:
    net, moved, batches = _pair("mlp")
    for model, device in ((net, "cpu"), (moved, "cuda")):
        unused = nn.Parameter(ndgrad.zeros(2, device=device))  # no grad: zeros in the flat grad
        opt = ndgrad.optim.LBFGS(
            [*model.parameters(), unused], max_iter=4, line_search_fn=line_search_fn
        )
        for x, y in batches:
            x, y = ndgrad.tensor(x, device=device), ndgrad.tensor(y, device=device)

            def closure(model=model, opt=opt, x=x, y=y) -> ndgrad.Tensor:
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                return loss

            opt.step(closure)
    for a, b in zip(moved.parameters(), net.parameters()):
        close(a, b, "LBFGS")


def _loss_cases() -> list:
    x = RNG.normal(size=(4, 3))
    t = RNG.normal(size=(4, 3))
    p = 1 / (1 + np.exp(-t))
    labels = RNG.integers(0, 3, size=4)
    w = RNG.uniform(0.5, 1.5, size=3)
    return [
        ("MSELoss", nn.MSELoss(), x, t),
        ("L1Loss", nn.L1Loss(reduction="sum"), x, t),
        ("HuberLoss", nn.HuberLoss(delta=0.5), x, t),
        ("SmoothL1Loss", nn.SmoothL1Loss(), x, t),
        ("NLLLoss", nn.NLLLoss(), x, labels),
        ("CrossEntropyLoss", nn.CrossEntropyLoss(label_smoothing=0.1), x, labels),
        ("CrossEntropyLoss-weight", nn.CrossEntropyLoss(weight=ndgrad.tensor(w)), x, labels),
        ("CrossEntropyLoss-probs", nn.CrossEntropyLoss(), x, p / p.sum(1, keepdims=True)),
        ("BCELoss", nn.BCELoss(), p, (t > 0).astype(float)),
        ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss(pos_weight=ndgrad.tensor(w)), x, p),
        ("KLDivLoss", nn.KLDivLoss(reduction="batchmean"), np.log(p), p),
    ]


@pytest.mark.parametrize("case", _loss_cases(), ids=lambda c: c[0])
def test_loss_on_cuda_equals_cpu(cuda: Any, case: tuple) -> None:
    name, loss_fn, x, target = case
    results = []
    for device in ("cpu", "cuda"):
        fn = copy.deepcopy(loss_fn).to(device)
        inp = ndgrad.tensor(x, device=device, requires_grad=True)
        out = fn(inp, ndgrad.tensor(target, device=device))
        out.backward()
        assert out.device.type == device, name
        results.append((out, inp.grad))
    close(results[1][0], results[0][0], name)
    close(results[1][1], results[0][1], name + " grad")
