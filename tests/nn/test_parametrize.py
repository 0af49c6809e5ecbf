"""``nn.utils.parametrize`` and ``nn.utils.parametrizations`` (weight_norm, spectral_norm,
orthogonal), the hook-based ``nn.utils.weight_norm``/``spectral_norm`` and
``nn.init.sparse_``/``dirac_``: class names, reprs, state-dict keys, errors, and outputs,
gradients and power-iteration buffers over SGD steps against torch (torch's random u/v
copied into ndgrad)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad

LIBS = (ndgrad, torch)


def _same_params(nd_module, torch_module):
    """Copies the ndgrad module's parameters and buffers into the torch one (same names)."""
    nd_state = dict(nd_module.named_parameters()) | dict(nd_module.named_buffers())
    with torch.no_grad():
        for name, t in list(torch_module.named_parameters()) + list(torch_module.named_buffers()):
            t.copy_(torch.tensor(nd_state[name].detach().numpy()))


class Symmetric:
    """A parametrization class for both libraries (forward: X's upper triangle mirrored)."""

    @staticmethod
    def make(lib):
        class Symmetric(lib.nn.Module):
            def forward(self, x):
                return x.triu() + x.triu(1).transpose(-1, -2)

        return Symmetric()


def _make_pair(lib, cls):
    class Pair(lib.nn.Module):
        def forward(self, a, b):
            return a + 2 * b

        def right_inverse(self, x):
            return x / 3, x / 3

    return Pair()


def test_register_parametrization_class_state_dict_and_repr():
    outs = []
    for lib in LIBS:
        lib.manual_seed(0)
        m = lib.nn.Linear(3, 3)
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", Symmetric.make(lib))
        w = m.weight
        assert type(m).__name__ == "ParametrizedLinear"
        assert P.type_before_parametrizations(m) is lib.nn.Linear
        assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
        assert not P.is_parametrized(m, "bias")
        assert isinstance(m, lib.nn.Linear)
        assert np.allclose(w.detach().numpy(), w.detach().numpy().T)
        outs.append((repr(m), list(m.state_dict()), [n for n, _ in m.named_parameters()]))
        # a second parametrization on top: a ParametrizationList of two
        P.register_parametrization(m, "weight", Symmetric.make(lib))
        assert len(m.parametrizations.weight) == 2
        outs.append((repr(m), list(m.state_dict())))
        P.remove_parametrizations(m, "weight")
        assert type(m) is lib.nn.Linear and not hasattr(m, "parametrizations")
        assert isinstance(m.weight, lib.nn.Parameter)
        outs.append(repr(m))
    n = len(outs) // 2
    assert outs[:n] == outs[n:]


def test_right_inverse_several_originals_and_assignment():
    results = []
    for lib in LIBS:
        m = lib.nn.Linear(2, 2)
        with lib.no_grad():
            m.weight.copy_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", _make_pair(lib, None))
        plist = m.parametrizations.weight
        assert not hasattr(plist, "original") and plist.ntensors == 2
        keys = list(m.state_dict())
        assert isinstance(plist.original0, lib.nn.Parameter)
        value = m.weight.detach().numpy().copy()
        m.weight = lib.tensor([[3.0, 3.0], [6.0, 9.0]])  # through right_inverse
        assigned = (plist.original0.detach().numpy().copy(), m.weight.detach().numpy().copy())
        with pytest.raises(ValueError, match="Cannot leave unparametrized"):
            P.remove_parametrizations(m, "weight", leave_parametrized=False)
        P.remove_parametrizations(m, "weight")
        results.append((keys, value, assigned, m.weight.detach().numpy()))
    np.testing.assert_equal(results[0], results[1])


def test_assigning_keeps_the_original_object_and_leave_parametrized_false():
    for lib in LIBS:
        m = lib.nn.Linear(3, 3)
        original = m.weight
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", Symmetric.make(lib))
        assert m.parametrizations.weight.original is original
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
        assert m.weight is original


def test_cached_evaluates_once():
    for lib in LIBS:
        calls = []

        class Counting(lib.nn.Module):
            def forward(self, x, calls=calls):
                calls.append(1)
                return x * 2

        m = lib.nn.Linear(2, 2)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", Counting())
        calls.clear()
        with lib.nn.utils.parametrize.cached():
            a, b = m.weight, m.weight
            assert a is b
        _ = m.weight
        assert len(calls) == 2


