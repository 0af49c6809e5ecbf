"""d2l chapters 3 and 4 (linear and softmax regression, scratch and concise) on both frameworks.

Synthetic data and initial weights come from NumPy so both frameworks see the same numbers;
the loaders do not shuffle where the numbers are compared and shuffle where only the counts are.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.side_by_side import assert_same, copy_params, run_both

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True")

RNG = np.random.default_rng(42)
TRUE_W = np.array([2, -3.4], dtype=np.float32)
TRUE_B = 4.2
FEATURES = RNG.normal(0, 1, (1000, 2)).astype(np.float32)
NOISE = RNG.normal(0, 0.01, (1000,)).astype(np.float32)
W0 = RNG.normal(0, 0.01, (2, 1)).astype(np.float32)
IMAGES = RNG.random((512, 1, 28, 28)).astype(np.float32)
LABELS = (IMAGES.reshape(512, -1)[:, :10].argmax(1)).astype(np.int64)
SOFTMAX_W0 = RNG.normal(0, 0.01, (784, 10)).astype(np.float32)
SOFTMAX_X = RNG.normal(0, 1, (2, 5)).astype(np.float32)


def synthetic_data(torch, w, b, num_examples):
    """Generate y = Xw + b + noise (the NumPy draws stand in for torch.normal)."""
    X = torch.normal(0, 1, (num_examples, len(w)))  # the call d2l makes; values replaced below
    assert tuple(X.shape) == (num_examples, len(w))
    X = torch.tensor(FEATURES[:num_examples])
    y = torch.matmul(X, w) + b
    y += torch.tensor(NOISE[:num_examples])
    return X, y.reshape((-1, 1))


def data_iter_in_order(batch_size, features, labels):
    num_examples = len(features)
    indices = list(range(num_examples))
    for i in range(0, num_examples, batch_size):
        batch_indices = indices[i : min(i + batch_size, num_examples)]
        yield features[batch_indices], labels[batch_indices]


def linreg_scratch(fw):
    """d2l 3.2 linear regression from scratch."""
    torch = fw.torch
    true_w = torch.tensor([2, -3.4])
    features, labels = synthetic_data(torch, true_w, TRUE_B, 1000)
    out = [features[0], labels[0], features.shape, labels.shape, true_w.dtype]
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    with torch.no_grad():
        w.copy_(torch.tensor(W0))
    b = torch.zeros(1, requires_grad=True)

    def linreg(X, w, b):
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    lr, num_epochs, batch_size = 0.03, 3, 10
    net, loss = linreg, squared_loss
    for epoch in range(num_epochs):
        for X, y in data_iter_in_order(batch_size, features, labels):
            l = loss(net(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            out.append(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")
            out.append(train_l.mean())
    out += [w, b, f"error in estimating w: {true_w - w.reshape(true_w.shape)}"]
    out += [f"error in estimating b: {TRUE_B - b}", w.grad, b.grad, w.is_leaf]
    return out


def linreg_concise(fw):
    """d2l 3.3 concise linear regression."""
    torch, nn, data = fw.torch, fw.nn, fw.data
    true_w = torch.tensor([2, -3.4])
    features, labels = synthetic_data(torch, true_w, TRUE_B, 1000)

    def load_array(data_arrays, batch_size, is_train=True):
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    batch_size = 10
    data_iter = load_array((features, labels), batch_size)
    out = [len(next(iter(data_iter))), next(iter(data_iter))[0].shape, len(data_iter)]
    out += [sum(1 for _ in data_iter), sorted({len(X) for X, _ in data_iter})]
    data_iter = load_array((features, labels), batch_size, is_train=False)
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    out += [net[0].bias, repr(net[0].bias)]
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(W0.T))
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    num_epochs = 3
    for epoch in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)
        out += [f"epoch {epoch + 1}, loss {l:f}", l]
    w = net[0].weight.data
    out += [w, "error in estimating w:", true_w - w.reshape(true_w.shape)]
    b = net[0].bias.data
    out += ["error in estimating b:", TRUE_B - b, b, repr(net), str(net)]
    # the Huber loss of the exercises and the summed MSE
    out += [nn.HuberLoss()(net(features), labels), nn.MSELoss(reduction="sum")(net(X), y)]
    out += [nn.MSELoss(reduction="none")(net(X), y), net[0].weight.grad]
    return out


class Accumulator:
    """For accumulating sums over `n` variables."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def ch3_tools(torch):
    def accuracy(y_hat, y):
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
            y_hat = y_hat.argmax(axis=1)
        cmp = y_hat.type(y.dtype) == y
        return float(cmp.type(y.dtype).sum())

    def evaluate_accuracy(net, data_iter):
        if isinstance(net, torch.nn.Module):
            net.eval()
        metric = Accumulator(2)
        with torch.no_grad():
            for X, y in data_iter:
                metric.add(accuracy(net(X), y), y.numel())
        return metric[0] / metric[1]

    def train_epoch_ch3(net, train_iter, loss, updater):
        if isinstance(net, torch.nn.Module):
            net.train()
        metric = Accumulator(3)
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
        history = []
        for _ in range(num_epochs):
            train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
            test_acc = evaluate_accuracy(net, test_iter)
            history.append((*train_metrics, test_acc))
        return history

    return accuracy, evaluate_accuracy, train_ch3


