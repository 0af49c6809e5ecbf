"""dtypes, type promotion, creation functions and tensor attributes, against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad


def _dtype_name(t) -> str:
    return str(t.dtype).split(".")[-1]


def _same(mine, ref) -> None:
    assert _dtype_name(mine) == _dtype_name(ref)
    assert tuple(mine.shape) == tuple(ref.shape)
    got, want = np.asarray(mine.detach().numpy()), ref.detach().numpy()
    if want.dtype.kind == "f":  # transcendental functions may differ in the last bit
        np.testing.assert_allclose(got, want, rtol=4 * np.finfo(want.dtype).eps, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


PROMOTION = {
    "int_plus_float": lambda lib: lib.tensor([1, 2]) + 1.5,
    "int_times_float": lambda lib: 2.5 * lib.tensor([1, 2]),
    "int_true_div": lambda lib: lib.tensor([3, 4]) / 2,
    "int_true_div_int": lambda lib: lib.tensor([3, 4]) / lib.tensor([2, 8]),
    "int_floordiv": lambda lib: lib.tensor([-3, 4]) // 2,
    "int_mod": lambda lib: lib.tensor([-3, 4]) % 3,
    "int_plus_f64_scalar_tensor": lambda lib: (
        lib.tensor([1, 2]) + lib.tensor(1.5, dtype=lib.float64)
    ),
    "f32_plus_f64_scalar_tensor": lambda lib: lib.ones(2) + lib.tensor(1.5, dtype=lib.float64),
    "f32_plus_f64": lambda lib: lib.ones(2) + lib.ones(2, dtype=lib.float64),
    "scalar_tensors": lambda lib: lib.tensor(1) + lib.tensor(1.5),
    "int32_plus_int64_scalar": lambda lib: lib.tensor([1], dtype=lib.int32) + lib.tensor(5),
    "int32_plus_int": lambda lib: lib.tensor([1], dtype=lib.int32) + 5,
    "bool_plus_int": lambda lib: lib.tensor([True, False]) + 1,
    "bool_plus_bool": lambda lib: lib.tensor([True, False]) + lib.tensor([True, True]),
    "bool_times_float": lambda lib: lib.tensor([True, False]) * 0.5,
    "bool_plus_int_tensor": lambda lib: lib.tensor([True]) + lib.tensor([3]),
    "compare_lt": lambda lib: lib.tensor([1.0, 2.0]) < 1.5,
    "compare_eq_int_float": lambda lib: lib.tensor([1, 2]) == lib.tensor([1.0, 3.0]),
    "compare_ge": lambda lib: lib.tensor([1, 2]) >= 2,
    "compare_ne": lambda lib: lib.tensor([1.0]) != lib.tensor([1.0]),
    "int_pow_float": lambda lib: lib.tensor([4, 9]) ** 0.5,
    "int_pow_int": lambda lib: lib.tensor([2, 3]) ** 2,
    "float_rpow_int": lambda lib: 2 ** lib.tensor([1.0, 3.0]),
    "int_rpow": lambda lib: 2 ** lib.tensor([1, 3]),
    "int_exp": lambda lib: lib.exp(lib.tensor([0, 1])),
    "int_sqrt": lambda lib: lib.sqrt(lib.tensor([4, 9])),
    "int_sum": lambda lib: lib.tensor([1, 2]).sum(),
    "bool_sum": lambda lib: lib.tensor([True, True]).sum(),
    "int_max": lambda lib: lib.tensor([1, 5]).max(),
    "int_neg": lambda lib: -lib.tensor([1, 5]),
    "int_abs": lambda lib: lib.tensor([-1, 5]).abs(),
    "int_where_float": lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), 0.5),
    "int_clamp_float": lambda lib: lib.tensor([1, 5]).clamp(0.5, 2.5),
    "int_clamp_int": lambda lib: lib.tensor([1, 5]).clamp(0, 2),
    "int_cat_float": lambda lib: lib.cat([lib.tensor([1]), lib.tensor([2.5])]),
    "f64_matmul": lambda lib: lib.ones(2, 2, dtype=lib.float64) @ lib.ones(2, dtype=lib.float64),
    "int_matmul": lambda lib: lib.tensor([[1, 2]]) @ lib.tensor([[3], [4]]),
    "int_mean_dtype": lambda lib: lib.tensor([1, 2]).mean(dtype=lib.float32),
    "argmax_dtype": lambda lib: lib.tensor([1.0, 3.0]).argmax(),
    "sigmoid_extremes": lambda lib: lib.sigmoid(lib.tensor([-100.0, -20.0, 0.0, 20.0, 100.0])),
    "exp_overflow": lambda lib: lib.exp(lib.tensor([100.0, -200.0])),
    "softmax_int_dtype": lambda lib: lib.softmax(lib.tensor([1, 2]), 0, dtype=lib.float64),
}


@pytest.mark.parametrize("name", list(PROMOTION))
def test_promotion_matches_torch(name):
    _same(PROMOTION[name](ndgrad), PROMOTION[name](torch))


@pytest.mark.parametrize(
    "pair",
    [
        ("int64", "float32"),
        ("int32", "int64"),
        ("bool", "int64"),
        ("uint8", "int8"),
        ("float32", "float64"),
        ("bool", "float16"),
        ("int16", "float16"),
        ("uint8", "bool"),
    ],
)
def test_promote_types_matches_torch(pair):
    a, b = pair
    mine = ndgrad.promote_types(getattr(ndgrad, a), getattr(ndgrad, b))
    ref = torch.promote_types(getattr(torch, a), getattr(torch, b))
    assert str(mine).split(".")[-1] == str(ref).split(".")[-1]


CREATION = {
    "tensor_ints": lambda lib: lib.tensor([[1, 2], [3, 4]]),
    "tensor_floats": lambda lib: lib.tensor([1.0, 2]),
    "tensor_bools": lambda lib: lib.tensor([True, False]),
    "tensor_mixed": lambda lib: lib.tensor([True, 2, 3.5]),
    "tensor_scalar": lambda lib: lib.tensor(3),
    "tensor_dtype": lambda lib: lib.tensor([1, 2], dtype=lib.float64),
    "tensor_from_numpy_f64": lambda lib: lib.tensor(np.array([1.5, 2.5])),
    "tensor_from_numpy_i32": lambda lib: lib.tensor(np.array([1, 2], dtype=np.int32)),
    "tensor_tuple": lambda lib: lib.tensor((1.0, 2.0)),
    "numpy_scalar_f64": lambda lib: lib.tensor(np.float64(1.5)),
    "numpy_scalar_i32": lambda lib: lib.tensor(np.int32(3)),
    "numpy_scalars_in_list": lambda lib: lib.tensor([np.float64(1.0), 2.0]),
    "empty_list": lambda lib: lib.tensor([]),
    "as_tensor_list": lambda lib: lib.as_tensor([1, 2]),
    "as_tensor_dtype": lambda lib: lib.as_tensor([1, 2], dtype=lib.float32),
    "zeros": lambda lib: lib.zeros(2, 3),
    "zeros_tuple": lambda lib: lib.zeros((2, 3)),
    "zeros_size": lambda lib: lib.zeros(lib.Size([2, 3])),
    "zeros_int": lambda lib: lib.zeros(2, dtype=lib.long),
    "ones": lambda lib: lib.ones(4),
    "ones_list": lambda lib: lib.ones([2, 1]),
    "full_float": lambda lib: lib.full((2, 2), 7.0),
    "full_int": lambda lib: lib.full((2,), 7),
    "full_bool": lambda lib: lib.full((2,), True),
    "empty_shape": lambda lib: lib.empty(2, 3).zero_(),
    "eye": lambda lib: lib.eye(3),
    "eye_rect": lambda lib: lib.eye(2, 3),
    "arange_int": lambda lib: lib.arange(5),
    "arange_float": lambda lib: lib.arange(4.0),
    "arange_start_end_step": lambda lib: lib.arange(1, 10, 3),
    "arange_float_step": lambda lib: lib.arange(0, 1, 0.1),
    "arange_negative": lambda lib: lib.arange(5, 0, -1.5),
    "arange_dtype": lambda lib: lib.arange(3, dtype=lib.float32),
    "linspace": lambda lib: lib.linspace(0, 1, 5),
    "linspace_one": lambda lib: lib.linspace(2, 3, 1),
    "zeros_like": lambda lib: lib.zeros_like(lib.tensor([1, 2])),
    "ones_like_dtype": lambda lib: lib.ones_like(lib.tensor([1, 2]), dtype=lib.float32),
    "full_like": lambda lib: lib.full_like(lib.ones(2), 3.5),
    "rand_like_shape": lambda lib: lib.rand_like(lib.ones(2, 3)).mul(0),
    "randn_like_shape": lambda lib: lib.randn_like(lib.ones(2, 3, dtype=lib.float64)).mul(0),
    "rand_shape": lambda lib: lib.rand(2, 3).mul(0),
    "randn_shape": lambda lib: lib.randn((2, 3)).mul(0),
    "randint_shape": lambda lib: lib.randint(0, 1, (2, 3)),
    "randint_high_only": lambda lib: lib.randint(1, (4,)),
    "normal_shape": lambda lib: lib.normal(0, 1, (3, 4)).mul(0),
    "normal_size_kw": lambda lib: lib.normal(0, 0.01, size=(2, 1)).mul(0),
    # d2l spells sizes as keywords: torch.randn(size=(2, 20)), torch.rand(size=(2, 4))
    "zeros_size_kw": lambda lib: lib.zeros(size=(2, 3), dtype=lib.float64),
    "ones_size_kw": lambda lib: lib.ones(size=[4]),
    "empty_size_kw": lambda lib: lib.empty(size=(2,)).zero_(),
    "rand_size_kw": lambda lib: lib.rand(size=(2, 4)).mul(0),
    "randn_size_kw": lambda lib: lib.randn(size=(2, 20)).mul(0),
    # the legacy constructors: floats of the default dtype, or sizes
    "Tensor_ints": lambda lib: lib.Tensor([1, 2]),
    "Tensor_numpy_ints": lambda lib: lib.Tensor(np.arange(3)),
    "Tensor_sizes": lambda lib: lib.Tensor(2, 3).zero_(),
    "Tensor_torch_size": lambda lib: lib.Tensor(lib.Size([2])).zero_(),
    "Tensor_nothing": lambda lib: lib.Tensor(),
    "Tensor_of_int_tensor": lambda lib: lib.Tensor(lib.tensor([1, 2])),
    "FloatTensor_ints": lambda lib: lib.FloatTensor([[1, 2]]),
    "LongTensor_floats": lambda lib: lib.LongTensor([1.7, 2]),
    "normal_tensor_mean": lambda lib: lib.normal(lib.zeros(3), 1.0).mul(0),
}


@pytest.mark.parametrize("name", list(CREATION))
def test_creation_matches_torch(name):
    _same(CREATION[name](ndgrad), CREATION[name](torch))


def test_random_values_lie_in_range_and_follow_the_seed():
    ndgrad.manual_seed(42)
    a = ndgrad.rand(1000)
    r = ndgrad.randint(3, 7, (1000,))
    n = ndgrad.randn(5000)
    assert 0.0 <= float(a.min()) and float(a.max()) < 1.0
    assert int(r.min()) == 3 and int(r.max()) == 6
    assert abs(float(n.mean())) < 0.05 and abs(float(n.std()) - 1) < 0.05
    ndgrad.manual_seed(42)
    assert bool((ndgrad.rand(1000) == a).all())
    assert not bool((ndgrad.rand(1000) == a).all())


def test_from_numpy_shares_memory():
    arr = np.arange(3.0)
    t = ndgrad.from_numpy(arr)
    arr[0] = 10.0
    assert t[0].item() == 10.0
    t[1] = 20.0
    assert arr[1] == 20.0
    assert t.dtype == ndgrad.float64
    back = t.numpy()
    assert np.shares_memory(back, arr)


def test_tensor_copies_its_data():
    arr = np.arange(3.0)
    t = ndgrad.tensor(arr)
    arr[0] = 10.0
    assert t[0].item() == 0.0


def test_attributes_match_torch():
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    mine, ref = ndgrad.tensor(data), torch.tensor(data)
    assert tuple(mine.shape) == tuple(ref.shape) and mine.shape == (2, 3, 4)
    assert mine.size() == ref.size() and mine.size(1) == 3 and mine.size(-1) == 4
    assert mine.dim() == mine.ndim == 3 and mine.numel() == ref.numel() == 24
    assert str(mine.device) == "cpu" and mine.device.type == "cpu"
    assert len(mine) == 2
    assert mine.T.shape == (4, 3, 2) or mine.dim() != 2
    assert mine[0].T.shape == (4, 3)
    assert mine.tolist() == ref.tolist()
    assert isinstance(mine.numpy(), np.ndarray)
    assert mine.dtype == ndgrad.float32 and mine.dtype is ndgrad.float


def test_conversions_match_torch():
    for name in ("float", "long", "bool", "double", "int"):
        for data in ([1.7, -2.2, 0.0], [1, 0, 3]):
            _same(getattr(ndgrad.tensor(data), name)(), getattr(torch.tensor(data), name)())
    _same(ndgrad.tensor([1.7]).to(ndgrad.int64), torch.tensor([1.7]).to(torch.int64))
    _same(ndgrad.tensor([1]).to(ndgrad.float64), torch.tensor([1]).to(torch.float64))
    _same(ndgrad.tensor([1]).type(ndgrad.float32), torch.tensor([1]).type(torch.float32))
    assert ndgrad.tensor([1.0]).type() == "ndgrad.FloatTensor"
    assert ndgrad.tensor([1]).type() == "ndgrad.LongTensor"
    assert ndgrad.tensor([1.0]).to("cpu").dtype == ndgrad.float32


def test_scalar_conversions():
    x = ndgrad.tensor([3.5])
    assert x.item() == 3.5 and isinstance(x.item(), float)
    assert ndgrad.tensor(2).item() == 2 and isinstance(ndgrad.tensor(2).item(), int)
    assert float(ndgrad.tensor(0.25)) == 0.25
    assert int(ndgrad.tensor([3.9])) == 3
    assert bool(ndgrad.tensor([1.0])) is True
    assert ndgrad.tensor(True).item() is True


def test_iteration_and_len_like_torch():
    data = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    rows = list(ndgrad.tensor(data))
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    assert [r.tolist() for r in rows] == [r.tolist() for r in torch.tensor(data)]
    with pytest.raises(TypeError):
        len(ndgrad.tensor(1.0))


def test_default_dtype_switch():
    ndgrad.set_default_dtype(ndgrad.float64)
    assert ndgrad.tensor([1.0]).dtype == ndgrad.float64
    assert ndgrad.zeros(2).dtype == ndgrad.float64
    assert (ndgrad.tensor([1]) * 0.5).dtype == ndgrad.float64
    ndgrad.set_default_dtype(ndgrad.float32)
    assert ndgrad.tensor([1.0]).dtype == ndgrad.float32


@pytest.mark.parametrize("spec", ["cpu", "cuda", "cuda:0", "cuda:1", "mps", "cpu:0"])
def test_devices_are_named_like_torch_even_without_their_backend(spec):
    # d2l's GPU section prints gpu() = torch.device('cuda:0') on machines without one
    mine, ref = ndgrad.device(spec), torch.device(spec)
    assert (repr(mine), str(mine), mine.type, mine.index) == (
        repr(ref),
        str(ref),
        ref.type,
        ref.index,
    )
    assert repr(ndgrad.device("cuda", 1)) == repr(torch.device("cuda", 1))


def test_only_the_cpu_holds_tensors():
    from ndgrad import nn

    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        ndgrad.device("gpu")
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        ndgrad.ones(2).to("cuda")
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        ndgrad.ones(2).to(device=ndgrad.device("cuda:0"))
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        nn.Linear(2, 2).to(device="cuda")
    with pytest.raises(RuntimeError, match="no backend for device type 'mps'"):
        ndgrad.ones(2).to("mps")
    assert ndgrad.ones(2).to("cpu").device == ndgrad.device("cpu")
