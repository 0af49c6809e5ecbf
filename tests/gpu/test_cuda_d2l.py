"""d2l 1.0.3's GPU idioms under ``import torch`` -> ndgrad: ``try_gpu``, ``try_all_gpus``,
``gpu``, ``num_gpus`` and ``d2l.Trainer(num_gpus=1)`` moving the model and each batch.

Runs in a fresh interpreter (the alias needs a process where PyTorch is not imported) with the
fake CuPy registered as the cuda backend, or without any (the CPU answers).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from tests.alias.conftest import PROGRAMS, python

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("d2l") is None, reason="d2l is not installed (tests/alias)"
)
TESTS = Path(__file__).resolve().parents[1]

PROGRAM = """
import json, sys
sys.path[:0] = [{tests!r}, {programs!r}]
import numpy as np
import ndgrad
if {fake!r}:
    import fake_cupy
    from ndgrad import _backend
    _backend.register_backend("cuda", fake_cupy, fake_cupy.ndarray)
ndgrad.install_as_torch()
import _standins  # noqa: F401 - stand-ins for what d2l imports but this venv lacks
from d2l import torch as d2l
import torch

out = {{"try_gpu": str(d2l.try_gpu()), "try_all": [str(d) for d in d2l.try_all_gpus()],
       "gpu": str(d2l.gpu()), "num_gpus": d2l.num_gpus(), "try_gpu_9": str(d2l.try_gpu(9))}}
x = torch.ones(2, 3, device=d2l.try_gpu())
out["x_device"] = str(x.device)
data = d2l.SyntheticRegressionData(w=torch.tensor([2.0, -3.4]), b=4.2, num_train=1000, num_val=100)
model = d2l.LinearRegression(lr=0.03)
trainer = d2l.Trainer(max_epochs=3, num_gpus=1)
trainer.fit(model, data)
w, b = model.get_w_b()
out["w_device"] = str(w.device)
out["w"] = w.detach().cpu().reshape(-1).tolist()
print(json.dumps(out))
"""


@pytest.mark.parametrize("fake", [True, False], ids=["fake-cuda", "cpu-only"])
def test_d2l_gpu_idioms_under_the_alias(fake: bool) -> None:
    code = PROGRAM.format(tests=str(TESTS), programs=str(PROGRAMS), fake=fake)
    result = python(code, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    if fake:
        assert out["try_gpu"] == out["gpu"] == out["x_device"] == out["w_device"] == "cuda:0"
        assert out["try_all"] == ["cuda:0"] and out["num_gpus"] == 1
    else:
        assert out["try_gpu"] == out["x_device"] == out["w_device"] == "cpu"
        assert out["gpu"] == "cuda:0" and out["try_all"] == [] and out["num_gpus"] == 0
    assert out["try_gpu_9"] == "cpu"
    assert abs(out["w"][0] - 2.0) < 0.1 and abs(out["w"][1] + 3.4) < 0.1  # it learned
