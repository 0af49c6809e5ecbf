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
import math
import os
import sys
from pathlib import Path
from typing import Any

import typer

from ndgrad import training
from ndgrad.training import DATASETS, MODELS
from ndgrad.training import language as lm


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


class _LanguageBars(_ProgressBars):
    """One bar per epoch with the running perplexity, kept with the tokens/s at its end."""

    def on_batch_end(self, stats: training.BatchStats) -> None:
        self.status = f"perplexity {math.exp(stats.loss):.2f}"
        self.progress.update(self.task, advance=1, status=self.status)

    def on_epoch_end(self, stats: training.EpochStats) -> None:
        self.progress.update(self.task, status=f"perplexity {stats.train['perplexity']:.2f}, "
                                               f"{stats.train['tokens/s']:,.0f} tokens/s")  # fmt: skip


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
        help=f"One of: {', '.join(MODELS + lm.LANGUAGE_MODELS)} (lenet and resnet are CNNs for "
        "the image sets digits and fashion-mnist; transformer is for the sequence task reverse; "
        "rnn, gru and lstm are character-level language models for time-machine).",
    ),
    data: str = typer.Option(
        ..., "--data", "-d", help=f"One of: {', '.join(DATASETS + lm.TEXT_DATASETS)}."
    ),
    epochs: int = typer.Option(None, "--epochs", help="Passes over the training set."),
    lr: float = typer.Option(None, "--lr", help="Learning rate."),
    batch_size: int = typer.Option(None, "--batch-size", help="Minibatch size."),
    optimizer: str = typer.Option(None, "--optimizer", help="sgd or adam."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="L2 penalty."),
    seed: int = typer.Option(0, "--seed", help="Seed for the split, the init and shuffling."),
    val_split: float = typer.Option(0.2, "--val-split", help="Fraction held out to validate."),
    hidden: str = typer.Option(
        None, "--hidden", help="MLP hidden layer widths (256,128); a language model's width (256)."
    ),
    num_steps: int = typer.Option(None, "--num-steps", help="Language models: steps per row (35)."),
    max_tokens: int = typer.Option(
        None, "--max-tokens", help="Language models: characters of the corpus used (10000; -1 all)."
    ),
    clip: float = typer.Option(None, "--clip", help="Language models: gradient-norm clip (1)."),
    random_iter: bool = typer.Option(
        False, "--random-iter", help="Language models: random instead of sequential minibatches."
    ),
    data_dir: str = typer.Option(None, "--data-dir", help="Folder with Fashion-MNIST files."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for checkpoint and plots."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the figures."),
    as_json: bool = typer.Option(False, "--json", help="Print the final metrics as JSON."),
) -> None:
    """Train MODEL on a dataset; print metrics, write plots and a checkpoint."""
    console = _console(as_json)
    if model in lm.LANGUAGE_MODELS or data in lm.TEXT_DATASETS:
        _train_language(console, model, data, epochs, lr, batch_size, optimizer, weight_decay,
                        seed, hidden, num_steps, max_tokens, clip, random_iter, out, no_plots,
                        as_json)  # fmt: skip
        return
    bars = _ProgressBars(console)
    try:
        for name, value in (("--num-steps", num_steps), ("--max-tokens", max_tokens),
                            ("--clip", clip), ("--random-iter", random_iter or None)):  # fmt: skip
            if value is not None:
                raise CLIError(f"{name} is for the language models (rnn, gru, lstm)")
        hyper = training.hyperparameters(
            model,
            data,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            weight_decay=weight_decay,
        )
        hidden_sizes = _parse_hidden(hidden or "256,128")
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


