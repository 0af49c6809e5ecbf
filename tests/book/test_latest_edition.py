"""The current d2l edition's idioms: LazyLinear everywhere, d2l.Module-style classes with their
own SGD and gradient clipping, ``torch.randn(size=...)``, the GPU section on a CPU-only machine,
the Kaggle house-price loop (Adam with weight decay, clamp to inf, k-fold slices) and the reprs
the book prints.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from tests.side_by_side import assert_same, in_tmpdir, run_both

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True")

RNG = np.random.default_rng(11)
X_REG = RNG.normal(0, 1, (100, 2)).astype(np.float32)
NOISE = RNG.normal(0, 0.01, (100, 1)).astype(np.float32)
HOUSES = np.abs(RNG.normal(3, 1, (60, 5))).astype(np.float32)
PRICES = (HOUSES @ np.array([[30.0], [10], [5], [1], [2]], np.float32) + 50).astype(np.float32)


def lazy_builders_guide(fw):
    """d2l 6.2-6.4 with LazyLinear, and parameters fed from NumPy after the first call."""
    torch, nn = fw.torch, fw.nn
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    out = [repr(net[0].weight), repr(net), repr(net.state_dict())]
    X = torch.rand(size=(2, 4))
    out += [net(X).shape, repr(net), [(n, p.shape) for n, p in net.named_parameters()]]
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(RNG_W[0]))
        net[0].bias.fill_(0.1)
        net[2].weight.copy_(torch.tensor(RNG_W[1]))
        net[2].bias.zero_()
    X = torch.tensor(X_REG[:2] @ np.ones((2, 4), np.float32))
    out += [net(X), repr(net[2].state_dict()), type(net[2].bias).__name__, net[2].bias.data.clone()]
    out += [net[2].weight.grad is None, type(net[0]).__name__]

    def init_normal(module):
        if type(module) == nn.Linear:  # noqa: E721
            nn.init.normal_(module.weight, mean=0, std=0.01)
            nn.init.zeros_(module.bias)

    net.apply(init_normal)
    out += [net[0].bias.data[0], net[0].weight.data[0].shape]
    shared = nn.LazyLinear(8)
    net = nn.Sequential(
        nn.LazyLinear(8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.LazyLinear(1)
    )
    net(X)
    out += [net[2].weight.data[0] == net[4].weight.data[0]]
    net[2].weight.data[0, 0] = 100
    out += [net[2].weight.data[0, 0] == net[4].weight.data[0, 0], repr(net)]
    return out


RNG_W = [
    RNG.normal(0, 0.5, (8, 4)).astype(np.float32),
    RNG.normal(0, 0.5, (1, 8)).astype(np.float32),
]


def lazy_file_io(fw):
    """d2l 6.6 with LazyLinear layers: the clone is lazy until called."""
    torch, nn, F = fw.torch, fw.nn, fw.F

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.LazyLinear(256)
            self.output = nn.LazyLinear(10)

        def forward(self, x):
            return self.output(F.relu(self.hidden(x)))

    net = MLP()
    X = torch.tensor(RNG_X20)
    Y = net(X)
    torch.save(net.state_dict(), "mlp.params")
    clone = MLP()
    out = [repr(clone.load_state_dict(torch.load("mlp.params"))), repr(clone.eval())]
    Y_clone = clone(X)
    out += [bool((Y_clone == Y).all()), repr(clone), Y_clone.shape]
    return out


RNG_X20 = RNG.random((2, 20)).astype(np.float32)
BIG = RNG.normal(0, 1, (4, 4)).astype(np.float32) * 1e12


def module_style_linear_regression(fw):
    """d2l 3.2-3.5 in the new edition's style: a model class with its own SGD and clipping."""
    torch, nn = fw.torch, fw.nn
    w_true, b_true = torch.tensor([2, -3.4]), 4.2
    X = torch.randn(100, len(w_true))  # the book's draw; replaced by NumPy's for comparison
    X = torch.tensor(X_REG)
    noise = torch.tensor(NOISE)
    y = torch.matmul(X, w_true.reshape((-1, 1))) + b_true + noise
    out = [f"features: {X[0]}\nlabel: {y[0]}"]

    class SGD:
        def __init__(self, params, lr):
            self.params, self.lr = params, lr

        def step(self):
            for param in self.params:
                param -= self.lr * param.grad

        def zero_grad(self):
            for param in self.params:
                if param.grad is not None:
                    param.grad.zero_()

    class LinearRegressionScratch(nn.Module):
        def __init__(self, num_inputs, lr, sigma=0.01):
            super().__init__()
            self.lr = lr
            self.w = torch.normal(0, sigma, (num_inputs, 1), requires_grad=True)
            self.b = torch.zeros(1, requires_grad=True)

        def forward(self, X):
            return torch.matmul(X, self.w) + self.b

        def loss(self, y_hat, y):
            l = (y_hat - y) ** 2 / 2
            return l.mean()

        def configure_optimizers(self):
            return SGD([self.w, self.b], self.lr)

    def clip_gradients(grad_clip_val, params):
        norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
        if norm > grad_clip_val:
            for param in params:
                param.grad[:] *= grad_clip_val / norm
        return norm

    model = LinearRegressionScratch(2, lr=0.03)
    with torch.no_grad():
        model.w.copy_(torch.tensor([[0.01], [-0.02]]))
    optim = model.configure_optimizers()
    norms = []
    for epoch in range(3):
        model.train()
        for i in range(0, 100, 10):
            batch_indices = torch.tensor(list(range(i, i + 10)))
            loss = model.loss(model(X[batch_indices]), y[batch_indices])
            optim.zero_grad()
            with torch.no_grad():  # the book calls backward under no_grad
                loss.backward()
                norms.append(float(clip_gradients(5.0, [model.w, model.b])))
                optim.step()
        model.eval()
        with torch.no_grad():
            out.append(f"epoch {epoch}: val loss {model.loss(model(X), y):.6f}")
    out += [norms, model.w, model.b, list(model.parameters())]
    out += [f"error in estimating w: {w_true - model.w.reshape(w_true.shape)}"]
    out += [f"error in estimating b: {b_true - model.b}"]

    # concise: LazyLinear initialised through .data before its first call
    torch.manual_seed(0)
    net = nn.LazyLinear(1)
    net.weight.data.normal_(0, 0.01)
    net.bias.data.fill_(0)
    net(X[:1])
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.01, -0.02]]))
        net.bias.zero_()
    optimizer = torch.optim.SGD(net.parameters(), 0.03)
    loss_fn = nn.MSELoss()
    for _ in range(2):
        for i in range(0, 100, 10):
            loss = loss_fn(net(X[i : i + 10]), y[i : i + 10])
            optimizer.zero_grad()
            with torch.no_grad():
                loss.backward()
            optimizer.step()
    out += [net.weight.data, net.bias.data, repr(net), f"{loss:.4f}"]
    # the random index order of the book's data loader, from Python's random
    indices = list(range(100))
    random.Random(3).shuffle(indices)
    out += [X[torch.tensor(indices[:5])], y[indices[:5]]]
    return out


