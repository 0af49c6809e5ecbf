"""Full-batch gradient descent that stops at a tolerance, as the seed notes describe it.

The notes' algorithm (after pinard's "梯度下降小结"): with learning rate α and tolerance ε,

1. compute the gradient of the loss at the current parameters;
2. each parameter's step is α times its gradient;
3. if every step is smaller than ε in absolute value, stop: the current parameters are the
   result;
4. otherwise move every parameter by its step (all at once) and go back to 1.

``gradient_descent`` runs this on any loss closure over tensors with autograd. For linear
regression with ``h(x) = θ₀x₀ + θ₁x₁ + … + θₙxₙ`` (x₀ = 1) and ``J(θ) = ‖Xθ − y‖² / 2m`` it is
also written out twice by hand: per parameter (``θⱼ ← θⱼ − α/m Σᵢ (h(xᵢ) − yᵢ) xᵢⱼ``) and in
matrix form (``θ ← θ − α Xᵀ(Xθ − y)/m``); both take the same steps as the closure form and end
at the normal-equation solution ``θ = (XᵀX)⁻¹Xᵀy``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ndgrad import _creation, _dtype
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import enable_grad, no_grad


@dataclass
class Trajectory:
    """What a tolerance-stopped descent did.

    ``losses[k]`` is the loss at the parameters after ``k`` updates (so it has
    ``iterations + 1`` entries when the run converged: the last one is the loss at the
    returned parameters); ``steps[k]`` is the largest ``|α · gradient|`` over all parameter
    entries at that point, the number compared with the tolerance.
    """

    losses: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    converged: bool = False
    iterations: int = 0
    params: list[Tensor] = field(default_factory=list)

    def __repr__(self) -> str:
        last = f"{self.losses[-1]:.6g}" if self.losses else "n/a"
        return (
            f"Trajectory(converged={self.converged}, iterations={self.iterations}, "
            f"final_loss={last}, final_step={self.steps[-1] if self.steps else 'n/a'})"
        )

    def _log(self, loss: float, step: float, tol: float, max_iter: int) -> bool:
        """Records one evaluation; True when the descent ends there (converged, or no updates
        left)."""
        self.losses.append(loss)
        self.steps.append(step)
        if step < tol:
            self.converged = True
        return self.converged or self.iterations == max_iter


def _check_hyper(lr: float, tol: float, max_iter: int, op: str) -> None:
    if not lr > 0:
        raise ValueError(f"{op}(): the learning rate must be positive, got lr={lr}")
    if not tol > 0:
        raise ValueError(f"{op}(): the tolerance must be positive, got tol={tol}")
    if max_iter < 0:
        raise ValueError(f"{op}(): max_iter must be non-negative, got {max_iter}")


def gradient_descent(
    loss_fn: Callable[[], Tensor],
    params: Iterable[Tensor],
    lr: float = 0.01,
    tol: float = 1e-6,
    max_iter: int = 10_000,
) -> Trajectory:
    """Minimises ``loss_fn()`` over ``params`` (leaf tensors that require grad), in place.

    Stops when every entry of ``lr * grad`` is below ``tol`` in absolute value (converged) or
    after ``max_iter`` updates (not converged). Parameters are updated under ``no_grad``.
    """
    _check_hyper(lr, tol, max_iter, "gradient_descent")
    params = list(params)
    if not params:
        raise ValueError("gradient_descent(): got an empty parameter list")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"gradient_descent(): parameter {i} is a {type(p).__name__}, not a Tensor"
            )
        if not p.requires_grad or not p.is_leaf:
            raise ValueError(
                f"gradient_descent(): parameter {i} must be a leaf tensor with requires_grad=True"
            )
    result = Trajectory(params=params)
    while True:
        for p in params:
            p.grad = None
        with enable_grad():
            loss = loss_fn()
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise RuntimeError(
                "gradient_descent(): loss_fn must return a one-element Tensor, got "
                + (f"shape {list(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__)
            )
        loss.backward()
        grads = [p.grad if p.grad is not None else _creation.zeros_like(p) for p in params]
        step = max(float(abs(g).max()) * lr if g.numel() else 0.0 for g in grads)
        if result._log(loss.item(), step, tol, max_iter):
            break
        with no_grad():
            for p, g in zip(params, grads, strict=False):
                p.sub_(g, alpha=lr)
        result.iterations += 1
    return result


def _design(X: Any, y: Any, op: str) -> tuple[np.ndarray, np.ndarray]:
    """X with a leading column of ones (x₀ = 1) and y as a column, in float64."""
    xa = np.asarray(X._data if isinstance(X, Tensor) else X, dtype=np.float64)
    ya = np.asarray(y._data if isinstance(y, Tensor) else y, dtype=np.float64)
    if xa.ndim == 1:
        xa = xa[:, None]
    if xa.ndim != 2:
        raise ValueError(
            f"{op}(): X must be 1-D or 2-D (samples x features), got shape {list(xa.shape)}"
        )
    ya = ya.reshape(-1)
    if ya.shape[0] != xa.shape[0]:
        raise ValueError(
            f"{op}(): X has {xa.shape[0]} samples but y has {ya.shape[0]} (shapes "
            f"{list(xa.shape)} and {list(ya.shape)})"
        )
    return np.hstack([np.ones((xa.shape[0], 1)), xa]), ya


def _initial_theta(theta0: Sequence[float] | None, n: int, op: str) -> np.ndarray:
    if theta0 is None:
        return np.zeros(n)
    theta = np.asarray(theta0, dtype=np.float64).reshape(-1)
    if theta.shape[0] != n:
        raise ValueError(f"{op}(): theta0 needs {n} entries (bias first), got {theta.shape[0]}")
    return theta.copy()


def linear_regression_algebraic(
    X: Any,
    y: Any,
    lr: float = 0.01,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    theta0: Sequence[float] | None = None,
) -> Trajectory:
    """Linear regression by the notes' per-parameter loop (plain Python numbers).

    For each j, ``θⱼ ← θⱼ − α/m Σᵢ (h(xᵢ) − yᵢ) xᵢⱼ``, every θⱼ computed from the old θ.
    ``params`` of the result is ``[θ]`` (float64, bias first).
    """
    _check_hyper(lr, tol, max_iter, "linear_regression_algebraic")
    xa, ya = _design(X, y, "linear_regression_algebraic")
    rows, targets = xa.tolist(), ya.tolist()
    m, n = len(rows), len(rows[0])
    theta = _initial_theta(theta0, n, "linear_regression_algebraic").tolist()
    result = Trajectory()
    while True:
        residuals = [
            sum(t * x for t, x in zip(theta, row, strict=False)) - yi
            for row, yi in zip(rows, targets, strict=False)
        ]
        loss = sum(r * r for r in residuals) / (2 * m)
        steps = [
            lr / m * sum(r * row[j] for r, row in zip(residuals, rows, strict=False))
            for j in range(n)
        ]
        if result._log(loss, max(abs(s) for s in steps), tol, max_iter):
            break
        theta = [t - s for t, s in zip(theta, steps, strict=False)]
        result.iterations += 1
    result.params = [_creation.tensor(theta, dtype=_dtype.float64)]
    return result


def linear_regression_matrix(
    X: Any,
    y: Any,
    lr: float = 0.01,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    theta0: Sequence[float] | None = None,
) -> Trajectory:
    """Linear regression by the matrix form ``θ ← θ − α Xᵀ(Xθ − y)/m`` (ndgrad tensors, float64)."""
    _check_hyper(lr, tol, max_iter, "linear_regression_matrix")
    xa, ya = _design(X, y, "linear_regression_matrix")
    Xt, yt = Tensor._make(xa), Tensor._make(ya)
    m = xa.shape[0]
    theta = Tensor._make(_initial_theta(theta0, xa.shape[1], "linear_regression_matrix"))
    result = Trajectory()
    with no_grad():
        while True:
            residual = Xt @ theta - yt
            loss = (residual @ residual).item() / (2 * m)
            step = Xt.T @ residual * (lr / m)
            if result._log(loss, step.abs().max().item(), tol, max_iter):
                break
            theta = theta - step
            result.iterations += 1
    result.params = [theta]
    return result


def normal_equation(X: Any, y: Any) -> Tensor:
    """The least-squares θ (bias first) solving ``XᵀX θ = Xᵀy`` for the same design as above."""
    xa, ya = _design(X, y, "normal_equation")
    return Tensor._make(np.linalg.solve(xa.T @ xa, xa.T @ ya))


__all__ = [
    "Trajectory",
    "gradient_descent",
    "linear_regression_algebraic",
    "linear_regression_matrix",
    "normal_equation",
]
