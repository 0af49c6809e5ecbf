"""``nn.Bilinear``/``F.bilinear``, ``nn.LazyInstanceNorm1d/2d/3d`` and ``nn.SyncBatchNorm``
(+ ``convert_sync_batchnorm``) vs torch 2.13: values, gradients, reprs, state_dicts, the
initialisation's range and PyTorch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd import gradcheck, gradgradcheck

from ._error_table import check_same_outcome


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("lead", [(4,), (2, 3), (), (0,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(lead: tuple, bias: bool, dtype: str) -> None:
    rng = np.random.default_rng(5)
    arrays = [
        rng.normal(size=lead + (3,)),
        rng.normal(size=lead + (5,)),
        rng.normal(size=(4, 3, 5)),
        rng.normal(size=4),
    ][: 4 if bias else 3]
    ts = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    ns = [ndgrad.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out_t, out_n = torch.nn.functional.bilinear(*ts), ndgrad.nn.functional.bilinear(*ns)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-11, "atol": 1e-12}
    assert out_n.shape == tuple(out_t.shape) and out_n.dtype == getattr(ndgrad, dtype)
    np.testing.assert_allclose(out_n.detach().numpy(), out_t.detach().numpy(), **tol)
    g = rng.normal(size=tuple(out_t.shape)).astype(dtype)
    out_t.backward(torch.tensor(g))
    out_n.backward(ndgrad.tensor(g))
    for t, n in zip(ts, ns, strict=True):
        np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), **tol)


def test_bilinear_second_order_and_module() -> None:
    rng = np.random.default_rng(6)
    args = [ndgrad.tensor(rng.normal(size=s), requires_grad=True) for s in ((2, 3), (2, 4))]
    w = ndgrad.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    b = ndgrad.tensor(rng.normal(size=2), requires_grad=True)
    fn = ndgrad.nn.functional.bilinear
    assert gradcheck(fn, (*args, w, b))
    assert gradgradcheck(fn, (*args, w, b))
    m, ref = ndgrad.nn.Bilinear(30, 4, 5), torch.nn.Bilinear(30, 4, 5)
    assert repr(m) == repr(ref)
    assert list(m.state_dict()) == list(ref.state_dict())
    assert m.weight.shape == (5, 30, 4) and m.weight.dtype == ndgrad.float32
    bound = 1 / np.sqrt(30)  # PyTorch's U(-1/sqrt(in1), 1/sqrt(in1)) for weight and bias
    for p in (m.weight, m.bias):
        assert np.abs(p.detach().numpy()).max() <= bound
        assert np.abs(p.detach().numpy()).max() > 0.5 * bound
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    x1, x2 = rng.normal(size=(6, 30)).astype("float32"), rng.normal(size=(6, 4)).astype("float32")
    np.testing.assert_allclose(
        m(ndgrad.tensor(x1), ndgrad.tensor(x2)).detach().numpy(),
        ref(torch.tensor(x1), torch.tensor(x2)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    assert repr(ndgrad.nn.Bilinear(2, 3, 4, bias=False)) == repr(torch.nn.Bilinear(2, 3, 4, False))


@pytest.mark.parametrize(
    "name_shape",
    [
        ("LazyInstanceNorm1d", (2, 3, 7)),
        ("LazyInstanceNorm2d", (2, 3, 4, 5)),
        ("LazyInstanceNorm3d", (1, 3, 4, 5, 6)),
        ("LazyInstanceNorm2d", (5, 4, 6)),
    ],
    ids=str,
)
@pytest.mark.parametrize(
    "kw", [{}, {"affine": False, "track_running_stats": False}, {"momentum": None}], ids=str
)
def test_lazy_instance_norm_matches_torch(name_shape: tuple, kw: dict) -> None:
    name, shape = name_shape
    x = np.random.default_rng(2).normal(size=shape).astype("float32")
    m, ref = getattr(ndgrad.nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(m) == repr(ref)
    outs = []
    for model, lib in ((m, ndgrad), (ref, torch)):
        try:
            outs.append(model(lib.tensor(x)).detach().numpy())
        except ValueError as exc:  # unbatched input: PyTorch's lazy rule reads dim 1 too
            outs.append(str(exc))
    if isinstance(outs[1], str):
        assert outs[0] == outs[1]
        return
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    assert type(m).__name__ == type(ref).__name__ and repr(m) == repr(ref)
    state, ref_state = m.state_dict(), ref.state_dict()
    assert list(state) == list(ref_state)
    for key in state:
        np.testing.assert_allclose(state[key].numpy(), ref_state[key].numpy(), rtol=1e-6)
    m.eval()
    ref.eval()
    np.testing.assert_allclose(
        m(ndgrad.tensor(x)).detach().numpy(),
        ref(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 4)], ids=str)
@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"track_running_stats": False}], ids=str)
def test_sync_batch_norm_on_cpu_is_batch_norm(shape: tuple, kw: dict) -> None:
    rng = np.random.default_rng(3)
    m, ref = ndgrad.nn.SyncBatchNorm(3, **kw), torch.nn.SyncBatchNorm(3, **kw)
    assert repr(m) == repr(ref)
    for training in (True, True, False):
        m.train(training)
        ref.train(training)
        x = rng.normal(size=shape).astype("float32")
        xn, xt = ndgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yn, yt = m(xn), ref(xt)
        np.testing.assert_allclose(yn.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
        g = rng.normal(size=shape).astype("float32")
        yn.backward(ndgrad.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    state, ref_state = m.state_dict(), ref.state_dict()
    assert list(state) == list(ref_state)
    for key in state:
        np.testing.assert_allclose(state[key].numpy(), ref_state[key].numpy(), rtol=1e-5)


def test_convert_sync_batchnorm_shares_parameters() -> None:
    nn = ndgrad.nn
    net = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3), nn.Sequential(nn.BatchNorm1d(3)))
    net.eval()
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(3, 3, 1),
        torch.nn.BatchNorm2d(3),
        torch.nn.Sequential(torch.nn.BatchNorm1d(3)),
    )
    out = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    ref_out = torch.nn.SyncBatchNorm.convert_sync_batchnorm(ref)
    assert repr(out) == repr(ref_out)
    assert out[1].weight is net[1].weight and out[1].running_mean is net[1].running_mean
    assert not out[1].training and not out[2][0].training
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm3d(4, momentum=None))
    assert repr(single) == repr(torch.nn.SyncBatchNorm(4, momentum=None))


ARRAYS = {
    "x": np.random.default_rng(0).normal(size=(2, 3, 5, 6, 7)),
    "x4": np.random.default_rng(1).normal(size=(2, 3, 9, 8)),
}
CASES = """
nn.LazyInstanceNorm1d()
nn.LazyInstanceNorm3d(affine=False)
nn.LazyInstanceNorm2d(eps=1e-3, momentum=None, track_running_stats=False)
list(nn.LazyInstanceNorm2d().state_dict().keys())
nn.LazyInstanceNorm1d()(x4[0,0])
nn.LazyInstanceNorm1d()(x4)
nn.LazyInstanceNorm2d()(x4)
nn.LazyInstanceNorm3d()(x)
nn.SyncBatchNorm(3, affine=False, track_running_stats=False, bias=False)
nn.SyncBatchNorm(3)(x4[0, 0, 0])
nn.SyncBatchNorm(3)(x4[:, :0])
nn.SyncBatchNorm(4)(x4)
list(nn.SyncBatchNorm(3).state_dict().keys())
nn.Bilinear(9, 8, 5)(x4, x4)
nn.Bilinear(8, 8, 5, dtype=T.float64)(x4, x4)
nn.Bilinear(8, 8, 5, dtype=T.float64)(x4, x4[0])
nn.Bilinear(8, 8, 5, dtype=T.float64)(x4, x4[:, :2])
nn.Bilinear(9, 8, 5, dtype=T.float64)(x4, x4)
nn.Bilinear(8, 9, 5, dtype=T.float64)(x4, x4)
F.bilinear(x4, x4, T.zeros(5, 8, 8, dtype=T.float64), T.zeros(4, dtype=T.float64))
F.bilinear(x4[:0], x4[:0], T.zeros(5, 8, 8, dtype=T.float64))
F.bilinear(x4.float(), x4, T.randn(4,8,8))
F.bilinear(x4.float(), x4.float(), T.randn(4,8,8), T.randn(4).double())
F.bilinear(x4.long(), x4.float(), T.randn(4,8,8))
F.bilinear(x4.long(), x4.long(), T.randn(4,8,8).long())
F.bilinear(x4[0,0,0], x4[0,0,0], T.randn(4,8,8).double())
F.bilinear(x4.float(), x4.float(), T.randn(4,8))
""".strip().splitlines()


@pytest.mark.parametrize("expr", CASES)
def test_errors_reprs_and_shapes_as_torch(expr: str) -> None:
    check_same_outcome(expr, ARRAYS)
