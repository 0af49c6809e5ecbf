"""d2l chapter 9 (recurrent neural networks): the book's code on both frameworks.

The scratch RNN (``RNNModelScratch``: one-hot inputs, tanh recurrence, gradient clipping by
hand, minibatch SGD) and the concise ``RNNModel`` around ``nn.RNN``/``nn.GRU``/``nn.LSTM``
(d2l 9.6, 10.1-10.3), given the same weights drawn with NumPy, run one training step on the
same batch; outputs, states, losses, gradients, updated parameters and printed networks agree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from tests.side_by_side import assert_same, run_both

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

VOCAB, HIDDEN, STEPS, BATCH = 12, 16, 6, 3


def _batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(9)
    tokens = rng.integers(0, VOCAB, (BATCH, STEPS + 1))
    return tokens[:, :-1], tokens[:, 1:]


# ----------------------------------------------------------------------------- d2l 9.5
def scratch_program(fw: Any) -> list:
    torch, F = fw.torch, fw.F
    rng = np.random.default_rng(0)

    def get_params(vocab_size, num_hiddens, device=None):
        num_inputs = num_outputs = vocab_size

        def normal(shape):
            return torch.tensor(rng.standard_normal(shape).astype(np.float32)) * 0.01

        W_xh = normal((num_inputs, num_hiddens))
        W_hh = normal((num_hiddens, num_hiddens))
        b_h = torch.zeros(num_hiddens)
        W_hq = normal((num_hiddens, num_outputs))
        b_q = torch.zeros(num_outputs)
        params = [W_xh, W_hh, b_h, W_hq, b_q]
        for param in params:
            param.requires_grad_(True)
        return params

    def init_rnn_state(batch_size, num_hiddens, device=None):
        return (torch.zeros((batch_size, num_hiddens)),)

    def rnn(inputs, state, params):
        W_xh, W_hh, b_h, W_hq, b_q = params
        (H,) = state
        outputs = []
        for X in inputs:
            H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
            Y = torch.mm(H, W_hq) + b_q
            outputs.append(Y)
        return torch.cat(outputs, dim=0), (H,)

    class RNNModelScratch:
        def __init__(self, vocab_size, num_hiddens, get_params, init_state, forward_fn):
            self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
            self.params = get_params(vocab_size, num_hiddens)
            self.init_state, self.forward_fn = init_state, forward_fn

        def __call__(self, X, state):
            X = F.one_hot(X.T, self.vocab_size).type(torch.float32)
            return self.forward_fn(X, state, self.params)

        def begin_state(self, batch_size):
            return self.init_state(batch_size, self.num_hiddens)

    def grad_clipping(net, theta):
        params = net.params
        norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
        if norm > theta:
            for param in params:
                param.grad[:] *= theta / norm
        return norm

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    net = RNNModelScratch(VOCAB, HIDDEN, get_params, init_rnn_state, rnn)
    X, Y = (torch.tensor(a) for a in _batch())
    state = net.begin_state(X.shape[0])
    y_hat, new_state = net(X, state)
    loss = torch.nn.CrossEntropyLoss()
    y = Y.T.reshape(-1)
    l = loss(y_hat, y.long()).mean()  # noqa: E741 - d2l's name
    l.backward()
    norm = grad_clipping(net, 0.01)
    grads = [p.grad.clone() for p in net.params]
    sgd(net.params, 1.0, batch_size=1)
    return [y_hat.shape, y_hat, new_state[0], l, norm, grads, [p.detach() for p in net.params]]


def test_rnn_scratch_one_step():
    ours, ref = run_both(scratch_program)
    assert_same(ours, ref, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- d2l 9.6 / 10
def concise_program(fw: Any, layer: str, kwargs: dict) -> list:
    torch, nn, F = fw.torch, fw.nn, fw.F
    rng = np.random.default_rng(1)

    class RNNModel(nn.Module):
        """The RNN model (d2l 9.6)."""

        def __init__(self, rnn_layer, vocab_size, **kwargs):
            super().__init__(**kwargs)
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.num_hiddens = self.rnn.hidden_size
            if not self.rnn.bidirectional:
                self.num_directions = 1
                self.linear = nn.Linear(self.num_hiddens, self.vocab_size)
            else:
                self.num_directions = 2
                self.linear = nn.Linear(self.num_hiddens * 2, self.vocab_size)

        def forward(self, inputs, state):
            X = F.one_hot(inputs.T.long(), self.vocab_size)
            X = X.to(torch.float32)
            Y, state = self.rnn(X, state)
            output = self.linear(Y.reshape((-1, Y.shape[-1])))
            return output, state

        def begin_state(self, device, batch_size=1):
            if not isinstance(self.rnn, nn.LSTM):
                return torch.zeros(
                    (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens),
                    device=device,
                )
            return (
                torch.zeros(
                    (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens),
                    device=device,
                ),
                torch.zeros(
                    (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens),
                    device=device,
                ),
            )

    rnn_layer = getattr(nn, layer)(VOCAB, HIDDEN, **kwargs)
    net = RNNModel(rnn_layer, vocab_size=VOCAB)
    bound = 1 / math.sqrt(HIDDEN)
    with torch.no_grad():
        for p in net.parameters():  # PyTorch's order, one draw each
            p.copy_(torch.tensor(rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)))
    X, Y = (torch.tensor(a) for a in _batch())
    state = net.begin_state(device=None, batch_size=X.shape[0])
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(net.parameters(), lr=1.0)
    y_hat, new_state = net(X, state)
    l = loss(y_hat, Y.T.reshape(-1).long()).mean()  # noqa: E741 - d2l's name
    updater.zero_grad()
    l.backward()
    norm = nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    grads = {name: p.grad.clone() for name, p in net.named_parameters()}
    updater.step()
    y_hat2, _ = net(X, new_state)
    return [
        str(net),
        list(net.state_dict()),
        y_hat,
        new_state,
        l,
        norm,
        grads,
        y_hat2,
    ]


CONCISE = [
    ("RNN", {}),
    ("GRU", {}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2}),
    ("GRU", {"bidirectional": True}),
]


@pytest.mark.parametrize(("layer", "kwargs"), CONCISE, ids=[f"{a}-{b}" for a, b in CONCISE])
def test_concise_rnn_model_one_step(layer, kwargs):
    ours, ref = run_both(concise_program, layer, kwargs)
    assert_same(ours, ref, rtol=1e-5, atol=1e-6)
