"""``ndgrad.nn.functional``: activations, dropout, ``linear``, ``one_hot`` and every loss.

Losses follow PyTorch's formulas and reductions exactly (including the weighted mean of
``nll_loss``/``cross_entropy``, the -100 clamp of ``binary_cross_entropy`` and its
gradient formula), and are built from the core's stable primitives (``log_softmax``,
``logsigmoid``) so that logits like ±1000 give finite losses.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ndgrad import _creation, _dtype
from ndgrad._backend import array_module
from ndgrad._mt19937 import in_draw_order
from ndgrad._tensor import Tensor
from ndgrad.ops import linalg as _la
from ndgrad.ops import nn as _nn
from ndgrad.ops import normalization as _norm
from ndgrad.ops import pointwise as _pw
from ndgrad.ops import pooling as _pool
from ndgrad.ops import reduction as _red
from ndgrad.ops import shape as _shape
from ndgrad.ops._common import (
    all_on_one_device,
    as_tensor,
    bind,
    broadcast_error,
    named,
    not_implemented,
    wrap_dim,
)

__all__ = [
    "pdist",
    "relu",
    "relu_",
    "leaky_relu",
    "gelu",
    "sigmoid",
    "tanh",
    "softmax",
    "gumbel_softmax",
    "log_softmax",
    "softplus",
    "logsigmoid",
    "dropout",
    "linear",
    "bilinear",
    "one_hot",
    "mse_loss",
    "l1_loss",
    "huber_loss",
    "smooth_l1_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "soft_margin_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "multilabel_soft_margin_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "softmin",
    "elu",
    "selu",
    "celu",
    "silu",
    "mish",
    "hardtanh",
    "hardtanh_",
    "relu6",
    "hardsigmoid",
    "hardswish",
    "softsign",
    "tanhshrink",
    "threshold",
    "threshold_",
    "softshrink",
    "hardshrink",
    "glu",
    "prelu",
    "rrelu",
    "normalize",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv3d",
    "conv_transpose3d",
    "pixel_shuffle",
    "pixel_unshuffle",
    "channel_shuffle",
    "cosine_similarity",
    "pairwise_distance",
    "local_response_norm",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "unfold",
    "fold",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "rms_norm",
    "instance_norm",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "max_pool3d",
    "avg_pool3d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d_with_indices",
    "pad",
    "dropout2d",
    "dropout1d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
    "embedding_bag",
    "ctc_loss",
]


def _scalar_type(t: Tensor) -> str:
    return _dtype.SCALAR_NAMES[t._data.dtype.name]


# ----------------------------------------------------------------------------- activations
def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    _check_tensor("relu", "input", input)
    return input.relu_() if inplace else _pw.relu(input)


def relu_(input: Tensor) -> Tensor:  # noqa: A002
    return input.relu_()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    compute = lambda x: _pw.leaky_relu(x, negative_slope)  # noqa: E731
    return _maybe_inplace(input, inplace, "leaky_relu_", compute)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    if approximate not in ("none", "tanh"):
        raise RuntimeError(
            f"approximate argument must be either none or tanh. (got {approximate!r})"
        )
    return _pw.gelu(input, approximate)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    _check_tensor("sigmoid", "input", input)
    return _pw.sigmoid(input)


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    _check_tensor("tanh", "input", input)
    return _pw.tanh(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    return _pw.softplus(input, beta, threshold)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    return _pw.logsigmoid(input)


def _maybe_inplace(input: Tensor, inplace: bool, name: str, compute: Any) -> Tensor:  # noqa: A002
    """``compute(input)``, or written into ``input`` (PyTorch's ``inplace=True``)."""
    if inplace:
        from ndgrad.ops.inplace import apply_inplace

        return apply_inplace(input, name, compute)
    return compute(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    _check_tensor("silu", "input", input)
    return _maybe_inplace(
        input, inplace, "silu_", lambda x: named(x * _pw.sigmoid(x), "SiluBackward0")
    )


def _elu(x: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    _pw._float_only("elu", x)
    # (where, not minimum: at 0 the whole gradient takes the negative side, as PyTorch's)
    negative = alpha * _pw.expm1(_pw.where(x > 0, 0.0, x) * input_scale)
    out = _pw.where(x > 0, x, negative)
    return out * scale if scale != 1.0 else out


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    _check_tensor("elu", "input", input)
    return _maybe_inplace(input, inplace, "elu_", lambda x: named(_elu(x, alpha), "EluBackward0"))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    _check_tensor("selu", "input", input)
    return _maybe_inplace(
        input,
        inplace,
        "selu_",
        lambda x: named(_elu(x, _SELU_ALPHA, _SELU_SCALE), "EluBackward0"),
    )


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    _check_tensor("celu", "input", input)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _maybe_inplace(
        input,
        inplace,
        "celu_",
        lambda x: named(_elu(x, alpha, input_scale=1.0 / alpha), "CeluBackward0"),
    )


def hardtanh(
    input: Tensor,  # noqa: A002
    min_val: float = -1.0,
    max_val: float = 1.0,
    inplace: bool = False,
) -> Tensor:
    _check_tensor("hardtanh", "input", input)
    return _maybe_inplace(input, inplace, "hardtanh_", lambda x: _pw.hardtanh(x, min_val, max_val))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    _check_tensor("hardsigmoid", "input", input)
    return _maybe_inplace(input, inplace, "hardsigmoid_", _pw.hardsigmoid)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    _check_tensor("hardswish", "input", input)
    return _maybe_inplace(input, inplace, "hardswish_", _pw.hardswish)


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    _check_tensor("mish", "input", input)
    _pw._float_only("mish", input)
    return _maybe_inplace(
        input,
        inplace,
        "mish_",
        lambda x: named(x * _pw.tanh(_pw.softplus(x)), "MishBackward0"),
    )


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    _check_tensor("softsign", "input", input)
    return input / (1 + input.abs())


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    _check_tensor("tanhshrink", "input", input)
    return input - _pw.tanh(input)


def threshold(
    input: Tensor,  # noqa: A002
    threshold: float,
    value: float,
    inplace: bool = False,
) -> Tensor:
    """``value`` where ``input <= threshold``; gradient only where ``input > threshold``."""
    _check_tensor("threshold", "input", input)

    def compute(x: Tensor) -> Tensor:
        fill = _creation.full_like(x, value)
        return named(_pw.where(x > threshold, x, fill), "ThresholdBackward0")

    return _maybe_inplace(input, inplace, "threshold_", compute)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    return globals()["threshold"](input, threshold, value, inplace=True)


def _check_lambda(op: str, input: Tensor, lambd: float) -> None:  # noqa: A002
    _pw._float_only(op, input)
    if lambd < 0:
        raise RuntimeError(
            f"lambda must be in range [0, 3.40282e+38] for input dtype "
            f"{_scalar_type(input)}, but found {lambd:g}"
        )


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    _check_tensor("softshrink", "input", input)
    _check_lambda("softshrink", input, lambd)
    zero = _creation.zeros_like(input)
    out = _pw.where(input > lambd, input - lambd, _pw.where(input < -lambd, input + lambd, zero))
    return named(out, "SoftshrinkBackward0")


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    _check_tensor("hardshrink", "input", input)
    _check_lambda("hardshrink", input, lambd)
    zero = _creation.zeros_like(input)
    return named(_pw.where(input.abs() > lambd, input, zero), "HardshrinkBackward0")


bind("hardshrink", hardshrink)


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """The gated linear unit: the first half of ``dim`` times the sigmoid of the second."""
    _check_tensor("glu", "input", input)
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = wrap_dim(dim, input.dim(), "glu")
    size = input.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    a, b = input.split(size // 2, d)
    return named(a * _pw.sigmoid(b), "GluBackward0")


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """``x`` where positive, else ``weight * x``; ``weight`` has 1 or ``C`` (dim 1) entries."""
    _check_tensor("prelu", "input", input)
    _check_tensor("prelu", "weight", weight)
    n = weight.numel()
    if weight.dim() > 1:
        raise RuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.dim()}"
        )
    if input.dim() == 0:
        if n != 1:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = 1
    else:
        channels = input.shape[1] if input.dim() >= 2 else 1
    if n != 1 and n != channels:
        raise RuntimeError(
            f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
            f"{n} and channel size = {channels}."
        )
    w = weight.reshape(-1)
    if n != 1 and input.dim() >= 2:
        w = w.reshape((n,) + (1,) * (input.dim() - 2))
    elif n == 1:
        w = w.reshape(())
    return named(_pw.where(input > 0, input, w * input), "PreluKernelBackward0")


bind("prelu", prelu)


def rrelu(
    input: Tensor,  # noqa: A002
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Leaky ReLU with slope ``(lower + upper) / 2`` in eval; a slope drawn uniformly from
    ``[lower, upper]`` per negative element in training."""
    _check_tensor("rrelu", "input", input)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")

    def compute(x: Tensor) -> Tensor:
        if not training:
            slope: Any = (lower + upper) / 2
        else:  # ATen draws a float64 slope for each element <= 0 only, in memory order
            data = x._data
            drawn = x.xp.ones(data.shape, data.dtype)
            below = data <= 0
            rng = _creation._rng(None, x.device)
            drawn[below] = rng.uniform((int(below.sum()),), np.float64, lower, upper)
            slope = Tensor._make(drawn)
        return named(_pw.where(x > 0, x, x * slope), "RreluWithNoiseBackward0")

    return _maybe_inplace(input, inplace, "rrelu_", compute)


def _implicit_dim_warning(name: str, stacklevel: int) -> None:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        stacklevel=stacklevel,
    )


def softmax(
    input: Tensor,
    dim: int | None = None,
    _stacklevel: int = 3,  # noqa: A002
    dtype: Any = None,
) -> Tensor:
    if dim is None:
        _implicit_dim_warning("softmax", _stacklevel)
    return _red.softmax(input, dim, dtype)


def softmin(
    input: Tensor,
    dim: int | None = None,
    _stacklevel: int = 3,  # noqa: A002
    dtype: Any = None,
) -> Tensor:
    if dim is None:
        _implicit_dim_warning("softmin", _stacklevel)
    return _red.softmax(-input, dim, dtype)


def gumbel_softmax(
    logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """Samples from the Gumbel-softmax distribution (PyTorch's steps: -log of Exp(1) draws
    added to the logits, over ``tau``, softmax); ``hard``: one-hot forward, soft gradient."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -_creation.empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = _creation.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def log_softmax(
    input: Tensor,
    dim: int | None = None,
    _stacklevel: int = 3,  # noqa: A002
    dtype: Any = None,
) -> Tensor:
    if dim is None:
        _implicit_dim_warning("log_softmax", _stacklevel)
    return _red.log_softmax(input, dim, dtype)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / denom


def _one_device(op: str, *tensors: Any) -> None:
    """torch's RuntimeError when the tensors given (None skipped) span two devices."""
    all_on_one_device(op, [t for t in tensors if isinstance(t, Tensor)])


# ----------------------------------------------------------------------------- layers
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias``."""
    _check_tensor("linear", "input", input)
    _check_tensor("linear", "weight", weight)
    _one_device("linear", input, weight, bias)
    if bias is not None and (input.dtype != weight.dtype or bias.dtype != weight.dtype):
        # addmm's checks, in its order and words
        first, second = ("mat1", input) if input.dtype != weight.dtype else ("self", bias)
        raise RuntimeError(
            f"{first} and mat2 must have the same dtype, but got {_scalar_type(second)} and "
            f"{_scalar_type(weight)}"
        )
    if weight.dim() == 2 and input.dim() >= 1 and input.shape[-1] != weight.shape[1]:
        rows = int(np.prod(input.shape[:-1])) if input.dim() > 1 else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
            f"{weight.shape[1]}x{weight.shape[0]})"
        )
    fused = _la._linear(input, weight, bias)  # the 2-D case as one op (addmm)
    if fused is not None:
        return fused
    if input.dim() > 2 and weight.dim() == 2:
        # Leading dims folded into rows, as PyTorch's matmul does: one BLAS call, not one
        # per batch entry (NumPy's stacked matmul).
        flat = _la._linear(input.reshape(-1, input.shape[-1]), weight, bias)
        if flat is not None:
            return flat.reshape(*input.shape[:-1], weight.shape[0])
    out = input.matmul(weight.t() if weight.dim() == 2 else weight)
    return out if bias is None else out + bias


def bilinear(
    input1: Tensor,
    input2: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
) -> Tensor:
    """``y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o]`` (PyTorch's checks and
    messages): one matmul against W, then a product with x2 summed."""
    input1 = as_tensor(input1, "bilinear")
    input2 = as_tensor(input2, "bilinear")
    dtypes = [input1.dtype, input2.dtype, weight.dtype] + ([bias.dtype] if bias is not None else [])
    if len(set(dtypes)) > 1:
        names = ("input1", "input2", "weight", "bias")
        got = ", ".join(
            f"{n}: {_dtype.CPP_NAMES.get(d.name, d.name)}" for n, d in zip(names, dtypes)
        )
        raise RuntimeError(f"All tensors must have the same dtype, got {got}")
    if input1.dim() != input2.dim():
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {input1.dim()} and {input2.dim()}"
        )
    for i in range(input1.dim() - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {i}: got "
                f"{input1.shape[i]} and {input2.shape[i]}"
            )
    if weight.dim() < 3:
        raise IndexError(
            "Dimension out of range (expected to be in range of "
            f"[{-max(weight.dim(), 1)}, {max(weight.dim(), 1) - 1}], but got 2)"
        )
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            "bilinear(): input1 size does not match weight size: got "
            f"{input1.shape[-1]} but expected {weight.shape[1]}"
        )
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(
            "bilinear(): input2 size does not match weight size: got "
            f"{input2.shape[-1]} but expected {weight.shape[2]}"
        )
    if bias is not None and bias.shape[0] != weight.shape[0]:
        raise RuntimeError(
            "bilinear(): bias size does not match weight size: got "
            f"{bias.shape[0]} but expected {weight.shape[0]}"
        )
    out_f, in1, in2 = weight.shape
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (B, I) @ (I, O*J) -> (B, O, J), times x2 over J
    t = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = (t * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out_f)


def dropout(
    input: Tensor,
    p: float = 0.5,
    training: bool = True,  # noqa: A002
    inplace: bool = False,
) -> Tensor:
    """Inverted dropout: keeps each element with probability 1-p and scales it by 1/(1-p)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    dt = input._data.dtype
    xp = input.xp
    if p == 1.0:
        mask = xp.zeros(input._data.shape, dtype=dt)
    else:
        rng = _creation._rng(None, input.device)
        # empty_like(input).bernoulli_(1 - p): drawn in the input's memory order if it is dense
        keep = in_draw_order(lambda s: rng.bernoulli(1.0 - p, s), input._data, dense_only=True)
        keep = xp.asarray(keep)
        # the scale as ATen divides it: 1 / (1 - p) in the tensor's dtype
        mask = keep.astype(dt) * (dt.type(1.0) / dt.type(1.0 - p))
    mask_t = Tensor._make(mask)
    return input.mul_(mask_t) if inplace else input * mask_t


def _check_classes(data: Any, num_classes: int) -> None:
    """one_hot's check of the class values (a value guard under ndgrad.compile)."""
    if data.size:
        if data.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if data.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Rows of the identity: int64 of shape ``tensor.shape + (num_classes,)``."""
    if tensor._data.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._data
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    _nn._tracer.value_check(_check_classes, data, num_classes)
    xp = tensor.xp
    out = xp.zeros_like(data, order="C", shape=data.shape + (num_classes,))  # (compile sees it)
    xp.put_along_axis(out, data[..., None], 1, axis=-1)
    return Tensor._make(out)


# ----------------------------------------------------------------------------- reductions
_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
        stacklevel=3,
    )
    return ret


def _get_reduction(
    reduction: str,
    size_average: bool | None = None,
    reduce: bool | None = None,
    allowed: tuple[str, ...] = _REDUCTIONS,
) -> str:
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _size_warning(input: Tensor, target: Tensor) -> None:  # noqa: A002
    if target.shape != input.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )


_POSITIONS = {"input": 1, "target": 2, "weight": 2, "bias": 3}


def _check_tensor(op: str, name: str, value: Any) -> Tensor:
    """PyTorch's TypeError for a non-tensor argument (a NumPy array fed to a layer, say)."""
    if not isinstance(value, Tensor):
        kind = type(value)
        kind_name = (
            kind.__name__
            if kind.__module__ == "builtins"
            else f"{kind.__module__}.{kind.__qualname__}"
        )
        raise TypeError(
            f"{op}(): argument '{name}' (position {_POSITIONS.get(name, 1)}) must be Tensor, "
            f"not {kind_name}"
        )
    return value


def _weighted(
    loss: Tensor,
    weight: Tensor | None,
    input: Tensor,
    reduction: str,  # noqa: A002
    mean_by_weight: bool,
) -> Tensor:
    """The ``weight=`` path shared by mse/l1 (sum/sum(weight)) and huber (plain mean)."""
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- regression losses
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,  # noqa: A002
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    _check_tensor("mse_loss", "input", input)
    target = as_tensor(target, "mse_loss")
    _size_warning(input, target)
    reduction = _get_reduction(reduction, size_average, reduce)
    if input._data.dtype.kind != "f" and target._data.dtype.kind != "f":
        raise not_implemented("mse_cpu", input)
    diff = input - target
    loss = _weighted(diff * diff, weight, input, reduction, mean_by_weight=True)
    return named(loss, "MseLossBackward0")  # the name PyTorch prints, whatever the reduction


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,  # noqa: A002
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    _check_tensor("l1_loss", "input", input)
    target = as_tensor(target, "l1_loss")
    _size_warning(input, target)
    reduction = _get_reduction(reduction, size_average, reduce)
    return _weighted((input - target).abs(), weight, input, reduction, mean_by_weight=True)


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",  # noqa: A002
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    _check_tensor("huber_loss", "input", input)
    target = as_tensor(target, "huber_loss")
    _size_warning(input, target)
    reduction = _get_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff = input - target
    z = diff.abs()
    loss = _pw.where(z < delta, 0.5 * diff * diff, delta * (z - 0.5 * delta))
    return named(
        _weighted(loss, weight, input, reduction, mean_by_weight=False), "HuberLossBackward0"
    )


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,  # noqa: A002
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    _check_tensor("smooth_l1_loss", "input", input)
    target = as_tensor(target, "smooth_l1_loss")
    _size_warning(input, target)
    reduction = _get_reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    diff = input - target
    z = diff.abs()
    if beta == 0:
        return named(_reduce(z, reduction), "SmoothL1LossBackward0")
    loss = _pw.where(z < beta, 0.5 * diff * diff / beta, z - 0.5 * beta)
    return named(_reduce(loss, reduction), "SmoothL1LossBackward0")


# ----------------------------------------------------------------------------- classification
def _check_class_target(input: Tensor, target: Tensor) -> None:  # noqa: A002
    # PyTorch's order: ranks and batch sizes first, then the target's dtype, then its size.
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if input.dim() > 1 and (target.dim() == 0 or input.shape[0] != target.shape[0]):
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0] if target.dim() else 0})."
        )
    if input.dim() <= 2 and target.dim() > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target._data.dtype not in (np.int64, np.uint8):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_scalar_type(target)}"
        )
    if input.dim() == 1:
        if target.dim() == 1 and target.shape[0] != 1:
            raise ValueError(
                f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}"
            )
        return
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")


