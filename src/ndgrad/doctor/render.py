"""Output: a rich table for people (plain text when rich does not import), plain JSON for
machines."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from ndgrad.doctor.checks import STATUSES, Finding
from ndgrad.doctor.explain import Diagnosis

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skipped": "dim"}


def exit_code(findings: Sequence[Finding]) -> int:
    return 1 if any(f.status == "fail" for f in findings) else 0


def summary(findings: Sequence[Finding]) -> str:
    counts = Counter(f.status for f in findings)
    return ", ".join(f"{counts.get(status, 0)} {status}" for status in STATUSES)


def findings_json(findings: Sequence[Finding], seconds: float) -> str:
    return json.dumps(
        {
            "findings": [f.to_dict() for f in findings],
            "summary": {s: sum(f.status == s for f in findings) for s in STATUSES},
            "exit_code": exit_code(findings),
            "seconds": round(seconds, 2),
        },
        indent=2,
    )


def print_findings(
    findings: Sequence[Finding], seconds: float, stream: TextIO | None = None
) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except Exception:  # noqa: BLE001 - a broken rich is one of the findings; still report
        _plain_findings(findings, seconds, stream or sys.stdout)
        return

    console = Console(file=stream or sys.stdout, highlight=False)
    table = Table(title="ndgrad doctor", show_lines=True)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("found / why it matters")
    for finding in findings:
        found = Text(finding.found)
        if finding.why:
            found.append("\n" + finding.why, style="dim")
        table.add_row(Text(finding.status, style=_STYLE[finding.status]), finding.id, found)
    console.print(table)
    # Fix commands go below the table, unwrapped, so they can be copied and pasted.
    order = {"fail": 0, "warn": 1, "ok": 2, "skipped": 3}
    # Items that are ok show no fix (checks give them none; this keeps the rule visible here).
    with_fix = sorted(
        (f for f in findings if f.fix and f.status != "ok"), key=lambda f: order[f.status]
    )
    if with_fix:
        console.print("How to fix:", style="bold")
        for finding in with_fix:
            console.print(
                f"  [{finding.status}] {finding.id}:", style=_STYLE[finding.status], markup=False
            )
            for line in finding.fix.splitlines():
                console.print(f"    {line}", style="cyan", markup=False, soft_wrap=True)
    verdict = "problems found" if exit_code(findings) else "nothing fails"
    console.print(f"Summary: {summary(findings)} ({verdict}; {seconds:.1f} s)")


def _plain_findings(findings: Sequence[Finding], seconds: float, out: TextIO) -> None:
    lines = ["ndgrad doctor"]
    for finding in findings:
        lines.append(f"[{finding.status}] {finding.id}: {finding.found}")
        if finding.why:
            lines.append(f"    {finding.why}")
    with_fix = [f for f in findings if f.fix and f.status != "ok"]
    if with_fix:
        lines.append("How to fix:")
        for finding in with_fix:
            lines.append(f"  [{finding.status}] {finding.id}:")
            lines += [f"    {line}" for line in finding.fix.splitlines()]
    verdict = "problems found" if exit_code(findings) else "nothing fails"
    lines.append(f"Summary: {summary(findings)} ({verdict}; {seconds:.1f} s)")
    out.write("\n".join(lines) + "\n")


def _plain_diagnoses(diagnoses: Sequence[Diagnosis], out: TextIO) -> None:
    lines = []
    for d in diagnoses:
        lines.append(d.title + (f"  ({d.id})" if d.known else ""))
        if d.excerpt:
            lines.append(f"  matched: {d.excerpt}")
        lines.append(f"  cause: {d.cause}")
        lines.append("  fix:")
        lines += [f"    {fix}" for fix in d.fixes]
        if d.source:
            lines.append(f"  source: {d.source}")
        if d.see_also:
            lines.append(f"  see also: {', '.join(d.see_also)}")
        lines.append("")
    out.write("\n".join(lines) + "\n")


def diagnoses_json(diagnoses: Sequence[Diagnosis]) -> str:
    return json.dumps({"diagnoses": [d.to_dict() for d in diagnoses]}, indent=2)


def print_diagnoses(diagnoses: Sequence[Diagnosis], stream: TextIO | None = None) -> None:
    try:
        from rich.console import Console
    except Exception:  # noqa: BLE001 - a broken rich must not hide the diagnosis
        _plain_diagnoses(diagnoses, stream or sys.stdout)
        return

    # soft_wrap: long commands stay on one line, so they can be copied and pasted.
    console = Console(file=stream or sys.stdout, highlight=False, soft_wrap=True)
    for diagnosis in diagnoses:
        style = "bold" if diagnosis.known else "bold yellow"
        console.print(
            f"[{style}]{diagnosis.title}[/{style}]"
            + (f"  [dim]({diagnosis.id})[/dim]" if diagnosis.known else "")
        )
        if diagnosis.excerpt:
            console.print(f"  matched: {diagnosis.excerpt}", markup=False)
        console.print(f"  cause: {diagnosis.cause}", markup=False)
        console.print("  fix:")
        for fix in diagnosis.fixes:
            console.print(f"    {fix}", markup=False, style="cyan")
        if diagnosis.source:
            console.print(f"  source: {diagnosis.source}", markup=False, style="dim")
        if diagnosis.see_also:
            console.print(f"  see also: {', '.join(diagnosis.see_also)}", markup=False)
        console.print()


def catalogue_json(rows: Sequence[tuple[str, str, str]]) -> str:
    return json.dumps(
        {"entries": [{"id": i, "matches": m, "source": s} for i, m, s in rows]}, indent=2
    )


def print_catalogue(rows: Sequence[tuple[str, str, str]], stream: TextIO | None = None) -> None:
    """``ndgrad doctor explain --list``: one row per known failure (id, message, source)."""
    out = stream or sys.stdout
    try:
        from rich.console import Console
        from rich.table import Table
    except Exception:  # noqa: BLE001 - plain text when rich is broken
        for entry_id, matches, source in rows:
            out.write(f"{entry_id}\n  matches: {matches}\n  source: {source}\n")
        out.write(f"{len(rows)} entries\n")
        return
    table = Table(title=f"ndgrad doctor explain: {len(rows)} known failures", show_lines=True)
    table.add_column("id", no_wrap=True)
    table.add_column("matches")
    table.add_column("source")
    for entry_id, matches, source in rows:
        table.add_row(entry_id, matches, source)
    Console(file=out, highlight=False).print(table, markup=False)
