"""IDX files inflate only as far as their header declares: gzip bombs are refused early."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pytest

from ndgrad.datasets.fashion_mnist import MAX_IDX_BYTES, IDXError, read_idx, write_idx


def _gzip_stream(header: bytes, zeros: int) -> bytes:
    """A gzip file of ``header`` + ``zeros`` zero bytes, compressed block by block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(header)]
    block = bytes(1 << 20)
    for _ in range(zeros // len(block)):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(bytes(zeros % len(block))))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_bomb_past_the_declared_size_is_refused(tmp_path):
    path = tmp_path / "labels.gz"
    header = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")  # 10 labels declared
    path.write_bytes(_gzip_stream(header, 64 << 20))  # 64 MiB follow, ~64 KiB on disk
    with pytest.raises(IDXError, match=r"labels\.gz.*inflates past the 18 bytes"):
        read_idx(path)


def test_header_declaring_a_huge_array_is_refused(tmp_path):
    path = tmp_path / "images.gz"
    header = bytes([0, 0, 8, 3]) + (2**32 - 1).to_bytes(4, "big") * 3
    path.write_bytes(gzip.compress(header + bytes(100)))
    with pytest.raises(IDXError, match=f"over the {MAX_IDX_BYTES} bytes"):
        read_idx(path)


def test_concatenated_members_and_exact_sizes_still_read(tmp_path):
    array = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    write_idx(tmp_path / "a.idx", array)
    raw = (tmp_path / "a.idx").read_bytes()
    (tmp_path / "two.gz").write_bytes(gzip.compress(raw[:30]) + gzip.compress(raw[30:]))
    assert np.array_equal(read_idx(tmp_path / "two.gz"), array)
    write_idx(tmp_path / "a.gz", array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    array = np.arange(60, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    raw = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) - 12])
    with pytest.raises(IDXError, match=r"cut\.gz"):
        read_idx(tmp_path / "cut.gz")
