"""The Tensor: an n-d array from the backend plus what autograd needs to know about it."""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._backend import _XP_BY_TYPE, array_device, array_module, device
from ndgrad.autograd.grad_mode import STATE

_TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead."
)


_GONE = "This function was deprecated since version 1.9 and is now removed. "
# PyTorch's words for the linear-algebra methods it removed (torch._linalg_utils)
_REMOVED = {
    "reinforce": "reinforce() was removed.\nUse torch.distributions instead.\n"
    "See https://pytorch.org/docs/main/distributions.html\n\nInstead of:\n\n"
    "probs = policy_network(state)\naction = probs.multinomial()\n"
    "next_state, reward = env.step(action)\naction.reinforce(reward)\naction.backward()\n\n"
    "Use:\n\nprobs = policy_network(state)\n"
    "# NOTE: categorical is equivalent to what used to be called multinomial\n"
    "m = torch.distributions.Categorical(probs)\naction = m.sample()\n"
    "next_state, reward = env.step(action)\nloss = -m.log_prob(action) * reward\n"
    "loss.backward()\n",
    "solve": _GONE
    + "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has "
    "its arguments reversed and does not return the LU factorization.\n\nTo get the LU "
    "factorization see `torch.lu`, which can be used with `torch.lu_solve` or "
    "`torch.lu_unpack`.\nX = torch.solve(B, A).solution should be replaced with:\n"
    "X = torch.linalg.solve(A, B)",
    "lstsq": _GONE
    + "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has "
    "reversed arguments and does not return the QR decomposition in the returned tuple "
    "(although it returns other information about the problem).\n\nTo get the QR "
    "decomposition consider using `torch.linalg.qr`.\n\nThe returned solution in "
    "`torch.lstsq` stored the residuals of the solution in the last m - n columns of the "
    "returned value whenever m > n. In torch.linalg.lstsq, the residuals are in the field "
    "'residuals' of the returned named tuple.\n\nThe unpacking of the solution, as in\n"
    "X, _ = torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced with:\n"
    "X = torch.linalg.lstsq(A, B).solution",
    "symeig": _GONE
    + "The default behavior has changed from using the upper triangular portion of the matrix "
    "by default to using the lower triangular portion.\n\nL, _ = torch.symeig(A, upper=upper) "
    "should be replaced with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\n"
    "and\n\nL, V = torch.symeig(A, eigenvectors=True) should be replaced with:\n"
    "L, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')",
    "eig": _GONE
    + "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than "
    "real tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be replaced with:\n"
    "L_complex = torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, eigenvectors=True) "
    "should be replaced with:\nL_complex, V_complex = torch.linalg.eig(A)",
}


