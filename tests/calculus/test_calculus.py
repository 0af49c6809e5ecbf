"""ndgrad.calculus: the four shape cases, layouts, symbolic vs numeric derivatives, the parser."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad.calculus import compare, derivative, layout_shapes, parse_expression


def test_seed_cases_2xTx_and_sum():
    d = derivative(lambda x: 2 * x @ x, [0.0, 1.0, 2.0, 3.0])
    assert d.case == "scalar by vector (gradient)"
    assert d.jacobian.tolist() == [0.0, 4.0, 8.0, 12.0]
    assert d.value.tolist() == [[0.0, 4.0, 8.0, 12.0]]  # numerator: a 1 x n row
    assert d.denominator.tolist() == [[0.0], [4.0], [8.0], [12.0]]
    ones = derivative(lambda x: x.sum(), [0.0, 1.0, 2.0, 3.0], layout="denominator")
    assert ones.value.tolist() == [[1.0], [1.0], [1.0], [1.0]]
    c = compare("2*x.T*x", {"x": 4}, {"x": [0, 1, 2, 3]})
    assert c.agree and c.numeric_value.tolist() == [[0.0, 4.0, 8.0, 12.0]]
    assert c.text("denominator") == "4*x" and c.text("numerator") == "4*x.T"


A = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=ndgrad.float64)
FOUR_CASES = [
    # f, x, case, numerator shape, denominator shape
    (lambda t: t**3, 2.0, "scalar by scalar", (), ()),
    (lambda x: (x * x).sum(), [1.0, 2.0], "scalar by vector (gradient)", (1, 2), (2, 1)),
    (lambda t: t * A[:, 0], 2.0, "vector by scalar", (3, 1), (1, 3)),
    (lambda x: A @ x, [1.0, -1.0], "vector by vector (Jacobian)", (3, 2), (2, 3)),
    (lambda X: (A.T @ X).trace(), np.ones((3, 2)).tolist(), "scalar by matrix", (2, 3), (3, 2)),
    (lambda t: t * A, 1.5, "matrix by scalar", (3, 2), (2, 3)),
    (
        lambda X: A @ X,
        np.ones((2, 2)).tolist(),
        "matrix by matrix (higher-order tensor)",
        (3, 2, 2, 2),
        (2, 2, 3, 2),
    ),
]


@pytest.mark.parametrize("f, x, case, num, den", FOUR_CASES, ids=[c[2] for c in FOUR_CASES])
def test_cases_and_shapes_in_both_layouts(f, x, case, num, den):
    d = derivative(f, x)
    assert d.case == case
    assert d.shapes == {"numerator": num, "denominator": den}
    assert tuple(d.numerator.shape) == num and tuple(d.denominator.shape) == den
    np.testing.assert_allclose(
        np.sort(d.numerator.numpy().ravel()), np.sort(d.denominator.numpy().ravel())
    )


def test_values_in_layouts_match_the_textbook():
    d = derivative(lambda x: A @ x, [1.0, -1.0])
    np.testing.assert_allclose(d.numerator.numpy(), A.numpy())  # d(Ax)/dx = A (numerator)
    np.testing.assert_allclose(d.denominator.numpy(), A.numpy().T)
    x = np.array([1.0, 2.0, 3.0])
    M = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 4.0], [1.0, 0.0, 3.0]])
    d = derivative(lambda v: v @ ndgrad.tensor(M) @ v, x.tolist(), layout="denominator")
    np.testing.assert_allclose(d.value.numpy().ravel(), (M + M.T) @ x)
    X = np.array([[2.0, 1.0], [0.5, 3.0]])
    d = derivative(lambda m: m.det(), X.tolist(), layout="denominator")  # Jacobi: det(X) X^-T
    np.testing.assert_allclose(d.value.numpy(), np.linalg.det(X) * np.linalg.inv(X).T)
    assert layout_shapes((5,), (1, 5)) == {"numerator": (5, 5), "denominator": (5, 5)}
    with pytest.raises(ValueError, match="layout"):
        derivative(lambda v: v, [1.0], layout="row")


# At least 15 expressions: scalars, vectors, matrices, trace, det, inverse.
EXPRESSIONS = [
    ("2*x.T*x", {"x": 4}, {"x": [0, 1, 2, 3]}, None, "4*x"),
    ("sum(x)", {"x": 4}, {}, None, "ones(4, 1)"),
    ("x.T*A*x", {"x": 3, "A": "3x3"}, {}, None, "A*x + A.T*x"),
    ("A*x + b", {"x": 3, "A": "2x3", "b": 2}, {}, None, "A.T"),
    ("sum(exp(x))", {"x": 3}, {}, None, None),
    ("log(sum(exp(x)))", {"x": 3}, {}, None, None),
    ("norm(x)", {"x": 3}, {}, None, None),
    ("sqrt(x.T*x)", {"x": 3}, {}, None, None),
    ("t**3 + sin(t)*cos(t)", {}, {"t": 0.5}, None, "3*t^2 - sin(t)^2 + cos(t)^2"),
    ("t*x", {"x": 3}, {"t": 2}, "t", "x.T"),
    ("t*A", {"A": "2x3"}, {"t": 1.5}, "t", "A.T"),
    ("trace(A*X)", {"A": "3x3", "X": "3x3"}, {}, "X", "A.T"),
    ("trace(X.T*X)", {"X": "2x3"}, {}, None, "2*X"),
    ("det(X)", {"X": "3x3"}, {}, None, "det(X)*X.T^-1"),
    ("log(det(X))", {"X": "2x2"}, {"X": [[2, 1], [1, 3]]}, None, "X.T^-1"),
    ("inverse(X)", {"X": "2x2"}, {"X": [[2, 1], [1, 3]]}, None, None),
    ("X**-1", {"X": "2x2"}, {"X": [[2, 1], [1, 3]]}, None, None),
    ("x.T*inv(X)*x", {"x": 2, "X": "2x2"}, {"X": [[2, 1], [1, 3]]}, "x", None),
    ("tanh(W*x)", {"W": "2x2", "x": 2}, {}, "x", None),
    ("exp(x)", {"x": 3}, {}, None, "diag(exp(x))"),
    ("A*X", {"A": "2x2", "X": "2x2"}, {}, "X", None),
    ("(x.T*x)/2 - 3*x.T*b", {"x": 3, "b": 3}, {}, "x", None),
]


@pytest.mark.parametrize(
    "expr, shapes, at, wrt, denominator", EXPRESSIONS, ids=[e[0] for e in EXPRESSIONS]
)
def test_symbolic_and_numeric_derivatives_agree(expr, shapes, at, wrt, denominator):
    c = compare(expr, shapes, at, wrt=wrt)
    assert c.agree, (c.symbolic_value, c.numeric_value)
    assert c.max_abs_diff < 1e-8
    if denominator is not None:
        assert c.matrix_form_verified
        assert c.text("denominator") == denominator
    # The value is laid out in the numerator layout by default.
    assert c.numeric_value.shape == c.shapes["numerator"]


def test_symbolic_matrix_forms_in_numerator_layout():
    c = compare("x.T*A*x", {"x": 2, "A": "2x2"}, {"x": [1, 2], "A": [[1, 2], [3, 4]]})
    assert c.text("numerator") == "x.T*A + x.T*A.T"
    assert c.numeric_value.tolist() == [[12.0, 21.0]]  # x^T (A + A^T)
    assert c.to_dict()["symbolic_form"] == "matrix"
    c = compare("sum(exp(x))", {"x": 2}, {"x": [0, 1]})
    assert c.to_dict()["symbolic_form"] == "element-wise"
    assert c.text("numerator") == "[[exp(x[0]), exp(x[1])]]"


@pytest.mark.parametrize(
    "text, token",
    [
        ('__import__("os")', "'__import__'"),
        ("x.__class__", "'.__class__'"),
        ("open('f')", "'open'"),
        ("lambda: 0", "lambda"),
        ("x + 'a'", "string"),
        ("eval('1')", "'eval'"),
        ("x[0]", "Subscript"),
        ("getattr(x, 'T')", "'getattr'"),
        ("x if x else x", "IfExp"),
        ("[x for x in y]", "ListComp"),
        ("x ** y", "exponent"),
        ("x ** 100000", "exponent larger"),
        ("exp(x, y)", "exactly one argument"),
        ("exp(x=1)", "keyword"),
        ("x == x", "Compare"),
        ("x.T.T.real", "'.real'"),
        ("sum", "not a value"),
        ("2*x.T*", "cannot parse"),
        ("x" * 500, "too long"),
    ],
)
def test_parser_rejects_everything_outside_the_grammar(text, token):
    with pytest.raises(ValueError) as err:
        parse_expression(text)
    assert token in str(err.value)


def test_parser_accepts_the_grammar_and_lists_symbols():
    p = parse_expression("x.T*A*x + trace(B @ C.T) - 2.5*det(X)**-1")
    assert p.symbols == ("x", "A", "B", "C", "X")


def test_bad_shapes_and_values_are_clear_errors():
    with pytest.raises(ValueError, match="shapes 3x1 and 4x1 do not match"):
        compare("x*y", {"x": 3, "y": 4})
    with pytest.raises(ValueError, match="needs a square matrix"):
        compare("det(A)", {"A": "2x3"})
    with pytest.raises(ValueError, match="has 3 numbers"):
        compare("x.T*x", {"x": 4}, {"x": [1, 2, 3]})
    with pytest.raises(ValueError, match="several symbols"):
        compare("a*b", {})
    with pytest.raises(ValueError, match="not in"):
        compare("x.T*x", {"x": 2, "y": 3})
