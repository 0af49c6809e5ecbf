"""Every rule the doctor applies, as data, each row with its source.

Probes (``probes.py``) gather facts, checks (``checks.py``) compare them with these tables,
``explain.py`` matches error messages against ``KNOWN_ERRORS`` (set-up failures, here) and the
larger catalogue in ``catalog.py``. When NVIDIA or PyTorch publish a
new release, this is the only file to edit.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# Version helpers: packaging.version when it imports (it may be absent or broken in the very
# environment being diagnosed), else a minimal stdlib parser of the leading release numbers.
# ---------------------------------------------------------------------------------------------

Version = tuple[int, ...]


def parse_version(text: str | None) -> Version | None:
    """Numeric release of a version string: '2.3.0+cu121' -> (2, 3, 0); junk -> None."""
    if not text:
        return None
    try:
        from packaging.version import InvalidVersion
        from packaging.version import Version as _Version

        try:
            return tuple(_Version(str(text).strip()).release)
        except InvalidVersion:
            pass  # e.g. '11.8 (build 31833905)' or a driver '535.104.05 ': leading numbers
    except Exception:  # noqa: BLE001 - packaging missing or broken: the stdlib fallback
        pass
    match = re.match(r"\s*[vV]?(\d+(?:\.\d+)*)", str(text))
    if not match:
        return None
    return tuple(int(part) for part in match.group(1).split("."))


def version_at_least(found: str | Version | None, minimum: str | Version) -> bool:
    found_v = parse_version(found) if isinstance(found, str) or found is None else found
    minimum_v = parse_version(minimum) if isinstance(minimum, str) else minimum
    if found_v is None or minimum_v is None:
        return False
    width = max(len(found_v), len(minimum_v))
    return found_v + (0,) * (width - len(found_v)) >= minimum_v + (0,) * (width - len(minimum_v))


def local_label(version: str | None) -> str | None:
    """The PEP 440 local label: '2.3.0+cu121' -> 'cu121'; '2.3.0' -> None."""
    if not version or "+" not in version:
        return None
    return version.split("+", 1)[1]


def cuda_tag(cuda: str) -> str:
    """'12.1' -> 'cu121', the name of PyTorch's wheel index for that CUDA."""
    major, minor = cuda.split(".")[:2]
    return f"cu{major}{minor}"


def major_minor(version: str | Version | None) -> tuple[int, int] | None:
    parsed = parse_version(version) if isinstance(version, str) or version is None else version
    if not parsed:
        return None
    return (parsed[0], parsed[1] if len(parsed) > 1 else 0)


# ---------------------------------------------------------------------------------------------
# CUDA toolkit <-> driver
# ---------------------------------------------------------------------------------------------

NVIDIA_TABLE3 = "NVIDIA CUDA Toolkit Release Notes 13.2, Table 3 (minimum driver, full feature set)"
NVIDIA_MINOR_COMPAT = (
    "NVIDIA CUDA Toolkit Release Notes 13.2, Table 2 (minor-version compatibility) and "
    "docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html"
)


@dataclass(frozen=True)
class ToolkitDriverRow:
    """Minimum driver for one CUDA toolkit release to run with its full feature set."""

    cuda: str
    release: str
    linux: str
    windows: str | None  # None: NVIDIA lists "N/A" (13.x no longer bundles a Windows driver)
    source: str = NVIDIA_TABLE3


