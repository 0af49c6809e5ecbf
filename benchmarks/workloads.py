"""The workloads W1-W10, each written once for a PyTorch-like module and once in NumPy.

The d2l-style training code takes the framework module as its ``torch`` argument, so the
very same source runs on ``ndgrad`` and on PyTorch (that is the promise of
``import ndgrad as torch``). The NumPy versions compute the gradients by hand: they are
the floor a NumPy engine cannot beat. Data, initial parameters and batch order come from
NumPy with a fixed seed, and every engine is fed the same arrays, so final losses agree.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Run = Callable[[], float]
Prepare = Callable[[dict], Run]


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    unit: str  # "ms" per run, or "us" per step (``steps`` steps in one run)
    make_data: Callable[[bool], dict]
    engines: dict[str, Prepare]
    steps: Callable[[dict], int] = field(default=lambda data: 1)


ENGINES = ("ndgrad", "pytorch", "numpy")


def framework(name: str) -> Any:
    """The module that plays ``torch`` for an engine."""
    return importlib.import_module("ndgrad" if name == "ndgrad" else "torch")


def concise_api_available() -> bool:
    """Whether ndgrad has the ``nn``/``optim``/``DataLoader`` pieces the concise d2l code uses."""
    try:
        import ndgrad.nn
        import ndgrad.optim
        import ndgrad.utils.data
    except ImportError:
        return False
    nn, optim, data = ndgrad.nn, ndgrad.optim, ndgrad.utils.data
    needed = [
        (nn, "Sequential"),
        (nn, "Flatten"),
        (nn, "Linear"),
        (nn, "ReLU"),
        (nn, "CrossEntropyLoss"),
        (optim, "SGD"),
        (data, "DataLoader"),
        (data, "TensorDataset"),
    ]
    return all(hasattr(mod, name) for mod, name in needed)


def functional_api_available() -> bool:
    """Whether ``ndgrad.autograd.functional`` (jacobian, hessian) has landed."""
    try:
        mod = importlib.import_module("ndgrad.autograd.functional")
    except ImportError:
        return False
    return hasattr(mod, "jacobian") and hasattr(mod, "hessian")


# ============================================================================ W1
def w1_data(quick: bool) -> dict:
    """d2l 3.2: synthetic y = Xw + b + noise, 1000 x 2, batch 10, 3 epochs, lr 0.03."""
    rng = np.random.default_rng(0)
    n, epochs = (100, 1) if quick else (1000, 3)
    true_w = np.array([2.0, -3.4], dtype=np.float32)
    features = rng.normal(0.0, 1.0, (n, 2)).astype(np.float32)
    labels = features @ true_w + np.float32(4.2) + rng.normal(0.0, 0.01, n).astype(np.float32)
    return {
        "features": features,
        "labels": labels.reshape(-1, 1).astype(np.float32),
        "w0": rng.normal(0.0, 0.01, (2, 1)).astype(np.float32),
        "b0": np.zeros(1, dtype=np.float32),
        # d2l shuffles with random.shuffle; a seeded order shared by all engines instead.
        "orders": [rng.permutation(n).tolist() for _ in range(epochs)],
        "batch_size": 10,
        "lr": 0.03,
    }


def w1_d2l(torch: Any, d: dict) -> Run:
    """Linear regression from scratch exactly as d2l writes it."""
    features = torch.from_numpy(d["features"])
    labels = torch.from_numpy(d["labels"])
    batch_size, lr, orders = d["batch_size"], d["lr"], d["orders"]

    def data_iter(batch_size: int, features: Any, labels: Any, indices: list) -> Any:
        num_examples = len(features)
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    def linreg(X: Any, w: Any, b: Any) -> Any:
        return torch.matmul(X, w) + b

    def squared_loss(y_hat: Any, y: Any) -> Any:
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params: list, lr: float, batch_size: int) -> None:
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    def run() -> float:
        w = torch.tensor(d["w0"], requires_grad=True)
        b = torch.tensor(d["b0"], requires_grad=True)
        net, loss = linreg, squared_loss
        for indices in orders:
            for X, y in data_iter(batch_size, features, labels, indices):
                l = loss(net(X, w, b), y)
                l.sum().backward()
                sgd([w, b], lr, batch_size)
            with torch.no_grad():
                train_l = loss(net(features, w, b), labels)
        return float(train_l.mean())

    return run


# Tracing cost of the compiled workloads (seconds, every trace of the warm-up run), by key.
TRACE_COST: dict[str, list[float]] = {}


def _compile(torch: Any, fn: Callable, key: str) -> Callable:
    """ndgrad.compile(fn); PyTorch runs ``fn`` eagerly (torch.compile's own tracing would
    dominate these tiny steps and needs a C compiler)."""
    if torch.__name__ != "ndgrad":
        return fn
    compiled = torch.compile(fn)
    TRACE_COST[key] = compiled.trace_seconds
    return compiled


def w1_compiled(torch: Any, d: dict) -> Run:
    """W1 with its per-minibatch step (forward, backward, d2l's sgd) under ndgrad.compile."""
    features = torch.from_numpy(d["features"])
    labels = torch.from_numpy(d["labels"])
    batch_size, lr, orders = d["batch_size"], d["lr"], d["orders"]
    w = torch.tensor(d["w0"], requires_grad=True)
    b = torch.tensor(d["b0"], requires_grad=True)

    def step(batch: Any) -> None:
        X, y = features[batch], labels[batch]
        l = (torch.matmul(X, w) + b - y.reshape((-1, 1))) ** 2 / 2
        l.sum().backward()
        with torch.no_grad():
            for param in (w, b):
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    compiled = _compile(torch, step, "W1c")

    def run() -> float:
        with torch.no_grad():  # the same start every run; the compiled step keeps its tensors
            w.copy_(torch.from_numpy(d["w0"]))
            b.copy_(torch.from_numpy(d["b0"]))
        for order in orders:
            # the batch's indices sliced in NumPy, as the hand-written loop does (slicing a
            # tensor is an eager op, about 2 us, the cost of the whole NumPy step's slice + 3 ops)
            indices = np.asarray(order)
            for i in range(0, len(features), batch_size):
                compiled(torch.from_numpy(indices[i : i + batch_size]))
        with torch.no_grad():
            train_l = (torch.matmul(features, w) + b - labels) ** 2 / 2
        return float(train_l.mean())

    return run


def w1_numpy(d: dict) -> Run:
    features, labels = d["features"], d["labels"]
    batch_size, lr, orders = d["batch_size"], np.float32(d["lr"]), d["orders"]
    n = len(features)

    def run() -> float:
        w, b = d["w0"].copy(), d["b0"].copy()
        for order in orders:
            indices = np.asarray(order)
            for i in range(0, n, batch_size):
                idx = indices[i : i + batch_size]
                X, y = features[idx], labels[idx]
                diff = X @ w + b - y  # d(sum((y_hat - y)^2 / 2)) / d y_hat
                w -= lr * (X.T @ diff) / batch_size
                b -= lr * diff.sum(0) / batch_size
            train_l = (features @ w + b - labels) ** 2 / 2
        return float(train_l.mean())

    return run


# ============================================================================ W2, W3
def classification_data(quick: bool) -> dict:
    """Fashion-MNIST-shaped data from a random linear teacher: random but learnable."""
    rng = np.random.default_rng(1)
    n, side, hidden = (512, 8, 32) if quick else (60000, 28, 256)
    d_in, classes = side * side, 10
    images = rng.standard_normal((n, 1, side, side), dtype=np.float32)
    teacher = rng.standard_normal((d_in, classes), dtype=np.float32) / np.float32(math.sqrt(d_in))
    noise = rng.gumbel(size=(n, classes)).astype(np.float32)
    labels = np.argmax(images.reshape(n, d_in) @ teacher * 3 + noise, axis=1).astype(np.int64)

    def init(fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
        # d2l's init_weights: normal(std=0.01) weights, zero biases; nn.Linear layout (out, in).
        return (
            rng.normal(0.0, 0.01, (fan_out, fan_in)).astype(np.float32),
            np.zeros(fan_out, dtype=np.float32),
        )

    return {
        "images": images,
        "labels": labels,
        "d_in": d_in,
        "hidden": hidden,
        "classes": classes,
        "softmax_init": init(d_in, classes),
        "mlp_init": (*init(d_in, hidden), *init(hidden, classes)),
        "batch_size": 256 if not quick else 64,
        "lr": 0.1,
    }


def device_of(d: dict) -> str:
    """The device a workload computes on: ``benchmarks.run --device`` (the CPU by default)."""
    return d.get("device", "cpu")


def _concise_train(torch: Any, d: dict, net: Any, params: list, key: str = "") -> Run:
    """d2l's concise training loop: DataLoader, nn.CrossEntropyLoss, optim.SGD (on a GPU as
    d2l's trainer does it: the model moved once, each batch moved as it comes; with ``key``,
    its step under ndgrad.compile)."""
    images, labels = torch.from_numpy(d["images"]), torch.from_numpy(d["labels"])
    dataset = torch.utils.data.TensorDataset(images, labels)
    device = device_of(d)
    gpu = device != "cpu"
    # The data is already in random order; shuffle=False keeps the order the same everywhere.
    loader = torch.utils.data.DataLoader(dataset, d["batch_size"], shuffle=False, pin_memory=gpu)
    linears = [m for m in net if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    if gpu:
        net.to(device)
    loss = torch.nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=d["lr"])  # (plain SGD keeps no state)

    def step(X: Any, y: Any) -> Any:
        l = loss(net(X), y)
        trainer.zero_grad()
        l.backward()
        trainer.step()
        return l

    if key:
        step = _compile(torch, step, key)

    def run() -> float:
        with torch.no_grad():
            for layer, (w, b) in zip(linears, params, strict=True):
                layer.weight.copy_(torch.from_numpy(w).to(device))
                layer.bias.copy_(torch.from_numpy(b).to(device))
        for p in net.parameters():
            p.grad = None
        for X, y in loader:
            if gpu:
                X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            l = step(X, y)
        return l.item()

    return run


def _scratch_train(torch: Any, d: dict, net_fn: Callable, init: tuple, key: str = "") -> Run:
    """d2l's from-scratch loop (chapter 3.6 / 4.2): raw tensors, hand-written sgd (with
    ``key``, its step under ndgrad.compile)."""
    device = device_of(d)
    images = torch.from_numpy(d["images"]).to(device)
    labels = torch.from_numpy(d["labels"]).to(device)
    batch_size, lr = d["batch_size"], d["lr"]

    def softmax(X: Any) -> Any:
        X_exp = torch.exp(X)
        partition = X_exp.sum(1, keepdim=True)
        return X_exp / partition

    def cross_entropy(y_hat: Any, y: Any) -> Any:
        return -torch.log(y_hat[range(len(y_hat)), y])

    def sgd(params: list, lr: float, batch_size: int) -> None:
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    # Weights stored (in, out) as d2l's from-scratch code does: X @ W + b.
    params = []
    for i, a in enumerate(init):
        params.append(
            torch.tensor(a.T.copy() if i % 2 == 0 else a, device=device, requires_grad=True)
        )

    def step(X: Any, y: Any) -> Any:
        l = cross_entropy(softmax(net_fn(torch, X, params)), y)
        l.sum().backward()
        sgd(params, lr, X.shape[0])
        return l

    if key:
        step = _compile(torch, step, key)

    def run() -> float:
        with torch.no_grad():  # the same start every run
            for p, a in zip(params, init, strict=True):
                p.copy_(torch.from_numpy(a.T.copy() if a.ndim == 2 else a).to(device))
                p.grad = None
        for i in range(0, len(images), batch_size):
            l = step(images[i : i + batch_size], labels[i : i + batch_size])
        return l.mean().item()

    return run


def w2_framework(torch: Any, d: dict, key: str = "") -> Run:
    if d["form"] == "concise":
        nn = torch.nn
        net = nn.Sequential(nn.Flatten(), nn.Linear(d["d_in"], d["classes"]))
        return _concise_train(torch, d, net, [d["softmax_init"]], key)

    def net(torch: Any, X: Any, params: list) -> Any:
        W, b = params
        return torch.matmul(X.reshape((-1, W.shape[0])), W) + b

    return _scratch_train(torch, d, net, d["softmax_init"], key)


def w3_framework(torch: Any, d: dict, key: str = "") -> Run:
    w1, b1, w2, b2 = d["mlp_init"]
    if d["form"] == "concise":
        nn = torch.nn
        net = nn.Sequential(
            nn.Flatten(), nn.Linear(d["d_in"], d["hidden"]), nn.ReLU(),
            nn.Linear(d["hidden"], d["classes"]),
        )  # fmt: skip
        return _concise_train(torch, d, net, [(w1, b1), (w2, b2)], key)

    def net(torch: Any, X: Any, params: list) -> Any:
        W1, b1, W2, b2 = params
        X = X.reshape((-1, W1.shape[0]))
        H = torch.relu(X @ W1 + b1)
        return H @ W2 + b2

    return _scratch_train(torch, d, net, d["mlp_init"], key)


def w2_compiled(torch: Any, d: dict) -> Run:
    return w2_framework(torch, d, "W2c")


def w3_compiled(torch: Any, d: dict) -> Run:
    return w3_framework(torch, d, "W3c")


def _softmax_xent_grad(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``logits`` and its gradient, by hand (max-shifted)."""
    rows = np.arange(len(y))
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))
    grad = exp / total
    grad[rows, y] -= 1
    grad /= len(y)
    return loss, grad


def w2_numpy(d: dict) -> Run:
    n = len(d["images"])
    images = d["images"].reshape(n, -1)
    labels, batch_size, lr = d["labels"], d["batch_size"], np.float32(d["lr"])

    def run() -> float:
        w0, b0 = d["softmax_init"]
        W, b = w0.T.copy(), b0.copy()
        for i in range(0, n, batch_size):
            X, y = images[i : i + batch_size], labels[i : i + batch_size]
            loss, g = _softmax_xent_grad(X @ W + b, y)
            W -= lr * (X.T @ g)
            b -= lr * g.sum(axis=0)
        return loss

    return run


def w3_numpy(d: dict) -> Run:
    n = len(d["images"])
    images = d["images"].reshape(n, -1)
    labels, batch_size, lr = d["labels"], d["batch_size"], np.float32(d["lr"])

    def run() -> float:
        w1, b1, w2, b2 = (a.copy() for a in d["mlp_init"])
        W1, W2 = w1.T.copy(), w2.T.copy()
        for i in range(0, n, batch_size):
            X, y = images[i : i + batch_size], labels[i : i + batch_size]
            pre = X @ W1 + b1
            H = np.maximum(pre, 0)
            loss, g = _softmax_xent_grad(H @ W2 + b2, y)
            gH = g @ W2.T
            gH *= pre > 0
            W2 -= lr * (H.T @ g)
            b2 -= lr * g.sum(axis=0)
            W1 -= lr * (X.T @ gH)
            b1 -= lr * gH.sum(axis=0)
        return loss

    return run


# ============================================================================ W4
def w4_data(quick: bool) -> dict:
    return {"iterations": 200 if quick else 5000}


def w4_framework(torch: Any, d: dict) -> Run:
    iterations = d["iterations"]

    def run() -> float:
        x = torch.tensor([1.0], requires_grad=True)
        for _ in range(iterations):
            y = (x * 2 + 1).sum()
            y.backward()
        return y.item() + x.grad[0].item() / iterations  # 3 + 2

    return run


def w4_compiled(torch: Any, d: dict) -> Run:
    iterations = d["iterations"]
    x = torch.tensor([1.0], requires_grad=True)

    def step() -> Any:
        y = (x * 2 + 1).sum()
        y.backward()
        return y

    compiled = _compile(torch, step, "W4c")

    def run() -> float:
        x.grad = None
        compiled()  # the first step creates x.grad (traced, not replayed), then replays
        for _ in range(iterations - 1):
            y = compiled()
        return y.item() + x.grad[0].item() / iterations

    return run


def w4_numpy(d: dict) -> Run:
    iterations = d["iterations"]

    def run() -> float:
        x = np.array([1.0], dtype=np.float32)
        x_grad = np.zeros_like(x)
        for _ in range(iterations):
            t = x * 2
            u = t + 1
            y = u.sum()
            g_u = np.broadcast_to(np.ones_like(y), u.shape)  # d sum / d u
            x_grad += g_u * 2
        return float(y) + float(x_grad[0]) / iterations

    return run


# ============================================================================ W5
def w5_data(quick: bool) -> dict:
    rng = np.random.default_rng(2)
    n = 10 if quick else 100
    return {
        "A": (rng.standard_normal((n, n)) / math.sqrt(n)).astype(np.float32),
        "x": rng.standard_normal(n).astype(np.float32),
    }


def _w5_functions(torch: Any, d: dict) -> tuple[Callable, Callable, Any]:
    A = torch.from_numpy(d["A"])

    def f(x: Any) -> Any:  # R^n -> R^n
        return torch.tanh(A @ x)

    def g(x: Any) -> Any:  # R^n -> R
        return torch.tanh(A @ x).sum() + (x**4).sum() / 4

    return f, g, torch.from_numpy(d["x"])


def w5_jacobian_framework(torch: Any, d: dict) -> Run:
    f, _, x = _w5_functions(torch, d)
    functional = importlib.import_module(torch.__name__ + ".autograd.functional")
    return lambda: float(functional.jacobian(f, x).abs().sum())


def w5_hessian_framework(torch: Any, d: dict) -> Run:
    _, g, x = _w5_functions(torch, d)
    functional = importlib.import_module(torch.__name__ + ".autograd.functional")
    return lambda: float(functional.hessian(g, x).abs().sum())


def w5_jacobian_numpy(d: dict) -> Run:
    A, x = d["A"], d["x"]

    def run() -> float:
        t = np.tanh(A @ x)
        return float(np.abs((1 - t * t)[:, None] * A).sum())

    return run


def w5_hessian_numpy(d: dict) -> Run:
    A, x = d["A"], d["x"]

    def run() -> float:
        t = np.tanh(A @ x)
        curvature = -2 * t * (1 - t * t)  # tanh''
        hess = A.T @ (curvature[:, None] * A) + np.diag(3 * x * x)
        return float(np.abs(hess).sum())

    return run


# ============================================================================ W7
def w7_data(quick: bool) -> dict:
    """Fashion-MNIST-shaped data (60000 x 1 x 28 x 28) from a random linear teacher, LeNet init."""
    rng = np.random.default_rng(3)
    n, batch_size = (128, 64) if quick else (60000, 256)
    d_in, classes = 28 * 28, 10
    images = rng.standard_normal((n, 1, 28, 28), dtype=np.float32)
    teacher = rng.standard_normal((d_in, classes), dtype=np.float32) / np.float32(math.sqrt(d_in))
    noise = rng.gumbel(size=(n, classes)).astype(np.float32)
    labels = np.argmax(images.reshape(n, d_in) @ teacher * 3 + noise, axis=1).astype(np.int64)

    def xavier(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        # d2l's init_cnn: xavier_uniform_ weights; small uniform biases (not zero, so they count).
        receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-bound, bound, shape).astype(np.float32)
        return w, rng.uniform(-0.1, 0.1, shape[0]).astype(np.float32)

    shapes = [(6, 1, 5, 5), (16, 6, 5, 5), (120, 400), (84, 120), (10, 84)]
    return {
        "images": images,
        "labels": labels,
        "lenet_init": [xavier(s) for s in shapes],
        "batch_size": batch_size,
        "lr": 0.9,  # d2l's LeNet learning rate
    }


def lenet(torch: Any) -> Any:
    """d2l 7.6's LeNet, sigmoid activations and average pooling as the book has them."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )  # fmt: skip


def w7_framework(torch: Any, d: dict) -> Run:
    return _concise_train(torch, d, lenet(torch), d["lenet_init"])


def _im2col(x: np.ndarray, k: int, pad: int) -> tuple[np.ndarray, tuple[int, int]]:
    """(N, C, H, W) -> rows (N*OH*OW, C*k*k) of k x k patches (stride 1)."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # N C OH OW k k
    n, c, oh, ow = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k), (oh, ow)


def _conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> tuple:
    n, k = x.shape[0], w.shape[-1]
    cols, (oh, ow) = _im2col(x, k, pad)
    out = cols @ w.reshape(w.shape[0], -1).T + b  # (N*OH*OW, O)
    return out.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2), cols


def _conv_backward(
    g: np.ndarray, cols: np.ndarray, w: np.ndarray, x_shape: tuple | None, pad: int
) -> tuple:
    """Weight, bias and (unless ``x_shape`` is None) input gradients of ``_conv_forward``."""
    o, c, k, _ = w.shape
    n, _, oh, ow = g.shape
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)
    gw = (g2.T @ cols).reshape(w.shape)
    gb = g2.sum(axis=0)
    if x_shape is None:
        return gw, gb, None
    gcols = (g2 @ w.reshape(o, -1)).reshape(n, oh, ow, c, k, k)
    h, wd = x_shape[2] + 2 * pad, x_shape[3] + 2 * pad
    gx = np.zeros((n, c, h, wd), dtype=g.dtype)
    for i in range(k):  # col2im: one strided add per kernel offset
        for j in range(k):
            gx[:, :, i : i + oh, j : j + ow] += gcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gw, gb, gx[:, :, pad : h - pad, pad : wd - pad] if pad else gx


def _avgpool2(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def _avgpool2_backward(g: np.ndarray) -> np.ndarray:
    n, c, h, w = g.shape
    quarter = (g * np.float32(0.25))[:, :, :, None, :, None]
    return np.broadcast_to(quarter, (n, c, h, 2, w, 2)).reshape(n, c, 2 * h, 2 * w)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def w7_numpy(d: dict) -> Run:
    images, labels = d["images"], d["labels"]
    batch_size, lr, n = d["batch_size"], np.float32(d["lr"]), len(d["images"])

    def run() -> float:
        params = [a.copy() for pair in d["lenet_init"] for a in pair]
        for i in range(0, n, batch_size):
            X, y = images[i : i + batch_size], labels[i : i + batch_size]
            w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
            z1, cols1 = _conv_forward(X, w1, b1, 2)
            a1 = _sigmoid(z1)
            p1 = _avgpool2(a1)
            z2, cols2 = _conv_forward(p1, w2, b2, 0)
            a2 = _sigmoid(z2)
            p2 = _avgpool2(a2)
            f = p2.reshape(len(X), -1)
            a3 = _sigmoid(f @ w3.T + b3)
            a4 = _sigmoid(a3 @ w4.T + b4)
            loss, g = _softmax_xent_grad(a4 @ w5.T + b5, y)
            gw5, gb5 = g.T @ a4, g.sum(0)
            g = (g @ w5) * a4 * (1 - a4)
            gw4, gb4 = g.T @ a3, g.sum(0)
            g = (g @ w4) * a3 * (1 - a3)
            gw3, gb3 = g.T @ f, g.sum(0)
            g = (g @ w3).reshape(p2.shape)
            g = _avgpool2_backward(g) * a2 * (1 - a2)
            gw2, gb2, g = _conv_backward(g, cols2, w2, p1.shape, 0)
            g = _avgpool2_backward(g) * a1 * (1 - a1)
            gw1, gb1, _ = _conv_backward(g, cols1, w1, None, 2)
            grads = [gw1, gb1, gw2, gb2, gw3, gb3, gw4, gb4, gw5, gb5]
            for p, gp in zip(params, grads, strict=True):
                p -= lr * gp
        return loss

    return run


# ============================================================================ W8
def w8_data(quick: bool) -> dict:
    """d2l 8.6's Residual block on a ResNet stage-2 activation: 32 x 64 x 56 x 56."""
    rng = np.random.default_rng(4)
    n, c, side = (4, 8, 8) if quick else (32, 64, 56)
    bound = 1 / math.sqrt(c * 9)  # PyTorch's default Conv2d init range
    conv = [
        (
            rng.uniform(-bound, bound, (c, c, 3, 3)).astype(np.float32),
            rng.uniform(-bound, bound, c).astype(np.float32),
        )
        for _ in range(2)
    ]
    return {
        "x": rng.standard_normal((n, c, side, side), dtype=np.float32),
        "weights": rng.standard_normal((n, c, side, side), dtype=np.float32),
        "channels": c,
        "conv_init": conv,
    }


def w8_framework(torch: Any, d: dict) -> Run:
    nn, F = torch.nn, torch.nn.functional

    class Residual(nn.Module):  # d2l 8.6, 64 channels, no 1x1 convolution
        def __init__(self, num_channels: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
            self.bn1 = nn.BatchNorm2d(num_channels)
            self.bn2 = nn.BatchNorm2d(num_channels)

        def forward(self, X: Any) -> Any:
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            Y += X
            return F.relu(Y)

    block = Residual(d["channels"])
    with torch.no_grad():
        for conv, (w, b) in zip((block.conv1, block.conv2), d["conv_init"], strict=True):
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.copy_(torch.from_numpy(b))
    x, weights = torch.from_numpy(d["x"]), torch.from_numpy(d["weights"])

    def run() -> float:
        block.zero_grad()
        loss = (block(x) * weights).mean()
        loss.backward()
        # The loss plus the first convolution's weight gradient: the whole backward counts.
        return loss.item() + block.conv1.weight.grad.abs().sum().item()

    return run


# ============================================================================ W9
W9_VOCAB, W9_STEPS, W9_BATCH, W9_HIDDEN, W9_BATCHES = 28, 35, 32, 256, 5


def w9_data(quick: bool) -> dict:
    """d2l 9.5/10.1: a character LSTM language model (vocabulary 28, one-hot input, hidden 256,
    sequence 35, batch 32), a few minibatches of forward, BPTT, clipping at 1 and SGD(1)."""
    rng = np.random.default_rng(9)
    vocab = W9_VOCAB
    steps, batch, hidden, batches = (
        (5, 4, 8, 2) if quick else (W9_STEPS, W9_BATCH, W9_HIDDEN, W9_BATCHES)
    )
    bound = 1 / math.sqrt(hidden)  # PyTorch's LSTM init; Linear's bound is the same here

    def u(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    init = {
        "weight_ih_l0": u(4 * hidden, vocab),
        "weight_hh_l0": u(4 * hidden, hidden),
        "bias_ih_l0": u(4 * hidden),
        "bias_hh_l0": u(4 * hidden),
        "dense.weight": u(vocab, hidden),
        "dense.bias": u(vocab),
    }
    tokens = rng.integers(0, vocab, (batches, batch, steps + 1))
    return {"init": init, "tokens": tokens, "vocab": vocab, "hidden": hidden, "lr": 1.0}


def w9_framework(torch: Any, d: dict) -> Run:
    nn, F = torch.nn, torch.nn.functional
    vocab, hidden = d["vocab"], d["hidden"]

    class RNNModel(nn.Module):  # d2l's concise RNN language model, with an LSTM layer
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(vocab, hidden)
            self.dense = nn.Linear(hidden, vocab)

        def forward(self, inputs: Any, state: Any = None) -> tuple:
            X = F.one_hot(inputs.T.long(), vocab).float()
            Y, state = self.rnn(X, state)
            return self.dense(Y.reshape((-1, Y.shape[-1]))), state

    device = device_of(d)
    net = RNNModel().to(device)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.from_numpy(d["init"][name.removeprefix("rnn.")]).to(device))
    loss = nn.CrossEntropyLoss()
    updater = torch.optim.SGD(net.parameters(), lr=d["lr"])
    batches = [
        (
            torch.from_numpy(t[:, :-1].copy()).to(device),
            torch.from_numpy(t[:, 1:].T.reshape(-1).copy()).to(device),
        )
        for t in d["tokens"]
    ]

    def run() -> float:
        total = 0.0
        for X, y in batches:
            y_hat, _ = net(X)  # a fresh zero state per minibatch (random sampling)
            l = loss(y_hat, y).mean()  # noqa: E741 - d2l's name
            updater.zero_grad()
            l.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            updater.step()
            total += l.item()
        return total

    return run


def w9_numpy(d: dict) -> Run:
    """The same training by hand: one GEMM for the input projections of all steps, one per
    step for the gates, BPTT with one GEMM per step, the weight gradients as single GEMMs."""
    vocab, hidden, lr = d["vocab"], d["hidden"], d["lr"]
    p = {k: v.copy() for k, v in d["init"].items()}
    H = hidden
    eye = np.eye(vocab, dtype=np.float32)

    def step(tokens: np.ndarray) -> float:
        X, Y = tokens[:, :-1].T, tokens[:, 1:].T.reshape(-1)
        T, B = X.shape
        w_ih, w_hh = p["weight_ih_l0"], p["weight_hh_l0"]
        xs = (eye[X].reshape(T * B, vocab) @ w_ih.T).reshape(T, B, 4 * H)
        xs += p["bias_ih_l0"] + p["bias_hh_l0"]
        h = np.zeros((B, H), np.float32)
        c = np.zeros((B, H), np.float32)
        hs = np.empty((T + 1, B, H), np.float32)
        cs = np.empty((T + 1, B, H), np.float32)
        acts = np.empty((T, B, 4 * H), np.float32)
        tcs = np.empty((T, B, H), np.float32)
        hs[0], cs[0] = h, c
        for t in range(T):
            gates = xs[t] + h @ w_hh.T
            a = acts[t]
            a[:] = 1 / (1 + np.exp(-gates))
            a[:, 2 * H : 3 * H] = np.tanh(gates[:, 2 * H : 3 * H])
            c = a[:, H : 2 * H] * c + a[:, :H] * a[:, 2 * H : 3 * H]
            tcs[t] = np.tanh(c)
            h = a[:, 3 * H :] * tcs[t]
            hs[t + 1], cs[t + 1] = h, c
        flat = hs[1:].reshape(T * B, H)
        logits = flat @ p["dense.weight"].T + p["dense.bias"]
        z = logits - logits.max(1, keepdims=True)
        e = np.exp(z)
        s = e.sum(1, keepdims=True)
        n = logits.shape[0]
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), Y]))
        dlog = e / s
        dlog[np.arange(n), Y] -= 1
        dlog /= n
        grads = {"dense.weight": dlog.T @ flat, "dense.bias": dlog.sum(0)}
        dhs = (dlog @ p["dense.weight"]).reshape(T, B, H)
        dgates = np.empty((T, B, 4 * H), np.float32)
        dh = np.zeros((B, H), np.float32)
        dc = np.zeros((B, H), np.float32)
        for t in range(T - 1, -1, -1):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            dh = dh + dhs[t]
            dc = dc + dh * o * (1 - tcs[t] ** 2)
            dg = dgates[t]
            dg[:, :H] = dc * g * i * (1 - i)
            dg[:, H : 2 * H] = dc * cs[t] * f * (1 - f)
            dg[:, 2 * H : 3 * H] = dc * i * (1 - g * g)
            dg[:, 3 * H :] = dh * tcs[t] * o * (1 - o)
            dh = dg @ w_hh
            dc = dc * f
        flat_d = dgates.reshape(T * B, 4 * H)
        grads["weight_hh_l0"] = flat_d.T @ hs[:-1].reshape(T * B, H)
        grads["weight_ih_l0"] = flat_d.T @ eye[X].reshape(T * B, vocab)
        grads["bias_ih_l0"] = grads["bias_hh_l0"] = flat_d.sum(0)
        norms = np.array([np.linalg.norm(g) for g in grads.values()], np.float32)
        total = np.float32(np.linalg.norm(norms))
        coef = min(np.float32(1.0) / (total + np.float32(1e-6)), np.float32(1.0))
        for k, g in grads.items():
            p[k] -= lr * (g * coef)
        return loss

    def run() -> float:
        return sum(step(t) for t in d["tokens"])

    return run


