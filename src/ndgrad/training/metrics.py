"""Predictions and metrics: accuracy for classifiers, MSE and R² for regressors (scikit-learn's
accuracy_score, mean_squared_error, r2_score)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import ndgrad
from ndgrad import nn
from ndgrad.training.data import Scaling, Split
from ndgrad.training.models import ModelSpec, loss_function, target_tensor

Metrics = dict[str, float]


@dataclass
class Predictions:
    """A model's outputs for a batch of rows.

    Classifiers fill ``classes`` (``[n]`` int) and ``probs`` (``[n, k]``); regressors fill
    ``values`` (``[n]``, on the scale the model was trained on unless noted otherwise).
    """

    classes: np.ndarray | None = None
    probs: np.ndarray | None = None
    values: np.ndarray | None = None


EVAL_BATCH = 1024  # rows per forward pass when evaluating (bounds a CNN's activations)


def _outputs(model: nn.Module, X: np.ndarray) -> ndgrad.Tensor:
    """The model's outputs for all rows of ``X``, computed ``EVAL_BATCH`` rows at a time."""
    with ndgrad.no_grad():
        if len(X) <= EVAL_BATCH:
            return model(ndgrad.tensor(X.astype(np.float32)))
        parts = [
            model(ndgrad.tensor(X[i : i + EVAL_BATCH].astype(np.float32))).numpy()
            for i in range(0, len(X), EVAL_BATCH)
        ]
        return ndgrad.tensor(np.concatenate(parts))


def _predictions(spec: ModelSpec, out: ndgrad.Tensor) -> Predictions:
    if spec.loss == "cross_entropy":
        probs = out.softmax(dim=1).numpy()
        return Predictions(classes=probs.argmax(1), probs=probs)
    if spec.loss == "bce":
        p1 = out.sigmoid().reshape(-1).numpy()
        return Predictions(classes=(p1 > 0.5).astype(np.int64), probs=np.stack([1 - p1, p1], 1))
    return Predictions(values=out.reshape(-1).numpy().astype(np.float64))


def predict(model: nn.Module, spec: ModelSpec, X: np.ndarray) -> Predictions:
    """Outputs for standardised features: class + probabilities, or the (scaled) value."""
    return _predictions(spec, _outputs(model, X))


def compute_metrics(
    model: nn.Module,
    spec: ModelSpec,
    X: np.ndarray,
    y: np.ndarray,
    target_stats: tuple[float, float] = (0.0, 1.0),
) -> Metrics:
    """Metrics on standardised features ``X`` and raw targets ``y``.

    Classification: ``{"loss", "accuracy"}``. Regression: ``{"loss", "mse", "r2"}``, where the
    loss is on the standardised scale and MSE/R² on the raw one (``target_stats`` is the
    target's ``(mean, std)``).
    """
    from sklearn.metrics import accuracy_score, mean_squared_error, r2_score

    out = _outputs(model, X)
    pred = _predictions(spec, out)
    if spec.task == "classification":
        with ndgrad.no_grad():
            loss = loss_function(spec)(out, target_tensor(spec, y)).item()
        # per token for sequence targets: both flattened (a no-op for one label per row)
        accuracy = accuracy_score(np.ravel(y), np.ravel(pred.classes))
        return {"loss": loss, "accuracy": float(accuracy)}
    mean, std = target_stats
    values = pred.values * std + mean
    if not np.all(np.isfinite(values)):  # a diverged model: scikit-learn refuses NaN/inf
        return {"loss": float("nan"), "mse": float("nan"), "r2": float("nan")}
    mse = float(mean_squared_error(y, values))
    # R² is undefined for a constant target: NaN, not scikit-learn's "force_finite" 0 or 1
    r2 = float(r2_score(y, values, force_finite=False)) if np.ptp(y) > 0 else float("nan")
    return {"loss": mse / std**2, "mse": mse, "r2": r2}


def check_compatible(spec: ModelSpec, split: Split) -> None:
    """ValueError unless a model built from ``spec`` can be evaluated on ``split``."""
    if split.num_features != spec.in_features:
        raise ValueError(
            f"the model takes {spec.in_features} features but {split.name!r} has "
            f"{split.num_features}"
        )
    if spec.task != split.task:
        raise ValueError(f"the model does {spec.task} but {split.name!r} is a {split.task} set")
    if split.task == "classification" and split.num_classes > max(2, spec.out_features):
        raise ValueError(
            f"{split.name!r} has {split.num_classes} classes, the model "
            f"predicts {spec.out_features}"
        )


def evaluate(
    model: nn.Module, spec: ModelSpec, scaling: Scaling, split: Split
) -> dict[str, Metrics]:
    """Metrics on both parts of ``split``: ``{"train": ..., split.val_name: ...}``."""
    check_compatible(spec, split)
    stats = scaling.target_stats
    return {
        "train": compute_metrics(
            model, spec, scaling.features(split.X_train), split.y_train, stats
        ),
        split.val_name: compute_metrics(
            model, spec, scaling.features(split.X_val), split.y_val, stats
        ),
    }


@dataclass
class ClassificationReport:
    """A classifier's confusion matrix (rows: true class, columns: predicted) and
    scikit-learn's per-class report on one part of a split."""

    labels: list[str]
    confusion: np.ndarray
    report: dict[str, Any]  # classification_report(output_dict=True)
    text: str  # classification_report as printed


def classification_report(
    model: nn.Module, spec: ModelSpec, scaling: Scaling, X: np.ndarray, y: np.ndarray,
    class_names: list[str] | None,
) -> ClassificationReport:  # fmt: skip
    """scikit-learn's ``confusion_matrix`` and ``classification_report`` for raw rows ``X``
    with labels ``y`` (every class listed, even one never predicted)."""
    from sklearn import metrics as skm

    pred = np.ravel(predict(model, spec, scaling.features(X)).classes)
    y = np.ravel(y)  # sequence targets: one label per token
    k = len(class_names) if class_names else int(max(y.max(), pred.max())) + 1
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    labels = list(range(k))
    kwargs: dict[str, Any] = {"labels": labels, "target_names": names, "zero_division": 0}
    return ClassificationReport(
        names,
        skm.confusion_matrix(y, pred, labels=labels),
        skm.classification_report(y, pred, output_dict=True, **kwargs),
        skm.classification_report(y, pred, digits=3, **kwargs),
    )
