"""d2l chapter 6 (builders' guide): modules, parameters, initialisation, custom layers, file I/O."""

from __future__ import annotations

import numpy as np
import pytest
from tests.side_by_side import assert_same, copy_params, in_tmpdir, run_both

RNG = np.random.default_rng(6)
X_2_20 = RNG.random((2, 20)).astype(np.float32)
X_2_4 = RNG.random((2, 4)).astype(np.float32)
MLP_20_256_10 = [
    RNG.normal(0, 0.1, (256, 20)).astype(np.float32),
    RNG.normal(0, 0.1, 256).astype(np.float32),
    RNG.normal(0, 0.1, (10, 256)).astype(np.float32),
    RNG.normal(0, 0.1, 10).astype(np.float32),
]
NET_4_8_1 = [
    RNG.normal(0, 0.5, (8, 4)).astype(np.float32),
    RNG.normal(0, 0.5, 8).astype(np.float32),
    RNG.normal(0, 0.5, (1, 8)).astype(np.float32),
    RNG.normal(0, 0.5, 1).astype(np.float32),
]
RAND_WEIGHT = RNG.random((20, 20)).astype(np.float32)


def layers_and_modules(fw):
    """d2l 6.1: Sequential, a custom MLP, MySequential, FixedHiddenMLP, NestMLP."""
    torch, nn, F = fw.torch, fw.nn, fw.F
    X = torch.tensor(X_2_20)
    out = []
    net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    copy_params(fw, net, MLP_20_256_10)
    out += [net(X), net(X).shape, repr(net), len(net), repr(net[0]), repr(net[1])]

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.LazyLinear(256) if False else nn.Linear(20, 256)
            self.out = nn.Linear(256, 10)

        def forward(self, X):
            return self.out(F.relu(self.hidden(X)))

    net = MLP()
    copy_params(fw, net, MLP_20_256_10)
    out += [net(X), repr(net), [n for n, _ in net.named_children()]]

    class MySequential(nn.Module):
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                self._modules[str(idx)] = module

        def forward(self, X):
            for block in self._modules.values():
                X = block(X)
            return X

    net = MySequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    copy_params(fw, net, MLP_20_256_10)
    out += [net(X), repr(net), len(list(net.parameters()))]

    class MySequential2(nn.Module):
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

        def forward(self, X):
            for module in self.children():
                X = module(X)
            return X

    net = MySequential2(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    copy_params(fw, net, MLP_20_256_10)
    out += [net(X), repr(net), [n for n, _ in net.named_parameters()]]

    class FixedHiddenMLP(nn.Module):
        def __init__(self):
            super().__init__()
            # Random weight parameters that will not compute gradients and therefore
            # keep constant during training
            self.rand_weight = torch.rand((20, 20), requires_grad=False)
            self.linear = nn.Linear(20, 20)

        def forward(self, X):
            X = self.linear(X)
            X = F.relu(torch.mm(X, self.rand_weight) + 1)
            X = self.linear(X)
            while X.abs().sum() > 1:
                X /= 2
            return X.sum()

    net = FixedHiddenMLP()
    net.rand_weight = torch.tensor(RAND_WEIGHT)
    copy_params(fw, net, [MLP_20_256_10[0][:20], MLP_20_256_10[1][:20]])
    y = net(X)
    out += [y, repr(net), len(list(net.parameters())), y.requires_grad]
    y.backward()
    out += [net.linear.weight.grad, net.linear.bias.grad]

    class NestMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
            self.linear = nn.Linear(32, 16)

        def forward(self, X):
            return self.linear(self.net(X))

    chimera = nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP())
    out += [chimera(X).shape, repr(chimera), [n for n, _ in chimera.named_parameters()]]
    out += [[n for n, _ in chimera.named_modules()], [type(m).__name__ for m in chimera.modules()]]
    return out


