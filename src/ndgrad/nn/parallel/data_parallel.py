"""``torch.nn.parallel.DataParallel``: several devices in one process, which ndgrad lacks."""

from __future__ import annotations

from ndgrad._missing import not_implemented_class

DataParallel = not_implemented_class(
    "torch.nn.parallel.DataParallel",
    "ndgrad computes on one CPU device; use DistributedDataParallel with ndgrad run --nproc-per-node",
)
