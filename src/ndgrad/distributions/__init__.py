"""``ndgrad.distributions``: PyTorch's API for Bernoulli, Categorical, Normal, Multinomial."""

from ndgrad.distributions import constraints
from ndgrad.distributions.bernoulli import Bernoulli
from ndgrad.distributions.categorical import Categorical
from ndgrad.distributions.distribution import Distribution
from ndgrad.distributions.kl import kl_divergence, register_kl
from ndgrad.distributions.multinomial import Multinomial
from ndgrad.distributions.normal import Normal

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Multinomial",
    "Normal",
    "constraints",
    "kl_divergence",
    "register_kl",
]
