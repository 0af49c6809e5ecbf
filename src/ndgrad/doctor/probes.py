"""Gather facts about this machine. Every probe runs with a timeout; slow or crash-prone work
(importing torch, running nvidia-smi, nvcc, conda) happens in a subprocess, so a hang or a
segfault costs one fact, never the doctor. A probe that cannot answer returns `Unavailable`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ndgrad._files import MAX_FILE_BYTES, read_small_file  # noqa: F401 - re-exported
from ndgrad.doctor import parsers

DEFAULT_TOOL_TIMEOUT = 10.0  # nvidia-smi, nvcc: normally well under a second
DEFAULT_PYTHON_TIMEOUT = 30.0  # a cold `import torch` can take 10 s+ on Windows
MAX_TIMEOUT = 3600.0  # --timeout's ceiling: an hour is beyond any probe
MAX_OUTPUT_BYTES = 1 << 20  # per stream of a probed command: nvidia-smi -q is ~20 KiB
MAX_OUTPUT_LINES = 20_000


@dataclass(frozen=True)
class Unavailable:
    """A fact the doctor could not gather, with the reason shown to the user."""

    reason: str


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + ("\n" + self.stderr if self.stderr else "")


class ProbeFailed(Exception):
    """Raised inside a probe; becomes Unavailable(reason)."""


def run_command(
    argv: list[str], timeout: float, env: dict[str, str] | None = None
) -> CommandResult:
    """Run a command, killing its whole process group on timeout (a shell script's children
    would otherwise keep the pipes open and hang us). Raises ProbeFailed with a readable reason."""
    kwargs: dict[str, Any] = {}
    if os.name == "posix":
        kwargs["start_new_session"] = True
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            **kwargs,
        )
    except OSError as error:
        raise ProbeFailed(f"cannot run {Path(argv[0]).name}: {error.strerror or error}") from None
    name = Path(argv[0]).name
    # Each pipe is read by a thread into a buffer capped in bytes and lines; a command that
    # prints more (a broken tool looping, `yes`) is killed, like one that runs too long.
    over = threading.Event()
    buffers = (bytearray(), bytearray())
    readers = [
        threading.Thread(target=_drain, args=(pipe, buffer, over), daemon=True)
        for pipe, buffer in zip((proc.stdout, proc.stderr), buffers, strict=True)
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not over.is_set() and time.monotonic() < deadline:
        over.wait(min(0.05, max(deadline - time.monotonic(), 0.0)))
    timed_out = proc.poll() is None and not over.is_set()
    if timed_out or over.is_set():
        _kill_tree(proc)
    for reader in readers:  # a grandchild may still hold the pipes open
        reader.join(max(deadline - time.monotonic(), 0.0) + 0.5)
    if any(reader.is_alive() for reader in readers):
        _kill_tree(proc)  # the whole session: the grandchild too, which ends the reads
        for reader in readers:
            reader.join(2)
    for pipe in (proc.stdout, proc.stderr):
        try:
            pipe.close()  # type: ignore[union-attr]
        except OSError:
            pass
    if over.is_set():
        raise ProbeFailed(
            f"{name} printed more than {MAX_OUTPUT_BYTES} bytes or {MAX_OUTPUT_LINES} lines; "
            "stopped it"
        )
    if timed_out:
        raise ProbeFailed(f"{name} did not answer within {timeout:g} s")
    return CommandResult(
        proc.returncode,
        bytes(buffers[0]).decode("utf-8", errors="replace"),
        bytes(buffers[1]).decode("utf-8", errors="replace"),
    )


def _drain(pipe: Any, buffer: bytearray, over: threading.Event) -> None:
    """Reads ``pipe`` into ``buffer`` until EOF, or until it passes the caps (then ``over``)."""
    fd = pipe.fileno()
    lines = 0
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        buffer += chunk
        lines += chunk.count(b"\n")
        if len(buffer) > MAX_OUTPUT_BYTES or lines > MAX_OUTPUT_LINES:
            del buffer[MAX_OUTPUT_BYTES:]
            over.set()
            return


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=2)
    except (subprocess.TimeoutExpired, OSError):
        pass


def run_python(code: str, timeout: float) -> CommandResult:
    """Run `code` with this interpreter (same environment, same PYTHONPATH)."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONDONTWRITEBYTECODE="1")
    return run_command([sys.executable, "-c", code], timeout, env)


