"""The IDX reader, the checksummed downloader and the Fashion-MNIST loader, on files we write."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ndgrad.datasets import fashion_mnist as fm


def _images(n: int = 5, rows: int = 28, cols: int = 28) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, rows, cols), dtype=np.uint8)


def _labels(n: int = 5) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 10, n).astype(np.uint8)


def _raw_idx(array: np.ndarray, code: int) -> bytes:
    """Builds IDX bytes by hand (independently of write_idx) from the format's definition."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    big = array.astype(array.dtype.newbyteorder(">"))
    return header + big.tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_reads_hand_built_images_and_labels(tmp_path, compress):
    images, labels = _images(), _labels()
    for name, arr in (("img", images), ("lbl", labels)):
        raw = _raw_idx(arr, 0x08)
        path = tmp_path / (name + (".gz" if compress else ""))
        path.write_bytes(gzip.compress(raw) if compress else raw)
    got_images = fm.read_idx(tmp_path / ("img.gz" if compress else "img"))
    got_labels = fm.read_idx(tmp_path / ("lbl.gz" if compress else "lbl"))
    assert got_images.shape == (5, 28, 28) and got_images.dtype == np.uint8
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize(
    ("dtype", "code"),
    [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
     (np.float32, 0x0D), (np.float64, 0x0E)],
)  # fmt: skip
def test_every_idx_type_is_big_endian_and_round_trips(tmp_path, dtype, code):
    arr = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    (tmp_path / "a.idx").write_bytes(_raw_idx(arr, code))
    got = fm.read_idx(tmp_path / "a.idx")
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, arr)
    fm.write_idx(tmp_path / "b.idx.gz", arr)
    np.testing.assert_array_equal(fm.read_idx(tmp_path / "b.idx.gz"), arr)
    assert (tmp_path / "a.idx").read_bytes() == gzip.decompress(
        (tmp_path / "b.idx.gz").read_bytes()
    )


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data_is_a_clear_error(tmp_path, compress):
    raw = _raw_idx(_images(3), 0x08)[:-100]
    path = tmp_path / ("t.gz" if compress else "t")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(fm.IDXError, match=r"truncated: shape \[3, 28, 28\] needs 2352 bytes"):
        fm.read_idx(path)


def test_truncated_gzip_stream_is_a_clear_error(tmp_path):
    compressed = gzip.compress(_raw_idx(_images(3), 0x08))
    path = tmp_path / "cut.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(fm.IDXError, match=r"cut\.gz.*gzip stream is truncated"):
        fm.read_idx(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"PK\x03\x04rest", "not an IDX file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01a", "unknown IDX data type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated in the header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", "1 unexpected trailing bytes"),
    ],
)
def test_bad_headers_are_rejected(tmp_path, raw, message):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(fm.IDXError, match=message):
        fm.read_idx(tmp_path / "bad")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such IDX file"):
        fm.read_idx(tmp_path / "nope")


def _write_split(folder, split: str, n: int, compress: bool) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _images(n), _labels(n)
    prefix = "train" if split == "train" else "t10k"
    suffix = ".gz" if compress else ""
    fm.write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    fm.write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_load_from_data_dir_plain_and_gzip(tmp_path, compress):
    images, labels = _write_split(tmp_path, "train", 7, compress)
    _write_split(tmp_path, "test", 3, compress)
    got_x, got_y = fm.load_fashion_mnist("train", data_dir=tmp_path)
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_y, labels)
    assert got_y.dtype == np.int64
    assert fm.load_fashion_mnist("test", data_dir=tmp_path)[0].shape == (3, 28, 28)


def test_dataset_object_gives_scaled_image_tensors(tmp_path):
    images, labels = _write_split(tmp_path, "train", 4, True)
    ds = fm.FashionMNIST(tmp_path, train=True)
    assert len(ds) == 4 and ds.classes[9] == "Ankle boot"
    image, label = ds[2]
    assert tuple(image.shape) == (1, 28, 28) and str(image.dtype) == "ndgrad.float32"
    np.testing.assert_allclose(image.numpy()[0], images[2] / 255.0, rtol=1e-6)
    assert label == int(labels[2])


def test_data_dir_missing_files_names_them(tmp_path):
    fm.write_idx(tmp_path / "train-images-idx3-ubyte.gz", _images(2))
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte.gz"):
        fm.load_fashion_mnist("train", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fm.load_fashion_mnist("train", data_dir=tmp_path / "absent")


def test_mismatched_counts_and_bad_labels(tmp_path):
    fm.write_idx(tmp_path / "train-images-idx3-ubyte", _images(4))
    fm.write_idx(tmp_path / "train-labels-idx1-ubyte", _labels(3))
    with pytest.raises(fm.IDXError, match="4 images but .* 3 labels"):
        fm.load_fashion_mnist("train", data_dir=tmp_path)
    fm.write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 2, 42], np.uint8))
    with pytest.raises(fm.IDXError, match=r"labels must lie in \[0, 9\]"):
        fm.load_fashion_mnist("train", data_dir=tmp_path)


