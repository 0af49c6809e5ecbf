"""Neural-network primitives: differentiable ops with one derivative rule each.

Cross-entropy/NLL, binary cross-entropy and scaled dot-product attention (convolution,
pooling and normalisation live in their own modules). ``ndgrad.nn.functional`` keeps
PyTorch's signatures, argument checks and the composites built from these.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _parallel
from ndgrad._backend import array_module
from ndgrad._dynamo import tracer as _tracer
from ndgrad._tensor import Tensor
from ndgrad.ops._common import record, record_multi
from ndgrad.ops.pointwise import _ignore
from ndgrad.ops.reduction import log_softmax_array, log_softmax_rule


def _targets_in_range(t: Any, classes: int, ignore_index: int) -> bool:
    """True when every target is a class index other than ``ignore_index``; False when some
    are ``ignore_index`` (the general path masks those rows); IndexError for any other
    target. (A decision on values: ``ndgrad.compile`` guards on it instead of breaking the
    graph.)"""
    if 0 <= ignore_index < classes and (t == ignore_index).any():
        return False  # an ignored class index: no gradient, out of the mean
    outside = (t < 0) | (t >= classes)
    if outside.any():
        if (t == ignore_index).any():
            return False
        raise IndexError(f"Target {int(t[outside][0])} is out of bounds.")
    return True


def cross_entropy_indices(
    x: Tensor, target: Tensor, reduction: str, ignore_index: int
) -> Tensor | None:
    """``nll_loss(log_softmax(x, 1), target)`` for logits ``(N, C)`` and class indices ``(N,)``
    as one op, or None when another case applies (ignored targets, other shapes).

    The gradient is PyTorch's two backward steps folded together: with ``c`` the upstream
    gradient of each row's loss, ``exp(logp) * c`` everywhere minus ``c`` at the target.
    """
    d, t = x._data, target._data
    if d.ndim != 2 or d.dtype.kind != "f" or t.ndim != 1 or t.dtype.kind not in "iu":
        return None
    n, classes = d.shape
    if t.shape[0] != n or n == 0 or reduction not in ("mean", "sum", "none"):
        return None
    if not _tracer.value_check(_targets_in_range, t, classes, ignore_index):
        return None  # the general path masks the ignored rows
    xp = array_module(d)
    logp = log_softmax_array(d, 1)
    losses = -logp[xp.arange(n), t]
    if reduction == "none":
        data = losses
    elif reduction == "sum":
        data = xp.sum(losses)
    else:
        data = xp.sum(losses) / d.dtype.type(n)
    # log_softmax's result, recorded (not run at first order): under create_graph the rule's
    # exp(logp) is differentiated through it back to x.
    logp_t = record("LogSoftmaxBackward0", logp, (x,), log_softmax_rule(1), save_output=True)
    shape = d.shape

    def rule(xp: Any, g: Any, logp: Any, target: Any) -> tuple:
        if reduction == "mean":
            c = g / n
        else:
            c = g.reshape((n, 1)) if reduction == "none" else g
        picked = xp.put_along_axis_zeros(shape, target.reshape((n, 1)), c, 1)
        return (xp.exp(logp) * c - picked,)

    data = xp.asarray(data, dtype=d.dtype)
    return record("NllLossBackward0", data, (x,), rule, (logp_t, target))


def nll_elements(
    logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int
) -> tuple[Tensor, Tensor]:
    """Per-element ``-w[t] * logp[.., t, ..]`` (shaped like target) and the weights ``w[t]``
    (zero at ignored targets). The class dim is 1 (0 for 1-D input).

    Picks one entry per row by fancy indexing rather than a one-hot product: this is the hot
    path of classification training.
    """
    d = logp._data
    xp = array_module(d)
    n_classes = d.shape[0 if d.ndim == 1 else 1]
    # Rows of shape (M, C): the class dim moved last.
    moved = d if d.ndim <= 2 else xp.moveaxis(d, 1, -1)
    rows2 = moved.reshape(-1, n_classes)
    t = target._data.reshape(-1).astype(np.int64, copy=False)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    safe_t = xp.where(valid, t, 0)
    dt = d.dtype
    w = valid.astype(dt) if weight is None else weight._data.astype(dt)[safe_t] * valid
    m = t.shape[0]
    data = (-rows2[xp.arange(m), safe_t] * w).reshape(target._data.shape)
    index_t, w_t = Tensor._make(safe_t.reshape(m, 1)), Tensor._make(w.reshape(m, 1))
    rows_shape, moved_shape, ndim = rows2.shape, moved.shape, d.ndim
    # moveaxis(1, -1) undone: the class dim (last in ``moved``) back to 1.
    back = (0, ndim - 1) + tuple(range(1, ndim - 1))

    some_ignored = not valid.all()

    def rule(xp: Any, g: Any, index: Any, w: Any, *checked: Any) -> tuple:
        if not some_ignored:
            values = g.reshape((m, 1)) * -w
        else:
            # Ignored rows get no gradient at all, as PyTorch's kernel skips them: not
            # 0 * inf = NaN when every target is ignored ('mean' divides by a zero weight).
            with xp.quiet():
                values = g.reshape((m, 1)) * -w
            values = xp.where(checked[1].reshape((m, 1)) != ignore_index, values, 0.0)
        grad = xp.put_along_axis_zeros(rows_shape, index, values, 1).reshape(moved_shape)
        return (xp.transpose(grad, back) if ndim > 2 else grad,)

    # PyTorch saves the input, the target and the weight: changing them in place is caught.
    saved = (index_t, w_t, logp, target) + ((weight,) if weight is not None else ())
    losses = record("NllLossBackward0", data, (logp,), rule, saved)
    return losses, Tensor._make(w)


def binary_cross_entropy(x: Tensor, t: Tensor, weight: Tensor | None) -> Tensor:
    """Element-wise BCE of probabilities ``x`` (unreduced); each log clamped at -100."""
    d, td = x._data, t._data
    xp = array_module(d)
    with _ignore():
        log_x = xp.maximum(xp.log(d), -100)
        log_1mx = xp.maximum(xp.log1p(-d), -100)
        data = -(td * log_x + (1 - td) * log_1mx)
    if weight is not None:
        data = data * weight._data
    data = data.astype(d.dtype, copy=False)
    target_grad = t._requires_grad

    def rule(xp: Any, g: Any, x: Any, t: Any, *weight: Any) -> tuple:
        # PyTorch's formula: (x - t) / max(x (1 - x), 1e-12), not the clamped log's derivative.
        with xp.quiet():
            gx = g * (x - t) / xp.maximum(x * (1 - x), 1e-12)
            gt = g * -(xp.log(x) - xp.log1p(-x)) if target_grad else None
        if weight:
            gx = gx * weight[0]
            gt = gt * weight[0] if gt is not None else None
        return gx, gt

    saved = (x, t) + ((weight,) if weight is not None else ())
    return record("BinaryCrossEntropyBackward0", data, (x, t), rule, saved)


def _column_max(a: Any) -> Any:
    """Maxima down the columns (along axis -2, kept as size 1) by folding the rows in halves:
    each step is an element-wise maximum of whole contiguous rows, several times faster than
    NumPy's reduction over an axis this short."""
    xp = array_module(a)
    while a.shape[-2] > 1:
        n = a.shape[-2]
        h = n // 2
        b = xp.maximum(a[..., :h, :], a[..., h : 2 * h, :])
        if n % 2:
            b[..., :1, :] = xp.maximum(b[..., :1, :], a[..., 2 * h :, :])
        a = b
    return a


