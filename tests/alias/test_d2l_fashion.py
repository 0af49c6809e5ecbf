"""d2l.FashionMNIST on local files in torchvision's layout: the images come through
ndgrad.vision's FashionMNIST, Resize and ToTensor as Pillow makes them, and d2l's Trainer
trains d2l.SoftmaxRegression on them (``ndgrad run``, unchanged d2l code)."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from tests.alias.conftest import PROGRAMS, ndgrad_cli

from ndgrad.datasets.fashion_mnist import write_idx

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("d2l") is None, reason="needs d2l (pip install d2l==1.0.3 --no-deps)"
)

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
           "bag", "ankle boot"]  # fmt: skip


def test_d2l_fashion_mnist_data_module_and_trainer_on_local_files(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    # Class c is an image of brightness about 25c plus noise: something to learn.
    labels = {"train": rng.integers(0, 10, 64).astype(np.uint8),
              "t10k": rng.integers(0, 10, 32).astype(np.uint8)}  # fmt: skip
    images = {k: (25 * v[:, None, None] + rng.integers(0, 30, (len(v), 28, 28))).astype(np.uint8)
              for k, v in labels.items()}  # fmt: skip
    for split in images:
        write_idx(raw / f"{split}-images-idx3-ubyte.gz", images[split])
        write_idx(raw / f"{split}-labels-idx1-ubyte.gz", labels[split])
    work = tmp_path / "work"  # d2l's root is ../data
    work.mkdir()
    for name in ("d2l_fashion.py", "_standins.py"):
        shutil.copy(PROGRAMS / name, work / name)
    result = ndgrad_cli("run", str(work / "d2l_fashion.py"), cwd=work, timeout=240)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["torch"] == "ndgrad" and out["sizes"] == [64, 32]
    shape, dtype, first_two = out["X"]
    assert shape == [16, 1, 32, 32] and dtype == "torch.float32"
    # torchvision's Resize on a PIL image is Pillow's antialiased bilinear resize; ToTensor / 255
    for image, got in zip(images["t10k"][:2], first_two, strict=True):
        resized = Image.fromarray(image, mode="L").resize((32, 32), Image.BILINEAR)
        expected = np.asarray(resized, dtype=np.float32)[None] / 255
        np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=1e-7)
    assert out["y"] == labels["t10k"][:16].tolist()
    assert out["labels"] == [CLASSES[i] for i in labels["t10k"][:4]]
    board = out["board"]
    assert set(board) >= {"train_loss", "val_loss", "val_acc"}
    assert all(np.isfinite(v).all() for v in board.values())
    assert board["train_loss"][-1] < board["train_loss"][0]  # it learns the training images
