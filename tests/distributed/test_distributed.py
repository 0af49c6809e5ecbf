"""``ndgrad.distributed`` and DDP on 2 ranks over loopback, started by ``ndgrad run``."""

from __future__ import annotations

from tests.distributed.conftest import launch, needs_mpi

pytestmark = needs_mpi


def test_every_collective_gives_the_expected_values() -> None:
    code, out, err = launch("collectives.py", NDGRAD_DIST_TIMEOUT="30")
    assert code == 0, err
    assert "rank 0/2: 18 checks passed" in out and "rank 1/2: 16 checks passed" in out


def test_ddp_on_two_ranks_equals_one_process_with_the_double_batch() -> None:
    # the MLP, a CNN and an LSTM; no_sync; buckets; find_unused_parameters; state_dict
    code, out, err = launch("ddp_equivalence.py", NDGRAD_DIST_TIMEOUT="30", timeout=120)
    assert code == 0, out + err
    for name in ("mlp", "cnn", "lstm"):
        assert f"rank 0: {name} accumulate=1 matches" in out
    assert "rank 1: all DDP checks passed" in out


def test_errors_are_pytorchs() -> None:
    code, out, err = launch("errors.py", NDGRAD_DIST_TIMEOUT="30")
    assert code == 0, out + err
    assert out.count("errors as PyTorch's") == 2
