"""The one error type of the training library that carries more than a message."""

from __future__ import annotations


class InvalidSetting(ValueError):
    """A setting (hyper-parameter, split fraction, layer widths) has an impossible value.

    ``str(exc)`` reads ``"lr must be a positive number, got -1.0"``; ``name`` is the Python
    name of the setting, so a front end can say it in its own words (``--lr``).
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason


class TrainingStopped(RuntimeError):
    """Training ended early: the loss stopped being finite (``reason="diverged"``) or the user
    pressed Ctrl-C (``reason="interrupted"``).

    ``checkpoint`` is what is worth keeping (the last state whose loss was finite, or the
    state at the interruption), or None when not one epoch finished with a finite loss;
    ``epoch`` and ``batch`` say where it stopped.
    """

    def __init__(self, message: str, reason: str, checkpoint: object, epoch: int, batch: int):
        super().__init__(message)
        self.reason = reason
        self.checkpoint = checkpoint
        self.epoch = epoch
        self.batch = batch


MAX_MODEL_BYTES = 2 << 30  # the largest model the trainer builds: 2 GiB of float32 parameters


def check_model_size(parameters: int, setting: str = "hidden") -> None:
    """InvalidSetting naming the size when ``parameters`` float32 numbers exceed
    :data:`MAX_MODEL_BYTES` (checked before any weight is allocated)."""
    size = parameters * 4
    if size > MAX_MODEL_BYTES:
        raise InvalidSetting(
            setting,
            f"gives a model of {parameters:,} parameters ({size / (1 << 30):.3g} GiB of "
            f"float32); the limit is {MAX_MODEL_BYTES >> 30} GiB: use smaller widths",
        )
