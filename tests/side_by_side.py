"""Runs one d2l-style program with ndgrad and with PyTorch and compares what it would print.

A program is written once as ``program(fw)``, where ``fw`` carries ``torch``, ``nn``, ``F`` and
``data`` of one framework; it returns a list of the values it would print (tensors, numbers,
strings, shapes, nested lists/dicts of them). Randomness that matters is drawn with NumPy and fed
to both frameworks, so every number is comparable.
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch as real_torch

import ndgrad
from ndgrad import nn as nd_nn
from ndgrad.nn import functional as nd_F
from ndgrad.utils import data as nd_data

NDGRAD = SimpleNamespace(
    name="ndgrad", torch=ndgrad, nn=nd_nn, F=nd_F, data=nd_data, Tensor=ndgrad.Tensor
)
TORCH = SimpleNamespace(
    name="torch",
    torch=real_torch,
    nn=real_torch.nn,
    F=real_torch.nn.functional,
    data=real_torch.utils.data,
    Tensor=real_torch.Tensor,
)


class Tensorish:
    """A tensor as the comparison sees it: values, shape, dtype, requires_grad and its repr."""

    def __init__(self, t: Any, fw_name: str) -> None:
        self.shape = tuple(t.shape)
        self.dtype = str(t.dtype).replace(fw_name, "torch")
        self.requires_grad = bool(t.requires_grad)
        self.values = t.detach().numpy().copy()


def _normalise(value: Any, fw: SimpleNamespace) -> Any:
    if isinstance(value, fw.Tensor):
        return Tensorish(value, fw.name)
    if isinstance(value, fw.torch.dtype):
        return str(value).replace(fw.name, "torch")
    if isinstance(value, str):
        # torch.Size([...]) vs ndgrad.Size([...]) is the one allowed difference
        return value.replace(f"{fw.name}.", "torch.")
    if isinstance(value, dict):
        return {k: _normalise(v, fw) for k, v in value.items()}
    if isinstance(value, tuple) and type(value) is not tuple:  # torch.Size, named tuples
        return tuple(_normalise(v, fw) for v in value)
    if isinstance(value, list | tuple):
        return type(value)(_normalise(v, fw) for v in value)
    return value


def run_both(program: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Runs ``program`` with ndgrad and with PyTorch (each seeded with 0)."""
    threads = real_torch.get_num_threads()
    real_torch.set_num_threads(1)
    try:
        ndgrad.manual_seed(0)
        ours = _normalise(program(NDGRAD, *args, **kwargs), NDGRAD)
        real_torch.manual_seed(0)
        ref = _normalise(program(TORCH, *args, **kwargs), TORCH)
    finally:
        real_torch.set_num_threads(threads)
    return ours, ref


def assert_same(
    ours: Any, ref: Any, rtol: float = 1e-5, atol: float = 1e-6, where: str = ""
) -> None:
    """Compares number by number: exact for ints, strings, shapes, dtypes; allclose for floats."""
    here = where or "output"
    if isinstance(ref, Tensorish):
        assert isinstance(ours, Tensorish), f"{here}: expected a tensor, got {ours!r}"
        assert ours.shape == ref.shape, f"{here}: shape {ours.shape} != {ref.shape}"
        assert ours.dtype == ref.dtype, f"{here}: dtype {ours.dtype} != {ref.dtype}"
        assert ours.requires_grad == ref.requires_grad, f"{here}: requires_grad differs"
        if ref.values.dtype.kind in "fc":
            np.testing.assert_allclose(ours.values, ref.values, rtol=rtol, atol=atol, err_msg=here)
        else:
            np.testing.assert_array_equal(ours.values, ref.values, err_msg=here)
        return
    if isinstance(ref, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{here}: expected an array, got {ours!r}"
        assert ours.dtype == ref.dtype, f"{here}: dtype {ours.dtype} != {ref.dtype}"
        np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol, err_msg=here)
        return
    if isinstance(ref, dict):
        assert isinstance(ours, dict), f"{here}: expected a dict, got {type(ours)}"
        assert list(ours) == list(ref), f"{here}: keys {list(ours)} != {list(ref)}"
        for k in ref:
            assert_same(ours[k], ref[k], rtol, atol, f"{here}[{k!r}]")
        return
    if isinstance(ref, list | tuple):
        assert isinstance(ours, list | tuple), f"{here}: expected a sequence, got {ours!r}"
        assert len(ours) == len(ref), f"{here}: length {len(ours)} != {len(ref)}"
        for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
            assert_same(a, b, rtol, atol, f"{here}[{i}]")
        return
    if isinstance(ref, str) and isinstance(ours, str) and ours != ref:
        # printed floats: the same text around numbers that agree to the printed precision
        # (float32 exp/log/sin are not correctly rounded in NumPy or in PyTorch, so the last
        # printed digit of a large value may differ)
        same_numbers_in(ours, ref, rtol=1e-5, atol=1.5e-4)
        return
    if isinstance(ref, bool | str | type(None)) or isinstance(ref, int):
        assert type(ours) is type(ref) and ours == ref, f"{here}: {ours!r} != {ref!r}"
        return
    if isinstance(ref, float):
        assert isinstance(ours, float), f"{here}: expected a float, got {ours!r}"
        assert math.isclose(ours, ref, rel_tol=rtol, abs_tol=atol) or (
            math.isnan(ours) and math.isnan(ref)
        ), f"{here}: {ours!r} != {ref!r}"
        return
    assert ours == ref, f"{here}: {ours!r} != {ref!r}"


def same_numbers_in(text_ours: str, text_ref: str, rtol: float = 1e-4, atol: float = 1e-4) -> None:
    """Compares two printed texts: identical apart from the numbers, which must be close."""
    number = r"-?\d+\.?\d*(?:e[+-]?\d+)?"

    def skeleton(text: str) -> str:  # column padding depends on the printed digits
        return re.sub(r"\s+", " ", re.sub(number, "#", text))

    assert skeleton(text_ours) == skeleton(text_ref), (text_ours, text_ref)
    a = [float(x) for x in re.findall(number, text_ours)]
    b = [float(x) for x in re.findall(number, text_ref)]
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def in_tmpdir(tmp_path: Any) -> Any:
    """Context manager: run inside tmp_path (d2l saves to relative file names)."""

    class _Chdir:
        def __enter__(self) -> None:
            self.before = os.getcwd()
            os.chdir(tmp_path)

        def __exit__(self, *exc: object) -> None:
            os.chdir(self.before)

    return _Chdir()


def copy_params(fw: SimpleNamespace, net: Any, arrays: list[np.ndarray]) -> None:
    """Overwrites the parameters of ``net`` (in order) with the given NumPy arrays."""
    params = list(net.parameters())
    assert len(params) == len(arrays)
    with fw.torch.no_grad():
        for p, a in zip(params, arrays, strict=True):
            p.copy_(fw.torch.tensor(a))


__all__ = [
    "NDGRAD",
    "TORCH",
    "OrderedDict",
    "assert_same",
    "copy_params",
    "in_tmpdir",
    "run_both",
    "same_numbers_in",
]
