"""Seeded draws are PyTorch's numbers: after the same ``manual_seed`` the same calls give the
same values, bit for bit, and leave the generator in the same place (the next draw agrees)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad

SEEDS = [0, 7, 2**40 + 3]

# Expressions evaluated with ``lib`` bound to torch and to ndgrad after manual_seed(seed).
DRAWS = [
    "lib.rand(1000)",
    "lib.rand(3, 5, dtype=lib.float64)",
    "lib.randn(1)",
    "lib.randn(5)",
    "lib.randn(15)",
    "lib.randn(16)",
    "lib.randn(17)",
    "lib.randn(1001)",
    "lib.randn(3, dtype=lib.float64)",
    "lib.randn(40, dtype=lib.float64)",
    "lib.cat([lib.randn(3), lib.randn(3), lib.randn(20)])",  # the cached second sample
    "lib.empty(64, 33).normal_(0.5, 0.01)",
    "lib.empty(7, dtype=lib.float64).normal_(2.0, 3.0)",
    "lib.empty(70, 3).uniform_(-0.3, 0.7)",
    "lib.empty(71, dtype=lib.float64).uniform_(-3.0, 5.5)",
    "lib.randint(0, 10, (50,))",
    "lib.randint(-5, 2**40, (5,))",
    "lib.randint(3, (2, 4), dtype=lib.float32)",
    "lib.randperm(100)",
    "lib.empty(4, dtype=lib.int64).random_()",
    "lib.empty(4).random_()",
    "lib.empty(4, dtype=lib.uint8).random_()",
    "lib.empty(4).random_(7)",
    "lib.empty(4).random_(5, None)",
    "lib.empty(30).bernoulli_(0.3)",
    "lib.bernoulli(lib.linspace(0, 1, 30))",
    "lib.bernoulli(lib.linspace(0, 1, 30, dtype=lib.float64))",
    "lib.ones(3, 4).bernoulli(0.25)",
    "lib.empty(20).exponential_(2.0)",
    "lib.empty(20, dtype=lib.float64).exponential_(0.5)",
    "lib.empty(20).cauchy_(1.0, 2.0)",
    "lib.empty(21, dtype=lib.float64).log_normal_(0.5, 0.3)",
    "lib.empty(20).geometric_(0.3)",
    "lib.normal(2.0, 3.0, size=(5, 7))",
    "lib.normal(lib.zeros(20), lib.ones(20) * 2)",
    "lib.normal(lib.arange(20.0), 0.5)",
    "lib.normal(1.0, lib.arange(1.0, 21.0))",
    "lib.multinomial(lib.tensor([[0.1, 0.5, 0.4], [1.0, 2.0, 0.0]]), 9, replacement=True)",
    "lib.multinomial(lib.arange(1.0, 8.0), 5)",
    "lib.multinomial(lib.tensor([0.0, 1.0, 0.0]), 2)",
    "lib.rand_like(lib.ones(3, 2)) + lib.randn_like(lib.ones(3, 2))",
    "lib.randint_like(lib.ones(4), 10)",
    "lib.randint_like(lib.ones(4), 3, 10)",
    "lib.rand(2, 3, dtype=lib.float16)",
    "lib.randn(20, dtype=lib.float16)",
    "lib.randn(5, dtype=lib.float16)",
    "lib.empty(33, dtype=lib.float16).normal_(1.0, 0.5)",
    "lib.poisson(lib.tensor([0.5, 3.0, 9.9, 10.0, 25.0, 100.0, 1e4, 0.0]))",
    "lib.empty(4, 3).t().normal_()",  # strided: drawn in memory order, one pair at a time
    "lib.empty(4, 5).t().uniform_()",
    "lib.empty(4, 6)[:, ::2].normal_()",
    "lib.empty(3, 4).t().bernoulli_(lib.linspace(0, 1, 12).reshape(4, 3))",
    "lib.nn.functional.dropout(lib.ones(4, 5).t(), 0.5)",
    "lib.randn(4, generator=lib.Generator().manual_seed(11))",
    "lib.nn.functional.dropout(lib.ones(40), 0.3)",
    "lib.nn.Dropout(0.5)(lib.ones(8, 9))",
    "lib.nn.functional.dropout2d(lib.ones(2, 6, 3, 3), 0.5)",
    "lib.distributions.Bernoulli(probs=lib.tensor([0.2, 0.7])).sample((6,))",
    "lib.distributions.Categorical(probs=lib.tensor([0.2, 0.5, 0.3])).sample((10,))",
    "lib.distributions.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, 2.0])).rsample((20,))",
]


def _draw(lib: Any, seed: int, expr: str) -> tuple[np.ndarray, np.ndarray]:
    lib.manual_seed(seed)
    value = eval(expr, {"lib": lib})  # noqa: S307 - the expressions above
    after = lib.rand(3)  # where the generator stands afterwards
    return value.detach().numpy(), after.numpy()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("expr", DRAWS)
def test_seeded_draws_are_torchs_bit_for_bit(expr, seed):
    ours, ours_after = _draw(ndgrad, seed, expr)
    theirs, theirs_after = _draw(torch, seed, expr)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours_after, theirs_after)


MODULES = {
    "Linear": lambda nn: nn.Linear(20, 7),
    "Conv1d": lambda nn: nn.Conv1d(3, 5, 3),
    "Conv2d groups": lambda nn: nn.Conv2d(4, 8, 3, groups=2),
    "ConvTranspose2d": lambda nn: nn.ConvTranspose2d(4, 6, 3),
    "Embedding": lambda nn: nn.Embedding(10, 4, padding_idx=1),
    "RNN": lambda nn: nn.RNN(4, 6, num_layers=2, bidirectional=True),
    "GRU": lambda nn: nn.GRU(4, 6),
    "LSTM proj": lambda nn: nn.LSTM(4, 6, proj_size=3),
    "LSTMCell": lambda nn: nn.LSTMCell(4, 6),
    "MultiheadAttention": lambda nn: nn.MultiheadAttention(8, 2, kdim=5, vdim=3, add_bias_kv=True),
    "Transformer": lambda nn: nn.Transformer(8, 2, 1, 1, 16),
    "LeNet": lambda nn: nn.Sequential(
        nn.LazyConv2d(6, 5, padding=2),
        nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.LazyLinear(10),
    ),
}


@pytest.mark.parametrize("name", MODULES)
def test_modules_initialise_to_torchs_weights(name):
    states = []
    for lib in (ndgrad, torch):
        lib.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = MODULES[name](lib.nn)
            if name == "LeNet":
                module(lib.ones(1, 1, 28, 28))  # the lazy layers draw on first call
        states.append({k: v.detach().numpy() for k, v in module.state_dict().items()})
        states.append(lib.rand(2).numpy())
    ours, ours_after, theirs, theirs_after = states
    assert list(ours) == list(theirs)
    for key in theirs:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    np.testing.assert_array_equal(ours_after, theirs_after)


@pytest.mark.parametrize(
    "init",
    [
        "xavier_uniform_(w)",
        "xavier_normal_(w, gain=2.0)",
        "kaiming_uniform_(w, a=5 ** 0.5)",
        "kaiming_normal_(w, mode='fan_out', nonlinearity='relu')",
        "normal_(w, std=0.01)",
        "trunc_normal_(w, std=0.02)",
        "trunc_normal_(w, mean=0.5, std=1.0, a=0.0, b=0.3)",
    ],
)
def test_nn_init_draws_torchs_numbers(init):
    values = []
    for lib in (ndgrad, torch):
        lib.manual_seed(3)
        w = lib.empty(30, 20)
        eval(f"lib.nn.init.{init}", {"lib": lib, "w": w})  # noqa: S307
        values.append(w.numpy())
    np.testing.assert_array_equal(values[0], values[1])


def test_orthogonal_init_matches_torch_to_rounding():
    values = []
    for lib in (ndgrad, torch):
        lib.manual_seed(3)
        values.append(lib.nn.init.orthogonal_(lib.empty(5, 8)).numpy())
    np.testing.assert_allclose(values[0], values[1], atol=1e-6)


def _loader_run(lib: Any) -> list:
    lib.manual_seed(0)
    data = lib.utils.data.TensorDataset(lib.arange(10))
    shuffled = lib.utils.data.DataLoader(data, batch_size=4, shuffle=True)
    plain = lib.utils.data.DataLoader(data, batch_size=4)
    seen = []
    for _ in range(2):
        seen += [b[0].tolist() for b in shuffled]
        seen += [b[0].tolist() for b in plain]  # an unshuffled pass draws too
    first, _ = lib.utils.data.random_split(range(10), [0.3, 0.7])
    seen.append(list(first))
    seen.append(lib.rand(2).tolist())
    return seen


def test_data_loaders_shuffle_and_split_as_torch():
    assert _loader_run(ndgrad) == _loader_run(torch)


def test_state_round_trip_fork_rng_and_generators():
    ndgrad.manual_seed(5)
    state = ndgrad.get_rng_state()
    a = ndgrad.randn(20)
    ndgrad.set_rng_state(state)
    assert ndgrad.equal(ndgrad.randn(20), a)
    with ndgrad.random.fork_rng():
        ndgrad.rand(100)
    torch.manual_seed(5)
    torch.randn(20)
    assert ndgrad.rand(4).tolist() == torch.rand(4).tolist()
    g = ndgrad.Generator().manual_seed(9)
    assert g.initial_seed() == 9
    assert ndgrad.initial_seed() == 5
    with pytest.raises(TypeError, match="expected a torch.ByteTensor"):
        ndgrad.set_rng_state(ndgrad.ones(3))


@pytest.mark.parametrize(
    "expr",
    [
        "lib.empty(3).uniform_(1, 0)",
        "lib.empty(3).normal_(0, -1)",
        "lib.empty(3, dtype=lib.int64).uniform_()",
        "lib.empty(3, dtype=lib.int64).normal_()",
        "lib.empty(3).bernoulli_(1.5)",
        "lib.empty(3).exponential_(-1)",
        "lib.empty(3, dtype=lib.int64).exponential_()",
        "lib.empty(3).geometric_(0)",
        "lib.empty(3).cauchy_(0, -1)",
        "lib.empty(3, dtype=lib.int64).cauchy_()",
        "lib.empty(3, dtype=lib.uint8).cauchy_()",
        "lib.empty(3, dtype=lib.int64).log_normal_()",
        "lib.empty(3).log_normal_(0, 0)",
        "lib.empty(3).random_(5, 2)",
        "lib.multinomial(lib.ones(2, 2, 2), 1)",
        "lib.multinomial(lib.ones(3), 0)",
        "lib.multinomial(lib.ones(2), 3)",
        "lib.multinomial(lib.zeros(2), 1)",
        "lib.multinomial(lib.tensor([-1.0, 1.0]), 1)",
    ],
)
def test_bad_random_arguments_raise_as_torch(expr):
    with pytest.raises(Exception) as theirs:
        eval(expr, {"lib": torch})  # noqa: S307
    with pytest.raises(type(theirs.value)) as ours:
        eval(expr, {"lib": ndgrad})  # noqa: S307
    assert str(theirs.value) in str(ours.value)


def _seeded_training(lib: Any) -> list[float]:
    """Data, weights, shuffles and dropout masks all from one seed, as a tutorial writes it."""
    lib.manual_seed(42)
    x = lib.randn(256, 20)
    y = (x[:, :3].sum(1) > 0).long()
    loader = lib.utils.data.DataLoader(
        lib.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True
    )
    nn = lib.nn
    net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
    opt = lib.optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(2):
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def test_a_seeded_training_run_follows_torch():
    np.testing.assert_allclose(_seeded_training(ndgrad), _seeded_training(torch), rtol=1e-5)
