"""d2l's text pipeline: the numbers the book prints, the partition iterators against d2l's own
code (transcribed below, on lists), and the English-French reader on files the tests make."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile

import numpy as np
import pytest

import ndgrad
from ndgrad.datasets import fashion_mnist as fm
from ndgrad.datasets import text


# ----------------------------------------------------------------------------- The Time Machine
def test_shipped_time_machine_is_d2ls_file():
    fm.verify_checksum(text.TIME_MACHINE, text.TIME_MACHINE_SHA1)
    assert text.TIME_MACHINE.read_bytes().startswith(b"The Time Machine, by H. G. Wells [1898]")


def test_read_time_machine_as_the_book_prints_it():
    lines = text.read_time_machine()
    assert len(lines) == 3221  # "# text lines: 3221"
    assert lines[0] == "the time machine by h g wells"
    assert lines[10] == "twinkled and his usually pale face was flushed and animated the"
    assert all(line == line.strip().lower() for line in lines)
    assert all(set(line) <= set("abcdefghijklmnopqrstuvwxyz ") for line in lines)
    assert all("  " not in line for line in lines)


def test_word_vocab_as_the_book_prints_it():
    tokens = text.tokenize(text.read_time_machine())
    vocab = text.Vocab(tokens)
    assert vocab.token_freqs[:10] == [
        ("the", 2261), ("i", 1267), ("and", 1245), ("of", 1155), ("a", 816), ("to", 695),
        ("was", 552), ("in", 541), ("that", 443), ("my", 440),
    ]  # fmt: skip
    assert list(vocab.token_to_idx.items())[:4] == [("<unk>", 0), ("the", 1), ("i", 2),
                                                    ("and", 3)]  # fmt: skip
    assert vocab[tokens[0]] == [1, 19, 50, 40, 2183, 2184, 400]
    assert vocab[tokens[10]] == [2186, 3, 25, 1044, 362, 113, 7, 1421, 3, 1045, 1]
    corpus = [t for line in tokens for t in line]
    bigrams = text.Vocab(list(zip(corpus[:-1], corpus[1:])))
    assert bigrams.token_freqs[:3] == [(("of", "the"), 309), (("in", "the"), 169),
                                       (("i", "had"), 130)]  # fmt: skip
    trigrams = text.Vocab(list(zip(corpus[:-2], corpus[1:-1], corpus[2:])))
    assert trigrams.token_freqs[0] == (("the", "time", "traveller"), 59)


def test_char_corpus_as_the_book_prints_it():
    corpus, vocab = text.load_corpus_time_machine()
    assert (len(corpus), len(vocab)) == (170580, 28)
    assert vocab.idx_to_token[:6] == ["<unk>", " ", "e", "t", "a", "i"]
    short, _ = text.load_corpus_time_machine(10000)
    assert short == corpus[:10000]


def test_vocab_semantics():
    vocab = text.Vocab([["b", "a", "b"], ["c", "b", "a"]], min_freq=2, reserved_tokens=["<pad>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "b", "a"]  # "c" (once) is dropped
    assert len(vocab) == 4 and vocab.unk == 0
    assert vocab["b"] == 2 and vocab["c"] == 0 and vocab["zzz"] == 0
    assert vocab[["a", "c"]] == [3, 0] and vocab[("b", "a")] == [2, 3]
    assert vocab.to_tokens(2) == "b" and vocab.to_tokens([3, 1]) == ["a", "<pad>"]
    assert vocab.token_freqs == [("b", 3), ("a", 2), ("c", 1)]
    assert len(text.Vocab()) == 1
    # ties keep first-seen order (sorted is stable), a flat token list is counted too
    assert text.Vocab(list("xyzzy")).idx_to_token == ["<unk>", "y", "z", "x"]
    assert text.count_corpus([["a", "b"], ["a"]]) == {"a": 2, "b": 1}


def test_tokenize():
    assert text.tokenize(["ab c", ""], "word") == [["ab", "c"], []]
    assert text.tokenize(["ab c"], "char") == [["a", "b", " ", "c"]]
    with pytest.raises(ValueError, match="unknown token type 'byte'"):
        text.tokenize(["x"], "byte")


# ----------------------------------------------------------------------------- partitioning
def d2l_random(corpus, batch_size, num_steps):  # d2l 8.3.2.1, returning lists
    corpus = corpus[random.randint(0, num_steps - 1) :]
    num_subseqs = (len(corpus) - 1) // num_steps
    initial_indices = list(range(0, num_subseqs * num_steps, num_steps))
    random.shuffle(initial_indices)
    num_batches = num_subseqs // batch_size
    for i in range(0, batch_size * num_batches, batch_size):
        batch = initial_indices[i : i + batch_size]
        yield ([corpus[j : j + num_steps] for j in batch],
               [corpus[j + 1 : j + 1 + num_steps] for j in batch])  # fmt: skip


def d2l_sequential(corpus, batch_size, num_steps):  # d2l 8.3.2.2, on NumPy
    offset = random.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = np.array(corpus[offset : offset + num_tokens]).reshape(batch_size, -1)
    Ys = np.array(corpus[offset + 1 : offset + 1 + num_tokens]).reshape(batch_size, -1)
    for i in range(0, num_steps * (Xs.shape[1] // num_steps), num_steps):
        yield Xs[:, i : i + num_steps].tolist(), Ys[:, i : i + num_steps].tolist()


@pytest.mark.parametrize("kind", ["random", "sequential"])
@pytest.mark.parametrize(("n", "batch_size", "num_steps"), [(35, 2, 5), (100, 3, 7), (41, 1, 4)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partitions_match_d2l(kind, n, batch_size, num_steps, seed):
    ours = text.seq_data_iter_random if kind == "random" else text.seq_data_iter_sequential
    theirs = d2l_random if kind == "random" else d2l_sequential
    corpus = list(range(n))
    random.seed(seed)
    expected = list(theirs(corpus, batch_size, num_steps))
    random.seed(seed)
    got = list(ours(corpus, batch_size, num_steps))
    assert len(got) == len(expected) > 0
    for (X, Y), (eX, eY) in zip(got, expected, strict=True):
        assert X.dtype == ndgrad.int64 and Y.dtype == ndgrad.int64
        assert X.shape == (batch_size, num_steps)
        assert X.tolist() == eX and Y.tolist() == eY
    # the same draws from a private generator, leaving the global one alone
    state = random.getstate()
    private = list(ours(corpus, batch_size, num_steps, random.Random(seed)))
    assert random.getstate() == state
    assert [x.tolist() for x, _ in private] == [x for x, _ in expected]


def test_sequential_rows_continue_across_batches():
    random.seed(3)
    batches = list(text.seq_data_iter_sequential(list(range(200)), 4, 6))
    rows = np.concatenate([X.numpy() for X, _ in batches], axis=1)
    assert (np.diff(rows, axis=1) == 1).all()  # each row reads on where it stopped


def test_load_data_time_machine():
    data_iter, vocab = text.load_data_time_machine(32, 35)
    assert len(vocab) == 28 and len(data_iter.corpus) == 10000
    random.seed(0)
    batches = list(data_iter)
    assert len(batches) == len(data_iter) == 8
    X, Y = batches[0]
    assert X.shape == (32, 35) and X.dtype == ndgrad.int64
    assert (X[:, 1:] == Y[:, :-1]).all().item()
    random_iter, _ = text.load_data_time_machine(4, 10, use_random_iter=True, max_tokens=500)
    assert len(list(random_iter)) >= len(random_iter) == 12
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        text.load_data_time_machine(4, 0)


# ----------------------------------------------------------------------------- translation
FRA = (
    "Go.\tVa !\n"
    "Hi.\tSalut !\n"
    "Run!\tCours\u202f!\n"
    "Run!\tCourez\u202f!\n"
    "Who?\tQui ?\n"
    "Wow!\tÇa alors\u202f!\n"
    "Fire!\tAu feu !\n"
    "I'm OK.\tJe vais bien.\n"
)


def test_preprocess_and_tokenize_nmt():
    text_ = text.preprocess_nmt(FRA)
    assert text_.splitlines()[2] == "run !\tcours !"
    assert text_.splitlines()[6] == "fire !\tau feu !"
    assert text_.splitlines()[7] == "i'm ok .\tje vais bien ."
    assert text.preprocess_nmt("A,b.\xa0C") == "a ,b . c"
    source, target = text.tokenize_nmt(text_)
    assert len(source) == len(target) == 8
    assert source[0] == ["go", "."] and target[5] == ["ça", "alors", "!"]
    few, _ = text.tokenize_nmt(text_, num_examples=2)
    assert len(few) == 3  # d2l stops after line index num_examples


def test_truncate_pad_and_build_array():
    assert text.truncate_pad([1, 2, 3], 5, 0) == [1, 2, 3, 0, 0]
    assert text.truncate_pad([1, 2, 3], 2, 0) == [1, 2]
    vocab = text.Vocab([["a", "b", "a"]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
    array, valid = text.build_array_nmt([["a", "b"], ["b", "a", "a", "x"]], vocab, 4)
    pad, eos, a, b = vocab[["<pad>", "<eos>", "a", "b"]]
    assert array.dtype == ndgrad.int64 and valid.dtype == ndgrad.int64
    assert array.tolist() == [[a, b, eos, pad], [b, a, a, 0]]
    assert valid.tolist() == [3, 4]


def test_load_data_nmt_from_a_folder(tmp_path):
    (tmp_path / "fra.txt").write_text(FRA, encoding="utf-8")
    ndgrad.manual_seed(0)
    data_iter, src_vocab, tgt_vocab = text.load_data_nmt(batch_size=3, num_steps=4,
                                                         data_dir=tmp_path)  # fmt: skip
    assert src_vocab.idx_to_token == ["<unk>", "<pad>", "<bos>", "<eos>", "!", ".", "run"]
    assert tgt_vocab.idx_to_token == ["<unk>", "<pad>", "<bos>", "<eos>", "!"]  # "." once
    rows = 0
    for X, X_valid_len, Y, Y_valid_len in data_iter:
        assert X.shape[1] == Y.shape[1] == 4 and X.dtype == ndgrad.int64
        assert X_valid_len.dtype == Y_valid_len.dtype == ndgrad.int64
        rows += X.shape[0]
    assert rows == 8
    with pytest.raises(FileNotFoundError, match="no fra.txt"):
        text.read_data_nmt(tmp_path / "elsewhere")


def _fra_zip(content: str = FRA) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(text.FRA_ENG_MEMBER, content)
    return buffer.getvalue()


def test_fra_eng_download_is_checked_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path))
    payload = _fra_zip()
    monkeypatch.setattr(text, "FRA_ENG_SHA1", "sha1:" + hashlib.sha1(payload).hexdigest())
    calls = []

    def fetch(url):
        calls.append(url)
        return payload

    assert text.read_data_nmt(fetch=fetch) == FRA
    assert calls == [text.FRA_ENG_URL] and (tmp_path / "fra-eng.zip").is_file()
    assert text.read_data_nmt(fetch=fetch) == FRA  # from the cache
    assert len(calls) == 1


def test_fra_eng_checksum_mismatch(tmp_path, monkeypatch):
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path))
    with pytest.raises(fm.ChecksumError, match="checksum mismatch"):
        text.read_data_nmt(fetch=lambda url: _fra_zip())  # not d2l's bytes
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind
    (tmp_path / "fra-eng.zip").write_bytes(b"tampered")
    with pytest.raises(fm.ChecksumError, match="fra-eng.zip"):
        text.read_data_nmt(fetch=lambda url: pytest.fail("must not download"))
    (tmp_path / "fra-eng.zip").unlink()
    with pytest.raises(FileNotFoundError, match="download is off"):
        text.read_data_nmt(download=False)


def test_fra_eng_download_failure_is_a_connection_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path))

    def offline(url):
        raise OSError("network is unreachable")

    with pytest.raises(ConnectionError, match="pass the folder holding fra.txt"):
        text.read_data_nmt(fetch=offline)
