"""Findings from facts + rules. Pure functions: no probing, no printing, so every verdict can
be tested with hand-made facts."""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ndgrad.doctor import rules
from ndgrad.doctor.probes import CUPY_PACKAGES, Facts, Unavailable

STATUSES = ("ok", "warn", "fail", "skipped")


@dataclass(frozen=True)
class Finding:
    id: str
    status: str  # one of STATUSES
    found: str
    why: str = ""
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def skipped(check_id: str, reason: str) -> Finding:
    return Finding(check_id, "skipped", f"could not check ({reason})")


# --- helpers ----------------------------------------------------------------------------------


def _is_windows(facts: Facts) -> bool:
    python = facts.get("python")
    return isinstance(python, dict) and python.get("os") == "win32"


def _driver(facts: Facts) -> dict[str, Any] | None:
    """GPU facts when a driver answered, else None."""
    gpu = facts.get("gpu")
    if isinstance(gpu, dict) and gpu.get("present") and gpu.get("driver_version"):
        return gpu
    return None


def _driver_cuda(gpu: dict[str, Any], windows: bool) -> str | None:
    """Newest CUDA the driver supports: reported by nvidia-smi/NVML, else from Table 3."""
    return gpu.get("cuda_version") or rules.highest_cuda_for_driver(gpu["driver_version"], windows)


def _pkg(facts: Facts, name: str) -> str | None:
    packages = facts.get("packages")
    return packages.get(name) if isinstance(packages, dict) else None


def _driver_verdict(cuda: str, driver: str, windows: bool) -> tuple[str, str | None, str | None]:
    """Can `driver` run code built for CUDA `cuda`? -> (status, full_min, compat_min).
    fail: below the minor-version-compatibility floor of that major (or a newer major);
    warn: runs only with minor-version compatibility (no PTX JIT); ok: full feature set."""
    full_min = rules.min_driver_full(cuda, windows)
    major = rules.parse_version(cuda)[0]  # type: ignore[index]
    compat_min = rules.min_driver_minor_compat(major, windows)
    if full_min and rules.version_at_least(driver, full_min):
        return "ok", full_min, compat_min
    if compat_min and rules.version_at_least(driver, compat_min):
        return "warn", full_min, compat_min
    if full_min is None and compat_min is None:
        return "warn", None, None  # a CUDA the tables do not know yet
    return "fail", full_min, compat_min


# --- recommendation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    torch: str | None  # major.minor, None when no wheel fits
    variant: str  # "cu126", "cpu", "default"
    command: str
    note: str


def recommend_install(
    python_version: tuple[int, int],
    bits: int,
    os_name: str,
    driver: str | None,
    compute_capabilities: tuple[str, ...] = (),
) -> Recommendation:
    """The torch release to install: the one ndgrad is tested against (pyproject's pin) when it
    supports this Python, else the nearest older one, with the highest CUDA variant the driver
    runs, else the CPU wheel.

    "Runs" includes CUDA's minor-version compatibility (NVIDIA's CUDA compatibility guide: a
    driver of the same major's floor runs newer minor releases, without PTX JIT): PyTorch's
    wheels bring their own CUDA runtime and rely on it, so driver 550 (CUDA 12.4) runs the pinned
    release's cu126 wheel and driver 470 (CUDA 11.4) torch 2.7's cu118 one; the note says when
    a wheel runs only that way."""
    if bits != 64:
        return Recommendation(
            None, "none", "", f"no torch wheel exists for 32-bit Python ({rules.NO_32BIT_TORCH})"
        )
    releases = [
        r for r in rules.preferred_releases() if r.python_min <= python_version <= r.python_max
    ]
    if not releases:
        return Recommendation(
            None,
            "none",
            "",
            "no PyTorch release in the table supports "
            f"Python {python_version[0]}.{python_version[1]}",
        )
    windows = os_name == "win32"
    # CUDA 13 builds drop Maxwell, Pascal and Volta (13.0.2 arch list starts at 7.5).
    old_gpu = any(rules.parse_version(cc) < (7, 5) for cc in compute_capabilities if cc)

    def command(release: rules.TorchRelease, index: str | None) -> str:
        parts = [f'"torch=={release.torch}.*"', f'"torchvision=={release.torchvision}.*"']
        if release.has_torchaudio:
            parts.append(f'"torchaudio=={release.torch}.*"')
        tail = f" --index-url {rules.WHEEL_INDEX}/{index}" if index else ""
        return "pip install " + " ".join(parts) + tail

    first = releases[0]
    if os_name == "darwin":
        return Recommendation(
            first.torch,
            "default",
            command(first, None),
            "macOS wheels from PyPI (CPU and Apple MPS)",
        )
    if driver is None:
        return Recommendation(
            first.torch,
            "cpu",
            command(first, "cpu"),
            "no NVIDIA driver: the CPU wheels avoid gigabytes of CUDA libraries",
        )
    driver_cuda = rules.highest_cuda_for_driver(driver, windows)
    for release in releases:
        for cuda in sorted(release.cuda, key=rules.parse_version, reverse=True):
            if old_gpu and cuda.startswith("13."):
                continue
            status, full_min, compat_min = _driver_verdict(cuda, driver, windows)
            if status == "fail" or (full_min is None and compat_min is None):
                continue
            if status == "ok":
                note = f"CUDA {cuda} build; driver {driver} runs it with all features"
            else:
                note = (
                    f"CUDA {cuda} build; driver {driver} runs it through CUDA minor-version "
                    f"compatibility (driver >= {compat_min}; >= {full_min} for all features)"
                )
            if not release.has_torchaudio:
                note += "; no torchaudio exists for this torch (latest torchaudio: 2.11)"
            return Recommendation(
                release.torch,
                rules.cuda_tag(cuda),
                command(release, rules.cuda_tag(cuda)),
                note,
            )
    lowest = min(first.cuda, key=rules.parse_version)
    return Recommendation(
        first.torch,
        "cpu",
        command(first, "cpu"),
        f"driver {driver} supports CUDA up to {driver_cuda or 'an unknown version'}, older than "
        f"every CUDA build of torch {first.torch}: install NVIDIA driver >= "
        f"{rules.min_driver_minor_compat(rules.parse_version(lowest)[0], windows)} for its CUDA "
        f"{lowest} wheel, or use CPU",
    )


