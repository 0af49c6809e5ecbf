"""ndgrad.save / ndgrad.load: round trips, atomic writes, clear errors, no code execution."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import ndgrad


def _same(a: object, b: object) -> None:
    """Deep equality that also checks container types, tensor dtypes and shapes."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, ndgrad.Tensor):
        assert a.dtype is b.dtype and a.shape == b.shape
        assert a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.numpy(force=True), b.numpy(force=True))
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


@pytest.mark.parametrize(
    "dtype",
    [
        ndgrad.float32,
        ndgrad.float64,
        ndgrad.float16,
        ndgrad.int64,
        ndgrad.int32,
        ndgrad.uint8,
        ndgrad.int8,
        ndgrad.int16,
        ndgrad.bool,
    ],
)
def test_tensor_round_trip_keeps_dtype_shape_and_values(tmp_path, dtype):
    rng = np.random.default_rng(1)
    t = ndgrad.tensor((rng.standard_normal((3, 4, 2)) * 10).astype(dtype.np))
    ndgrad.save(t, tmp_path / "t.pt")
    _same(t, ndgrad.load(tmp_path / "t.pt"))


def test_zero_dim_empty_and_non_contiguous_tensors(tmp_path):
    objs = [ndgrad.tensor(3.5), ndgrad.zeros(0, 3), ndgrad.arange(12.0).reshape(3, 4).T]
    ndgrad.save(objs, str(tmp_path / "t.pt"))
    back = ndgrad.load(str(tmp_path / "t.pt"))
    _same(objs, back)
    assert back[0].shape == () and back[1].shape == (0, 3) and back[2].shape == (4, 3)


def test_nested_containers_and_metadata(tmp_path):
    obj = {
        "weights": [ndgrad.randn(2, 2), (ndgrad.ones(3), {"deep": ndgrad.tensor([1, 2])})],
        "epoch": 7,
        "lr": 0.1,
        "name": "softmax",
        "none": None,
        "flag": True,
        "special": [float("inf"), float("-inf"), float("nan"), 1e-320],
        3: "int key",
        (1, 2): "tuple key",
        "dtype": ndgrad.float64,
        "size": ndgrad.Size([2, 3]),
        "array": np.arange(5, dtype=np.int16),
        "npscalar": np.float32(2.5),
    }
    ndgrad.save(obj, tmp_path / "m.pt")
    back = ndgrad.load(tmp_path / "m.pt")
    _same(
        {k: v for k, v in obj.items() if k not in ("dtype", "npscalar")},
        {k: v for k, v in back.items() if k not in ("dtype", "npscalar")},
    )
    assert back["dtype"] is ndgrad.float64
    assert back["npscalar"] == np.float32(2.5) and back["npscalar"].dtype == np.float32


def test_ordered_dict_state_dict_and_shared_tensors(tmp_path):
    w = ndgrad.randn(3, 2)
    state = OrderedDict([("0.weight", w), ("0.bias", ndgrad.zeros(3)), ("alias", w)])
    ndgrad.save(state, tmp_path / "s.pt")
    back = ndgrad.load(tmp_path / "s.pt")
    assert isinstance(back, OrderedDict)
    assert list(back) == ["0.weight", "0.bias", "alias"]
    _same(state, back)
    # The same tensor saved twice comes back as one tensor, as with torch.save.
    assert back["0.weight"] is back["alias"]


def test_requires_grad_round_trips(tmp_path):
    w = ndgrad.randn(2, requires_grad=True)
    ndgrad.save({"w": w}, tmp_path / "g.pt")
    back = ndgrad.load(tmp_path / "g.pt")["w"]
    assert back.requires_grad and back.is_leaf


def test_optimizer_like_state_dict_round_trip(tmp_path):
    # The layout torch.optim.Optimizer.state_dict() produces: int keys, per-param tensors.
    state = {
        "state": {
            0: {
                "step": ndgrad.tensor(3.0),
                "exp_avg": ndgrad.randn(4),
                "exp_avg_sq": ndgrad.rand(4),
            },
            1: {"momentum_buffer": None},
        },
        "param_groups": [
            {
                "lr": 0.001,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "weight_decay": 0.0,
                "amsgrad": False,
                "params": [0, 1],
            }
        ],
    }
    ndgrad.save(state, tmp_path / "opt.pt")
    _same(state, ndgrad.load(tmp_path / "opt.pt"))


def test_real_module_and_optimizer_state_round_trip(tmp_path):
    nn = pytest.importorskip("ndgrad.nn")
    optim = pytest.importorskip("ndgrad.optim")
    if not hasattr(nn, "Sequential") or not hasattr(optim, "Adam"):
        pytest.skip("ndgrad.nn / ndgrad.optim not landed yet")
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    opt = optim.Adam(net.parameters(), lr=0.01)
    loss = net(ndgrad.randn(5, 4)).pow(2).sum()
    loss.backward()
    opt.step()
    ndgrad.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c.pt")
    ckpt = ndgrad.load(tmp_path / "c.pt")
    _same(net.state_dict(), ckpt["model"])
    net2 = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    net2.load_state_dict(ckpt["model"])
    x = ndgrad.randn(2, 4)
    np.testing.assert_array_equal(net(x).detach().numpy(), net2(x).detach().numpy())
    opt2 = optim.Adam(net2.parameters(), lr=0.01)
    opt2.load_state_dict(ckpt["optimizer"])
    _same(opt.state_dict()["param_groups"], opt2.state_dict()["param_groups"])


