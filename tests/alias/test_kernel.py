"""``ndgrad kernel install|list|remove`` and the kernel itself (`python -m ndgrad.kernel`)."""

from __future__ import annotations

import json
import sys

import pytest
from tests.alias.conftest import env

pytest.importorskip("ipykernel")
pytest.importorskip("jupyter_client")


def test_install_list_remove_in_a_prefix(cli, tmp_path):
    prefix = tmp_path / "env"
    result = cli("kernel", "install", "--prefix", str(prefix), "--name", "ndg-test",
                        "--display-name", "ndgrad test")  # fmt: skip
    assert result.returncode == 0, result.stderr
    spec_dir = prefix / "share" / "jupyter" / "kernels" / "ndg-test"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"] == [sys.executable, "-m", "ndgrad.kernel", "-f", "{connection_file}"]
    assert spec["display_name"] == "ndgrad test" and spec["language"] == "python"
    assert (spec_dir / "logo-64x64.png").exists()  # written by ipykernel's own writer

    listed = cli("kernel", "list", "--prefix", str(prefix))
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [f"ndg-test\tndgrad test\t{spec_dir}"]

    other = cli("kernel", "remove", "python3", "--prefix", str(prefix))
    assert other.returncode == 2 and "not an ndgrad kernel" in other.stderr

    removed = cli("kernel", "remove", "ndg-test", "--prefix", str(prefix))
    assert removed.returncode == 0 and not spec_dir.exists()
    again = cli("kernel", "remove", "ndg-test", "--prefix", str(prefix))
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    assert "no ndgrad kernel" in cli("kernel", "list", "--prefix", str(prefix)).stdout


def test_install_takes_one_location(cli):
    result = cli("kernel", "install", "--user", "--sys-prefix")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ndgrad kernel install: error: choose one of --user, --sys-prefix, --prefix"
    )


def test_without_ipykernel_the_error_names_the_pip_command(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel", None)  # import ipykernel -> ImportError
    result = cli("kernel", "list")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'ndgrad[notebooks]'" in lines[0], result.stderr


def test_the_doctor_lists_the_kernel_like_any_other(cli, tmp_path, monkeypatch):
    from ndgrad.doctor import probes

    prefix = tmp_path / "env"
    assert cli("kernel", "install", "--prefix", str(prefix)).returncode == 0
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    specs = {s["name"]: s for s in probes.probe_kernelspecs()["specs"]}
    assert "ndgrad-torch" in specs
    assert list(specs["ndgrad-torch"]["argv"][:3]) == [sys.executable, "-m", "ndgrad.kernel"]


def test_the_kernel_runs_with_torch_as_ndgrad(cli, tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    prefix = tmp_path / "env"
    assert cli("kernel", "install", "--prefix", str(prefix)).returncode == 0
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    km = KernelManager(kernel_name="ndgrad-torch", kernel_spec_manager=specs)
    km.start_kernel(env=env(), cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        outputs = []
        reply = kc.execute_interactive(
            "import torch; print(torch.__name__, torch.nn.Linear.__module__)",
            timeout=60,
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok"
        assert "".join(outputs).strip() == "ndgrad ndgrad.nn.modules.linear"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
