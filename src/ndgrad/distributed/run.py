"""``ndgrad run --nproc-per-node N script.py``: torchrun's launcher, on the MPI library's mpiexec.

The launcher starts ``mpiexec`` (from the ``mpich`` wheel beside this Python, else the one on
PATH), which starts each rank as ``python -m ndgrad run script.py ARGS``; every rank finds
torchrun's variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``) set before the script starts (:func:`worker_environment`
derives the per-rank ones from the process manager's).

- One machine: ``--nproc-per-node N`` (a free port unless ``--master-port``).
- Several machines, one launcher each: ``--nnodes M --node-rank R --master-addr A
  [--master-port P]``; each node's ranks start MPI alone and ``init_process_group`` joins the
  nodes through node 0 (an MPI port whose name goes round the rendezvous).
- Several machines, one launcher: ``--hostfile F`` (one host per line, MPICH's
  ``host[:slots]``), mpiexec starting the ranks on the hosts over ssh.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

_DEFAULT_PORT = 29500  # torchrun's


class LaunchError(ValueError):
    """Bad launcher options or a missing MPI: a usage error."""


def find_mpiexec() -> str:
    """The MPI wheel's mpiexec beside this interpreter, else one on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    if local.exists():
        return str(local)
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise LaunchError(
            "no mpiexec found: install the MPI library with pip install 'ndgrad[distributed]'"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def parse_nproc(value: str | int) -> int:
    """``--nproc-per-node``: a positive count, or ``auto``/``cpu`` (this machine's cores)."""
    if str(value) in ("auto", "cpu"):
        return os.cpu_count() or 1
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise LaunchError(f"--nproc-per-node must be a positive number or 'auto', got {value!r}")
    return n


def read_hostfile(path: str) -> list[tuple[str, int | None]]:
    """``host[:slots]`` per line (``#`` comments); MPICH's hostfile format."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise LaunchError(f"cannot read hostfile {path}: {exc.strerror or exc}") from None
    hosts = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        host, _, slots = line.partition(":")
        if not host or (slots and not slots.isdigit()):
            raise LaunchError(
                f"hostfile {path}, line {number}: expected host[:slots], got {line!r}"
            )
        hosts.append((host, int(slots) if slots else None))
    if not hosts:
        raise LaunchError(f"hostfile {path} names no host")
    return hosts


def launch_command(
    script: str,
    args: list[str],
    nproc_per_node: int,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str | None = None,
    master_port: int | None = None,
    hostfile: str | None = None,
    worker: list[str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The mpiexec command line and its environment. Each rank runs ``worker + [script,
    *args]`` (by default ``python -m ndgrad run script ARGS``)."""
    if nnodes < 1:
        raise LaunchError(f"--nnodes must be at least 1, got {nnodes}")
    if not 0 <= node_rank < nnodes:
        raise LaunchError(
            f"--node-rank must be in [0, {nnodes}) for --nnodes {nnodes}, got {node_rank}"
        )
    if master_port is not None and not 0 < master_port < 65536:
        raise LaunchError(f"--master-port must be a port number (1-65535), got {master_port}")
    mpiexec = find_mpiexec()
    env = dict(os.environ)
    worker = [*(worker or [sys.executable, "-m", "ndgrad", "run"]), script, *args]
    if hostfile is not None:
        if node_rank:
            raise LaunchError("--hostfile starts every node from one launcher: no --node-rank")
        hosts = read_hostfile(hostfile)
        nnodes = len(hosts) if nnodes == 1 else nnodes
        if nnodes != len(hosts):
            raise LaunchError(f"--nnodes {nnodes} but hostfile {hostfile} names {len(hosts)} hosts")
        addr = master_addr or hosts[0][0]
        port = master_port or _DEFAULT_PORT
        world = nnodes * nproc_per_node
        command = [mpiexec, "-f", hostfile, "-ppn", str(nproc_per_node), "-n", str(world)]
        env["NDGRAD_NNODES"] = "1"  # one MPI job over every host
    elif nnodes > 1:
        if not master_addr:
            raise LaunchError("--nnodes > 1 needs --master-addr (node 0's address) or --hostfile")
        addr, port = master_addr, master_port or _DEFAULT_PORT
        world = nnodes * nproc_per_node
        command = [mpiexec, "-n", str(nproc_per_node)]
        env["NDGRAD_NNODES"] = str(nnodes)
    else:
        addr, port = master_addr or "127.0.0.1", master_port or free_port()
        world = nproc_per_node
        command = [mpiexec, "-n", str(nproc_per_node)]
        env["NDGRAD_NNODES"] = "1"
    env.update(
        NDGRAD_LAUNCHED="1",
        # the rendezvous turns away other jobs' ranks (nodes started apart cannot share one)
        NDGRAD_JOB_ID=os.urandom(6).hex() if hostfile is not None or nnodes == 1 else "",
        NDGRAD_NODE_RANK=str(node_rank),
        WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(nproc_per_node),
        MASTER_ADDR=addr,
        MASTER_PORT=str(port),
        GROUP_RANK=str(node_rank),
    )
    if nproc_per_node > 1:
        env.setdefault("OMP_NUM_THREADS", "1")  # as torchrun: the ranks share the cores
        env.setdefault("OPENBLAS_NUM_THREADS", env["OMP_NUM_THREADS"])
    if hostfile is not None:
        names = ("NDGRAD_LAUNCHED", "NDGRAD_JOB_ID", "NDGRAD_NNODES", "NDGRAD_NODE_RANK", "WORLD_SIZE",
                 "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS", "PYTHONPATH")  # fmt: skip
        for name in names:
            if name in env:
                command += ["-genv", name, env[name]]
    return [*command, *worker], env


def launch(
    script: str, args: list[str], nproc_per_node: int, name: str = "run", **options: object
) -> int:
    """Runs the job; the exit status is mpiexec's (non-zero when a rank failed)."""
    command, env = launch_command(script, args, nproc_per_node, **options)  # type: ignore[arg-type]
    try:
        status = subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
    if status != 0:
        print(f"ndgrad {name}: a rank exited with status {status}; mpiexec stopped the job",
              file=sys.stderr)  # fmt: skip
    return status


def worker_environment(environ: dict | None = None) -> None:
    """In a rank started by :func:`launch`: ``RANK``, ``LOCAL_RANK``, ``GROUP_RANK`` from
    the process manager's own variables (MPICH's hydra, or Open MPI's)."""
    env = os.environ if environ is None else environ
    if "NDGRAD_LAUNCHED" not in env or "RANK" in env:
        return
    local = env.get("MPI_LOCALRANKID") or env.get("OMPI_COMM_WORLD_LOCAL_RANK")
    rank = env.get("PMI_RANK") or env.get("OMPI_COMM_WORLD_RANK")
    if rank is None:
        return
    if int(env.get("NDGRAD_NNODES", "1")) > 1:  # one mpiexec per node: number the nodes
        node = int(env.get("NDGRAD_NODE_RANK", "0"))
        rank = str(node * int(env["LOCAL_WORLD_SIZE"]) + int(rank))
        local = local or env.get("PMI_RANK")
    else:
        size = int(env.get("LOCAL_WORLD_SIZE", "1"))
        env["GROUP_RANK"] = str(int(rank) // size)
    env["RANK"] = rank
    env["LOCAL_RANK"] = local if local is not None else rank
