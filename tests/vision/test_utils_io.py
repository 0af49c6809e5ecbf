"""utils.make_grid / save_image and io.read_image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from tests.vision._reference import torchvision

import ndgrad
import ndgrad.vision as vision
from ndgrad.vision.io import ImageReadMode, decode_image, read_file, read_image, write_png
from ndgrad.vision.utils import make_grid, save_image


def _grid_by_hand(batch: np.ndarray, nrow: int, padding: int, pad_value: float) -> np.ndarray:
    """torchvision's layout: nrow columns, padding before every tile and at the end."""
    n, c, h, w = batch.shape
    if c == 1:
        batch = np.repeat(batch, 3, axis=1)
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = np.full((3, rows * (h + padding) + padding, cols * (w + padding) + padding),
                   pad_value, batch.dtype)  # fmt: skip
    for k in range(n):
        y, x = divmod(k, cols)
        top, left = y * (h + padding) + padding, x * (w + padding) + padding
        grid[:, top : top + h, left : left + w] = batch[k]
    return grid


@pytest.mark.parametrize(("n", "c", "nrow", "padding"), [(5, 1, 2, 2), (8, 3, 8, 0),
                                                         (3, 3, 4, 1), (10, 1, 3, 3)])  # fmt: skip
def test_make_grid_layout(n, c, nrow, padding):
    batch = np.random.default_rng(n).random((n, c, 4, 6), dtype=np.float32)
    grid = make_grid(ndgrad.from_numpy(batch), nrow=nrow, padding=padding, pad_value=0.25)
    assert grid.dtype == ndgrad.float32
    np.testing.assert_array_equal(grid.numpy(), _grid_by_hand(batch, nrow, padding, 0.25))


def test_make_grid_inputs():
    img = np.random.default_rng(0).random((1, 4, 6), dtype=np.float32)
    single = make_grid(ndgrad.from_numpy(img))  # one image: no padding, gray -> 3 channels
    np.testing.assert_array_equal(single.numpy(), np.repeat(img, 3, axis=0))
    listed = make_grid([ndgrad.from_numpy(img), ndgrad.from_numpy(img * 0)], padding=1)
    assert tuple(listed.shape) == (3, 6, 15)
    assert tuple(make_grid(ndgrad.zeros(4, 6)).shape) == (3, 4, 6)
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(ndgrad.zeros(2, 3, 4, 4), normalize=True, value_range=[0, 1])


def test_make_grid_normalize():
    batch = np.random.default_rng(1).normal(size=(3, 3, 2, 2)).astype(np.float32)
    x = ndgrad.from_numpy(batch.copy())
    grid = make_grid(x, normalize=True, padding=0, nrow=3).numpy()
    low, high = batch.min(), batch.max()
    expected = (batch - low) / (high - low)
    np.testing.assert_allclose(grid, np.concatenate(list(expected), axis=2), atol=1e-6)
    np.testing.assert_array_equal(x.numpy(), batch)  # the input is not changed
    each = make_grid(x, normalize=True, scale_each=True, padding=0, nrow=3).numpy()
    for k in range(3):
        tile = each[:, :, 2 * k : 2 * k + 2]
        assert tile.min() == 0.0 and abs(tile.max() - 1.0) < 1e-6
    ranged = make_grid(x, normalize=True, value_range=(-1.0, 1.0), padding=0).numpy()
    assert ranged.min() >= 0 and ranged.max() <= 1
    np.testing.assert_allclose(ranged[:, :, :2], (np.clip(batch[0], -1, 1) + 1) / 2, atol=1e-7)


def test_make_grid_matches_torchvision():
    tv = torchvision()
    rng = np.random.default_rng(2)
    cases = [dict(), dict(nrow=3, padding=1), dict(normalize=True),
             dict(normalize=True, scale_each=True, pad_value=0.5),
             dict(normalize=True, value_range=(-0.5, 0.5), nrow=2)]  # fmt: skip
    for shape in [(7, 1, 5, 4), (4, 3, 3, 6), (1, 3, 4, 4), (3, 4, 4)]:
        batch = rng.normal(size=shape).astype(np.float32)
        for kwargs in cases:
            ours = make_grid(ndgrad.from_numpy(batch.copy()), **kwargs).numpy()
            ref = tv.utils.make_grid(torch.from_numpy(batch.copy()), **kwargs).numpy()
            np.testing.assert_array_equal(ours, ref, err_msg=f"{shape} {kwargs}")


def test_save_image(tmp_path):
    batch = np.random.default_rng(3).random((3, 3, 4, 5), dtype=np.float32)
    path = tmp_path / "grid.png"
    save_image(ndgrad.from_numpy(batch), path, nrow=3, padding=1)
    saved = np.asarray(Image.open(path))
    grid = _grid_by_hand(batch, 3, 1, 0.0)
    expected = np.clip(grid * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(saved, expected.transpose(1, 2, 0))


def test_save_image_matches_torchvision(tmp_path):
    tv = torchvision()
    batch = np.random.default_rng(4).random((5, 1, 6, 6), dtype=np.float32) * 1.2 - 0.1
    save_image(ndgrad.from_numpy(batch), tmp_path / "ours.png", nrow=2)
    tv.utils.save_image(torch.from_numpy(batch), tmp_path / "ref.png", nrow=2)
    ours, ref = (np.asarray(Image.open(tmp_path / f)) for f in ("ours.png", "ref.png"))
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_read_image_round_trip(tmp_path, mode):
    channels = len(mode)
    shape = (5, 7) if channels == 1 else (5, 7, channels)
    array = np.random.default_rng(channels).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(array, mode=None).save(path)
    x = read_image(str(path))
    assert x.dtype == ndgrad.uint8 and tuple(x.shape) == (channels, 5, 7)
    np.testing.assert_array_equal(x.numpy(), array.reshape(5, 7, channels).transpose(2, 0, 1))
    # write_png -> read_image gives the same tensor back; decode_image of the bytes too
    write_png(x, tmp_path / "again.png")
    np.testing.assert_array_equal(read_image(tmp_path / "again.png").numpy(), x.numpy())
    np.testing.assert_array_equal(decode_image(read_file(path)).numpy(), x.numpy())


def test_read_image_modes(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    Image.fromarray(array).save(path)
    gray = read_image(path, ImageReadMode.GRAY)
    assert tuple(gray.shape) == (1, 4, 6)
    np.testing.assert_array_equal(gray.numpy()[0], np.asarray(Image.open(path).convert("L")))
    assert tuple(read_image(path, ImageReadMode.RGB_ALPHA).shape) == (4, 4, 6)
    assert tuple(read_image(path, "RGBA").shape) == (4, 4, 6)
    assert tuple(read_image(path, ImageReadMode.GRAY_ALPHA).shape) == (2, 4, 6)
    assert ImageReadMode.RGBA is ImageReadMode.RGB_ALPHA
    # a palette image is decoded to RGB colours
    Image.fromarray(array).convert("P").save(tmp_path / "p.png")
    assert tuple(read_image(tmp_path / "p.png").shape) == (3, 4, 6)


def test_package():
    assert vision.__version__ == "0.28.0"
    assert ndgrad.vision is vision
    assert vision.get_image_backend() == "PIL"


def test_import_ndgrad_does_not_load_vision():
    import subprocess
    import sys

    code = "import sys, ndgrad; print('ndgrad.vision' in sys.modules, 'PIL.Image' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
