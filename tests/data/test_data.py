"""ndgrad.utils.data against torch.utils.data: datasets, samplers, collation, DataLoader."""

from __future__ import annotations

import random
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ndgrad
from ndgrad.utils import data


def _same(ours, ref):
    """Structure, types, dtypes and values of a collated batch equal torch's."""
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, ndgrad.Tensor), type(ours)
        assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
        assert tuple(ours.shape) == tuple(ref.shape)
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    elif isinstance(ref, dict):
        assert type(ours) is type(ref) and list(ours) == list(ref)
        for k in ref:
            _same(ours[k], ref[k])
    elif isinstance(ref, (list, tuple)):
        assert type(ours).__name__ == type(ref).__name__ and len(ours) == len(ref)
        for a, b in zip(ours, ref, strict=True):
            _same(a, b)
    else:
        assert ours == ref


def _features(n=23, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)).astype(np.float32), rng.integers(0, 4, n)


# ----------------------------------------------------------------------------- datasets
def test_tensor_dataset():
    X, y = _features()
    ds = data.TensorDataset(ndgrad.tensor(X), ndgrad.tensor(y))
    assert len(ds) == 23
    x0, y0 = ds[4]
    np.testing.assert_array_equal(x0.numpy(), X[4])
    assert y0.item() == y[4] and y0.dtype == ndgrad.int64
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        data.TensorDataset(ndgrad.zeros(3, 2), ndgrad.zeros(4))
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        tdata.TensorDataset(torch.zeros(3, 2), torch.zeros(4))


def test_subset_and_concat():
    ds = data.TensorDataset(ndgrad.arange(10))
    sub = data.Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][0].item() == 7 and sub[2][0].item() == 5
    both = ds + sub
    assert isinstance(both, data.ConcatDataset) and len(both) == 13
    assert both[10][0].item() == 7 and both[-1][0].item() == 5 and both[3][0].item() == 3


@pytest.mark.parametrize(
    ("n", "lengths"),
    [(10, [3, 7]), (30, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7]), (5, [5, 0])],
)
def test_random_split_lengths_match_torch(n, lengths):
    ours = data.random_split(data.TensorDataset(ndgrad.arange(n)), lengths)
    ref = tdata.random_split(tdata.TensorDataset(torch.arange(n)), lengths)
    assert [len(s) for s in ours] == [len(s) for s in ref]
    seen = sorted(i for s in ours for i in s.indices)
    assert seen == list(range(n))  # a partition


def test_random_split_is_reproducible_with_a_generator():
    ds = data.TensorDataset(ndgrad.arange(50))
    a = data.random_split(ds, [0.2, 0.8], generator=ndgrad.Generator().manual_seed(42))
    b = data.random_split(ds, [0.2, 0.8], generator=ndgrad.Generator().manual_seed(42))
    c = data.random_split(ds, [0.2, 0.8], generator=ndgrad.Generator().manual_seed(43))
    assert [s.indices for s in a] == [s.indices for s in b] != [s.indices for s in c]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        data.random_split(ds, [10, 10])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        data.random_split(ds, [-0.5, 1.5])


# ----------------------------------------------------------------------------- collation
Point = namedtuple("Point", ["x", "y"])

SAMPLES = [
    [(1, 2.5), (3, 4.5)],
    [{"a": 1, "b": np.float32(2.0)}, {"a": 3, "b": np.float32(4.0)}],
    [np.arange(3), np.arange(3, 6)],
    [np.ones((2, 2), dtype=np.float32), np.zeros((2, 2), dtype=np.float32)],
    [[1.0, True], [2.0, False]],
    [Point(1, 2.0), Point(3, 4.0)],
    [("cat", 1), ("dog", 2)],
    [np.int64(4), np.int64(5)],
    [np.float64(0.5), np.float64(1.5)],
    [True, False],
]


@pytest.mark.parametrize("batch", SAMPLES, ids=lambda b: type(b[0]).__name__)
def test_default_collate_matches_torch(batch):
    _same(data.default_collate(batch), tdata.default_collate(batch))


def test_default_collate_tensors_and_errors():
    ours = data.default_collate([(ndgrad.tensor([1.0, 2.0]), ndgrad.tensor(1))] * 3)
    ref = tdata.default_collate([(torch.tensor([1.0, 2.0]), torch.tensor(1))] * 3)
    _same(ours, ref)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        data.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        data.default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        data.default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert_matches_torch():
    sample = {"x": np.arange(3), "y": (np.float32(1.0), 2)}
    _same(data.default_convert(sample), tdata.default_convert(sample))


