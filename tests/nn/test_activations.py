"""The activation functions beyond the book's (PyTorch's whole ``nn`` activation set):
values and gradients against torch in float64, at their kinks too, finite differences to
second order, the modules' reprs and parameters, ``inplace=True`` and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests.nn._helpers import assert_close, to_nd

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

# (name, kwargs); every kink of these functions is in KINKS
CASES = [
    ("relu6", {}),
    ("hardtanh", {}),
    ("hardtanh", {"min_val": -2.0, "max_val": 3.0}),
    ("hardsigmoid", {}),
    ("hardswish", {}),
    ("mish", {}),
    ("selu", {}),
    ("celu", {}),
    ("celu", {"alpha": 2.5}),
    ("elu", {"alpha": 0.7}),
    ("silu", {}),
    ("softsign", {}),
    ("tanhshrink", {}),
    ("threshold", {"threshold": 0.5, "value": -7.0}),
    ("softshrink", {}),
    ("softshrink", {"lambd": 1.0}),
    ("hardshrink", {}),
    ("hardshrink", {"lambd": 1.0}),
    ("glu", {}),
    ("glu", {"dim": 0}),
    ("rrelu", {}),
]
KINKS = [0.0, -1.0, 1.0, -2.0, 3.0, -3.0, 6.0, 0.5, -0.5, 50.0, -50.0, 1e-3]


def _input() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, generator=g, dtype=torch.float64) * 4
    x.view(-1)[: len(KINKS)] = torch.tensor(KINKS, dtype=torch.float64)
    return x


@pytest.mark.parametrize("name,kwargs", CASES)
def test_values_and_gradients_match_torch_at_the_kinks_too(name, kwargs):
    x = _input()
    ref_x, ours_x = x.clone().requires_grad_(True), to_nd(x, requires_grad=True)
    ref, out = getattr(TF, name)(ref_x, **kwargs), getattr(F, name)(ours_x, **kwargs)
    assert_close(out, ref, atol=1e-12, rtol=1e-10)
    assert out.grad_fn.name() == ref.grad_fn.name()
    up = torch.rand(ref.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref.backward(up)
    out.backward(to_nd(up))
    assert_close(ours_x.grad, ref_x.grad, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_float32_values_match_torch(name, kwargs):
    x = _input().float()
    ref, out = getattr(TF, name)(x, **kwargs), getattr(F, name)(to_nd(x), **kwargs)
    assert out.dtype == ndgrad.float32
    assert_close(out, ref, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name,kwargs", CASES)
def test_finite_differences_first_and_second_order(name, kwargs):
    # away from the kinks, where the derivatives exist
    rng = np.random.default_rng(2)
    x = rng.uniform(0.2, 2.5, (4, 4)) * rng.choice([-1.0, 1.0], (4, 4))
    x = x + np.where(np.abs(np.abs(x) - 0.5) < 0.1, 0.3, 0.0)
    t = ndgrad.tensor(x, requires_grad=True)

    def fn(a):
        return getattr(F, name)(a, **kwargs)

    assert gradcheck(fn, (t,), eps=1e-6, atol=1e-6, rtol=1e-5)
    assert gradgradcheck(fn, (t,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_prelu_matches_torch_for_one_and_per_channel_slopes():
    x = _input().reshape(2, 3, 4)
    for w in (
        torch.tensor([0.25], dtype=torch.float64),
        torch.tensor([0.1, -0.3, 2.0], dtype=torch.float64),
    ):
        rx, rw = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        ox, ow = to_nd(x, requires_grad=True), to_nd(w, requires_grad=True)
        ref, out = TF.prelu(rx, rw), F.prelu(ox, ow)
        assert_close(out, ref, atol=1e-12)
        ref.sum().backward()
        out.sum().backward()
        assert_close(ox.grad, rx.grad, atol=1e-12)
        assert_close(ow.grad, rw.grad, atol=1e-12)
        away = ox.detach() + 0.3 * (ox.detach() >= 0)  # off the kink at 0
        assert gradgradcheck(F.prelu, (away.requires_grad_(), ow.detach().requires_grad_()))
    with pytest.raises(RuntimeError, match="Found parameter numbers = 2 and channel size = 3"):
        F.prelu(ndgrad.ones(2, 3, 4), ndgrad.ones(2))


def test_modules_reprs_parameters_and_values_match_torch():
    x = _input().float()
    pairs = [
        ("ReLU6", ()), ("ReLU6", (True,)), ("Hardtanh", ()), ("Hardtanh", (-2, 2, True)),
        ("Hardsigmoid", ()), ("Hardswish", ()), ("Hardswish", (True,)), ("Mish", ()),
        ("Mish", (True,)), ("SELU", ()), ("SELU", (True,)), ("CELU", ()), ("CELU", (2.0, True)),
        ("ELU", ()), ("ELU", (0.5, True)), ("SiLU", ()), ("SiLU", (True,)), ("Softsign", ()),
        ("Tanhshrink", ()), ("Threshold", (0.1, 20)), ("Threshold", (0.1, 20, True)),
        ("Softshrink", ()), ("Hardshrink", (0.3,)), ("GLU", ()), ("GLU", (0,)), ("PReLU", ()),
        ("PReLU", (6, 0.1)), ("RReLU", ()), ("RReLU", (0.1, 0.3, True)), ("Softmin", (1,)),
    ]  # fmt: skip
    for name, args in pairs:
        ours, ref = getattr(nn, name)(*args).eval(), getattr(torch.nn, name)(*args).eval()
        assert repr(ours) == repr(ref)
        assert list(ours.state_dict()) == list(ref.state_dict())
        for k, v in ref.state_dict().items():
            assert_close(ours.state_dict()[k], v)
        assert_close(ours(to_nd(x)), ref(x.clone()), atol=1e-6, rtol=1e-5)
    img = torch.randn(2, 3, 4, 5)
    assert repr(nn.Softmax2d()) == repr(torch.nn.Softmax2d())
    assert_close(nn.Softmax2d()(to_nd(img)), torch.nn.Softmax2d()(img))


@pytest.mark.parametrize(
    "name", ["relu6", "hardtanh", "hardsigmoid", "hardswish", "mish", "selu", "celu", "elu", "silu"]
)
def test_inplace_writes_the_input_and_keeps_the_graph(name):
    x = _input()
    rx = x.clone().requires_grad_(True)
    ox = to_nd(x, requires_grad=True)
    ref_in, our_in = rx * 1, ox * 1
    ref = getattr(TF, name)(ref_in, inplace=True)
    out = getattr(F, name)(our_in, inplace=True)
    assert out is our_in
    assert_close(our_in, ref_in, atol=1e-12)
    ref.sum().backward()
    out.sum().backward()
    assert_close(ox.grad, rx.grad, atol=1e-12)


def test_rrelu_training_draws_slopes_in_bounds_and_keeps_positives():
    x = ndgrad.full((1000,), -1.0, requires_grad=True)
    out = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -out.detach().numpy()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and slopes.std() > 0.03
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)
    assert F.rrelu(ndgrad.tensor([2.0]), training=True).item() == 2.0


@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda: F.glu(ndgrad.randn(3, 5)),
            RuntimeError,
            "Halving dimension must be even, but dimension 1 is size 5",
        ),
        (lambda: F.glu(ndgrad.randn(3, 4), dim=2), IndexError, "Dimension out of range"),
        (
            lambda: F.hardtanh(ndgrad.randn(3), 2.0, 1.0),
            ValueError,
            "min_val cannot be greater than max_val",
        ),
        (lambda: nn.Hardtanh(2.0, 1.0), ValueError, "min_val cannot be greater than max_val"),
        (
            lambda: F.hardsigmoid(ndgrad.arange(3)),
            NotImplementedError,
            "\"hardsigmoid_cpu\" not implemented for 'Long'",
        ),
        (
            lambda: F.mish(ndgrad.arange(3)),
            NotImplementedError,
            "\"mish_cpu\" not implemented for 'Long'",
        ),
        (
            lambda: F.elu(ndgrad.arange(3)),
            NotImplementedError,
            "\"elu_cpu\" not implemented for 'Long'",
        ),
        (lambda: F.softshrink(ndgrad.randn(3), -1), RuntimeError, "lambda must be in range"),
        (lambda: F.celu(ndgrad.randn(3), 0.0), RuntimeError, "alpha cannot be 0 for CELU"),
        (
            lambda: F.rrelu(ndgrad.randn(3), 0.5, 0.2),
            RuntimeError,
            "Lower bound should be less than or equal",
        ),
        (lambda: F.relu6(np.ones(3)), TypeError, "must be Tensor, not numpy.ndarray"),
    ],
)
def test_bad_input_gets_torchs_exception(call, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        call()


def test_integer_inputs_where_torch_takes_them():
    x = torch.arange(-2, 9)
    for name, kwargs in [
        ("relu6", {}),
        ("hardtanh", {"min_val": 1, "max_val": 3}),
        ("threshold", {"threshold": 2, "value": 20}),
    ]:
        ref, out = getattr(TF, name)(x, **kwargs), getattr(F, name)(to_nd(x), **kwargs)
        assert out.dtype == ndgrad.int64 and out.tolist() == ref.tolist()
    assert F.softsign(ndgrad.arange(3)).dtype == ndgrad.float32
