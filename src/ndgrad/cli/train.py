"""``ndgrad train`` / ``ndgrad evaluate`` / ``ndgrad predict``: the training workflow.

``train MODEL --data DATASET`` builds the model with ``ndgrad.nn``, trains it with
``ndgrad.optim`` on minibatches from ``ndgrad.utils.data.DataLoader`` (features standardised
with the training split's statistics), shows a live progress bar, then prints a table of
train/validation metrics, writes loss and accuracy plots and a checkpoint (``ndgrad.save``)
holding everything ``evaluate`` and ``predict`` need to rebuild the model.

Bad input (unknown names, impossible hyper-parameters, missing or corrupt files, CSVs of the
wrong width) ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import typer

MODELS = ("linreg", "logistic", "softmax", "mlp")
DATASETS = ("synthetic", "digits", "iris", "wine", "breast-cancer", "diabetes", "fashion-mnist")
OPTIMIZERS = ("sgd", "adam")
CHECKPOINT_KIND = "ndgrad.train.checkpoint"
CHECKPOINT_NAME = "checkpoint.ndgrad"

# Defaults chosen so every model reaches its target quickly (a few seconds on 2 cores);
# (model, dataset) entries override the model's row.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "linreg": {"epochs": 60, "lr": 0.01, "batch_size": 16, "optimizer": "sgd"},
    "logistic": {"epochs": 30, "lr": 0.1, "batch_size": 32, "optimizer": "sgd"},
    "softmax": {"epochs": 30, "lr": 0.1, "batch_size": 32, "optimizer": "sgd"},
    "mlp": {"epochs": 20, "lr": 1e-3, "batch_size": 64, "optimizer": "adam"},
}
_DATASET_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("linreg", "synthetic"): {"epochs": 3, "lr": 0.03, "batch_size": 10},
    ("mlp", "fashion-mnist"): {"epochs": 10, "batch_size": 256},
    ("softmax", "fashion-mnist"): {"epochs": 10, "batch_size": 256},
}


def single_blas_thread() -> Any:
    """Limits BLAS to one thread: for these small matrices threads only add overhead, and on
    a busy machine (a parallel test run) spinning BLAS threads slow training 10-50 times."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, change nothing
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class CLIError(Exception):
    """Bad input: reported as one line on stderr with exit code 2."""


def _fail(command: str, exc: BaseException) -> typer.Exit:
    if os.environ.get("NDGRAD_DEBUG"):
        raise exc
    if isinstance(exc, (CLIError, ValueError, OSError, RuntimeError, KeyError, TypeError)):
        message, code = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc), 2
        if isinstance(exc, KeyError):
            message = f"missing entry {exc}"
    else:
        message, code = (
            f"internal error: {type(exc).__name__}: {exc} (NDGRAD_DEBUG=1 shows more)",
            1,
        )
    typer.echo(f"ndgrad {command}: error: {message}", err=True)
    return typer.Exit(code)


# ----------------------------------------------------------------------------- data
@dataclass
class Split:
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

    @property
    def num_features(self) -> int:
        return int(self.X_train.shape[1])


def load_split(name: str, val_split: float, seed: int, data_dir: str | None = None) -> Split:
    """The dataset ``name`` divided into train and validation (or official test) parts."""
    if name not in DATASETS:
        raise CLIError(f"unknown dataset {name!r}; choose from: {', '.join(DATASETS)}")
    if not 0.0 < val_split < 1.0:
        raise CLIError(f"--val-split must lie strictly between 0 and 1, got {val_split}")
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
        )
    from ndgrad.datasets.sklearn_sets import load_sklearn, split_indices

    if name == "synthetic":
        import ndgrad
        from ndgrad.datasets.synthetic import synthetic_data

        ndgrad.manual_seed(seed)
        features, labels = synthetic_data(ndgrad.tensor([2.0, -3.4]), 4.2, 1000)
        X = features.numpy().astype(np.float64)
        y = labels.reshape(-1).numpy().astype(np.float64)
        train, val = split_indices(len(X), val_split, seed)
        return Split(
            name, "regression", X[train], y[train], X[val], y[val], feature_names=["x1", "x2"]
        )
    data = load_sklearn(name)
    stratify = data.y if data.task == "classification" else None
    train, val = split_indices(len(data), val_split, seed, stratify)
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
    )