def test_parametrization_errors():
    for lib in LIBS:
        P = lib.nn.utils.parametrize

        class Shrink(lib.nn.Module):
            def forward(self, x):
                return x[:1]

        class ToDouble(lib.nn.Module):
            def forward(self, x):
                return x.double()

        with pytest.raises(ValueError, match="may not change the shape"):
            P.register_parametrization(lib.nn.Linear(2, 2), "weight", Shrink())
        with pytest.raises(ValueError, match="may not change the dtype"):
            P.register_parametrization(lib.nn.Linear(2, 2), "weight", ToDouble())
        with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a"):
            P.register_parametrization(lib.nn.Linear(2, 2), "nope", Shrink())
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            P.remove_parametrizations(lib.nn.Linear(2, 2), "weight")
        m = P.register_parametrization(lib.nn.Linear(2, 2), "weight", Shrink(), unsafe=True)
        assert tuple(m.weight.shape) == (1, 2)
        m = P.register_parametrization(lib.nn.Linear(2, 2), "weight", Symmetric.make(lib))
        with pytest.raises(RuntimeError, match="does not implement right_inverse"):
            m.weight = lib.zeros(2, 2)
        with pytest.raises(RuntimeError, match="Serialization of parametrized modules"):
            m.__getstate__()
        clone = copy.deepcopy(m)
        assert type(clone).__name__ == "ParametrizedLinear"


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization_training_vs_torch(dim):
    ndgrad.manual_seed(0)
    nd_m = ndgrad.nn.Conv1d(3, 4, 2)
    t_m = torch.nn.Conv1d(3, 4, 2)
    ndgrad.nn.utils.parametrizations.weight_norm(nd_m, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(t_m, dim=dim)
    assert list(nd_m.state_dict()) == list(t_m.state_dict())
    for a, b in zip(nd_m.state_dict().values(), t_m.state_dict().values(), strict=True):
        assert tuple(a.shape) == tuple(b.shape)
    _same_params(nd_m, t_m)
    _train_and_compare(nd_m, t_m, (5, 3, 6))
    # leaves a plain weight behind
    ndgrad.nn.utils.parametrize.remove_parametrizations(nd_m, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(t_m, "weight")
    assert_close(nd_m.weight, t_m.weight, atol=1e-6)


def _close(nd, ref, tol=2e-5):
    """Float32 agreement relative to the largest magnitude."""
    assert_close(nd, ref, atol=tol * max(1.0, float(ref.detach().abs().max())), rtol=tol)


def _train_and_compare(nd_m, t_m, in_shape, steps=4, lr=0.05):
    rng = np.random.default_rng(1)
    nd_opt = ndgrad.optim.SGD(nd_m.parameters(), lr=lr)
    t_opt = torch.optim.SGD(t_m.parameters(), lr=lr)
    for _ in range(steps):
        x = rng.standard_normal(in_shape).astype(np.float32)
        nd_out, t_out = nd_m(ndgrad.tensor(x)), t_m(torch.tensor(x))
        _close(nd_out, t_out)
        nd_opt.zero_grad()
        t_opt.zero_grad()
        (nd_out**2).mean().backward()
        (t_out**2).mean().backward()
        nd_named = dict(nd_m.named_parameters())
        for name, p in t_m.named_parameters():
            _close(nd_named[name].grad, p.grad, 1e-4)
        nd_opt.step()
        t_opt.step()
    nd_state = nd_m.state_dict()
    for name, value in t_m.state_dict().items():  # the updated u, v buffers too
        _close(nd_state[name], value, 1e-4)


@pytest.mark.parametrize("module", ["linear", "conv", "convT"])
def test_spectral_norm_parametrization_training_vs_torch(module):
    def make(lib):
        lib.manual_seed(0)
        if module == "linear":
            return lib.nn.Linear(5, 4), (3, 5)
        if module == "conv":
            return lib.nn.Conv2d(2, 3, 2), (2, 2, 4, 4)
        return lib.nn.ConvTranspose2d(3, 2, 2), (2, 3, 3, 3)

    (nd_m, shape), (t_m, _) = make(ndgrad), make(torch)
    ndgrad.nn.utils.parametrizations.spectral_norm(nd_m, n_power_iterations=2)
    torch.nn.utils.parametrizations.spectral_norm(t_m, n_power_iterations=2)
    assert list(nd_m.state_dict()) == list(t_m.state_dict())
    assert repr(nd_m) == repr(t_m)
    _same_params(nd_m, t_m)
    _train_and_compare(nd_m, t_m, shape)
    # eval: no power iteration, the buffers stay
    nd_m.eval()
    t_m.eval()
    u = nd_m.parametrizations.weight[0]._u.numpy().copy()
    x = np.ones(shape, np.float32)
    assert_close(nd_m(ndgrad.tensor(x)), t_m(torch.tensor(x)), atol=1e-5)
    np.testing.assert_array_equal(nd_m.parametrizations.weight[0]._u.numpy(), u)


def test_spectral_norm_parametrization_of_a_vector_and_errors():
    for lib in LIBS:
        m = lib.nn.Linear(3, 4)
        lib.nn.utils.parametrizations.spectral_norm(m, "bias")
        np.testing.assert_allclose(np.linalg.norm(m.bias.detach().numpy()), 1.0, rtol=1e-6)
        assert [n for n, _ in m.named_buffers()] == []
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
            lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0)
        with pytest.raises(IndexError, match="Dimension out of range"):
            lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), dim=2)
        with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
            lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), "w")


