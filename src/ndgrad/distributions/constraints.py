"""Constraints on distribution parameters and supports, with PyTorch's names and reprs."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._backend import array_module
from ndgrad._tensor import Tensor

__all__ = [
    "Constraint",
    "boolean",
    "real",
    "positive",
    "nonnegative",
    "unit_interval",
    "simplex",
    "nonnegative_integer",
    "integer_interval",
    "independent",
    "multinomial",
    "dependent",
    "real_vector",
    "greater_than",
    "interval",
    "is_dependent",
]


def _bool(data: np.ndarray) -> Tensor:
    return Tensor._make(array_module(data).asarray(data, dtype=bool))


class Constraint:
    """A region of valid values: ``check(value)`` gives a bool tensor over the batch."""

    is_discrete = False
    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    def check(self, value: Tensor) -> Tensor:
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint: Any) -> bool:
    return isinstance(constraint, _Dependent)


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        d = value._data
        return _bool((d == 0) | (d == 1))

    def __repr__(self) -> str:
        return "Boolean()"


class _Real(Constraint):
    def check(self, value: Tensor) -> Tensor:
        d = value._data
        return _bool(d == d)  # False only for NaN

    def __repr__(self) -> str:
        return "Real()"


class _GreaterThan(Constraint):
    def __init__(self, lower_bound: float) -> None:
        self.lower_bound = lower_bound

    def check(self, value: Tensor) -> Tensor:
        return _bool(value._data > self.lower_bound)

    def __repr__(self) -> str:
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def check(self, value: Tensor) -> Tensor:
        return _bool(value._data >= self.lower_bound)

    def __repr__(self) -> str:
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound: float, upper_bound: float) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, value: Tensor) -> Tensor:
        d = value._data
        return _bool((d >= self.lower_bound) & (d <= self.upper_bound))

    def __repr__(self) -> str:
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound: int, upper_bound: int) -> None:
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound

    def check(self, value: Tensor) -> Tensor:
        d = value._data
        return _bool((d % 1 == 0) & (d >= self.lower_bound) & (d <= self.upper_bound))

    def __repr__(self) -> str:
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound: int) -> None:
        self.lower_bound = lower_bound

    def check(self, value: Tensor) -> Tensor:
        d = value._data
        return _bool((d % 1 == 0) & (d >= self.lower_bound))

    def __repr__(self) -> str:
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _Simplex(Constraint):
    """Nonnegative along the last dim and summing to 1 (to 1e-6, as PyTorch checks)."""

    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        d = value._data
        xp = array_module(d)
        return _bool(xp.all(d >= 0, axis=-1) & (xp.abs(d.sum(-1) - 1) < 1e-6))

    def __repr__(self) -> str:
        return "Simplex()"


class _Multinomial(Constraint):
    """Nonnegative integer counts along the last dim summing to at most ``upper_bound``."""

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound: int) -> None:
        self.upper_bound = upper_bound

    def check(self, value: Tensor) -> Tensor:
        d = value._data
        return _bool(array_module(d).all(d >= 0, axis=-1) & (d.sum(-1) <= self.upper_bound))

    def __repr__(self) -> str:
        return "Multinomial()"


class _IndependentConstraint(Constraint):
    """``base`` checked elementwise, then all-reduced over ``reinterpreted_batch_ndims`` dims."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base_constraint = base
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        self.event_dim = base.event_dim + reinterpreted_batch_ndims

    def check(self, value: Tensor) -> Tensor:
        result = self.base_constraint.check(value)._data
        n = self.reinterpreted_batch_ndims
        if n:
            result = result.reshape(result.shape[: result.ndim - n] + (-1,)).all(-1)
        return _bool(result)

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


dependent = _Dependent()
boolean = _Boolean()
real = _Real()
real_vector = _IndependentConstraint(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
nonnegative_integer = _IntegerGreaterThan(0)
integer_interval = _IntegerInterval
independent = _IndependentConstraint
multinomial = _Multinomial
greater_than = _GreaterThan
interval = _Interval
