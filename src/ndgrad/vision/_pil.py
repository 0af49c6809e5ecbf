"""Pillow helpers shared by the vision modules."""

from __future__ import annotations

import numpy as np
from PIL import Image


def image_fromarray(obj: np.ndarray, mode: str) -> Image.Image:
    """``Image.fromarray(obj, mode)`` with the old meaning of ``mode`` (torchvision's helper).

    Pillow 11.3 deprecated ``mode`` (it now infers the mode from the array); torchvision relies
    on the old "read the buffer in this mode" behaviour, which ``Image.frombuffer`` keeps.
    """
    obj = np.ascontiguousarray(obj)
    shape = obj.shape
    size = (1 if obj.ndim == 1 else shape[1], shape[0])
    return Image.frombuffer(mode, size, obj.tobytes(), "raw", mode, 0, 1)
