"""d2l chapter 2 (preliminaries) run with ndgrad and with PyTorch, compared value by value."""

from __future__ import annotations

import numpy as np
import pytest
from tests.side_by_side import assert_same, run_both


def ndarray_section(fw):
    """d2l 2.1: data manipulation."""
    torch = fw.torch
    out = []
    x = torch.arange(12, dtype=torch.float32)
    out += [x, x.numel(), x.shape, str(x.shape), repr(x), x.dtype == torch.float32, str(x.dtype)]
    X = x.reshape(3, 4)
    out += [X, repr(X), X.reshape(-1, 4), x.reshape(3, -1)]
    out += [torch.zeros((2, 3, 4)), torch.ones((2, 3, 4)), torch.randn(3, 4).shape]
    out += [torch.tensor([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])]
    out += [X[-1], X[1:3], repr(X[-1]), repr(X[1:3])]
    X[1, 2] = 17
    out += [X]
    X[:2, :] = 12
    out += [X]
    out += [torch.exp(x), repr(torch.exp(x))]
    a = torch.tensor([1.0, 2, 4, 8])
    b = torch.tensor([2, 2, 2, 2])
    out += [a + b, a - b, a * b, a / b, a**b, repr(a / b)]
    X = torch.arange(12, dtype=torch.float32).reshape((3, 4))
    Y = torch.tensor([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    out += [torch.cat((X, Y), dim=0), torch.cat((X, Y), dim=1), X == Y, repr(X == Y), X.sum()]
    out += [repr(X.sum())]
    a = torch.arange(3).reshape((3, 1))
    b = torch.arange(2).reshape((1, 2))
    out += [a, b, a + b, repr(a + b)]
    before = id(Y)
    Y = Y + X
    out += [id(Y) == before]
    Z = torch.zeros_like(Y)
    before = id(Z)
    Z[:] = X + Y
    out += [id(Z) == before, Z]
    before = id(X)
    X += Y
    out += [id(X) == before, X]
    A = X.numpy()
    B = torch.from_numpy(A)
    out += [type(A).__name__, type(B).__name__, A.dtype.name]
    a = torch.tensor([3.5])
    out += [a, a.item(), float(a), int(a), repr(a)]
    return out


def linear_algebra_section(fw):
    """d2l 2.3: linear algebra."""
    torch = fw.torch
    out = []
    x = torch.tensor(3.0)
    y = torch.tensor(2.0)
    out += [x + y, x * y, x / y, x**y, repr(x**y)]
    x = torch.arange(3)
    out += [x, x[2], len(x), x.shape, repr(x[2])]
    A = torch.arange(6).reshape(3, 2)
    out += [A, A.T, repr(A.T)]
    A = torch.tensor([[1, 2, 3], [2, 0, 4], [3, 4, 5]])
    out += [A == A.T]
    out += [torch.arange(24).reshape(2, 3, 4)]
    A = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    B = A.clone()
    out += [A, A + B, A * B, repr(A * B)]
    a = 2
    X = torch.arange(24).reshape(2, 3, 4)
    out += [a + X, (a * X).shape]
    x = torch.arange(3, dtype=torch.float32)
    out += [x, x.sum(), A.shape, A.sum(), A.sum(axis=0), A.sum(axis=0).shape, A.sum(axis=1)]
    out += [A.sum(axis=[0, 1]) == A.sum(), A.mean(), A.sum() / A.numel()]
    out += [A.mean(axis=0), A.sum(axis=0) / A.shape[0]]
    sum_A = A.sum(axis=1, keepdims=True)
    out += [sum_A, sum_A.shape, A / sum_A, A.cumsum(axis=0)]
    y = torch.ones(3, dtype=torch.float32)
    out += [torch.dot(x, y), torch.sum(x * y), repr(torch.dot(x, y))]
    out += [A.shape, x.shape, torch.mv(A, x), A @ x]
    B = torch.ones(3, 4)
    out += [torch.mm(A, B), A @ B]
    u = torch.tensor([3.0, -4.0])
    out += [torch.norm(u), torch.abs(u).sum(), torch.norm(torch.ones((4, 9)))]
    # exercises
    out += [A.T.T == A, (A.T + A.T).shape, len(torch.zeros(2, 3, 4))]
    return out


def calculus_section(fw):
    """d2l 2.4: calculus (numeric limit of f(x) = 3x^2 - 4x at x = 1)."""
    out = []

    def f(x):
        return 3 * x**2 - 4 * x

    for h in 10.0 ** np.arange(-1, -6, -1):
        out.append(f"h={h:.5f}, numerical limit={(f(1 + h) - f(1)) / h:.5f}")
    torch = fw.torch
    x = torch.arange(0, 3, 0.1)
    out += [x, f(x), 2 * x - 3]
    return out


def autograd_section(fw):
    """d2l 2.5: automatic differentiation."""
    torch = fw.torch
    out = []
    x = torch.arange(4.0)
    out += [x, repr(x)]
    x.requires_grad_(True)
    out += [x.grad is None]
    y = 2 * torch.dot(x, x)
    out += [y, repr(y).split("grad_fn")[0]]
    y.backward()
    out += [x.grad, repr(x.grad), x.grad == 4 * x]
    x.grad.zero_()
    y = x.sum()
    y.backward()
    out += [x.grad]
    x.grad.zero_()
    y = x * x
    y.backward(gradient=torch.ones(len(y)))
    out += [x.grad]
    x.grad.zero_()
    y = x * x
    y.sum().backward()
    out += [x.grad]
    x.grad.zero_()
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    out += [x.grad == u, u.requires_grad]
    x.grad.zero_()
    y.sum().backward()
    out += [x.grad == 2 * x]

    def f(a):
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        if b.sum() > 0:
            c = b
        else:
            c = 100 * b
        return c

    a = torch.tensor(np.float32(0.7312), requires_grad=True)
    d = f(a)
    d.backward()
    out += [a.grad == d / a, a.grad]
    a = torch.tensor(np.array([0.5, -1.25, 2.0], dtype=np.float32), requires_grad=True)
    d = f(a)
    d.sum().backward()
    out += [a.grad, d]
    # a non-scalar backward without a gradient is an error in both
    x = torch.arange(4.0, requires_grad=True)
    try:
        (x * x).backward()
        out += ["no error"]
    except RuntimeError as e:
        out += ["RuntimeError", "implicitly created only for scalar outputs" in str(e)]
    # sin and its derivative (exercise 2.5)
    x = torch.linspace(-3, 3, 13, requires_grad=True)
    y = torch.sin(x)
    y.sum().backward()
    out += [x.grad, torch.cos(x).detach(), x.grad.shape]
    return out


def probability_section(fw):
    """d2l 2.6: sampling a die with Multinomial; only shapes and invariants are comparable."""
    torch = fw.torch
    from_module = torch.distributions.multinomial
    out = []
    fair_probs = torch.ones([6]) / 6
    one = from_module.Multinomial(1, fair_probs).sample()
    out += [one.shape, one.dtype, float(one.sum()), bool(((one == 0) | (one == 1)).all())]
    counts = from_module.Multinomial(10, fair_probs).sample()
    out += [counts.shape, float(counts.sum())]
    counts = from_module.Multinomial(1000, fair_probs).sample()
    freqs = counts / 1000
    out += [freqs.shape, bool((abs(freqs - 1 / 6) < 0.06).all())]
    counts = from_module.Multinomial(10, fair_probs).sample((500,))
    cum_counts = counts.cumsum(dim=0)
    estimates = cum_counts / cum_counts.sum(dim=1, keepdims=True)
    out += [counts.shape, cum_counts.shape, estimates.shape, estimates.dtype]
    out += [cum_counts[-1].sum(), estimates.sum(dim=1)]
    out += [bool((abs(estimates[-1] - 1 / 6) < 0.03).all())]
    # the same cumulative estimates from fixed counts are deterministic
    fixed = torch.tensor(
        np.random.default_rng(0).multinomial(10, [1 / 6] * 6, 50).astype(np.float32)
    )
    cum = fixed.cumsum(dim=0)
    out += [cum / cum.sum(dim=1, keepdims=True)]
    return out


def data_preprocessing_section(fw):
    """d2l 2.2 with the pandas frame emulated by NumPy (``inputs.to_numpy(dtype=float)``)."""
    torch = fw.torch
    # NumRooms, RoofType_Slate, RoofType_nan after fillna(mean) and get_dummies(dummy_na=True)
    inputs = np.array([[3.0, 0, 1], [2.0, 0, 1], [4.0, 1, 0], [3.0, 0, 1]]).astype(float)
    targets = np.array([127500, 106000, 178100, 140000]).astype(float)
    X, y = torch.tensor(inputs), torch.tensor(targets)
    out = [X, y, X.dtype, str(y.dtype), repr(X)]
    # ints from a frame become int64, bools become torch.bool
    out += [torch.tensor(np.array([[1, 0], [0, 1]])).dtype, torch.tensor(np.array([True]))]
    out += [torch.tensor(inputs, dtype=torch.float32), torch.from_numpy(inputs).dtype]
    out += [torch.tensor(inputs.tolist()).dtype]
    return out


@pytest.mark.parametrize(
    "program",
    [
        ndarray_section,
        linear_algebra_section,
        calculus_section,
        autograd_section,
        probability_section,
        data_preprocessing_section,
    ],
)
def test_chapter2_prints_what_torch_prints(program):
    ours, ref = run_both(program)
    assert_same(ours, ref)
