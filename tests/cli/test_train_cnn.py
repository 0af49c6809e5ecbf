"""``ndgrad train lenet`` / ``resnet``: image CNNs on flat pixel rows, their checkpoints
(weights, batch-norm buffers, spec), ``evaluate`` and ``predict``."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

import ndgrad
from ndgrad import nn, training
from ndgrad.cli import _register_subcommands, app
from ndgrad.datasets.fashion_mnist import write_idx

_register_subcommands()
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def digits() -> training.Split:
    return training.load_split("digits", 0.2, 0)


# ----------------------------------------------------------------------------- networks
def test_lenet_is_d2ls_lenet_behind_unflatten_and_upsample():
    spec = training.ModelSpec("lenet", 64, 10)
    net = training.build_model(spec)
    kinds = [type(m).__name__ for m in net]
    assert kinds[:3] == ["Unflatten", "Upsample", "Conv2d"]
    assert kinds.count("Conv2d") == 2 and kinds.count("AvgPool2d") == 2
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [120, 84, 10]
    assert net[1].size == (28, 28) and net[1].mode == "bilinear"
    assert tuple(net(ndgrad.zeros(3, 64)).shape) == (3, 10)
    # 28x28 images go in without upsampling
    net28 = training.build_model(training.ModelSpec("lenet", 784, 10))
    assert "Upsample" not in [type(m).__name__ for m in net28]
    assert tuple(net28(ndgrad.zeros(2, 784)).shape) == (2, 10)


def test_resnet_has_residual_blocks_with_batch_norm():
    net = training.build_model(training.ModelSpec("resnet", 64, 10))
    assert any(isinstance(m, training.models.Residual) for m in net)
    keys = net.state_dict().keys()
    assert any(k.endswith("running_mean") for k in keys)
    assert any(k.endswith("num_batches_tracked") for k in keys)
    assert tuple(net(ndgrad.zeros(2, 64)).shape) == (2, 10)


def test_non_square_features_are_refused(digits):
    with pytest.raises(ValueError, match="not a square number"):
        training.ModelSpec("lenet", 30, 3)
    wine = training.load_split("wine", 0.2, 0)
    with pytest.raises(ValueError, match="'wine' has 13 features, which is not a square"):
        training.ModelSpec.for_split("resnet", wine)
    diabetes = training.load_split("diabetes", 0.2, 0)
    with pytest.raises(ValueError, match="regression set"):
        training.ModelSpec.for_split("lenet", diabetes)


def test_cli_refuses_a_non_square_dataset_in_one_line(tmp_path):
    result = invoke("train", "lenet", "--data", "wine", "--out", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("ndgrad train: error: ")
    assert "not a square number" in result.stderr and "Traceback" not in result.stderr


# ----------------------------------------------------------------------------- training
def test_lenet_trains_and_round_trips(digits, tmp_path):
    spec = training.ModelSpec.for_split("lenet", digits)
    hyper = training.hyperparameters("lenet", "digits", epochs=2)
    result = training.fit(spec, digits, hyper)
    assert result.metrics["validation"]["accuracy"] >= 0.7
    path = training.save_checkpoint(result.checkpoint, tmp_path / "ckpt.ndgrad")
    ckpt = training.load_checkpoint(path)
    assert ckpt.spec == spec and ckpt.spec.to_dict()["model"] == "lenet"
    rows = digits.X_val[:50]
    before = result.checkpoint.predict(result.model.eval(), rows)
    after = ckpt.predict(ckpt.build_model(), rows)
    np.testing.assert_array_equal(before.classes, after.classes)
    np.testing.assert_allclose(before.probs, after.probs, rtol=0, atol=0)
    metrics = training.evaluate(ckpt.build_model(), ckpt.spec, ckpt.scaling, digits)
    assert metrics["validation"] == result.metrics["validation"]


def test_resnet_trains_one_epoch_and_restores_batch_norm_buffers(digits, tmp_path):
    spec = training.ModelSpec.for_split("resnet", digits)
    result = training.fit(spec, digits, training.hyperparameters("resnet", "digits", epochs=1))
    state = result.model.state_dict()
    bn = [k for k in state if k.endswith("running_var")]
    assert bn and not np.allclose(state[bn[0]].numpy(), 1.0)  # the buffers were updated
    path = training.save_checkpoint(result.checkpoint, tmp_path / "ckpt.ndgrad")
    ckpt = training.load_checkpoint(path)
    restored = ckpt.build_model().state_dict()
    assert restored.keys() == state.keys()
    for key in state:
        np.testing.assert_array_equal(restored[key].numpy(), state[key].numpy())
    rows = digits.X_val[:40]
    before = result.checkpoint.predict(result.model.eval(), rows)
    after = ckpt.predict(ckpt.build_model(), rows)
    np.testing.assert_array_equal(before.probs, after.probs)


def test_cli_lenet_evaluate_and_predict(tmp_path, digits):
    out = tmp_path / "run"
    result = invoke("train", "lenet", "--data", "digits", "--epochs", "2", "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["model"] == "lenet" and payload["metrics"]["validation"]["accuracy"] >= 0.7
    assert (out / "loss.png").exists() and (out / "confusion.png").exists()
    ckpt = ndgrad.load(out / "checkpoint.ndgrad")
    assert ckpt["spec"]["model"] == "lenet" and ckpt["spec"]["in_features"] == 64
    evaluated = invoke("evaluate", out / "checkpoint.ndgrad", "--json")
    assert evaluated.exit_code == 0, evaluated.stderr
    got = json.loads(evaluated.stdout)["metrics"]["validation"]
    assert got == payload["metrics"]["validation"]
    csv_path = tmp_path / "rows.csv"
    np.savetxt(csv_path, digits.X_val[:5], delimiter=",")
    predicted = invoke("predict", out / "checkpoint.ndgrad", "--input", csv_path)
    assert predicted.exit_code == 0, predicted.stderr
    lines = predicted.stdout.strip().splitlines()
    assert lines[0] == "row,class,label,probability" and len(lines) == 6


def test_resnet_on_fashion_mnist_from_a_data_dir(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "fmnist"
    data.mkdir()
    for prefix, n in (("train", 60), ("t10k", 20)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):  # a bright bar whose row encodes the class
            images[i, 2 + 2 * label, :] = 255
        write_idx(data / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(data / f"{prefix}-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    out = tmp_path / "run"
    result = invoke("train", "resnet", "--data", "fashion-mnist", "--data-dir", data, "--epochs",
                    "2", "--out", out, "--no-plots", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "test" in json.loads(result.stdout)["metrics"]
    np.save(tmp_path / "images.npy", images[:3])
    predicted = invoke("predict", out / "checkpoint.ndgrad", "--input", tmp_path / "images.npy")
    assert predicted.exit_code == 0, predicted.stderr
    assert len(predicted.stdout.strip().splitlines()) == 4


def test_lenet_defaults_reach_097_on_digits(digits):
    start = time.perf_counter()
    result = training.train("lenet", "digits")
    seconds = time.perf_counter() - start
    accuracy = result.metrics["validation"]["accuracy"]
    print(f"lenet/digits defaults: accuracy {accuracy:.4f} in {seconds:.1f}s")
    assert accuracy >= 0.97
