# ruff: noqa: I001 - the stand-ins must come before d2l
"""d2l's convolutional classes (chapters 7-8): ``d2l.corr2d``, ``d2l.LeNet`` trained by
``d2l.Trainer`` on a small FashionMNIST-shaped data set made with NumPy, and ``d2l.Residual``
(with and without its 1x1 convolution) forward in training mode (batch statistics), backward,
an SGD step and a forward in eval mode (running statistics); ``d2l.ResNeXtBlock`` (grouped
convolution), ``d2l.resnet18``, ``d2l.init_cnn`` and ``layer_summary``.

Run unchanged under real PyTorch (``python``) and under ndgrad (``ndgrad run``): data and weights
come from NumPy, batches in order, so no random stream enters. Prints one JSON line.
"""

import contextlib
import io
import json

import numpy as np

import _standins  # noqa: F401 - ndgrad.vision/pandas/requests stand-ins where missing
from _numpy_init import board, flat, grads, numpy_init, params
from d2l import torch as d2l
import torch

rng = np.random.default_rng(0)
out = {"torch": torch.__name__}

# corr2d (chapter 7.2) on a small image and kernel.
X = torch.tensor(rng.standard_normal((5, 6)).astype(np.float32))
K = torch.tensor(rng.standard_normal((2, 3)).astype(np.float32))
out["corr2d"] = flat(d2l.corr2d(X, K))

# LeNet on FashionMNIST-shaped data: 1x28x28 images, 10 classes, labels a function of the image.
n_train, n_val = 48, 16
images = rng.standard_normal((n_train + n_val, 1, 28, 28)).astype(np.float32)
labels = (images[:, 0, :14, :14].sum(axis=(1, 2)) > 0).astype(np.int64) * 3 + (
    images[:, 0, 14:, 14:].sum(axis=(1, 2)) > 0
).astype(np.int64)


class FashionLike(d2l.DataModule):
    def __init__(self, batch_size=16):
        super().__init__()
        self.save_hyperparameters()
        self.X, self.y = torch.tensor(images), torch.tensor(labels)

    def get_dataloader(self, train):
        i = slice(0, n_train) if train else slice(n_train, None)
        return self.get_tensorloader((self.X, self.y), False, i)  # in order


model = d2l.LeNet(lr=0.3)
model.apply_init([d2l.zeros((1, 1, 28, 28))])  # materializes the lazy layers
numpy_init(model, torch, scale=0.1)
model.board.display = False
d2l.Trainer(max_epochs=2).fit(model, FashionLike())
out["lenet"] = {"board": board(model), "params": params(model)}
shapes = []
X = d2l.zeros((2, 1, 28, 28))
for layer in model.net:
    X = layer(X)
    shapes.append([layer.__class__.__name__, list(X.shape)])
out["lenet_shapes"] = shapes

# Residual blocks.
X = torch.tensor(rng.standard_normal((4, 3, 6, 6)).astype(np.float32))
for name, kwargs in [("residual", {"num_channels": 3}),
                     ("residual_1x1", {"num_channels": 6, "use_1x1conv": True, "strides": 2})]:  # fmt: skip
    blk = d2l.Residual(**kwargs)
    blk(X)  # materializes the lazy layers (and moves the running statistics once)
    numpy_init(blk, torch)
    with torch.no_grad():
        for m in (blk.bn1, blk.bn2):
            m.reset_running_stats()
    blk.train()
    Y = blk(X)
    loss = (Y * Y).mean()
    loss.backward()
    opt = torch.optim.SGD(blk.parameters(), lr=0.1)
    opt.step()
    blk.eval()
    out[name] = {
        "shape": list(Y.shape),
        "train_out": flat(Y),
        "loss": loss.item(),
        "grads": grads(blk),
        "running": [
            flat(blk.bn1.running_mean),
            flat(blk.bn1.running_var),
            flat(blk.bn2.running_mean),
            flat(blk.bn2.running_var),
        ],  # fmt: skip
        "eval_out": flat(blk(X)),
    }

# ResNeXtBlock (grouped convolution), train-mode forward and backward.
blk = d2l.ResNeXtBlock(num_channels=8, groups=2, bot_mul=1, use_1x1conv=True, strides=2)
blk(X)
numpy_init(blk, torch)
Y = blk(X)
Y.square().mean().backward()
out["resnext"] = {"shape": list(Y.shape), "out": flat(Y), "grads": grads(blk)}

# d2l.resnet18 (built from d2l.Residual; BatchNorm2d, AdaptiveAvgPool2d): a training step's
# loss and gradients, then eval mode on the running statistics.
net = d2l.resnet18(num_classes=10, in_channels=1)
x = torch.tensor(rng.standard_normal((4, 1, 16, 16)).astype(np.float32))
net(x)  # materializes the lazy layers
numpy_init(net, torch, scale=0.05)
for m in net.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.reset_running_stats()
y = net(x)
loss = torch.nn.functional.cross_entropy(y, torch.tensor([1, 2, 3, 4]))
loss.backward()
net.eval()
out["resnet18"] = {
    "out": flat(y),
    "loss": loss.item(),
    "grads": [
        flat(net[0].weight.grad),
        flat(net.resnet_block4[1].conv2.weight.grad),
        flat(net.fc[1].weight.grad),
    ],  # fmt: skip
    "running": flat([net.resnet_block4[1].bn2.running_mean, net.resnet_block4[1].bn2.running_var]),
    "eval_out": flat(net(x)),
}

# d2l's initializers and layer_summary draw random numbers: they run, shapes only.
net = d2l.LeNet()
net.apply_init([d2l.zeros((1, 1, 28, 28))], d2l.init_cnn)
summary = io.StringIO()
with contextlib.redirect_stdout(summary):
    net.layer_summary((1, 1, 28, 28))
out["init_cnn"] = [list(p.shape) for p in net.parameters()]
out["layer_summary"] = summary.getvalue().splitlines()
print(json.dumps(out))