def last_json_line(text: str, prefix: str = "") -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        if line.startswith(prefix):
            try:
                value = json.loads(line[len(prefix) :])
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise ProbeFailed("probe printed no result")


# --- Python and packages (in-process: cheap and cannot hang) ---------------------------------


def probe_python() -> dict[str, Any]:
    prefix = Path(sys.prefix)
    conda_env = os.environ.get("CONDA_DEFAULT_ENV") if (prefix / "conda-meta").exists() else None
    if (prefix / "conda-meta").exists():
        kind, name = "conda", conda_env or prefix.name
    elif sys.prefix != getattr(sys, "base_prefix", sys.prefix):
        kind, name = "venv", prefix.name
    else:
        kind, name = "system", None
    return {
        "version": list(sys.version_info[:3]),
        "version_text": sys.version.split()[0],
        "implementation": sys.implementation.name,
        # Pointer size, not platform.machine(): 32-bit Python on 64-bit Windows reports AMD64
        # there (CPython Lib/platform.py _get_machine_win32).
        "bits": struct.calcsize("P") * 8,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "env_kind": kind,
        "env_name": name,
        "os": sys.platform,
        "platform": sysconfig.get_platform(),
    }


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def probe_packages() -> dict[str, str]:
    """name -> version of every distribution visible to this interpreter, first on sys.path
    wins (as import does). importlib.metadata only reads metadata: nothing heavy is imported."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        if not _metadata_readable(dist):
            continue
        try:
            name = dist.metadata["Name"]
        except Exception:  # broken METADATA files exist in the wild
            continue
        if name and _normalise(name) not in versions:
            versions[_normalise(name)] = str(dist.version)
    return versions


def _metadata_readable(dist: Any) -> bool:
    """False for a distribution whose METADATA is a FIFO, a device or over the size limit
    (importlib.metadata would block on it or read it whole)."""
    folder = getattr(dist, "_path", None)  # PathDistribution's folder; others are trusted
    if folder is None:
        return True
    for name in ("METADATA", "PKG-INFO"):
        try:
            st = os.stat(Path(folder) / name)
        except OSError:
            continue
        return stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE_BYTES
    return True


# --- NumPy and ndgrad's self-test (one subprocess) --------------------------------------------

_SELFTEST_CODE = r"""
import json
try:
    import numpy as np
    info = {"version": np.__version__}
    try:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        info["blas"] = blas.get("name")
        info["blas_version"] = blas.get("version")
    except Exception as error:
        info["blas_error"] = f"{type(error).__name__}: {error}"
except BaseException as error:
    info = {"error": f"{type(error).__name__}: {error}"}
print("NUMPY " + json.dumps(info), flush=True)
try:
    import ndgrad
    x = ndgrad.tensor([0.0, 1.0, 2.0, 3.0], requires_grad=True)
    y = (2 * x * x).sum()
    y.backward()
    result = {"grad": [float(v) for v in x.grad.numpy()]}
except BaseException as error:
    result = {"error": f"{type(error).__name__}: {error}", "type": type(error).__name__}
print("SELFTEST " + json.dumps(result), flush=True)
"""


def probe_numpy_and_selftest(timeout: float) -> dict[str, Any]:
    result = run_python(_SELFTEST_CODE, timeout)
    facts: dict[str, Any] = {}
    for key, prefix in (("numpy", "NUMPY "), ("selftest", "SELFTEST ")):
        try:
            facts[key] = last_json_line(result.stdout, prefix)
        except ProbeFailed:
            tail = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.returncode}"]
            facts[key] = Unavailable(f"the check crashed: {tail[0]}")
    return facts


# --- NVIDIA GPU ----------------------------------------------------------------------------

_NVML_CODE = r"""
import json
import pynvml
def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)
try:
    pynvml.nvmlInit()
except Exception as error:
    print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
    raise SystemExit(0)
gpus = []
for index in range(pynvml.nvmlDeviceGetCount()):
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    gpu = {"name": text(pynvml.nvmlDeviceGetName(handle))}
    try:
        gpu["memory_mib"] = pynvml.nvmlDeviceGetMemoryInfo(handle).total // 2**20
    except Exception:
        pass
    try:
        gpu["compute_capability"] = "%d.%d" % pynvml.nvmlDeviceGetCudaComputeCapability(handle)
    except Exception:
        pass
    gpus.append(gpu)