CUDA_TOOLKIT_MIN_DRIVER: tuple[ToolkitDriverRow, ...] = (
    ToolkitDriverRow("13.2", "GA", "595.45.04", None),
    ToolkitDriverRow("13.1", "U1", "590.48.01", None),
    ToolkitDriverRow("13.1", "GA", "590.44.01", None),
    ToolkitDriverRow("13.0", "U2", "580.95.05", None),
    ToolkitDriverRow("13.0", "U1", "580.82.07", None),
    ToolkitDriverRow("13.0", "GA", "580.65.06", None),
    ToolkitDriverRow("12.9", "U1", "575.57.08", "576.57"),
    ToolkitDriverRow("12.9", "GA", "575.51.03", "576.02"),
    ToolkitDriverRow("12.8", "U1", "570.124.06", "572.61"),
    ToolkitDriverRow("12.8", "GA", "570.26", "570.65"),
    ToolkitDriverRow("12.6", "U3", "560.35.05", "561.17"),
    ToolkitDriverRow("12.6", "U1/U2", "560.35.03", "560.94"),
    ToolkitDriverRow("12.6", "GA", "560.28.03", "560.76"),
    ToolkitDriverRow("12.5", "U1", "555.42.06", "555.85"),
    ToolkitDriverRow("12.5", "GA", "555.42.02", "555.85"),
    ToolkitDriverRow("12.4", "U1", "550.54.15", "551.78"),
    ToolkitDriverRow("12.4", "GA", "550.54.14", "551.61"),
    ToolkitDriverRow("12.3", "U1", "545.23.08", "546.12"),
    ToolkitDriverRow("12.3", "GA", "545.23.06", "545.84"),
    ToolkitDriverRow("12.2", "U2", "535.104.05", "537.13"),
    ToolkitDriverRow("12.2", "U1", "535.86.09", "536.67"),
    ToolkitDriverRow("12.2", "GA", "535.54.03", "536.25"),
    ToolkitDriverRow("12.1", "GA/U1", "530.30.02", "531.14"),
    ToolkitDriverRow("12.0", "U1", "525.85.12", "528.33"),
    ToolkitDriverRow("12.0", "GA", "525.60.13", "527.41"),
    ToolkitDriverRow("11.8", "GA", "520.61.05", "520.06"),
    ToolkitDriverRow("11.7", "U1", "515.48.07", "516.31"),
    ToolkitDriverRow("11.7", "GA", "515.43.04", "516.01"),
    ToolkitDriverRow("11.6", "U1/U2", "510.47.03", "511.65"),
    ToolkitDriverRow("11.6", "GA", "510.39.01", "511.23"),
    ToolkitDriverRow("11.5", "GA", "495.29.05", "496.04"),
    ToolkitDriverRow("11.4", "U3/U4", "470.82.01", "472.50"),
    ToolkitDriverRow("11.4", "U1/U2", "470.57.02", "471.41"),
    ToolkitDriverRow("11.4", "GA", "470.42.01", "471.11"),
    ToolkitDriverRow("11.3", "GA", "465.19.01", "465.89"),
    ToolkitDriverRow("11.2", "U1/U2", "460.32.03", "461.09"),
    ToolkitDriverRow("11.2", "GA", "460.27.03", "460.82"),
    ToolkitDriverRow("11.1", "U1", "455.32", "456.81"),
    ToolkitDriverRow("11.1", "GA", "455.23", "456.38"),
    ToolkitDriverRow("11.0", "U1", "450.51.06", "451.82"),
    ToolkitDriverRow("10.2", "GA", "440.33", "441.22"),
    ToolkitDriverRow("10.1", "GA", "418.39", "418.96"),
    ToolkitDriverRow("10.0", "GA", "410.48", "411.31"),
)
# Unconfirmed upstream: rows for 13.2 U1 and later (their tables were not checked).


@dataclass(frozen=True)
class MinorCompatRow:
    """Within one CUDA major, any driver from `min_linux` on runs every minor (limited features:
    no PTX JIT for a newer minor). Newer drivers keep running older majors (backward compat)."""

    cuda_major: int
    min_linux: str
    min_windows: str
    source: str = NVIDIA_MINOR_COMPAT


CUDA_MINOR_VERSION_COMPAT: tuple[MinorCompatRow, ...] = (
    # 13.x: >=580 with no upper bound; 580.65.06 is the 13.0 GA minimum (cuDNN support matrix).
    MinorCompatRow(13, "580.65.06", "580.65.06"),
    MinorCompatRow(12, "525.60.13", "527.41"),
    # CUDA 11 footnote of Table 2 gives 450.80.02 (Linux) / 452.39 (Windows).
    MinorCompatRow(11, "450.80.02", "452.39"),
)


