"""``torch.nn.parallel.scatter``/``gather``: DataParallel's device helpers, which ndgrad lacks."""

from __future__ import annotations

from ndgrad._missing import not_implemented_function

_WHY = "ndgrad computes on one CPU device"
scatter = not_implemented_function("torch.nn.parallel.scatter", _WHY)
gather = not_implemented_function("torch.nn.parallel.gather", _WHY)
