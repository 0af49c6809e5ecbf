"""RAdam: Adam with the variance of the adaptive learning rate rectified in early steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _creation
from ndgrad._tensor import Tensor
from ndgrad.optim._common import (
    _check_betas,
    _check_lr,
    _check_nonnegative,
    _decide,
    _host_scalars,
    _restore_state,
    _zero_step,
)
from ndgrad.optim.optimizer import Optimizer, ParamsT, _params_with_grad, _scalar


def _rho_t(step: Any, beta2: float) -> float:
    """The length of the approximated SMA at ``step`` (and its maximum ``rho_inf``)."""
    step = float(step)
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf - 2 * step * (beta2**step) / (1 - beta2**step)


def _rectified_next(step: Any, beta2: float) -> bool:
    """Whether the coming step (``step + 1``) is rectified: ``rho_t > 5``."""
    return _rho_t(float(step) + 1, beta2) > 5.0


def _radam_scalars(step: Any, beta1: float, beta2: float, dtype: Any) -> tuple:
    """In the parameter's dtype: the first bias correction, sqrt of the second, and the
    rectification term (PyTorch's Python-float arithmetic)."""
    rho_t = _rho_t(step, beta2)
    rho_inf = 2 / (1 - beta2) - 1
    step = float(step)
    rect = (
        ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        if rho_t > 5.0
        else 1.0
    )
    return (
        np.asarray(1 - beta1**step, dtype),
        np.asarray((1 - beta2**step) ** 0.5, dtype),
        np.asarray(rect, dtype),
    )


class RAdam(Optimizer):
    """``torch.optim.RAdam`` (single-tensor path); state ``step``, ``exp_avg``,
    ``exp_avg_sq``. While the SMA length ``rho_t <= 5`` the step is plain momentum SGD."""

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
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
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        _restore_state(
            self,
            {
                "foreach": None,
                "maximize": False,
                "differentiable": False,
                "decoupled_weight_decay": False,
                "capturable": False,
            },
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
                state["exp_avg_sq"] = _creation.zeros_like(param)
            grad = param.grad if not group["maximize"] else -param.grad
            exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]

            # decided before the count moves: compiled, the guard reads the count as it is
            # before the replay
            rectified = _decide(_rectified_next, step_t._data, beta2)
            step_t += 1
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    param.mul_(1 - lr * weight_decay)
                else:
                    grad = grad.add(param, alpha=weight_decay)

            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1, bias_correction2_sqrt, rect = _host_scalars(
                _radam_scalars, step_t._data, beta1, beta2, param._data.dtype
            )
            bias_corrected_exp_avg = exp_avg / bias_correction1
            if rectified:
                # number / tensor is reciprocal(tensor) * number, as in PyTorch
                adaptive_lr = exp_avg_sq.sqrt().add_(eps).reciprocal() * bias_correction2_sqrt
                param.add_(bias_corrected_exp_avg * lr * adaptive_lr * rect, alpha=-1.0)
            else:
                param.add_(bias_corrected_exp_avg * lr, alpha=-1.0)
