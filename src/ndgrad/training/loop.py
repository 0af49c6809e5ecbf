"""The training loop: minibatch training of a spec'd model on a split, with per-epoch metrics."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import ndgrad
from ndgrad import nn, optim
from ndgrad.training.checkpoint import Checkpoint, History
from ndgrad.training.data import Scaling, Split, load_split
from ndgrad.training.metrics import Metrics, check_compatible, compute_metrics
from ndgrad.training.models import (
    DEFAULT_HIDDEN,
    IMAGE_MODELS,
    SEQUENCE_MODELS,
    Hyperparameters,
    ModelSpec,
    build_model,
    hyperparameters,
    loss_function,
    make_optimizer,
    target_tensor,
)


def single_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Limits BLAS to one thread: for these small matrices threads only add overhead, and on
    a busy machine (a parallel test run) spinning BLAS threads slow training 10-50 times."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, change nothing
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@dataclass
class BatchStats:
    """Running figures of the current epoch after a minibatch step."""

    epoch: int
    batch: int  # 1-based
    batches: int
    seen: int  # training rows seen this epoch
    loss: float  # mean training loss over those rows
    accuracy: float | None  # running training accuracy; None for regression


@dataclass
class EpochStats:
    """Metrics at the end of an epoch, on the whole training and validation parts."""

    epoch: int
    epochs: int
    train: Metrics
    validation: Metrics
    val_name: str = "validation"  # "test" where the set has an official test part


class FitCallback:
    """Hooks :func:`fit` calls while it trains; subclass and override what you need."""

    def on_epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        """Before the first minibatch of ``epoch`` (1-based) of ``epochs``."""

    def on_batch_end(self, stats: BatchStats) -> None:
        """After each optimizer step."""

    def on_epoch_end(self, stats: EpochStats) -> None:
        """After the epoch's metrics are computed."""


@dataclass
class TrainingResult:
    """What :func:`fit` returns: the trained model and optimizer, the split it trained on,
    and the checkpoint that records it all (:func:`~ndgrad.training.save_checkpoint`)."""

    model: nn.Sequential
    optimizer: optim.Optimizer
    split: Split
    checkpoint: Checkpoint

    @property
    def spec(self) -> ModelSpec:
        return self.checkpoint.spec

    @property
    def history(self) -> History:
        return self.checkpoint.history

    @property
    def metrics(self) -> dict[str, Any]:
        """``{"train": {...}, <val_name>: {...}, "seconds": s}``."""
        return self.checkpoint.metrics


def fit(
    spec: ModelSpec,
    split: Split,
    hyper: Hyperparameters,
    *,
    seed: int | None = None,
    callback: FitCallback | None = None,
) -> TrainingResult:
    """Trains a fresh model built from ``spec`` on ``split`` (features standardised with the
    training part's statistics) and measures both parts after every epoch. ValueError if the
    spec does not fit the split (features, task, classes).

    ``seed`` (default: the split's) seeds the initialisation and the shuffling; checkpoints
    store it, and ``evaluate`` redraws the split with it.
    """
    check_compatible(spec, split)
    from ndgrad.utils.data import DataLoader, TensorDataset

    seed = split.seed if seed is None else seed
    callback = callback or FitCallback()
    if spec.model in SEQUENCE_MODELS:
        scaling = Scaling.identity(split.num_features)
    else:
        scaling = Scaling.from_split(split, per_feature=spec.model not in IMAGE_MODELS)
    X_train = scaling.features(split.X_train)
    X_val = scaling.features(split.X_val)
    target_stats = scaling.target_stats
    y_fit = scaling.targets(split.y_train) if split.task == "regression" else split.y_train

    ndgrad.manual_seed(seed)
    model = build_model(spec)
    opt = make_optimizer(hyper, model.parameters())
    loss_fn = loss_function(spec)
    loader = DataLoader(
        TensorDataset(ndgrad.tensor(X_train.astype(np.float32)), target_tensor(spec, y_fit)),
        batch_size=hyper.batch_size,
        shuffle=True,
    )
    classify = split.task == "classification"
    history = History("accuracy" if classify else "r2", split.val_name)

    start = time.perf_counter()
    # Fashion-MNIST's 784-wide batches are big enough to gain from BLAS threads; the rest not.
    threads = contextlib.nullcontext() if split.name == "fashion-mnist" else single_blas_thread()
    with threads:
        for epoch in range(1, hyper.epochs + 1):
            callback.on_epoch_start(epoch, hyper.epochs, len(loader))
            model.train()
            seen, total_loss, correct, predicted = 0, 0.0, 0, 0
            for batch, (X, y) in enumerate(loader, 1):
                out = model(X)
                loss = loss_fn(out, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                n = len(y)
                seen += n
                total_loss += loss.item() * n
                if classify:
                    pred = out.argmax(dim=1) if spec.loss == "cross_entropy" else (out > 0).long()
                    correct += int((pred.reshape(-1) == y.reshape(-1).long()).sum().item())
                    predicted += y.numel()  # one per row, or per position of a sequence
                callback.on_batch_end(
                    BatchStats(epoch, batch, len(loader), seen, total_loss / seen,
                               correct / predicted if classify else None)
                )  # fmt: skip
            model.eval()
            train_m = compute_metrics(model, spec, X_train, split.y_train, target_stats)
            val_m = compute_metrics(model, spec, X_val, split.y_val, target_stats)
            history.train_loss.append(train_m["loss"])
            history.val_loss.append(val_m["loss"])
            history.train_score.append(train_m[history.metric])
            history.val_score.append(val_m[history.metric])
            callback.on_epoch_end(EpochStats(epoch, hyper.epochs, train_m, val_m, split.val_name))
    seconds = time.perf_counter() - start
    checkpoint = Checkpoint(
        spec=spec,
        dataset=split.name,
        hyperparameters=hyper,
        seed=seed,
        val_split=split.val_split,
        model_state=model.state_dict(),
        optimizer_state=opt.state_dict(),
        scaling=scaling,
        class_names=split.class_names,
        feature_names=split.feature_names,
        val_name=split.val_name,
        train_metrics=train_m,
        val_metrics=val_m,
        seconds=seconds,
        history=history,
    )
    return TrainingResult(model, opt, split, checkpoint)


def train(
    model: str,
    dataset: str,
    hyper: Hyperparameters | None = None,
    *,
    seed: int = 0,
    val_split: float = 0.2,
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    data_dir: str | None = None,
    callback: FitCallback | None = None,
) -> TrainingResult:
    """Loads ``dataset``, sizes ``model`` for it and trains it (``hyper`` defaults to the
    model's defaults for that dataset, :func:`~ndgrad.training.hyperparameters`); what
    ``ndgrad train`` does. ValueError for unknown names or a model that does not fit the data.
    """
    hyper = hyper if hyper is not None else hyperparameters(model, dataset)
    split = load_split(dataset, val_split, seed, data_dir)
    spec = ModelSpec.for_split(model, split, hidden)
    return fit(spec, split, hyper, seed=seed, callback=callback)
