"""``torch.distributed`` on MPI (mpi4py): process groups, collectives, ``DistributedDataParallel``.

Start the ranks with ``ndgrad run --nproc-per-node N script.py`` (torchrun's flags), which
runs them through the MPI library's ``mpiexec``; the script calls
``init_process_group()`` as it would under torchrun. Needs ``pip install 'ndgrad[distributed]'``.
"""

from __future__ import annotations

from ndgrad.distributed.distributed_c10d import (
    Backend,
    GroupMember,
    ProcessGroup,
    RedOpType,
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    default_pg_timeout,
    destroy_process_group,
    gather,
    get_backend,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    irecv,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    is_torchelastic_launched,
    isend,
    new_group,
    recv,
    reduce_scatter_tensor,
    scatter,
    send,
)
from ndgrad.distributed.errors import DistBackendError, DistError, DistNetworkError, DistStoreError
