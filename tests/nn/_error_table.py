"""Runs one expression under ``torch`` and under ``ndgrad`` and compares what comes out: the
exception class and message, or the result's shape (or repr)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

import ndgrad


def _outcome(expr: str, env: dict) -> tuple:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = eval(expr, dict(env))  # noqa: S307
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__, str(exc).replace("torch.", "ndgrad.")
    if hasattr(value, "shape"):
        return "ok", tuple(value.shape), str(value.dtype).replace("torch.", "ndgrad.")
    return "ok", repr(value).replace("torch.", "ndgrad.")


def environment(lib: Any, arrays: dict[str, np.ndarray]) -> dict:
    env = {name: lib.tensor(a) for name, a in arrays.items()}
    env.update(F=lib.nn.functional, nn=lib.nn, T=lib)
    return env


def check_same_outcome(expr: str, arrays: dict[str, np.ndarray], setup: str = "") -> None:
    """``expr`` behaves the same under both libraries (``setup``: statements run first, in
    the same namespace, e.g. to pool once and unpool)."""
    outcomes = []
    for lib in (torch, ndgrad):
        env = environment(lib, arrays)
        if setup:
            exec(setup, env)  # noqa: S102
        outcomes.append(_outcome(expr, env))
    assert outcomes[1] == outcomes[0], f"{expr}\n torch:  {outcomes[0]}\n ndgrad: {outcomes[1]}"
