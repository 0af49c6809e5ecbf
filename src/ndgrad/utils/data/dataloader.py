"""``DataLoader``: batches of samples from a dataset, with PyTorch's options and collation.

Loading runs in the calling process whatever ``num_workers`` says (the batches are the same;
NumPy work is not sped up by worker processes here). With ``num_workers > 0`` the workers
are played in turn, as PyTorch's would deliver their batches: batch ``i`` of a map-style
dataset is fetched as worker ``i % num_workers``; an iterable dataset gets one copy per
worker (given to ``worker_init_fn`` through ``get_worker_info()``), whose batches come
round-robin until each copy is exhausted. A ``TensorDataset`` (or a ``Subset`` of
one) with the default collation is batched by indexing each tensor once per batch with the
batch's indices, which gives exactly what stacking the samples would, without the per-sample
tensors.
"""

from __future__ import annotations

import collections.abc
import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ndgrad import _creation, _dtype
from ndgrad._tensor import Tensor
from ndgrad.ops import stack
from ndgrad.utils.data.dataset import Dataset, IterableDataset, Subset, TensorDataset
from ndgrad.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _numpy_is_collatable(arr: np.ndarray) -> bool:
    return arr.dtype.kind not in "SaUO"


def _same_mapping_type(template: Any, values: dict) -> Any:
    """``values`` in a mapping of ``template``'s type (a copy of it when mutable), or a plain
    dict when that type cannot be built that way."""
    try:
        if isinstance(template, collections.abc.MutableMapping):
            clone = copy.copy(template)
            clone.update(values)
            return clone
        return type(template)(values)  # type: ignore[call-arg]
    except TypeError:
        return values


def _same_sequence_type(template: Any, values: list) -> Any:
    """``values`` in a sequence of ``template``'s type (a copy of it when mutable), or a plain
    list when that type cannot be built that way."""
    try:
        if isinstance(template, collections.abc.MutableSequence):
            clone = copy.copy(template)
            for i, value in enumerate(values):
                clone[i] = value
            return clone
        return type(template)(values)  # type: ignore[call-arg]
    except TypeError:
        return values


def default_convert(data: Any) -> Any:
    """What a loader without batching returns: NumPy arrays become tensors, recursively."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return _creation.as_tensor(data) if _numpy_is_collatable(data) else data
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _creation.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _same_mapping_type(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence_type(data, [default_convert(d) for d in data])
    return data


def default_collate(batch: Sequence[Any]) -> Any:
    """Merges a list of samples into a batch, the way ``torch.utils.data.default_collate`` does.

    Tensors are stacked along a new first dim; NumPy arrays and NumPy scalars become stacked
    tensors; Python floats a float64 tensor, ints an int64 tensor, bools a bool tensor;
    strings stay a list; dicts, named tuples and sequences are collated field by field (a
    tuple of fields gives a list, as in PyTorch).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if not _numpy_is_collatable(elem):
            raise TypeError(default_collate_err_msg_format.format(elem.dtype))
        return default_collate([_creation.as_tensor(b) for b in batch])
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return _creation.as_tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return _creation.tensor(list(batch), dtype=_dtype.bool_)
    if isinstance(elem, float):
        return _creation.tensor(list(batch), dtype=_dtype.float64)
    if isinstance(elem, int):
        return _creation.tensor(list(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _same_mapping_type(
            elem, {key: default_collate([d[key] for d in batch]) for key in elem}
        )
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch, strict=False)))
    if isinstance(elem, collections.abc.Sequence):
        elem_size = len(elem)
        if not all(len(e) == elem_size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch, strict=False))
        if isinstance(elem, tuple):
            return [default_collate(samples) for samples in transposed]
        return _same_sequence_type(elem, [default_collate(samples) for samples in transposed])
    raise TypeError(default_collate_err_msg_format.format(type(elem)))


def _tensor_rows(dataset: Any, indices: Sequence[int]) -> tuple[TensorDataset, np.ndarray] | None:
    """The TensorDataset under ``dataset`` (through Subsets) and the rows to take, if any."""
    rows = np.asarray(indices, dtype=np.int64)
    while type(dataset) is Subset:
        rows = np.asarray(dataset.indices, dtype=np.int64)[rows]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:
        return None
    return dataset, rows


def _take_rows(t: Tensor, rows: np.ndarray) -> Tensor:
    if t.requires_grad or t.grad_fn is not None:
        return t[Tensor._make(rows)]  # recorded, so gradients reach the dataset's tensor
    n = t.size(0)
    if rows.size and (rows.max() >= n or rows.min() < -n):
        raise IndexError(f"index {int(rows.max())} is out of bounds for dimension 0 with size {n}")
    return Tensor._make(np.take(t._data, rows, axis=0))


class WorkerInfo:
    """What ``get_worker_info()`` tells the code running in a DataLoader worker: its ``id``,
    ``num_workers``, ``seed`` and its copy of the ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any
    __initialized = False

    def __init__(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key: str, val: Any) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{self.__class__.__name__}({items})"


_CURRENT_WORKER: list[WorkerInfo | None] = [None]


def get_worker_info() -> WorkerInfo | None:
    """The current worker's ``WorkerInfo``; None in the main process."""
    return _CURRENT_WORKER[0]


class _AsWorker:
    """Runs a block as a worker (``get_worker_info()`` answers for it)."""

    def __init__(self, info: WorkerInfo | None) -> None:
        self._info = info

    def __enter__(self) -> None:
        self._prev = _CURRENT_WORKER[0]
        _CURRENT_WORKER[0] = self._info

    def __exit__(self, *exc: object) -> None:
        _CURRENT_WORKER[0] = self._prev