def min_driver_full(cuda: str, windows: bool) -> str | None:
    """Lowest driver that runs toolkit `cuda` (X.Y) with all features: its GA row."""
    rows = [r for r in CUDA_TOOLKIT_MIN_DRIVER if r.cuda == ".".join(cuda.split(".")[:2])]
    if not rows:
        return None
    ga = rows[-1]  # rows run newest update first, so the last one is GA
    return (ga.windows or ga.linux) if windows else ga.linux


def min_driver_minor_compat(cuda_major: int, windows: bool) -> str | None:
    for row in CUDA_MINOR_VERSION_COMPAT:
        if row.cuda_major == cuda_major:
            return row.min_windows if windows else row.min_linux
    return None


def highest_cuda_for_driver(driver: str, windows: bool) -> str | None:
    """The newest toolkit X.Y whose full-feature minimum the driver meets (for old nvidia-smi
    headers that lack the 'CUDA Version' field)."""
    for row in CUDA_TOOLKIT_MIN_DRIVER:
        minimum = (row.windows or row.linux) if windows else row.linux
        if version_at_least(driver, minimum):
            return row.cuda
    return None


# ---------------------------------------------------------------------------------------------
# cuDNN <-> CUDA
# ---------------------------------------------------------------------------------------------

CUDNN_SOURCE = "cuDNN Support Matrix; cuDNN docs 'Compatibility' (majors incompatible)"

# cuDNN major -> CUDA majors it has builds for. 9.10.2 also had a CUDA 11.8 build.
CUDNN_CUDA_MAJORS: dict[int, tuple[int, ...]] = {
    9: (11, 12, 13),
    8: (10, 11, 12),
    7: (9, 10),
}


# ---------------------------------------------------------------------------------------------
# PyTorch releases
# ---------------------------------------------------------------------------------------------

TORCH_MATRIX = "pytorch/pytorch RELEASE.md 'Release Compatibility Matrix'"
VISION_PYPI = "torchvision wheel METADATA on PyPI (pins torch ==X.Y.0)"
VISION_README = "pytorch/vision README compatibility table"


@dataclass(frozen=True)
class TorchRelease:
    torch: str  # major.minor
    torchvision: str  # major.minor of the matching torchvision
    cuda: tuple[str, ...]  # stable CUDA wheel variants (experimental ones left out)
    python_min: tuple[int, int]
    python_max: tuple[int, int]
    has_torchaudio: bool
    source: str


