"""Layers and utilities beyond the op table on ``cuda``, equal to the CPU: packed sequences,
embeddings, clipping, initialisers, padding, interpolation, transformers, custom Functions."""

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
from ndgrad.nn.utils import rnn as rnn_utils

RNG = np.random.default_rng(11)


def host(t: Any) -> Any:
    if isinstance(t, (tuple, list)):
        return [host(x) for x in t]
    return t.detach().cpu().numpy()


def _packed_gru(dev: str, x: Any, net: nn.Module) -> Any:
    lengths = ndgrad.tensor([2, 4, 3])
    packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, h = net(packed)
    padded, lens = rnn_utils.pad_packed_sequence(out, batch_first=True)
    assert not lens.is_cuda  # lengths stay on the CPU, as torch's
    return padded.sum() + h.pow(2).sum()


def _embedding(dev: str, x: Any, net: nn.Module) -> Any:
    idx = ndgrad.tensor([[0, 2, 2], [1, 0, 3]], device=dev)
    out = F.embedding(idx, net.weight, padding_idx=0, scale_grad_by_freq=True)
    return out.sum() + (x.sum() * 0)


def _clip(dev: str, x: Any, net: nn.Module) -> Any:
    loss = net(x).pow(2).sum()
    loss.backward(retain_graph=True)
    total = nn.utils.clip_grad_norm_(net.parameters(), 0.5)
    assert total.device.type == dev
    nn.utils.clip_grad_value_(net.parameters(), 0.01)
    return loss + total + sum(p.grad.sum() for p in net.parameters())


def _padding_and_interpolation(dev: str, x: Any, net: nn.Module) -> Any:
    img = x.reshape(1, 1, 3, 4)
    out = F.pad(img, (1, 2, 1, 0), mode="reflect").sum()
    out = out + F.pad(img, (1, 1, 2, 0), mode="replicate").pow(2).sum()
    out = out + F.interpolate(img, scale_factor=2, mode="bilinear").pow(2).sum()
    out = out + F.interpolate(img, size=(5, 7), mode="nearest").sum()
    out = out + F.adaptive_avg_pool2d(img, (2, 2)).pow(2).sum()
    return out + net(x).sum()


def _transformer(dev: str, x: Any, net: nn.Module) -> Any:
    src = x.reshape(2, 3, 2).repeat(1, 1, 2)
    kpm = ndgrad.tensor([[False, False, True], [False, False, False]], device=dev)
    causal = nn.Transformer.generate_square_subsequent_mask(3, device=dev)
    out = net(src, mask=causal) + net(src, src_key_padding_mask=kpm)
    net.eval()
    with ndgrad.no_grad():
        nested = net(src.detach(), src_key_padding_mask=kpm)
    net.train()
    return out.sum() + nested.sum()


