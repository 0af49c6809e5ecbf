"""SparseAdam: Adam for sparse gradients. ndgrad has no sparse tensors, so it is built and
configured as in PyTorch, and its step refuses a (dense) gradient with PyTorch's error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import enable_grad
from ndgrad.optim._common import _check_betas
from ndgrad.optim.optimizer import Optimizer, ParamsT


class SparseAdam(Optimizer):
    """``torch.optim.SparseAdam``: PyTorch's defaults and checks."""

    def __init__(
        self,
        params: ParamsT,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:  # every ndgrad gradient is dense
                    raise RuntimeError(
                        "SparseAdam does not support dense gradients, please consider Adam instead"
                    )
        return loss
