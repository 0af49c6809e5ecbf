"""End to end: fake `nvidia-smi`, `nvcc` and `conda` first on PATH, kernelspecs in a temporary
JUPYTER_PATH, fake torch / nbconvert / Jinja2 distributions on PYTHONPATH, and the real
`python -m ndgrad doctor --json` in a subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ndgrad

pytestmark = pytest.mark.skipif(os.name == "nt", reason="fake tools are POSIX shell scripts")


def write_tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    path.chmod(path.stat().st_mode | stat.S_IEXEC | stat.S_IXGRP | stat.S_IXOTH)


def fake_nvidia_smi(bin_dir: Path, driver: str, cuda: str, name: str = "NVIDIA GeForce RTX 3090"):
    # Header layout of the 535 sample; driver 470 does not know the compute_cap field.
    write_tool(
        bin_dir,
        "nvidia-smi",
        f"""\
        case "$*" in
          *compute_cap*) echo 'Field "compute_cap" is not a valid field to query.'; exit 2;;
          *--query-gpu*) echo "{name}, {driver}, 24576"; exit 0;;
        esac
        echo "| NVIDIA-SMI {driver}      Driver Version: {driver}   CUDA Version: {cuda}  |"
        """,
    )


def fake_nvcc(bin_dir: Path, release: str, full: str) -> None:
    write_tool(
        bin_dir,
        "nvcc",
        f"""\
        echo "nvcc: NVIDIA (R) Cuda compiler driver"
        echo "Cuda compilation tools, release {release}, V{full}"
        echo "Build cuda_{release}.r{release}/compiler.0_0"
        """,
    )


def dist_info(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


FAKE_TORCH = """
import os, warnings
__version__ = "2.3.0+cu121"

class version:
    cuda = "12.1"

class cuda:
    @staticmethod
    def is_available():
        if os.environ.get("FAKE_TORCH_DRIVER_TOO_OLD"):
            warnings.warn("CUDA initialization: The NVIDIA driver on your system is too old "
                          "(found version 11040). Please update your GPU driver")
            return False
        return True

    @staticmethod
    def device_count():
        return 0 if os.environ.get("FAKE_TORCH_DRIVER_TOO_OLD") else 1

class backends:
    class cudnn:
        @staticmethod
        def version():
            return 8902