class Size(tuple):
    """``tensor.shape``: a tuple that prints like PyTorch's ``torch.Size``."""

    def __repr__(self) -> str:
        return f"{_dtype.printed_prefix()}.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class layout:  # noqa: N801 - torch.layout
    """A tensor's memory layout; every ndgrad tensor is ``strided``."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"{_dtype.printed_prefix()}.{self._name}"


strided = layout("strided")


class RemovableHandle:
    __slots__ = ("_remove",)

    def __init__(self, remove: Callable[[], None]) -> None:
        self._remove = remove

    def remove(self) -> None:
        self._remove()


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation."""

    __slots__ = (
        "_data",
        "_requires_grad",
        "_grad",
        "grad_fn",
        "_output_nr",
        "_version_counter",  # [n], shared by a tensor, its views and .data
        "_base",
        "_view_version",  # views only (set by ops.shape.as_view; see ops.inplace)
        "_views",  # bases only: weak references to views that follow their history
        "_hooks",
        "_post_accumulate_grad_hooks",  # leaves only: run after .grad is updated
        "_retains_grad",
        "_pinned",  # pin_memory() results only
        "_shared",  # share_memory_() called
        "__weakref__",
    )
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected op

    def __init__(self, *args: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        # torch.Tensor(data) holds floats of the default dtype; torch.Tensor(2, 3) is 2x3
        target = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
        if len(args) == 1 and isinstance(args[0], Tensor):
            data = args[0]._data if dtype is None else to_array(args[0], dtype)
        elif len(args) == 1 and type(args[0]) is not int and not isinstance(args[0], Size):
            data = to_array(args[0], target)
        else:
            sizes = args[0] if len(args) == 1 and isinstance(args[0], Size) else args or (0,)
            data = np.zeros(tuple(int(s) for s in sizes), dtype=target.np)
        self._init(data)
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, data: np.ndarray) -> None:
        self._data = data
        self._requires_grad = False
        self._grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version_counter = [0]
        self._base = None
        self._hooks = None
        self._post_accumulate_grad_hooks = None
        self._retains_grad = False

    @classmethod
    def _make(cls, data: Any) -> Tensor:
        """Internal constructor: no validation, no copy."""
        t = object.__new__(cls)
        if type(data) is not np.ndarray and type(data) not in _XP_BY_TYPE:
            data = np.asarray(data)  # a registered backend's array stays on its device
        t._data = data
        t._requires_grad = False
        t._grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._version_counter = [0]
        t._base = None
        t._hooks = None
        t._post_accumulate_grad_hooks = None
        t._retains_grad = False
        return t

    # ----------------------------------------------------------------- attributes
    @property
    def _version(self) -> int:
        """How many times this tensor's storage was changed in place (an int, as in PyTorch)."""
        return self._version_counter[0]

    @property
    def data(self) -> Tensor:
        t = Tensor._make(self._data)
        t._version_counter = self._version_counter
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Size | int:
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._wrap_dim(dim, "size")]

    def dim(self) -> int:
        return self._data.ndim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def ndimension(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def nelement(self) -> int:
        return int(self._data.size)

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> device:
        return array_device(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def xp(self) -> Any:
        """The array library behind this tensor (NumPy on the CPU)."""
        return array_module(self._data)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def type(self, dtype: Any = None) -> str | Tensor:
        if dtype is None:
            cuda = ".cuda" if self.is_cuda else ""  # torch.cuda.FloatTensor
            return f"{_dtype.printed_prefix()}{cuda}.{_TYPE_NAMES[self._data.dtype.name]}"
        if isinstance(dtype, str):
            name = dtype.rsplit(".", 1)[-1]
            matches = [k for k, v in _TYPE_NAMES.items() if v == name]
            if not matches:
                raise TypeError(f"type(): invalid type string {dtype!r}")
            dtype = _dtype.from_numpy_dtype(np.dtype(matches[0]))  # a str would mean a device
        return self.to(dtype)

    # ----------------------------------------------------------------- autograd state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if not isinstance(value, bool | np.bool_):
            raise RuntimeError(f"requires_grad must be a bool, got {type(value).__name__}")
        if not self.is_leaf:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if value and self._data.dtype.kind not in "fc":
            # PyTorch's three spellings: the attribute, requires_grad_() and the factories.
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients "
                f"(got {self.dtype})"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not isinstance(requires_grad, bool | np.bool_):
            raise TypeError(
                "requires_grad_(): argument 'requires_grad' (position 1) must be bool, not "
                f"{type(requires_grad).__name__}"
            )
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients (got {self.dtype})"
            )
        self.requires_grad = requires_grad
        return self

    def _require_grad_at_creation(self) -> None:
        """``requires_grad=True`` of a factory or ``Parameter``, with PyTorch's message."""
        if self._data.dtype.kind not in "fc":
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients "
                f"(got {self.dtype})"
            )
        self._requires_grad = True

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        if self._grad is None and self.grad_fn is not None and not self._retains_grad:
            warnings.warn(NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got {type(value).__name__}"
                )
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: expected {list(self.shape)}, "
                    f"got {list(value.shape)}"
                )
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype {value.dtype} to a tensor of "
                    f"dtype {self.dtype}: the gradient must match the tensor's dtype"
                )
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf:
            return
        if self._retains_grad:
            return
        self._retains_grad = True
        ref = weakref.ref(self)

        def store(grad: Tensor) -> None:
            t = ref()
            if t is None:
                return
            if t._grad is None:
                t._grad = grad if grad._requires_grad else Tensor._make(grad._data.copy())
            else:
                t._grad = t._grad + grad

        node = self.grad_fn
        if node.retain_hooks is None:
            node.retain_hooks = {}
        node.retain_hooks[self._output_nr] = store

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            node, nr = self.grad_fn, self._output_nr
            node.add_pre_hook(nr, hook)
            return RemovableHandle(lambda: node.pre_hooks[nr].remove(hook))
        if self._hooks is None:
            self._hooks = []
        hooks = self._hooks
        hooks.append(hook)
        return RemovableHandle(lambda: hooks.remove(hook) if hook in hooks else None)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """``hook(tensor)`` runs after a backward has accumulated into this leaf's ``.grad``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if self._post_accumulate_grad_hooks is None:
            self._post_accumulate_grad_hooks = []
        hooks = self._post_accumulate_grad_hooks
        hooks.append(hook)
        return RemovableHandle(lambda: hooks.remove(hook) if hook in hooks else None)

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | Tensor | None = None,
    ) -> None:
        try:
            _autograd_backward()(self, gradient, retain_graph, create_graph, inputs=inputs)
        except MemoryError as exc:  # CuPy's OutOfMemoryError is one
            from ndgrad._backend import out_of_memory

            err = out_of_memory(exc)
            if err is exc:
                raise
            raise err from exc

    def detach(self) -> Tensor:
        t = Tensor._make(self._data)
        t._version_counter = self._version_counter  # shares storage, so shares the version counter
        return t

    def detach_(self) -> Tensor:
        if self._base is not None:
            raise RuntimeError(
                f"detach_(): Can't detach views in-place (a view of shape {list(self.shape)}). "
                "Use detach() instead."
            )
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ----------------------------------------------------------------- conversions
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if type(self._data) is not np.ndarray:
            self._host_only("numpy")
        return self._data

    def _host_only(self, op: str) -> None:
        """torch's TypeError for a device tensor where host memory is needed."""
        if self.device.type != "cpu":
            raise TypeError(
                f"{op}(): can't convert {self.device} device type tensor to numpy. Use "
                "Tensor.cpu() to copy the tensor to host memory first."
            )

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self.numpy(force=True)
        return data if dtype is None else data.astype(dtype)

    def _scalar(self, kind: type) -> Any:
        """float(t) / int(t): PyTorch's ValueError for a tensor that is not one element."""
        if self._data.size != 1:
            raise ValueError(
                f"{kind.__name__}(): only one element tensors can be converted to Python "
                f"scalars (got a tensor of shape {list(self.shape)})"
            )
        return kind(self._data.reshape(()).item())

    def item(self) -> float | int | bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __float__(self) -> float:
        if self._requires_grad and STATE.enabled:  # PyTorch is silent under no_grad
            warnings.warn(
                "Converting a tensor with requires_grad=True to a scalar may lead to unexpected "
                "behavior.\nConsider using tensor.detach() first.",
                UserWarning,
                stacklevel=2,
            )
        return self._scalar(float)

    def __int__(self) -> int:
        return self._scalar(int)

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(shape {list(self.shape)})"
            )
        return bool(self._data.reshape(()).item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):  # type: ignore[no-untyped-def]
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        from ndgrad._format import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return repr(self)

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild, (self._data, self._requires_grad))

    def __deepcopy__(self, memo: dict) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment."
            )
        t = type(self).__new__(type(self))
        Tensor._init(t, self._data.copy())
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = Tensor._make(self._grad._data.copy())
        memo[id(self)] = t
        return t

    # ----------------------------------------------------------------- what a dense real tensor is
    # PyTorch's answers for a strided CPU/GPU tensor of real numbers: no sparse, quantized,
    # nested or complex forms exist here.
    is_sparse = is_sparse_csr = is_quantized = is_meta = is_mkldnn = is_nested = False
    is_mps = is_xla = is_xpu = is_vulkan = is_ipu = is_maia = is_mtia = False

    @property
    def layout(self) -> layout:
        return strided

    def get_device(self) -> int:
        """-1 on the CPU, else the device's index."""
        dev = self.device
        return -1 if dev.type == "cpu" else (dev.index or 0)

    def is_conj(self) -> bool:
        return False

    def is_neg(self) -> bool:
        return False

    def conj(self) -> Tensor:
        return self

    resolve_conj = resolve_neg = conj_physical = conj

    @property
    def real(self) -> Tensor:
        return self

    @property
    def imag(self) -> Tensor:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")

    def is_inference(self) -> bool:
        return False

    @property
    def output_nr(self) -> int:
        return self._output_nr

    def is_nonzero(self) -> bool:
        if self._data.size == 0:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
        if self._data.size > 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    def share_memory_(self) -> Tensor:
        """Marks the tensor shared (ndgrad's DataLoader workers return copies anyway)."""
        self._shared = True
        return self

    def is_shared(self) -> bool:
        return getattr(self, "_shared", False)

    def data_ptr(self) -> int:
        from ndgrad._backend import address

        return address(self._data) if self._data.size else 0

    def storage_offset(self) -> int:
        from ndgrad.ops.shape import storage_of

        return storage_of(self)[1]

    const_data_ptr = data_ptr
    name = None  # PyTorch's ``Tensor.name`` (named tensors): None

    def conj_physical_(self) -> Tensor:
        return self

    def to_dense(self, dtype: Any = None, *, masked_grad: Any = None) -> Tensor:
        return self if dtype is None else self.to(dtype)

    def is_distributed(self) -> bool:
        return False

    def sparse_dim(self) -> int:
        return 0

    def dense_dim(self) -> int:
        return self._data.ndim

    def _not_sparse(self, op: str, kind: str = "sparse coordinate tensor") -> RuntimeError:
        return RuntimeError(f"{op} expected {kind} layout but got Strided")

    def is_coalesced(self) -> bool:
        raise self._not_sparse("is_coalesced")

    def indices(self) -> Tensor:
        raise self._not_sparse("indices")

    def values(self) -> Tensor:
        raise self._not_sparse("values", "sparse tensor")

    def dim_order(self, *, ambiguity_check: Any = False) -> tuple[int, ...]:
        """The dims from outermost to innermost in memory (by decreasing stride)."""
        strides = self._data.strides
        return tuple(sorted(range(self._data.ndim), key=lambda d: -strides[d]))

    def is_set_to(self, tensor: Tensor) -> bool:
        """Whether both tensors look at the same memory with the same sizes and strides."""
        a, b = self._data, tensor._data
        return (
            a.shape == b.shape
            and a.strides == b.strides
            and a.dtype == b.dtype
            and self.data_ptr() == tensor.data_ptr()
        )

    def module_load(self, other: Tensor, assign: bool = False) -> Tensor:
        """What ``load_state_dict`` swaps in: ``other`` detached, or copied into the tensor."""
        if assign:
            return other.detach()
        return self.copy_(other).detach()

    @property
    def grad_dtype(self) -> _dtype.dtype:
        return self.dtype

    @property
    def volatile(self) -> bool:
        warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning, 2)
        return False

    def solve(self, other: Tensor) -> Any:
        raise RuntimeError(_REMOVED["solve"])

    def reinforce(self, reward: Any) -> Any:
        raise RuntimeError(_REMOVED["reinforce"])

    def lstsq(self, other: Tensor) -> Any:
        raise RuntimeError(_REMOVED["lstsq"])

    def eig(self, eigenvectors: bool = False) -> Any:
        raise RuntimeError(_REMOVED["eig"])

    def symeig(self, eigenvectors: bool = False) -> Any:
        raise RuntimeError(_REMOVED["symeig"])

    def _wrap_dim(self, dim: int, op: str, ndim: int | None = None) -> int:
        n = self._data.ndim if ndim is None else ndim
        bound = max(n, 1)
        if not -bound <= dim < bound:
            raise IndexError(
                f"{op}(): Dimension out of range (expected to be in range of "
                f"[{-bound}, {bound - 1}], but got {dim})"
            )
        return dim % bound