# ============================================================================ W10
def w10_data(quick: bool) -> dict:
    """Attention on batch 64, 4 heads, sequence 50, head size 32 (embedding 128)."""
    rng = np.random.default_rng(10)
    n, heads, seq, head = (4, 2, 8, 8) if quick else (64, 4, 50, 32)
    e = heads * head
    shape = (n, heads, seq, head)
    bound_in = math.sqrt(6.0 / (e + 3 * e))  # PyTorch's xavier_uniform_ on in_proj_weight
    bound_out = 1 / math.sqrt(e)
    return {
        "heads": heads,
        "embed": e,
        "q": rng.standard_normal(shape, dtype=np.float32),
        "k": rng.standard_normal(shape, dtype=np.float32),
        "v": rng.standard_normal(shape, dtype=np.float32),
        "weights": rng.standard_normal(shape, dtype=np.float32),
        "x": rng.standard_normal((n, seq, e), dtype=np.float32),
        "x_weights": rng.standard_normal((n, seq, e), dtype=np.float32),
        "in_proj": rng.uniform(-bound_in, bound_in, (3 * e, e)).astype(np.float32),
        "out_proj": rng.uniform(-bound_out, bound_out, (e, e)).astype(np.float32),
    }


def w10_sdpa_framework(torch: Any, d: dict) -> Run:
    F = torch.nn.functional
    q, k, v = (torch.from_numpy(d[n]).requires_grad_() for n in ("q", "k", "v"))
    weights = torch.from_numpy(d["weights"])

    def run() -> float:
        for t in (q, k, v):
            t.grad = None
        loss = (F.scaled_dot_product_attention(q, k, v) * weights).mean()
        loss.backward()
        return loss.item() + q.grad.abs().sum().item()

    return run


