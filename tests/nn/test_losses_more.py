"""The margin, embedding and likelihood losses (functional and module) against torch 2.13:
values and gradients in float64 (every reduction, the options, broadcasting, exact kinks),
float32 values, finite differences to second order, reprs, state_dicts and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ndgrad
from ndgrad import nn
from ndgrad.autograd import gradcheck, gradgradcheck
from ndgrad.nn import functional as F

REDUCTIONS = ["none", "mean", "sum"]


def _nd(t: torch.Tensor, requires_grad: bool = False) -> ndgrad.Tensor:
    out = ndgrad.tensor(t.detach().numpy().copy())
    return out.requires_grad_(True) if requires_grad else out


def _compare(name, args, grads=(0,), atol=1e-12, rtol=1e-10, **kw):
    """``F.name`` and ``TF.name`` on the same inputs: values, then the gradients of ``grads``
    under a non-uniform upstream gradient; returns ndgrad's output."""
    th = [
        a.detach().clone().requires_grad_(i in grads) if isinstance(a, torch.Tensor) else a
        for i, a in enumerate(args)
    ]
    ours = [_nd(a, i in grads) if isinstance(a, torch.Tensor) else a for i, a in enumerate(args)]
    kw_nd = {k: _nd(v) if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
    ref = getattr(TF, name)(*th, **kw)
    out = getattr(F, name)(*ours, **kw_nd)
    assert out.shape == tuple(ref.shape)
    assert out.dtype == getattr(ndgrad, str(ref.dtype).split(".")[1])
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol, atol)
    if ref.requires_grad:
        seed = torch.rand(ref.shape, dtype=ref.dtype, generator=torch.Generator().manual_seed(3))
        ref.backward(seed + 0.5)
        out.backward(_nd(seed + 0.5))
        for i in grads:
            np.testing.assert_allclose(ours[i].grad.numpy(), th[i].grad.numpy(), rtol, atol)
    return out


