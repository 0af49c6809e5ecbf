"""``ndgrad train`` / ``ndgrad evaluate`` / ``ndgrad predict``: the training workflow.

``train MODEL --data DATASET`` builds the model with ``ndgrad.nn``, trains it with
``ndgrad.optim`` on minibatches from ``ndgrad.utils.data.DataLoader`` (features standardised
with the training split's statistics), shows a live progress bar, then prints a table of
train/validation metrics, writes loss and accuracy plots and a checkpoint (``ndgrad.save``)
holding everything ``evaluate`` and ``predict`` need to rebuild the model, and
``history.csv``. It prints its settings and split sizes first, and checks (creates) the run
folder before training: a new ``runs/MODEL-DATA[-N]`` per run, or ``--out`` (a folder holding a
run needs ``--force``). A loss that stops being finite ends the run with exit 1 and keeps the
last finite checkpoint; Ctrl-C saves a checkpoint (exit 130) that ``--resume`` continues (the
language models too: :func:`ndgrad.training.language.fit_language_model` says how the minibatch
offsets are replayed); a checkpoint that cannot be written goes to a temporary folder, named on
stderr (exit 1). ``evaluate`` of a language model reports its perplexity over its corpus.

The work is done by the library, :mod:`ndgrad.training`; this module parses the arguments and
prints. Bad input (unknown names, impossible hyper-parameters, missing or corrupt files, CSVs
of the wrong width) ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import typer

from ndgrad import training
from ndgrad.training import DATASETS, MODELS
from ndgrad.training import language as lm

MAX_NUM_PREDS = 100_000  # characters predict --prefix generates at most


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
    elif isinstance(exc, MemoryError):  # the machine, not the input: exit 1, still one line
        message, code = f"out of memory ({exc or 'MemoryError'}); use a smaller model or input", 1
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


def _num(value: float) -> str:
    """A loss or metric: 4 decimals, or scientific notation where 4 decimals would hide it."""
    if value != 0 and math.isfinite(value) and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4f}"


def _score(value: float) -> str:
    """An accuracy or R²: 3 decimals, or scientific notation for a diverging R²."""
    return f"{value:.3f}" if not math.isfinite(value) or abs(value) < 1e4 else f"{value:.2e}"


def _run_folder(out: Path | None, model: str, data: str, force: bool) -> tuple[Path, bool]:
    """The folder a run writes into, created and checked writable before training starts,
    and whether this run created it.

    Without ``--out``: ``runs/MODEL-DATA``, or ``runs/MODEL-DATA-2``, ``-3``, ... when that
    one already holds files, so a run never overwrites another. With ``--out``: a folder
    already holding a checkpoint is refused unless ``--force``.
    """
    if out is None:
        base = Path("runs") / f"{model}-{data}"
        folder, n = base, 2
        while folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    else:
        folder = out
        if folder.exists() and not folder.is_dir():
            raise CLIError(f"--out {folder} is a file, not a folder")
        if (folder / training.CHECKPOINT_NAME).exists() and not force:
            raise CLIError(
                f"--out {folder} already holds a run ({training.CHECKPOINT_NAME}); choose "
                "another folder, or add --force to overwrite it"
            )
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CLIError(
            f"--out {folder}: cannot write there ({exc.strerror or type(exc).__name__})"
        ) from None
    return folder, made


def _save(write: Any, folder: Path, name: str) -> tuple[Path, str | None]:
    """``write(path)`` into ``folder``; if that fails (disk full, folder gone), into a fresh
    temporary folder. Returns the path written and, after a fallback, why."""
    try:
        return write(folder / name), None
    except OSError as exc:
        reason = f"could not write {folder / name} ({exc.strerror or exc})"
    keep = Path(tempfile.mkdtemp(prefix="ndgrad-run-"))
    try:
        return write(keep / name), reason
    except OSError as exc:
        raise OSError(f"{reason}, nor in {keep} ({exc.strerror or exc})") from None


def _plots(write: Any, result: Any, folder: Path) -> list[Path]:
    """The run's figures; a failed write (disk full) is a warning, the checkpoint is saved."""
    try:
        return write(result, folder)
    except OSError as exc:
        typer.echo(f"ndgrad train: warning: plots not written ({exc.strerror or exc})", err=True)
        return []