def kaggle_house_prices(fw):
    """d2l 5.7: log-rmse, Adam with weight decay, k-fold cross-validation."""
    torch, nn = fw.torch, fw.nn
    features = torch.tensor(HOUSES, dtype=torch.float32)
    labels = torch.tensor(PRICES.reshape(-1, 1), dtype=torch.float32)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    loss = nn.MSELoss()

    def get_net():
        net = nn.Sequential(nn.Linear(features.shape[1], 1))
        with torch.no_grad():
            net[0].weight.copy_(torch.linspace(-0.5, 0.5, features.shape[1]).reshape(1, -1))
            net[0].bias.fill_(0.0)
        return net

    def log_rmse(net, features, labels):
        clipped_preds = torch.clamp(net(features), 1, float("inf"))
        rmse = torch.sqrt(loss(torch.log(clipped_preds), torch.log(labels)))
        return rmse.item()

    def train(net, train_features, train_labels, test_features, test_labels):
        train_ls, test_ls = [], []
        optimizer = torch.optim.Adam(net.parameters(), lr=5, weight_decay=0.01)
        for _ in range(10):
            for i in range(0, len(train_features), 8):
                X, y = train_features[i : i + 8], train_labels[i : i + 8]
                optimizer.zero_grad()
                l = loss(net(X), y)
                l.backward()
                optimizer.step()
            train_ls.append(log_rmse(net, train_features, train_labels))
            if test_labels is not None:
                test_ls.append(log_rmse(net, test_features, test_labels))
        return train_ls, test_ls

    def get_k_fold_data(k, i, X, y):
        assert k > 1
        fold_size = X.shape[0] // k
        X_train, y_train = None, None
        for j in range(k):
            idx = slice(j * fold_size, (j + 1) * fold_size)
            X_part, y_part = X[idx, :], y[idx]
            if j == i:
                X_valid, y_valid = X_part, y_part
            elif X_train is None:
                X_train, y_train = X_part, y_part
            else:
                X_train = torch.cat([X_train, X_part], 0)
                y_train = torch.cat([y_train, y_part], 0)
        return X_train, y_train, X_valid, y_valid

    out = []
    train_l_sum, valid_l_sum = 0, 0
    for i in range(3):
        data = get_k_fold_data(3, i, features, labels)
        net = get_net()
        train_ls, valid_ls = train(net, *data)
        train_l_sum += train_ls[-1]
        valid_l_sum += valid_ls[-1]
        out.append(
            f"fold {i + 1}, train log rmse {float(train_ls[-1]):f}, "
            f"valid log rmse {float(valid_ls[-1]):f}"
        )
        out += [train_ls, valid_ls]
    out += [train_l_sum / 3, valid_l_sum / 3, net(features).detach().numpy()[:3]]
    return out


