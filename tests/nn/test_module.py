"""Module registration, traversal, state_dict, modes, repr: compared with torch.nn."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close, copy_weights, to_nd, to_torch

import ndgrad
from ndgrad import nn


def _pair(builder):
    """The same architecture built with ndgrad.nn and torch.nn."""
    return builder(nn), builder(torch.nn)


def mlp(lib):
    return lib.Sequential(
        lib.Flatten(), lib.Linear(4, 8), lib.ReLU(), lib.Dropout(0.2), lib.Linear(8, 3)
    )


def nested(lib):
    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.net = lib.Sequential(lib.Linear(3, 5), lib.Tanh(), lib.Linear(5, 2))
            self.head = lib.ModuleList([lib.Linear(2, 2), lib.Linear(2, 2), lib.Sigmoid()])
            self.scale = lib.Parameter(ndgrad.ones(2) if lib is nn else torch.ones(2))
            self.register_buffer("running", ndgrad.zeros(2) if lib is nn else torch.zeros(2))
            self.register_buffer(
                "scratch", ndgrad.zeros(1) if lib is nn else torch.zeros(1), persistent=False
            )

        def forward(self, x):
            y = self.net(x)
            for layer in self.head:
                y = layer(y)
            return y * self.scale

    return Net()


@pytest.mark.parametrize("builder", [mlp, nested])
def test_state_dict_keys_shapes_and_repr_match_torch(builder):
    ours, ref = _pair(builder)
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
    for (k, v), (_, w) in zip(ours.state_dict().items(), ref.state_dict().items(), strict=True):
        assert tuple(v.shape) == tuple(w.shape), k
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in ref.named_children()]
    assert repr(ours) == repr(ref).replace("torch.", "ndgrad.")


def test_reprs_of_every_layer_match_torch():
    def layers(lib):
        return [
            lib.ReLU(),
            lib.LeakyReLU(0.2),
            lib.GELU(),
            lib.GELU("tanh"),
            lib.Sigmoid(),
            lib.Tanh(),
            lib.Softmax(dim=1),
            lib.Softmax(),
            lib.LogSoftmax(-1),
            lib.Dropout(),
            lib.Flatten(),
            lib.Flatten(0, 2),
            lib.Unflatten(1, (2, 3)),
            lib.Identity(),
            lib.Softplus(),
            lib.LogSigmoid(),
            lib.MSELoss(),
            lib.CrossEntropyLoss(),
            lib.BCELoss(),
            lib.BCEWithLogitsLoss(),
            lib.HuberLoss(),
            lib.KLDivLoss(),
            lib.NLLLoss(),
            lib.L1Loss(),
            lib.SmoothL1Loss(),
            lib.LazyLinear(3),
            lib.Linear(2, 3, bias=False),
            lib.Sequential(),
            lib.ModuleList(),
            lib.ModuleDict({"a": lib.ReLU(), "b": lib.Linear(1, 1)}),
            lib.ModuleList(
                [
                    lib.Linear(2, 2),
                    lib.Linear(2, 2),
                    lib.Linear(2, 2),
                    lib.ReLU(),
                    lib.Sequential(lib.Linear(1, 1)),
                ]
            ),
        ]

    for ours, ref in zip(layers(nn), layers(torch.nn), strict=True):
        assert repr(ours) == repr(ref)


def test_forward_and_parameter_gradients_match_torch():
    ours, ref = _pair(nested)
    copy_weights(ours, ref)
    x = ndgrad.randn(6, 3)
    out = ours(x)
    out_ref = ref(to_torch(x))
    assert_close(out, out_ref)
    (out**2).sum().backward()
    (out_ref**2).sum().backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
        assert_close(p.grad, q.grad, atol=1e-6), name


def test_linear_matches_torch_functional_and_shapes():
    lin = nn.Linear(5, 3)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    x = ndgrad.randn(2, 4, 5)
    ref = torch.nn.functional.linear(to_torch(x), to_torch(lin.weight), to_torch(lin.bias))
    assert_close(lin(x), ref)
    assert_close(nn.functional.linear(x, lin.weight), to_torch(x) @ to_torch(lin.weight).T)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(8x5"):
        nn.Linear(4, 2)(x)


def test_linear_default_init_is_pytorchs_uniform_bounds():
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound) has std bound/sqrt(3); 120000 samples pin it to well under 1%.
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert lin.weight.dtype == ndgrad.float32 and lin.weight.requires_grad
    assert nn.Linear(2, 2, dtype=ndgrad.float64).weight.dtype == ndgrad.float64


def test_parameter_is_a_leaf_tensor_sharing_storage():
    t = ndgrad.ones(3)
    p = nn.Parameter(t)
    assert isinstance(p, ndgrad.Tensor) and p.is_leaf and p.requires_grad
    assert repr(p) == "Parameter containing:\ntensor([1., 1., 1.], requires_grad=True)"
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(3)))
    with ndgrad.no_grad():
        t.add_(1)
    assert p.detach().numpy().tolist() == [2.0, 2.0, 2.0]
    assert not nn.Parameter(ndgrad.ones(1), requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.numpy(force=True) is not p.numpy(force=True)
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.requires_grad


def test_setattr_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(ndgrad.zeros(2))
    m.sub = nn.Linear(1, 1)
    m.plain = ndgrad.zeros(1)  # a plain tensor is just an attribute
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="cannot assign 'ndgrad.FloatTensor' as parameter 'w'"):
        m.w = ndgrad.zeros(2)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="as child module 'sub'"):
        m.sub = 3
    del m.sub
    assert list(m.named_parameters()) == []
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        m.nothing
    m.register_buffer("b", ndgrad.ones(1))
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 5
    m.b = ndgrad.zeros(1)
    assert m.state_dict()["b"].numpy().tolist() == [0.0]
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", ndgrad.ones(1))
    with pytest.raises(KeyError, match="name can.*contain"):
        m.register_parameter("a.b", None)

    class NoInit(nn.Module):
        def __init__(self):
            self.x = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        NoInit()


def test_shared_modules_and_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    tlin = torch.nn.Linear(2, 2)
    tseq = torch.nn.Sequential(tlin, torch.nn.ReLU(), tlin)
    assert len(list(seq.parameters())) == len(list(tseq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == [n for n, _ in tseq.named_modules()]
    assert list(seq.state_dict()) == list(tseq.state_dict())
    assert len(list(seq.parameters(recurse=False))) == 0


def test_load_state_dict_round_trip_and_errors():
    src, dst = mlp(nn), mlp(nn)
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for v, w in zip(src.state_dict().values(), dst.state_dict().values(), strict=True):
        np.testing.assert_array_equal(v.numpy(), w.numpy())
    # state_dict values are detached and share storage with the parameters
    sd = src.state_dict()
    assert not sd["1.weight"].requires_grad
    # load_state_dict copies into the existing Parameter objects
    w_before = dst[1].weight
    dst.load_state_dict(src.state_dict())
    assert dst[1].weight is w_before

    partial = src.state_dict()
    del partial["1.bias"]
    partial["extra.weight"] = ndgrad.zeros(1)
    with pytest.raises(RuntimeError) as ours:
        dst.load_state_dict(partial)
    ref_model = mlp(torch.nn)
    ref_partial = {k: to_torch(v) for k, v in partial.items()}
    with pytest.raises(RuntimeError) as theirs:
        ref_model.load_state_dict(ref_partial)
    assert str(ours.value) == str(theirs.value)
    assert str(ours.value).startswith(
        'Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: "1.bias"'
    )
    res = dst.load_state_dict(partial, strict=False)
    ref_res = ref_model.load_state_dict(ref_partial, strict=False)
    assert res.missing_keys == ref_res.missing_keys == ["1.bias"]
    assert res.unexpected_keys == ref_res.unexpected_keys == ["extra.weight"]

    bad = src.state_dict()
    bad["1.weight"] = ndgrad.zeros(8, 5)
    with pytest.raises(RuntimeError) as ours:
        dst.load_state_dict(bad)
    with pytest.raises(RuntimeError) as theirs:
        mlp(torch.nn).load_state_dict({k: to_torch(v) for k, v in bad.items()})
    assert str(ours.value) == str(theirs.value).replace("torch.", "ndgrad.")
    assert "size mismatch for 1.weight: copying a param with shape ndgrad.Size([8, 5])" in str(
        ours.value
    )


def test_load_state_dict_from_torch_trained_weights_reproduces_outputs():
    ours, ref = _pair(mlp)
    ours.load_state_dict({k: to_nd(v) for k, v in ref.state_dict().items()})
    ours.eval(), ref.eval()
    x = torch.randn(5, 2, 2)
    assert_close(ours(to_nd(x)), ref(x))


def test_train_eval_apply_zero_grad_requires_grad():
    m = mlp(nn)
    assert m.training and all(c.training for c in m.modules())
    assert m.eval() is m and not any(c.training for c in m.modules())
    m.train()
    assert m[3].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "Sequential"]
    m(ndgrad.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_double_float_keeps_parameter_objects():
    m = nn.Linear(2, 2)
    w = m.weight
    m.double()
    assert m.weight is w and w.dtype == ndgrad.float64 and w.requires_grad
    assert m(ndgrad.randn(1, 2, dtype=ndgrad.float64)).dtype == ndgrad.float64
    m.to(ndgrad.float32)
    assert m.weight.dtype == ndgrad.float32
    assert m.to("cpu") is m and m.cpu() is m and m.float() is m


def test_sequential_indexing_slicing_and_mutation():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    assert list(seq) == layers
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    assert repr(sub) == repr(tseq[1:])  # slices keep the original keys, as in torch
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(1, 1)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert named.fc is named[0]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    assert len(ml) == 5 and isinstance(ml[-1], nn.Tanh) and len(ml[1:3]) == 2
    assert len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    md["b"] = nn.Linear(2, 1)
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    assert list(md.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    pl = nn.ParameterList([nn.Parameter(ndgrad.ones(2)), ndgrad.zeros(3)])
    assert len(list(pl.parameters())) == 2 and isinstance(pl[1], nn.Parameter)


def test_lazy_linear_infers_in_features_and_becomes_linear():
    lazy = nn.LazyLinear(3)
    assert repr(lazy) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    out = lazy(ndgrad.randn(4, 7))
    assert out.shape == (4, 3) and type(lazy) is nn.Linear
    assert lazy.weight.shape == (3, 7) and lazy.in_features == 7
    assert np.abs(lazy.weight.detach().numpy()).max() <= 1 / math.sqrt(7)
    out.sum().backward()
    assert lazy.weight.grad.shape == (3, 7)


def test_lazy_state_dicts_print_and_load_like_torch():
    def lazy_net(lib):
        return lib.nn.Sequential(lib.nn.LazyLinear(8), lib.nn.ReLU(), lib.nn.LazyLinear(1))

    mine, ref = lazy_net(ndgrad), lazy_net(torch)
    assert repr(mine.state_dict()) == repr(ref.state_dict())
    fresh, ref_fresh = lazy_net(ndgrad), lazy_net(torch)
    assert repr(fresh.load_state_dict(mine.state_dict())) == repr(
        ref_fresh.load_state_dict(ref.state_dict())
    )
    assert repr(fresh[0].weight) == "<UninitializedParameter>"
    # d2l 6.6 with lazy layers: save after a forward, load into a fresh lazy clone, which
    # stays lazy until its first call and then becomes a Linear of the loaded shape
    reprs = []
    for lib, net in ((ndgrad, mine), (torch, ref)):
        X = lib.ones(2, 20)
        Y = net(X)
        clone = lazy_net(lib)
        loaded = clone.load_state_dict(net.state_dict())
        before = repr(clone.eval())
        assert bool((clone(X) == Y).all())
        reprs.append((repr(loaded), before, repr(clone), clone[0].in_features))
    assert reprs[0] == reprs[1]


def test_forward_hooks_and_missing_forward():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out * 0)
    pre = lin.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    out = lin(ndgrad.ones(1, 2))
    assert calls == [(1, 2)] and np.all(out.detach().numpy() == 0)
    h.remove(), pre.remove()
    assert np.any(lin(ndgrad.ones(1, 2)).detach().numpy() != 0)
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


def test_flatten_unflatten_identity_dropout():
    x = ndgrad.randn(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Unflatten(2, (2, 2))(x).shape == (2, 3, 2, 2)
    assert nn.Identity(5, foo=1)(x) is x
    d = nn.Dropout(0.5)
    big = ndgrad.ones(200, 200)
    y = d(big).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert abs((y == 0).mean() - 0.5) < 0.02  # 40000 Bernoulli draws: std 0.0025
    d.eval()
    assert d(big) is big
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(1.5)
