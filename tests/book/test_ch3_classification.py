"""d2l softmax regression (from scratch and concise) and the one-hidden-layer MLP.

The book trains these on Fashion-MNIST; here they train on generated 1x4x4 "images" so the
tests need no download: four Gaussian classes for softmax regression, and an XOR-style set
(the class is two XORs of coordinate signs) that no linear model can fit for the MLP. The
programs are d2l's code with ``torch`` as a parameter, run with ndgrad and with PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch as real_torch

import ndgrad
from ndgrad import nn as nd_nn
from ndgrad.utils import data as nd_data


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # Tiny matrices: threads only cost time on a shared 2-core runner.
    before = real_torch.get_num_threads()
    real_torch.set_num_threads(1)
    yield
    real_torch.set_num_threads(before)


def gaussian_classes(n, seed):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(99).normal(0, 1.5, (4, 16))
    y = rng.integers(0, 4, n)
    X = centers[y] + rng.normal(0, 1, (n, 16))
    return X.astype(np.float32).reshape(n, 1, 4, 4), y.astype(np.int64)


def xor_classes(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, 16))
    X[:, :4] = np.sign(X[:, :4]) * (0.5 + np.abs(X[:, :4]))  # a margin around each axis
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64) + 2 * ((X[:, 2] > 0) ^ (X[:, 3] > 0))
    return X.astype(np.float32).reshape(n, 1, 4, 4), y


# ----------------------------------------------------------------------------- d2l utilities
class Accumulator:
    """For accumulating sums over `n` variables."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=True)]

    def __getitem__(self, idx):
        return self.data[idx]


def ch3_tools(torch):
    def accuracy(y_hat, y):
        """Compute the number of correct predictions."""
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
            y_hat = y_hat.argmax(axis=1)
        cmp = y_hat.type(y.dtype) == y
        return float(cmp.type(y.dtype).sum())

    def evaluate_accuracy(net, data_iter):
        """Compute the accuracy for a model on a dataset."""
        if isinstance(net, torch.nn.Module):
            net.eval()  # Set the model to evaluation mode
        metric = Accumulator(2)  # No. of correct predictions, no. of predictions
        with torch.no_grad():
            for X, y in data_iter:
                metric.add(accuracy(net(X), y), y.numel())
        return metric[0] / metric[1]

    def train_epoch_ch3(net, train_iter, loss, updater):
        """The training loop defined in Chapter 3."""
        if isinstance(net, torch.nn.Module):
            net.train()
        metric = Accumulator(3)  # Sum of training loss, sum of training accuracy, no. of examples
        for X, y in train_iter:
            y_hat = net(X)
            l = loss(y_hat, y)
            if isinstance(updater, torch.optim.Optimizer):
                updater.zero_grad()
                l.mean().backward()
                updater.step()
            else:
                l.sum().backward()
                updater(X.shape[0])
            metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
        return metric[0] / metric[2], metric[1] / metric[2]

    def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
        """Train a model (defined in Chapter 3)."""
        history = []
        for _epoch in range(num_epochs):
            train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
            test_acc = evaluate_accuracy(net, test_iter)
            history.append((*train_metrics, test_acc))
        return history

    return train_ch3


def load_arrays(torch, data, make, batch_size, shuffle=True):
    X, y = make(1200, 0)
    Xt, yt = make(400, 1)
    train = data.DataLoader(
        data.TensorDataset(torch.tensor(X), torch.tensor(y)), batch_size, shuffle=shuffle
    )
    test = data.DataLoader(data.TensorDataset(torch.tensor(Xt), torch.tensor(yt)), batch_size)
    return train, test


# ----------------------------------------------------------------------------- the programs
def softmax_from_scratch(torch, data, num_epochs=5, init=None):
    """d2l 3.6."""
    train_iter, test_iter = load_arrays(torch, data, gaussian_classes, 32)
    num_inputs = 16
    num_outputs = 4

    W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = torch.zeros(num_outputs, requires_grad=True)
    if init is not None:
        with torch.no_grad():
            W.copy_(torch.tensor(init[0]))

    def softmax(X):
        X_exp = torch.exp(X)
        partition = X_exp.sum(1, keepdim=True)
        return X_exp / partition  # The broadcasting mechanism is applied here

    def net(X):
        return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

    def cross_entropy(y_hat, y):
        return -torch.log(y_hat[range(len(y_hat)), y])

    def sgd(params, lr, batch_size):
        """Minibatch stochastic gradient descent."""
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    lr = 0.1

    def updater(batch_size):
        return sgd([W, b], lr, batch_size)

    return ch3_tools(torch)(net, train_iter, test_iter, cross_entropy, num_epochs, updater)


