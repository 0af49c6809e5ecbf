"""``ndgrad calculus`` bounds its work: huge shapes are usage errors, and expressions whose
symbolic derivative would explode get the numeric result with the reason the symbolic form
was skipped."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from ndgrad.calculus import compare, symbolic
from ndgrad.cli.calculus import calculus

runner = CliRunner()


def _invoke(*args: str):
    app = typer.Typer()
    app.command()(calculus)
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "args, reason",
    [
        (["sum(x)", "--shape", "x=4000"], "4000 matrix elements"),
        (["det(A)", "--shape", "A=7x7"], "det() of a 7x7 matrix"),
        (["sum(A**16)", "--shape", "A=3x3"], "matrix power **16"),
        (["exp(" * 10 + "x" + ")" * 10], "nested 10 deep"),
        (["sum(inv(A))", "--shape", "A=6x6"], "inverse() of a 6x6"),
    ],
)
def test_explosive_symbolic_work_falls_back_to_numeric(args, reason):
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.output.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and reason in skipped[0], result.output
    assert "numeric " in result.output and "agree" not in result.output


def test_fallback_json_keeps_the_numeric_value():
    result = _invoke("sum(x)", "--shape", "x=100", "--json")
    data = json.loads(result.output)
    assert data["symbolic_form"] == "skipped" and "100 matrix elements" in data["symbolic_skipped"]
    assert data["agree"] is None and data["symbolic_value"] is None
    assert data["max_abs_diff"] is None  # no NaN: the output stays strict JSON
    assert data["numeric_value"] == [[1.0] * 100]


@pytest.mark.parametrize(
    "args, message",
    [
        (["sum(x)", "--shape", "x=1000000000"], "has 1000000000 elements"),
        (["sum(A)", "--shape", "A=100000x100000"], "has 10000000000 elements"),
        (["x", "--shape", "x=3000"], "9000000 entries"),
    ],
)
def test_huge_declared_shapes_are_usage_errors(args, message):
    result = _invoke(*args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_symbolic_time_limit_falls_back(monkeypatch):
    monkeypatch.setattr(symbolic, "SYMBOLIC_SECONDS", 0.001)
    result = compare("det(A)", {"A": "5x5"})
    assert result.symbolic.skipped is not None and "longer than" in result.symbolic.skipped
    assert result.agree is None and np.isfinite(result.numeric_value).all()


def test_small_expressions_keep_their_symbolic_form():
    result = compare("det(A)", {"A": "3x3"})
    assert result.symbolic.skipped is None and result.agree is True
    assert result.text("denominator") == "det(A)*A.T^-1"
