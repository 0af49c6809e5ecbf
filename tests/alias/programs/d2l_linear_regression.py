# ruff: noqa: I001 - the stand-ins must come before d2l
"""d2l's linear regression (from scratch and concise) trained by d2l.Trainer for a few epochs.

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


which = sys.argv[1] if len(sys.argv) > 1 else "both"
out = {"torch": torch.__name__}
if which in ("scratch", "both"):
    model = d2l.LinearRegressionScratch(2, lr=0.03)
    model.w = torch.tensor(w0, requires_grad=True)
    out["scratch_board"] = fit(model)
    out["scratch_w"] = model.w.detach().numpy().ravel().tolist()
    out["scratch_b"] = model.b.detach().numpy().ravel().tolist()
if which in ("concise", "both"):
    model = d2l.LinearRegression(lr=0.03)
    model.net = torch.nn.Linear(2, 1)
    model.net.weight.data = torch.tensor(w0.T.copy())
    model.net.bias.data.fill_(0)
    out["concise_board"] = fit(model)
    w, b = model.get_w_b()
    out["concise_w"] = d2l.numpy(w).ravel().tolist()
    out["concise_b"] = d2l.numpy(b).ravel().tolist()
print(json.dumps(out))
