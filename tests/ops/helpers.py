"""Shared test machinery: running one op on ndgrad and torch, and a finite-difference checker.

An op is written once as ``fn(lib, *tensors, **params)`` where ``lib`` is ``ndgrad`` or
``torch``; the two APIs are the same, so the same code exercises both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import ndgrad

FD_EPS = 1e-6
# Central differences in float64 are exact to ~eps**2 * f''' plus round-off ~1e-16 / eps.
FD_RTOL, FD_ATOL = 1e-6, 1e-7
TOL = {"float32": {"rtol": 2e-5, "atol": 2e-5}, "float64": {"rtol": 1e-9, "atol": 1e-10}}


def make_inputs(
    lib: Any, arrays: Sequence[np.ndarray], dtype: str, requires_grad: bool = True
) -> list:
    """Float arrays become tensors of ``dtype`` that require grad; int/bool arrays stay data."""
    out = []
    for a in arrays:
        if a.dtype.kind == "f":
            out.append(lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=requires_grad))
        else:
            out.append(lib.tensor(a))
    return out


def float_outputs(result: Any) -> list:
    """The floating-point tensors among an op's outputs (indices and masks get no gradient)."""
    items = list(result) if isinstance(result, (tuple, list)) else [result]
    return [r for r in items if r.is_floating_point()]


def all_outputs(result: Any) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def weights_for(outputs: Sequence[Any], seed: int = 1234) -> list[np.ndarray]:
    """Fixed random weights: the loss sum(w * out) makes every output element matter differently."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 1.5, tuple(o.shape)) for o in outputs]


def weighted_loss(lib: Any, outputs: Sequence[Any], weights: Sequence[np.ndarray]) -> Any:
    total = None
    for o, w in zip(outputs, weights, strict=False):
        term = (o * lib.tensor(w, dtype=o.dtype)).sum()
        total = term if total is None else total + term
    return total


def to_numpy(t: Any) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def numeric_gradients(
    fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    params: dict,
    weights: Sequence[np.ndarray],
) -> list[np.ndarray | None]:
    """Central finite differences of ``sum(w * fn(x))`` for each float input, in float64."""

    def loss(values: Sequence[np.ndarray]) -> float:
        with ndgrad.no_grad():
            tensors = make_inputs(ndgrad, values, "float64", requires_grad=False)
            outs = float_outputs(fn(ndgrad, *tensors, **params))
            return float(sum(np.sum(o.numpy() * w) for o, w in zip(outs, weights, strict=False)))

    grads: list[np.ndarray | None] = []
    for i, a in enumerate(arrays):
        if a.dtype.kind != "f":
            grads.append(None)
            continue
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            vals = [np.array(v, copy=True) for v in arrays]
            vals[i][idx] = a[idx] + FD_EPS
            up = loss(vals)
            vals[i][idx] = a[idx] - FD_EPS
            down = loss(vals)
            g[idx] = (up - down) / (2 * FD_EPS)
        grads.append(g)
    return grads


def check_gradients_fd(fn: Callable[..., Any], arrays: Sequence[np.ndarray], params: dict) -> None:
    """ndgrad's float64 gradients equal central finite differences."""
    inputs = make_inputs(ndgrad, arrays, "float64")
    outs = float_outputs(fn(ndgrad, *inputs, **params))
    assert outs, "the op has no floating-point output to differentiate"
    weights = weights_for(outs)
    loss = weighted_loss(ndgrad, outs, weights)
    diff = [t for t in inputs if t.requires_grad]
    analytic = ndgrad.autograd.grad(loss, diff, allow_unused=True)
    numeric = [g for g in numeric_gradients(fn, arrays, params, weights) if g is not None]
    for k, (a, n, t) in enumerate(zip(analytic, numeric, diff, strict=False)):
        got = np.zeros(t.shape) if a is None else a.numpy()
        assert a is None or (a.shape == t.shape and a.dtype == ndgrad.float64), (
            f"input {k}: gradient shape/dtype {a.shape}/{a.dtype} for input {t.shape}"
        )
        np.testing.assert_allclose(
            got,
            n,
            rtol=FD_RTOL,
            atol=FD_ATOL,
            err_msg=f"gradient of input {k} (shape {tuple(t.shape)})",
        )


def assert_same_tensor(mine: Any, ref: Any, dtype: str, what: str) -> None:
    """Values, shape and dtype of an ndgrad tensor equal torch's."""
    assert str(mine.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], (
        f"{what}: dtype {mine.dtype} != torch's {ref.dtype}"
    )
    assert tuple(mine.shape) == tuple(ref.shape), f"{what}: shape {mine.shape} != {ref.shape}"
    m, r = to_numpy(mine), to_numpy(ref)
    if r.dtype.kind == "f":
        np.testing.assert_allclose(m, r, err_msg=what, **TOL[dtype])
    else:
        np.testing.assert_array_equal(m, r, err_msg=what)


def compare_with_torch(
    fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    params: dict,
    dtype: str,
    grad: bool = True,
) -> None:
    """Same inputs through ndgrad and torch: outputs (values, dtypes) and gradients agree."""
    mine_in = make_inputs(ndgrad, arrays, dtype, requires_grad=grad)
    ref_in = make_inputs(torch, arrays, dtype, requires_grad=grad)
    mine_out, ref_out = fn(ndgrad, *mine_in, **params), fn(torch, *ref_in, **params)
    mine_all, ref_all = all_outputs(mine_out), all_outputs(ref_out)
    assert len(mine_all) == len(ref_all), "number of outputs differs from torch"
    for k, (m, r) in enumerate(zip(mine_all, ref_all, strict=False)):
        assert_same_tensor(m, r, dtype, f"output {k}")
        assert m.requires_grad == r.requires_grad, f"output {k}: requires_grad differs"
    if not grad:
        return
    mine_f, ref_f = float_outputs(mine_out), float_outputs(ref_out)
    mine_f = [m for m, r in zip(mine_f, ref_f, strict=False) if r.requires_grad]
    ref_f = [r for r in ref_f if r.requires_grad]
    if not ref_f:
        return
    weights = weights_for(ref_f)
    weighted_loss(ndgrad, mine_f, weights).backward()
    weighted_loss(torch, ref_f, weights).backward()
    for k, (m, r) in enumerate(zip(mine_in, ref_in, strict=False)):
        if not r.is_floating_point():
            continue
        if r.grad is None:
            assert m.grad is None or not np.any(m.grad.numpy()), f"input {k}: torch has no grad"
            continue
        assert m.grad is not None, f"input {k}: ndgrad has no gradient, torch has"
        assert_same_tensor(m.grad, r.grad, dtype, f"gradient of input {k}")
