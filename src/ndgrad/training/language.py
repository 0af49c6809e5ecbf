"""Character-level language models (d2l chapter 8): what ``ndgrad train rnn|gru|lstm --data
time-machine`` and ``ndgrad predict CHECKPOINT --prefix TEXT`` do.

    from ndgrad.training import language

    result = language.train_language_model("gru", epochs=20)
    print(result.history.perplexity)                        # per epoch, falling
    print(language.predict_ch8("time traveller", 50, result.model, result.vocab))
    language.save_language_checkpoint(result.checkpoint, "run/checkpoint.ndgrad")

The network is d2l's ``RNNModel`` (section 8.6): ``nn.RNN``/``nn.GRU``/``nn.LSTM`` on one-hot
characters, then a linear layer to the vocabulary. Training is d2l's ``train_ch8``: sequential
minibatches whose hidden state carries over (detached) from one batch to the next, or random
ones with a fresh state; gradients clipped to norm ``clip`` (``nn.utils.clip_grad_norm_``);
perplexity, ``exp`` of the mean per-token cross-entropy, reported every epoch.
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import ndgrad
from ndgrad import nn
from ndgrad.datasets.text import SeqDataLoader, Vocab, load_corpus_time_machine
from ndgrad.training.errors import InvalidSetting, TrainingStopped, check_model_size
from ndgrad.training.loop import (
    BatchStats,
    EpochStats,
    FitCallback,
    data_parallel,
    single_blas_thread,
)
from ndgrad.training.models import OPTIMIZERS, Hyperparameters, make_optimizer

LANGUAGE_MODELS = ("rnn", "gru", "lstm")
TEXT_DATASETS = ("time-machine",)
LANGUAGE_CHECKPOINT_KIND = "ndgrad.train.language-model"
LANGUAGE_CHECKPOINT_VERSION = 1
_LAYERS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


# ----------------------------------------------------------------------------- the network
@dataclass(frozen=True)
class LanguageModelSpec:
    """The network: recurrent layer kind, vocabulary size, hidden width and layer count."""

    model: str
    vocab_size: int
    num_hiddens: int = 256
    num_layers: int = 1

    def __post_init__(self) -> None:
        if self.model not in LANGUAGE_MODELS:
            raise ValueError(
                f"unknown language model {self.model!r}; choose from: {', '.join(LANGUAGE_MODELS)}"
            )
        if self.vocab_size < 2:
            raise InvalidSetting("vocab_size", f"must be at least 2, got {self.vocab_size}")
        if self.num_hiddens < 1:
            raise InvalidSetting("hidden", f"must be a positive width, got {self.num_hiddens}")
        if self.num_layers < 1:
            raise InvalidSetting("num_layers", f"must be at least 1, got {self.num_layers}")
        gates = {"gru": 3, "lstm": 4}.get(self.model, 1)  # weights and biases, before building
        h, v = self.num_hiddens, self.vocab_size
        layers = sum(gates * h * ((v if i == 0 else h) + h + 2) for i in range(self.num_layers))
        check_model_size(layers + h * v + v)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LanguageModelSpec:
        return cls(
            model=data["model"],
            vocab_size=int(data["vocab_size"]),
            num_hiddens=int(data["num_hiddens"]),
            num_layers=int(data.get("num_layers", 1)),
        )


def recurrent_layer(kind: str, input_size: int, num_hiddens: int, num_layers: int = 1) -> Any:
    """``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``; a clear error if this ndgrad lacks it."""
    name = _LAYERS.get(kind)
    if name is None:
        raise ValueError(f"unknown language model {kind!r}; choose from: {', '.join(_LAYERS)}")
    layer = getattr(nn, name, None)
    if layer is None:
        raise RuntimeError(f"{kind} needs ndgrad.nn.{name}, which this build of ndgrad lacks")
    return layer(input_size, num_hiddens, num_layers)


class RNNModel(nn.Module):
    """d2l's RNNModel (section 8.6): a recurrent layer on one-hot inputs and a linear output.

    ``forward(inputs, state)`` takes int64 ``[batch, num_steps]`` indices and returns scores of
    shape ``[num_steps * batch, vocab_size]`` (time-major rows) and the new state.
    """

    def __init__(self, rnn_layer: nn.Module, vocab_size: int) -> None:
        super().__init__()
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.num_hiddens = rnn_layer.hidden_size
        self.num_directions = 2 if getattr(rnn_layer, "bidirectional", False) else 1
        self.linear = nn.Linear(self.num_hiddens * self.num_directions, vocab_size)

    def forward(self, inputs: ndgrad.Tensor, state: Any) -> tuple[ndgrad.Tensor, Any]:
        X = nn.functional.one_hot(inputs.T.long(), self.vocab_size).to(ndgrad.float32)
        Y, state = self.rnn(X, state)
        output = self.linear(Y.reshape((-1, Y.shape[-1])))
        return output, state

    def begin_state(self, batch_size: int = 1) -> Any:
        """Zeros of shape ``[directions * layers, batch, hidden]`` (a pair for an LSTM)."""
        shape = (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens)
        if isinstance(self.rnn, getattr(nn, "LSTM", ())):
            return ndgrad.zeros(shape), ndgrad.zeros(shape)
        return ndgrad.zeros(shape)


def build_language_model(spec: LanguageModelSpec) -> RNNModel:
    """The (freshly initialised) network ``spec`` describes."""
    layer = recurrent_layer(spec.model, spec.vocab_size, spec.num_hiddens, spec.num_layers)
    return RNNModel(layer, spec.vocab_size)


def _detach(state: Any) -> Any:
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def predict_ch8(prefix: str, num_preds: int, net: RNNModel, vocab: Vocab) -> str:
    """``prefix`` followed by ``num_preds`` characters, each the most likely after what came
    before (d2l 8.5.4): the state warms up on the prefix, then every prediction is fed back."""
    if not prefix:
        raise ValueError("predict_ch8: the prefix must not be empty")
    if num_preds < 0:
        raise InvalidSetting("num_preds", f"must be non-negative, got {num_preds}")
    with ndgrad.no_grad():
        state = net.begin_state(batch_size=1)
        outputs = [vocab[prefix[0]]]

        def get_input() -> ndgrad.Tensor:
            return ndgrad.tensor([outputs[-1]], dtype=ndgrad.int64).reshape((1, 1))

        for y in prefix[1:]:  # warm-up period
            _, state = net(get_input(), state)
            outputs.append(vocab[y])
        for _ in range(num_preds):  # predict num_preds steps
            y, state = net(get_input(), state)
            outputs.append(int(y.argmax(dim=1).reshape(1).item()))
    return "".join(vocab.idx_to_token[i] for i in outputs)


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TextSettings:
    """How the corpus is cut: steps per subsequence, tokens kept, random or sequential batches,
    and the gradient-norm clip."""

    num_steps: int = 35
    max_tokens: int = 10000
    use_random_iter: bool = False
    clip: float = 1.0

    def __post_init__(self) -> None:
        if self.num_steps < 1:
            raise InvalidSetting("num_steps", f"must be at least 1, got {self.num_steps}")
        if self.max_tokens == 0 or self.max_tokens < -1:
            raise InvalidSetting(
                "max_tokens", f"must be positive (or -1 for all), got {self.max_tokens}"
            )
        if not (self.clip > 0 and math.isfinite(self.clip)):
            raise InvalidSetting("clip", f"must be a positive number, got {self.clip}")


@dataclass
class LanguageHistory:
    """Per-epoch training perplexity and speed (tokens per second)."""

    perplexity: list[float] = field(default_factory=list)
    tokens_per_second: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.perplexity)

    def to_dict(self) -> dict[str, list[float]]:
        return {"train perplexity": self.perplexity, "tokens/s": self.tokens_per_second}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LanguageHistory:
        return cls([float(v) for v in data["train perplexity"]],
                   [float(v) for v in data.get("tokens/s", [])])  # fmt: skip


@dataclass
class LanguageCheckpoint:
    """A trained language model: weights, spec, vocabulary, settings and perplexities."""

    spec: LanguageModelSpec
    dataset: str
    hyperparameters: Hyperparameters
    text: TextSettings
    seed: int
    idx_to_token: list[str]
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any]
    seconds: float
    history: LanguageHistory

    @property
    def metrics(self) -> dict[str, Any]:
        """``{"train": {"perplexity", "tokens/s"}, "seconds": s}``."""
        last = {"perplexity": self.history.perplexity[-1] if self.history.epochs else math.nan,
                "tokens/s": (self.history.tokens_per_second or [math.nan])[-1]}  # fmt: skip
        return {"train": last, "seconds": self.seconds}

    @property
    def vocab(self) -> Vocab:
        """The vocabulary (indices as in training)."""
        return vocab_from_tokens(self.idx_to_token)

    def build_model(self) -> RNNModel:
        """The trained network, in eval mode."""
        model = build_language_model(self.spec)
        model.load_state_dict(self.model_state)
        model.eval()
        return model

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": LANGUAGE_CHECKPOINT_KIND,
            "version": LANGUAGE_CHECKPOINT_VERSION,
            "model": self.model_state,
            "optimizer": self.optimizer_state,
            "spec": self.spec.to_dict(),
            "dataset": self.dataset,
            "hyperparameters": {
                **asdict(self.hyperparameters),
                **asdict(self.text),
                "seed": self.seed,
            },  # fmt: skip
            "idx_to_token": list(self.idx_to_token),
            "metrics": self.metrics,
            "history": self.history.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LanguageCheckpoint:
        if not isinstance(data, Mapping) or data.get("kind") != LANGUAGE_CHECKPOINT_KIND:
            raise ValueError("not a language-model checkpoint written by ndgrad train")
        hp = dict(data["hyperparameters"])
        return cls(
            spec=LanguageModelSpec.from_dict(data["spec"]),
            dataset=data["dataset"],
            hyperparameters=Hyperparameters(
                epochs=hp["epochs"],
                lr=hp["lr"],
                batch_size=hp["batch_size"],
                optimizer=hp["optimizer"],
                weight_decay=hp.get("weight_decay", 0.0),
            ),  # fmt: skip
            text=TextSettings(
                num_steps=int(hp["num_steps"]),
                max_tokens=int(hp["max_tokens"]),
                use_random_iter=bool(hp["use_random_iter"]),
                clip=float(hp["clip"]),
            ),  # fmt: skip
            seed=int(hp["seed"]),
            idx_to_token=[str(t) for t in data["idx_to_token"]],
            model_state=data["model"],
            optimizer_state=data["optimizer"],
            seconds=float(data["metrics"]["seconds"]),
            history=LanguageHistory.from_dict(data["history"]),
        )


def vocab_from_tokens(idx_to_token: list[str]) -> Vocab:
    """A :class:`Vocab` with exactly these tokens at these indices (index 0 ``'<unk>'``)."""
    if not idx_to_token or idx_to_token[0] != "<unk>":
        raise ValueError("a vocabulary's first token must be '<unk>'")
    vocab = Vocab(reserved_tokens=list(idx_to_token[1:]))
    if vocab.idx_to_token != list(idx_to_token):
        raise ValueError("the vocabulary lists a token twice")
    return vocab


@dataclass
class LanguageResult:
    """What :func:`fit_language_model` returns."""

    model: RNNModel
    optimizer: Any
    vocab: Vocab
    checkpoint: LanguageCheckpoint

    @property
    def history(self) -> LanguageHistory:
        return self.checkpoint.history


# d2l trains every model with SGD at lr 1, batch 32, 35 steps, 256 hidden units and clip 1 for
# 500 epochs. Here a default run stays well under a minute on 2 cores: the RNN keeps d2l's SGD
# (150 epochs, about 0.2 s each); the GRU and LSTM, which crawl under SGD at lr 1 (the GRU's
# perplexity is still 7 after 120 epochs), train with Adam at lr 0.01 and reach about 1.2-1.3
# in 40 epochs (0.35-0.45 s each). Measured numbers: README.
LANGUAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "rnn": {"epochs": 150, "lr": 1.0, "batch_size": 32, "optimizer": "sgd"},
    "gru": {"epochs": 40, "lr": 0.01, "batch_size": 32, "optimizer": "adam"},
    "lstm": {"epochs": 40, "lr": 0.01, "batch_size": 32, "optimizer": "adam"},
}
DEFAULT_NUM_HIDDENS = 256


def language_hyperparameters(
    model: str,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    optimizer: str | None = None,
    weight_decay: float | None = None,
) -> Hyperparameters:
    """The defaults for ``model`` (rnn, gru, lstm) with every given (not None) value in place."""
    if model not in LANGUAGE_MODELS:
        raise ValueError(
            f"unknown language model {model!r}; choose from: {', '.join(LANGUAGE_MODELS)}"
        )
    merged: dict[str, Any] = {"weight_decay": 0.0, **LANGUAGE_DEFAULTS[model]}
    given = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "optimizer": optimizer,
             "weight_decay": weight_decay}  # fmt: skip
    merged.update({k: v for k, v in given.items() if v is not None})
    if merged["optimizer"] not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {merged['optimizer']!r}; choose from: {', '.join(OPTIMIZERS)}"
        )
    return Hyperparameters(**merged)


def fit_language_model(
    spec: LanguageModelSpec,
    corpus: list[int],
    vocab: Vocab,
    hyper: Hyperparameters,
    text: TextSettings | None = None,
    *,
    seed: int = 0,
    dataset: str = "time-machine",
    callback: FitCallback | None = None,
    resume: LanguageCheckpoint | None = None,
) -> LanguageResult:
    """Trains a fresh network on ``corpus`` (d2l's ``train_ch8``); ``seed`` seeds the
    initialisation and the minibatch offsets. ``callback`` gets ``on_epoch_start``,
    ``on_batch_end`` (running perplexity is ``exp(stats.loss)``) and ``on_epoch_end`` (with
    ``train = {"loss", "perplexity", "tokens/s"}`` and no validation part).

    ``resume`` continues a checkpoint for ``hyper.epochs`` more epochs: its weights, optimizer
    state (Adam's moments and step count) and perplexity history. Checkpoints are taken at the
    end of an epoch, and every epoch starts with a fresh state (d2l's ``train_ch8``, sequential
    or random minibatches alike), so nothing of the hidden state is lost; the minibatch offsets
    come from one ``random.Random(seed)`` stream, which a resumed run replays past the
    finished epochs' draws. A run of k epochs resumed to N therefore equals a run of N epochs
    bit for bit (same seed, settings and corpus).
    """
    text = text or TextSettings()
    if len(vocab) != spec.vocab_size:
        raise ValueError(f"the spec has {spec.vocab_size} tokens but the vocab {len(vocab)}")
    if resume is not None:
        check_resumable(resume, spec, dataset, hyper, list(vocab.idx_to_token))
    rng = random.Random(seed)
    data_iter = SeqDataLoader(hyper.batch_size, text.num_steps, text.use_random_iter,
                              corpus=corpus, vocab=vocab, rng=rng)  # fmt: skip
    batches = len(data_iter)
    if batches < 1:
        raise ValueError(
            f"{len(corpus)} tokens make no minibatch of {hyper.batch_size} x {text.num_steps}: "
            "lower --batch-size or --num-steps, or raise --max-tokens"
        )
    callback = callback or FitCallback()
    ndgrad.manual_seed(seed)
    model = build_language_model(spec)
    opt = make_optimizer(hyper, model.parameters())
    done = 0
    history = LanguageHistory()
    seconds_before = 0.0
    if resume is not None:
        model.load_state_dict(resume.model_state)
        opt.load_state_dict(copy.deepcopy(resume.optimizer_state))
        for group in opt.param_groups:  # the settings of this run, the state of the last
            group["lr"], group["weight_decay"] = hyper.lr, hyper.weight_decay
        done = resume.history.epochs
        history = LanguageHistory(list(resume.history.perplexity),
                                  list(resume.history.tokens_per_second))  # fmt: skip
        seconds_before = resume.seconds
        for _ in range(done):  # each pass draws its offsets at its first minibatch
            next(iter(data_iter), None)
    total_epochs = done + hyper.epochs
    loss_fn = nn.CrossEntropyLoss()
    net, rank, world = data_parallel(model, hyper.batch_size)
    share = hyper.batch_size // world  # rows of each minibatch this rank trains on
    start = time.perf_counter()

    def snapshot(frozen: bool) -> LanguageCheckpoint:
        def copy_of(x: Any) -> Any:
            return copy.deepcopy(x) if frozen else x

        return LanguageCheckpoint(
            spec=spec, dataset=dataset, hyperparameters=replace(hyper, epochs=history.epochs),
            text=text, seed=seed, idx_to_token=list(vocab.idx_to_token),
            model_state=copy_of(model.state_dict()), optimizer_state=copy_of(opt.state_dict()),
            seconds=seconds_before + time.perf_counter() - start,
            history=LanguageHistory(list(history.perplexity), list(history.tokens_per_second)),
        )  # fmt: skip

    last: LanguageCheckpoint | None = resume
    epoch, batch = done, 0
    try:
        with single_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(done + 1, total_epochs + 1):
                callback.on_epoch_start(epoch, total_epochs, batches)
                model.train()
                state: Any = None
                total, tokens = 0.0, 0
                tic = time.perf_counter()
                for batch, (X, Y) in enumerate(data_iter, 1):
                    if world > 1:  # this rank's rows: each keeps its rows' hidden state
                        X, Y = (
                            X[rank * share : (rank + 1) * share],
                            Y[rank * share : (rank + 1) * share],
                        )
                    if state is None or text.use_random_iter:
                        state = model.begin_state(batch_size=X.shape[0])
                    else:
                        state = _detach(state)
                    y = Y.T.reshape(-1)
                    y_hat, state = net(X, state)
                    loss = loss_fn(y_hat, y)
                    value = loss.item()
                    if world == 1 and not math.isfinite(value):  # see training.loop.fit
                        raise TrainingStopped(
                            f"the training loss became {value} at epoch {epoch}, batch {batch}: "
                            "the run diverged (try a smaller --lr)",
                            "diverged", last, epoch, batch,
                        )  # fmt: skip
                    opt.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(model.parameters(), text.clip)
                    opt.step()
                    n = y.numel()
                    total += value * n
                    tokens += n
                    callback.on_batch_end(BatchStats(epoch, batch, batches, tokens,
                                                     total / tokens, None))  # fmt: skip
                batch = 0
                if world > 1:  # the perplexity of the whole minibatches, over every rank
                    from ndgrad import distributed as dist

                    sums = ndgrad.tensor([total, float(tokens)], dtype=ndgrad.float64)
                    dist.all_reduce(sums)
                    total, tokens = sums[0].item(), int(sums[1].item())
                speed = tokens / max(time.perf_counter() - tic, 1e-9)
                ppl = math.exp(min(total / tokens, 700.0))
                history.perplexity.append(ppl)
                history.tokens_per_second.append(speed)
                stats = {"loss": total / tokens, "perplexity": ppl, "tokens/s": speed}
                last = snapshot(frozen=epoch < total_epochs)
                callback.on_epoch_end(EpochStats(epoch, total_epochs, stats, {}, "validation"))
    except KeyboardInterrupt:
        where = f"at epoch {epoch}, batch {batch}" if batch else f"after epoch {history.epochs}"
        raise TrainingStopped(f"interrupted {where}", "interrupted", last, epoch, batch) from None
    model.eval()
    assert last is not None
    checkpoint = last
    return LanguageResult(model, opt, vocab, checkpoint)


def check_resumable(
    checkpoint: LanguageCheckpoint,
    spec: LanguageModelSpec,
    dataset: str,
    hyper: Hyperparameters,
    idx_to_token: list[str],
) -> None:
    """ValueError unless ``checkpoint`` can continue as ``spec`` on ``dataset`` with ``hyper``:
    the same network, dataset, vocabulary and optimizer (its state fits no other)."""
    if (spec.model, dataset) != (checkpoint.spec.model, checkpoint.dataset):
        raise ValueError(f"the checkpoint holds {checkpoint.spec.model} on {checkpoint.dataset}, "
                         f"not {spec.model} on {dataset}")  # fmt: skip
    if spec != checkpoint.spec:
        raise ValueError(f"the checkpoint's network is {checkpoint.spec}, not {spec}")
    if list(idx_to_token) != list(checkpoint.idx_to_token):
        raise ValueError("the corpus gives another vocabulary than the checkpoint's "
                         "(the same --max-tokens is needed)")  # fmt: skip
    if hyper.optimizer != checkpoint.hyperparameters.optimizer:
        raise ValueError(f"the checkpoint trained with {checkpoint.hyperparameters.optimizer}: "
                         f"its state does not fit {hyper.optimizer}")  # fmt: skip


@dataclass(frozen=True)
class LanguageEvaluation:
    """Perplexity of a language model over a corpus: ``exp(loss)``, ``loss`` the mean
    cross-entropy per predicted token (nats), over ``tokens`` predictions."""

    perplexity: float
    loss: float
    tokens: int

    def to_dict(self) -> dict[str, float | int]:
        return {"perplexity": self.perplexity, "loss": self.loss, "tokens": self.tokens}


def evaluate_language_model(
    model: RNNModel, corpus: list[int], batch_size: int, num_steps: int
) -> LanguageEvaluation:
    """The perplexity of ``model`` over ``corpus``, read as training reads it with sequential
    minibatches (d2l 8.3.2.2), but from offset 0 and without gradients: the corpus is cut into
    ``batch_size`` rows read ``num_steps`` columns at a time, the hidden state carried from one
    minibatch to the next (it starts at zeros). Every token after the first of each row is
    predicted once, except the few at the end that do not fill a row."""
    num_tokens = ((len(corpus) - 1) // batch_size) * batch_size
    if num_tokens < batch_size or batch_size < 1 or num_steps < 1:
        raise ValueError(f"{len(corpus)} tokens make no row of {batch_size} x {num_steps}")
    X = np.asarray(corpus[:num_tokens], dtype=np.int64).reshape(batch_size, -1)
    Y = np.asarray(corpus[1 : 1 + num_tokens], dtype=np.int64).reshape(batch_size, -1)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    model.eval()
    state, total, count = model.begin_state(batch_size=batch_size), 0.0, 0
    with ndgrad.no_grad(), single_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        for i in range(0, X.shape[1], num_steps):  # the last minibatch may be shorter
            x = ndgrad.tensor(X[:, i : i + num_steps], dtype=ndgrad.int64)
            y = ndgrad.tensor(Y[:, i : i + num_steps], dtype=ndgrad.int64).T.reshape(-1)
            y_hat, state = model(x, state)
            total += float(loss_fn(y_hat, y).item())
            count += y.numel()
    loss = total / count
    return LanguageEvaluation(math.exp(min(loss, 700.0)), loss, count)


def load_text_corpus(dataset: str, max_tokens: int = 10000) -> tuple[list[int], Vocab]:
    """Character indices and vocabulary of a text dataset (``time-machine``)."""
    if dataset not in TEXT_DATASETS:
        raise ValueError(
            f"unknown text dataset {dataset!r} for a language model; choose from: "
            f"{', '.join(TEXT_DATASETS)}"
        )
    return load_corpus_time_machine(max_tokens)


def train_language_model(
    model: str,
    dataset: str = "time-machine",
    hyper: Hyperparameters | None = None,
    text: TextSettings | None = None,
    *,
    num_hiddens: int = DEFAULT_NUM_HIDDENS,
    num_layers: int = 1,
    seed: int = 0,
    callback: FitCallback | None = None,
) -> LanguageResult:
    """Loads ``dataset``'s characters and trains ``model`` on them; what ``ndgrad train
    rnn|gru|lstm --data time-machine`` does."""
    hyper = hyper if hyper is not None else language_hyperparameters(model)
    text = text or TextSettings()
    spec_check = LanguageModelSpec(model, 2, num_hiddens, num_layers)  # names first, then data
    corpus, vocab = load_text_corpus(dataset, text.max_tokens)
    spec = LanguageModelSpec(spec_check.model, len(vocab), num_hiddens, num_layers)
    return fit_language_model(spec, corpus, vocab, hyper, text, seed=seed, dataset=dataset,
                              callback=callback)  # fmt: skip


# ----------------------------------------------------------------------------- files
def save_language_checkpoint(checkpoint: LanguageCheckpoint, path: str | os.PathLike[str]) -> Path:
    """Writes ``checkpoint`` with ``ndgrad.save`` (atomically); returns the path."""
    path = Path(path)
    ndgrad.save(checkpoint.to_dict(), path)
    return path


def is_language_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an ndgrad file holding a language-model checkpoint (False for a
    missing file or any other content)."""
    try:
        data = ndgrad.load(path)
    except Exception:  # noqa: BLE001 - not one; the caller's own loader says what is wrong
        return False
    return isinstance(data, dict) and data.get("kind") == LANGUAGE_CHECKPOINT_KIND


def load_language_checkpoint(path: str | os.PathLike[str]) -> LanguageCheckpoint:
    """The language-model checkpoint at ``path``; FileNotFoundError if absent, ValueError if
    the file is not one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    data = ndgrad.load(path)
    if not isinstance(data, dict) or data.get("kind") != LANGUAGE_CHECKPOINT_KIND:
        raise ValueError(
            f"{path} is not a language-model checkpoint (ndgrad train rnn|gru|lstm); "
            "predict with --input for the other models"
        )
    return LanguageCheckpoint.from_dict(data)


def write_language_plots(result: LanguageResult, folder: str | os.PathLike[str]) -> list[Path]:
    """Writes the perplexity curve (``perplexity.png``/``.svg``) into ``folder``."""
    from ndgrad import plot

    ckpt = result.checkpoint
    fig = plot.training_curves(
        {"train perplexity": ckpt.history.perplexity},
        f"{ckpt.spec.model} on {ckpt.dataset}: perplexity",
    )
    if max(ckpt.history.perplexity) / min(ckpt.history.perplexity) > 10:
        fig.axes[0].set_yscale("log")  # a log scale only where it helps reading
    return plot.save_figure(fig, folder, "perplexity")


__all__ = [
    "DEFAULT_NUM_HIDDENS", "LANGUAGE_CHECKPOINT_KIND", "LANGUAGE_DEFAULTS", "LANGUAGE_MODELS",
    "TEXT_DATASETS", "LanguageCheckpoint", "LanguageEvaluation", "LanguageHistory", "LanguageModelSpec",
    "LanguageResult", "RNNModel", "TextSettings", "build_language_model", "check_resumable",
    "evaluate_language_model", "fit_language_model", "is_language_checkpoint",
    "language_hyperparameters", "load_language_checkpoint", "load_text_corpus", "predict_ch8",
    "recurrent_layer", "save_language_checkpoint", "train_language_model", "vocab_from_tokens",
    "write_language_plots",
]  # fmt: skip
