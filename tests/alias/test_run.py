"""``ndgrad run``: a PyTorch script or notebook runs unchanged, `import torch` being ndgrad;
what ndgrad lacks is one line naming the torch API and the program's file:line."""

from __future__ import annotations

import json

import pytest
from tests.alias.conftest import ndgrad_cli, ndgrad_many


def one_line(result, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_script_runs_as_main_with_its_argv(script, tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 7\n")
    path = script(
        """
        import json, sys
        import torch
        import torch.nn.functional as F
        from torch import nn
        import helper  # the script's folder is on sys.path, as with `python script.py`
        x = torch.tensor([[1.0, -2.0]], requires_grad=True)
        F.relu(nn.Linear(2, 1)(x)).sum().backward()
        print(json.dumps(dict(name=__name__, argv=sys.argv, torch=torch.__name__,
                              helper=helper.VALUE, grad=list(x.grad.shape),
                              sinh=torch.sinh(torch.zeros(1)).item())))
        """
    )
    result = ndgrad_cli("run", str(path), "--lr", "0.1", "-v", "pos", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # nothing extra by default; -v after the script is the script's
    out = json.loads(result.stdout)
    assert out == dict(name="__main__", argv=[str(path), "--lr", "0.1", "-v", "pos"],
                       torch="ndgrad", helper=7, grad=[1, 2], sinh=0.0)  # fmt: skip


def test_verbose_says_torch_is_ndgrad_and_the_exit_code_passes_through(script):
    path = script("import sys, torch\nsys.exit(torch.tensor(3).item())\n")
    result = ndgrad_cli("run", "--verbose", str(path))
    assert one_line(result, 3).startswith("torch -> ndgrad ")


MISSING = [
    ("import torch\n\nx = torch.ones(2)\ntorch.no_such_function(x)\n", 4,
     ["AttributeError", "torch.no_such_function", "not available in ndgrad"]),
    ("import torch\nx = torch.ones(2)\nx.no_such_method()\n", 3, ["torch.Tensor.no_such_method"]),
    ("import torch.nn.functional as F\nF.no_such_fn\n", 2, ["torch.nn.functional.no_such_fn"]),
    ("import os\nimport torch.fx\n", 2, ["ModuleNotFoundError", "torch.fx", "ndgrad"]),
    ("from torch import nn\n\n\nnn.DataParallel(nn.Linear(2, 3))\n", 4,
     ["NotImplementedError", "torch.nn.parallel.DataParallel"]),
    ("import sys\nfrom torch.nn import Linear, CrossMapLRN2d\n", 2, ["ImportError", "torch.nn.CrossMapLRN2d"]),
]  # fmt: skip


def test_a_missing_torch_api_is_one_line_naming_it_and_the_programs_line(script, tmp_path):
    paths = [script(source, f"missing{i}.py") for i, (source, _, _) in enumerate(MISSING)]
    (tmp_path / "lib.py").write_text("import torch\n\n\ndef f(x):\n    return torch.gone(x)\n")
    in_lib = script("import lib\nimport torch\nlib.f(torch.ones(1))\n", "uses_lib.py")
    own = script("def f():\n    raise ValueError('mine')\n\nf()\n", "own.py")
    users = script("class A:\n    pass\n\nA().missing\n", "users.py")
    *results, lib_result, own_result, users_result = ndgrad_many(
        *[["run", str(p)] for p in [*paths, in_lib, own, users]], cwd=tmp_path
    )
    for path, (_, line, needles), result in zip(paths, MISSING, results):
        message = one_line(result, 1)
        assert message.startswith(f"{path}:{line}: "), message
        for needle in needles:
            assert needle in message, message
    # Located in the program's own code, wherever the call was made.
    message = one_line(lib_result, 1)
    assert message.startswith(f"{tmp_path / 'lib.py'}:5: ") and "torch.gone" in message
    # The program's own error: Python's traceback, without ndgrad's machinery.
    assert own_result.returncode == 1
    assert "Traceback" in own_result.stderr and "ValueError: mine" in own_result.stderr
    assert "cli/run.py" not in own_result.stderr and "typer" not in own_result.stderr
    assert f'File "{own}", line 4' in own_result.stderr
    # A user's AttributeError is not blamed on ndgrad.
    assert users_result.returncode == 1 and "Traceback" in users_result.stderr
    assert "ndgrad" not in users_result.stderr.splitlines()[-1]


def test_bad_input_is_one_line_exit_2(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "broken.ipynb").write_text("{ not json")
    cases = {
        "missing.py": "no such file",
        "notes.txt": "neither a Python script",
        "broken.py": "not a Python script",
        "broken.ipynb": "not a valid notebook",
        ".": "not a file",
    }
    for name, needle in cases.items():
        message = one_line(cli("run", name), 2)
        assert message.startswith("ndgrad run: error: ") and needle in message, message
    message = one_line(cli("run"), 2)
    assert "Missing argument" in message


def _notebook(path, *sources):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


def test_a_notebook_runs_with_the_alias_and_is_written_executed(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    path = _notebook(
        tmp_path / "nb.ipynb",
        "import sys, torch\nprint(torch.__name__, sys.modules['torch.nn'] is sys.modules['ndgrad.nn'])",
        "torch.cosh(torch.zeros(2))",
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]);",
    )
    result = ndgrad_cli("run", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "nb.ndgrad.ipynb"
    assert result.stdout.strip() == f"executed {path} -> {out}"
    cells = nbformat.read(str(out), as_version=4).cells
    assert cells[0].outputs[0].text == "ndgrad True\n"
    assert cells[1].outputs[0].data["text/plain"] == "tensor([1., 1.])"
    assert any("image/png" in o.get("data", {}) for o in cells[2].outputs)


def test_a_failing_notebook_cell_is_one_line_and_the_copy_is_written(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    path = _notebook(tmp_path / "nb.ipynb", "import torch", "torch.no_such_thing(1)", "1")
    out = tmp_path / "done.ipynb"
    message = one_line(ndgrad_cli("run", "-o", str(out), str(path)), 1)
    assert (
        message.startswith(f"{path}: cell 2 failed: AttributeError") and "no_such_thing" in message
    )
    cells = nbformat.read(str(out), as_version=4).cells
    assert cells[1].outputs[0].output_type == "error"
