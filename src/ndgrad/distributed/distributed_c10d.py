"""``torch.distributed``'s process groups and collectives, carried by MPI (mpi4py).

Each collective hands the tensor's own NumPy buffer to MPI (no copy when it is contiguous)
as a nonblocking request; ``async_op=True`` returns the :class:`Work` that waits for it, and
a blocking call waits at once. Every wait has a deadline (``init_process_group``'s
``timeout``, or ``NDGRAD_DIST_TIMEOUT`` seconds): a peer that died or stopped answering
makes the others raise :class:`DistBackendError` instead of hanging, and the job is aborted
at exit so that the stuck ranks end too.
"""

from __future__ import annotations

import atexit
import enum
import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np

from ndgrad._tensor import Tensor
from ndgrad.distributed.errors import DistBackendError

_NOT_INITIALIZED = (
    "Default process group has not been initialized, please make sure to call init_process_group."
)
default_pg_timeout = timedelta(minutes=30)  # as torch.distributed's


class Backend(str):
    """Backend names; every CPU backend name runs on MPI here."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"

    def __new__(cls, name: str) -> Backend:
        return str.__new__(cls, name.lower())


class RedOpType(enum.Enum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ReduceOp:
    """``dist.ReduceOp.SUM`` and the others (``RedOpType`` members, as in PyTorch)."""

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    RedOpType = RedOpType


class ProcessGroup:
    """A set of ranks and the MPI communicator that joins them."""

    def __init__(self, comm: Any, ranks: list[int], timeout: float, name: str) -> None:
        self.comm = comm
        self.ranks = ranks  # the global rank of each group rank
        self.timeout = timeout
        self.group_name = name

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return self.comm.Get_size()

    def name(self) -> str:
        return Backend.MPI

    def __repr__(self) -> str:
        return f"ProcessGroup(name={self.group_name!r}, ranks={self.ranks})"


class GroupMember:
    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = object()


group = GroupMember  # torch.distributed.group.WORLD


class _State:
    mpi: Any = None
    broken = False  # a wait timed out: abort the whole job at exit
    groups = 0


def _mpi() -> Any:
    if _State.mpi is None:
        try:
            import mpi4py
        except ImportError:
            raise RuntimeError(
                "ndgrad.distributed needs mpi4py and an MPI library: "
                "pip install 'ndgrad[distributed]'"
            ) from None
        mpi4py.rc.thread_level = "serialized"  # one thread calls MPI at a time
        from mpi4py import MPI

        _State.mpi = MPI
        atexit.register(_abort_if_broken)  # runs before mpi4py's MPI_Finalize (LIFO)
    return _State.mpi


def _abort_if_broken() -> None:
    # A peer that stopped answering would also stall MPI_Finalize: end the whole job instead.
    if _State.broken:
        abort_job(1)


def abort_job(code: int) -> None:
    """Ends every rank of the job (MPI_Abort), as torchrun stops the others when one fails;
    nothing when MPI was not started in this process."""
    if _State.mpi is None:
        return
    import sys

    if _State.mpi.COMM_WORLD.Get_rank() != 0:
        time.sleep(1.0)  # rank 0, failing alike, says why before the job ends
    sys.stdout.flush()
    sys.stderr.flush()
    _State.mpi.COMM_WORLD.Abort(code or 1)


def is_available() -> bool:
    """Whether mpi4py (and so an MPI library) can be imported."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    return GroupMember.WORLD is not None


def is_mpi_available() -> bool:
    return is_available()


def is_gloo_available() -> bool:
    return False


def is_nccl_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ or "NDGRAD_LAUNCHED" in os.environ


def _default_group() -> ProcessGroup:
    if GroupMember.WORLD is None:
        raise ValueError(_NOT_INITIALIZED)
    return GroupMember.WORLD


def _group(group: ProcessGroup | None) -> ProcessGroup | None:
    """The group to use; None when this rank is not a member of ``group``."""
    world = _default_group()
    if group is None or group is GroupMember.WORLD:
        return world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    return group


def _env_int(*names: str) -> int | None:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                raise ValueError(
                    f"init_process_group: {name}={value!r} is not an integer"
                ) from None
    return None


