"""Indexing and index assignment in the forms d2l-style code uses, values and gradients vs torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

DATA = np.arange(24, dtype=np.float32).reshape(4, 6) / 4 - 2

READS = {
    "row": lambda lib, x: x[1],
    "negative_row": lambda lib, x: x[-1],
    "element": lambda lib, x: x[1, 2],
    "row_slice": lambda lib, x: x[1:3],
    "column": lambda lib, x: x[:, 2],
    "step": lambda lib, x: x[::2, 1::3],
    "none": lambda lib, x: x[:, None],
    "ellipsis": lambda lib, x: x[..., -1],
    "list": lambda lib, x: x[[0, 2, 2]],
    "range_pairs": lambda lib, x: x[range(3), lib.tensor([0, 5, 1])],
    "y_hat_pick": lambda lib, x: x[range(len(x)), lib.tensor([0, 2, 1, 5])],
    "tensor_rows": lambda lib, x: x[lib.tensor([3, 0])],
    "tensor_2d_index": lambda lib, x: x[lib.tensor([[0, 1], [2, 3]])],
    "zero_dim_index": lambda lib, x: x[lib.tensor(2)],
    "mask": lambda lib, x: x[x > 0],
    "row_mask": lambda lib, x: x[lib.tensor([True, False, True, False])],
    "mask_then_slice": lambda lib, x: x[lib.tensor([True, False, True, False]), 1:],
    "mixed_adv_slice": lambda lib, x: x[:, [1, 3]],
    "separated_adv": lambda lib, x: x[[0, 1], 2:4][:, [0]],
    "index_select": lambda lib, x: x.index_select(1, lib.tensor([0, 5])),
    "gather": lambda lib, x: x.gather(1, lib.tensor([[0], [1], [2], [3]])),
    "narrow": lambda lib, x: x.narrow(1, 2, 3),
    "chained": lambda lib, x: x[1:][0][::2],
}


@pytest.mark.parametrize("name", list(READS))
def test_reads_and_their_gradients_match_torch(name):
    fn = READS[name]
    mine_x = ndgrad.tensor(DATA, requires_grad=True)
    ref_x = torch.tensor(DATA, requires_grad=True)
    mine, ref = fn(ndgrad, mine_x), fn(torch, ref_x)
    assert tuple(mine.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(mine.detach().numpy(), ref.detach().numpy())
    weights = np.linspace(0.5, 1.5, ref.numel(), dtype=np.float32).reshape(tuple(ref.shape))
    (mine * ndgrad.tensor(weights)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(mine_x.grad.numpy(), ref_x.grad.numpy(), rtol=1e-6)


WRITES = {
    "element": lambda lib, x: x.__setitem__((1, 2), 9.0),
    "row_scalar": lambda lib, x: x.__setitem__(0, 12),
    "rows_slice": lambda lib, x: x.__setitem__(slice(0, 2), 12.0),
    "all": lambda lib, x: x.__setitem__(slice(None), lib.ones(6)),
    "column_tensor": lambda lib, x: x.__setitem__((slice(None), 1), lib.arange(4.0)),
    "mask_scalar": lambda lib, x: x.__setitem__(x < 0, 0.0),
    "mask_values": lambda lib, x: x.__setitem__(x > 3.3, lib.tensor([7.0, 8.0])),
    "list_rows": lambda lib, x: x.__setitem__([0, 3], lib.zeros(2, 6)),
    "tensor_pairs": lambda lib, x: x.__setitem__((lib.tensor([0, 1]), lib.tensor([2, 3])), -1.0),
    "ellipsis": lambda lib, x: x.__setitem__((Ellipsis, 0), 5.0),
    "int_value_in_float": lambda lib, x: x.__setitem__(2, lib.tensor([1, 2, 3, 4, 5, 6])),
    "broadcast_row": lambda lib, x: x.__setitem__(slice(1, 3), lib.tensor([1.0, 2, 3, 4, 5, 6])),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_writes_match_torch(name):
    mine, ref = ndgrad.tensor(DATA), torch.tensor(DATA)
    ident = id(mine)
    WRITES[name](ndgrad, mine)
    WRITES[name](torch, ref)
    np.testing.assert_array_equal(mine.numpy(), ref.numpy())
    assert id(mine) == ident and mine.dtype == ndgrad.float32


def test_setitem_into_int_tensor_truncates_like_torch():
    mine, ref = ndgrad.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    mine[0] = 7.9
    ref[0] = 7.9
    assert mine.tolist() == ref.tolist()


def test_views_share_storage_like_torch():
    for lib in (ndgrad, torch):
        x = lib.zeros(3, 4)
        row = x[1]
        row[2] = 5.0
        col = x[:, 0]
        col += 1
        flat = x.view(12)
        flat[-1] = 9.0
        assert x[1, 2].item() == 5.0 and x[2, 0].item() == 1.0 and x[2, 3].item() == 9.0


def test_advanced_index_copies_like_torch():
    x = ndgrad.zeros(3)
    picked = x[[0, 1]]
    picked[0] = 5.0
    assert x[0].item() == 0.0


def test_repeated_indices_accumulate_gradient():
    for lib in (ndgrad, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x[lib.tensor([0, 0, 2, 0])].sum().backward()
        assert x.grad.tolist() == [3.0, 0.0, 1.0]
