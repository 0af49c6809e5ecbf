"""Helpers of the d2l layer programs: weights and inputs made with NumPy, results as lists.

Every parameter gets values from a NumPy generator seeded by its name, so both libraries
start from the same weights whatever order they list the parameters in.
"""

import zlib

import numpy as np


def numpy_init(model, torch, scale=0.3):
    """Overwrite every parameter of ``model`` with NumPy values seeded by its name."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            rng = np.random.default_rng(zlib.crc32(name.encode()))
            value = scale * rng.standard_normal(tuple(p.shape))
            p.copy_(torch.tensor(value.astype(np.float32)))
    return model


def flat(t):
    """A tensor (or list of them) as nested Python floats."""
    if isinstance(t, (list, tuple)):
        return [flat(x) for x in t]
    return t.detach().cpu().numpy().astype(np.float64).ravel().tolist()


def grads(model):
    """{parameter name: its gradient, flattened}."""
    return {n: flat(p.grad) for n, p in model.named_parameters() if p.grad is not None}


def params(model):
    return {n: flat(p) for n, p in model.named_parameters()}


def board(model):
    return {k: [float(p.y) for p in v] for k, v in model.board.data.items()}
