"""NAdam: Adam with Nesterov momentum and a momentum schedule ``mu_t``."""

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
    _host_scalars,
    _restore_state,
    _step_dtype,
    _zero_step,
)
from ndgrad.optim.optimizer import Optimizer, ParamsT, _params_with_grad, _scalar


def _nadam_scalars(
    step: Any,
    mu_product: Any,
    lr: float,
    beta1: float,
    beta2: float,
    momentum_decay: float,
    dtype: Any,
) -> tuple:
    """PyTorch's Python-float arithmetic of one step: the new ``mu_product`` (in its own
    dtype), then in the parameter's dtype the second bias correction and the two
    ``addcdiv_`` values."""
    step = float(step)
    bias_correction2 = 1 - beta2**step
    # the momentum cache mu_t and mu_{t+1}
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    new_mu_product = mu_product * np.asarray(mu, mu_product.dtype)  # ``mu_product *= mu``
    mu_product_value = float(new_mu_product)
    mu_product_next = mu_product_value * mu_next
    return (
        new_mu_product,
        np.asarray(bias_correction2, dtype),
        np.asarray(-lr * (1.0 - mu) / (1.0 - mu_product_value), dtype),
        np.asarray((-lr * mu_next) / (1.0 - mu_product_next), dtype),
    )


class NAdam(Optimizer):
    """``torch.optim.NAdam`` (single-tensor path).

    State: ``step``, ``mu_product`` (both 0-d tensors in the step dtype, so the product of the
    ``mu_t`` is rounded there as PyTorch's is), ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        _restore_state(
            self,
            {
                "maximize": False,
                "foreach": None,
                "capturable": False,
                "differentiable": False,
                "decoupled_weight_decay": False,
            },
            ("step", "mu_product"),
        )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each_group(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _scalar(group["lr"])
        beta1, beta2 = group["betas"]
        eps, weight_decay = group["eps"], group["weight_decay"]
        momentum_decay = group["momentum_decay"]
        for param in _params_with_grad(group):
            state = self.state[param]
            if len(state) == 0:
                state["step"] = _zero_step()
                state["mu_product"] = _creation.tensor(1.0, dtype=_step_dtype())
                state["exp_avg"] = _creation.zeros_like(param)
                state["exp_avg_sq"] = _creation.zeros_like(param)
            grad = param.grad if not group["maximize"] else -param.grad
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            mu_product, step_t = state["mu_product"], state["step"]

            step_t += 1
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    param.mul_(1 - lr * weight_decay)
                else:
                    grad = grad.add(param, alpha=weight_decay)

            new_mu_product, bias_correction2, value, value_next = _host_scalars(
                _nadam_scalars,
                step_t._data,
                mu_product._data,
                lr,
                beta1,
                beta2,
                momentum_decay,
                param._data.dtype,
            )
            mu_product.copy_(new_mu_product)

            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = exp_avg_sq.div(bias_correction2).sqrt()
            denom.add_(eps)
            # addcdiv_(value=...)'s order: value * tensor, then / denom, then added
            param.add_(grad.mul(value).div(denom))
            param.add_(exp_avg.mul(value_next).div(denom))
