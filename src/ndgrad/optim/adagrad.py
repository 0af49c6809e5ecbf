"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _creation
from ndgrad._tensor import Tensor
from ndgrad.optim._common import (
    _check_lr,
    _check_nonnegative,
    _host_scalars,
    _restore_state,
    _zero_step,
)
from ndgrad.optim.optimizer import Optimizer, ParamsT, _params_with_grad, _scalar


def _neg_clr(step: Any, lr: float, lr_decay: float, dtype: Any) -> tuple:
    return (np.asarray(-(lr / (1 + (float(step) - 1) * lr_decay)), dtype),)


class Adagrad(Optimizer):
    """``torch.optim.Adagrad`` (single-tensor path).

    ``sum += g * g``; ``p -= clr * g / (sqrt(sum) + eps)`` with
    ``clr = lr / (1 + (step - 1) * lr_decay)``. State (``step``, ``sum``) is created for every
    parameter at construction, as PyTorch does.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        _check_nonnegative("weight_decay", weight_decay)
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        _check_nonnegative("epsilon", eps)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, initial_accumulator_value)

    def _init_state(self, p: Tensor, initial_accumulator_value: float) -> None:
        state = self.state[p]
        state["step"] = _zero_step()
        state["sum"] = _creation.full_like(p, initial_accumulator_value)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        _restore_state(
            self, {"foreach": None, "maximize": False, "differentiable": False, "fused": None}
        )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each_group(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _scalar(group["lr"])
        weight_decay, lr_decay, eps = group["weight_decay"], group["lr_decay"], group["eps"]
        for param in _params_with_grad(group):
            state = self.state[param]
            if len(state) == 0:  # a group added after construction
                self._init_state(param, self.defaults["initial_accumulator_value"])
            state_sum, step_t = state["sum"], state["step"]
            step_t += 1
            grad = param.grad if not group["maximize"] else -param.grad
            if weight_decay != 0:
                grad = grad.add(param, alpha=weight_decay)
            (neg_clr,) = _host_scalars(_neg_clr, step_t._data, lr, lr_decay, param._data.dtype)
            state_sum.addcmul_(grad, grad, value=1)
            std = state_sum.sqrt().add_(eps)
            param.add_(grad.mul(neg_clr).div(std))  # addcdiv_(value=-clr)'s order
