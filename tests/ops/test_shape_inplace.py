"""In-place view ops (``t_``, ``transpose_``, ``squeeze_``, ``unsqueeze_``) as in torch: the
tensor takes the new shape over the same storage, its history gets PyTorch's node, and the
version counter moves (what saved the tensor sees the change)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ndgrad

PROGRAMS = {
    "t_": lambda b: b.t_(),
    "transpose_": lambda b: b.transpose_(0, 1),
    "squeeze_": lambda b: b.unsqueeze_(1).squeeze_(),
    "squeeze_dim": lambda b: b.unsqueeze_(0).squeeze_(0),
    "squeeze_dims": lambda b: b.unsqueeze_(0).squeeze_((0,)),
    "unsqueeze_": lambda b: b.unsqueeze_(-1),
    "chain": lambda b: b.t_().unsqueeze_(0).transpose_(0, 2),
}


def _run(lib, program, view):
    x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = x * 1
    if view:
        b = b[:, :2]
    program(b)
    weights = lib.tensor(np.arange(1.0, b.numel() + 1).reshape(tuple(b.shape)))
    (b * weights).sum().backward()
    return tuple(b.shape), b.grad_fn.name(), _version(b), x.grad.numpy()


def _version(t):
    """torch's version counter is an int; ndgrad's a one-element list shared by views."""
    return t._version


@pytest.mark.parametrize("view", [False, True], ids=["tensor", "view"])
@pytest.mark.parametrize("name", PROGRAMS)
def test_same_as_torch(name, view):
    ours = _run(ndgrad, PROGRAMS[name], view)
    theirs = _run(torch, PROGRAMS[name], view)
    assert ours[:3] == theirs[:3]
    np.testing.assert_allclose(ours[3], theirs[3])


def test_plain_tensor_changes_shape_in_place():
    x = ndgrad.arange(6.0).reshape(2, 3)
    y = x.clone()
    assert y.t_() is y and tuple(y.shape) == (3, 2) and _version(y) == 1
    np.testing.assert_array_equal(y.numpy(), np.arange(6.0).reshape(2, 3).T)


@pytest.mark.parametrize("lib", [ndgrad, torch], ids=["ndgrad", "torch"])
def test_leaf_requiring_grad_refuses(lib):
    x = lib.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.t_()


def test_saved_result_modified_raises_as_torch():
    def run(lib):
        y = (lib.ones(2, 3, requires_grad=True) * 1).exp()
        y.t_()
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        return str(info.value).replace("torch.", "ndgrad.").split("Hint:")[0]

    assert run(ndgrad) == run(torch)
