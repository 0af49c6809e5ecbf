"""Moving tensors and weights between ndgrad and torch for the comparisons."""

from __future__ import annotations

import numpy as np
import torch

import ndgrad


def to_torch(t: ndgrad.Tensor, requires_grad: bool | None = None) -> torch.Tensor:
    out = torch.from_numpy(np.array(t.detach().numpy(), copy=True))
    if requires_grad if requires_grad is not None else t.requires_grad:
        out.requires_grad_(True)
    return out


def to_nd(t: torch.Tensor, requires_grad: bool | None = None) -> ndgrad.Tensor:
    out = ndgrad.tensor(t.detach().numpy().copy())
    if requires_grad if requires_grad is not None else t.requires_grad:
        out.requires_grad_(True)
    return out


def copy_weights(nd_model: ndgrad.nn.Module, torch_model: torch.nn.Module) -> None:
    """Loads the ndgrad model's state into the torch model (same architecture)."""
    state = {k: to_torch(v) for k, v in nd_model.state_dict().items()}
    torch_model.load_state_dict(state)


def assert_close(
    nd: ndgrad.Tensor, ref: torch.Tensor, atol: float = 1e-6, rtol: float = 1e-5
) -> float:
    a = np.asarray(nd.detach().numpy(), dtype=np.float64)
    b = ref.detach().numpy().astype(np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol)
    return float(np.max(np.abs(a - b))) if a.size else 0.0
