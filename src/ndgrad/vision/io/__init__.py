"""``torchvision.io``'s image reading, decoded by Pillow: ``read_image``, ``decode_image``,
``ImageReadMode``, and ``write_png``."""

from ndgrad.vision.io.image import (
    ImageReadMode,
    decode_image,
    decode_jpeg,
    decode_png,
    read_file,
    read_image,
    write_file,
    write_png,
)

__all__ = [
    "ImageReadMode", "decode_image", "decode_jpeg", "decode_png", "read_file", "read_image",
    "write_file", "write_png",
]  # fmt: skip
