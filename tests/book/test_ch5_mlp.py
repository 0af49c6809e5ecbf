"""d2l chapter 5 (MLPs, dropout, weight decay, initialisation, model selection) on both frameworks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.side_by_side import assert_same, copy_params, run_both

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True")

RNG = np.random.default_rng(5)
IMAGES = RNG.random((256, 1, 28, 28)).astype(np.float32)
LABELS = (IMAGES.reshape(256, -1)[:, ::79].argmax(1)).astype(np.int64)
MLP_INIT = [
    (RNG.normal(0, 0.01, (784, 64))).astype(np.float32),
    np.zeros(64, np.float32),
    (RNG.normal(0, 0.01, (64, 10))).astype(np.float32),
    np.zeros(10, np.float32),
]
DROPOUT_INIT = [
    RNG.normal(0, 0.05, (64, 784)).astype(np.float32),
    RNG.normal(0, 0.05, 64).astype(np.float32),
    RNG.normal(0, 0.05, (32, 64)).astype(np.float32),
    RNG.normal(0, 0.05, 32).astype(np.float32),
    RNG.normal(0, 0.05, (10, 32)).astype(np.float32),
    RNG.normal(0, 0.05, 10).astype(np.float32),
]
HD_X = RNG.normal(0, 1, (120, 200)).astype(np.float32)
HD_W0 = RNG.normal(0, 1, (200, 1)).astype(np.float32)
POLY_X = RNG.normal(0, 1, (200, 1))
POLY_NOISE = RNG.normal(0, 0.1, 200)


class Accumulator:
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]


def loaders(fw, batch_size=32):
    torch, data = fw.torch, fw.data
    train = data.TensorDataset(torch.tensor(IMAGES[:192]), torch.tensor(LABELS[:192]))
    test = data.TensorDataset(torch.tensor(IMAGES[192:]), torch.tensor(LABELS[192:]))
    return data.DataLoader(train, batch_size), data.DataLoader(test, batch_size)


def train_ch3(torch, net, train_iter, test_iter, loss, num_epochs, updater):
    def accuracy(y_hat, y):
        y_hat = y_hat.argmax(axis=1)
        cmp = y_hat.type(y.dtype) == y
        return float(cmp.type(y.dtype).sum())

    history = []
    for _ in range(num_epochs):
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
        if isinstance(net, torch.nn.Module):
            net.eval()
        test = Accumulator(2)
        with torch.no_grad():
            for X, y in test_iter:
                test.add(accuracy(net(X), y), y.numel())
        history.append((metric[0] / metric[2], metric[1] / metric[2], test[0] / test[1]))
    return history


def activations(fw):
    """d2l 5.1: ReLU, sigmoid, tanh and their derivatives."""
    torch = fw.torch
    out = []
    x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)
    y = torch.relu(x)
    y.backward(torch.ones_like(x), retain_graph=True)
    out += [y, x.grad]
    y = torch.sigmoid(x)
    x.grad.data.zero_()
    y.backward(torch.ones_like(x), retain_graph=True)
    out += [y, x.grad]
    y = torch.tanh(x)
    x.grad.data.zero_()
    y.backward(torch.ones_like(x), retain_graph=True)
    out += [y, x.grad, y.detach(), x.detach().numpy().dtype.name]
    return out


def mlp_scratch(fw):
    """d2l 5.2.1."""
    torch, nn = fw.torch, fw.nn
    num_inputs, num_outputs, num_hiddens = 784, 10, 64
    W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens, requires_grad=True) * 0.01)
    b1 = nn.Parameter(torch.zeros(num_hiddens, requires_grad=True))
    W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs, requires_grad=True) * 0.01)
    b2 = nn.Parameter(torch.zeros(num_outputs, requires_grad=True))
    params = [W1, b1, W2, b2]
    with torch.no_grad():
        for p, a in zip(params, MLP_INIT):
            p.copy_(torch.tensor(a))

    def relu(X):
        a = torch.zeros_like(X)
        return torch.max(X, a)

    def net(X):
        X = X.reshape((-1, num_inputs))
        H = relu(X @ W1 + b1)
        return H @ W2 + b2

    loss = nn.CrossEntropyLoss(reduction="none")
    num_epochs, lr = 3, 0.1
    updater = torch.optim.SGD(params, lr=lr)
    train_iter, test_iter = loaders(fw)
    history = train_ch3(torch, net, train_iter, test_iter, loss, num_epochs, updater)
    return [history, W1.grad, repr(b2)[:18], type(W1).__name__, W1.is_leaf]


def mlp_concise(fw):
    """d2l 5.2.2."""
    torch, nn = fw.torch, fw.nn
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

    def init_weights(m):
        if type(m) is nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    copy_params(fw, net, [MLP_INIT[0].T, MLP_INIT[1], MLP_INIT[2].T, MLP_INIT[3]])
    batch_size, lr, num_epochs = 32, 0.1, 3
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    train_iter, test_iter = loaders(fw, batch_size)
    history = train_ch3(torch, net, train_iter, test_iter, loss, num_epochs, trainer)
    return [history, repr(net), net[1].weight.grad, net[3].bias]


def dropout_scratch(fw):
    """d2l 5.6.1: the dropout layer from scratch and the network that uses it."""
    torch, nn = fw.torch, fw.nn
    out = []

    def dropout_layer(X, dropout):
        assert 0 <= dropout <= 1
        if dropout == 1:
            return torch.zeros_like(X)
        if dropout == 0:
            return X
        mask = (torch.rand(X.shape) > dropout).float()
        return mask * X / (1.0 - dropout)

    X = torch.arange(16, dtype=torch.float32).reshape((2, 8))
    out += [X, dropout_layer(X, 0.0), dropout_layer(X, 1.0)]
    half = dropout_layer(X, 0.5)
    out += [half.shape, half.dtype, bool(((half == 0) | (half == 2 * X)).all())]
    mask = (torch.rand(X.shape) > 0.5).float()
    out += [mask.dtype, bool(((mask == 0) | (mask == 1)).all())]

    num_inputs, num_outputs, num_hiddens1, num_hiddens2 = 784, 10, 64, 32

    class Net(nn.Module):
        def __init__(self, num_inputs, num_outputs, num_hiddens1, num_hiddens2, is_training=True):
            super(Net, self).__init__()  # noqa: UP008 - d2l's spelling
            self.num_inputs = num_inputs
            self.training = is_training
            self.lin1 = nn.Linear(num_inputs, num_hiddens1)
            self.lin2 = nn.Linear(num_hiddens1, num_hiddens2)
            self.lin3 = nn.Linear(num_hiddens2, num_outputs)
            self.relu = nn.ReLU()

        def forward(self, X):
            H1 = self.relu(self.lin1(X.reshape((-1, self.num_inputs))))
            if self.training:
                H1 = dropout_layer(H1, 0.2)
            H2 = self.relu(self.lin2(H1))
            if self.training:
                H2 = dropout_layer(H2, 0.5)
            return self.lin3(H2)

    net = Net(num_inputs, num_outputs, num_hiddens1, num_hiddens2)
    copy_params(fw, net, DROPOUT_INIT)
    # training runs draw masks: the numbers differ, the bookkeeping must not
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=0.5)
    train_iter, test_iter = loaders(fw)
    history = train_ch3(torch, net, train_iter, test_iter, loss, 2, trainer)
    out += [len(history), net.training, repr(net)]
    # without dropout the network is deterministic
    copy_params(fw, net, DROPOUT_INIT)
    net.eval()
    out += [net.training, net(torch.tensor(IMAGES[:4]))]
    return out


def dropout_concise(fw):
    """d2l 5.6.2."""
    torch, nn = fw.torch, fw.nn
    dropout1, dropout2 = 0.2, 0.5
    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 64),
        nn.ReLU(),
        nn.Dropout(dropout1),
        nn.Linear(64, 32),
        nn.ReLU(),
        nn.Dropout(dropout2),
        nn.Linear(32, 10),
    )

    def init_weights(m):
        if type(m) == nn.Linear:  # noqa: E721
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    copy_params(fw, net, DROPOUT_INIT)
    out = [repr(net), net[3].p, net.training]
    X = torch.tensor(IMAGES[:8])
    y = net(X)
    out += [y.shape, y.requires_grad]
    drop = nn.Dropout(0.5)
    Z = drop(torch.ones(1000))
    kept = Z[Z != 0]
    out += [bool((kept == 2.0).all()), 300 < int((Z == 0).sum()) < 700]
    net.eval()
    out += [net(X), net[3].training, nn.Dropout(0.0)(X).shape, nn.Dropout(1.0)(X).sum()]
    out += [fw.F.dropout(X, 0.5, training=False), repr(drop)]
    return out


def weight_decay(fw):
    """d2l 5.5 (3.7 in the 2nd edition): high-dimensional linear regression with an L2 penalty."""
    torch, nn, data = fw.torch, fw.nn, fw.data
    n_train, num_inputs, batch_size = 20, 200, 5
    true_w, true_b = torch.ones((num_inputs, 1)) * 0.01, 0.05
    X_all = torch.tensor(HD_X)
    y_all = torch.matmul(X_all, true_w) + true_b
    train_iter = data.DataLoader(data.TensorDataset(X_all[:n_train], y_all[:n_train]), batch_size)
    test_iter = data.DataLoader(data.TensorDataset(X_all[n_train:], y_all[n_train:]), batch_size)

    def l2_penalty(w):
        return torch.sum(w.pow(2)) / 2

    def linreg(X, w, b):
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    def evaluate_loss(net, data_iter, loss):
        metric = Accumulator(2)
        for X, y in data_iter:
            out = net(X)
            y = y.reshape(out.shape)
            l = loss(out, y)
            metric.add(l.sum(), l.numel())
        return metric[0] / metric[1]

    def train(lambd):
        w = torch.normal(0, 1, size=(num_inputs, 1), requires_grad=True)
        with torch.no_grad():
            w.copy_(torch.tensor(HD_W0))
        b = torch.zeros(1, requires_grad=True)
        net, loss = lambda X: linreg(X, w, b), squared_loss
        num_epochs, lr = 20, 0.003
        trace = []
        for _ in range(num_epochs):
            for X, y in train_iter:
                l = loss(net(X), y) + lambd * l2_penalty(w)
                l.sum().backward()
                sgd([w, b], lr, batch_size)
            trace.append(
                (evaluate_loss(net, train_iter, squared_loss), evaluate_loss(net, test_iter, loss))
            )
        return trace, torch.norm(w).item(), f"L2 norm of w: {torch.norm(w).item()}"

    def train_concise(wd):
        net = nn.Sequential(nn.Linear(num_inputs, 1))
        for param in net.parameters():
            param.data.normal_()
        copy_params(fw, net, [HD_W0.T, np.zeros(1, np.float32)])
        loss = nn.MSELoss(reduction="none")
        num_epochs, lr = 20, 0.003
        trainer = torch.optim.SGD(
            [{"params": net[0].weight, "weight_decay": wd}, {"params": net[0].bias}], lr=lr
        )
        trace = []
        for _ in range(num_epochs):
            for X, y in train_iter:
                trainer.zero_grad()
                l = loss(net(X), y)
                l.mean().backward()
                trainer.step()
            trace.append(
                (evaluate_loss(net, train_iter, loss), evaluate_loss(net, test_iter, loss))
            )
        groups = [
            {k: v for k, v in g.items() if k in ("lr", "weight_decay", "momentum")}
            for g in trainer.param_groups
        ]
        return trace, net[0].weight.norm().item(), groups, len(trainer.param_groups[0]["params"])

    return [train(0), train(3), train_concise(0), train_concise(3)]


def numerical_stability(fw):
    """d2l 5.4: vanishing sigmoid gradients, exploding matrix products, Xavier init."""
    torch, nn = fw.torch, fw.nn
    x = torch.arange(-8.0, 8.0, 0.1, requires_grad=True)
    y = torch.sigmoid(x)
    y.backward(torch.ones_like(x))
    out = [x.grad, y.detach()]
    M = torch.tensor(RNG_M)
    for i in range(100):
        M = torch.mm(M, torch.tensor(RNG_STEPS[i]))
    out += [M.shape, bool(torch.isfinite(M).all())]
    net = nn.Linear(256, 128)
    nn.init.xavier_uniform_(net.weight)
    bound = math.sqrt(6 / (256 + 128))
    out += [bool((net.weight.abs() <= bound).all()), net.weight.std().item() > bound / 3]
    nn.init.xavier_normal_(net.weight)
    out += [abs(net.weight.std().item() - math.sqrt(2 / 384)) < 0.01]
    nn.init.kaiming_uniform_(net.weight)
    out += [bool((net.weight.abs() <= math.sqrt(6 / 256)).all())]
    nn.init.zeros_(net.bias)
    out += [net.bias.sum(), net.weight.requires_grad, net.bias.requires_grad]
    return out


RNG_M = RNG.normal(0, 1, (4, 4)).astype(np.float32)
RNG_STEPS = RNG.normal(0, 1, (100, 4, 4)).astype(np.float32)


def polynomial_regression(fw):
    """d2l 4.4 (2nd ed.): underfitting and overfitting with a cubic polynomial."""
    torch, nn, data = fw.torch, fw.nn, fw.data
    max_degree = 20
    n_train = 100
    true_w = np.zeros(max_degree)
    true_w[0:4] = np.array([5, 1.2, -3.4, 5.6])
    features = POLY_X.copy()
    np.random.shuffle  # d2l shuffles here; the fixed draw stands in
    poly_features = np.power(features, np.arange(max_degree).reshape(1, -1))
    for i in range(max_degree):
        poly_features[:, i] /= math.gamma(i + 1)
    labels = np.dot(poly_features, true_w)
    labels += POLY_NOISE
    true_w, features, poly_features, labels = [
        torch.tensor(x, dtype=torch.float32) for x in [true_w, features, poly_features, labels]
    ]
    out = [features[:2], poly_features[:2, :], labels[:2], poly_features.dtype]

    def evaluate_loss(net, data_iter, loss):
        metric = Accumulator(2)
        for X, y in data_iter:
            o = net(X)
            y = y.reshape(o.shape)
            l = loss(o, y)
            metric.add(l.sum(), l.numel())
        return metric[0] / metric[1]

    def load_array(arrays, batch_size, is_train=True):
        return data.DataLoader(data.TensorDataset(*arrays), batch_size, shuffle=False)

    def train(train_features, test_features, train_labels, test_labels, num_epochs=40):
        loss = nn.MSELoss(reduction="none")
        input_shape = train_features.shape[-1]
        net = nn.Sequential(nn.Linear(input_shape, 1, bias=False))
        with torch.no_grad():
            net[0].weight.copy_(torch.linspace(-0.1, 0.1, input_shape).reshape(1, -1))
        batch_size = min(10, train_labels.shape[0])
        train_iter = load_array((train_features, train_labels.reshape(-1, 1)), batch_size)
        test_iter = load_array((test_features, test_labels.reshape(-1, 1)), batch_size, False)
        trainer = torch.optim.SGD(net.parameters(), lr=0.01)
        trace = []
        for _ in range(num_epochs):
            for X, y in train_iter:
                trainer.zero_grad()
                l = loss(net(X), y)
                l.mean().backward()
                trainer.step()
            trace.append(
                (evaluate_loss(net, train_iter, loss), evaluate_loss(net, test_iter, loss))
            )
        return trace, net[0].weight.data.numpy(), f"weight: {net[0].weight.data.numpy()}"

    out.append(
        train(
            poly_features[:n_train, :4],
            poly_features[n_train:, :4],
            labels[:n_train],
            labels[n_train:],
        )
    )
    out.append(
        train(
            poly_features[:n_train, :2],
            poly_features[n_train:, :2],
            labels[:n_train],
            labels[n_train:],
        )
    )
    out.append(
        train(
            poly_features[:n_train, :],
            poly_features[n_train:, :],
            labels[:n_train],
            labels[n_train:],
            10,
        )
    )
    return out


@pytest.mark.parametrize(
    "program",
    [
        activations,
        mlp_scratch,
        mlp_concise,
        dropout_scratch,
        dropout_concise,
        weight_decay,
        numerical_stability,
        polynomial_regression,
    ],
)
def test_chapter5_prints_what_torch_prints(program):
    ours, ref = run_both(program)
    assert_same(ours, ref, rtol=2e-4, atol=1e-5)