def _attention_cost(q: Any, k: Any, v: Any) -> float:
    """Rough nanoseconds of one batch item of attention: its products, the softmax."""
    length, size, source = q.shape[-2], q.shape[-1], k.shape[-2]
    return 0.03 * length * source * (size + v.shape[-1]) + 2.0 * length * source


def _attention_forward(scale: float, masked_rows: bool) -> Any:
    """The forward on arrays (one batch slice at a time): ``(out, pᵀ)``, the weights
    transposed (keys x queries, contiguous); given ``out`` (arrays for both), it writes
    into them.

    In that layout the softmax's max and sum run down the columns: element-wise maxima of
    whole rows and a BLAS product with a row of ones, instead of reductions over a short
    last axis (W10a's forward: 0.25 ms of 1.8 less on one core)."""

    def forward(q: Any, k: Any, v: Any, mask: Any, out: tuple = (None, None)) -> tuple:
        xp = array_module(q)
        dt = q.dtype
        with _ignore():
            st = xp.matmul(k, xp.swapaxes(q * dt.type(scale), -1, -2), out=out[1])
            if mask is not None:
                md = xp.swapaxes(mask.astype(dt, copy=False), -1, -2)
                if xp.broadcast_shapes(st.shape, md.shape) == st.shape:
                    st += md
                else:
                    st = st + md
            m = _column_max(st)
            if masked_rows:
                m = xp.where(xp.isfinite(m), m, dt.type(0))
            st -= m
            xp.exp(st, out=st)
            total = xp.matmul(xp.ones((1, st.shape[-2]), dtype=dt), st)  # column sums, by BLAS
            if masked_rows:
                total[total == 0] = 1
            st /= total
            return xp.matmul(xp.swapaxes(st, -1, -2), v, out=out[0]), st

    return forward


