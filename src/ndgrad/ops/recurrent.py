"""Recurrent layers and embeddings as ops, each with one derivative rule.

``recurrent_layer`` runs one direction of one layer of ``nn.RNN``/``nn.GRU``/``nn.LSTM`` over
every time step as a single recorded op. The input projections ``x W_ihᵀ + b_ih`` of all steps
come in precomputed (one GEMM, done by the caller with ``F.linear``); the op runs the
recurrence (one GEMM per step for all gates) and returns the state after every step. Its rule
is backpropagation through time, written once against the rules' namespace: it reads the gates
the forward stored beside the states, walks the steps backwards (one GEMM per step, and the
element-wise work of a step on that step's blocks rather than precomputed over all steps:
fewer passes over memory) and forms the weight gradients with one GEMM each. Run on Tensors
(``create_graph``) the same rule records its own graph, so the layer is differentiable twice,
like PyTorch's.

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


def block_sizes(mode: str, hidden: int, p: int) -> tuple[int, ...]:
    """The per-step sizes of the blocks of ``recurrent_layer``'s result, in order: ``h``
    (size ``p``) first, then for the LSTM ``c``, the gate activations ``i, f, g, o`` and
    ``tanh(c)``, for the GRU ``r, z, n`` and ``W_hn h + b_hn`` (what backpropagation reads,
    kept rather than recomputed)."""
    if mode == "LSTM":
        return (p,) + (hidden,) * 6
    if mode == "GRU":
        return (p,) + (hidden,) * 4
    return (p,)


def blocks(xp: Any, flat: Any, steps: int, batch: int, sizes: tuple) -> list:
    """The blocks ``(T, B, size)`` of a flat result: each one contiguous (fast element-wise
    work over all steps at once); for Tensors, views recorded as getitem + reshape."""
    out = []
    start = 0
    for size in sizes:
        n = steps * batch * size
        out.append(xp.reshape(flat[start : start + n], (steps, batch, size)))
        start += n
    return out


def _sigmoid_(x: Any, out: Any) -> Any:
    """``out = sigmoid(x) = tanh(x / 2) / 2 + 1/2``, in place in ``out`` (called under
    ``np.errstate``): NumPy's float32 tanh is twice as fast as its exp, and this takes one
    pass fewer than ``1 / (1 + exp(-x))``; halving is exact, the result within an ulp of 1
    of the exp form."""
    xp = array_module(out)
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


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
    ``(P, H)`` (LSTM with ``proj_size``) or None; ``mask`` ``(T, B, 1)`` or None. Returns one
    flat array of the blocks ``block_sizes`` names (``blocks`` splits it): ``h`` after each
    step, the LSTM's ``c``, then the gates (and the LSTM's ``tanh(c)``). The op is the
    function from its inputs to all of them and its rule their joint derivative, so every
    order of differentiation is exact.
    """
    lstm, gru = mode == "LSTM", mode == "GRU"
    xs = xproj._data
    xp = array_module(xs)
    steps, batch = xs.shape[:2]
    H = w_hh._data.shape[0] // GATES[mode]
    p = h0._data.shape[1]
    h = h0._data
    c = c0._data if lstm else None
    sizes = block_sizes(mode, H, p)
    # empty_like of the input (not empty): ndgrad.compile records the buffer and its writes
    flat = xp.empty_like(xs, order="C", shape=(steps * batch * sum(sizes),))
    parts = blocks(xp, flat, steps, batch, sizes)
    whT = w_hh._data.T
    bh = b_hh._data if b_hh is not None else None
    if bh is not None and not gru:
        xs = xs + bh  # the hidden bias joins the input projections once
    wrT = w_hr._data.T if w_hr is not None else None
    m = mask._data > 0 if mask is not None else None
    with np.errstate(all="ignore"):
        _recur(mode, xs, h, c, whT, bh, wrT, m, parts, xp)
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
    return record(_NAMES[mode], flat, tuple(inputs), rule, saved, save_output=True)


