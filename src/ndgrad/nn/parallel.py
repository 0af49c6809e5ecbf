"""``torch.nn.parallel``: multi-device data parallelism, which ndgrad (one CPU device) lacks."""

from __future__ import annotations

from ndgrad._missing import not_implemented_class, not_implemented_function

_WHY = "ndgrad computes on one CPU device"

DataParallel = not_implemented_class("torch.nn.parallel.DataParallel", _WHY)
DistributedDataParallel = not_implemented_class("torch.nn.parallel.DistributedDataParallel", _WHY)
scatter = not_implemented_function("torch.nn.parallel.scatter", _WHY)
gather = not_implemented_function("torch.nn.parallel.gather", _WHY)
