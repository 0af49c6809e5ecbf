"""Verdicts from hand-made facts: fast, no subprocess."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from ndgrad.doctor import checks, rules
from ndgrad.doctor.probes import Facts, Unavailable

PYTHON = {
    "version": [3, 11, 7],
    "version_text": "3.11.7",
    "implementation": "cpython",
    "bits": 64,
    "executable": "/env/bin/python",
    "prefix": "/env",
    "env_kind": "venv",
    "env_name": "env",
    "os": "linux",
    "platform": "linux-x86_64",
}


def make_facts(**values: Any) -> Facts:
    base: dict[str, Any] = {
        "python": dict(PYTHON),
        "packages": {},
        "gpu": {"present": False, "reason": "nvidia-smi not found"},
        "nvcc": {"present": False},
        "kernelspecs": {"source": "test", "specs": []},
        "conda": {"present": False},
    }
    base.update(values)
    return Facts(base)


def gpu(driver: str, cuda: str | None, capability: str | None = "8.6") -> dict[str, Any]:
    return {
        "present": True,
        "source": "nvidia-smi",
        "driver_version": driver,
        "cuda_version": cuda,
        "gpus": [{"name": "GPU", "memory_mib": 8192, "compute_capability": capability}],
    }


def by_id(findings: list[checks.Finding]) -> dict[str, checks.Finding]:
    return {f.id: f for f in findings}


def torch_facts(version: str, cuda: str | None, available: bool, cudnn: Any = None) -> dict:
    return {"version": version, "cuda": cuda, "cuda_available": available, "cudnn": cudnn}


def test_every_status_is_known_and_run_checks_survives_missing_facts():
    findings = checks.run_checks(Facts({}))
    assert findings and all(f.status in checks.STATUSES for f in findings)
    assert by_id(findings)["gpu"].status == "skipped"


def test_32_bit_python_fails_and_gets_no_torch_command():
    facts = make_facts(python=dict(PYTHON, bits=32))
    found = by_id(checks.run_checks(facts))
    assert found["python.bits"].status == "fail"
    assert "python.org" in found["python.bits"].fix
    assert found["install.torch"].status == "warn"


def test_python_too_old_for_current_torch_is_a_warning():
    found = by_id(checks.check_python(make_facts(python=dict(PYTHON, version=[3, 9, 1]))))
    assert found["python.torch_support"].status == "warn"
    assert "2.8" in found["python.torch_support"].found


def test_no_gpu_is_normal():
    (finding,) = checks.check_gpu(make_facts())
    assert finding.status == "ok" and "no NVIDIA GPU" in finding.found


def test_smi_without_driver_warns():
    facts = make_facts(gpu={"present": False, "driver_error": "NVIDIA-SMI has failed"})
    (finding,) = checks.check_gpu(facts)
    assert finding.status == "warn"


def test_old_smi_header_without_cuda_field_uses_table3():
    (finding,) = checks.check_gpu(make_facts(gpu=gpu("470.82.01", None)))
    assert "up to 11.4" in finding.found


def test_nvcc_without_driver_is_not_a_failure():
    facts = make_facts(
        nvcc={"present": True, "path": "/x/nvcc", "release": "13.0", "full": "13.0.88"}
    )
    (finding,) = checks.check_cuda_toolkit(facts)
    assert finding.status == "ok"


@pytest.mark.parametrize(
    ("driver", "release", "status"),
    [
        ("580.95.05", "13.0", "ok"),
        ("535.104.05", "12.2", "ok"),
        ("535.104.05", "12.4", "warn"),  # same major: minor-version compatibility
        ("535.104.05", "13.0", "fail"),  # newer major
        ("470.82.01", "12.1", "fail"),
        ("470.82.01", "11.8", "warn"),
        ("418.39", "10.1", "ok"),
    ],
)
def test_toolkit_against_driver(driver: str, release: str, status: str):
    facts = make_facts(
        gpu=gpu(driver, None),
        nvcc={"present": True, "path": "/x/nvcc", "release": release, "full": release + ".1"},
    )
    (finding,) = checks.check_cuda_toolkit(facts)
    assert finding.status == status, finding


def test_cpu_wheel_on_gpu_machine_warns_with_cuda_install():
    facts = make_facts(
        gpu=gpu("551.86", "12.4"),
        packages={"torch": "2.2.2"},
        torch=torch_facts("2.2.2", None, False),
    )
    found = by_id(checks.check_torch(facts))
    assert found["torch.cuda"].status == "warn"
    assert "pip uninstall -y torch" in found["torch.cuda"].fix
    # 551.86 (CUDA 12.4) runs the pinned torch's cu126 build through minor-version compatibility
    assert '"torch==2.13.*"' in found["torch.cuda"].fix and "/cu126" in found["torch.cuda"].fix


def test_cuda13_torch_on_pascal_gpu_fails():
    facts = make_facts(
        gpu=gpu("580.95.05", "13.0", capability="6.1"),
        packages={"torch": "2.11.0+cu130"},
        torch=torch_facts("2.11.0+cu130", "13.0", True, 91900),
    )
    found = by_id(checks.check_torch(facts))
    assert found["torch.cuda"].status == "fail"
    assert "/cu126" in found["torch.cuda"].fix  # the recommendation avoids CUDA 13 builds


def test_cuda_unavailable_despite_good_driver_fails():
    facts = make_facts(
        gpu=gpu("580.95.05", "13.0"),
        packages={"torch": "2.11.0+cu130"},
        torch=torch_facts("2.11.0+cu130", "13.0", False, 91900) | {"warnings": ["no device"]},
    )
    assert by_id(checks.check_torch(facts))["torch.cuda"].status == "fail"


def test_cudnn_wheel_for_other_cuda_major_fails():
    facts = make_facts(
        gpu=gpu("580.95.05", "13.0"),
        packages={"torch": "2.11.0", "nvidia-cudnn-cu12": "9.1.0", "nvidia-cudnn-cu13": "9.19"},
        torch=torch_facts("2.11.0", "13.0", True, 91900),
    )
    cudnn = by_id(checks.check_torch(facts))["torch.cudnn"]
    assert cudnn.status == "fail" and "nvidia-cudnn-cu12" in cudnn.fix
    assert "nvidia-cudnn-cu13" not in cudnn.fix.splitlines()[0]


def test_cudnn_incompatibility_error_fails():
    facts = make_facts(
        gpu=gpu("580.95.05", "13.0"),
        packages={"torch": "2.11.0"},
        torch=torch_facts(
            "2.11.0", "13.0", True, {"error": "RuntimeError: cuDNN version incompatibility"}
        ),
    )
    assert by_id(checks.check_torch(facts))["torch.cudnn"].status == "fail"


def test_torch_import_crash_is_diagnosed():
    facts = make_facts(
        packages={"torch": "2.6.0"},
        torch={"import_error": "...\nRuntimeError: operator torchvision::nms does not exist"},
    )
    (finding,) = checks.check_torch(facts)
    assert finding.status == "fail" and "pip uninstall -y torch torchvision" in finding.fix


@pytest.mark.parametrize(
    ("packages", "status", "fragment"),
    [
        ({"torch": "2.6.0", "torchvision": "0.23.0"}, "fail", "pairs with torchvision 0.21"),
        ({"torch": "2.5.1+cu118", "torchvision": "0.20.1+cu121"}, "fail", "CUDA variants differ"),
        ({"torch": "2.9.1", "torchvision": "0.24.1"}, "ok", "matches"),
    ],
)
def test_torchvision_pairs(packages: dict, status: str, fragment: str):
    facts = make_facts(packages=packages, import_torchvision={"ok": True})
    found = by_id(checks.check_torch_companions(facts))["torchvision"]
    assert found.status == status and fragment in found.found


def test_torchaudio_patch_may_differ_but_not_minor():
    ok = make_facts(packages={"torch": "2.0.1+cu117", "torchaudio": "2.0.2+cu117"},
                    import_torchaudio={"ok": True})  # fmt: skip
    assert by_id(checks.check_torch_companions(ok))["torchaudio"].status == "ok"
    none_exists = make_facts(packages={"torch": "2.13.0", "torchaudio": "2.11.0"})
    finding = by_id(checks.check_torch_companions(none_exists))["torchaudio"]
    assert finding.status == "fail" and "no torchaudio exists" in finding.found


def test_torchvision_import_failure_from_pillow_is_diagnosed():
    error = "ImportError: DLL load failed while importing _imaging: The specified module..."
    facts = make_facts(
        packages={"torch": "2.0.1", "torchvision": "0.15.2"},
        import_torchvision={"ok": False, "error": error},
    )
    finding = by_id(checks.check_torch_companions(facts))["torchvision"]
    assert finding.status == "fail" and "pillow" in finding.fix


def test_markupsafe_2_1_with_jinja2_2_fails():
    facts = make_facts(packages={"markupsafe": "2.1.1", "jinja2": "2.11.3"})
    finding = by_id(checks.check_jupyter(facts))["jupyter.markupsafe_jinja2"]
    assert finding.status == "fail" and "jinja2>=3" in finding.fix


def test_nbconvert_6_4_5_with_jinja2_3_1_is_fine():
    facts = make_facts(packages={"nbconvert": "6.4.5", "jinja2": "3.1.2"})
    assert by_id(checks.check_jupyter(facts))["jupyter.nbconvert_jinja2"].status == "ok"


def test_env_with_ipykernel_but_no_kernelspec_gets_register_command():
    facts = make_facts(packages={"ipykernel": "6.29.0"})
    finding = by_id(checks.check_jupyter(facts))["jupyter.this_env"]
    assert finding.status == "warn"
    assert (
        finding.fix == 'python -m ipykernel install --user --name env --display-name "Python (env)"'
    )


def test_kernel_for_this_env_is_recognised():
    spec = {"name": "mine", "resource_dir": "/k/mine", "argv": [sys.executable, "-m", "x"]}
    python = dict(PYTHON, prefix=sys.prefix)
    facts = make_facts(python=python, kernelspecs={"source": "t", "specs": [spec]})
    assert by_id(checks.check_jupyter(facts))["jupyter.this_env"].status == "ok"


def test_unavailable_facts_become_skipped_with_reason():
    facts = make_facts(gpu=Unavailable("nvidia-smi did not answer within 10 s"))
    (finding,) = checks.check_gpu(facts)
    assert finding.status == "skipped"
    assert finding.found == "could not check (nvidia-smi did not answer within 10 s)"


@pytest.mark.parametrize(
    ("python", "os_name", "driver", "cc", "expected"),
    [
        # 2.13 is pyproject's pin (what ndgrad is tested against); CUDA minor-version compat counts
        ((3, 11), "linux", None, (), ("2.13", "cpu")),
        ((3, 11), "darwin", None, (), ("2.13", "default")),
        ((3, 11), "linux", "580.95.05", ("9.0",), ("2.13", "cu130")),
        ((3, 11), "linux", "580.95.05", ("6.1",), ("2.13", "cu126")),  # Pascal: no CUDA 13
        ((3, 11), "linux", "470.82.01", (), ("2.7", "cu118")),
        ((3, 9), "linux", "550.54.14", (), ("2.8", "cu128")),  # both via minor compat
        ((3, 11), "linux", "418.39", (), ("2.13", "cpu")),
        ((3, 11), "win32", "572.61", (), ("2.13", "cu126")),
    ],
)
def test_recommend_install(python, os_name, driver, cc, expected):
    rec = checks.recommend_install(python, 64, os_name, driver, cc)
    assert (rec.torch, rec.variant) == expected, rec
    if rec.variant.startswith("cu"):
        assert rec.command.endswith(f"{rules.WHEEL_INDEX}/{rec.variant}")


def test_rules_tables_cite_a_source_on_every_row():
    assert all(row.source for row in rules.CUDA_TOOLKIT_MIN_DRIVER)
    assert all(row.source for row in rules.CUDA_MINOR_VERSION_COMPAT)
    assert all(row.source for row in rules.TORCH_RELEASES)
    assert all(row.source for row in rules.PACKAGE_CONFLICTS)
    assert all(row.source for row in rules.KNOWN_ERRORS)


def test_version_helpers():
    assert rules.parse_version("2.3.0+cu121") == (2, 3, 0)
    assert rules.version_at_least("535.104.05", "535.54.03")
    assert not rules.version_at_least("470.82.01", "525.60.13")
    assert rules.version_at_least("6.4.5", "6.4.5") and not rules.version_at_least(None, "1")
    assert rules.torchvision_for("2.6.0") == "0.21" and rules.torchvision_for("1.13.1") == "0.14"
    assert rules.highest_cuda_for_driver("470.82.01", windows=False) == "11.4"