def w10_mha_framework(torch: Any, d: dict) -> Run:
    mha = torch.nn.MultiheadAttention(d["embed"], d["heads"], batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(d["in_proj"]))
        mha.out_proj.weight.copy_(torch.from_numpy(d["out_proj"]))
    x = torch.from_numpy(d["x"]).requires_grad_()
    weights = torch.from_numpy(d["x_weights"])

    def run() -> float:
        mha.zero_grad()
        x.grad = None
        out, _ = mha(x, x, x, need_weights=False)
        loss = (out * weights).mean()
        loss.backward()
        return loss.item() + mha.in_proj_weight.grad.abs().sum().item()

    return run


def _np_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> tuple:
    s = np.matmul(q * np.float32(1 / math.sqrt(q.shape[-1])), k.swapaxes(-1, -2))
    s -= s.max(-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(-1, keepdims=True)
    return s @ v, s


def _np_attention_backward(g: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                           p: np.ndarray) -> tuple:  # fmt: skip
    scale = np.float32(1 / math.sqrt(q.shape[-1]))
    dv = p.swapaxes(-1, -2) @ g
    dp = g @ v.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    ds *= scale
    return ds @ k, ds.swapaxes(-1, -2) @ q, dv


def w10_sdpa_numpy(d: dict) -> Run:
    q, k, v, weights = d["q"], d["k"], d["v"], d["weights"]

    def run() -> float:
        out, p = _np_attention(q, k, v)
        loss = float((out * weights).mean())
        dq, _, _ = _np_attention_backward(weights / np.float32(out.size), q, k, v, p)
        return loss + float(np.abs(dq).sum())

    return run


def w10_mha_numpy(d: dict) -> Run:
    x, weights, w_in, w_out = d["x"], d["x_weights"], d["in_proj"], d["out_proj"]
    n, seq, e = x.shape
    h = d["heads"]

    def heads(t: np.ndarray) -> np.ndarray:
        return t.reshape(n, seq, h, e // h).transpose(0, 2, 1, 3)

    def run() -> float:
        x2 = x.reshape(-1, e)
        qkv = x2 @ w_in.T  # zero biases, as PyTorch's initialisation
        q, k, v = (heads(qkv[:, i * e : (i + 1) * e].reshape(n, seq, e)) for i in range(3))
        o, p = _np_attention(q, k, v)
        o2 = o.transpose(0, 2, 1, 3).reshape(-1, e)
        out = o2 @ w_out.T
        loss = float((out.reshape(n, seq, e) * weights).mean())
        g_out = (weights / np.float32(out.size)).reshape(-1, e)
        g_o2 = g_out @ w_out
        g_o = g_o2.reshape(n, seq, h, e // h).transpose(0, 2, 1, 3)
        dq, dk, dv = _np_attention_backward(g_o, q, k, v, p)
        g_qkv = np.concatenate(
            [t.transpose(0, 2, 1, 3).reshape(-1, e) for t in (dq, dk, dv)], axis=1
        )
        g_w_in = g_qkv.T @ x2
        _ = g_qkv @ w_in  # the input's gradient
        _ = g_out.T @ o2  # out_proj's weight gradient
        return loss + float(np.abs(g_w_in).sum())

    return run


# ============================================================================ registry
def _bind(name: str, fn: Callable[[Any, dict], Run]) -> Prepare:
    return lambda d: fn(framework(name), d)


def _engines(fw_fn: Callable[[Any, dict], Run], numpy_fn: Prepare | None) -> dict[str, Prepare]:
    engines = {"ndgrad": _bind("ndgrad", fw_fn), "pytorch": _bind("pytorch", fw_fn)}
    if numpy_fn is not None:  # no hand-written NumPy engine: the table shows "-"
        engines["numpy"] = numpy_fn
    return engines


def _compiled_engines(
    compiled_fn: Callable[[Any, dict], Run], eager_fn: Callable[[Any, dict], Run], numpy_fn: Prepare
) -> dict[str, Prepare]:
    """A compiled workload's engines, and eager ndgrad beside them (target: no slower)."""
    engines = _engines(compiled_fn, numpy_fn)
    engines["eager"] = _bind("ndgrad", eager_fn)
    return engines


WORKLOADS: list[Workload] = [
    Workload(
        "W1", "d2l linear regression from scratch (1000x2, batch 10, 3 epochs)", "ms",
        w1_data, _engines(w1_d2l, w1_numpy),
    ),
    Workload(
        "W2", "softmax regression, 60000x784 f32, batch 256, 1 epoch, SGD 0.1", "ms",
        classification_data, _engines(w2_framework, w2_numpy),
    ),
    Workload(
        "W3", "MLP 784-256-10 ReLU, same data, batch 256, 1 epoch", "ms",
        classification_data, _engines(w3_framework, w3_numpy),
    ),
    Workload(
        "W4", "one step of y = (x*2+1).sum(); y.backward(), 1 element", "us",
        w4_data, _engines(w4_framework, w4_numpy), steps=lambda d: d["iterations"],
    ),
    Workload(
        "W1c", "W1, its step (minibatch gather, forward, backward, sgd) under ndgrad.compile (PyTorch eager)", "ms",
        w1_data, _engines(w1_compiled, w1_numpy),
    ),
    Workload(
        "W2c", "W2, its step (forward, backward, SGD) under ndgrad.compile (PyTorch eager)", "ms",
        classification_data, _compiled_engines(w2_compiled, w2_framework, w2_numpy),
    ),
    Workload(
        "W3c", "W3, its step (forward, backward, SGD) under ndgrad.compile (PyTorch eager)", "ms",
        classification_data, _compiled_engines(w3_compiled, w3_framework, w3_numpy),
    ),
    Workload(
        "W4c", "W4's step under ndgrad.compile (PyTorch eager)", "us",
        w4_data, _engines(w4_compiled, w4_numpy), steps=lambda d: d["iterations"],
    ),
    Workload(
        "W5a", "functional.jacobian of tanh(A @ x), 100 -> 100", "ms",
        w5_data, _engines(w5_jacobian_framework, w5_jacobian_numpy),
    ),
    Workload(
        "W5b", "functional.hessian of sum(tanh(A @ x)) + sum(x^4)/4, 100-d", "ms",
        w5_data, _engines(w5_hessian_framework, w5_hessian_numpy),
    ),
    Workload(
        "W7", "d2l LeNet (sigmoid, avg-pool), 60000x1x28x28, batch 256, 1 epoch, SGD 0.9", "ms",
        w7_data, _engines(w7_framework, w7_numpy),
    ),
    Workload(
        "W8", "d2l Residual block, 32x64x56x56, forward + backward (loss + |dW1|)", "ms",
        w8_data, _engines(w8_framework, None),
    ),
    Workload(
        "W9", "d2l LSTM language model, vocab 28 one-hot, hidden 256, seq 35, batch 32, "
        "5 steps of forward + BPTT + clip_grad_norm_ + SGD", "ms",
        w9_data, _engines(w9_framework, w9_numpy),
    ),
    Workload(
        "W10a", "scaled_dot_product_attention, 64x4x50x32 f32, forward + backward", "ms",
        w10_data, _engines(w10_sdpa_framework, w10_sdpa_numpy),
    ),
    Workload(
        "W10b", "nn.MultiheadAttention(128, 4), 64x50x128, forward + backward", "ms",
        w10_data, _engines(w10_mha_framework, w10_mha_numpy),
    ),
]  # fmt: skip

# W6 measures the peak memory of W3's epoch: ndgrad against hand-written NumPy.
MEMORY_ENGINES: dict[str, Prepare] = {"ndgrad": _bind("ndgrad", w3_framework), "numpy": w3_numpy}
