"""The ``ndgrad`` command: one entry point, a sub-command per workflow."""

from __future__ import annotations

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
    from ndgrad.cli.calculus import calculus

    app.command("calculus", help=calculus.__doc__)(calculus)
    from ndgrad.cli import tour, train

    tour.register(app)
    train.register(app)


def main() -> None:
    _register_subcommands()
    app()
