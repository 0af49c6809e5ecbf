"""d2l's text pipeline: The Time Machine, tokens, vocabularies, sequence minibatches and the
English-French pairs of the machine-translation chapter.

Everything follows "Dive into Deep Learning" (2nd edition, sections 8.2, 8.3 and 9.5) so its
programs print the same numbers with ``import ndgrad as torch``:

- :func:`read_time_machine` reads H. G. Wells' *The Time Machine*, the copy d2l downloads
  (``timemachine.txt``, sha1 ``090b5e7e...``), shipped with the package so it works offline;
  every run of non-letters becomes one space, lines are stripped and lowercased.
- :func:`tokenize`, :func:`count_corpus` and :class:`Vocab` (``'<unk>'`` is index 0, then the
  reserved tokens, then the tokens by falling frequency; ties keep first-seen order).
- :func:`seq_data_iter_random`, :func:`seq_data_iter_sequential` (random offsets drawn with
  Python's :mod:`random`, as d2l), :class:`SeqDataLoader` and :func:`load_data_time_machine`.
- :func:`read_data_nmt` (from a folder, or d2l's ``fra-eng.zip`` downloaded into the cache and
  checked against its sha1), :func:`preprocess_nmt`, :func:`tokenize_nmt`,
  :func:`truncate_pad`, :func:`build_array_nmt` and :func:`load_data_nmt`.

Index tensors are int64, as in d2l.
"""

from __future__ import annotations

import collections
import os
import random
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ndgrad
from ndgrad.datasets.fashion_mnist import Fetch, default_cache_dir, download, verify_checksum

DATA_DIR = Path(__file__).with_name("data")
TIME_MACHINE = DATA_DIR / "timemachine.txt"
# d2l's DATA_HUB entries: (file, sha1).
TIME_MACHINE_SHA1 = "sha1:090b5e7e70c295757f55df93cb0a180b9691891a"
FRA_ENG_URL = "http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"
FRA_ENG_SHA1 = "sha1:94646ad1522d915e7b0f9296181140edcf86a4f5"
FRA_ENG_MEMBER = "fra-eng/fra.txt"


# ----------------------------------------------------------------------------- tokens
def read_time_machine(path: str | os.PathLike | None = None) -> list[str]:
    """The lines of The Time Machine (d2l 8.2): each run of non-letters replaced by one space,
    stripped and lowercased. ``path`` defaults to the copy shipped with ndgrad."""
    with open(path or TIME_MACHINE, encoding="utf-8") as f:
        lines = f.readlines()
    return [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in lines]


def tokenize(lines: Sequence[str], token: str = "word") -> list[list[str]]:
    """Each line split into words (on whitespace) or characters."""
    if token == "word":
        return [line.split() for line in lines]
    if token == "char":
        return [list(line) for line in lines]
    raise ValueError(f"tokenize: unknown token type {token!r}; expected 'word' or 'char'")


def count_corpus(tokens: Sequence[Any]) -> collections.Counter:
    """Token frequencies of a flat list of tokens or a list of token lists."""
    if len(tokens) == 0 or isinstance(tokens[0], list):
        tokens = [token for line in tokens for token in line]
    return collections.Counter(tokens)


class Vocab:
    """Vocabulary for text (d2l 8.2): maps tokens to indices and back.

    Index 0 is ``'<unk>'`` (what an unknown token maps to), then ``reserved_tokens``, then the
    tokens seen at least ``min_freq`` times, most frequent first.
    """

    def __init__(
        self,
        tokens: Sequence[Any] | None = None,
        min_freq: int = 0,
        reserved_tokens: Sequence[str] | None = None,
    ) -> None:
        tokens = [] if tokens is None else tokens
        reserved = [] if reserved_tokens is None else list(reserved_tokens)
        counter = count_corpus(tokens)
        self._token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token: list[str] = ["<unk>", *reserved]
        self.token_to_idx: dict[str, int] = {t: i for i, t in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.idx_to_token.append(token)
                self.token_to_idx[token] = len(self.idx_to_token) - 1

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens: Any) -> Any:
        """The index of a token (``unk`` if unknown), or a list of indices for a list/tuple."""
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    def to_tokens(self, indices: Any) -> Any:
        """The token of an index, or a list of tokens for a list/tuple of indices."""
        if not isinstance(indices, (list, tuple)):
            return self.idx_to_token[int(indices)]
        return [self.idx_to_token[int(index)] for index in indices]

    @property
    def unk(self) -> int:
        """The index of the unknown token, 0."""
        return 0

    @property
    def token_freqs(self) -> list[tuple[Any, int]]:
        """``(token, count)`` pairs, most frequent first."""
        return self._token_freqs

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"


def load_corpus_time_machine(max_tokens: int = -1) -> tuple[list[int], Vocab]:
    """The Time Machine as character indices and its character vocabulary (d2l 8.2); the first
    ``max_tokens`` indices when positive."""
    tokens = tokenize(read_time_machine(), "char")
    vocab = Vocab(tokens)
    corpus = [vocab[token] for line in tokens for token in line]
    if max_tokens > 0:
        corpus = corpus[:max_tokens]
    return corpus, vocab


