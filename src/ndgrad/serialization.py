"""``ndgrad.save`` / ``ndgrad.load``: checkpoints that cannot run code when loaded.

PyTorch pickles; a pickle can execute arbitrary code on load. ndgrad writes a zip archive
instead: ``ndgrad/manifest.json`` describes the object tree (dicts, lists, tuples, numbers,
strings, None, dtypes) and each tensor or array lives in its own ``.npy`` member, read back
with ``allow_pickle=False``. Nothing in the file names a Python callable, so loading a
foreign or hostile file can fail but cannot execute it.

Writes to a path are atomic: the archive goes to a temporary file in the same folder, is
flushed and fsynced, then ``os.replace``-d over the target, so a crash or an error while
saving leaves any previous checkpoint intact. The temporary file's name carries the saving
process's id; a later save to the same folder removes those whose process is gone (a save
killed before it could clean up).

Loading is bounded: every member's size is checked against what it declares (a ``.npy``
header's shape and dtype; the manifest's size limit) and against a limit on how far a
compressed member may inflate, before it is inflated; members are read in bounded chunks
that stop one byte past the declared size. ndgrad writes members uncompressed, so a
checkpoint that inflates a thousandfold was not written by it.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import stat
import tempfile
import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from ndgrad import _backend, _dtype
from ndgrad._tensor import Size, Tensor

FORMAT_NAME = "ndgrad.save"
FORMAT_VERSION = 1
_MANIFEST = "ndgrad/manifest.json"
_DATA_DIR = "ndgrad/data/"
_ZIP_MAGIC = b"PK\x03\x04"
_TMP_TAG = ".ndgrad-"  # .{name}.ndgrad-{pid}-{random}.tmp
_MAX_MANIFEST_BYTES = 64 << 20  # a manifest line per tensor: far more than any model needs
_MAX_NPY_HEADER = 1 << 16  # NumPy itself refuses headers over 10,000 bytes by default
_MAX_RATIO = 100  # how many times a compressed member may inflate ...
_RATIO_FREE_BYTES = 1 << 20  # ... once it is larger than this
_CHUNK = 1 << 20
_MAX_DEPTH = 200  # nesting of the manifest's object tree

FileLike = str | os.PathLike | IO[bytes]


# ----------------------------------------------------------------------------- encoding
class _Encoder:
    """Turns an object tree into JSON-able nodes plus a list of arrays to store."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self._tensor_ids: dict[int, int] = {}  # same Tensor object saved twice -> one entry

    def _add_array(self, array: np.ndarray) -> int:
        self.arrays.append(array)  # np.save copes with any strides; keeps 0-d arrays 0-d
        return len(self.arrays) - 1

    def encode(self, obj: Any, path: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            # JSON has no NaN/inf; keep them exact through a tagged node.
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, Tensor):
            key = id(obj)
            if key not in self._tensor_ids:  # saved as host data, its device named
                self._tensor_ids[key] = self._add_array(_backend.to_device(obj._data, "cpu"))
            node = {"__tensor__": self._tensor_ids[key], "requires_grad": obj._requires_grad}
            if obj.device.type != "cpu":
                node["device"] = str(obj.device)
            if type(obj).__name__ == "Parameter":
                node["parameter"] = True
            return node
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError(f"ndgrad.save: object arrays cannot be saved (at {path})")
            return {"__ndarray__": self._add_array(obj)}
        if isinstance(obj, np.generic):
            return {"__npscalar__": self._add_array(np.asarray(obj))}
        if isinstance(obj, _dtype.dtype):
            return {"__dtype__": obj.name}
        if isinstance(obj, Size):
            return {"__size__": [int(s) for s in obj]}
        if isinstance(obj, dict):
            items = [
                [self.encode(k, f"{path}[key]"), self.encode(v, f"{path}[{k!r}]")]
                for k, v in obj.items()
            ]
            tag = "__odict__" if isinstance(obj, OrderedDict) else "__dict__"
            return {tag: items}
        if isinstance(obj, list):
            return {"__list__": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        hint = ""
        if hasattr(obj, "state_dict"):
            hint = "; save obj.state_dict() instead of the object itself"
        raise TypeError(
            f"ndgrad.save: cannot save an object of type {type(obj).__qualname__} at {path} "
            "(supported: tensors, NumPy arrays, dicts, lists, tuples, numbers, strings, None, "
            f"dtypes){hint}"
        )


def _frozen(value: Any) -> Any:
    """A decoded list used as a dict key, as a tuple (nested lists too)."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


class _Decoder:
    def __init__(
        self, arrays: dict[int, np.ndarray], source: str, map_location: Any = None
    ) -> None:
        self.arrays = arrays
        self.source = source
        self.map_location = map_location
        self._tensors: dict[int, Tensor] = {}

    def _array(self, index: Any) -> np.ndarray:
        if not isinstance(index, int) or index not in self.arrays:
            raise RuntimeError(
                f"ndgrad.load: {self.source} is corrupt: the manifest refers to array {index!r}, "
                "which is missing from the archive"
            )
        return self.arrays[index]

    def _bad(self, what: str) -> RuntimeError:
        return RuntimeError(f"ndgrad.load: {self.source} is corrupt: its manifest {what}")

    def _items(self, node: dict, tag: str) -> list:
        items = node[tag]
        if not isinstance(items, list):
            raise self._bad(f"has a {tag} node holding {type(items).__name__}, not a list")
        return items

    def _pairs(self, node: dict, tag: str) -> list:
        items = self._items(node, tag)
        for item in items:
            if not isinstance(item, list) or len(item) != 2:
                raise self._bad(f"has a {tag} entry that is not a [key, value] pair")
        return items

    def decode(self, node: Any, depth: int = 0) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if depth > _MAX_DEPTH:
            raise self._bad(f"nests deeper than {_MAX_DEPTH} levels")
        depth += 1
        if isinstance(node, list):  # only tagged nodes are expected; be lenient
            return [self.decode(v, depth) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise RuntimeError(f"ndgrad.load: {self.source} has an unreadable manifest node")
        if "__tensor__" in node:
            index = node["__tensor__"]
            self._array(index)  # checks the index's type before it is used as a key
            if index not in self._tensors:
                t = self._make_tensor(self._array(index), bool(node.get("parameter")))
                t._requires_grad = bool(node.get("requires_grad", False))
                saved = node.get("device", "cpu")
                dev = _mapped_device(saved if isinstance(saved, str) else "cpu", self.map_location)
                if dev.type != "cpu":
                    t._data = _backend.to_device(t._data, dev)
                self._tensors[index] = t
            return self._tensors[index]
        if "__ndarray__" in node:
            return self._array(node["__ndarray__"])
        if "__npscalar__" in node:
            return self._array(node["__npscalar__"])[()]
        if "__float__" in node:
            text = node["__float__"]
            if not isinstance(text, str):
                raise self._bad(f"has a __float__ node holding {type(text).__name__}")
            return float(text)
        if "__dtype__" in node:
            name = node["__dtype__"]
            if not isinstance(name, str):
                raise self._bad(f"has a __dtype__ node holding {type(name).__name__}")
            return _dtype.to_dtype(name)
        if "__size__" in node:
            sizes = self._items(node, "__size__")
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
                raise self._bad("has a __size__ node with sizes that are not integers")
            return Size(sizes)
        if "__odict__" in node:
            pairs = self._pairs(node, "__odict__")
            return OrderedDict((self._key(k, depth), self.decode(v, depth)) for k, v in pairs)
        if "__dict__" in node:
            return {
                self._key(k, depth): self.decode(v, depth) for k, v in self._pairs(node, "__dict__")
            }
        if "__list__" in node:
            return [self.decode(v, depth) for v in self._items(node, "__list__")]
        if "__tuple__" in node:
            return tuple(self.decode(v, depth) for v in self._items(node, "__tuple__"))
        raise RuntimeError(
            f"ndgrad.load: {self.source} has a manifest node of unknown kind {sorted(node)}"
        )

    def _key(self, node: Any, depth: int) -> Any:
        key = self.decode(node, depth)
        if isinstance(key, list):
            key = _frozen(key)
        try:
            hash(key)
        except TypeError:
            raise self._bad(f"has a dict key of type {type(key).__name__}") from None
        return key

    @staticmethod
    def _make_tensor(array: np.ndarray, parameter: bool) -> Tensor:
        _dtype.from_numpy_dtype(array.dtype)  # rejects dtypes a Tensor cannot hold
        if parameter:
            try:
                from ndgrad.nn import Parameter
            except ImportError:
                Parameter = None
            if Parameter is not None:
                return Parameter(Tensor._make(array), requires_grad=False)
        return Tensor._make(array)


# ----------------------------------------------------------------------------- save
def _write_archive(obj: Any, stream: IO[bytes]) -> None:
    encoder = _Encoder()
    root = encoder.encode(obj, "obj")
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "arrays": len(encoder.arrays),
        "root": root,
    }
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_MANIFEST, json.dumps(manifest))
        for i, array in enumerate(encoder.arrays):
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            archive.writestr(f"{_DATA_DIR}{i}.npy", buffer.getvalue())


def save(
    obj: Any,
    f: FileLike,
    pickle_module: Any = None,
    pickle_protocol: int = 2,
    _use_new_zipfile_serialization: bool = True,
) -> None:
    """Saves ``obj`` (tensors and containers of them, numbers, strings) to a path or a file.

    The extra arguments exist for signature compatibility with ``torch.save``; ndgrad never
    pickles, so ``pickle_module`` must be left unset.
    """
    if pickle_module is not None:
        raise ValueError("ndgrad.save never pickles; pickle_module is not supported")
    if hasattr(f, "write"):
        buffer = io.BytesIO()
        _write_archive(obj, buffer)  # encode fully first: a bad object writes nothing
        f.write(buffer.getvalue())  # type: ignore[union-attr]
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"ndgrad.save: folder {folder!r} does not exist (saving {path!r})")
    _remove_stale_temps(folder)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}{_TMP_TAG}{os.getpid()}-", suffix=".tmp", dir=folder
    )
    try:
        with os.fdopen(fd, "wb") as out:
            _write_archive(obj, out)
            out.flush()
            os.fsync(out.fileno())
        default_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # someone else's process, or cannot tell: leave its file alone
    return True


def _remove_stale_temps(folder: str) -> None:
    """Removes temporary files left by saves into ``folder`` whose process has ended.

    A save interrupted by SIGKILL or a power cut cannot remove its own temporary file; a
    save still running (in this or another process) is left alone.
    """
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(".") and name.endswith(".tmp") and _TMP_TAG in name):
            continue
        pid_text = name.rsplit(_TMP_TAG, 1)[1].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def default_permissions(path: str) -> None:
    """mkstemp makes 0600 files; give the checkpoint the mode open() would (0666 & ~umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _fsync_folder(folder: str) -> None:
    # Makes the rename itself durable; not every platform can open a folder.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- load
def _describe_foreign(head: bytes) -> str:
    if not head:
        return "the file is empty"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"c", b"]", b"}"):
        return (
            "it looks like a pickle (e.g. a torch.save file from PyTorch < 1.6 or a Python "
            "pickle); ndgrad.load never unpickles, because unpickling can execute code"
        )
    if head[:6] == b"\x93NUMPY":
        return "it is a NumPy .npy file; read it with numpy.load"
    return f"it does not start with a zip header (first bytes: {head[:8]!r})"


def load(
    f: FileLike,
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **kwargs: Any,
) -> Any:
    """Loads what :func:`save` wrote. Raises RuntimeError naming the file if it is not one.

    ``map_location`` places tensors as torch.load's does (tensors saved from a GPU load back
    there without it); ``weights_only`` is accepted for compatibility with ``torch.load``:
    ndgrad never unpickles, so loading is always weights-only.
    """
    if pickle_module is not None:
        raise ValueError("ndgrad.load never unpickles; pickle_module is not supported")
    if hasattr(f, "read"):
        source = repr(getattr(f, "name", "<file object>"))
        raw = f.read()  # type: ignore[union-attr]
    else:
        path = os.fspath(f)
        source = repr(path)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        if os.path.isdir(path):
            raise IsADirectoryError(f"ndgrad.load: {path!r} is a folder, not a checkpoint file")
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO blocks, /dev/zero never ends
            raise OSError(f"ndgrad.load: {path!r} is a device or pipe, not a checkpoint file")
        with open(path, "rb") as handle:
            raw = handle.read()
    if not isinstance(raw, bytes):
        raise TypeError("ndgrad.load: the file object must be opened in binary mode ('rb')")
    if raw[:4] != _ZIP_MAGIC:
        raise RuntimeError(
            f"ndgrad.load: {source} is not an ndgrad checkpoint: {_describe_foreign(raw[:16])}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as exc:
        raise RuntimeError(
            f"ndgrad.load: {source} is truncated or corrupt (cannot read the zip archive: {exc})"
        ) from None
    with archive:
        names = set(archive.namelist())
        if _MANIFEST not in names:
            raise RuntimeError(
                f"ndgrad.load: {source} is a zip file but not an ndgrad checkpoint (no "
                f"{_MANIFEST}; a PyTorch checkpoint cannot be read because it is pickled)"
            )
        try:
            text = _read_member(archive, archive.getinfo(_MANIFEST), _MAX_MANIFEST_BYTES, source)
            try:
                manifest = json.loads(text.decode("utf-8"))
            except RecursionError:
                raise RuntimeError(
                    f"ndgrad.load: {source} is corrupt: its manifest ({_MANIFEST}) nests too "
                    "deeply to read"
                ) from None
            arrays = _read_arrays(archive, names, source)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
            raise RuntimeError(
                f"ndgrad.load: {source} is truncated or corrupt ({type(exc).__name__}: {exc})"
            ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise RuntimeError(f"ndgrad.load: {source} has a manifest of an unknown format")
    version = manifest.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RuntimeError(
            f"ndgrad.load: {source} was written by a newer ndgrad (format version {version!r}; "
            f"this one reads up to {FORMAT_VERSION})"
        )
    if manifest.get("arrays", len(arrays)) != len(arrays):
        raise RuntimeError(
            f"ndgrad.load: {source} is truncated or corrupt: expected {manifest.get('arrays')} "
            f"arrays, found {len(arrays)}"
        )
    try:
        return _Decoder(arrays, source, map_location).decode(manifest.get("root"))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        raise RuntimeError(
            f"ndgrad.load: {source} is corrupt: its manifest is malformed "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _mapped_device(saved: str, map_location: Any) -> _backend.device:
    """Where a tensor saved on ``saved`` loads: torch.load's ``map_location`` (a device, a
    {saved: target} dict, or a function of (tensor, saved) returning a tensor or None)."""
    target: Any = saved
    if isinstance(map_location, (str, _backend.device)):
        target = map_location
    elif isinstance(map_location, dict):
        target = map_location.get(saved, saved)
    elif callable(map_location):
        out = map_location(Tensor._make(np.zeros(0)), saved)
        target = out.device if isinstance(out, Tensor) else saved
    dev = _backend.device(target)
    if dev.type == "cuda" and "cuda" not in _backend._BACKENDS:
        raise RuntimeError(
            "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is "
            "False. If you are running on a CPU-only machine, please use torch.load with "
            "map_location=torch.device('cpu') to map your storages to the CPU."
        )
    return _backend.check_available(dev)


def _check_ratio(info: zipfile.ZipInfo, source: str) -> None:
    if info.file_size > _RATIO_FREE_BYTES and info.file_size > _MAX_RATIO * max(
        info.compress_size, 1
    ):
        raise RuntimeError(
            f"ndgrad.load: {source} is not a checkpoint ndgrad wrote: member {info.filename!r} "
            f"would inflate from {info.compress_size} to {info.file_size} bytes (more than "
            f"{_MAX_RATIO} times; ndgrad stores members uncompressed)"
        )


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, declared: int, source: str
) -> bytes:
    """Member ``info`` in bounded chunks; an error naming it if it holds more than ``declared``."""
    if info.file_size > declared:
        raise RuntimeError(
            f"ndgrad.load: {source} is corrupt: member {info.filename!r} holds "
            f"{info.file_size} bytes, more than the {declared} it may"
        )
    _check_ratio(info, source)
    chunks = []
    total = 0
    with archive.open(info) as handle:
        while total <= declared:
            chunk = handle.read(min(_CHUNK, declared + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > declared:
        raise RuntimeError(
            f"ndgrad.load: {source} is corrupt: member {info.filename!r} inflates past the "
            f"{declared} bytes it declares"
        )
    return b"".join(chunks)


def _npy_size(head: bytes, name: str, source: str) -> int:
    """The byte size a ``.npy`` member must have, from its header's shape and dtype."""
    fp = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(fp)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(fp, max_header_size=_MAX_NPY_HEADER)
    except (ValueError, EOFError, TypeError, SyntaxError) as exc:
        raise RuntimeError(
            f"ndgrad.load: {source} is corrupt: member {name!r} has no readable .npy header ({exc})"
        ) from None
    if dtype.hasobject:
        raise RuntimeError(
            f"ndgrad.load: {source} is corrupt: member {name!r} declares an object array"
        )
    return fp.tell() + math.prod(shape) * dtype.itemsize


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> np.ndarray:
    _check_ratio(info, source)
    with archive.open(info) as handle:
        head = handle.read(min(info.file_size, _MAX_NPY_HEADER + 16))
    declared = _npy_size(head, info.filename, source)
    if info.file_size != declared:
        raise RuntimeError(
            f"ndgrad.load: {source} is corrupt: member {info.filename!r} holds "
            f"{info.file_size} bytes, but its header's shape and dtype make {declared}"
        )
    raw = _read_member(archive, info, declared, source)
    if len(raw) != declared:
        raise RuntimeError(
            f"ndgrad.load: {source} is truncated: member {info.filename!r} holds {len(raw)} "
            f"of the {declared} bytes its header declares"
        )
    return np.load(io.BytesIO(raw), allow_pickle=False)


def _read_arrays(archive: zipfile.ZipFile, names: set[str], source: str) -> dict[int, np.ndarray]:
    arrays: dict[int, np.ndarray] = {}
    for name in names:
        if not (name.startswith(_DATA_DIR) and name.endswith(".npy")):
            continue
        stem = name[len(_DATA_DIR) : -len(".npy")]
        if not stem.isdigit():
            continue
        arrays[int(stem)] = _read_npy(archive, archive.getinfo(name), source)
    return arrays


__all__ = ["save", "load"]
