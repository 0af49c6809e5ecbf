"""``torch.utils.data.distributed.DistributedSampler``: each rank's share of the dataset."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

from ndgrad._mt19937 import CPUEngine
from ndgrad.utils.data.sampler import Sampler


def torch_randperm(n: int, seed: int) -> list[int]:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))``, the same list:
    the ranks of an ndgrad job and of a PyTorch job see the same samples in the same order."""
    return CPUEngine(seed).randperm(n).tolist()


class DistributedSampler(Sampler[int]):
    """Rank ``rank``'s indices: every ``num_replicas``-th of a (shuffled) padded order.

    Every rank must use the same ``seed``; call ``set_epoch(epoch)`` before each epoch so
    that the shuffle changes (the order is ``randperm`` seeded with ``seed + epoch``).
    Without ``drop_last`` the order is padded with its own first indices to a multiple of
    ``num_replicas``; with it, the tail that does not divide evenly is dropped.
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from ndgrad import distributed as dist

            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        order = torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            pad = self.total_size - n
            order += (order * math.ceil(pad / n))[:pad]
        return iter(order[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch, which seeds the shuffle (``seed + epoch``)."""
        self.epoch = epoch
