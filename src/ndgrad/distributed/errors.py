"""``torch.distributed``'s error classes (all ``RuntimeError``, as in PyTorch)."""

from __future__ import annotations


class DistError(RuntimeError):
    """An error in the distributed package."""


class DistBackendError(DistError):
    """The communication backend failed: a peer died or did not answer within the timeout."""


class DistNetworkError(DistError):
    """A network error while setting up the process group."""


class DistStoreError(DistError):
    """The rendezvous failed: a rank never joined within the timeout."""
