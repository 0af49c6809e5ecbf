"""Ops ask the tensor's backend for array functions instead of calling NumPy directly.

A registered backend whose arrays are a trivial ``ndarray`` subclass (ufuncs keep the
subclass) and whose module is a recording proxy of NumPy: every array function an op
takes from the seam is logged, so an op that bypasses the seam leaves no trace.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad._backend import array_module, register_backend, unregister_backend
from ndgrad._tensor import Tensor


class TracedArray(np.ndarray):
    """An ndarray that marks its data as living on the test backend."""


class RecordingNumpy:
    """NumPy's namespace, recording the name of every attribute an op asks for."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(np, name)


@pytest.fixture
def xp() -> Any:
    proxy = RecordingNumpy()
    register_backend("meta", proxy, array_type=TracedArray)
    yield proxy
    unregister_backend("meta")


def traced(values: np.ndarray, requires_grad: bool = False) -> Tensor:
    t = Tensor._make(values.view(TracedArray))
    return t.requires_grad_(requires_grad)


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    a = np.arange(6.0).reshape(2, 3) / 4 - 0.3
    b = np.linspace(0.5, 2.0, 6).reshape(2, 3)
    return a, b


def _pointwise(x: Tensor, y: Tensor) -> Tensor:
    out = x.exp() * y + (y.log() - x.sigmoid()) / y
    out = ndgrad.where(x > 0, out, x.tanh()) + x.clamp(-0.1, 0.5) + x.relu()
    return out + y.sqrt() + x.abs() + (x**2) + ndgrad.maximum(x, y * 0.3)


def test_tensor_reports_its_backend(xp: RecordingNumpy) -> None:
    a, _ = _inputs()
    t = traced(a)
    assert t.xp is xp
    assert t.device == ndgrad.device("meta")
    assert array_module(a) is np
    assert ndgrad.tensor([1.0]).xp is np
    assert ndgrad.tensor([1.0]).device == ndgrad.device("cpu")


def test_pointwise_ops_compute_through_the_backend(xp: RecordingNumpy) -> None:
    a, b = _inputs()
    x, y = traced(a, True), traced(b, True)
    out = _pointwise(x, y)
    out.sum().backward()
    for name in ("exp", "multiply", "log", "where", "tanh", "clip", "maximum", "sqrt"):
        assert name in xp.calls, f"{name} did not go through the backend"
    assert type(out._data) is TracedArray

    # The same numbers as plain CPU tensors, which never touch the proxy.
    xp.calls.clear()
    px = ndgrad.tensor(a, requires_grad=True)
    py = ndgrad.tensor(b, requires_grad=True)
    expected = _pointwise(px, py)
    expected.sum().backward()
    assert xp.calls == []
    np.testing.assert_allclose(np.asarray(out._data), expected._data, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(x.grad._data), px.grad._data, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(y.grad._data), py.grad._data, rtol=1e-12)


def _check_against_cpu(
    xp: RecordingNumpy, fn: Any, names: tuple[str, ...], a: np.ndarray, b: np.ndarray
) -> None:
    """``fn`` on traced tensors asks the proxy for ``names``; on CPU tensors it matches."""
    x, y = traced(a, True), traced(b, True)
    fn(x, y).backward()
    for name in names:
        assert name in xp.calls, f"{name} did not go through the backend"
    xp.calls.clear()
    px = ndgrad.tensor(a, requires_grad=True)
    py = ndgrad.tensor(b, requires_grad=True)
    expected = fn(px, py)
    expected.backward()
    assert xp.calls == []
    np.testing.assert_allclose(np.asarray(x.grad._data), px.grad._data, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(y.grad._data), py.grad._data, rtol=1e-12)


def _reductions(x: Tensor, y: Tensor) -> Tensor:
    out = x.sum() + y.mean(1).sum() + x.softmax(1).mul(y).sum() + x.log_softmax(0).mul(y).sum()
    out = out + x.max() + y.max(1).values.sum() + x.amin(0).sum() + y.prod(1).sum()
    out = out + x.logsumexp(1).sum() + y.cumsum(1).mul(x).sum() + x.norm()
    return out + ndgrad.nn.functional.cross_entropy(x, ndgrad.tensor([2, 0]))


def test_reductions_compute_through_the_backend(xp: RecordingNumpy) -> None:
    names = ("sum", "mean", "exp", "max", "min", "prod", "cumsum", "sqrt", "log", "argmax")
    _check_against_cpu(xp, _reductions, names, *_inputs())


def _linalg(x: Tensor, y: Tensor) -> Tensor:
    sq = x @ y.T + ndgrad.eye(2) * 3
    out = (x @ y.T).sum() + ndgrad.einsum("ij,ij->i", x, y).sum() + sq.inverse().sum()
    return out + ndgrad.linalg.det(sq) + ndgrad.nn.functional.linear(x, y[:, :3], y[0, :2]).sum()