def _start_workers(loader: DataLoader, base: int | None) -> list[WorkerInfo]:
    """One WorkerInfo per worker (seed ``base + id``), each with its copy of an iterable
    dataset (the dataset itself for a map-style one), after ``worker_init_fn``; kept with
    persistent workers."""
    kept = loader.__dict__.get("_persistent")
    if kept is not None:
        return kept
    if base is None:  # no per-pass draw: the generator's seed
        gen = loader.generator if loader.generator is not None else _creation.default_generator
        base = gen.initial_seed()
    infos = []
    for i in range(loader.num_workers):
        dataset = loader.dataset
        if isinstance(dataset, IterableDataset):
            try:
                dataset = copy.deepcopy(dataset)
            except Exception:  # e.g. it holds a generator: a shallow copy
                dataset = copy.copy(dataset)
        info = WorkerInfo(id=i, num_workers=loader.num_workers, seed=base + i, dataset=dataset)
        if loader.worker_init_fn is not None:
            with _AsWorker(info):
                loader.worker_init_fn(i)
        infos.append(info)
    if loader.persistent_workers:
        object.__setattr__(loader, "_persistent", infos)
    return infos


class _InfiniteConstantSampler(Sampler[None]):
    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


class _SingleProcessIter:
    """One pass over a DataLoader."""

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._dataset = loader.dataset
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(loader._index_sampler)
        # PyTorch draws the workers' base seed for every pass, workers or not: the same draw
        # keeps the global generator where PyTorch's is after each epoch.
        self._base_seed = int(
            (loader.generator or _creation.default_generator)._rng.random_full((), np.int64)
        )
        self._iterable = isinstance(loader.dataset, IterableDataset)
        # the workers' base seed: the pass's own draw where the loader makes one
        base = getattr(self, "_base_seed", None)
        self._workers = _start_workers(loader, base) if loader.num_workers > 0 else None
        self._turn = 0  # the worker whose batch comes next
        if self._workers is None:
            self._dataset_iter = iter(loader.dataset) if self._iterable else None
        else:
            self._streams = []
            for info in self._workers:
                with _AsWorker(info):
                    self._streams.append(iter(info.dataset) if self._iterable else None)
            self._alive = [True] * len(self._workers)
            self._dataset_iter = None
        self._ended = False
        self._fast = (
            not self._iterable
            and self._auto_collation
            and self._collate_fn is default_collate
            and _tensor_rows(loader.dataset, []) is not None
        )

    def __iter__(self) -> _SingleProcessIter:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self) -> Any:
        if self._workers is not None:
            return self._next_from_workers()
        return self._fetch(next(self._sampler_iter))  # StopIteration ends the epoch

    def _next_from_workers(self) -> Any:
        """The next batch as PyTorch's workers deliver them: in turn, skipping the workers
        whose dataset copy is exhausted."""
        n = len(self._workers)  # type: ignore[arg-type]
        while True:
            if self._iterable and not any(self._alive):
                raise StopIteration
            w = self._turn
            self._turn = (w + 1) % n
            if self._iterable and not self._alive[w]:
                continue
            index = next(self._sampler_iter)
            with _AsWorker(self._workers[w]):  # type: ignore[index]
                if not self._iterable:
                    return self._fetch(index)
                self._dataset_iter, self._ended = self._streams[w], False
                try:
                    return self._next_from_stream(index)
                except StopIteration:
                    self._alive[w] = False

    def _fetch(self, index: Any) -> Any:
        if self._iterable:
            return self._next_from_stream(index)
        if self._fast:
            dataset, rows = _tensor_rows(self._dataset, index)  # type: ignore[misc]
            return [_take_rows(t, rows) for t in dataset.tensors]
        if self._auto_collation:
            getitems = getattr(self._dataset, "__getitems__", None)
            data = getitems(index) if callable(getitems) else [self._dataset[i] for i in index]
        else:
            data = self._dataset[index]
        return self._collate_fn(data)

    def _next_from_stream(self, index: Any) -> Any:
        if self._ended:
            raise StopIteration
        if not self._auto_collation:
            return self._collate_fn(next(self._dataset_iter))  # type: ignore[arg-type]
        data = []
        for _ in index:
            try:
                data.append(next(self._dataset_iter))  # type: ignore[arg-type]
            except StopIteration:
                self._ended = True
                break
        if not data or (self._drop_last and len(data) < len(index)):
            raise StopIteration
        return self._collate_fn(data)


class DataLoader:
    """Iterates over ``dataset`` in batches (``torch.utils.data.DataLoader``'s signature).

    ``shuffle=True`` draws a new order each epoch from ``generator`` (or from the global
    generator, so ``ndgrad.manual_seed`` makes the order reproducible).
    """

    _initialized = False

    def __init__(
        self,
        dataset: Dataset[Any],
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler[Any] | Any = None,
        batch_sampler: Sampler[Any] | Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None."
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            if shuffle not in (False, None):
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, but "
                    f"got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, but "
                    f"got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                    f"but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )

        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)  # type: ignore[arg-type]
            else:
                sampler = SequentialSampler(dataset)  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._initialized = True

    def __setattr__(self, attr: str, val: Any) -> None:
        if self._initialized and attr in (
            "batch_size",
            "batch_sampler",
            "sampler",
            "drop_last",
            "dataset",
            "persistent_workers",
        ):
            raise ValueError(
                f"{attr} attribute should not be set after {self.__class__.__name__} is initialized"
            )
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> _SingleProcessIter:
        return _SingleProcessIter(self)

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return -(-length // self.batch_size)
            return length
        return len(self._index_sampler)


__all__ = ["DataLoader", "default_collate", "default_convert"]