def _rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _signs(*shape, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 2, shape, generator=g) * 2 - 1).double()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pairwise_margin_losses_match_torch(reduction):
    x1, x2, y = _rand(6, seed=0), _rand(6, seed=1), _signs(6)
    for margin in (0.0, 0.4):
        _compare("margin_ranking_loss", (x1, x2, y), (0, 1, 2), margin=margin, reduction=reduction)
    # target broadcast over a batch of rows; an integer target
    a, b = _rand(3, 4, seed=2), _rand(3, 4, seed=3)
    _compare("margin_ranking_loss", (a, b, _signs(1, 4)), (0, 1), reduction=reduction)
    _compare("margin_ranking_loss", (x1, x2, y.long()), (0, 1), reduction=reduction)
    x, t = _rand(4, 5, seed=4), _signs(4, 5)
    for margin in (1.0, 0.3):
        _compare("hinge_embedding_loss", (x, t), margin=margin, reduction=reduction)
    t[0, :2] = 0.0  # neither 1 nor -1: both terms count, as in PyTorch
    _compare("hinge_embedding_loss", (x, t), reduction=reduction)
    _compare("hinge_embedding_loss", (x, _signs(5)), reduction=reduction)
    _compare("soft_margin_loss", (x * 3, _signs(4, 5)), reduction=reduction)
    _compare("soft_margin_loss", (x, _signs(5)), reduction=reduction)  # target broadcast
    _compare("soft_margin_loss", (x, _signs(4, 5).long()), reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_and_triplet_losses_match_torch(reduction):
    a, b, y = _rand(5, 4, seed=0), _rand(5, 4, seed=1), _signs(5)
    for margin in (0.0, -0.2, 0.3):
        _compare("cosine_embedding_loss", (a, b, y), (0, 1), margin=margin, reduction=reduction)
    _compare("cosine_embedding_loss", (a[0], b[0], y[0]), (0, 1), reduction=reduction)
    _compare("cosine_embedding_loss", (a, a * 2.5, y.long()), (0, 1), reduction=reduction)
    n = _rand(5, 4, seed=2)
    for p in (1, 2, 3, 1.5):
        for swap in (False, True):
            _compare(
                "triplet_margin_loss", (a, b, n), (0, 1, 2),
                p=p, swap=swap, margin=0.7, reduction=reduction,
            )  # fmt: skip
    _compare("triplet_margin_loss", (a, b[:1], n), (0, 1, 2), eps=0.1, reduction=reduction)
    _compare("triplet_margin_loss", (a[0], b[0], n[0]), (0, 1, 2), reduction=reduction)
    _compare("triplet_margin_loss", (a.view(5, 2, 2), b.view(5, 2, 2), n.view(5, 2, 2)), (0,))
    for swap in (False, True):
        _compare(
            "triplet_margin_with_distance_loss", (a, b, n), (0, 1, 2),
            swap=swap, margin=2.0, reduction=reduction,
        )  # fmt: skip
    th_l1 = lambda u, v: (u - v).abs().sum(-1)  # noqa: E731 - a custom distance
    ref = TF.triplet_margin_with_distance_loss(a, b, n, distance_function=th_l1, swap=True)
    ours = F.triplet_margin_with_distance_loss(
        _nd(a), _nd(b), _nd(n), distance_function=th_l1, swap=True
    )
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), 1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_and_multi_margin_losses_match_torch(reduction):
    x = _rand(5, 4, seed=0) * 2
    probs = torch.rand(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w = torch.rand(4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + 0.1
    _compare("multilabel_soft_margin_loss", (x, probs), (0, 1), reduction=reduction)
    _compare("multilabel_soft_margin_loss", (x, probs), (0, 1), weight=w, reduction=reduction)
    _compare("multilabel_soft_margin_loss", (x.view(5, 2, 2), probs.view(5, 2, 2)), (0,))
    _compare("multilabel_soft_margin_loss", (x[0], (probs[0] > 0.5).long()), reduction=reduction)
    y = torch.tensor([0, 3, 1, 1, 2])
    for p in (1, 2):
        for margin in (1.0, 0.3):
            _compare("multi_margin_loss", (x, y), p=p, margin=margin, reduction=reduction)
            _compare("multi_margin_loss", (x, y), p=p, margin=margin, weight=w, reduction=reduction)
        _compare("multi_margin_loss", (x[1], y[1:2]), p=p, reduction=reduction)
        _compare("multi_margin_loss", (x[1], y[1]), p=p, reduction=reduction)
    targets = torch.tensor(
        [[0, 2, -1, 1], [3, -1, 0, 0], [1, 1, 2, -1], [-1, 0, 0, 0], [0, 1, 2, 3]]
    )
    _compare("multilabel_margin_loss", (x, targets), reduction=reduction)
    _compare("multilabel_margin_loss", (x[0], targets[0]), reduction=reduction)
    _compare("multilabel_margin_loss", (x[0, 0], torch.tensor(0)), reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_likelihood_losses_match_torch(reduction):
    x = _rand(4, 3, seed=0)
    counts = torch.tensor([[0.0, 1, 2], [3, 0.5, 7], [1, 1, 4], [10, 0, 2]], dtype=torch.float64)
    for full in (False, True):
        _compare("poisson_nll_loss", (x, counts), (0, 1), full=full, reduction=reduction)
        _compare(
            "poisson_nll_loss", (x.abs() + 0.1, counts), (0, 1),
            log_input=False, full=full, eps=1e-3, reduction=reduction,
        )  # fmt: skip
    _compare("poisson_nll_loss", (x, counts.long()), full=True, reduction=reduction)
    _compare("poisson_nll_loss", (x, counts[0]), reduction=reduction)  # broadcast target
    mu, var = _rand(4, 3, seed=1), torch.rand(4, 3, dtype=torch.float64) + 0.05
    for v in (var, var[:, 0], var[:, :1], var[:1]):  # heteroscedastic and the homoscedastic forms
        for full in (False, True):
            _compare("gaussian_nll_loss", (x, mu, v), (0, 1, 2), full=full, reduction=reduction)
    _compare("gaussian_nll_loss", (x, mu, 0.7), (0, 1), reduction=reduction)
    _compare("gaussian_nll_loss", (x, mu[0], var), (0, 1, 2), reduction=reduction)
    # var under eps: clamped for the value, the gradient passes the clamp (PyTorch's no_grad)
    tiny = torch.tensor([1e-9, 0.5, 2e-7], dtype=torch.float64)
    _compare("gaussian_nll_loss", (x[0], mu[0], tiny), (0, 1, 2), eps=1e-6, rtol=1e-9)


def test_gradients_at_the_kinks_match_torch():
    # margins hit exactly: clamp_min lets the gradient through, the hand-written kernels
    # (multi-margin, multilabel margin) do not
    one, two = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([1.0, 1.0, 1.5])
    y = torch.tensor([1.0, 1.0, -1.0])
    for r in REDUCTIONS:
        _compare("margin_ranking_loss", (two, one, y), (0, 1), margin=1.0, reduction=r)
        _compare("hinge_embedding_loss", (one, -y), (0,), margin=1.0, reduction=r)
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    # the first row's cosine as ATen computes it (1e-12 added to the squared magnitudes)
    mags = ((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12)
    cos_0 = float(((a * b).sum(1) / mags.sqrt())[0])
    _compare("cosine_embedding_loss", (a, b, torch.tensor([-1.0, -1.0])), (0, 1), margin=cos_0)
    anc = torch.zeros(2, 2, dtype=torch.float64)
    pos = torch.tensor([[3.0, 4.0], [1.0, 0.0]], dtype=torch.float64)
    # margin + d(a, p) - d(a, n) == 0 for the first row (with eps=0); ties on swap
    _compare("triplet_margin_loss", (anc, pos, pos * 2), (0, 1, 2), margin=5.0, eps=0.0)
    _compare("triplet_margin_loss", (anc, pos, -pos), (0, 1, 2), eps=0.0, swap=True)
    x = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    for p in (1, 2):
        _compare("multi_margin_loss", (x, torch.tensor([1, 0])), p=p, reduction="sum")
    _compare("multilabel_margin_loss", (x, torch.tensor([[1, -1, 0], [0, 1, -1]])))


def test_float32_values_match_torch():
    g = torch.Generator().manual_seed(5)
    a, b, c = (torch.randn(6, 5, generator=g) for _ in range(3))
    y, t = _signs(6).float(), torch.randint(0, 5, (6,), generator=g)
    v = torch.rand(6, 5, generator=g) + 0.1
    cases = [
        ("margin_ranking_loss", (a[:, 0], b[:, 0], y), {"margin": 0.2}),
        ("hinge_embedding_loss", (a, _signs(6, 5).float()), {}),
        ("soft_margin_loss", (a, _signs(6, 5).float()), {}),
        ("soft_margin_loss", (a, _signs(6, 5)), {}),  # a float64 target: the input's dtype
        ("cosine_embedding_loss", (a, b, y), {}),
        ("triplet_margin_loss", (a, b, c), {"swap": True}),
        ("multilabel_soft_margin_loss", (a, (b > 0).float()), {}),
        ("multi_margin_loss", (a, t), {"p": 2}),
        ("multilabel_margin_loss", (a, torch.tensor([[4, 0, -1, 1, 2]] * 6)), {}),
        ("poisson_nll_loss", (a, v * 3), {"full": True}),
        ("gaussian_nll_loss", (a, b, v), {}),
    ]
    for name, args, kw in cases:
        for r in REDUCTIONS:
            _compare(name, args, (0,), atol=1e-6, rtol=1e-5, reduction=r, **kw)


def _t(a):
    return ndgrad.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def test_losses_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(0)
    x, z, n = (rng.normal(size=(3, 4)) for _ in range(3))
    s = ndgrad.tensor(rng.choice([-1.0, 1.0], size=(3, 4)))
    s1 = ndgrad.tensor([1.0, -1.0, 1.0])
    counts = ndgrad.tensor(rng.integers(0, 5, size=(3, 4)).astype(np.float64))
    cls = ndgrad.tensor([0, 3, 1])
    multi = ndgrad.tensor([[0, 2, -1, 1], [3, -1, 0, 0], [1, 2, 0, 3]])
    cases = [
        (lambda a, b: F.margin_ranking_loss(a[:, 0], b[:, 0], s1, margin=0.1), (x, z)),
        (lambda a: F.hinge_embedding_loss(a, s, margin=5.0), (x,)),
        (lambda a: F.soft_margin_loss(a, s), (x,)),
        (lambda a, b: F.cosine_embedding_loss(a, b, s1, margin=-1.5), (x, z)),
        (lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=20.0, swap=True), (x, z, n)),
        (lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=20.0, p=3), (x, z, n)),
        (lambda a, b: F.multilabel_soft_margin_loss(a, b.sigmoid()), (x, z)),
        (lambda a: F.multi_margin_loss(a * 0.1, cls, p=2, margin=5.0), (x,)),
        (lambda a: F.multi_margin_loss(a * 0.1, cls, margin=5.0), (x,)),
        (lambda a: F.multilabel_margin_loss(a * 0.1, multi), (x,)),
        (lambda a: F.poisson_nll_loss(a, counts, full=True), (x,)),
        (lambda a: F.poisson_nll_loss(a.exp(), counts, log_input=False), (x,)),
        (lambda a, b, c: F.gaussian_nll_loss(a, b, c.exp(), full=True), (x, z, n)),
        (lambda a, b, c: F.gaussian_nll_loss(a, b, c[:, 0].exp()), (x, z, n)),
    ]
    for fn, arrays in cases:
        inputs = tuple(_t(a) for a in arrays)
        assert gradcheck(fn, inputs)
        assert gradgradcheck(fn, inputs)


def _torch_error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - whatever torch raises is the reference
        return exc
    raise AssertionError("torch accepted the input")


def _same_error(nd_fn, torch_fn, exact=True):
    ref = _torch_error(torch_fn)
    with pytest.raises(type(ref)) as info:
        nd_fn()
    text = str(ref).replace("torch.", "ndgrad.")
    assert str(info.value) == text if exact else text in str(info.value), (info.value, ref)


def _both(fn_name, *args, **kw):
    """(ndgrad call, torch call) of ``F.fn_name`` on the same (torch) arguments."""
    nd_args = [_nd(a) if isinstance(a, torch.Tensor) else a for a in args]
    nd_kw = {k: _nd(v) if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
    return (
        lambda: getattr(F, fn_name)(*nd_args, **nd_kw),
        lambda: getattr(TF, fn_name)(*args, **kw),
    )


BAD_INPUT = [
    ("margin_ranking_loss", (torch.ones(4, 1), torch.ones(4), torch.ones(4)), {}),
    ("margin_ranking_loss", (torch.ones(4), torch.ones(4), torch.ones(4)), {"reduction": "x"}),
    ("soft_margin_loss", (torch.ones(3), torch.ones(4, 3)), {}),
    ("soft_margin_loss", (torch.ones(3).long(), torch.ones(3)), {}),
    ("cosine_embedding_loss", (torch.ones(4, 3), torch.ones(4, 3), torch.ones(2, 2)), {}),
    ("cosine_embedding_loss", (torch.ones(4, 3), torch.ones(3), torch.ones(4)), {}),
    ("cosine_embedding_loss", (torch.ones(4), torch.ones(4, 3), torch.tensor(1.0)), {}),
    ("triplet_margin_loss", (torch.ones(4, 3), torch.ones(4, 3), torch.ones(3)), {}),
    ("triplet_margin_loss", (torch.ones(2), torch.ones(2), torch.ones(2)), {"margin": 0}),
    (
        "triplet_margin_with_distance_loss",
        (torch.ones(2), torch.ones(2), torch.ones(2)),
        {"margin": -1.0},
    ),  # fmt: skip
    (
        "triplet_margin_with_distance_loss",
        (torch.ones(2), torch.ones(2), torch.ones(2)),
        {"reduction": "x"},
    ),  # fmt: skip
    ("multilabel_soft_margin_loss", (torch.ones(2, 3), torch.ones(2, 3)), {"reduction": "x"}),
    ("multilabel_soft_margin_loss", (torch.ones(()), torch.ones(())), {}),
    ("multi_margin_loss", (torch.ones(4, 3), torch.tensor([0, 1, 2])), {}),
    ("multi_margin_loss", (torch.ones(4, 3), torch.tensor([[0, 1], [2, 1]])), {}),
    ("multi_margin_loss", (torch.ones(3), torch.tensor([0, 1])), {}),
    ("multi_margin_loss", (torch.ones(4, 0), torch.tensor([0, 1, 2, 0])), {}),
    ("multi_margin_loss", (torch.ones(2, 4, 3), torch.tensor([0, 1])), {}),
    ("multi_margin_loss", (torch.ones(2, 3), torch.tensor([0.0, 1.0])), {}),
    ("multi_margin_loss", (torch.ones(2, 3), torch.tensor([0, 1]).int()), {}),
    ("multi_margin_loss", (torch.ones(2, 3), torch.tensor([0, 3])), {}),
    ("multi_margin_loss", (torch.ones(2, 3), torch.tensor([-1, 0])), {}),
    ("multi_margin_loss", (torch.ones(2, 3), torch.tensor([0, 1])), {"p": 3}),
    ("multi_margin_loss", (torch.ones(2, 3), torch.tensor([0, 1])), {"weight": torch.ones(1, 3)}),
    ("multi_margin_loss", (torch.ones(2, 3), torch.tensor([0, 1])), {"weight": torch.ones(4)}),
    (
        "multi_margin_loss",
        (torch.ones(2, 3), torch.tensor([0, 1])),
        {"weight": torch.ones(3).double()},
    ),  # fmt: skip
    ("multi_margin_loss", (torch.ones(2, 3).long(), torch.tensor([0, 1])), {}),
    ("multilabel_margin_loss", (torch.ones(4, 3), torch.zeros(3, 3).long()), {}),
    ("multilabel_margin_loss", (torch.ones(3), torch.zeros(1, 3).long()), {}),
    ("multilabel_margin_loss", (torch.ones(2, 3), torch.zeros(2, 3)), {}),
    ("multilabel_margin_loss", (torch.ones(2, 3), torch.tensor([[0, 3, -1]] * 2)), {}),
    ("multilabel_margin_loss", (torch.ones(2, 3), torch.tensor([[0, -1, -2]] * 2)), {}),
    ("multilabel_margin_loss", (torch.ones(2, 3, 1), torch.zeros(2, 3).long()), {}),
    ("multilabel_margin_loss", (torch.ones(2, 3).long(), torch.zeros(2, 3).long()), {}),
    ("poisson_nll_loss", (torch.ones(2), torch.ones(2)), {"reduction": "x"}),
    ("gaussian_nll_loss", (torch.ones(4, 3), torch.ones(4, 3), torch.ones(3)), {}),
    ("gaussian_nll_loss", (torch.ones(4, 3), torch.ones(4, 3), torch.ones(1, 1)), {}),
    ("gaussian_nll_loss", (torch.ones(4, 3), torch.ones(4, 3), torch.ones(4, 2)), {}),
    ("gaussian_nll_loss", (torch.ones(4, 3), torch.ones(4, 3), -0.5), {}),
    ("gaussian_nll_loss", (torch.ones(2), torch.ones(2), -torch.ones(2)), {}),
    ("gaussian_nll_loss", (torch.ones(2), torch.ones(2), torch.ones(2)), {"reduction": "x"}),
]


@pytest.mark.parametrize(("name", "args", "kw"), BAD_INPUT, ids=lambda v: str(v)[:40])
def test_bad_input_raises_like_torch(name, args, kw):
    _same_error(*_both(name, *args, **kw))


def test_broadcast_errors_and_target_gradient_like_torch():
    _same_error(*_both("hinge_embedding_loss", torch.ones(4, 3), torch.ones(5, 3)), exact=False)
    _same_error(*_both("poisson_nll_loss", torch.ones(4, 3), torch.ones(5, 3)), exact=False)
    t = torch.ones(3, requires_grad=True)
    _same_error(
        lambda: F.soft_margin_loss(ndgrad.ones(3), _nd(t, True)),
        lambda: TF.soft_margin_loss(torch.ones(3), t),
    )
    with ndgrad.no_grad():  # outside autograd a target that requires grad is fine
        F.soft_margin_loss(ndgrad.ones(3), _nd(t, True))
    w = torch.ones(3, requires_grad=True)
    _same_error(
        lambda: F.multi_margin_loss(ndgrad.ones(2, 3), ndgrad.tensor([0, 1]), weight=_nd(w, True)),
        lambda: TF.multi_margin_loss(torch.ones(2, 3), torch.tensor([0, 1]), weight=w),
    )


MODULES = [
    ("MarginRankingLoss", (), {"margin": 0.5}, 3),
    ("HingeEmbeddingLoss", (2.0,), {}, 2),
    ("SoftMarginLoss", (), {}, 2),
    ("CosineEmbeddingLoss", (0.1,), {}, 3),
    ("TripletMarginLoss", (0.5, 1.0), {"swap": True}, 3),
    ("TripletMarginWithDistanceLoss", (), {"swap": True}, 3),
    ("MultiLabelSoftMarginLoss", (), {}, 2),
    ("MultiMarginLoss", (2, 0.5), {}, 2),
    ("MultiLabelMarginLoss", (), {}, 2),
    ("PoissonNLLLoss", (False, True), {"eps": 1e-3}, 2),
    ("GaussianNLLLoss", (), {"full": True, "eps": 1e-4}, 3),
]


def _module_inputs(name: str, n: int) -> list:
    g = torch.Generator().manual_seed(0)
    x = [torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    if name in ("MarginRankingLoss", "CosineEmbeddingLoss"):
        x[2] = _signs(4) if name == "CosineEmbeddingLoss" else _signs(4, 3)
    elif name in ("HingeEmbeddingLoss", "SoftMarginLoss"):
        x[1] = _signs(4, 3)
    elif name == "MultiLabelSoftMarginLoss":
        x[1] = (x[1] > 0).double()
    elif name == "MultiMarginLoss":
        x[1] = torch.tensor([0, 2, 1, 1])
    elif name == "MultiLabelMarginLoss":
        x[1] = torch.tensor([[0, 2, -1], [1, -1, 0], [2, 1, 0], [-1, 0, 0]])
    elif name == "PoissonNLLLoss":
        x[0], x[1] = x[0].abs() + 0.1, x[1].abs().round()
    elif name == "GaussianNLLLoss":
        x[2] = x[2].abs()
    return x[:n]


@pytest.mark.parametrize(("name", "args", "kw", "n"), MODULES, ids=lambda v: str(v)[:30])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_modules_match_torch(name, args, kw, n, reduction):
    ref_mod = getattr(torch.nn, name)(*args, reduction=reduction, **kw)
    ours_mod = getattr(nn, name)(*args, reduction=reduction, **kw)
    inputs = _module_inputs(name, n)
    ref = ref_mod(*inputs)
    out = ours_mod(*[_nd(t) for t in inputs])
    np.testing.assert_allclose(out.numpy(), ref.numpy(), 1e-10, 1e-12)
    # the default distance is a child nn.PairwiseDistance where ndgrad has that module
    if name != "TripletMarginWithDistanceLoss" or hasattr(nn, "PairwiseDistance"):
        assert repr(ours_mod) == repr(ref_mod)
    assert list(ours_mod.state_dict()) == list(ref_mod.state_dict())


def test_loss_module_options_reprs_and_legacy_arguments():
    w = torch.rand(3, dtype=torch.float64)
    for name in ("MultiMarginLoss", "MultiLabelSoftMarginLoss"):
        ours = getattr(nn, name)(weight=_nd(w))
        ref = getattr(torch.nn, name)(weight=w)
        assert repr(ours) == repr(ref)
        assert list(ours.state_dict()) == ["weight"]
        np.testing.assert_array_equal(ours.state_dict()["weight"].numpy(), w.numpy())
        x, y = _rand(4, 3), torch.tensor([0, 2, 1, 1])
        if name == "MultiLabelSoftMarginLoss":
            y = (x > 0).double()
        np.testing.assert_allclose(ours(_nd(x), _nd(y)).numpy(), ref(x, y).numpy(), 1e-12)
    for name, kw in (
        ("TripletMarginLoss", {"margin": 0}),
        ("TripletMarginWithDistanceLoss", {"margin": -1}),
        ("MultiMarginLoss", {"p": 3}),
        ("MultiMarginLoss", {"weight": torch.ones(2, 2)}),
    ):
        nd_kw = {k: _nd(v) if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
        _same_error(lambda: getattr(nn, name)(**nd_kw), lambda: getattr(torch.nn, name)(**kw))  # noqa: B023
    ours = nn.PoissonNLLLoss(full=True, eps=1e-3)
    assert (ours.log_input, ours.full, ours.eps, ours.reduction) == (True, True, 1e-3, "mean")
    with pytest.warns(UserWarning, match="reduction='sum' instead"):
        mod = nn.MarginRankingLoss(size_average=False)
    assert mod.reduction == "sum"
    x = _rand(4, 3)
    for fn in ("soft_margin_loss", "multilabel_soft_margin_loss", "hinge_embedding_loss"):
        t = _signs(4, 3) if fn != "multilabel_soft_margin_loss" else (x > 0).double()
        with pytest.warns(UserWarning, match="reduction='none' instead"):
            out = getattr(F, fn)(_nd(x), _nd(t), reduce=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = getattr(TF, fn)(x, t, reduce=False)
        np.testing.assert_allclose(out.numpy(), ref.numpy(), 1e-12)


def test_grad_fn_names_match_torch():
    x = _rand(4, 3).requires_grad_()
    xs = _nd(x, True)
    pairs = [
        ("soft_margin_loss", (xs, _nd(_signs(4, 3))), (x, _signs(4, 3))),
        ("multi_margin_loss", (xs, ndgrad.tensor([0, 1, 2, 0])), (x, torch.tensor([0, 1, 2, 0]))),
        (
            "multilabel_margin_loss",
            (xs, ndgrad.tensor([[0, -1, 1]] * 4)),
            (x, torch.tensor([[0, -1, 1]] * 4)),
        ),  # fmt: skip
        ("margin_ranking_loss", (xs, xs * 2, _nd(_signs(4, 3))), (x, x * 2, _signs(4, 3))),
        ("triplet_margin_loss", (xs, xs * 2, xs * 3), (x, x * 2, x * 3)),
    ]
    for name, ours, ref in pairs:
        for r in REDUCTIONS:
            a = getattr(F, name)(*ours, reduction=r)
            b = getattr(TF, name)(*ref, reduction=r)
            assert a.grad_fn.name() == type(b.grad_fn).__name__, (name, r)
