"""PyTorch's device API on ``cuda`` (the fake CuPy on the CPU): creation, moves, errors,
printing, saving, random numbers and ``ndgrad.cuda``."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import ndgrad
from ndgrad import nn

CREATORS = {
    "tensor": lambda d: ndgrad.tensor([1.0, 2.0], device=d),
    "as_tensor": lambda d: ndgrad.as_tensor(np.ones(2), device=d),
    "zeros": lambda d: ndgrad.zeros(2, 3, device=d),
    "ones": lambda d: ndgrad.ones((2,), device=d),
    "empty": lambda d: ndgrad.empty(2, device=d),
    "full": lambda d: ndgrad.full((2,), 3.0, device=d),
    "eye": lambda d: ndgrad.eye(3, device=d),
    "arange": lambda d: ndgrad.arange(5, device=d),
    "linspace": lambda d: ndgrad.linspace(0, 1, 5, device=d),
    "logspace": lambda d: ndgrad.logspace(0, 1, 5, device=d),
    "rand": lambda d: ndgrad.rand(2, 3, device=d),
    "randn": lambda d: ndgrad.randn(2, 3, device=d),
    "randint": lambda d: ndgrad.randint(0, 5, (4,), device=d),
    "randperm": lambda d: ndgrad.randperm(5, device=d),
    "normal": lambda d: ndgrad.normal(0.0, 1.0, (3,), device=d),
    "zeros_like": lambda d: ndgrad.zeros_like(ndgrad.ones(2), device=d),
    "ones_like": lambda d: ndgrad.ones_like(ndgrad.ones(2, device=d)),
    "full_like": lambda d: ndgrad.full_like(ndgrad.ones(2, device=d), 2.0),
    "rand_like": lambda d: ndgrad.rand_like(ndgrad.ones(2, device=d)),
    "randn_like": lambda d: ndgrad.randn_like(ndgrad.ones(2), device=d),
    "new_zeros": lambda d: ndgrad.ones(2, device=d).new_zeros(3),
    "new_tensor": lambda d: ndgrad.ones(2, device=d).new_tensor([1.0]),
}


@pytest.mark.parametrize("name", sorted(CREATORS))
def test_creation_functions_take_device(cuda: Any, name: str) -> None:
    t = CREATORS[name]("cuda")
    assert t.is_cuda and t.device == ndgrad.device("cuda:0")
    assert type(t._data) is cuda.ndarray
    cpu = CREATORS[name]("cpu")
    assert not cpu.is_cuda and cpu.shape == t.shape and cpu.dtype == t.dtype


def test_to_cuda_and_back_is_differentiable(cuda: Any) -> None:
    x = ndgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to("cuda")
    assert y.is_cuda and y.grad_fn.name() == "ToCopyBackward0"
    z = (y * y).cpu()
    assert z.device.type == "cpu" and not z.is_cuda
    z.sum().backward()
    assert x.grad.device.type == "cpu"  # the gradient comes back to the source device
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    w = ndgrad.ones(3, device="cuda", requires_grad=True)
    (w.cuda() is w) and None  # already there: the same tensor
    assert w.cuda() is w and w.to(ndgrad.device("cuda")) is w
    w.cpu().mul(2).sum().backward()
    assert w.grad.is_cuda
    # second order through the move
    g = ndgrad.autograd.grad((x.cuda() ** 3).sum(), x, create_graph=True)[0]
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 6.0, 4 + 12.0, 6 + 18.0])


def test_tensor_from_a_device_tensor_goes_where_named(cuda: Any) -> None:
    g = ndgrad.arange(3.0, device="cuda")
    assert ndgrad.tensor(g).is_cuda and not ndgrad.tensor(g, device="cpu").is_cuda
    assert not ndgrad.as_tensor(g, device="cpu").is_cuda and ndgrad.as_tensor(g) is g
    host = np.arange(3.0)
    assert ndgrad.as_tensor(host, device="cpu").numpy() is host  # shares memory, as torch
    assert ndgrad.as_tensor(host, device="cuda").is_cuda


def test_to_with_dtype_and_tensor_arguments(cuda: Any) -> None:
    x = ndgrad.arange(3)
    y = x.to("cuda", ndgrad.float64)
    assert y.is_cuda and y.dtype == ndgrad.float64
    other = ndgrad.zeros(1, device="cuda", dtype=ndgrad.float32)
    z = x.to(other)
    assert z.is_cuda and z.dtype == ndgrad.float32
    assert x.cuda(0).is_cuda and x.to(device="cuda:0").is_cuda


def test_mixing_devices_is_torchs_error(cuda: Any) -> None:
    a = ndgrad.ones(2, device="cuda")
    b = ndgrad.ones(2)
    msg = "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"
    for fn in (
        lambda: a + b,
        lambda: b * a,
        lambda: a @ b,
        lambda: ndgrad.cat([a, b]),
        lambda: ndgrad.where(b > 0, a, a),
        lambda: nn.Linear(2, 2)(a),
        lambda: nn.Conv1d(1, 1, 1)(a.reshape(1, 1, 2)),
        lambda: nn.LSTM(2, 3)(a.reshape(1, 1, 2)),  # a module's parameters on the CPU
        lambda: nn.functional.cross_entropy(a.reshape(1, 2), ndgrad.tensor([1])),
        lambda: nn.functional.layer_norm(a, (2,), b),
        lambda: nn.functional.batch_norm(a.reshape(1, 2), b, b, training=True),
        lambda: ndgrad.stack([a, b]),
        lambda: a.masked_fill(b > 0, 0.0),
        lambda: a.clone().add_(b),
        lambda: nn.functional.embedding(ndgrad.tensor([0], device="cuda"), ndgrad.ones(2, 2)),
    ):
        with pytest.raises(RuntimeError, match=msg):
            fn()
    # a 0-d CPU tensor joins a CUDA tensor as a scalar does (torch's rule)
    c = a * ndgrad.tensor(3.0)
    assert c.is_cuda and c.sum().item() == 6.0


def test_copy_across_devices_and_type_names(cuda: Any) -> None:
    src = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    dst = ndgrad.zeros(2, device="cuda")
    out = dst.clone().copy_(src)  # torch's copy_ takes a source on another device
    assert out.is_cuda
    (out * 3).sum().backward()
    assert src.grad.device.type == "cpu" and src.grad.tolist() == [3.0, 3.0]
    host_copy = ndgrad.zeros(2).copy_(out.detach())
    assert not host_copy.is_cuda and host_copy.tolist() == [1.0, 2.0]
    assert dst.type() == "ndgrad.cuda.FloatTensor" and src.type() == "ndgrad.FloatTensor"


def test_printing_names_the_device(cuda: Any) -> None:
    assert repr(ndgrad.tensor([1.0, 2.0], device="cuda")) == "tensor([1., 2.], device='cuda:0')"
    t = ndgrad.tensor([1, 2], dtype=ndgrad.int32, device="cuda")
    assert repr(t) == "tensor([1, 2], device='cuda:0', dtype=ndgrad.int32)"
    r = ndgrad.ones(2, device="cuda", requires_grad=True) * 2
    assert repr(r) == "tensor([2., 2.], device='cuda:0', grad_fn=<MulBackward0>)"
    assert str(ndgrad.device("cuda", 0)) == "cuda:0"


def test_host_only_calls_refuse_device_tensors(cuda: Any) -> None:
    t = ndgrad.ones(2, device="cuda")
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        t.numpy()
    with pytest.raises(TypeError, match="Tensor.cpu"):
        np.asarray(t)
    assert t.cpu().numpy().tolist() == [1.0, 1.0]
    assert t.tolist() == [1.0, 1.0] and t.sum().item() == 2.0 and float(t[0]) == 1.0


def test_module_to_moves_in_place(cuda: Any) -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    params = list(net.parameters())
    assert net.cuda() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.is_cuda for p in net.parameters()) and all(b.is_cuda for b in net.buffers())
    out = net(ndgrad.randn(5, 3, device="cuda"))
    out.sum().backward()
    assert all(p.grad.is_cuda for p in net.parameters())
    net.to("cpu", ndgrad.float64)
    assert all(not p.is_cuda and p.dtype == ndgrad.float64 for p in net.parameters())
    assert all(not p.grad.is_cuda for p in net.parameters())


def test_save_and_load_with_map_location(cuda: Any) -> None:
    net = nn.Linear(2, 3).cuda()
    buf = io.BytesIO()
    ndgrad.save(net.state_dict(), buf)
    want = {k: v.cpu().numpy() for k, v in net.state_dict().items()}
    for loc, where in (
        (None, "cuda"),
        ("cpu", "cpu"),
        (ndgrad.device("cpu"), "cpu"),
        ({"cuda:0": "cpu"}, "cpu"),
        (lambda s, loc: s, "cpu"),
        ("cuda", "cuda"),
    ):
        buf.seek(0)
        state = ndgrad.load(buf, map_location=loc)
        for k, v in state.items():
            assert v.device.type == where, (loc, k)
            np.testing.assert_array_equal(v.cpu().numpy(), want[k])
    cpu_net = nn.Linear(2, 3)
    buf2 = io.BytesIO()
    ndgrad.save(cpu_net.state_dict(), buf2)
    buf2.seek(0)
    assert ndgrad.load(buf2, map_location="cuda")["weight"].is_cuda


def test_cuda_random_numbers_come_from_the_cuda_generator(cuda: Any) -> None:
    ndgrad.cuda.manual_seed(3)
    a = ndgrad.randn(4, device="cuda")
    ndgrad.rand(4)  # the CPU generator does not disturb the CUDA one
    ndgrad.cuda.manual_seed(3)
    b = ndgrad.randn(4, device="cuda")
    assert a.is_cuda and np.array_equal(a.cpu().numpy(), b.cpu().numpy())
    ndgrad.manual_seed(5)  # torch.manual_seed seeds every device
    c = ndgrad.rand(3, device="cuda")
    ndgrad.manual_seed(5)
    assert np.array_equal(c.cpu().numpy(), ndgrad.rand(3, device="cuda").cpu().numpy())
    g = ndgrad.Generator("cuda").manual_seed(1)
    d = ndgrad.randint(0, 10, (5,), generator=g, device="cuda")
    assert d.is_cuda and d.dtype == ndgrad.int64
    drop = nn.functional.dropout(ndgrad.ones(100, device="cuda"), 0.5)
    assert drop.is_cuda and 0 < (drop == 0).sum().item() < 100
    assert ndgrad.bernoulli(ndgrad.full((10,), 0.5, device="cuda")).is_cuda
    assert ndgrad.multinomial(ndgrad.ones(2, 4, device="cuda"), 2).is_cuda


def test_cuda_module_reports_the_device(cuda: Any) -> None:
    tc = ndgrad.cuda
    assert tc.is_available() and tc.device_count() >= 1 and tc.current_device() == 0
    assert isinstance(tc.get_device_name(), str) and tc.get_device_name(0)
    props = tc.get_device_properties(0)
    assert props.name == tc.get_device_name() and props.total_memory > 0
    assert tc.get_device_capability() == (props.major, props.minor)
    tc.set_device(0)
    tc.synchronize()
    tc.empty_cache()
    tc.reset_peak_memory_stats()
    before = tc.memory_allocated()
    keep = ndgrad.zeros(1000, device="cuda", dtype=ndgrad.float64)
    assert tc.memory_allocated() >= before + 8000
    assert tc.max_memory_allocated() >= tc.memory_allocated()
    del keep
    start, end = tc.Event(enable_timing=True), tc.Event(enable_timing=True)
    start.record()
    ndgrad.ones(10, device="cuda").sum()
    end.record()
    end.synchronize()
    assert start.elapsed_time(end) >= 0.0
    assert issubclass(tc.OutOfMemoryError, RuntimeError)


def test_out_of_memory_is_torchs_error(cuda: Any) -> None:
    oom = cuda.cuda.memory.OutOfMemoryError(2**40, 2**30)

    class Hungry(nn.Module):
        def forward(self, x: Any) -> Any:
            raise oom

    with pytest.raises(ndgrad.cuda.OutOfMemoryError, match="CUDA out of memory.*1,099,511,627,776"):
        Hungry()(ndgrad.ones(1))


def test_pinned_memory_and_dataloader(cuda: Any) -> None:
    t = ndgrad.ones(3)
    assert not t.is_pinned()
    p = t.pin_memory()
    assert p.is_pinned() and p.cuda(non_blocking=True).is_cuda
    data = ndgrad.utils.data.TensorDataset(ndgrad.arange(6.0).reshape(3, 2), ndgrad.arange(3))
    loader = ndgrad.utils.data.DataLoader(data, batch_size=2, pin_memory=True)
    x, y = next(iter(loader))
    assert x.to("cuda", non_blocking=True).is_cuda


def test_d2l_gpu_idioms(cuda: Any) -> None:
    # d2l.try_gpu / try_all_gpus / gpu, written as the book does against torch
    def gpu(i: int = 0) -> Any:
        return ndgrad.device(f"cuda:{i}")

    def num_gpus() -> int:
        return ndgrad.cuda.device_count()

    def try_gpu(i: int = 0) -> Any:
        return gpu(i) if num_gpus() >= i + 1 else ndgrad.device("cpu")

    def try_all_gpus() -> list:
        return [gpu(i) for i in range(num_gpus())]

    assert try_gpu() == ndgrad.device("cuda:0") and try_gpu(10) == ndgrad.device("cpu")
    assert try_all_gpus() == [ndgrad.device("cuda:0")] * num_gpus()
    x = ndgrad.ones(2, 3, device=try_gpu())
    assert x.device == try_gpu()
    net = nn.Sequential(nn.LazyLinear(1))
    net = net.to(device=try_gpu())
    assert net(x).device == try_gpu()


def test_without_a_gpu_cuda_is_torchs_assertion() -> None:
    from ndgrad import _backend

    if "cuda" in _backend._BACKENDS:
        pytest.skip("a cuda backend is registered")
    assert not ndgrad.cuda.is_available() and ndgrad.cuda.device_count() == 0
    for fn in (
        lambda: ndgrad.zeros(2, device="cuda"),
        lambda: ndgrad.ones(2).cuda(),
        lambda: ndgrad.ones(2).to("cuda"),
        lambda: nn.Linear(1, 1).cuda(),
        lambda: ndgrad.cuda.current_device(),
    ):
        with pytest.raises(
            AssertionError, match=r"Torch not compiled with CUDA enabled.*ndgrad\[cuda12\]"
        ):
            fn()
    ndgrad.cuda.manual_seed(0)  # accepted and ignored, as in CPU-only torch
    assert ndgrad.cuda.memory_allocated() == 0
    buf = io.BytesIO()
    ndgrad.save({"w": ndgrad.ones(1)}, buf)
    buf.seek(0)
    with pytest.raises(RuntimeError, match="deserialize object on a CUDA device"):
        ndgrad.load(buf, map_location="cuda")


_AUTO = """
import sys
sys.path.insert(0, {tests!r})
import fake_cupy
fake_cupy.cuda.runtime.getDeviceCount = lambda: {count}
sys.modules["cupy"] = fake_cupy  # what `import cupy` finds
import ndgrad
print(ndgrad.cuda.is_available(), ndgrad.cuda.device_count())
if ndgrad.cuda.is_available():
    print(ndgrad.ones(2, device="cuda").sum().item())
"""


@pytest.mark.parametrize("count", [1, 0])
def test_import_registers_cupy_when_it_finds_a_device(count: int) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).resolve().parents[1])
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", _AUTO.format(tests=tests, count=count)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": src},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split()
    assert lines[:2] == (["True", "1"] if count else ["False", "0"])
    if count:
        assert lines[2] == "2.0"
