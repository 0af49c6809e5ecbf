"""Issue 15 (`ndgrad calculus`): written maths (x^2, 2x), element-wise products and powers on
vectors, softmax/sigmoid/logsumexp/max, domain errors in words, matrices printed as rows."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import ndgrad
from ndgrad.calculus import compare, derivative, parse_expression
from ndgrad.cli.calculus import calculus

runner = CliRunner()
_app = typer.Typer()
_app.command()(calculus)


def _invoke(*args: str):
    return runner.invoke(_app, list(args))


def _same_tree(a: str, b: str) -> bool:
    return ast.dump(parse_expression(a).tree) == ast.dump(parse_expression(b).tree)


# ----------------------------------------------------------------------------- written maths
@pytest.mark.parametrize(
    "written, python",
    [
        ("x^2", "x**2"),
        ("2x", "2*x"),
        ("2x^2", "2*x**2"),
        ("x y", "x*y"),
        ("2 x y", "2*x*y"),
        ("2(x+1)", "2*(x+1)"),
        ("(x+1)(x-1)", "(x+1)*(x-1)"),
        ("(x+1)2", "(x+1)*2"),
        ("x.T y", "x.T*y"),
        ("x.T A x", "x.T*A*x"),
        ("sin(2x)", "sin(2*x)"),
        ("x^-1", "x**-1"),
        ("x^T A x", "x.T*A*x"),
        ("2.5e3x", "2.5e3*x"),
        ("3x^2 + 2x - 1", "3*x**2 + 2*x - 1"),
    ],
)
def test_written_maths_reads_as_python(written, python):
    assert _same_tree(written, python)


def test_written_maths_gives_the_same_derivatives():
    for written, python in [("x^2", "x**2"), ("2x^2", "2*x**2"), ("x y", "x*y")]:
        at = {"x": 1.5, "y": -2.0} if "y" in python else {"x": 1.5}
        a = compare(written, {}, at, wrt="x")
        b = compare(python, {}, at, wrt="x")
        assert a.agree and a.text() == b.text() and a.numeric_value == b.numeric_value
    assert compare("2x^2", {}, {"x": 3}).text() == "4*x"


def test_functions_need_parentheses():
    # Chosen: `sin 2x` is rejected (SymPy would read sin(2*x) with implicit_application).
    for text in ("sin 2x", "sin x", "exp x"):
        with pytest.raises(ValueError, match="needs parentheses"):
            parse_expression(text)
    assert _same_tree("sin(2x)", "sin(2*x)")
    # A name followed by ( stays a call: x(y) is an unknown function, not x*y.
    with pytest.raises(ValueError, match="unknown function"):
        parse_expression("x(y)")


@pytest.mark.parametrize(
    "text, message",
    [
        ('__import__("os")', "names starting with '_'"),
        ('2__import__("os")', "names starting with '_'"),
        ("x ^ __import__", "exponent"),
        ("x.__class__", "'.__class__'"),
        ("x y.__class__", "'.__class__'"),
        ("lambda x: x", "lambda"),
        ("lambda: 0", "lambda"),
        ("2 'os'", "cannot parse"),
        ("2*'os'", "string"),
        ("x if x else x", "IfExp"),
        ("x ^ y", "exponent"),
        ("open('f')", "unknown function"),
        ("getattr(x, 'T')", "unknown function"),
    ],
)
def test_rewriting_keeps_the_no_code_execution_guarantee(text, message):
    with pytest.raises(ValueError) as err:
        parse_expression(text)
    assert message in str(err.value)


def test_nothing_is_executed(tmp_path):
    marker = tmp_path / "pwned"
    for text in (
        f"__import__('os').system('touch {marker}')",
        f"2 __import__('os').system('touch {marker}')",
        f'exec(\'open("{marker}", "w")\')',
    ):
        with pytest.raises(ValueError):
            compare(text, {})
    assert not marker.exists()


# ----------------------------------------------------------------------------- products, powers
def test_elementwise_products_and_powers_on_vectors():
    x = [1.0, 2.0, 3.0]
    c = compare("sum(x**2)", {"x": 3}, {"x": x})  # not a matrix power
    assert c.agree and c.numeric_value.tolist() == [[2.0, 4.0, 6.0]]
    assert compare("sum(x^2)", {"x": 3}, {"x": x}).numeric_value.tolist() == [[2.0, 4.0, 6.0]]
    c = compare("x*y", {"x": 3, "y": 3}, {"x": x, "y": [4, 5, 6]})  # element-wise
    assert c.agree and c.text() == "diag(y)"
    assert c.numeric_value.tolist() == np.diag([4.0, 5.0, 6.0]).tolist()
    inner = [compare(e, {"x": 3, "y": 3}, {"x": x, "y": [4, 5, 6]}) for e in ("x.T*y", "x@y")]
    for c in inner:
        assert c.agree and c.symbolic.y_shape == () and c.numeric_value.tolist() == [[4, 5, 6]]
    # Square matrices keep the matrix product and the matrix power.
    A = [[1.0, 2.0], [3.0, 4.0]]
    p = compare("trace(A**2)", {"A": "2x2"}, {"A": A})
    q = compare("trace(A*A)", {"A": "2x2"}, {"A": A})
    assert p.agree and np.allclose(p.numeric_value, q.numeric_value)
    assert np.allclose(p.numeric_value, 2 * np.array(A))  # numerator layout of 2*A.T
    with pytest.raises(ValueError, match="shapes 3x1 and 4x1 do not match"):
        compare("x*y", {"x": 3, "y": 4})


# ----------------------------------------------------------------------------- new functions
X = [0.5, -1.0, 2.0]


@pytest.mark.parametrize(
    "expr, f",
    [
        ("softmax(x)", lambda t: ndgrad.softmax(t, 0)),
        ("sigmoid(x)", lambda t: ndgrad.sigmoid(t)),
        ("sum(sigmoid(x))", lambda t: ndgrad.sigmoid(t).sum()),
        ("logsumexp(x)", lambda t: ndgrad.logsumexp(t, 0)),
        ("max(x)", lambda t: t.max()),
        (
            "log(softmax(x)).T*y",
            lambda t: ndgrad.log_softmax(t, 0) @ ndgrad.tensor([1.0, 0, 0], dtype=ndgrad.float64),
        ),
    ],
)
def test_new_functions_symbolic_vs_ndgrad_autograd(expr, f):
    y = "y" in expr
    c = compare(
        expr, {"x": 3, "y": 3} if y else {"x": 3}, {"x": X, "y": [1, 0, 0]} if y else {"x": X}
    )
    assert c.agree, (c.symbolic_value, c.numeric_value)
    d = derivative(f, X)  # ndgrad's own functions, one backward per output element
    np.testing.assert_allclose(c.numeric_value, d.numerator.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.symbolic_value, d.numerator.numpy(), rtol=1e-9, atol=1e-12)


def test_new_functions_closed_forms():
    x = np.array(X)
    s = np.exp(x) / np.exp(x).sum()
    c = compare("logsumexp(x)", {"x": 3}, {"x": X})
    np.testing.assert_allclose(c.numeric_value.ravel(), s)
    sig = 1 / (1 + np.exp(-x))
    c = compare("sigmoid(x)", {"x": 3}, {"x": X})
    np.testing.assert_allclose(c.numeric_value, np.diag(sig * (1 - sig)))
    c = compare("max(x)", {"x": 3}, {"x": X})
    assert c.numeric_value.tolist() == [[0.0, 0.0, 1.0]]
    c = compare("max(x)", {"x": 3}, {"x": [2, 2, 1]})  # a tie: shared equally, as in PyTorch
    assert c.agree and c.numeric_value.tolist() == [[0.5, 0.5, 0.0]]
    c = compare("sigmoid(t) + softmax(t) + logsumexp(t) + max(t)", {}, {"t": 0.3})
    assert c.agree  # scalars: softmax is 1, logsumexp and max the identity


def test_softmax_jacobian_form():
    c = compare("softmax(x)", {"x": 3}, {"x": X})
    assert c.agree and c.matrix_form_verified
    assert c.text("numerator") == "diag(s) - s*s.T with s = softmax(x)"
    assert c.text("denominator") == c.text("numerator")
    s = np.exp(np.array(X)) / np.exp(np.array(X)).sum()
    np.testing.assert_allclose(c.numeric_value, np.diag(s) - np.outer(s, s), atol=1e-15)
    result = _invoke("softmax(x)", "-s", "x=3", "--at", "x=1,2,3")
    assert result.exit_code == 0, result.output
    assert "symbolic     diag(s) - s*s.T with s = softmax(x)   (numerator layout" in result.output
    data = json.loads(_invoke("softmax(x)", "-s", "x=3", "--json").output)
    assert data["symbolic_form"] == "matrix" and data["agree"] is True
    # softmax of anything else is shown element by element.
    assert compare("softmax(2*x)", {"x": 3}).to_dict()["symbolic_form"] == "element-wise"


# ----------------------------------------------------------------------------- domain errors
@pytest.mark.parametrize(
    "expr, shapes, at, message",
    [
        ("log(x)", {}, {"x": -1}, "log is undefined at x = -1 (log needs positive numbers)"),
        ("log(x)", {}, {"x": 0}, "log is undefined at x = 0"),
        ("sum(log(x))", {"x": 3}, {"x": [1, -2, 3]}, "log is undefined at x[1] = -2"),
        ("log(x - 3)", {}, {"x": 1}, "log is undefined at x - 3 = -2"),
        ("log(det(X))", {"X": "2x2"}, {"X": [[1, 2], [3, 4]]}, "log is undefined at det(X) = -2"),
        ("sqrt(x)", {}, {"x": -1}, "sqrt is undefined at x = -1"),
        ("x**0.5", {}, {"x": -4}, "x**0.5 is undefined at x = -4"),
        ("x^-1", {}, {"x": 0}, "x**-1 is undefined at x = 0"),
        ("1/x", {}, {"x": 0}, "division by zero: x = 0"),
        ("sum(log(A))", {"A": "2x2"}, {"A": [[1, 2], [3, -4]]}, "log is undefined at A[1,1] = -4"),
    ],
)
def test_domain_errors_in_words(expr, shapes, at, message):
    with pytest.raises(ValueError) as err:
        compare(expr, shapes, at)
    assert message in str(err.value)


def test_domain_error_on_the_command_line():
    result = _invoke("log(x)", "--at", "x=-1")
    assert result.exit_code == 2
    assert "error: log is undefined at x = -1" in result.output
    assert "complex" not in result.output and "Traceback" not in result.output


# ----------------------------------------------------------------------------- printing
def test_matrices_print_as_aligned_rows():
    result = _invoke("exp(x)", "-s", "x=2", "--at", "x=0,1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("numeric"))
    assert lines[i] == "numeric      [[1,       0],"
    assert lines[i + 1].startswith("              [0, 2.71828]]   (ndgrad autograd")
    result = _invoke("x.T*A*x", "-s", "x=2", "-s", "A=2x2", "--at", "A=1,2;30,-4", "--at", "x=1,2")
    assert "             A = [[ 1,  2],\n                  [30, -4]]" in result.output
    # Element-wise symbolic matrices as rows too.
    result = _invoke("softmax(2*x)", "-s", "x=2", "--at", "x=0,1")
    sym = [line for line in result.output.splitlines() if "exp(" in line]
    assert len(sym) >= 4 and sym[0].startswith("symbolic     [[")
    # JSON is unchanged apart from additions: nested lists.
    data = json.loads(_invoke("exp(x)", "-s", "x=2", "--at", "x=0,1", "--json").output)
    assert data["numeric_value"] == [[1.0, 0.0], [0.0, float(np.e)]]
    assert data["symbolic_elements"]["numerator"] == [["exp(x[0])", "0"], ["0", "exp(x[1])"]]
