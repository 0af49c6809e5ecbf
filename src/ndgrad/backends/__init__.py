"""``torch.backends``: the switches PyTorch programs set (cuDNN's determinism and autotuning,
TF32) and the availability checks (MPS, cuDNN, MKL-DNN, OpenMP). ndgrad computes with NumPy
(and CuPy): none of these backends is present, so each ``is_available()`` is False and the
switches are kept but change nothing (ndgrad's CPU results are deterministic already)."""

from ndgrad.backends import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp, opt_einsum

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp", "opt_einsum"]
