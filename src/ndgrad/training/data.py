"""Datasets for training: train/validation splits, feature scaling, and feature files."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ndgrad.training.errors import InvalidSetting

DATASETS = (
    "synthetic",
    "digits",
    "iris",
    "wine",
    "breast-cancer",
    "diabetes",
    "fashion-mnist",
    "reverse",
)
SEQUENCE_DATASETS = ("reverse",)
REVERSE_LENGTH, REVERSE_SIZE = 8, 5000  # digit strings of 8, 5000 of them
TASKS = ("classification", "regression")


@dataclass
class Split:
    """A dataset divided into a training part and a validation (or official test) part.

    ``seed`` and ``val_split`` record how :func:`load_split` drew it, so the same split can be
    drawn again (``ndgrad evaluate`` does).
    """

    name: str
    task: str  # "classification" or "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    class_names: list[str] | None = None
    feature_names: list[str] = field(default_factory=list)
    image_shape: tuple[int, ...] | None = None
    val_name: str = "validation"
    seed: int = 0
    val_split: float = 0.2

    @property
    def num_features(self) -> int:
        """Columns of the feature matrices."""
        return int(self.X_train.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for a regression set)."""
        return len(self.class_names or [])

    @property
    def is_sequence(self) -> bool:
        """Whether each row has one target per position (``y`` is ``[n, length]``)."""
        return self.y_train.ndim == 2


def load_split(
    name: str, val_split: float = 0.2, seed: int = 0, data_dir: str | None = None
) -> Split:
    """The dataset ``name`` divided into train and validation (or official test) parts.

    Classification sets are stratified; Fashion-MNIST keeps its official test set (from
    ``data_dir`` or the default data folder). ValueError for an unknown name or a
    ``val_split`` outside (0, 1).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from: {', '.join(DATASETS)}")
    if not 0.0 < val_split < 1.0:
        raise InvalidSetting("val_split", f"must lie strictly between 0 and 1, got {val_split}")
    if not 0 <= seed < 2**32:  # what NumPy's and scikit-learn's seeding accept
        raise InvalidSetting("seed", f"must lie in 0 .. 2**32 - 1, got {seed}")
    if name == "fashion-mnist":
        from ndgrad.datasets.fashion_mnist import CLASSES, load_fashion_mnist

        x_tr, y_tr = load_fashion_mnist("train", data_dir)
        x_te, y_te = load_fashion_mnist("test", data_dir)
        flat = lambda x: x.reshape(len(x), -1).astype(np.float64) / 255.0  # noqa: E731
        return Split(
            name,
            "classification",
            flat(x_tr),
            y_tr,
            flat(x_te),
            y_te,
            list(CLASSES),
            [f"pixel{i}" for i in range(x_tr[0].size)],
            tuple(x_tr.shape[1:]),
            "test",
            seed,
            val_split,
        )
    from ndgrad.datasets.sklearn_sets import load_sklearn

    if name == "reverse":
        # An offline sequence task: each row is a string of digits (as numbers), its
        # targets the same digits reversed; one class per digit at every position.
        rng = np.random.default_rng(seed)
        X = rng.integers(0, 10, (REVERSE_SIZE, REVERSE_LENGTH))
        y = X[:, ::-1].copy()
        train, val = split_rows(len(X), val_split, seed)
        return Split(
            name,
            "classification",
            X[train].astype(np.float64),
            y[train],
            X[val].astype(np.float64),
            y[val],
            [str(d) for d in range(10)],
            [f"digit{i}" for i in range(REVERSE_LENGTH)],
            seed=seed,
            val_split=val_split,
        )
    if name == "synthetic":
        import ndgrad
        from ndgrad.datasets.synthetic import synthetic_data

        ndgrad.manual_seed(seed)
        features, labels = synthetic_data(ndgrad.tensor([2.0, -3.4]), 4.2, 1000)
        X = features.numpy().astype(np.float64)
        y = labels.reshape(-1).numpy().astype(np.float64)
        train, val = split_rows(len(X), val_split, seed)
        return Split(
            name,
            "regression",
            X[train],
            y[train],
            X[val],
            y[val],
            feature_names=["x1", "x2"],
            seed=seed,
            val_split=val_split,
        )
    data = load_sklearn(name)
    stratify = data.y if data.task == "classification" else None
    train, val = split_rows(len(data), val_split, seed, stratify)
    return Split(
        name,
        data.task,
        data.X[train],
        data.y[train],
        data.X[val],
        data.y[val],
        data.class_names,
        data.feature_names,
        data.image_shape,
        seed=seed,
        val_split=val_split,
    )


def split_rows(
    n: int, val_split: float, seed: int = 0, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train, validation)`` row indices from scikit-learn's ``train_test_split``
    (``random_state=seed``, stratified when ``stratify`` holds the labels).

    A split that would leave either part empty, one validation row for a regression set (no
    R²), or fewer rows than classes in a stratified part is refused up front:
    :class:`InvalidSetting` for ``val_split``, naming the sizes.
    """
    from sklearn.model_selection import train_test_split

    n_val = math.ceil(n * val_split)  # train_test_split's own rounding
    n_train = n - n_val
    least = 2 if stratify is None else len(np.unique(stratify))
    if n_val < least or n_train < least:
        what = "rows" if stratify is None else "rows, one of each class"
        raise InvalidSetting(
            "val_split",
            f"{val_split} splits {n} rows into {n_train} training and {n_val} validation rows;"
            f" each part needs at least {least} {what}",
        )
    train, val = train_test_split(
        np.arange(n), test_size=n_val, random_state=seed, shuffle=True, stratify=stratify
    )
    return np.sort(train), np.sort(val)


