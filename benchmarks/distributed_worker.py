"""One rank of benchmarks/distributed.py: a W3 (MLP) or W7 (LeNet) epoch with DDP.

Written against the torch API: ``ndgrad run --nproc-per-node N`` runs it on ndgrad (MPI),
``python -m torch.distributed.run --nproc-per-node N`` on PyTorch (gloo). With WORLD_SIZE
unset it trains the plain single-process epoch. Prints one JSON line (rank 0).
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from benchmarks.workloads import classification_data, lenet, w7_data  # noqa: E402

workload, repeats = sys.argv[1], int(sys.argv[2])
quick = "--quick" in sys.argv
if hasattr(torch, "set_num_threads"):  # ndgrad: OPENBLAS_NUM_THREADS=1 from the parent
    torch.set_num_threads(1)
nn = torch.nn
parallel = "WORLD_SIZE" in os.environ
if parallel:
    dist.init_process_group("gloo")
rank, world = (dist.get_rank(), dist.get_world_size()) if parallel else (0, 1)
if workload == "W3":
    d = classification_data(quick)
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(d["d_in"], d["hidden"]), nn.ReLU(),
        nn.Linear(d["hidden"], d["classes"]),
    )  # fmt: skip
    init = d["mlp_init"]
    init = [init[0:2], init[2:4]]
else:
    d = w7_data(quick)
    net = lenet(torch)
    init = d["lenet_init"]
layers = [m for m in net if isinstance(m, (nn.Linear, nn.Conv2d))]
with torch.no_grad():
    for layer, (w, b) in zip(layers, init):
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))
model = nn.parallel.DistributedDataParallel(net) if parallel else net
data = torch.utils.data.TensorDataset(torch.from_numpy(d["images"]), torch.from_numpy(d["labels"]))
sampler = torch.utils.data.distributed.DistributedSampler(data, shuffle=False) if parallel else None
loader = torch.utils.data.DataLoader(data, d["batch_size"] // world, sampler=sampler)

# The communication share (ndgrad): time in DDP's bucket launches and final waits.
comm = [0.0]
if parallel and hasattr(model, "_launch"):
    for name in ("_launch", "_finish"):
        method = getattr(model, name)

        def timed(*args, _method=method):
            t = time.perf_counter()
            try:
                return _method(*args)
            finally:
                comm[0] += time.perf_counter() - t

        object.__setattr__(model, name, timed)


def epoch():
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=d["lr"])
    for X, y in loader:
        loss = loss_fn(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


epoch()  # warm-up
times, shares = [], []
for _ in range(repeats):
    if parallel:
        dist.barrier()
    comm[0] = 0.0
    start = time.perf_counter()
    loss = epoch()
    if parallel:
        dist.barrier()
    elapsed = time.perf_counter() - start
    times.append(elapsed)
    shares.append(comm[0] / elapsed)
# One all-reduce of the whole gradient, between barriers: the transfer alone, without the
# wait for a slower rank that the share above includes.
reduce_ms = None
if parallel:
    flat = torch.zeros(sum(p.numel() for p in net.parameters()))
    spans = []
    for _ in range(30):
        dist.barrier()
        t = time.perf_counter()
        dist.all_reduce(flat)
        spans.append(time.perf_counter() - t)
    reduce_ms = 1000 * statistics.median(spans)
if rank == 0:
    print(json.dumps({
        "allreduce_ms": reduce_ms, "steps": len(loader),
        "workload": workload, "world": world, "ms": 1000 * statistics.median(times),
        "times_ms": [round(1000 * t, 1) for t in times],
        "comm_share": statistics.median(shares) if parallel and hasattr(model, "_launch") else None,
        "loss": loss,
    }), flush=True)  # fmt: skip
if parallel:
    dist.destroy_process_group()