# ----------------------------------------------------------------------------- minibatches
def _check_batching(name: str, batch_size: int, num_steps: int) -> None:
    if batch_size < 1:
        raise ValueError(f"{name}: batch_size must be at least 1, got {batch_size}")
    if num_steps < 1:
        raise ValueError(f"{name}: num_steps must be at least 1, got {num_steps}")


def seq_data_iter_random(
    corpus: Sequence[int], batch_size: int, num_steps: int, rng: random.Random | None = None
) -> Iterator[tuple[ndgrad.Tensor, ndgrad.Tensor]]:
    """Minibatches of random, non-overlapping subsequences (d2l 8.3.2.1): ``(X, Y)`` of shape
    ``[batch_size, num_steps]``, ``Y`` being ``X`` shifted by one token. Draws from ``rng``,
    by default Python's global :mod:`random` (so ``random.seed`` reproduces d2l's batches)."""
    _check_batching("seq_data_iter_random", batch_size, num_steps)
    draw: Any = random if rng is None else rng  # the module's functions use its global state
    corpus = corpus[draw.randint(0, num_steps - 1) :]
    num_subseqs = (len(corpus) - 1) // num_steps
    initial_indices = list(range(0, num_subseqs * num_steps, num_steps))
    draw.shuffle(initial_indices)
    num_batches = num_subseqs // batch_size
    for i in range(0, batch_size * num_batches, batch_size):
        starts = initial_indices[i : i + batch_size]
        X = [list(corpus[j : j + num_steps]) for j in starts]
        Y = [list(corpus[j + 1 : j + 1 + num_steps]) for j in starts]
        yield ndgrad.tensor(X, dtype=ndgrad.int64), ndgrad.tensor(Y, dtype=ndgrad.int64)


def seq_data_iter_sequential(
    corpus: Sequence[int], batch_size: int, num_steps: int, rng: random.Random | None = None
) -> Iterator[tuple[ndgrad.Tensor, ndgrad.Tensor]]:
    """Minibatches whose rows continue across batches (d2l 8.3.2.2): after a random offset the
    corpus is cut into ``batch_size`` rows read ``num_steps`` columns at a time."""
    _check_batching("seq_data_iter_sequential", batch_size, num_steps)
    draw: Any = random if rng is None else rng
    offset = draw.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    if num_tokens <= 0:
        return
    Xs = ndgrad.tensor(list(corpus[offset : offset + num_tokens]), dtype=ndgrad.int64)
    Ys = ndgrad.tensor(list(corpus[offset + 1 : offset + 1 + num_tokens]), dtype=ndgrad.int64)
    Xs, Ys = Xs.reshape(batch_size, -1), Ys.reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield Xs[:, i : i + num_steps], Ys[:, i : i + num_steps]