def _recur(
    mode: str, xs: Any, h: Any, c: Any, whT: Any, bh: Any, wrT: Any, m: Any, parts: list, xp: Any
) -> None:
    """The forward recurrence on arrays, writing every step's blocks into ``parts``."""
    lstm, gru = mode == "LSTM", mode == "GRU"
    H = whT.shape[1] // GATES[mode]
    h_all = parts[0]
    if lstm:
        c_all, i_all, f_all, g_all, o_all, tc_all = parts[1:]
        # the gates' pre-activations and i*g, written in place each step (empty_like: see above)
        z = xp.empty_like(xs, order="C", shape=(xs.shape[1], 4 * H))
        ig = xp.empty_like(xs, order="C", shape=(xs.shape[1], H))
    for t in range(xs.shape[0]):
        if lstm:
            xp.matmul(h, whT, out=z)
            z += xs[t]
            i, f, g, o, tc = i_all[t], f_all[t], g_all[t], o_all[t], tc_all[t]
            _sigmoid_(z[:, :H], i)
            _sigmoid_(z[:, H : 2 * H], f)
            xp.tanh(z[:, 2 * H : 3 * H], out=g)
            _sigmoid_(z[:, 3 * H :], o)
            cn = c_all[t]
            xp.multiply(f, c, out=cn)
            xp.multiply(i, g, out=ig)
            cn += ig
            xp.tanh(cn, out=tc)
            if wrT is None and m is None:
                h = xp.multiply(o, tc, out=h_all[t])
                c = cn
                continue
            hn = o * tc
            if wrT is not None:
                hn = hn @ wrT
            if m is not None:
                c_all[t] = xp.where(m[t], cn, c)
            c = c_all[t]
        elif gru:
            gh = h @ whT
            if bh is not None:
                gh += bh
            x = xs[t]
            r_all, z_all, n_all, ghn_all = parts[1:]
            r, z, n = r_all[t], z_all[t], n_all[t]
            _sigmoid_(x[:, :H] + gh[:, :H], r)
            _sigmoid_(x[:, H : 2 * H] + gh[:, H : 2 * H], z)
            ghn_all[t] = gh[:, 2 * H :]
            xp.multiply(r, gh[:, 2 * H :], out=n)
            n += x[:, 2 * H :]
            xp.tanh(n, out=n)
            hn = h - n
            hn *= z
            hn += n
        else:
            gh = h @ whT
            gh += xs[t]
            hn = xp.tanh(gh, out=gh) if mode == "RNN_TANH" else xp.maximum(gh, 0, out=gh)
        if m is not None:
            hn = xp.where(m[t], hn, h)
        h = hn
        h_all[t] = hn


