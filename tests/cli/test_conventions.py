"""Conventions every command follows: --version, -h/--help, flags without a type in help,
-o/--out where a command writes, and one error prefix (``ndgrad COMMAND: error: ...``)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from ndgrad import __version__
from ndgrad.cli import _register_subcommands, app

_register_subcommands()
runner = CliRunner()


def _commands(command=None, path=()):
    """Every command path of the CLI, sub-apps included: ("tour",), ("doctor", "explain")..."""
    command = command or typer.main.get_command(app)
    for name, sub in getattr(command, "commands", {}).items():
        yield (*path, name), sub
        yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands())


def test_version():
    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0
        assert result.stdout.strip() == f"ndgrad {__version__}"


def test_every_command_is_listed():
    assert {" ".join(p) for p in COMMANDS} >= {"tour", "calculus", "train", "evaluate",
                                               "predict", "doctor", "doctor explain"}  # fmt: skip


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "ndgrad")
def test_dash_h_everywhere_and_flags_without_bool(path):
    short = runner.invoke(app, [*path, "-h"], terminal_width=120)
    assert short.exit_code == 0, short.output
    assert "Usage: ndgrad" in short.stdout
    assert short.stdout == runner.invoke(app, [*path, "--help"], terminal_width=120).stdout
    assert "<bool>" not in short.stdout  # --json, --no-plots, --help take no value


@pytest.mark.parametrize(
    "name",
    [
        "tour",
        "train",
        "predict",
        "run",
    ],
)  # fmt: skip
def test_commands_that_write_take_dash_o_and_out(name):
    options = {opt for p in COMMANDS[(name,)].params for opt in p.opts}
    assert {"-o", "--out"} <= options


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (["calculus", "2*x.T*", "--shape", "x=3"], "ndgrad calculus: error: "),
        (["doctor", "explain", "--file", "/no/such/log.txt"], "ndgrad doctor explain: error: "),
        (["tour", "no-such-section", "--no-plots"], "ndgrad tour: error: "),
        (["train", "no-such-model", "--data", "digits"], "ndgrad train: error: "),
    ],
)
def test_one_error_prefix(args, prefix):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr


def test_parser_errors_use_the_same_prefix(capsys):
    from ndgrad.cli import main

    for argv, prefix in ((["tour", "--seed", "x"], "ndgrad tour: error: "),
                         (["nope"], "ndgrad: error: ")):  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(prefix), err
