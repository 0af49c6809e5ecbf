"""``ndgrad.special``: PyTorch's ``torch.special`` names over the core's differentiable ops."""

from __future__ import annotations

import math
from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.ops import pointwise as _pw
from ndgrad.ops import reduction as _reduction
from ndgrad.ops import special_functions as _sf

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
gammainc = _sf.gammainc
gammaincc = _sf.gammaincc
entr = _sf.entr
erfcx = _sf.erfcx
i0e = _sf.i0e
i1e = _sf.i1e
log_ndtr = _sf.log_ndtr
ndtri = _sf.ndtri
xlog1py = _sf.xlog1py
zeta = _sf.zeta
airy_ai = _sf.airy_ai
spherical_bessel_j0 = _sf.spherical_bessel_j0
bessel_j0, bessel_j1, bessel_y0, bessel_y1 = (
    _sf.bessel_j0,
    _sf.bessel_j1,
    _sf.bessel_y0,
    _sf.bessel_y1,
)
modified_bessel_i0, modified_bessel_i1 = _sf.modified_bessel_i0, _sf.modified_bessel_i1
modified_bessel_k0, modified_bessel_k1 = _sf.modified_bessel_k0, _sf.modified_bessel_k1
scaled_modified_bessel_k0 = _sf.scaled_modified_bessel_k0
scaled_modified_bessel_k1 = _sf.scaled_modified_bessel_k1
chebyshev_polynomial_t = _sf.chebyshev_polynomial_t
chebyshev_polynomial_u = _sf.chebyshev_polynomial_u
chebyshev_polynomial_v = _sf.chebyshev_polynomial_v
chebyshev_polynomial_w = _sf.chebyshev_polynomial_w
shifted_chebyshev_polynomial_t = _sf.shifted_chebyshev_polynomial_t
shifted_chebyshev_polynomial_u = _sf.shifted_chebyshev_polynomial_u
shifted_chebyshev_polynomial_v = _sf.shifted_chebyshev_polynomial_v
shifted_chebyshev_polynomial_w = _sf.shifted_chebyshev_polynomial_w
hermite_polynomial_h = _sf.hermite_polynomial_h
hermite_polynomial_he = _sf.hermite_polynomial_he
laguerre_polynomial_l = _sf.laguerre_polynomial_l
legendre_polynomial_p = _sf.legendre_polynomial_p


def ndtr(x: Tensor) -> Tensor:
    """The standard normal distribution function: ``(1 + erf(x / sqrt 2)) / 2``."""
    return (1 + _pw.erf(_pw.to_float(x) * (1 / math.sqrt(2.0)))) * 0.5


def softmax(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return _reduction.softmax(x if dtype is None else x.to(dtype), dim)


def log_softmax(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return _reduction.log_softmax(x if dtype is None else x.to(dtype), dim)
