"""Matrix calculus made executable: the four derivative-shape cases, both layouts, and
symbolic (SymPy) derivatives checked against ndgrad's numeric ones.

>>> from ndgrad.calculus import derivative, compare
>>> derivative(lambda x: 2 * x @ x, [0.0, 1.0, 2.0, 3.0]).value.tolist()
[[0.0, 4.0, 8.0, 12.0]]
>>> compare("2*x.T*x", {"x": 4}, {"x": [0, 1, 2, 3]}).text("denominator")
'4*x'
"""

from __future__ import annotations

from ndgrad.calculus.layout import LAYOUTS, arrange, case_name, kind_of, layout_shapes
from ndgrad.calculus.numeric import Derivative, derivative
from ndgrad.calculus.parser import FUNCTIONS, ParsedExpression, parse_expression
from ndgrad.calculus.symbolic import (
    Comparison,
    SymbolicDerivative,
    compare,
    normalize_shape,
    symbolic_derivative,
)

__all__ = [
    "LAYOUTS",
    "FUNCTIONS",
    "Comparison",
    "Derivative",
    "ParsedExpression",
    "SymbolicDerivative",
    "arrange",
    "case_name",
    "compare",
    "derivative",
    "kind_of",
    "layout_shapes",
    "normalize_shape",
    "parse_expression",
    "symbolic_derivative",
]