# ----------------------------------------------------------------------------- loader
class PairDataset(data.Dataset):
    """A plain map-style dataset returning the same samples as a TensorDataset would."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


@pytest.mark.parametrize("batch_size", [1, 4, 5, 23, 30])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sequential_batches_match_torch(batch_size, drop_last):
    X, y = _features()
    ours = data.DataLoader(
        data.TensorDataset(ndgrad.tensor(X), ndgrad.tensor(y)), batch_size, drop_last=drop_last
    )
    ref = tdata.DataLoader(
        tdata.TensorDataset(torch.tensor(X), torch.tensor(y)), batch_size, drop_last=drop_last
    )
    assert len(ours) == len(ref)
    batches = list(ours)
    assert len(batches) == len(ours)
    for a, b in zip(batches, ref, strict=True):
        _same(a, b)


def test_fast_path_equals_per_sample_path():
    X, y = _features()
    fast = data.DataLoader(data.TensorDataset(ndgrad.tensor(X), ndgrad.tensor(y)), 6)
    slow = data.DataLoader(PairDataset(ndgrad.tensor(X), ndgrad.tensor(y)), 6)
    for a, b in zip(fast, slow, strict=True):
        assert type(a) is type(b) is list
        for ta, tb in zip(a, b, strict=True):
            assert ta.dtype == tb.dtype
            np.testing.assert_array_equal(ta.numpy(), tb.numpy())


def test_fast_path_through_subset_and_gradients_reach_dataset_tensor():
    w = ndgrad.arange(12.0).reshape(6, 2).requires_grad_()
    sub = data.Subset(data.TensorDataset(w), [5, 0, 3])
    (batch,) = next(iter(data.DataLoader(sub, batch_size=3)))
    np.testing.assert_array_equal(batch.detach().numpy(), [[10, 11], [0, 1], [6, 7]])
    batch.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 0, 0, 1, 0, 1])


def test_shuffle_covers_everything_and_changes_per_epoch():
    ds = data.TensorDataset(ndgrad.arange(100))
    loader = data.DataLoader(ds, batch_size=10, shuffle=True)
    epoch1 = np.concatenate([b[0].numpy() for b in loader])
    epoch2 = np.concatenate([b[0].numpy() for b in loader])
    assert sorted(epoch1) == sorted(epoch2) == list(range(100))
    assert not np.array_equal(epoch1, epoch2) and not np.array_equal(epoch1, np.arange(100))


def test_shuffle_is_reproducible():
    ds = data.TensorDataset(ndgrad.arange(40))

    def order(**kw):
        return np.concatenate([b[0].numpy() for b in data.DataLoader(ds, 8, shuffle=True, **kw)])

    g = ndgrad.Generator
    assert np.array_equal(order(generator=g().manual_seed(7)), order(generator=g().manual_seed(7)))
    assert not np.array_equal(
        order(generator=g().manual_seed(7)), order(generator=g().manual_seed(8))
    )
    ndgrad.manual_seed(3)
    first = order()
    ndgrad.manual_seed(3)
    assert np.array_equal(first, order())


def test_samplers_and_batch_sampler_match_torch():
    src = list(range(11))
    assert list(data.SequentialSampler(src)) == list(tdata.SequentialSampler(src))
    for bs, dl in [(3, False), (3, True), (11, True), (20, False)]:
        ours = data.BatchSampler(data.SequentialSampler(src), bs, dl)
        ref = tdata.BatchSampler(tdata.SequentialSampler(src), bs, dl)
        assert list(ours) == list(ref) and len(ours) == len(ref)
    draws = list(data.RandomSampler(src, replacement=True, num_samples=50))
    assert len(draws) == 50 and set(draws) <= set(src)
    more = list(data.RandomSampler(src, num_samples=25))
    assert len(more) == 25 and sorted(more[:11]) == src
    sub = list(data.SubsetRandomSampler([2, 4, 6]))
    assert sorted(sub) == [2, 4, 6]
    weighted = list(data.WeightedRandomSampler([0.0, 1.0, 0.0], 5))
    assert weighted == [1] * 5
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        data.BatchSampler(src, 0, False)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        data.RandomSampler(src, num_samples=0)


def test_sampler_batch_sampler_and_custom_collate():
    ds = data.TensorDataset(ndgrad.arange(10))
    loader = data.DataLoader(ds, batch_size=3, sampler=[9, 1, 4, 4])
    assert [b[0].tolist() for b in loader] == [[9, 1, 4], [4]]
    loader = data.DataLoader(ds, batch_sampler=[[0, 1], [5]])
    assert [b[0].tolist() for b in loader] == [[0, 1], [5]] and len(loader) == 2
    loader = data.DataLoader(ds, batch_size=4, collate_fn=lambda items: len(items))
    assert list(loader) == [4, 4, 2]


def test_no_auto_batching():
    samples = [np.array([i, i + 1]) for i in range(3)]
    ours = list(data.DataLoader(samples, batch_size=None))
    ref = list(tdata.DataLoader(samples, batch_size=None))
    for a, b in zip(ours, ref, strict=True):
        _same(a, b)


def test_dict_samples_and_numpy_dataset():
    samples = [{"x": np.full(2, i, dtype=np.float32), "label": i % 2} for i in range(5)]
    for a, b in zip(
        data.DataLoader(samples, batch_size=2), tdata.DataLoader(samples, batch_size=2), strict=True
    ):
        _same(a, b)


def _stream_class(lib):
    """The same iterable dataset (0..n-1, with a length) for ndgrad's and torch's loaders."""

    class Stream(lib.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    return Stream


Stream, TStream = _stream_class(data), _stream_class(tdata)


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset(drop_last):
    ours = data.DataLoader(Stream(10), batch_size=4, drop_last=drop_last)
    ref = tdata.DataLoader(TStream(10), batch_size=4, drop_last=drop_last)
    assert len(ours) == len(ref)
    assert [b.tolist() for b in ours] == [b.tolist() for b in ref]
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        data.DataLoader(Stream(3), shuffle=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": [0], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
        ({"num_workers": -1}, "num_workers option should be non-negative"),
        ({"batch_size": 0}, "batch_size should be a positive integer value"),
    ],
)
def test_loader_option_errors_match_torch(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.DataLoader(data.TensorDataset(ndgrad.arange(4)), **kwargs)
    with pytest.raises(ValueError, match=message):
        tdata.DataLoader(tdata.TensorDataset(torch.arange(4)), **kwargs)


def test_loader_attributes_are_frozen():
    loader = data.DataLoader(data.TensorDataset(ndgrad.arange(4)), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3
    loader.num_workers = 0  # other attributes may change


def test_num_workers_gives_the_same_batches():
    ds = data.TensorDataset(ndgrad.arange(9))
    serial = [b[0].tolist() for b in data.DataLoader(ds, batch_size=4)]
    assert [b[0].tolist() for b in data.DataLoader(ds, batch_size=4, num_workers=2)] == serial


# ----------------------------------------------------------------------------- d2l patterns
def test_d2l_data_iter_and_load_array():
    import ndgrad as torch  # noqa: F401 - d2l's spelling
    from ndgrad.datasets import synthetic_data

    true_w = torch.tensor([2, -3.4])
    features, labels = synthetic_data(true_w, 4.2, 1000)
    assert features.shape == (1000, 2) and labels.shape == (1000, 1)
    assert features.dtype == labels.dtype == torch.float32

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        random.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    X, y = next(data_iter(10, features, labels))
    assert X.shape == (10, 2) and y.shape == (10, 1)
    residual = y - (X @ true_w.reshape(-1, 1) + 4.2)
    assert residual.abs().max().item() < 0.06  # noise is N(0, 0.01)

    def load_array(data_arrays, batch_size, is_train=True):
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    data_iter2 = load_array((features, labels), 10)
    X, y = next(iter(data_iter2))
    assert X.shape == (10, 2) and y.shape == (10, 1) and len(data_iter2) == 100


def test_synthetic_data_statistics_and_errors():
    from ndgrad.datasets import synthetic_data

    ndgrad.manual_seed(0)
    X, y = synthetic_data(ndgrad.tensor([2.0, -3.4]), 4.2, 5000)
    assert abs(X.mean().item()) < 0.05 and abs(X.std().item() - 1) < 0.05
    noise = y.reshape(-1) - (X @ ndgrad.tensor([2.0, -3.4]) + 4.2)
    assert abs(noise.std().item() - 0.01) < 0.001
    with pytest.raises(ValueError, match="w must be a 1-D tensor"):
        synthetic_data(ndgrad.ones(2, 1), 1.0, 10)