@dataclass
class Scaling:
    """Standardisation learnt from a training split: features always, targets for regression.

    Models train and predict on scaled data; :meth:`features` scales raw feature rows and
    :meth:`unscale_targets` turns a regression model's outputs back into raw values.
    """

    feature_mean: np.ndarray
    feature_std: np.ndarray
    target_mean: float = 0.0
    target_std: float = 1.0

    @classmethod
    def identity(cls, width: int) -> Scaling:
        """No scaling: the sequence models read their features as token ids."""
        return cls(np.zeros(width), np.ones(width))

    @classmethod
    def from_split(cls, split: Split, per_feature: bool = True) -> Scaling:
        """Statistics of the training part only (the validation part must not leak in).

        ``per_feature=False`` (the image models) scales every pixel by the same mean and
        standard deviation, so an image keeps its shape instead of each pixel's rare strokes
        being blown up to unit variance.
        """
        if per_feature:
            mean = split.X_train.mean(0)
            std = split.X_train.std(0)
        else:
            width = split.X_train.shape[1]
            mean = np.full(width, split.X_train.mean())
            std = np.full(width, split.X_train.std())
        std = np.where(std > 1e-8, std, 1.0)  # constant columns (blank pixels) stay as they are
        if split.task == "regression":
            return cls(mean, std, float(split.y_train.mean()), float(split.y_train.std() or 1.0))
        return cls(mean, std)

    @property
    def target_stats(self) -> tuple[float, float]:
        """``(mean, std)`` of the regression target; ``(0.0, 1.0)`` for classification."""
        return self.target_mean, self.target_std

    def features(self, X: np.ndarray) -> np.ndarray:
        """Raw feature rows, standardised."""
        return (X - self.feature_mean) / self.feature_std

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Raw regression targets, standardised."""
        return (y - self.target_mean) / self.target_std

    def unscale_targets(self, values: np.ndarray) -> np.ndarray:
        """Model outputs back on the target's raw scale."""
        return values * self.target_std + self.target_mean