def _bptt_rule(mode: str, H: int, p: int, bias: bool, proj: bool, masked: bool) -> Any:
    """Backpropagation through time for ``recurrent_layer`` (constants only in the closure).

    ``g`` is the gradient of the whole result: of ``h`` (and ``c``) after each step, and of
    the stored gates (zero unless a higher-order gradient reads them).
    """
    lstm, gru = mode == "LSTM", mode == "GRU"
    sizes = block_sizes(mode, H, p)

    def rule(xp: Any, g: Any, *saved: Any) -> tuple:
        it = iter(saved)
        xproj, h0 = next(it), next(it)
        c0 = next(it) if lstm else None
        w_hh = next(it)
        next(it) if bias else None
        w_hr = next(it) if proj else None
        mask = next(it) if masked else None
        out = next(it)
        steps, batch, gsize = xproj.shape
        parts = blocks(xp, out, steps, batch, sizes)
        g_parts = blocks(xp, g, steps, batch, sizes)
        h_all, g_h = parts[0], g_parts[0]
        # the state each step started from
        hprev = xp.concatenate([xp.reshape(h0, (1, batch, p)), h_all[:-1]], 0)
        d_x: list = []  # per step, latest first
        d_h: list = []
        d_hnew: list = []
        carry = None
        c_carry = None
        keep_h = keep_c = None
        if lstm:
            c_all, i, f, gg, o, tc = parts[1:]
            g_c, g_i, g_f, g_g, g_o, g_tc = g_parts[1:]
            # A first-order backward gets zeros for c and everything stored after it unless
            # the final cell state is used: then their terms are left out.
            full = _reads_tail(g, steps * batch * p)
            hh = o * tc if proj else None
            for t in range(steps - 1, -1, -1):
                dh = g_h[t] if carry is None else g_h[t] + carry
                dc = c_carry
                if full:
                    dc = g_c[t] if dc is None else dc + g_c[t]
                if mask is not None:
                    m = mask[t]
                    dh_new = dh * m
                    keep_h = dh - dh_new
                    if dc is not None:
                        dc_new = dc * m
                        keep_c = dc - dc_new
                        dc = dc_new
                else:
                    dh_new = dh
                if proj:
                    d_hnew.append(dh_new)
                    dhh = xp.matmul(dh_new, w_hr)
                else:
                    dhh = dh_new
                i_t, f_t, g_t, o_t, tc_t = i[t], f[t], gg[t], o[t], tc[t]
                d_tc = dhh * o_t
                if full:
                    d_tc = d_tc + g_tc[t]
                dct = d_tc * (1 - tc_t * tc_t)  # the gradient at the new cell
                if dc is not None:
                    dct = dct + dc
                d_i, d_f = dct * g_t, dct * (c_all[t - 1] if t else c0)
                d_g, d_o = dct * i_t, dhh * tc_t
                if full:
                    d_i, d_f, d_g, d_o = d_i + g_i[t], d_f + g_f[t], d_g + g_g[t], d_o + g_o[t]
                # to the pre-activations: sigmoid' = s - s*s, tanh' = 1 - g*g
                dgate = xp.concatenate(
                    [
                        d_i * (i_t - i_t * i_t),
                        d_f * (f_t - f_t * f_t),
                        d_g * (1 - g_t * g_t),
                        d_o * (o_t - o_t * o_t),
                    ],
                    1,
                )
                d_x.append(dgate)
                carry = xp.matmul(dgate, w_hh)
                c_carry = dct * f_t
                if mask is not None:
                    carry = carry + keep_h
                    if keep_c is not None:
                        c_carry = c_carry + keep_c
            d_h = d_x
        elif gru:
            r, z, n, ghn = parts[1:]
            g_r, g_z, g_n, g_ghn = g_parts[1:]
            dr_, dz_, dn_ = r * (1 - r), z * (1 - z), 1 - n * n
            k_n = (1 - z) * dn_
            k_z = (hprev - n) * dz_
            k_rn = k_n * ghn * dr_
            k_hn = k_n * r
            # the gradient arriving at the stored gates, as far as their pre-activations
            g_np = g_n * dn_
            g_rp = (g_np * ghn + g_r) * dr_
            g_zp = g_z * dz_
            g_hn = g_np * r + g_ghn
            for t in range(steps - 1, -1, -1):
                dh = g_h[t] if carry is None else g_h[t] + carry
                if mask is not None:
                    dh_new = dh * mask[t]
                    keep_h = dh - dh_new
                else:
                    dh_new = dh
                dn = dh_new * k_n[t] + g_np[t]
                dz = dh_new * k_z[t] + g_zp[t]
                dr = dh_new * k_rn[t] + g_rp[t]
                d_x.append(xp.concatenate([dr, dz, dn], 1))
                dgh = xp.concatenate([dr, dz, dh_new * k_hn[t] + g_hn[t]], 1)
                d_h.append(dgh)
                carry = xp.matmul(dgh, w_hh) + dh_new * z[t]
                if mask is not None:
                    carry = carry + keep_h
        else:
            k = 1 - h_all * h_all if mode == "RNN_TANH" else h_all > 0
            for t in range(steps - 1, -1, -1):
                dh = g_h[t] if carry is None else g_h[t] + carry
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
        flat_x = _stack_reversed(xp, d_x)  # (T*B, G*H)
        flat_d = flat_x if d_h is d_x else _stack_reversed(xp, d_h)
        flat_h = xp.reshape(hprev, (steps * batch, p))
        grads: list = [xp.reshape(flat_x, (steps, batch, gsize)), carry]
        if lstm:
            grads.append(c_carry)
        grads.append(xp.matmul(flat_d.T, flat_h))
        if bias:
            grads.append(xp.sum(flat_d, 0))
        if proj:
            d_hn = _stack_reversed(xp, d_hnew)
            grads.append(xp.matmul(d_hn.T, xp.reshape(hh, (steps * batch, H))))
        return tuple(grads)

    return rule


def _reads_tail(g: Any, start: int) -> bool:
    """Whether the flat gradient ``g`` may be nonzero from ``start`` on. A plain NumPy array
    is looked at (as unsigned integers: a SIMD max, faster than ``any``; ``-0.0`` counts as
    nonzero); a traced array or a Tensor (a gradient with its own graph) always may be."""
    if isinstance(g, Tensor) or (isinstance(g, np.ndarray) and type(g) is not np.ndarray):
        return True
    tail = g[start:]
    if type(tail) is np.ndarray and tail.dtype.kind == "f" and tail.flags.c_contiguous:
        return tail.size > 0 and bool(tail.view(f"u{tail.dtype.itemsize}").max())
    return bool(tail.any())


def _stack_reversed(xp: Any, parts: list) -> Any:
    """``parts`` ``(B, n)`` each, collected from the last step back: ``(T*B, n)`` in time order."""
    return xp.concatenate(parts[::-1], 0)


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