def _recommendation_for(facts: Facts) -> Recommendation | None:
    python = facts.get("python")
    if not isinstance(python, dict):
        return None
    gpu = _driver(facts)
    capabilities = tuple(g.get("compute_capability") or "" for g in (gpu or {}).get("gpus", []))
    return recommend_install(
        tuple(python["version"][:2]),
        python["bits"],
        python["os"],
        gpu["driver_version"] if gpu else None,
        capabilities,
    )


# --- checks -----------------------------------------------------------------------------------


def check_python(facts: Facts) -> list[Finding]:
    python = facts.get("python")
    if isinstance(python, Unavailable):
        return [skipped("python", python.reason)]
    version = python["version_text"]
    where = {
        "conda": f"conda env '{python['env_name']}'",
        "venv": f"venv '{python['env_name']}' ({python['prefix']})",
        "system": f"no venv or conda env ({python['prefix']})",
    }[python["env_kind"]]
    findings = [
        Finding(
            "python",
            "ok",
            f"{python['implementation']} {version} in {where}",
            why="packages install into this interpreter's environment"
            + (
                ""
                if python["env_kind"] != "system"
                else "; a venv keeps projects apart: python -m venv .venv"
            ),
        )
    ]
    if python["bits"] != 64:
        findings.append(
            Finding(
                "python.bits",
                "fail",
                f"{python['bits']}-bit Python",
                why=f"pip finds no torch for it ('from versions: none'): {rules.NO_32BIT_TORCH}",
                fix="install 64-bit Python 3.10-3.14 from python.org and create a venv with it",
            )
        )
    else:
        findings.append(Finding("python.bits", "ok", "64-bit Python"))
    vi = tuple(python["version"][:2])
    newest = rules.preferred_releases()[0]  # the release ndgrad is tested against
    supporting = [r for r in rules.TORCH_RELEASES if r.python_min <= vi <= r.python_max]
    if newest in supporting:
        findings.append(
            Finding(
                "python.torch_support",
                "ok",
                f"Python {vi[0]}.{vi[1]} is supported by PyTorch {newest.torch}",
            )
        )
    elif supporting:
        findings.append(
            Finding(
                "python.torch_support",
                "warn",
                f"newest PyTorch for Python {vi[0]}.{vi[1]} is {supporting[0].torch} "
                f"(current {newest.torch} needs {newest.python_min[0]}.{newest.python_min[1]}"
                f"-{newest.python_max[0]}.{newest.python_max[1]})",
                why="new torch releases will not install here",
                fix=f"use Python {newest.python_min[0]}.{newest.python_min[1]}-"
                f"{newest.python_max[0]}.{newest.python_max[1]} for current PyTorch",
            )
        )
    else:
        findings.append(
            Finding(
                "python.torch_support",
                "warn",
                f"no PyTorch release supports Python {vi[0]}.{vi[1]}",
                why="pip install torch ends with 'No matching distribution found'",
                fix=f"use Python {newest.python_min[0]}.{newest.python_min[1]}-"
                f"{newest.python_max[0]}.{newest.python_max[1]}",
            )
        )
    return findings


_FAST_BLAS = ("openblas", "mkl", "accelerate", "blis", "armpl", "nvpl")


def check_numpy(facts: Facts) -> list[Finding]:
    numpy = facts.get("numpy")
    if isinstance(numpy, Unavailable):
        return [skipped("numpy", numpy.reason)]
    if "error" in numpy:
        return [
            Finding(
                "numpy",
                "fail",
                f"NumPy does not import: {numpy['error']}",
                why="ndgrad is built on NumPy",
                fix="pip install --force-reinstall numpy",
            )
        ]
    blas = numpy.get("blas")
    blas_text = f"{blas} {numpy.get('blas_version') or ''}".strip() if blas else "unknown BLAS"
    found = f"NumPy {numpy['version']} with {blas_text}"
    if blas and not any(name in blas.lower() for name in _FAST_BLAS):
        return [
            Finding(
                "numpy",
                "warn",
                found,
                why="an unoptimised BLAS makes matrix products (and so training) much slower",
                fix="pip install --force-reinstall numpy   # PyPI wheels bundle OpenBLAS",
            )
        ]
    return [Finding("numpy", "ok", found)]


