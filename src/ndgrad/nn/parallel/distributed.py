"""``torch.nn.parallel.DistributedDataParallel``: data parallelism over the ranks of a job.

Every rank holds a replica of the module and trains on its own share of each batch. At
construction rank 0's parameters and buffers are broadcast to the others (after checking
that every rank built the same parameters). During backward each parameter's
post-accumulate-grad hook marks it ready; parameters are grouped, in reverse order (roughly
the order backward produces their gradients), into buckets of ``bucket_cap_mb``; a full
bucket is copied into one flat buffer whose average over the ranks starts at once as a
nonblocking all-reduce. Where the engine delivers leaf gradients during backward (its general
path) later buckets' gradients are computed while earlier ones travel; its fast path for
graphs whose nodes have one consumer (an MLP, LeNet) delivers the leaves at the end, so there
the buckets overlap with each other only. When the last parameter is ready the reductions
are waited for and the averages written back into ``.grad``: after ``loss.backward()`` every
rank holds the same gradients, those of the whole (global) batch, and its optimizer steps
identically.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ndgrad import distributed as dist
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import is_grad_enabled
from ndgrad.autograd.graph import Node
from ndgrad.nn.modules.module import Module

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by "
    "making sure all `forward` function outputs participate in calculating loss. "
    "Parameters which did not receive grad for rank {rank}: {names}"
)


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer."""

    def __init__(self, indices: list[int], params: list[Tensor]) -> None:
        self.indices = indices
        sizes = [params[i].numel() for i in indices]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.buffer = np.zeros(self.offsets[-1], params[indices[0]]._data.dtype)
        self.pending = len(indices)
        self.work: Any = None


