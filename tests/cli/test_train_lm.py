"""``ndgrad train rnn|gru|lstm --data time-machine`` and ``ndgrad predict CKPT --prefix``: a tiny
run trains (perplexity falls), checkpoints, plots and generates; d2l's predict_ch8 on a net
whose answers are known; ``--resume`` (k epochs resumed to N equal N epochs, bit for bit),
Ctrl-C, ``evaluate``; the usage errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ndgrad
from ndgrad import nn
from ndgrad.cli import _register_subcommands, app
from ndgrad.datasets.text import Vocab
from ndgrad.training import language as lm

_register_subcommands()
runner = CliRunner()
TINY = ("--epochs", "6", "--hidden", "32", "--max-tokens", "3000", "--batch-size", "8",
        "--num-steps", "12", "--lr", "2", "--optimizer", "sgd")  # fmt: skip


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def needs(model: str):
    name = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}[model]
    return pytest.mark.skipif(not hasattr(nn, name), reason=f"ndgrad.nn.{name} not built yet")


def assert_one_line_error(result, command: str, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ndgrad {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module", params=[
    pytest.param("rnn", marks=needs("rnn")),
    pytest.param("gru", marks=needs("gru")),
    pytest.param("lstm", marks=needs("lstm")),
])  # fmt: skip
def lm_run(request, tmp_path_factory) -> tuple[str, Path, dict]:
    out = tmp_path_factory.mktemp(request.param)
    result = invoke("train", request.param, "--data", "time-machine", *TINY, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return request.param, out, json.loads(result.stdout)


def test_tiny_run_trains_plots_and_checkpoints(lm_run):
    model, out, payload = lm_run
    ppl = payload["history"]["train perplexity"]
    print(model, [round(p, 2) for p in ppl])
    assert len(ppl) == 6
    assert ppl[-1] < ppl[0] and ppl[-1] < 0.8 * ppl[0]  # clearly falling
    assert ppl[0] < 28 * 1.5  # about uniform over the 28 characters, or better, at the start
    assert payload["metrics"]["train"]["perplexity"] == ppl[-1]
    assert payload["sample"].startswith("time traveller") and len(payload["sample"]) == 64
    assert payload["hyperparameters"]["num_steps"] == 12
    assert payload["hyperparameters"]["clip"] == 1.0
    for name in ("checkpoint.ndgrad", "perplexity.png", "perplexity.svg"):
        assert (out / name).is_file()
    ckpt = lm.load_language_checkpoint(out / "checkpoint.ndgrad")
    assert ckpt.spec == lm.LanguageModelSpec(model, 28, 32)
    assert ckpt.history.perplexity == ppl
    assert ckpt.vocab.idx_to_token[:3] == ["<unk>", " ", "e"]


def test_predict_continues_the_prefix(lm_run):
    model, out, payload = lm_run
    result = invoke("predict", out / "checkpoint.ndgrad", "--prefix", "time traveller")
    assert result.exit_code == 0, result.stderr
    text = result.stdout.rstrip("\n")
    assert text == payload["sample"]  # the default --num-preds is 50, as d2l's
    result = invoke("predict", out / "checkpoint.ndgrad", "--prefix", "the", "--num-preds", "7")
    assert result.exit_code == 0 and len(result.stdout.rstrip("\n")) == 10
    assert set(result.stdout.rstrip("\n")) <= set(" abcdefghijklmnopqrstuvwxyz")


@needs("gru")
def test_random_iter_and_library_round_trip(tmp_path):
    corpus, vocab = lm.load_text_corpus("time-machine", 1500)
    hyper = lm.language_hyperparameters("gru", epochs=2, batch_size=4, lr=1.0, optimizer="sgd")
    text = lm.TextSettings(num_steps=10, max_tokens=1500, use_random_iter=True)
    result = lm.fit_language_model(lm.LanguageModelSpec("gru", len(vocab), 16), corpus, vocab,
                                   hyper, text, seed=3)  # fmt: skip
    path = lm.save_language_checkpoint(result.checkpoint, tmp_path / "c.ndgrad")
    again = lm.load_language_checkpoint(path)
    assert again.text == text and again.seed == 3
    model = again.build_model()
    assert lm.predict_ch8("time", 15, model, again.vocab) == lm.predict_ch8(
        "time", 15, result.model, vocab
    )
    X = ndgrad.tensor([[1, 2, 3], [4, 5, 6]])
    scores, state = model(X, model.begin_state(batch_size=2))
    assert scores.shape == (6, 28) and state.shape == (1, 2, 16)


# ----------------------------------------------------------------------------- predict_ch8
class NextIndex(nn.Module):
    """A fake language model: after index i it predicts i + 1 (mod the vocabulary), and its
    state counts the steps it has seen (what predict_ch8 must thread through)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size, self.calls = size, []

    def begin_state(self, batch_size: int = 1):
        return ndgrad.zeros((1, batch_size, 1))

    def forward(self, inputs, state):
        self.calls.append((inputs.shape, float(state.sum())))
        nxt = (inputs.T.reshape(-1) + 1) % self.size
        return nn.functional.one_hot(nxt, self.size).float(), state + 1


