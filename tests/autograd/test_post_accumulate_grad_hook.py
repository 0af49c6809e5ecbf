"""``Tensor.register_post_accumulate_grad_hook`` against torch: when it runs and what it sees."""

from __future__ import annotations

import pytest
import torch

import ndgrad


def _trace(lib):
    """The hook's calls for a weight used twice (two gradients, one call after both)."""
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([0.5, -1.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(("w", t.grad.tolist())))
    handle = b.register_post_accumulate_grad_hook(lambda t: seen.append(("b", t.grad.tolist())))
    ((w * w).sum() + (w * b).sum()).backward()
    handle.remove()
    (b * 3).sum().backward()  # removed: no call
    (w * 2).sum().backward()  # accumulates onto the first gradient
    return seen


def test_post_accumulate_grad_hook_matches_torch() -> None:
    assert sorted(_trace(ndgrad)) == sorted(_trace(torch))
    assert _trace(ndgrad)[-1] == ("w", [4.5, 5.0])


def test_post_accumulate_grad_hook_create_graph() -> None:
    w = ndgrad.tensor([3.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.requires_grad))
    (w**3).sum().backward(create_graph=True)
    assert seen == [True]


@pytest.mark.parametrize("lib", [ndgrad, torch])
def test_post_accumulate_grad_hook_errors(lib) -> None:
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        lib.ones(2).register_post_accumulate_grad_hook(lambda t: None)
    x = lib.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        x.register_post_accumulate_grad_hook(lambda t: None)
