"""Parsers for the text other tools print. Pure functions of a string, tested on verbatim
public samples (tests/doctor/fixtures). Garbage raises ParseError, never anything else."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field


class ParseError(ValueError):
    """The text does not look like what the parser expects."""


class DriverUnreachable(ParseError):
    """nvidia-smi exists but cannot talk to a driver (none installed, or not loaded)."""


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int | None = None
    compute_capability: str | None = None


@dataclass(frozen=True)
class SmiReport:
    driver_version: str | None
    cuda_version: str | None  # the newest CUDA the driver supports, not an installed toolkit
    gpus: tuple[Gpu, ...] = ()


@dataclass(frozen=True)
class NvccVersion:
    release: str  # "12.1"
    full: str  # "12.1.105"


@dataclass(frozen=True)
class KernelSpec:
    name: str
    resource_dir: str
    argv: tuple[str, ...]
    display_name: str = ""
    language: str = ""


@dataclass
class CollectEnv:
    """The fields of `python -m torch.utils.collect_env` the doctor can judge."""

    fields: dict[str, str | None] = field(default_factory=dict)
    pip: dict[str, str] = field(default_factory=dict)
    conda: dict[str, str] = field(default_factory=dict)


_DRIVER_FAILED = "NVIDIA-SMI has failed"


def parse_smi_header(text: str) -> SmiReport:
    """The banner of plain `nvidia-smi`. The 'CUDA Version' field appeared around driver 410;
    older headers (e.g. 331.62) have only the driver version."""
    if _DRIVER_FAILED in text or "couldn't communicate with the NVIDIA driver" in text:
        raise DriverUnreachable(text.strip().splitlines()[0])
    # Same regex idea as torch.utils.collect_env ("Driver Version: (.*?) ").
    driver = re.search(r"Driver Version:\s*([0-9][0-9.]*)", text)
    if not driver:
        raise ParseError("no 'Driver Version' in nvidia-smi output")
    cuda = re.search(r"CUDA Version:\s*([0-9]+\.[0-9]+)", text)
    return SmiReport(driver.group(1), cuda.group(1) if cuda else None)


def parse_smi_query(text: str) -> SmiReport:
    """`nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv[,noheader,nounits]`."""
    gpus: list[Gpu] = []
    drivers: set[str] = set()
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) < 2 or not cells[0] or cells[0].lower() == "name":
            continue  # blank line or the csv header
        if not re.match(r"^[0-9][0-9.]*$", cells[1]):
            raise ParseError(f"unexpected nvidia-smi csv row: {line!r}")
        memory = None
        if len(cells) > 2:
            found = re.match(r"^(\d+)", cells[2])
            memory = int(found.group(1)) if found else None
        # A 4th column is compute_cap when asked for ('8.6'); other queries put numbers there.
        capability = cells[3] if len(cells) > 3 and re.match(r"^\d+\.\d+$", cells[3]) else None
        drivers.add(cells[1])
        gpus.append(Gpu(cells[0], memory, capability))
    if not gpus:
        raise ParseError("no GPU rows in nvidia-smi csv output")
    return SmiReport(sorted(drivers)[0], None, tuple(gpus))


def parse_smi_q(text: str) -> SmiReport:
    """`nvidia-smi -q`: 'Key   : value' lines."""
    if _DRIVER_FAILED in text:
        raise DriverUnreachable(text.strip().splitlines()[0])
    driver = re.search(r"^\s*Driver Version\s*:\s*([0-9][0-9.]*)", text, re.M)
    if not driver:
        raise ParseError("no 'Driver Version' in nvidia-smi -q output")
    cuda = re.search(r"^\s*CUDA Version\s*:\s*([0-9]+\.[0-9]+)", text, re.M)
    names = re.findall(r"^\s*Product Name\s*:\s*(.+?)\s*$", text, re.M)
    return SmiReport(driver.group(1), cuda.group(1) if cuda else None, tuple(map(Gpu, names)))


def parse_smi_list(text: str) -> tuple[Gpu, ...]:
    """`nvidia-smi -L`: 'GPU 0: NAME (UUID: ...)'; the UUID is dropped like collect_env does."""
    names = re.findall(r"^GPU \d+:\s*(.+?)(?:\s*\(UUID: .+?\))?\s*$", text, re.M)
    if not names:
        raise ParseError("no 'GPU n:' lines in nvidia-smi -L output")
    return tuple(map(Gpu, names))


def parse_nvcc(text: str) -> NvccVersion:
    """`nvcc --version`. Matches 'release X.Y, VX.Y.Z' anywhere: CUDA 11 added a 'Build ...'
    line after it, which broke the old end-anchored regex (pytorch/pytorch#51840)."""
    match = re.search(r"release (\d+\.\d+), V(\d+(?:\.\d+)*)", text)
    if not match:
        raise ParseError("no 'release X.Y, VX.Y.Z' in nvcc output")
    return NvccVersion(match.group(1), match.group(2))


def decode_cuda_api_version(number: int | str) -> str:
    """CUDA API version integers are major*1000 + minor*10: 12080 -> '12.8', 11040 -> '11.4'
    (torch's "driver too old (found version 12080)", pytorch/pytorch#162531; NVML alike)."""
    value = int(number)
    if value <= 0:
        raise ParseError(f"not a CUDA API version: {number}")
    return f"{value // 1000}.{(value % 1000) // 10}"


_NOT_COLLECTED = {"could not collect", "none", "no cuda", "n/a", ""}

_COLLECT_ENV_KEYS = {
    "PyTorch version": "torch_version",
    "Is debug build": "is_debug_build",
    "CUDA used to build PyTorch": "cuda_compiled_version",
    "Python version": "python_version",
    "Python platform": "python_platform",
    "Is CUDA available": "is_cuda_available",
    "CUDA runtime version": "cuda_runtime_version",
    "GPU models and configuration": "nvidia_gpu_models",
    "Nvidia driver version": "nvidia_driver_version",
    "cuDNN version": "cudnn_version",
    "OS": "os",
}


def parse_collect_env(text: str) -> CollectEnv:
    """`python -m torch.utils.collect_env`. 'Could not collect', 'None', 'No CUDA' become None;
    a multi-line value (GPU list) starts on the next line."""
    report = CollectEnv()
    current: str | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        package = re.match(r"^\[(pip3?|conda)\]\s+(\S+?)(?:==|\s+)(\S+)", line)
        if package:
            target = report.conda if package.group(1) == "conda" else report.pip
            target[package.group(2).lower()] = package.group(3)
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() in _COLLECT_ENV_KEYS:
            current = _COLLECT_ENV_KEYS[key.strip()]
            value = value.strip()
            report.fields[current] = None if value.lower() in _NOT_COLLECTED else value
            continue
        if current == "nvidia_gpu_models" and line.startswith("GPU ") and ":" in line:
            previous = report.fields.get(current)
            report.fields[current] = f"{previous}\n{line}" if previous else line
        else:
            current = None
    if not report.fields and not report.pip:
        raise ParseError("does not look like torch.utils.collect_env output")
    return report


def collect_env_bits(python_version: str | None) -> int | None:
    """'3.9.16 (...) (64-bit runtime)' -> 64."""
    match = re.search(r"\((\d+)-bit runtime\)", python_version or "")
    return int(match.group(1)) if match else None


def parse_kernel_json(text: str, name: str, resource_dir: str) -> KernelSpec:
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(f"kernel.json is not JSON: {error}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("argv"), list):
        raise ParseError("kernel.json has no argv list")
    return KernelSpec(
        name=name,
        resource_dir=resource_dir,
        argv=tuple(str(arg) for arg in spec["argv"]),
        display_name=str(spec.get("display_name", "")),
        language=str(spec.get("language", "")),
    )


def parse_kernelspec_list_json(text: str) -> list[KernelSpec]:
    """`jupyter kernelspec list --json`: {"kernelspecs": {name: {resource_dir, spec}}}."""
    try:
        data = json.loads(text)
        specs = data["kernelspecs"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ParseError(f"not kernelspec list JSON: {error}") from None
    result = []
    for name, entry in specs.items():
        spec = entry.get("spec", {}) if isinstance(entry, dict) else {}
        result.append(
            KernelSpec(
                name=name,
                resource_dir=str(entry.get("resource_dir", "")),
                argv=tuple(str(arg) for arg in spec.get("argv", [])),
                display_name=str(spec.get("display_name", "")),
                language=str(spec.get("language", "")),
            )
        )
    return result


def parse_kernelspec_list_text(text: str) -> dict[str, str]:
    """`jupyter kernelspec list` text form: 'Available kernels:' then '  name    path' rows
    (nb_conda_kernels names like conda-env-fastai-py too). Returns name -> resource dir."""
    specs = {}
    for line in text.splitlines():
        row = re.match(r"^\s*(\*?\s*[\w.\-]+)\s{2,}(\S.*?)\s*$", line)
        if row and not line.strip().startswith("Available kernels"):
            specs[row.group(1).strip("* ")] = row.group(2)
    if not specs and "No kernels available" not in text:
        raise ParseError("no 'name  path' rows in kernelspec list output")
    return specs


def _looks_like_path(token: str) -> bool:
    return token.startswith(("/", "~", "\\\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", token))


def parse_conda_env_list(text: str) -> list[str]:
    """Environment prefixes from `conda env list --json`, tolerating the known bad outputs:
    conda 23.7 ignored --json and printed the text table (conda#12935, #12972); ~25.7 printed
    all of `conda info --json` (conda PR #15353); warnings before the JSON; truncated JSON."""
    start = text.find("{")
    if start != -1:
        try:
            data = json.loads(text[start:])
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            envs = data.get("envs")
            if isinstance(envs, list) and all(isinstance(env, str) for env in envs):
                return list(envs)
            details = data.get("envs_details")  # newer conda (conda#15330)
            if isinstance(details, dict) and details:
                return [str(prefix) for prefix in details]
        if data is None:  # truncated JSON: take the complete strings of the "envs" list
            envs_part = re.search(r'"envs"\s*:\s*\[([^\]]*)', text)
            if envs_part:
                found = [
                    json.loads(f'"{raw}"')
                    for raw in re.findall(r'"((?:[^"\\]|\\.)*)"', envs_part.group(1))
                ]
                if found:
                    return found
    # Text form: '# conda environments:' comments, then 'name  [*]  path' or a bare path.
    envs = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        tokens = stripped.split()
        path_start = next((i for i, tok in enumerate(tokens) if _looks_like_path(tok)), None)
        if path_start is not None:
            envs.append(" ".join(tokens[path_start:]))
    if not envs:
        raise ParseError("no environments found in conda env list output")
    return envs