"""


def make_machine(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A fake machine: returns (environment, bin dir). Driver and toolkit are added per test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    site = tmp_path / "site"
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "__init__.py").write_text(FAKE_TORCH)
    dist_info(site, "torch", "2.3.0+cu121")

    # conda: base has ipykernel and a registered kernel; env d2l has Python but no ipykernel.
    conda_root = tmp_path / "conda"
    for prefix in (conda_root, conda_root / "envs" / "d2l"):
        (prefix / "bin").mkdir(parents=True)
        (prefix / "bin" / "python").write_text("")
    (conda_root / "lib" / "python3.11" / "site-packages" / "ipykernel").mkdir(parents=True)
    envs = json.dumps({"envs": [str(conda_root), str(conda_root / "envs" / "d2l")]})
    write_tool(bin_dir, "conda", f"echo '{envs}'\n")

    kernels = tmp_path / "jupyter" / "kernels"
    for name, python in (
        ("conda-base", str(conda_root / "bin" / "python")),
        ("ghost", "/nonexistent/envs/old/bin/python"),
    ):
        (kernels / name).mkdir(parents=True)
        spec = {
            "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": name,
            "language": "python",
        }
        (kernels / name / "kernel.json").write_text(json.dumps(spec))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "JUPYTER"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        # the fake torch first, then this checkout's ndgrad (not whichever one is installed)
        PYTHONPATH=f"{site}{os.pathsep}{Path(ndgrad.__file__).resolve().parents[1]}",
        JUPYTER_PATH=str(tmp_path / "jupyter"),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-user"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        NDGRAD_DOCTOR_NO_NVML="1",
        NO_COLOR="1",
    )
    return env, bin_dir


def run_doctor(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "ndgrad", "doctor", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    try:
        report = json.loads(result.stdout)  # --json output must be plain JSON on stdout
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not JSON:\n{result.stdout}\nstderr:\n{result.stderr}")
    assert result.returncode == report["exit_code"]
    return result.returncode, {f["id"]: f for f in report["findings"]}


@pytest.fixture(scope="module")
def broken_machine(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict]:
    """Driver 470 (CUDA 11.4), CUDA 12.1 toolkit, cu121 torch, nbconvert 6.0 + Jinja2 3.1,
    a conda env without ipykernel, a kernelspec whose interpreter is gone."""
    tmp_path = tmp_path_factory.mktemp("broken")
    env, bin_dir = make_machine(tmp_path)
    fake_nvidia_smi(bin_dir, "470.82.01", "11.4")
    fake_nvcc(bin_dir, "12.1", "12.1.105")
    dist_info(tmp_path / "site", "nbconvert", "6.0.0")
    dist_info(tmp_path / "site", "Jinja2", "3.1.0")
    # torchvision matches torch 2.3 on paper but its import dies like a mixed-index install;
    # Pillow's C extension does not load.
    site = tmp_path / "site"
    dist_info(site, "torchvision", "0.18.0+cu121")
    (site / "torchvision").mkdir()
    (site / "torchvision" / "__init__.py").write_text(
        'raise RuntimeError("operator torchvision::nms does not exist")\n'
    )
    (site / "PIL").mkdir()
    (site / "PIL" / "__init__.py").write_text("")
    (site / "PIL" / "Image.py").write_text(
        'raise ImportError("DLL load failed while importing _imaging: module not found")\n'
    )
    env["FAKE_TORCH_DRIVER_TOO_OLD"] = "1"
    return run_doctor(env)


def test_driver_470_with_cuda_12_1_toolkit_fails_with_driver_fix(broken_machine):
    code, findings = broken_machine
    assert code == 1
    gpu = findings["gpu"]
    assert gpu["status"] == "ok" and "470.82.01" in gpu["found"] and "11.4" in gpu["found"]
    toolkit = findings["cuda.toolkit"]
    assert toolkit["status"] == "fail"
    assert "CUDA toolkit 12.1" in toolkit["found"]
    # Table 3: CUDA 12.1 needs 530.30.02 on Linux; or use a toolkit the driver supports.
    assert "530.30.02" in toolkit["fix"] and "<= 11.4" in toolkit["fix"]


def test_cu121_torch_on_cuda_11_4_driver_fails_with_fitting_wheel(broken_machine):
    _, findings = broken_machine
    torch_cuda = findings["torch.cuda"]
    assert torch_cuda["status"] == "fail"
    assert "CUDA 12.1" in torch_cuda["found"] and "11.4" in torch_cuda["found"]
    # Driver 470 runs CUDA 11.x builds via minor-version compatibility: newest is torch 2.7 cu118.
    assert "--index-url https://download.pytorch.org/whl/cu118" in torch_cuda["fix"]
    assert '"torch==2.7.*"' in torch_cuda["fix"]
    install = findings["install.torch"]
    assert install["fix"] == "" and torch_cuda["fix"].splitlines()[-1] in install["found"]


def test_conda_env_without_ipykernel_gets_install_command(broken_machine):
    _, findings = broken_machine
    conda = findings["jupyter.conda_envs"]
    assert conda["status"] == "warn"
    assert "d2l (no ipykernel)" in conda["found"]
    assert "base" not in conda["found"]  # base has a registered kernel
    assert "conda install -n d2l ipykernel" in conda["fix"]
    assert "python -m ipykernel install --user --name d2l" in conda["fix"]


def test_nbconvert_6_with_jinja2_3_1_gets_upgrade_command(broken_machine):
    _, findings = broken_machine
    rule = findings["jupyter.nbconvert_jinja2"]
    assert rule["status"] == "fail"
    assert "nbconvert 6.0.0" in rule["found"] and "jinja2 3.1.0" in rule["found"]
    assert 'pip install -U "nbconvert>=6.4.5"' in rule["fix"]


def test_kernelspec_with_missing_interpreter_is_reported(broken_machine):
    _, findings = broken_machine
    kernels = findings["jupyter.kernels"]
    assert kernels["status"] == "warn" and "ghost" in kernels["found"]
    assert "jupyter kernelspec uninstall -y ghost" in kernels["fix"]


def test_torchvision_and_pillow_import_failures_are_diagnosed(broken_machine):
    _, findings = broken_machine
    vision = findings["torchvision"]
    assert vision["status"] == "fail" and "torchvision::nms" in vision["found"]
    assert "pip uninstall -y torch torchvision torchaudio" in vision["fix"]
    pillow = findings["pillow"]
    assert pillow["status"] == "fail" and "_imaging" in pillow["found"]
    assert "pip install --force-reinstall pillow" in pillow["fix"]


def test_healthy_gpu_machine_has_no_false_alarms(tmp_path: Path):
    env, bin_dir = make_machine(tmp_path)
    fake_nvidia_smi(bin_dir, "550.54.14", "12.4")
    fake_nvcc(bin_dir, "12.1", "12.1.105")
    code, findings = run_doctor(env)
    assert findings["cuda.toolkit"]["status"] == "ok"
    assert findings["torch.cuda"]["status"] == "ok"
    assert findings["torch.cudnn"]["status"] == "ok"
    # A 12.4 driver runs the pinned torch's CUDA 12.6 build through minor-version compatibility.
    assert findings["install.torch"]["status"] == "ok" and not findings["install.torch"]["fix"]
    assert '"torch==2.13.*"' in findings["install.torch"]["found"]
    assert findings["install.torch"]["found"].endswith("/cu126")
    failing = {key for key, f in findings.items() if f["status"] == "fail"}
    assert failing == set()
    # ndgrad's own gradient self-test runs for real in the doctor's subprocess.
    assert findings["ndgrad.selftest"]["status"] == "ok"


def test_hanging_and_garbage_tools_become_skipped_quickly(tmp_path: Path):
    env, bin_dir = make_machine(tmp_path)
    write_tool(bin_dir, "nvidia-smi", "sleep 30\n")  # a child of sh: must be killed too
    write_tool(bin_dir, "nvcc", "echo 'Segmentation fault'\n")
    write_tool(bin_dir, "conda", "echo 'usage: conda [-h]'\n")
    # The hanging tool (30 s) is killed after 2 s: the run ends well inside the subprocess's
    # 25 s limit, else subprocess.TimeoutExpired fails the test (a hang guard, not a timing).
    code, findings = run_doctor(env, "--timeout", "2", timeout=25)
    assert findings["gpu"]["status"] == "skipped" and "did not answer" in findings["gpu"]["found"]
    assert findings["cuda.toolkit"]["status"] == "skipped"
    assert "could not check" in findings["cuda.toolkit"]["found"]
    assert findings["jupyter.conda_envs"]["status"] == "skipped"


def test_this_machine_reports_no_gpu_as_normal():
    """The real machine, no fakes. Without a GPU: 'no NVIDIA GPU' is ok, and an nvcc on PATH
    without a driver is not a failure (a build machine is a valid set-up)."""
    env = dict(os.environ, NO_COLOR="1")
    code, findings = run_doctor(env)
    gpu = findings["gpu"]
    if "no NVIDIA GPU" not in gpu["found"]:
        pytest.skip(f"this machine has a GPU: {gpu['found']}")
    assert gpu["status"] == "ok"
    assert findings["cuda.toolkit"]["status"] != "fail"
    assert findings["torch.cuda"]["status"] in ("ok", "skipped")
    failing = {key for key, f in findings.items() if f["status"] == "fail"}
    assert failing == set()
    assert code == (1 if failing else 0)
