"""``repr`` of tensors equals torch's, character for character (``torch.`` read as ``ndgrad.``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

CASES = {
    "ints": lambda lib: lib.tensor([[1, 2], [3, 4]]),
    "int_range": lambda lib: lib.arange(12).reshape(3, 4),
    "negative_ints": lambda lib: lib.tensor([-5, 10, 300]),
    "whole_floats": lambda lib: lib.arange(4.0),
    "whole_floats_wide": lambda lib: lib.tensor([0.0, 100.0, -3.0]),
    "fractions": lambda lib: lib.tensor([0.1, 0.25, -1.5]),
    "one_decimal_range": lambda lib: lib.arange(0, 1, 0.1),
    "linspace": lambda lib: lib.linspace(-1, 1, 5),
    "long_row_wraps": lambda lib: lib.arange(30.0) / 7,
    "scientific_small": lambda lib: lib.tensor([1e-5, 0.5]),
    "scientific_large": lambda lib: lib.tensor([1.0, 1e9]),
    "scientific_span": lambda lib: lib.tensor([0.01, 20.5, 3000.0]),
    "whole_scientific": lambda lib: lib.tensor([1.0, 5000.0]),
    "scalar_float": lambda lib: lib.tensor(3.5),
    "scalar_whole": lambda lib: lib.tensor(28.0),
    "scalar_int": lambda lib: lib.tensor(7),
    "scalar_bool": lambda lib: lib.tensor(True),
    "zeros": lambda lib: lib.zeros(2, 3),
    "ones_3d": lambda lib: lib.ones(2, 3, 4),
    "matrix": lambda lib: lib.tensor([[0.5, -1.25, 3.0], [4.0, 5.5, -6.75]]),
    "cube": lambda lib: (lib.arange(24.0).reshape(2, 3, 4) - 10) / 3,
    "bools": lambda lib: lib.tensor([1.0, -1.0, 2.0]) > 0,
    "float64": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float64),
    "float64_whole": lambda lib: lib.ones(3, dtype=lib.float64),
    "int32": lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    "nan_inf": lambda lib: lib.tensor([float("nan"), float("inf"), -float("inf"), 1.0]),
    "nan_fraction": lambda lib: lib.tensor([float("nan"), 0.5]),
    "empty": lambda lib: lib.tensor([]),
    "empty_2d": lambda lib: lib.zeros(0, 3),
    "empty_int": lambda lib: lib.zeros(0, dtype=lib.int64),
    "requires_grad": lambda lib: lib.arange(4.0, requires_grad=True),
    "grad_fn": lambda lib: lib.arange(4.0, requires_grad=True) * 2,
    "grad_fn_sum": lambda lib: (lib.arange(4.0, requires_grad=True) ** 2).sum(),
    "grad_fn_float64": lambda lib: lib.ones(2, dtype=lib.float64, requires_grad=True).exp(),
    "suffix_wraps": lambda lib: lib.arange(8.0, dtype=lib.float64, requires_grad=True) / 3,
    "big_summarized": lambda lib: lib.arange(2000.0).reshape(40, 50),
    "big_vector": lambda lib: lib.arange(1500),
    "big_3d": lambda lib: lib.arange(3000.0).reshape(10, 10, 30) / 7,
    "detached": lambda lib: (lib.ones(2, requires_grad=True) * 3).detach(),
    "max_return_type": lambda lib: lib.tensor([[1.0, 5.0], [3.0, 2.0]]).max(dim=1),
    "sort_return_type": lambda lib: lib.sort(lib.tensor([3.0, 1.0, 2.0])),
    "size": lambda lib: lib.ones(2, 3).shape,
    "dtype": lambda lib: lib.ones(2).dtype,
}


@pytest.mark.parametrize("name", list(CASES))
def test_repr_matches_torch(name):
    make = CASES[name]
    expected = repr(make(torch)).replace("torch.", "ndgrad.")
    assert repr(make(ndgrad)) == expected


@pytest.mark.parametrize("seed", range(6))
def test_repr_of_random_values_matches_torch(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 6, size=rng.integers(1, 4)))
    data = (rng.standard_normal(shape) * 10.0 ** rng.integers(-5, 6)).astype(np.float32)
    assert repr(ndgrad.tensor(data)) == repr(torch.tensor(data)).replace("torch.", "ndgrad.")


def test_str_and_format_of_zero_dim():
    x = ndgrad.tensor(2.5)
    assert str(x) == "tensor(2.5000)"
    assert f"{x:.2f}" == "2.50"
    assert f"{ndgrad.tensor(3)}" == f"{torch.tensor(3)}"
    assert f"loss {ndgrad.tensor(0.125)}" == f"loss {torch.tensor(0.125)}"
