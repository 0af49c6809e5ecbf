"""d2l 1.0.3's chapter 7-11 classes (``from d2l import torch as d2l``) on ndgrad: each program
in programs/ (d2l_cnn.py, d2l_rnn.py, d2l_attention.py) runs unchanged under the real PyTorch
and under ``ndgrad run``, and every number it prints must agree (outputs, losses, gradients,
weights after training, predictions)."""

from __future__ import annotations

import importlib.util
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from tests.alias.conftest import PROGRAMS, ndgrad_cli, run

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("d2l") is None or importlib.util.find_spec("torch") is None,
    reason="needs d2l (pip install d2l==1.0.3 --no-deps) and the real PyTorch to compare with",
)

# Float32 through a few layers and training steps: both libraries round differently.
RTOL, ATOL = 1e-4, 1e-5

_cache: dict[str, tuple[dict, dict]] = {}


def both_runs(name: str) -> tuple[dict, dict]:
    """programs/<name>.py run under the real PyTorch and under ``ndgrad run`` (once each)."""
    if name not in _cache:
        program = str(PROGRAMS / f"{name}.py")
        with ThreadPoolExecutor(2) as pool:  # the two interpreters start side by side
            real_job = pool.submit(run, [sys.executable, program], cwd=PROGRAMS, timeout=240)
            ours = ndgrad_cli("run", program, cwd=PROGRAMS, timeout=240)
            real = real_job.result()
        assert ours.returncode == 0, ours.stderr
        assert real.returncode == 0, real.stderr
        real_out, our_out = json.loads(real.stdout), json.loads(ours.stdout)
        assert real_out.pop("torch") == "torch" and our_out.pop("torch") == "ndgrad"
        assert real_out.keys() == our_out.keys()
        _cache[name] = real_out, our_out
    return _cache[name]


def close(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, str):  # printed as PyTorch prints them (torch.float32, torch.Size)
        assert a == b, path
    elif isinstance(a, list) and any(isinstance(x, (str, dict, list)) for x in a):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{path}[{i}]")
    else:
        np.testing.assert_allclose(
            np.asarray(b, float), np.asarray(a, float), rtol=RTOL, atol=ATOL, err_msg=path
        )


def check(program: str, key: str) -> dict:
    real, ours = both_runs(program)
    close(real[key], ours[key], key)
    return ours[key]


@pytest.mark.parametrize("key", ["corr2d", "lenet", "lenet_shapes", "residual", "residual_1x1", "resnext",
                                 "init_cnn", "layer_summary", "resnet18"])  # fmt: skip
def test_d2l_cnn_classes_match_pytorch(key):
    ours = check("d2l_cnn", key)
    if key == "residual_1x1":
        assert ours["shape"] == [4, 6, 3, 3]  # strides 2, channels 3 -> 6 through the 1x1 conv
    if key == "lenet":
        assert ours["board"]["train_loss"][-1] < ours["board"]["train_loss"][0]


@pytest.mark.parametrize("key", ["timemachine", "scratch", "rnn", "gru", "lstm", "grad_clipping",
                                 "seq2seq", "mt_seq2seq"])  # fmt: skip
def test_d2l_rnn_classes_match_pytorch(key):
    ours = check("d2l_rnn", key)
    if key in ("scratch", "rnn", "gru", "lstm"):
        assert ours["predict"].startswith("it has") and len(ours["predict"]) == 12
    if key == "mt_seq2seq":  # it learns its eight training pairs
        assert [bleu for _, bleu in ours["translations"]] == [1.0] * 4
    if key == "timemachine":
        assert len(ours["vocab"]) == 28 and ours["X_shape"][1] == 5


@pytest.mark.parametrize("key", ["masked_softmax", "sequence_mask", "masked_ce", "dot_product",
                                 "additive", "multihead", "positional", "transformer_encoder",
                                 "bahdanau", "transformer"])  # fmt: skip
def test_d2l_attention_classes_match_pytorch(key):
    ours = check("d2l_attention", key)
    if key == "transformer_encoder":
        assert ours["shape"] == [3, 5, 8]