_NOT_READY = ("ImportError", "ModuleNotFoundError", "AttributeError", "NotImplementedError")


def check_selftest(facts: Facts) -> list[Finding]:
    result = facts.get("selftest")
    if isinstance(result, Unavailable):
        return [skipped("ndgrad.selftest", result.reason)]
    if "error" in result:
        if result.get("type") in _NOT_READY:
            return [
                skipped("ndgrad.selftest", f"ndgrad's tensor core is not usable: {result['error']}")
            ]
        return [
            Finding(
                "ndgrad.selftest",
                "fail",
                f"gradient self-test raised {result['error']}",
                why="ndgrad's autograd is broken in this install",
                fix="pip install -e .   # reinstall ndgrad, then run its tests: pytest",
            )
        ]
    expected = [0.0, 4.0, 8.0, 12.0]
    if all(abs(a - b) < 1e-6 for a, b in zip(result["grad"], expected, strict=False)) and len(
        result["grad"]
    ) == len(expected):
        return [Finding("ndgrad.selftest", "ok", "d/dx sum(2x^2) at x=[0,1,2,3] = [0,4,8,12]")]
    return [
        Finding(
            "ndgrad.selftest",
            "fail",
            f"gradient self-test gave {result['grad']}, expected {expected}",
            why="ndgrad's autograd computes wrong gradients in this install",
            fix="pip install -e .   # reinstall ndgrad, then run its tests: pytest",
        )
    ]


def check_gpu(facts: Facts) -> list[Finding]:
    gpu = facts.get("gpu")
    if isinstance(gpu, Unavailable):
        return [skipped("gpu", gpu.reason)]
    if gpu.get("driver_error"):
        return [
            Finding(
                "gpu",
                "warn",
                f"nvidia-smi is installed but cannot reach a driver: {gpu['driver_error']}",
                why="without a running driver no CUDA program (or torch.cuda) can use the GPU; "
                "this is also what a machine or container without a GPU shows",
                fix="install/update the NVIDIA driver and reboot (on Linux: check `lsmod | grep "
                "nvidia`; in Docker: run with --gpus all)",
            )
        ]
    if not gpu.get("present"):
        return [
            Finding(
                "gpu",
                "ok",
                f"no NVIDIA GPU ({gpu.get('reason') or 'none found'}): ndgrad and torch run on CPU",
            )
        ]
    windows = _is_windows(facts)
    names = []
    for item in gpu.get("gpus", []):
        memory = f", {item['memory_mib']} MiB" if item.get("memory_mib") else ""
        names.append(f"{item['name']}{memory}")
    cuda = _driver_cuda(gpu, windows)
    return [
        Finding(
            "gpu",
            "ok",
            f"{'; '.join(names) or 'NVIDIA GPU'}; driver {gpu['driver_version']} supports CUDA "
            f"up to {cuda or 'unknown'} (via {gpu['source']})",
            why="'CUDA Version' in nvidia-smi is the newest CUDA the driver supports, not an "
            "installed toolkit",
        )
    ]


def check_cuda_toolkit(facts: Facts) -> list[Finding]:
    nvcc = facts.get("nvcc")
    if isinstance(nvcc, Unavailable):
        return [skipped("cuda.toolkit", nvcc.reason)]
    if not nvcc.get("present"):
        return [
            Finding(
                "cuda.toolkit",
                "ok",
                "no nvcc on PATH",
                why="torch wheels bring their own CUDA runtime; nvcc is only needed to compile "
                "CUDA code",
            )
        ]
    release = nvcc["release"]
    found = f"CUDA toolkit {release} (nvcc V{nvcc['full']}, {nvcc['path']})"
    gpu = _driver(facts)
    if gpu is None:
        # Decision: a toolkit without a driver is a valid build machine, not a fault. Compiling
        # works; only running CUDA code needs a GPU and driver.
        return [
            Finding(
                "cuda.toolkit",
                "ok",
                f"{found}; no NVIDIA driver to run it against",
                why="compiling CUDA code works without a GPU; running it needs one",
            )
        ]
    windows = _is_windows(facts)
    driver = gpu["driver_version"]
    status, full_min, compat_min = _driver_verdict(release, driver, windows)
    driver_cuda = _driver_cuda(gpu, windows)
    found += f"; driver {driver} supports CUDA up to {driver_cuda}"
    if status == "ok":
        return [Finding("cuda.toolkit", "ok", found)]
    if status == "warn":
        return [
            Finding(
                "cuda.toolkit",
                "warn",
                found,
                why=f"driver is below {full_min} (full support for CUDA {release}) but at least "
                f"{compat_min}: it runs through minor-version compatibility, without PTX JIT "
                f"({rules.NVIDIA_MINOR_COMPAT})",
                fix=f"update the NVIDIA driver to >= {full_min}" if full_min else "",
            )
        ]
    return [
        Finding(
            "cuda.toolkit",
            "fail",
            found,
            why=f"CUDA {release} needs driver >= {full_min or compat_min} "
            f"(>= {compat_min} with minor-version compatibility); programs built with this nvcc "
            f"fail with 'CUDA driver version is insufficient' ({rules.NVIDIA_TABLE3})",
            fix=f"install NVIDIA driver >= {full_min or compat_min}, or put a CUDA toolkit "
            f"<= {driver_cuda} first on PATH (torch wheels do not need nvcc at all)",
        )
    ]


