"""Fixtures of the vision tests: small images made by the tests."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def rgb_array() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (13, 17, 3), dtype=np.uint8)


@pytest.fixture
def rgb_image(rgb_array: np.ndarray) -> Image.Image:
    return Image.fromarray(rgb_array)


@pytest.fixture
def gray_image() -> Image.Image:
    return Image.fromarray(np.random.default_rng(2).integers(0, 256, (11, 9), dtype=np.uint8))
