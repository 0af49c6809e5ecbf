"""``ndgrad calculus``: human output, --json, and exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ndgrad.cli import app
from ndgrad.cli.calculus import calculus

runner = CliRunner()
_app = None


def _invoke(*args: str):
    import typer

    global _app
    if _app is None:
        _app = typer.Typer()
        _app.command()(calculus)
    return runner.invoke(_app, list(args))


def test_seed_case_human_output():
    result = _invoke("2*x.T*x", "--shape", "x=4", "--at", "x=0,1,2,3")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "scalar by vector (gradient)" in out
    assert "numerator 1 x 4, denominator 4 x 1" in out
    assert "4*x.T" in out and "4*x   (denominator layout)" in out
    assert "numeric      [0, 4, 8, 12]" in out
    assert "agree        yes" in out


def test_json_output_for_matrices():
    result = _invoke(
        "x.T*A*x", "-s", "x=2", "-s", "A=2x2", "--at", "x=1,2", "--at", "A=1,2;3,4", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["case"] == "scalar by vector (gradient)"
    assert data["layout_shapes"] == {"numerator": [1, 2], "denominator": [2, 1]}
    assert data["numeric_value"] == [[12.0, 21.0]] and data["agree"] is True
    assert data["symbolic"]["denominator"] == "A*x + A.T*x"


@pytest.mark.parametrize(
    "args, message",
    [
        (['__import__("os")'], "names starting with '_'"),
        (["x.__class__", "-s", "x=2"], "'.__class__'"),
        (["x*y", "-s", "x=3", "-s", "y=4"], "product: shapes 3x1 and 4x1 do not match"),
        (["log(x)", "--at", "x=-1"], "log is undefined at x = -1"),
        (["x.T*x", "-s", "x=four"], "shape of 'x'"),
        (["x.T*x", "-s", "x=2", "--at", "x=1,a"], "must be numbers"),
        (["x.T*x", "-s", "x=2", "--layout", "sideways"], "layout"),
    ],
)
def test_bad_input_is_one_line_error_exit_2(args, message):
    result = _invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_registered_on_the_ndgrad_command():
    from ndgrad.cli import _register_subcommands

    _register_subcommands()
    result = runner.invoke(app, ["calculus", "--help"])
    assert result.exit_code == 0 and "--shape" in result.output


def test_subprocess_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "ndgrad", "calculus", "sum(x)", "--shape", "x=3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["numeric_value"] == [[1.0, 1.0, 1.0]]
    bad = subprocess.run(
        [sys.executable, "-m", "ndgrad", "calculus", "open('f')"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0
