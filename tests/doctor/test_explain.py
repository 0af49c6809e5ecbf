"""`ndgrad doctor explain` recognises the known failures and says so when it does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ndgrad.doctor.cli import app
from ndgrad.doctor.explain import explain

FIXTURES = Path(__file__).parent / "fixtures"


def only(text: str):
    diagnoses = explain(text)
    assert diagnoses[0].known, f"not recognised: {text!r}"
    return diagnoses[0]


@pytest.mark.parametrize(
    ("message", "expected_id", "fix_fragment"),
    [
        (
            (FIXTURES / "nbconvert_contextfilter.txt").read_text(),
            "jinja2-contextfilter",
            "nbconvert>=6.4.5",
        ),
        (
            "AttributeError: module 'jinja2.utils' has no attribute 'escape'",
            "jinja2-utils-escape",
            "nbconvert>=6.4.5",
        ),
        (
            "ImportError: cannot import name 'soft_unicode' from 'markupsafe' (/x/__init__.py)",
            "markupsafe-soft-unicode",
            "markupsafe==2.0.1",
        ),
        (
            "    from . import _imaging as core\n"
            "ImportError: DLL load failed while importing _imaging: "
            "The specified module could not be found.",
            "pillow-imaging-dll",
            "--force-reinstall pillow",
        ),
        (
            '    @torch.library.register_fake("torchvision::nms")\nRuntimeError: operator '
            "torchvision::nms does not exist",
            "torchvision-nms",
            "pip uninstall -y torch torchvision",
        ),
        (
            "CUDA error: CUDA driver version is insufficient for CUDA runtime version",
            "cuda-driver-insufficient",
            "driver",
        ),
        (
            "AssertionError: Torch not compiled with CUDA enabled",
            "torch-not-compiled-cuda",
            "--index-url",
        ),
        (
            "ERROR: No matching distribution found for torch",
            "torch-no-matching-distribution",
            "struct.calcsize",
        ),
        (
            "The kernel appears to have died. It will restart automatically.",
            "jupyter-kernel-died",
            "python your_script.py",
        ),
        (
            "jupyter_client.kernelspec.NoSuchKernel: No such kernel named d2l",
            "jupyter-kernel-not-found",
            "--name d2l",
        ),
    ],
)
def test_known_messages(message: str, expected_id: str, fix_fragment: str):
    diagnosis = only(message)
    assert diagnosis.id == expected_id
    assert diagnosis.cause
    assert any(fix_fragment in fix for fix in diagnosis.fixes), diagnosis.fixes


def test_driver_too_old_number_is_decoded():
    diagnosis = only((FIXTURES / "torch_driver_too_old_162531.txt").read_text())
    assert diagnosis.id == "torch-driver-too-old"
    assert "CUDA up to 12.8" in diagnosis.cause and "12080" in diagnosis.cause
    # The suggested wheel is the newest torch built for CUDA <= 12.8 (2.14 has cu126).
    (install,) = [fix for fix in diagnosis.fixes if "--index-url" in fix]
    tag = int(install.rsplit("/cu", 1)[1])
    assert 120 <= tag <= 128


def test_no_wheel_names_32bit_cause():
    diagnosis = only((FIXTURES / "pip_32bit_webui_10592.txt").read_text())
    assert diagnosis.id == "torch-no-matching-distribution"
    assert "32-bit Python" in diagnosis.cause


def test_no_wheel_names_python_version_cause():
    log = (
        "Python 3.7.9\nERROR: Could not find a version that satisfies the requirement torch "
        "(from versions: none)\nERROR: No matching distribution found for torch"
    )
    diagnosis = only(log)
    assert "Python 3.7" in diagnosis.cause


def test_old_pip_placeholder_versions():
    log = (
        "ERROR: Could not find a version that satisfies the requirement torch "
        "(from versions: 0.1.2, 0.1.2.post1, 0.1.2.post2)"
    )
    assert only(log).id == "torch-no-matching-distribution"


def test_log_with_two_failures_lists_both_in_order():
    log = "ImportError: cannot import name 'soft_unicode' from 'markupsafe'\n...\n" + (
        "AssertionError: Torch not compiled with CUDA enabled"
    )
    assert [d.id for d in explain(log)] == ["markupsafe-soft-unicode", "torch-not-compiled-cuda"]


def test_unknown_message_says_so_and_suggests_doctor():
    (diagnosis,) = explain("ValueError: something nobody has seen")
    assert not diagnosis.known
    assert any("ndgrad doctor" in fix for fix in diagnosis.fixes)


runner = CliRunner()


def test_cli_argument_file_and_stdin(tmp_path: Path):
    result = runner.invoke(app, ["explain", "Torch not compiled with CUDA enabled"])
    assert result.exit_code == 0 and "CPU-only" in result.output
    log = tmp_path / "log.txt"
    log.write_text("blah\nAttributeError: module 'jinja2.utils' has no attribute 'escape'\n")
    result = runner.invoke(app, ["explain", "--file", str(log), "--json"])
    assert result.exit_code == 0 and '"jinja2-utils-escape"' in result.output
    result = runner.invoke(app, ["explain"], input="operator torchvision::nms does not exist")
    assert result.exit_code == 0 and "torchvision-nms" in result.output
    result = runner.invoke(app, ["explain", "nothing known here"])
    assert result.exit_code == 1 and "ndgrad doctor" in result.output
    result = runner.invoke(app, ["explain", "--file", str(tmp_path / "missing.log")])
    assert result.exit_code == 2


def test_collect_env_reports_are_judged():
    (cpu,) = explain((FIXTURES / "collect_env_122924_cpu_wheel.txt").read_text())
    assert cpu.id == "collect-env-cpu-wheel-on-gpu" and "RTX 4080 Laptop GPU" in cpu.cause
    (bits,) = explain((FIXTURES / "collect_env_47354_32bit.txt").read_text())
    assert bits.id == "collect-env-32bit"
    # A healthy GPU report and a macOS report contain nothing to fix.
    assert not explain((FIXTURES / "collect_env_51858_windows.txt").read_text())[0].known
    assert not explain((FIXTURES / "collect_env_157648_macos.txt").read_text())[0].known
