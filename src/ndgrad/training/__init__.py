"""Training library: what ``ndgrad train`` / ``evaluate`` / ``predict`` do, usable from Python.

    from ndgrad import training

    split = training.load_split("digits", val_split=0.2, seed=0)
    spec = training.ModelSpec.for_split("softmax", split)
    hyper = training.hyperparameters("softmax", "digits", epochs=5)
    result = training.fit(spec, split, hyper)
    print(result.metrics["validation"]["accuracy"])
    training.save_checkpoint(result.checkpoint, "run/checkpoint.ndgrad")
    ckpt = training.load_checkpoint("run/checkpoint.ndgrad")
    classes = ckpt.predict(ckpt.build_model(), raw_rows).classes

Modules: ``data`` (datasets, splits, scaling, feature files), ``models`` (specs, networks,
hyper-parameter defaults), ``loop`` (``fit``, ``train`` and their callbacks), ``metrics``, ``checkpoint``
(on-disk format), ``plots`` (figures), ``language`` (character-level RNN/GRU/LSTM language
models on The Time Machine: ``train_language_model``, ``predict_ch8``). Bad input raises
ValueError (``InvalidSetting`` for an impossible setting value, a split that would leave a
part empty), FileNotFoundError for a missing file. A run whose loss stops being finite, or
that is interrupted (Ctrl-C), raises ``TrainingStopped`` carrying the checkpoint worth keeping;
``fit(..., resume=checkpoint)`` continues one.
"""

from __future__ import annotations

from ndgrad.training import language
from ndgrad.training.checkpoint import (
    CHECKPOINT_KIND,
    CHECKPOINT_NAME,
    CHECKPOINT_VERSION,
    HISTORY_NAME,
    Checkpoint,
    History,
    history_columns,
    load_checkpoint,
    outlying_columns,
    save_checkpoint,
    write_history_csv,
)
from ndgrad.training.data import (
    DATASETS,
    TASKS,
    FeatureTable,
    Scaling,
    Split,
    load_split,
    read_feature_table,
    read_features,
    split_rows,
)
from ndgrad.training.errors import InvalidSetting, TrainingStopped
from ndgrad.training.loop import (
    BatchStats,
    EpochStats,
    FitCallback,
    TrainingResult,
    fit,
    single_blas_thread,
    train,
)
from ndgrad.training.metrics import (
    ClassificationReport,
    Metrics,
    Predictions,
    check_compatible,
    classification_report,
    compute_metrics,
    evaluate,
    predict,
)
from ndgrad.training.models import (
    DEFAULT_HIDDEN,
    LOSSES,
    MODELS,
    OPTIMIZERS,
    Hyperparameters,
    ModelSpec,
    build_model,
    hyperparameters,
    loss_function,
    make_optimizer,
    target_tensor,
)
from ndgrad.training.plots import write_plots

__all__ = [
    "CHECKPOINT_KIND",
    "CHECKPOINT_NAME",
    "CHECKPOINT_VERSION",
    "HISTORY_NAME",
    "DATASETS",
    "DEFAULT_HIDDEN",
    "LOSSES",
    "MODELS",
    "OPTIMIZERS",
    "TASKS",
    "BatchStats",
    "Checkpoint",
    "ClassificationReport",
    "EpochStats",
    "FeatureTable",
    "FitCallback",
    "History",
    "Hyperparameters",
    "InvalidSetting",
    "Metrics",
    "ModelSpec",
    "Predictions",
    "Scaling",
    "Split",
    "TrainingResult",
    "TrainingStopped",
    "build_model",
    "check_compatible",
    "classification_report",
    "compute_metrics",
    "evaluate",
    "fit",
    "history_columns",
    "hyperparameters",
    "load_checkpoint",
    "load_split",
    "loss_function",
    "make_optimizer",
    "outlying_columns",
    "predict",
    "read_feature_table",
    "read_features",
    "save_checkpoint",
    "single_blas_thread",
    "split_rows",
    "target_tensor",
    "train",
    "write_history_csv",
    "write_plots",
    "language",
]
