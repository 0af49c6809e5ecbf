"""Backward through a long chain of nodes: the engine's time must grow linearly with length.

    PYTHONPATH=src python benchmarks/backward_chain.py [10000 100000 1000000]

Builds ``y = x; y = y * 1.0`` n times (one node per step) on a 1-element tensor, then
times ``y.sum().backward()`` (the single-consumer fast path) and ``autograd.grad(y.sum(), x)``
(the general engine, with its topological order) alone, and prints microseconds per node: a
superlinear part shows as a per-node cost that grows with n. The machine's load moves these
numbers by 2x; compare the growth, on an idle machine.
"""

from __future__ import annotations

import sys
import time

import ndgrad as torch


def run(n: int, how: str) -> tuple[float, float]:
    x = torch.ones(1, requires_grad=True)
    y = x
    t0 = time.perf_counter()
    for _ in range(n):
        y = y * 1.0
    build = time.perf_counter() - t0
    loss = y.sum()
    del y
    t0 = time.perf_counter()
    if how == "grad":
        torch.autograd.grad(loss, x)  # the general engine (topological order)
    else:
        loss.backward()  # the single-consumer fast path
    backward = time.perf_counter() - t0
    return build, backward


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [10_000, 100_000, 1_000_000]
    print(f"{'engine':>9} {'nodes':>9} {'build s':>8} {'backward s':>11} {'us/node':>8}")
    for how in ("backward", "grad"):
        for n in sizes:
            build, backward = run(n, how)
            print(f"{how:>9} {n:>9} {build:>8.2f} {backward:>11.2f} {backward / n * 1e6:>8.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
