"""`ndgrad doctor` and `ndgrad doctor explain` as a Typer sub-app (``ndgrad --help``, and
in-process ``ndgrad.cli.main([...])``). The ``ndgrad doctor`` command itself starts in
``main.py``, without Typer; both call the same ``run_doctor`` / ``run_explain``."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Diagnose this machine's deep-learning set-up and print the fix for each problem.",
    invoke_without_command=True,
    add_completion=False,
)


@app.callback()
def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print findings as JSON on stdout."),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        min=0.1,
        help="Seconds each probe may take (default: 10 for tools, 30 for Python imports).",
    ),
) -> None:
    """Check Python, NumPy, ndgrad, the NVIDIA driver, CUDA, PyTorch and Jupyter.
    Exit code 0 when nothing fails, 1 otherwise."""
    if ctx.invoked_subcommand is not None:
        return
    from ndgrad.doctor.main import UsageError, run_doctor

    try:
        code = run_doctor(as_json, timeout)
    except UsageError as error:
        typer.echo(f"ndgrad doctor: error: {error}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def explain(
    message: str | None = typer.Argument(None, help="The error message (or - for stdin)."),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Read the message from a log file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print diagnoses as JSON."),
    list_all: bool = typer.Option(False, "--list", help="List every known failure."),
) -> None:
    """Explain an error message: its cause and the commands that fix it. Exit code 1 when the
    message is not recognised."""
    from ndgrad.doctor.main import UsageError, run_explain

    try:
        code = run_explain(message, None if file is None else str(file), as_json, list_all)
    except UsageError as error:
        typer.echo(f"ndgrad doctor explain: error: {error}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)