def _class_weight(weight: Tensor | None, n_classes: int) -> Tensor | None:
    if weight is None:
        return None
    if weight.dim() != 1 or weight.numel() != n_classes:
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes "
            f"but got weight tensor of shape: {list(weight.shape)}"
        )
    return weight


def _reduce_nll(losses: Tensor, w: Tensor, reduction: str) -> Tensor:
    """The losses summed, or their mean weighted by ``w`` (PyTorch's weighted mean)."""
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    return total / w.sum()


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,  # noqa: A002
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``."""
    _check_tensor("nll_loss", "input", input)
    _check_tensor("nll_loss", "target", target)
    _one_device("nll_loss", input, target, weight)
    reduction = _get_reduction(reduction, size_average, reduce)
    _check_class_target(input, target)
    weight = _class_weight(weight, input.shape[0 if input.dim() == 1 else 1])
    losses, w = _nn.nll_elements(input, target, weight, ignore_index)
    return named(_reduce_nll(losses, w, reduction), "NllLossBackward0")


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,  # noqa: A002
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits ``input`` against class indices or class probabilities."""
    _check_tensor("cross_entropy", "input", input)
    _check_tensor("cross_entropy", "target", target)
    _one_device("cross_entropy", input, target, weight)
    reduction = _get_reduction(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if weight is None and label_smoothing == 0.0 and target._data.dtype == np.int64:
        # Logits (N, C) and class indices: log_softmax and nll_loss as one op. (Other target
        # dtypes take the general path, which rejects them as PyTorch does.)
        fused = _nn.cross_entropy_indices(input, target, reduction, ignore_index)
        if fused is not None:
            return fused
    class_dim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[class_dim]
    weight = _class_weight(weight, n_classes)
    logp = _red.log_softmax(input, class_dim)
    w_view = None
    if weight is not None:
        view = [1] * input.dim()
        view[class_dim] = n_classes
        w_view = weight.reshape(view)

    if target.shape == input.shape:
        return _cross_entropy_probs(
            logp, target, w_view, class_dim, n_classes, reduction, label_smoothing
        )

    _check_class_target(input, target)
    losses, w = _nn.nll_elements(logp, target, weight, ignore_index)
    nll = _reduce_nll(losses, w, reduction)
    if label_smoothing == 0.0:
        return nll
    valid = target != ignore_index
    smooth = -(logp * w_view if w_view is not None else logp).sum(class_dim)
    smooth = _pw.where(valid, smooth, 0.0)
    if reduction == "mean":
        smooth = smooth.sum() / w.sum()
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def _cross_entropy_probs(
    logp: Tensor,
    target: Tensor,
    w_view: Tensor | None,
    class_dim: int,
    n_classes: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    if target._data.dtype.kind != "f":
        raise RuntimeError(
            "Expected floating point type for target with class probabilities, got "
            f"{_scalar_type(target)}"
        )
    if label_smoothing > 0.0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if w_view is not None:
        prod = prod * w_view
    if reduction == "none":
        return -prod.sum(class_dim)
    total = -prod.sum()
    if reduction == "sum":
        return total
    count = logp.numel() // n_classes if n_classes else 0
    if count == 0:
        return total * float("nan")
    return total / count


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,  # noqa: A002
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """BCE of probabilities; each log is clamped at -100 as PyTorch does."""
    _check_tensor("binary_cross_entropy", "input", input)
    target = as_tensor(target, "binary_cross_entropy")
    reduction = _get_reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    if target.dtype != input.dtype:
        raise RuntimeError(
            f"binary_cross_entropy(): Found dtype {_scalar_type(target)} but expected "
            f"{_scalar_type(input)} (the target must have the input's dtype)"
        )
    if not ((input >= 0) & (input <= 1)).all():
        raise RuntimeError(
            "binary_cross_entropy(): all elements of input should be between 0 and 1"
        )
    if not ((target >= 0) & (target <= 1)).all():
        raise RuntimeError(
            "binary_cross_entropy(): all elements of target should be between 0 and 1"
        )
    if weight is not None and weight.shape != input.shape:
        weight = weight.expand(input.shape)  # as PyTorch, which saves the expanded view
    t = target
    loss = _nn.binary_cross_entropy(input, t, weight)
    return named(_reduce(loss, reduction), "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,  # noqa: A002
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """``(1 - t) x - lw * logsigmoid(x)`` with ``lw = 1 + (pos_weight - 1) t``: stable for any x."""
    _check_tensor("binary_cross_entropy_with_logits", "input", input)
    target = as_tensor(target, "binary_cross_entropy_with_logits")
    reduction = _get_reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    if target._data.dtype.kind in "iub" and input._data.dtype.kind == "f":
        raise RuntimeError(
            f"binary_cross_entropy_with_logits(): result type {_scalar_type(input)} can't be "
            f"cast to the desired output type {_scalar_type(target)} (the target must be a "
            "floating point tensor)"
        )
    log_sig = _pw.logsigmoid(input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input - log_weight * log_sig
    else:
        loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return named(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,  # noqa: A002
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Pointwise KL divergence; ``input`` holds log-probabilities (``target`` too if log_target)."""
    _check_tensor("kl_div", "input", input)
    target = as_tensor(target, "kl_div")
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    if log_target:
        loss = _pw.exp(target) * (target - input)
    else:
        # xlogy(t, t): 0 where t == 0 (the log's argument is made safe there).
        safe = _pw.where(target > 0, target, 1.0)
        loss = target * _pw.log(safe) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.dim() else total
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- margin, embedding
# and likelihood losses. Compositions of differentiable ops in PyTorch's order (their kinks
# follow clamp_min's rule: the gradient passes where the clamped value is exactly 0, as in
# PyTorch's ATen compositions); the kernels PyTorch writes by hand (soft margin, multi-margin,
# multilabel margin) are composed so that their values and gradients match too.
_COSINE_EPSILON = 1e-12  # ATen's EPSILON in cosine_embedding_loss


def _size_text(t: Tensor) -> str:
    return repr(t.size())


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``."""
    reduction = _get_reduction(reduction, size_average, reduce)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {_size_text(input1)}, input2: {_size_text(input2)}, target: "
            f"{_size_text(target)} "
        )
    loss = named((-target * (input1 - input2) + margin).clamp_min(0), "ClampMinBackward0")
    return _reduce(loss, reduction)


def hinge_embedding_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``x`` where target is 1, ``max(0, margin - x)`` where it is -1 (other values: the sum)."""
    reduction = _get_reduction(reduction, size_average, reduce)
    try:
        np.broadcast_shapes(tuple(target.shape), tuple(input.shape))
    except ValueError:
        raise broadcast_error("hinge_embedding_loss", target.shape, input.shape) from None
    margin_clamp = (margin - input).clamp_min(0)
    output_margin = _pw.where(target != 1, margin_clamp, 0.0)
    output_self = _pw.where(target != -1, input, 0.0)
    return _reduce(output_margin + output_self, reduction)


def _not_differentiable(op: str, name: str, t: Tensor | None) -> None:
    """PyTorch's refusal of a gradient-requiring argument its kernel has no derivative for."""
    from ndgrad.autograd import is_grad_enabled

    if t is not None and t.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"The function '{op}' is not differentiable with respect to argument '{name}'. "
            "This input cannot have requires_grad True."
        )


def soft_margin_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``log(1 + exp(-target * input))`` (PyTorch's kernel: no overflow guard, so it is inf
    for very negative margins), in the input's dtype and shape."""
    reduction = _get_reduction(reduction, size_average, reduce)
    _check_tensor("soft_margin_loss", "input", input)
    target = as_tensor(target, "soft_margin_loss")
    _not_differentiable("soft_margin_loss", "target", target)
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except ValueError:
        raise broadcast_error("soft_margin_loss", input.shape, target.shape) from None
    if shape != tuple(input.shape):
        raise RuntimeError(
            f"output with shape {list(input.shape)} doesn't match the broadcast shape {list(shape)}"
        )
    if input._data.dtype.kind != "f":
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {_scalar_type(input)}"
        )
    margin = -input * target
    if margin.dtype != input.dtype:  # the kernel works in place in the input's dtype
        margin = margin.to(input.dtype)
    loss = _pw.log1p(_pw.exp(margin))
    return named(_reduce(loss, reduction), "SoftMarginLossBackward0")


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``1 - cos`` where target is 1, ``max(0, cos - margin)`` where it is -1; ``cos`` with
    ATen's 1e-12 added to each squared magnitude."""
    reduction = _get_reduction(reduction, size_average, reduce)
    targ_dim = target.dim()
    if targ_dim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = 2 if targ_dim == 1 else 1
    if input1.dim() != want or input2.dim() != want:
        raise RuntimeError(
            f"{targ_dim}D target tensor expects {want}D input tensors, but found inputs with "
            f"sizes {list(input1.shape)} and {list(input2.shape)}."
        )
    prod_sum = (input1 * input2).sum(targ_dim)
    mag_square1 = (input1 * input1).sum(targ_dim) + _COSINE_EPSILON
    mag_square2 = (input2 * input2).sum(targ_dim) + _COSINE_EPSILON
    cos = prod_sum / (mag_square1 * mag_square2).sqrt()
    output_pos = _pw.where(target == 1, 1 - cos, 0.0)
    output_neg = _pw.where(target == -1, (cos - margin).clamp_min(0), 0.0)
    return _reduce(output_pos + output_neg, reduction)


def _check_triplet_dims(anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    a, p, n = anchor.dim(), positive.dim(), negative.dim()
    if not (a == p and p == n):
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs"
        )


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``max(0, margin + d(a, p) - d(a, n))`` with the pairwise p-norm distance (eps added to
    the difference); ``swap`` uses ``min(d(a, n), d(p, n))``."""
    reduction = _get_reduction(reduction, size_average, reduce)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = _pw.minimum(dist_neg, pairwise_distance(positive, negative, p, eps))
    loss = named((margin + dist_pos - dist_neg).clamp_min(0), "ClampMinBackward0")
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Any = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """The triplet loss with any distance (default: the pairwise 2-norm distance)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    if distance_function is None:
        distance_function = pairwise_distance
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:
        dist_neg = _pw.minimum(dist_neg, distance_function(positive, negative))
    loss = named((margin + dist_pos - dist_neg).clamp_min(0), "ClampMinBackward0")
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """The mean over classes (the last dim) of the per-class logistic losses."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    loss = -(target * _pw.logsigmoid(input) + (1 - target) * _pw.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    if input.dim() == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    class_dim = input.dim() - 1
    loss = loss.sum(dim=class_dim) / input.shape[class_dim]
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def _check_long_target(target: Tensor) -> None:
    if target._data.dtype != np.int64:
        raise RuntimeError(f"expected scalar type Long but found {_scalar_type(target)}")


def _check_target_range(data: Any, low: int, high: int, message: str) -> None:
    """Class indices in [low, high) (a value guard under ndgrad.compile)."""
    if data.size and (data.min() < low or data.max() >= high):
        raise RuntimeError(message)


def _used_slots(valid: Any) -> int:
    """The most targets any row has (a value guard under ndgrad.compile)."""
    return int(valid.sum(1).max()) if valid.size else 0


def _margin_frames(op: str, input: Tensor) -> tuple[int, int]:  # noqa: A002
    """(frames, classes) of a multi-margin input: 0-D, 1-D or 2-D with non-empty classes."""
    nd = input.dim()
    if not ((nd == 2 and input.shape[1] != 0) or (nd == 1 and input.shape[0] != 0) or nd == 0):
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(input.shape)}"
        )
    if nd <= 1:
        return 1, (1 if nd == 0 else input.shape[0])
    return input.shape[0], input.shape[1]


def multi_margin_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C`` per sample
    (times ``weight[y]``)."""
    reduction = _get_reduction(reduction, size_average, reduce)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    _not_differentiable("multi_margin_loss", "weight", weight)
    nframe, dim = _margin_frames("multi_margin_loss", input)
    if target.dim() > 1 or target.numel() != nframe:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{nframe}], but got "
            f"{list(target.shape)}. Input has shape {list(input.shape)}."
        )
    if weight is not None and weight.numel() != dim:
        raise RuntimeError(f"inconsistent weight size, expected {dim} but got {list(weight.shape)}")
    _check_long_target(target)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(
            f"\"multi_margin_loss_cpu_kernel\" not implemented for '{_scalar_type(input)}'"
        )
    if weight is not None and weight.dtype != input.dtype:
        raise RuntimeError(
            f"expected scalar type {_scalar_type(input)} but found {_scalar_type(weight)}"
        )
    t = target._data.reshape(nframe)
    _nn._tracer.value_check(_check_target_range, t, 0, dim, "target out of range")
    x = input.reshape(nframe, dim)
    idx = Tensor._make(t.reshape(nframe, 1))
    z = (margin - x.gather(1, idx)) + x
    h = _pw.relu(z)  # the kernel's strict z > 0: no gradient at the kink
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * weight[idx]
    others = Tensor._make(input.xp.arange(dim)[None, :] != t.reshape(nframe, 1))
    loss = _pw.where(others, h, 0.0).sum(1) / dim
    if reduction == "none":
        out = loss.reshape(tuple(target.shape))
    elif reduction == "sum" or nframe == 0:
        out = loss.sum()
    else:
        out = loss.sum() / nframe
    return named(out, "MultiMarginLossBackward0")