def test_predict_ch8_warms_up_on_the_prefix_then_feeds_back():
    vocab = Vocab(list("abcde"))  # <unk>, a, b, c, d, e (ties keep first-seen order)
    net = NextIndex(len(vocab))
    assert lm.predict_ch8("ab", 6, net, vocab) == "ab" + "cde" + "<unk>" + "ab"
    assert len(net.calls) == 1 + 6  # one warm-up step (the prefix's last char is fed next)
    assert all(shape == (1, 1) for shape, _ in net.calls)
    assert [s for _, s in net.calls] == list(range(7))  # the state is carried
    with pytest.raises(ValueError, match="prefix must not be empty"):
        lm.predict_ch8("", 3, net, vocab)


def test_vocab_round_trip_and_specs():
    vocab = Vocab(list("hello world"))
    assert lm.vocab_from_tokens(vocab.idx_to_token).token_to_idx == vocab.token_to_idx
    with pytest.raises(ValueError, match="'<unk>'"):
        lm.vocab_from_tokens(["a", "<unk>"])
    with pytest.raises(ValueError, match="unknown language model 'cnn'"):
        lm.LanguageModelSpec("cnn", 28)
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        lm.TextSettings(num_steps=0)
    with pytest.raises(ValueError, match="make no minibatch"):
        lm.fit_language_model(lm.LanguageModelSpec("rnn", 28, 4), list(range(20)),
                              Vocab(list("abcdefghijklmnopqrstuvwxyz ")),
                              lm.language_hyperparameters("rnn", epochs=1))  # fmt: skip


# ----------------------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def table_checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("softmax")
    result = invoke("train", "softmax", "--data", "digits", "--epochs", "1", "--no-plots",
                    "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out / "checkpoint.ndgrad"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("gru", "--data", "digits"), ("character-level language model", "time-machine")),
        (("softmax", "--data", "time-machine"), ("text dataset", "rnn, gru, lstm")),
        (("softmax", "--data", "digits", "--clip", "2"), ("--clip is for the language models",)),
        (("lstm", "--data", "time-machine", "--hidden", "32,16"), ("one width",)),
        (
            ("rnn", "--data", "time-machine", "--num-steps", "0"),
            ("--num-steps must be at least 1",),
        ),
        (("rnn", "--data", "time-machine", "--lr", "-1"), ("--lr must be a positive number",)),
        (("rnn", "--data", "time-machine", "--max-tokens", "0"), ("--max-tokens must be",)),
    ],
)
def test_train_errors(args, fragments):
    assert_one_line_error(invoke("train", *args), "train", *fragments)


def test_predict_errors(table_checkpoint, tmp_path):
    assert_one_line_error(invoke("predict", table_checkpoint, "--prefix", "time"), "predict",
                          "not a language-model checkpoint")  # fmt: skip
    assert_one_line_error(invoke("predict", table_checkpoint), "predict", "missing --input")
    assert_one_line_error(invoke("predict", tmp_path / "none.ndgrad", "--prefix", "x"),
                          "predict", "checkpoint not found")  # fmt: skip


