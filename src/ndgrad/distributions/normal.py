"""``Normal(loc, scale)``: the Gaussian, with reparameterised sampling (``rsample``)."""

from __future__ import annotations

import math
from typing import Any

from ndgrad import _creation
from ndgrad._backend import special
from ndgrad._tensor import Size, Tensor
from ndgrad.autograd.graph import record
from ndgrad.distributions import constraints
from ndgrad.distributions.distribution import Distribution
from ndgrad.distributions.utils import broadcast_all
from ndgrad.ops import pointwise as _pw


class Normal(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        scalar = not isinstance(loc, Tensor) and not isinstance(scale, Tensor)
        batch_shape = Size() if scalar else self.loc.shape
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.stddev.pow(2)

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        rng = _creation._rng(None, self.loc.device)  # drawn where the parameters live
        eps = rng.normal(tuple(shape), self.loc._data.dtype)  # empty(shape).normal_()
        return self.loc + Tensor._make(eps) * self.scale

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale**2
        log_scale = _pw.log(self.scale)
        return -((value - self.loc) ** 2) / (2 * var) - log_scale - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + _pw.erf((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value: Tensor) -> Tensor:
        return self.loc + self.scale * _erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + _pw.log(self.scale)


def _erfinv(x: Tensor) -> Tensor:
    data = special(x.xp).erfinv(x._data).astype(x._data.dtype)
    # PyTorch saves the input and recomputes erfinv; the result saved here is the same value.
    return record("ErfinvBackward0", data, (x,), _erfinv_rule, save_output=True)


def _erfinv_rule(xp: Any, g: Any, result: Any) -> tuple:
    return (g * (math.sqrt(math.pi) / 2) * xp.exp(result * result),)
