"""Parsers on the verbatim samples of the shared reference (tests/doctor/fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ndgrad.doctor import parsers

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "driver", "cuda"),
    [
        ("smi_header_331_cbio.txt", "331.62", None),  # before the CUDA Version field existed
        ("smi_header_461_windows.txt", "461.72", "11.2"),
        ("smi_header_535_devcontainers.txt", "535.216.03", "12.2"),
        ("smi_header_580.txt", "580.95.05", "13.0"),
    ],
)
def test_smi_header_of_several_driver_generations(name: str, driver: str, cuda: str | None):
    report = parsers.parse_smi_header(fixture(name))
    assert (report.driver_version, report.cuda_version) == (driver, cuda)


def test_smi_without_driver_is_recognised():
    with pytest.raises(parsers.DriverUnreachable):
        parsers.parse_smi_header(fixture("smi_no_driver.txt"))


@pytest.mark.parametrize("garbage", ["", "Segmentation fault", "Driver Version: \n", "\x00\xff"])
def test_smi_header_garbage_raises_parse_error(garbage: str):
    with pytest.raises(parsers.ParseError):
        parsers.parse_smi_header(garbage)


def test_smi_q():
    report = parsers.parse_smi_q(fixture("smi_q_gputil.txt"))
    assert (report.driver_version, report.cuda_version) == ("442.92", "10.2")


def test_smi_list_drops_uuid():
    assert parsers.parse_smi_list(fixture("smi_L.txt")) == (
        parsers.Gpu("NVIDIA GeForce RTX 4080 SUPER"),
    )


def test_smi_query_csv_with_header_and_units():
    report = parsers.parse_smi_query(fixture("smi_query_l40.csv"))
    assert report.driver_version == "580.126.09"
    assert report.gpus == (parsers.Gpu("NVIDIA L40", 46068),) * 2
    single = parsers.parse_smi_query(fixture("smi_query_2070.csv"))
    assert single.gpus == (parsers.Gpu("NVIDIA GeForce RTX 2070 SUPER", 8192),)
    assert single.driver_version == "560.94"


def test_smi_query_csv_noheader_nounits_extra_column_is_not_a_capability():
    report = parsers.parse_smi_query(fixture("smi_query_noheader_nounits.csv"))
    assert report.gpus == (parsers.Gpu("GeForce RTX 3090", 24576, None),)
    with_cc = parsers.parse_smi_query("NVIDIA L40, 580.126.09, 46068, 8.9\n")
    assert with_cc.gpus[0].compute_capability == "8.9"


def test_smi_query_garbage():
    with pytest.raises(parsers.ParseError):
        parsers.parse_smi_query('Field "compute_cap" is not a valid field to query.')


@pytest.mark.parametrize(
    ("name", "release", "full"),
    [
        ("nvcc_10_1_k2.txt", "10.1", "10.1.243"),  # no Build line
        ("nvcc_11_8_worddumb.txt", "11.8", "11.8.89"),  # Build line after the release line
        ("nvcc_13_0_protenix.txt", "13.0", "13.0.88"),
    ],
)
def test_nvcc(name: str, release: str, full: str):
    assert parsers.parse_nvcc(fixture(name)) == parsers.NvccVersion(release, full)


def test_nvcc_garbage():
    with pytest.raises(parsers.ParseError):
        parsers.parse_nvcc("nvcc fatal   : No input files specified")


@pytest.mark.parametrize(
    ("number", "cuda"), [(12080, "12.8"), ("11040", "11.4"), (12010, "12.1"), (13000, "13.0")]
)
def test_decode_cuda_api_version(number, cuda):
    assert parsers.decode_cuda_api_version(number) == cuda


def test_collect_env_windows_gpu():
    report = parsers.parse_collect_env(fixture("collect_env_51858_windows.txt"))
    fields = report.fields
    assert fields["torch_version"] == "2.0.1+cu117"
    assert fields["cuda_compiled_version"] == "11.7"
    assert fields["is_cuda_available"] == "True"
    assert fields["nvidia_driver_version"] == "535.98"
    assert fields["nvidia_gpu_models"] == "GPU 0: NVIDIA GeForce GTX 1050 Ti"
    assert parsers.collect_env_bits(fields["python_version"]) == 64
    assert report.pip == {
        "torch": "2.0.1+cu117",
        "torchaudio": "2.0.2+cu117",
        "torchvision": "0.15.2",
    }


def test_collect_env_cpu_wheel_on_gpu_machine():
    report = parsers.parse_collect_env(fixture("collect_env_122924_cpu_wheel.txt"))
    assert report.fields["cuda_compiled_version"] is None  # "Could not collect"
    assert report.fields["nvidia_gpu_models"].endswith("RTX 4080 Laptop GPU")
    assert report.conda == {"cudatoolkit": "11.8.0"}


def test_collect_env_macos_and_32bit():
    mac = parsers.parse_collect_env(fixture("collect_env_157648_macos.txt"))
    assert mac.fields["cuda_compiled_version"] is None
    assert mac.fields["nvidia_driver_version"] is None
    old = parsers.parse_collect_env(fixture("collect_env_47354_32bit.txt"))
    assert old.fields["torch_version"] is None
    assert parsers.collect_env_bits(old.fields["python_version"]) == 32


def test_collect_env_multiline_gpu_list():
    text = "PyTorch version: 2.3.0\nGPU models and configuration: \nGPU 0: A\nGPU 1: B\nOS: x\n"
    assert parsers.parse_collect_env(text).fields["nvidia_gpu_models"] == "GPU 0: A\nGPU 1: B"


def test_collect_env_garbage():
    with pytest.raises(parsers.ParseError):
        parsers.parse_collect_env("hello\nworld")


# Structure from jupyter_client kernelspecapp.py (`jupyter kernelspec list --json`).
KERNELSPEC_LIST_JSON = json.dumps(
    {
        "kernelspecs": {
            "python3": {
                "resource_dir": "/home/u/.venv/share/jupyter/kernels/python3",
                "spec": {
                    "argv": [
                        "/home/u/.venv/bin/python",
                        "-m",
                        "ipykernel_launcher",
                        "-f",
                        "{connection_file}",
                    ],
                    "env": {},
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                    "interrupt_mode": "signal",
                    "metadata": {"debugger": True},
                    "kernel_protocol_version": "5.5",
                },
            }
        }
    }
)


def test_kernelspec_list_json():
    (spec,) = parsers.parse_kernelspec_list_json(KERNELSPEC_LIST_JSON)
    assert spec.name == "python3"
    assert spec.argv[0] == "/home/u/.venv/bin/python"
    assert spec.display_name == "Python 3 (ipykernel)"
    with pytest.raises(parsers.ParseError):
        parsers.parse_kernelspec_list_json("Available kernels:\n  python3  /x")


def test_kernel_json():
    spec_json = json.loads(KERNELSPEC_LIST_JSON)["kernelspecs"]["python3"]["spec"]
    spec = parsers.parse_kernel_json(json.dumps(spec_json), "python3", "/r")
    assert spec.argv[1:3] == ("-m", "ipykernel_launcher")
    for bad in ("{", '{"display_name": "x"}', "[]"):
        with pytest.raises(parsers.ParseError):
            parsers.parse_kernel_json(bad, "k", "/r")


def test_kernelspec_list_text_with_nb_conda_kernels_name():
    text = "Available kernels:\n" + fixture("nb_conda_kernels_185.txt")
    assert parsers.parse_kernelspec_list_text(text) == {
        "conda-env-fastai-py": "/opt/conda/envs/fastai/share/jupyter/kernels/python3"
    }


def test_conda_env_list_json():
    assert parsers.parse_conda_env_list(fixture("conda_env_list_6797.json")) == [
        "C:\\Miniconda3",
        "C:\\Miniconda3\\envs\\my-first-env",
    ]


CONDA_TEXT_TABLE = """# conda environments:
#
base                  *  /opt/conda
d2l                      /opt/conda/envs/d2l
                         /home/u/elsewhere/env