def _timeout_seconds(timeout: timedelta | float | None) -> float:
    if timeout is None:
        env = os.environ.get("NDGRAD_DIST_TIMEOUT")
        if env:
            try:
                return float(env)
            except ValueError:
                raise ValueError(
                    f"NDGRAD_DIST_TIMEOUT={env!r} is not a number of seconds"
                ) from None
        return default_pg_timeout.total_seconds()
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    if not seconds > 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return seconds


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Joins the default process group: every rank of the job calls it once.

    ``rank``/``world_size`` come from the arguments, else ``RANK``/``WORLD_SIZE`` (as set by
    ``ndgrad run --nproc-per-node`` or torchrun), else MPI's own (``mpiexec -n N``). With
    ``MASTER_ADDR``/``MASTER_PORT`` (or ``init_method="tcp://host:port"``) every rank first
    checks in at rank 0 there, so that a rank that never comes fails the others after
    ``timeout`` (:class:`DistStoreError`) rather than hanging MPI's start-up.
    """
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None:
        raise ValueError("init_process_group: ndgrad meets through env:// or tcp://, not a store")
    name = str(backend or Backend.MPI).lower()
    if name.startswith("cpu:"):
        name = name[len("cpu:") :]
    if name == Backend.NCCL or name.startswith("cuda:"):
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    if name not in (Backend.MPI, Backend.GLOO, Backend.UNDEFINED):
        raise ValueError(
            f"init_process_group: unknown backend {backend!r}; ndgrad's backend is 'mpi' "
            "('gloo' is accepted and runs on MPI too)"
        )
    seconds = _timeout_seconds(timeout)
    addr = os.environ.get("MASTER_ADDR")
    port: str | None = os.environ.get("MASTER_PORT")
    method = init_method or "env://"
    if method.startswith("tcp://"):
        host, _, port = method[len("tcp://") :].partition(":")
        addr = host or addr
    elif not method.startswith("env://"):
        raise ValueError(
            f"init_process_group: init_method {init_method!r} is not supported "
            "(use 'env://' or 'tcp://host:port')"
        )
    if rank < 0:
        rank = _env_int("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK")
    if world_size <= 0:
        world_size = _env_int("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
    meeting = None
    if addr and port and world_size and world_size > 1:
        if rank is None or not 0 <= rank < world_size:
            raise ValueError(f"init_process_group: rank {rank} is not in [0, {world_size})")
        from ndgrad.distributed._rendezvous import Rendezvous

        try:
            number = int(port)
        except ValueError:
            raise ValueError(f"init_process_group: MASTER_PORT={port!r} is not a port") from None
        meeting = Rendezvous(addr, number, rank, world_size, seconds)
    try:
        MPI = _mpi()
        comm = MPI.COMM_WORLD
        if world_size is not None and comm.Get_size() != world_size:
            comm = _join_nodes(MPI, comm, meeting, world_size)
        if rank is not None and comm.Get_rank() != rank:
            raise ValueError(
                f"init_process_group: this process has RANK {rank} but MPI rank "
                f"{comm.Get_rank()}; start the ranks with `ndgrad run --nproc-per-node N`"
            )
    finally:
        if meeting is not None:
            meeting.close()
    GroupMember.WORLD = ProcessGroup(comm, list(range(comm.Get_size())), seconds, group_name or "0")


def _join_nodes(MPI: Any, local: Any, meeting: Any, world_size: int) -> Any:  # noqa: N803
    """The nodes of ``ndgrad run --nnodes M`` (one mpiexec each) joined into one communicator.

    Node 0 opens an MPI port, the rendezvous hands its name to every rank, and the nodes
    connect in node order, each merge putting the newcomer's ranks after the others'.
    """
    nodes = _env_int("NDGRAD_NNODES") or 1
    node_rank = _env_int("NDGRAD_NODE_RANK") or 0
    if meeting is None or nodes * local.Get_size() != world_size:
        raise ValueError(
            f"init_process_group: WORLD_SIZE is {world_size} but MPI started "
            f"{local.Get_size()} process(es); start them with "
            f"`ndgrad run --nproc-per-node {world_size} script.py` (or mpiexec -n {world_size})"
        )
    port = meeting.share(MPI.Open_port() if meeting.rank == 0 else None)
    comm = local
    for joining in range(1, nodes):
        if node_rank < joining:
            comm = comm.Accept(port, root=0).Merge(high=False)
        elif node_rank == joining:
            comm = comm.Connect(port, root=0).Merge(high=True)
    if meeting.rank == 0:
        MPI.Close_port(port)
    return comm


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leaves the group (the default one: every group). MPI itself ends at interpreter exit."""
    if group is None or group is GroupMember.WORLD:
        _default_group()
        GroupMember.WORLD = None
    elif group is not GroupMember.NON_GROUP_MEMBER:
        group.comm.Free()


