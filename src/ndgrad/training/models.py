"""Model specs, the networks they describe, losses, optimizers and hyper-parameter defaults."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import ndgrad
from ndgrad import nn, optim
from ndgrad.training.data import TASKS, Split
from ndgrad.training.errors import InvalidSetting, check_model_size

MODELS = ("linreg", "logistic", "softmax", "mlp", "lenet", "resnet", "transformer")
IMAGE_MODELS = ("lenet", "resnet")
SEQUENCE_MODELS = ("transformer",)
IMAGE_SIDE = 28  # the image models see 28x28 inputs (smaller square images are upsampled)
LOSSES = ("mse", "bce", "cross_entropy")
OPTIMIZERS = ("sgd", "adam")
DEFAULT_HIDDEN = (256, 128)

# The loss each model may use: linreg fits values, logistic one logit, softmax class scores;
# an MLP does regression or classification.
_MODEL_LOSSES = {
    "linreg": ("mse",),
    "logistic": ("bce",),
    "softmax": ("cross_entropy",),
    "mlp": ("mse", "cross_entropy"),
    "lenet": ("cross_entropy",),
    "resnet": ("cross_entropy",),
    "transformer": ("cross_entropy",),
}
_LOSS_TASK = {"mse": "regression", "bce": "classification", "cross_entropy": "classification"}


# ----------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a network (checkpoints store it as a plain dict).

    ``hidden`` lists the MLP's hidden layer widths (empty for the other models); ``loss`` is
    ``"mse"`` (regression), ``"bce"`` (one logit) or ``"cross_entropy"`` (class scores).
    """

    model: str
    in_features: int
    out_features: int
    hidden: tuple[int, ...] = ()
    task: str = "classification"
    loss: str = "cross_entropy"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose from: {', '.join(MODELS)}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose from: {', '.join(TASKS)}")
        if self.loss not in _MODEL_LOSSES[self.model]:
            raise ValueError(
                f"{self.model} trains with {' or '.join(_MODEL_LOSSES[self.model])}, "
                f"not {self.loss!r}"
            )
        if _LOSS_TASK[self.loss] != self.task:
            raise ValueError(f"loss {self.loss!r} is for {_LOSS_TASK[self.loss]}, not {self.task}")
        if self.in_features < 1:
            raise InvalidSetting("in_features", f"must be at least 1, got {self.in_features}")
        if self.out_features < 1:
            raise InvalidSetting("out_features", f"must be at least 1, got {self.out_features}")
        if self.loss in ("mse", "bce") and self.out_features != 1:
            raise ValueError(
                f"a {self.loss} model has 1 output, got out_features={self.out_features}"
            )
        if self.loss == "cross_entropy" and self.out_features < 2:
            raise ValueError(
                f"a cross_entropy model needs at least 2 outputs, got {self.out_features}"
            )
        if self.model != "mlp" and self.hidden:
            raise ValueError(f"{self.model} has no hidden layers, got hidden={list(self.hidden)}")
        if self.model in IMAGE_MODELS:
            image_side(self.in_features)
        if self.model == "mlp" and (not self.hidden or min(self.hidden) < 1):
            raise InvalidSetting(
                "hidden", f"must list positive layer widths, got {list(self.hidden)}"
            )
        if self.model == "mlp":  # (in + 1) * out per Linear, before any weight is allocated
            widths = [self.in_features, *self.hidden, self.out_features]
            check_model_size(sum((a + 1) * b for a, b in zip(widths, widths[1:])))

    @classmethod
    def for_split(
        cls, model: str, split: Split, hidden: Sequence[int] = DEFAULT_HIDDEN
    ) -> ModelSpec:
        """The spec of ``model`` sized for ``split``; ValueError if the two do not fit."""
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; choose from: {', '.join(MODELS)}")
        classes = split.num_classes
        if model == "linreg" and split.task != "regression":
            raise ValueError(
                f"linreg needs a regression dataset (synthetic, diabetes); {split.name!r} "
                "is a classification set: use softmax or logistic"
            )
        if model in ("logistic", "softmax") and split.task != "classification":
            raise ValueError(
                f"{model} needs a classification dataset; {split.name!r} is a regression "
                "set: use linreg or mlp"
            )
        if model in IMAGE_MODELS and split.task != "classification":
            raise ValueError(
                f"{model} needs an image classification dataset (digits, fashion-mnist); "
                f"{split.name!r} is a regression set"
            )
        if model in IMAGE_MODELS:
            image_side(split.num_features, split.name)
        if model in SEQUENCE_MODELS and not split.is_sequence:
            raise ValueError(
                f"{model} needs a sequence dataset (reverse); {split.name!r} has one target per row"
            )
        if split.is_sequence and model not in SEQUENCE_MODELS:
            raise ValueError(
                f"{split.name!r} is a sequence task (one target per position): use "
                f"{' or '.join(SEQUENCE_MODELS)}"
            )
        if model == "logistic" and classes != 2:
            raise ValueError(
                f"logistic regression needs 2 classes; {split.name!r} has {classes}: use softmax"
            )
        if split.task == "regression":
            out, loss = 1, "mse"
        elif model == "logistic":
            out, loss = 1, "bce"
        else:
            out, loss = classes, "cross_entropy"
        return cls(
            model=model,
            in_features=split.num_features,
            out_features=out,
            hidden=tuple(hidden) if model == "mlp" else (),
            task=split.task,
            loss=loss,
        )

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint form: ``{"model", "in_features", "out_features", "hidden", ...}``."""
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """The spec stored in a checkpoint."""
        return cls(
            model=data["model"],
            in_features=int(data["in_features"]),
            out_features=int(data["out_features"]),
            hidden=tuple(int(h) for h in data.get("hidden", ())),
            task=data["task"],
            loss=data["loss"],
        )


def image_side(in_features: int, dataset: str | None = None) -> int:
    """The side of the square one-channel image a row of ``in_features`` pixels holds;
    ValueError if ``in_features`` is not a square number."""
    side = math.isqrt(max(int(in_features), 0))
    if side < 1 or side * side != in_features:
        where = f"{dataset!r} has" if dataset else "got"
        raise ValueError(
            f"the image models (lenet, resnet) take square one-channel images as flat rows of "
            f"side*side pixels; {where} {in_features} features, which is not a square number"
        )
    return side


def _image_input(in_features: int) -> list[nn.Module]:
    """Flat pixel rows -> ``[n, 1, 28, 28]`` images (bilinear upsampling when smaller)."""
    side = image_side(in_features)
    layers: list[nn.Module] = [nn.Unflatten(1, (1, side, side))]
    if side != IMAGE_SIDE:
        layers.append(nn.Upsample(size=(IMAGE_SIDE, IMAGE_SIDE), mode="bilinear"))
    return layers


def lenet(in_features: int, classes: int) -> nn.Sequential:
    """d2l's LeNet-5 (section 7.6) on flat rows of square images, with ReLU in place of the
    sigmoid (it trains several times faster with the same layers)."""
    return nn.Sequential(
        *_image_input(in_features),
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes),
    )  # fmt: skip


class Residual(nn.Module):
    """d2l's residual block (section 8.6): two 3x3 convolutions with batch norm, plus the
    input (through a 1x1 convolution when the shape changes)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv3 = (
            nn.Conv2d(in_channels, channels, 1, stride=stride)
            if stride != 1 or in_channels != channels
            else None
        )
        self.bn1 = nn.BatchNorm2d(channels)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, X: ndgrad.Tensor) -> ndgrad.Tensor:
        Y = self.bn1(self.conv1(X)).relu()
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        return (Y + X).relu()


