"""torchvision 0.28's pure-Python modules as a test reference (optional).

The torchvision wheel on the registry is a CUDA build: ``import torchvision`` fails with the CPU
torch of the dev extra (its compiled ops don't load). Its transforms, utils and datasets are
plain Python on torch and Pillow, though, so this helper extracts only the ``.py`` files of the
wheel and imports them as a package named ``_tv_reference`` (not ``torchvision``, so nothing
that aliases ``torchvision`` is disturbed), without the package ``__init__`` that registers the
compiled ops.

The wheel is looked up at ``$NDGRAD_TORCHVISION_WHEEL`` or in ``~/.cache/ndgrad/wheels/``
(``make torchvision-ref`` downloads it there: ``pip download torchvision==0.28.0 --no-deps``).
Without it, the tests that need it are skipped; every test that matters has a reference
computed with Pillow, NumPy or torch itself as well.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
import zipfile
from pathlib import Path

import pytest

NAME = "_tv_reference"
VERSION = "0.28.0"


def _wheel() -> Path | None:
    env = os.environ.get("NDGRAD_TORCHVISION_WHEEL")
    if env:
        return Path(env) if Path(env).is_file() else None
    cache = Path(os.environ.get("NDGRAD_DATA") or Path.home() / ".cache" / "ndgrad") / "wheels"
    found = sorted(cache.glob(f"torchvision-{VERSION}-*.whl"))
    return found[-1] if found else None


def _extract(wheel: Path) -> Path:
    target = wheel.parent / f"{wheel.stem}-py"
    marker = target / ".complete"
    if not marker.exists():
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.startswith("torchvision/") and member.endswith(".py"):
                    archive.extract(member, target)
        marker.touch()
    return target / "torchvision"


_cached: types.ModuleType | None = None


def torchvision() -> types.ModuleType:
    """The reference package (``.transforms``, ``.utils``, ``.datasets``), or skips the test."""
    global _cached
    if _cached is not None:
        return _cached
    wheel = _wheel()
    if wheel is None:
        pytest.skip("torchvision 0.28 wheel not found (make torchvision-ref)")
    try:
        import torch  # noqa: F401
    except ImportError:
        pytest.skip("torch is not installed")
    root = _extract(wheel)
    package = types.ModuleType(NAME)
    package.__path__ = [str(root)]
    package.__version__ = VERSION
    sys.modules[NAME] = package
    # datasets/__init__ imports every dataset (some with absolute ``torchvision`` imports):
    # register the subpackage without running it, then import the two modules used here.
    datasets = types.ModuleType(f"{NAME}.datasets")
    datasets.__path__ = [str(root / "datasets")]
    sys.modules[f"{NAME}.datasets"] = datasets
    package.datasets = datasets
    try:
        package.transforms = importlib.import_module(f"{NAME}.transforms")
        package.utils = importlib.import_module(f"{NAME}.utils")
        datasets.mnist = importlib.import_module(f"{NAME}.datasets.mnist")
        datasets.folder = importlib.import_module(f"{NAME}.datasets.folder")
    except Exception as exc:  # noqa: BLE001 - any failure means: no reference here
        for key in [k for k in sys.modules if k.startswith(NAME)]:
            sys.modules.pop(key)
        pytest.skip(f"torchvision's Python modules did not import: {exc!r}")
    _cached = package
    return package