def _train_language(
    console: Any, model: str, data: str, epochs: int | None, lr: float | None,
    batch_size: int | None, optimizer: str | None, weight_decay: float, seed: int,
    hidden: str | None, num_steps: int | None, max_tokens: int | None, clip: float | None,
    random_iter: bool, out: Path | None, no_plots: bool, as_json: bool,
) -> None:  # fmt: skip
    """``train rnn|gru|lstm --data time-machine``: d2l's train_ch8 with a bar per epoch."""
    bars = _LanguageBars(console)
    try:
        if model not in lm.LANGUAGE_MODELS:
            raise CLIError(f"{data} is a text dataset: train one of {', '.join(lm.LANGUAGE_MODELS)} "
                           f"on it, not {model!r}")  # fmt: skip
        if data not in lm.TEXT_DATASETS:
            raise CLIError(f"{model} is a character-level language model: train it on --data "
                           f"{' or '.join(lm.TEXT_DATASETS)}, not {data!r}")  # fmt: skip
        widths = _parse_hidden(hidden) if hidden is not None else [lm.DEFAULT_NUM_HIDDENS]
        if len(widths) != 1:
            raise CLIError(f"--hidden of a language model is one width like 256, got {hidden!r}")
        hyper = lm.language_hyperparameters(model, epochs=epochs, lr=lr, batch_size=batch_size,
                                            optimizer=optimizer,
                                            weight_decay=weight_decay)  # fmt: skip
        defaults = lm.TextSettings()
        text = lm.TextSettings(
            num_steps=defaults.num_steps if num_steps is None else num_steps,
            max_tokens=defaults.max_tokens if max_tokens is None else max_tokens,
            use_random_iter=random_iter,
            clip=defaults.clip if clip is None else clip,
        )
        try:
            result = lm.train_language_model(model, data, hyper, text, num_hiddens=widths[0],
                                             seed=seed, callback=bars)  # fmt: skip
        finally:
            bars.stop()
        folder = out or Path("runs") / f"{model}-{data}"
        folder.mkdir(parents=True, exist_ok=True)
        figures = [] if no_plots else lm.write_language_plots(result, folder)
        path = lm.save_language_checkpoint(result.checkpoint, folder / training.CHECKPOINT_NAME)
        sample = lm.predict_ch8("time traveller", 50, result.model, result.vocab)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        raise _fail("train", exc) from None
    ckpt = result.checkpoint
    from rich.table import Table

    table = Table(title=f"{model} on {data}")
    for column in ("epoch", "perplexity", "tokens/s"):
        table.add_column(column, justify="right")
    history = ckpt.history
    shown = sorted({1, *range(max(history.epochs // 5, 1), history.epochs + 1,
                              max(history.epochs // 5, 1))})  # fmt: skip
    for epoch in shown:
        table.add_row(str(epoch), f"{history.perplexity[epoch - 1]:.2f}",
                      f"{history.tokens_per_second[epoch - 1]:,.0f}")  # fmt: skip
    console.print(table)
    console.print(f"{sample!r}  ({ckpt.seconds:.1f} s)", soft_wrap=True)
    console.print(
        f"checkpoint: {path}" + (f"; plots: {folder}/" if figures else ""), soft_wrap=True
    )
    if as_json:
        payload = {
            "model": model,
            "dataset": data,
            "checkpoint": str(path),
            "metrics": ckpt.metrics,
            "history": history.to_dict(),
            "hyperparameters": ckpt.to_dict()["hyperparameters"],
            "sample": sample,
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
    input: Path = typer.Option(None, "--input", "-i", help="CSV or .npy of raw feature rows."),
    output: Path = typer.Option(None, "--output", help="Write the predictions CSV here."),
    prefix: str = typer.Option(
        None, "--prefix", help="Language models: the text to continue, e.g. 'time traveller'."
    ),
    num_preds: int = typer.Option(
        50, "--num-preds", help="Language models: characters to generate."
    ),
) -> None:
    """Predict for each row of a CSV or .npy file (raw features, standardised as in training),
    or continue a --prefix with a language model (rnn, gru, lstm)."""
    if prefix is not None:
        try:
            if input is not None:
                raise CLIError("give --input (feature rows) or --prefix (text), not both")
            lm_ckpt = lm.load_language_checkpoint(checkpoint)
            vocab = lm_ckpt.vocab
            unknown = sorted({c for c in prefix if vocab[c] == vocab.unk})
            if not prefix or unknown:
                raise CLIError(
                    f"--prefix must be non-empty text of the training characters "
                    f"({''.join(vocab.idx_to_token[1:])!r}); unknown: {''.join(unknown)!r}"
                )
            text = lm.predict_ch8(prefix, num_preds, lm_ckpt.build_model(), vocab)
        except Exception as exc:  # noqa: BLE001
            raise _fail("predict", exc) from None
        typer.echo(text)
        return
    try:
        if input is None:
            raise CLIError("missing --input (or --prefix for a language model)")
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
