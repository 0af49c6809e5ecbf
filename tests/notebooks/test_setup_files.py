"""The install story the README tells: `make tour` installs the runtime only, `make notebooks`
the `notebooks` extra (JupyterLab), and LICENSE is the license pyproject.toml names."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _recipe(target: str) -> tuple[str, str]:
    """(prerequisites, recipe) of a Makefile target."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:(.*)\n((?:\t.*\n?)*)", text, re.M)
    assert match, f"no target {target}"
    return match.group(1), match.group(2)


def _install_line(stamp_target: str) -> str:
    return next(line for line in _recipe(stamp_target)[1].splitlines() if "pip install" in line)


def test_make_tour_installs_only_the_runtime():
    prerequisites, recipe = _recipe("tour")
    assert prerequisites.split() == ["$(RUNTIME_STAMP)"]
    assert "ndgrad tour" in recipe
    line = _install_line("$(RUNTIME_STAMP)")
    assert line.rstrip().endswith("-e .") and "[" not in line  # no extras: no pytest, no torch
    assert "torch" not in " ".join(_project()["dependencies"])


def test_make_test_installs_the_dev_extra():
    assert "[dev]" in _install_line("$(DEV_STAMP)")
    assert "$(DEV_STAMP)" in _recipe("lint")[0]


def test_make_notebooks_installs_jupyterlab_and_opens_the_examples():
    prerequisites, recipe = _recipe("notebooks")
    assert "$(NOTEBOOKS_STAMP)" in prerequisites and "jupyter lab examples/" in recipe
    assert "[notebooks]" in _install_line("$(NOTEBOOKS_STAMP)")
    extra = " ".join(_project()["optional-dependencies"]["notebooks"])
    assert "jupyterlab" in extra and "ipykernel" in extra


def test_license_file_matches_pyproject():
    project = _project()
    assert project["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    holder = project["authors"][0]["name"]
    assert re.search(rf"Copyright \(c\) \d{{4}} {re.escape(holder)}", text)
