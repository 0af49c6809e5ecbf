"""Fashion-MNIST: an IDX-format reader, a checksummed downloader and a cache folder.

The IDX format (LeCun's MNIST files): 2 zero bytes, a type code, the number of dimensions,
then one big-endian uint32 per dimension and the raw big-endian data. Files are usually
gzip-compressed. Every field is validated, so a truncated or foreign file gives a clear
:class:`IDXError` naming the file instead of a reshape error or silently wrong data.

Downloads go to ``$NDGRAD_DATA`` or ``~/.cache/ndgrad`` (``fashion-mnist/`` inside it): each
file is written to a temporary name in the cache folder, its checksum verified, then renamed
into place, so an interrupted or corrupted download never leaves a file that looks complete.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ndgrad.serialization import default_permissions

# Zalando's official location and the MD5 sums published with the dataset
# (https://github.com/zalandoresearch/fashion-mnist#get-the-data; torchvision uses the same).
MIRRORS: tuple[str, ...] = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
RESOURCES: dict[str, tuple[str, str]] = {
    "train-images": ("train-images-idx3-ubyte.gz", "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train-labels": ("train-labels-idx1-ubyte.gz", "md5:25c81989df183df01b3e8a0aad5dffbe"),
    "test-images": ("t10k-images-idx3-ubyte.gz", "md5:bef4ecab320f06d8554ea6380940ec79"),
    "test-labels": ("t10k-labels-idx1-ubyte.gz", "md5:bb300cfdad3c16e7a12a480ee83cd310"),
}
CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

# IDX type code -> big-endian NumPy dtype.
_IDX_TYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4",
                              0x0D: ">f4", 0x0E: ">f8"}  # fmt: skip
_TYPE_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}

Fetch = Callable[[str], bytes]


class IDXError(ValueError):
    """A file is not a valid IDX file (bad magic, bad dimensions, truncated, ...)."""


class ChecksumError(ValueError):
    """A downloaded or cached file does not have the expected checksum."""


# ----------------------------------------------------------------------------- IDX
MAX_IDX_BYTES = 1 << 30  # an IDX file's declared size; Fashion-MNIST's largest is 47 MB


def _declared_size(head: bytes, name: str) -> int | None:
    """The byte size an IDX file's header declares (header included), once enough is read."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
        return None  # parse_idx reports what is wrong with it
    header = 4 + 4 * head[3]
    if len(head) < header:
        return None
    size = np.dtype(_IDX_TYPES[head[2]]).itemsize
    for i in range(head[3]):
        size *= int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big")
    if header + size > MAX_IDX_BYTES:
        raise IDXError(
            f"{name}: its header declares {header + size} bytes, over the {MAX_IDX_BYTES} "
            "bytes an IDX file may have"
        )
    return header + size


