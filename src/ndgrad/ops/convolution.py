"""Convolution primitives, any number of spatial dims (1-D and 2-D through ``nn.functional``).

Three differentiable ops, each with one rule written against the rule namespaces'
``conv_forward`` / ``conv_input_grad`` / ``conv_weight_grad`` (``ops/namespace.py``: im2col and
col2im on arrays, these very ops on Tensors):

- ``convolution(x, w, bias)``: ``y = conv(x, w) + b``. Its gradient wrt ``x`` is a transposed
  convolution of ``g`` with ``w``, wrt ``w`` the correlation of ``x`` with ``g``, wrt ``b`` the
  sum of ``g`` over batch and spatial dims.
- ``conv_input_grad(g, w, bias)``: the transposed convolution (``conv_transpose1d/2d``, and the
  input gradient above under ``create_graph``). It is linear in ``g`` and in ``w``: its
  gradient wrt ``g`` is a convolution with ``w``, wrt ``w`` a correlation.
- ``conv_weight_grad(x, g)``: the weight gradient as an op of its own (for ``create_graph``).

``padding`` here is one ``(before, after)`` pair per spatial dim ('same' with even kernels pads
more after, as PyTorch does); ``nn.functional`` checks the arguments and builds these.
"""

from __future__ import annotations

from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.ops._common import record
from ndgrad.ops.namespace import _conv_out, array_namespace

__all__: list[str] = []


def _crop_key(
    x_shape: tuple, w_shape: tuple, g_shape: tuple, stride: tuple, padding: tuple, dilation: tuple
) -> tuple | None:
    """The key cutting ``conv_forward`` of an ``x_shape`` input down to ``g_shape`` (a transposed
    convolution's output_padding may leave room for one more position than its input has), or
    None when they agree."""
    out = _conv_out(tuple(x_shape[2:]), tuple(w_shape[2:]), stride, padding, dilation)
    if out == tuple(g_shape[2:]):
        return None
    return (slice(None), slice(None)) + tuple(slice(0, m) for m in g_shape[2:])


def _spatial_sum(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


def convolution(
    x: Tensor,
    w: Tensor,
    bias: Tensor | None,
    stride: tuple,
    padding: tuple,
    dilation: tuple,
    groups: int,
) -> Tensor:
    """``conv(x, w) + bias`` for ``x`` ``(N, C, *spatial)`` and ``w`` ``(O, C/groups, *k)``."""
    data = array_namespace(x._data).conv_forward(
        x._data, w._data, stride, padding, dilation, groups
    )
    if bias is not None:
        data += bias._data.reshape((-1,) + (1,) * (data.ndim - 2))
    x_shape, w_shape = x.shape, w.shape
    need_x, need_w = x._requires_grad, w._requires_grad
    sums = _spatial_sum(len(x_shape))
    has_bias = bias is not None

    def rule(xp: Any, g: Any, x: Any, w: Any) -> tuple:
        gx = (
            xp.conv_input_grad(g, w, x_shape, stride, padding, dilation, groups) if need_x else None
        )
        gw = (
            xp.conv_weight_grad(x, g, w_shape, stride, padding, dilation, groups)
            if need_w
            else None
        )
        gb = g.sum(axis=sums) if has_bias else None
        return gx, gw, gb

    inputs = (x, w) if bias is None else (x, w, bias)
    return record("ConvolutionBackward0", data, inputs, rule, (x, w))


def conv_input_grad(
    g: Tensor,
    w: Tensor,
    bias: Tensor | None,
    x_shape: tuple,
    stride: tuple,
    padding: tuple,
    dilation: tuple,
    groups: int,
) -> Tensor:
    """The transposed convolution of ``g`` ``(N, O, *out)`` with ``w`` ``(O, C/groups, *k)``
    into ``x_shape`` (plus ``bias`` of ``C`` entries): the adjoint of ``convolution``."""
    data = array_namespace(g._data).conv_input_grad(
        g._data, w._data, tuple(x_shape), stride, padding, dilation, groups
    )
    if bias is not None:
        data = data + bias._data.reshape((-1,) + (1,) * (data.ndim - 2))
    w_shape = w.shape
    need_g, need_w = g._requires_grad, w._requires_grad
    sums = _spatial_sum(len(x_shape))
    has_bias = bias is not None

    crop = _crop_key(x_shape, w.shape, g.shape, stride, padding, dilation)

    def rule(xp: Any, h: Any, g: Any, w: Any) -> tuple:
        gg = xp.conv_forward(h, w, stride, padding, dilation, groups) if need_g else None
        if gg is not None and crop is not None:
            gg = gg[crop]
        gw = (
            xp.conv_weight_grad(h, g, w_shape, stride, padding, dilation, groups)
            if need_w
            else None
        )
        gb = h.sum(axis=sums) if has_bias else None
        return gg, gw, gb

    inputs = (g, w) if bias is None else (g, w, bias)
    return record("ConvolutionBackward0", data, inputs, rule, (g, w))


def conv_weight_grad(
    x: Tensor,
    g: Tensor,
    w_shape: tuple,
    stride: tuple,
    padding: tuple,
    dilation: tuple,
    groups: int,
) -> Tensor:
    """The gradient of ``convolution(x, w)`` wrt a ``w`` of ``w_shape`` for the output gradient
    ``g``: bilinear in ``x`` and ``g``."""
    data = array_namespace(x._data).conv_weight_grad(
        x._data, g._data, tuple(w_shape), stride, padding, dilation, groups
    )
    x_shape = x.shape
    need_x, need_g = x._requires_grad, g._requires_grad

    crop = _crop_key(x_shape, w_shape, g.shape, stride, padding, dilation)

    def rule(xp: Any, h: Any, x: Any, g: Any) -> tuple:
        gx = (
            xp.conv_input_grad(g, h, x_shape, stride, padding, dilation, groups) if need_x else None
        )
        gg = xp.conv_forward(x, h, stride, padding, dilation, groups) if need_g else None
        if gg is not None and crop is not None:
            gg = gg[crop]
        return gx, gg

    return record("ConvolutionBackwardBackward0", data, (x, g), rule, (x, g))


def conv_forward(
    x: Tensor, w: Tensor, stride: tuple, padding: tuple, dilation: tuple, groups: int
) -> Tensor:
    """The Tensor side of the rules' ``xp.conv_forward``."""
    return convolution(x, w, None, stride, padding, dilation, groups)


def conv_input_grad_tensor(
    g: Tensor,
    w: Tensor,
    x_shape: tuple,
    stride: tuple,
    padding: tuple,
    dilation: tuple,
    groups: int,
) -> Tensor:
    """The Tensor side of the rules' ``xp.conv_input_grad``."""
    return conv_input_grad(g, w, None, x_shape, stride, padding, dilation, groups)