# ----------------------------------------------------------------------------- downloads
def _fake_server(files: dict[str, bytes], log: list[str]):
    def fetch(url: str) -> bytes:
        log.append(url)
        name = url.rsplit("/", 1)[-1]
        if name not in files:
            raise OSError(f"404 {url}")
        return files[name]

    return fetch


def _official_payloads(n: int = 6) -> dict[str, bytes]:
    out = {}
    for prefix in ("train", "t10k"):
        out[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(_raw_idx(_images(n), 0x08))
        out[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(_raw_idx(_labels(n), 0x08))
    return out


def _patch_checksums(monkeypatch, payloads: dict[str, bytes]) -> None:
    patched = {
        key: (name, "sha256:" + hashlib.sha256(payloads[name]).hexdigest())
        for key, (name, _) in fm.RESOURCES.items()
    }
    monkeypatch.setattr(fm, "RESOURCES", patched)


def test_official_resources_are_the_zalando_files():
    assert fm.MIRRORS[0].startswith("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com")
    assert fm.RESOURCES["train-images"] == (
        "train-images-idx3-ubyte.gz",
        "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    )
    assert all(len(c.split(":")[1]) == 32 for _, c in fm.RESOURCES.values())


def test_download_into_cache_then_reuse(tmp_path, monkeypatch):
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path / "cache"))
    payloads = _official_payloads()
    _patch_checksums(monkeypatch, payloads)
    log: list[str] = []
    x, y = fm.load_fashion_mnist("train", fetch=_fake_server(payloads, log))
    assert x.shape == (6, 28, 28) and len(log) == 2
    assert log[0] == fm.MIRRORS[0] + "train-images-idx3-ubyte.gz"
    cached = sorted(os.listdir(tmp_path / "cache" / "fashion-mnist"))
    assert cached == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    fm.load_fashion_mnist("train", fetch=_fake_server(payloads, log))
    assert len(log) == 2  # served from the cache, no new download


def test_checksum_mismatch_on_download_leaves_nothing_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path / "cache"))
    payloads = _official_payloads()
    _patch_checksums(monkeypatch, payloads)
    tampered = dict(payloads)
    tampered["train-images-idx3-ubyte.gz"] = payloads["train-images-idx3-ubyte.gz"][:-1] + b"X"
    with pytest.raises(fm.ChecksumError, match=r"checksum mismatch for http.*train-images"):
        fm.load_fashion_mnist("train", fetch=_fake_server(tampered, []))
    folder = tmp_path / "cache" / "fashion-mnist"
    assert os.listdir(folder) == []  # neither the bad file nor a .part file remains


def test_download_over_http_verifies_the_checksum(tmp_path):
    """pooch's real HTTP download, from a server on localhost serving a file the test made."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    source = served / "labels.gz"
    source.write_bytes(gzip.compress(_raw_idx(_labels(), 0x08)))
    good = "md5:" + hashlib.md5(source.read_bytes()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/labels.gz"
    try:
        dest = fm.download(url, tmp_path / "out" / "ok.gz", good)
        np.testing.assert_array_equal(fm.read_idx(dest), _labels())
        with pytest.raises(fm.ChecksumError, match="expected md5 0{32}"):
            fm.download(url, tmp_path / "out" / "bad.gz", "md5:" + "0" * 32)
    finally:
        server.shutdown()
    assert sorted(os.listdir(tmp_path / "out")) == ["ok.gz"]


def test_corrupted_cached_file_is_detected(tmp_path, monkeypatch):
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path))
    payloads = _official_payloads()
    _patch_checksums(monkeypatch, payloads)
    fm.load_fashion_mnist("test", fetch=_fake_server(payloads, []))
    (tmp_path / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(fm.ChecksumError, match="t10k-labels"):
        fm.load_fashion_mnist("test", fetch=_fake_server(payloads, []))


def test_unreachable_network_suggests_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path))
    with pytest.raises(ConnectionError, match="--data-dir"):
        fm.load_fashion_mnist("train", fetch=_fake_server({}, []))


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path))
    assert fm.default_cache_dir() == tmp_path
    monkeypatch.delenv("NDGRAD_DATA")
    assert fm.default_cache_dir().parts[-2:] == (".cache", "ndgrad")


def test_bad_checksum_spec():
    with pytest.raises(ValueError, match="sha256:<hex>"):
        fm.verify_checksum(__file__, "crc32:1234")


# ----------------------------------------------------------------------------- properties
@given(
    st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]).flatmap(
        lambda dt: hnp.arrays(
            dt, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)
        )  # fmt: skip
    ),
    st.data(),
)
def test_idx_round_trip_and_every_truncation_fails(array, data):
    codes = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D,
             "float64": 0x0E}  # fmt: skip
    raw = _raw_idx(array, codes[array.dtype.name])
    got = fm.parse_idx(raw)
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(fm.IDXError):
        fm.parse_idx(raw[:cut])
