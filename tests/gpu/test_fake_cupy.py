"""The fake CuPy refuses what real CuPy refuses, so the device tests can fail where a GPU would."""

from __future__ import annotations

import numpy as np
import pytest

import fake_cupy as cp


def test_arrays_refuse_numpy() -> None:
    a = cp.asarray(np.arange(3.0))
    assert not isinstance(a, np.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError):
        np.exp(a)  # a NumPy ufunc
    with pytest.raises(TypeError):
        np.sum(a)  # a NumPy array function
    with pytest.raises(TypeError, match="Unsupported type"):
        a + np.ones(3)  # a host array as an operand
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.concatenate([a, np.ones(3)])
    np.testing.assert_array_equal(cp.asnumpy(a * 2), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(a.get(), np.arange(3.0))


def test_results_are_device_arrays_as_cupys() -> None:
    a = cp.asarray(np.arange(6.0).reshape(2, 3))
    assert type(a.sum()) is cp.ndarray and a.sum().ndim == 0  # 0-d, never a host scalar
    assert type(a[0, 1]) is cp.ndarray and float(a[0, 1]) == 1.0
    b = a[0]
    b[...] = 7.0  # a view, as CuPy's
    assert float(a[0, 0]) == 7.0
    out = cp.empty((2, 3))
    assert cp.exp(a, out=out) is out
    cp.add.at(a, (np.array([0, 0]), np.array([1, 1])), 1.0)  # host index arrays are copied
    assert float(a[0, 1]) == 9.0


def test_only_cupys_signatures_and_features() -> None:
    a = cp.asarray(np.ones((2, 3)))
    with pytest.raises(TypeError, match="unexpected keyword argument 'initial'"):
        cp.max(a, initial=0.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'where'"):
        a.sum(where=a > 0)
    with pytest.raises(TypeError, match="writeable"):
        cp.lib.stride_tricks.as_strided(a, (3,), (8,), writeable=False)
    with pytest.raises(NotImplementedError):
        cp.multiply.at(a, [0], 2.0)  # CuPy's ufunc.at: add, subtract, maximum, minimum
    assert not hasattr(a.flags, "writeable")
    with pytest.raises(AttributeError):
        cp.lib.format  # noqa: B018 - NumPy-only module
