"""``torch.backends.cudnn``: there is no cuDNN under ndgrad; the flags are kept."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = 10


def is_available() -> bool:
    return False


def version() -> None:
    return None
