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
