"""Adam (and, with decoupled weight decay, AdamW): bias-corrected moment estimates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _creation
from ndgrad._dynamo import tracer as _tracer
from ndgrad._tensor import Tensor
from ndgrad.ops import maximum
from ndgrad.optim._common import _check_betas, _check_lr, _check_nonnegative, _step_dtype
from ndgrad.optim.optimizer import Optimizer, ParamsT, _params_with_grad, _scalar


def _bias_corrections(step: Any, lr: float, beta1: float, beta2: float, dtype: Any) -> tuple:
    """PyTorch's non-capturable Adam scalars in Python floats: (step size, sqrt of the second
    bias correction); with ``dtype``, as 0-d arrays (-step size, sqrt) of that dtype."""
    step = float(step)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    if dtype is None:
        return step_size, bias_correction2_sqrt
    return np.asarray(-step_size, dtype), np.asarray(bias_correction2_sqrt, dtype)


class Adam(Optimizer):
    """``torch.optim.Adam`` (single-tensor CPU path): same defaults, checks, state and update.

    State per parameter: ``step`` (a 0-d tensor), ``exp_avg``, ``exp_avg_sq`` and, with
    ``amsgrad``, ``max_exp_avg_sq``.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_betas(betas)
        _check_nonnegative("weight_decay", weight_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(_scalar(b) for b in betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)
            for p in group["params"]:
                p_state = self.state.get(p, {})
                if p_state and not isinstance(p_state["step"], Tensor):
                    p_state["step"] = _creation.tensor(float(p_state["step"]), dtype=_step_dtype())

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each_group(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _scalar(group["lr"])
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        amsgrad = group["amsgrad"]
        for p in _params_with_grad(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _creation.tensor(0.0, dtype=_step_dtype())
                state["exp_avg"] = _creation.zeros_like(p)
                state["exp_avg_sq"] = _creation.zeros_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = _creation.zeros_like(p)
            grad = p.grad if not group["maximize"] else -p.grad
            exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]

            step_t += 1
            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    p.mul_(1 - lr * weight_decay)
                else:
                    grad = grad.add(p, alpha=weight_decay)

            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)

            dtype = p._data.dtype
            if dtype not in (np.float32, np.float64):  # (half types: PyTorch's opmath order)
                step_size, bias_correction2_sqrt = _bias_corrections(
                    step_t.item(), lr, beta1, beta2, None
                )
            else:
                # The same Python float arithmetic, on the step count's array: a compiled
                # step replays it (no .item() graph break); cast to the parameter's dtype as
                # the scalar operands below would be.
                neg, root = _tracer.host_call(
                    _bias_corrections, step_t._data, lr, beta1, beta2, dtype
                )
                step_size, bias_correction2_sqrt = Tensor._make(neg), Tensor._make(root)

            if amsgrad:
                max_exp_avg_sq = state["max_exp_avg_sq"]
                max_exp_avg_sq.copy_(maximum(max_exp_avg_sq, exp_avg_sq))
                denom = (max_exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            else:
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            if isinstance(step_size, float):
                p.addcdiv_(exp_avg, denom, value=-step_size)
            else:  # addcdiv_'s order: value * exp_avg, then / denom, then added in place
                p.add_(exp_avg.mul(step_size).div(denom))
