"""PyTorch's errors: a collective before init, init twice, DDP over different models."""

import os
import sys

import torch
import torch.distributed as dist
from torch import nn


def expect(error, text, call):
    try:
        call()
    except error as exc:
        if text not in str(exc):
            sys.exit(f"{error.__name__} without {text!r}: {exc}")
        return exc
    sys.exit(f"expected {error.__name__}: {text}")


expect(
    ValueError,
    "Default process group has not been initialized",
    lambda: dist.all_reduce(torch.ones(1)),
)
expect(ValueError, "Default process group has not been initialized", dist.get_rank)
assert not dist.is_initialized() and dist.is_available()
dist.init_process_group()
rank = dist.get_rank()
expect(ValueError, "trying to initialize the default process group twice!", dist.init_process_group)
expect(
    TypeError, "Expected parameter `tensor` of type torch.Tensor", lambda: dist.all_reduce([1.0])
)
expect(ValueError, "rank should not be the same", lambda: dist.send(torch.ones(1), dst=rank))
# rank 1 builds a wider hidden layer: DDP names the first parameter that differs
hidden = 4 if rank == 0 else 5
exc = expect(
    RuntimeError,
    "parameter '0.weight' has shape",
    lambda: nn.parallel.DistributedDataParallel(
        nn.Sequential(nn.Linear(3, hidden), nn.Linear(hidden, 1))
    ),
)
other = 1 - rank
assert f"on rank {rank} but rank {other}" in str(exc), str(exc)
print(f"rank {rank}: {os.environ['LOCAL_RANK']} errors as PyTorch's", flush=True)