def fashion_like(fw, batch_size, shuffle):
    torch, data = fw.torch, fw.data
    train = data.TensorDataset(torch.tensor(IMAGES[:384]), torch.tensor(LABELS[:384]))
    test = data.TensorDataset(torch.tensor(IMAGES[384:]), torch.tensor(LABELS[384:]))
    return (
        data.DataLoader(train, batch_size, shuffle=shuffle, num_workers=0),
        data.DataLoader(test, batch_size, shuffle=False, num_workers=0),
    )


def softmax_scratch(fw):
    """d2l 4.2/4.4: softmax regression from scratch on 1x28x28 images, 10 classes."""
    torch = fw.torch
    out = []
    X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out += [X.sum(0, keepdim=True), X.sum(1, keepdim=True)]

    def softmax(X):
        X_exp = torch.exp(X)
        partition = X_exp.sum(1, keepdim=True)
        return X_exp / partition

    X = torch.tensor(SOFTMAX_X)
    X_prob = softmax(X)
    out += [X_prob, X_prob.sum(1)]
    train_iter, test_iter = fashion_like(fw, 64, shuffle=False)
    num_inputs, num_outputs = 784, 10
    W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    with torch.no_grad():
        W.copy_(torch.tensor(SOFTMAX_W0))
    b = torch.zeros(num_outputs, requires_grad=True)

    def net(X):
        return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

    y = torch.tensor([0, 2])
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    out += [y_hat[[0, 1], y]]

    def cross_entropy(y_hat, y):
        return -torch.log(y_hat[range(len(y_hat)), y])

    accuracy, evaluate_accuracy, train_ch3 = ch3_tools(torch)
    out += [cross_entropy(y_hat, y), accuracy(y_hat, y) / len(y)]
    out += [evaluate_accuracy(net, test_iter)]

    lr = 0.1

    def updater(batch_size):
        with torch.no_grad():
            for param in [W, b]:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    out += [train_ch3(net, train_iter, test_iter, cross_entropy, 3, updater)]
    X, y = next(iter(test_iter))
    preds = net(X).argmax(axis=1)
    out += [preds, y, preds.dtype, (preds == y).float().mean(), X.shape, y.dtype]
    return out


def softmax_concise(fw, shuffle=False):
    """d2l 4.5: concise softmax regression."""
    torch, nn = fw.torch, fw.nn
    train_iter, test_iter = fashion_like(fw, 64, shuffle=shuffle)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def init_weights(m):
        if type(m) == nn.Linear:  # noqa: E721 - d2l's spelling
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    copy_params(fw, net, [SOFTMAX_W0.T, np.zeros(10, np.float32)])
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    _, evaluate_accuracy, train_ch3 = ch3_tools(torch)
    history = train_ch3(net, train_iter, test_iter, loss, 3, trainer)
    if shuffle:
        # the order differs between frameworks: only the counts and ranges are comparable
        return [len(history), len(train_iter), all(0 <= a <= 1 for _, a, _ in history)]
    out = [history, net.training, evaluate_accuracy(net, test_iter), net.training]
    out += [nn.CrossEntropyLoss()(net(IMAGES_T(fw)), LABELS_T(fw))]
    out += [repr(net), repr(nn.CrossEntropyLoss(reduction="none"))]
    return out


def IMAGES_T(fw):
    return fw.torch.tensor(IMAGES[:32])


def LABELS_T(fw):
    return fw.torch.tensor(LABELS[:32])


def cross_entropy_and_softmax_details(fw):
    """d2l 4.1 and 4.5.2 details: log-sum-exp trick, overflow and the loss classes."""
    torch, nn, F = fw.torch, fw.nn, fw.F
    o = torch.tensor([[100.0, 0.0, -50.0], [1000.0, 999.0, 0.0]])
    y = torch.tensor([0, 1])
    out = [F.softmax(o, dim=1), F.log_softmax(o, dim=1), nn.CrossEntropyLoss()(o, y)]
    out += [torch.exp(o).sum(1), F.cross_entropy(o, y, reduction="sum")]
    out += [torch.logsumexp(o, dim=1), nn.NLLLoss()(F.log_softmax(o, dim=1), y)]
    probs = torch.tensor([[0.7, 0.3], [0.1, 0.9]])
    out += [F.cross_entropy(o[:, :2], probs), nn.Softmax(dim=1)(o), nn.LogSoftmax(dim=1)(o)]
    out += [math.isclose(float(F.softmax(o, dim=0).sum()), 3.0, rel_tol=1e-6)]
    return out


@pytest.mark.parametrize(
    "program",
    [
        linreg_scratch,
        linreg_concise,
        softmax_scratch,
        softmax_concise,
        cross_entropy_and_softmax_details,
    ],
)
def test_chapters_3_and_4_print_what_torch_prints(program):
    ours, ref = run_both(program)
    assert_same(ours, ref, rtol=1e-4, atol=1e-5)


def test_shuffled_softmax_training_has_the_same_shape_of_history():
    ours, ref = run_both(softmax_concise, shuffle=True)
    assert_same(ours, ref)
