"""``DistributedSampler``: the same indices, in the same order, as torch's for every rank."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ndgrad
from ndgrad.utils.data.distributed import DistributedSampler, torch_randperm


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 70),
    replicas=st.integers(1, 5),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**40),
    epoch=st.integers(0, 3),
)
def test_same_order_as_torch(n, replicas, shuffle, drop_last, seed, epoch) -> None:
    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, replicas, rank, shuffle, seed, drop_last)
        theirs = torch.utils.data.distributed.DistributedSampler(
            data, replicas, rank, shuffle, seed, drop_last
        )
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        assert len(ours) == len(theirs)
        assert list(ours) == list(theirs)


def test_randperm_of_a_large_dataset_matches_torch() -> None:
    g = torch.Generator()
    g.manual_seed(2026)
    assert torch_randperm(60000, 2026) == torch.randperm(60000, generator=g).tolist()


def test_epochs_differ_and_ranks_partition() -> None:
    a, b = DistributedSampler(range(10), 2, 0), DistributedSampler(range(10), 2, 1)
    assert sorted(list(a) + list(b)) == list(range(10))
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first


def test_bad_rank_and_no_group() -> None:
    for lib in (ndgrad, torch):
        with pytest.raises(
            ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"
        ):
            lib.utils.data.distributed.DistributedSampler(range(4), num_replicas=2, rank=2)
    # without a process group: PyTorch's errors (mpi4py missing: the package is unavailable)
    if ndgrad.distributed.is_available():
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            DistributedSampler(range(4))
    else:
        with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
            DistributedSampler(range(4))
    assert ndgrad.utils.data.DistributedSampler is DistributedSampler
