"""W7m's child process: the peak resident memory one LeNet (W7) training step adds.

    python -m benchmarks.memstep ENGINE [--quick]     # prints the peak increase in bytes

tracemalloc sees NumPy's buffers but not PyTorch's CPU allocator, so both engines are
measured the same way: in a fresh process, after one warm-up step (imports, thread pools,
one-time buffers), the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``) and the
peak (``VmHWM``) reached during a second step is compared with the resident size before it.
The parent sets ``MALLOC_MMAP_THRESHOLD_`` so that freed large buffers go back to the kernel
rather than staying resident in malloc's free lists (which would hide the step's peak).
"""

from __future__ import annotations

import gc
import sys

from benchmarks.workloads import framework, lenet, w7_data


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def step_fn(engine: str, d: dict):  # noqa: ANN201
    X, y = d["images"], d["labels"]
    if engine == "numpy":
        from benchmarks.workloads import w7_numpy

        return w7_numpy(dict(d, batch_size=len(X)))
    torch = framework(engine)
    net = lenet(torch)
    layers = [m for m in net if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    loss = torch.nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=d["lr"])
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run() -> float:
        with torch.no_grad():  # every step starts from the same parameters, as NumPy's does
            for layer, (w, b) in zip(layers, d["lenet_init"], strict=True):
                layer.weight.copy_(torch.from_numpy(w))
                layer.bias.copy_(torch.from_numpy(b))
        l = loss(net(Xt), yt)
        trainer.zero_grad()
        l.backward()
        trainer.step()
        return l.item()

    return run


def main(argv: list[str]) -> int:
    engine, quick = argv[0], "--quick" in argv
    d = w7_data(quick)
    d["images"], d["labels"] = d["images"][:256].copy(), d["labels"][:256].copy()
    run = step_fn(engine, d)
    run()  # warm-up
    gc.collect()
    if not _reset_peak():
        print("-1 unsupported")
        return 0
    before = _status_kib("VmRSS")
    loss = run()
    peak = _status_kib("VmHWM")
    print(max(peak - before, 0) * 1024, repr(loss))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
