"""``torchvision.transforms`` on ndgrad: the classes, and ``functional`` as in torchvision."""

from ndgrad.vision.transforms import functional
from ndgrad.vision.transforms.transforms import *
from ndgrad.vision.transforms.transforms import __all__ as _transforms_all

__all__ = ["functional", *_transforms_all]
