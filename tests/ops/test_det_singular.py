"""det's gradient is the cofactor matrix, singular matrices included (a polynomial has a
derivative everywhere): checked by finite differences, first and second order."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad
from ndgrad.autograd import gradcheck, gradgradcheck


@pytest.mark.parametrize(
    "matrix",
    [
        [[1.0, 2.0], [2.0, 4.0]],  # rank 1
        [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, 1.0, 2.0]],  # rank 2
        [[0.0, 0.0], [0.0, 0.0]],  # rank 0: zero gradient
    ],
)
def test_det_of_a_singular_matrix_has_the_cofactor_gradient(matrix):
    a = ndgrad.tensor(matrix, dtype=ndgrad.float64, requires_grad=True)
    a.det().backward()
    n = len(matrix)
    expected = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(np.array(matrix), i, 0), j, 1)
            expected[i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if minor.size else 1.0)
    np.testing.assert_allclose(a.grad.numpy(), expected, atol=1e-12)
    assert gradcheck(lambda t: t.det(), (a,))


def test_det_second_order_on_an_invertible_batch():
    a = ndgrad.tensor(np.eye(3) + 0.1 * np.arange(18.0).reshape(2, 3, 3) % 1, requires_grad=True)
    assert gradgradcheck(lambda t: t.det(), (a,))
