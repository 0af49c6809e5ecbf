"""Every notebook in examples/ runs top to bottom in a real Jupyter kernel without an error,
and every cell that plots shows its figure (an image output, never ``<Figure size ...>``)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
# A cell that calls one of ndgrad.plot's figures (or its live Animator) must show an image.
PLOTS = re.compile(
    r"\b(Animator|bernoulli_entropy|likelihood_curve|confusion_matrix|image_predictions|"
    r"training_curves|convolution_kernel|descent_path|softmax_bars|information_bars)\("
)
IMAGES = {"image/png", "image/svg+xml"}


def test_the_examples_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {"01-autograd-and-matrix-calculus.ipynb", "02-linear-regression.ipynb",
            "03-entropy-kl-mle.ipynb", "04-softmax-regression.ipynb"} <= names  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_are_committed_without_outputs(path):
    # The README says how to run them (make notebooks); outputs would only go stale.
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name


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
    # The kernel runs in tmp_path: it must import the ndgrad under test, not another install
    # (a relative PYTHONPATH=src, or an editable install of a different checkout).
    import ndgrad

    source = str(Path(ndgrad.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]))
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
    plotting = [c for c in code_cells if PLOTS.search(c.source)]
    for cell in plotting:
        kinds = {kind for o in cell.get("outputs", []) for kind in o.get("data", {})}
        assert kinds & IMAGES, f"{path.name}: no figure shown by\n{cell.source}\n{kinds}"
        shown = [o for o in cell.outputs if o.get("data", {}).get("text/plain", "").startswith(
            "<Figure") and not set(o["data"]) & IMAGES]  # fmt: skip
        assert not shown, f"{path.name}: a figure's repr instead of the figure"


def test_every_plotting_cell_is_found():
    cells = {p.name: [c for c in nbformat.read(p, as_version=4).cells
                      if c.cell_type == "code" and PLOTS.search(c.source)] for p in NOTEBOOKS}  # fmt: skip
    assert len(cells["02-linear-regression.ipynb"]) == 1  # the Animator's training curve
    assert len(cells["03-entropy-kl-mle.ipynb"]) == 2
    assert len(cells["04-softmax-regression.ipynb"]) == 4
