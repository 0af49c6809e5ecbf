"""datasets.MNIST / FashionMNIST on tiny IDX files the tests write, and ImageFolder."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.vision._reference import torchvision

import ndgrad
from ndgrad.datasets.fashion_mnist import write_idx
from ndgrad.utils.data import DataLoader
from ndgrad.vision import datasets, transforms
from ndgrad.vision.datasets import mnist as mnist_module

N_TRAIN, N_TEST = 12, 5


def _arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, np.uint8)


def write_split_files(raw: Path, compressed: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n, seed in [("train", N_TRAIN, 0), ("t10k", N_TEST, 1)]:
        images, labels = _arrays(n, seed)
        suffix = ".gz" if compressed else ""
        write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        out[prefix] = (images, labels)
    return out


@pytest.mark.parametrize("cls", [datasets.FashionMNIST, datasets.MNIST])
@pytest.mark.parametrize("compressed", [True, False])
def test_mnist_layouts(tmp_path, cls, compressed):
    arrays = write_split_files(tmp_path / cls.__name__ / "raw", compressed)
    for train, prefix in [(True, "train"), (False, "t10k")]:
        ds = cls(str(tmp_path), train=train)
        images, labels = arrays[prefix]
        assert len(ds) == len(labels)
        assert ds.data.dtype == ndgrad.uint8 and tuple(ds.data.shape) == images.shape
        assert ds.targets.dtype == ndgrad.int64
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels)
        img, target = ds[3]
        assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(img), images[3])
        assert type(target) is int and target == labels[3]


def test_classes_and_transforms(tmp_path):
    write_split_files(tmp_path / "FashionMNIST" / "raw", True)
    ds = datasets.FashionMNIST(
        tmp_path, transform=transforms.ToTensor(), target_transform=lambda y: y + 100
    )
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert ds.class_to_idx["Sneaker"] == 7
    assert datasets.MNIST.classes[3] == "3 - three"
    x, y = ds[0]
    assert x.dtype == ndgrad.float32 and tuple(x.shape) == (1, 28, 28)
    np.testing.assert_array_equal(x.numpy()[0], ds.data[0].numpy() / np.float32(255))
    assert y == int(ds.targets[0]) + 100
    assert ds.raw_folder == os.path.join(tmp_path, "FashionMNIST", "raw")


def test_repr(tmp_path):
    write_split_files(tmp_path / "FashionMNIST" / "raw", True)
    ds = datasets.FashionMNIST(str(tmp_path), train=False, transform=transforms.ToTensor())
    assert repr(ds) == (
        f"Dataset FashionMNIST\n    Number of datapoints: {N_TEST}\n"
        f"    Root location: {tmp_path}\n    Split: Test\n    StandardTransform\n"
        "Transform: ToTensor()"
    )
    assert "StandardTransform" not in repr(datasets.FashionMNIST(str(tmp_path)))


def test_matches_torchvision(tmp_path):
    tv = torchvision()
    write_split_files(tmp_path / "FashionMNIST" / "raw", False)  # torchvision reads these
    tr = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    ref_tr = tv.transforms.Compose(
        [tv.transforms.ToTensor(), tv.transforms.Normalize((0.5,), (0.5,))]
    )
    ours = datasets.FashionMNIST(str(tmp_path), train=True, transform=tr)
    ref = tv.datasets.mnist.FashionMNIST(str(tmp_path), train=True, transform=ref_tr)
    assert repr(ours) == repr(ref)
    assert ours.classes == ref.classes and ours.class_to_idx == ref.class_to_idx
    assert ours.resources == ref.resources and ours.mirrors == ref.mirrors
    assert datasets.MNIST.resources == tv.datasets.mnist.MNIST.resources
    assert datasets.MNIST.mirrors == tv.datasets.mnist.MNIST.mirrors
    np.testing.assert_array_equal(ours.data.numpy(), ref.data.numpy())
    np.testing.assert_array_equal(ours.targets.numpy(), ref.targets.numpy())
    for i in range(len(ref)):
        (x, y), (rx, ry) = ours[i], ref[i]
        np.testing.assert_array_equal(x.numpy(), rx.numpy())
        assert y == ry


def test_missing_files_offline(tmp_path):
    with pytest.raises(
        RuntimeError, match=r"^Dataset not found. You can use download=True to download it$"
    ):
        datasets.FashionMNIST(str(tmp_path), train=True)
    # as torchvision: all four files must be there, whichever split is asked for
    raw = tmp_path / "MNIST" / "raw"
    write_split_files(raw, True)
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    for train in (True, False):
        with pytest.raises(RuntimeError, match="Dataset not found"):
            datasets.MNIST(tmp_path, train=train)


def _served(tmp_path: Path) -> tuple[dict[str, bytes], list[tuple[str, str]]]:
    """Gzipped IDX bytes by file name, and resources with their real MD5 sums."""
    src = tmp_path / "src"
    write_split_files(src, True)
    files = {p.name: p.read_bytes() for p in src.iterdir()}
    order = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]  # fmt: skip
    return files, [(name, hashlib.md5(files[name]).hexdigest()) for name in order]


def test_download(tmp_path, monkeypatch):
    files, resources = _served(tmp_path)
    urls = []

    def fetch(url: str) -> bytes:
        urls.append(url)
        return files[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(mnist_module, "_fetch", fetch)
    monkeypatch.setattr(datasets.FashionMNIST, "resources", resources)
    root = tmp_path / "data"
    ds = datasets.FashionMNIST(root, train=False, download=True)
    assert urls == [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" + name
        for name, _ in resources
    ]
    raw = root / "FashionMNIST" / "raw"
    # torchvision's layout: the .gz and the extracted file, nothing else
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        [name for name, _ in resources] + [name[:-3] for name, _ in resources]
    )
    assert (raw / "t10k-images-idx3-ubyte").read_bytes() == gzip.decompress(
        files["t10k-images-idx3-ubyte.gz"]
    )
    assert len(ds) == N_TEST
    datasets.FashionMNIST(root, train=True, download=True)  # already there: no fetch
    assert len(urls) == 4


def test_download_md5_mismatch(tmp_path, monkeypatch):
    files, resources = _served(tmp_path)
    monkeypatch.setattr(mnist_module, "_fetch", lambda url: files[url.rsplit("/", 1)[1]])
    bad = [(name, "0" * 32) for name, _ in resources]
    monkeypatch.setattr(datasets.MNIST, "resources", bad)
    root = tmp_path / "data"
    with pytest.raises(RuntimeError, match="Error downloading train-images-idx3-ubyte.gz") as err:
        datasets.MNIST(root, download=True)
    assert "checksum mismatch" in str(err.value)
    assert "ossci-datasets" in str(err.value) and "yann.lecun.com" in str(err.value)
    assert list((root / "MNIST" / "raw").iterdir()) == []  # nothing half-written is kept


def test_download_falls_back_to_next_mirror(tmp_path, monkeypatch):
    files, resources = _served(tmp_path)
    urls = []

    def fetch(url: str) -> bytes:
        urls.append(url)
        if "ossci" in url:
            raise OSError("unreachable")
        return files[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(mnist_module, "_fetch", fetch)
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    ds = datasets.MNIST(tmp_path / "data", download=True)
    assert len(ds) == N_TRAIN
    assert urls[:2] == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
        "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz",
    ]


def test_dataloader_batches(tmp_path):
    write_split_files(tmp_path / "FashionMNIST" / "raw", True)
    ds = datasets.FashionMNIST(tmp_path, train=True, transform=transforms.ToTensor())
    batches = list(DataLoader(ds, batch_size=5, shuffle=True))
    assert [tuple(x.shape) for x, _ in batches] == [(5, 1, 28, 28), (5, 1, 28, 28), (2, 1, 28, 28)]
    for x, y in batches:
        assert x.dtype == ndgrad.float32 and y.dtype == ndgrad.int64
    labels = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(labels.tolist()) == sorted(ds.targets.numpy().tolist())


# ----------------------------------------------------------------------------- ImageFolder
def _tree(root: Path) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    made: dict[str, list[np.ndarray]] = {}
    for cls, count, mode in [("dog", 2, "RGB"), ("cat", 3, "L"), ("bird", 1, "RGBA")]:
        (root / cls / "sub").mkdir(parents=True)
        for k in range(count):
            shape = (4, 5, len(mode)) if mode != "L" else (4, 5)
            array = rng.integers(0, 256, shape, dtype=np.uint8)
            where = root / cls / ("sub" if k == 0 else "") / f"img{k}.png"
            Image.fromarray(array).save(where)
            made.setdefault(cls, []).append(array)
        (root / cls / "notes.txt").write_text("not an image")
    return made


def test_image_folder(tmp_path):
    _tree(tmp_path)
    ds = datasets.ImageFolder(str(tmp_path), transform=transforms.PILToTensor())
    assert ds.classes == ["bird", "cat", "dog"]
    assert ds.class_to_idx == {"bird": 0, "cat": 1, "dog": 2}
    rel = [(os.path.relpath(p, tmp_path), t) for p, t in ds.samples]
    assert rel == [
        ("bird/sub/img0.png", 0),
        ("cat/img1.png", 1), ("cat/img2.png", 1), ("cat/sub/img0.png", 1),
        ("dog/img1.png", 2), ("dog/sub/img0.png", 2),
    ]  # fmt: skip
    assert ds.targets == [0, 1, 1, 1, 2, 2] and ds.imgs == ds.samples and len(ds) == 6
    for i, (path, target) in enumerate(ds.samples):
        x, y = ds[i]
        assert x.dtype == ndgrad.uint8 and x.shape[0] == 3 and y == target  # loaded as RGB
        expected = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)
        np.testing.assert_array_equal(x.numpy(), expected)
    assert repr(ds).startswith("Dataset ImageFolder\n    Number of datapoints: 6\n    Root")


def test_image_folder_matches_torchvision(tmp_path):
    tv = torchvision()
    _tree(tmp_path)
    ours = datasets.ImageFolder(str(tmp_path))
    # default_loader asks ``torchvision.get_image_backend()``; with PIL it is pil_loader
    folder = tv.datasets.folder
    ref = folder.ImageFolder(str(tmp_path), loader=folder.pil_loader)
    assert ours.samples == ref.samples and ours.classes == ref.classes
    assert repr(ours) == repr(ref)
    for i in range(len(ref)):
        assert np.asarray(ours[i][0]).tolist() == np.asarray(ref[i][0]).tolist()


def test_dataset_folder_and_errors(tmp_path):
    _tree(tmp_path)
    ds = datasets.DatasetFolder(str(tmp_path), loader=lambda p: Path(p).read_text(),
                                extensions=(".txt",))  # fmt: skip
    assert [os.path.basename(p) for p, _ in ds.samples] == ["notes.txt"] * 3
    assert ds[0] == ("not an image", 0)
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes bird, cat"):
        datasets.DatasetFolder(str(tmp_path), loader=str, extensions=(".jpg", ".PNG2"))
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(str(tmp_path / "cat" / "sub"))
    only_png = datasets.ImageFolder(str(tmp_path), is_valid_file=lambda p: "sub" in p)
    assert len(only_png) == 3
