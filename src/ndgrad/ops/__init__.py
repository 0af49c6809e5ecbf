"""All tensor ops. Each module registers its ops' Tensor methods and operators beside their
definitions (``ndgrad.ops._common.method``/``bind``); this package gathers the functions."""

from __future__ import annotations

from ndgrad.ops import namespace  # noqa: F401 - registers the rules' namespaces with the engine
from ndgrad.ops._common import DIM_OPS, numpy_aliases
from ndgrad.ops.conversion import *  # noqa: F403
from ndgrad.ops.filling import *  # noqa: F403
from ndgrad.ops.indexing import *  # noqa: F403
from ndgrad.ops.linalg import *  # noqa: F403
from ndgrad.ops.pointwise import *  # noqa: F403
from ndgrad.ops.reduction import *  # noqa: F403
from ndgrad.ops.shape import *  # noqa: F403
from ndgrad.ops.solves import *  # noqa: F403
from ndgrad.ops.sorting import *  # noqa: F403
from ndgrad.ops.special_functions import *  # noqa: F403
from ndgrad.ops.statistics import *  # noqa: F403

# ``ndgrad.sum(x, axis=0)`` as well as ``x.sum(axis=0)``.
for _name in DIM_OPS:
    if _name in globals():
        globals()[_name] = numpy_aliases(globals()[_name])


def _function_of(name: str) -> object:
    """``torch.<name>(x, ...)``: the Tensor method (or attribute) ``name`` of ``x``."""

    def fn(input, *args, **kwargs):  # noqa: A002, ANN001, ANN002, ANN003, ANN202
        value = getattr(input, name)
        return value(*args, **kwargs) if callable(value) else value

    fn.__name__ = fn.__qualname__ = name
    return fn


# Functions PyTorch also offers for these methods: the in-place math, the queries and
# identities of real tensors, and the removed linear-algebra functions (their errors).
for _name in (
    "abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ as_strided_ "
    "asin_ asinh_ atan_ atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ conj conj_physical "
    "conj_physical_ cos_ cosh_ deg2rad_ detach detach_ eig erf_ erfc_ exp2_ exp_ expm1_ fix_ "
    "floor_ frac_ gcd_ get_device i0_ imag is_conj is_distributed is_inference is_neg lcm_ "
    "ldexp_ log10_ log1p_ log2_ log_ logit_ lstsq nan_to_num_ neg_ negative_ rad2deg_ real "
    "reciprocal_ relu_ resize_as_ resolve_conj resolve_neg round_ rsqrt_ sigmoid_ sin_ sinc_ "
    "sinh_ solve sqrt_ square_ symeig tan_ tanh_ trunc_ xlogy_"
).split():
    if _name not in globals():
        globals()[_name] = _function_of(_name)