class SeqDataLoader:
    """An iterable over minibatches of a character corpus (d2l 8.3.3); every pass draws new
    offsets. ``corpus``/``vocab`` default to The Time Machine's (first ``max_tokens``)."""

    def __init__(
        self,
        batch_size: int,
        num_steps: int,
        use_random_iter: bool = False,
        max_tokens: int = 10000,
        corpus: Sequence[int] | None = None,
        vocab: Vocab | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_batching("SeqDataLoader", batch_size, num_steps)
        self.data_iter_fn = seq_data_iter_random if use_random_iter else seq_data_iter_sequential
        if corpus is None:
            corpus, vocab = load_corpus_time_machine(max_tokens)
        elif vocab is None:
            raise ValueError("SeqDataLoader: a corpus needs its vocab")
        self.corpus, self.vocab = list(corpus), vocab
        self.batch_size, self.num_steps = batch_size, num_steps
        self.rng = rng

    def __iter__(self) -> Iterator[tuple[ndgrad.Tensor, ndgrad.Tensor]]:
        return self.data_iter_fn(self.corpus, self.batch_size, self.num_steps, self.rng)

    def __len__(self) -> int:
        """Minibatches per pass (the smallest over the possible offsets)."""
        n, b, s = len(self.corpus), self.batch_size, self.num_steps
        if self.data_iter_fn is seq_data_iter_random:
            return ((n - s) // s) // b
        return max(((n - s - 1) // b), 0) // s


def load_data_time_machine(
    batch_size: int, num_steps: int, use_random_iter: bool = False, max_tokens: int = 10000
) -> tuple[SeqDataLoader, Vocab]:
    """``(data_iter, vocab)`` over The Time Machine's characters (d2l 8.3.3)."""
    data_iter = SeqDataLoader(batch_size, num_steps, use_random_iter, max_tokens)
    return data_iter, data_iter.vocab


# ----------------------------------------------------------------------------- translation
def _fra_eng_zip(download_missing: bool, fetch: Fetch | None) -> Path:
    """d2l's ``fra-eng.zip`` in the cache folder, downloaded and checked if missing; a cached
    copy is re-checked."""
    path = default_cache_dir() / "fra-eng.zip"
    if path.is_file():
        verify_checksum(path, FRA_ENG_SHA1)
        return path
    if not download_missing:
        raise FileNotFoundError(f"{path} is not in the cache and download is off")
    try:
        return download(FRA_ENG_URL, path, FRA_ENG_SHA1, fetch)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ConnectionError(
            f"could not download {FRA_ENG_URL} ({exc}); download it by hand and pass the "
            "folder holding fra.txt as data_dir"
        ) from None


def read_data_nmt(
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    fetch: Fetch | None = None,
) -> str:
    """The raw text of the English-French pairs (d2l 9.5.1), one ``english<TAB>french`` pair
    per line. With ``data_dir`` it is read from ``fra.txt`` there (or ``fra-eng/fra.txt``);
    otherwise from d2l's ``fra-eng.zip`` in the cache, downloaded and sha1-checked if missing."""
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        for candidate in (folder / "fra.txt", folder / "fra-eng" / "fra.txt"):
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        raise FileNotFoundError(f"no fra.txt in {folder} (nor in {folder / 'fra-eng'})")
    path = _fra_eng_zip(download, fetch)
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(FRA_ENG_MEMBER).decode("utf-8")
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{path}: not d2l's fra-eng.zip ({exc})") from None


def preprocess_nmt(text: str) -> str:
    """Non-breaking spaces become spaces, letters are lowercased, and a space is put before
    each ``, . ! ?`` that follows a non-space (d2l 9.5.1)."""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    out = [
        " " + char if i > 0 and char in ",.!?" and text[i - 1] != " " else char
        for i, char in enumerate(text)
    ]
    return "".join(out)


def tokenize_nmt(
    text: str, num_examples: int | None = None
) -> tuple[list[list[str]], list[list[str]]]:
    """Source and target word lists of each ``source<TAB>target`` line (d2l 9.5.2); with
    ``num_examples``, the lines up to index ``num_examples`` (d2l's ``i > num_examples``)."""
    source, target = [], []
    for i, line in enumerate(text.split("\n")):
        if num_examples and i > num_examples:
            break
        parts = line.split("\t")
        if len(parts) == 2:
            source.append(parts[0].split(" "))
            target.append(parts[1].split(" "))
    return source, target


def truncate_pad(line: Sequence[Any], num_steps: int, padding_token: Any) -> list[Any]:
    """``line`` cut to ``num_steps`` tokens or padded to it with ``padding_token``."""
    if len(line) > num_steps:
        return list(line[:num_steps])
    return list(line) + [padding_token] * (num_steps - len(line))


def build_array_nmt(
    lines: Sequence[Sequence[str]], vocab: Vocab, num_steps: int
) -> tuple[ndgrad.Tensor, ndgrad.Tensor]:
    """Index rows (``<eos>`` appended, then truncated/padded with ``<pad>``) as an int64
    ``[n, num_steps]`` tensor, and the number of non-padding tokens of each row (int64)."""
    rows = [vocab[list(line)] + [vocab["<eos>"]] for line in lines]
    pad = vocab["<pad>"]
    array = ndgrad.tensor(
        [truncate_pad(r, num_steps, pad) for r in rows], dtype=ndgrad.int64
    ).reshape(len(rows), num_steps)
    valid_len = (array != pad).type(ndgrad.int32).sum(1)
    return array, valid_len


def load_data_nmt(
    batch_size: int,
    num_steps: int,
    num_examples: int = 600,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    fetch: Fetch | None = None,
) -> tuple[Any, Vocab, Vocab]:
    """``(data_iter, src_vocab, tgt_vocab)`` (d2l 9.5.4): a shuffling DataLoader of
    ``(X, X_valid_len, Y, Y_valid_len)`` minibatches; vocabularies keep tokens seen at least
    twice and reserve ``<pad>``, ``<bos>``, ``<eos>``."""
    from ndgrad.utils.data import DataLoader, TensorDataset

    text = preprocess_nmt(read_data_nmt(data_dir, download, fetch))
    source, target = tokenize_nmt(text, num_examples)
    reserved = ["<pad>", "<bos>", "<eos>"]
    src_vocab = Vocab(source, min_freq=2, reserved_tokens=reserved)
    tgt_vocab = Vocab(target, min_freq=2, reserved_tokens=reserved)
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    dataset = TensorDataset(src_array, src_valid_len, tgt_array, tgt_valid_len)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True), src_vocab, tgt_vocab


__all__ = [
    "FRA_ENG_SHA1", "FRA_ENG_URL", "TIME_MACHINE", "TIME_MACHINE_SHA1", "SeqDataLoader",
    "Vocab", "build_array_nmt", "count_corpus", "load_corpus_time_machine", "load_data_nmt",
    "load_data_time_machine", "preprocess_nmt", "read_data_nmt", "read_time_machine",
    "seq_data_iter_random", "seq_data_iter_sequential", "tokenize", "tokenize_nmt",
    "truncate_pad",
]  # fmt: skip