# Newest first. torchaudio: the latest on PyPI is 2.11.0, so newer torch has none (the reason
# is unconfirmed). Python ranges from the same matrix; 2.11.0 METADATA says >=3.10.
TORCH_RELEASES: tuple[TorchRelease, ...] = (
    TorchRelease("2.14", "0.29", ("12.6", "13.0", "13.2"), (3, 10), (3, 15), False,
                 f"{TORCH_MATRIX}; {VISION_PYPI}"),
    TorchRelease("2.13", "0.28", ("12.6", "13.0"), (3, 10), (3, 15), False,
                 f"{TORCH_MATRIX}; {VISION_PYPI}"),
    TorchRelease("2.12", "0.27", ("12.6", "13.0"), (3, 10), (3, 14), False,
                 f"{TORCH_MATRIX}; {VISION_PYPI}"),
    TorchRelease("2.11", "0.26", ("12.6", "12.8", "13.0"), (3, 10), (3, 14), True,
                 f"{TORCH_MATRIX}; {VISION_PYPI}"),
    TorchRelease("2.10", "0.25", ("12.6", "12.8"), (3, 10), (3, 14), True,
                 f"{TORCH_MATRIX}; {VISION_PYPI}"),
    TorchRelease("2.9", "0.24", ("12.6", "12.8"), (3, 10), (3, 14), True,
                 f"{TORCH_MATRIX}; {VISION_PYPI}"),
    TorchRelease("2.8", "0.23", ("12.6", "12.8"), (3, 9), (3, 13), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
    TorchRelease("2.7", "0.22", ("11.8", "12.6"), (3, 9), (3, 13), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
    TorchRelease("2.6", "0.21", ("11.8", "12.4"), (3, 9), (3, 13), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
    TorchRelease("2.5", "0.20", ("11.8", "12.1", "12.4"), (3, 9), (3, 12), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
    TorchRelease("2.4", "0.19", ("11.8", "12.1"), (3, 8), (3, 12), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
    TorchRelease("2.3", "0.18", ("11.8",), (3, 8), (3, 11), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
    TorchRelease("2.2", "0.17", ("11.8",), (3, 8), (3, 11), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
    TorchRelease("2.1", "0.16", ("11.8",), (3, 8), (3, 11), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
    TorchRelease("2.0", "0.15", ("11.7",), (3, 8), (3, 11), True,
                 f"{TORCH_MATRIX}; {VISION_README}"),
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def project_torch_pin() -> str | None:
    """The torch version ndgrad itself is tested against (``torch==X`` in pyproject's dev
    extra): read from ndgrad's installed metadata, else from pyproject.toml in a source
    checkout. pyproject is the one place the pin lives; the doctor recommends that release."""
    pin = re.compile(r"^\s*[\"']?torch\s*==\s*([\w.]+)")
    try:
        from importlib.metadata import PackageNotFoundError, requires

        for requirement in requires("ndgrad") or ():
            found = pin.match(requirement)
            if found:
                return found.group(1)
    except (ImportError, PackageNotFoundError):
        pass
    pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
    try:
        for line in pyproject.read_text(encoding="utf-8").splitlines():
            found = pin.match(line)
            if found:
                return found.group(1)
    except OSError:
        pass
    return None


def preferred_releases() -> tuple[TorchRelease, ...]:
    """Releases in the order the doctor recommends them: the project's pinned one first (what
    ndgrad is tested against), then older ones, newest first, then newer untested ones."""
    pinned = torch_release(project_torch_pin())
    if pinned is None:
        return TORCH_RELEASES
    index = TORCH_RELEASES.index(pinned)
    return TORCH_RELEASES[index:] + TORCH_RELEASES[:index][::-1]


# Older pairs only needed to judge an installed torchvision (pytorch/vision README).
TORCHVISION_EXTRA: dict[str, str] = {"1.13": "0.14"}

WHEEL_INDEX = "https://download.pytorch.org/whl"  # pytorch.org/get-started/previous-versions


def torch_release(torch_version: str | None) -> TorchRelease | None:
    mm = major_minor(torch_version)
    for release in TORCH_RELEASES:
        if major_minor(release.torch) == mm:
            return release
    return None


def torchvision_for(torch_version: str | None) -> str | None:
    release = torch_release(torch_version)
    if release:
        return release.torchvision
    mm = major_minor(torch_version)
    if mm is None:
        return None
    if mm in {(1, 13)}:
        return TORCHVISION_EXTRA["1.13"]
    # Rule of thumb from the vision README: torch 2.N pairs with torchvision 0.(N+15).
    return f"0.{mm[1] + 15}" if mm[0] == 2 else None


# ---------------------------------------------------------------------------------------------
# Python
# ---------------------------------------------------------------------------------------------

NO_32BIT_TORCH = "pytorch/pytorch#40511: there are no 32-bit torch wheels"


# ---------------------------------------------------------------------------------------------
# Package pairs that break Jupyter
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageConflict:
    """`package` in [package_min, package_below) together with `other` in
    [other_min, other_below) is known to break. Bounds that are None are open."""

    id: str
    package: str
    package_min: str | None
    package_below: str | None
    other: str
    other_min: str | None
    other_below: str | None
    status: str
    why: str
    fix: str
    source: str


PACKAGE_CONFLICTS: tuple[PackageConflict, ...] = (
    PackageConflict(
        id="jupyter.nbconvert_jinja2",
        package="nbconvert", package_min=None, package_below="6.4.5",
        other="jinja2", other_min="3.1", other_below=None,
        status="fail",
        why="Jinja2 3.1 removed contextfilter and jinja2.utils.escape; nbconvert before 6.4.5 "
        "still uses them, so Jupyter's export (and often the notebook server) fails to start.",
        fix='pip install -U "nbconvert>=6.4.5"   # in the environment that runs Jupyter, '
        'often base; workaround: pip install "jinja2<3.1"',
        source="pallets/jinja CHANGES 3.1.0 (PR #1544); nbconvert 6.4.5 (#1737, #1736); "
        "d2l-ai/d2l-book#46; nbconvert#1742",
    ),
    PackageConflict(
        id="jupyter.markupsafe_jinja2",
        package="markupsafe", package_min="2.1", package_below=None,
        other="jinja2", other_min=None, other_below="3",
        status="fail",
        why="MarkupSafe 2.1 removed soft_unicode, which Jinja2 2.x imports: anything using "
        "Jinja2 (Jupyter, nbconvert) fails with ImportError.",
        fix='pip install -U "jinja2>=3"   # or keep Jinja2 2.x: pip install markupsafe==2.0.1',
        source="pallets/markupsafe#284 (MarkupSafe 2.1.0, 2022-02-17)",
    ),
    PackageConflict(
        id="jupyter.notebook_traitlets",
        package="notebook", package_min="6.4.12", package_below="6.5.6",
        other="traitlets", other_min="5.10", other_below=None,
        status="warn",
        why="traitlets 5.10 with notebook 6.5.5 / 6.4.12 fails with "
        "\"No module named 'jupyter_server.contents'\".",
        fix='pip install -U "notebook>=6.5.6"   # or: pip install "traitlets<5.10"',
        source="jupyter/notebook#7048, #7051; conda-forge pins traitlets<5.10 for notebook<6.5.6",
    ),
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Known error messages for `ndgrad doctor explain`
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownError:
    """An error message we can recognise. `cause` and `fixes` may use {placeholders} that
    explain.py fills from the match (named groups and decoded values)."""

    id: str
    pattern: str  # regular expression, searched case-insensitively
    title: str
    cause: str
    fixes: tuple[str, ...]
    source: str
    matches: str = ""  # the message it recognises, in words (``explain --list``)
    rank: int = 0  # breaks ties: when entries match the same line, the higher rank wins


REINSTALL_TORCH_TRIO = (
    "pip uninstall -y torch torchvision torchaudio",
    "pip install torch torchvision torchaudio --index-url " + WHEEL_INDEX + "/<cu126|cu128|cpu>"
    "   # one index for all three; `ndgrad doctor` prints the exact line for this machine",
)

KNOWN_ERRORS: tuple[KnownError, ...] = (
    KnownError(
        id="jinja2-contextfilter",
        matches="ImportError: cannot import name 'contextfilter' (or contextfunction) from 'jinja2'",
        pattern=r"cannot import name ['\"]?(?P<name>contextfilter|contextfunction)['\"]? "
        r"from ['\"]?jinja2",
        title="Jinja2 3.1 removed {name}",
        cause="Jinja2 3.1 removed `{name}` (replaced by pass_context); an old nbconvert "
        "(before 6.2, or before 6.4.5 for other removals) still imports it.",
        fixes=(
            'pip install -U "nbconvert>=6.4.5"   # in the environment that runs Jupyter, '
            "often base",
            'pip install "jinja2<3.1"   # workaround if nbconvert cannot be upgraded',
        ),
        source="pallets/jinja CHANGES 3.1.0 (PR #1544); nbconvert PR #1624 (6.2.0); "
        "d2l-ai/d2l-book#46",
    ),
    KnownError(
        id="jinja2-utils-escape",
        matches="AttributeError: module 'jinja2.utils' has no attribute 'escape'",
        pattern=r"module ['\"]?jinja2\.utils['\"]? has no attribute ['\"]?escape",
        title="nbconvert older than 6.4.5 with Jinja2 3.1",
        cause="Jinja2 3.1 removed `jinja2.utils.escape` (it now lives in MarkupSafe); "
        "nbconvert fixed this in 6.4.5.",
        fixes=(
            'pip install -U "nbconvert>=6.4.5"   # in the environment that runs Jupyter',
            'pip install "jinja2<3.1"   # workaround',
        ),
        source="nbconvert#1736 fixed in 6.4.5 (#1737); pallets/jinja CHANGES 3.1.0",
    ),
    KnownError(
        id="jinja2-markup-escape",
        matches="ImportError: cannot import name 'Markup' (or escape) from 'jinja2'",
        pattern=r"cannot import name ['\"]?(?P<name>Markup|escape)['\"]? from ['\"]?jinja2",
        title="Jinja2 3.1 removed jinja2.{name}",
        cause="Jinja2 3.1 removed `jinja2.{name}`; import it from markupsafe instead. The "
        "package in the traceback is older than Jinja2 3.1.",
        fixes=(
            "pip install -U <the package in the traceback>",
            'pip install "jinja2<3.1"   # workaround',
        ),
        source="pallets/jinja CHANGES 3.1.0 (PR #1544)",
    ),
    KnownError(
        id="markupsafe-soft-unicode",
        matches="ImportError: cannot import name 'soft_unicode' from 'markupsafe'",
        pattern=r"cannot import name ['\"]?soft_unicode['\"]? from ['\"]?markupsafe",
        title="MarkupSafe 2.1 with Jinja2 2.x",
        cause="MarkupSafe 2.1 removed `soft_unicode`, which Jinja2 2.x imports.",
        fixes=(
            'pip install -U "jinja2>=3"',
            "pip install markupsafe==2.0.1   # if something pins Jinja2 2.x",
        ),
        source="pallets/markupsafe#284",
    ),
    KnownError(
        id="pillow-imaging-dll",
        matches="ImportError: DLL load failed while importing _imaging (Pillow)",
        pattern=r"DLL load failed while importing _imaging|"
        r"cannot import name ['\"]?_imaging['\"]? from ['\"]?PIL",
        title="Pillow's compiled module _imaging failed to load",
        cause="Pillow is broken in this environment (its C extension `_imaging` cannot load: a "
        "missing MSVC runtime or a pip/conda Pillow mix); torchvision imports PIL, so it fails.",
        fixes=(
            "pip install --force-reinstall pillow   # if pip owns the environment",
            "conda install -c conda-forge pillow --force-reinstall   # if conda owns it",
        ),
        source="pytorch/vision#7468, #436; python-pillow/Pillow#5573, #9132; pytorch/pytorch#72293",
    ),
    KnownError(
        id="torchvision-nms",
        matches="RuntimeError: operator torchvision::nms does not exist",
        pattern=r"operator torchvision::nms does not exist",
        title="torch and torchvision do not match",
        cause="torchvision's compiled operators were built for a different torch: the pair's "
        "versions do not match, or they came from different wheel indexes.",
        fixes=REINSTALL_TORCH_TRIO
        + ("export TORCHVISION_WARN_WHEN_EXTENSION_LOADING_FAILS=1   # to see the real error",),
        source="pytorch/vision#9174, #8985; pytorch/pytorch#122494, #157648; "
        "huggingface/diffusers#9109; torchvision/extension.py",
    ),
    KnownError(
        id="torchvision-cuda-major",
        matches="Detected that PyTorch and torchvision were compiled with different CUDA major versions",
        pattern=r"PyTorch and torchvision were compiled with different CUDA major versions",
        title="torch and torchvision built for different CUDA majors",
        cause="pip accepts `==X.Y.Z` for any +cuXXX variant (PEP 440), so torch and torchvision "
        "were installed from different CUDA indexes.",
        fixes=REINSTALL_TORCH_TRIO,
        source="torchvision/extension.py; PEP 440 local versions",
    ),
    KnownError(
        id="cuda-driver-insufficient",
        matches="CUDA driver version is insufficient for CUDA runtime version",
        pattern=r"CUDA driver version is insufficient for CUDA runtime version",
        title="NVIDIA driver older than the CUDA runtime",
        cause="The program (or its torch wheel) bundles a CUDA runtime newer than the driver "
        "supports. `nvidia-smi` shows, as 'CUDA Version', the newest CUDA the driver supports.",
        fixes=(
            "update the NVIDIA driver (see `nvidia-smi` for the current one)",
            "or install a torch built for an older CUDA: `ndgrad doctor` prints the command",
        ),
        source="NVIDIA CUDA Toolkit Release Notes, Tables 2-3",
    ),
    KnownError(
        id="torch-driver-too-old",
        matches="The NVIDIA driver on your system is too old (found version NNNNN)",
        pattern=r"NVIDIA driver on your system is too old \(found version (?P<api>\d+)\)",
        title="NVIDIA driver too old for this torch",
        cause="The driver supports CUDA up to {driver_cuda} (found version {api} = "
        "major*1000 + minor*10), older than the CUDA this torch wheel was built for.",
        fixes=(
            "update the NVIDIA driver",
            "or install a torch built for CUDA {driver_cuda} or older: {install}",
        ),
        source="pytorch/pytorch#162531 (number is the driver's CUDA API version)",
    ),
    KnownError(
        id="torch-not-compiled-cuda",
        matches="AssertionError: Torch not compiled with CUDA enabled",
        pattern=r"Torch not compiled with CUDA enabled",
        title="CPU-only torch wheel",
        cause="This torch is a CPU-only build (e.g. the default Windows/macOS wheel from PyPI, "
        "or the /cpu index), so it cannot use the GPU. Under ndgrad (`import torch` -> ndgrad) "
        "the same error means CuPy is missing or finds no GPU.",
        fixes=REINSTALL_TORCH_TRIO
        + (
            'pip install "ndgrad[cuda12]"   # ndgrad on the GPU (CuPy); [cuda13] for a CUDA 13 driver',
        ),
        source="pip install --dry-run --report of torch on win_amd64 (CPU-only); "
        "pytorch/pytorch#122924",
    ),
    KnownError(
        id="torch-no-matching-distribution",
        matches="ERROR: No matching distribution found for torch (from versions: none)",
        pattern=r"No matching distribution found for torch\b|"
        r"Could not find a version that satisfies the requirement torch\b.*"
        r"\(from versions: (?:none|0\.1\.2)",
        title="pip finds no torch wheel for this Python",
        cause="PyPI has no torch wheel for this interpreter: it is 32-bit (there are no 32-bit "
        "torch wheels), or its Python version is outside the range of the torch release asked "
        "for (e.g. too new for it).{detail}",
        fixes=(
            "python -c \"import struct, sys; print(struct.calcsize('P') * 8, sys.version)\""
            "   # must print 64",
            "install a 64-bit Python 3.10-3.14 from python.org, make a venv with it, then "
            "pip install torch",
        ),
        source="pytorch/pytorch#40511, #41005; AUTOMATIC1111/stable-diffusion-webui#10592; "
        "pytorch RELEASE.md Python ranges",
    ),
    KnownError(
        id="cudnn-incompatible",
        matches="RuntimeError: cuDNN version incompatibility",
        pattern=r"cuDNN version incompatibility",
        title="cuDNN major does not match torch's",
        cause="torch loaded a cuDNN whose major differs from the one it was built with (often a "
        "system cuDNN on LD_LIBRARY_PATH or a nvidia-cudnn-cuXX wheel for the other CUDA).",
        fixes=(
            "pip install --force-reinstall torch --index-url " + WHEEL_INDEX + "/<cuXXX>",
            "unset LD_LIBRARY_PATH   # if it points at a system cuDNN",
        ),
        source="torch/backends/cudnn/__init__.py; cuDNN docs 'Compatibility'",
    ),
    KnownError(
        id="jupyter-kernel-died",
        matches="The kernel appears to have died. It will restart automatically.",
        pattern=r"kernel (?:appears to have )?died|DeadKernelError|Kernel died|"
        r"kernel .{0,40}restarting",
        title="The Jupyter kernel crashed",
        cause="The kernel process exited: native code crashed (e.g. a DLL/OpenMP clash) or the "
        "machine ran out of memory. Jupyter hides the real error.",
        fixes=(
            "python your_script.py   # run the same code in a terminal to see the real error",
            "ndgrad doctor   # checks torch, CUDA and Pillow imports in a subprocess",
        ),
        source="jupyter_client restarter behaviour",
    ),
    KnownError(
        id="jupyter-kernel-not-found",
        matches="NoSuchKernel: No such kernel named <name>",
        pattern=r"No such kernel(?: named)?:? ['\"]?(?P<kernel>[\w.\-]+)?|NoSuchKernel|"
        r"Kernel ['\"]?(?P<kernel2>[\w.\-]*)['\"]? not found",
        title="Jupyter cannot find the kernel",
        cause="The notebook asks for a kernelspec that is not installed where this Jupyter "
        "looks (`jupyter kernelspec list`); its environment was never registered or was deleted.",
        fixes=(
            "jupyter kernelspec list",
            "conda activate <env>   # or activate the venv that should run the notebook",
            'python -m ipykernel install --user --name {kernel} --display-name "Python ({kernel})"',
        ),
        source="ipython.readthedocs.io 'Installing the IPython kernel'; jupyter_client",
    ),
    KnownError(
        id="jupyter-server-contents",
        matches="ModuleNotFoundError: No module named 'jupyter_server.contents'",
        pattern=r"No module named ['\"]?jupyter_server\.contents",
        title="traitlets 5.10 with notebook 6.5.5 / 6.4.12",
        cause="notebook 6.5.5 and 6.4.12 break with traitlets 5.10.",
        fixes=('pip install -U "notebook>=6.5.6"', 'pip install "traitlets<5.10"   # workaround'),
        source="jupyter/notebook#7048, #7051",
    ),
    KnownError(
        id="pkgutil-impimporter",
        matches="AttributeError: module 'pkgutil' has no attribute 'ImpImporter'",
        pattern=r"module ['\"]?pkgutil['\"]? has no attribute ['\"]?ImpImporter",
        title="an old package being built from source on Python 3.12+",
        cause="pip is building an old release (e.g. numpy 1.23.5 pinned by d2l 1.0.3) from source; "
        "its setup tools use pkgutil.ImpImporter, removed in Python 3.12.",
        fixes=(
            "use Python 3.9-3.11 for that pin",
            "pip install d2l==1.0.3 --no-deps   # then install its dependencies unpinned",
        ),
        source="d2l-ai/d2l-en#2625, #2608, #2678",
    ),
)


# Verdicts drawn from a pasted `python -m torch.utils.collect_env` report (fields, not regexes).
COLLECT_ENV_VERDICTS: dict[str, KnownError] = {
    "cpu-wheel-on-gpu": KnownError(
        id="collect-env-cpu-wheel-on-gpu",
        pattern="",
        title="CPU-only torch on a machine with an NVIDIA GPU",
        cause="The report lists a GPU ({gpu}) but 'CUDA used to build PyTorch' is empty: this "
        "torch is a CPU-only wheel (the default on Windows), so torch.cuda is unavailable. The "
        "'CUDA runtime version' line is the nvcc on PATH, which torch does not use.",
        fixes=REINSTALL_TORCH_TRIO,
        source="pytorch/pytorch#122924; torch/utils/collect_env.py (runtime = nvcc on PATH)",
    ),
    "32-bit": KnownError(
        id="collect-env-32bit",
        pattern="",
        title="32-bit Python",
        cause="The report says '(32-bit runtime)': there are no 32-bit torch wheels.",
        fixes=("install 64-bit Python 3.10-3.14 from python.org, then pip install torch",),
        source=NO_32BIT_TORCH,
    ),
}