def check_torch(facts: Facts) -> list[Finding]:
    version = _pkg(facts, "torch")
    if version is None:
        return [Finding("torch", "skipped", "PyTorch is not installed")]
    torch = facts.get("torch")
    if isinstance(torch, Unavailable):
        return [skipped("torch", torch.reason)]
    if "import_error" in torch:
        from ndgrad.doctor.explain import explain

        diagnosis = explain(torch["import_error"])
        known = diagnosis[0] if diagnosis and diagnosis[0].known else None
        return [
            Finding(
                "torch",
                "fail",
                f"torch {version} does not import: {_last_line(torch['import_error'])}",
                why=known.cause if known else "a broken or mixed install",
                fix="\n".join(known.fixes) if known else "\n".join(rules.REINSTALL_TORCH_TRIO),
            )
        ]
    findings = [Finding("torch", "ok", f"torch {torch['version']} imports")]
    findings += _check_torch_cuda(facts, torch)
    findings += _check_cudnn(facts, torch)
    return findings


def _install_hint(facts: Facts) -> str:
    rec = _recommendation_for(facts)
    return rec.command if rec and rec.command else ""


def _check_torch_cuda(facts: Facts, torch: dict[str, Any]) -> list[Finding]:
    built = torch.get("cuda")
    available = torch.get("cuda_available")
    gpu = _driver(facts)
    windows = _is_windows(facts)
    label = f"torch {torch['version']} built for " + (f"CUDA {built}" if built else "CPU only")
    if gpu is None:
        note = "fine: it runs on CPU" if not built else "it runs on CPU here"
        return [Finding("torch.cuda", "ok", f"{label}; no NVIDIA GPU: {note}")]
    hint = _install_hint(facts)
    if not built:
        return [
            Finding(
                "torch.cuda",
                "warn",
                f"{label} on a machine with an NVIDIA GPU",
                why="a CPU-only wheel (the default pip wheel on Windows, or the /cpu index) "
                "cannot use the GPU: torch.cuda.is_available() is False",
                fix=f"pip uninstall -y torch torchvision torchaudio\n{hint}",
            )
        ]
    driver = gpu["driver_version"]
    driver_cuda = _driver_cuda(gpu, windows)
    status, full_min, compat_min = _driver_verdict(built, driver, windows)
    found = (
        f"{label}; driver {driver} supports CUDA up to {driver_cuda}; "
        f"cuda.is_available() = {available}"
    )
    capabilities = [g.get("compute_capability") for g in gpu.get("gpus", [])]
    if built.startswith("13.") and any(
        cc and rules.parse_version(cc) < (7, 5) for cc in capabilities
    ):
        return [
            Finding(
                "torch.cuda",
                "fail",
                found + f"; GPU compute capability {', '.join(c for c in capabilities if c)}",
                why="CUDA 13 torch builds drop Maxwell, Pascal and Volta (arch list starts at 7.5)",
                fix=f"pip uninstall -y torch torchvision torchaudio\n{hint}",
            )
        ]
    if status == "fail":
        return [
            Finding(
                "torch.cuda",
                "fail",
                found,
                why=f"CUDA {built} needs driver >= {compat_min} (minor-version compatibility; "
                f">= {full_min} for full features): torch warns 'The NVIDIA driver on your system "
                "is too old' and runs on CPU",
                fix=f"update the NVIDIA driver to >= {full_min or compat_min}, or install a torch "
                f"that fits this driver:\npip uninstall -y torch torchvision torchaudio\n{hint}",
            )
        ]
    if available is not True:
        reason = "; ".join(torch.get("warnings") or []) or str(available)
        return [
            Finding(
                "torch.cuda",
                "fail",
                found,
                why=f"the driver should run this build, yet CUDA does not initialise: {reason}",
                fix="reboot after a driver update; check CUDA_VISIBLE_DEVICES; run "
                '`python -c "import torch; torch.zeros(1).cuda()"` to see the error',
            )
        ]
    if status == "warn":
        # torch wheels bundle their CUDA runtime and rely on minor-version compatibility.
        found += f" (driver below {full_min}: runs via minor-version compatibility)"
    return [Finding("torch.cuda", "ok", found)]


