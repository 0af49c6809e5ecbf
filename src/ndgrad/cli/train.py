"""``ndgrad train`` / ``ndgrad evaluate`` / ``ndgrad predict``: the training workflow.

``train MODEL --data DATASET`` builds the model with ``ndgrad.nn``, trains it with
``ndgrad.optim`` on minibatches from ``ndgrad.utils.data.DataLoader`` (features standardised
with the training split's statistics), shows a live progress bar, then prints a table of
train/validation metrics, writes loss and accuracy plots and a checkpoint (``ndgrad.save``)
holding everything ``evaluate`` and ``predict`` need to rebuild the model.

The work is done by the library, :mod:`ndgrad.training`; this module parses the arguments and
prints. Bad input (unknown names, impossible hyper-parameters, missing or corrupt files, CSVs
of the wrong width) ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

import typer

from ndgrad import training
from ndgrad.training import DATASETS, MODELS


class CLIError(Exception):
    """Bad input: reported as one line on stderr with exit code 2."""


def _fail(command: str, exc: BaseException) -> typer.Exit:
    if os.environ.get("NDGRAD_DEBUG"):
        raise exc
    if isinstance(exc, (CLIError, ValueError, OSError, RuntimeError, KeyError, TypeError)):
        message, code = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc), 2
        if isinstance(exc, KeyError):
            message = f"missing entry {exc}"
        elif isinstance(exc, training.InvalidSetting):  # a setting is named by its option
            message = f"--{exc.name.replace('_', '-')} {exc.reason}"
    else:
        message, code = (
            f"internal error: {type(exc).__name__}: {exc} (NDGRAD_DEBUG=1 shows more)",
            1,
        )
    typer.echo(f"ndgrad {command}: error: {message}", err=True)
    return typer.Exit(code)


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


class _ProgressBars(training.FitCallback):
    """One bar per epoch: it fills with the live training loss/accuracy, then keeps the
    epoch's validation numbers as a log line."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=16),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                 console=console, transient=False,
                                 disable=console is None)  # fmt: skip
        self.started = False
        self.task: Any = None
        self.status = ""

    def on_epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        label = f"epoch {epoch:>{len(str(epochs))}}/{epochs}"
        self.task = self.progress.add_task(label, total=batches, status="")
        self.status = ""

    def on_batch_end(self, stats: training.BatchStats) -> None:
        self.status = f"loss {stats.loss:.4f}" + (
            f" acc {stats.accuracy:.3f}" if stats.accuracy is not None else ""
        )
        self.progress.update(self.task, advance=1, status=self.status)

    def on_epoch_end(self, stats: training.EpochStats) -> None:
        val = stats.validation
        classify = "accuracy" in val
        shown, value = ("acc", val["accuracy"]) if classify else ("R²", val["r2"])
        short = "val" if stats.val_name == "validation" else stats.val_name
        self.progress.update(self.task, status=f"{self.status} │ {short} loss {val['loss']:.4f} "
                                               f"{shown} {value:.3f}")  # fmt: skip

    def stop(self) -> None:
        if self.started:
            self.progress.stop()


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


def _console(as_json: bool) -> Any:
    from rich.console import Console

    return Console(stderr=as_json, highlight=False)


def train(
    model: str = typer.Argument(
        ...,
        help=f"One of: {', '.join(MODELS)} (lenet and resnet are CNNs for the image sets "
        "digits and fashion-mnist; transformer is for the sequence task reverse).",
    ),
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
    console = _console(as_json)
    bars = _ProgressBars(console)
    try:
        hyper = training.hyperparameters(
            model,
            data,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            weight_decay=weight_decay,
        )
        hidden_sizes = _parse_hidden(hidden)
        try:
            result = training.train(model, data, hyper, seed=seed, val_split=val_split,
                                    hidden=hidden_sizes, data_dir=data_dir,
                                    callback=bars)  # fmt: skip
        finally:
            bars.stop()
        folder = out or Path("runs") / f"{model}-{data}"
        folder.mkdir(parents=True, exist_ok=True)
        figures = [] if no_plots else training.write_plots(result, folder)
        path = training.save_checkpoint(result.checkpoint, folder / training.CHECKPOINT_NAME)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        raise _fail("train", exc) from None
    ckpt = result.checkpoint
    classify = ckpt.spec.task == "classification"
    console.print(_metrics_table(f"{model} on {data}", ckpt.metrics, classify))
    # soft_wrap: a long path stays on one line, so it can be copied
    console.print(
        f"checkpoint: {path}" + (f"; plots: {folder}/" if figures else ""), soft_wrap=True
    )
    if as_json:
        payload = {
            "model": model,
            "dataset": data,
            "checkpoint": str(path),
            "metrics": ckpt.metrics,
            "hyperparameters": ckpt.to_dict()["hyperparameters"],
            "figures": [str(p) for p in figures],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def evaluate(
    checkpoint: Path = typer.Argument(..., help="A checkpoint written by ndgrad train."),
    data: str = typer.Option(None, "--data", "-d", help="Dataset (default: the one trained on)."),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with Fashion-MNIST files."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Evaluate a checkpoint on the held-out split of a dataset (the same split as training)."""
    console = _console(as_json)
    try:
        ckpt = training.load_checkpoint(checkpoint)
        model = ckpt.build_model()
        dataset = data or ckpt.dataset
        split = training.load_split(dataset, ckpt.val_split, ckpt.seed, data_dir)
        metrics = training.evaluate(model, ckpt.spec, ckpt.scaling, split)
    except Exception as exc:  # noqa: BLE001
        raise _fail("evaluate", exc) from None
    console.print(
        _metrics_table(f"{checkpoint} on {dataset}", metrics, split.task == "classification")
    )
    if as_json:
        sys.stdout.write(json.dumps({"dataset": dataset, "metrics": metrics}, indent=2) + "\n")


def predict(
    checkpoint: Path = typer.Argument(..., help="A checkpoint written by ndgrad train."),
    input: Path = typer.Option(..., "--input", "-i", help="CSV or .npy of raw feature rows."),
    output: Path = typer.Option(None, "--output", help="Write the predictions CSV here."),
) -> None:
    """Predict for each row of a CSV or .npy file (raw features, standardised as in training)."""
    try:
        ckpt = training.load_checkpoint(checkpoint)
        model = ckpt.build_model()
        rows = training.read_features(input, ckpt.spec.in_features)
        pred = ckpt.predict(model, rows)
        if ckpt.spec.task == "classification":
            names = ckpt.class_names or [str(i) for i in range(pred.probs.shape[1])]
            header = ["row", "class", "label", "probability"]
            body = [
                [i, int(c), names[int(c)], f"{pred.probs[i, c]:.6f}"]
                for i, c in enumerate(pred.classes)
            ]
        else:
            header, body = (
                ["row", "prediction"],
                [[i, f"{v:.6g}"] for i, v in enumerate(pred.values)],
            )
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