print(json.dumps({
    "driver_version": text(pynvml.nvmlSystemGetDriverVersion()),
    "cuda_api": pynvml.nvmlSystemGetCudaDriverVersion(),
    "gpus": gpus,
}))
"""


def find_nvidia_smi() -> str | None:
    found = shutil.which("nvidia-smi")
    if found or os.name != "nt":
        return found
    # Windows locations torch.utils.collect_env also tries.
    for base, rest in (
        ("SYSTEMROOT", r"System32\nvidia-smi.exe"),
        ("PROGRAMFILES", r"NVIDIA Corporation\NVSMI\nvidia-smi.exe"),
    ):
        candidate = Path(os.environ.get(base, ""), rest)
        if os.environ.get(base) and candidate.exists():
            return str(candidate)
    return None


def _nvml_available() -> bool:
    import importlib.util

    # Tests that fake nvidia-smi must not be overruled by a real NVML on the machine.
    if os.environ.get("NDGRAD_DOCTOR_NO_NVML"):
        return False
    return importlib.util.find_spec("pynvml") is not None


def probe_gpu(tool_timeout: float, python_timeout: float) -> dict[str, Any]:
    """{"present": bool, "source", "driver_version", "cuda_version", "gpus": [..]} or, without
    a usable GPU, {"present": False, "reason": ...}."""
    nvml_error = None
    if _nvml_available():
        try:
            data = last_json_line(run_python(_NVML_CODE, python_timeout).stdout)
            if "error" not in data:
                return {
                    "present": bool(data["gpus"]),
                    "source": "NVML",
                    "driver_version": data["driver_version"],
                    "cuda_version": parsers.decode_cuda_api_version(data["cuda_api"]),
                    "gpus": data["gpus"],
                    "reason": None if data["gpus"] else "NVML reports no GPU",
                }
            nvml_error = data["error"]
        except (ProbeFailed, KeyError, ValueError, TypeError) as error:
            nvml_error = str(error)
    smi = find_nvidia_smi()
    if smi is None:
        return {"present": False, "reason": "nvidia-smi not found", "nvml_error": nvml_error}
    header = run_command([smi], tool_timeout)
    if "No devices were found" in header.output:  # driver loaded, no GPU (or none visible)
        return {"present": False, "reason": "nvidia-smi: No devices were found"}
    try:
        banner = parsers.parse_smi_header(header.output)
    except parsers.DriverUnreachable as error:
        return {"present": False, "driver_error": str(error), "reason": str(error)}
    except parsers.ParseError as error:
        raise ProbeFailed(f"could not read nvidia-smi output ({error})") from None
    gpus: list[dict[str, Any]] = []
    query = "--query-gpu=name,driver_version,memory.total,compute_cap"
    for fields in (query, query.rsplit(",", 1)[0]):  # compute_cap is unknown to old drivers
        result = run_command([smi, fields, "--format=csv,noheader,nounits"], tool_timeout)
        if result.returncode == 0:
            try:
                report = parsers.parse_smi_query(result.stdout)
            except parsers.ParseError:
                continue
            gpus = [
                {
                    "name": g.name,
                    "memory_mib": g.memory_mib,
                    "compute_capability": g.compute_capability,
                }
                for g in report.gpus
            ]
            break
    return {
        "present": True,
        "source": "nvidia-smi",
        "driver_version": banner.driver_version,
        "cuda_version": banner.cuda_version,
        "gpus": gpus,
        "reason": None,
    }


def probe_nvcc(timeout: float) -> dict[str, Any]:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return {"present": False}
    result = run_command([nvcc, "--version"], timeout)
    try:
        version = parsers.parse_nvcc(result.output)
    except parsers.ParseError as error:
        raise ProbeFailed(f"could not read `nvcc --version` ({error})") from None
    return {"present": True, "path": nvcc, "release": version.release, "full": version.full}


# --- PyTorch family (subprocess: import is slow and can crash) -------------------------------


# Both probes start alike: import the library in a fresh interpreter, report a failed import
# as JSON, wrap every query so that one failure does not hide the others.
def _probe_prelude(module: str) -> str:
    return rf"""
import json
out = {{}}
def safe(call):
    try:
        return call()
    except BaseException as error:
        return {{"error": f"{{type(error).__name__}}: {{error}}"}}
try:
    import {module}
except BaseException as error:
    import traceback
    print(json.dumps({{"import_error": traceback.format_exc()[-3000:]}}))
    raise SystemExit(0)