def _check_cudnn(facts: Facts, torch: dict[str, Any]) -> list[Finding]:
    built = torch.get("cuda")
    if not built:
        return [Finding("torch.cudnn", "skipped", "CPU-only torch: no cuDNN")]
    cudnn = torch.get("cudnn")
    cuda_major = rules.parse_version(built)[0]  # type: ignore[index]
    if isinstance(cudnn, dict) and "error" in cudnn:
        return [
            Finding(
                "torch.cudnn",
                "fail",
                f"cuDNN check raised {cudnn['error']}",
                why="torch refuses a cuDNN whose major differs from the one it was built with "
                f"({rules.CUDNN_SOURCE})",
                fix="pip install --force-reinstall torch   # from the same index as before; "
                "and unset LD_LIBRARY_PATH if it points at a system cuDNN",
            )
        ]
    problems = []
    if isinstance(cudnn, int) and cudnn > 0:
        # cuDNN encodes versions as major*10000 + minor*100 + patch from 9 on (8: *1000).
        major = cudnn // 10000 if cudnn >= 90000 else cudnn // 1000
        supported = rules.CUDNN_CUDA_MAJORS.get(major)
        if supported is not None and cuda_major not in supported:
            problems.append(f"cuDNN {major} has no build for CUDA {cuda_major}")
        found = f"cuDNN {cudnn} (major {major}) with torch built for CUDA {built}"
    else:
        found = f"torch built for CUDA {built}; cuDNN not loadable here ({cudnn})"
    packages = facts.get("packages")
    wheels = []
    for name in sorted(packages if isinstance(packages, dict) else {}):
        if name.startswith("nvidia-cudnn-cu"):
            wheel_major = name.rsplit("cu", 1)[1]
            if wheel_major.isdigit() and int(wheel_major) != cuda_major:
                problems.append(f"pip package {name} is for CUDA {wheel_major}")
                wheels.append(name)
    if problems:
        return [
            Finding(
                "torch.cudnn",
                "fail",
                f"{found}; " + "; ".join(problems),
                why=f"cuDNN majors must match CUDA's ({rules.CUDNN_SOURCE})",
                fix=f"pip uninstall -y {' '.join(wheels)}\n{_install_hint(facts)}"
                if wheels
                else _install_hint(facts),
            )
        ]
    return [Finding("torch.cudnn", "ok", found)]


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else "crashed without a message"


def _import_failure(check_id: str, what: str, error: str) -> Finding:
    from ndgrad.doctor.explain import explain

    diagnosis = explain(error)
    last_line = _last_line(error)
    if diagnosis and diagnosis[0].known:
        return Finding(
            check_id,
            "fail",
            f"{what} does not import: {last_line}",
            why=diagnosis[0].cause,
            fix="\n".join(diagnosis[0].fixes),
        )
    return Finding(
        check_id,
        "fail",
        f"{what} does not import: {last_line}",
        why="see the last line of the traceback",
        fix=f"pip install --force-reinstall {what}",
    )