def _nested_dtype(data: Any) -> _dtype.dtype:
    """The dtype PyTorch infers for nested Python data: bool < int64 < default float."""
    best = _dtype.bool_
    seen = False  # no element at all (``tensor([])``) means the default float type
    stack = [data]
    while stack:
        item = stack.pop()
        if not isinstance(item, (list, tuple)):
            seen = True
        if isinstance(item, Tensor):
            best = _dtype.promote(best, item.dtype)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, (np.ndarray, np.generic)):
            # NumPy arrays and scalars keep their own dtype, as in PyTorch.
            best = _dtype.promote(best, _dtype.from_numpy_dtype(item.dtype))
        elif isinstance(item, bool | np.bool_):
            pass
        elif isinstance(item, int | np.integer):
            best = _dtype.int64 if best.category < 1 else best
        elif isinstance(item, float | np.floating):
            best = _dtype.get_default_dtype() if best.category < 2 else best
        elif isinstance(item, str):
            raise TypeError(f"tensor(): new(): invalid data type '{type(item).__name__}'")
        else:
            raise RuntimeError(f"tensor(): Could not infer dtype of {type(item).__name__}")
    return best if seen else _dtype.get_default_dtype()


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Copies ``data`` into a new array of PyTorch's inferred (or the given) dtype."""
    if dtype is None and type(data) is list and data and all(type(v) is int for v in data):
        try:
            return np.array(data, dtype=np.int64)  # flat list of ints (d2l's batch indices)
        except OverflowError:
            raise _int_overflow() from None
    target = _dtype.to_dtype(dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        arr = data._data
        return arr.astype(target.np if target else arr.dtype, copy=True)
    if isinstance(data, (np.ndarray, np.generic)):
        src = _dtype.from_numpy_dtype(data.dtype) if target is None else target
        return np.array(data, dtype=src.np, copy=True)
    if target is None:
        target = _nested_dtype(data)
    if isinstance(data, (list, tuple)):
        data = _unwrap_tensors(data)
    try:
        arr = np.array(data, dtype=target.np)
    except OverflowError:
        arr = out_of_range_ints(data, target.np)
    except (ValueError, TypeError) as exc:
        if _mixes_numbers_and_sequences(data):
            raise TypeError(
                "tensor(): not a sequence: a list holds both numbers and sequences"
            ) from None
        ragged = _ragged_sequence(data)
        if ragged:
            raise ValueError(f"tensor(): {ragged}") from None
        raise ValueError(f"tensor(): could not build a tensor from the data: {exc}") from None
    if arr.dtype == object:
        raise ValueError("tensor(): expected a sequence of numbers with a regular shape")
    return arr


def _mixes_numbers_and_sequences(data: Any) -> bool:
    """Whether some list of ``data`` holds both numbers and sequences (PyTorch's TypeError)."""
    if not isinstance(data, list | tuple):
        return False
    kinds = {isinstance(d, list | tuple | np.ndarray) for d in data}
    return len(kinds) == 2 or any(_mixes_numbers_and_sequences(d) for d in data)


def _ragged_sequence(data: Any, dim: int = 0) -> str | None:
    """PyTorch's words for nested lists of uneven lengths: the shape comes from the first
    element at each depth and the first list that differs is named."""
    shape = []
    probe = data
    while isinstance(probe, list | tuple):
        shape.append(len(probe))
        probe = probe[0] if probe else None

    def walk(seq: Any, d: int) -> str | None:
        if d >= len(shape) or not isinstance(seq, list | tuple):
            return None
        if len(seq) != shape[d]:
            return f"expected sequence of length {shape[d]} at dim {d} (got {len(seq)})"
        return next((m for m in (walk(x, d + 1) for x in seq) if m), None)

    return walk(data, dim)


def _int_overflow() -> ValueError:
    return ValueError(
        "tensor(): Overflow when unpacking long long (a Python int beyond int64's range "
        f"[{-(2**63)}, {2**63 - 1}])"
    )


def out_of_range_ints(data: Any, np_dtype: np.dtype, op: str = "tensor") -> np.ndarray:
    """Python ints that do not fit ``np_dtype``: PyTorch wraps negative values into uint8 and
    refuses everything else that does not fit."""
    try:
        wide = np.array(data, dtype=np.int64)
    except OverflowError:
        raise _int_overflow() from None
    info = np.iinfo(np_dtype) if np_dtype.kind in "iu" else None
    low = np.iinfo(np.int64).min if np_dtype == np.uint8 else (info.min if info else None)
    if info is None or wide.min(initial=0) < low or wide.max(initial=0) > info.max:
        raise RuntimeError(f"{op}(): value cannot be converted to type {np_dtype} without overflow")
    return wide.astype(np_dtype)


def _unwrap_tensors(data: Any) -> Any:
    if isinstance(data, Tensor):
        if data._data.ndim and data._data.size != 1:
            return data._data
        return data._data.reshape(data._data.shape).tolist() if data._data.ndim else data.item()
    if isinstance(data, (list, tuple)):
        return [_unwrap_tensors(d) for d in data]
    return data


@functools.cache
def _autograd_backward() -> Callable[..., None]:
    # Imported on first use (ndgrad.autograd imports this module); a function-level import
    # on every call costs about 0.5 us.
    from ndgrad.autograd import backward

    return backward


def _rebuild(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(data)
    t._requires_grad = requires_grad
    return t


def is_tensor(obj: object) -> bool:
    return isinstance(obj, Tensor)


# The op methods (``x.exp()``, ``x + y``...) are attached by ndgrad.ops.
__all__ = ["Tensor", "Size", "RemovableHandle", "is_tensor", "STATE", "layout", "strided"]