class Cube(ndgrad.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x**3, x * 2

    @staticmethod
    def backward(ctx: Any, g: Any, g2: Any) -> Any:
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g + 2 * g2


def _custom_function(dev: str, x: Any, net: nn.Module) -> Any:
    a, _ = Cube.apply(x)  # the unused output's gradient is materialised on x's device
    return a.sum() + net(x).sum()


CASES: dict[str, tuple[Callable, Callable[[], nn.Module], tuple]] = {
    "packed_gru": (_packed_gru, lambda: nn.GRU(2, 3, batch_first=True), (3, 4, 2)),
    "embedding": (_embedding, lambda: nn.Embedding(4, 3), (2, 3)),
    "clip_grad": (_clip, lambda: nn.Linear(3, 2), (4, 3)),
    "pad_interpolate": (_padding_and_interpolation, lambda: nn.Linear(12, 1), (12,)),
    "transformer": (
        _transformer,
        lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True), 2
        ),
        (12,),
    ),
    "custom_function": (_custom_function, lambda: nn.Linear(3, 1), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_on_cuda_equals_cpu(cuda: Any, name: str) -> None:
    fn, make, shape = CASES[name]
    ndgrad.set_default_dtype(ndgrad.float64)
    ndgrad.manual_seed(0)
    net = make()
    value = RNG.normal(size=shape)
    results = []
    for dev, model in (("cpu", net), ("cuda", copy.deepcopy(net).to("cuda"))):
        x = ndgrad.tensor(value, device=dev, requires_grad=True)
        loss = fn(dev, x, model)
        assert loss.device.type == dev, name
        params = [x, *model.parameters()]
        grads = ndgrad.autograd.grad(loss, params, allow_unused=True)
        results.append((loss, [g for g in grads if g is not None]))
    (want, want_grads), (got, got_grads) = results
    np.testing.assert_allclose(host(got), host(want), **TOL, err_msg=name)
    assert len(got_grads) == len(want_grads)
    for g, w in zip(got_grads, want_grads):
        assert g.is_cuda
        np.testing.assert_allclose(host(g), host(w), **TOL, err_msg=name)


def test_initialisers_fill_cuda_parameters(cuda: Any) -> None:
    w = nn.Parameter(ndgrad.empty(4, 5, device="cuda"))
    for init in (
        nn.init.xavier_uniform_,
        nn.init.xavier_normal_,
        nn.init.kaiming_uniform_,
        nn.init.kaiming_normal_,
        nn.init.normal_,
        nn.init.uniform_,
        nn.init.trunc_normal_,
        nn.init.ones_,
        nn.init.zeros_,
        nn.init.eye_,
        lambda t: nn.init.constant_(t, 0.5),
    ):
        init(w)
        assert w.is_cuda and type(w._data) is cuda.ndarray
    np.testing.assert_array_equal(host(w), np.full((4, 5), 0.5))


def test_distributions_sample_and_score_on_cuda(cuda: Any) -> None:
    D = ndgrad.distributions
    loc = ndgrad.zeros(3, device="cuda", requires_grad=True)
    scale = ndgrad.ones(3, device="cuda")
    probs = ndgrad.tensor([0.2, 0.3, 0.5], device="cuda")
    dists = [
        D.Normal(loc, scale),
        D.Bernoulli(probs=probs),
        D.Categorical(probs=probs),
        D.Multinomial(4, probs=probs),
    ]
    for dist in dists:
        sample = dist.sample((2,))
        assert sample.is_cuda, type(dist).__name__
        assert dist.log_prob(sample).is_cuda and dist.entropy().is_cuda
    rs = D.Normal(loc, scale).rsample()
    rs.sum().backward()
    assert loc.grad.is_cuda
    assert D.Normal(loc, scale).icdf(ndgrad.full((3,), 0.5, device="cuda")).is_cuda
    assert D.Categorical(probs=probs).enumerate_support().is_cuda
    want = D.Multinomial(4, probs=probs.cpu()).log_prob(ndgrad.tensor([1.0, 1, 2]))
    got = D.Multinomial(4, probs=probs).log_prob(ndgrad.tensor([1.0, 1, 2], device="cuda"))
    np.testing.assert_allclose(host(got), host(want), rtol=1e-6)


def test_compiled_training_step_on_cuda_equals_cpu(cuda: Any) -> None:
    results = {}
    for dev in ("cpu", "cuda"):
        w = ndgrad.ones(3, 1, device=dev, requires_grad=True)
        X = ndgrad.arange(12.0).reshape(4, 3).to(dev)
        y = ndgrad.ones(4, 1, device=dev)

        @ndgrad.compile
        def step(X: Any, y: Any, w: Any = w) -> Any:
            loss = ((X @ w - y) ** 2).mean()
            loss.backward()
            with ndgrad.no_grad():
                w.sub_(0.001 * w.grad)
                w.grad.zero_()
            return loss.detach()

        losses = [step(X, y) for _ in range(4)]
        assert all(loss.device.type == dev for loss in losses) and w.device.type == dev
        results[dev] = [float(loss) for loss in losses] + host(w).ravel().tolist()
    np.testing.assert_allclose(results["cuda"], results["cpu"], **TOL)
