"""d2l chapter 3 linear regression, from scratch and concise, as a d2l reader writes it.

Each program is the book's code in a function whose ``torch`` is a parameter: the test runs it
with ``import ndgrad as torch`` and with real PyTorch. With each library's own random numbers
both must recover ``w = [2, -3.4]``, ``b = 4.2`` within 0.01; fed the same data, the same
initial weights and the same batch order, the two runs must agree number by number.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch as real_torch

import ndgrad

TRUE_W = [2, -3.4]
TRUE_B = 4.2


# ----------------------------------------------------------------------------- the book's code
def synthetic_data(torch, w, b, num_examples):
    """Generate y = Xw + b + noise."""
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def from_scratch(torch, features=None, labels=None, w_init=None, shuffle_seed=None):
    """d2l 3.2 (linear regression implementation from scratch)."""
    true_w = torch.tensor(TRUE_W)
    true_b = TRUE_B
    if features is None:
        features, labels = synthetic_data(torch, true_w, true_b, 1000)
    rand = random.Random(shuffle_seed)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        # The examples are read at random, in no particular order
        rand.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    if w_init is None:
        w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    else:
        w = torch.tensor(w_init, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def linreg(X, w, b):
        """The linear regression model."""
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        """Squared loss."""
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        """Minibatch stochastic gradient descent."""
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    batch_size = 10
    lr = 0.03
    num_epochs = 3
    net = linreg
    loss = squared_loss
    epoch_losses = []
    for _epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)  # Minibatch loss in `X` and `y`
            # Compute gradient on `l` with respect to [`w`, `b`]
            l.sum().backward()
            sgd([w, b], lr, batch_size)  # Update parameters using their gradient
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            epoch_losses.append(float(train_l.mean()))
    return w, b, epoch_losses, true_w, true_b


def concise(torch, nn, data, features=None, labels=None, w_init=None, is_train=True):
    """d2l 3.3 (concise implementation of linear regression)."""
    true_w = torch.tensor(TRUE_W)
    true_b = TRUE_B
    if features is None:
        features, labels = synthetic_data(torch, true_w, true_b, 1000)

    def load_array(data_arrays, batch_size, is_train=True):
        """Construct a PyTorch data iterator."""
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    batch_size = 10
    data_iter = load_array((features, labels), batch_size, is_train)
    next(iter(data_iter))

    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    if w_init is not None:
        net[0].weight.data.copy_(torch.tensor(w_init).reshape(1, 2))

    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)

    num_epochs = 3
    epoch_losses = []
    for _epoch in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)
        epoch_losses.append(f"{l:f}")
    w = net[0].weight.data
    b = net[0].bias.data
    return w, b, [float(s) for s in epoch_losses], true_w, true_b


# ----------------------------------------------------------------------------- the checks
def _check_recovered(w, b, true_w, true_b):
    w_err = (true_w - w.reshape(true_w.shape)).abs().max().item()
    b_err = abs(true_b - b.item())
    assert w_err < 0.01, f"w = {w.reshape(-1).tolist()}"
    assert b_err < 0.01, f"b = {b.item()}"
    return w.reshape(-1).tolist(), b.item()


@pytest.fixture
def shared_data():
    rng = np.random.default_rng(2024)
    X = rng.standard_normal((1000, 2)).astype(np.float32)
    y = (X @ np.array(TRUE_W, np.float32) + np.float32(TRUE_B)).astype(np.float32)
    y = (y + rng.normal(0, 0.01, 1000).astype(np.float32)).reshape(-1, 1)
    w_init = (rng.normal(0, 0.01, (2, 1))).astype(np.float32)
    return X, y, w_init


def test_from_scratch_recovers_w_and_b_with_each_librarys_rng():
    ndgrad.manual_seed(0)
    w, b, losses, true_w, true_b = from_scratch(ndgrad, shuffle_seed=0)
    assert w.dtype == b.dtype == ndgrad.float32
    _check_recovered(w, b, true_w, true_b)
    real_torch.manual_seed(0)
    tw, tb, tlosses, ttrue_w, ttrue_b = from_scratch(real_torch, shuffle_seed=0)
    _check_recovered(tw, tb, ttrue_w, ttrue_b)
    # both end at the noise floor (E[noise²]/2 = 5e-5) and the same solution
    assert losses[-1] == pytest.approx(tlosses[-1], abs=2e-5)
    assert losses[-1] < 1e-4 and losses[0] > losses[-1]
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), atol=5e-3)


def test_from_scratch_same_data_same_numbers_as_torch(shared_data):
    X, y, w_init = shared_data
    w, b, losses, _, _ = from_scratch(
        ndgrad, ndgrad.tensor(X), ndgrad.tensor(y), w_init.tolist(), shuffle_seed=7
    )
    tw, tb, tlosses, _, _ = from_scratch(
        real_torch, real_torch.tensor(X), real_torch.tensor(y), w_init.tolist(), shuffle_seed=7
    )
    np.testing.assert_allclose(losses, tlosses, rtol=1e-4)
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(b.detach().numpy(), tb.detach().numpy(), rtol=0, atol=1e-5)


def test_concise_recovers_w_and_b_with_each_librarys_rng():
    from ndgrad import nn
    from ndgrad.utils import data

    ndgrad.manual_seed(1)
    w, b, losses, true_w, true_b = concise(ndgrad, nn, data)
    assert w.shape == (1, 2) and b.shape == (1,)
    _check_recovered(w, b, true_w, true_b)
    real_torch.manual_seed(1)
    tw, tb, tlosses, ttrue_w, ttrue_b = concise(real_torch, real_torch.nn, real_torch.utils.data)
    _check_recovered(tw, tb, ttrue_w, ttrue_b)
    # MSELoss has no 1/2: the noise floor is 1e-4
    assert losses[-1] == pytest.approx(tlosses[-1], abs=4e-5)
    np.testing.assert_allclose(w.numpy(), tw.numpy(), atol=5e-3)


def test_concise_same_data_same_numbers_as_torch(shared_data):
    from ndgrad import nn
    from ndgrad.utils import data

    X, y, w_init = shared_data
    w, b, losses, _, _ = concise(
        ndgrad, nn, data, ndgrad.tensor(X), ndgrad.tensor(y), w_init.tolist(), is_train=False
    )
    tw, tb, tlosses, _, _ = concise(
        real_torch,
        real_torch.nn,
        real_torch.utils.data,
        real_torch.tensor(X),
        real_torch.tensor(y),
        w_init.tolist(),
        is_train=False,
    )
    np.testing.assert_allclose(losses, tlosses, rtol=1e-3)  # printed with 6 decimals
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(b.numpy(), tb.numpy(), rtol=0, atol=1e-5)