def test_old_spectral_norm_training_vs_torch():
    ndgrad.manual_seed(0)
    nd_m, t_m = ndgrad.nn.Linear(5, 4), torch.nn.Linear(5, 4)
    ndgrad.nn.utils.spectral_norm(nd_m)
    torch.nn.utils.spectral_norm(t_m)
    assert (
        list(nd_m.state_dict())
        == list(t_m.state_dict())
        == [
            "bias",
            "weight_orig",
            "weight_u",
            "weight_v",
        ]
    )
    assert repr(nd_m) == repr(t_m)
    _same_params(nd_m, t_m)
    _train_and_compare(nd_m, t_m, (3, 5))
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        ndgrad.nn.utils.spectral_norm(nd_m)
    # a state dict of the same layout loads (the pre-hook lets it through)
    other = ndgrad.nn.utils.spectral_norm(ndgrad.nn.Linear(5, 4))
    other.load_state_dict(nd_m.state_dict())
    ndgrad.nn.utils.remove_spectral_norm(nd_m)
    torch.nn.utils.remove_spectral_norm(t_m)
    assert list(nd_m.state_dict()) == list(t_m.state_dict()) == ["bias", "weight"]
    assert_close(nd_m.weight, t_m.weight, atol=1e-6)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found in"):
        ndgrad.nn.utils.remove_spectral_norm(nd_m)


