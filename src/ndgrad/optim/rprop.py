"""Rprop: sign-based steps whose per-coordinate sizes grow or shrink with sign agreement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndgrad import _creation
from ndgrad._tensor import Tensor
from ndgrad.optim._common import _check_lr, _restore_state, _zero_step
from ndgrad.optim.optimizer import Optimizer, ParamsT, _params_with_grad, _scalar


class Rprop(Optimizer):
    """``torch.optim.Rprop`` (single-tensor path); state ``step``, ``prev``, ``step_size``."""

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
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
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        for param in _params_with_grad(group):
            state = self.state[param]
            if len(state) == 0:
                state["step"] = _zero_step()
                state["prev"] = _creation.zeros_like(param)
                state["step_size"] = _creation.full_like(param.grad, _scalar(group["lr"]))
            grad = param.grad if not group["maximize"] else -param.grad
            prev, step_size = state["prev"], state["step_size"]
            state["step"] += 1

            sign = grad.mul(prev).sign()
            sign[sign.gt(0)] = etaplus
            sign[sign.lt(0)] = etaminus
            sign[sign.eq(0)] = 1
            step_size.mul_(sign).clamp_(step_size_min, step_size_max)
            # where the sign flipped the gradient counts as zero (no step, no memory)
            grad = grad.clone()
            grad[sign.eq(etaminus)] = 0
            param.addcmul_(grad.sign(), step_size, value=-1)
            prev.copy_(grad)