class _ProgressBars(training.FitCallback):
    """One bar per epoch: it fills with the live training loss/accuracy, then keeps the
    epoch's validation numbers as a log line. Where the output is not a terminal (a file, a
    pipe) there is no live bar: each epoch prints its line when it ends."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.plain = console is not None and not console.is_terminal
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=16),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                 console=console, transient=False,
                                 disable=console is None or self.plain)  # fmt: skip
        self.started = False
        self.task: Any = None
        self.status = ""
        self.label = ""

    def on_epoch_start(self, epoch: int, epochs: int, batches: int) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        self.label = f"epoch {epoch:>{len(str(epochs))}}/{epochs}"
        self.task = self.progress.add_task(self.label, total=batches, status="")
        self.status = ""

    def on_batch_end(self, stats: training.BatchStats) -> None:
        self.status = f"running loss {_num(stats.loss)}" + (
            f" acc {stats.accuracy:.3f}" if stats.accuracy is not None else ""
        )
        if not self.plain:
            self.progress.update(self.task, advance=1, status=self.status)

    def _end(self, status: str) -> None:
        """The epoch's closing line: kept on its bar, or printed (and flushed) as plain text."""
        if self.plain:
            self.console.print(f"{self.label} {status}", soft_wrap=True, markup=False)
            self.console.file.flush()
        else:
            self.progress.update(self.task, completed=self.progress.tasks[-1].total,
                                 status=status)  # fmt: skip

    def on_epoch_end(self, stats: training.EpochStats) -> None:
        # the running mean is replaced by the loss of a full pass after the epoch: the number
        # the plot, history.csv and the checkpoint hold
        train, val = stats.train, stats.validation
        classify = "accuracy" in val
        key, shown = ("accuracy", "acc") if classify else ("r2", "R²")
        short = "val" if stats.val_name == "validation" else stats.val_name
        self._end(f"train loss {_num(train['loss'])} {shown} {_score(train[key])} │ {short} "
                  f"loss {_num(val['loss'])} {shown} {_score(val[key])}")  # fmt: skip

    def stop(self) -> None:
        if self.started:
            self.progress.stop()


class _LanguageBars(_ProgressBars):
    """One bar per epoch with the running perplexity, kept with the tokens/s at its end."""

    def on_batch_end(self, stats: training.BatchStats) -> None:
        self.status = f"perplexity {math.exp(min(stats.loss, 700.0)):.2f}"
        if not self.plain:
            self.progress.update(self.task, advance=1, status=self.status)

    def on_epoch_end(self, stats: training.EpochStats) -> None:
        self._end(f"perplexity {stats.train['perplexity']:.2f}, "
                  f"{stats.train['tokens/s']:,.0f} tokens/s")  # fmt: skip


def _metrics_table(title: str, metrics: dict[str, Any], classify: bool) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("split")
    # a regressor trains on standardised targets: its loss is in target standard deviations
    # squared, its MSE in the target's own units squared
    table.add_column("loss" if classify else "loss (standardised)", justify="right")
    columns = ["accuracy"] if classify else ["mse", "r2"]
    for c in columns:
        label = {"r2": "R²", "mse": "MSE (target units²)"}.get(c, c)
        table.add_column(label, justify="right")
    for split, values in metrics.items():
        if not isinstance(values, dict):
            continue
        table.add_row(split, _num(values["loss"]), *(_num(values[c]) for c in columns))
    return table


def _console(as_json: bool) -> Any:
    from rich.console import Console

    return Console(stderr=as_json, highlight=False)


def _defaults_help() -> str:
    """The hyper-parameter defaults of every model, for ``train --help``."""
    from ndgrad.training.models import _DATASET_DEFAULTS, _DEFAULTS

    def row(d: dict[str, Any]) -> str:
        return f"{d['epochs']} epochs, lr {d['lr']:g}, batch {d['batch_size']}, {d['optimizer']}"

    models = "; ".join(f"{m}: {row(d)}" for m, d in {**_DEFAULTS, **lm.LANGUAGE_DEFAULTS}.items())
    special = "; ".join(
        f"{m} on {d}: " + ", ".join(f"{k.replace('_', ' ')} {v:g}" if isinstance(v, float)
                                    else f"{k.replace('_', ' ')} {v}" for k, v in o.items())
        for (m, d), o in _DATASET_DEFAULTS.items()
    )  # fmt: skip
    return f"Defaults per model: {models}. Per dataset: {special}."