def _score_grads(xp: Any, gt: Any, q: Any, k: Any, pt: Any, scale: float, grad_mask: bool) -> tuple:
    """The gradients of q, k (and of the additive mask) from ``gt``, the gradient of the
    weights, given transposed as the weights ``pt`` are (keys x queries; without a mask
    gradient, ``gt`` comes times ``scale``: folded into the smaller operand)."""
    dst = xp.softmax_grad(gt, pt, -2)
    dq, dk = xp.matmul(xp.swapaxes(dst, -1, -2), k), xp.matmul(dst, q)
    if grad_mask:
        return dq * scale, dk * scale, xp.swapaxes(dst, -1, -2)
    return dq, dk


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, scale: float, masked_rows: bool
) -> Tensor:
    """``softmax(q kᵀ scale + mask) v`` as one op; ``mask`` is additive (float, -inf where a
    key is masked out), ``masked_rows`` says whether some row may be masked entirely (its
    weights are then zeros, as PyTorch's).

    The attention weights ``p`` are recorded as their own node (inputs q, k and the mask),
    not run at first order: the op's rule reads them, so that under ``create_graph`` the rule
    is differentiated through them back to q and k (as the fused cross-entropy's log_softmax).
    On NumPy arrays the forward and the rule run on slices of the batch dims across the
    intra-op threads (``xp.over_batches``): each slice's scores stay in cache.
    """
    qd, kd, vd = q._data, k._data, v._data
    md = None if mask is None else mask._data
    forward = _attention_forward(scale, masked_rows)
    cost = _attention_cost(qd, kd, vd)
    arrays = (qd, kd, vd, md)
    if all(type(a) is np.ndarray for a in arrays if a is not None):
        shapes = ((qd.shape[-2], vd.shape[-1]), (kd.shape[-2], qd.shape[-2]))
        outputs = tuple((shape, qd.dtype) for shape in shapes)
        out, pt = _parallel.split_batches(forward, arrays, 2, cost, outputs)
    else:
        out, pt = forward(*arrays)
    p = array_module(pt).swapaxes(pt, -1, -2)  # the weights (queries x keys), a view
    grad_mask = mask is not None and mask._requires_grad
    score_inputs = (q, k, mask) if grad_mask else (q, k)

    def p_rule(xp: Any, g: Any, q: Any, k: Any, p: Any) -> tuple:
        gt = xp.swapaxes(g if grad_mask else g * scale, -1, -2)
        return _score_grads(xp, gt, q, k, xp.swapaxes(p, -1, -2), scale, grad_mask)

    p_t = record("SoftmaxBackward0", p, score_inputs, p_rule, (q, k), save_output=True)

    def grads(xp: Any, g: Any, q: Any, k: Any, v: Any, p: Any) -> tuple:
        pt = xp.swapaxes(p, -1, -2)
        dv = xp.matmul(pt, g)
        dpt = xp.matmul(v, xp.swapaxes(g if grad_mask else g * scale, -1, -2))
        dq, dk, *ds = _score_grads(xp, dpt, q, k, pt, scale, grad_mask)
        return (dq, dk, dv, *ds)

    def rule(xp: Any, g: Any, q: Any, k: Any, v: Any, p: Any) -> tuple:
        return xp.over_batches(grads, (g, q, k, v, p), 2, 1.5 * cost)

    inputs = (q, k, v, mask) if grad_mask else (q, k, v)
    return record("ScaledDotProductAttentionBackward0", out, inputs, rule, (q, k, v, p_t))