def multilabel_margin_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``sum_{j in targets} sum_{i not in targets} max(0, 1 - x[j] + x[i]) / C`` per sample;
    the targets are the indices before the first -1."""
    reduction = _get_reduction(reduction, size_average, reduce)
    nframe, dim = _margin_frames("multilabel_margin_loss", input)
    nd = input.dim()
    if nd <= 1:
        ok = target.dim() <= 1 and target.numel() == dim
    else:
        ok = target.dim() == 2 and tuple(target.shape) == (nframe, dim)
    if not ok:
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    _check_long_target(target)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(
            '"multilabel_margin_loss_forward_out_frame" not implemented for '
            f"'{_scalar_type(input)}'"
        )
    t = target._data.reshape(nframe, dim)
    _nn._tracer.value_check(_check_target_range, t, -1, dim, "argument #2 'target' is out of range")
    # The targets of a row are its entries before the first -1 (repeats count again).
    xp = input.xp
    valid = xp.cumprod(t >= 0, axis=1).astype(bool)
    safe = xp.where(valid, t, 0)
    is_target = xp.zeros((nframe, dim), dtype=bool)
    rows = xp.broadcast_to(xp.arange(nframe)[:, None], t.shape)
    is_target[rows[valid], safe[valid]] = True
    # only the slots some row uses: (N, slots, C) pairs, not (N, C, C)
    slots = _nn._tracer.value_check(_used_slots, valid)
    valid, safe = valid[:, :slots], safe[:, :slots]
    x = input.reshape(nframe, dim)
    x_target = x.gather(1, Tensor._make(safe))  # (N, slots)
    z = (1 - x_target).unsqueeze(2) + x.unsqueeze(1)  # (N, slots, C)
    pairs = Tensor._make(valid[:, :, None] & ~is_target[:, None, :])
    loss = _pw.where(pairs, _pw.relu(z), 0.0).sum((1, 2)) / dim
    if reduction == "none":
        out = loss.reshape(nframe) if nd == 2 else loss.reshape(())
    else:
        out = _reduce(loss, reduction)
    return named(out, "MultilabelMarginLossBackward0")


def poisson_nll_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``exp(x) - t x`` (log_input) or ``x - t log(x + eps)``; ``full`` adds Stirling's term
    ``t log t - t + log(2 pi t) / 2`` where t > 1."""
    reduction = _get_reduction(reduction, size_average, reduce)
    if log_input:
        loss = _pw.exp(input) - target * input
    else:
        loss = input - target * _pw.log(input + eps)
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):  # t <= 1 is masked out below
            stirling = target * _pw.log(target) - target + 0.5 * _pw.log(2 * math.pi * target)
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """``(log(var) + (input - target)^2 / var) / 2`` (+ ``log(2 pi) / 2`` if full); var is
    clamped at eps outside autograd, as PyTorch does (the gradient passes the clamp)."""
    from ndgrad.autograd import no_grad

    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * _creation.ones_like(input)
    elif not isinstance(var, Tensor):
        raise TypeError(
            f"any() received an invalid combination of arguments - got ({type(var < 0).__name__})"
        )
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and (
            sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1
        ):
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (_pw.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- CTC
def _ctc_lengths(name: str, value: Any) -> Any:
    """Lengths given as a tuple/list of ints or an integer tensor, as an int64 array."""
    if isinstance(value, Tensor):
        if value._data.dtype.kind not in "iu":
            raise RuntimeError(f"{name} must be integral")
        return np.asarray(value._data).astype(np.int64).reshape(-1)
    if isinstance(value, (int, np.integer)):
        return np.array([int(value)], dtype=np.int64)
    return np.array([int(v) for v in value], dtype=np.int64).reshape(-1)


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """The Connectionist Temporal Classification loss of ``log_probs`` ``(T, N, C)`` (or
    unbatched ``(T, C)``) against ``targets``, padded ``(N, S)`` or concatenated 1-D.
    ``'mean'`` divides each loss by its target length (at least 1) before averaging;
    ``zero_infinity`` replaces infinite losses (impossible alignments) and their gradients
    by zeros. Not differentiable twice (as PyTorch)."""
    reduction = _get_reduction(reduction)
    log_probs = as_tensor(log_probs, "ctc_loss")
    targets = as_tensor(targets, "ctc_loss")
    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    il = _ctc_lengths("input_lengths", input_lengths)
    tl = _ctc_lengths("target_lengths", target_lengths)
    where = " (while checking arguments for ctc_loss_allocate_outputs)"
    if lp.dim() != 3:
        raise RuntimeError(
            f"Expected 3-dimensional tensor, but got {lp.dim()}-dimensional tensor for "
            f"argument #1 'log_probs'{where}"
        )
    tdata = np.asarray(targets._data)
    if not 1 <= tdata.ndim <= 2:
        raise RuntimeError(
            f"Expected 1 to 2 dimensions, but got {tdata.ndim}-dimensional tensor for "
            f"argument #2 'targets'{where}"
        )
    steps, batch, classes = lp.shape
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if il.shape[0] != batch:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tl.shape[0] != batch:
        raise RuntimeError("target_lengths must be of size batch_size")
    for length in tl:
        if length < 0:
            raise RuntimeError(
                f"Expected target_lengths to have value at least 0, but got value {length}{where}"
            )
    longest = int(tl.max()) if batch else 0
    if tdata.ndim == 1 and batched:
        if tdata.shape[0] != int(tl.sum()):
            raise RuntimeError(
                f"Expected tensor to have size {int(tl.sum())} at dimension 0, but got size "
                f"{tdata.shape[0]} for argument #2 'targets'{where}"
            )
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
        cols = np.minimum(starts[:, None] + np.arange(longest), max(tdata.shape[0] - 1, 0))
        labels = tdata[cols] if tdata.size else np.zeros((batch, longest), np.int64)
    else:
        labels = tdata if tdata.ndim == 2 else tdata[None]
        if labels.shape[0] != batch:
            raise RuntimeError(
                f"Expected tensor to have size {batch} at dimension 0, but got size "
                f"{labels.shape[0]} for argument #2 'targets'{where}"
            )
        if labels.shape[1] < longest:
            raise RuntimeError(
                f"Expected tensor to have size at least {longest} at dimension 1, but got size "
                f"{labels.shape[1]} for argument #2 'targets'{where}"
            )
    for length in il:
        if length < 0:
            raise RuntimeError(
                f"Expected input_lengths to have value at least 0, but got value {length}{where}"
            )
        if length > steps:
            raise RuntimeError(
                f"Expected input_lengths to have value at most {steps}, but got value "
                f"{length}{where}"
            )
    if lp._data.dtype.kind != "f" or lp._data.dtype == np.float16:
        from ndgrad._tensor import _TYPE_NAMES

        kind = _TYPE_NAMES.get(lp._data.dtype.name, "Tensor").replace("Tensor", "")
        raise NotImplementedError(f"\"ctc_loss_cpu\" not implemented for '{kind}'")
    labels = labels[:, :longest].astype(np.int64)
    used = np.arange(longest)[None, :] < tl[:, None]
    if used.any() and ((labels[used] < 0) | (labels[used] >= classes)).any():
        bad = int(labels[used][(labels[used] < 0) | (labels[used] >= classes)][0])
        raise IndexError(f"ctc_loss: target label {bad} is out of range for {classes} classes")
    res = _nn.ctc_loss(lp, labels, il, tl, blank, zero_infinity)
    if zero_infinity:
        res = _pw.where(res == math.inf, _creation.zeros((), dtype=res.dtype), res)
    if reduction == "mean":
        counts = Tensor._make(np.maximum(tl, 1).astype(res._data.dtype))
        return (res / counts).mean()
    if reduction == "sum":
        return res.sum()
    return res if batched else res.squeeze(0)


# ----------------------------------------------------------------------------- convolution
from ndgrad.ops import convolution as _conv  # noqa: E402


def _size_list(shape: Any) -> str:
    return "[" + ", ".join(str(int(n)) for n in shape) + "]"


def _conv_tuple(value: Any, n: int) -> tuple:
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    return tuple(int(v) for v in value)


def _conv_param(value: tuple, k: int, name: str) -> tuple:
    """A stride/padding/dilation/output_padding as ``k`` ints (PyTorch's message otherwise)."""
    if len(value) == 1 and k != 1:
        value = value * k
    if len(value) != k:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {k} values to match "
            f"the convolution dimensions, but got {name}={list(value)}"
        )
    return value


def _conv_batched(op: str, input: Tensor, n: int) -> tuple[Tensor, bool]:  # noqa: A002
    """``input`` with a batch dim, and whether it had one."""
    _check_tensor(op, "input", input)
    if input.dim() == n + 1:
        return input.unsqueeze(0), False
    if input.dim() != n + 2:
        raise RuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {op}, but got "
            f"input of size: {_size_list(input.shape)}"
        )
    return input, True


def _check_conv_dtypes(input: Tensor, weight: Tensor, bias: Tensor | None) -> None:  # noqa: A002
    all_on_one_device("convolution", [input, weight] if bias is None else [input, weight, bias])
    # PyTorch checks the bias first, then the weight
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(
            f"Input type ({_scalar_type(input).lower()}) and bias type "
            f"({_scalar_type(bias).lower()}) should be the same"
        )
    if input.dtype != weight.dtype:
        raise RuntimeError(
            f"expected scalar type {_scalar_type(input)} but found {_scalar_type(weight)}"
        )


def _check_conv_weight(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None,
    groups: int,
    transposed: bool,
) -> None:
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    w = weight.shape
    if w[0] < groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, "
            f"but got weight of size {_size_list(w)} instead"
        )
    if w[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at "
            f"dimension 0, but got weight of size [{_size_list(w)}] instead"
        )
    channels = w[0] if transposed else w[1] * groups
    if input.shape[1] != channels:
        given = "transposed=1" if transposed else f"groups={groups}"
        raise RuntimeError(
            f"Given {given}, weight of size {_size_list(w)}, expected input"
            f"{_size_list(input.shape)} to have {channels} channels, but got "
            f"{input.shape[1]} channels instead"
        )
    out_channels = w[1] * groups if transposed else w[0]
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != out_channels):
        given = "transposed=1, weight" if transposed else "weight"
        raise RuntimeError(
            f"Given {given} of size {_size_list(w)}, expected bias to be 1-dimensional with "
            f"{out_channels} elements, but got bias of size {_size_list(bias.shape)} instead"
        )


def _conv_nd(
    op: str,
    n: int,
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> Tensor:
    x, batched = _conv_batched(op, input, n)
    _check_tensor(op, "weight", weight)
    if bias is not None:
        _check_tensor(op, "bias", bias)
    k = weight.dim() - 2
    stride = _conv_param(_conv_tuple(stride, n), k, "stride")
    dilation = _conv_param(_conv_tuple(dilation, n), k, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * k
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for d, size in zip(dilation, weight.shape[2:]):
                total = d * (size - 1)
                pads.append((total // 2, total - total // 2))
            pads = tuple(pads)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _conv_param(_conv_tuple(padding, n), k, "padding")
        pads = tuple((p, p) for p in padding)
    if any(p < 0 for pair in pads for p in pair):
        raise RuntimeError("negative padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if weight.dim() != x.dim():
        raise RuntimeError(
            f"Expected {weight.dim() - 1}-dimensional input for {weight.dim()}-dimensional "
            f"weight {_size_list(weight.shape)}, but got {x.dim()}-dimensional input of size "
            f"{_size_list(x.shape)} instead"
        )
    _check_conv_weight(x, weight, bias, groups, transposed=False)
    padded = tuple(m + lo + hi for m, (lo, hi) in zip(x.shape[2:], pads))
    kernel = tuple(d * (s - 1) + 1 for d, s in zip(dilation, weight.shape[2:]))
    if any(p < kk for p, kk in zip(padded, kernel)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, kernel))}). "
            "Kernel size can't be greater than actual input size"
        )
    _check_conv_dtypes(x, weight, bias)
    out = _conv.convolution(x, weight, bias, stride, pads, dilation, groups)
    return out if batched else out.squeeze(0)


def conv1d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution of ``(N, C_in, L)`` (or unbatched ``(C_in, L)``) with a
    ``(C_out, C_in / groups, k)`` weight; ``padding`` an int, a tuple, 'valid' or 'same'."""
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution of ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``) with a
    ``(C_out, C_in / groups, kH, kW)`` weight; ``padding`` an int, a pair, 'valid' or 'same'
    (even kernels pad one more after, as PyTorch)."""
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """3-D convolution of ``(N, C_in, D, H, W)`` (or unbatched ``(C_in, D, H, W)``) with a
    ``(C_out, C_in / groups, kD, kH, kW)`` weight."""
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose_nd(
    op: str,
    n: int,
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
) -> Tensor:
    x, batched = _conv_batched(op, input, n)
    _check_tensor(op, "weight", weight)
    if bias is not None:
        _check_tensor(op, "bias", bias)
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    k = weight.dim() - 2
    stride = _conv_param(_conv_tuple(stride, n), k, "stride")
    padding = _conv_param(_conv_tuple(padding, n), k, "padding")
    dilation = _conv_param(_conv_tuple(dilation, n), k, "dilation")
    output_padding = _conv_param(_conv_tuple(output_padding, n), k, "output_padding")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if weight.dim() != x.dim():
        raise RuntimeError(
            f"Expected {weight.dim() - 1}-dimensional input for {weight.dim()}-dimensional "
            f"weight {_size_list(weight.shape)}, but got {x.dim()}-dimensional input of size "
            f"{_size_list(x.shape)} instead"
        )
    _check_conv_weight(x, weight, bias, groups, transposed=True)
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        names = ("depth", "height", "width")[3 - k :] if k <= 3 else tuple(map(str, range(k)))
        parts = (
            [f"output_padding_{m}: {v}" for m, v in zip(names, output_padding)]
            + [f"stride_{m}: {v}" for m, v in zip(names, stride)]
            + [f"dilation_{m}: {v}" for m, v in zip(names, dilation)]
        )
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            + " ".join(parts)
        )
    out = tuple(
        (m - 1) * s - 2 * p + d * (kk - 1) + op_ + 1
        for m, s, p, d, kk, op_ in zip(
            x.shape[2:], stride, padding, dilation, weight.shape[2:], output_padding
        )
    )
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). "
            f"Calculated output size per channel: ({' x '.join(map(str, out))}). "
            "Output size is too small"
        )
    _check_conv_dtypes(x, weight, bias)
    x_shape = (x.shape[0], weight.shape[1] * groups) + out
    pads = tuple((p, p) for p in padding)
    y = _conv.conv_input_grad(x, weight, bias, x_shape, stride, pads, dilation, groups)
    return y if batched else y.squeeze(0)


