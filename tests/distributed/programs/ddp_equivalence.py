"""DDP on N ranks with batch B per rank == one process with batch N*B on the same samples.

Run by test_ddp.py through ``ndgrad run --nproc-per-node 2``; written against the torch API
(``import torch`` is ndgrad there). Rank 0 also trains the single-process reference and
compares; every rank compares its parameters with rank 0's. Exits non-zero on a mismatch.
"""

import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

torch.set_default_dtype(torch.float64)  # so that only the order of sums differs
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
B, EPOCHS = 4, 2


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)), (6,), 3),
    "cnn": (
        lambda: nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(3 * 3 * 3, 2),
        ),
        (1, 6, 6),
        2,
    ),
    "lstm": (Lstm, (4, 3), 2),
}


def fail(message):
    print(f"rank {rank}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def train(model, loader, sampler, epochs, accumulate=1):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        batches = list(loader)
        for step in range(0, len(batches), accumulate):
            opt.zero_grad()
            group = batches[step : step + accumulate]
            for k, (x, y) in enumerate(group):
                last = k == len(group) - 1
                ctx = model.no_sync() if (isinstance(model, DDP) and not last) else _nothing()
                with ctx:
                    loss = nn.functional.cross_entropy(model(x), y) / len(group)
                    loss.backward()
            opt.step()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def check(name, accumulate=1, bucket_cap_mb=None):
    build, shape, classes = MODELS[name]
    gen = torch.Generator().manual_seed(7)
    n = 2 * world * B * accumulate + 3  # a ragged tail: padded like torch's sampler
    x = torch.randn(n, *shape, generator=gen)
    y = torch.randint(0, classes, (n,), generator=gen)
    data = TensorDataset(x, y)
    torch.manual_seed(0)
    reference = build()
    torch.manual_seed(0 if rank == 0 else 100 + rank)  # DDP broadcasts rank 0's
    local = build()
    model = DDP(local, bucket_cap_mb=bucket_cap_mb)
    sampler = DistributedSampler(data, world, rank, shuffle=True, seed=3)
    train(model, DataLoader(data, batch_size=B, sampler=sampler), sampler, EPOCHS, accumulate)
    flat = torch.cat([p.detach().reshape(-1) for p in model.module.parameters()])
    every = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(every, flat)
    if any(not torch.equal(every[0], e) for e in every):
        fail(f"{name}: the ranks' parameters differ")
    if rank == 0:
        # the whole batch on one process: the samples of all ranks, padded the same way
        whole = DistributedSampler(data, 1, 0, shuffle=True, seed=3)
        whole.total_size = sampler.total_size
        whole.num_samples = sampler.total_size
        loader = DataLoader(data, batch_size=B * world, sampler=whole)
        train(reference, loader, whole, EPOCHS, accumulate)
        for (pname, p), q in zip(reference.named_parameters(), model.module.parameters()):
            err = (p - q).abs().max().item()
            if err > 1e-10:
                fail(f"{name}: parameter {pname} differs from one process by {err:.3g}")
    print(f"rank {rank}: {name} accumulate={accumulate} matches", flush=True)


for name in sys.argv[1:] or MODELS:
    check(name)
check("mlp", accumulate=2, bucket_cap_mb=0.0001)  # no_sync, and one bucket per parameter

# state_dict keys, find_unused_parameters, an unused parameter without it
model = DDP(nn.Linear(2, 2))
assert list(model.state_dict()) == ["module.weight", "module.bias"], list(model.state_dict())


class Branchy(nn.Module):
    def __init__(self, b_on=(1,)):
        super().__init__()
        self.a, self.b = nn.Linear(2, 1), nn.Linear(2, 1)
        self.b_on = b_on

    def forward(self, x):
        return self.a(x) + self.b(x) if rank in self.b_on else self.a(x)


torch.manual_seed(0)
model = DDP(Branchy(), find_unused_parameters=True)
model(torch.ones(1, 2)).sum().backward()
# b is used on rank 1 only: every rank gets the average (rank 1's gradient / world)
if not torch.allclose(model.module.b.weight.grad, torch.full((1, 2), 1.0 / world)):
    fail(f"find_unused_parameters: b's gradient {model.module.b.weight.grad}")
model = DDP(Branchy(b_on=()))  # b unused everywhere: no rank can finish its reduction
model(torch.ones(1, 2)).sum().backward()
try:
    model(torch.ones(1, 2))
    fail("an unused parameter without find_unused_parameters raised nothing")
except RuntimeError as exc:
    if "find_unused_parameters=True" not in str(exc) or "b.weight" not in str(exc):
        fail(f"unexpected error: {exc}")
print(f"rank {rank}: all DDP checks passed", flush=True)