def test_old_weight_norm_warning_training_and_removal_vs_torch():
    ndgrad.manual_seed(0)
    nd_m, t_m = ndgrad.nn.Linear(5, 4), torch.nn.Linear(5, 4)
    msgs = []
    for lib, m in ((ndgrad, nd_m), (torch, t_m)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.utils.weight_norm(m)
        msgs.append([(w.category, str(w.message)) for w in caught])
    assert msgs[0] == msgs[1] and msgs[0][0][0] is FutureWarning
    assert list(nd_m.state_dict()) == list(t_m.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert tuple(nd_m.weight_g.shape) == (4, 1)
    _same_params(nd_m, t_m)
    _train_and_compare(nd_m, t_m, (3, 5))
    # the new weight_norm loads the old state dict (weight_g/weight_v renamed)
    new = ndgrad.nn.utils.parametrizations.weight_norm(ndgrad.nn.Linear(5, 4))
    new.load_state_dict(nd_m.state_dict())
    x = ndgrad.ones(1, 5)
    assert_close(new(x), t_m(torch.ones(1, 5)), atol=1e-6)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ndgrad.nn.utils.weight_norm(nd_m)
    ndgrad.nn.utils.remove_weight_norm(nd_m)
    torch.nn.utils.remove_weight_norm(t_m)
    assert list(nd_m.state_dict()) == list(t_m.state_dict()) == ["bias", "weight"]
    assert_close(nd_m.weight, t_m.weight, atol=1e-6)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder", None])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_orthogonal_vs_torch(orthogonal_map, shape):
    rng = np.random.default_rng(3)
    w = rng.standard_normal(shape)
    # an orthogonal start: torch's and ndgrad's values agree without random completion
    q = np.linalg.qr(w if shape[0] >= shape[1] else w.T)[0]
    q = q if shape[0] >= shape[1] else q.T
    outs = []
    for lib in LIBS:
        m = lib.nn.Linear(shape[1], shape[0]).double()
        with lib.no_grad():
            m.weight.copy_(lib.tensor(q if shape[0] == shape[1] else w))
        if shape[0] != shape[1]:
            lib.manual_seed(0)
        lib.nn.utils.parametrizations.orthogonal(m, orthogonal_map=orthogonal_map)
        weight = m.weight
        mat = weight.detach().numpy()
        gram = mat.T @ mat if shape[0] >= shape[1] else mat @ mat.T
        np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-10)
        outs.append((repr(m), list(m.state_dict()), type(m.parametrizations.weight[0]).__name__))
        if shape[0] == shape[1]:
            np.testing.assert_allclose(mat, q, atol=1e-10)
    assert outs[0] == outs[1]


def test_orthogonal_gradients_vs_torch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4))
    w = rng.standard_normal((4, 4)) * 0.3
    for orthogonal_map in ("matrix_exp", "cayley", "householder"):
        grads = []
        for lib in LIBS:
            m = lib.nn.Linear(4, 4, bias=False).double()
            lib.nn.utils.parametrizations.orthogonal(
                m, orthogonal_map=orthogonal_map, use_trivialization=False
            )
            with lib.no_grad():
                m.parametrizations.weight.original.copy_(lib.tensor(w))
            out = m(lib.tensor(x))
            (out**3).sum().backward()
            grads.append((out.detach().numpy(), m.parametrizations.weight.original.grad.numpy()))
        np.testing.assert_allclose(grads[0][0], grads[1][0], atol=1e-12)
        np.testing.assert_allclose(grads[0][1], grads[1][1], atol=1e-10)


def test_orthogonal_errors():
    for lib in LIBS:
        orth = lib.nn.utils.parametrizations.orthogonal
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices"):
            orth(lib.nn.Linear(2, 2), "bias")
        with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp"'):
            orth(lib.nn.Linear(2, 2), orthogonal_map="qr")
        m = orth(lib.nn.Linear(2, 2), orthogonal_map="cayley", use_trivialization=False)
        with pytest.raises(NotImplementedError, match="It is not possible to assign"):
            m.weight = lib.eye(2)
        m = orth(lib.nn.Linear(3, 2), orthogonal_map="householder", use_trivialization=False)
        m.weight = lib.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        np.testing.assert_allclose(
            m.weight.detach().numpy(), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], atol=1e-6
        )


def test_init_dirac_vs_torch():
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((4, 4, 3, 3, 3), 2), ((2, 5, 3), 1)]:
        results = []
        for lib in LIBS:
            w = lib.empty(shape)
            out = lib.nn.init.dirac_(w, groups)
            assert out is w
            results.append(w.numpy())
        np.testing.assert_array_equal(results[0], results[1])
    for lib in LIBS:
        with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
            lib.nn.init.dirac_(lib.empty(3, 3))
        with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
            lib.nn.init.dirac_(lib.empty(5, 2, 3), groups=2)


def test_init_sparse_zeros_per_column_and_std():
    for lib in LIBS:
        lib.manual_seed(0)
        w = lib.empty(200, 300)
        assert lib.nn.init.sparse_(w, sparsity=0.1, std=0.02) is w
        arr = w.numpy()
        assert ((arr == 0).sum(0) == 20).all()
        nonzero = arr[arr != 0]
        assert abs(nonzero.std() - 0.02) < 0.002 and abs(nonzero.mean()) < 0.002
        with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
            lib.nn.init.sparse_(lib.empty(3, 3, 3), 0.1)