"""


@pytest.mark.parametrize(
    "text",
    [
        CONDA_TEXT_TABLE,  # conda 23.7 ignored --json (conda#12935, #12972)
        # ~25.7 printed the whole `conda info --json` (fixed in conda PR #15353)
        json.dumps(
            {
                "conda_version": "25.7.0",
                "root_prefix": "/opt/conda",
                "envs": ["/opt/conda", "/opt/conda/envs/d2l", "/home/u/elsewhere/env"],
                "envs_dirs": ["/opt/conda/envs"],
            }
        ),
        # A warning printed before the JSON
        "==> WARNING: A newer version of conda exists. <==\n"
        + json.dumps({"envs": ["/opt/conda", "/opt/conda/envs/d2l", "/home/u/elsewhere/env"]}),
        # envs_details without envs (newer conda, conda#15330)
        json.dumps(
            {
                "envs_details": {
                    "/opt/conda": {},
                    "/opt/conda/envs/d2l": {},
                    "/home/u/elsewhere/env": {},
                }
            }
        ),
        # Output cut off mid-string: keep the complete entries
        '{"envs": ["/opt/conda", "/opt/conda/envs/d2l", "/home/u/elsewhere/env", "/opt/co',
    ],
    ids=["text-table", "conda-info-json", "warning-prefix", "envs-details", "truncated"],
)
def test_conda_env_list_malformed_variants(text: str):
    assert parsers.parse_conda_env_list(text) == [
        "/opt/conda",
        "/opt/conda/envs/d2l",
        "/home/u/elsewhere/env",
    ]


@pytest.mark.parametrize("garbage", ["", "{}", "not conda at all", '{"envs": 3}'])
def test_conda_env_list_garbage(garbage: str):
    with pytest.raises(parsers.ParseError):
        parsers.parse_conda_env_list(garbage)
