"""``MNIST`` and ``FashionMNIST`` (torchvision.datasets.mnist) on ndgrad.

On-disk layout as torchvision: ``root/<ClassName>/raw/{train,t10k}-{images-idx3,labels-idx1}
-ubyte`` (torchvision keeps the downloaded ``.gz`` next to the extracted file; either one is
enough here). ``download=True`` fetches the ``.gz`` files from torchvision's mirrors, verifies
their published MD5 sums (``ndgrad.datasets.fashion_mnist.download``: written to a temporary
name, checked, then renamed) and extracts them, as torchvision does.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import ndgrad
from ndgrad.datasets import fashion_mnist as _idx
from ndgrad.vision._pil import image_fromarray
from ndgrad.vision.datasets.vision import VisionDataset

# Fetches a URL: None is pooch's HTTP download (tests put a url -> bytes function here).
_fetch: _idx.Fetch | None = None


def _existing(path: Path) -> Path | None:
    """``path`` (uncompressed), else ``path.gz``, else None."""
    if path.is_file():
        return path
    gz = path.with_name(path.name + ".gz")
    return gz if gz.is_file() else None


def _extract_gz(src: Path, dest: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with gzip.open(src, "rb") as f_in, os.fdopen(fd, "wb") as f_out:
            shutil.copyfileobj(f_in, f_out)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_image_file(path: str | os.PathLike) -> ndgrad.Tensor:
    x = _idx.read_idx(path)
    if x.dtype != np.uint8:
        raise TypeError(f"x should be of dtype torch.uint8 instead of {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"x should have 3 dimension instead of {x.ndim}")
    return ndgrad.from_numpy(np.ascontiguousarray(x))


def read_label_file(path: str | os.PathLike) -> ndgrad.Tensor:
    x = _idx.read_idx(path)
    if x.dtype != np.uint8:
        raise TypeError(f"x should be of dtype torch.uint8 instead of {x.dtype}")
    if x.ndim != 1:
        raise ValueError(f"x should have 1 dimension instead of {x.ndim}")
    return ndgrad.from_numpy(x.astype(np.int64))


class MNIST(VisionDataset):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_: 28x28 gray digits, 60000 train / 10000 test.

    ``__getitem__`` returns ``(PIL image of mode "L", int target)``, each passed through
    ``transform`` / ``target_transform``. ``data`` is a uint8 tensor [N, 28, 28], ``targets``
    an int64 tensor [N].
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]

    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]

    training_file = "training.pt"
    test_file = "test.pt"
    classes = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]  # fmt: skip

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        transform: Callable[..., Any] | None = None,
        target_transform: Callable[..., Any] | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train  # training set or test set

        if download:
            self.download()

        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")

        self.data, self.targets = self._load_data()

    def _load_data(self) -> tuple[ndgrad.Tensor, ndgrad.Tensor]:
        prefix = "train" if self.train else "t10k"
        raw = Path(self.raw_folder)
        data = read_image_file(_existing(raw / f"{prefix}-images-idx3-ubyte"))
        targets = read_label_file(_existing(raw / f"{prefix}-labels-idx1-ubyte"))
        return data, targets

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self.targets[index])

        # doing this so that it is consistent with all other datasets to return a PIL Image
        img = image_fromarray(img.numpy(), mode="L")

        if self.transform is not None:
            img = self.transform(img)

        if self.target_transform is not None:
            target = self.target_transform(target)

        return img, target

    def __len__(self) -> int:
        return len(self.data)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "processed")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {_class: i for i, _class in enumerate(self.classes)}

    def _check_exists(self) -> bool:
        raw = Path(self.raw_folder)
        return all(
            _existing(raw / os.path.splitext(os.path.basename(url))[0]) is not None
            for url, _ in self.resources
        )

    def download(self) -> None:
        """Downloads the data if it is not there already (MD5-checked, then extracted)."""
        if self._check_exists():
            return

        raw = Path(self.raw_folder)
        raw.mkdir(parents=True, exist_ok=True)

        for filename, md5 in self.resources:
            target = raw / filename.removesuffix(".gz")
            if _existing(target) is not None:
                continue
            errors = []
            for mirror in self.mirrors:
                url = f"{mirror}{filename}"
                try:
                    _idx.download(url, raw / filename, f"md5:{md5}", fetch=_fetch)
                except (OSError, _idx.ChecksumError) as exc:  # URLError is an OSError
                    errors.append(exc)
                    continue
                _extract_gz(raw / filename, target)
                break
            else:
                s = f"Error downloading {filename}:\n"
                for mirror, err in zip(self.mirrors, errors):
                    s += f"Tried {mirror}, got:\n{str(err)}\n"
                raise RuntimeError(s)

    def extra_repr(self) -> str:
        split = "Train" if self.train is True else "Test"
        return f"Split: {split}"


class FashionMNIST(MNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_: 28x28 gray images
    of 10 kinds of clothing, 60000 train / 10000 test, MNIST's format and layout."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]

    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
