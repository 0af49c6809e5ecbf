"""The ``ndgrad`` command: one entry point, a sub-command per workflow."""

from __future__ import annotations

import sys

import typer

from ndgrad.cli._common import CONTEXT_SETTINGS, error_line, hide_flag_types

app = typer.Typer(
    name="ndgrad",
    help="ndgrad: deep learning from first principles on NumPy, with PyTorch's API.",
    no_args_is_help=True,
    add_completion=False,
    context_settings=CONTEXT_SETTINGS,  # -h and --help, on every command
)
hide_flag_types()


def _print_version(value: bool) -> None:
    if value:
        from ndgrad import __version__

        typer.echo(f"ndgrad {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", is_eager=True, callback=_print_version,
        help="Print ndgrad's version and exit.",
    ),
) -> None:  # fmt: skip
    """ndgrad: deep learning from first principles on NumPy, with PyTorch's API."""


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
    """Runs the CLI; a usage error is one line on stderr and exit code 2, never a traceback.

    Output that cannot be written (stdout on a full disk, a closed pipe) is one line on
    stderr and exit code 1. NumPy's RuntimeWarnings (overflow in a calculus value, say) are
    not printed: a command's stderr is its one error line (NDGRAD_DEBUG=1 shows them).
    """
    import os
    import warnings

    from ndgrad.doctor.main import output_failed

    if not os.environ.get("NDGRAD_DEBUG"):
        warnings.simplefilter("ignore", RuntimeWarning)
    try:
        _main(argv)
    except (BrokenPipeError, OSError) as error:
        if isinstance(error, OSError) and not _is_output_error(error):
            raise
        sys.exit(output_failed(error))


def _is_output_error(error: OSError) -> bool:
    import errno

    return isinstance(error, BrokenPipeError) or error.errno in (errno.ENOSPC, errno.EPIPE)


def _main(argv: list[str] | None) -> None:
    _register_subcommands()
    try:
        result = app(args=argv, prog_name="ndgrad", standalone_mode=False)
    except typer.Abort:
        print(error_line("ndgrad", "aborted"), file=sys.stderr)
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
        print(error_line(where, exc.format_message()), file=sys.stderr)
        sys.exit(2)
    sys.stdout.flush()  # inside main's guard: a full disk is reported, not a traceback
    sys.exit(result if isinstance(result, int) else 0)
