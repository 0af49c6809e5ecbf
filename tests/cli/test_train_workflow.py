"""``ndgrad train`` / ``evaluate`` / ``predict`` as a workflow: no silent wrong values, no lost
work (issues 14 and 15). Small data and few epochs: the whole file runs in seconds."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.metrics import confusion_matrix
from typer.testing import CliRunner

import ndgrad
from ndgrad import training
from ndgrad.cli import _register_subcommands, app
from ndgrad.cli import train as train_cli

_register_subcommands()
runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[2] / "src")


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if "error" in line]
    assert len(lines) == 1 and lines[0].startswith("ndgrad "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("iris")
    result = invoke("train", "softmax", "--data", "iris", "--epochs", "3", "--out", out,
                    "--no-plots")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("diabetes")
    result = invoke("train", "linreg", "--data", "diabetes", "--epochs", "3", "--out", out,
                    "--no-plots")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


# ----------------------------------------------------------------------------- predict's CSVs
def test_bom_without_header_keeps_every_row(diabetes_run, tmp_path):
    rows = load_diabetes().data[:4]
    plain = tmp_path / "plain.csv"
    np.savetxt(plain, rows, delimiter=",")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    a = invoke("predict", diabetes_run, "--input", plain)
    b = invoke("predict", diabetes_run, "--input", bom)
    assert a.exit_code == 0 and b.exit_code == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout and len(b.stdout.strip().splitlines()) == 1 + 4
    assert "header" not in b.stderr


def test_header_only_when_no_cell_is_a_number(diabetes_run, tmp_path):
    rows = load_diabetes().data[:3]
    names = load_diabetes().feature_names
    good = tmp_path / "named.csv"
    np.savetxt(good, rows, delimiter=",", header=",".join(names), comments="")
    result = invoke("predict", diabetes_run, "--input", good)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 + 3
    assert "header" in result.stderr and "file row 2" in result.stderr
    # a first row with one bad cell is data with a typo, not a header
    typo = tmp_path / "typo.csv"
    typo.write_text("0.1,x" + ",0.1" * 8 + "\n" + ",".join(["0.1"] * 10) + "\n")
    line = one_line_error(invoke("predict", diabetes_run, "--input", typo))
    assert "row 1, column 2" in line and "not a number" in line


def test_header_is_checked_against_the_feature_names(diabetes_run, tmp_path):
    rows = load_diabetes().data[:2]
    names = list(load_diabetes().feature_names)
    shuffled = tmp_path / "shuffled.csv"
    np.savetxt(shuffled, rows, delimiter=",", header=",".join(names[::-1]), comments="")
    line = one_line_error(invoke("predict", diabetes_run, "--input", shuffled))
    assert "another order" in line
    other = tmp_path / "other.csv"
    np.savetxt(other, rows, delimiter=",", header=",".join(f"f{i}" for i in range(10)),
               comments="")  # fmt: skip
    result = invoke("predict", diabetes_run, "--input", other)
    assert result.exit_code == 0 and "warning" in result.stderr and "'f0'" in result.stderr


def test_values_beyond_float32_are_a_usage_error(diabetes_run, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(",".join(["0"] * 10) + "\n" + ",".join(["0"] * 3 + ["1e300"] + ["0"] * 6))
    line = one_line_error(invoke("predict", diabetes_run, "--input", path))
    assert "row 2, column 4" in line and "float32" in line
    # within float32, but not once standardised (the features' std is about 0.05)
    path.write_text(",".join(["0"] * 10) + "\n" + ",".join(["3e38"] * 10) + "\n")
    line = one_line_error(invoke("predict", diabetes_run, "--input", path))
    assert "row 2 gives no finite prediction" in line and "1 of 2 rows" in line


def test_raw_rows_far_outside_the_training_range_are_flagged(diabetes_run, tmp_path):
    path = tmp_path / "raw.csv"
    np.savetxt(path, load_diabetes(scaled=False).data[:5], delimiter=",")
    result = invoke("predict", diabetes_run, "--input", path)
    assert result.exit_code == 0
    assert "warning: 5 of 5 rows lie far outside the training range" in result.stderr
    scaled = tmp_path / "scaled.csv"
    np.savetxt(scaled, load_diabetes().data[:5], delimiter=",")
    assert invoke("predict", diabetes_run, "--input", scaled).stderr == ""


# ----------------------------------------------------------------------------- train's checks
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["linreg", "--data", "diabetes", "--val-split", "0.001"], "1 validation rows"),
        (["softmax", "--data", "iris", "--val-split", "0.01"], "one of each class"),
        (["softmax", "--data", "iris", "--val-split", "0.995"], "training"),
    ],
)
def test_splits_that_leave_a_part_empty_are_refused(args, fragment, tmp_path):
    line = one_line_error(invoke("train", *args, "--out", tmp_path / "o"))
    assert line.startswith("ndgrad train: error: --val-split") and fragment in line
    assert not (tmp_path / "o").exists()


def test_split_is_scikit_learns_stratified_split():
    from sklearn.model_selection import train_test_split

    split = training.load_split("iris", 0.2, seed=3)
    y = load_iris().target
    _, expected = train_test_split(np.arange(150), test_size=30, random_state=3, stratify=y)
    np.testing.assert_array_equal(split.y_val, y[np.sort(expected)])
    assert np.bincount(split.y_val).tolist() == [10, 10, 10]


def test_diverging_run_stops_non_zero_and_keeps_the_last_finite_checkpoint(tmp_path):
    result = invoke("train", "linreg", "--data", "diabetes", "--lr", "10", "--out", tmp_path / "a")
    line = one_line_error(result, code=1)
    assert "diverged" in line and "nothing saved" in line
    assert not (tmp_path / "a").exists()  # the folder made for the run is not left empty
    result = invoke("train", "linreg", "--data", "diabetes", "--lr", "0.5", "--epochs", "5",
                    "--out", tmp_path / "b", "--no-plots")  # fmt: skip
    line = one_line_error(result, code=1)
    assert "epoch 2" in line and "last finite checkpoint (after 1 epoch)" in line
    ckpt = training.load_checkpoint(tmp_path / "b" / "checkpoint.ndgrad")
    assert ckpt.history.epochs == 1 and np.isfinite(ckpt.train_metrics["loss"])
    assert (tmp_path / "b" / "history.csv").read_text().count("\n") == 2


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_is_checked_before_training(where, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker if where == "file" else blocker / "sub"
    line = one_line_error(invoke("train", "softmax", "--data", "iris", "--out", out))
    assert line.startswith(f"ndgrad train: error: --out {out}")
    assert "epoch" not in line


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_out_is_refused_before_training(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = one_line_error(invoke("train", "softmax", "--data", "iris", "--out", locked))
        assert "cannot write" in line
    finally:
        locked.chmod(0o700)


def test_failed_write_keeps_the_model_in_a_temporary_folder(tmp_path, monkeypatch):
    out = tmp_path / "full"
    real = training.save_checkpoint

    def disk_full(ckpt, path):
        if Path(path).parent == out:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(ckpt, path)

    monkeypatch.setattr(training, "save_checkpoint", disk_full)
    result = invoke("train", "softmax", "--data", "iris", "--epochs", "1", "--out", out)
    line = one_line_error(result, code=1)
    assert "No space left on device" in line and "kept in" in line
    kept = Path(line.rsplit("kept in ", 1)[1])
    try:
        assert training.load_checkpoint(kept).history.epochs == 1
    finally:
        for f in kept.parent.iterdir():
            f.unlink()
        kept.parent.rmdir()


def test_runs_never_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert invoke("train", "softmax", "--data", "iris", "--epochs", "1",
                      "--no-plots").exit_code == 0  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "softmax-iris",
        "softmax-iris-2",
    ]
    out = tmp_path / "runs" / "softmax-iris"
    line = one_line_error(invoke("train", "softmax", "--data", "iris", "--out", out))
    assert "already holds a run" in line and "--force" in line
    result = invoke("train", "softmax", "--data", "iris", "--epochs", "2", "--out", out,
                    "--force", "--no-plots")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert training.load_checkpoint(out / "checkpoint.ndgrad").history.epochs == 2


def test_header_history_csv_and_labelled_losses(tmp_path):
    result = invoke("train", "linreg", "--data", "diabetes", "--epochs", "2", "--batch-size",
                    "8", "--seed", "4", "--out", tmp_path, "--no-plots")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    head = result.stdout.splitlines()[:3]
    assert "353 training / 89 validation rows" in head[0] and "seed 4" in head[0]
    assert head[1].startswith("optimizer sgd, lr 0.01, batch size 8, epochs 2")
    assert "standardised" in head[2]
    assert "loss (standardised)" in result.stdout and "MSE (target units²)" in result.stdout
    with open(tmp_path / "history.csv") as handle:
        table = list(csv.DictReader(handle))
    ckpt = training.load_checkpoint(tmp_path / "checkpoint.ndgrad")
    assert [float(r["train loss (epoch end)"]) for r in table] == ckpt.history.train_loss
    assert [int(r["epoch"]) for r in table] == [1, 2]
    assert list(table[0]) == ["epoch", "train loss (epoch end)", "validation loss", "train r2",
                              "validation r2"]  # fmt: skip


def test_tiny_losses_use_scientific_notation():
    assert train_cli._num(3.2e-7) == "3.200e-07" and train_cli._num(0.25) == "0.2500"
    assert train_cli._num(0.0) == "0.0000"


def test_help_shows_every_default():
    result = invoke("train", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for fragment in ("default: 0.2", "default: per model", "Defaults per model", "linreg: 60",
                     "rnn: 150", "default: runs/MODEL-DATA", "--force", "--resume"):  # fmt: skip
        assert fragment in text, fragment


def test_ctrl_c_saves_a_checkpoint_and_resume_continues_it(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ndgrad", "train", "softmax", "--data", "digits", "--epochs",
         "10000", "--optimizer", "adam", "--lr", "0.01", "--out", str(out), "--no-plots"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # a pytest-xdist worker ignores SIGINT, and a child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        for line in proc.stdout:
            if line.startswith("epoch"):
                proc.send_signal(signal.SIGINT)
                break
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and f"--resume {out / 'checkpoint.ndgrad'}" in err
    first = training.load_checkpoint(out / "checkpoint.ndgrad")
    done = first.history.epochs
    assert done >= 1 and len((out / "history.csv").read_text().splitlines()) == 1 + done
    steps = first.optimizer_state["state"][0]["step"]
    result = invoke("train", "softmax", "--data", "digits", "--epochs", "2", "--resume", out,
                    "--out", tmp_path / "more", "--json", "--no-plots")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"resuming {out} after epoch {done}" in result.stderr
    again = training.load_checkpoint(tmp_path / "more" / "checkpoint.ndgrad")
    assert again.history.epochs == done + 2
    assert again.history.train_loss[:done] == first.history.train_loss
    batches = -(-1437 // 32)  # minibatches of 32 per epoch over the 1437 training rows
    assert float(again.optimizer_state["state"][0]["step"]) == float(steps) + 2 * batches
    line = one_line_error(invoke("train", "mlp", "--data", "digits", "--resume", out))
    assert "holds softmax on digits" in line


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_takes_a_run_folder_and_reports_per_class(iris_run):
    result = invoke("evaluate", iris_run, "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    ckpt = training.load_checkpoint(iris_run / "checkpoint.ndgrad")
    split = training.load_split("iris", ckpt.val_split, ckpt.seed)
    pred = ckpt.predict(ckpt.build_model(), split.X_val).classes
    assert payload["confusion_matrix"] == confusion_matrix(split.y_val, pred).tolist()
    assert payload["labels"] == ["setosa", "versicolor", "virginica"]
    report = payload["classification_report"]
    assert report["accuracy"] == pytest.approx(payload["metrics"]["validation"]["accuracy"])
    text = invoke("evaluate", iris_run / "checkpoint.ndgrad").stdout
    assert "confusion matrix" in text and "precision" in text and "virginica" in text
    assert "softmax on iris" in text  # the title is the model, not a path cut mid-word


def test_evaluate_regression_has_no_class_report(diabetes_run):
    result = invoke("evaluate", diabetes_run, "--json")
    assert result.exit_code == 0, result.stderr
    assert "confusion_matrix" not in json.loads(result.stdout)


# ----------------------------------------------------------------------------- language models
def test_language_model_header_history_and_out_check(tmp_path):
    tiny = ["--epochs", "2", "--max-tokens", "2000", "--num-steps", "5", "--hidden", "8",
            "--batch-size", "8", "--no-plots"]  # fmt: skip
    result = invoke("train", "rnn", "--data", "time-machine", *tiny, "--out", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("rnn on time-machine: 2,000 characters")
    assert "epochs 2" in result.stdout.splitlines()[1]
    with open(tmp_path / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["1", "2"] and "train perplexity" in rows[0]
    line = one_line_error(invoke("train", "rnn", "--data", "time-machine", *tiny, "--out",
                                 tmp_path))  # fmt: skip
    assert "already holds a run" in line
    blocker = tmp_path / "history.csv"
    line = one_line_error(invoke("train", "gru", "--data", "time-machine", *tiny, "--out",
                                 blocker))  # fmt: skip
    assert "is a file" in line


def test_language_model_divergence_is_reported(monkeypatch):
    corpus, vocab = training.language.load_text_corpus("time-machine", 500)
    spec = training.language.LanguageModelSpec("rnn", len(vocab), 8)
    hyper = training.language.language_hyperparameters("rnn", epochs=3, batch_size=4)
    calls = {"n": 0}
    real = ndgrad.nn.CrossEntropyLoss.forward

    def poisoned(self, *args):  # the loss turns NaN in the second epoch
        calls["n"] += 1
        loss = real(self, *args)
        return loss * float("nan") if calls["n"] > 20 else loss

    monkeypatch.setattr(ndgrad.nn.CrossEntropyLoss, "forward", poisoned)
    text = training.language.TextSettings(num_steps=5, max_tokens=500)
    with pytest.raises(training.TrainingStopped, match="diverged") as info:
        training.language.fit_language_model(spec, corpus, vocab, hyper, text)
    assert info.value.reason == "diverged"
    kept = info.value.checkpoint
    assert kept is None or np.isfinite(kept.history.perplexity).all()
