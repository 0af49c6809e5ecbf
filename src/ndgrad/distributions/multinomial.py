"""``Multinomial(total_count, probs | logits)``: class counts of ``total_count`` draws."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._tensor import Size, Tensor
from ndgrad.distributions import constraints
from ndgrad.distributions.categorical import Categorical
from ndgrad.distributions.distribution import Distribution
from ndgrad.distributions.utils import broadcast_all, gammaln
from ndgrad.ops import pointwise as _pw


class Multinomial(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(
        self,
        total_count: int = 1,
        probs: Tensor | None = None,
        logits: Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if not isinstance(total_count, int) or isinstance(total_count, bool):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args)

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def param_shape(self) -> Size:
        return self._categorical.param_shape

    @property
    def support(self) -> constraints.Constraint:
        return constraints.multinomial(self.total_count)

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        sample_shape = Size(
            tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,)
        )
        draws = self._categorical.sample(Size((self.total_count,)) + sample_shape)._data
        k = self._categorical._num_events
        shape = tuple(self._extended_shape(sample_shape))
        counts = self.probs.xp.zeros(shape, dtype=self.probs._data.dtype)
        for c in range(k):  # one pass per class: no (draws x classes) one-hot array
            counts[..., c] = (draws == c).sum(0)
        return Tensor._make(counts)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        v = value._data.astype(np.float64)
        log_factorial_n = gammaln(v.sum(-1) + 1)
        log_factorial_xs = gammaln(v + 1).sum(-1)
        # 0 * log 0 = 0: a class with zero probability and zero count contributes nothing.
        zero = (value == 0) & (logits == float("-inf"))
        logits = _pw.where(zero, 0.0, logits)
        log_powers = (logits * value).sum(-1)
        const = (log_factorial_n - log_factorial_xs).astype(logits._data.dtype)
        return Tensor._make(const) + log_powers

    def entropy(self) -> Tensor:
        """n H(cat) - log n! + sum_i E[log x_i!] with x_i ~ Binomial(n, p_i), as PyTorch does."""
        n = self.total_count
        dt = self.probs._data.dtype
        cat_entropy = self._categorical.entropy()
        term1 = n * cat_entropy - float(gammaln(n + 1))
        k = self.probs.xp.arange(1, n + 1, dtype=dt).reshape((-1,) + (1,) * self.probs.dim())
        log_choose = Tensor._make((gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)).astype(dt))
        k_t = Tensor._make(k)
        logits = self.logits
        # log p and log(1-p) of each class from the normalised logits, stably.
        log_p = logits
        log_1mp = _pw.log1p(-self.probs.clamp(max=1 - float(np.finfo(dt).eps)))
        binomial_log_prob = log_choose + k_t * log_p + (n - k_t) * log_1mp
        weights = Tensor._make(gammaln(k + 1).astype(dt))
        term2 = (_pw.exp(binomial_log_prob) * weights).sum(0).sum(-1)
        return term1 + term2
