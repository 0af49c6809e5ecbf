"""Helpers shared by the optimizers ported from ``torch.optim``'s single-tensor paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndgrad import _creation, _dtype
from ndgrad._dynamo import tracer as _tracer
from ndgrad._tensor import Tensor
from ndgrad.optim.optimizer import Optimizer


def _step_dtype() -> Any:
    # PyTorch keeps the step count in float32 unless the default dtype is float64.
    return _dtype.float64 if _dtype.get_default_dtype() is _dtype.float64 else _dtype.float32


def _check_lr(lr: Any) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_nonnegative(name: str, value: float) -> None:
    """PyTorch's check of ``eps`` and ``weight_decay`` (NaN refused too)."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name} value: {value}")


def _check_betas(betas: tuple[float, float]) -> None:
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def _zero_step() -> Tensor:
    """A fresh step counter: a 0-d tensor in float32 (float64 under that default dtype)."""
    return _creation.tensor(0.0, dtype=_step_dtype())


def _restore_state(
    optimizer: Optimizer, flags: dict[str, Any], scalars: tuple[str, ...] = ("step",)
) -> None:
    """``__setstate__``'s fix-ups: missing group flags get their defaults and scalar state
    saved as Python numbers (old checkpoints) becomes 0-d tensors again."""
    for group in optimizer.param_groups:
        for key, value in flags.items():
            group.setdefault(key, value)
        for p in group["params"]:
            p_state = optimizer.state.get(p, {})
            if not p_state:
                continue
            for key in scalars:
                if key in p_state and not isinstance(p_state[key], Tensor):
                    p_state[key] = _creation.tensor(float(p_state[key]), dtype=_step_dtype())


def _host_scalars(fn: Callable[..., tuple], *args: Any) -> tuple[Tensor, ...]:
    """``fn(*args)``, a tuple of 0-d arrays computed from Python numbers (the step count and
    such, passed as 0-d arrays), as tensors. Under ``ndgrad.compile`` it is one call on the
    tape, replayed every step, so these per-step values are not frozen into constants and
    no ``.item()`` breaks the graph. ``fn`` does PyTorch's Python-float arithmetic and casts
    the results to the dtype the tensor op would cast a Python scalar to, so the bits are
    those of the eager ``value=``/``alpha=`` forms."""
    return tuple(Tensor._make(a) for a in _tracer.host_call(fn, *args))


def _decide(fn: Callable[..., bool], *args: Any) -> bool:
    """``fn(*args)``: a branch on state values (RAdam's rectification, ASGD's averaging);
    compiled, a guard checked before each replay (a flip traces again) instead of a break."""
    return bool(_tracer.value_check(fn, *args))