def resnet(in_features: int, classes: int) -> nn.Sequential:
    """A small ResNet in d2l's style (section 8.6) on 28x28 inputs: a 3x3 stem with batch
    norm, a 16-channel residual block at 14x14, a 32-channel one at 7x7, global average
    pooling and a linear classifier."""
    return nn.Sequential(
        *_image_input(in_features),
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        Residual(16, 16),
        Residual(16, 32, stride=2),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.Linear(32, classes),
    )  # fmt: skip


class SequenceTransformer(nn.Module):
    """A Transformer encoder over token ids (the features, as numbers): one-hot embedding,
    learnt positions, ``nn.TransformerEncoder``, and class scores ``[n, classes, length]``
    for every position (what ``CrossEntropyLoss`` takes with ``[n, length]`` targets)."""

    def __init__(
        self,
        vocab: int,
        length: int,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
    ) -> None:
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Linear(vocab, d_model, bias=False)
        self.pos = nn.Parameter(ndgrad.randn(length, d_model) * 0.1)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, X: ndgrad.Tensor) -> ndgrad.Tensor:  # noqa: N803
        tokens = nn.functional.one_hot(X.round().long().clamp(0, self.vocab - 1), self.vocab)
        h = self.embed(tokens.float()) + self.pos
        return self.head(self.encoder(h)).transpose(1, 2)


