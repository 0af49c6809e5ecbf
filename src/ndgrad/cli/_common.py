"""Conventions every ``ndgrad`` command shares: ``-h``, flags in help, and one error prefix.

- ``-h`` and ``--help`` on every command (set once on the root app; click passes
  ``help_option_names`` down to every sub-command and sub-app).
- A boolean flag (``--json``, ``--no-plots``, ``--help``) is shown in help without a type:
  it takes no value, so Typer's ``<bool>`` would only suggest ``--json true``.
- Bad input is one line on stderr, ``ndgrad COMMAND: error: MESSAGE``, and exit code 2
  (:func:`usage_error`); the parser's own errors are printed the same way by ``ndgrad.cli.main``.
"""

from __future__ import annotations

import typer

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def error_line(command: str, message: str) -> str:
    """``ndgrad COMMAND: error: MESSAGE`` (``command`` may already start with ``ndgrad``)."""
    command = command.strip()
    where = command if command.split(" ", 1)[0] == "ndgrad" else f"ndgrad {command}".strip()
    return f"{where}: error: {message}"


def usage_error(command: str, message: str, code: int = 2) -> typer.Exit:
    """Prints the one-line error on stderr and returns the ``typer.Exit`` to raise."""
    typer.echo(error_line(command, message), err=True)
    return typer.Exit(code)


def hide_flag_types() -> None:
    """Help shows ``--json`` rather than ``--json <bool>`` for every flag (idempotent)."""
    from typer import core

    option = getattr(core, "TyperOption", None)
    original = getattr(option, "display_type_rich", None)
    if original is None or getattr(original, "_ndgrad_flags", False):
        return

    def display_type_rich(self, ctx):  # type: ignore[no-untyped-def]
        if getattr(self, "is_flag", False) and getattr(self, "is_bool_flag", True):
            return None
        return original(self, ctx)

    display_type_rich._ndgrad_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich  # type: ignore[union-attr]
