"""ASGD: averaged stochastic gradient descent with a decaying step ``eta``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad import _creation, _dtype
from ndgrad._tensor import Tensor
from ndgrad.optim._common import (
    _check_lr,
    _check_nonnegative,
    _decide,
    _host_scalars,
    _restore_state,
    _step_dtype,
    _zero_step,
)
from ndgrad.optim.optimizer import Optimizer, ParamsT, _params_with_grad, _scalar


def _decay_and_step(eta: Any, lambd: float, dtype: Any) -> tuple:
    """``1 - lambd * eta`` and ``-eta`` in the parameter's dtype, from eta's value."""
    eta_value = float(eta)
    return np.asarray(1 - lambd * eta_value, dtype), np.asarray(-eta_value, dtype)


def _averaging(mu: Any) -> bool:
    return float(mu) != 1


def _next_eta_mu(step: Any, lr: float, lambd: float, alpha: float, t0: float, dtype: Any) -> tuple:
    # through the default dtype, as ``torch.as_tensor(python float)`` then ``copy_``
    step = float(step)
    return (
        np.asarray(lr / ((1 + lambd * lr * step) ** alpha), dtype),
        np.asarray(1 / max(1, step - t0), dtype),
    )


class ASGD(Optimizer):
    """``torch.optim.ASGD`` (single-tensor path).

    State: ``step``, ``eta`` and ``mu`` (0-d tensors in the step dtype) and ``ax``, the
    running average of the parameter (a plain copy until step ``t0``).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        _check_lr(lr)
        _check_nonnegative("weight_decay", weight_decay)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
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
            ("step", "eta", "mu"),
        )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each_group(closure)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _scalar(group["lr"])
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        weight_decay = group["weight_decay"]
        for param in _params_with_grad(group):
            state = self.state[param]
            if len(state) == 0:
                state["step"] = _zero_step()
                state["eta"] = _creation.tensor(lr, dtype=_step_dtype())
                state["mu"] = _creation.tensor(1.0, dtype=_step_dtype())
                state["ax"] = _creation.zeros_like(param)
            grad = param.grad if not group["maximize"] else -param.grad
            mu, ax, eta, step_t = state["mu"], state["ax"], state["eta"], state["step"]

            step_t += 1
            if weight_decay != 0:
                grad = grad.add(param, alpha=weight_decay)
            decay, neg_eta = _host_scalars(_decay_and_step, eta._data, lambd, param._data.dtype)
            param.mul_(decay)
            param.add_(grad.mul(neg_eta))  # add_(grad, alpha=-eta)
            # averaging
            if _decide(_averaging, mu._data):
                ax.add_(param.sub(ax).mul_(mu))
            else:
                ax.copy_(param)
            # through the default dtype, as PyTorch does: a float64 eta (loaded from a
            # state_dict of float64 parameters) still gets float32-rounded values
            new_eta, new_mu = _host_scalars(
                _next_eta_mu, step_t._data, lr, lambd, alpha, t0, _dtype.get_default_dtype().np
            )
            eta.copy_(new_eta)
            mu.copy_(new_mu)
