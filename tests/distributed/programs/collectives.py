"""Every collective on N ranks against the values it must give (run by test_collectives.py)."""

import sys

import numpy as np

import ndgrad as torch
import ndgrad.distributed as dist

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()
ranks = np.arange(size, dtype=np.float64)
checks = 0


def same(got, want, what):
    global checks
    checks += 1
    got = got.numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    if got.shape != np.shape(want) or not np.allclose(got, want):
        sys.exit(f"rank {rank}: {what}: got {got.tolist()}, expected {np.asarray(want).tolist()}")


base = torch.tensor([1.0, 2.0, 3.0]) * (rank + 1)
for op, want in [
    (dist.ReduceOp.SUM, np.outer(ranks + 1, [1, 2, 3]).sum(0)),
    (dist.ReduceOp.AVG, np.outer(ranks + 1, [1, 2, 3]).mean(0)),
    (dist.ReduceOp.PRODUCT, np.outer(ranks + 1, [1, 2, 3]).prod(0)),
    (dist.ReduceOp.MAX, np.array([1.0, 2, 3]) * size),
    (dist.ReduceOp.MIN, np.array([1.0, 2, 3])),
]:
    t = base.clone()
    version = t._version
    assert dist.all_reduce(t, op=op) is None
    same(t, want, f"all_reduce {op}")
    assert t._version > version
# async, an integer tensor, a non-contiguous view (written back into its base)
t = torch.arange(4) + rank
work = dist.all_reduce(t, async_op=True)
work.wait()
assert work.is_completed()
same(t, np.arange(4) * size + ranks.sum(), "all_reduce async int64")
m = torch.zeros(3, 2)
m[:, 0] = rank + 1.0
dist.all_reduce(m[:, 0])
same(m[:, 0], np.full(3, (ranks + 1).sum()), "all_reduce on a column view")
# broadcast from the last rank
t = torch.full((2, 2), float(rank))
dist.broadcast(t, src=size - 1)
same(t, np.full((2, 2), size - 1.0), "broadcast")
# all_gather, all_gather_into_tensor, reduce_scatter_tensor
outs = [torch.zeros(2) for _ in range(size)]
dist.all_gather(outs, torch.tensor([rank, 10.0 * rank]))
same(torch.stack(outs), np.stack([ranks, 10 * ranks], 1), "all_gather")
out = torch.zeros(2 * size)
dist.all_gather_into_tensor(out, torch.tensor([rank, -1.0 * rank]))
same(out, np.stack([ranks, -ranks], 1).reshape(-1), "all_gather_into_tensor")
out = torch.zeros(size, 2)
dist.all_gather_into_tensor(out, torch.tensor([rank, 1.0]))
same(out, np.stack([ranks, np.ones(size)], 1), "all_gather_into_tensor stacked")
inp = torch.arange(2 * size, dtype=torch.float64) * (rank + 1)
out = torch.zeros(2, dtype=torch.float64)
dist.reduce_scatter_tensor(out, inp)
same(out, np.arange(2 * size)[2 * rank : 2 * rank + 2] * (ranks + 1).sum(), "reduce_scatter_tensor")
dist.reduce_scatter_tensor(out, inp, op=dist.ReduceOp.AVG)
same(out, np.arange(2 * size)[2 * rank : 2 * rank + 2] * (ranks + 1).mean(), "reduce_scatter AVG")
# gather to rank 0, scatter from rank 0
gl = [torch.zeros(3) for _ in range(size)] if rank == 0 else None
dist.gather(torch.full((3,), rank + 0.5), gl, dst=0)
if rank == 0:
    same(torch.stack(gl), np.repeat(ranks[:, None] + 0.5, 3, 1), "gather")
t = torch.zeros(2)
sl = [torch.tensor([i, i * i + 0.0]) for i in range(size)] if rank == 0 else None
dist.scatter(t, sl, src=0)
same(t, [rank, rank * rank], "scatter")
# send/recv around a ring; recv returns the sender
right, left = (rank + 1) % size, (rank - 1) % size
t = torch.zeros(3)
if rank % 2 == 0:
    dist.send(torch.full((3,), float(rank)), dst=right)
    sender = dist.recv(t, src=left)
else:
    sender = dist.recv(t)
    dist.send(torch.full((3,), float(rank)), dst=right)
same(t, np.full(3, float(left)), "send/recv")
assert sender == left, (sender, left)
# isend/irecv, a barrier, a sub-group of rank 0 alone
w = dist.isend(torch.ones(2) * rank, dst=right)
t = torch.zeros(2)
dist.irecv(t, src=left).wait()
w.wait()
same(t, [left, left], "isend/irecv")
dist.barrier()
g = dist.new_group([0])
if rank == 0:
    t = torch.ones(1)
    dist.all_reduce(t, group=g)
    same(t, [1.0], "all_reduce on new_group([0])")
    assert dist.get_world_size(g) == 1
else:
    assert dist.get_rank(g) == -1
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank}/{size}: {checks} checks passed")
