"""``torch.nn.parallel``: ``DistributedDataParallel`` (on ndgrad.distributed's MPI) and the
single-process multi-device helpers that ndgrad, one CPU device, lacks."""

from __future__ import annotations

from ndgrad.nn.parallel.data_parallel import DataParallel
from ndgrad.nn.parallel.distributed import DistributedDataParallel
from ndgrad.nn.parallel.scatter_gather import gather, scatter