# ----------------------------------------------------------------------------- models
def build_model(spec: dict[str, Any]) -> Any:
    """The network a spec describes (specs are stored in checkpoints)."""
    from ndgrad import nn

    d, out = int(spec["in_features"]), int(spec["out_features"])
    if spec["model"] == "mlp":
        layers: list[Any] = []
        width = d
        for h in spec["hidden"]:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, out))
        return nn.Sequential(*layers)
    return nn.Sequential(nn.Linear(d, out))


def model_spec(model: str, split: Split, hidden: list[int]) -> dict[str, Any]:
    classes = len(split.class_names or [])
    if model == "linreg" and split.task != "regression":
        raise CLIError(
            f"linreg needs a regression dataset (synthetic, diabetes); {split.name!r} "
            "is a classification set: use softmax or logistic"
        )
    if model in ("logistic", "softmax") and split.task != "classification":
        raise CLIError(
            f"{model} needs a classification dataset; {split.name!r} is a regression "
            "set: use linreg or mlp"
        )
    if model == "logistic" and classes != 2:
        raise CLIError(
            f"logistic regression needs 2 classes; {split.name!r} has {classes}: use softmax"
        )
    if split.task == "regression":
        out, loss = 1, "mse"
    elif model == "logistic":
        out, loss = 1, "bce"
    else:
        out, loss = classes, "cross_entropy"
    return {
        "model": model,
        "in_features": split.num_features,
        "out_features": out,
        "hidden": hidden if model == "mlp" else [],
        "task": split.task,
        "loss": loss,
    }


def _loss_fn(spec: dict[str, Any]) -> Any:
    from ndgrad import nn

    return {"mse": nn.MSELoss, "bce": nn.BCEWithLogitsLoss, "cross_entropy": nn.CrossEntropyLoss}[
        spec["loss"]
    ]()


def _targets(spec: dict[str, Any], y: np.ndarray) -> Any:
    import ndgrad

    if spec["loss"] == "cross_entropy":
        return ndgrad.tensor(y.astype(np.int64))
    return ndgrad.tensor(y.astype(np.float32).reshape(-1, 1))