def attention_heads(proj: Tensor, heads: int) -> tuple[Tensor, Tensor, Tensor]:
    """The query, key and value heads ``(N, H, L, D)`` of a packed in-projection ``(N, L, 3E)``
    (any strides), as views: one op with one rule for all three, so that their gradients are
    written into one buffer (one copy) instead of one zero-filled ``(N, L, 3E)`` array per
    slice, summed by the engine. The gradient is laid out as ``proj`` is in memory (batch
    or sequence major), so the reshapes and transposes before it stay views."""
    data = proj._data
    n, length, e3 = data.shape
    e = e3 // 3
    size = e // heads
    xp = array_module(data)
    packed = data.reshape(n, length, 3, heads, size)
    datas = [xp.swapaxes(packed[:, :, i], 1, 2) for i in range(3)]
    batch_major = data.strides[0] >= data.strides[1]

    def rule(*grads: Any) -> tuple:
        from ndgrad.ops import shape

        zeros = None
        parts = []
        for g in grads:
            if g is None:
                if zeros is None:
                    zeros = Tensor._make(xp.zeros((n, heads, length, size), data.dtype))
                g = zeros
            parts.append(g.transpose(1, 2) if batch_major else g.permute(2, 0, 1, 3))
        stacked = shape.stack(parts, 2)  # (N, L, 3, H, D) or (L, N, 3, H, D), contiguous
        if batch_major:
            return (stacked.reshape(n, length, e3),)
        return (stacked.reshape(length, n, e3).transpose(0, 1),)

    return record_multi("AttentionHeadsBackward0", datas, (proj,), rule)


def _log_add3(a: Any, b: Any, c: Any) -> Any:
    """``log(e^a + e^b + e^c)`` as ATen's CTC kernel writes it: shifted by the largest term
    (by 0 when all are -inf)."""
    m = np.maximum(np.maximum(a, b), c)
    m[m == -np.inf] = 0
    return np.log(np.exp(a - m) + np.exp(b - m) + np.exp(c - m)) + m


def _shifted(a: Any, k: int, fill: Any) -> Any:
    """``a`` moved ``k`` places along its last axis (right for k > 0), ``fill`` let in."""
    out = np.full_like(a, fill)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


def _ctc_beta_posteriors(
    lpl: Any, lengths: Any, target_lengths: Any, skip: Any, valid: Any, log_alpha: Any
) -> Any:
    """``log(alpha * beta)`` per time, batch item and label position: the beta recursion
    run backwards from each item's last frame (-inf at and after its input length)."""
    steps, n, width = lpl.shape
    neg = lpl.dtype.type(-np.inf)
    rows = np.arange(n)
    tail = 2 * target_lengths
    out = np.full(lpl.shape, neg, dtype=lpl.dtype)
    beta = np.full((n, width), neg, dtype=lpl.dtype)
    for t in range(steps - 1, -1, -1):
        init = np.full((n, width), neg, dtype=lpl.dtype)
        ends = lengths - 1 == t
        if ends.any():
            init[rows, tail] = lpl[t, rows, tail]
            has = target_lengths > 0
            init[rows[has], tail[has] - 1] = lpl[t, rows[has], tail[has] - 1]
        step = _log_add3(
            beta, _shifted(beta, -1, neg), _shifted(np.where(skip, beta, neg), -2, neg)
        )
        step += lpl[t]
        beta = np.where(
            ends[:, None], init, np.where((t < lengths - 1)[:, None] & valid, step, neg)
        )
        out[t] = log_alpha[t] + beta
    return out