"""


def _run_probe(code: str, module: str, timeout: float) -> dict[str, Any]:
    result = run_python(code, timeout)
    try:
        return last_json_line(result.stdout)
    except ProbeFailed:
        tail = (result.stderr.strip() or f"exit code {result.returncode}")[-2000:]
        return {"import_error": f"the {module} import crashed: {tail}"}


_TORCH_CODE = (
    _probe_prelude("torch")
    + r"""
import warnings
out["version"] = str(getattr(torch, "__version__", ""))
out["cuda"] = getattr(getattr(torch, "version", None), "cuda", None)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out["cuda_available"] = safe(lambda: bool(torch.cuda.is_available()))
    out["device_count"] = safe(lambda: int(torch.cuda.device_count()))
out["warnings"] = [str(w.message) for w in caught]
out["cudnn"] = safe(lambda: torch.backends.cudnn.version())
print(json.dumps(out))
"""
)

_IMPORT_CODE = r"""
import json, importlib, sys
module = importlib.import_module(sys.argv[1])
version = getattr(module, "version", None)
print(json.dumps({"version": str(getattr(module, "__version__", "")),
                  "cuda": getattr(version, "cuda", None)}))
"""


_CUPY_CODE = (
    _probe_prelude("cupy")
    + r"""
rt = cupy.cuda.runtime
out["version"] = str(cupy.__version__)
out["runtime"] = safe(lambda: int(rt.runtimeGetVersion()))
out["driver"] = safe(lambda: int(rt.driverGetVersion()))
out["device_count"] = safe(lambda: int(rt.getDeviceCount()))
out["device_name"] = safe(lambda: rt.getDeviceProperties(0)["name"].decode())
out["compute"] = safe(lambda: float(cupy.ones(4).sum()))
print(json.dumps(out))
"""
)
CUPY_PACKAGES = ("cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x", "cupy")


def probe_cupy(timeout: float) -> dict[str, Any]:
    """CuPy (ndgrad's ``cuda`` backend) in a fresh interpreter: version, the CUDA runtime it
    loads, the driver's CUDA API version, the devices it sees and one computation."""
    return _run_probe(_CUPY_CODE, "cupy", timeout)


def probe_torch(timeout: float) -> dict[str, Any]:
    return _run_probe(_TORCH_CODE, "torch", timeout)


def probe_import(module: str, timeout: float) -> dict[str, Any]:
    """Import `module` in a fresh interpreter; on failure keep the end of the traceback."""
    code = _IMPORT_CODE.replace("sys.argv[1]", repr(module))
    result = run_python(code, timeout)
    if result.returncode == 0:
        try:
            data = last_json_line(result.stdout)
            data["stderr"] = result.stderr[-2000:]
            return {"ok": True, **data}
        except ProbeFailed:
            pass
    return {"ok": False, "error": (result.output.strip() or f"exit {result.returncode}")[-3000:]}


# --- Jupyter ---------------------------------------------------------------------------------


def jupyter_kernel_dirs() -> list[Path]:
    """Jupyter's data path + 'kernels', in jupyter_core's order, for when jupyter_core is absent."""
    dirs: list[str] = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if os.environ.get("JUPYTER_DATA_DIR"):
        dirs.append(os.environ["JUPYTER_DATA_DIR"])
    elif sys.platform == "darwin":
        dirs.append(str(Path.home() / "Library" / "Jupyter"))
    elif os.name == "nt":
        dirs.append(str(Path(os.environ.get("APPDATA", Path.home())) / "jupyter"))
    else:
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        dirs.append(str(Path(xdg) / "jupyter"))
    dirs.append(str(Path(sys.prefix) / "share" / "jupyter"))
    if os.name == "nt":
        dirs.append(str(Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "jupyter"))
    else:
        dirs += ["/usr/local/share/jupyter", "/usr/share/jupyter"]
    return [Path(d) / "kernels" for d in dirs]


def probe_kernelspecs() -> dict[str, Any]:
    """Kernelspecs via jupyter_client when installed, else by reading kernel.json files."""
    specs: list[parsers.KernelSpec] = []
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except Exception:
        KernelSpecManager = None  # noqa: N806
    if KernelSpecManager is not None:
        for name, entry in KernelSpecManager().get_all_specs().items():
            spec = entry.get("spec", {})
            specs.append(
                parsers.KernelSpec(
                    name=name,
                    resource_dir=str(entry.get("resource_dir", "")),
                    argv=tuple(str(a) for a in spec.get("argv", [])),
                    display_name=str(spec.get("display_name", "")),
                    language=str(spec.get("language", "")),
                )
            )
        source = "jupyter_client"
    else:
        seen: set[str] = set()
        for directory in jupyter_kernel_dirs():
            for kernel_json in sorted(directory.glob("*/kernel.json")):
                name = kernel_json.parent.name.lower()
                if name in seen:
                    continue  # earlier path entries win, as in jupyter_client
                seen.add(name)
                try:
                    text = read_small_file(kernel_json).decode("utf-8", errors="replace")
                    specs.append(parsers.parse_kernel_json(text, name, str(kernel_json.parent)))
                except (OSError, ValueError, RecursionError, parsers.ParseError):
                    continue
        source = "kernel.json files"
    return {"source": source, "specs": [spec.__dict__ for spec in specs]}


def probe_conda(timeout: float) -> dict[str, Any]:
    conda = os.environ.get("CONDA_EXE") or shutil.which("conda")
    if not conda:
        return {"present": False}
    result = run_command([conda, "env", "list", "--json"], timeout)
    try:
        envs = parsers.parse_conda_env_list(result.stdout)
    except parsers.ParseError as error:
        raise ProbeFailed(f"could not read `conda env list --json` ({error})") from None
    return {"present": True, "exe": conda, "envs": envs}


# --- Running them all ------------------------------------------------------------------------


@dataclass
class Facts:
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.values.get(key, Unavailable("not gathered"))


def gather(timeout: float | None = None) -> Facts:
    """Run every probe in a thread pool (they mostly wait on subprocesses), each bounded by its
    timeout. `timeout`, if given, overrides the per-probe defaults."""
    tool_timeout = timeout or DEFAULT_TOOL_TIMEOUT
    python_timeout = timeout or DEFAULT_PYTHON_TIMEOUT
    facts = Facts()
    facts.values["python"] = _guard(probe_python)
    packages = _guard(probe_packages)
    facts.values["packages"] = packages
    installed = packages if isinstance(packages, dict) else {}

    jobs: dict[str, Callable[[], Any]] = {
        "numpy_selftest": lambda: probe_numpy_and_selftest(python_timeout),
        "gpu": lambda: probe_gpu(tool_timeout, python_timeout),
        "nvcc": lambda: probe_nvcc(tool_timeout),
        "kernelspecs": probe_kernelspecs,
        "conda": lambda: probe_conda(max(tool_timeout, 15.0) if timeout is None else timeout),
    }
    if "torch" in installed:
        jobs["torch"] = lambda: probe_torch(python_timeout)
    if any(name in installed for name in CUPY_PACKAGES):
        jobs["cupy"] = lambda: probe_cupy(python_timeout)
    for module, dist in (("torchvision", "torchvision"), ("torchaudio", "torchaudio")):
        if dist in installed:
            jobs[f"import_{module}"] = lambda m=module: probe_import(m, python_timeout)
    if "pillow" in installed:
        jobs["import_PIL"] = lambda: probe_import("PIL.Image", python_timeout)
    # The command line's own packages: the doctor runs without them, the rest of ndgrad not.
    for module in ("typer", "rich"):
        jobs[f"import_{module}"] = lambda m=module: probe_import(m, python_timeout)

    # A hung thread can't be killed, but every probe's subprocess has its own timeout; the
    # outer wait is a second safety net. Threads are daemon-like via shutdown(wait=False).
    pool = ThreadPoolExecutor(max_workers=len(jobs))
    futures = {key: pool.submit(_guard, job) for key, job in jobs.items()}
    budget = python_timeout + 10
    for key, future in futures.items():
        try:
            facts.values[key] = future.result(timeout=budget)
        except FutureTimeout:
            facts.values[key] = Unavailable(f"no answer within {budget:g} s")
    pool.shutdown(wait=False, cancel_futures=True)

    combined = facts.values.pop("numpy_selftest")
    if isinstance(combined, Unavailable):
        facts.values["numpy"] = facts.values["selftest"] = combined
    else:
        facts.values.update(combined)
    return facts


def _guard(job: Callable[[], Any]) -> Any:
    """Turn any failure of a probe into Unavailable: the doctor must never crash."""
    try:
        return job()
    except ProbeFailed as error:
        return Unavailable(str(error))
    except Exception as error:  # a bug or a surprise in the environment; report, don't crash
        return Unavailable(f"{type(error).__name__}: {error}")
