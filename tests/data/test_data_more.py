"""``torch.utils.data``'s remaining names: ``get_worker_info``/``WorkerInfo`` (ndgrad plays
the DataLoader's workers in turn in one process: the batches, their order and what each
worker sees must be torch's), ``ChainDataset``, ``StackDataset``; and ``optim.SparseAdam``."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import ndgrad


def _datasets(lib):
    data = lib.utils.data

    class Range(data.IterableDataset):
        """Shards itself by the worker it runs in (torch's documented pattern)."""

        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            info = data.get_worker_info()
            if info is None:
                lo, hi = self.start, self.end
            else:
                per = int(math.ceil((self.end - self.start) / float(info.num_workers)))
                lo = self.start + info.id * per
                hi = min(lo + per, self.end)
            return iter(range(lo, hi))

    class Plain(data.IterableDataset):
        def __iter__(self):
            return iter(range(5))

    class Bounds(data.IterableDataset):
        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            return iter(range(self.start, self.end))

    class Map(data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            info = data.get_worker_info()
            return lib.tensor([i, -1 if info is None else info.id])

    def shard(worker_id):  # torch's documented worker_init_fn
        info = data.get_worker_info()
        ds = info.dataset
        per = int(math.ceil((ds.end - ds.start) / float(info.num_workers)))
        ds.start = ds.start + worker_id * per
        ds.end = min(ds.start + per, ds.end)

    return Range, Plain, Bounds, Map, shard


def _batches(lib, workers):
    Range, Plain, Bounds, Map, shard = _datasets(lib)
    load = lib.utils.data.DataLoader
    kw = {"num_workers": workers}
    out = [
        [b.tolist() for b in load(Range(3, 13), batch_size=2, **kw)],
        [b.tolist() for b in load(Range(3, 14), batch_size=3, drop_last=True, **kw)],
        [b.tolist() for b in load(Plain(), batch_size=2, **kw)],
        [int(b) for b in load(Plain(), batch_size=None, **kw)],
        [b.tolist() for b in load(Map(), batch_size=2, **kw)],
        [b.tolist() for b in load(Map(), batch_size=3, shuffle=False, drop_last=True, **kw)],
    ]
    if workers:
        out.append(
            [b.tolist() for b in load(Bounds(3, 10), batch_size=2, worker_init_fn=shard, **kw)]
        )
    return out


@pytest.mark.parametrize("workers", [0, 2, 3])
def test_worker_batches_and_order_match_torch(workers):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: more workers than cores
        theirs = _batches(torch, workers)
    assert _batches(ndgrad, workers) == theirs


def test_worker_info_outside_and_inside_workers():
    data = ndgrad.utils.data
    assert data.get_worker_info() is None and torch.utils.data.get_worker_info() is None
    seen = []

    class Probe(data.IterableDataset):
        def __iter__(self):
            info = data.get_worker_info()
            seen.append((info.id, info.num_workers, id(info.dataset) != ORIGINAL[0]))
            return iter([info.id])

    probe = Probe()
    ORIGINAL = [id(probe)]  # each worker iterates its own copy
    ids = [int(b) for b in data.DataLoader(probe, batch_size=None, num_workers=2)]
    assert ids == [0, 1] and sorted(seen) == [(0, 2, True), (1, 2, True)]
    assert data.get_worker_info() is None
    info = data.WorkerInfo(id=0, num_workers=2, seed=7, dataset=None)
    assert repr(info) == "WorkerInfo(id=0, num_workers=2, seed=7, dataset=None)"
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        info.id = 1
    calls = []
    loader = data.DataLoader(
        list(range(4)),
        batch_size=2,
        num_workers=2,
        persistent_workers=True,
        worker_init_fn=lambda i: calls.append((i, data.get_worker_info().seed)),
    )
    for _ in range(2):
        assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]
    assert [c[0] for c in calls] == [0, 1]  # persistent workers start once
    assert calls[1][1] == calls[0][1] + 1  # seeds: base + worker id


def _both(fn):
    theirs = fn(torch.utils.data, torch)
    ours = fn(ndgrad.utils.data, ndgrad)
    return ours, theirs


def test_chain_dataset_matches_torch():
    def run(data, lib):
        class Stream(data.IterableDataset):
            def __init__(self, n):
                self.n = n

            def __iter__(self):
                return iter(range(self.n))

            def __len__(self):
                return self.n

        chain = data.ChainDataset([Stream(2), Stream(3)])
        added = Stream(1) + Stream(2)
        return list(chain), len(chain), type(added).__name__, list(added)

    ours, theirs = _both(run)
    assert ours == theirs
    for lib in (torch, ndgrad):
        bad = lib.utils.data.ChainDataset([[1, 2]])
        with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
            list(bad)
        with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
            len(bad)


def test_stack_dataset_matches_torch():
    def run(data, lib):
        xs = data.TensorDataset(lib.arange(6.0).reshape(3, 2))
        ys = [10, 11, 12]
        tup = data.StackDataset(xs, ys)
        named = data.StackDataset(x=xs, y=ys)
        loader = data.DataLoader(named, batch_size=2)
        return (
            len(tup),
            repr(tup[1]),
            repr(named[2]),
            repr(tup.__getitems__([0, 2])),
            repr(named.__getitems__([1])),
            [repr(b) for b in loader],
            [repr(b) for b in data.DataLoader(tup, batch_size=3)],
        )

    ours, theirs = _both(run)
    assert [s.replace("ndgrad", "torch") for s in _flat(ours)] == _flat(theirs)
    for call in (
        lambda data: data.StackDataset([1, 2], y=[1, 2]),
        lambda data: data.StackDataset(),
        lambda data: data.StackDataset([1, 2], [1]),
        lambda data: data.StackDataset(a=[1, 2], b=[1]),
    ):
        with pytest.raises(ValueError) as theirs_err:
            call(torch.utils.data)
        with pytest.raises(ValueError) as ours_err:
            call(ndgrad.utils.data)
        assert str(ours_err.value) == str(theirs_err.value)


def _flat(items):
    out = []
    for item in items:
        out.extend(item if isinstance(item, list) else [str(item)])
    return out


def test_sparse_adam_is_built_as_torch_and_refuses_dense_gradients():
    for lib in (torch, ndgrad):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SparseAdam([p], lr=0.01, betas=(0.8, 0.9), maximize=True)
        assert opt.state_dict()["param_groups"] == [
            {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-08, "maximize": True, "params": [0]}
        ]
        opt.step()  # no gradient yet: nothing to do
        (p * 2).sum().backward()
        with pytest.raises(RuntimeError) as err:
            opt.step()
        assert str(err.value) == (
            "SparseAdam does not support dense gradients, please consider Adam instead"
        )
    assert repr(ndgrad.optim.SparseAdam([ndgrad.nn.Parameter(ndgrad.ones(1))])) == repr(
        torch.optim.SparseAdam([torch.nn.Parameter(torch.ones(1))])
    )
    for kw in ({"lr": 0.0}, {"eps": 0.0}, {"betas": (1.0, 0.9)}, {"betas": (0.9, -0.1)}):
        with pytest.raises(ValueError) as theirs:
            torch.optim.SparseAdam([torch.nn.Parameter(torch.ones(1))], **kw)
        with pytest.raises(ValueError) as ours:
            ndgrad.optim.SparseAdam([ndgrad.nn.Parameter(ndgrad.ones(1))], **kw)
        assert str(ours.value) == str(theirs.value)
