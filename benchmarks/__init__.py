"""Benchmarks: ndgrad against PyTorch (CPU) and hand-written NumPy on d2l-sized work.

Run ``python -m benchmarks.run`` (``make bench``) for the full table, ``--quick`` for a
seconds-long smoke run.
"""
