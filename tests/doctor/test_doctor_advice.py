"""`ndgrad doctor`'s advice: ok items carry no fix, the recommended torch is the one the project
pins (pyproject is the one place), and "driver too old" names a wheel the driver runs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from tests.doctor.test_checks import PYTHON, gpu, make_facts, torch_facts

from ndgrad.doctor import checks, render, rules
from ndgrad.doctor.explain import explain

ROOT = Path(__file__).resolve().parents[2]

SCENARIOS = {
    "cpu-only laptop": make_facts(),
    "system python": make_facts(python=dict(PYTHON, env_kind="system")),
    "healthy gpu": make_facts(
        gpu=gpu("580.95.05", "13.0"),
        packages={"torch": "2.13.0+cu130", "torchvision": "0.28.0+cu130"},
        torch=torch_facts("2.13.0+cu130", "13.0", True, 91900),
    ),
    "driver too old": make_facts(
        gpu=gpu("470.82.01", "11.4"),
        packages={"torch": "2.13.0+cu126"},
        torch=torch_facts("2.13.0+cu126", "12.6", False),
    ),
    "jupyter": make_facts(
        packages={"ipykernel": "6.29", "notebook": "7.2", "jinja2": "3.1.4", "nbconvert": "7.16.4"}
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_items_that_are_ok_show_no_fix(name):
    findings = checks.run_checks(SCENARIOS[name])
    assert [f.id for f in findings if f.status == "ok" and f.fix] == []
    out = io.StringIO()
    render._plain_findings(findings, 0.1, out)
    fixes = out.getvalue().split("How to fix:")[-1] if "How to fix:" in out.getvalue() else ""
    assert "[ok]" not in fixes


def test_ok_findings_given_a_fix_are_not_printed_under_how_to_fix():
    findings = [
        checks.Finding("x", "ok", "fine", fix="do something"),
        checks.Finding("y", "warn", "hm", fix="do this"),
    ]
    out = io.StringIO()
    render._plain_findings(findings, 0.1, out)
    assert "do something" not in out.getvalue() and "do this" in out.getvalue()


def _pyproject_pin() -> str:
    found = re.search(r'"torch==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert found, "pyproject pins torch in its dev extra"
    return found.group(1)


def test_recommended_torch_is_the_project_pin():
    pin = _pyproject_pin()
    assert rules.project_torch_pin() == pin
    release = rules.preferred_releases()[0]
    assert rules.major_minor(release.torch) == rules.major_minor(pin)
    rec = checks.recommend_install((3, 11), 64, "linux", None)
    assert rec.torch == release.torch and f'"torch=={release.torch}.*"' in rec.command
    support = {f.id: f for f in checks.check_python(make_facts())}["python.torch_support"]
    assert f"PyTorch {release.torch}" in support.found
    # The Makefile's reference torchvision is the one that pairs with the pin.
    vision = re.search(r"torchvision==([\d.]+)", (ROOT / "Makefile").read_text())
    assert vision and rules.major_minor(vision.group(1)) == rules.major_minor(
        rules.torchvision_for(pin)
    )


@pytest.mark.parametrize(
    ("driver", "torch", "variant"),
    [
        ("470.82.01", "2.7", "cu118"),  # CUDA 11.4: 11.8 through minor-version compatibility
        ("520.61.05", "2.7", "cu118"),  # below 12.x's floor 525.60.13: no 12.x build runs
        ("535.104.05", "2.13", "cu126"),  # 12.2: the pin's 12.6 build, minor-version compat
        ("550.54.14", "2.13", "cu126"),
        ("560.35.03", "2.13", "cu126"),  # all features
        ("580.95.05", "2.13", "cu130"),
        ("440.33.01", "2.13", "cpu"),  # below every floor the table's releases need
    ],
)
def test_driver_too_old_advice_names_a_wheel_that_fits(driver, torch, variant):
    rec = checks.recommend_install((3, 11), 64, "linux", driver)
    assert (rec.torch, rec.variant) == (torch, variant), rec
    assert rec.command.endswith(f"--index-url {rules.WHEEL_INDEX}/{variant}")
    if variant != "cpu":
        cuda = f"{variant[2:-1]}.{variant[-1]}"
        floor = rules.min_driver_minor_compat(int(variant[2:-1]), windows=False)
        assert rules.version_at_least(driver, floor)
        full = rules.version_at_least(driver, rules.min_driver_full(cuda, windows=False))
        assert ("runs it with all features" in rec.note) == full, rec.note
    else:
        assert "525.60.13" in rec.note  # the driver floor of the pinned release's CUDA 12.x
    facts = make_facts(
        gpu=gpu(driver, rules.highest_cuda_for_driver(driver, False)),
        packages={"torch": "2.13.0+cu130"},
        torch=torch_facts("2.13.0+cu130", "13.0", False),
    )
    finding = {f.id: f for f in checks.check_torch(facts)}["torch.cuda"]
    if driver != "580.95.05":
        assert finding.status == "fail" and rec.command in finding.fix


@pytest.mark.parametrize(
    ("api", "index"), [("12080", "/cu126"), ("12040", "/cu118"), ("11040", "/cpu")]
)
def test_explain_driver_too_old_names_a_fitting_index(api, index):
    (d,) = explain(
        f"UserWarning: CUDA initialization: The NVIDIA driver on your system is too "
        f"old (found version {api}). Please update your GPU driver"
    )
    (install,) = [f for f in d.fixes if "--index-url" in f]
    assert install.endswith(index)


def test_version_parsing_with_and_without_packaging(monkeypatch):
    import builtins

    cases = {
        "2.3.0+cu121": (2, 3, 0),
        "535.104.05": (535, 104, 5),
        "V11.8.89": (11, 8, 89),
        "11.8 (build 1)": (11, 8),
        "junk": None,
    }
    for text, want in cases.items():
        assert rules.parse_version(text) == want
    real_import = builtins.__import__

    def no_packaging(name, *args, **kwargs):
        if name.startswith("packaging"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_packaging)
    for text, want in cases.items():
        assert rules.parse_version(text) == want