# ----------------------------------------------------------------------------- metrics
def predict_arrays(model: Any, spec: dict[str, Any], X: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs for standardised features: class + probabilities, or the (scaled) value."""
    import ndgrad

    with ndgrad.no_grad():
        out = model(ndgrad.tensor(X.astype(np.float32)))
    if spec["loss"] == "cross_entropy":
        probs = out.softmax(dim=1).numpy()
        return {"class": probs.argmax(1), "probs": probs}
    if spec["loss"] == "bce":
        p1 = out.sigmoid().reshape(-1).numpy()
        return {"class": (p1 > 0.5).astype(np.int64), "probs": np.stack([1 - p1, p1], 1)}
    return {"value": out.reshape(-1).numpy().astype(np.float64)}


def compute_metrics(
    model: Any,
    spec: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    target_stats: tuple[float, float],
) -> dict[str, float]:
    import ndgrad

    pred = predict_arrays(model, spec, X)
    loss_fn = _loss_fn(spec)
    if spec["task"] == "classification":
        with ndgrad.no_grad():
            loss = loss_fn(model(ndgrad.tensor(X.astype(np.float32))), _targets(spec, y)).item()
        return {"loss": loss, "accuracy": float(np.mean(pred["class"] == y))}
    mean, std = target_stats
    values = pred["value"] * std + mean
    residual = values - y
    mse = float(np.mean(residual**2))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else float("nan")
    return {"loss": float(np.mean((residual / std) ** 2)), "mse": mse, "r2": r2}


# ----------------------------------------------------------------------------- train
def _hyper(model: str, dataset: str, given: dict[str, Any]) -> dict[str, Any]:
    merged = dict(_DEFAULTS[model])
    merged.update(_DATASET_DEFAULTS.get((model, dataset), {}))
    merged.update({k: v for k, v in given.items() if v is not None})
    if merged["epochs"] < 1:
        raise CLIError(f"--epochs must be at least 1, got {merged['epochs']}")
    if not (merged["lr"] > 0 and math.isfinite(merged["lr"])):
        raise CLIError(f"--lr must be a positive number, got {merged['lr']}")
    if merged["batch_size"] < 1:
        raise CLIError(f"--batch-size must be at least 1, got {merged['batch_size']}")
    if merged["optimizer"] not in OPTIMIZERS:
        raise CLIError(
            f"unknown optimizer {merged['optimizer']!r}; choose from: {', '.join(OPTIMIZERS)}"
        )
    if not merged.get("weight_decay", 0.0) >= 0:
        raise CLIError(f"--weight-decay must be non-negative, got {merged['weight_decay']}")
    return merged


def _parse_hidden(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CLIError(
            f"--hidden must be a comma list of layer widths like 256,128, got {text!r}"
        ) from None
    if not sizes or any(s < 1 for s in sizes):
        raise CLIError(f"--hidden must list positive layer widths, got {text!r}")
    return sizes


def _make_optimizer(name: str, params: Any, lr: float, weight_decay: float) -> Any:
    from ndgrad import optim

    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return optim.SGD(params, lr=lr, weight_decay=weight_decay)


def run_training(
    model_name: str,
    dataset: str,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    optimizer: str | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    val_split: float = 0.2,
    hidden: str = "256,128",
    data_dir: str | None = None,
    console: Any = None,
) -> dict[str, Any]:
    """Trains and returns the checkpoint dict (model/optimizer state, spec, stats, metrics)."""
    import ndgrad
    from ndgrad.utils.data import DataLoader, TensorDataset

    if model_name not in MODELS:
        raise CLIError(f"unknown model {model_name!r}; choose from: {', '.join(MODELS)}")
    hp = _hyper(
        model_name,
        dataset,
        {
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "optimizer": optimizer,
            "weight_decay": weight_decay,
        },
    )
    hidden_sizes = _parse_hidden(hidden)
    split = load_split(dataset, val_split, seed, data_dir)
    spec = model_spec(model_name, split, hidden_sizes)

    # Standardise with the training split's statistics only (stored for evaluate/predict).
    mean = split.X_train.mean(0)
    std = split.X_train.std(0)
    std = np.where(std > 1e-8, std, 1.0)  # constant columns (blank pixels) stay as they are
    X_train = (split.X_train - mean) / std
    X_val = (split.X_val - mean) / std
    if split.task == "regression":
        target_stats = (float(split.y_train.mean()), float(split.y_train.std() or 1.0))
        y_fit = (split.y_train - target_stats[0]) / target_stats[1]
    else:
        target_stats = (0.0, 1.0)
        y_fit = split.y_train

    ndgrad.manual_seed(seed)
    model = build_model(spec)
    opt = _make_optimizer(hp["optimizer"], model.parameters(), hp["lr"], hp["weight_decay"])
    loss_fn = _loss_fn(spec)
    loader = DataLoader(
        TensorDataset(ndgrad.tensor(X_train.astype(np.float32)), _targets(spec, y_fit)),
        batch_size=hp["batch_size"],
        shuffle=True,
    )
    classify = split.task == "classification"
    history: dict[str, list[float]] = {"train loss": [], f"{split.val_name} loss": []}
    metric = "accuracy" if classify else "r2"
    history[f"train {metric}"], history[f"{split.val_name} {metric}"] = [], []

    progress = _progress(console)
    start = time.perf_counter()
    # Fashion-MNIST's 784-wide batches are big enough to gain from BLAS threads; the rest not.
    threads = contextlib.nullcontext() if dataset == "fashion-mnist" else single_blas_thread()
    with progress, threads:
        width = len(str(hp["epochs"]))
        for epoch in range(1, hp["epochs"] + 1):
            # One bar per epoch: it fills with the live training loss/accuracy, then keeps the
            # epoch's validation numbers as a log line.
            label = f"epoch {epoch:>{width}}/{hp['epochs']}"
            task = progress.add_task(label, total=len(loader), status="")
            model.train()
            seen, total_loss, correct = 0, 0.0, 0
            for X, y in loader:
                out = model(X)
                loss = loss_fn(out, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                n = len(y)
                seen += n
                total_loss += loss.item() * n
                if classify:
                    pred = (
                        out.argmax(dim=1) if spec["loss"] == "cross_entropy" else (out > 0).long()
                    )
                    correct += int((pred.reshape(-1) == y.reshape(-1).long()).sum().item())
                status = f"loss {total_loss / seen:.4f}" + (
                    f" acc {correct / seen:.3f}" if classify else ""
                )
                progress.update(task, advance=1, status=status)
            model.eval()
            train_m = compute_metrics(model, spec, X_train, split.y_train, target_stats)
            val_m = compute_metrics(model, spec, X_val, split.y_val, target_stats)
            history["train loss"].append(train_m["loss"])
            history[f"{split.val_name} loss"].append(val_m["loss"])
            history[f"train {metric}"].append(train_m[metric])
            history[f"{split.val_name} {metric}"].append(val_m[metric])
            shown = "acc" if classify else "R²"
            short = "val" if split.val_name == "validation" else split.val_name
            progress.update(task, status=f"{status} │ {short} loss {val_m['loss']:.4f} "
                                         f"{shown} {val_m[metric]:.3f}")  # fmt: skip
    seconds = time.perf_counter() - start
    return {
        "kind": CHECKPOINT_KIND,
        "version": 1,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "spec": spec,
        "dataset": dataset,
        "hyperparameters": {**hp, "seed": seed, "val_split": val_split},
        "feature_mean": mean,
        "feature_std": std,
        "target_mean": target_stats[0],
        "target_std": target_stats[1],
        "class_names": split.class_names,
        "feature_names": split.feature_names,
        "val_name": split.val_name,
        "metrics": {"train": train_m, split.val_name: val_m, "seconds": seconds},
        "history": history,
        "_model_object": model,  # not saved: used for the plots
        "_split": split,
    }


def _progress(console: Any) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(bar_width=16),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                    console=console, transient=False, disable=console is None)  # fmt: skip


def _metrics_table(title: str, metrics: dict[str, Any], classify: bool) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("split")
    table.add_column("loss", justify="right")
    columns = ["accuracy"] if classify else ["mse", "r2"]
    for c in columns:
        table.add_column("R²" if c == "r2" else c.upper() if c == "mse" else c, justify="right")
    for split, values in metrics.items():
        if not isinstance(values, dict):
            continue
        table.add_row(split, f"{values['loss']:.4f}", *(f"{values[c]:.4f}" for c in columns))
    return table


def _write_plots(ckpt: dict[str, Any], out: Path) -> list[Path]:
    from ndgrad import plot

    history, paths = ckpt["history"], []
    losses = {k: v for k, v in history.items() if k.endswith("loss")}
    scores = {k: v for k, v in history.items() if not k.endswith("loss")}
    title = f"{ckpt['spec']['model']} on {ckpt['dataset']}"
    paths += plot.save_figure(plot.training_curves(losses, title + ": loss"), out, "loss")
    paths += plot.save_figure(plot.training_curves(scores, title), out, "metrics")
    split = ckpt["_split"]
    if ckpt["spec"]["task"] == "classification":
        X_val = (split.X_val - ckpt["feature_mean"]) / ckpt["feature_std"]
        pred = predict_arrays(ckpt["_model_object"], ckpt["spec"], X_val)["class"]
        k = len(split.class_names)
        cm = plot.confusion_counts(split.y_val, pred, k)
        paths += plot.save_figure(plot.confusion_matrix(cm, split.class_names), out, "confusion")
        if split.image_shape:
            images = split.X_val[:24].reshape(-1, *split.image_shape)
            fig = plot.image_predictions(images, split.y_val[:24], pred[:24], split.class_names)
            paths += plot.save_figure(fig, out, "predictions")
    return paths


def _console(as_json: bool) -> Any:
    from rich.console import Console

    return Console(stderr=as_json, highlight=False)


def train(
    model: str = typer.Argument(..., help=f"One of: {', '.join(MODELS)}."),
    data: str = typer.Option(..., "--data", "-d", help=f"One of: {', '.join(DATASETS)}."),
    epochs: int = typer.Option(None, "--epochs", help="Passes over the training set."),
    lr: float = typer.Option(None, "--lr", help="Learning rate."),
    batch_size: int = typer.Option(None, "--batch-size", help="Minibatch size."),
    optimizer: str = typer.Option(None, "--optimizer", help="sgd or adam."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="L2 penalty."),
    seed: int = typer.Option(0, "--seed", help="Seed for the split, the init and shuffling."),
    val_split: float = typer.Option(0.2, "--val-split", help="Fraction held out to validate."),
    hidden: str = typer.Option("256,128", "--hidden", help="MLP hidden layer widths."),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with Fashion-MNIST files."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for checkpoint and plots."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the figures."),
    as_json: bool = typer.Option(False, "--json", help="Print the final metrics as JSON."),
) -> None:
    """Train MODEL on a dataset; print metrics, write plots and a checkpoint."""
    import ndgrad

    console = _console(as_json)
    try:
        ckpt = run_training(
            model,
            data,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            weight_decay=weight_decay,
            seed=seed,
            val_split=val_split,
            hidden=hidden,
            data_dir=data_dir,
            console=console,
        )
        folder = out or Path("runs") / f"{model}-{data}"
        folder.mkdir(parents=True, exist_ok=True)
        figures = [] if no_plots else _write_plots(ckpt, folder)
        saved = {k: v for k, v in ckpt.items() if not k.startswith("_")}
        path = folder / CHECKPOINT_NAME
        ndgrad.save(saved, path)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        raise _fail("train", exc) from None
    classify = ckpt["spec"]["task"] == "classification"
    console.print(_metrics_table(f"{model} on {data}", ckpt["metrics"], classify))
    # soft_wrap: a long path stays on one line, so it can be copied
    console.print(
        f"checkpoint: {path}" + (f"; plots: {folder}/" if figures else ""), soft_wrap=True
    )
    if as_json:
        payload = {
            "model": model,
            "dataset": data,
            "checkpoint": str(path),
            "metrics": ckpt["metrics"],
            "hyperparameters": ckpt["hyperparameters"],
            "figures": [str(p) for p in figures],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")


# ----------------------------------------------------------------------------- evaluate
def load_checkpoint(path: Path) -> tuple[dict[str, Any], Any]:
    """The checkpoint dict and the rebuilt model; CLIError if it is not a training checkpoint."""
    import ndgrad

    if not path.exists():
        raise CLIError(f"checkpoint not found: {path}")
    ckpt = ndgrad.load(path)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise CLIError(f"{path} is an ndgrad file but not a checkpoint written by ndgrad train")
    model = build_model(ckpt["spec"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    return ckpt, model


def evaluate(
    checkpoint: Path = typer.Argument(..., help="A checkpoint written by ndgrad train."),
    data: str = typer.Option(None, "--data", "-d", help="Dataset (default: the one trained on)."),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with Fashion-MNIST files."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Evaluate a checkpoint on the held-out split of a dataset (the same split as training)."""
    console = _console(as_json)
    try:
        ckpt, model = load_checkpoint(checkpoint)
        dataset = data or ckpt["dataset"]
        hp = ckpt["hyperparameters"]
        split = load_split(dataset, hp["val_split"], hp["seed"], data_dir)
        spec = ckpt["spec"]
        if split.num_features != spec["in_features"]:
            raise CLIError(
                f"the model takes {spec['in_features']} features but {dataset!r} has "
                f"{split.num_features}"
            )
        if spec["task"] != split.task:
            raise CLIError(f"the model does {spec['task']} but {dataset!r} is a {split.task} set")
        if split.task == "classification" and len(split.class_names or []) > max(
            2, spec["out_features"]
        ):
            raise CLIError(
                f"{dataset!r} has {len(split.class_names)} classes, the model "
                f"predicts {spec['out_features']}"
            )
        stats = (ckpt["target_mean"], ckpt["target_std"])
        mean, std = ckpt["feature_mean"], ckpt["feature_std"]
        metrics = {
            "train": compute_metrics(
                model, spec, (split.X_train - mean) / std, split.y_train, stats
            ),
            split.val_name: compute_metrics(
                model, spec, (split.X_val - mean) / std, split.y_val, stats
            ),
        }
    except Exception as exc:  # noqa: BLE001
        raise _fail("evaluate", exc) from None
    console.print(
        _metrics_table(f"{checkpoint} on {dataset}", metrics, split.task == "classification")
    )
    if as_json:
        sys.stdout.write(json.dumps({"dataset": dataset, "metrics": metrics}, indent=2) + "\n")


# ----------------------------------------------------------------------------- predict
def read_features(path: Path, expected: int) -> np.ndarray:
    """A [n, expected] float array from a CSV (optional header row) or a .npy file."""
    if not path.exists():
        raise CLIError(f"input file not found: {path}")
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise CLIError(f"{path}: not a readable .npy array ({exc})") from None
        if array.dtype.kind not in "biuf":
            raise CLIError(f"{path}: expected a numeric array, got dtype {array.dtype}")
        array = array.reshape(1, -1) if array.ndim == 1 else array
        if array.ndim > 2:  # images [n, 28, 28] -> rows of pixels, as the model was trained
            array = array.reshape(len(array), -1)
        if array.ndim != 2:
            raise CLIError(
                f"{path}: expected a 2-D array [rows, {expected}], got shape {list(array.shape)}"
            )
        rows = array.astype(np.float64)
    else:
        with open(path, newline="") as handle:
            lines = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
        if not lines:
            raise CLIError(f"{path}: the CSV file has no rows")
        rows_list = []
        for number, row in enumerate(lines, 1):
            try:
                rows_list.append([float(cell) for cell in row])
            except ValueError:
                if number == 1:
                    continue  # a header row
                raise CLIError(f"{path}: row {number} has a value that is not a number") from None
        if not rows_list:
            raise CLIError(f"{path}: the CSV file has a header but no data rows")
        widths = {len(r) for r in rows_list}
        if len(widths) != 1:
            raise CLIError(f"{path}: rows have different numbers of columns ({sorted(widths)})")
        rows = np.asarray(rows_list, dtype=np.float64)
    if rows.shape[1] != expected:
        raise CLIError(
            f"{path}: the model expects {expected} columns per row, the file has {rows.shape[1]}"
        )
    if not np.all(np.isfinite(rows)):
        raise CLIError(f"{path}: the input contains NaN or infinite values")
    return rows


def predict(
    checkpoint: Path = typer.Argument(..., help="A checkpoint written by ndgrad train."),
    input: Path = typer.Option(..., "--input", "-i", help="CSV or .npy of raw feature rows."),
    output: Path = typer.Option(None, "--output", help="Write the predictions CSV here."),
) -> None:
    """Predict for each row of a CSV or .npy file (raw features, standardised as in training)."""
    try:
        ckpt, model = load_checkpoint(checkpoint)
        spec = ckpt["spec"]
        rows = read_features(input, spec["in_features"])
        X = (rows - ckpt["feature_mean"]) / ckpt["feature_std"]
        pred = predict_arrays(model, spec, X)
        if spec["task"] == "classification":
            names = ckpt["class_names"] or [str(i) for i in range(pred["probs"].shape[1])]
            header = ["row", "class", "label", "probability"]
            body = [
                [i, int(c), names[int(c)], f"{pred['probs'][i, c]:.6f}"]
                for i, c in enumerate(pred["class"])
            ]
        else:
            values = pred["value"] * ckpt["target_std"] + ckpt["target_mean"]
            header, body = ["row", "prediction"], [[i, f"{v:.6g}"] for i, v in enumerate(values)]
        handle = open(output, "w", newline="") if output else sys.stdout  # noqa: SIM115
        try:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(body)
        finally:
            if output:
                handle.close()
    except Exception as exc:  # noqa: BLE001
        raise _fail("predict", exc) from None


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
