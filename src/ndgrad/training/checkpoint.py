"""Training checkpoints: everything ``evaluate`` and ``predict`` need to rebuild a model.

On disk a checkpoint is an ``ndgrad.save`` archive (atomic, no pickle) of a plain dict::

    {"kind": "ndgrad.train.checkpoint", "version": 1, "model": state_dict,
     "optimizer": state_dict, "spec": {...}, "dataset": str,
     "hyperparameters": {epochs, lr, batch_size, optimizer, weight_decay, seed, val_split},
     "feature_mean", "feature_std", "target_mean", "target_std", "class_names",
     "feature_names", "val_name", "metrics": {"train", <val_name>, "seconds"}, "history",
     "feature_min", "feature_max"}  (the last two: the raw training rows' range, optional)

:class:`Checkpoint` is the typed view of that dict (:meth:`Checkpoint.to_dict` /
:meth:`Checkpoint.from_dict`).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import ndgrad
from ndgrad import nn
from ndgrad.training.data import Scaling
from ndgrad.training.metrics import Metrics, Predictions, predict
from ndgrad.training.models import Hyperparameters, ModelSpec, build_model

CHECKPOINT_KIND = "ndgrad.train.checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.ndgrad"


@dataclass
class History:
    """Per-epoch loss and score (accuracy or R²) on the training and validation parts."""

    metric: str  # "accuracy" or "r2"
    val_name: str = "validation"
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_score: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Epochs recorded."""
        return len(self.train_loss)

    def to_dict(self) -> dict[str, list[float]]:
        """Curves keyed by label (``"train loss"``, ``"validation accuracy"``, ...)."""
        return {
            "train loss": self.train_loss,
            f"{self.val_name} loss": self.val_loss,
            f"train {self.metric}": self.train_score,
            f"{self.val_name} {self.metric}": self.val_score,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, list[float]], metric: str, val_name: str) -> History:
        """The history stored in a checkpoint."""
        return cls(
            metric,
            val_name,
            [float(v) for v in data["train loss"]],
            [float(v) for v in data[f"{val_name} loss"]],
            [float(v) for v in data[f"train {metric}"]],
            [float(v) for v in data[f"{val_name} {metric}"]],
        )


