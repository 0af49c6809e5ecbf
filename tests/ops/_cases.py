"""One-line PyTorch expressions evaluated with ``torch`` bound to ndgrad and to PyTorch.

A case that raises is compared by its exception class; anything else by value, shape and dtype
(``tests.side_by_side.assert_same``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from tests.side_by_side import assert_same, run_both

_RNG = np.random.default_rng(0)
# data the cases refer to by name: floats, small ints with many ties, a sample for histograms
DATA = {
    "R": _RNG.normal(size=(4, 5)).round(2).tolist(),
    "RI": _RNG.integers(0, 4, size=(4, 7)).tolist(),
    "H": _RNG.normal(size=200).astype(np.float32).tolist(),
    "Q": [[1.0, 4, 2, 3], [5, 0, 7, 6]],
}


class Raised:
    """What an expression that raised is compared by: the exception class's name."""

    def __init__(self, exc: BaseException) -> None:
        self.name = type(exc).__name__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raised) and other.name == self.name

    def __repr__(self) -> str:
        return f"Raised({self.name})"


def evaluate(fw: SimpleNamespace, expr: str) -> Any:
    try:
        names = {"torch": fw.torch, "F": fw.F, "nn": fw.nn, **DATA}
        return eval(expr, names)  # noqa: S307 - the expressions are this package's test cases
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return Raised(exc)


def check_expression(expr: str) -> None:
    ours, ref = run_both(evaluate, expr)
    assert_same(ours, ref, where=expr)
