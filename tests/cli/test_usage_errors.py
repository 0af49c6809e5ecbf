"""Usage errors from the argument parser are one line on stderr with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ndgrad", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("train", "softmax", "--epochs", "abc"), "--epochs"),
        (("train",), "Missing argument"),
        (("no-such-command",), "No such command"),
        (("train", "softmax", "--no-such-option"), "No such option"),
    ],
)
def test_usage_error_is_one_line_exit_2(args, needle):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ndgrad") and needle in lines[0]
    assert "Traceback" not in result.stderr


def test_no_arguments_prints_help():
    result = run_cli()
    assert result.returncode == 0
    for command in ("tour", "train", "evaluate", "predict", "doctor", "calculus"):
        assert command in result.stdout
