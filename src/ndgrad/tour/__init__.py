"""``ndgrad tour``: the seed notes, section by section, each computed with ndgrad and checked.

Every section is a function ``(TourContext) -> SectionResult``: it runs a real computation,
compares it with the analytic answer and says whether the check passed. The CLI
(``ndgrad.cli.tour``) prints the results; tests call the sections directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Check:
    """One comparison of a computed value with the expected one."""

    name: str
    passed: bool
    detail: str = ""


@dataclass
class SectionResult:
    name: str
    title: str
    lines: list[str] = field(default_factory=list)  # the short human-readable result
    checks: list[Check] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # JSON-able numbers for --json
    figures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # an exception the section raised (counts as a failure)

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(passed), detail))
        return bool(passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "passed": self.passed,
            "checks": [
                {"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks
            ],  # fmt: skip
            "values": self.values,
            "figures": self.figures,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass
class TourContext:
    out: Path = Path("ndgrad-tour")
    plots: bool = True
    seed: int = 0
    lr: float | None = None  # the gradient-descent section's learning rate (None: its own)
    tol: float | None = None  # and its stopping tolerance

    def save(self, fig: Any, stem: str, result: SectionResult) -> None:
        """Writes a figure as PNG and SVG (when plots are on) and records the paths."""
        if not self.plots:
            return
        from ndgrad.plot import save_figure

        for path in save_figure(fig, self.out, stem):
            result.figures.append(str(path))


Section = Callable[[TourContext], SectionResult]


def _registry() -> dict[str, tuple[str, Section]]:
    from ndgrad.tour import sections as s

    return {
        "derivatives": ("The four derivative-shape cases", s.derivative_shapes),
        "autograd": ("Autograd: y = 2xᵀx and y = sum(x)", s.autograd_examples),
        "gradient-descent": ("Gradient descent with a tolerance", s.gradient_descent_section),
        "information": ("Entropy, cross-entropy and KL divergence", s.information_section),
        "mle": ("Bernoulli maximum likelihood", s.mle_section),
        "linear-regression": ("Linear regression with minibatch SGD", s.linear_regression),
        "softmax-regression": ("Softmax regression on handwritten digits", s.softmax_regression),
        "convolution": ("Cross-correlation, edges and a learned kernel", s.convolution_section),
        "sequences": ("A GRU language model and attention pooling", s.sequences_section),
    }


SECTION_NAMES: tuple[str, ...] = (
    "derivatives", "autograd", "gradient-descent", "information", "mle",
    "linear-regression", "softmax-regression", "convolution", "sequences",
)  # fmt: skip


def resolve_sections(tokens: list[str], names: tuple[str, ...] | None = None) -> list[str]:
    """Section names for what a user typed: a name, its number (1-based) or a unique prefix.

    Tokens may be comma lists; repeats are dropped and the order given is kept. Raises
    ``ValueError`` naming the token and the choices when one is unknown or ambiguous.
    """
    names = SECTION_NAMES if names is None else names
    choices = ", ".join(f"{i} {n}" for i, n in enumerate(names, 1))
    picked: list[str] = []
    for token in (t.strip() for value in tokens for t in value.split(",")):
        if not token:
            continue
        key = token.lower()
        if key in names:
            picked.append(key)
        elif key.isdigit():
            if not 1 <= int(key) <= len(names):
                raise ValueError(f"no section number {token}; choose from: {choices}")
            picked.append(names[int(key) - 1])
        else:
            matches = [n for n in names if n.startswith(key)]
            if len(matches) != 1:
                what = "ambiguous" if matches else "unknown"
                among = ", ".join(matches) if matches else choices
                raise ValueError(f"{what} section {token!r}; choose from: {among}")
            picked.append(matches[0])
    return list(dict.fromkeys(picked))


def section_title(name: str) -> str:
    return _registry()[name][0]


def run_section(name: str, ctx: TourContext) -> SectionResult:
    """Runs one section; an exception becomes a failed result rather than a crash."""
    import ndgrad

    title, fn = _registry()[name]
    ndgrad.manual_seed(ctx.seed)
    start = time.perf_counter()
    try:
        result = fn(ctx)
    except Exception as exc:  # noqa: BLE001 - the tour reports every section
        result = SectionResult(name, title, error=f"{type(exc).__name__}: {exc}")
    result.name, result.title = name, title
    result.seconds = time.perf_counter() - start
    return result


def run_tour(names: list[str] | None = None, ctx: TourContext | None = None) -> list[SectionResult]:
    ctx = ctx or TourContext()
    return [run_section(n, ctx) for n in (names or list(SECTION_NAMES))]


__all__ = [
    "Check", "SECTION_NAMES", "SectionResult", "TourContext", "resolve_sections", "run_section",
    "run_tour", "section_title",
]  # fmt: skip
