"""The language-model loop against d2l's PyTorch code (RNNModel, train_epoch_ch8, grad_clipping
by clip_grad_norm_): same weights and minibatches give the same perplexities and weights."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from ndgrad import nn
from ndgrad.datasets.text import SeqDataLoader, load_corpus_time_machine
from ndgrad.training import language as lm

torch = pytest.importorskip("torch")


def torch_rnn_model(kind: str, vocab_size: int, hidden: int):
    layer = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind]

    class RNNModel(torch.nn.Module):  # d2l 8.6, as the book writes it
        def __init__(self):
            super().__init__()
            self.rnn = layer(vocab_size, hidden)
            self.linear = torch.nn.Linear(hidden, vocab_size)

        def forward(self, inputs, state):
            X = torch.nn.functional.one_hot(inputs.T.long(), vocab_size).to(torch.float32)
            Y, state = self.rnn(X, state)
            return self.linear(Y.reshape((-1, Y.shape[-1]))), state

        def begin_state(self, batch_size):
            z = torch.zeros((1, batch_size, hidden))
            return (z, z.clone()) if kind == "lstm" else z

    return RNNModel()


def run_both(monkeypatch, kind, use_random_iter, *, epochs=2, hidden=16, tokens=600, batch=4,
             steps=10, seed=5, optimizer="sgd", lr=1.0):  # fmt: skip
    """Trains ndgrad's language model and d2l's on PyTorch from the same weights over the same
    minibatches; returns both results."""
    if not hasattr(nn, {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}[kind]):
        pytest.skip(f"ndgrad.nn has no {kind.upper()} yet")
    corpus, vocab = load_corpus_time_machine(tokens)
    torch.manual_seed(0)
    theirs = torch_rnn_model(kind, len(vocab), hidden)
    start = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}

    real_build = lm.build_language_model

    def build_with_torch_weights(spec):
        import ndgrad

        model = real_build(spec)
        model.load_state_dict({k: ndgrad.tensor(v) for k, v in start.items()})
        return model

    monkeypatch.setattr(lm, "build_language_model", build_with_torch_weights)
    hyper = lm.language_hyperparameters(kind, epochs=epochs, batch_size=batch, lr=lr,
                                        optimizer=optimizer)  # fmt: skip
    text = lm.TextSettings(num_steps=steps, max_tokens=tokens, use_random_iter=use_random_iter)
    ours = lm.fit_language_model(lm.LanguageModelSpec(kind, len(vocab), hidden), corpus, vocab,
                                 hyper, text, seed=seed)  # fmt: skip

    # d2l's train_ch8 on PyTorch, over the same minibatches (same offsets: same seed)
    loader = SeqDataLoader(batch, steps, use_random_iter, corpus=corpus, vocab=vocab,
                           rng=random.Random(seed))  # fmt: skip
    updater = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(
        theirs.parameters(), lr=lr
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    perplexities = []
    for _ in range(epochs):
        state, total, n = None, 0.0, 0
        for X, Y in loader:
            X, Y = torch.from_numpy(X.numpy()), torch.from_numpy(Y.numpy())
            if state is None or use_random_iter:
                state = theirs.begin_state(X.shape[0])
            elif isinstance(state, tuple):
                state = tuple(s.detach() for s in state)
            else:
                state = state.detach()
            y = Y.T.reshape(-1)
            y_hat, state = theirs(X, state)
            loss = loss_fn(y_hat, y.long()).mean()
            updater.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
            updater.step()
            total += loss.item() * y.numel()
            n += y.numel()
        perplexities.append(math.exp(total / n))
    return ours, theirs, perplexities


@pytest.mark.parametrize("use_random_iter", [False, True])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_training_matches_d2l_on_torch(kind, use_random_iter, monkeypatch):
    ours, theirs, perplexities = run_both(monkeypatch, kind, use_random_iter)
    np.testing.assert_allclose(ours.history.perplexity, perplexities, rtol=1e-4)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.model.state_dict()[name].numpy(), value.numpy(),
                                   rtol=1e-3, atol=1e-4, err_msg=name)  # fmt: skip


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_gru_perplexity_curve_follows_torch_within_2_percent(optimizer, monkeypatch):
    lr = 1.0 if optimizer == "sgd" else 0.01
    ours, _, perplexities = run_both(monkeypatch, "gru", False, epochs=15, hidden=32,
                                     tokens=1200, batch=8, steps=12, optimizer=optimizer,
                                     lr=lr)  # fmt: skip
    print(optimizer, [round(p, 3) for p in ours.history.perplexity])
    assert perplexities[-1] < 0.7 * perplexities[0]  # it learned something
    np.testing.assert_allclose(ours.history.perplexity, perplexities, rtol=0.02)