def conv_transpose1d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 1-D convolution (the input gradient of ``conv1d``); ``weight`` is
    ``(C_in, C_out / groups, k)``."""
    return _conv_transpose_nd(
        "conv_transpose1d",
        1,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose2d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution (the input gradient of ``conv2d``); ``weight`` is
    ``(C_in, C_out / groups, kH, kW)``."""
    return _conv_transpose_nd(
        "conv_transpose2d",
        2,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose3d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 3-D convolution (the input gradient of ``conv3d``); ``weight`` is
    ``(C_in, C_out / groups, kD, kH, kW)``."""
    return _conv_transpose_nd(
        "conv_transpose3d",
        3,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def _identity_kernels(channels: int, kernel: tuple, dtype: Any, device: Any = None) -> Tensor:
    """``(channels * prod(kernel), 1, *kernel)`` one-hot kernels: convolving with them (groups
    = channels) copies each window into the channel dim, in PyTorch's unfold order."""
    kk = int(np.prod(kernel))
    eye = np.zeros((channels, kk, kk), dtype=dtype.np if hasattr(dtype, "np") else dtype)
    eye[:, np.arange(kk), np.arange(kk)] = 1
    return _creation.tensor(eye.reshape((channels * kk, 1) + tuple(kernel)), device=device)


def unfold(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """im2col: the sliding ``kernel_size`` blocks of ``(N, C, H, W)`` (or ``(C, H, W)``) as
    columns ``(N, C * prod(kernel_size), L)``, PyTorch's layout."""
    _check_tensor("unfold", "input", input)
    if input.dim() not in (3, 4):
        raise IndexError(
            f"Dimension out of range (expected to be in range of [-{input.dim()}, "
            f"{input.dim() - 1}], but got 2)"
        )
    kernel = _conv_tuple(kernel_size, 2)
    dilation, padding, stride = (_conv_tuple(v, 2) for v in (dilation, padding, stride))
    x = input if input.dim() == 4 else input.unsqueeze(0)
    blocks = tuple(
        (m + 2 * p - d * (kk - 1) - 1) // s + 1
        for m, p, d, kk, s in zip(x.shape[2:], padding, dilation, kernel, stride)
    )
    if any(b < 1 for b in blocks):
        raise RuntimeError(
            f"Given input with spatial size {tuple(x.shape[2:])}, kernel_size={kernel}, "
            f"dilation={dilation}, padding={padding}, calculated shape of the array of "
            f"sliding blocks as {blocks}, but its components must be at least one."
        )
    n, c = x.shape[:2]
    eye = _identity_kernels(c, kernel, x._data.dtype, x.device)
    pads = tuple((p, p) for p in padding)
    cols = _conv.convolution(x, eye, None, stride, pads, dilation, c)
    out = cols.reshape(n, c * eye.shape[0] // c, blocks[0] * blocks[1])
    out = out if input.dim() == 4 else out.squeeze(0)
    return named(out, "Im2ColBackward0")


def fold(
    input: Tensor,  # noqa: A002
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """col2im: sums columns ``(N, C * prod(kernel_size), L)`` (or unbatched) back into
    ``(N, C, *output_size)``; overlapping blocks add up."""
    _check_tensor("fold", "input", input)
    if input.dim() not in (2, 3):
        raise RuntimeError(
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
            f"non-zero dimensions for input, but got: {_size_list(input.shape)}"
        )
    size = _conv_tuple(output_size, 2)
    kernel = _conv_tuple(kernel_size, 2)
    dilation, padding, stride = (_conv_tuple(v, 2) for v in (dilation, padding, stride))
    x = input if input.dim() == 3 else input.unsqueeze(0)
    kk = kernel[0] * kernel[1]
    if x.shape[1] % kk:
        raise RuntimeError(
            "Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={x.shape[1]} and kernel_size={kernel}."
        )
    blocks = tuple(
        (m + 2 * p - d * (k - 1) - 1) // s + 1
        for m, p, d, k, s in zip(size, padding, dilation, kernel, stride)
    )
    if any(b < 1 for b in blocks) or x.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(
            f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={padding}, stride={stride}, expected size of input's dimension 2 to "
            f"match the calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
            f"{blocks[0] * blocks[1]}, but got input.size(2)={x.shape[2]}."
        )
    n, c = x.shape[0], x.shape[1] // kk
    eye = _identity_kernels(c, kernel, x._data.dtype, x.device)
    pads = tuple((p, p) for p in padding)
    g = x.reshape((n, c * kk) + blocks)
    out = _conv.conv_input_grad(g, eye, None, (n, c) + size, stride, pads, dilation, c)
    out = out if input.dim() == 3 else out.squeeze(0)
    return named(out, "Col2ImBackward0")


# ----------------------------------------------------------------------------- rearranging
def _check_pixel(op: str, input: Tensor, factor: int, name: str) -> tuple:  # noqa: A002
    _check_tensor(op, "input", input)
    if input.dim() < 3:
        raise RuntimeError(
            f"{op} expects input to have at least 3 dimensions, but got input with "
            f"{input.dim()} dimension(s)"
        )
    if factor <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {factor}")
    return tuple(input.shape)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002
    """``(*, C r^2, H, W)`` to ``(*, C, H r, W r)``: sub-pixel convolution's rearrangement."""
    r = upscale_factor
    *batch, c, h, w = _check_pixel("pixel_shuffle", input, r, "upscale_factor")
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    k = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return named(x.reshape(*batch, c // (r * r), h * r, w * r), "PixelShuffleBackward0")


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002
    """``(*, C, H r, W r)`` to ``(*, C r^2, H, W)``: the inverse of ``pixel_shuffle``."""
    r = downscale_factor
    *batch, c, h, w = _check_pixel("pixel_unshuffle", input, r, "downscale_factor")
    for name, size, at in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise RuntimeError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                f"input.size({at})={size} is not divisible by {r}"
            )
    k = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return named(x.reshape(*batch, c * r * r, h // r, w // r), "PixelUnshuffleBackward0")


def channel_shuffle(input: Tensor, groups: int) -> Tensor:  # noqa: A002
    """ShuffleNet's channel shuffle: ``(N, g * k, *)`` read as ``(N, g, k, *)``, transposed."""
    _check_tensor("channel_shuffle", "input", input)
    if input.dim() <= 2:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes "
            f"{_size_list(input.shape)}"
        )
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups."
        )
    x = input.reshape(n, groups, c // groups, *rest).transpose(1, 2)
    return named(x.reshape(n, c, *rest), "ChannelShuffleBackward0")


# ----------------------------------------------------------------------------- distances
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``<x1, x2> / (|x1| |x2|)`` along ``dim`` (broadcast), each norm at least ``eps``.

    As PyTorch, each input is divided by its own norm, clamped at ``eps`` without a gradient
    (the clamp only guards the division)."""
    _check_tensor("cosine_similarity", "x1", x1)
    _check_tensor("cosine_similarity", "x2", x2)
    from ndgrad.ops.shape import broadcast_tensors

    a, b = broadcast_tensors(x1, x2)
    if a.dtype.is_floating_point is False:
        a, b = a.float(), b.float()
    d = wrap_dim(dim, a.dim(), "cosine_similarity")

    def unit(t: Tensor) -> Tensor:
        n = _red.norm(t, 2, d, True)
        floor = n.detach().clamp_min(eps) - n.detach()  # the clamp's value, no gradient
        return t / (n + floor)

    return (unit(a) * unit(b)).sum(d)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """``|x1 - x2 + eps|_p`` along the last dim (broadcast)."""
    _check_tensor("pairwise_distance", "x1", x1)
    _check_tensor("pairwise_distance", "x2", x2)
    last = max(x1.dim(), x2.dim()) - 1
    return _red.norm(x1 - x2 + eps, p, last if last >= 0 else None, keepdim)


def _safe_root(total: Tensor, p: float) -> Tensor:
    """``total ** (1 / p)`` with a zero gradient where ``total`` is 0 (PyTorch's cdist)."""
    positive = total > 0
    ones = _creation.ones_like(total)
    return _pw.where(positive, _pw.where(positive, total, ones) ** (1.0 / p), total * 0)


def pdist(input: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """The ``p``-norm distance between each pair of rows ``i < j`` of an ``(N, M)`` input,
    in row-major order of the pairs."""
    _check_tensor("pdist", "input", input)
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    rows, cols = np.triu_indices(n, 1)
    first = input[_creation.tensor(rows.astype(np.int64), device=input.device)]
    second = input[_creation.tensor(cols.astype(np.int64), device=input.device)]
    return named(_red.norm(first - second, p, 1), "PdistBackward0")


def cdist(
    x1: Tensor,
    x2: Tensor,
    p: float = 2.0,
    compute_mode: str = "use_mm_for_euclid_dist_if_necessary",
) -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` ``(*, P, M)`` and each row of ``x2``
    ``(*, R, M)``: ``(*, P, R)``. For ``p = 2`` with more than 25 rows (or when asked) it is
    ``sqrt(|a|^2 + |b|^2 - 2 a.b)`` through one matrix product, as PyTorch computes it."""
    for t, name in ((x1, "X1"), (x2, "X2")):
        _check_tensor("cdist", "x1" if name == "X1" else "x2", t)
        if t.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.dim()}D")
        if not t.dtype.is_floating_point:
            raise RuntimeError(
                f"cdist only supports floating-point dtypes, {name} got: {_scalar_type(t)}"
            )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    modes = (
        "use_mm_for_euclid_dist_if_necessary",
        "use_mm_for_euclid_dist",
        "donot_use_mm_for_euclid_dist",
    )
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    rows1, rows2 = x1.shape[-2], x2.shape[-2]
    use_mm = p == 2 and (
        compute_mode == "use_mm_for_euclid_dist"
        or (compute_mode == modes[0] and (rows1 > 25 or rows2 > 25))
    )
    if use_mm:
        sq1 = (x1 * x1).sum(-1, keepdim=True)
        sq2 = (x2 * x2).sum(-1, keepdim=True)
        total = (sq1 - 2 * (x1 @ x2.transpose(-1, -2)) + sq2.transpose(-1, -2)).clamp_min(0)
        return named(_safe_root(total, 2.0), "CdistBackward0")
    diff = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
    if p == 0:
        return (diff != 0).sum(-1).to(x1.dtype)
    if p == math.inf:
        return named(diff.amax(-1), "CdistBackward0")
    return named(_safe_root((diff**p).sum(-1), p), "CdistBackward0")


# ---------------------------------------------------------------------- response normalisation
def local_response_norm(
    input: Tensor,  # noqa: A002
    size: int,
    alpha: float = 1e-4,
    beta: float = 0.75,
    k: float = 1.0,
) -> Tensor:
    """AlexNet's local response normalisation across ``size`` neighbouring channels:
    ``x / (k + alpha * mean over the window of x^2) ** beta``."""
    _check_tensor("local_response_norm", "input", input)
    if input.dim() < 3:
        raise ValueError(
            "Expected 3D or higher dimensionality                          input (got "
            f"{input.dim()} dimensions)"
        )
    if input.numel() == 0:
        return input
    n, c = input.shape[:2]
    squares = (input * input).reshape(n, 1, c, -1)  # channels as the pooled height
    squares = pad(squares, (0, 0, size // 2, (size - 1) // 2))
    mean = avg_pool2d(squares, (size, 1), stride=1).reshape(input.shape)
    return input / (mean * alpha + k) ** beta


# ----------------------------------------------------------------------------- power pooling
def _lp_pool(
    op: str,
    input: Tensor,  # noqa: A002
    norm_type: float,
    kernel: tuple,
    stride: Any,
    ceil_mode: bool,
    pool: Any,
    max_pool: Any = None,
) -> Tensor:
    _check_tensor(op, "input", input)
    if max_pool is not None and isinstance(norm_type, (int, float)) and math.isinf(norm_type):
        # PyTorch's: the limit p -> +-inf is a max (min) of |x| over the window
        if norm_type > 0:
            return max_pool(input.abs(), kernel, stride, 0, 1, ceil_mode)
        return -max_pool(-input.abs(), kernel, stride, 0, 1, ceil_mode)
    if norm_type == 0:
        raise ZeroDivisionError("float division by zero")
    out = pool(input.pow(norm_type), kernel, stride, 0, ceil_mode)
    scale = math.prod(kernel)
    return (_pw.sign(out) * relu(out.abs())).mul(scale).pow(1.0 / norm_type)


def lp_pool1d(
    input: Tensor,  # noqa: A002
    norm_type: float,
    kernel_size: int,
    stride: Any = None,
    ceil_mode: bool = False,
) -> Tensor:
    """Power-average pooling: ``(sum over the window of x^p) ** (1/p)``."""
    k = _ntuple(kernel_size, 1)
    return _lp_pool("lp_pool1d", input, norm_type, k, stride, ceil_mode, avg_pool1d, max_pool1d)


def lp_pool2d(
    input: Tensor,  # noqa: A002
    norm_type: float,
    kernel_size: Any,
    stride: Any = None,
    ceil_mode: bool = False,
) -> Tensor:
    """Power-average pooling: ``(sum over the window of x^p) ** (1/p)``."""
    k = _ntuple(kernel_size, 2)
    return _lp_pool("lp_pool2d", input, norm_type, k, stride, ceil_mode, avg_pool2d, max_pool2d)


def lp_pool3d(
    input: Tensor,  # noqa: A002
    norm_type: float,
    kernel_size: Any,
    stride: Any = None,
    ceil_mode: bool = False,
) -> Tensor:
    """3-D power-average pooling: ``(sum over the window of x^p) ** (1/p)``; p = +-inf is
    a max (min) of |x|."""
    k = _ntuple(kernel_size, 3)
    pool, top = avg_pool3d, max_pool3d
    return _lp_pool("lp_pool3d", input, norm_type, k, stride, ceil_mode, pool, top)


# ----------------------------------------------------------------------------- normalisation
def _check_norm_dtypes(kernel: str, input: Tensor, *others: Tensor | None) -> None:  # noqa: A002
    dt = input._data.dtype
    if dt.kind != "f":
        name = _dtype.SCALAR_NAMES.get(dt.name, dt.name)
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{name}'")
    for t in others:
        if t is not None and t._data.dtype != dt:
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def _check_channels(name: str, t: Tensor | None, channels: int) -> None:
    if t is not None and t.numel() != channels:
        raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")


def _update_running(running: Tensor | None, value: Any, momentum: float) -> None:
    """``running = (1 - momentum) * running + momentum * value`` in place, like PyTorch's kernel
    (which leaves the buffer's version counter alone)."""
    if running is None:
        return
    data = running._data
    dt = data.dtype.type
    new = data * dt(1 - momentum) + value.astype(data.dtype, copy=False) * dt(momentum)
    data[...] = new.reshape(data.shape)


def batch_norm(
    input: Tensor,  # noqa: A002
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-05,
) -> Tensor:
    """Batch normalisation over ``(N, C, *)``: batch statistics in training (updating the
    running statistics in place with the unbiased variance), running statistics otherwise."""
    if momentum is None:
        raise TypeError(
            "batch_norm(): argument 'momentum' (position 7) must be float, not NoneType"
        )
    _one_device("batch_norm", input, running_mean, running_var, weight, bias)
    if training:
        size = input.size()
        prods = size[0] if len(size) else 1
        for s in size[2:]:
            prods *= s
        if prods == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {size!r}"
            )
    if input.dim() < 2:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(input.dim(), 1)}, "
            f"{max(input.dim(), 1) - 1}], but got 1)"
        )
    channels = input.shape[1]
    _check_channels("running_mean", running_mean, channels)
    _check_channels("running_var", running_var, channels)
    _check_channels("weight", weight, channels)
    _check_channels("bias", bias, channels)
    if not training and (running_mean is None or running_var is None):
        which = "running_mean" if running_mean is None else "running_var"
        raise RuntimeError(f"{which} must be defined in evaluation mode")
    _check_norm_dtypes("batch_norm", input, weight, bias, running_mean, running_var)
    out, mean, var = _norm.batch_norm(
        input, weight, bias, running_mean, running_var, bool(training), eps
    )
    if training and input.numel():  # PyTorch leaves the statistics alone for an empty batch
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var, momentum)
    return out


def _shape_list(shape: Any) -> list:
    return [int(s) for s in shape]


def layer_norm(
    input: Tensor,  # noqa: A002
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-05,
) -> Tensor:
    """Normalises over the trailing ``normalized_shape`` dims, then ``* weight + bias``."""
    _one_device("layer_norm", input, weight, bias)
    if isinstance(normalized_shape, (int, np.integer)):
        raise TypeError(
            "layer_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, "
            f"not {type(normalized_shape).__name__}"
        )
    ns = _shape_list(normalized_shape)
    if not ns:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
            "one element, but got normalized_shape = []"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and _shape_list(t.shape) != ns:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {_shape_list(t.shape)} and normalized_shape = {ns}"
            )
    shape = _shape_list(input.shape)
    if len(shape) < len(ns) or shape[len(shape) - len(ns) :] != ns:
        expected = ", ".join(["*"] + [str(s) for s in ns])
        raise RuntimeError(
            f"Given normalized_shape={ns}, expected input with shape [{expected}], but got "
            f"input of size{shape}"
        )
    _check_norm_dtypes("LayerNormKernelImpl", input, weight, bias)
    return _norm.layer_norm(input, len(ns), weight, bias, eps)


def rms_norm(
    input: Tensor,  # noqa: A002
    normalized_shape: Any,
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """``x / sqrt(mean(x^2) + eps)`` over the trailing ``normalized_shape`` dims, then
    ``* weight``; ``eps`` defaults to the dtype's machine epsilon (PyTorch's)."""
    _check_tensor("rms_norm", "input", input)
    if isinstance(normalized_shape, (int, np.integer)):
        raise TypeError(
            "rms_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, "
            f"not {type(normalized_shape).__name__}"
        )
    ns = _shape_list(normalized_shape)
    shape = _shape_list(input.shape)
    if len(shape) < len(ns) or shape[len(shape) - len(ns) :] != ns:
        raise RuntimeError(
            f"Given normalized_shape={ns}, expected input with shape "
            f"[*{', '.join(map(str, ns))}], but got input of size{shape}"
        )
    if weight is not None and _shape_list(weight.shape) != ns:
        raise RuntimeError(
            f"Expected weight to be of same shape as normalized_shape, but got weight of "
            f"shape {_shape_list(weight.shape)} and normalized_shape = {ns}"
        )
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.dim() - len(ns), input.dim()))
    out = input * _pw.rsqrt(input.pow(2).mean(dims, keepdim=True) + eps)
    return out * weight if weight is not None else out


def group_norm(
    input: Tensor,  # noqa: A002
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-05,
) -> Tensor:
    """Normalises each sample over groups of ``C / num_groups`` channels (and all spatial
    positions), then the per-channel ``* weight + bias``."""
    _one_device("group_norm", input, weight, bias)
    if input.dim() < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.dim()}"
        )
    shape = _shape_list(input.shape)
    channels = shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {shape} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != channels):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {_shape_list(t.shape)} and input of shape {shape}"
            )
    _check_norm_dtypes("GroupNormKernelImpl", input, weight, bias)
    return _norm.group_norm(input, int(num_groups), weight, bias, eps)


def instance_norm(
    input: Tensor,  # noqa: A002
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-05,
) -> Tensor:
    """Normalises each sample and channel over its spatial positions (group norm with one
    channel per group); running statistics, when given, are updated with the mean over the
    batch of each sample's statistics, as PyTorch does."""
    if use_input_stats:
        size = input.size()
        prods = 1
        for s in size[2:]:
            prods *= s
        if prods == 1:
            raise ValueError(
                f"Expected more than 1 spatial element when training, got input size {size!r}"
            )
    if input.dim() < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.dim()}"
        )
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    out = group_norm(input, input.shape[1], weight, bias, eps)
    if running_mean is not None or running_var is not None:
        d = input._data
        n, c = d.shape[0], d.shape[1]
        v = d.reshape(n, c, -1)
        count = v.shape[2]
        _update_running(running_mean, v.mean(axis=2).mean(axis=0), momentum)
        unbiased = v.var(axis=2) * (count / (count - 1)) if count > 1 else v.var(axis=2)
        _update_running(running_var, unbiased.mean(axis=0), momentum)
    return out


# ----------------------------------------------------------------------------- pooling, padding,
# dropout2d and interpolation (primitives in ndgrad.ops.pooling)


def _ntuple(value: Any, n: int, name: str = "") -> tuple:
    if isinstance(value, (list, tuple)):
        value = tuple(int(v) for v in value)
        if len(value) == 1:
            return value * n
        if len(value) != n:
            raise RuntimeError(f"{name} must either be a single int, or a tuple of {n} ints")
        return value
    return (int(value),) * n


def _pool_geometry(
    op: str,
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple:
    """PyTorch's pool2d argument and shape checks; the geometry tuple of ``ops.pooling``."""
    kh, kw = _ntuple(kernel_size, 2, f"{op}: kernel_size")
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        sh, sw = kh, kw
    else:
        sh, sw = _ntuple(stride, 2, f"{op}: stride")
    ph, pw = _ntuple(padding, 2, f"{op}: padding")
    dh, dw = _ntuple(dilation, 2, f"{op}: dilation")
    if sh == 0 or sw == 0:
        raise RuntimeError("stride should not be zero")
    if kh <= 0 or kw <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kh} kW: {kw}")
    if sh < 0 or sw < 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {sh} dW: {sw}")
    if dh <= 0 or dw <= 0:
        raise RuntimeError(
            f"dilation should be greater than zero, but got dilationH: {dh} dilationW: {dw}"
        )
    shape = input.shape
    if input.dim() not in (3, 4) or any(s == 0 for s in shape[-3:]):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if kw // 2 < pw or kh // 2 < ph:
        k, p, d = (kw, pw, dw) if kw // 2 < pw else (kh, ph, dh)
        raise RuntimeError(
            "pad should be at most half of effective kernel size, but got "
            f"pad={p}, kernel_size={k} and dilation={d}"
        )
    c, h, w = shape[-3:]
    ho = _pool.pool_out_size(h, kh, sh, ph, dh, ceil_mode)
    wo = _pool.pool_out_size(w, kw, sw, pw, dw, ceil_mode)
    if ho < 1 or wo < 1:
        raise RuntimeError(
            f"Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{ho}x{wo}). "
            "Output size is too small"
        )
    return ((h, w), (ho, wo), (kh, kw), (sh, sw), (ph, pw), (dh, dw))


def max_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """2-D max pooling; the indices are PyTorch's flat per-plane positions (int64)."""
    input = as_tensor(input, "max_pool2d")  # noqa: A001
    geom = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    out, idx = _pool.max_pool2d(input, geom)
    return (out, idx) if return_indices else out


def _check_1d(op: str, input: Tensor) -> None:  # noqa: A002
    if input.dim() not in (2, 3):
        raise RuntimeError(f"{op}() Expected 2D or 3D input tensor, but got {list(input.shape)}")


def max_pool1d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """1-D max pooling: 2-D pooling of height 1, as PyTorch composes it."""
    input = as_tensor(input, "max_pool1d")  # noqa: A001
    _check_1d("max_pool1d", input)
    k = _ntuple(kernel_size, 1)[0]
    s = k if stride is None or stride == () or stride == [] else _ntuple(stride, 1)[0]
    p, d = _ntuple(padding, 1)[0], _ntuple(dilation, 1)[0]
    if s > 0 and k > 0 and d > 0 and k // 2 >= p:
        lo = _pool.pool_out_size(input.shape[-1], k, s, p, d, ceil_mode)
        if lo < 1:
            raise RuntimeError(f"max_pool1d() Invalid computed output size: {lo}")
    x = input.unsqueeze(-2)
    geom = _pool_geometry("max_pool1d", x, (1, k), (1, s), (0, p), (1, d), ceil_mode)
    out, idx = _pool.max_pool2d(x, geom)
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


def avg_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling with PyTorch's divisor (padding counted or not, or an override)."""
    input = as_tensor(input, "avg_pool2d")  # noqa: A001
    if input.dim() < 3:
        raise IndexError(
            "Dimension out of range (expected to be in range of "
            f"[{-max(input.dim(), 1)}, {max(input.dim(), 1) - 1}], but got -3)"
        )
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    geom = _pool_geometry("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _pool.avg_divisor(geom, count_include_pad, divisor_override)
    return _pool.avg_pool2d(input, geom, divisor)


def avg_pool1d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling: 2-D pooling of height 1, as PyTorch composes it."""
    input = as_tensor(input, "avg_pool1d")  # noqa: A001
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"avg_pool1d() Expected 2D or 3D input tensor, but got {list(input.shape)}"
        )
    k = _ntuple(kernel_size, 1)[0]
    s = k if stride is None or stride == () or stride == [] else _ntuple(stride, 1)[0]
    p = _ntuple(padding, 1)[0]
    x = input.unsqueeze(-2)
    geom = _pool_geometry("avg_pool1d", x, (1, k), (1, s), (0, p), 1, ceil_mode)
    divisor = _pool.avg_divisor(geom, count_include_pad, None)
    return _pool.avg_pool2d(x, geom, divisor).squeeze(-2)


def _adaptive_size(op: str, input: Tensor, output_size: Any, n: int) -> tuple:  # noqa: A002
    sizes = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * n
    if len(sizes) != n:
        raise RuntimeError(f"{op}: output_size must be {n}")
    spatial = input.shape[-n:]
    return tuple(int(spatial[i]) if s is None else int(s) for i, s in enumerate(sizes))


def _check_adaptive(op: str, input: Tensor, lo: int, sep: str = "") -> None:  # noqa: A002
    if input.dim() not in (lo, lo + 1):
        raise RuntimeError(
            f"{op}(): Expected {lo}D or {lo + 1}D tensor, but got{sep} {list(input.shape)}"
        )
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(
                f"{op}(): Expected input to have non-zero size for non-batch dimensions, "
                f"but input has sizes {list(input.shape)} with dimension {i} being empty"
            )


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling over PyTorch's adaptive windows; output (1, 1) is a mean."""
    input = as_tensor(input, "adaptive_avg_pool2d")  # noqa: A001
    _check_adaptive("adaptive_avg_pool2d", input, 3)
    size = _adaptive_size("adaptive_avg_pool2d", input, output_size, 2)
    _check_avg_size(size)
    if size == (1, 1):
        return input.mean((-2, -1), keepdim=True)
    _float_only("adaptive_avg_pool2d", input, "")
    return _pool.adaptive_avg_pool2d(input, size)


def _check_avg_size(size: tuple) -> None:
    if min(size) < 0:
        got = ", ".join(map(str, size[:2])) + "".join(f",{s}" for s in size[2:])
        raise RuntimeError(
            f"adaptive_avg_pool{len(size)}d: elements of output_size must be greater than or "
            f"equal to 0 but received {{{got}}}"
        )


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    input = as_tensor(input, "adaptive_avg_pool1d")  # noqa: A001
    _check_adaptive("adaptive_avg_pool1d", input, 2)
    (size,) = _adaptive_size("adaptive_avg_pool1d", input, output_size, 1)
    _check_avg_size((1, size))
    x = input.unsqueeze(-2)
    if size == 1:
        return x.mean((-2, -1), keepdim=True).squeeze(-2)
    _float_only("adaptive_avg_pool2d", input, "")
    return _pool.adaptive_avg_pool2d(x, (1, size)).squeeze(-2)


def adaptive_max_pool2d(
    input: Tensor,  # noqa: A002
    output_size: Any,
    return_indices: bool = False,
) -> Any:
    """Max pooling over PyTorch's adaptive windows (indices: flat per-plane, int64)."""
    input = as_tensor(input, "adaptive_max_pool2d")  # noqa: A001
    _check_adaptive("adaptive_max_pool2d", input, 3, ":")
    size = _adaptive_size("adaptive_max_pool2d", input, output_size, 2)
    out, idx = _pool.adaptive_max_pool2d(input, size)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(
    input: Tensor,  # noqa: A002
    output_size: Any,
    return_indices: bool = False,
) -> Any:
    input = as_tensor(input, "adaptive_max_pool1d")  # noqa: A001
    _check_adaptive("adaptive_max_pool1d", input, 2, ":")
    (size,) = _adaptive_size("adaptive_max_pool1d", input, output_size, 1)
    out, idx = _pool.adaptive_max_pool2d(input.unsqueeze(-2), (1, size))
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


# ----------------------------------------------------------------------------- 3-D pooling,
# unpooling and fractional max pooling (the N-dim primitives of ndgrad.ops.pooling)
_THREE = {
    "max_pool3d": (
        "kernel_size must either be a single int, or a tuple of three ints",
        "stride must either be omitted, a single int, or a tuple of three ints",
        "padding must either be a single int, or a tuple of three ints",
        "dilation must be either a single int, or a tuple of three ints",
    ),
    "avg_pool3d": (
        "kernel_size must be a single int, or a tuple of three ints",
        "stride must be omitted, a single int, or a tuple of three ints",
        "padding must be a single int, or a tuple of three ints",
        "",
    ),
}


def _triple(op: str, value: Any, which: int) -> tuple:
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return (int(value[0]),) * 3
        if len(value) != 3:
            raise RuntimeError(f"{op}: {_THREE[op][which]}")
        return tuple(int(v) for v in value)
    return (int(value),) * 3


def _pool3d_geometry(
    op: str,
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple:
    """PyTorch's pool3d argument and shape checks (in its order); the N-dim geometry."""
    ks = _triple(op, kernel_size, 0)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        ss = ks
    else:
        ss = _triple(op, stride, 1)
    ps = _triple(op, padding, 2)
    ds = _triple(op, dilation, 3)
    if input.dim() not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    ins = tuple(input.shape[-3:])
    outs = []
    for n, k, s, p, d in zip(ins, ks, ss, ps, ds):
        if s == 0:
            raise RuntimeError("stride should not be zero")
        if p < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
        if p > int(((k - 1) * d + 1) / 2):  # C's division (a negative kernel passes)
            raise RuntimeError(
                "pad should be at most half of effective kernel size, but got "
                f"pad={p}, kernel_size={k} and dilation={d}"
            )
        outs.append(_pool.pool_out_size(n, k, s, p, d, ceil_mode))
    if min(ks) <= 0:
        raise RuntimeError(
            f"kernel size should be greater than zero, but got kT: {ks[0]} kH: {ks[1]} kW: {ks[2]}"
        )
    if min(ss) <= 0:
        raise RuntimeError(
            f"stride should be greater than zero, but got dT: {ss[0]} dH: {ss[1]} dW: {ss[2]}"
        )
    if min(ds) <= 0:
        raise RuntimeError(
            "dilation should be greater than zero, but got dilationT: "
            f"{ds[0]} dilationH: {ds[1]} dilationW: {ds[2]}"
        )
    shape = list(input.shape)
    for i in range(input.dim() - 4, input.dim()):
        if shape[i] == 0:
            name = (
                "avg_pool3d()"
                if op == "avg_pool3d"
                else ("max_pool3d_with_indices_out_cpu_template()")
            )
            raise RuntimeError(
                f"{name}: Expected input's non-batch dimensions to have positive length, but "
                f"input has a shape of {shape} and non-batch dimension {shape[i]} has length "
                "zero!"
            )
    if op == "avg_pool3d" and any(n < k for n, k in zip(ins, ks)):
        raise RuntimeError(
            f"input image (T: {ins[0]} H: {ins[1]} W: {ins[2]}) smaller than kernel size "
            f"(kT: {ks[0]} kH: {ks[1]} kW: {ks[2]})"
        )
    if any(k // 2 < p for k, p in zip(ks, ps)):
        raise RuntimeError(
            "pad should be smaller than or equal to half of kernel size, but got "
            f"kT: {ks[0]} kW: {ks[2]} kH: {ks[1]} padT: {ps[0]} padW: {ps[2]} padH: {ps[1]}"
        )
    if min(outs) < 1:
        c = shape[-4]
        raise RuntimeError(
            f"Given input size: ({c}x{ins[0]}x{ins[1]}x{ins[2]}). Calculated output size: "
            f"({c}x{outs[0]}x{outs[1]}x{outs[2]}). Output size is too small"
        )
    return (ins, tuple(outs), ks, ss, ps, ds)


def max_pool3d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """3-D max pooling of (N, C, D, H, W) or (C, D, H, W) input; the indices are PyTorch's
    flat per-volume positions (int64)."""
    input = as_tensor(input, "max_pool3d")  # noqa: A001
    geom = _pool3d_geometry("max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode)
    if input.dtype == _dtype.bool_:
        raise NotImplementedError("\"max_pool3d\" not implemented for 'Bool'")
    out, idx = _pool.max_pool(input, geom)
    return (out, idx) if return_indices else out


def avg_pool3d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """3-D average pooling with PyTorch's divisor (padding counted or not, or an override)."""
    input = as_tensor(input, "avg_pool3d")  # noqa: A001
    geom = _pool3d_geometry("avg_pool3d", input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    divisor = _pool.avg_divisor(geom, count_include_pad, divisor_override)
    return _pool.avg_pool(input, geom, divisor)


def _float_only(op: str, input: Tensor, suffix: str = "_cpu") -> None:  # noqa: A002
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{op}{suffix}\" not implemented for '{_scalar_type(input)}'")


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling over PyTorch's adaptive windows; output (1, 1, 1) is a mean."""
    input = as_tensor(input, "adaptive_avg_pool3d")  # noqa: A001
    _check_adaptive("adaptive_avg_pool3d", input, 4)
    size = _adaptive_size("adaptive_avg_pool3d", input, output_size, 3)
    _check_avg_size(size)
    if size == (1, 1, 1):
        return input.mean((-3, -2, -1), keepdim=True)
    _float_only("adaptive_avg_pool3d", input)
    return _pool.adaptive_avg_pool(input, size)


def adaptive_max_pool3d(
    input: Tensor,  # noqa: A002
    output_size: Any,
    return_indices: bool = False,
) -> Any:
    """Max pooling over PyTorch's adaptive windows (indices: flat per-volume, int64)."""
    input = as_tensor(input, "adaptive_max_pool3d")  # noqa: A001
    sizes = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * 3
    if len(sizes) != 3:
        raise RuntimeError("adaptive_max_pool3d(): internal error: output_size.size() must be 3")
    _check_adaptive("adaptive_max_pool3d", input, 4, ":")
    size = _adaptive_size("adaptive_max_pool3d", input, sizes, 3)
    if min(size) < 0:
        shape = list(input.shape[:-3]) + list(size)
        bad = next(s for s in size if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {shape}")
    _float_only("adaptive_max_pool3d", input)
    out, idx = _pool.adaptive_max_pool(input, size)
    return (out, idx) if return_indices else out


def _unpool_output_size(
    input: Tensor,  # noqa: A002
    kernel_size: tuple,
    stride: tuple,
    padding: tuple,
    output_size: Any,
) -> list:
    """PyTorch's ``_unpool_output_size``: the default size, or a checked ``output_size``."""
    n = len(kernel_size)
    default = [
        (input.shape[-n + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d] for d in range(n)
    ]
    if output_size is None:
        ret = default
    else:
        if len(output_size) == n + 2:
            output_size = output_size[2:]
        if len(output_size) != n:
            raise ValueError(
                "output_size should be a sequence containing "
                f"{n} or {n + 2} elements, but it has a length of '{len(output_size)}'"
            )
        for d in range(n):
            lo, hi = default[d] - stride[d], default[d] + stride[d]
            if not (lo < output_size[d] < hi):
                raise ValueError(
                    f'invalid output_size "{output_size}" (dim {d} must be between {lo} and {hi})'
                )
        ret = list(output_size)
    for d in range(n):
        if ret[d] < 0:
            raise ValueError(
                "max_unpooling: output_size must contain non-negative spatial "
                f"dimensions, but got output_size[{d}]={ret[d]}"
            )
    return [int(r) for r in ret]


def _max_unpool(
    op: str,
    input: Tensor,
    indices: Tensor,
    out_size: list,
    stride: tuple,  # noqa: A002
) -> Tensor:
    """ATen's max_unpooling2d/3d checks (in its order) and the unpooling."""
    n = len(out_size)
    if indices.dtype != _dtype.int64:
        tail = "" if n == 3 else f" but got: {_scalar_type(indices)}"
        raise RuntimeError(f"elements in indices should be type int64{tail}")
    lo = n + 1
    if input.dim() not in (lo, lo + 1):
        raise RuntimeError(
            f"Input to {op} should be a {lo}d or {lo + 1}d Tensor, but got a tensor with "
            f"{input.dim()} dimensions."
        )
    if tuple(input.shape) != tuple(indices.shape):
        raise RuntimeError(
            "Expected shape of indices to be same as that of the input tensor "
            f"({list(input.shape)}) but got indices tensor with shape: {list(indices.shape)}"
        )
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(
                f"{op}_forward_out_cpu(): Expected input to have non-zero size for non-batch "
                f"dimensions, but got {list(input.shape)} with dimension {i} being empty."
            )
    if n == 3 and min(stride) <= 0:
        raise RuntimeError(f"strides should be greater than zero, but got stride: {list(stride)}")
    idx = indices._data
    total = math.prod(out_size)
    if idx.size:
        bad = (idx < 0) | (idx >= total)
        if bad.any():
            # PyTorch's kernel keeps the last invalid index it meets
            flat = bad.reshape(-1)
            last = int(idx.reshape(-1)[flat.size - 1 - int(flat[::-1].argmax())])
            raise RuntimeError(
                f"Found an invalid max index: {last} (output volumes are of size "
                f"{'x'.join(map(str, out_size))})"
            )
    name = f"MaxUnpool{n}DBackward0"
    return _pool.max_unpool(input, indices, tuple(out_size), name)


def _unpool_args(kernel_size: Any, stride: Any, padding: Any, n: int) -> tuple:
    k = _conv_tuple(kernel_size, n)
    s = k if stride is None else _conv_tuple(stride, n)
    return k, s, _conv_tuple(padding, n)


def max_unpool1d(
    input: Tensor,  # noqa: A002
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """The partial inverse of ``max_pool1d``: 2-D unpooling of width 1, as PyTorch."""
    k, s, p = _unpool_args(kernel_size, stride, padding, 1)
    size = _unpool_output_size(input, k, s, p, output_size) + [1]
    out = _max_unpool("max_unpooling2d", input.unsqueeze(-1), indices.unsqueeze(-1), size, s)
    return out.squeeze(-1)


def max_unpool2d(
    input: Tensor,  # noqa: A002
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """The partial inverse of ``max_pool2d``: each value written at its index, zeros
    elsewhere."""
    k, s, p = _unpool_args(kernel_size, stride, padding, 2)
    size = _unpool_output_size(input, k, s, p, output_size)
    return _max_unpool("max_unpooling2d", input, indices, size, s)


def max_unpool3d(
    input: Tensor,  # noqa: A002
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """The partial inverse of ``max_pool3d``."""
    k, s, p = _unpool_args(kernel_size, stride, padding, 3)
    size = _unpool_output_size(input, k, s, p, output_size)
    return _max_unpool("max_unpooling3d", input, indices, size, s)


def _fractional_max_pool(
    n: int,
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    output_size: Any,
    output_ratio: Any,
    return_indices: bool,
    _random_samples: Tensor | None,
) -> Any:
    """``fractional_max_pool{n}d`` (n = 2, 3): PyTorch's Python-level and ATen checks."""
    op = f"fractional_max_pool{n}d"
    input = as_tensor(input, op)  # noqa: A001
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        # PyTorch's own steps: len() of a float ratio (TypeError) in 2-D, _pair/_triple, then
        # ratio[i] (IndexError for a 1-tuple)
        if n == 2 and len(output_ratio) > 2:
            raise ValueError(
                f"{op} requires output_ratio to either be a single Int or tuple of Ints."
            )
        ratio = tuple(output_ratio) if isinstance(output_ratio, (list, tuple)) else (output_ratio,)
        ratio = ratio * n if not isinstance(output_ratio, (list, tuple)) else ratio
        output_size = [int(input.shape[-n + i] * ratio[i]) for i in range(n)]
    if _random_samples is None:
        if input.dim() < n + 1:
            raise IndexError(
                "Dimension out of range (expected to be in range of "
                f"[{-max(input.dim(), 1)}, {max(input.dim(), 1) - 1}], but got {-n - 1})"
            )
        batch = 1 if input.dim() == n + 1 else input.shape[0]
        _random_samples = _creation.rand(batch, input.shape[-n - 1], n, dtype=input.dtype)
    ks = _conv_tuple(kernel_size, n)
    ks = ks * n if len(ks) == 1 else ks
    outs = _conv_tuple(output_size, n)
    outs = outs * n if len(outs) == 1 else outs
    where = f"{op}()" if n == 2 else f"{op}_out()"
    if len(ks) != n:
        raise RuntimeError(f"{op}: kernel_size must either be a single Int or tuple of Ints")
    if len(outs) != n:
        raise RuntimeError(f"{op}: output_size must either be a single Int or tuple of Ints")
    if min(outs) < 0:
        bad = next(o for o in outs if o < 0)
        shape = list(input.shape[:-n]) + list(outs)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {shape}")
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(
            f"{where}: Expected {n + 1}D or {n + 2}D tensor, but got: {list(input.shape)}"
        )
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(
                f"{where}: Expected input to have non-zero size for non-batch dimensions, "
                f"but got{list(input.shape)} with dimension {i} being empty."
            )
    ins = input.shape[-n:]
    names = ("height", "width") if n == 2 else ("time", "height", "width")
    for name, i, o, k in zip(names, ins, outs, ks):
        if (o + k - 1 > i) if n == 2 else (o + k - 1 >= i):
            raise RuntimeError(f"{where}: pool {name} {k} too large relative to input {name} {i}")
    samples = as_tensor(_random_samples, op)
    batched = input.dim() == n + 2
    batch = input.shape[0] if batched else 1
    if samples.dtype != input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.dim() != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.dim()}")
    if samples.shape[0] < batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != input.shape[-n - 1]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != n:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {n}; got {samples.shape[2]}.")
    channels = input.shape[-n - 1]
    data = samples._data
    data = data.get() if hasattr(data, "get") else np.asarray(data)
    data = data[:batch, :channels]
    out, idx = _pool.fractional_max_pool(input, ks, outs, data)
    return (out, idx) if return_indices else out


def fractional_max_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> Any:
    """2-D fractional max pooling (Graham): windows at pseudo-random fractional strides
    drawn from ``_random_samples`` (N, C, 2) (``rand`` when omitted)."""
    return _fractional_max_pool(
        2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples
    )


def fractional_max_pool3d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> Any:
    """3-D fractional max pooling, ``_random_samples`` (N, C, 3)."""
    return _fractional_max_pool(
        3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples
    )


def _with_indices(fn: Any) -> Any:
    """PyTorch's ``*_with_indices`` form of a pooling: always (values, indices)."""

    def pooled(input: Tensor, *args: Any, **kwargs: Any) -> tuple:  # noqa: A002
        kwargs["return_indices"] = True
        return fn(input, *args, **kwargs)

    pooled.__name__ = pooled.__qualname__ = f"{fn.__name__}_with_indices"
    pooled.__doc__ = f"``{fn.__name__}(..., return_indices=True)``: (values, int64 indices)."
    return pooled


max_pool1d_with_indices = _with_indices(max_pool1d)
max_pool2d_with_indices = _with_indices(max_pool2d)
max_pool3d_with_indices = _with_indices(max_pool3d)
adaptive_max_pool1d_with_indices = _with_indices(adaptive_max_pool1d)
adaptive_max_pool2d_with_indices = _with_indices(adaptive_max_pool2d)
adaptive_max_pool3d_with_indices = _with_indices(adaptive_max_pool3d)
fractional_max_pool2d_with_indices = _with_indices(fractional_max_pool2d)
fractional_max_pool3d_with_indices = _with_indices(fractional_max_pool3d)


def pad(
    input: Tensor,  # noqa: A002
    pad: Any,
    mode: str = "constant",
    value: float | None = None,
) -> Tensor:
    """PyTorch's ``F.pad``: ``pad`` = (left, right) pairs from the last dim backwards;
    constant mode pads any dims, reflect/replicate/circular the last 1-3 of a batched or
    unbatched tensor. Negative pads crop."""
    input = as_tensor(input, "pad")  # noqa: A001
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pad)} and input of dimension {input.dim()}"
        )
    if mode == "constant":
        return _pool.constant_pad(input, pad, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f'Padding mode "{mode}"" doesn\'t take in value argument')
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    k = len(pad) // 2
    if k not in (1, 2, 3) or input.dim() not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.dim()}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
        )
    shape = list(input.shape)
    if mode != "circular" and 0 in (shape[1:] if input.dim() == k + 2 else shape):
        raise RuntimeError(
            f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and "
            f"other non-zero dimensions for input, but got: {shape}"
        )
    out = list(shape)
    for i in range(k):
        dim = input.dim() - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        n = shape[dim]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"Argument #{2 * i + 4}: Padding size should be less than the corresponding "
                f"input dimension, but got: padding ({lo}, {hi}) at dimension {dim} of input "
                f"{shape}"
            )
        if mode == "circular":
            if lo > n or hi > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if n + lo + hi < 0:
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
            if n + lo + hi > 0 and n - max(-lo, 0) - max(-hi, 0) <= 0:  # nothing left to wrap
                raise RuntimeError("Padding value causes wrapping around more than once.")
        out[dim] = n + lo + hi
    if mode != "circular":
        _check_pad_output(mode, shape[-k:], out[-k:], out)
    return _pool.index_pad(input, pad, mode)


def _check_pad_output(mode: str, sizes: list, outs: list, out_shape: list) -> None:
    """PyTorch's reflect/replicate checks of the padded size (negative pads crop): 1-D needs
    an output of at least one; 2-D/3-D only fail when every padded dim is empty."""
    if any(o >= 1 for o in outs):
        if any(o < 0 for o in outs):
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {min(outs)}: {out_shape}"
            )
        return
    names = "DHW"[3 - len(sizes) :]
    if len(sizes) == 1:
        given = f"W: {sizes[0]}"
    elif len(sizes) == 2:
        given = f"H: {sizes[0]}, W: {sizes[1]}" + (" " if mode == "replicate" else "")
    else:
        given = f"D: {sizes[0]} H: {sizes[1]}, W: {sizes[2]}"
    calc = " ".join(f"{m}: {o}" for m, o in zip(names, outs))
    raise RuntimeError(f"input ({given}) is too small. Calculated output {calc}")


def dropout2d(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Channel dropout: each (sample, channel) plane is zeroed with probability p, the others
    scaled by 1/(1-p). 3-D input is read as (N, C, L), as PyTorch does today (it warns)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    ndim = input.dim()
    if ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _dropout_impl(input, p, training, inplace, feature=True)


# ----------------------------------------------------------------------------- dropout variants
# ATen's _dropout_impl: elementwise or feature (per (sample, channel)) Bernoulli noise, plain
# (scaled by 1/(1-p)) or alpha (SELU's saturation value for dropped units, then the affine
# map that keeps zero mean and unit variance).
_ALPHA_DROPOUT_ALPHA = 1.7580993408473766  # selu's scale * alpha


def _dropout_impl(
    input: Tensor,  # noqa: A002
    p: float,
    train: bool,
    inplace: bool,
    feature: bool,
    alpha: bool = False,
    lead: int = 2,
) -> Tensor:
    """``lead``: the dims the feature noise spans (2 for (N, C, *); 1 for an unbatched
    (C, *) tensor changed in place, which PyTorch views as a batch of one)."""
    if p == 0 or not train or input.numel() == 0:
        return input
    dt = input._data.dtype
    xp = input.xp
    if p == 1:
        zero = Tensor._make(xp.zeros((), dtype=dt))
        return input.mul_(zero) if inplace else input * zero
    if feature and input.dim() + 2 - lead < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if dt.kind != "f":
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {_scalar_type(input)}"
        )
    shape = tuple(input.shape)
    if feature:
        shape = shape[:lead] + (1,) * (len(shape) - lead)
    keep = xp.asarray(_creation._rng(None, input.device).bernoulli(1.0 - p, shape))
    noise = keep.astype(dt)
    if not alpha:
        # the scale as ATen divides it: 1 / (1 - p) in the tensor's dtype
        mask = Tensor._make(noise * (dt.type(1.0) / dt.type(1.0 - p)))
        return input.mul_(mask) if inplace else input * mask
    a = 1.0 / math.sqrt((_ALPHA_DROPOUT_ALPHA**2 * p + 1) * (1 - p))
    b = Tensor._make(
        (noise - 1) * dt.type(_ALPHA_DROPOUT_ALPHA * a) + dt.type(_ALPHA_DROPOUT_ALPHA * a * p)
    )
    mask = Tensor._make(noise * dt.type(a))
    if inplace:
        return input.mul_(mask).add_(b)
    return input * mask + b


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_dropout(
    input: Tensor,  # noqa: A002
    p: float,
    training: bool,
    inplace: bool,
    batched: bool,
) -> Tensor:
    """Feature dropout of (N, C, *), or of an unbatched (C, *) as a batch of one."""
    if batched:
        return _dropout_impl(input, p, training, inplace, feature=True)
    if inplace:  # the caller's tensor keeps its shape
        return _dropout_impl(input, p, training, True, feature=True, lead=1)
    return _dropout_impl(input.unsqueeze(0), p, training, False, feature=True).squeeze(0)


def dropout1d(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Channel dropout of (N, C, L) or unbatched (C, L): whole channels zeroed with
    probability p, the others scaled by 1/(1-p)."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {inp_dim}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs)."
        )
    return _feature_dropout(input, p, training, inplace, batched=inp_dim == 3)


def dropout3d(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Channel dropout of (N, C, D, H, W) or unbatched (C, D, H, W); other ranks warn and are
    read as unbatched, as PyTorch does."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {inp_dim}-D input to dropout3d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout3d "
            "exists to provide channel-wise dropout on inputs with 3 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    return _feature_dropout(input, p, training, inplace, batched=inp_dim == 5)


def alpha_dropout(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Alpha dropout (for SELU networks): dropped units take SELU's negative saturation
    value, then ``a * x + b`` restores zero mean and unit variance."""
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=False, alpha=True)


def feature_alpha_dropout(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Alpha dropout of whole (sample, channel) feature maps."""
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)


def _is_integer(x: Any) -> bool:
    """PyTorch's ``_is_integer`` (a bool is an int; so is any non-float tensor)."""
    if isinstance(x, Tensor):
        return not x.dtype.is_floating_point
    return isinstance(x, (int, np.integer))


# (input rank, mode) -> the kernel's spatial dims
_INTERP_KERNELS = {
    (3, "nearest"): 1,
    (4, "nearest"): 2,
    (5, "nearest"): 3,
    (3, "nearest-exact"): 1,
    (4, "nearest-exact"): 2,
    (5, "nearest-exact"): 3,
    (3, "area"): 1,
    (4, "area"): 2,
    (5, "area"): 3,
    (3, "linear"): 1,
    (4, "bilinear"): 2,
    (5, "trilinear"): 3,
    (4, "bicubic"): 2,
    (4, "lanczos"): 2,
}


def interpolate(
    input: Tensor,  # noqa: A002
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """PyTorch's ``F.interpolate``: nearest, nearest-exact, area, (bi/tri)linear, bicubic and
    (antialiased) Lanczos resizing, antialiased bilinear/bicubic too, of 3-D to 5-D input, with its
    argument handling, output sizes and errors step by step."""
    input = as_tensor(input, "interpolate")  # noqa: A001
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        scales: Any = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {spatial} and output size of "
                    f"{size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "output size in (o1, o2, ...,oK) format."
                )
            if not all(_is_integer(s) for s in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types {[type(s) for s in size]}"
                )
            out: Any = [int(s) for s in size]
        else:
            out = [int(size)] * dim
    elif scale_factor is not None:
        out = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {spatial} and scale_factor of "
                    f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, "
                    "...,dK) format and scale_factor in (s1, s2, ...,sK) format."
                )
            scales = [float(f) for f in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and out is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        out = [int(n * f) for n, f in zip(spatial, scales)]
        scales = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
            "requires a 4-D tensor as input"
        )
    k = _INTERP_KERNELS.get((input.dim(), mode))
    if k is None:
        wants = {"linear": 3, "bilinear": 4, "trilinear": 5}
        if mode in wants and input.dim() in (3, 4, 5):
            raise NotImplementedError(
                f"Got {input.dim()}D input, but {mode} mode needs {wants[mode]}D input"
            )
        raise NotImplementedError(
            "Input Error: Only 3D, 4D and 5D input Tensors supported"
            f" (got {input.dim()}D) for the modes: nearest | linear | bilinear | bicubic | "
            f"trilinear | lanczos | area | nearest-exact (got {mode})"
        )
    if mode == "lanczos":
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[k - 1]
        return pool(input, out if k > 1 else out[0])
    if out is None:
        # ATen's compute_output_size: the scaled size, truncated
        out = [int(n * f) for n, f in zip(spatial, scales)]
    _check_upsample(mode, input, out)
    if not input.dtype.is_floating_point and (
        input.dtype != _dtype.uint8 or not mode.startswith("nearest")
    ):
        kind = {"nearest": "nearest", "nearest-exact": "nearest", "bicubic": "cubic"}
        kind["lanczos"] = "lanczos"
        what = f"compute_indices_weights_{kind.get(mode, 'linear')}"
        if k == 2 and mode != "bicubic":
            what = f"upsample_{'nearest' if mode.startswith('nearest') else 'bilinear'}2d"
            what += "_channels_last"
        if antialias:
            what = "compute_index_ranges_weights"
        if input.dtype == _dtype.uint8 and k == 2 and mode in ("bilinear", "bicubic", "lanczos"):
            # PyTorch's fixed-point uint8 kernels (PIL's rounding)
            sc = tuple(scales or (None, None))
            return _pool.resize_uint8(input, tuple(out), sc, mode, bool(align_corners), antialias)
        raise NotImplementedError(f"\"{what}\" not implemented for '{_scalar_type(input)}'")
    return _pool.interpolate(
        input, tuple(out), tuple(scales or (None,) * k), mode, bool(align_corners), antialias
    )


def _check_upsample(mode: str, input: Tensor, out: list) -> None:  # noqa: A002
    """ATen's upsample_{1,2,3}d_common_check."""
    ins = list(input.shape[2:])
    if min(ins) > 0 and min(out) > 0:
        if input.shape[1] == 0:
            nd = input.dim()
            raise RuntimeError(
                f"Non-empty {nd}D data tensor expected but got a tensor with sizes "
                f"{list(input.shape)}"
            )
        return
    letters = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}[len(ins)]
    i_txt = ", ".join(f"{c}: {n}" for c, n in zip(letters, ins))
    o_txt = ", ".join(f"{c}: {n}" for c, n in zip(letters, out))
    raise RuntimeError(
        f"Input and output sizes should be greater than 0, but got input ({i_txt})"
        f"{' and' if len(ins) == 1 else ''} output ({o_txt})"
    )


def upsample(
    input: Tensor,  # noqa: A002
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """Deprecated alias of ``interpolate`` (warns, as PyTorch)."""
    warnings.warn(
        "`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:  # noqa: A002
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:  # noqa: A002
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ----------------------------------------------------------------------------- embeddings
def _embedding_renorm_(
    weight: Tensor,
    indices: Any,
    max_norm: float,
    norm_type: float,  # noqa: A002
) -> None:
    """PyTorch's ``embedding_renorm_``: the rows ``indices`` picks whose ``norm_type``-norm
    exceeds ``max_norm`` are scaled in place to norm ``max_norm`` (outside autograd)."""
    data = weight._data
    xp = weight.xp
    rows = xp.unique(indices.reshape(-1))
    picked = data[rows].astype(np.float64)
    if math.isinf(norm_type):
        norms = xp.abs(picked).max(axis=1) if picked.size else xp.zeros(len(rows))
    else:
        norms = (xp.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    if over.any():
        scale = max_norm / (norms[over] + 1e-7)
        data[rows[over]] = (picked[over] * scale[:, None]).astype(data.dtype)
        weight._version_counter[0] += 1


def embedding(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """The rows of ``weight`` that ``input`` (int64/int32 indices) picks.

    The gradient adds into the picked rows, none at ``padding_idx``; ``scale_grad_by_freq``
    divides it by how often each index occurs in the batch; ``max_norm`` renormalises the
    picked rows of ``weight`` in place first, as PyTorch does. ``sparse`` gradients are dense.
    """
    from ndgrad._tensor import _TYPE_NAMES
    from ndgrad.ops import recurrent as _rec

    input = as_tensor(input, "embedding")  # noqa: A001
    idx = input._data
    if idx.dtype not in (np.int64, np.int32):
        kind = _TYPE_NAMES.get(idx.dtype.name, "Tensor")
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {_dtype.printed_prefix()}.{kind} instead (while checking arguments for "
            "embedding)"
        )
    if weight.dim() != 2:
        raise RuntimeError(
            f"'weight' must be 2-D, got {weight.dim()}-D of shape {list(weight.shape)}"
        )
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    if type(idx) is not type(weight._data):
        all_on_one_device("embedding", [weight, input])
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError("index out of range in self")
    idx = idx.astype(np.int64, copy=False)
    xp = array_module(idx)
    if max_norm is not None:
        _embedding_renorm_(weight, idx, float(max_norm), float(norm_type))
    scale = None
    if scale_grad_by_freq or padding_idx is not None:
        s = xp.ones(idx.shape + (1,), dtype=weight._data.dtype)
        if scale_grad_by_freq and idx.size:
            counts = xp.bincount(idx.reshape(-1), minlength=num)
            s = s / counts[idx][..., None].astype(s.dtype)
        if padding_idx is not None:
            s = s * (idx != padding_idx)[..., None]
        scale = Tensor._make(s.astype(weight._data.dtype, copy=False))
    return _rec.embedding(weight, Tensor._make(idx), scale)


# ----------------------------------------------------------------------------- embedding bags
# Compositions of differentiable ops (the lookup, a product by per-row factors, a segment sum
# into zeros or a gather of each bag's maxima), so that they differentiate to any order; the
# bag layout (offsets, padding, counts, argmax positions) is decided on index arrays.
def _type_text(value: Any) -> str:
    """``str(type(value))`` as PyTorch prints it (its Tensor class is ``torch.Tensor``)."""
    if isinstance(value, Tensor):
        return f"<class '{_dtype.printed_prefix()}.Tensor'>"
    return str(type(value))


def _bag_layout(idx: Any, offs: Any, include_last_offset: bool) -> tuple[int, Any, Any]:
    """``(bags, bag_of, used)``: the bag number of each index position and which positions
    fall into some bag (with ``include_last_offset``, those past the last offset do not)."""
    n = idx.shape[0]
    if offs.shape[0] and int(offs[0]) != 0:
        raise RuntimeError(
            "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
            f"from position 0. However, got {int(offs[0])}\n[ {_dtype.printed_prefix()}."
            f"{'Int' if offs.dtype == np.int32 else 'Long'}Tensor{{}} ]"
        )
    if offs.shape[0] and int(offs[-1]) > n:
        raise RuntimeError(
            f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of "
            f"{int(offs[-1])}"
        )
    if offs.shape[0] > 1 and (np.diff(offs) < 0).any():
        raise RuntimeError("embedding_bag: offsets have to be a non-decreasing sequence")
    if include_last_offset:
        bags, end = max(offs.shape[0] - 1, 0), int(offs[-1]) if offs.shape[0] else 0
        starts = offs[:-1]
    else:
        bags, end, starts = offs.shape[0], n, offs
    positions = np.arange(n)
    bag_of = np.searchsorted(starts, positions, side="right") - 1
    return bags, bag_of, (positions < end) & (bag_of >= 0)


def _bag_argmax(values: Any, bag_of: Any, bags: int) -> tuple[Any, Any]:
    """Per bag and column, the row (of ``values``, grouped by bag in order) holding the first
    maximum (a NaN, the first one, wins as in PyTorch's kernel), and which bags are nonempty."""
    counts = np.bincount(bag_of, minlength=bags)
    full = np.flatnonzero(counts)
    pos = np.zeros((bags, values.shape[1]), dtype=np.int64)
    if full.size:
        starts = np.searchsorted(bag_of, full)
        with np.errstate(invalid="ignore"):
            top = np.maximum.reduceat(values, starts, axis=0)[
                np.repeat(np.arange(full.size), counts[full])
            ]
            hit = (values == top) | (np.isnan(values) & np.isnan(top))
        rows = np.where(hit, np.arange(values.shape[0])[:, None], values.shape[0])
        pos[full] = np.minimum.reduceat(rows, starts, axis=0)
    return pos, counts > 0


def embedding_bag(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sums, means or maxima of bags of rows of ``weight``: 2-D ``input`` is one bag per row;
    1-D ``input`` is split into bags at ``offsets`` (empty bags give zeros). Indices equal to
    ``padding_idx`` are left out of their bag. ``per_sample_weights`` (mode ``'sum'`` only)
    scale each row first. ``sparse`` is accepted; the gradient is dense."""
    from ndgrad._tensor import _TYPE_NAMES
    from ndgrad.ops import indexing as _ix
    from ndgrad.ops import recurrent as _rec

    input = as_tensor(input, "embedding_bag")  # noqa: A001
    weight = as_tensor(weight, "embedding_bag")
    if weight._data.dtype.kind in "iu" and input._data.dtype.kind == "f":
        warnings.warn(
            "Argument order of nn.functional.embedding_bag was changed. "
            "Usage `embedding_bag(weight, input, ...)` is deprecated, "
            "and should now be `embedding_bag(input, weight, ...)`.",
            stacklevel=2,
        )
        weight, input = input, weight  # noqa: A001
    psw = per_sample_weights
    if psw is not None and tuple(input.shape) != tuple(psw.shape):
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({psw.shape}) is not None, "
            f"then it must have the same shape as the input ({input.shape})"
        )
    if weight.dim() != 2:
        raise ValueError(
            f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}"
        )
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{_type_text(offsets)}"
            )
        rows, length = input.shape
        if not length:
            raise RuntimeError("step must be nonzero")  # torch.arange's step, as PyTorch
        offs = np.arange(0, rows * length, length)
        include_last_offset = False
        input = input.reshape(-1)  # noqa: A001
        psw = psw.reshape(-1) if psw is not None else None
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offsets = as_tensor(offsets, "embedding_bag")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        offs = None
    else:
        raise ValueError(
            f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}"
        )
    if mode == "max":
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    elif mode not in ("sum", "mean"):
        raise ValueError("mode has to be one of sum, mean or max")
    for name, t, kinds, allowed in (
        ("indices", input, "iu", "Long, Int"),
        ("offsets", offsets, "iu", "Long, Int"),
        ("weight", weight, "f", "Half, BFloat16, Float, Double"),
    ):
        if t is not None and (t._data.dtype.kind not in kinds or t._data.dtype == np.uint8):
            kind = _TYPE_NAMES.get(t._data.dtype.name, "Tensor")
            raise RuntimeError(
                f"Expected tensor for argument #1 '{name}' to have one of the following scalar "
                f"types: {allowed}; but got {_dtype.printed_prefix()}.{kind} instead (while "
                "checking arguments for embedding_bag)"
            )
    idx = np.asarray(input._data).astype(np.int64, copy=False)
    if max_norm is not None:
        _embedding_renorm_(weight, idx, float(max_norm), float(norm_type))
    if psw is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. "
            "per_sample_weights is only supported for mode='sum' "
            f"(got mode='{mode}'). Please open a feature request on GitHub."
        )
    if psw is not None and psw._data.dtype != weight._data.dtype:
        names = (_TYPE_NAMES.get(t._data.dtype.name, "Tensor") for t in (weight, psw))
        w_name, p_name = (f"{_dtype.printed_prefix()}.{k}" for k in names)
        raise RuntimeError(
            "Expected tensor for argument #1 'weight' to have the same type as tensor for "
            f"argument #1 'per_sample_weights'; but type {w_name} does not equal {p_name} "
            "(while checking arguments for embedding_bag)"
        )
    num, dim = weight.shape
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise RuntimeError(
                f"padding_idx must be within the number of embeddings, -{num} through "
                f"{num - 1}, but got {padding_idx}"
            )
        padding_idx = padding_idx % num
    if offs is None:
        offs = np.asarray(offsets._data)
    bags, bag_of, used = _bag_layout(idx, offs, include_last_offset)
    bad = np.flatnonzero(used & ((idx < 0) | (idx >= num)))
    if bad.size:
        at = int(bad[0])
        if mode == "max":
            raise RuntimeError(
                "embedding_bag: Expected idx >= 0 && idx < num_embeddings but found idx to be "
                f"{int(idx[at])}"
            )
        raise RuntimeError(
            f"Index {at} of input takes value {int(idx[at])} which is not in the valid range "
            f"[0, {num})"
        )
    if padding_idx is not None:
        used &= idx != padding_idx
    keep = np.flatnonzero(used)
    picked, bag_of = idx[keep], bag_of[keep]
    dt = weight._data.dtype
    if mode == "max":
        pos, full = _bag_argmax(weight._data[picked], bag_of, bags)
        rows = _ix.gather(weight, 0, Tensor._make(picked[pos] if picked.size else pos))
        return named(rows.masked_fill(Tensor._make(~full[:, None]), 0), "EmbeddingBagBackward0")
    scale = None
    if scale_grad_by_freq and picked.size:
        # PyTorch's CPU kernel divides the k-th distinct index's gradient by the count of
        # the k-th smallest index (not its own): matched, so that the numbers agree.
        counts = np.bincount(idx, minlength=num)
        distinct = np.unique(idx)
        freq = np.ones(num, dtype=np.int64)
        freq[distinct] = counts[np.sort(idx)[: distinct.size]]
        scale = Tensor._make((1.0 / freq[picked]).astype(dt)[:, None])
    rows = _rec.embedding(weight, Tensor._make(picked), scale)
    if psw is not None:
        rows = rows * _ix.index_select(psw, 0, Tensor._make(keep)).unsqueeze(1)
    out = _ix._index_add_zeros((bags, dim), (Tensor._make(bag_of),), rows)
    if mode == "mean":
        sizes = np.maximum(np.bincount(bag_of, minlength=bags), 1).astype(dt)
        out = out / Tensor._make(sizes[:, None])
    return named(out, "EmbeddingBagBackward0")


# ----------------------------------------------------------------------------- attention
def _dtype_name(t: Tensor) -> str:
    return str(t.dtype).replace("ndgrad.", "")


def _attention_mask(
    attn_mask: Tensor | None,
    is_causal: bool,
    query: Tensor,
    L: int,
    S: int,  # noqa: N803
) -> tuple[Tensor | None, Any]:
    """SDPA's mask as an additive float mask (or None) and, where some rows are masked
    entirely, a boolean array of those rows (broadcastable to the scores), else None."""
    xp = query.xp
    dt = query._data.dtype
    causal = None
    if is_causal:
        causal = xp.tril(xp.ones((L, S), dtype=bool))  # top-left aligned, as PyTorch's
    if attn_mask is None and causal is None:
        return None, None
    if attn_mask is None:
        additive = Tensor._make(xp.where(causal, dt.type(0), dt.type(-np.inf)))
    elif attn_mask._data.dtype.kind == "b":
        additive = Tensor._make(xp.where(attn_mask._data, dt.type(0), dt.type(-np.inf)))
    else:
        additive = attn_mask
    with np.errstate(invalid="ignore"):
        dead = xp.all(xp.isneginf(additive._data), axis=-1, keepdims=True)
    return additive, (dead if dead.any() else None)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(query keyᵀ * scale + mask) value``, PyTorch's SDPA on ``(..., L, E)``,
    ``(..., S, E)`` and ``(..., S, Ev)``: boolean masks (True takes part) or float masks
    (added), ``is_causal`` (top-left aligned; with ``attn_mask`` it raises, as PyTorch's
    reference kernel does), dropout on the weights, grouped-query heads. Rows that may attend to
    nothing give zeros, as in PyTorch."""
    query, key, value = (as_tensor(t, "scaled_dot_product_attention") for t in (query, key, value))
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got "
            f"query.dim: {query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead."
        )
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{_dtype_name(query)} key.dtype: {_dtype_name(key)} and value.dtype: "
            f"{_dtype_name(value)} instead."
        )
    if not query.is_floating_point():
        raise RuntimeError(
            f"scaled_dot_product_attention: expected a floating point query, got {query.dtype}"
        )
    if attn_mask is not None:
        kind = attn_mask._data.dtype.kind
        if kind != "b" and kind != "f":
            raise RuntimeError(
                "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                f"attn_mask.dtype: {_dtype_name(attn_mask)} and  query.dtype: "
                f"{_dtype_name(query)} instead."
            )
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    if dropout_p < 0.0 or dropout_p > 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if key.shape[-1] != query.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            "scaled_dot_product_attention: expected key of shape (..., S, E) and value of shape "
            f"(..., S, Ev) for query of shape (..., L, E), got query {_size_list(query.shape)}, "
            f"key {_size_list(key.shape)} and value {_size_list(value.shape)}"
        )
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError(
                "Number of heads in key and value must divide the number of heads in query"
            )
        if hk != hq:
            key = key.repeat_interleave(hq // hk, -3)
        if hv != hq:
            value = value.repeat_interleave(hq // hv, -3)
    L, S = query.shape[-2], key.shape[-2]  # noqa: N806
    op = "scaled_dot_product_attention"
    shapes = [tuple(t.shape[:-2]) for t in (query, key, value)]
    for other in shapes[1:]:
        try:
            np.broadcast_shapes(shapes[0], other)
        except ValueError:
            raise broadcast_error(op, shapes[0], other) from None
    if attn_mask is not None:
        scores_shape = np.broadcast_shapes(*shapes) + (L, S)
        try:
            np.broadcast_shapes(scores_shape, tuple(attn_mask.shape))
        except ValueError:
            raise broadcast_error(op, scores_shape, tuple(attn_mask.shape)) from None
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    additive, dead = _attention_mask(attn_mask, is_causal, query, L, S)
    if dropout_p == 0.0:  # one op, one rule (ops.nn)
        return _nn.scaled_dot_product_attention(
            query, key, value, additive, factor, dead is not None
        )
    scores = _la.matmul(query * factor, key.transpose(-2, -1))
    if additive is not None:
        scores = scores + additive
    if dead is not None:
        # Rows with nothing to attend to: PyTorch returns zeros (and zero gradients) there.
        # The scores of those rows are made finite so that the softmax and its derivative are.
        dead_t = Tensor._make(dead)
        scores = scores.masked_fill(dead_t, 0.0)
        weights = _red.softmax(scores, -1).masked_fill(dead_t, 0.0)
    else:
        weights = _red.softmax(scores, -1)
    return _la.matmul(dropout(weights, dropout_p), value)


def _mha_shape_check(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Tensor | None,
    attn_mask: Tensor | None,
    num_heads: int,
) -> bool:
    """PyTorch's checks of the query/key/value and mask ranks; True for batched (3-D) input."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D"
                f" but found {key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D"
                f" but found {key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                f" but found {attn_mask.dim()}-D tensor instead"
            )
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D"
                f" but found {key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D"
                f" but found {key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                    f" but found {attn_mask.dim()}-D tensor instead"
                )
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(
                        f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}"
                    )
        return False
    raise AssertionError(
        "query should be unbatched 2D or batched 3D tensor but received "
        f"{query.dim()}-D query tensor"
    )


def _canonical_mask(
    mask: Tensor | None,
    mask_name: str,
    other_type: Any,
    other_name: str,
    target_type: Any,
    check_other: bool = True,
) -> Tensor | None:
    """A boolean mask (True = masked out) as a float mask of ``target_type`` (-inf where
    True, 0 elsewhere); float masks pass through. PyTorch's helper of the same name."""
    if mask is None:
        return None
    kind = mask._data.dtype.kind
    if kind != "b" and kind != "f":
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} "
            "is deprecated. Use same type for both instead.",
            stacklevel=2,
        )
    if kind == "b":
        dt = np.dtype(str(target_type).replace("ndgrad.", ""))
        data = mask.xp.where(mask._data, dt.type(-np.inf), dt.type(0))
        return Tensor._make(data)
    return mask


def _none_or_dtype(input: Tensor | None) -> Any:  # noqa: A002
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _in_projection_packed(
    q: Tensor, k: Tensor, v: Tensor, w: Tensor, b: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """The q, k, v projections with the packed ``(3E, E)`` weight and ``(3E,)`` bias.

    Self-attention (q is k is v) is one product whose columns are split, as PyTorch's (one
    BLAS call each way: threaded BLAS calls are what a loaded machine makes slow); otherwise
    the weight is split, so each projection is a contiguous product.
    """
    if q is k and k is v:  # self-attention: one product, as PyTorch (fewer BLAS calls)
        e = q.shape[-1]
        proj = linear(q, w, b)
        return proj[..., :e], proj[..., e : 2 * e], proj[..., 2 * e :]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _packed_projection(x: Tensor, w: Tensor, b: Tensor | None) -> tuple[Tensor, bool]:
    """Self-attention's packed projection of ``x`` ``(L, N, E)`` as ``(N, L, 3E)``, and
    whether it is batch major in memory: when ``x`` is a transposed ``(N, L, E)`` array (a
    ``batch_first`` module's input), the product runs on that array, without a copy."""
    xb = x.transpose(0, 1)
    if xb.is_contiguous() and not x.is_contiguous():
        return linear(xb, w, b), True
    return linear(x, w, b).transpose(0, 1), False


def _in_projection(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    w_q: Tensor,
    w_k: Tensor,
    w_v: Tensor,
    b_q: Tensor | None = None,
    b_k: Tensor | None = None,
    b_v: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    eq, ek, ev = q.shape[-1], k.shape[-1], v.shape[-1]
    for name, w, shape in (
        ("query", w_q, (eq, eq)),
        ("key", w_k, (eq, ek)),
        ("value", w_v, (eq, ev)),
    ):
        if tuple(w.shape) != shape:
            raise AssertionError(
                f"expecting {name} weights shape of {shape}, but got {tuple(w.shape)}"
            )
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _check_key_padding_mask(mask: Tensor, bsz: int, src_len: int) -> None:
    """PyTorch's assertions on ``key_padding_mask``'s shape (batch, source length)."""
    for dim, expected in enumerate((bsz, src_len)):
        if mask.shape[dim] != expected:
            raise AssertionError(
                f"Expected key_padded_mask.shape[{dim}] to be {expected}, but got {mask.shape[dim]}"
            )


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """PyTorch's multi-head attention on ``(L, N, E)`` (or unbatched ``(L, E)``) inputs.

    Boolean masks mark what is masked out (True) and become -inf; float masks are added.
    With ``need_weights`` the weights are computed explicitly (``baddbmm``, softmax, ``bmm``)
    and returned, averaged over the heads if ``average_attn_weights``; otherwise the heads go
    through ``scaled_dot_product_attention``.
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask", query.dtype
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. "
            "You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint is trusted: SDPA's causal mask is used instead
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(
                f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                f"{value.shape[:2]}"
            )
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")

    # Self-attention without weights: one projection, its heads as views (ops.nn's
    # attention_heads: one gradient buffer for all three), laid out as the input is.
    packed_self = (
        not use_separate_proj_weight
        and query is key
        and key is value
        and not need_weights
        and bias_k is None
        and bias_v is None
        and static_k is None
        and static_v is None
        and not add_zero_attn
    )
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if packed_self:
            proj, batch_major = _packed_projection(query, in_proj_weight, in_proj_bias)
        else:
            q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    else:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(
                    f"use_separate_proj_weight is True but {name}_proj_weight is None"
                )
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(
            query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v
        )

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            correct_2d = (tgt_len, src_len)
            if tuple(attn_mask.shape) != correct_2d:
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                    f"{correct_2d}."
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            correct_3d = (bsz * num_heads, tgt_len, src_len)
            if tuple(attn_mask.shape) != correct_3d:
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                    f"{correct_3d}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = _shape.cat([k, bias_k.repeat(1, bsz, 1)])
        v = _shape.cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")

    if packed_self:
        q, k, v = _nn.attention_heads(proj, num_heads)
        return _mha_sdpa(
            q, k, v, attn_mask, key_padding_mask, dropout_p if training else 0.0, is_causal,
            out_proj_weight, out_proj_bias, is_batched, batch_major,
        )  # fmt: skip
    if not need_weights and static_k is None and static_v is None and not add_zero_attn:
        # Heads as views (N, H, L, D) of the projections: no copies (PyTorch copies here);
        # the batched products read the strided matrices directly.
        q, k, v = (
            t.reshape(t.shape[0], bsz, num_heads, head_dim).permute(1, 2, 0, 3) for t in (q, k, v)
        )
        return _mha_sdpa(
            q, k, v, attn_mask, key_padding_mask, dropout_p if training else 0.0, is_causal,
            out_proj_weight, out_proj_bias, is_batched,
        )  # fmt: skip
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        _check_static("static_k", static_k, bsz * num_heads, head_dim)
        k = static_k
    if static_v is None:
        v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        _check_static("static_v", static_v, bsz * num_heads, head_dim)
        v = static_v

    if add_zero_attn:
        zeros = _creation.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype)
        k = _shape.cat([k, zeros], 1)
        v = _shape.cat([v, _creation.zeros((bsz * num_heads, 1, head_dim), dtype=v.dtype)], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    src_len = k.shape[1]
    if key_padding_mask is not None:
        _check_key_padding_mask(key_padding_mask, bsz, src_len)
        key_padding_mask = (
            key_padding_mask.reshape(bsz, 1, 1, src_len)
            .expand(-1, num_heads, -1, -1)
            .reshape(bsz * num_heads, 1, src_len)
        )
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask

    if not training:
        dropout_p = 0.0

    if need_weights:
        q_scaled = q * math.sqrt(1.0 / float(head_dim))
        if attn_mask is not None:
            weights = _la.baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))
        else:
            weights = _la.bmm(q_scaled, k.transpose(-2, -1))
        weights = _red.softmax(weights, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = _la.bmm(weights, v)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias)
        out = out.reshape(tgt_len, bsz, out.shape[1])
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    return _mha_sdpa(
        q, k, v, attn_mask, None, dropout_p, is_causal, out_proj_weight, out_proj_bias,
        is_batched,
    )  # fmt: skip


def _mha_sdpa(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Tensor | None,
    key_padding_mask: Tensor | None,
    dropout_p: float,
    is_causal: bool,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    is_batched: bool,
    batch_major: bool = False,
) -> tuple[Tensor, None]:
    """multi_head_attention_forward without weights: heads ``(N, H, L, D)`` through
    scaled_dot_product_attention, then the output projection (``(L, N, E)`` result; with
    ``batch_major`` a view of an ``(N, L, E)`` array, as a ``batch_first`` module's input)."""
    bsz, num_heads, tgt_len, head_dim = q.shape
    src_len = k.shape[2]
    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    if key_padding_mask is not None:
        _check_key_padding_mask(key_padding_mask, bsz, src_len)
        key_padding_mask = key_padding_mask.reshape(bsz, 1, 1, src_len)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    if batch_major:
        out = out.transpose(1, 2).reshape(bsz * tgt_len, num_heads * head_dim)
        out = linear(out, out_proj_weight, out_proj_bias)
        out = out.reshape(bsz, tgt_len, out.shape[1]).transpose(0, 1)
    else:
        out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, num_heads * head_dim)
        out = linear(out, out_proj_weight, out_proj_bias)
        out = out.reshape(tgt_len, bsz, out.shape[1])
    if not is_batched:
        out = out.squeeze(1)
    return out, None


def _check_static(name: str, t: Tensor, rows: int, head_dim: int) -> None:
    if t.shape[0] != rows:
        raise AssertionError(f"expecting {name}.size(0) of {rows}, but got {t.shape[0]}")
    if t.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {t.shape[2]}")
