"""The training loop: minibatch training of a spec'd model on a split, with per-epoch metrics."""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import ndgrad
from ndgrad import nn, optim
from ndgrad.training.checkpoint import Checkpoint, History
from ndgrad.training.data import Scaling, Split, load_split
from ndgrad.training.errors import TrainingStopped
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


def data_parallel(model: nn.Module, batch_size: int) -> tuple[nn.Module, int, int]:
    """``(net, rank, world size)``: ``net`` is ``model`` wrapped in DistributedDataParallel when
    this process is one of several ranks (``ndgrad train --nproc N``), else ``model`` itself.
    The ``batch_size`` rows of a step are shared evenly by the ranks: ValueError otherwise."""
    from ndgrad import distributed as dist

    if not dist.is_initialized() or dist.get_world_size() == 1:
        return model, 0, 1
    world = dist.get_world_size()
    if batch_size % world:
        raise ValueError(
            f"--batch-size {batch_size} must be a multiple of --nproc {world} (each rank "
            "takes an equal share of every minibatch)"
        )
    return nn.parallel.DistributedDataParallel(model), dist.get_rank(), world


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


def _frozen(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of a state dict that later training steps do not change."""
    return copy.deepcopy(state)


def fit(
    spec: ModelSpec,
    split: Split,
    hyper: Hyperparameters,
    *,
    seed: int | None = None,
    callback: FitCallback | None = None,
    resume: Checkpoint | None = None,
) -> TrainingResult:
    """Trains a fresh model built from ``spec`` on ``split`` (features standardised with the
    training part's statistics) and measures both parts after every epoch. ValueError if the
    spec does not fit the split (features, task, classes).

    ``seed`` (default: the split's) seeds the initialisation and the shuffling; checkpoints
    store it, and ``evaluate`` redraws the split with it. ``resume`` continues a checkpoint
    for ``hyper.epochs`` more epochs: its weights, optimizer state (momentum, Adam's moments),
    scaling and history.

    A loss that is not finite (NaN, inf: the run diverged) stops training, and Ctrl-C
    (KeyboardInterrupt) too: both raise :class:`TrainingStopped` carrying the checkpoint worth
    keeping (the last epoch with finite losses, or the state at the interruption).
    """
    check_compatible(spec, split)
    from ndgrad.utils.data import DataLoader, TensorDataset

    seed = split.seed if seed is None else seed
    callback = callback or FitCallback()
    if resume is not None:
        scaling = resume.scaling
        done = resume.history.epochs
    elif spec.model in SEQUENCE_MODELS:
        scaling = Scaling.identity(split.num_features)
        done = 0
    else:
        scaling = Scaling.from_split(split, per_feature=spec.model not in IMAGE_MODELS)
        done = 0
    X_train = scaling.features(split.X_train)
    X_val = scaling.features(split.X_val)
    target_stats = scaling.target_stats
    y_fit = scaling.targets(split.y_train) if split.task == "regression" else split.y_train

    ndgrad.manual_seed(seed + done)  # a resumed run shuffles differently from its first part
    model = build_model(spec)
    opt = make_optimizer(hyper, model.parameters())
    if resume is not None:
        model.load_state_dict(resume.model_state)
        opt.load_state_dict(_frozen(resume.optimizer_state))
        for group in opt.param_groups:  # the settings of this run, the state of the last
            group["lr"], group["weight_decay"] = hyper.lr, hyper.weight_decay
    loss_fn = loss_function(spec)
    dataset = TensorDataset(ndgrad.tensor(X_train.astype(np.float32)), target_tensor(spec, y_fit))
    net, rank, world = data_parallel(model, hyper.batch_size)
    sampler = None
    if world > 1:  # each rank its share of every epoch's shuffle (seeded alike on every rank)
        from ndgrad.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(dataset, world, rank, shuffle=True, seed=seed + done)
        loader = DataLoader(dataset, batch_size=hyper.batch_size // world, sampler=sampler)
    else:
        loader = DataLoader(dataset, batch_size=hyper.batch_size, shuffle=True)
    classify = split.task == "classification"
    if resume is not None:
        old = resume.history
        history = History(old.metric, old.val_name, list(old.train_loss), list(old.val_loss),
                          list(old.train_score), list(old.val_score))  # fmt: skip
    else:
        history = History("accuracy" if classify else "r2", split.val_name)
    total_epochs = done + hyper.epochs
    feature_range = (split.X_train.min(0), split.X_train.max(0))
    seconds_before = resume.seconds if resume is not None else 0.0

    def checkpoint(train_m: Metrics, val_m: Metrics, frozen: bool) -> Checkpoint:
        def copy_of(x: Any) -> Any:
            return _frozen(x) if frozen else x

        return Checkpoint(
            spec=spec,
            dataset=split.name,
            hyperparameters=replace(hyper, epochs=history.epochs),
            seed=seed,
            val_split=split.val_split,
            model_state=copy_of(model.state_dict()),
            optimizer_state=copy_of(opt.state_dict()),
            scaling=scaling,
            class_names=split.class_names,
            feature_names=split.feature_names,
            val_name=split.val_name,
            train_metrics=dict(train_m),
            val_metrics=dict(val_m),
            seconds=seconds_before + time.perf_counter() - start,
            history=History(history.metric, history.val_name, list(history.train_loss),
                            list(history.val_loss), list(history.train_score),
                            list(history.val_score)),
            feature_range=feature_range,
        )  # fmt: skip

    last: Checkpoint | None = resume
    epoch, batch = done, 0
    start = time.perf_counter()
    # Fashion-MNIST's 784-wide batches are big enough to gain from BLAS threads; the rest not.
    threads = contextlib.nullcontext() if split.name == "fashion-mnist" else single_blas_thread()
    try:
        with threads, np.errstate(over="ignore", invalid="ignore"):  # divergence is reported
            for epoch in range(done + 1, total_epochs + 1):
                callback.on_epoch_start(epoch, total_epochs, len(loader))
                model.train()
                if sampler is not None:
                    sampler.set_epoch(epoch)
                seen, total_loss, correct, predicted = 0, 0.0, 0, 0
                for batch, (X, y) in enumerate(loader, 1):
                    out = net(X)
                    loss = loss_fn(out, y)
                    value = loss.item()
                    # One rank alone must not stop (the others would wait for it): with
                    # several, a divergence shows in the epoch's metrics, the same on all.
                    if world == 1 and not math.isfinite(value):
                        raise TrainingStopped(
                            f"the training loss became {value} at epoch {epoch}, batch {batch}: "
                            "the run diverged (try a smaller --lr)",
                            "diverged", last, epoch, batch,
                        )  # fmt: skip
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    n = len(y)
                    seen += n
                    total_loss += value * n
                    if classify:
                        pred = (out.argmax(dim=1) if spec.loss == "cross_entropy"
                                else (out > 0).long())  # fmt: skip
                        correct += int((pred.reshape(-1) == y.reshape(-1).long()).sum().item())
                        predicted += y.numel()  # one per row, or per position of a sequence
                    callback.on_batch_end(
                        BatchStats(epoch, batch, len(loader), seen, total_loss / seen,
                                   correct / predicted if classify else None)
                    )  # fmt: skip
                batch = 0
                model.eval()
                train_m = compute_metrics(model, spec, X_train, split.y_train, target_stats)
                val_m = compute_metrics(model, spec, X_val, split.y_val, target_stats)
                if not (math.isfinite(train_m["loss"]) and math.isfinite(val_m["loss"])):
                    raise TrainingStopped(
                        f"the loss after epoch {epoch} is not finite (train {train_m['loss']}, "
                        f"{split.val_name} {val_m['loss']}): the run diverged (try a smaller "
                        "--lr)",
                        "diverged", last, epoch, 0,
                    )  # fmt: skip
                history.train_loss.append(train_m["loss"])
                history.val_loss.append(val_m["loss"])
                history.train_score.append(train_m[history.metric])
                history.val_score.append(val_m[history.metric])
                last = checkpoint(train_m, val_m, frozen=epoch < total_epochs)
                callback.on_epoch_end(
                    EpochStats(epoch, total_epochs, train_m, val_m, split.val_name)
                )
    except KeyboardInterrupt:
        model.eval()
        keep = last
        if batch:  # stopped inside an epoch: keep the weights of the last step if finite
            train_m = compute_metrics(model, spec, X_train, split.y_train, target_stats)
            val_m = compute_metrics(model, spec, X_val, split.y_val, target_stats)
            if math.isfinite(train_m["loss"]) and math.isfinite(val_m["loss"]):
                keep = checkpoint(train_m, val_m, frozen=False)
        where = f"at epoch {epoch}, batch {batch}" if batch else f"after epoch {history.epochs}"
        raise TrainingStopped(f"interrupted {where}", "interrupted", keep, epoch, batch) from None
    assert last is not None
    return TrainingResult(model, opt, split, last)


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