@dataclass
class Checkpoint:
    """A trained model's weights with its spec, data scaling, settings and results."""

    spec: ModelSpec
    dataset: str
    hyperparameters: Hyperparameters
    seed: int
    val_split: float
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any]
    scaling: Scaling
    class_names: list[str] | None
    feature_names: list[str]
    val_name: str
    train_metrics: Metrics
    val_metrics: Metrics
    seconds: float
    history: History
    # per-feature (min, max) of the raw training rows, to spot inputs far outside them;
    # None in checkpoints written before it was stored
    feature_range: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """``{"train": {...}, <val_name>: {...}, "seconds": s}``, as stored and printed."""
        return {
            "train": self.train_metrics,
            self.val_name: self.val_metrics,
            "seconds": self.seconds,
        }

    def build_model(self) -> nn.Sequential:
        """The trained network, in eval mode."""
        model = build_model(self.spec)
        model.load_state_dict(self.model_state)
        model.eval()
        return model

    def predict(self, model: nn.Module, rows: np.ndarray) -> Predictions:
        """Predictions for raw feature rows (standardised as in training); regression values
        come back on the target's raw scale."""
        pred = predict(model, self.spec, self.scaling.features(rows))
        if pred.values is not None:
            pred.values = self.scaling.unscale_targets(pred.values)
        return pred

    def to_dict(self) -> dict[str, Any]:
        """The plain dict written to disk."""
        return {
            "kind": CHECKPOINT_KIND,
            "version": CHECKPOINT_VERSION,
            "model": self.model_state,
            "optimizer": self.optimizer_state,
            "spec": self.spec.to_dict(),
            "dataset": self.dataset,
            "hyperparameters": {
                **asdict(self.hyperparameters),
                "seed": self.seed,
                "val_split": self.val_split,
            },
            "feature_mean": self.scaling.feature_mean,
            "feature_std": self.scaling.feature_std,
            "target_mean": self.scaling.target_mean,
            "target_std": self.scaling.target_std,
            "class_names": self.class_names,
            "feature_names": self.feature_names,
            "val_name": self.val_name,
            "metrics": self.metrics,
            "history": self.history.to_dict(),
            **(
                {"feature_min": self.feature_range[0], "feature_max": self.feature_range[1]}
                if self.feature_range is not None
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """The typed view of a loaded checkpoint dict; ValueError if it is not one, or if its
        ``class_names`` do not match the model's outputs (as scikit-learn's
        ``classification_report`` refuses ``target_names`` of the wrong length: no guessing)."""
        if not isinstance(data, Mapping) or data.get("kind") != CHECKPOINT_KIND:
            raise ValueError("not a checkpoint written by ndgrad train")
        spec = ModelSpec.from_dict(data["spec"])
        hp = dict(data["hyperparameters"])
        val_name = data["val_name"]
        metrics = data["metrics"]
        metric = "accuracy" if spec.task == "classification" else "r2"
        names = data["class_names"]
        if spec.task == "classification" and names is not None:
            # as scikit-learn's classification_report(target_names=...): an error, not a guess
            width = 2 if spec.loss == "bce" else spec.out_features
            if len(names) != width:
                raise ValueError(
                    f"the checkpoint names {len(names)} classes but its model has {width} "
                    "outputs; the checkpoint is inconsistent (retrain, or fix class_names)"
                )
        return cls(
            spec=spec,
            dataset=data["dataset"],
            hyperparameters=Hyperparameters(
                epochs=hp["epochs"],
                lr=hp["lr"],
                batch_size=hp["batch_size"],
                optimizer=hp["optimizer"],
                weight_decay=hp.get("weight_decay", 0.0),
            ),
            seed=hp["seed"],
            val_split=hp["val_split"],
            model_state=data["model"],
            optimizer_state=data["optimizer"],
            scaling=Scaling(
                np.asarray(data["feature_mean"]),
                np.asarray(data["feature_std"]),
                float(data["target_mean"]),
                float(data["target_std"]),
            ),
            class_names=data["class_names"],
            feature_names=list(data["feature_names"]),
            val_name=val_name,
            train_metrics=metrics["train"],
            val_metrics=metrics[val_name],
            seconds=float(metrics["seconds"]),
            history=History.from_dict(data["history"], metric, val_name),
            feature_range=(
                (np.asarray(data["feature_min"]), np.asarray(data["feature_max"]))
                if "feature_min" in data and "feature_max" in data
                else None
            ),
        )


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike[str]) -> Path:
    """Writes ``checkpoint`` to ``path`` with ``ndgrad.save`` (atomically); returns the path."""
    path = Path(path)
    ndgrad.save(checkpoint.to_dict(), path)
    return path


HISTORY_NAME = "history.csv"


def outlying_columns(
    rows: np.ndarray, feature_range: tuple[np.ndarray, np.ndarray], factor: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows_far, distance)``: which rows lie more than ``factor`` times a column's training
    span (at least 1e-8) beyond that column's training range, and by how many spans each
    column does at worst (0 inside)."""
    low, high = (np.asarray(a, np.float64) for a in feature_range)
    span = np.maximum(high - low, 1e-8)
    beyond = np.maximum(low - rows, 0.0) + np.maximum(rows - high, 0.0)
    distance = beyond / span
    return np.any(distance > factor, axis=1), distance.max(axis=0)


def write_history_csv(columns: Mapping[str, Sequence[float]], path: str | os.PathLike[str]) -> Path:
    """Writes per-epoch curves as a CSV (``epoch`` then one column per curve, full
    precision) beside a checkpoint, atomically (a temporary file renamed into place)."""
    path = Path(path)
    names = list(columns)
    epochs = max((len(v) for v in columns.values()), default=0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", *names])
            for i in range(epochs):
                writer.writerow([i + 1, *(repr(float(columns[n][i])) for n in names)])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def history_columns(history: History) -> dict[str, list[float]]:
    """The curves of ``history`` under unambiguous names: the losses are those of a full
    pass over each part after the epoch (not the running mean the progress bar shows)."""
    return {
        ("train loss (epoch end)" if k == "train loss" else k): v
        for k, v in history.to_dict().items()
    }


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """The checkpoint at ``path``. FileNotFoundError if absent; ValueError if the file is not
    an ndgrad archive, is corrupt, or was not written by ``ndgrad train``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    data = ndgrad.load(path)
    if isinstance(data, dict) and data.get("kind") == "ndgrad.train.language-model":
        raise ValueError(
            f"{path} is a language-model checkpoint (rnn, gru, lstm): "
            "generate text with ndgrad predict CHECKPOINT --prefix TEXT"
        )
    if not isinstance(data, dict) or data.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path} is an ndgrad file but not a checkpoint written by ndgrad train")
    return Checkpoint.from_dict(data)
