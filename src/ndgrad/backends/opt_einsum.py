"""``torch.backends.opt_einsum``: ndgrad contracts einsum operands with NumPy's own path."""

import importlib.util

enabled = True
strategy = "auto"


def is_available() -> bool:
    return importlib.util.find_spec("opt_einsum") is not None
