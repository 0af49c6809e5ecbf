"""``torchvision.datasets`` on ndgrad: MNIST, FashionMNIST, DatasetFolder, ImageFolder."""

from ndgrad.vision.datasets.folder import DatasetFolder, ImageFolder
from ndgrad.vision.datasets.mnist import MNIST, FashionMNIST
from ndgrad.vision.datasets.vision import VisionDataset

__all__ = ["DatasetFolder", "FashionMNIST", "ImageFolder", "MNIST", "VisionDataset"]