@dataclass
class FeatureTable:
    """Feature rows read from a file: ``rows`` ``[n, width]`` float64, the CSV's ``header``
    (None when the first row is data or the file is a ``.npy``) and, per row, its number in
    the file (1-based, counting a header row), for messages."""

    rows: np.ndarray
    header: list[str] | None = None
    line_numbers: list[int] = field(default_factory=list)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _parses(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


MAX_INPUT_BYTES = 256 << 20  # the largest CSV or .npy file predict reads (256 MiB)


def _read_input(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_INPUT_BYTES`; ValueError otherwise
    (a folder, a FIFO, a device such as /dev/zero, or a file too large)."""
    from ndgrad._files import read_small_file

    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a CSV or .npy file")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file (a device or pipe); give a CSV or .npy file")
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise ValueError(
            f"{path}: the file has {path.stat().st_size} bytes; the limit is "
            f"{MAX_INPUT_BYTES >> 20} MiB (split it into smaller files)"
        )
    try:
        return read_small_file(path, MAX_INPUT_BYTES)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _npy_array(path: Path, raw: bytes) -> np.ndarray:
    """The array of a ``.npy`` file's bytes, its header checked first: an object dtype is
    refused without unpickling, and a shape declaring more bytes than the file holds is
    refused before anything is allocated."""
    from numpy.lib import format as npy_format

    stream = io.BytesIO(raw)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except (ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from None
    if dtype.hasobject:
        raise ValueError(f"{path}: expected a numeric array, got dtype object (not unpickled)")
    count = math.prod(shape)
    declared, held = count * dtype.itemsize, len(raw) - stream.tell()
    if declared > held:
        raise ValueError(
            f"{path}: the header declares shape {list(shape)} ({declared} bytes of "
            f"{dtype}) but the file holds {held} bytes of data"
        )
    try:
        array = np.frombuffer(raw, dtype=dtype, count=count, offset=stream.tell())
    except ValueError as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from None
    return array.reshape(shape, order="F" if fortran else "C")


def _csv_rows(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """``(line number, cells)`` of each non-blank CSV row; ValueError naming the row (and the
    column, for a field over the csv module's limit) of a malformed one."""
    reader = csv.reader(io.StringIO(text, newline=""))
    lines = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                lines.append((reader.line_num, row))
    except csv.Error as exc:
        number = reader.line_num
        limit = csv.field_size_limit()
        if "field larger than field limit" in str(exc):
            physical = text.splitlines()[number - 1] if number else ""
            cells = physical.split(",")
            column = next((i for i, c in enumerate(cells, 1) if len(c) > limit), len(cells))
            raise ValueError(
                f"{path}: row {number}, column {column}: a field longer than "
                f"{limit // 1024} KiB is not a number"
            ) from None
        raise ValueError(f"{path}: row {number}: not a readable CSV row ({exc})") from None
    return lines


def read_feature_table(path: Path, expected: int) -> FeatureTable:
    """A ``[n, expected]`` table from a CSV (optional header row) or a ``.npy`` file.

    A UTF-8 byte-order mark is dropped. The first CSV row is a header only when none of its
    cells parses as a number; any other row with a non-number is an error. A ``.npy`` of
    images ``[n, 28, 28]`` is flattened to rows of pixels. FileNotFoundError for a missing
    file; ValueError for an unreadable, ragged, non-numeric, wrong-width or non-finite input,
    or a value beyond float32's range (the model computes in float32), naming row and column;
    also for a folder, a FIFO or device, a file over 256 MiB, an object-dtype ``.npy`` (never
    unpickled) or one whose header declares more data than the file holds (checked before
    anything is allocated).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    raw = _read_input(path)
    header: list[str] | None = None
    if path.suffix == ".npy":
        array = _npy_array(path, raw)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: expected a numeric array, got dtype {array.dtype}")
        if array.ndim >= 2 and array.shape[0] == 0:
            raise ValueError(f"{path}: the array has no rows (shape {list(array.shape)})")
        array = array.reshape(1, -1) if array.ndim == 1 else array
        if array.ndim > 2:  # images [n, 28, 28] -> rows of pixels, as the model was trained
            array = array.reshape(len(array), -1)
        if array.ndim != 2:
            raise ValueError(
                f"{path}: expected a 2-D array [rows, {expected}], got shape {list(array.shape)}"
            )
        rows = array.astype(np.float64)
        numbers = list(range(1, len(rows) + 1))
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a UTF-8 text CSV file") from None
        lines = _csv_rows(path, text)
        if not lines:
            raise ValueError(f"{path}: the CSV file has no rows")
        if not any(_parses(cell) for cell in lines[0][1]):  # no number at all: a header
            header = [cell.strip() for cell in lines[0][1]]
            lines = lines[1:]
        rows_list, numbers = [], []
        for number, row in lines:
            values = []
            for column, cell in enumerate(row, 1):
                try:
                    values.append(float(cell))
                except ValueError:
                    raise ValueError(
                        f"{path}: row {number}, column {column}: {cell.strip()[:40]!r} is not "
                        "a number"
                    ) from None
            rows_list.append(values)
            numbers.append(number)
        if not rows_list:
            raise ValueError(f"{path}: the CSV file has a header but no data rows")
        widths = {len(r) for r in rows_list}
        if len(widths) != 1:
            raise ValueError(f"{path}: rows have different numbers of columns ({sorted(widths)})")
        rows = np.asarray(rows_list, dtype=np.float64)
    if rows.shape[1] != expected:
        raise ValueError(
            f"{path}: the model expects {expected} columns per row, the file has {rows.shape[1]}"
        )
    bad = ~np.isfinite(rows) | (np.abs(np.nan_to_num(rows)) > FLOAT32_MAX)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        value = rows[r, c]
        why = "is not finite" if not np.isfinite(value) else "is beyond float32's range (3.4e38)"
        raise ValueError(f"{path}: row {numbers[r]}, column {c + 1}: {value:g} {why}")
    if header is not None and len(header) != rows.shape[1]:
        raise ValueError(f"{path}: the header has {len(header)} columns, the rows {rows.shape[1]}")
    return FeatureTable(rows, header, numbers)


def read_features(path: Path, expected: int) -> np.ndarray:
    """The rows of :func:`read_feature_table` (``[n, expected]`` float64)."""
    return read_feature_table(path, expected).rows
