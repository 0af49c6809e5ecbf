"""``ndgrad train`` / ``evaluate`` / ``predict``: the accuracy targets, checkpoints, and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ndgrad
from ndgrad.cli import _register_subcommands, app
from ndgrad.datasets.fashion_mnist import write_idx
from ndgrad.training import load_split

_register_subcommands()
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def train_json(tmp_path: Path, *args: str) -> dict:
    result = invoke("train", *args, "--out", tmp_path, "--no-plots", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result, command: str, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ndgrad {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.stdout + result.stderr


# ----------------------------------------------------------------------------- targets
@pytest.fixture(scope="module")
def softmax_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("softmax")
    result = invoke("train", "softmax", "--data", "digits", "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


def test_softmax_on_digits_reaches_093(softmax_run):
    _, payload = softmax_run
    accuracy = payload["metrics"]["validation"]["accuracy"]
    print(f"softmax/digits test accuracy {accuracy:.4f}")
    assert accuracy >= 0.93


def test_mlp_on_digits_reaches_096(tmp_path):
    payload = train_json(tmp_path, "mlp", "--data", "digits")
    accuracy = payload["metrics"]["validation"]["accuracy"]
    print(f"mlp/digits test accuracy {accuracy:.4f}")
    assert payload["hyperparameters"]["optimizer"] == "adam"
    assert accuracy >= 0.96


def test_logistic_on_breast_cancer_reaches_095(tmp_path):
    payload = train_json(tmp_path, "logistic", "--data", "breast-cancer")
    accuracy = payload["metrics"]["validation"]["accuracy"]
    print(f"logistic/breast-cancer test accuracy {accuracy:.4f}")
    assert accuracy >= 0.95


def test_linreg_on_diabetes_matches_sklearn_r2(tmp_path):
    from sklearn.linear_model import LinearRegression

    payload = train_json(tmp_path, "linreg", "--data", "diabetes")
    split = load_split("diabetes", 0.2, 0)
    reference = LinearRegression().fit(split.X_train, split.y_train).score(split.X_val, split.y_val)
    r2 = payload["metrics"]["validation"]["r2"]
    print(f"linreg/diabetes R² {r2:.4f}, sklearn {reference:.4f}")
    assert abs(r2 - reference) <= 0.02


def test_linreg_recovers_synthetic_weights(tmp_path):
    train_json(tmp_path, "linreg", "--data", "synthetic")
    ckpt = ndgrad.load(tmp_path / "checkpoint.ndgrad")
    # The model sees standardised x and y; undo both to get the raw-scale weights.
    w = ckpt["model"]["0.weight"].numpy().reshape(-1)
    w_raw = w * ckpt["target_std"] / ckpt["feature_std"]
    np.testing.assert_allclose(w_raw, [2.0, -3.4], atol=0.02)


def test_mlp_regression_and_iris_wine_run(tmp_path):
    # one folder per run: a folder holding a checkpoint is not overwritten without --force
    payload = train_json(
        tmp_path / "mlp", "mlp", "--data", "diabetes", "--hidden", "16", "--epochs", "5"
    )
    assert "r2" in payload["metrics"]["validation"]
    payload = train_json(tmp_path / "iris", "softmax", "--data", "iris", "--optimizer", "adam",
                         "--lr", "0.05", "--weight-decay", "1e-4")  # fmt: skip
    assert payload["metrics"]["validation"]["accuracy"] >= 0.85
    payload = train_json(tmp_path / "wine", "softmax", "--data", "wine", "--epochs", "10")
    assert payload["metrics"]["validation"]["accuracy"] >= 0.85


def test_seed_makes_runs_reproducible(tmp_path):
    a = train_json(tmp_path / "a", "softmax", "--data", "iris", "--epochs", "3", "--seed", "5")
    b = train_json(tmp_path / "b", "softmax", "--data", "iris", "--epochs", "3", "--seed", "5")
    assert a["metrics"]["train"] == b["metrics"]["train"]


# ----------------------------------------------------------------------------- artefacts
def test_checkpoint_contents_and_plots(softmax_run):
    out, payload = softmax_run
    ckpt = ndgrad.load(out / "checkpoint.ndgrad")
    assert ckpt["spec"] == {
        "model": "softmax", "in_features": 64, "out_features": 10, "hidden": [],
        "task": "classification", "loss": "cross_entropy",
    }  # fmt: skip
    assert ckpt["dataset"] == "digits" and ckpt["class_names"] == [str(i) for i in range(10)]
    assert set(ckpt["model"]) == {"0.weight", "0.bias"}
    assert ckpt["feature_mean"].shape == (64,) and ckpt["feature_std"].shape == (64,)
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == 0.1
    assert ckpt["metrics"]["validation"]["accuracy"] == payload["metrics"]["validation"]["accuracy"]
    assert len(ckpt["history"]["train loss"]) == ckpt["hyperparameters"]["epochs"]
    for stem in ("loss", "metrics", "confusion", "predictions"):
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (out / f"{stem}.svg").read_bytes()[:2000]


def test_table_and_progress_are_printed(tmp_path):
    result = invoke("train", "softmax", "--data", "iris", "--epochs", "2", "--out", tmp_path,
                    "--no-plots")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "epoch 1/2" in result.stdout and "epoch 2/2" in result.stdout
    assert "val loss" in result.stdout and "accuracy" in result.stdout
    assert "validation" in result.stdout and "checkpoint.ndgrad" in result.stdout


def test_evaluate_reproduces_the_training_metrics(softmax_run):
    out, payload = softmax_run
    result = invoke("evaluate", out / "checkpoint.ndgrad", "--json")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)["metrics"]
    assert metrics["validation"]["accuracy"] == pytest.approx(
        payload["metrics"]["validation"]["accuracy"]
    )
    result = invoke("evaluate", out / "checkpoint.ndgrad", "--data", "digits")
    assert result.exit_code == 0 and "validation" in result.stdout


def test_predict_csv_with_header_and_npy(softmax_run, tmp_path):
    from sklearn.datasets import load_digits

    out, _ = softmax_run
    digits = load_digits()
    rows, labels = digits.data[:20], digits.target[:20]
    csv_path = tmp_path / "x.csv"
    header = ",".join(f"p{i}" for i in range(64))
    np.savetxt(csv_path, rows, delimiter=",", header=header, comments="")
    result = invoke("predict", out / "checkpoint.ndgrad", "--input", csv_path)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "row,class,label,probability" and len(lines) == 21
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert np.mean(predicted == labels) >= 0.9
    np.save(tmp_path / "x.npy", rows)
    target = tmp_path / "pred.csv"
    result = invoke("predict", out / "checkpoint.ndgrad", "--input", tmp_path / "x.npy",
                    "--output", target)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert target.read_text().strip().splitlines() == lines


def test_predict_regression_values(tmp_path):
    train_json(tmp_path, "linreg", "--data", "synthetic")
    (tmp_path / "x.csv").write_text("0,0\n1,1\n")
    result = invoke("predict", tmp_path / "checkpoint.ndgrad", "--input", tmp_path / "x.csv")
    assert result.exit_code == 0, result.stderr
    values = [float(line.split(",")[1]) for line in result.stdout.strip().splitlines()[1:]]
    np.testing.assert_allclose(values, [4.2, 4.2 + 2 - 3.4], atol=0.05)


def test_fashion_mnist_from_a_data_dir(tmp_path):
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
    payload = train_json(tmp_path / "run", "softmax", "--data", "fashion-mnist", "--data-dir",
                         data, "--epochs", "5", "--batch-size", "16")  # fmt: skip
    assert payload["metrics"]["test"]["accuracy"] >= 0.9
    ckpt = ndgrad.load(tmp_path / "run" / "checkpoint.ndgrad")
    assert ckpt["class_names"][0] == "T-shirt/top" and ckpt["spec"]["in_features"] == 784
    # predict takes images as they come ([n, 28, 28] .npy), flattened like the training rows
    np.save(tmp_path / "images.npy", images[:3])
    result = invoke("predict", tmp_path / "run" / "checkpoint.ndgrad", "--input",
                    tmp_path / "images.npy")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = [line.split(",") for line in result.stdout.strip().splitlines()[1:]]
    assert [int(r[1]) for r in rows] == labels[:3].tolist()
    assert rows[0][2] == "T-shirt/top"


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["train", "vgg", "--data", "digits"], ["unknown model 'vgg'", "linreg"]),
        (["train", "softmax", "--data", "imagenet"], ["unknown dataset 'imagenet'", "digits"]),
        (["train", "softmax", "--data", "digits", "--lr", "-0.1"], ["--lr must be a positive"]),
        (["train", "softmax", "--data", "digits", "--lr", "0"], ["--lr must be a positive"]),
        (["train", "softmax", "--data", "digits", "--epochs", "0"], ["--epochs must be"]),
        (["train", "softmax", "--data", "digits", "--batch-size", "0"], ["--batch-size"]),
        (["train", "softmax", "--data", "digits", "--optimizer", "rmsprop"], ["rmsprop"]),
        (["train", "softmax", "--data", "digits", "--weight-decay", "-1"], ["--weight-decay"]),
        (["train", "softmax", "--data", "digits", "--val-split", "1.5"], ["--val-split"]),
        (["train", "mlp", "--data", "digits", "--hidden", "64,x"], ["--hidden"]),
        (["train", "mlp", "--data", "digits", "--hidden", "0"], ["--hidden"]),
        (["train", "linreg", "--data", "digits"], ["regression dataset"]),
        (["train", "logistic", "--data", "iris"], ["needs 2 classes", "has 3"]),
        (["train", "softmax", "--data", "diabetes"], ["classification dataset"]),
        (["train", "softmax", "--data", "fashion-mnist", "--data-dir", "/nonexistent/dir"],
         ["does not exist"]),
    ],
)  # fmt: skip
def test_bad_train_input_is_one_line_exit_2(args, fragments, tmp_path):
    result = invoke(*args, "--out", tmp_path)
    assert_one_line_error(result, "train", *fragments)
    assert not (tmp_path / "checkpoint.ndgrad").exists()


def test_missing_fashion_mnist_files_in_data_dir(tmp_path):
    result = invoke("train", "softmax", "--data", "fashion-mnist", "--data-dir", tmp_path,
                    "--out", tmp_path / "o")  # fmt: skip
    assert_one_line_error(result, "train", "train-images-idx3-ubyte.gz")


def test_checkpoint_errors(tmp_path, softmax_run):
    out, _ = softmax_run
    good = out / "checkpoint.ndgrad"
    assert_one_line_error(invoke("evaluate", tmp_path / "nope.ndgrad"), "evaluate", "not found")
    truncated = tmp_path / "trunc.ndgrad"
    truncated.write_bytes(good.read_bytes()[:500])
    assert_one_line_error(invoke("evaluate", truncated), "evaluate", "trunc.ndgrad", "corrupt")
    foreign = tmp_path / "foreign.ndgrad"
    foreign.write_text("epoch,loss\n1,0.5\n")
    assert_one_line_error(invoke("predict", foreign, "--input", foreign), "predict",
                          "not an ndgrad checkpoint")  # fmt: skip
    other = tmp_path / "other.ndgrad"
    ndgrad.save({"weights": ndgrad.ones(3)}, other)
    assert_one_line_error(invoke("evaluate", other), "evaluate", "not a checkpoint written")
    assert_one_line_error(invoke("evaluate", good, "--data", "wine"), "evaluate", "64 features")
    assert_one_line_error(invoke("evaluate", good, "--data", "diabetes"), "evaluate")


def test_predict_input_errors(tmp_path, softmax_run):
    out, _ = softmax_run
    ckpt = out / "checkpoint.ndgrad"
    (tmp_path / "narrow.csv").write_text("1,2,3\n4,5,6\n")
    assert_one_line_error(invoke("predict", ckpt, "--input", tmp_path / "narrow.csv"),
                          "predict", "expects 64 columns", "has 3")  # fmt: skip
    (tmp_path / "ragged.csv").write_text(",".join(["1"] * 64) + "\n1,2\n")
    assert_one_line_error(invoke("predict", ckpt, "--input", tmp_path / "ragged.csv"),
                          "predict", "different numbers of columns")  # fmt: skip
    (tmp_path / "text.csv").write_text(",".join(["1"] * 64) + "\n" + ",".join(["a"] * 64) + "\n")
    assert_one_line_error(invoke("predict", ckpt, "--input", tmp_path / "text.csv"),
                          "predict", "row 2")  # fmt: skip
    (tmp_path / "empty.csv").write_text("")
    assert_one_line_error(invoke("predict", ckpt, "--input", tmp_path / "empty.csv"), "predict")
    np.save(tmp_path / "wide.npy", np.zeros((2, 65)))
    assert_one_line_error(invoke("predict", ckpt, "--input", tmp_path / "wide.npy"),
                          "predict", "has 65")  # fmt: skip
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_one_line_error(invoke("predict", ckpt, "--input", tmp_path / "obj.npy"), "predict")
    assert_one_line_error(invoke("predict", ckpt, "--input", tmp_path / "absent.csv"),
                          "predict", "not found")  # fmt: skip


def test_help_lists_every_command_and_errors_in_a_real_process(tmp_path):
    help_text = subprocess.run([sys.executable, "-m", "ndgrad", "--help"], capture_output=True,
                               text=True, check=True).stdout  # fmt: skip
    for command in ("tour", "train", "evaluate", "predict"):
        assert command in help_text
    proc = subprocess.run([sys.executable, "-m", "ndgrad", "train", "softmax", "--data", "digits",
                           "--lr", "-1", "--out", str(tmp_path)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["ndgrad train: error: --lr must be a positive "
                                                 "number, got -1.0"]  # fmt: skip
