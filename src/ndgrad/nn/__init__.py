"""``ndgrad.nn``: modules, layers, losses, ``functional`` and ``init`` with PyTorch's API."""

from ndgrad.nn import functional, init, parallel, utils
from ndgrad.nn.modules import *  # noqa: F403
from ndgrad.nn.modules import __all__ as _modules_all
from ndgrad.nn.parallel import DataParallel
from ndgrad.nn.parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter

__all__ = [
    *_modules_all,
    "Buffer",
    "Parameter",
    "UninitializedParameter",
    "UninitializedBuffer",
    "functional",
    "init",
    "parallel",
    "DataParallel",
    "utils",
]