def softmax_concise(torch, nn, data, num_epochs=5, init=None, shuffle=True):
    """d2l 3.7."""
    train_iter, test_iter = load_arrays(torch, data, gaussian_classes, 32, shuffle)
    # PyTorch does not implicitly reshape the inputs. Thus we define the flatten
    # layer to reshape the inputs before the linear layer in our network
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))

    def init_weights(m):
        if type(m) is nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    _load(torch, net, init)
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    return ch3_tools(torch)(net, train_iter, test_iter, loss, num_epochs, trainer)


def mlp_concise(torch, nn, data, num_epochs=20, init=None, shuffle=True):
    """d2l 5.2 (concise MLP), on the XOR-style set."""
    train_iter, test_iter = load_arrays(torch, data, xor_classes, 32, shuffle)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4))

    def init_weights(m):
        if type(m) is nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    _load(torch, net, init)
    batch_size, lr = 32, 0.1  # noqa: F841 - as in the book
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    return ch3_tools(torch)(net, train_iter, test_iter, loss, num_epochs, trainer)


def _load(torch, net, init):
    if init is None:
        return
    with torch.no_grad():
        for p, value in zip(net.parameters(), init, strict=True):
            p.copy_(torch.tensor(value))


# ----------------------------------------------------------------------------- the checks
def _both(program, with_nn=True, **kwargs):
    """Runs ``program`` with ndgrad and with PyTorch, each seeded with 0."""
    ndgrad.manual_seed(0)
    ours = program(ndgrad, *([nd_nn] if with_nn else []), nd_data, **kwargs)
    real_torch.manual_seed(0)
    ref = program(
        real_torch, *([real_torch.nn] if with_nn else []), real_torch.utils.data, **kwargs
    )
    return ours, ref


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")
def test_softmax_regression_from_scratch_trains_like_torch():
    ours, ref = _both(softmax_from_scratch, with_nn=False)
    train_loss, train_acc, test_acc = ours[-1]
    assert test_acc >= 0.95 and train_acc >= 0.95, ours
    assert ref[-1][2] >= 0.95
    assert train_loss == pytest.approx(ref[-1][0], abs=0.05)
    assert ours[0][0] > train_loss  # the loss went down


def test_softmax_regression_concise_trains_like_torch():
    ours, ref = _both(softmax_concise)
    assert ours[-1][2] >= 0.95 and ref[-1][2] >= 0.95
    assert ours[-1][0] == pytest.approx(ref[-1][0], abs=0.05)


def test_mlp_fits_what_softmax_regression_cannot():
    ours, ref = _both(mlp_concise)
    assert ours[-1][2] >= 0.95 and ref[-1][2] >= 0.95, (ours[-1], ref[-1])
    # out of the small-init plateau, both reach the same low loss
    assert ours[-1][0] < 0.1 and ours[-1][0] == pytest.approx(ref[-1][0], abs=0.03)
    # a linear model is near chance on the same data
    X, y = xor_classes(1200, 0)
    linear = np.linalg.lstsq(
        np.hstack([X.reshape(1200, -1), np.ones((1200, 1))]), np.eye(4)[y], rcond=None
    )[0]
    linear_acc = (np.hstack([X.reshape(1200, -1), np.ones((1200, 1))]) @ linear).argmax(1) == y
    assert linear_acc.mean() < 0.5


@pytest.mark.parametrize("program", [softmax_concise, mlp_concise])
def test_same_init_same_order_same_numbers(program):
    """Fed the same initial weights and batches, ndgrad and PyTorch report the same history."""
    rng = np.random.default_rng(5)
    shapes = [(4, 16), (4,)] if program is softmax_concise else [(64, 16), (64,), (4, 64), (4,)]
    init = [rng.normal(0, 0.1, s).astype(np.float32) for s in shapes]
    ours = program(ndgrad, nd_nn, nd_data, num_epochs=3, init=init, shuffle=False)
    ref = program(
        real_torch, real_torch.nn, real_torch.utils.data, num_epochs=3, init=init, shuffle=False
    )
    np.testing.assert_allclose(np.array(ours), np.array(ref), rtol=1e-4, atol=1e-6)