def ctc_loss(
    log_probs: Tensor,
    labels: Any,
    lengths: Any,
    target_lengths: Any,
    blank: int,
    zero_infinity: bool,
) -> Tensor:
    """Per-item CTC negative log-likelihoods of ``log_probs`` ``(T, N, C)`` (``CtcLossBackward0``).

    ``labels`` ``(N, S)`` are the targets padded (any value past each target length).
    Forward: the alpha recursion in log space, vectorised over the batch and the extended
    label positions (blank, l1, blank, l2, ..., blank), a loop over time. The rule is
    ATen's: the beta recursion, then ``exp(lp) - exp(log(sum alpha beta) + nll - lp)`` at
    each frame before the input length (PyTorch's gradient, which assumes ``log_probs``
    are log-softmax outputs), zero after it and for infinite losses under
    ``zero_infinity``. PyTorch has no derivative of its backward: neither has this one.
    """
    lp = log_probs._data
    steps, n, classes = lp.shape
    dt = lp.dtype
    neg = dt.type(-np.inf)
    width = 2 * (int(target_lengths.max()) if n else 0) + 1
    ext = np.full((n, width), blank, dtype=np.int64)
    ext[:, 1::2] = labels[:, : width // 2]
    positions = np.arange(width)
    valid = positions[None, :] < (2 * target_lengths + 1)[:, None]
    skip = np.zeros((n, width), dtype=bool)
    skip[:, 2:] = ext[:, 2:] != ext[:, :-2]
    lpl = np.take_along_axis(lp, ext[None], axis=2)  # (T, N, width)
    log_alpha = np.full((steps, n, width), neg, dtype=dt)
    nll = np.zeros(n, dtype=dt)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if steps:
            alpha = np.full((n, width), neg, dtype=dt)
            alpha[:, 0] = lpl[0, :, 0]
            if width > 1:
                alpha[:, 1] = np.where(target_lengths > 0, lpl[0, :, 1], neg)
            log_alpha[0] = alpha
            for t in range(1, steps):
                step = _log_add3(
                    alpha, _shifted(alpha, 1, neg), np.where(skip, _shifted(alpha, 2, neg), neg)
                )
                alpha = np.where(valid, step + lpl[t], neg)
                log_alpha[t] = alpha
        rows = np.arange(n)
        last = log_alpha[np.maximum(lengths - 1, 0), rows]
        l1 = last[rows, 2 * target_lengths]
        l2 = np.where(target_lengths > 0, last[rows, np.maximum(2 * target_lengths - 1, 0)], neg)
        m = np.maximum(l1, l2)
        m[m == -np.inf] = 0
        nll[:] = -(np.log(np.exp(l1 - m) + np.exp(l2 - m)) + m)
        empty = lengths == 0
        nll[empty] = np.where(target_lengths[empty] == 0, dt.type(-0.0), dt.type(np.inf))

    def grad(lp: Any, g: Any) -> Any:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            lab = _ctc_beta_posteriors(lpl, lengths, target_lengths, skip, valid, log_alpha)
            top = lab.max(axis=2, keepdims=True)
            top[~np.isfinite(top)] = 0
            onehot = np.zeros((n, width, classes), dtype=dt)
            onehot[rows[:, None], positions[None, :], ext] = 1
            onehot *= valid[:, :, None]
            sums = np.matmul(np.exp(lab - top).transpose(1, 0, 2), onehot).transpose(1, 0, 2)
            res = np.log(sums) + top
            out = (np.exp(lp) - np.exp(res + nll[None, :, None] - lp)) * g[None, :, None]
        out[np.arange(steps)[:, None] >= lengths[None, :]] = 0
        if zero_infinity:
            out[:, nll == np.inf] = 0
        return out.astype(dt, copy=False)

    def rule(xp: Any, g: Any, lp: Any) -> tuple:
        if isinstance(g, Tensor):  # create_graph: the gradient has no derivative, as in torch
            data = grad(lp._data, g._data)
            return (record("NotImplemented", data, (g, lp), _ctc_no_double_backward),)
        return (grad(lp, g),)

    return record("CtcLossBackward0", nll, (log_probs,), rule, (log_probs,))


def _ctc_no_double_backward(xp: Any, g: Any) -> tuple:
    raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")
