"""Every notebook in examples/ runs top to bottom in a real Jupyter kernel without an error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_the_examples_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"01-autograd-and-matrix-calculus.ipynb", "02-linear-regression.ipynb",
            "03-entropy-kl-mle.ipynb", "04-softmax-regression.ipynb"} <= names  # fmt: skip


def test_the_python3_kernel_is_this_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    cmd = KernelManager(kernel_name="python3").format_kernel_cmd()
    # jupyter_client runs the native kernel with sys.executable when argv[0] is "python".
    assert spec.language == "python"
    assert Path(cmd[0]).resolve() == Path(sys.executable).resolve(), cmd


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path, tmp_path, monkeypatch):
    # The kernel inherits the environment: one BLAS thread, as tiny matrices want and as a
    # parallel test run needs (spinning BLAS threads on busy cores slow everything down).
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=60,  # per cell
        resources={"metadata": {"path": str(tmp_path)}},  # anything written lands in tmp
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed:\n{str(exc)[-3000:]}")
    errors = [o for cell in notebook.cells if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]  # fmt: skip
    assert not errors
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells), "every code cell ran"
