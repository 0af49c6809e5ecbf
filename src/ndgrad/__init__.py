"""ndgrad: a deep-learning framework on NumPy with PyTorch's API.

``import ndgrad as torch`` runs PyTorch code that uses the covered API.
"""

from __future__ import annotations

from ndgrad.doctor.main import doctor_argv as _doctor_argv

if _doctor_argv() is not None:
    # `ndgrad doctor ...` runs on the standard library alone, before NumPy is imported, so
    # that it can diagnose a broken NumPy, Typer or rich (ndgrad/doctor/main.py).
    from ndgrad.doctor.main import main as _doctor_main

    raise SystemExit(_doctor_main(_doctor_argv() or []))

from ndgrad import (
    _allocator,  # noqa: F401 - glibc malloc settings, on import
    autograd,
)
from ndgrad._backend import device, register_cupy
from ndgrad._creation import (
    Generator,
    arange,
    asarray,
    bartlett_window,
    bernoulli,
    blackman_window,
    default_generator,
    empty,
    empty_like,
    empty_strided,
    eye,
    from_numpy,
    frombuffer,
    full,
    full_like,
    get_rng_state,
    hamming_window,
    hann_window,
    initial_seed,
    kaiser_window,
    linspace,
    logspace,
    manual_seed,
    multinomial,
    normal,
    ones,
    ones_like,
    poisson,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    scalar_tensor,
    seed,
    set_rng_state,
    tensor,
    zeros,
    zeros_like,
)
from ndgrad._creation import deprecated_range as range  # noqa: A004 - torch.range
from ndgrad._dtype import (
    bool_ as bool,  # noqa: A004 - torch.bool
)
from ndgrad._dtype import (
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from ndgrad._format import set_printoptions
from ndgrad._parallel import (
    get_num_interop_threads,
    get_num_threads,
    set_num_interop_threads,
    set_num_threads,
)
from ndgrad._tensor import Size, Tensor, is_tensor, layout, strided
from ndgrad.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from ndgrad.ops import *  # noqa: F403
from ndgrad.ops import SortResult, argsort, sort, to, topk  # noqa: F401
from ndgrad.ops.solves import lu_old as lu
from ndgrad.ops.solves import lu_solve_old as lu_solve
from ndgrad.serialization import load, save

half = float16
float = float32  # noqa: A001 - torch.float
double = float64
long = int64
int = int32  # noqa: A001 - torch.int
short = int16

__version__ = "0.1.0"

# After the star import of ops, which also brings ops' internal ``as_tensor(x, op)``.
import ndgrad.linalg as linalg  # noqa: E402 - torch.linalg names, replacing ops.linalg
import ndgrad.random as random  # noqa: E402 - torch.random
import ndgrad.special as special  # noqa: E402 - torch.special names
from ndgrad._creation import as_tensor  # noqa: E402


class _LegacyTensorType(type):
    """``torch.FloatTensor`` and friends: a constructor of one dtype, usable in isinstance."""

    def __call__(cls, *args: object) -> Tensor:
        return Tensor(*args, dtype=cls.dtype)

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype


class FloatTensor(metaclass=_LegacyTensorType):
    dtype = float32


class DoubleTensor(metaclass=_LegacyTensorType):
    dtype = float64


class LongTensor(metaclass=_LegacyTensorType):
    dtype = int64


class IntTensor(metaclass=_LegacyTensorType):
    dtype = int32


class BoolTensor(metaclass=_LegacyTensorType):
    dtype = bool


def is_floating_point(x: Tensor) -> bool:  # noqa: F811
    return x.is_floating_point()


def numel(x: Tensor) -> int:
    return x.numel()


def result_type(a: object, b: object) -> dtype:
    from ndgrad._dtype import result_type as _rt

    return _rt(a, b)


def can_cast(from_: dtype, to: dtype) -> bool:  # noqa: F811 - PyTorch's argument name
    """Whether PyTorch's type promotion allows casting ``from_`` to ``to`` (no float to
    integer, nothing but bool to bool)."""
    kind = {"b": 0, "u": 1, "i": 1, "f": 2}
    a, b = kind[from_.np.kind], kind[to.np.kind]
    return a <= b and (b != 0 or a == 0)


def typename(obj: object) -> str:
    """A tensor's type string (``torch.FloatTensor``), else the object's qualified name."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if qualname is None:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def promote_types(a: dtype, b: dtype) -> dtype:
    from ndgrad._dtype import promote

    return promote(a, b)


_deterministic = [False, False]  # (mode, warn_only)


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Kept for PyTorch programs; ndgrad's CPU kernels are deterministic in any mode."""
    _deterministic[:] = [mode is True or mode == 1, warn_only is True or warn_only == 1]


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic[0]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic[1]


def is_nonzero(x: Tensor) -> bool:
    return x.is_nonzero()


from ndgrad import (  # noqa: E402 - need nn.functional  # noqa: E402 - need the tensor API above
    amp,
    backends,
    cuda,  # noqa: E402 - torch.cuda: a module, so `import torch.cuda` works
    distributed,  # torch.distributed on MPI: mpi4py is imported by init_process_group only
    distributions,
    information,
    jit,
    nn,  # noqa: E402 - needs the tensor API above
    optim,
    testing,
    utils,
)
from ndgrad._dynamo import compile  # noqa: E402, A004 - torch.compile
from ndgrad.alias import install_as_torch  # noqa: E402 - `import torch` -> ndgrad, opt-in
from ndgrad.amp import autocast  # noqa: E402 - torch.autocast
from ndgrad.amp.autocast_mode import get_autocast_dtype, is_autocast_enabled  # noqa: E402
from ndgrad.nn.functional import (  # noqa: E402 - torch.* names of nn.functional's
    cdist,
    celu,
    channel_shuffle,
    conv3d,
    conv_transpose3d,
    cosine_similarity,
    hardshrink,
    pairwise_distance,
    pdist,
    pixel_shuffle,
    pixel_unshuffle,
    prelu,
    rrelu,
    selu,
)
from ndgrad.ops import decompositions as _decompositions  # noqa: E402 - torch.svd & co.

cholesky, qr, svd = _decompositions.cholesky_old, _decompositions.qr_old, _decompositions.svd_old
logdet, slogdet = _decompositions.logdet, _decompositions.slogdet
matrix_power, pinverse = _decompositions.matrix_power, _decompositions.pinverse
from ndgrad import func  # noqa: E402 - torch.func
from ndgrad.func import vmap  # noqa: E402 - torch.vmap
from ndgrad.nn.utils.weight_norm import _weight_norm, norm_except_dim  # noqa: E402, F401
from ndgrad.ops.matrix_functions import geqrf, matrix_exp, orgqr  # noqa: E402

compile.explain = __import__("ndgrad._dynamo", fromlist=["explain"]).explain  # type: ignore[attr-defined]

register_cupy()  # device="cuda" when CuPy imports and finds a GPU; nothing changes otherwise


def __getattr__(name: str) -> object:
    # ``ndgrad.vision`` loads on first use (it imports Pillow), not at ``import ndgrad``.
    if name == "vision":
        import importlib

        return importlib.import_module("ndgrad.vision")
    raise AttributeError(f"module 'ndgrad' has no attribute {name!r}")