def _api_cuda(value: Any) -> str | None:
    """A CUDA API version integer as X.Y: major*1000 + minor*10, so 12080 is 12.8
    (environment-facts.md section 1, pytorch/pytorch#162531)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    return f"{value // 1000}.{value % 1000 // 10}"


def _cupy_extra(driver_cuda: str | None) -> str | None:
    """ndgrad's extra for a driver: CuPy's CUDA 13 wheel needs a CUDA 13 driver (>= 580), its
    CUDA 12 wheel a CUDA 12 one (>= 525); older drivers run neither (environment-facts.md
    section 2, NVIDIA's minor-version compatibility table)."""
    version = rules.parse_version(driver_cuda)
    if version is None or version[0] < 12:
        return None
    return "cuda13" if version[0] >= 13 else "cuda12"


def check_cupy(facts: Facts) -> list[Finding]:
    """CuPy, the array library behind ndgrad's ``device="cuda"``: installed, importable, built
    for a CUDA the driver runs, and finding the GPU."""
    installed = [name for name in CUPY_PACKAGES if _pkg(facts, name)]
    gpu = _driver(facts)
    windows = _is_windows(facts)
    driver_cuda = _driver_cuda(gpu, windows) if gpu else None
    extra = _cupy_extra(driver_cuda)
    install = f'pip install "ndgrad[{extra}]"' if extra else ""
    if not installed:
        if gpu is None:
            return [Finding("cupy", "ok", "no CuPy and no NVIDIA GPU: ndgrad computes on the CPU")]
        found = (
            f"NVIDIA driver {gpu['driver_version']} (CUDA up to {driver_cuda or 'unknown'}) "
            "but no CuPy: device='cuda' is not available to ndgrad"
        )
        if extra is None:
            return [
                Finding(
                    "cupy",
                    "warn",
                    found,
                    why="CuPy's wheels need a driver for CUDA 12 (>= 525) or 13 (>= 580)",
                    fix='update the NVIDIA driver, then pip install "ndgrad[cuda12]"',
                )
            ]
        return [
            Finding(
                "cupy",
                "warn",
                found,
                why="ndgrad computes on the GPU through CuPy; its wheel brings the CUDA "
                "libraries, so the driver is all it needs",
                fix=install,
            )
        ]
    package = installed[0]
    version = _pkg(facts, package)
    cupy = facts.get("cupy")
    if isinstance(cupy, Unavailable):
        return [skipped("cupy", cupy.reason)]
    if cupy.get("import_error"):
        return [_import_failure("cupy", package, cupy["import_error"])]
    runtime = _api_cuda(cupy.get("runtime"))
    wheel_major = {"cupy-cuda12x": 12, "cupy-cuda13x": 13, "cupy-cuda11x": 11}.get(package)
    driver_major = (rules.parse_version(driver_cuda) or (0,))[0] if driver_cuda else None
    if wheel_major and driver_major is not None and driver_major < wheel_major:
        return [
            Finding(
                "cupy",
                "fail",
                f"{package} {version} is built for CUDA {wheel_major}, but driver "
                f"{gpu['driver_version']} runs CUDA up to {driver_cuda}",
                why=f"a CUDA {wheel_major} program needs a driver >= "
                f"{rules.min_driver_minor_compat(wheel_major, windows) or '?'} (NVIDIA's "
                "minor-version compatibility table)",
                fix=f"pip uninstall -y {package} && {install}"
                if install
                else "update the NVIDIA driver",
            )
        ]
    count = cupy.get("device_count")
    if not isinstance(count, int) or count < 1:
        error = count.get("error") if isinstance(count, dict) else "no device"
        return [
            Finding(
                "cupy",
                "warn",
                f"CuPy {version} (CUDA runtime {runtime or '?'}) imports but finds no GPU: {error}",
                why="ndgrad registers device='cuda' only when CuPy sees a GPU",
                fix="check `nvidia-smi`; in Docker run with --gpus all",
            )
        ]
    compute = cupy.get("compute")
    name = cupy.get("device_name")
    name = name if isinstance(name, str) else "GPU 0"
    if compute != 4.0:
        error = compute.get("error") if isinstance(compute, dict) else repr(compute)
        return [
            Finding(
                "cupy",
                "fail",
                f"CuPy {version} sees {name} but cannot compute on it: {error}",
                why="the CUDA libraries CuPy loads do not run with this driver",
                fix=install or "update the NVIDIA driver",
            )
        ]
    return [
        Finding(
            "cupy",
            "ok",
            f"CuPy {version} (CUDA runtime {runtime or '?'}, driver CUDA "
            f"{_api_cuda(cupy.get('driver')) or '?'}) on {name}: device='cuda' works",
        )
    ]


def check_torch_companions(facts: Facts) -> list[Finding]:
    torch_version = _pkg(facts, "torch")
    findings = []
    hint = _install_hint(facts)
    reinstall = f"pip uninstall -y torch torchvision torchaudio\n{hint}"
    for name in ("torchvision", "torchaudio"):
        version = _pkg(facts, name)
        if version is None:
            findings.append(Finding(name, "skipped", f"{name} is not installed"))
            continue
        if torch_version is None:
            findings.append(Finding(name, "warn", f"{name} {version} without torch", fix=reinstall))
            continue
        problems = []
        if name == "torchvision":
            expected = rules.torchvision_for(torch_version)
            if expected and rules.major_minor(version) != rules.major_minor(expected):
                problems.append(f"torch {torch_version} pairs with torchvision {expected}.x")
        else:
            release = rules.torch_release(torch_version)
            if release is not None and not release.has_torchaudio:
                problems.append(f"no torchaudio exists for torch {release.torch} (latest: 2.11)")
            elif rules.major_minor(version) != rules.major_minor(torch_version):
                problems.append(f"torchaudio must share torch's major.minor ({torch_version})")
        label_torch, label_other = rules.local_label(torch_version), rules.local_label(version)
        if label_torch and label_other and label_torch != label_other:
            problems.append(f"CUDA variants differ: torch +{label_torch}, {name} +{label_other}")
        imported = facts.get(f"import_{name}")
        if problems:
            findings.append(
                Finding(
                    name,
                    "fail",
                    f"{name} {version} with torch {torch_version}: " + "; ".join(problems),
                    why="pip accepts mismatched pairs (PEP 440 ignores +cuXXX), then import fails "
                    "with e.g. 'operator torchvision::nms does not exist' "
                    "(pytorch/vision README; torchvision/extension.py)",
                    fix=reinstall,
                )
            )
        elif isinstance(imported, Unavailable):
            findings.append(skipped(name, imported.reason))
        elif isinstance(imported, dict) and not imported.get("ok"):
            findings.append(_import_failure(name, name, imported.get("error", "")))
        else:
            findings.append(Finding(name, "ok", f"{name} {version} matches torch {torch_version}"))
    return findings


def check_cli_packages(facts: Facts) -> list[Finding]:
    """Typer and rich: ``ndgrad`` commands other than the doctor need them."""
    findings = []
    for name in ("typer", "rich"):
        imported = facts.get(f"import_{name}")
        if isinstance(imported, Unavailable):
            if imported.reason != "not gathered":
                findings.append(skipped(name, imported.reason))
        elif isinstance(imported, dict) and not imported.get("ok"):
            finding = _import_failure(name, name, imported.get("error", ""))
            findings.append(
                Finding(
                    finding.id,
                    finding.status,
                    finding.found,
                    why="the ndgrad command needs it (the doctor runs without it)",
                    fix=finding.fix,
                )
            )
    return findings


def check_pillow(facts: Facts) -> list[Finding]:
    version = _pkg(facts, "pillow")
    if version is None:
        return [Finding("pillow", "skipped", "Pillow is not installed (torchvision needs it)")]
    imported = facts.get("import_PIL")
    if isinstance(imported, Unavailable):
        return [skipped("pillow", imported.reason)]
    if not imported.get("ok"):
        return [_import_failure("pillow", "pillow", imported.get("error", ""))]
    return [Finding("pillow", "ok", f"Pillow {version} imports (PIL.Image)")]


# --- Jupyter ------------------------------------------------------------------------------------

_JUPYTER_PACKAGES = (
    "jupyterlab",
    "notebook",
    "jupyter-server",
    "nbconvert",
    "jupyter-client",
    "ipykernel",
    "nb-conda-kernels",
)


def _interpreter_of(spec: dict[str, Any]) -> str | None:
    argv = spec.get("argv") or []
    return str(argv[0]) if argv else None


def _resolve(executable: str) -> str | None:
    if os.path.isabs(executable):
        return executable if os.path.exists(executable) else None
    return shutil.which(executable)


def _inside(path: str, prefix: str) -> bool:
    """Is `path` inside `prefix`? A venv's bin/python is a symlink to the base interpreter, so
    resolve only the directories, never the interpreter itself."""

    def under(child: str, parent: str) -> bool:
        try:
            return os.path.commonpath([child, parent]) == parent
        except ValueError:  # different drives on Windows
            return False

    if not path or not prefix:
        return False
    if under(os.path.abspath(path), os.path.abspath(prefix)):
        return True
    directory = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    return under(directory, os.path.realpath(prefix))


def _kernel_runs_in(spec: dict[str, Any], prefix: str) -> bool:
    interpreter = _interpreter_of(spec)
    if not interpreter:
        return False
    if os.path.isabs(interpreter):
        return _inside(interpreter, prefix)
    # 'python' in argv: the env's own kernelspec (share/jupyter/kernels inside the env).
    return _inside(spec.get("resource_dir", ""), prefix)


def check_jupyter(facts: Facts) -> list[Finding]:
    installed = {name: _pkg(facts, name) for name in _JUPYTER_PACKAGES}
    present = [f"{name} {version}" for name, version in installed.items() if version]
    findings = [
        Finding(
            "jupyter",
            "ok",
            ", ".join(present) if present else "no Jupyter packages in this environment",
            why="Jupyter may also run from another environment (often conda's base)",
        )
    ]
    findings += _check_conflicts(facts)
    kernelspecs = facts.get("kernelspecs")
    if isinstance(kernelspecs, Unavailable):
        findings.append(skipped("jupyter.kernels", kernelspecs.reason))
        return findings + _check_conda_envs(facts, [])
    specs = kernelspecs["specs"]
    missing = [s for s in specs if _interpreter_of(s) and _resolve(_interpreter_of(s)) is None]
    if missing:
        findings.append(
            Finding(
                "jupyter.kernels",
                "warn",
                f"{len(specs)} kernelspecs; interpreter missing for: "
                + ", ".join(f"{s['name']} ({_interpreter_of(s)})" for s in missing),
                why="choosing these kernels fails: their environment was deleted or moved",
                fix="\n".join(f"jupyter kernelspec uninstall -y {s['name']}" for s in missing),
            )
        )
    else:
        names = ", ".join(s["name"] for s in specs) or "none"
        findings.append(
            Finding(
                "jupyter.kernels",
                "ok",
                f"{len(specs)} kernelspecs ({names}) via {kernelspecs['source']}",
            )
        )
    findings.append(_check_this_env_kernel(facts, specs, installed))
    return findings + _check_conda_envs(facts, specs)


def _env_label(python: dict[str, Any]) -> str:
    return python.get("env_name") or Path(python["prefix"]).name or "python"


def _check_this_env_kernel(facts: Facts, specs: list[dict[str, Any]], installed: dict) -> Finding:
    python = facts.get("python")
    if not isinstance(python, dict):
        return skipped("jupyter.this_env", "Python facts unavailable")
    mine = [s["name"] for s in specs if _kernel_runs_in(s, python["prefix"])]
    name = _env_label(python)
    register = f'python -m ipykernel install --user --name {name} --display-name "Python ({name})"'
    if mine:
        return Finding("jupyter.this_env", "ok", f"kernel {', '.join(mine)} runs this environment")
    if installed.get("ipykernel"):
        if installed.get("jupyter-server") or installed.get("notebook"):
            return Finding(
                "jupyter.this_env",
                "ok",
                "Jupyter and ipykernel are installed here: its default kernel runs it",
            )
        return Finding(
            "jupyter.this_env",
            "warn",
            "ipykernel is installed but no kernelspec points at this environment",
            why="a Jupyter running elsewhere cannot offer this environment as a kernel",
            fix=register,
        )
    if specs or any(installed.values()):
        return Finding(
            "jupyter.this_env",
            "warn",
            "this environment has no Jupyter kernel (ipykernel not installed)",
            why="notebooks cannot run in this environment, so its packages are not visible there",
            fix=f"pip install ipykernel\n{register}",
        )
    return Finding("jupyter.this_env", "ok", "Jupyter not in use here (no kernels, no ipykernel)")


def _check_conflicts(facts: Facts) -> list[Finding]:
    findings = []
    for rule in rules.PACKAGE_CONFLICTS:
        first, second = _pkg(facts, rule.package), _pkg(facts, rule.other)
        if first is None or second is None:
            continue  # nothing to judge; not worth a row

        def within(version: str, low: str | None, high: str | None) -> bool:
            return (low is None or rules.version_at_least(version, low)) and (
                high is None or not rules.version_at_least(version, high)
            )

        found = f"{rule.package} {first} with {rule.other} {second}"
        if within(first, rule.package_min, rule.package_below) and within(
            second, rule.other_min, rule.other_below
        ):
            findings.append(Finding(rule.id, rule.status, found, why=rule.why, fix=rule.fix))
        else:
            findings.append(Finding(rule.id, "ok", found))
    return findings


def _env_python(prefix: str) -> bool:
    return os.path.exists(os.path.join(prefix, "bin", "python")) or os.path.exists(
        os.path.join(prefix, "python.exe")
    )


def _env_has_ipykernel(prefix: str) -> bool:
    patterns = ("lib/python3*/site-packages/ipykernel", "Lib/site-packages/ipykernel")
    return any(glob.glob(os.path.join(glob.escape(prefix), p)) for p in patterns)


def _conda_env_name(prefix: str, index: int) -> str:
    path = Path(prefix)
    if path.parent.name == "envs":
        return path.name
    return "base" if index == 0 else path.name


def _check_conda_envs(facts: Facts, specs: list[dict[str, Any]]) -> list[Finding]:
    conda = facts.get("conda")
    if isinstance(conda, Unavailable):
        return [skipped("jupyter.conda_envs", conda.reason)]
    if not conda.get("present"):
        return [Finding("jupyter.conda_envs", "skipped", "conda not found")]
    auto = _pkg(facts, "nb-conda-kernels") is not None  # it lists every env with ipykernel
    without_kernel, fixes = [], []
    for index, prefix in enumerate(conda["envs"]):
        if not _env_python(prefix):
            continue  # not a Python environment
        name = _conda_env_name(prefix, index)
        registered = any(_kernel_runs_in(s, prefix) for s in specs)
        has_ipykernel = _env_has_ipykernel(prefix)
        if registered or (auto and has_ipykernel):
            continue
        register = (
            f"conda run -n {name} python -m ipykernel install --user --name {name} "
            f'--display-name "Python ({name})"'
        )
        if not has_ipykernel:
            without_kernel.append(f"{name} (no ipykernel)")
            fixes.append(f"conda install -n {name} ipykernel\n{register}")
        else:
            without_kernel.append(f"{name} (ipykernel, not registered)")
            fixes.append(register)
    total = len(conda["envs"])
    if not without_kernel:
        return [
            Finding(
                "jupyter.conda_envs", "ok", f"{total} conda envs; all Python ones have a kernel"
            )
        ]
    return [
        Finding(
            "jupyter.conda_envs",
            "warn",
            f"{total} conda envs; without a Jupyter kernel: {', '.join(without_kernel)}",
            why="Jupyter only offers environments that have ipykernel and a kernelspec "
            "(nb_conda_kernels lists envs with ipykernel automatically)",
            fix="\n".join(fixes),
        )
    ]


def check_install_recommendation(facts: Facts) -> list[Finding]:
    rec = _recommendation_for(facts)
    if rec is None:
        return [skipped("install.torch", "Python facts unavailable")]
    if rec.torch is None:
        return [
            Finding(
                "install.torch",
                "warn",
                "no torch wheel fits this Python",
                why=rec.note,
                fix="install 64-bit Python 3.10-3.14 from python.org",
            )
        ]
    # An ok row carries no fix: the command is part of what was found.
    return [
        Finding(
            "install.torch",
            "ok",
            f"recommended: torch {rec.torch} ({rec.variant}): {rec.command}",
            why=rec.note,
        )
    ]


CHECKS: tuple[Callable[[Facts], list[Finding]], ...] = (
    check_python,
    check_numpy,
    check_selftest,
    check_gpu,
    check_cuda_toolkit,
    check_cupy,
    check_torch,
    check_torch_companions,
    check_pillow,
    check_cli_packages,
    check_jupyter,
    check_install_recommendation,
)


def run_checks(facts: Facts) -> list[Finding]:
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings += check(facts)
        except Exception as error:  # a surprising fact must not take the whole report down
            name = check.__name__.removeprefix("check_")
            findings.append(skipped(name, f"{type(error).__name__}: {error}"))
    return findings