def parameter_management(fw):
    """d2l 6.2: parameter access, all parameters at once, nested blocks, tied parameters."""
    torch, nn = fw.torch, fw.nn
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    copy_params(fw, net, NET_4_8_1)
    X = torch.tensor(X_2_4)
    out = [net(X), net[2].state_dict(), repr(net[2].state_dict()), str(net[2].state_dict())]
    out += [type(net[2].bias).__name__, repr(net[2].bias), str(net[2].bias), net[2].bias]
    out += [net[2].bias.data, repr(net[2].bias.data), net[2].weight.grad is None]
    out += [type(net[2].bias).__module__.replace("ndgrad", "torch")]
    out += [[(name, param.shape) for name, param in net.named_parameters()]]
    out += [str([(name, param.shape) for name, param in net.named_parameters()])]
    out += [net.state_dict()["2.bias"].data, list(net.state_dict().keys())]
    out += [repr(net.state_dict())]
    # d2l prints `*[(name, param.shape) ...]` via print(): capture the joined string
    out += [
        " ".join(str(t) for t in [(name, param.shape) for name, param in net[0].named_parameters()])
    ]
    net(X).sum().backward()
    out += [net[2].weight.grad, repr(net[2].weight.grad), net[0].bias.grad]

    def block1():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

    def block2():
        net = nn.Sequential()
        for i in range(4):
            # Nested here
            net.add_module(f"block {i}", block1())
        return net

    rgnet = nn.Sequential(block2(), nn.Linear(4, 1))
    out += [rgnet(X).shape, repr(rgnet), rgnet[0][1][0].bias.data.shape]
    out += [[n for n, _ in rgnet.named_parameters()], len(rgnet.state_dict())]

    # tied parameters
    shared = nn.Linear(8, 8)
    net = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1)
    )
    copy_params(
        fw,
        net,
        [
            NET_4_8_1[0],
            NET_4_8_1[1],
            RNG_SHARED[0],
            RNG_SHARED[1],
            NET_4_8_1[2],
            NET_4_8_1[3],
        ],
    )
    out += [net(X)]
    out += [net[2].weight.data[0] == net[4].weight.data[0]]
    net[2].weight.data[0, 0] = 100
    out += [net[2].weight.data[0] == net[4].weight.data[0], net[4].weight[0, 0]]
    out += [len(list(net.parameters())), len(net.state_dict()), list(net.state_dict())]
    net(X).sum().backward()
    out += [net[2].weight.grad, net[2].weight is net[4].weight]
    return out


RNG_SHARED = [
    RNG.normal(0, 0.3, (8, 8)).astype(np.float32),
    RNG.normal(0, 0.3, 8).astype(np.float32),
]


def parameter_initialization(fw):
    """d2l 6.3: built-in and custom initialisation via net.apply."""
    torch, nn = fw.torch, fw.nn
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    out = []

    def init_normal(m):
        if type(m) == nn.Linear:  # noqa: E721
            nn.init.normal_(m.weight, mean=0, std=0.01)
            nn.init.zeros_(m.bias)

    net.apply(init_normal)
    out += [
        net[0].weight.data[0].shape,
        net[0].bias.data[0],
        abs(float(net[0].weight.std())) < 0.05,
    ]

    def init_constant(m):
        if type(m) == nn.Linear:  # noqa: E721
            nn.init.constant_(m.weight, 1)
            nn.init.zeros_(m.bias)

    r = net.apply(init_constant)
    out += [net[0].weight.data[0], net[0].bias.data[0], r is net]

    def init_xavier(m):
        if type(m) == nn.Linear:  # noqa: E721
            nn.init.xavier_uniform_(m.weight)

    def init_42(m):
        if type(m) == nn.Linear:  # noqa: E721
            nn.init.constant_(m.weight, 42)

    net[0].apply(init_xavier)
    net[2].apply(init_42)
    bound = (6 / (4 + 8)) ** 0.5
    out += [bool((net[0].weight.data.abs() <= bound).all()), net[2].weight.data]

    def my_init(m):
        if type(m) == nn.Linear:  # noqa: E721
            out.append(("Init", *[(name, param.shape) for name, param in m.named_parameters()][0]))
            nn.init.uniform_(m.weight, -10, 10)
            with torch.no_grad():
                m.weight.copy_(torch.tensor(MY_INIT[m.weight.shape[0]]))
            m.weight.data *= m.weight.data.abs() >= 5

    net.apply(my_init)
    out += [net[0].weight[:2], net[0].weight.dtype, net[2].weight]
    net[0].weight.data[:] += 1
    net[0].weight.data[0, 0] = 42
    out += [net[0].weight.data[0], net[0].weight.requires_grad, net[0].weight.is_leaf]
    # the other built-in initialisers keep dtype and shape and return the tensor
    w = torch.empty(3, 5)
    out += [nn.init.constant_(w, 0.5).clone(), nn.init.ones_(w).clone(), nn.init.zeros_(w) is w]
    out += [nn.init.eye_(torch.empty(3, 5)), nn.init.xavier_normal_(w).shape]
    out += [nn.init.calculate_gain("relu"), nn.init.calculate_gain("tanh")]
    return out


MY_INIT = {
    8: np.random.default_rng(1).uniform(-10, 10, (8, 4)).astype(np.float32),
    1: np.random.default_rng(2).uniform(-10, 10, (1, 8)).astype(np.float32),
}


