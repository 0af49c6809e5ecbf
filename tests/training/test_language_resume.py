"""Resuming a language model (``fit_language_model(resume=)``) and its evaluation: a run of N
epochs equals, bit for bit, a run of k epochs saved, loaded and resumed to N (sequential and
random minibatches, SGD and Adam, after Ctrl-C too); ``evaluate_language_model`` is d2l's
perplexity with the state carried, checked against a hand-written loop."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import ndgrad
from ndgrad import nn
from ndgrad.training import FitCallback, TrainingStopped
from ndgrad.training import language as lm

TOKENS = 1500


@pytest.fixture(scope="module")
def corpus():
    return lm.load_text_corpus("time-machine", TOKENS)


def settings(model: str, optimizer: str, random_iter: bool, epochs: int):
    hyper = lm.language_hyperparameters(model, epochs=epochs, batch_size=6, optimizer=optimizer,
                                        lr=1.0 if optimizer == "sgd" else 0.01)  # fmt: skip
    text = lm.TextSettings(num_steps=8, max_tokens=TOKENS, use_random_iter=random_iter)
    return hyper, text


def weights(result) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in result.checkpoint.model_state.items()}


@pytest.mark.parametrize(
    ("model", "optimizer", "random_iter"),
    [("rnn", "sgd", False), ("gru", "adam", True), ("lstm", "adam", False)],
)
def test_k_epochs_resumed_to_n_equal_n_epochs_bit_for_bit(corpus, tmp_path, model, optimizer,
                                                         random_iter):  # fmt: skip
    tokens, vocab = corpus
    spec = lm.LanguageModelSpec(model, len(vocab), 12)
    hyper, text = settings(model, optimizer, random_iter, 4)
    full = lm.fit_language_model(spec, tokens, vocab, hyper, text, seed=5)
    first = lm.fit_language_model(spec, tokens, vocab, replace(hyper, epochs=1), text, seed=5)
    path = lm.save_language_checkpoint(first.checkpoint, tmp_path / "first.ndgrad")
    kept = lm.load_language_checkpoint(path)  # through the file: what --resume reads
    more = lm.fit_language_model(spec, tokens, vocab, replace(hyper, epochs=3), text, seed=5,
                                 resume=kept)  # fmt: skip
    assert more.history.perplexity == full.history.perplexity  # exact, every epoch
    assert more.checkpoint.hyperparameters.epochs == 4
    a, b = weights(full), weights(more)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    if optimizer == "adam":
        steps = [float(s["step"]) for s in more.checkpoint.optimizer_state["state"].values()]
        assert steps[0] == float(full.checkpoint.optimizer_state["state"][0]["step"])


def test_without_the_replayed_offsets_the_runs_would_differ(corpus):
    """The check above has teeth: epoch 2 drawn with epoch 1's offsets is another epoch."""
    tokens, vocab = corpus
    spec = lm.LanguageModelSpec("rnn", len(vocab), 12)
    hyper, text = settings("rnn", "sgd", True, 2)
    full = lm.fit_language_model(spec, tokens, vocab, hyper, text, seed=5)
    first = lm.fit_language_model(spec, tokens, vocab, replace(hyper, epochs=1), text, seed=5)
    fresh = replace(first.checkpoint, history=lm.LanguageHistory())  # no epochs to replay
    other = lm.fit_language_model(spec, tokens, vocab, replace(hyper, epochs=1), text, seed=5,
                                  resume=fresh)  # fmt: skip
    assert other.history.perplexity[0] != full.history.perplexity[1]


class _CtrlC(FitCallback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_epoch_end(self, stats) -> None:
        if stats.epoch == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_last_epoch_and_resume_finishes_the_run(corpus):
    tokens, vocab = corpus
    spec = lm.LanguageModelSpec("gru", len(vocab), 12)
    hyper, text = settings("gru", "adam", False, 3)
    full = lm.fit_language_model(spec, tokens, vocab, hyper, text, seed=1)
    with pytest.raises(TrainingStopped, match="interrupted after epoch 2") as info:
        lm.fit_language_model(spec, tokens, vocab, hyper, text, seed=1, callback=_CtrlC(2))
    kept = info.value.checkpoint
    assert info.value.reason == "interrupted" and kept.history.epochs == 2
    more = lm.fit_language_model(spec, tokens, vocab, replace(hyper, epochs=1), text, seed=1,
                                 resume=kept)  # fmt: skip
    assert more.history.perplexity == full.history.perplexity


def test_resume_refuses_another_network_dataset_vocabulary_or_optimizer(corpus):
    tokens, vocab = corpus
    spec = lm.LanguageModelSpec("rnn", len(vocab), 12)
    hyper, text = settings("rnn", "sgd", False, 1)
    kept = lm.fit_language_model(spec, tokens, vocab, hyper, text).checkpoint
    cases = [
        (replace(spec, model="gru"), hyper, "holds rnn on time-machine, not gru"),
        (replace(spec, num_hiddens=8), hyper, "network"),
        (spec, replace(hyper, optimizer="adam"), "trained with sgd"),
    ]
    for other, h, message in cases:
        with pytest.raises(ValueError, match=message):
            lm.fit_language_model(other, tokens, vocab, h, text, resume=kept)
    other_vocab = lm.vocab_from_tokens(["<unk>", *reversed(vocab.idx_to_token[1:])])
    with pytest.raises(ValueError, match="another vocabulary"):
        lm.fit_language_model(spec, tokens, other_vocab, hyper, text, resume=kept)


def test_evaluation_is_the_perplexity_with_the_state_carried(corpus):
    tokens, vocab = corpus
    ndgrad.manual_seed(0)
    model = lm.build_language_model(lm.LanguageModelSpec("lstm", len(vocab), 10))
    result = lm.evaluate_language_model(model, tokens, 4, 7)
    # by hand: 4 rows of the corpus, 7 columns at a time, one state through them all
    n = (len(tokens) - 1) // 4 * 4
    X = np.array(tokens[:n]).reshape(4, -1)
    Y = np.array(tokens[1 : n + 1]).reshape(4, -1)
    state, logp = model.begin_state(4), []
    with ndgrad.no_grad():
        for i in range(0, X.shape[1], 7):
            out, state = model(ndgrad.tensor(X[:, i : i + 7]), state)
            lsm = nn.functional.log_softmax(out, dim=1).numpy()
            y = Y[:, i : i + 7].T.reshape(-1)
            logp.extend(lsm[np.arange(len(y)), y])
    assert result.tokens == n == len(logp)
    assert math.isclose(result.loss, -float(np.mean(logp)), rel_tol=1e-6)
    assert math.isclose(result.perplexity, math.exp(result.loss), rel_tol=1e-12)
    assert 20 < result.perplexity < 40  # an untrained model: about uniform over 28 characters
