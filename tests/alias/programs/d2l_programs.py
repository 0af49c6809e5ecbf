# ruff: noqa: I001 - the stand-ins must come before d2l
"""d2l's module-level aliases (``d2l.sinh = torch.sinh``, ``d2l.numpy = lambda x: ...``) on
the same inputs; d2l's linear regression (from scratch and concise) and its classifier
(``d2l.SoftmaxRegression``, and the same Classifier with an MLP as its net) trained by
d2l.Trainer for a few epochs.

Run unchanged under real PyTorch (``python``) and under ndgrad (``ndgrad run``): the data and
the initial weights are made with NumPy and batches are taken in order, so no random stream of
either library enters, and the two runs' numbers must agree. Prints one JSON line.
"""

import json
import sys

import numpy as np

import _standins  # noqa: F401 - ndgrad.vision/pandas/requests stand-ins where missing
from d2l import torch as d2l
import torch

rng = np.random.default_rng(0)
n_train, n_val = 256, 128
true_w, true_b = np.array([2.0, -3.4]), 4.2
X = rng.normal(size=(n_train + n_val, 2)).astype(np.float32)
y = (X @ true_w.reshape(-1, 1) + true_b + 0.01 * rng.normal(size=(len(X), 1))).astype(np.float32)
w0 = (0.01 * rng.normal(size=(2, 1))).astype(np.float32)


def make_data():
    data = d2l.SyntheticRegressionData(
        w=torch.tensor([2.0, -3.4]), b=4.2, num_train=n_train, num_val=n_val, batch_size=32
    )
    data.X, data.y = torch.tensor(X), torch.tensor(y)
    # Batches in order: no shuffling, so no random stream enters.
    data.train_dataloader = lambda: data.get_tensorloader(
        (data.X, data.y), False, slice(0, n_train)
    )
    return data


def fit(model, epochs=3):
    model.board.display = False
    d2l.Trainer(max_epochs=epochs).fit(model, make_data())
    return {k: [float(p.y) for p in v] for k, v in model.board.data.items()}


def aliases():
    x = d2l.tensor(np.linspace(-1.5, 2.0, 6, dtype=np.float32).reshape(2, 3))
    results = {
        name: d2l.numpy(getattr(d2l, name)(x)).tolist()
        for name in ("sin", "sinh", "cos", "cosh", "tanh", "exp", "abs", "sigmoid")
    }
    results["log"] = d2l.numpy(d2l.log(d2l.abs(x) + 1)).tolist()
    results["ones"] = d2l.numpy(d2l.ones((2, 2)) + d2l.zeros_like(d2l.ones_like(x[:, :2]))).tolist()
    results["arange"] = d2l.numpy(d2l.arange(5)).tolist()
    results["linspace"] = d2l.numpy(d2l.linspace(0, 1, 5)).tolist()
    results["eye"] = d2l.numpy(d2l.eye(2)).tolist()
    results["matmul"] = d2l.numpy(d2l.matmul(x, d2l.transpose(x))).tolist()
    results["bmm"] = d2l.numpy(d2l.batch_matmul(d2l.stack([x, x]), d2l.stack([x.T, x.T]))).tolist()
    results["concat"] = d2l.numpy(d2l.concat([x, x], 0)).tolist()
    results["meshgrid"] = [
        d2l.numpy(m).tolist() for m in d2l.meshgrid(d2l.arange(2), d2l.arange(3), indexing="ij")
    ]
    results["size"] = d2l.size(x)
    results["reshape"] = d2l.numpy(d2l.reshape(x, (3, 2))).tolist()
    results["to"] = str(d2l.to(x, torch.float64).dtype)
    results["reduce_sum"] = d2l.numpy(d2l.reduce_sum(x, axis=1)).tolist()
    results["reduce_mean"] = d2l.numpy(d2l.reduce_mean(x)).tolist()
    results["argmax"] = d2l.numpy(d2l.argmax(x, axis=1)).tolist()
    results["astype"] = str(d2l.astype(x, d2l.int32).dtype)
    results["expand_dims"] = list(d2l.expand_dims(x, 0).shape)
    results["swapaxes"] = list(d2l.swapaxes(x, 0, 1).shape)
    results["repeat"] = d2l.numpy(d2l.repeat(x, 2, 1)).tolist()
    results["dtypes"] = [str(d2l.int32), str(d2l.float32)]
    results["cpu"] = str(d2l.cpu())
    results["gpus"] = [d2l.num_gpus(), str(d2l.try_gpu())]
    return results


# Three Gaussian classes in 4 dimensions for the classifiers.
n_cls_train = 192
centres = rng.normal(scale=1.5, size=(3, 4))
Yc = np.repeat(np.arange(3), (n_cls_train + 96) // 3)
Xc = (centres[Yc] + rng.normal(size=(len(Yc), 4))).astype(np.float32)
order = rng.permutation(len(Yc))
Xc, Yc = Xc[order], Yc[order]
weights = {
    "softmax": [(0.1 * rng.normal(size=(3, 4))).astype(np.float32), np.zeros(3, np.float32)],
    "mlp": [(0.5 * rng.normal(size=(8, 4))).astype(np.float32), np.zeros(8, np.float32),
            (0.5 * rng.normal(size=(3, 8))).astype(np.float32), np.zeros(3, np.float32)],
}  # fmt: skip


class Blobs(d2l.DataModule):
    def __init__(self, batch_size=32):
        super().__init__()
        self.save_hyperparameters()
        self.X, self.y = torch.tensor(Xc), torch.tensor(Yc)

    def get_dataloader(self, train):
        i = slice(0, n_cls_train) if train else slice(n_cls_train, None)
        return self.get_tensorloader((self.X, self.y), False, i)  # in order


def classifier(kind, epochs=4):
    model = d2l.SoftmaxRegression(num_outputs=3, lr=0.1)
    if kind == "softmax":
        model.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    else:
        model.net = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
        )
    with torch.no_grad():
        for p, value in zip(model.parameters(), weights[kind]):
            p.copy_(torch.tensor(value))
    model.board.display = False
    d2l.Trainer(max_epochs=epochs).fit(model, Blobs())
    board = {k: [float(p.y) for p in v] for k, v in model.board.data.items()}
    params = [d2l.numpy(p).ravel().tolist() for p in model.parameters()]
    return {"board": board, "params": params}


which = sys.argv[1] if len(sys.argv) > 1 else "all"
out = {"torch": torch.__name__}
if which in ("aliases", "all"):
    out["aliases"] = aliases()
if which in ("scratch", "all"):
    model = d2l.LinearRegressionScratch(2, lr=0.03)
    model.w = torch.tensor(w0, requires_grad=True)
    out["scratch_board"] = fit(model)
    out["scratch_w"] = model.w.detach().numpy().ravel().tolist()
    out["scratch_b"] = model.b.detach().numpy().ravel().tolist()
if which in ("concise", "all"):
    model = d2l.LinearRegression(lr=0.03)
    model.net = torch.nn.Linear(2, 1)
    model.net.weight.data = torch.tensor(w0.T.copy())
    model.net.bias.data.fill_(0)
    out["concise_board"] = fit(model)
    w, b = model.get_w_b()
    out["concise_w"] = d2l.numpy(w).ravel().tolist()
    out["concise_b"] = d2l.numpy(b).ravel().tolist()
for kind in ("softmax", "mlp"):
    if which in (kind, "all"):
        out[kind] = classifier(kind)
print(json.dumps(out))
