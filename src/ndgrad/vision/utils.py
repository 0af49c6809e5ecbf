"""``torchvision.utils``: ``make_grid`` and ``save_image`` (torchvision 0.28's algorithm)."""

from __future__ import annotations

import math
import os
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

import ndgrad
from ndgrad import Tensor


def make_grid(
    tensor: Tensor | list[Tensor],
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Tiles a (B, C, H, W) batch (or a list of CHW images) into one (3 or C, H', W') image.

    ``nrow`` images per row, ``padding`` pixels of ``pad_value`` around each. With
    ``normalize`` the values are shifted and scaled to [0, 1] by ``value_range`` (default: the
    min and max of the batch, or of each image with ``scale_each``). One-channel images are
    repeated to three channels, as in torchvision.
    """
    if not ndgrad.is_tensor(tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not ndgrad.is_tensor(t):
                    raise TypeError(
                        f"tensor or list of tensors expected, got a list containing {type(t)}"
                    )
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(tensor, list):
        array = np.stack([t.detach().numpy() for t in tensor], axis=0)
    else:
        array = tensor.detach().numpy()

    if array.ndim == 2:  # single image H x W
        array = array[None]
    if array.ndim == 3:  # single image
        if array.shape[0] == 1:  # if single-channel, convert to 3-channel
            array = np.concatenate((array, array, array), 0)
        array = array[None]
    if array.ndim == 4 and array.shape[1] == 1:  # single-channel images
        array = np.concatenate((array, array, array), 1)

    if normalize is True:
        array = array.copy()  # avoid modifying tensor in-place
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError(
                "value_range has to be a tuple (min, max) if specified. min and max are numbers"
            )

        def norm_ip(img: np.ndarray, low: float, high: float) -> None:
            # torch's clamp_/sub_/div_ with Python scalars: the scalars in the array's dtype
            t = img.dtype.type
            np.clip(img, t(low), t(high), out=img)
            img -= t(low)
            img /= t(max(high - low, 1e-5))

        def norm_range(t: np.ndarray, value_range: tuple[float, float] | None) -> None:
            if value_range is not None:
                norm_ip(t, value_range[0], value_range[1])
            else:
                norm_ip(t, float(t.min()), float(t.max()))

        if scale_each is True:
            for t in array:  # loop over mini-batch dimension
                norm_range(t, value_range)
        else:
            norm_range(array, value_range)

    if array.shape[0] == 1:
        return ndgrad.from_numpy(np.ascontiguousarray(array[0]))

    # make the mini-batch of images into a grid
    nmaps = array.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(array.shape[2] + padding), int(array.shape[3] + padding)
    num_channels = array.shape[1]
    grid = np.full(
        (num_channels, height * ymaps + padding, width * xmaps + padding), pad_value, array.dtype
    )
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            top, left = y * height + padding, x * width + padding
            grid[:, top : top + height - padding, left : left + width - padding] = array[k]
            k = k + 1
    return ndgrad.from_numpy(grid)


def save_image(
    tensor: Tensor | list[Tensor],
    fp: str | os.PathLike | BinaryIO,
    format: str | None = None,  # noqa: A002 - torchvision's name
    **kwargs: Any,
) -> None:
    """Saves ``make_grid(tensor, **kwargs)`` (values in [0, 1]) as an image file via Pillow."""
    grid = make_grid(tensor, **kwargs).numpy()
    # Add 0.5 after unnormalizing to [0, 255] to round to the nearest integer
    t = grid.dtype.type if grid.dtype.kind == "f" else np.float32
    scaled = np.clip(grid * t(255) + t(0.5), 0, 255)
    ndarr = scaled.transpose(1, 2, 0).astype(np.uint8)
    Image.fromarray(ndarr).save(fp, format=format)


__all__ = ["make_grid", "save_image"]