def test_linalg_computes_through_the_backend(xp: RecordingNumpy) -> None:
    _check_against_cpu(xp, _linalg, ("matmul", "einsum", "linalg"), *_inputs())


def _shapes(x: Tensor, y: Tensor) -> Tensor:
    out = x.permute(1, 0).mul(y.transpose(0, 1)).sum() + x.unsqueeze(0).squeeze(0).mul(y).sum()
    out = (
        out
        + x.unsqueeze(1).expand(2, 4, 3).sum()
        + ndgrad.cat([x, y], 1).mul(ndgrad.eye(2, 6)).sum()
    )
    out = out + x.repeat(2, 1).roll(1, 0).mul(2).sum() + y.tril().mul(x).sum() + x.triu(1).sum()
    return out + y.view(3, 2).t().mul(x).sum() + x.flip(0).mul(y).sum()


def test_shape_ops_compute_through_the_backend(xp: RecordingNumpy) -> None:
    names = ("transpose", "swapaxes", "expand_dims", "squeeze", "broadcast_to", "concatenate")
    _check_against_cpu(xp, _shapes, names + ("flip", "tile", "roll", "tril", "triu"), *_inputs())


def _indexing(x: Tensor, y: Tensor) -> Tensor:
    idx = ndgrad.tensor([[2, 0, 1], [1, 1, 0]])
    out = x[0].mul(y[1]).sum() + x[:, 1:].sum() + x[[0, 1], [2, 0]].mul(y[0, :2]).sum()
    out = out + x.gather(1, idx).mul(y).sum() + x.scatter(1, idx[:, :1], y[:, :1]).mul(y).sum()
    out = out + x.masked_select(y > 1).sum() + x.index_fill(1, ndgrad.tensor([0]), 2.0).sum()
    return out + x.scatter_add(0, idx.clamp(max=1), y).mul(y).sum() + x.nonzero().sum()


def test_indexing_computes_through_the_backend(xp: RecordingNumpy) -> None:
    names = ("zeros", "add", "where", "ones", "nonzero", "stack")
    _check_against_cpu(xp, _indexing, names, *_inputs())


def _inplace(x: Tensor, y: Tensor) -> Tensor:
    w = y.detach().clone()
    w.mul_(y.detach()).add_(1.0).div_(2.0)  # nothing recorded: direct ufunc writes
    z = x * 1
    z.add_(y).mul_(y)  # recorded: the result is copied into z
    f = x * 1
    f.zero_()
    return z.sum() + f.sum() + (w * x).sum()


def test_inplace_ops_write_through_the_backend(xp: RecordingNumpy) -> None:
    _check_against_cpu(xp, _inplace, ("divide", "copyto", "broadcast_to"), *_inputs())


def _statistics(x: Tensor, y: Tensor) -> Tensor:
    out = x.median() + y.median(1).values.sum() + x.kthvalue(2, 1).values.sum()
    out = out + y.mode(1).values.sum() + x.quantile(0.3, dim=1).sum() + y.unique().sum()
    return out + x.histc(4).sum() + x.unique_consecutive().sum()


def test_statistics_compute_through_the_backend(xp: RecordingNumpy) -> None:
    names = ("argsort", "take_along_axis", "sort", "moveaxis", "unique", "linspace", "floor")
    _check_against_cpu(xp, _statistics, names + ("bincount", "concatenate"), *_inputs())


def test_unregistered_backend_is_forgotten() -> None:
    proxy = RecordingNumpy()
    register_backend("meta", proxy, array_type=TracedArray)
    unregister_backend("meta")
    assert array_module(np.zeros(2).view(TracedArray)) is np
    with pytest.raises(ValueError, match="cpu"):
        unregister_backend("cpu")


def test_scalar_operands_and_implicit_gradient_come_from_the_backend(xp: RecordingNumpy) -> None:
    # Python numbers meeting a backend tensor, and backward()'s implicit ones, must be made by
    # that backend (CuPy refuses NumPy arrays as operands).
    ints = Tensor._make(np.arange(4).view(TracedArray))
    xp.calls.clear()
    shifted = ints + 3  # int tensor + int: the general promotion path
    assert "asarray" in xp.calls
    assert type(shifted._data) is TracedArray
    x = traced(np.linspace(0.1, 1.0, 4), True)
    xp.calls.clear()
    (x * x).sum().backward()
    assert "empty" in xp.calls
    np.testing.assert_allclose(np.asarray(x.grad._data), 2 * np.linspace(0.1, 1.0, 4))


def test_gather_grids_come_from_the_index_backend(xp: RecordingNumpy) -> None:
    x = traced(np.arange(6.0).reshape(2, 3), True)
    index = Tensor._make(np.array([[2, 0], [1, 1]]).view(TracedArray))
    xp.calls.clear()
    out = x.gather(1, index)
    out.sum().backward()
    assert "arange" in xp.calls
    np.testing.assert_array_equal(np.asarray(out._data), [[2.0, 0.0], [4.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(x.grad._data), [[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
