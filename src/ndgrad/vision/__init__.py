"""``ndgrad.vision``: torchvision's module paths for what learners use, on ndgrad and Pillow.

``import ndgrad.vision as torchvision`` gives ``datasets`` (MNIST, FashionMNIST, ImageFolder,
DatasetFolder), ``transforms`` (Compose, ToTensor, Normalize, Resize, crops, flips,
ColorJitter, ... and ``transforms.functional``), ``utils`` (make_grid, save_image) and ``io``
(read_image). Images are PIL images (Pillow) or uint8/float CHW ndgrad tensors, as in
torchvision; the numbers follow torchvision 0.28's algorithms (see each module).

``import ndgrad`` does not import this package; ``import ndgrad.vision`` (or the attribute
``ndgrad.vision``) does.
"""

from __future__ import annotations

from ndgrad.vision import datasets, io, transforms, utils

# The torchvision API version these modules follow (ndgrad's own version is ndgrad.__version__).
__version__ = "0.28.0"

_image_backend = "PIL"


def get_image_backend() -> str:
    """The image backend (always ``"PIL"``: Pillow)."""
    return _image_backend


def set_image_backend(backend: str) -> None:
    if backend != "PIL":
        raise ValueError(f"Invalid backend '{backend}'. ndgrad.vision supports only 'PIL'")


__all__ = ["datasets", "io", "transforms", "utils", "get_image_backend", "set_image_backend"]
