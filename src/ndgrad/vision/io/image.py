"""Image files to uint8 CHW tensors (torchvision.io.image's API; Pillow decodes).

torchvision decodes with libjpeg/libpng; Pillow uses the same libraries, so PNG pixels are
identical. JPEG pixels can differ by a few levels between libjpeg builds and IDCT settings.
"""

from __future__ import annotations

import io as _io
import os
from enum import Enum

import numpy as np
from PIL import Image

import ndgrad
from ndgrad import Tensor


class ImageReadMode(Enum):
    """Colour conversion while decoding: UNCHANGED, GRAY, GRAY_ALPHA, RGB, RGB_ALPHA (RGBA)."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA  # Alias for convenience


_PIL_MODES = {
    ImageReadMode.GRAY: "L",
    ImageReadMode.GRAY_ALPHA: "LA",
    ImageReadMode.RGB: "RGB",
    ImageReadMode.RGB_ALPHA: "RGBA",
}


def _parse_mode(mode: ImageReadMode | str) -> ImageReadMode:
    if isinstance(mode, str):
        mode = mode.upper()
        if mode == "RGBA":
            mode = "RGB_ALPHA"
        return ImageReadMode[mode]
    return mode


def read_file(path: str | os.PathLike) -> Tensor:
    """The bytes of a file as a 1-D uint8 tensor."""
    with open(path, "rb") as handle:
        data = handle.read()
    return ndgrad.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def write_file(filename: str | os.PathLike, data: Tensor) -> None:
    with open(filename, "wb") as handle:
        handle.write(data.numpy().astype(np.uint8).tobytes())


def _decode(data: bytes, mode: ImageReadMode | str) -> Tensor:
    mode = _parse_mode(mode)
    with Image.open(_io.BytesIO(data)) as img:
        img.load()
        if mode == ImageReadMode.UNCHANGED:
            if img.mode in ("P", "1", "CMYK", "YCbCr", "HSV"):
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            elif img.mode == "PA":
                img = img.convert("RGBA")
        else:
            img = img.convert(_PIL_MODES[mode])
        array = np.asarray(img)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.dtype != np.uint8:
        if array.dtype == np.uint16 or img.mode.startswith("I;16"):
            array = array.astype(np.uint16)
        else:
            raise RuntimeError(f"read_image: unsupported image mode {img.mode!r}")
    return ndgrad.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def decode_image(input: Tensor | str | os.PathLike,  # noqa: A002 - torchvision's name
                 mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
                 apply_exif_orientation: bool = False) -> Tensor:  # fmt: skip
    """Decodes an encoded image (a 1-D uint8 tensor of file bytes, or a path) to uint8 CHW."""
    if isinstance(input, (str, os.PathLike)):
        return read_image(input, mode, apply_exif_orientation)
    data = input.numpy().astype(np.uint8).tobytes()
    if apply_exif_orientation:
        return _decode_exif(data, mode)
    return _decode(data, mode)


def _decode_exif(data: bytes, mode: ImageReadMode | str) -> Tensor:
    from PIL import ImageOps

    with Image.open(_io.BytesIO(data)) as img:
        out = _io.BytesIO()
        ImageOps.exif_transpose(img).save(out, format="PNG")
    return _decode(out.getvalue(), mode)


def decode_png(input: Tensor, mode: ImageReadMode | str = ImageReadMode.UNCHANGED,  # noqa: A002
               apply_exif_orientation: bool = False) -> Tensor:  # fmt: skip
    return decode_image(input, mode, apply_exif_orientation)


def decode_jpeg(input: Tensor, mode: ImageReadMode | str = ImageReadMode.UNCHANGED,  # noqa: A002
                apply_exif_orientation: bool = False) -> Tensor:  # fmt: skip
    return decode_image(input, mode, apply_exif_orientation)


def read_image(
    path: str | os.PathLike,
    mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
    apply_exif_orientation: bool = False,
) -> Tensor:
    """Reads a JPEG, PNG, GIF, WEBP, BMP, ... file into a uint8 tensor of shape (C, H, W).

    C is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA), as stored, or as ``mode`` asks.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    if apply_exif_orientation:
        return _decode_exif(data, mode)
    return _decode(data, mode)


def write_png(input: Tensor, filename: str | os.PathLike,  # noqa: A002
              compression_level: int = 6) -> None:  # fmt: skip
    """Writes a uint8 (C, H, W) tensor, C in 1..4, as a PNG file."""
    array = input.numpy()
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[0] not in (1, 2, 3, 4):
        raise ValueError(
            f"write_png: expected a uint8 tensor of shape (C, H, W) with C in 1..4, got "
            f"{array.dtype} {list(array.shape)}"
        )
    hwc = array.transpose(1, 2, 0)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[0]]
    image = Image.fromarray(np.ascontiguousarray(hwc[:, :, 0] if mode == "L" else hwc), mode=None)
    image.save(filename, format="PNG", compress_level=compression_level)