def _stopped(
    command: str, exc: training.TrainingStopped, folder: Path, made: bool, save: Any
) -> typer.Exit:
    """Saves what a stopped run leaves (if anything) and says where: exit 130 after Ctrl-C,
    1 after a diverged run."""
    kept = ""
    if exc.checkpoint is not None:
        path, reason = save(exc.checkpoint)
        epochs = exc.checkpoint.history.epochs
        what = "checkpoint" if exc.reason == "interrupted" else "last finite checkpoint"
        kept = f"; {what} (after {epochs} epoch{'s' * (epochs != 1)}) saved in {path}" + (
            f" ({reason})" if reason else ""
        )
        if exc.reason == "interrupted" and exc.batch and epochs < exc.epoch:
            kept = f"; checkpoint (epoch {exc.epoch}, batch {exc.batch}) saved in {path}"
        if exc.reason == "interrupted" and command == "train":
            kept += f"; continue with --resume {path}"
    else:
        kept = "; no epoch finished, nothing saved"
        if made:  # the folder this run created stays empty: remove it again
            with contextlib.suppress(OSError):
                folder.rmdir()
    typer.echo(f"ndgrad {command}: error: {exc}{kept}", err=True)
    return typer.Exit(130 if exc.reason == "interrupted" else 1)


def train(
    ctx: typer.Context,
    model: str = typer.Argument(
        ...,
        help=f"One of: {', '.join(MODELS + lm.LANGUAGE_MODELS)} (lenet and resnet are CNNs for "
        "the image sets digits and fashion-mnist; transformer is for the sequence task reverse; "
        "rnn, gru and lstm are character-level language models for time-machine).",
    ),
    data: str = typer.Option(
        ..., "--data", "-d", help=f"One of: {', '.join(DATASETS + lm.TEXT_DATASETS)}."
    ),
    epochs: int = typer.Option(
        None, "--epochs", help="Passes over the training set. (default: per model, listed below)"
    ),
    lr: float = typer.Option(None, "--lr", help="Learning rate. (default: per model)"),
    batch_size: int = typer.Option(
        None, "--batch-size", help="Minibatch size. (default: per model)"
    ),
    optimizer: str = typer.Option(None, "--optimizer", help="sgd or adam. (default: per model)"),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="L2 penalty."),
    seed: int = typer.Option(0, "--seed", help="Seed for the split, the init and shuffling."),
    val_split: float = typer.Option(0.2, "--val-split", help="Fraction held out to validate."),
    hidden: str = typer.Option(
        None,
        "--hidden",
        help="MLP hidden layer widths; a language model's width. (default: 256,128; 256)",
    ),
    num_steps: int = typer.Option(
        None, "--num-steps", help="Language models: steps per row. (default: 35)"
    ),
    max_tokens: int = typer.Option(
        None,
        "--max-tokens",
        help="Language models: characters of the corpus used (-1 all). (default: 10000)",
    ),
    clip: float = typer.Option(
        None, "--clip", help="Language models: gradient-norm clip. (default: 1)"
    ),
    random_iter: bool = typer.Option(
        False,
        "--random-iter",
        metavar="",
        help="Language models: random instead of sequential minibatches.",
    ),
    data_dir: str = typer.Option(
        None, "--data-dir", help="Folder with Fashion-MNIST files. (default: the data folder)"
    ),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder for checkpoint, history.csv and plots; checked before training. "
        "(default: runs/MODEL-DATA, or runs/MODEL-DATA-2, -3, ... if that one is taken)",
    ),
    force: bool = typer.Option(
        False, "--force", metavar="", help="Overwrite the run already in --out."
    ),
    resume: Path = typer.Option(
        None,
        "--resume",
        help="Continue a checkpoint (file or run folder) for --epochs more epochs, with its "
        "optimizer state, split and scaling (a language model: its text settings and "
        "minibatch offsets). (default: a fresh model)",
    ),
    no_plots: bool = typer.Option(False, "--no-plots", metavar="", help="Skip the figures."),
    as_json: bool = typer.Option(
        False, "--json", metavar="", help="Print the final metrics as JSON."
    ),
    nproc: int = typer.Option(
        1,
        "--nproc",
        help="Train on N processes of this machine (DistributedDataParallel over "
        "MPI, `pip install 'ndgrad[distributed]'`): each takes --batch-size/N rows of every "
        "minibatch. (default: 1)",
    ),  # fmt: skip
) -> None:
    """Train MODEL on a dataset; print metrics, write plots, history.csv and a checkpoint.

    A loss that turns NaN or infinite stops the run (exit 1) and keeps the last finite
    checkpoint; Ctrl-C saves a checkpoint to --resume from (exit 130).
    """
    if nproc < 1:
        raise _fail("train", CLIError(f"--nproc must be at least 1, got {nproc}"))
    if nproc > 1 and "NDGRAD_LAUNCHED" not in os.environ:
        try:  # the names and the batch's share checked here, before any rank starts
            if data not in DATASETS and data not in lm.TEXT_DATASETS:
                raise CLIError(f"unknown dataset {data!r}; choose from: "
                               f"{', '.join(DATASETS + lm.TEXT_DATASETS)}")  # fmt: skip
            language = model in lm.LANGUAGE_MODELS or data in lm.TEXT_DATASETS
            hyper = (lm.language_hyperparameters(model, batch_size=batch_size) if language
                     else training.hyperparameters(model, data, batch_size=batch_size))  # fmt: skip
            if hyper.batch_size % nproc:
                raise CLIError(f"--batch-size {hyper.batch_size} must be a multiple of --nproc "
                               f"{nproc} (each process takes an equal share of a minibatch)")  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            raise _fail("train", exc) from None
        raise typer.Exit(_launch_ranks(ctx, nproc))
    rank = _join_ranks()
    scratch = None
    if rank > 0:  # rank 0 reports and saves; the others train alongside, quietly
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process
        scratch = tempfile.mkdtemp(prefix="ndgrad-rank-")
        out, force, no_plots = Path(scratch), True, True
    try:
        _train(model, data, epochs, lr, batch_size, optimizer, weight_decay, seed, val_split,
               hidden, num_steps, max_tokens, clip, random_iter, data_dir, out, force, resume,
               no_plots, as_json)  # fmt: skip
    except typer.Exit as exc:
        if exc.exit_code and rank >= 0:  # a failed rank stops the job (the others would wait)
            from ndgrad.distributed.distributed_c10d import abort_job

            abort_job(exc.exit_code)
        raise
    finally:
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)


