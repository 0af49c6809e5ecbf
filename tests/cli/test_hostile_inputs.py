"""Hostile inputs to train / evaluate / predict end in one line on stderr, never a traceback
or an "internal error" (issue 14): devices and FIFOs, huge declared shapes, object arrays,
over-long CSV fields, models too large to build, inconsistent checkpoints, a full stdout."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import ndgrad
from ndgrad.cli import _register_subcommands, app

_register_subcommands()
runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[2] / "src")


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, code: int = 2) -> str:
    output = result.stdout + result.stderr
    assert result.exit_code == code, (result.exit_code, output)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and ": error: " in lines[0], result.stderr
    assert "Traceback" not in output and "internal error" not in output
    return lines[0]


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("iris run")  # a space in the path, on purpose
    result = invoke("train", "softmax", "--data", "iris", "--epochs", "1", "--out", out,
                    "--no-plots")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


def _npy_with_header(path: Path, header: str, data: bytes = b"") -> Path:
    text = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()
                     + data)  # fmt: skip
    return path


def _inputs(tmp: Path) -> dict[str, tuple[Path | str, str]]:
    """name -> (the --input, a phrase the error must contain)."""

    def w(name: str, data: bytes | str) -> Path:
        path = tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    obj = tmp / "object.npy"
    np.save(obj, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp / "no-rows.npy", np.zeros((0, 4)))
    np.save(tmp / "strings.npy", np.array([["a", "b", "c", "d"]]))
    (tmp / "folder.csv").mkdir()
    cases: dict[str, tuple[Path | str, str]] = {
        "empty csv": (w("empty.csv", b""), "no rows"),
        "binary garbage": (w("garbage.csv", bytes(range(256)) * 8), "not a UTF-8"),
        "latin-1 csv": (w("latin.csv", "1,2,3,\xe9\n".encode("latin-1")), "not a UTF-8"),
        "ragged rows": (w("ragged.csv", "1,2,3,4\n1,2\n"), "different numbers of columns"),
        "nan cell": (w("nan.csv", "1,2,nan,4\n"), "row 1, column 3"),
        "inf cell": (w("inf.csv", "1,2,3,-inf\n"), "row 1, column 4"),
        "beyond float32": (w("big.csv", "1e308,1,1,1\n"), "float32"),
        "overflowing scale": (w("big32.csv", "3e38,3e38,3e38,3e38\n"), "no finite prediction"),
        "field over 128 KiB": (
            w("wide.csv", "1," + "9" * (200 << 10) + ",1,1\n"),
            "row 1, column 2",
        ),  # fmt: skip
        "header only": (w("header.csv", "a,b,c,d\n"), "no data rows"),
        "wrong width": (w("three.csv", "1,2,3\n"), "expects 4 columns"),
        "object npy": (obj, "dtype object"),
        "string npy": (tmp / "strings.npy", "numeric"),
        "zero-row npy": (tmp / "no-rows.npy", "no rows"),
        "empty npy": (w("empty.npy", b""), "not a readable .npy"),
        "garbage npy": (w("garbage.npy", b"\x93NUMPY\x07\x00junk"), "not a readable .npy"),
        "huge declared shape": (
            _npy_with_header(
                tmp / "huge.npy",
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 4), }",
                b"\0" * 64,
            ),  # fmt: skip
            "declares shape [1000000000000, 4]",
        ),
        "a folder": (tmp / "folder.csv", "is a folder"),
        "/dev/zero": ("/dev/zero", "not a regular file"),
        "missing": (tmp / "nope.csv", "not found"),
        "3 GiB sparse csv": (tmp / "sparse.csv", "the limit is 256 MiB"),
    }
    with open(tmp / "sparse.csv", "wb") as stream:  # no disk used: a hole
        stream.truncate(3 << 30)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp / "fifo.csv")
        cases["a FIFO"] = (tmp / "fifo.csv", "not a regular file")
    return cases


CASES = [
    "empty csv", "binary garbage", "latin-1 csv", "ragged rows", "nan cell", "inf cell",
    "beyond float32", "overflowing scale", "field over 128 KiB", "header only", "wrong width",
    "object npy", "string npy", "zero-row npy", "empty npy", "garbage npy",
    "huge declared shape", "a folder", "/dev/zero", "missing", "a FIFO", "3 GiB sparse csv",
]  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return _inputs(tmp_path_factory.mktemp("hostile ü"))


@pytest.mark.parametrize("name", CASES)
def test_predict_refuses_hostile_input_in_one_line(iris_run, inputs, name):
    if name not in inputs:
        pytest.skip("no FIFOs here")
    path, phrase = inputs[name]
    line = one_line_error(invoke("predict", iris_run, "--input", path))
    assert line.startswith("ndgrad predict: error: ") and phrase in line, line


def test_object_npy_is_never_unpickled(iris_run, tmp_path, monkeypatch):
    import pickle

    def no_unpickling(*args, **kwargs):
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    path = tmp_path / "o.npy"
    np.save(path, np.array([object()] * 4, dtype=object).reshape(1, 4), allow_pickle=True)
    assert "dtype object" in one_line_error(invoke("predict", iris_run, "--input", path))


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("mlp", "--data", "iris", "--hidden", "1000000000"), "--hidden gives a model of"),
        (("mlp", "--data", "iris", "--hidden", "100000,100000"), "GiB"),
        (("rnn", "--data", "time-machine", "--hidden", "1000000000"), "the limit is 2 GiB"),
        (("softmax", "--data", "iris", "--batch-size", "0"), "--batch-size"),
        (("softmax", "--data", "iris", "--batch-size", "-3"), "--batch-size"),
        (("softmax", "--data", "iris", "--epochs", "0"), "--epochs"),
        (("softmax", "--data", "iris", "--lr", "nan"), "--lr"),
        (("softmax", "--data", "iris", "--lr", "inf"), "--lr"),
        (("softmax", "--data", "iris", "--lr", "-0.1"), "--lr"),
        (("softmax", "--data", "iris", "--val-split", "nan"), "--val-split"),
        (("softmax", "--data", "iris", "--weight-decay", "inf"), "--weight-decay"),
        (("softmax", "--data", "iris", "--seed", "-1"), "--seed must lie in"),
        (("softmax", "--data", "iris", "--seed", str(2**40)), "--seed must lie in"),
        (("softmax", "--data", "iris", "--resume", "/dev/zero"), "device or pipe"),
        (("lenet", "--data", "fashion-mnist", "--data-dir", "/dev/zero"), "does not exist"),
    ],
)
def test_train_refuses_impossible_settings(tmp_path, args, phrase):
    line = one_line_error(invoke("train", *args, "--out", tmp_path / "run", "--no-plots"))
    assert line.startswith("ndgrad train: error: ") and phrase in line, line
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_fashion_mnist_gzip_bomb_is_one_line(tmp_path):
    header = b"\x00\x00\x08\x03" + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):  # fmt: skip
        with gzip.open(tmp_path / name, "wb") as stream:
            stream.write(header)
            for _ in range(64):  # 64 MiB of zeros, past the 47 MB the header declares
                stream.write(bytes(1 << 20))
    line = one_line_error(invoke("train", "lenet", "--data", "fashion-mnist", "--data-dir",
                                 tmp_path, "--epochs", "1", "--out", tmp_path / "run"))  # fmt: skip
    assert line.startswith("ndgrad train: error: ") and "inflates past" in line, line


def test_evaluate_refuses_a_device(tmp_path):
    assert "device or pipe" in one_line_error(invoke("evaluate", "/dev/zero"))


def test_class_names_shorter_than_outputs_is_an_error_naming_both(iris_run, tmp_path):
    # scikit-learn's choice (classification_report with too few target_names raises): a
    # checkpoint whose names do not match its outputs is refused, not guessed at
    data = ndgrad.load(iris_run / "checkpoint.ndgrad")
    data["class_names"] = data["class_names"][:2]
    ndgrad.save(data, tmp_path / "short.ndgrad")
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n")
    for args in (("predict", tmp_path / "short.ndgrad", "--input", rows),
                 ("evaluate", tmp_path / "short.ndgrad")):  # fmt: skip
        line = one_line_error(invoke(*args))
        assert "names 2 classes" in line and "3 outputs" in line, line


def test_predict_refuses_endless_generation(tmp_path):
    # checked before the checkpoint is read: no language model needs training here
    line = one_line_error(invoke("predict", tmp_path, "--prefix", "the", "--num-preds", 10**9))
    assert "--num-preds must be at most 100,000" in line, line


def test_predict_out_a_folder_is_one_line(iris_run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n")
    assert "is a folder" in one_line_error(invoke("predict", iris_run, "-i", rows, "-o", tmp_path))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_predict_out_dev_full_is_one_line(iris_run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("5.1,3.5,1.4,0.2\n")
    one_line_error(invoke("predict", iris_run, "-i", rows, "-o", "/dev/full"))


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONWARNINGS": "default"}
    env.pop("NDGRAD_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "ndgrad", *args], capture_output=True,
                          text=True, timeout=120, env=env, stdin=subprocess.DEVNULL,
                          **kwargs)  # fmt: skip


def test_subprocess_huge_inputs_print_no_runtime_warning(iris_run, tmp_path):
    # finite values that overflow once scaled: one line, no NumPy RuntimeWarning on stderr
    rows = tmp_path / "rows.csv"
    rows.write_text("3e38,-3e38,3e38,3e38\n1e30,1e30,1e30,1e30\n")
    result = _run("predict", str(iris_run), "--input", str(rows))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndgrad predict: error: "), result.stderr
    assert "Warning" not in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_subprocess_evaluate_to_dev_full_is_one_line(iris_run):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "ndgrad", "evaluate", str(iris_run)],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": SRC},
        )  # fmt: skip
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ndgrad"), result.stderr
    assert "Traceback" not in result.stderr
