"""Helpers of the alias tests: every aliased program runs in a fresh interpreter, where
``import torch`` can resolve to ndgrad although the real PyTorch is installed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ndgrad

SRC = str(Path(ndgrad.__file__).resolve().parents[1])
PROGRAMS = Path(__file__).resolve().parent / "programs"


def env(**extra: str) -> dict[str, str]:
    """This environment, with ndgrad's source first on the path (any cwd), one BLAS thread and
    a non-interactive matplotlib."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([SRC, *filter(None, [os.environ.get("PYTHONPATH")])])
    out.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    out.update(extra)
    return out


def run(args: list[str], cwd: Path | str | None = None, timeout: float = 120, **extra: str):
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env(**extra)
    )


def ndgrad_cli(*args: str, cwd: Path | str | None = None, timeout: float = 120):
    return run([sys.executable, "-m", "ndgrad", *args], cwd=cwd, timeout=timeout)


def python(code: str, cwd: Path | str | None = None, timeout: float = 120):
    return run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, timeout=timeout)


@pytest.fixture
def script(tmp_path):
    """script(source, name="prog.py") -> its path, written in tmp_path."""

    def write(source: str, name: str = "prog.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def cli(capsys):
    """cli(*args) runs ``ndgrad ARGS`` in this process (no interpreter start-up):
    an object with returncode, stdout, stderr."""
    from types import SimpleNamespace

    from ndgrad.cli import main

    def call(*args: str) -> SimpleNamespace:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return call


_DRIVER = """
import contextlib, io, json, sys
from ndgrad.cli import main
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    results.append([code, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(results))
"""


def ndgrad_many(*commands: list[str], cwd: Path | str | None = None, timeout: float = 120):
    """Runs several ``ndgrad ARGS`` one after the other in one fresh interpreter (one start-up
    for many programs): a list of objects with returncode, stdout, stderr."""
    import json
    from types import SimpleNamespace

    result = run([sys.executable, "-c", _DRIVER, json.dumps(commands)], cwd=cwd, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return [
        SimpleNamespace(returncode=c, stdout=o, stderr=e) for c, o, e in json.loads(result.stdout)
    ]
