"""``ndgrad tour``: run the notes section by section and check every answer."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import typer

from ndgrad.cli._common import usage_error


def _parse_sections(values: list[str]) -> list[str]:
    from ndgrad.tour import SECTION_NAMES, resolve_sections

    if not values:
        return list(SECTION_NAMES)
    try:
        return resolve_sections(values, tuple(SECTION_NAMES))
    except ValueError as exc:
        raise usage_error("tour", str(exc)) from None


def tour(
    sections: list[str] = typer.Argument(
        None,
        metavar="SECTION",
        help="Sections to run, by name, number or unique prefix (ndgrad tour 3, ndgrad tour "
        "soft); default: all.",
        show_default=False,
    ),
    section: list[str] = typer.Option(
        None, "--section", "-s", help="Run only this section (repeatable, or a comma list)."
    ),
    out: Path = typer.Option(Path("ndgrad-tour"), "--out", "-o", help="Folder for the figures."),
    lr: float = typer.Option(
        None, "--lr", help="Learning rate α of the gradient-descent section (default 0.5)."
    ),
    tol: float = typer.Option(
        None, "--tol", help="Stopping tolerance ε of the gradient-descent section (default 1e-6)."
    ),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not draw or write figures."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable results only."),
    seed: int = typer.Option(0, "--seed", help="Random seed for every section."),
) -> None:
    """Walk through the notes: each section computes with ndgrad and checks the analytic answer.

    Sections: {sections}. Exit code 1 if any check fails.
    """
    from ndgrad.tour import TourContext, run_section, section_title
    from ndgrad.training import single_blas_thread

    names = _parse_sections([*(sections or []), *(section or [])])
    for option, value in (("--lr", lr), ("--tol", tol)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise usage_error("tour", f"{option} must be a positive number, got {value:g}")
    ctx = TourContext(out=out, plots=not no_plots, seed=seed, lr=lr, tol=tol)
    if not no_plots:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise usage_error("tour", f"cannot create the output folder {out}: {exc}") from None
    start = time.perf_counter()
    results = []
    console = None
    if not as_json:
        from rich.console import Console

        console = Console(highlight=False)
        console.rule("[bold]ndgrad tour[/bold]: the notes, computed and checked")
    with single_blas_thread():  # the tour's matrices are tiny: BLAS threads only cost time
        for i, name in enumerate(names, 1):
            if console is not None:
                with console.status(f"[{i}/{len(names)}] {section_title(name)} ..."):
                    result = run_section(name, ctx)
                _print_section(console, i, len(names), result)
            else:
                result = run_section(name, ctx)
            results.append(result)
    total = time.perf_counter() - start
    failed = [r.name for r in results if not r.passed]
    if as_json:
        payload = {
            "passed": not failed,
            "failed": failed,
            "seconds": round(total, 3),
            "out": str(out) if not no_plots else None,
            "sections": [r.to_json() for r in results],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        _print_summary(console, results, total, None if no_plots else out)
    if failed:
        raise typer.Exit(1)


def _print_section(console: object, index: int, count: int, result: object) -> None:
    from rich.markup import escape
    from rich.panel import Panel

    mark = "[bold green]✔ PASS[/]" if result.passed else "[bold red]✘ FAIL[/]"
    body = [escape(line) for line in result.lines]
    for check in result.checks:
        tick = "[green]✔[/]" if check.passed else "[red]✘[/]"
        detail = f" [dim]({escape(check.detail)})[/]" if check.detail and not check.passed else ""
        body.append(f"{tick} {escape(check.name)}{detail}")
    if result.error:
        body.append(f"[red]error: {escape(result.error)}[/]")
    if result.figures:
        body.append(f"[dim]figures: {', '.join(escape(Path(f).name) for f in result.figures)}[/]")
    title = f"[{index}/{count}] {escape(result.title)}  {mark}  [dim]{result.seconds:.2f}s[/]"
    console.print(Panel("\n".join(body), title=title, title_align="left",  # type: ignore[attr-defined]
                        border_style="green" if result.passed else "red"))  # fmt: skip


def _print_summary(console: object, results: list, total: float, out: Path | None) -> None:
    from rich.table import Table

    table = Table(title="Summary", show_lines=False)
    table.add_column("section")
    table.add_column("checks", justify="right")
    table.add_column("time", justify="right")
    table.add_column("result")
    for r in results:
        passed = sum(c.passed for c in r.checks)
        table.add_row(r.name, f"{passed}/{len(r.checks)}", f"{r.seconds:.2f}s",
                      "[green]✔ pass[/]" if r.passed else "[red]✘ FAIL[/]")  # fmt: skip
    console.print(table)  # type: ignore[attr-defined]
    failed = [r.name for r in results if not r.passed]
    where = f"; figures in {out}/" if out is not None else ""
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(results)} sections failed[/] "  # type: ignore[attr-defined]
                      f"({', '.join(failed)}) in {total:.1f}s{where}")  # fmt: skip
    else:
        console.print(f"[bold green]all {len(results)} sections passed[/] in {total:.1f}s{where}")  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    from ndgrad.tour import SECTION_NAMES

    numbered = ", ".join(f"{i} {name}" for i, name in enumerate(SECTION_NAMES, 1))
    app.command("tour", help=(tour.__doc__ or "").replace("{sections}", numbered))(tour)
