"""``torch.amp``: automatic mixed precision. ndgrad computes in the tensors' own dtype (NumPy
has no bfloat16 and no fast float16 kernels), so ``autocast`` changes no dtype; on a machine
without CUDA it turns itself off with PyTorch's own warnings, as CPU-only PyTorch does for
``device_type="cuda"``. ``GradScaler`` scales losses and unscales gradients exactly as
PyTorch's (its skip-on-inf/nan and growth/backoff schedule)."""

from ndgrad.amp.autocast_mode import autocast, is_autocast_available
from ndgrad.amp.grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "is_autocast_available"]