def custom_layers(fw):
    """d2l 6.5: layers without and with parameters."""
    torch, nn, F = fw.torch, fw.nn, fw.F
    out = []

    class CenteredLayer(nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, X):
            return X - X.mean()

    layer = CenteredLayer()
    out += [layer(torch.tensor([1.0, 2, 3, 4, 5])), repr(layer)]
    net = nn.Sequential(nn.Linear(8, 128), CenteredLayer())
    Y = net(torch.rand(4, 8))
    out += [abs(float(Y.mean())) < 1e-6, repr(net)]

    class MyLinear(nn.Module):
        def __init__(self, in_units, units):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(in_units, units))
            self.bias = nn.Parameter(torch.randn(units))

        def forward(self, X):
            linear = torch.matmul(X, self.weight.data) + self.bias.data
            return F.relu(linear)

    linear = MyLinear(5, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(MY_LINEAR[0]))
        linear.bias.copy_(torch.tensor(MY_LINEAR[1]))
    out += [linear.weight, repr(linear.weight), linear.state_dict(), repr(linear)]
    out += [linear(torch.tensor(MY_LINEAR_X)), [n for n, _ in linear.named_parameters()]]
    net = nn.Sequential(MyLinear(64, 8), MyLinear(8, 1))
    out += [net(torch.rand(2, 64)).shape, len(list(net.parameters()))]

    class MyLinearGrad(MyLinear):
        def forward(self, X):
            return F.relu(torch.matmul(X, self.weight) + self.bias)

    lin = MyLinearGrad(5, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(MY_LINEAR[0]))
        lin.bias.copy_(torch.tensor(MY_LINEAR[1]))
    lin(torch.tensor(MY_LINEAR_X)).sum().backward()
    out += [lin.weight.grad, lin.bias.grad]
    return out


MY_LINEAR = [RNG.normal(0, 1, (5, 3)).astype(np.float32), RNG.normal(0, 1, 3).astype(np.float32)]
MY_LINEAR_X = RNG.random((2, 5)).astype(np.float32)


def file_io(fw):
    """d2l 6.6: save and load tensors, lists, dicts and a model's state_dict."""
    torch, nn, F = fw.torch, fw.nn, fw.F
    out = []
    x = torch.arange(4)
    torch.save(x, "x-file")
    x2 = torch.load("x-file")
    out += [x2, repr(x2), x2.dtype]
    y = torch.zeros(4)
    torch.save([x, y], "x-files")
    x2, y2 = torch.load("x-files")
    out += [(x2, y2), repr((x2, y2))]
    mydict = {"x": x, "y": y}
    torch.save(mydict, "mydict")
    mydict2 = torch.load("mydict")
    out += [mydict2, repr(mydict2)]

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(20, 256)
            self.output = nn.Linear(256, 10)

        def forward(self, x):
            return self.output(F.relu(self.hidden(x)))

    net = MLP()
    copy_params(fw, net, MLP_20_256_10)
    X = torch.tensor(X_2_20)
    Y = net(X)
    torch.save(net.state_dict(), "mlp.params")
    clone = MLP()
    result = clone.load_state_dict(torch.load("mlp.params"))
    out += [repr(result), repr(clone.eval())]
    Y_clone = clone(X)
    out += [Y_clone == Y, Y_clone, clone.training]
    # a checkpoint with the optimizer, and weights_only loading of plain tensors
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    Y.sum().backward()
    opt.step()
    torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "epoch": 3}, "ckpt.pt")
    ckpt = torch.load("ckpt.pt", weights_only=True)
    out += [sorted(ckpt), ckpt["epoch"], ckpt["opt"]["param_groups"][0]["lr"]]
    out += [ckpt["model"]["output.bias"], type(ckpt["model"]).__name__]
    opt2 = torch.optim.SGD(clone.parameters(), lr=0.5, momentum=0.9)
    opt2.load_state_dict(ckpt["opt"])
    out += [opt2.param_groups[0]["lr"], opt2.param_groups[0]["momentum"]]
    clone.load_state_dict(ckpt["model"])
    out += [clone(X)]
    # strict loading reports missing and unexpected keys
    try:
        clone.load_state_dict({"hidden.weight": ckpt["model"]["hidden.weight"]})
        out += ["no error"]
    except RuntimeError as e:
        out += ["RuntimeError", "Missing key(s)" in str(e)]
    r = clone.load_state_dict({"hidden.weight": ckpt["model"]["hidden.weight"]}, strict=False)
    out += [list(r.missing_keys), list(r.unexpected_keys)]
    return out


@pytest.mark.parametrize(
    "program",
    [layers_and_modules, parameter_management, parameter_initialization, custom_layers],
)
def test_chapter6_prints_what_torch_prints(program):
    ours, ref = run_both(program)
    assert_same(ours, ref, rtol=1e-5, atol=1e-6)


def test_chapter6_file_io(tmp_path):
    with in_tmpdir(tmp_path):
        ours, ref = run_both(file_io)
    assert_same(ours, ref)