def _launch_ranks(ctx: typer.Context, nproc: int) -> int:
    """``ndgrad train ... --nproc N``: this same command on N ranks, through mpiexec."""
    from ndgrad.distributed.run import LaunchError, launch

    args: list[str] = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name == "nproc" or value is None or value is False:
            continue
        if param.param_type_name == "argument":
            args.insert(0, str(value))
        elif getattr(param, "is_flag", False):
            args.append(param.opts[0])
        else:
            args += [param.opts[0], str(value)]
    try:
        worker = [sys.executable, "-m", "ndgrad", "train"]
        return launch(args[0], args[1:], nproc, name="train", worker=worker)
    except LaunchError as exc:
        raise _fail("train", CLIError(str(exc))) from None


def _join_ranks() -> int:
    """In a rank started by ``--nproc``: joins the others and returns this rank; else -1."""
    if "NDGRAD_LAUNCHED" not in os.environ:
        return -1
    from ndgrad import distributed as dist
    from ndgrad.distributed.run import worker_environment

    worker_environment()
    try:
        dist.init_process_group()
    except (RuntimeError, ValueError) as exc:
        raise _fail("train", exc) from None
    return dist.get_rank()


def _train(
    model: str, data: str, epochs: int | None, lr: float | None, batch_size: int | None,
    optimizer: str | None, weight_decay: float, seed: int, val_split: float,
    hidden: str | None, num_steps: int | None, max_tokens: int | None, clip: float | None,
    random_iter: bool, data_dir: str | None, out: Path | None, force: bool,
    resume: Path | None, no_plots: bool, as_json: bool,
) -> None:  # fmt: skip
    console = _console(as_json)
    if model in lm.LANGUAGE_MODELS or data in lm.TEXT_DATASETS:
        _train_language(console, model, data, epochs, lr, batch_size, optimizer, weight_decay,
                        seed, hidden, num_steps, max_tokens, clip, random_iter, out, no_plots,
                        as_json, force, resume)  # fmt: skip
        return
    bars = _ProgressBars(console)
    folder, made = Path(), False

    def save(ckpt: training.Checkpoint) -> tuple[Path, str | None]:
        path, reason = _save(lambda p: training.save_checkpoint(ckpt, p), folder,
                             training.CHECKPOINT_NAME)  # fmt: skip
        with contextlib.suppress(OSError):  # the table beside the checkpoint, where it went
            training.write_history_csv(training.history_columns(ckpt.history),
                                       path.parent / training.HISTORY_NAME)  # fmt: skip
        return path, reason

    try:
        for name, value in (("--num-steps", num_steps), ("--max-tokens", max_tokens),
                            ("--clip", clip), ("--random-iter", random_iter or None)):  # fmt: skip
            if value is not None:
                raise CLIError(f"{name} is for the language models (rnn, gru, lstm)")
        previous = None
        if resume is not None:
            previous = training.load_checkpoint(
                resume / training.CHECKPOINT_NAME if resume.is_dir() else resume
            )
            if (model, data) != (previous.spec.model, previous.dataset):
                raise CLIError(f"--resume {resume} holds {previous.spec.model} on "
                               f"{previous.dataset}, not {model} on {data}")  # fmt: skip
            old = previous.hyperparameters
            optimizer = optimizer or old.optimizer
            if optimizer != old.optimizer:
                raise CLIError(f"--resume {resume} trained with {old.optimizer}: its state does "
                               f"not fit --optimizer {optimizer}")  # fmt: skip
            lr = old.lr if lr is None else lr
            batch_size = old.batch_size if batch_size is None else batch_size
            weight_decay = weight_decay or old.weight_decay
            if hidden is not None:
                raise CLIError("--hidden cannot change when resuming (the checkpoint's widths)")
            seed, val_split = previous.seed, previous.val_split
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
        split = training.load_split(data, val_split, seed, data_dir)
        spec = (
            previous.spec
            if previous is not None
            else training.ModelSpec.for_split(model, split, hidden_sizes)
        )
        folder, made = _run_folder(out, model, data, force)
        done = previous.history.epochs if previous is not None else 0
        console.print(
            f"{model} on {data}: {len(split.y_train)} training / {len(split.y_val)} "
            f"{split.val_name} rows, {split.num_features} features, seed {seed}"
            + (f"; resuming {resume} after epoch {done}" if previous is not None else ""),
            soft_wrap=True,
        )
        console.print(
            f"optimizer {hyper.optimizer}, lr {hyper.lr:g}, batch size {hyper.batch_size}, "
            f"epochs {hyper.epochs}, weight decay {hyper.weight_decay:g}; run folder {folder}",
            soft_wrap=True,
        )
        if split.task == "regression":
            console.print(
                "losses are mean squared errors of the standardised target (MSE in target "
                "units in the table)",
                soft_wrap=True,
            )
        try:
            result = training.fit(spec, split, hyper, seed=seed, callback=bars, resume=previous)
        finally:
            bars.stop()
        path, reason = save(result.checkpoint)
        figures = [] if no_plots or reason else _plots(training.write_plots, result, folder)
    except typer.Exit:
        raise
    except training.TrainingStopped as exc:
        raise _stopped("train", exc, folder, made, save) from None
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        raise _fail("train", exc) from None
    ckpt = result.checkpoint
    classify = ckpt.spec.task == "classification"
    console.print(_metrics_table(f"{model} on {data}", ckpt.metrics, classify))
    # soft_wrap: a long path stays on one line, so it can be copied
    console.print(
        f"checkpoint: {path}; history: {path.parent / training.HISTORY_NAME}"
        + (f"; plots: {folder}/" if figures else ""),
        soft_wrap=True,
    )
    if reason:
        typer.echo(f"ndgrad train: error: {reason}; the trained model is kept in {path}",
                   err=True)  # fmt: skip
        raise typer.Exit(1)
    if as_json:
        payload = {
            "model": model,
            "dataset": data,
            "checkpoint": str(path),
            "history": str(path.parent / training.HISTORY_NAME),
            "metrics": ckpt.metrics,
            "hyperparameters": ckpt.to_dict()["hyperparameters"],
            "figures": [str(p) for p in figures],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def _train_language(
    console: Any, model: str, data: str, epochs: int | None, lr: float | None,
    batch_size: int | None, optimizer: str | None, weight_decay: float, seed: int,
    hidden: str | None, num_steps: int | None, max_tokens: int | None, clip: float | None,
    random_iter: bool, out: Path | None, no_plots: bool, as_json: bool, force: bool,
    resume: Path | None,
) -> None:  # fmt: skip
    """``train rnn|gru|lstm --data time-machine``: d2l's train_ch8 with a bar per epoch."""
    bars = _LanguageBars(console)
    folder, made = Path(), False

    def save(ckpt: lm.LanguageCheckpoint) -> tuple[Path, str | None]:
        path, reason = _save(lambda p: lm.save_language_checkpoint(ckpt, p), folder,
                             training.CHECKPOINT_NAME)  # fmt: skip
        with contextlib.suppress(OSError):
            training.write_history_csv(ckpt.history.to_dict(),
                                       path.parent / training.HISTORY_NAME)  # fmt: skip
        return path, reason

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
        previous = None
        defaults = lm.TextSettings()
        if resume is not None:  # the checkpoint's settings, unless given (and allowed) here
            where = _checkpoint_path(resume)
            if where.is_file() and not lm.is_language_checkpoint(where):
                raise CLIError(f"--resume {resume} is not a language-model checkpoint (rnn, "
                               "gru, lstm): resume it with the model it holds")  # fmt: skip
            previous = lm.load_language_checkpoint(where)
            if (model, data) != (previous.spec.model, previous.dataset):
                raise CLIError(f"--resume {resume} holds {previous.spec.model} on "
                               f"{previous.dataset}, not {model} on {data}")  # fmt: skip
            old = previous.hyperparameters
            optimizer = optimizer or old.optimizer
            if optimizer != old.optimizer:
                raise CLIError(f"--resume {resume} trained with {old.optimizer}: its state does "
                               f"not fit --optimizer {optimizer}")  # fmt: skip
            if hidden is not None:
                raise CLIError("--hidden cannot change when resuming (the checkpoint's width)")
            if max_tokens is not None and max_tokens != previous.text.max_tokens:
                raise CLIError(f"--max-tokens cannot change when resuming (the checkpoint read "
                               f"{previous.text.max_tokens})")  # fmt: skip
            if random_iter and not previous.text.use_random_iter:
                raise CLIError("--random-iter cannot change when resuming (the checkpoint used "
                               "sequential minibatches)")  # fmt: skip
            lr = old.lr if lr is None else lr
            batch_size = old.batch_size if batch_size is None else batch_size
            weight_decay = weight_decay or old.weight_decay
            widths, seed, defaults = [previous.spec.num_hiddens], previous.seed, previous.text
            random_iter = previous.text.use_random_iter
        hyper = lm.language_hyperparameters(model, epochs=epochs, lr=lr, batch_size=batch_size,
                                            optimizer=optimizer,
                                            weight_decay=weight_decay)  # fmt: skip
        text = lm.TextSettings(
            num_steps=defaults.num_steps if num_steps is None else num_steps,
            max_tokens=defaults.max_tokens if max_tokens is None else max_tokens,
            use_random_iter=random_iter,
            clip=defaults.clip if clip is None else clip,
        )
        lm.LanguageModelSpec(model, 2, widths[0])  # names and widths first, then the folder
        folder, made = _run_folder(out, model, data, force)
        corpus, vocab = lm.load_text_corpus(data, text.max_tokens)
        done = previous.history.epochs if previous is not None else 0
        console.print(
            f"{model} on {data}: {len(corpus):,} characters, {len(vocab)} tokens, "
            f"{widths[0]} hidden units, {text.num_steps} steps per row, seed {seed}"
            + (f"; resuming {resume} after epoch {done}" if previous is not None else ""),
            soft_wrap=True,
        )
        console.print(
            f"optimizer {hyper.optimizer}, lr {hyper.lr:g}, batch size {hyper.batch_size}, "
            f"epochs {hyper.epochs}, clip {text.clip:g}; run folder {folder}",
            soft_wrap=True,
        )
        spec = lm.LanguageModelSpec(model, len(vocab), widths[0])
        try:
            result = lm.fit_language_model(spec, corpus, vocab, hyper, text, seed=seed,
                                           dataset=data, callback=bars,
                                           resume=previous)  # fmt: skip
        finally:
            bars.stop()
        path, reason = save(result.checkpoint)
        figures = [] if no_plots or reason else _plots(lm.write_language_plots, result, folder)
        sample = lm.predict_ch8("time traveller", 50, result.model, result.vocab)
    except typer.Exit:
        raise
    except training.TrainingStopped as exc:
        raise _stopped("train", exc, folder, made, save) from None
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
        f"checkpoint: {path}; history: {path.parent / training.HISTORY_NAME}"
        + (f"; plots: {folder}/" if figures else ""),
        soft_wrap=True,
    )
    if reason:
        typer.echo(f"ndgrad train: error: {reason}; the trained model is kept in {path}",
                   err=True)  # fmt: skip
        raise typer.Exit(1)
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


