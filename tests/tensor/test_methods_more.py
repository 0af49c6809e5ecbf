"""The rest of PyTorch's dense Tensor API: aliases and in-place variants, bit shifts, the
split family, ``as_strided``, ``put``, ``nonzero_static``, ``new``/``resize_``/``apply_``,
the random fills, what a dense real tensor answers (layout, sparse/complex/device queries),
``torch.combinations``/``gradient``/``frombuffer``: results (values and dtypes), grad_fn
names, gradients (float64 and float32) and exceptions against torch, finite differences to
second order."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tests.nn._helpers import assert_close

import ndgrad
from ndgrad.autograd import gradcheck, gradgradcheck


def _run(call, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(lib)


def _same_repr(ours, theirs):
    assert repr(ours).replace("ndgrad", "torch") == repr(theirs)


# each call's result must print as torch's (values, dtype, shape, grad_fn)
RESULTS = [
    lambda lib: lib.tensor([1, 2, -8]) << 1,
    lambda lib: lib.tensor([1, 2, -8]) >> 1,
    lambda lib: 1 << lib.tensor([1, 2, 70]),
    lambda lib: lib.tensor([1, 2, -8]) << 70,
    lambda lib: lib.tensor([1, 2, -8]) >> 70,
    lambda lib: lib.tensor([1, 2, -8], dtype=lib.int8) << lib.tensor([1, 7, 9], dtype=lib.int8),
    lambda lib: lib.tensor([200, 3], dtype=lib.uint8) >> 2,
    lambda lib: lib.tensor([1], dtype=lib.uint8) << 9,
    lambda lib: lib.tensor([True, False]) << 1,
    lambda lib: lib.bitwise_left_shift(lib.tensor([3, 5], dtype=lib.int32), lib.tensor(2)),
    lambda lib: lib.tensor([3, 5]).bitwise_right_shift_(1),
    lambda lib: lib.tensor([5, 6]).bitwise_xor_(3),
    lambda lib: lib.tensor([5, 6]).bitwise_not_(),
    lambda lib: lib.tensor([-1.5, 2.5]).absolute_(),
    lambda lib: lib.tensor([4.0, 6.0]).divide_(lib.tensor([2.0, 4.0])),
    lambda lib: lib.tensor([4.0, 6.0]).true_divide_(2),
    lambda lib: lib.tensor([4.0, 6.0]).multiply_(3),
    lambda lib: lib.tensor([4.0, 6.0]).subtract_(1, alpha=2),
    lambda lib: lib.tensor([-1.7, 2.5]).fix(),
    lambda lib: lib.fix(lib.tensor([-1.7, 2.5])),
    lambda lib: lib.tensor([-1.7, 2.5]).fix_(),
    lambda lib: lib.zeros(2, 2).addmm_(lib.ones(2, 3), lib.ones(3, 2), beta=2, alpha=0.5),
    lambda lib: lib.ones(2).addmv_(lib.ones(2, 3), lib.ones(3)),
    lambda lib: lib.ones(2, 2, 2).baddbmm_(lib.ones(2, 2, 3), lib.ones(2, 3, 2), alpha=2),
    lambda lib: lib.tensor([1.5, -0.2, 0.4]).hardshrink(0.3),
    lambda lib: lib.tensor([1.5, -0.2]).prelu(lib.tensor([0.25])),
    lambda lib: lib.arange(6.0).reshape(2, 3).H,
    lambda lib: lib.arange(12.0).reshape(2, 2, 3).mH,
    lambda lib: lib.arange(12.0).reshape(2, 3, 2).adjoint(),
    lambda lib: lib.hsplit(lib.arange(6), 3),
    lambda lib: lib.hsplit(lib.arange(6), [1, 4]),
    lambda lib: lib.arange(12).reshape(2, 6).hsplit([2]),
    lambda lib: lib.vsplit(lib.arange(12).reshape(4, 3), 2),
    lambda lib: lib.dsplit(lib.arange(8).reshape(1, 2, 4), [1, 3]),
    lambda lib: lib.arange(6).split_with_sizes([2, 4]),
    lambda lib: lib.split_with_sizes(lib.arange(6.0).reshape(3, 2), [1, 1], 1),
    lambda lib: lib.arange(6.0, requires_grad=True).unsafe_chunk(2),
    lambda lib: lib.unsafe_split(lib.arange(6.0, requires_grad=True), 4),
    lambda lib: lib.arange(6.0, requires_grad=True).unsafe_split_with_sizes([1, 5]),
    lambda lib: lib.arange(6.0, requires_grad=True).narrow_copy(0, 1, 2),
    lambda lib: lib.narrow_copy(lib.arange(6).reshape(2, 3), 1, 1, 2),
    lambda lib: lib.arange(6.0, requires_grad=True).as_strided((2, 2), (1, 2), 1),
    lambda lib: lib.as_strided(lib.arange(9.0).reshape(3, 3), (2,), (4,)),
    lambda lib: lib.arange(9.0)[2:].as_strided((2, 2), (3, 1)),
    lambda lib: lib.arange(4.0).as_strided_((2,), (2,)),
    lambda lib: lib.as_strided_scatter(lib.zeros(4), lib.ones(2), (2,), (2,)),
    lambda lib: lib.arange(5.0)[1:].storage_offset(),
    lambda lib: lib.arange(6.0).new(2, 3).shape,
    lambda lib: lib.arange(6.0).new([1, 2]),
    lambda lib: lib.arange(6).new([1.5, 2]),
    lambda lib: lib.arange(6.0).new(),
    lambda lib: lib.arange(6.0).new(lib.Size([2])).shape,
    lambda lib: lib.arange(6.0).new_empty_strided((2, 3), (1, 2)).stride(),
    lambda lib: lib.empty_strided((2, 3), (1, 2)).stride(),
    lambda lib: lib.tensor([0, 1, 0, 2]).nonzero_static(size=4),
    lambda lib: lib.tensor([0, 1, 0, 2]).nonzero_static(size=1, fill_value=-2),
    lambda lib: lib.nonzero_static(lib.tensor([[0, 1], [2, 0]]), size=3),
    lambda lib: lib.tensor(1.0).nonzero_static(size=2),
    lambda lib: lib.zeros(2, 2).put_(lib.tensor([0, 3]), lib.tensor([1.0, 2.0])),
    lambda lib: lib.zeros(2, 2).put(
        lib.tensor([0, 0, -1]), lib.tensor([1.0, 2.0, 3.0]), accumulate=True
    ),
    lambda lib: lib.put(lib.zeros(3), lib.tensor([1]), lib.tensor([9.0])),
    lambda lib: lib.zeros(2, 2).index_put_(
        (lib.tensor([0, 1]), lib.tensor([1, 0])), lib.tensor(5.0)
    ),
    lambda lib: lib.index_put_(
        lib.zeros(3), (lib.tensor([0, 0]),), lib.tensor([1.0, 2.0]), accumulate=True
    ),
    lambda lib: lib.arange(3.0).resize_(2),
    lambda lib: lib.arange(6.0).resize_(2, 3),
    lambda lib: lib.arange(4.0).resize_as_(lib.ones(2, 2)),
    lambda lib: lib.ones(3).resize(3, 1),
    lambda lib: lib.ones(3).apply_(lambda x: x * 2),
    lambda lib: lib.arange(3).apply_(lambda x: x * x + 1),
    lambda lib: lib.ones(2, 3).map_(lib.tensor([1.0, 2.0, 3.0]), lambda a, b: a + b),
    lambda lib: lib.ones(3).map2_(lib.ones(3) * 2, lib.ones(3), lambda a, b, c: a + b * c),
    lambda lib: lib.tensor(3).is_nonzero(),
    lambda lib: lib.is_nonzero(lib.tensor([0.0])),
    lambda lib: lib.ones(2).layout,
    lambda lib: (
        lib.ones(2).is_sparse,
        lib.ones(2).is_quantized,
        lib.ones(2).is_meta,
        lib.ones(2).is_mkldnn,
        lib.ones(2).is_nested,
    ),
    lambda lib: (
        lib.ones(2).is_xla,
        lib.ones(2).is_xpu,
        lib.ones(2).is_mps,
        lib.ones(2).is_sparse_csr,
    ),
    lambda lib: (
        lib.ones(2).get_device(),
        lib.ones(2).is_conj(),
        lib.ones(2).is_neg(),
        lib.ones(2).is_inference(),
    ),
    lambda lib: (lib.ones(2).is_shared(), lib.ones(2).share_memory_().is_shared()),
    lambda lib: (
        lib.ones(2).sparse_dim(),
        lib.ones(2, 3).dense_dim(),
        lib.ones(2).is_distributed(),
    ),
    lambda lib: (lib.ones(2, 3).dim_order(), lib.ones(2, 3).t().dim_order(), lib.ones(2).name),
    lambda lib: lib.tensor([1.0, -2.0]).conj(),
    lambda lib: lib.tensor([1.0, -2.0]).resolve_conj().resolve_neg().conj_physical(),
    lambda lib: lib.tensor([1.0, -2.0]).real,
    lambda lib: lib.tensor([1.0, -2.0], requires_grad=True).angle(),
    lambda lib: lib.tensor([1, -2]).angle(),
    lambda lib: lib.ones(2).grad_dtype,
    lambda lib: lib.ones(2).volatile,
    lambda lib: lib.ones(2).to_dense(),
    lambda lib: lib.ones(2).module_load(lib.zeros(2)),
    lambda lib: lib.ones(2).as_subclass(lib.nn.Parameter),
    lambda lib: lib.ones(2).requires_grad_().output_nr,
    lambda lib: lib.combinations(lib.tensor([1, 2, 3])),
    lambda lib: lib.combinations(lib.tensor([1, 2, 3]), r=3),
    lambda lib: lib.combinations(lib.tensor([1, 2, 3]), r=4),
    lambda lib: lib.combinations(lib.tensor([1, 2, 3]), r=0),
    lambda lib: lib.combinations(lib.tensor([1.0, 2.0]), with_replacement=True),
    lambda lib: lib.combinations(lib.tensor([1.0, 2.0, 3.0], requires_grad=True)),
    lambda lib: lib.gradient(lib.tensor([1.0, 4, 9, 16])),
    lambda lib: lib.gradient(lib.tensor([1.0, 4, 9, 16]), spacing=2.0),
    lambda lib: lib.gradient(lib.tensor([1.0, 4, 9, 16]), edge_order=2),
    lambda lib: lib.gradient(lib.tensor([1.0, 4, 9, 16]), spacing=(lib.tensor([0.0, 1, 3, 4]),)),
    lambda lib: lib.gradient(
        lib.tensor([1.0, 4, 9, 16]), spacing=(lib.tensor([0.0, 1, 3, 4]),), edge_order=2
    ),
    lambda lib: lib.gradient(lib.arange(6.0).reshape(2, 3) ** 2),
    lambda lib: lib.gradient(lib.arange(6.0).reshape(2, 3) ** 2, dim=1),
    lambda lib: lib.gradient(lib.arange(6.0).reshape(2, 3) ** 2, spacing=[2.0, 3.0]),
    lambda lib: lib.gradient(lib.tensor([1, 4, 9])),
    lambda lib: lib.gradient(lib.tensor([1, 2, 4]), spacing=[lib.tensor([0, 1, 3])]),
    lambda lib: lib.gradient(lib.ones(3, 3), spacing=lib.tensor(2.0)),
    lambda lib: lib.gradient(lib.tensor(1.0)),
    lambda lib: lib.frombuffer(bytearray(8), dtype=lib.float32, count=1, offset=4),
    lambda lib: lib.frombuffer(b"ab", dtype=lib.uint8),
    lambda lib: lib.frombuffer(bytearray(b"\x01\x00\x00\x00\x02\x00\x00\x00"), dtype=lib.int32),
]


# torch.* functions beside the methods: windows, copies of views, small helpers
RESULTS += [
    lambda lib: lib.unravel_index(lib.tensor([-1, 6]), (2, 3)),
    lambda lib: lib.unravel_index(lib.tensor([[1, 4], [5, 0]]), (2, 3)),
    lambda lib: lib.unravel_index(lib.tensor(3), 5),
    lambda lib: (lib.scalar_tensor(3), lib.scalar_tensor(3, dtype=lib.int64)),
    lambda lib: (lib.range(0, 2), lib.range(1, 2, 0.25)),
    lambda lib: lib.row_stack([lib.ones(2), lib.zeros(2)]),
    lambda lib: [
        lib.can_cast(a, b)
        for a in (lib.bool, lib.int8, lib.int64, lib.float32)
        for b in (lib.bool, lib.uint8, lib.int32, lib.float16, lib.float64)
    ],
    lambda lib: (
        lib.typename(lib.ones(2)),
        lib.typename(3),
        lib.typename(lib.ones(2, dtype=lib.int64)),
    ),
    lambda lib: lib.fill(lib.ones(2, requires_grad=True), 3.0),
    lambda lib: [lib.hann_window(n) for n in (0, 1, 5)],
    lambda lib: (
        lib.hann_window(5, periodic=False),
        lib.hamming_window(4, periodic=False),
        lib.hamming_window(6, True, 0.5, 0.3),
    ),
    lambda lib: (lib.blackman_window(3), lib.blackman_window(7, dtype=lib.float64)),
    lambda lib: (lib.bartlett_window(5), lib.bartlett_window(6, periodic=False)),
    lambda lib: (lib.kaiser_window(4), lib.kaiser_window(5, periodic=False, beta=5.0)),
    lambda lib: (
        lib.frobenius_norm(lib.ones(2, 3), (0, 1)),
        lib.nuclear_norm(lib.eye(2)),
        lib.nuclear_norm(lib.ones(2, 2, 2), (1, 2)),
    ),
    lambda lib: lib.pdist(lib.tensor([[0.0, 0], [3, 4], [6, 8], [0, 0]], requires_grad=True)),
    lambda lib: [
        lib.pdist(lib.tensor([[0.0, 0], [3, 4], [6, 8]]), p=p) for p in (0, 1, 3, float("inf"))
    ],
    lambda lib: lib.pdist(lib.ones(1, 3)),
    lambda lib: (lib.asarray([1, 2]), lib.asarray(lib.ones(2), dtype=lib.float64)),
    lambda lib: (
        lib.conj(lib.ones(1)),
        lib.real(lib.ones(1)),
        lib.is_conj(lib.ones(1)),
        lib.abs_(lib.tensor([-1.0, 2])),
    ),
    lambda lib: lib.detach(lib.ones(1, requires_grad=True)),
    lambda lib: lib.transpose_copy(lib.arange(6.0, requires_grad=True).reshape(2, 3), 0, 1),
    lambda lib: lib.unbind_copy(lib.arange(6.0, requires_grad=True).reshape(2, 3)),
    lambda lib: lib.slice_copy(lib.arange(6.0, requires_grad=True).reshape(2, 3), 1, 0, 2),
    lambda lib: lib.view_copy(lib.arange(6.0, requires_grad=True), (3, 2)),
    lambda lib: lib.expand_copy(lib.ones(1, 3, requires_grad=True), (2, 3)),
    lambda lib: lib.alias_copy(lib.ones(2, requires_grad=True)),
    lambda lib: lib.split_with_sizes_copy(lib.arange(6.0, requires_grad=True), [2, 4]),
    lambda lib: lib.unfold_copy(lib.arange(6.0, requires_grad=True), 0, 2, 2),
    lambda lib: lib.diagonal_copy(lib.ones(3, 3, requires_grad=True)),
    lambda lib: lib.as_strided_copy(lib.arange(6.0, requires_grad=True), (2,), (2,)),
    lambda lib: (
        lib.t_copy(lib.ones(2, 3)),
        lib.squeeze_copy(lib.ones(2, 1)),
        lib.split_copy(lib.arange(4.0), 2),
    ),
    lambda lib: lib.permute_copy(lib.ones(2, 3, requires_grad=True), (1, 0)),
    lambda lib: lib.select_copy(lib.arange(6.0).reshape(2, 3), 0, 1),
]
RESULTS += [
    lambda lib: _set_and_write(lib),
    lambda lib: lib.ones(2).set_(),
    lambda lib: lib.zeros(2).set_(lib.arange(6.0), 1, (2, 2)),
    lambda lib: lib.zeros(2).set_(lib.arange(6.0), 0, (2, 2), (1, 2)),
]
ERRORS_MORE = [
    lambda lib: lib.ones(2, requires_grad=True).set_(lib.ones(3)),
    lambda lib: lib.ones(2).set_(lib.ones(3, dtype=lib.long)),
    lambda lib: lib.ones(2).reinforce(1),
    lambda lib: lib.unravel_index(lib.tensor([1.0]), (2, 3)),
    lambda lib: lib.unravel_index(lib.tensor([1]), (2, -3)),
    lambda lib: lib.hann_window(-1),
    lambda lib: lib.pdist(lib.ones(3)),
    lambda lib: lib.pdist(lib.ones(3, 2), p=-1),
    lambda lib: lib.pdist(lib.ones(2, 3, dtype=lib.long)),
    lambda lib: lib.solve(lib.ones(2), lib.ones(2)),
]


def _set_and_write(lib):
    x, y = lib.ones(2), lib.arange(3.0)
    same = x.set_(y) is x
    x.add_(1)  # the memory is shared, the version counters are not
    return same, x, y, x.data_ptr() == y.data_ptr(), x._version, y._version


@pytest.mark.parametrize("call", RESULTS)
def test_results_print_as_torchs(call):
    _same_repr(_run(call, ndgrad), _run(call, torch))


ERRORS_TENSOR = [
    lambda lib: lib.tensor([1.5]) << 1,
    lambda lib: lib.bitwise_right_shift(lib.tensor([1.5]), 1),
    lambda lib: lib.tensor([1.5]).bitwise_not_(),
    lambda lib: lib.ones(3).H,
    lambda lib: lib.ones(2, 3, 4).H,
    lambda lib: lib.ones(3).mH,
    lambda lib: lib.ones(3).adjoint(),
    lambda lib: lib.vsplit(lib.arange(6), 2),
    lambda lib: lib.dsplit(lib.ones(2, 2), 2),
    lambda lib: lib.hsplit(lib.arange(5), 2),
    lambda lib: lib.hsplit(lib.tensor(1.0), 2),
    lambda lib: lib.hsplit(lib.ones(2, 4), 0),
    lambda lib: lib.arange(6).split_with_sizes([2, 3]),
    lambda lib: lib.arange(6.0).unsafe_chunk(0),
    lambda lib: lib.arange(6.0).unsafe_split(0),
    lambda lib: lib.arange(6.0).narrow_copy(0, 5, 2),
    lambda lib: lib.arange(4.0).as_strided((3, 3), (1, 2)),
    lambda lib: lib.arange(4.0).as_strided((2,), (1,), -1),
    lambda lib: lib.arange(4.0).as_strided((2, 2), (1,)),
    lambda lib: lib.zeros(4).as_strided_scatter(lib.ones(3), (2,), (2,)),
    lambda lib: lib.zeros(3).nonzero_static(size=-1),
    lambda lib: lib.zeros(2, 2).put_(lib.tensor([5]), lib.tensor([1.0])),
    lambda lib: lib.zeros(2, 2).put_(lib.tensor([-5]), lib.tensor([1.0])),
    lambda lib: lib.zeros(2, 2).put_(lib.tensor([0, 1]), lib.tensor([1.0])),
    lambda lib: lib.zeros(2, 2).put_(lib.tensor([0.0]), lib.tensor([1.0])),
    lambda lib: lib.zeros(2, 2).put_(lib.tensor([0]), lib.tensor([1])),
    lambda lib: lib.arange(3.0, requires_grad=True).resize_(2),
    lambda lib: lib.ones(3, requires_grad=True).apply_(lambda x: x),
    lambda lib: lib.tensor([]).is_nonzero(),
    lambda lib: lib.tensor([1, 2]).is_nonzero(),
    lambda lib: lib.ones(2).imag,
    lambda lib: lib.ones(2).is_coalesced(),
    lambda lib: lib.ones(2).indices(),
    lambda lib: lib.ones(2).values(),
    lambda lib: lib.ones(2).solve(lib.ones(2)),
    lambda lib: lib.ones(2).lstsq(lib.ones(2)),
    lambda lib: lib.ones(2).eig(),
    lambda lib: lib.ones(2).symeig(),
    lambda lib: lib.combinations(lib.ones(2, 2)),
    lambda lib: lib.combinations(lib.tensor([1, 2, 3]), r=-1),
    lambda lib: lib.gradient(lib.tensor([1.0])),
    lambda lib: lib.gradient(lib.tensor([1.0, 2.0]), edge_order=2),
    lambda lib: lib.gradient(lib.tensor([1.0, 2.0, 3.0]), edge_order=3),
    lambda lib: lib.gradient(lib.tensor([1.0, 2.0, 3.0]), spacing=[1.0, 2.0]),
    lambda lib: lib.gradient(lib.ones(3, 3), spacing=[1.0, 2.0], dim=1),
    lambda lib: lib.gradient(lib.ones(3, 3), dim=2),
    lambda lib: lib.gradient(lib.ones(3), spacing=[lib.tensor(2.0)]),
    lambda lib: lib.frombuffer(bytearray(3), dtype=lib.int32),
    lambda lib: lib.frombuffer(bytearray(0), dtype=lib.uint8),
    lambda lib: lib.frombuffer(bytearray(4), dtype=lib.uint8, offset=4),
    lambda lib: lib.frombuffer(bytearray(4), dtype=lib.uint8, count=5),
]


@pytest.mark.parametrize("call", ERRORS_TENSOR + ERRORS_MORE)
def test_bad_input_gets_torchs_exception_and_message(call):
    with pytest.raises(Exception) as theirs:
        _run(call, torch)
    with pytest.raises(type(theirs.value)) as ours:
        _run(call, ndgrad)
    assert str(ours.value).replace("ndgrad", "torch") == str(theirs.value)


def test_shifts_match_torch_over_dtypes_and_amounts():
    rng = np.random.default_rng(0)
    for name in ("int8", "uint8", "int16", "int32", "int64"):
        info = np.iinfo(name)
        x = rng.integers(max(info.min, -1000), min(info.max, 1000), 40).astype(name)
        s = rng.integers(0, np.dtype(name).itemsize * 8 + 3, 40).astype(name)
        for op in ("bitwise_left_shift", "bitwise_right_shift"):
            ours = getattr(ndgrad, op)(ndgrad.tensor(x), ndgrad.tensor(s))
            theirs = getattr(torch, op)(torch.tensor(x), torch.tensor(s))
            assert ours.dtype == getattr(ndgrad, name)
            assert ours.tolist() == theirs.tolist(), (name, op)


# differentiable ones: f(lib, x) of a float input of the given shape
GRADS = {
    "as_strided": (
        lambda lib, x: (
            x.as_strided((2, 2), (1, 2), 1) * lib.arange(4.0, dtype=x.dtype).reshape(2, 2)
        ),
        (6,),
    ),
    "as_strided_overlap_of_view": (
        lambda lib, x: (x * 1)[1:].as_strided((3, 2), (1, 1)) ** 2,
        (6,),
    ),
    "narrow_copy": (lambda lib, x: x.narrow_copy(1, 1, 2) ** 2, (2, 3)),
    "unsafe_split": (
        lambda lib, x: lib.cat([p * (i + 1) for i, p in enumerate(x.unsafe_split(2, 1))], 1),
        (2, 3),
    ),
    "hsplit": (
        lambda lib, x: lib.cat([p * (i + 1) for i, p in enumerate(x.hsplit([1]))], 1),
        (2, 3),
    ),
    "H": (lambda lib, x: x.H * lib.arange(6.0, dtype=x.dtype).reshape(3, 2), (2, 3)),
    "put": (lambda lib, x: x.put(lib.tensor([0, 4]), (x[1, :2] * 3).contiguous()) ** 2, (2, 3)),
    "put_accumulate": (
        lambda lib, x: x.put(lib.tensor([1, 1, 5]), x[0] ** 2, accumulate=True) * 2,
        (2, 3),
    ),
    "hardshrink": (lambda lib, x: x.hardshrink(0.3) ** 2, (5,)),
    "prelu": (lambda lib, x: x.prelu(lib.tensor([0.25, 0.5], dtype=x.dtype)) ** 2, (3, 2)),
    "combinations": (lambda lib, x: lib.combinations(x, 2).prod(1), (4,)),
    "combinations_replacement": (
        lambda lib, x: lib.combinations(x, 3, with_replacement=True).prod(1),
        (3,),
    ),
    "gradient": (lambda lib, x: lib.gradient(x**3, spacing=0.5, edge_order=2)[0], (5,)),
    "gradient_coordinates": (
        lambda lib, x: lib.stack(
            lib.gradient(
                x**2,
                spacing=[
                    lib.tensor([0.0, 1.0, 3.0], dtype=x.dtype),
                    lib.tensor([0.0, 2.0, 5.0], dtype=x.dtype),
                ],
            )
        ),
        (3, 3),
    ),
    "addmm_": (lambda lib, x: (x * 1).addmm_(x, x.T, beta=0.5), (2, 2)),
    "fix": (lambda lib, x: x.fix() + x**2, (4,)),
    "angle": (lambda lib, x: x.angle() + x, (4,)),
}


def _torch_grads(name, x, dtype):
    fn, _ = GRADS[name]
    t = torch.tensor(x, dtype=dtype, requires_grad=True)
    out = fn(torch, t)
    w = torch.tensor(np.random.default_rng(3).standard_normal(out.shape), dtype=dtype)
    (out * w).sum().backward()
    return out, t.grad


@pytest.mark.parametrize("name", GRADS)
def test_gradients_match_torch_in_float64_and_float32(name):
    fn, shape = GRADS[name]
    x = np.random.default_rng(1).standard_normal(shape)
    for dtype, ndtype, tol in (
        (torch.float64, ndgrad.float64, 1e-10),
        (torch.float32, ndgrad.float32, 1e-5),
    ):
        theirs, tgrad = _torch_grads(name, x, dtype)
        ours_x = ndgrad.tensor(x, dtype=ndtype, requires_grad=True)
        ours = fn(ndgrad, ours_x)
        w = ndgrad.tensor(np.random.default_rng(3).standard_normal(tuple(ours.shape)), dtype=ndtype)
        (ours * w).sum().backward()
        assert ours.dtype == ndtype and ours_x.grad.dtype == ndtype
        assert_close(ours, theirs, atol=tol, rtol=tol)
        assert_close(ours_x.grad, tgrad, atol=tol, rtol=tol)
        if theirs.grad_fn is not None:
            assert ours.grad_fn.name() == theirs.grad_fn.name()


# torch 2.13 gives as_strided_scatter's input the gradient of the scattered region and zero
# elsewhere (the reverse of its derivative); ndgrad's is the derivative: checked numerically
NUMERIC_ONLY = {
    "as_strided_scatter": (
        lambda lib, x: lib.as_strided_scatter(x * 2, x[:2] ** 2, (2,), (2,), 1),
        (5,),
    ),
}


@pytest.mark.parametrize(
    "name", [n for n in GRADS if n not in ("fix", "angle")] + list(NUMERIC_ONLY)
)
def test_finite_differences_to_second_order(name):
    fn, shape = GRADS[name] if name in GRADS else NUMERIC_ONLY[name]
    x = ndgrad.tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: fn(ndgrad, t), (x,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(lambda t: fn(ndgrad, t), (x,), eps=1e-6, atol=1e-4, rtol=1e-3)


FILL_ERRORS = [
    lambda lib: lib.zeros(3).geometric_(1.5),
    lambda lib: lib.zeros(3).geometric_(1),
    lambda lib: lib.zeros(3).log_normal_(1, -1),
    lambda lib: lib.zeros(3).cauchy_(0, 0),
    lambda lib: lib.zeros(3, dtype=lib.long).log_normal_(),
    lambda lib: lib.zeros(3, requires_grad=True).cauchy_(),
]
_FILLS = pytest.mark.skipif(
    not hasattr(ndgrad.Tensor, "cauchy_"), reason="cauchy_/geometric_/log_normal_ come with main"
)


@_FILLS
@pytest.mark.parametrize("call", FILL_ERRORS)
def test_random_fills_bad_input_as_torch(call):
    test_bad_input_gets_torchs_exception_and_message(call)


@_FILLS
def test_random_fills_follow_their_distributions():
    ndgrad.manual_seed(0)
    n = 200_000
    c = ndgrad.empty(n, dtype=ndgrad.float64).cauchy_(median=1.5, sigma=2.0).numpy()
    quartiles = np.quantile(c, [0.25, 0.5, 0.75])
    np.testing.assert_allclose(quartiles, [1.5 - 2.0, 1.5, 1.5 + 2.0], atol=0.05)
    g = ndgrad.empty(n, dtype=ndgrad.int64).geometric_(0.25)
    assert g.dtype == ndgrad.int64 and g.min().item() == 1
    assert abs(g.double().mean().item() - 4.0) < 0.05  # 1 / p trials on average
    assert abs(g.double().var().item() - 12.0) < 0.4  # (1 - p) / p^2
    ln = ndgrad.empty(n).log_normal_(0.5, 0.75)
    assert ln.dtype == ndgrad.float32 and ln.min().item() > 0
    logs = np.log(ln.numpy().astype(np.float64))
    assert abs(logs.mean() - 0.5) < 0.01 and abs(logs.std() - 0.75) < 0.01
    default = np.log(ndgrad.empty(n, dtype=ndgrad.float64).log_normal_().numpy())
    assert abs(default.mean() - 1.0) < 0.02 and abs(default.std() - 2.0) < 0.02  # torch's defaults
    gen = ndgrad.Generator().manual_seed(3)
    a = ndgrad.empty(5).cauchy_(generator=gen)
    b = ndgrad.empty(5).cauchy_(generator=ndgrad.Generator().manual_seed(3))
    assert a.tolist() == b.tolist()


def test_legacy_new_refuses_a_dtype_as_torch():
    with pytest.raises(TypeError, match="new\\(\\) received an invalid combination of arguments"):
        ndgrad.arange(6.0).new(2, dtype=ndgrad.int64)


def test_views_storage_and_in_place_queries():
    base = ndgrad.arange(10.0)
    view = base[3:]
    assert view.storage_offset() == 3 and base.storage_offset() == 0
    assert view.data_ptr() == base.data_ptr() + 3 * 4
    assert view.const_data_ptr() == view.data_ptr()
    assert view.is_set_to(view) and not view.is_set_to(base)
    strided = view.as_strided((2, 2), (2, 1), 0)  # an absolute offset into the storage
    assert strided.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    strided.mul_(10)  # a view: the base sees the change
    assert base[:4].tolist() == [0.0, 10.0, 20.0, 30.0]
    x = ndgrad.ones(4)
    x.resize_(2, 2)
    assert x.shape == (2, 2) and x._version == 1
    with pytest.raises(RuntimeError, match="Cannot|cannot"):
        ndgrad.ones(2, requires_grad=True).resize_(1)
    p = ndgrad.ones(2).as_subclass(ndgrad.nn.Parameter)
    assert isinstance(p, ndgrad.nn.Parameter) and not p.requires_grad


def test_igamma_methods_and_in_place_variants():
    a, x = [1.0, 2.5], [0.5, 3.0]
    for m in ("igamma", "igammac"):
        ours = getattr(ndgrad.tensor(a), m)(ndgrad.tensor(x))
        theirs = getattr(torch.tensor(a), m)(torch.tensor(x))
        assert_close(ours, theirs, atol=1e-7, rtol=1e-6)
        t = ndgrad.tensor(a)
        getattr(t, m + "_")(ndgrad.tensor(x))
        assert_close(t, theirs, atol=1e-7, rtol=1e-6)
