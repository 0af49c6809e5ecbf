"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _creation
from ndgrad._tensor import Tensor
from ndgrad.ops import maximum
from ndgrad.optim._common import (
    _check_betas,
    _check_lr,
    _check_nonnegative,
    _host_scalars,
    _restore_state,
    _zero_step,
)
from ndgrad.optim.optimizer import Optimizer, ParamsT, _params_with_grad, _scalar


def _neg_clr(step: Any, lr: float, beta1: float, dtype: Any) -> tuple:
    return (np.asarray(-(lr / (1 - beta1 ** float(step))), dtype),)


class Adamax(Optimizer):
    """``torch.optim.Adamax`` (single-tensor path); state ``step``, ``exp_avg``, ``exp_inf``."""

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_betas(betas)
        _check_nonnegative("weight_decay", weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        _restore_state(
            self,
            {"foreach": None, "maximize": False, "differentiable": False, "capturable": False},
        )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each_group(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _scalar(group["lr"])
        beta1, beta2 = group["betas"]
        eps, weight_decay = group["eps"], group["weight_decay"]
        for param in _params_with_grad(group):
            state = self.state[param]
            if len(state) == 0:
                state["step"] = _zero_step()
                state["exp_avg"] = _creation.zeros_like(param)
                state["exp_inf"] = _creation.zeros_like(param)
            exp_avg, exp_inf, step_t = state["exp_avg"], state["exp_inf"], state["step"]
            grad = param.grad if not group["maximize"] else -param.grad
            step_t += 1
            if weight_decay != 0:
                grad = grad.add(param, alpha=weight_decay)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_inf.copy_(maximum(exp_inf.mul_(beta2), grad.abs().add_(eps)))
            (neg_clr,) = _host_scalars(_neg_clr, step_t._data, lr, beta1, param._data.dtype)
            param.add_(exp_avg.mul(neg_clr).div(exp_inf))  # addcdiv_(value=-clr)'s order
