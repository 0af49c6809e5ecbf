"""Normalisation layers against torch 2.13: batch, layer, group and instance norm.

Outputs and gradients (float32/float64), running statistics over several training steps
(momentum 0.1 and None), eval mode, track_running_stats=False, affine=False, lazy modules,
state_dict keys and loading, repr, errors, second order, and d2l's LeNet-style MLP with
BatchNorm1d.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.nn._helpers import to_nd, to_torch

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

TOL = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-9, "atol": 1e-10}}


def _data(shape: tuple, dtype: str, seed: int = 0, scale: float = 2.0, shift: float = 1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale + shift).astype(dtype)


def _close(a, b, dtype: str) -> None:
    a = a.detach().numpy() if hasattr(a, "detach") else a
    b = b.detach().numpy() if hasattr(b, "detach") else b
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), **TOL[dtype])


def _pair(ours: nn.Module, theirs: torch.nn.Module) -> None:
    """Same (random) affine parameters in both modules."""
    rng = np.random.default_rng(7)
    with torch.no_grad():
        for _, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    ours.load_state_dict({k: to_nd(v) for k, v in theirs.state_dict().items()})


def _step(ours, theirs, x: np.ndarray, dtype: str, g_seed: int = 3):
    xa = ndgrad.tensor(x, requires_grad=True)
    xb = torch.tensor(x, requires_grad=True)
    ya, yb = ours(xa), theirs(xb)
    _close(ya, yb, dtype)
    g = _data(tuple(yb.shape), dtype, g_seed, 1.0, 0.0)
    ya.backward(ndgrad.tensor(g))
    yb.backward(torch.tensor(g))
    _close(xa.grad, xb.grad, dtype)
    for (name, pa), (_, pb) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert pa.grad is not None, name
        _close(pa.grad, pb.grad, dtype)
    return ya, yb


# ----------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "cls,shape",
    [("BatchNorm1d", (5, 3)), ("BatchNorm1d", (4, 3, 7)), ("BatchNorm2d", (3, 4, 5, 6))],
)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_training_steps_and_eval_match_torch(dtype, cls, shape, momentum):
    ours = getattr(nn, cls)(shape[1], momentum=momentum)
    theirs = getattr(torch.nn, cls)(shape[1], momentum=momentum)
    if dtype == "float64":
        ours, theirs = ours.double(), theirs.double()
    _pair(ours, theirs)
    for step in range(3):
        _step(ours, theirs, _data(shape, dtype, step, 2.0, step), dtype)
        for name in ("running_mean", "running_var"):
            _close(getattr(ours, name), getattr(theirs, name), dtype)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 3
    assert ours.num_batches_tracked.dtype == ndgrad.int64
    ours.eval()
    theirs.eval()
    ya, yb = _step(ours, theirs, _data(shape, dtype, 9), dtype)
    assert ya.grad_fn.name() == yb.grad_fn.name() == "NativeBatchNormBackward0"
    assert ours.num_batches_tracked.item() == 3


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_without_running_stats_uses_batch_stats_in_eval(affine):
    ours = nn.BatchNorm2d(3, affine=affine, track_running_stats=False)
    theirs = torch.nn.BatchNorm2d(3, affine=affine, track_running_stats=False)
    assert ours.running_mean is None and ours.num_batches_tracked is None
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.eval()
    theirs.eval()
    _step(ours, theirs, _data((2, 3, 4, 4), "float32"), "float32")


def test_batch_norm_affine_false_and_bias_false():
    for kwargs in ({"affine": False}, {"bias": False}):
        ours, theirs = nn.BatchNorm1d(4, **kwargs), torch.nn.BatchNorm1d(4, **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
        _pair(ours, theirs)
        _step(ours, theirs, _data((6, 4), "float32"), "float32")


def test_batch_norm_state_dict_order_repr_and_load():
    ours, theirs = nn.BatchNorm2d(6), torch.nn.BatchNorm2d(6)
    keys = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == keys
    assert repr(ours) == repr(theirs)
    for kwargs in ({"momentum": None}, {"eps": 1e-3, "affine": False}):
        assert repr(nn.BatchNorm1d(3, **kwargs)) == repr(torch.nn.BatchNorm1d(3, **kwargs))
    theirs.train()
    theirs(torch.randn(4, 6, 3, 3))
    ours.load_state_dict({k: to_nd(v) for k, v in theirs.state_dict().items()})
    assert ours.num_batches_tracked.item() == 1
    _close(ours.running_var, theirs.running_var, "float32")
    # an old dict without num_batches_tracked loads (PyTorch's version-1 rule)
    old = {k: to_nd(v) for k, v in theirs.state_dict().items() if k != "num_batches_tracked"}
    nn.BatchNorm2d(6).load_state_dict(old)


def test_lazy_batch_norm_materialises_and_becomes_batch_norm():
    ours, theirs = nn.LazyBatchNorm2d(), torch.nn.LazyBatchNorm2d()
    assert repr(ours) == repr(theirs)
    assert [repr(v) for v in ours.state_dict().values()][:4] == [
        repr(v) for v in theirs.state_dict().values()
    ][:4]
    x = _data((2, 5, 3, 3), "float32")
    _close(ours(ndgrad.tensor(x)), theirs(torch.tensor(x)), "float32")
    assert type(ours) is nn.BatchNorm2d and ours.num_features == 5
    assert repr(ours) == repr(theirs)
    _close(ours.running_mean, theirs.running_mean, "float32")
    lazy = nn.LazyBatchNorm1d()
    lazy.load_state_dict({k: to_nd(v) for k, v in torch.nn.BatchNorm1d(4).state_dict().items()})
    assert lazy.running_var.shape == (4,)


def test_batch_norm_module_and_functional_errors():
    with pytest.raises(ValueError, match=r"^expected 4D input \(got 2D input\)$"):
        nn.BatchNorm2d(3)(ndgrad.randn(2, 3))
    with pytest.raises(ValueError, match=r"^expected 2D or 3D input \(got 4D input\)$"):
        nn.BatchNorm1d(3)(ndgrad.randn(2, 3, 4, 5))
    with pytest.raises(
        ValueError,
        match=r"Expected more than 1 value per channel when training, got input size "
        r"\w+\.Size\(\[1, 3\]\)",
    ):
        nn.BatchNorm1d(3)(ndgrad.randn(1, 3))
    rm, rv = ndgrad.zeros(3), ndgrad.ones(3)
    with pytest.raises(RuntimeError, match="^running_mean should contain 4 elements not 3$"):
        F.batch_norm(ndgrad.randn(2, 4), rm, rv, training=True)
    with pytest.raises(RuntimeError, match="^weight should contain 3 elements not 4$"):
        F.batch_norm(ndgrad.randn(2, 3), rm, rv, ndgrad.ones(4))
    with pytest.raises(RuntimeError, match="^running_mean must be defined in evaluation mode$"):
        F.batch_norm(ndgrad.randn(2, 3), None, None)
    with pytest.raises(RuntimeError, match="mixed dtype"):
        F.batch_norm(ndgrad.randn(2, 3, dtype=ndgrad.float64), rm, rv, training=True)
    with pytest.raises(TypeError, match="momentum"):
        F.batch_norm(ndgrad.randn(2, 3), rm, rv, training=True, momentum=None)


def test_batch_norm_functional_updates_running_stats_like_torch():
    x = _data((5, 3, 4), "float32")
    ours = [ndgrad.zeros(3), ndgrad.ones(3)]
    theirs = [torch.zeros(3), torch.ones(3)]
    for m in (0.1, 0.5, 1.0):
        F.batch_norm(ndgrad.tensor(x), *ours, training=True, momentum=m)
        torch.nn.functional.batch_norm(torch.tensor(x), *theirs, training=True, momentum=m)
        for a, b in zip(ours, theirs):
            _close(a, b, "float32")
    # an empty batch is allowed; in training it leaves the statistics alone, as PyTorch
    assert F.batch_norm(ndgrad.zeros(0, 3), *ours).shape == (0, 3)
    before = [t.numpy().copy() for t in ours]
    x = ndgrad.zeros(0, 3, 2, requires_grad=True)
    F.batch_norm(x, *ours, training=True).sum().backward()
    assert x.grad.shape == (0, 3, 2)
    for a, b in zip(ours, before):
        np.testing.assert_array_equal(a.numpy(), b)


# ----------------------------------------------------------------------------- layer/group norm
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ns,shape", [(8, (3, 8)), ((4, 5), (2, 3, 4, 5)), ((7,), (7,))])
@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"elementwise_affine": False}])
def test_layer_norm_matches_torch(dtype, ns, shape, kwargs):
    ours, theirs = nn.LayerNorm(ns, **kwargs), torch.nn.LayerNorm(ns, **kwargs)
    if dtype == "float64":
        ours, theirs = ours.double(), theirs.double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _pair(ours, theirs)
    ya, yb = _step(ours, theirs, _data(shape, dtype), dtype)
    assert ya.grad_fn.name() == yb.grad_fn.name()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "groups,shape", [(2, (3, 6, 4)), (3, (2, 6, 2, 3)), (1, (4, 5)), (6, (2, 6, 5))]
)
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(dtype, groups, shape, affine):
    ours = nn.GroupNorm(groups, shape[1], affine=affine)
    theirs = torch.nn.GroupNorm(groups, shape[1], affine=affine)
    if dtype == "float64":
        ours, theirs = ours.double(), theirs.double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _pair(ours, theirs)
    ya, yb = _step(ours, theirs, _data(shape, dtype), dtype)
    assert ya.grad_fn.name() == yb.grad_fn.name() == "NativeGroupNormBackward0"


def test_instance_norm_matches_torch():
    x = _data((3, 4, 6), "float64")
    w, b = _data((4,), "float64", 1), _data((4,), "float64", 2)
    rm = [ndgrad.zeros(4, dtype=ndgrad.float64), ndgrad.ones(4, dtype=ndgrad.float64)]
    rt = [torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)]
    xa, xb = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya = F.instance_norm(xa, *rm, ndgrad.tensor(w), ndgrad.tensor(b))
    yb = torch.nn.functional.instance_norm(xb, *rt, torch.tensor(w), torch.tensor(b))
    _close(ya, yb, "float64")
    for a, c in zip(rm, rt):
        _close(a, c, "float64")
    (ya * ya).sum().backward()
    (yb * yb).sum().backward()
    _close(xa.grad, xb.grad, "float64")
    ya = F.instance_norm(ndgrad.tensor(x), *rm, use_input_stats=False)
    yb = torch.nn.functional.instance_norm(torch.tensor(x), *rt, use_input_stats=False)
    _close(ya, yb, "float64")


def test_layer_and_group_norm_errors():
    with pytest.raises(
        RuntimeError,
        match=r"^Expected number of channels in input to be divisible by num_groups, but got "
        r"input of shape \[2, 6, 4\] and num_groups=4$",
    ):
        F.group_norm(ndgrad.randn(2, 6, 4), 4)
    with pytest.raises(RuntimeError, match=r"Expected weight to be a vector of size equal"):
        F.group_norm(ndgrad.randn(2, 6, 4), 3, ndgrad.ones(5))
    with pytest.raises(RuntimeError, match="^Expected at least 2 dimensions"):
        F.group_norm(ndgrad.randn(6), 3)
    with pytest.raises(ValueError, match=r"^num_channels \(6\) must be divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(
        RuntimeError,
        match=r"^Given normalized_shape=\[5\], expected input with shape \[\*, 5\], but got "
        r"input of size\[2, 6, 4\]$",
    ):
        F.layer_norm(ndgrad.randn(2, 6, 4), (5,))
    with pytest.raises(RuntimeError, match=r"Expected weight to be of same shape as normalized"):
        F.layer_norm(ndgrad.randn(2, 6, 4), (6, 4), ndgrad.ones(4))
    with pytest.raises(TypeError, match="must be tuple of ints, not int"):
        F.layer_norm(ndgrad.randn(2, 4), 4)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
        F.instance_norm(ndgrad.randn(2, 3, 1))
    ints = ndgrad.ones(2, 3, dtype=ndgrad.int64)
    with pytest.raises(NotImplementedError, match="^\"batch_norm\" not implemented for 'Long'$"):
        F.batch_norm(ints, None, None, training=True)
    with pytest.raises(NotImplementedError, match="LayerNormKernelImpl"):
        F.layer_norm(ints, (3,))
    with pytest.raises(NotImplementedError, match="GroupNormKernelImpl"):
        F.group_norm(ints, 1)


# ----------------------------------------------------------------------------- second order
def _t(shape: tuple, seed: int, shift: float = 0.0) -> ndgrad.Tensor:
    return ndgrad.tensor(_data(shape, "float64", seed, 1.0, shift), requires_grad=True)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_first_and_second_order(training):
    x, w, b = _t((3, 2, 2), 0), _t((2,), 1, 1.0), _t((2,), 2)
    rm, rv = (
        ndgrad.tensor([0.3, -0.2], dtype=ndgrad.float64),
        ndgrad.tensor([0.8, 1.5], dtype=ndgrad.float64),
    )

    def f(x, w, b):
        return F.batch_norm(x, None if training else rm, None if training else rv, w, b, training)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))
    assert gradgradcheck(lambda x: F.batch_norm(x, None, None, training=True), (x,))


def test_layer_and_group_norm_second_order():
    x = _t((2, 4, 3), 0)
    w, b = _t((4, 3), 1, 1.0), _t((4, 3), 2)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (4, 3), w, b), (x, w, b))
    assert gradgradcheck(lambda x, w, b: F.layer_norm(x, (4, 3), w, b), (x, w, b))
    assert gradgradcheck(lambda x: F.layer_norm(x, (3,)), (x,))
    w, b = _t((4,), 3, 1.0), _t((4,), 4)
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    assert gradgradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    assert gradgradcheck(lambda x, b: F.group_norm(x, 4, None, b), (x, b))


def test_saved_input_modified_in_place_is_caught():
    x = ndgrad.randn(4, 3, requires_grad=True)
    h = x * 1
    y = F.batch_norm(h, None, None, training=True)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ----------------------------------------------------------------------------- d2l LeNet-style
def test_d2l_batch_norm_mlp_trains_like_torch():
    """d2l 8.5's BatchNorm placement (after each affine layer, before the sigmoid) on an MLP."""

    def build(lib):
        m = lib.nn
        return m.Sequential(
            m.Linear(20, 12), m.BatchNorm1d(12), m.Sigmoid(),
            m.Linear(12, 8), m.BatchNorm1d(8), m.Sigmoid(),
            m.Linear(8, 3),
        )  # fmt: skip

    ours, theirs = build(ndgrad), build(torch)
    ours.load_state_dict({k: to_nd(v) for k, v in theirs.state_dict().items()})
    opt_a = ndgrad.optim.SGD(ours.parameters(), lr=0.5)
    opt_b = torch.optim.SGD(theirs.parameters(), lr=0.5)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((16, 20)).astype(np.float32)
        t = rng.integers(0, 3, 16)
        la = F.cross_entropy(ours(ndgrad.tensor(x)), ndgrad.tensor(t))
        lb = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(t))
        _close(la, lb, "float32")
        opt_a.zero_grad()
        opt_b.zero_grad()
        la.backward()
        lb.backward()
        opt_a.step()
        opt_b.step()
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert np.allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5), k
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((5, 20)).astype(np.float32)
    _close(ours(ndgrad.tensor(x)), theirs(torch.tensor(x)), "float32")
    assert to_torch(ours[1].num_batches_tracked).item() == 3


@pytest.mark.parametrize(
    "cls,shape,kwargs",
    [
        ("InstanceNorm1d", (2, 3, 5), {}),
        ("InstanceNorm1d", (3, 5), {"affine": True}),
        ("InstanceNorm2d", (2, 3, 4, 4), {"affine": True, "track_running_stats": True}),
        ("InstanceNorm2d", (3, 4, 4), {"track_running_stats": True}),
    ],
)
def test_instance_norm_modules_match_torch(cls, shape, kwargs):
    ours, theirs = getattr(nn, cls)(3, **kwargs), getattr(torch.nn, cls)(3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _pair(ours, theirs)
    for step in range(2):
        _step(ours, theirs, _data(shape, "float32", step), "float32")
    if ours.running_mean is not None:
        _close(ours.running_mean, theirs.running_mean, "float32")
        _close(ours.running_var, theirs.running_var, "float32")
    ours.eval()
    theirs.eval()
    _step(ours, theirs, _data(shape, "float32", 5), "float32")
    with pytest.raises(ValueError, match=r"^expected \dD or \dD input \(got 1D input\)$"):
        ours(ndgrad.randn(4))