def gpus_on_a_cpu_machine(fw):
    """d2l 6.7: naming devices, try_gpu falling back to the CPU."""
    torch, nn = fw.torch, fw.nn

    def cpu():
        return torch.device("cpu")

    def gpu(i=0):
        return torch.device(f"cuda:{i}")

    def num_gpus():
        return torch.cuda.device_count()

    def try_gpu(i=0):
        if num_gpus() >= i + 1:
            return gpu(i)
        return cpu()

    def try_all_gpus():
        return [gpu(i) for i in range(num_gpus())]

    out = [repr((cpu(), gpu(), gpu(1))), num_gpus(), repr(try_gpu()), repr(try_gpu(10))]
    out += [try_all_gpus(), str(torch.tensor([1, 2, 3]).device)]
    X = torch.ones(2, 3, device=try_gpu())
    out += [X, repr(X.device), X.device == cpu()]
    net = nn.Sequential(nn.LazyLinear(1))
    net = net.to(device=try_gpu())
    net(X)
    out += [repr(net[0].weight.data.device), torch.cuda.is_available()]
    return out


def printed_formats(fw):
    """Values as d2l prints them: f-strings on 0-d tensors, large and tiny magnitudes."""
    torch = fw.torch
    x = torch.tensor(2.5)
    out = [f"loss {x:f}", f"{x:.3f}", round(float(x), 3), f"{torch.tensor(3.14159):.2f}"]
    out += [repr(torch.tensor([1e-9, 1.0])), repr(torch.tensor([[1e-5, 3.0], [2.0, 1e5]]))]
    out += [repr(torch.tensor([0.1, float("inf"), float("nan")])), repr(torch.tensor(1e20))]
    out += [repr(torch.tensor([1.5, 3.0], dtype=torch.float64)), str(torch.float32)]
    out += [repr(torch.zeros(0, 3)), repr(torch.tensor([])), repr(torch.arange(12).reshape(3, 4))]
    M = torch.tensor(BIG)
    out += ["a single matrix \n" + str(M)]
    out += [repr(torch.tensor([[1, -2], [300, 4]])), repr(torch.tensor([True, False]))]
    out += [repr(torch.tensor([1.0, 2.0], requires_grad=True) * 2)]
    return out


@pytest.mark.parametrize(
    "program",
    [
        lazy_builders_guide,
        module_style_linear_regression,
        kaggle_house_prices,
        gpus_on_a_cpu_machine,
    ],
)
def test_latest_edition_programs_print_what_torch_prints(program):
    ours, ref = run_both(program)
    assert_same(ours, ref, rtol=1e-4, atol=1e-5)


def test_printed_formats():
    ours, ref = run_both(printed_formats)
    assert_same(ours, ref)


def test_lazy_file_io(tmp_path):
    with in_tmpdir(tmp_path):
        ours, ref = run_both(lazy_file_io)
    assert_same(ours, ref)
