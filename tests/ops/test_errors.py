"""Bad input raises torch's exception class, with a message naming the op and the shapes/dtypes.

Each case runs on ndgrad (class and message) and on torch (class), so the table itself is
checked against the oracle.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad


def _broadcast(lib: Any) -> None:
    lib.ones(2, 3) + lib.ones(4, 3)


def _broadcast_mul(lib: Any) -> None:
    lib.ones(2, 3) * lib.ones(3, 2)


def _matmul(lib: Any) -> None:
    lib.ones(2, 3) @ lib.ones(4, 5)


def _matmul_vectors(lib: Any) -> None:
    lib.matmul(lib.ones(3), lib.ones(4))


def _mm_rank(lib: Any) -> None:
    lib.mm(lib.ones(3), lib.ones(3, 2))


def _cat(lib: Any) -> None:
    lib.cat([lib.ones(2, 3), lib.ones(2, 4)], dim=0)


def _cat_rank(lib: Any) -> None:
    lib.cat([lib.ones(2, 3), lib.ones(3)])


def _stack(lib: Any) -> None:
    lib.stack([lib.ones(2), lib.ones(3)])


def _reshape(lib: Any) -> None:
    lib.ones(2, 3).reshape(4, 2)


def _reshape_two_inferred(lib: Any) -> None:
    lib.ones(2, 3).reshape(-1, -1)


def _view(lib: Any) -> None:
    lib.ones(2, 3).t().view(6)


def _expand(lib: Any) -> None:
    lib.ones(2, 3).expand(4, 3)


def _backward_non_scalar(lib: Any) -> None:
    x = lib.ones(3, requires_grad=True)
    (x * 2).backward()


def _backward_twice(lib: Any) -> None:
    x = lib.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _backward_no_grad(lib: Any) -> None:
    lib.ones(3).sum().backward()


def _requires_grad_int(lib: Any) -> None:
    lib.tensor([1, 2, 3], requires_grad=True)


def _requires_grad_int_setter(lib: Any) -> None:
    lib.arange(3).requires_grad_()


def _inplace_leaf(lib: Any) -> None:
    w = lib.ones(3, requires_grad=True)
    w += 1


def _inplace_leaf_method(lib: Any) -> None:
    lib.ones(3, requires_grad=True).mul_(2)


def _inplace_leaf_setitem(lib: Any) -> None:
    w = lib.ones(3, requires_grad=True)
    w[0] = 5.0


def _version_counter(lib: Any) -> None:
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    z = y * y  # saves y
    y.add_(1)
    z.sum().backward()


def _version_counter_exp(lib: Any) -> None:
    x = lib.ones(3, requires_grad=True)
    y = x.exp()  # saves its output
    y.mul_(2)
    y.sum().backward()


def _index_out_of_range(lib: Any) -> None:
    lib.ones(2, 3)[5]


def _index_out_of_range_dim1(lib: Any) -> None:
    lib.ones(2, 3)[:, 3]


def _index_tensor_out_of_range(lib: Any) -> None:
    lib.ones(2, 3)[lib.tensor([0, 2])]


def _too_many_indices(lib: Any) -> None:
    lib.ones(2, 3)[0, 1, 2]


def _dim_out_of_range(lib: Any) -> None:
    lib.ones(2, 3).sum(dim=2)


def _gather_out_of_range(lib: Any) -> None:
    lib.gather(lib.ones(2, 3), 1, lib.tensor([[0, 3]]))


def _unused_input(lib: Any) -> None:
    x = lib.ones(2, requires_grad=True)
    z = lib.ones(2, requires_grad=True)
    lib.autograd.grad((x * 2).sum(), [x, z])


def _grad_mismatched_shape(lib: Any) -> None:
    x = lib.ones(3, requires_grad=True)
    (x * 2).backward(lib.ones(2))


def _item_many(lib: Any) -> None:
    lib.ones(3).item()


def _bool_ambiguous(lib: Any) -> None:
    bool(lib.ones(3))


def _float_index(lib: Any) -> None:
    lib.ones(3)[lib.tensor([0.0])]


def _bool_sub(lib: Any) -> None:
    lib.tensor([True]) - lib.tensor([False])


def _bool_neg(lib: Any) -> None:
    -lib.tensor([True])


def _mean_int(lib: Any) -> None:
    lib.arange(3).mean()


def _int_inplace_float(lib: Any) -> None:
    x = lib.arange(3)
    x += 1.5


def _inplace_broadcast(lib: Any) -> None:
    x = lib.ones(3)
    x += lib.ones(2, 3)


def _numpy_requires_grad(lib: Any) -> None:
    lib.ones(2, requires_grad=True).numpy()


def _matmul_dtype(lib: Any) -> None:
    lib.ones(2, 2) @ lib.ones(2, 2, dtype=lib.float64)


def _where_cond(lib: Any) -> None:
    lib.where(lib.ones(2), lib.ones(2), lib.zeros(2))


def _permute_rank(lib: Any) -> None:
    lib.ones(2, 3).permute(0)


def _split_sizes(lib: Any) -> None:
    lib.ones(5).split([2, 2])


def _non_leaf_requires_grad(lib: Any) -> None:
    x = lib.ones(2, requires_grad=True)
    (x * 2).requires_grad = False


# (case, exception class, pattern the ndgrad message must match)
CASES: list[tuple[Callable[[Any], None], type[Exception], str]] = [
    (_broadcast, RuntimeError, r"add.*size of tensor a \(2\).*tensor b \(4\).*dimension 0"),
    (_broadcast_mul, RuntimeError, r"mul.*\[2, 3\].*\[3, 2\]"),
    (_matmul, RuntimeError, r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (_matmul_vectors, RuntimeError, r"inconsistent tensor size.*\[3\].*\[4\]"),
    (_mm_rank, RuntimeError, r"mm.*2D.*\[3\]"),
    (_cat, RuntimeError, r"Sizes of tensors must match except in dimension 0.*size 3.*size 4"),
    (_cat_rank, RuntimeError, r"same number of dimensions: got 2 and 1"),
    (_stack, RuntimeError, r"stack expects each tensor to be equal size.*\[2\].*\[3\]"),
    (_reshape, RuntimeError, r"shape '\[4, 2\]' is invalid for input of size 6"),
    (_reshape_two_inferred, RuntimeError, r"only one dimension can be inferred"),
    (_view, RuntimeError, r"view size is not compatible.*\[3, 2\]"),
    (
        _expand,
        RuntimeError,
        r"expanded size of the tensor \(4\) must match the existing size \(2\)",
    ),
    (_backward_non_scalar, RuntimeError, r"grad can be implicitly created only for scalar.*\[3\]"),
    (_backward_twice, RuntimeError, r"backward through the graph a second time"),
    (_backward_no_grad, RuntimeError, r"does not require grad and does not have a grad_fn"),
    (_requires_grad_int, RuntimeError, r"floating point.*can require gradients.*int64"),
    (_requires_grad_int_setter, RuntimeError, r"floating point.*can require gradients.*int64"),
    (_inplace_leaf, RuntimeError, r"leaf Variable that requires grad.*in-place"),
    (_inplace_leaf_method, RuntimeError, r"leaf Variable that requires grad.*in-place"),
    (_inplace_leaf_setitem, RuntimeError, r"leaf Variable that requires grad.*in-place"),
    (
        _version_counter,
        RuntimeError,
        r"modified by an inplace operation: \[\w+\.FloatTensor \[3\]\], which is output 0 "
        r"of Add, is at version 1; expected version 0 instead",
    ),
    (
        _version_counter_exp,
        RuntimeError,
        r"modified by an inplace operation.*which is output 0 of Exp, is at version 1",
    ),
    (_index_out_of_range, IndexError, r"index 5 is out of bounds for dimension 0 with size 2"),
    (_index_out_of_range_dim1, IndexError, r"index 3 is out of bounds for dimension 1 with size 3"),
    (
        _index_tensor_out_of_range,
        IndexError,
        r"index 2 is out of bounds for dimension 0 with size 2",
    ),
    (_too_many_indices, IndexError, r"too many indices for tensor of dimension 2"),
    (_dim_out_of_range, IndexError, r"sum.*Dimension out of range.*\[-2, 1\].*got 2"),
    (_gather_out_of_range, RuntimeError, r"gather.*index 3 is out of bounds for dimension 1"),
    (_unused_input, RuntimeError, r"appears to not have been used in the graph.*allow_unused"),
    (_grad_mismatched_shape, RuntimeError, r"Mismatch in shape.*\[2\].*\[3\]"),
    (_item_many, RuntimeError, r"a Tensor with 3 elements cannot be converted to Scalar"),
    (
        _bool_ambiguous,
        RuntimeError,
        r"Boolean value of Tensor with more than one value is ambiguous",
    ),
    (_float_index, IndexError, r"tensors used as indices must be long, int, byte or bool"),
    (_bool_sub, RuntimeError, r"Subtraction, the `-` operator, with two bool tensors"),
    (_bool_neg, RuntimeError, r"Negation, the `-` operator, on a bool tensor"),
    (_mean_int, RuntimeError, r"mean\(\).*floating point.*Got: Long"),
    (
        _int_inplace_float,
        RuntimeError,
        r"result type Float can't be cast to the desired output "
        r"type Long",
    ),
    (
        _inplace_broadcast,
        RuntimeError,
        r"output with shape \[3\] doesn't match the broadcast "
        r"shape \[2, 3\]",
    ),
    (_numpy_requires_grad, RuntimeError, r"Can't call numpy\(\) on Tensor that requires grad"),
    (_matmul_dtype, RuntimeError, r"expected m1 and m2 to have the same dtype.*float != double"),
    (_where_cond, RuntimeError, r"where expected condition to be a boolean tensor.*dtype Float"),
    (_permute_rank, RuntimeError, r"number of dimensions in the tensor input does not match"),
    (_split_sizes, RuntimeError, r"split_with_sizes expects split_sizes to sum exactly to 5"),
    (_non_leaf_requires_grad, RuntimeError, r"only change requires_grad flags of leaf variables"),
]


def _ids(case: tuple) -> str:
    return case[0].__name__.lstrip("_")


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_ndgrad_raises_class_and_message(case):
    fn, cls, pattern = case
    with pytest.raises(cls, match=pattern) as info:
        fn(ndgrad)
    assert type(info.value) is cls, f"raised {type(info.value).__name__}, torch raises {cls}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_torch_raises_the_same_class(case):
    fn, cls, _ = case
    with pytest.raises(cls) as info:
        fn(torch)
    assert type(info.value) is cls


def test_no_numpy_traceback_leaks_for_bad_shapes():
    """Errors come from ndgrad, not from NumPy internals (ValueError/AxisError)."""
    bad = [
        lambda: ndgrad.ones(2, 3) - ndgrad.ones(3, 2),
        lambda: ndgrad.ones(2, 3) / ndgrad.ones(3, 2),
        lambda: ndgrad.maximum(ndgrad.ones(2), ndgrad.ones(3)),
        lambda: ndgrad.where(ndgrad.ones(2) > 0, ndgrad.ones(3), ndgrad.ones(4)),
        lambda: ndgrad.ones(2, 3).transpose(0, 2),
        lambda: ndgrad.ones(2, 3).unsqueeze(3),
        lambda: ndgrad.ones(2, 3).softmax(2),
        lambda: ndgrad.ones(2, 3).max(dim=2),
        lambda: ndgrad.ones(2, 3).cumsum(2),
        lambda: ndgrad.bmm(ndgrad.ones(2, 3, 4), ndgrad.ones(3, 4, 5)),
    ]
    for f in bad:
        with pytest.raises((RuntimeError, IndexError)) as info:
            f()
        assert "numpy" not in type(info.value).__module__


# The messages people paste into forums: ndgrad's contains torch's, word for word.
FORUM_MESSAGES = {
    "linear_dtype": lambda lib: lib.nn.Linear(3, 2)(lib.ones(2, 3, dtype=lib.float64)),
    "linear_bias_dtype": lambda lib: lib.nn.functional.linear(
        lib.ones(2, 3), lib.ones(2, 3), lib.ones(2, dtype=lib.float64)
    ),
    "linear_no_bias_dtype": lambda lib: lib.nn.functional.linear(
        lib.ones(2, 3, dtype=lib.float64), lib.ones(2, 3)
    ),
    "conv_dtype": lambda lib: lib.nn.Conv2d(1, 1, 3)(lib.ones(1, 1, 5, 5, dtype=lib.float64)),
    "conv_dtype_no_bias": lambda lib: lib.nn.Conv2d(1, 1, 3, bias=False)(
        lib.ones(1, 1, 5, 5, dtype=lib.float64)
    ),
    "multi_target": lambda lib: lib.nn.functional.cross_entropy(
        lib.ones(4, 10), lib.zeros(4, 2, dtype=lib.long)
    ),
    "ragged": lambda lib: lib.tensor([[1, 2], [3, 4], [5]]),
    "ragged_deep": lambda lib: lib.tensor([[[1, 2], [3, 4]], [[1, 2], [3]]]),
    "bmm_batch": lambda lib: lib.bmm(lib.ones(2, 3, 4), lib.ones(3, 4, 5)),
    "bmm_inner": lambda lib: lib.bmm(lib.ones(2, 3, 4), lib.ones(2, 5, 5)),
    "matmul_3d_dtype": lambda lib: lib.matmul(lib.ones(4, 2, 3, dtype=lib.float64), lib.ones(3, 2)),
    "linear_numpy": lambda lib: lib.nn.Linear(2, 2)(np.ones((3, 2), np.float32)),
    "relu_numpy": lambda lib: lib.nn.functional.relu(np.ones(3)),
    "add_list": lambda lib: lib.add(lib.ones(2), [1, 2]),
    "maximum_list": lambda lib: lib.maximum(lib.ones(2), [1, 2]),
    "requires_grad_int": lambda lib: lib.tensor([1, 2], requires_grad=True),
    "batched_dtype": lambda lib: lib.matmul(
        lib.ones(4, 2, 3, dtype=lib.float64), lib.ones(4, 3, 2)
    ),
    "view_transposed": lambda lib: lib.ones(3, 4).t().view(12),
    "mean_long": lambda lib: lib.arange(3).mean(),
    "mean_bool": lambda lib: lib.tensor([True]).mean(),
    "reflect_pad_width": lambda lib: lib.nn.functional.pad(
        lib.ones(1, 1, 2, 2), (3, 3, 3, 3), mode="reflect"
    ),
    "reflect_pad_height": lambda lib: lib.nn.functional.pad(
        lib.ones(1, 1, 2, 2), (1, 1, 3, 3), mode="reflect"
    ),
    "randn_float_size": lambda lib: lib.randn(2.5),
    "ones_float_size": lambda lib: lib.ones((2, 2.5)),
    "zeros_negative": lambda lib: lib.zeros(-1),
    "requires_grad_setter": lambda lib: setattr(lib.arange(3), "requires_grad", True),
    "requires_grad_method": lambda lib: lib.arange(3).requires_grad_(),
    "parameter_int": lambda lib: lib.nn.Parameter(lib.arange(3)),
    "expand_inplace": lambda lib: lib.ones(1, 3).expand(2, 3).add_(1),
    "reshape_empty": lambda lib: lib.ones(0, 3).reshape(0, -1),
    "mask_shape": lambda lib: lib.ones(3, 4)[:, lib.tensor([True, False])],
    "mask_shape_put": lambda lib: lib.ones(3, 4).__setitem__(lib.tensor([True, False]), 1.0),
    "where_float_cond": lambda lib: lib.where(lib.ones(3), lib.ones(3), lib.zeros(3)),
    "clamp_nothing": lambda lib: lib.ones(3).clamp(),
    "arange_sign": lambda lib: lib.arange(0, -3, 1),
    "norm_long": lambda lib: lib.arange(3).norm(),
    "inv_long": lambda lib: lib.linalg.inv(lib.eye(2, dtype=lib.long)),
    "std_long": lambda lib: lib.arange(3).std(),
    "ce_float_wrong_shape": lambda lib: lib.nn.functional.cross_entropy(
        lib.ones(4, 10), lib.ones(4, 9)
    ),
    "nll_unbatched_target": lambda lib: lib.nn.functional.nll_loss(
        lib.ones(10), lib.tensor([1, 2])
    ),
    "module_list_call": lambda lib: lib.nn.ModuleList([lib.nn.Linear(1, 1)])(lib.ones(1)),
    "load_missing": lambda lib: lib.load("/nonexistent/__no_checkpoint__.pt"),
    "grad_unused": lambda lib: lib.autograd.grad(
        (lib.ones(2, requires_grad=True) * 2).sum(), [lib.ones(2, requires_grad=True)]
    ),
    "lstm_hx_tensor": lambda lib: lib.nn.LSTM(4, 8)(lib.ones(5, 3, 4), lib.zeros(1, 3, 8)),
    "lstm_hx_short": lambda lib: lib.nn.LSTM(4, 8)(lib.ones(5, 3, 4), (lib.zeros(1, 3, 8),)),
    "unbind_inplace": lambda lib: (lib.ones(2, 3, requires_grad=True) * 1).unbind(0)[1].mul_(2),
    "split_inplace": lambda lib: (lib.ones(2, 3, requires_grad=True) * 1).split(1)[0].add_(1),
    "chunk_inplace": lambda lib: (lib.ones(2, 3, requires_grad=True) * 1).chunk(2)[1].zero_(),
    "split_sizes_inplace": lambda lib: (
        (lib.ones(2, 3, requires_grad=True) * 1).split([1, 1])[1].mul_(2)
    ),
}


@pytest.mark.parametrize("name", FORUM_MESSAGES)
def test_forum_messages_contain_torchs_words(name):
    with pytest.raises(Exception) as theirs:
        FORUM_MESSAGES[name](torch)
    with pytest.raises(type(theirs.value)) as ours:
        FORUM_MESSAGES[name](ndgrad)
    assert type(ours.value) is type(theirs.value)
    assert str(theirs.value) in str(ours.value)


def test_tensor_of_a_tensor_warns_as_torch():
    def caught(lib: Any) -> list[str]:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            lib.tensor(lib.ones(2))
        return [f"{w.category.__name__}: {w.message}" for w in seen]

    assert caught(ndgrad) == caught(torch) != []
