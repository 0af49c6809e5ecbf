"""``nn.utils.rnn``: padding and packing batches of sequences of different lengths.

A ``PackedSequence`` holds the steps of a batch sorted by decreasing length, time-major:
``data`` ``(sum(lengths), *)`` is step 0 of every sequence, then step 1 of those that have
one, ...; ``batch_sizes[t]`` counts the sequences still running at step ``t``. Packing and
unpacking are one differentiable gather / index-put each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ndgrad import _creation
from ndgrad._backend import to_device
from ndgrad._tensor import Tensor
from ndgrad.ops import indexing as _idx
from ndgrad.ops import shape as _shape

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "unpack_sequence",
]


class PackedSequence(NamedTuple):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)`` as PyTorch's."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data`` and the indices moved/cast; ``batch_sizes`` stays on the CPU (as torch's)."""
        data = self.data.to(*args, **kwargs)
        if data.device == self.data.device:
            return self._replace(data=data)
        dev = data.device
        move = lambda t: None if t is None else t.to(dev)  # noqa: E731
        return self._replace(
            data=data,
            sorted_indices=move(self.sorted_indices),
            unsorted_indices=move(self.unsorted_indices),
        )

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, *args: Any, **kwargs: Any) -> PackedSequence:
        return self.to(self.data.cuda(*args, **kwargs).device)

    def double(self) -> PackedSequence:
        return self._replace(data=self.data.double())

    def float(self) -> PackedSequence:
        return self._replace(data=self.data.float())

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    perm = to_device(permutation._data, "cpu")  # a small host computation, then back
    out = np.empty_like(perm)
    out[perm] = np.arange(perm.size, dtype=perm.dtype)
    return Tensor._make(to_device(out, permutation.device))


def _lengths_array(lengths: Any) -> np.ndarray:
    if isinstance(lengths, Tensor):
        return to_device(lengths._data, "cpu").astype(np.int64).reshape(-1)
    return np.asarray(list(lengths), dtype=np.int64).reshape(-1)


def _packed_positions(batch_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (step, batch) position of each row of a packed ``data``, in its order."""
    steps = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    cols = np.concatenate([np.arange(b) for b in batch_sizes]) if batch_sizes.size else steps
    return steps.astype(np.int64), cols.astype(np.int64)


def pack_padded_sequence(
    input: Tensor,  # noqa: A002
    lengths: Tensor | list[int],
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Packs a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``)."""
    lens = _lengths_array(lengths)
    if enforce_sorted:
        if lens.size > 1 and np.any(lens[:-1] < lens[1:]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability."
            )
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable").astype(np.int64)
        sorted_indices = Tensor._make(to_device(order, input.device))
        lens = lens[order]
        input = _idx.index_select(input, 0 if batch_first else 1, sorted_indices)  # noqa: A001
    if lens.size and lens.min() <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' "
            "that is <= 0"
        )
    steps = input.shape[1 if batch_first else 0]
    if lens.size and lens.max() > steps:
        raise RuntimeError(
            f"Expected sequence length to be at most {steps}, but got a length of "
            f"{int(lens.max())} (pack_padded_sequence)"
        )
    max_len = int(lens.max()) if lens.size else 0
    batch_sizes = (lens[None, :] > np.arange(max_len)[:, None]).sum(1).astype(np.int64)
    t_idx, b_idx = _packed_positions(batch_sizes)
    key = (
        (Tensor._make(b_idx), Tensor._make(t_idx))
        if batch_first
        else (
            Tensor._make(t_idx),
            Tensor._make(b_idx),
        )
    )
    data = input[key]
    return PackedSequence(
        data, Tensor._make(batch_sizes), sorted_indices, invert_permutation(sorted_indices)
    )


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The padded batch and the lengths (int64, in the original order) of a packed one."""
    data, batch_sizes, _, unsorted = sequence
    bs = to_device(batch_sizes._data, "cpu").astype(np.int64)
    max_len = bs.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{max_len}"
            )
        max_len = total_length
    batch = int(bs[0]) if bs.size else 0
    t_idx, b_idx = _packed_positions(bs)
    rest = tuple(data.shape[1:])
    shape = (batch, max_len, *rest) if batch_first else (max_len, batch, *rest)
    base = _creation.full(shape, padding_value, dtype=data.dtype, device=data.device)
    key = (
        (Tensor._make(b_idx), Tensor._make(t_idx))
        if batch_first
        else (
            Tensor._make(t_idx),
            Tensor._make(b_idx),
        )
    )
    padded = _idx.index_put(base, key, data)
    lengths = (bs[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    if unsorted is not None:
        padded = _idx.index_select(padded, 0 if batch_first else 1, unsorted)
        lengths = lengths[to_device(unsorted._data, "cpu")]
    return padded, Tensor._make(lengths)


def pad_sequence(
    sequences: Tensor | Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stacks sequences ``(L_i, *)`` into ``(max L, B, *)`` (``(B, max L, *)``), padded."""
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = max_len - s.shape[0]
        if missing:
            pad = _creation.full(
                (missing, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device
            )
            s = _shape.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        padded.append(s)
    return _shape.stack(padded, 0 if batch_first else 1)


def unpad_sequence(
    padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False
) -> list[Tensor]:
    """The sequences of a padded batch, each cut to its length."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[: int(n)] for seq, n in zip(padded_sequences, _lengths_array(lengths))]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of sequences ``(L_i, *)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
