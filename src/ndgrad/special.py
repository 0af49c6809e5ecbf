"""``ndgrad.special``: PyTorch's ``torch.special`` names over the core's differentiable ops."""

from __future__ import annotations

import math
from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.ops import pointwise as _pw
from ndgrad.ops import reduction as _reduction

expit = _pw.sigmoid
logit = _pw.logit
xlogy = _pw.xlogy
erf = _pw.erf
erfc = _pw.erfc
erfinv = _pw.erfinv
i0 = _pw.i0
i1 = _pw._special_i1
digamma = psi = _pw.digamma
polygamma = _pw.polygamma
gammaln = _pw.lgamma
multigammaln = _pw.mvlgamma
sinc = _pw.sinc
exp2 = _pw.exp2
expm1 = _pw.expm1
log1p = _pw.log1p
round = _pw.round  # noqa: A001 - torch.special.round
logsumexp = _reduction.logsumexp


def ndtr(x: Tensor) -> Tensor:
    """The standard normal distribution function: ``(1 + erf(x / sqrt 2)) / 2``."""
    return (1 + _pw.erf(_pw.to_float(x) * (1 / math.sqrt(2.0)))) * 0.5


def softmax(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return _reduction.softmax(x if dtype is None else x.to(dtype), dim)


def log_softmax(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return _reduction.log_softmax(x if dtype is None else x.to(dtype), dim)
