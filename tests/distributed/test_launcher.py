"""The launcher: nodes started apart, a hostfile, ranks that fail, ``ndgrad train --nproc``,
usage errors (a second file, so that xdist runs it beside test_distributed.py)."""

from __future__ import annotations

import time

import pytest
from tests.distributed.conftest import PROGRAMS, finish, needs_mpi, start

pytestmark = needs_mpi


def test_nodes_started_apart_and_a_hostfile(tmp_path) -> None:
    from ndgrad.distributed.run import free_port

    program = str(PROGRAMS / "collectives.py")
    port = str(free_port())
    hosts = tmp_path / "hosts"
    hosts.write_text("# one line per host\nlocalhost:2\n")
    jobs = [
        start("run", "--nnodes", "2", "--node-rank", str(node), "--master-addr", "127.0.0.1",
              "--master-port", port, "--nproc-per-node", "1", program, NDGRAD_DIST_TIMEOUT="30")
        for node in (1, 0)
    ] + [start("run", "--hostfile", str(hosts), "--nproc-per-node", "2",
               "--master-port", str(free_port()), program, NDGRAD_DIST_TIMEOUT="30")]  # fmt: skip
    outs = []
    for job in jobs:
        code, out, err = finish(job, 60)
        assert code == 0, out + err
        outs.append(out)
    assert "rank 1/2: 16 checks passed" in outs[0] and "rank 0/2: 18 checks passed" in outs[1]
    assert "rank 0/2: 18 checks passed" in outs[2] and "rank 1/2: 16 checks passed" in outs[2]


def test_a_rank_that_never_joins_dies_or_stalls_fails_the_others_within_the_timeout() -> None:
    begin = time.monotonic()
    program = str(PROGRAMS / "dies.py")
    jobs = [
        start("run", "--nproc-per-node", "2", str(PROGRAMS / "never_joins.py"),
              TIMEOUT="2", LATE="4"),
        start("run", "--nproc-per-node", "2", program, TIMEOUT="2", MODE="stall"),
        start("run", "--nproc-per-node", "2", program, TIMEOUT="2", MODE="exit"),
    ]  # fmt: skip
    (late, late_err), (stall, stall_err), (died, died_err) = [
        (code, err) for code, _, err in (finish(job, 40) for job in jobs)
    ]
    assert time.monotonic() - begin < 30
    assert late != 0
    assert (
        "DistStoreError: Timed out after 2 seconds waiting for clients. 1/2 clients joined"
        in late_err
    )
    assert "ranks [1] never reached init_process_group" in late_err
    assert stall != 0
    assert "DistBackendError: all_reduce on rank 0" in stall_err
    assert "timed out after 2 seconds: another rank died or never called it" in stall_err
    # a rank that ends without MPI's goodbye: mpiexec stops the others at once. The status is
    # the dead rank's (3), or 9 when MPICH's hydra reports the rank it SIGKILLed first (seen
    # under load in CI).
    assert died in (3, 9)
    assert f"ndgrad run: a rank exited with status {died}; mpiexec stopped the job" in died_err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--nproc-per-node", "0"], "--nproc-per-node must be a positive number"),
        (["--nproc-per-node", "2", "--nnodes", "2"], "--nnodes > 1 needs --master-addr"),
        (["--nnodes", "2"], "need --nproc-per-node"),
        (["--nproc-per-node", "1", "--nnodes", "2", "--node-rank", "2", "--master-addr", "a"],
         "--node-rank must be in [0, 2)"),
        (["--nproc-per-node", "1", "--master-port", "70000"], "--master-port must be a port"),
        (["--nproc-per-node", "1", "--hostfile", "/no/such/hostfile"], "cannot read hostfile"),
    ],
)  # fmt: skip
def test_launcher_usage_errors(args, message, capsys, tmp_path) -> None:
    from ndgrad.cli import main

    program = tmp_path / "p.py"
    program.write_text("print('ran')\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", *args, str(program)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("ndgrad run: error: ") and message in err


def test_ndgrad_train_nproc(tmp_path) -> None:
    """mlp and lstm on 2 ranks; the LSTM's rows shared by the ranks give one process's run."""
    import json

    common = ["--epochs", "1", "--no-plots", "--json"]
    jobs = [
        start("train", "mlp", "--data", "iris", "--nproc", "2", "--out", str(tmp_path / "m"),
              *common, NDGRAD_DIST_TIMEOUT="60"),
        start("train", "lstm", "--data", "time-machine", "--max-tokens", "3000", "--nproc", "2",
              "--out", str(tmp_path / "s2"), *common, NDGRAD_DIST_TIMEOUT="60"),
        start("train", "lstm", "--data", "time-machine", "--max-tokens", "3000",
              "--out", str(tmp_path / "s1"), *common),
    ]  # fmt: skip
    results = [finish(job, 120) for job in jobs]
    for code, out, err in results:
        assert code == 0, out + err
    mlp, lstm2, lstm1 = (json.loads(out[out.index("{") :]) for _, out, _ in results)
    assert mlp["metrics"]["train"]["accuracy"] > 0.5
    assert (tmp_path / "m" / "checkpoint.ndgrad").exists()
    assert not list(tmp_path.glob("ndgrad-rank-*"))
    ppl2, ppl1 = (run["history"]["train perplexity"] for run in (lstm2, lstm1))
    assert abs(ppl2[0] - ppl1[0]) < 1e-3 * ppl1[0], (ppl2, ppl1)


def test_ndgrad_train_nproc_usage_errors(capsys) -> None:
    from ndgrad.cli import main

    for args, message in [
        (["--nproc", "0"], "--nproc must be at least 1"),
        (["--nproc", "3"], "--batch-size 64 must be a multiple of --nproc 3"),
        (["--nproc", "2", "--data", "nope"], "unknown dataset 'nope'"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "mlp", "--data", "digits", *args])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.count("\n") == 1 and message in err, err