class DistributedDataParallel(Module):
    """Wraps ``module``; ``forward`` is the module's, ``backward`` averages gradients over ranks.

    Use it with a :class:`~ndgrad.utils.data.distributed.DistributedSampler`, so that each
    rank sees its own part of the data, after ``dist.init_process_group()``.
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        init_sync: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
        delay_all_reduce_named_params: Any = None,
        param_to_hook_all_reduce: Any = None,
        mixed_precision: Any = None,
        device_mesh: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: module must be an nn.Module, got {type(module).__name__}"
            )
        self.process_group = process_group
        pg = dist.distributed_c10d._group(process_group)
        self.module = module
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any "
                "parameter that requires a gradient."
            )
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self._pg = pg
        self._world = 1 if pg is None else pg.size()
        if pg is not None:
            self._verify_same_parameters(pg)
            if init_sync:
                self._sync_from_rank0([p for _, p in named] + list(module.buffers()))
        self._buckets = self._make_buckets()
        self._bucket_of = {}
        for b, bucket in enumerate(self._buckets):
            for i in bucket.indices:
                self._bucket_of[i] = b
        self._expecting = False  # a synchronised forward ran; its backward is to come
        self._ready = [False] * len(self._params)
        self._ready_count = 0
        self._used: np.ndarray | None = None
        self._local_used: np.ndarray | None = None  # this rank's forward reached the parameter
        self._used_work: Any = None
        self._grad_hooks = [
            p.register_post_accumulate_grad_hook(self._make_hook(i))
            for i, p in enumerate(self._params)
        ]

    # ------------------------------------------------------------------ construction
    def _verify_same_parameters(self, pg: Any) -> None:
        """Every rank built the same parameters (names, shapes, dtypes), else an error naming one."""
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in zip(self._names, self._params)]
        every: list = [None] * pg.size()
        dist.all_gather_object(every, mine, group=self.process_group)
        rank = pg.rank()
        for other, theirs in enumerate(every):
            if theirs == mine:
                continue
            for (name, shape, dtype), (name2, shape2, dtype2) in zip(mine, theirs):
                if (name, shape, dtype) != (name2, shape2, dtype2):
                    raise RuntimeError(
                        f"DistributedDataParallel: parameter '{name}' has shape {list(shape)} "
                        f"({dtype}) on rank {rank} but rank {other} has '{name2}' with shape "
                        f"{list(shape2)} ({dtype2}): every rank must build the same model"
                    )
            raise RuntimeError(
                f"DDP expects same model across all ranks, but Rank {rank} has {len(mine)} "
                f"params, while rank {other} has inconsistent {len(theirs)} params."
            )

    def _sync_from_rank0(self, tensors: list[Tensor]) -> None:
        """Rank 0's values into every rank's parameters and buffers (all in flight at once)."""
        works = [
            dist.broadcast(
                t.detach(), src=self._pg.ranks[0], group=self.process_group, async_op=True
            )
            for t in tensors
        ]
        for work in works:
            if work is not None:
                work.wait()

    def _make_buckets(self) -> list[_Bucket]:
        """Reverse parameter order, a new bucket at the size cap or a change of dtype."""
        buckets: list[_Bucket] = []
        current: list[int] = []
        size = 0
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            nbytes = p._data.nbytes
            if current and (
                size + nbytes > self.bucket_bytes_cap
                or p._data.dtype != self._params[current[0]]._data.dtype
            ):
                buckets.append(_Bucket(current, self._params))
                current, size = [], 0
            current.append(i)
            size += nbytes
        if current:
            buckets.append(_Bucket(current, self._params))
        return buckets

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._expecting and self._ready_count:
            unready = [n for n, r in zip(self._names, self._ready) if not r]
            raise RuntimeError(_UNFINISHED.format(rank=dist.get_rank(), names=", ".join(unready)))
        if self._pg is not None and self.broadcast_buffers and self.require_forward_param_sync:
            buffers = list(self.module.buffers())
            if buffers:
                self._sync_from_rank0(buffers)
        output = self.module(*inputs, **kwargs)
        self._expecting = (
            self._pg is not None and self.require_backward_grad_sync and is_grad_enabled()
        )
        if self._expecting:
            self._prepare_for_backward(output)
        return output

    def _prepare_for_backward(self, output: Any) -> None:
        self._ready = [False] * len(self._params)
        self._ready_count = 0
        for bucket in self._buckets:
            bucket.pending = len(bucket.indices)
            bucket.work = None
        if not self.find_unused_parameters:
            return
        # The parameters this output's graph reaches; the others are ready (zero) at once,
        # and which parameters some rank used is itself all-reduced.
        reached = _reachable_leaves(output)
        used = np.array([id(p) in reached for p in self._params], np.int32)
        self._local_used = used
        self._used = used.copy()  # summed over the ranks in flight
        self._used_work = dist.all_reduce(
            Tensor._make(self._used), group=self.process_group, async_op=True
        )
        for i in np.flatnonzero(used == 0).tolist():
            self._mark_ready(i)

    # ------------------------------------------------------------------ backward
    def _make_hook(self, index: int) -> Any:
        def hook(param: Tensor) -> None:
            if self._expecting and not self._ready[index]:
                self._mark_ready(index)

        return hook

    def _mark_ready(self, index: int) -> None:
        self._ready[index] = True
        self._ready_count += 1
        bucket = self._buckets[self._bucket_of[index]]
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch(bucket)
        if self._ready_count == len(self._params):
            self._finish()

    def _launch(self, bucket: _Bucket) -> None:
        buf = bucket.buffer
        for k, i in enumerate(bucket.indices):
            grad = self._params[i]._grad
            piece = buf[bucket.offsets[k] : bucket.offsets[k + 1]]
            if grad is None or (self._local_used is not None and not self._local_used[i]):
                piece[...] = 0
            else:
                piece[...] = grad._data.reshape(-1)
        bucket.work = dist.all_reduce(
            Tensor._make(buf), op=dist.ReduceOp.AVG, group=self.process_group, async_op=True
        )

    def _finish(self) -> None:
        """All buckets launched: wait for them and write the averages into ``.grad``."""
        self._expecting = False
        used = None
        if self._used_work is not None:
            self._used_work.wait()
            used, self._used_work = self._used, None
        for bucket in self._buckets:
            bucket.work.wait()
            bucket.work = None
            for k, i in enumerate(bucket.indices):
                if used is not None and used[i] == 0:
                    continue  # unused on every rank: .grad stays as it was
                p = self._params[i]
                avg = bucket.buffer[bucket.offsets[k] : bucket.offsets[k + 1]].reshape(
                    p._data.shape
                )
                if p._grad is None:
                    p._grad = Tensor._make(avg.copy())
                else:
                    p._grad._data[...] = avg

    # ------------------------------------------------------------------ API
    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally, without communication; the
        first synchronised backward after it averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def extra_repr(self) -> str:
        return f"world_size={self._world}, buckets={len(self._buckets)}"


def _reachable_leaves(output: Any) -> set[int]:
    """The ids of the leaf tensors the autograd graph of ``output`` reaches."""
    stack: list = []

    def collect(obj: Any) -> None:
        if isinstance(obj, Tensor):
            if obj.grad_fn is not None:
                stack.append(obj.grad_fn)
            elif obj._requires_grad:
                leaves.add(id(obj))
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                collect(item)
        elif isinstance(obj, dict):
            for item in obj.values():
                collect(item)

    leaves: set[int] = set()
    collect(output)
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.edges:
            if edge is None:
                continue
            child = edge[0]
            if isinstance(child, Node):
                stack.append(child)
            else:
                leaves.add(id(child))
    return leaves
