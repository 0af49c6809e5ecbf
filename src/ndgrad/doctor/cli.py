"""`ndgrad doctor` and `ndgrad doctor explain`."""

from __future__ import annotations

import sys
import time
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
    from ndgrad.doctor import checks, probes, render

    start = time.perf_counter()
    findings = checks.run_checks(probes.gather(timeout))
    seconds = time.perf_counter() - start
    if as_json:
        sys.stdout.write(render.findings_json(findings, seconds) + "\n")
    else:
        render.print_findings(findings, seconds)
    raise typer.Exit(render.exit_code(findings))


@app.command()
def explain(
    message: str | None = typer.Argument(None, help="The error message (or - for stdin)."),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Read the message from a log file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print diagnoses as JSON."),
) -> None:
    """Explain an error message: its cause and the commands that fix it. Exit code 1 when the
    message is not recognised."""
    from ndgrad.cli._common import usage_error
    from ndgrad.doctor import render
    from ndgrad.doctor.explain import explain as diagnose

    if file is not None:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise usage_error(
                "doctor explain", f"cannot read {file}: {error.strerror or error}"
            ) from None
    elif message is not None and message != "-":
        text = message
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        raise usage_error(
            "doctor explain", "give the message as an argument, with --file LOG, or on stdin"
        )
    diagnoses = diagnose(text)
    if as_json:
        sys.stdout.write(render.diagnoses_json(diagnoses) + "\n")
    else:
        render.print_diagnoses(diagnoses)
    raise typer.Exit(0 if diagnoses[0].known else 1)
