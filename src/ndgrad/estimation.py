"""Maximum-likelihood estimation: closed-form fits and a generic gradient-ascent fit.

The notes' example: 7 white (x = 1) and 3 black (x = 0) draws give the likelihood
L(θ) = θ^7 (1 - θ)^3, maximised at θ = 7/10. ``fit_bernoulli`` gets that in closed form
(the sample mean); ``fit_mle`` gets it by gradient ascent on the summed ``log_prob``.
Minimising binary cross-entropy is the same thing: the BCE of the data summed over the
draws is exactly the negative log-likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from ndgrad import _dtype
from ndgrad._tensor import Tensor
from ndgrad.autograd import grad as autograd_grad
from ndgrad.autograd.grad_mode import no_grad
from ndgrad.distributions import Bernoulli, Categorical, Distribution, Multinomial, Normal
from ndgrad.ops._common import as_tensor, to_float

__all__ = [
    "MLEResult",
    "fit_bernoulli",
    "fit_categorical",
    "fit_normal",
    "fit_multinomial",
    "fit_closed_form",
    "fit_mle",
    "maximize_likelihood",
    "log_likelihood",
]


class MLEResult(NamedTuple):
    """What a gradient-ascent fit returns: the fitted distribution and how it got there."""

    distribution: Distribution
    params: dict[str, Tensor]
    log_likelihoods: list[float]
    iterations: int
    converged: bool


def _data(data: Any, name: str = "data") -> Tensor:
    t = as_tensor(data, name)
    if t.numel() == 0:
        raise ValueError(f"{name} is empty: maximum likelihood needs at least one observation")
    return t.detach()


def log_likelihood(dist: Distribution, data: Any) -> Tensor:
    """Summed log-probability of the observations (the log of the likelihood)."""
    return dist.log_prob(as_tensor(data, "log_likelihood")).sum()


# ----------------------------------------------------------------------------- closed form
def fit_bernoulli(data: Any) -> Bernoulli:
    """θ̂ = the fraction of ones (observations must be 0 or 1)."""
    x = to_float(_data(data))
    if not np.all((x._data == 0) | (x._data == 1)):
        raise ValueError("fit_bernoulli(): observations must be 0 or 1")
    return Bernoulli(probs=x.mean(0))


def fit_categorical(data: Any, num_classes: int | None = None) -> Categorical:
    """p̂_k = the fraction of observations equal to k (integer class indices)."""
    x = _data(data)
    if x._data.dtype.kind not in "iu":
        raise ValueError(f"fit_categorical(): expected integer class indices, got {x.dtype}")
    k = int(x._data.max()) + 1 if num_classes is None else num_classes
    if x._data.min() < 0 or x._data.max() >= k:
        raise ValueError(f"fit_categorical(): class indices must be in [0, {k - 1}]")
    counts = np.stack([(x._data == c).sum(0) for c in range(k)], axis=-1)
    probs = counts / x.shape[0]
    return Categorical(probs=Tensor._make(probs.astype(np.float32)))


def fit_normal(data: Any) -> Normal:
    """μ̂ = the sample mean, σ̂ = the biased (1/n) standard deviation, along dim 0."""
    x = to_float(_data(data))
    mean = x.mean(0)
    std = ((x - mean) ** 2).mean(0).sqrt()
    return Normal(mean, std)


def fit_multinomial(counts: Any) -> Multinomial:
    """p̂ = total counts per class / all counts; rows of ``counts`` are observations."""
    x = to_float(_data(counts, "counts"))
    totals = x.sum(-1)._data
    if x.dim() < 2 or not np.all(totals == totals.flat[0]):
        raise ValueError(
            "fit_multinomial(): expected a 2-D tensor of count vectors with one total_count"
        )
    probs = x.sum(0) / x.sum()
    return Multinomial(int(totals.flat[0]), probs=probs)


_CLOSED_FORM: dict[type, Callable[..., Distribution]] = {
    Bernoulli: fit_bernoulli,
    Categorical: fit_categorical,
    Normal: fit_normal,
    Multinomial: fit_multinomial,
}


def fit_closed_form(family: type, data: Any) -> Distribution:
    try:
        return _CLOSED_FORM[family](data)
    except KeyError:
        raise NotImplementedError(f"no closed-form MLE for {family.__name__}") from None


# ----------------------------------------------------------------------------- gradient ascent
def maximize_likelihood(
    make_dist: Callable[..., Distribution],
    params: Mapping[str, Any],
    data: Any,
    lr: float = 0.5,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> MLEResult:
    """Gradient ascent on the summed log-likelihood of ``make_dist(**params)``.

    Each step is θ ← θ + lr · ∇ (1/n) Σ log p(x | θ) (the mean keeps ``lr`` independent
    of n); it stops, as the notes' gradient descent does, once every step is below ``tol``.
    """
    x = _data(data)
    n = x.shape[0] if x.dim() else 1
    # Iterate in float64 so that steps can shrink below tol; hand back the data's precision.
    out_dtype = x.dtype if x.is_floating_point() else _dtype.get_default_dtype()
    if x.is_floating_point():
        x = x.to(_dtype.float64)
    theta = {
        k: as_tensor(v, k).to(_dtype.float64).detach().clone().requires_grad_(True)
        for k, v in params.items()
    }
    names = list(theta)
    history: list[float] = []
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - it is reported
        ll = log_likelihood(make_dist(**theta), x)
        history.append(ll.item())
        grads = autograd_grad(ll / n, [theta[k] for k in names])
        steps = [g * lr for g in grads]
        with no_grad():
            for k, step in zip(names, steps, strict=True):
                theta[k].add_(step)
        if all(float(np.max(np.abs(s._data))) < tol for s in steps):
            converged = True
            break
    history.append(log_likelihood(make_dist(**theta), x).item())
    final = {k: v.detach().to(out_dtype) for k, v in theta.items()}
    dist = make_dist(**final)
    return MLEResult(dist, final, history, it, converged)


def fit_mle(
    family: type,
    data: Any,
    lr: float = 0.5,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    total_count: int | None = None,
    num_classes: int | None = None,
) -> MLEResult:
    """Gradient-ascent MLE in an unconstrained parametrisation of a known family.

    Bernoulli and Categorical/Multinomial use logits, Normal uses (loc, log scale), so
    no step can leave the parameter space.
    """
    x = _data(data)
    if family is Bernoulli:
        return maximize_likelihood(
            lambda logits: Bernoulli(logits=logits),
            {"logits": np.zeros(x.shape[1:], np.float32)},
            x,
            lr,
            tol,
            max_iter,
        )
    if family is Categorical:
        k = int(x._data.max()) + 1 if num_classes is None else num_classes
        return maximize_likelihood(
            lambda logits: Categorical(logits=logits),
            {"logits": np.zeros(x.shape[1:] + (k,), np.float32)},
            x,
            lr,
            tol,
            max_iter,
        )
    if family is Multinomial:
        total = int(x._data.sum(-1).flat[0]) if total_count is None else total_count
        return maximize_likelihood(
            lambda logits: Multinomial(total, logits=logits),
            {"logits": np.zeros(x.shape[1:], np.float32)},
            x,
            lr,
            tol,
            max_iter,
        )
    if family is Normal:
        xf = to_float(x)
        start = {
            "loc": np.zeros(x.shape[1:], xf._data.dtype),
            "log_scale": np.full(x.shape[1:], math.log(float(xf.std()) or 1.0), xf._data.dtype),
        }
        return maximize_likelihood(
            lambda loc, log_scale: Normal(loc, log_scale.exp()), start, xf, lr, tol, max_iter
        )
    raise NotImplementedError(f"fit_mle(): unsupported family {family!r}")
