"""Adadelta: steps scaled by the ratio of running RMS of updates to running RMS of gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndgrad import _creation
from ndgrad._tensor import Tensor
from ndgrad.optim._common import _check_lr, _check_nonnegative, _restore_state, _zero_step
from ndgrad.optim.optimizer import Optimizer, ParamsT, _params_with_grad, _scalar


class Adadelta(Optimizer):
    """``torch.optim.Adadelta`` (single-tensor path); state ``step``, ``square_avg``,
    ``acc_delta``."""

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonnegative("epsilon", eps)
        _check_nonnegative("weight_decay", weight_decay)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
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
        rho, eps, weight_decay = group["rho"], group["eps"], group["weight_decay"]
        for param in _params_with_grad(group):
            state = self.state[param]
            if len(state) == 0:
                state["step"] = _zero_step()
                state["square_avg"] = _creation.zeros_like(param)
                state["acc_delta"] = _creation.zeros_like(param)
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            state["step"] += 1
            grad = param.grad if not group["maximize"] else -param.grad
            if weight_decay != 0:
                grad = grad.add(param, alpha=weight_decay)
            square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
            std = square_avg.add(eps).sqrt_()
            delta = acc_delta.add(eps).sqrt_()
            delta.div_(std).mul_(grad)
            acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
            param.add_(delta, alpha=-lr)
