"""Hostile checkpoints: zip bombs, lying sizes, type-confused and deep manifests, stale temps."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import ndgrad
from ndgrad import serialization

MANIFEST = {"format": "ndgrad.save", "version": 1, "arrays": 1, "root": {"__tensor__": 0}}


def _npy_header(shape: tuple, dtype: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _deflated_zeros_member(archive: zipfile.ZipFile, name: str, head: bytes, zeros: int) -> None:
    """Writes a deflated member of ``head`` + ``zeros`` zero bytes without holding them."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as out:
        out.write(head)
        block = bytes(1 << 20)
        left = zeros
        while left:
            n = min(left, len(block))
            out.write(block[:n])
            left -= n


def _archive(path, manifest=MANIFEST, members=None) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        archive.writestr("ndgrad/manifest.json", text)
        for name, data in (members or {}).items():
            archive.writestr(name, data)


def test_array_member_bomb_is_refused_before_inflating(tmp_path):
    path = tmp_path / "bomb.pt"
    n = 8 << 20  # 64 MiB of float64 zeros, deflated to ~64 KiB
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ndgrad/manifest.json", json.dumps(MANIFEST))
        _deflated_zeros_member(archive, "ndgrad/data/0.npy", _npy_header((n,)), n * 8)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(RuntimeError, match=r"bomb\.pt.*'ndgrad/data/0\.npy'.*inflate"):
        ndgrad.load(path)


def test_manifest_bomb_is_refused(tmp_path):
    path = tmp_path / "m.pt"
    with zipfile.ZipFile(path, "w") as archive:
        _deflated_zeros_member(archive, "ndgrad/manifest.json", b"", 32 << 20)
    with pytest.raises(RuntimeError, match=r"m\.pt.*ndgrad/manifest\.json"):
        ndgrad.load(path)


def test_manifest_over_its_size_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.pt"
    _archive(path, json.dumps(MANIFEST) + " " * 5000)
    monkeypatch.setattr(serialization, "_MAX_MANIFEST_BYTES", 4096)
    with pytest.raises(RuntimeError, match=r"big\.pt.*manifest\.json.*4096"):
        ndgrad.load(path)


def test_member_larger_than_its_header_declares(tmp_path):
    path = tmp_path / "lie.pt"
    _archive(path, members={"ndgrad/data/0.npy": _npy_header((2,)) + bytes(16 + 8)})
    with pytest.raises(RuntimeError, match=r"lie\.pt.*'ndgrad/data/0\.npy'.*header"):
        ndgrad.load(path)


def test_member_with_a_broken_header(tmp_path):
    path = tmp_path / "hdr.pt"
    _archive(path, members={"ndgrad/data/0.npy": b"\x93NUMPY garbage"})
    with pytest.raises(RuntimeError, match=r"hdr\.pt.*'ndgrad/data/0\.npy'"):
        ndgrad.load(path)


def test_genuine_checkpoint_still_loads(tmp_path):
    t = ndgrad.arange(12.0).reshape(3, 4)
    ndgrad.save({"w": t, "meta": {("a", 1): [1.5, None]}}, tmp_path / "ok.pt")
    back = ndgrad.load(tmp_path / "ok.pt")
    assert np.array_equal(back["w"].numpy(), t.numpy())


@pytest.mark.parametrize(
    "root",
    [
        {"__tensor__": [0]},
        {"__tensor__": {"a": 1}},
        {"__ndarray__": [0]},
        {"__dict__": 5},
        {"__dict__": [[1]]},
        {"__dict__": [[{"__dict__": []}, 1]]},
        {"__odict__": [5]},
        {"__list__": {"a": 1}},
        {"__tuple__": 3},
        {"__size__": "ab"},
        {"__size__": [[1]]},
        {"__float__": 3},
        {"__float__": "not a number"},
        {"__dtype__": ["float32"]},
        {"__dtype__": "no_such_dtype"},
    ],
)
def test_type_confused_manifest_names_the_file(tmp_path, root):
    path = tmp_path / "confused.pt"
    member = io.BytesIO()
    np.save(member, np.zeros(2))
    _archive(path, {**MANIFEST, "root": root}, {"ndgrad/data/0.npy": member.getvalue()})
    with pytest.raises(RuntimeError, match=r"confused\.pt"):
        ndgrad.load(path)


@pytest.mark.parametrize("depth", [300, 100_000])
def test_deeply_nested_manifest_names_the_file(tmp_path, depth):
    path = tmp_path / "deep.pt"
    root = "[" * depth + "]" * depth
    text = json.dumps({**MANIFEST, "arrays": 0, "root": None}).replace("null", root)
    _archive(path, text)
    with pytest.raises(RuntimeError, match=r"deep\.pt.*(deep|nests)"):
        ndgrad.load(path)


def test_stale_temp_files_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".ck.pt.ndgrad-{dead_pid}-abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".other.pt.ndgrad-{os.getppid()}-def456.tmp"  # a save still running
    live.write_bytes(b"in progress")
    unrelated = tmp_path / ".notes.tmp"
    unrelated.write_bytes(b"not ours")
    ndgrad.save({"x": ndgrad.ones(2)}, tmp_path / "ck.pt")
    assert not stale.exists()
    assert live.exists() and unrelated.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".notes.tmp", live.name, "ck.pt"])
