"""``ndgrad doctor``'s CuPy verdicts (the ``cuda`` device's backend) from hand-made facts."""

from __future__ import annotations

from typing import Any

from tests.doctor.test_checks import gpu, make_facts

from ndgrad.doctor import checks


def cupy_finding(**values: Any) -> checks.Finding:
    (finding,) = checks.check_cupy(make_facts(**values))
    assert finding.id == "cupy"
    return finding


def cupy_facts(runtime: int = 12080, count: Any = 1, compute: Any = 4.0) -> dict:
    return {
        "version": "14.2.0",
        "runtime": runtime,
        "driver": 13000,
        "device_count": count,
        "device_name": "NVIDIA H200",
        "compute": compute,
    }


def test_no_gpu_no_cupy_is_fine() -> None:
    assert cupy_finding().status == "ok"


def test_gpu_without_cupy_names_the_extra_for_the_driver() -> None:
    f = cupy_finding(gpu=gpu("580.95.05", "13.0"))
    assert f.status == "warn" and f.fix == 'pip install "ndgrad[cuda13]"'
    f = cupy_finding(gpu=gpu("550.54.14", "12.4"))
    assert f.fix == 'pip install "ndgrad[cuda12]"'
    f = cupy_finding(gpu=gpu("470.82.01", "11.4"))
    assert f.status == "warn" and "update the NVIDIA driver" in f.fix


def test_working_cupy_reports_versions_and_device() -> None:
    f = cupy_finding(
        gpu=gpu("580.95.05", "13.0"),
        packages={"cupy-cuda12x": "14.2.0"},
        cupy=cupy_facts(),
    )
    assert f.status == "ok"
    assert "CuPy 14.2.0" in f.found and "CUDA runtime 12.8" in f.found and "H200" in f.found


def test_cuda13_wheel_on_a_cuda12_driver_fails_with_the_swap() -> None:
    f = cupy_finding(
        gpu=gpu("550.54.14", "12.4"),
        packages={"cupy-cuda13x": "14.2.0"},
        cupy=cupy_facts(runtime=13000, count={"error": "CUDARuntimeError: driver too old"}),
    )
    assert f.status == "fail"
    assert f.fix == 'pip uninstall -y cupy-cuda13x && pip install "ndgrad[cuda12]"'
    assert "580" in f.why


def test_cupy_without_a_device_or_broken_compute() -> None:
    no_device = cupy_finding(
        packages={"cupy-cuda12x": "14.2.0"},
        cupy=cupy_facts(count={"error": "CUDARuntimeError: no CUDA-capable device"}),
    )
    assert no_device.status == "warn" and "no CUDA-capable device" in no_device.found
    broken = cupy_finding(
        gpu=gpu("580.95.05", "13.0"),
        packages={"cupy-cuda12x": "14.2.0"},
        cupy=cupy_facts(compute={"error": "CUDADriverError: CUDA_ERROR_NO_BINARY_FOR_GPU"}),
    )
    assert broken.status == "fail" and "NO_BINARY" in broken.found


def test_cupy_import_error_is_reported() -> None:
    f = cupy_finding(
        packages={"cupy-cuda12x": "14.2.0"},
        cupy={"import_error": "Traceback...\nImportError: libcudart.so.12: cannot open"},
    )
    assert f.status == "fail" and "libcudart" in f.found
