"""The ``ndgrad`` command: one entry point, a sub-command per workflow."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="ndgrad",
    help="ndgrad: deep learning from first principles on NumPy, with PyTorch's API.",
    no_args_is_help=True,
    add_completion=False,
)


def _register_subcommands() -> None:
    # Each workflow lives in its own package and contributes a Typer sub-app or command.
    from ndgrad.doctor.cli import app as doctor_app

    app.add_typer(doctor_app, name="doctor")
    from ndgrad.cli.kernel import app as kernel_app

    app.add_typer(kernel_app, name="kernel")
    from ndgrad.cli.calculus import calculus

    app.command("calculus", help=calculus.__doc__)(calculus)
    from ndgrad.cli import run, tour, train

    tour.register(app)
    train.register(app)
    run.register(app)


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI; a usage error is one line on stderr and exit code 2, never a traceback."""
    _register_subcommands()
    try:
        result = app(args=argv, prog_name="ndgrad", standalone_mode=False)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        # Typer's (vendored click) usage errors carry exit_code 2 and format_message().
        if getattr(exc, "exit_code", None) != 2 or not hasattr(exc, "format_message"):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            sys.exit(0)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "ndgrad"
        print(f"{where}: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    sys.exit(result if isinstance(result, int) else 0)
