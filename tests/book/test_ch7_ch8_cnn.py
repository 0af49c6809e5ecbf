"""d2l chapters 7-8 (convolutional networks): the book's networks on both frameworks.

Each network is written as the book writes it, built on ndgrad and on PyTorch, given the same
weights (drawn with NumPy in PyTorch's parameter order), run forward and backward on the same
batch; outputs, every parameter's gradient, running statistics and the printed network must
agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.side_by_side import assert_same, run_both

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# ----------------------------------------------------------------------------- the book's code
def lenet(nn: Any) -> Any:
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


def lenet_batch_norm(nn: Any) -> Any:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )  # fmt: skip


def alexnet_small(nn: Any) -> Any:
    """AlexNet's layers with an eighth of its channels, on 1x67x67 images."""
    return nn.Sequential(
        nn.Conv2d(1, 12, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(12, 32, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(32, 48, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(48, 48, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(48, 32, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(32, 64), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(64, 64), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(64, 10),
    )  # fmt: skip


def vgg_block(nn: Any, num_convs: int, in_channels: int, out_channels: int) -> Any:
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg_small(nn: Any) -> Any:
    blocks = [vgg_block(nn, n, i, o) for n, i, o in [(1, 1, 4), (1, 4, 8), (2, 8, 8)]]
    return nn.Sequential(*blocks, nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


def nin_block(nn: Any, in_channels: int, out_channels: int, kernel_size: int, strides: int,
              padding: int) -> Any:  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
    )  # fmt: skip


def nin_small(nn: Any) -> Any:
    return nn.Sequential(
        nin_block(nn, 1, 8, kernel_size=5, strides=2, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(nn, 8, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
    )


def inception(nn: Any, F: Any, torch: Any) -> Any:
    class Inception(nn.Module):
        # c1--c4 are the number of output channels for each branch
        def __init__(self, in_channels, c1, c2, c3, c4, **kwargs):
            super().__init__(**kwargs)
            # Branch 1
            self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
            # Branch 2
            self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
            self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
            # Branch 3
            self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
            self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
            # Branch 4
            self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

        def forward(self, x):
            b1 = F.relu(self.p1_1(x))
            b2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
            b3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
            b4 = F.relu(self.p4_2(self.p4_1(x)))
            return torch.cat((b1, b2, b3, b4), dim=1)

    return Inception(3, 4, (3, 5), (2, 3), 2)


def residual_class(nn: Any, F: Any) -> Any:
    class Residual(nn.Module):
        """The Residual block of ResNet models."""

        def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1,
                                   stride=strides)  # fmt: skip
            self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
            if use_1x1conv:
                self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1,
                                       stride=strides)  # fmt: skip
            else:
                self.conv3 = None
            self.bn1 = nn.BatchNorm2d(num_channels)
            self.bn2 = nn.BatchNorm2d(num_channels)

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    return Residual


def resnet18_small(nn: Any, F: Any) -> Any:
    Residual = residual_class(nn, F)

    def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels, num_channels))
        return blk

    b1 = nn.Sequential(nn.Conv2d(1, 8, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(8), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))  # fmt: skip
    b2 = nn.Sequential(*resnet_block(8, 8, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(8, 16, 2))
    b4 = nn.Sequential(*resnet_block(16, 32, 2))
    b5 = nn.Sequential(*resnet_block(32, 64, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(64, 10))  # fmt: skip


def resnext_block(nn: Any, F: Any) -> Any:
    class ResNeXtBlock(nn.Module):
        """The ResNeXt block."""

        def __init__(self, num_channels, groups, bot_mul, use_1x1conv=False, strides=1):
            super().__init__()
            bot_channels = int(round(num_channels * bot_mul))
            self.conv1 = nn.LazyConv2d(bot_channels, kernel_size=1, stride=1)
            self.conv2 = nn.LazyConv2d(bot_channels, kernel_size=3, stride=strides, padding=1,
                                       groups=bot_channels // groups)  # fmt: skip
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=1)
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()
            self.bn3 = nn.LazyBatchNorm2d()
            if use_1x1conv:
                self.conv4 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
                self.bn4 = nn.LazyBatchNorm2d()
            else:
                self.conv4 = None

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = F.relu(self.bn2(self.conv2(Y)))
            Y = self.bn3(self.conv3(Y))
            if self.conv4:
                X = self.bn4(self.conv4(X))
            return F.relu(Y + X)

    return ResNeXtBlock(32, 16, 1, True, 2)


def dense_net_pieces(nn: Any, torch: Any) -> Any:
    def conv_block(num_channels):
        return nn.Sequential(
            nn.LazyBatchNorm2d(), nn.ReLU(),
            nn.LazyConv2d(num_channels, kernel_size=3, padding=1))  # fmt: skip

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, num_channels):
            super().__init__()
            layer = []
            for _ in range(num_convs):
                layer.append(conv_block(num_channels))
            self.net = nn.Sequential(*layer)

        def forward(self, X):
            for blk in self.net:
                Y = blk(X)
                # Concatenate input and output of each block along the channels
                X = torch.cat((X, Y), dim=1)
            return X

    def transition_block(num_channels):
        return nn.Sequential(
            nn.LazyBatchNorm2d(), nn.ReLU(),
            nn.LazyConv2d(num_channels, kernel_size=1),
            nn.AvgPool2d(kernel_size=2, stride=2))  # fmt: skip

    return nn.Sequential(DenseBlock(2, 5), transition_block(6))


# ----------------------------------------------------------------------------- the comparison
NETWORKS = {
    "lenet": (lambda fw: lenet(fw.nn), (2, 1, 28, 28)),
    "lenet_batch_norm": (lambda fw: lenet_batch_norm(fw.nn), (4, 1, 28, 28)),
    "alexnet_small": (lambda fw: alexnet_small(fw.nn), (2, 1, 67, 67)),
    "vgg_small": (lambda fw: vgg_small(fw.nn), (2, 1, 16, 16)),
    "nin_small": (lambda fw: nin_small(fw.nn), (2, 1, 24, 24)),
    "inception": (lambda fw: inception(fw.nn, fw.F, fw.torch), (2, 3, 9, 9)),
    "residual": (lambda fw: residual_class(fw.nn, fw.F)(3, 3), (2, 3, 6, 6)),
    "residual_1x1": (lambda fw: residual_class(fw.nn, fw.F)(3, 6, True, 2), (2, 3, 6, 6)),
    "resnet18_small": (lambda fw: resnet18_small(fw.nn, fw.F), (2, 1, 32, 32)),
    "resnext_block": (lambda fw: resnext_block(fw.nn, fw.F), (2, 32, 8, 8)),
    "densenet_pieces": (lambda fw: dense_net_pieces(fw.nn, fw.torch), (2, 3, 8, 8)),
}


def program(fw: Any, name: str) -> list:
    build, shape = NETWORKS[name]
    torch = fw.torch
    rng = np.random.default_rng(7)
    net = build(fw)
    x = torch.tensor(rng.normal(size=shape).astype(np.float32))
    net.eval()
    net(x)  # materialises lazy layers (eval: running statistics stay as they are)
    with torch.no_grad():  # the same weights for both: drawn in parameter order
        for p in net.parameters():
            fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else 1  # activations stay O(1)
            std = 1 / np.sqrt(fan_in)
            p.copy_(torch.tensor(rng.normal(0, std, tuple(p.shape)).astype(np.float32)))
    if name != "alexnet_small":  # AlexNet's dropout would draw different masks
        net.train()
    y = net(x)
    loss = (y * torch.tensor(rng.normal(size=tuple(y.shape)).astype(np.float32))).sum()
    loss.backward()
    buffers = [b for key, b in net.state_dict().items() if "running" in key]
    # float32 sums in another order differ by ~1e-6 of the largest gradient element: compare
    # gradients relative to that (a bias before batch norm has a gradient of 0 + noise)
    scale = max(1.0, *(float(p.grad.abs().max()) for p in net.parameters()))
    grads = [p.grad / scale for p in net.parameters()]
    return [
        y,
        grads,
        buffers,
        list(net.state_dict()),
        repr(net),
    ]


@pytest.mark.parametrize("name", list(NETWORKS))
def test_book_network_forward_backward_matches_torch(name: str) -> None:
    ours, ref = run_both(program, name)
    # 20 float32 layers with batch norm amplify rounding (float64 agrees to 1e-12)
    tol = 2e-3 if name == "resnet18_small" else 2e-4
    assert_same(ours, ref, rtol=tol, atol=tol)
