"""Recurrent layers and embeddings as ops, each with one derivative rule.

``recurrent_layer`` runs one direction of one layer of ``nn.RNN``/``nn.GRU``/``nn.LSTM`` over
every time step as a single recorded op. The input projections ``x W_ihᵀ + b_ih`` of all steps
come in precomputed (one GEMM, done by the caller with ``F.linear``); the op runs the
recurrence (one GEMM per step for all gates) and returns the state after every step. Its rule
is backpropagation through time, written once against the rules' namespace: it recomputes the
gates of all steps from the saved states with one GEMM, walks the steps backwards (one GEMM
per step) and forms the weight gradients with one GEMM each. Run on Tensors (``create_graph``)
the same rule records its own graph, so the layer is differentiable twice, like PyTorch's.

Sequences of different lengths (``PackedSequence``) come as a padded batch with a ``mask``
``(T, B, 1)`` of ones up to each sequence's length: past its end a sequence keeps its state,
so the last step holds every sequence's final state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor
from ndgrad.ops._common import record

# Gates per mode, in PyTorch's order: GRU (r, z, n), LSTM (i, f, g, o).
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}
_NAMES = {
    "RNN_TANH": "RnnTanhBackward0",
    "RNN_RELU": "RnnReluBackward0",
    "GRU": "GruBackward0",
    "LSTM": "LstmBackward0",
}


def _sigmoid(xp: Any, x: Any) -> Any:
    with np.errstate(all="ignore"):
        return (1 / (1 + xp.exp(-x))).astype(x.dtype, copy=False)


def recurrent_layer(
    mode: str,
    xproj: Tensor,
    h0: Tensor,
    c0: Tensor | None,
    w_hh: Tensor,
    b_hh: Tensor | None,
    w_hr: Tensor | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """One direction of one recurrent layer over all steps.

    ``xproj`` ``(T, B, G*H)``: the input projections with ``b_ih``; ``h0`` ``(B, P)``; ``c0``
    ``(B, H)`` (LSTM only); ``w_hh`` ``(G*H, P)``; ``b_hh`` ``(G*H,)`` or None; ``w_hr``
    ``(P, H)`` (LSTM with ``proj_size``) or None; ``mask`` ``(T, B, 1)`` or None. Returns the
    states after each step, ``(T, B, P)``, or ``(T, B, P + H)`` for the LSTM (``h`` then ``c``).
    """
    lstm = mode == "LSTM"
    xs = xproj._data
    xp = array_module(xs)
    steps, batch = xs.shape[:2]
    hidden = w_hh._data.shape[0] // GATES[mode]
    p = h0._data.shape[1]
    h = h0._data
    c = c0._data if lstm else None
    out = xp.empty((steps, batch, p + hidden if lstm else p), dtype=xs.dtype)
    whT = w_hh._data.T
    bh = b_hh._data if b_hh is not None else None
    wrT = w_hr._data.T if w_hr is not None else None
    m = mask._data > 0 if mask is not None else None
    H = hidden
    for t in range(steps):
        gh = h @ whT
        if bh is not None:
            gh += bh
        if lstm:
            gates = xs[t] + gh
            s = _sigmoid(xp, gates)
            g = xp.tanh(gates[:, 2 * H : 3 * H])
            cn = s[:, H : 2 * H] * c + s[:, :H] * g
            hn = s[:, 3 * H :] * xp.tanh(cn)
            if wrT is not None:
                hn = hn @ wrT
            if m is not None:
                cn = xp.where(m[t], cn, c)
            c = cn
            out[t, :, p:] = cn
        elif mode == "GRU":
            x = xs[t]
            rz = _sigmoid(xp, x[:, : 2 * H] + gh[:, : 2 * H])
            r, z = rz[:, :H], rz[:, H:]
            n = xp.tanh(x[:, 2 * H :] + r * gh[:, 2 * H :])
            hn = n + z * (h - n)
        else:
            pre = xs[t] + gh
            hn = xp.tanh(pre) if mode == "RNN_TANH" else xp.maximum(pre, 0)
        if m is not None:
            hn = xp.where(m[t], hn, h)
        h = hn
        out[t, :, :p] = hn
    inputs = [xproj, h0]
    if lstm:
        inputs.append(c0)
    inputs.append(w_hh)
    if b_hh is not None:
        inputs.append(b_hh)
    if w_hr is not None:
        inputs.append(w_hr)
    saved = (*inputs, mask) if mask is not None else tuple(inputs)
    rule = _bptt_rule(mode, H, p, b_hh is not None, w_hr is not None, mask is not None)
    return record(_NAMES[mode], out, tuple(inputs), rule, saved, save_output=True)


def _bptt_rule(mode: str, H: int, p: int, bias: bool, proj: bool, masked: bool) -> Any:
    """Backpropagation through time for ``recurrent_layer`` (constants only in the closure)."""
    lstm = mode == "LSTM"

    def rule(xp: Any, g: Any, *saved: Any) -> tuple:
        it = iter(saved)
        xproj, h0 = next(it), next(it)
        c0 = next(it) if lstm else None
        w_hh = next(it)
        b_hh = next(it) if bias else None
        w_hr = next(it) if proj else None
        mask = next(it) if masked else None
        out = next(it)
        steps, batch, gsize = xproj.shape
        # the state each step started from, and the hidden-to-hidden gates of all steps
        hprev = xp.concatenate([xp.reshape(h0, (1, batch, p)), out[:-1, :, :p]], 0)
        flat_h = xp.reshape(hprev, (steps * batch, p))
        gh = xp.reshape(xp.matmul(flat_h, w_hh.T), (steps, batch, gsize))
        if b_hh is not None:
            gh = gh + b_hh
        d_x: list = []  # per step, latest first
        d_h: list = []
        d_hnew: list = []
        carry = None
        if lstm:
            c_all = out[:, :, p:]
            cprev = xp.concatenate([xp.reshape(c0, (1, batch, H)), c_all[:-1]], 0)
            pre = xproj + gh
            i = xp.sigmoid(pre[:, :, :H])
            f = xp.sigmoid(pre[:, :, H : 2 * H])
            gg = xp.tanh(pre[:, :, 2 * H : 3 * H])
            o = xp.sigmoid(pre[:, :, 3 * H :])
            tc = xp.tanh(f * cprev + i * gg)
            k_i = gg * i * (1 - i)
            k_f = cprev * f * (1 - f)
            k_g = i * (1 - gg * gg)
            k_o = tc * o * (1 - o)
            k_c = o * (1 - tc * tc)
            hh = o * tc if proj else None
            c_carry = None
            for t in range(steps - 1, -1, -1):
                dh = g[t, :, :p] if carry is None else g[t, :, :p] + carry
                dc = g[t, :, p:] if c_carry is None else g[t, :, p:] + c_carry
                if mask is not None:
                    m = mask[t]
                    dh_new, dc_new = dh * m, dc * m
                    keep_h, keep_c = dh - dh_new, dc - dc_new
                else:
                    dh_new, dc_new = dh, dc
                if proj:
                    d_hnew.append(dh_new)
                    dhh = xp.matmul(dh_new, w_hr)
                else:
                    dhh = dh_new
                dct = dc_new + dhh * k_c[t]
                dgate = xp.concatenate([dct * k_i[t], dct * k_f[t], dct * k_g[t], dhh * k_o[t]], 1)
                d_x.append(dgate)
                carry = xp.matmul(dgate, w_hh)
                c_carry = dct * f[t]
                if mask is not None:
                    carry = carry + keep_h
                    c_carry = c_carry + keep_c
            d_h = d_x
        elif mode == "GRU":
            rz = xp.sigmoid(xproj[:, :, : 2 * H] + gh[:, :, : 2 * H])
            r, z = rz[:, :, :H], rz[:, :, H:]
            ghn = gh[:, :, 2 * H :]
            n = xp.tanh(xproj[:, :, 2 * H :] + r * ghn)
            k_n = (1 - z) * (1 - n * n)
            k_z = (hprev - n) * z * (1 - z)
            k_r = ghn * r * (1 - r)
            c_carry = None
            for t in range(steps - 1, -1, -1):
                dh = g[t] if carry is None else g[t] + carry
                if mask is not None:
                    dh_new = dh * mask[t]
                    keep_h = dh - dh_new
                else:
                    dh_new = dh
                dn = dh_new * k_n[t]
                dz = dh_new * k_z[t]
                dr = dn * k_r[t]
                d_x.append(xp.concatenate([dr, dz, dn], 1))
                dgh = xp.concatenate([dr, dz, dn * r[t]], 1)
                d_h.append(dgh)
                carry = xp.matmul(dgh, w_hh) + dh_new * z[t]
                if mask is not None:
                    carry = carry + keep_h
        else:
            pre = xproj + gh
            if mode == "RNN_TANH":
                hn = xp.tanh(pre)
                k = 1 - hn * hn
            else:
                k = pre > 0
            for t in range(steps - 1, -1, -1):
                dh = g[t] if carry is None else g[t] + carry
                if mask is not None:
                    dh_new = dh * mask[t]
                    keep_h = dh - dh_new
                else:
                    dh_new = dh
                dpre = dh_new * k[t]
                d_x.append(dpre)
                carry = xp.matmul(dpre, w_hh)
                if mask is not None:
                    carry = carry + keep_h
            d_h = d_x
        d_xproj = _stack_reversed(xp, d_x)
        d_gh = d_xproj if d_h is d_x else _stack_reversed(xp, d_h)
        flat_d = xp.reshape(d_gh, (steps * batch, gsize))
        grads: list = [d_xproj, carry]
        if lstm:
            grads.append(c_carry)
        grads.append(xp.matmul(flat_d.T, flat_h))
        if bias:
            grads.append(xp.sum(flat_d, 0))
        if proj:
            d_hn = xp.reshape(_stack_reversed(xp, d_hnew), (steps * batch, p))
            grads.append(xp.matmul(d_hn.T, xp.reshape(hh, (steps * batch, H))))
        return tuple(grads)

    return rule


def _stack_reversed(xp: Any, parts: list) -> Any:
    """``parts`` (collected from the last step back) stacked along a new leading time axis."""
    return xp.concatenate([xp.expand_dims(a, 0) for a in reversed(parts)], 0)


# ----------------------------------------------------------------------------- embedding
def embedding(weight: Tensor, indices: Tensor, scale: Tensor | None) -> Tensor:
    """Rows of ``weight`` picked by ``indices`` (``EmbeddingBackward0``).

    The gradient adds each output row's gradient into the weight row it came from, times
    ``scale`` (``indices.shape + (1,)``: zero at ``padding_idx``, ``1/frequency`` under
    ``scale_grad_by_freq``) when given.
    """
    data = weight._data[indices._data]
    shape = weight._data.shape
    if scale is None:

        def rule(xp: Any, g: Any, idx: Any) -> tuple:
            return (xp.index_add_zeros(shape, (idx,), g),)

        return record("EmbeddingBackward0", data, (weight,), rule, (indices,))

    def scaled_rule(xp: Any, g: Any, idx: Any, s: Any) -> tuple:
        return (xp.index_add_zeros(shape, (idx,), g * s),)

    return record("EmbeddingBackward0", data, (weight,), scaled_rule, (indices, scale))