def _read_bytes(path: Path) -> bytes:
    """The file's IDX bytes; a gzip stream is inflated only as far as its header declares."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
        if magic != b"\x1f\x8b":
            if os.fstat(handle.fileno()).st_size > MAX_IDX_BYTES + 1024:
                raise IDXError(f"{path}: larger than {MAX_IDX_BYTES} bytes")
            return magic + handle.read()
        handle.seek(0)
        return _inflate_bounded(handle, path)


def _inflate_bounded(handle: Any, path: Path) -> bytes:
    out = bytearray()
    declared: int | None = None
    limit = 1028  # until the header is known: enough for 255 dimensions
    inflater = zlib.decompressobj(wbits=31)
    past = f"{path}: the gzip stream inflates past the {{}} bytes its IDX header declares"
    try:
        while True:
            chunk = handle.read(1 << 16)
            if not chunk:
                break
            while chunk:
                if inflater.eof:  # concatenated gzip members, as gzip.decompress accepts
                    if not chunk.startswith(b"\x1f\x8b"):
                        chunk = b""  # trailing bytes after the last member: ignored
                        break
                    inflater = zlib.decompressobj(wbits=31)
                out += inflater.decompress(chunk, max(limit + 1 - len(out), 1))
                chunk = inflater.unconsumed_tail or inflater.unused_data
                if declared is None:
                    declared = _declared_size(bytes(out[:1028]), str(path))
                    if declared is not None:
                        limit = declared
                if len(out) > limit:
                    if declared is None:
                        return bytes(out)  # not an IDX header: parse_idx says why
                    raise IDXError(past.format(declared))
        if not inflater.eof:  # all input consumed: what zlib still holds is under a window
            out += inflater.flush()
            if declared is not None and len(out) > declared:
                raise IDXError(past.format(declared))
    except zlib.error as exc:
        raise IDXError(f"{path}: the gzip stream is truncated or corrupt ({exc})") from None
    if not inflater.eof:
        raise IDXError(f"{path}: the gzip stream is truncated or corrupt (it ends early)")
    return bytes(out)


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parses IDX bytes into an array of native byte order, validating every field."""
    if len(raw) < 4:
        raise IDXError(f"{name}: too short to be an IDX file ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise IDXError(
            f"{name}: not an IDX file (magic number starts with {raw[:2]!r}, "
            "expected two zero bytes)"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_TYPES:
        raise IDXError(f"{name}: unknown IDX data type code 0x{type_code:02X}")
    if ndim == 0:
        raise IDXError(f"{name}: IDX file with 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{name}: truncated in the header ({len(raw)} of {header} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = dtype.itemsize
    for d in dims:  # Python ints: 255 dimensions of 2^32 must not wrap around
        expected *= d
    found = len(raw) - header
    if found < expected:
        raise IDXError(
            f"{name}: truncated: shape {list(dims)} needs {expected} bytes of data, found {found}"
        )
    if found > expected:
        raise IDXError(
            f"{name}: {found - expected} unexpected trailing bytes after the data of "
            f"shape {list(dims)}"
        )
    data = np.frombuffer(raw, dtype, count=expected // dtype.itemsize, offset=header)
    return data.reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file, plain or gzip-compressed (detected from its content)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such IDX file: {path}")
    return parse_idx(_read_bytes(path), str(path))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Writes ``array`` as an IDX file; gzip-compressed if the name ends with ``.gz``."""
    array = np.asarray(array)
    code = _TYPE_CODES.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0:
        raise ValueError(f"write_idx: cannot store an array of dtype {array.dtype}, "
                         f"ndim {array.ndim}")  # fmt: skip
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + array.astype(np.dtype(_IDX_TYPES[code])).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path


# ----------------------------------------------------------------------------- download
def default_cache_dir() -> Path:
    """``$NDGRAD_DATA`` if set, else ``~/.cache/ndgrad``."""
    env = os.environ.get("NDGRAD_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ndgrad"


def file_checksum(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path: str | os.PathLike, expected: str, source: str | None = None) -> None:
    """``expected`` is ``"md5:<hex>"`` or ``"sha256:<hex>"``; raises ChecksumError on mismatch."""
    algorithm, _, want = expected.partition(":")
    if algorithm not in ("md5", "sha1", "sha256") or not want:
        raise ValueError(f"checksum must look like 'sha256:<hex>' or 'md5:<hex>', got {expected!r}")
    got = file_checksum(path, algorithm)
    if got != want.lower():
        raise ChecksumError(
            f"checksum mismatch for {source or path}: expected {algorithm} {want}, got {got} "
            "(the download is corrupt or the file was changed)"
        )


def download(
    url: str, dest: str | os.PathLike, checksum: str | None, fetch: Fetch | None = None
) -> Path:
    """Fetches ``url`` into ``dest`` through pooch (a temporary file, the checksum verified
    before the move into place, so a corrupt download never lands); ``fetch`` (url -> bytes)
    replaces the HTTP download, as tests do."""
    import pooch

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    pooch.get_logger().setLevel("WARNING")  # the caller says what it downloads

    def from_fetch(url: str, output_file: Any, _pooch: Any) -> None:  # pooch's downloader API
        data = fetch(url)  # type: ignore[misc]
        if isinstance(output_file, str | os.PathLike):
            Path(output_file).write_bytes(data)
        else:
            output_file.write(data)

    try:
        path = pooch.retrieve(
            url, known_hash=checksum, fname=dest.name, path=dest.parent,
            downloader=from_fetch if fetch is not None else None, progressbar=False,
        )  # fmt: skip
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise
        algorithm, _, want = (checksum or "").partition(":")
        raise ChecksumError(
            f"checksum mismatch for {url}: expected {algorithm} {want} (the download is corrupt "
            "or the file was changed; nothing was kept)"
        ) from None
    default_permissions(path)
    return Path(path)


def _find_local(folder: Path, filename: str) -> Path | None:
    stem = filename.removesuffix(".gz")
    for candidate in (filename, stem, f"{stem}.gz"):
        for sub in ("", "fashion-mnist", "FashionMNIST/raw"):
            path = folder / sub / candidate
            if path.is_file():
                return path
    return None


def ensure_files(
    split: str,
    data_dir: str | os.PathLike | None = None,
    download_missing: bool = True,
    fetch: Fetch | None = None,
    mirrors: Sequence[str] = MIRRORS,
) -> tuple[Path, Path]:
    """Paths of the images and labels files of ``split`` ("train" or "test").

    With ``data_dir`` the files must already be there (plain or .gz, any of the usual layouts);
    nothing is downloaded. Otherwise they come from the cache folder, downloaded and verified
    against the published checksums if missing; a cached file is re-verified before use.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    keys = (f"{split}-images", f"{split}-labels")
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"Fashion-MNIST data folder does not exist: {folder}")
        found = [_find_local(folder, RESOURCES[k][0]) for k in keys]
        missing = [RESOURCES[k][0] for k, p in zip(keys, found, strict=True) if p is None]
        if missing:
            raise FileNotFoundError(
                f"Fashion-MNIST files missing in {folder}: {', '.join(missing)} (plain or .gz)"
            )
        return found[0], found[1]  # type: ignore[return-value]
    cache = default_cache_dir() / "fashion-mnist"
    paths = []
    for key in keys:
        filename, checksum = RESOURCES[key]
        path = cache / filename
        if path.is_file():
            verify_checksum(path, checksum)
        elif not download_missing:
            raise FileNotFoundError(f"{path} is not in the cache and download is off")
        else:
            errors = []
            for mirror in mirrors:
                try:
                    download(mirror + filename, path, checksum, fetch)
                    break
                except ChecksumError:
                    raise
                except OSError as exc:  # URLError is an OSError
                    errors.append(f"{mirror}{filename}: {exc}")
            else:
                raise ConnectionError(
                    f"could not download {filename} ({'; '.join(errors)}); download the "
                    f"files by hand and pass their folder as data_dir (--data-dir)"
                )
        paths.append(path)
    return paths[0], paths[1]


def load_fashion_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    fetch: Fetch | None = None,
    mirrors: Sequence[str] = MIRRORS,
) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [N, 28, 28], labels int64 [N])`` of the train or test split."""
    images_path, labels_path = ensure_files(split, data_dir, download, fetch, mirrors)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise IDXError(f"{images_path}: expected images of shape [N, rows, cols], "
                       f"got {list(images.shape)}")  # fmt: skip
    if labels.ndim != 1:
        raise IDXError(f"{labels_path}: expected labels of shape [N], got {list(labels.shape)}")
    if len(images) != len(labels):
        raise IDXError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise IDXError(f"{labels_path}: labels must lie in [0, {len(CLASSES) - 1}]")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


class FashionMNIST:
    """``torchvision.datasets.FashionMNIST``-like dataset: ``(image, label)`` pairs.

    Without a ``transform`` an image comes back as a float32 tensor of shape [1, 28, 28]
    scaled to [0, 1] (what ``transforms.ToTensor()`` gives in torchvision).
    """

    classes = list(CLASSES)

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        download: bool = True,
        fetch: Fetch | None = None,
    ) -> None:
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        self.data, self.targets = load_fashion_mnist(
            "train" if train else "test", root, download=download, fetch=fetch
        )

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from ndgrad import tensor

        image: Any = self.data[index]
        label: Any = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        else:
            image = tensor(image[None].astype(np.float32) / 255.0)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label


__all__ = [
    "CLASSES", "MIRRORS", "RESOURCES", "ChecksumError", "FashionMNIST", "IDXError",
    "default_cache_dir", "download", "ensure_files", "file_checksum", "load_fashion_mnist",
    "parse_idx", "read_idx", "verify_checksum", "write_idx",
]  # fmt: skip