@needs("rnn")
def test_predict_errors_of_a_language_checkpoint(tmp_path):
    result = invoke("train", "rnn", "--data", "time-machine", "--epochs", "1", "--hidden", "8",
                    "--max-tokens", "500", "--batch-size", "4", "--num-steps", "8", "--no-plots",
                    "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    ckpt = tmp_path / "checkpoint.ndgrad"
    assert_one_line_error(invoke("predict", ckpt, "--prefix", "Time!"), "predict",
                          "unknown: '!T'")  # fmt: skip
    assert_one_line_error(invoke("predict", ckpt, "--input", ckpt), "predict",
                          "language-model checkpoint", "--prefix")  # fmt: skip
    assert_one_line_error(invoke("evaluate", ckpt, "--data", "digits"), "evaluate",
                          "holds a language model (rnn)", "--data time-machine")  # fmt: skip
    assert_one_line_error(invoke("predict", ckpt, "--prefix", "a", "--num-preds", "-1"),
                          "predict", "--num-preds must be non-negative")  # fmt: skip


# ----------------------------------------------------------------------------- resume, evaluate
SMALL = ("--hidden", "12", "--max-tokens", "1500", "--batch-size", "6", "--num-steps", "8",
         "--no-plots")  # fmt: skip


def history_rows(folder: Path) -> list[list[str]]:
    with open(folder / "history.csv", newline="") as handle:
        return [row[:2] for row in csv.reader(handle)]  # epoch, perplexity (not the speed)


@needs("gru")
@pytest.mark.parametrize("random_iter", [False, True])
def test_resume_continues_bit_for_bit(tmp_path, random_iter):
    flags = (*SMALL, "--optimizer", "adam", "--lr", "0.01", "--seed", "4",
             *(("--random-iter",) if random_iter else ()))  # fmt: skip
    full, first, more = tmp_path / "full", tmp_path / "first", tmp_path / "more"
    for epochs, out in (("3", full), ("1", first)):
        result = invoke("train", "gru", "--data", "time-machine", "--epochs", epochs, *flags,
                        "--out", out)  # fmt: skip
        assert result.exit_code == 0, result.stderr
    # the checkpoint's settings (seed, steps, batch size, lr, random iteration) carry over
    result = invoke("train", "gru", "--data", "time-machine", "--epochs", "2", "--resume", first,
                    "--out", more, "--no-plots", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"resuming {first} after epoch 1" in result.stderr
    payload = json.loads(result.stdout)
    assert payload["hyperparameters"]["epochs"] == 3
    assert payload["hyperparameters"]["use_random_iter"] is random_iter
    assert history_rows(more) == history_rows(full)  # every perplexity, to the last digit
    a = lm.load_language_checkpoint(full / "checkpoint.ndgrad")
    b = lm.load_language_checkpoint(more / "checkpoint.ndgrad")
    assert all((a.model_state[k].numpy() == b.model_state[k].numpy()).all() for k in a.model_state)
    assert b.history.perplexity == a.history.perplexity and b.seconds > 0


@needs("rnn")
def test_resume_errors(tmp_path):
    result = invoke("train", "rnn", "--data", "time-machine", "--epochs", "1", *SMALL,
                    "--out", tmp_path / "run")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = tmp_path / "run"
    cases = [
        (("gru",), "holds rnn on time-machine, not gru on time-machine"),
        (("rnn", "--optimizer", "adam"), "trained with sgd"),
        (("rnn", "--hidden", "16"), "--hidden cannot change"),
        (("rnn", "--max-tokens", "900"), "--max-tokens cannot change"),
        (("rnn", "--random-iter"), "--random-iter cannot change"),
    ]
    for args, message in cases:
        line = invoke("train", args[0], "--data", "time-machine", *args[1:], "--resume", run,
                      "--out", tmp_path / "x")  # fmt: skip
        assert_one_line_error(line, "train", message)
    assert_one_line_error(invoke("train", "rnn", "--data", "time-machine", "--resume",
                                 tmp_path / "none.ndgrad"), "train", "not found")  # fmt: skip


def test_resume_of_a_feature_model_checkpoint_is_refused(table_checkpoint):
    assert_one_line_error(invoke("train", "gru", "--data", "time-machine", "--resume",
                                 table_checkpoint), "train",
                          "not a language-model checkpoint")  # fmt: skip


@needs("lstm")
def test_evaluate_reports_the_perplexity_over_the_corpus(tmp_path):
    result = invoke("train", "lstm", "--data", "time-machine", "--epochs", "2", *SMALL,
                    "--optimizer", "adam", "--lr", "0.01", "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    result = invoke("evaluate", tmp_path, "--data", "time-machine", "--json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["dataset"] == "time-machine" and payload["model"] == "lstm"
    assert (payload["batch_size"], payload["num_steps"]) == (6, 8)
    ckpt = lm.load_language_checkpoint(tmp_path / "checkpoint.ndgrad")
    corpus, _ = lm.load_text_corpus("time-machine", 1500)
    expected = lm.evaluate_language_model(ckpt.build_model(), corpus, 6, 8)
    assert payload["metrics"] == expected.to_dict()
    assert payload["metrics"]["tokens"] == (1500 - 1) // 6 * 6
    # trained two epochs: better than uniform, near the last training perplexity
    assert 1 < payload["metrics"]["perplexity"] < 28
    assert payload["metrics"]["perplexity"] < 1.5 * ckpt.history.perplexity[-1]
    text = invoke("evaluate", tmp_path)  # the dataset it trained on by default
    assert text.exit_code == 0, text.stderr
    assert f"perplexity {expected.perplexity:.4f}" in text.stdout


@needs("rnn")
def test_ctrl_c_saves_a_checkpoint_that_resume_continues(tmp_path):
    out = tmp_path / "run"
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ndgrad", "train", "rnn", "--data", "time-machine", "--epochs",
         "100000", *SMALL, "--out", str(out)],
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
    first = lm.load_language_checkpoint(out / "checkpoint.ndgrad")
    done = first.history.epochs
    assert done >= 1 and len((out / "history.csv").read_text().splitlines()) == 1 + done
    result = invoke("train", "rnn", "--data", "time-machine", "--epochs", "1", "--resume",
                    out / "checkpoint.ndgrad", "--out", tmp_path / "more", "--no-plots")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    again = lm.load_language_checkpoint(tmp_path / "more" / "checkpoint.ndgrad")
    assert again.history.epochs == done + 1
    assert again.history.perplexity[:done] == first.history.perplexity
