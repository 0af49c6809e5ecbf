"""Figures of a training run: loss and metric curves, confusion matrix, sample predictions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ndgrad import plot
from ndgrad.training.checkpoint import history_columns
from ndgrad.training.loop import TrainingResult
from ndgrad.training.metrics import predict


def write_plots(result: TrainingResult, folder: str | os.PathLike[str]) -> list[Path]:
    """Writes ``loss``, ``metrics`` and, for classifiers, ``confusion`` (and ``predictions``
    for image sets) as PNG and SVG into ``folder``; returns the files written."""
    out = Path(folder)
    ckpt, split = result.checkpoint, result.split
    history = history_columns(ckpt.history)
    losses = {k: v for k, v in history.items() if k.endswith("loss")}
    scores = {k: v for k, v in history.items() if not k.endswith("loss")}
    title = f"{ckpt.spec.model} on {ckpt.dataset}"
    paths: list[Path] = []
    paths += plot.save_figure(plot.training_curves(losses, title + ": loss"), out, "loss")
    paths += plot.save_figure(plot.training_curves(scores, title), out, "metrics")
    if ckpt.spec.task == "classification":
        from sklearn.metrics import confusion_matrix

        X_val = ckpt.scaling.features(split.X_val)
        pred = predict(result.model, ckpt.spec, X_val).classes
        names = split.class_names or []
        cm = confusion_matrix(np.ravel(split.y_val), np.ravel(pred), labels=list(range(len(names))))
        paths += plot.save_figure(plot.confusion_matrix(cm, names), out, "confusion")
        if split.image_shape:
            images = split.X_val[:24].reshape(-1, *split.image_shape)
            fig = plot.image_predictions(images, split.y_val[:24], pred[:24], names)
            paths += plot.save_figure(fig, out, "predictions")
    return paths