def get_rank(group: ProcessGroup | None = None) -> int:
    pg = _group(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    pg = _group(group)
    return -1 if pg is None else pg.size()


def get_backend(group: ProcessGroup | None = None) -> str:
    _group(group)
    return Backend.MPI


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    pg = _group(group)
    return [] if pg is None else list(pg.ranks)


def new_group(
    ranks: list[int] | None = None,
    timeout: timedelta | None = None,
    backend: str | None = None,
    pg_options: Any = None,
    use_local_synchronization: bool = False,
    group_desc: str | None = None,
) -> Any:
    """A group of some ranks; every rank of the default group calls it (as in PyTorch)."""
    world = _default_group()
    size = world.size()
    chosen = sorted(range(size) if ranks is None else (int(r) for r in ranks))
    if any(not 0 <= r < size for r in chosen) or len(set(chosen)) != len(chosen):
        raise ValueError(
            f"new_group: ranks {list(ranks or [])} must be distinct ranks of the default "
            f"group [0, {size})"
        )
    comm = world.comm.Create(world.comm.Get_group().Incl(chosen))
    _State.groups += 1
    if comm == _State.mpi.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    seconds = world.timeout if timeout is None else _timeout_seconds(timeout)
    return ProcessGroup(comm, chosen, seconds, group_desc or str(_State.groups))


# ----------------------------------------------------------------------- requests


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` until it is done."""

    def __init__(
        self,
        requests: list,
        op: str,
        pg: ProcessGroup,
        finish: Callable[[], Any] | None = None,
        keep: Any = None,
        statuses: list | None = None,
    ) -> None:
        self._requests = requests
        self._op = op
        self._pg = pg
        self._finish = finish
        self._keep = keep  # a buffer MPI reads or writes until the end
        self._statuses = statuses
        self._done = False
        self._result: Any = None

    def _complete(self) -> None:
        self._done = True
        self._requests = []
        self._keep = None
        if self._finish is not None:
            finish, self._finish = self._finish, None
            self._result = finish()

    def is_completed(self) -> bool:
        if not self._done and _State.mpi.Request.Testall(self._requests, self._statuses):
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Waits for the operation; :class:`DistBackendError` past the group's timeout."""
        if self._done:
            return True
        seconds = self._pg.timeout if timeout is None else _timeout_seconds(timeout)
        test = _State.mpi.Request.Testall
        requests, statuses = self._requests, self._statuses
        start = time.monotonic()
        spins = 0
        while not test(requests, statuses):
            spins += 1
            if spins > 64:  # then yield the core (ranks may share one) in short sleeps
                if time.monotonic() - start > seconds:
                    _State.broken = True
                    raise DistBackendError(
                        f"{self._op} on rank {_State.mpi.COMM_WORLD.Get_rank()} (group "
                        f"{self._pg.group_name}, size {self._pg.size()}) timed out after "
                        f"{seconds:g} seconds: another rank died or never called it "
                        "(the timeout: init_process_group(timeout=) or NDGRAD_DIST_TIMEOUT)"
                    )
                time.sleep(min(1e-3, 1e-6 * spins))
        self._complete()
        return True

    def result(self) -> Any:
        self.wait()
        return self._result

    def synchronize(self) -> None:
        self.wait()

    def __repr__(self) -> str:
        return f"<Work {self._op} {'completed' if self._done else 'pending'}>"


def _finish(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


def _check_tensor(t: Any, name: str, op: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{name}` of type torch.Tensor "
            f"but got {type(t)} instead (in {op})."
        )
    return t