def test_saved_file_has_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        ndgrad.save(ndgrad.ones(1), tmp_path / "mode.pt")
    finally:
        os.umask(umask)
    assert (tmp_path / "mode.pt").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_file_objects_work_like_paths():
    buffer = io.BytesIO()
    ndgrad.save({"x": ndgrad.arange(4)}, buffer)
    buffer.seek(0)
    _same({"x": ndgrad.arange(4)}, ndgrad.load(buffer))


def test_unsupported_object_is_a_type_error_and_writes_nothing(tmp_path):
    class Model:
        def state_dict(self) -> dict:
            return {}

    target = tmp_path / "x.pt"
    with pytest.raises(TypeError, match=r"Model.*state_dict\(\)"):
        ndgrad.save({"model": Model()}, target)
    assert not target.exists()
    assert os.listdir(tmp_path) == []  # no temp file left behind


def test_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.pt"
    ndgrad.save({"v": ndgrad.tensor([1.0, 2.0])}, target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    # Fail in the middle of writing the archive, after the temp file exists.
    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        ndgrad.save({"v": ndgrad.tensor([9.0])}, target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]
    _same({"v": ndgrad.tensor([1.0, 2.0])}, ndgrad.load(target))


def test_failed_rename_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.pt"
    ndgrad.save([1, 2, 3], target)
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("rename failed")))
    with pytest.raises(OSError, match="rename failed"):
        ndgrad.save([4, 5, 6], target)
    monkeypatch.undo()
    assert ndgrad.load(target) == [1, 2, 3]
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]


def test_save_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ndgrad.save(ndgrad.ones(1), tmp_path / "nope" / "x.pt")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.99])
def test_truncated_file_is_a_runtime_error_naming_the_file(tmp_path, keep):
    target = tmp_path / "trunc.pt"
    ndgrad.save({"w": ndgrad.randn(50, 50), "b": ndgrad.randn(50)}, target)
    data = target.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(RuntimeError, match=r"trunc\.pt.*(truncated|corrupt)"):
        ndgrad.load(target)


def test_corrupted_bytes_are_detected(tmp_path):
    target = tmp_path / "flip.pt"
    ndgrad.save({"w": ndgrad.zeros(100)}, target)
    data = bytearray(target.read_bytes())
    idx = data.find(b"\x93NUMPY") + 200  # inside the array payload: the CRC catches it
    data[idx] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match=r"flip\.pt.*corrupt"):
        ndgrad.load(target)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"hello world, not a checkpoint", "zip header"),
        (b"\x93NUMPY\x01\x00", "npy"),
    ],
)
def test_foreign_files_are_rejected_with_the_reason(tmp_path, content, reason):
    target = tmp_path / "foreign.bin"
    target.write_bytes(content)
    with pytest.raises(RuntimeError, match=rf"foreign\.bin.*{reason}"):
        ndgrad.load(target)


def test_foreign_zip_without_manifest(tmp_path):
    target = tmp_path / "other.zip"
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("archive/data.pkl", b"whatever")
    with pytest.raises(RuntimeError, match=r"other\.zip.*not an ndgrad checkpoint"):
        ndgrad.load(target)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        ndgrad.load(tmp_path / "missing.pt")


class _Exploit:
    """Unpickling this calls os.system / writes a marker file: it must never run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payload_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    target = tmp_path / "evil.pt"
    target.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(RuntimeError, match=r"evil\.pt.*pickle"):
        ndgrad.load(target)
    assert not marker.exists()


def test_pickle_hidden_inside_a_zip_is_not_executed(tmp_path):
    # A torch-style zip with a data.pkl, or an ndgrad archive whose array member is a pickle.
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(str(marker)))
    target = tmp_path / "evil.pt"
    ndgrad.save({"w": ndgrad.ones(2)}, target)
    with zipfile.ZipFile(target) as z:
        manifest = z.read("ndgrad/manifest.json")
    # An object-dtype .npy needs allow_pickle=True to load; ndgrad refuses it.
    buf = io.BytesIO()
    np.save(buf, np.array([_Exploit(str(marker))], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("ndgrad/manifest.json", manifest)
        z.writestr("ndgrad/data/0.npy", buf.getvalue())
        z.writestr("archive/data.pkl", payload)
    with pytest.raises(RuntimeError, match=r"evil\.pt"):
        ndgrad.load(target)
    assert not marker.exists()


def test_manifest_from_newer_version_is_rejected(tmp_path):
    target = tmp_path / "new.pt"
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("ndgrad/manifest.json", b'{"format": "ndgrad.save", "version": 99, "root": 1}')
    with pytest.raises(RuntimeError, match="newer ndgrad"):
        ndgrad.load(target)


def test_torch_style_keyword_arguments_are_accepted(tmp_path):
    ndgrad.save([ndgrad.ones(2)], tmp_path / "k.pt")
    back = ndgrad.load(tmp_path / "k.pt", map_location="cpu", weights_only=True)
    _same([ndgrad.ones(2)], back)
