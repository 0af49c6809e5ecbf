"""Every loss (functional and module) against torch 2.13: values and input gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from tests.nn._helpers import assert_close, to_nd, to_torch

import ndgrad
from ndgrad import nn
from ndgrad.nn import functional as F

REDUCTIONS = ["none", "mean", "sum"]
MAX_DIFF: dict[str, float] = {}


def _compare(name, ours_fn, ref_fn, *tensors, grad_idx=(0,), atol=1e-6, rtol=1e-5, **kwargs):
    """Runs both losses on the same inputs; compares values and gradients of ``grad_idx``."""
    nd_in = [
        to_nd(t, requires_grad=i in grad_idx and t.is_floating_point())
        for i, t in enumerate(tensors)
    ]
    th_in = [
        t.detach().clone().requires_grad_(i in grad_idx and t.is_floating_point())
        for i, t in enumerate(tensors)
    ]
    out = ours_fn(*nd_in, **kwargs)
    ref = ref_fn(*th_in, **kwargs)
    diff = assert_close(out, ref, atol=atol, rtol=rtol)
    seed = torch.rand(ref.shape, dtype=ref.dtype) + 0.5  # a non-uniform upstream gradient
    out.backward(to_nd(seed))
    ref.backward(seed)
    for i in grad_idx:
        if th_in[i].requires_grad:
            diff = max(diff, assert_close(nd_in[i].grad, th_in[i].grad, atol=atol, rtol=rtol))
    MAX_DIFF[name] = max(MAX_DIFF.get(name, 0.0), diff)
    return out


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4)])
def test_regression_losses_match_torch(reduction, shape):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(shape, generator=g), torch.randn(shape, generator=g) * 2
    for name in ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"):
        _compare(
            name, getattr(F, name), getattr(TF, name), x, y, grad_idx=(0, 1), reduction=reduction
        )
    _compare("huber_loss", F.huber_loss, TF.huber_loss, x, y, reduction=reduction, delta=0.3)
    _compare(
        "smooth_l1_loss", F.smooth_l1_loss, TF.smooth_l1_loss, x, y, reduction=reduction, beta=2.5
    )
    w = torch.rand(shape, generator=g)
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        ours = getattr(F, name)(to_nd(x), to_nd(y), reduction=reduction, weight=to_nd(w))
        ref = getattr(TF, name)(x, y, reduction=reduction, weight=w)
        assert_close(ours, ref)


def test_regression_loss_modules_and_broadcast_warning():
    x, y = torch.randn(4, 1), torch.randn(4, 1)
    for ours, ref in [
        (nn.MSELoss(), torch.nn.MSELoss()),
        (nn.L1Loss(reduction="sum"), None),
        (nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5)),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
    ]:
        ref = ref or torch.nn.L1Loss(reduction="sum")
        assert_close(ours(to_nd(x), to_nd(y)), ref(x, y))
    with pytest.warns(UserWarning, match="Using a target size"):
        out = F.mse_loss(ndgrad.zeros(3, 1), ndgrad.ones(3))
    assert out.item() == 1.0
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.mse_loss(ndgrad.zeros(2), ndgrad.zeros(2), reduction="foo")
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        F.huber_loss(ndgrad.zeros(2), ndgrad.zeros(2), delta=0)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert F.mse_loss(ndgrad.ones(2), ndgrad.zeros(2), size_average=False).item() == 2.0


def _ce_inputs(shape, n_classes, seed=0, ignore=False):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=g) * 3
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    target = torch.randint(0, n_classes, tshape, generator=g)
    if ignore and target.dim():
        target.view(-1)[::3] = -100
    return logits, target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7, 4), (4,), (3, 4, 5), (2, 3, 2, 2)])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices_matches_torch(reduction, shape, smoothing):
    C = shape[0] if len(shape) == 1 else shape[1]
    logits, target = _ce_inputs(shape, C, ignore=True)
    weight = torch.rand(C) + 0.2
    for w in (None, weight):
        kw = {"reduction": reduction, "label_smoothing": smoothing}
        nd_w = None if w is None else to_nd(w)
        out = _compare(
            "cross_entropy",
            lambda a, b, nd_w=nd_w, **k: F.cross_entropy(a, b, weight=nd_w, **k),
            lambda a, b, w=w, **k: TF.cross_entropy(a, b, weight=w, **k),
            logits,
            target,
            **kw,
        )
        assert out.dtype == ndgrad.float32
    ours = nn.CrossEntropyLoss(
        weight=to_nd(weight), reduction=reduction, label_smoothing=smoothing, ignore_index=1
    )
    ref = torch.nn.CrossEntropyLoss(
        weight=weight, reduction=reduction, label_smoothing=smoothing, ignore_index=1
    )
    target = target.clamp(min=0)
    assert_close(ours(to_nd(logits), to_nd(target)), ref(logits, target))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_match_torch(reduction, smoothing):
    g = torch.Generator().manual_seed(3)
    for shape in [(5, 4), (3, 4, 2), (4,)]:
        logits = torch.randn(shape, generator=g)
        dim = 0 if len(shape) == 1 else 1
        probs = torch.softmax(torch.randn(shape, generator=g), dim)
        weight = torch.rand(shape[dim], generator=g)
        for w in (None, weight):
            nd_w = None if w is None else to_nd(w)
            _compare(
                "cross_entropy_probs",
                lambda a, b, nd_w=nd_w, **k: F.cross_entropy(a, b, weight=nd_w, **k),
                lambda a, b, w=w, **k: TF.cross_entropy(a, b, weight=w, **k),
                logits,
                probs,
                grad_idx=(0, 1),
                reduction=reduction,
                label_smoothing=smoothing,
            )


def test_cross_entropy_is_stable_for_huge_logits():
    logits = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    target = torch.tensor([1, 2])
    out = _compare("cross_entropy_extreme", F.cross_entropy, TF.cross_entropy, logits, target)
    assert np.isfinite(out.item()) and abs(out.item() - 1000.6566) < 1e-3
    _compare(
        "cross_entropy_extreme",
        F.cross_entropy,
        TF.cross_entropy,
        logits.double(),
        target,
        reduction="none",
    )
    _compare(
        "cross_entropy_extreme",
        F.cross_entropy,
        TF.cross_entropy,
        logits,
        torch.tensor([0, 1]),
        reduction="sum",
    )


def test_cross_entropy_all_ignored_is_nan_like_torch():
    logits, target = torch.randn(3, 4), torch.full((3,), -100)
    assert np.isnan(F.cross_entropy(to_nd(logits), to_nd(target)).item())
    assert torch.isnan(TF.cross_entropy(logits, target))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction):
    for shape in [(6, 5), (5,), (2, 5, 3)]:
        C = shape[0] if len(shape) == 1 else shape[1]
        logits, target = _ce_inputs(shape, C, seed=4, ignore=True)
        logp = torch.log_softmax(logits, 0 if len(shape) == 1 else 1)
        w = torch.rand(C) + 0.1
        _compare("nll_loss", F.nll_loss, TF.nll_loss, logp, target, reduction=reduction)
        _compare(
            "nll_loss",
            lambda a, b, w=w, **k: F.nll_loss(a, b, weight=to_nd(w), **k),
            lambda a, b, w=w, **k: TF.nll_loss(a, b, weight=w, **k),
            logp,
            target.clamp(min=0),
            reduction=reduction,
            ignore_index=2,
        )
    ours = nn.NLLLoss(reduction=reduction)(to_nd(logp), to_nd(target))
    assert_close(ours, torch.nn.NLLLoss(reduction=reduction)(logp, target))


def _error(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize(
    "case",
    [
        "out_of_range",
        "negative",
        "spatial_out_of_range",
        "float_target",
        "int32_target",
        "batch_mismatch",
        "spatial_shape",
        "long_probs",
        "bad_weight",
        "bad_smoothing",
        "bad_reduction",
    ],
)
def test_classification_bad_input_raises_like_torch(case):
    x = torch.randn(3, 4)
    args = {
        "out_of_range": (x, torch.tensor([0, 1, 5])),
        "negative": (x, torch.tensor([0, 1, -3])),
        "spatial_out_of_range": (torch.randn(3, 4, 5), torch.tensor([[0, 1, 9, 0, 0]] * 3)),
        "float_target": (x, torch.tensor([0.0, 1.0, 2.0])),
        "int32_target": (x, torch.tensor([0, 1, 2], dtype=torch.int32)),
        "batch_mismatch": (x, torch.tensor([0, 1])),
        "spatial_shape": (torch.randn(3, 4, 2), torch.zeros(3, 3, dtype=torch.long)),
        "long_probs": (x, torch.zeros(3, 4, dtype=torch.long)),
        "bad_weight": (x, torch.tensor([0, 1, 2])),
        "bad_smoothing": (x, torch.tensor([0, 1, 2])),
        "bad_reduction": (x, torch.tensor([0, 1, 2])),
    }[case]
    kwargs = {
        "bad_weight": {"weight": torch.ones(3)},
        "bad_smoothing": {"label_smoothing": 1.5},
        "bad_reduction": {"reduction": "foo"},
    }.get(case, {})
    nd_kwargs = {k: to_nd(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    theirs = _error(TF.cross_entropy, *args, **kwargs)
    ours = _error(F.cross_entropy, *(to_nd(a) for a in args), **nd_kwargs)
    assert theirs is not None and ours is not None
    assert ours[0] is theirs[0]
    if case in (
        "out_of_range",
        "negative",
        "spatial_out_of_range",
        "float_target",
        "int32_target",
        "batch_mismatch",
        "long_probs",
        "bad_weight",
        "bad_smoothing",
        "bad_reduction",
    ):
        assert ours[1] == theirs[1]
    if case == "out_of_range":
        assert ours[1] == "Target 5 is out of bounds."


@given(n=st.integers(1, 6), c=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_cross_entropy_gradient_by_finite_differences(n, c, seed):
    rng = np.random.default_rng(seed)
    x = ndgrad.tensor(rng.normal(size=(n, c)) * 3, dtype=ndgrad.float64, requires_grad=True)
    t = ndgrad.tensor(rng.integers(0, c, n))
    w = ndgrad.tensor(rng.random(c) + 0.1, dtype=ndgrad.float64)
    fn = lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=0.1)  # noqa: E731
    fn(x).backward()
    eps = 1e-6
    base = x.detach().numpy()
    numeric = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        hi, lo = base.copy(), base.copy()
        hi[idx] += eps
        lo[idx] -= eps
        numeric[idx] = (fn(ndgrad.tensor(hi)).item() - fn(ndgrad.tensor(lo)).item()) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), numeric, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch_including_clamp(reduction):
    g = torch.Generator().manual_seed(5)
    p = torch.rand(4, 3, generator=g) * 0.98 + 0.01
    t = torch.rand(4, 3, generator=g)
    w = torch.rand(4, 3, generator=g)
    _compare(
        "binary_cross_entropy",
        F.binary_cross_entropy,
        TF.binary_cross_entropy,
        p,
        t,
        grad_idx=(0, 1),
        reduction=reduction,
    )
    _compare(
        "binary_cross_entropy",
        lambda a, b, **k: F.binary_cross_entropy(a, b, weight=to_nd(w[0]), **k),
        lambda a, b, **k: TF.binary_cross_entropy(a, b, weight=w[0], **k),
        p,
        t,
        grad_idx=(0, 1),
        reduction=reduction,
    )
    # Probabilities of exactly 0 and 1: the logs are clamped at -100, gradients stay finite.
    edge = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5])
    hard = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    out = _compare(
        "binary_cross_entropy_edges",
        F.binary_cross_entropy,
        TF.binary_cross_entropy,
        edge,
        hard,
        reduction=reduction,
        rtol=1e-5,
    )
    assert np.all(np.isfinite(out.detach().numpy()))
    ours = nn.BCELoss(weight=to_nd(w), reduction=reduction)(to_nd(p), to_nd(t))
    assert_close(ours, torch.nn.BCELoss(weight=w, reduction=reduction)(p, t))


def test_binary_cross_entropy_bad_input_like_torch():
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(ndgrad.tensor([0.5, 1.5]), ndgrad.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"Using a target size \(ndgrad.Size\(\[1, 2\]\)\)"):
        F.binary_cross_entropy(ndgrad.tensor([0.5, 0.5]), ndgrad.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(ndgrad.tensor([0.5, 0.5]), ndgrad.tensor([[0.0, 1.0]]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch_and_is_stable(reduction):
    g = torch.Generator().manual_seed(6)
    x = torch.randn(5, 3, generator=g) * 4
    x[0] = torch.tensor([1000.0, -1000.0, 80.0])
    t = torch.rand(5, 3, generator=g)
    w = torch.rand(5, 3, generator=g)
    pw = torch.rand(3, generator=g) * 3
    _compare(
        "binary_cross_entropy_with_logits",
        F.binary_cross_entropy_with_logits,
        TF.binary_cross_entropy_with_logits,
        x,
        t,
        grad_idx=(0, 1),
        reduction=reduction,
    )
    out = _compare(
        "binary_cross_entropy_with_logits",
        lambda a, b, **k: F.binary_cross_entropy_with_logits(
            a, b, weight=to_nd(w), pos_weight=to_nd(pw), **k
        ),
        lambda a, b, **k: TF.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=pw, **k),
        x,
        t,
        grad_idx=(0, 1),
        reduction=reduction,
        rtol=2e-5,
    )
    assert np.all(np.isfinite(out.detach().numpy()))
    ours = nn.BCEWithLogitsLoss(pos_weight=to_nd(pw), reduction=reduction)
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=pw, reduction=reduction)
    assert_close(ours(to_nd(x), to_nd(t)), ref(x, t), rtol=2e-5)
    assert list(ours.state_dict()) == list(ref.state_dict()) == ["pos_weight"]


@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    g = torch.Generator().manual_seed(7)
    logq = torch.log_softmax(torch.randn(4, 5, generator=g), 1)
    p = torch.softmax(torch.randn(4, 5, generator=g), 1)
    p[0, 0] = 0.0  # a zero probability contributes 0 (xlogy), not nan
    target = p.log() if log_target else p
    if log_target:
        target[0, 0] = -1e4  # finite stand-in for log 0
    with warnings_for(reduction):
        out = _compare(
            "kl_div",
            F.kl_div,
            TF.kl_div,
            logq,
            target,
            grad_idx=(0,),
            reduction=reduction,
            log_target=log_target,
        )
    assert np.all(np.isfinite(out.detach().numpy()))
    with warnings_for(reduction):
        ours = nn.KLDivLoss(reduction=reduction, log_target=log_target)(to_nd(logq), to_nd(target))
        ref = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(logq, target)
    assert_close(ours, ref)


def warnings_for(reduction):
    import contextlib
    import warnings

    if reduction == "mean":
        return pytest.warns(UserWarning, match="'batchmean' divides only by the batch size")
    ctx = contextlib.ExitStack()
    ctx.enter_context(warnings.catch_warnings())
    warnings.simplefilter("error")
    return ctx


def test_kl_div_identity_with_cross_entropy_and_entropy():
    # KL(p||q) = H(p, q) - H(p): batchmean KL equals soft-target CE minus the targets' entropy.
    g = torch.Generator().manual_seed(8)
    logits = to_nd(torch.randn(6, 4, generator=g))
    p = to_nd(torch.softmax(torch.randn(6, 4, generator=g), 1))
    kl = F.kl_div(F.log_softmax(logits, 1), p, reduction="batchmean")
    ce = F.cross_entropy(logits, p)
    h = -(p * p.log()).sum(1).mean()
    assert abs(kl.item() - (ce - h).item()) < 1e-6


def test_one_hot_matches_torch():
    idx = torch.tensor([[0, 2], [1, 3]])
    assert torch.equal(to_torch(F.one_hot(to_nd(idx))), TF.one_hot(idx))
    assert torch.equal(to_torch(F.one_hot(to_nd(idx), 6)), TF.one_hot(idx, 6))
    assert F.one_hot(to_nd(idx)).dtype == ndgrad.int64
    for bad, kw in [
        (torch.tensor([0, 3]), {"num_classes": 3}),
        (torch.tensor([0.0, 3.0]), {}),
        (torch.tensor([0, -1]), {}),
        (torch.tensor([], dtype=torch.long), {}),
    ]:
        theirs = _error(TF.one_hot, bad, **kw)
        ours = _error(F.one_hot, to_nd(bad), **kw)
        assert ours == theirs
