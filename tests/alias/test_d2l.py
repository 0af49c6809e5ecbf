"""d2l 1.0.3's PyTorch library (``from d2l import torch as d2l``) on ndgrad.

Every ``torch.X``/``nn.X``/``F.X`` its source names exists in ndgrad (or raises a
NotImplementedError naming the torch API when used); it imports under the alias; its
module-level aliases and its linear-regression programs give PyTorch's numbers.
d2l is a test dependency installed without its pinned dependencies (see pyproject's ``dev``
extra); pandas, requests and torchvision are stood in for where missing (programs/_standins.py).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tests.alias.conftest import PROGRAMS, ndgrad_cli, run

import ndgrad

_D2L = importlib.util.find_spec("d2l")
pytestmark = pytest.mark.skipif(
    _D2L is None, reason="d2l is not installed (pip install d2l==1.0.3 --no-deps)"
)

# The names d2l/torch.py imports the torch modules as.
ROOTS = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional",
         "torchvision": "torchvision", "transforms": "torchvision.transforms"}  # fmt: skip
# ``data`` (torch.utils.data) is left out: d2l also names local variables ``data``.


def _d2l_source() -> str:
    return (Path(_D2L.submodule_search_locations[0]) / "torch.py").read_text()


def referenced_apis() -> set[str]:
    """Every dotted torch/torchvision name d2l/torch.py uses (``torch.nn.functional.relu``)."""
    names = set()
    for node in ast.walk(ast.parse(_d2l_source())):
        if not isinstance(node, ast.Attribute):
            continue
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in ROOTS:
            names.add(".".join([ROOTS[node.id], *reversed(parts)]))
    return names


def resolve(api: str, root_module: str) -> object:
    """``torch.nn.Linear`` -> ndgrad.nn.Linear, importing submodules as `import torch.x` would."""
    parts = api.split(".")[1:]
    obj, path = importlib.import_module(root_module), root_module
    for part in parts:
        path = f"{path}.{part}"
        if not hasattr(obj, part) and isinstance(obj, type(ndgrad)):
            try:
                importlib.import_module(path)
            except ModuleNotFoundError:
                pass
        obj = getattr(obj, part)  # AttributeError: ndgrad lacks it
    return obj


def test_every_torch_name_d2l_uses_exists_in_ndgrad():
    apis = sorted(a for a in referenced_apis() if a.startswith("torch."))
    assert len(apis) > 80  # the scan sees d2l's torch use
    missing = []
    for api in apis:
        try:
            resolve(api, "ndgrad")
        except AttributeError:
            missing.append(api)
    assert not missing, f"torch APIs d2l uses that ndgrad lacks: {missing}"


def test_every_torchvision_name_d2l_uses_exists_in_ndgrad_vision():
    if importlib.util.find_spec("ndgrad.vision") is None:
        pytest.skip("ndgrad.vision (torchvision's API) is not in this tree")
    missing = []
    for api in sorted(a for a in referenced_apis() if a.startswith("torchvision")):
        try:
            resolve(api, "ndgrad.vision")
        except AttributeError:
            missing.append(api)
    assert not missing, f"torchvision APIs d2l uses that ndgrad.vision lacks: {missing}"


def test_what_ndgrad_lacks_raises_not_implemented_naming_torchs_api():
    for api, call in [("torch.nn.RNN", lambda: ndgrad.nn.RNN(2, 3)),
                      ("torch.nn.parallel.scatter", lambda: ndgrad.nn.parallel.scatter([1], [0])),
                      ("torch.nn.DataParallel", lambda: ndgrad.nn.DataParallel(None))]:  # fmt: skip
        obj = resolve(api, "ndgrad")
        if getattr(obj, "__doc__", "") and "Not implemented" not in obj.__doc__:
            continue  # implemented since
        with pytest.raises(NotImplementedError, match=api.rsplit(".", 1)[-1]):
            call()
    assert ndgrad.nn.GRU is ndgrad.nn.GRU  # one stand-in class per name


def _run_both(name: str) -> tuple[dict, dict]:
    """programs/NAME run under the real PyTorch and under ``ndgrad run``: their JSON lines."""
    program = str(PROGRAMS / name)
    with ThreadPoolExecutor(2) as pool:  # the two interpreters start side by side
        real_job = pool.submit(run, [sys.executable, program], cwd=PROGRAMS, timeout=240)
        ours = ndgrad_cli("run", program, cwd=PROGRAMS)
        real = real_job.result()
    assert ours.returncode == 0, ours.stderr
    assert real.returncode == 0, real.stderr
    real_out, our_out = json.loads(real.stdout), json.loads(ours.stdout)
    assert real_out.pop("torch") == "torch" and our_out.pop("torch") == "ndgrad"
    return real_out, our_out


@pytest.fixture(scope="module")
def both_runs() -> tuple[dict, dict]:
    return _run_both("d2l_programs.py")


def _close(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, str):  # printed as PyTorch prints them (torch.float32, torch.Size)
        assert a == b, path
    elif isinstance(a, list) and any(isinstance(x, (str, dict, list)) for x in a):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    else:  # float32 results: PyTorch's and NumPy's exp/sin/... may differ in the last bit
        np.testing.assert_allclose(
            np.asarray(b, float), np.asarray(a, float), rtol=2e-6, atol=1e-7, err_msg=path
        )


def test_d2l_imports_under_ndgrad_run_and_its_aliases_match_pytorch(both_runs):
    real, ours = both_runs
    _close(real["aliases"], ours["aliases"], "aliases")


@pytest.mark.parametrize("model", ["scratch", "concise"])
def test_d2l_linear_regression_trains_as_under_pytorch(both_runs, model):
    real, ours = both_runs
    for key in (f"{model}_board", f"{model}_w", f"{model}_b"):
        _close(real[key], ours[key], key)
    assert ours[f"{model}_board"]["val_loss"][-1] < ours[f"{model}_board"]["val_loss"][0] / 2


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_d2l_classifier_trains_as_under_pytorch(both_runs, model):
    # d2l.SoftmaxRegression (d2l.Classifier: cross-entropy, accuracy) with a linear net and an MLP.
    real, ours = both_runs
    _close(real[model], ours[model], model)
    assert ours[model]["board"]["val_acc"][-1] > 0.8


def test_d2l_seeded_programs_give_pytorchs_numbers():
    """The book's way, with nothing made in NumPy: one manual_seed, then d2l's random data,
    initialisations, shuffles and dropout (programs/d2l_seeded.py) under PyTorch and ndgrad."""
    real_out, our_out = _run_both("d2l_seeded.py")
    _close(real_out, our_out)
