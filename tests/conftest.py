"""Shared test settings: hypothesis sized so the whole suite stays fast on 2 cores."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("NDGRAD_HYPOTHESIS_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("NDGRAD_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with grad mode on, the default dtype and a fixed seed."""
    import ndgrad

    ndgrad.manual_seed(0)
    np.random.seed(0)
    yield
    ndgrad.set_grad_enabled(True)
    ndgrad.set_default_dtype(ndgrad.float32)
