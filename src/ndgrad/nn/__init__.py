"""``ndgrad.nn``: modules, layers, losses, ``functional`` and ``init`` with PyTorch's API."""

from ndgrad._missing import module_getattr as _module_getattr
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

# PyTorch layers that ndgrad names but does not have yet: they exist (d2l subclasses and binds
# such names at import) and raise NotImplementedError naming the torch API when constructed. A
# real implementation in nn.modules takes precedence: this is only asked for missing names.
_PLANNED = {name: "" for name in (
    "MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder",
    "TransformerEncoderLayer", "TransformerDecoderLayer",
)}  # fmt: skip
__getattr__ = _module_getattr(__name__, "torch.nn", _PLANNED)