def build_model(spec: ModelSpec) -> nn.Module:
    """The (freshly initialised) network ``spec`` describes."""
    d, out = spec.in_features, spec.out_features
    if spec.model == "transformer":
        return SequenceTransformer(out, d)
    if spec.model == "lenet":
        return lenet(d, out)
    if spec.model == "resnet":
        return resnet(d, out)
    if spec.model == "mlp":
        layers: list[nn.Module] = []
        width = d
        for h in spec.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, out))
        return nn.Sequential(*layers)
    return nn.Sequential(nn.Linear(d, out))


def loss_function(spec: ModelSpec) -> nn.Module:
    """The loss module ``spec`` trains with."""
    losses = {"mse": nn.MSELoss, "bce": nn.BCEWithLogitsLoss, "cross_entropy": nn.CrossEntropyLoss}
    return losses[spec.loss]()


def target_tensor(spec: ModelSpec, y: np.ndarray) -> ndgrad.Tensor:
    """Targets as the loss wants them: int64 class indices, or a float32 ``[n, 1]`` column."""
    if spec.loss == "cross_entropy":
        return ndgrad.tensor(y.astype(np.int64))
    return ndgrad.tensor(y.astype(np.float32).reshape(-1, 1))


# ----------------------------------------------------------------------------- hyper-parameters
@dataclass(frozen=True)
class Hyperparameters:
    """How to train: epochs, learning rate, minibatch size, optimizer (sgd/adam), L2 penalty."""

    epochs: int
    lr: float
    batch_size: int
    optimizer: str = "sgd"
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise InvalidSetting("epochs", f"must be at least 1, got {self.epochs}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InvalidSetting("lr", f"must be a positive number, got {self.lr}")
        if self.batch_size < 1:
            raise InvalidSetting("batch_size", f"must be at least 1, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; choose from: {', '.join(OPTIMIZERS)}"
            )
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise InvalidSetting(
                "weight_decay", f"must be a finite non-negative number, got {self.weight_decay}"
            )


# Defaults chosen so every model reaches its target quickly (a few seconds on 2 cores);
# (model, dataset) entries override the model's row.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "linreg": {"epochs": 60, "lr": 0.01, "batch_size": 16, "optimizer": "sgd"},
    "logistic": {"epochs": 30, "lr": 0.1, "batch_size": 32, "optimizer": "sgd"},
    "softmax": {"epochs": 30, "lr": 0.1, "batch_size": 32, "optimizer": "sgd"},
    "mlp": {"epochs": 20, "lr": 1e-3, "batch_size": 64, "optimizer": "adam"},
    "lenet": {"epochs": 30, "lr": 2e-3, "batch_size": 32, "optimizer": "adam"},
    "resnet": {"epochs": 10, "lr": 1e-3, "batch_size": 32, "optimizer": "adam"},
    "transformer": {"epochs": 3, "lr": 1e-3, "batch_size": 64, "optimizer": "adam"},
}
_DATASET_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("linreg", "synthetic"): {"epochs": 3, "lr": 0.03, "batch_size": 10},
    ("mlp", "fashion-mnist"): {"epochs": 10, "batch_size": 256},
    ("softmax", "fashion-mnist"): {"epochs": 10, "batch_size": 256},
    ("lenet", "fashion-mnist"): {"epochs": 10, "batch_size": 128},
    ("resnet", "fashion-mnist"): {"epochs": 5, "batch_size": 128},
}


def hyperparameters(
    model: str,
    dataset: str,
    *,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    optimizer: str | None = None,
    weight_decay: float | None = None,
) -> Hyperparameters:
    """The defaults for ``model`` on ``dataset``, with every given (not None) value in their
    place; ValueError for an unknown model or an impossible value."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from: {', '.join(MODELS)}")
    merged: dict[str, Any] = {"weight_decay": 0.0, **_DEFAULTS[model]}
    merged.update(_DATASET_DEFAULTS.get((model, dataset), {}))
    given = {
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "weight_decay": weight_decay,
    }
    merged.update({k: v for k, v in given.items() if v is not None})
    return Hyperparameters(**merged)


def make_optimizer(hyper: Hyperparameters, params: Iterable[Any]) -> optim.Optimizer:
    """The optimizer ``hyper`` names, over ``params``."""
    cls = optim.Adam if hyper.optimizer == "adam" else optim.SGD
    return cls(params, lr=hyper.lr, weight_decay=hyper.weight_decay)