def _checkpoint_path(path: Path) -> Path:
    """A checkpoint file, or the checkpoint inside a run folder."""
    return path / training.CHECKPOINT_NAME if path.is_dir() else path


def _confusion_table(report: training.ClassificationReport, title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("true \\ predicted")
    for name in report.labels:
        table.add_column(name, justify="right")
    for name, row in zip(report.labels, report.confusion):
        table.add_row(name, *(str(int(v)) for v in row))
    return table


def evaluate(
    checkpoint: Path = typer.Argument(
        ..., help="A checkpoint written by ndgrad train, or the run folder holding it."
    ),
    data: str = typer.Option(None, "--data", "-d", help="Dataset. (default: the one trained on)"),
    data_dir: str = typer.Option(
        None, "--data-dir", help="Folder with Fashion-MNIST files. (default: the data folder)"
    ),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print the metrics as JSON."),
) -> None:
    """Evaluate a checkpoint on the held-out split of a dataset (the same split as training);
    for a classifier, also its confusion matrix and per-class precision and recall; for a
    language model (rnn, gru, lstm), its perplexity over the corpus it trained on."""
    console = _console(as_json)
    try:
        path = _checkpoint_path(checkpoint)
        if lm.is_language_checkpoint(path):
            _evaluate_language(console, path, data, as_json)
            return
        ckpt = training.load_checkpoint(path)
        model = ckpt.build_model()
        dataset = data or ckpt.dataset
        split = training.load_split(dataset, ckpt.val_split, ckpt.seed, data_dir)
        metrics = training.evaluate(model, ckpt.spec, ckpt.scaling, split)
        classify = split.task == "classification"
        report = (
            training.classification_report(
                model, ckpt.spec, ckpt.scaling, split.X_val, split.y_val, split.class_names
            )  # fmt: skip
            if classify
            else None
        )
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _fail("evaluate", exc) from None
    console.print(f"checkpoint: {path}", soft_wrap=True)
    console.print(_metrics_table(f"{ckpt.spec.model} on {dataset}", metrics, classify))
    if report is not None:
        console.print(_confusion_table(report, f"{split.val_name}: confusion matrix"))
        console.print(f"{split.val_name}: per-class report", soft_wrap=True)
        console.print(report.text, markup=False, highlight=False, soft_wrap=True)
    if as_json:
        payload: dict[str, Any] = {"dataset": dataset, "metrics": metrics}
        if report is not None:
            payload["confusion_matrix"] = report.confusion.tolist()
            payload["labels"] = report.labels
            payload["classification_report"] = report.report
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def _evaluate_language(console: Any, path: Path, data: str | None, as_json: bool) -> None:
    """``evaluate`` of a language model: its perplexity over the corpus it read (the first
    --max-tokens characters), sequential minibatches of its batch size and steps, the hidden
    state carried from one to the next."""
    try:
        ckpt = lm.load_language_checkpoint(path)
        dataset = data or ckpt.dataset
        if dataset not in lm.TEXT_DATASETS:
            raise CLIError(f"{path} holds a language model ({ckpt.spec.model}): evaluate it on "
                           f"--data {' or '.join(lm.TEXT_DATASETS)}, not {dataset!r}")  # fmt: skip
        corpus, vocab = lm.load_text_corpus(dataset, ckpt.text.max_tokens)
        if vocab.idx_to_token != ckpt.idx_to_token:
            raise CLIError(f"{dataset} gives another vocabulary than the checkpoint's")
        batch_size, num_steps = ckpt.hyperparameters.batch_size, ckpt.text.num_steps
        result = lm.evaluate_language_model(ckpt.build_model(), corpus, batch_size, num_steps)
    except Exception as exc:  # noqa: BLE001
        raise _fail("evaluate", exc) from None
    console.print(f"checkpoint: {path}", soft_wrap=True)
    console.print(
        f"{ckpt.spec.model} on {dataset}: perplexity {result.perplexity:.4f} (cross-entropy "
        f"{result.loss:.4f} nats per character) over {result.tokens:,} characters of the "
        f"{len(corpus):,} it trained on; sequential minibatches of {batch_size} x {num_steps}, "
        "the state carried",
        soft_wrap=True,
    )
    if as_json:
        payload = {"dataset": dataset, "checkpoint": str(path), "model": ckpt.spec.model,
                   "metrics": result.to_dict(), "batch_size": batch_size,
                   "num_steps": num_steps}  # fmt: skip
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def _warn(message: str) -> None:
    typer.echo(f"ndgrad predict: warning: {message}", err=True)


def predict(
    checkpoint: Path = typer.Argument(
        ..., help="A checkpoint written by ndgrad train, or the run folder holding it."
    ),
    input: Path = typer.Option(None, "--input", "-i", help="CSV or .npy of raw feature rows."),
    output: Path = typer.Option(
        None, "--out", "-o", "--output", help="Write the predictions CSV here (default: stdout)."
    ),
    prefix: str = typer.Option(
        None, "--prefix", help="Language models: the text to continue, e.g. 'time traveller'."
    ),
    num_preds: int = typer.Option(
        50, "--num-preds", help="Language models: characters to generate."
    ),
) -> None:
    """Predict for each row of a CSV or .npy file (raw features, standardised as in training),
    or continue a --prefix with a language model (rnn, gru, lstm).

    A CSV's first row is a header only when none of its cells is a number; the output's rows
    are numbered from 0, the first data row. A header is checked against the training
    features' names, and rows far outside the training range are reported on stderr.
    """
    checkpoint = _checkpoint_path(checkpoint)
    if prefix is not None:
        try:
            if input is not None:
                raise CLIError("give --input (feature rows) or --prefix (text), not both")
            if num_preds > MAX_NUM_PREDS:  # one step per character: a billion never ends
                raise CLIError(f"--num-preds must be at most {MAX_NUM_PREDS:,}, got {num_preds}")
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
        table = training.read_feature_table(input, ckpt.spec.in_features)
        rows = table.rows
        names = list(ckpt.feature_names)
        if table.header is not None:
            if table.header != names and sorted(table.header) == sorted(names):
                raise CLIError(
                    f"{input}: the header names the training features in another order "
                    f"(expected {', '.join(names[:4])}, ...); reorder the columns"
                )
            _warn_header(input, table.header, names, table.line_numbers[0])
        with np.errstate(over="ignore", invalid="ignore"):
            pred = ckpt.predict(model, rows)
        outputs = pred.probs if pred.probs is not None else pred.values
        broken = ~np.isfinite(outputs.reshape(len(rows), -1)).all(axis=1)
        if broken.any():  # finite inputs whose scaled values or outputs overflow float32
            # (checked before the outlier warning, so an error stays one line)
            first = int(np.argmax(broken))
            raise CLIError(
                f"{input}: row {table.line_numbers[first]} gives no finite prediction (its "
                "values, scaled as in training, overflow float32); "
                f"{int(broken.sum())} of {len(rows)} rows do"
            )
        if ckpt.feature_range is not None:
            far, distance = training.outlying_columns(rows, ckpt.feature_range)
            if far.any():
                worst = int(distance.argmax())
                label = names[worst] if worst < len(names) else f"column {worst + 1}"
                _warn(
                    f"{int(far.sum())} of {len(rows)} rows lie far outside the training range "
                    f"(worst: {label}, {distance[worst]:.3g} training ranges beyond it); "
                    "are the features on the scale the model was trained on?"
                )
        if ckpt.spec.task == "classification":
            classes = ckpt.class_names or [str(i) for i in range(pred.probs.shape[1])]
            header = ["row", "class", "label", "probability"]
            body = [
                [i, int(c), classes[int(c)], f"{pred.probs[i, c]:.6f}"]
                for i, c in enumerate(pred.classes)
            ]
        else:
            header, body = (
                ["row", "prediction"],
                [[i, f"{v:.6g}"] for i, v in enumerate(pred.values)],
            )
        if output and output.is_dir():
            raise CLIError(f"--out {output} is a folder; give a file name for the predictions")
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


def _warn_header(path: Path, header: list[str], names: list[str], first_data: int) -> None:
    """Says that a header was found, and how it compares with the training features."""
    if header == names:
        typer.echo(f"ndgrad predict: note: {path}: a header row matching the training features; "
                   f"output row 0 is file row {first_data}", err=True)  # fmt: skip
        return
    typer.echo(f"ndgrad predict: note: {path}: the first row is a header (no cell is a number); "
               f"output row 0 is file row {first_data}", err=True)  # fmt: skip
    if names:
        differ = [(h, n) for h, n in zip(header, names) if h != n]
        h, n = differ[0]
        _warn(f"the header's names differ from the training features' in {len(differ)} of "
              f"{len(names)} columns (first: {h!r}, trained as {n!r}); columns are taken by "
              "position")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("train", epilog=_defaults_help())(train)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
