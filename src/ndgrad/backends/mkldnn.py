"""``torch.backends.mkldnn``: not used by ndgrad (NumPy's BLAS and its own thread pool)."""


def is_available() -> bool:
    return False