def _check_list(ts: Any, name: str, op: str, size: int, like: Tensor) -> list:
    if not isinstance(ts, list) or not all(isinstance(t, Tensor) for t in ts):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{name}` of type List[torch.Tensor] "
            f"but got {type(ts)} instead (in {op})."
        )
    if len(ts) != size:
        raise ValueError(f"{op}: `{name}` must hold world size ({size}) tensors, got {len(ts)}")
    for t in ts:
        if t.shape != like.shape or t.dtype != like.dtype:
            raise ValueError(
                f"{op}: every tensor of `{name}` must have the input's shape "
                f"{tuple(like.shape)} and dtype {like.dtype}, got {tuple(t.shape)} {t.dtype}"
            )
    return ts


def _check_blocks(big: Tensor, small: Tensor, size: int, op: str, big_name: str) -> None:
    """``big`` holds one block of ``small``'s size per rank."""
    if big.dtype != small.dtype:
        raise TypeError(f"{op}: the tensors' dtypes differ ({big.dtype} and {small.dtype})")
    if big.numel() != size * small.numel():
        raise ValueError(
            f"{op}: the {big_name} must hold world size ({size}) times as many elements as "
            f"the other tensor: got shapes {tuple(big.shape)} and {tuple(small.shape)}"
        )


def _send_buffer(t: Tensor) -> np.ndarray:
    """The tensor's array, contiguous (a copy only when it is not)."""
    return np.ascontiguousarray(t._data)


def _recv_buffer(t: Tensor) -> tuple[np.ndarray, Callable[[], None] | None]:
    """A buffer MPI may write into, and how to copy it back when it is not the tensor's own."""
    data = t._data
    t._version_counter[0] += 1  # written in place, like PyTorch's collectives
    if data.flags.c_contiguous and data.flags.writeable:
        return data, None
    buf = np.ascontiguousarray(data)

    def back() -> None:
        t._data[...] = buf

    return buf, back


def _mpi_op(op: Any, name: str, dtype: np.dtype) -> Any:
    MPI = _State.mpi
    if not isinstance(op, RedOpType):
        raise ValueError(f"{name}: op must be a dist.ReduceOp, got {op!r}")
    if op is RedOpType.AVG and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {dtype}")
    return {
        RedOpType.SUM: MPI.SUM,
        RedOpType.AVG: MPI.SUM,
        RedOpType.PRODUCT: MPI.PROD,
        RedOpType.MIN: MPI.MIN,
        RedOpType.MAX: MPI.MAX,
        RedOpType.BAND: MPI.BAND,
        RedOpType.BOR: MPI.BOR,
        RedOpType.BXOR: MPI.BXOR,
    }[op]


def _reduced(buf: np.ndarray, op: Any, size: int, back: Callable[[], None] | None) -> Callable:
    """What to do once a reduction lands: AVG divides the sum, then copy back if needed."""

    def finish() -> None:
        if op is RedOpType.AVG:
            np.divide(buf, size, out=buf)
        if back is not None:
            back()

    return finish


def _group_rank(
    pg: ProcessGroup, rank: int | None, group_rank: int | None, op: str, role: str
) -> int:
    if rank is not None and group_rank is not None:
        raise ValueError(f"{op}: give {role} or group_{role}, not both")
    if group_rank is None:
        if rank is None:
            return 0
        if rank not in pg.ranks:
            raise ValueError(f"{op}: {role} rank {rank} is not in the group (ranks {pg.ranks})")
        return pg.ranks.index(rank)
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"{op}: group_{role} {group_rank} is not in [0, {pg.size()})")
    return group_rank


# ----------------------------------------------------------------------- collectives


def barrier(
    group: ProcessGroup | None = None, async_op: bool = False, device_ids: Any = None
) -> Any:
    pg = _group(group)
    if pg is None:
        return None
    return _finish(Work([pg.comm.Ibarrier()], "barrier", pg), async_op)


def all_reduce(
    tensor: Tensor,
    op: Any = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Any:
    """Reduces ``tensor`` over the group, in place on every rank."""
    _check_tensor(tensor, "tensor", "all_reduce")
    pg = _group(group)
    if pg is None:
        return None
    mop = _mpi_op(op, "all_reduce", tensor._data.dtype)
    buf, back = _recv_buffer(tensor)
    request = pg.comm.Iallreduce(_State.mpi.IN_PLACE, buf, mop)
    return _finish(Work([request], "all_reduce", pg, _reduced(buf, op, pg.size(), back)), async_op)


def broadcast(
    tensor: Tensor,
    src: int | None = None,
    group: ProcessGroup | None = None,
    async_op: bool = False,
    group_src: int | None = None,
) -> Any:
    """Rank ``src``'s ``tensor`` copied into ``tensor`` on every rank."""
    _check_tensor(tensor, "tensor", "broadcast")
    pg = _group(group)
    if pg is None:
        return None
    root = _group_rank(pg, src, group_src, "broadcast", "src")
    buf, back = _recv_buffer(tensor)
    return _finish(Work([pg.comm.Ibcast(buf, root=root)], "broadcast", pg, back), async_op)


def _into_list(out: np.ndarray, tensors: list[Tensor]) -> Callable[[], None]:
    def finish() -> None:
        for i, t in enumerate(tensors):
            t._data[...] = out[i]
            t._version_counter[0] += 1

    return finish


def all_gather(
    tensor_list: list[Tensor],
    tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Any:
    """Every rank's ``tensor`` into ``tensor_list`` (one per rank), on every rank."""
    _check_tensor(tensor, "tensor", "all_gather")
    pg = _group(group)
    if pg is None:
        return None
    _check_list(tensor_list, "tensor_list", "all_gather", pg.size(), tensor)
    out = np.empty((pg.size(), *tensor._data.shape), tensor._data.dtype)
    send = _send_buffer(tensor)
    request = pg.comm.Iallgather(send, out)
    return _finish(
        Work([request], "all_gather", pg, _into_list(out, tensor_list), keep=send), async_op
    )


def all_gather_into_tensor(
    output_tensor: Tensor,
    input_tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Any:
    """Every rank's input, concatenated along dim 0 (or stacked) into ``output_tensor``."""
    _check_tensor(output_tensor, "output_tensor", "all_gather_into_tensor")
    _check_tensor(input_tensor, "input_tensor", "all_gather_into_tensor")
    pg = _group(group)
    if pg is None:
        return None
    _check_blocks(output_tensor, input_tensor, pg.size(), "all_gather_into_tensor", "output")
    send = _send_buffer(input_tensor)
    buf, back = _recv_buffer(output_tensor)
    request = pg.comm.Iallgather(send, buf)
    return _finish(Work([request], "all_gather_into_tensor", pg, back, keep=send), async_op)


def reduce_scatter_tensor(
    output: Tensor,
    input: Tensor,
    op: Any = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Any:
    """``input`` reduced over the ranks, rank ``i`` keeping the ``i``-th block in ``output``."""
    _check_tensor(output, "output", "reduce_scatter_tensor")
    _check_tensor(input, "input", "reduce_scatter_tensor")
    pg = _group(group)
    if pg is None:
        return None
    _check_blocks(input, output, pg.size(), "reduce_scatter_tensor", "input")
    mop = _mpi_op(op, "reduce_scatter_tensor", input._data.dtype)
    send = _send_buffer(input)
    buf, back = _recv_buffer(output)
    request = pg.comm.Ireduce_scatter_block(send, buf, mop)
    finish = _reduced(buf, op, pg.size(), back)
    return _finish(Work([request], "reduce_scatter_tensor", pg, finish, keep=send), async_op)


def gather(
    tensor: Tensor,
    gather_list: list[Tensor] | None = None,
    dst: int | None = None,
    group: ProcessGroup | None = None,
    async_op: bool = False,
    group_dst: int | None = None,
) -> Any:
    """Every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (None on the others)."""
    _check_tensor(tensor, "tensor", "gather")
    pg = _group(group)
    if pg is None:
        return None
    root = _group_rank(pg, dst, group_dst, "gather", "dst")
    here = pg.rank() == root
    if here:
        if gather_list is None:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        _check_list(gather_list, "gather_list", "gather", pg.size(), tensor)
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    out = np.empty((pg.size(), *tensor._data.shape), tensor._data.dtype) if here else None
    send = _send_buffer(tensor)
    request = pg.comm.Igather(send, out, root=root)
    finish = _into_list(out, gather_list) if here else None
    return _finish(Work([request], "gather", pg, finish, keep=send), async_op)


def scatter(
    tensor: Tensor,
    scatter_list: list[Tensor] | None = None,
    src: int | None = None,
    group: ProcessGroup | None = None,
    async_op: bool = False,
    group_src: int | None = None,
) -> Any:
    """Rank ``src``'s ``scatter_list[i]`` into ``tensor`` on rank ``i``."""
    _check_tensor(tensor, "tensor", "scatter")
    pg = _group(group)
    if pg is None:
        return None
    root = _group_rank(pg, src, group_src, "scatter", "src")
    send = None
    if pg.rank() == root:
        if scatter_list is None:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _check_list(scatter_list, "scatter_list", "scatter", pg.size(), tensor)
        send = np.stack([t._data for t in scatter_list])
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    buf, back = _recv_buffer(tensor)
    request = pg.comm.Iscatter(send, buf, root=root)
    return _finish(Work([request], "scatter", pg, back, keep=send), async_op)


def _peer(pg: ProcessGroup, rank: int | None, group_rank: int | None, op: str, role: str) -> int:
    if rank is None and group_rank is None:
        raise ValueError(f"{op}: give the {role} rank")
    peer = _group_rank(pg, rank, group_rank, op, role)
    if peer == pg.rank():
        raise ValueError(
            f"Invalid {role} rank: {role} rank should not be the same as the rank of the "
            "current process."
        )
    return peer


def isend(
    tensor: Tensor,
    dst: int | None = None,
    group: ProcessGroup | None = None,
    tag: int = 0,
    group_dst: int | None = None,
) -> Work | None:
    _check_tensor(tensor, "tensor", "isend")
    pg = _group(group)
    if pg is None:
        return None
    peer = _peer(pg, dst, group_dst, "send", "destination")
    data = _send_buffer(tensor)
    return Work([pg.comm.Isend(data, dest=peer, tag=tag)], "send", pg, keep=data)


def irecv(
    tensor: Tensor,
    src: int | None = None,
    group: ProcessGroup | None = None,
    tag: int = 0,
    group_src: int | None = None,
) -> Work | None:
    _check_tensor(tensor, "tensor", "irecv")
    pg = _group(group)
    if pg is None:
        return None
    MPI = _State.mpi
    anyone = src is None and group_src is None
    peer = MPI.ANY_SOURCE if anyone else _peer(pg, src, group_src, "recv", "source")
    buf, back = _recv_buffer(tensor)
    statuses = [MPI.Status()]

    def finish() -> int:
        if back is not None:
            back()
        return pg.ranks[statuses[0].Get_source()]

    request = pg.comm.Irecv(buf, source=peer, tag=tag)
    return Work([request], "recv", pg, finish, keep=buf, statuses=statuses)


def send(
    tensor: Tensor,
    dst: int | None = None,
    group: ProcessGroup | None = None,
    tag: int = 0,
    group_dst: int | None = None,
) -> None:
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(
    tensor: Tensor,
    src: int | None = None,
    group: ProcessGroup | None = None,
    tag: int = 0,
    group_src: int | None = None,
) -> int:
    """Receives into ``tensor``; returns the sender's rank."""
    work = irecv(tensor, src, group, tag, group_src)
    return -1 if work is None else work.result()


# ----------------------------------------------------------------------- Python objects


def _gather_bytes(pg: ProcessGroup, data: bytes, op: str) -> list[bytes]:
    """Every rank's ``data``, in rank order (two collectives: the lengths, then the bytes)."""
    size = pg.size()
    lengths = np.zeros(size, np.int64)
    mine = np.array([len(data)], np.int64)
    Work([pg.comm.Iallgather(mine, lengths)], op, pg).wait()
    out = np.empty(int(lengths.sum()), np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    send = np.frombuffer(data, np.uint8)
    spec = [out, lengths.tolist(), starts.tolist(), _State.mpi.BYTE]
    Work([pg.comm.Iallgatherv(send, spec)], op, pg).wait()
    return [out[s : s + n].tobytes() for s, n in zip(starts.tolist(), lengths.tolist())]


def all_gather_object(object_list: list, obj: Any, group: ProcessGroup | None = None) -> None:
    """Every rank's picklable ``obj`` into ``object_list`` (one per rank)."""
    import pickle

    pg = _group(group)
    if pg is None:
        return
    if not isinstance(object_list, list) or len(object_list) != pg.size():
        raise ValueError(
            f"all_gather_object: object_list must be a list of world size ({pg.size()}) items"
        )
    for i, data in enumerate(_gather_bytes(pg, pickle.dumps(obj), "all_gather_object")):
        object_list[i] = pickle.loads(data)  # noqa: S301 - from this job's own ranks


def broadcast_object_list(
    object_list: list, src: int | None = None, group: ProcessGroup | None = None, device: Any = None
) -> None:
    """Rank ``src``'s ``object_list`` items into ``object_list`` on every rank."""
    import pickle

    pg = _group(group)
    if pg is None:
        return
    root = _group_rank(pg, src, None, "broadcast_object_list", "src")
    mine = pickle.dumps(object_list) if pg.rank() == root else b""
    objects = pickle.loads(_gather_bytes(pg, mine, "broadcast_object_list")[root])  # noqa: S301
    object_list[:] = objects[: len(object_list)]
