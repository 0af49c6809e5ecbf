"""``Categorical(probs | logits)``: one draw of a class index in 0..K-1 per batch element."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._tensor import Size, Tensor
from ndgrad.autograd.grad_mode import no_grad
from ndgrad.distributions import constraints
from ndgrad.distributions.distribution import Distribution
from ndgrad.distributions.utils import lazy_property, logits_to_probs, probs_to_logits
from ndgrad.ops.shape import broadcast_tensors


class Categorical(Distribution):
    """Probabilities are normalised along the last dim, as in PyTorch."""

    arg_constraints = {
        "probs": constraints.simplex,
        "logits": constraints.independent(constraints.real, 1),
    }
    has_enumerate_support = True

    def __init__(
        self,
        probs: Tensor | None = None,
        logits: Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        batch_shape = self._param.shape[:-1] if self._param.dim() > 1 else Size()
        super().__init__(batch_shape, validate_args=validate_args)

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self) -> Size:
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        return _nan(self._extended_shape(), self.probs)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        return _nan(self._extended_shape(), self.probs)

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        """PyTorch's draws: ``multinomial`` with replacement on the rows of probabilities,
        one column per sample; int64 of sample+batch shape."""
        sample_shape = Size(
            tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,)
        )
        from ndgrad._creation import multinomial  # noqa: PLC0415

        rows = self.probs.reshape(-1, self._num_events)
        n = int(np.prod(sample_shape)) if len(sample_shape) else 1
        with no_grad():
            drawn = multinomial(rows, n, True).t()
        return drawn.reshape(self._extended_shape(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = broadcast_tensors(value, self.logits)
        value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self) -> Tensor:
        min_real = float(np.finfo(self.logits._data.dtype).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = Tensor._make(self.probs.xp.arange(self._num_events, dtype=np.int64))
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values


def _nan(shape: Any, like: Tensor) -> Tensor:
    return Tensor._make(like.xp.full(tuple(shape), np.nan, dtype=like._data.dtype))
