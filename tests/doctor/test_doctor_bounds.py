"""The doctor bounds every probe and file: endless output, FIFOs, /dev/zero, huge logs, a
broken NumPy or rich, a full disk. Hang guards are subprocess timeouts, not timings."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ndgrad.doctor import probes

pytestmark = pytest.mark.skipif(os.name == "nt", reason="FIFOs and fake tools are POSIX")
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _env(tmp_path: Path, pythonpath: str = SRC, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "JUPYTER"))}
    env.update(
        PATH=f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=pythonpath,
        JUPYTER_PATH=str(tmp_path / "jupyter"),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-user"),
        NDGRAD_DOCTOR_NO_NVML="1",
        NO_COLOR="1",
        **extra,
    )
    (tmp_path / "bin").mkdir(exist_ok=True)
    return env


def _ndgrad(env: dict[str, str], *args: str, timeout: float = 60, **kw):
    return subprocess.run(
        [sys.executable, "-m", "ndgrad", *args],
        env=env,
        capture_output="stdout" not in kw,
        stderr=subprocess.PIPE if "stdout" in kw else None,
        text=True,
        timeout=timeout,
        **kw,
    )


def test_run_command_stops_a_tool_that_prints_endlessly():
    with pytest.raises(probes.ProbeFailed, match="printed more than"):
        probes.run_command(["yes"], timeout=20)
    with pytest.raises(probes.ProbeFailed, match="printed more than"):  # many short lines
        probes.run_command(["sh", "-c", "seq 1 100000"], timeout=20)
    done = probes.run_command(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=20)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_fake_tools_printing_endlessly_end_as_skipped_findings(tmp_path):
    env = _env(tmp_path)
    _tool(tmp_path / "bin", "nvidia-smi", "yes\n")
    _tool(tmp_path / "bin", "conda", "yes 'conda conda conda'\n")
    _tool(tmp_path / "bin", "nvcc", "exec yes\n")
    result = _ndgrad(env, "doctor", "--json", timeout=60)
    findings = {f["id"]: f for f in json.loads(result.stdout)["findings"]}
    assert "printed more than" in findings["gpu"]["found"]
    assert "printed more than" in findings["jupyter.conda_envs"]["found"]
    assert findings["cuda.toolkit"]["status"] == "skipped"


def test_read_small_file_never_blocks_or_reads_devices(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    for path in (fifo, zero, tmp_path):
        with pytest.raises(OSError, match="not a regular file"):
            probes.read_small_file(path)
    with pytest.raises(OSError, match="larger than 100"):
        probes.read_small_file(big, limit=100)
    assert probes.read_small_file(big, limit=101) == b"x" * 101


def test_kernel_json_fifo_and_dev_zero_are_skipped(tmp_path, monkeypatch):
    kernels = tmp_path / "jupyter" / "kernels"
    for name in ("fifo", "zero", "good"):
        (kernels / name).mkdir(parents=True)
    os.mkfifo(kernels / "fifo" / "kernel.json")
    (kernels / "zero" / "kernel.json").symlink_to("/dev/zero")
    spec = {"argv": ["/usr/bin/python3", "-m", "ipykernel"], "display_name": "good"}
    (kernels / "good" / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setitem(sys.modules, "jupyter_client.kernelspec", None)  # the file reader
    found = probes.probe_kernelspecs()
    assert found["source"] == "kernel.json files"
    names = [s["name"] for s in found["specs"]]
    assert "good" in names and "fifo" not in names and "zero" not in names


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_explain_refuses_special_files(tmp_path, special):
    if special == "fifo":
        special = str(tmp_path / "fifo")
        os.mkfifo(special)
    result = _ndgrad(_env(tmp_path), "doctor", "explain", "--file", special, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not a regular file" in result.stderr


def test_explain_reads_the_end_of_a_huge_log(tmp_path):
    log = tmp_path / "huge.log"
    with open(log, "wb") as out:
        out.write(b"noise\n" * 400_000)  # 2.4 MB
        out.write(b"RuntimeError: Torch not compiled with CUDA enabled\n")
    result = _ndgrad(_env(tmp_path), "doctor", "explain", "--json", "-f", str(log))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["diagnoses"][0]["id"] == "torch-not-compiled-cuda"


def test_explain_found_version_0_is_explained(tmp_path):
    message = "The NVIDIA driver on your system is too old (found version 0)"
    result = _ndgrad(_env(tmp_path), "doctor", "explain", message)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "no working driver" in result.stdout


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "1e9"])
def test_timeout_must_be_finite_and_bounded(tmp_path, value):
    result = _ndgrad(_env(tmp_path), "doctor", f"--timeout={value}", timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--timeout" in lines[0], result.stderr


def test_in_process_cli_checks_the_timeout_too(capsys):
    from ndgrad.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", "--timeout", "inf"])
    assert exit_info.value.code == 2
    assert "--timeout" in capsys.readouterr().err


def test_broken_numpy_and_rich_become_findings(tmp_path):
    site = tmp_path / "site"
    for name in ("numpy", "rich"):
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(f'raise ImportError("{name} is broken here")\n')
    env = _env(tmp_path, pythonpath=f"{site}{os.pathsep}{SRC}")
    result = _ndgrad(env, "doctor", timeout=90)  # the rich table's plain-text fallback
    assert "Traceback" not in result.stderr, result.stderr
    assert "[fail] numpy: NumPy does not import: ImportError: numpy is broken here" in (
        result.stdout
    )
    assert "[fail] rich: rich does not import" in result.stdout
    assert result.returncode == 1


@pytest.mark.parametrize(
    "args",
    [
        ("doctor", "explain", "Torch not compiled with CUDA enabled"),
        ("doctor", "explain", "--json", "Torch not compiled with CUDA enabled"),
        ("calculus", "2*x.T*x", "--shape", "x=4"),
        ("tour", "--help"),
    ],
)
def test_stdout_on_a_full_disk_is_one_line_on_stderr(tmp_path, args):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        result = _ndgrad(_env(tmp_path), *args, stdout=full)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], result.stderr


def test_closed_pipe_is_no_traceback(tmp_path):
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'ndgrad', 'doctor', 'explain', '-'],"
        " stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "p.stdout.close()\n"
        "_, err = p.communicate(b'Torch not compiled with CUDA enabled')\n"
        "sys.stdout.write(err.decode())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stdout and "Exception ignored" not in result.stdout


def test_package_metadata_that_is_a_fifo_is_skipped(tmp_path, monkeypatch):
    site = tmp_path / "site"
    info = site / "trap-1.0.dist-info"
    info.mkdir(parents=True)
    os.mkfifo(info / "METADATA")
    good = site / "fine-2.0.dist-info"
    good.mkdir()
    (good / "METADATA").write_text("Metadata-Version: 2.1\nName: fine\nVersion: 2.0\n")
    monkeypatch.syspath_prepend(str(site))
    versions = probes.probe_packages()
    assert versions["fine"] == "2.0" and "trap" not in versions


def test_deeply_nested_kernel_json_is_skipped(tmp_path, monkeypatch):
    kernels = tmp_path / "jupyter" / "kernels"
    (kernels / "deep").mkdir(parents=True)
    (kernels / "deep" / "kernel.json").write_text("[" * 100_000 + "]" * 100_000)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setitem(sys.modules, "jupyter_client.kernelspec", None)
    found = probes.probe_kernelspecs()
    assert "deep" not in [s["name"] for s in found["specs"]]
