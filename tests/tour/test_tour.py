"""``ndgrad tour``: each section passes its check; --section/--json/--no-plots/--out; exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ndgrad import tour
from ndgrad.cli import _register_subcommands, app
from ndgrad.tour import SECTION_NAMES, SectionResult, TourContext, run_section

_register_subcommands()
runner = CliRunner()


@pytest.mark.parametrize("name", SECTION_NAMES)
def test_every_section_passes_its_analytic_check(name, tmp_path):
    result = run_section(name, TourContext(out=tmp_path, plots=False))
    assert result.error is None, result.error
    assert result.checks, "a section without checks cannot pass"
    failed = [(c.name, c.detail) for c in result.checks if not c.passed]
    assert result.passed, failed
    assert result.lines and result.title


def test_section_values_are_the_notes_numbers(tmp_path):
    ctx = TourContext(out=tmp_path, plots=False)
    autograd = run_section("autograd", ctx).values
    assert autograd["y"] == 28.0
    assert autograd["grad_2xTx"] == [0.0, 4.0, 8.0, 12.0]
    assert autograd["grad_sum"] == [1.0, 1.0, 1.0, 1.0]
    info = run_section("information", ctx).values
    assert info["bits"]["entropy"] == pytest.approx(1.75, abs=1e-12)
    assert info["bits"]["kl"] == pytest.approx(0.25, abs=1e-12)
    assert info["nats"]["kl"] == pytest.approx(0.25 * 0.6931471805599453, abs=1e-12)
    mle = run_section("mle", ctx).values
    assert mle["theta_hat"] == pytest.approx(0.7, abs=1e-9)
    linreg = run_section("linear-regression", ctx).values
    assert linreg["w"] == pytest.approx([2.0, -3.4], abs=0.01)
    assert linreg["b"] == pytest.approx(4.2, abs=0.01)
    gd = run_section("gradient-descent", ctx).values
    assert gd["theta"] == pytest.approx(gd["normal_equation"], abs=1e-4) and gd["iterations"] > 1
    cases = run_section("derivatives", ctx).values["cases"]
    assert [c["shape"] for c in cases] == [[], [1, 3], [3, 1], [2, 3]]


def test_convolution_section_follows_d2l_7_2(tmp_path):
    values = run_section("convolution", TourContext(out=tmp_path, plots=False)).values
    assert values["corr2d"] == [[19.0, 25.0], [37.0, 43.0]]
    assert values["max_diff_vs_conv2d"] < 1e-5
    edges = [[0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0]] * 6
    assert values["edges"] == edges
    assert len(values["losses"]) == 10 and values["losses"][-1] < values["losses"][0]
    assert values["learned_kernel"] == pytest.approx([1.0, -1.0], abs=0.1)


@pytest.mark.parametrize("seed", [1, 2])
def test_sequences_section_holds_for_other_seeds(seed, tmp_path):
    result = run_section("sequences", TourContext(out=tmp_path, plots=False, seed=seed))
    assert result.passed, result.checks
    values = result.values
    assert values["perplexity"][-1] < values["perplexity"][0] / 2
    assert values["nw_losses"][-1] < values["nw_losses"][0] and values["nw_w"] > 1.0


def test_convolution_section_on_the_command_line(tmp_path):
    out = tmp_path / "conv"
    result = runner.invoke(app, ["tour", "--section", "convolution", "--out", str(out)])
    assert result.exit_code == 0, result.stdout
    assert "PASS" in result.stdout and "all 1 sections passed" in result.stdout
    assert (out / "convolution.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "convolution.svg").read_bytes()[:2000]
    result = runner.invoke(app, ["tour", "-s", "convolution", "--json", "--no-plots"])
    payload = json.loads(result.stdout)
    assert result.exit_code == 0 and payload["passed"]
    (section,) = payload["sections"]
    assert section["name"] == "convolution" and section["figures"] == []
    assert len(section["checks"]) == 8 and all(c["passed"] for c in section["checks"])


def test_a_failing_check_fails_the_section():
    result = SectionResult("x", "x")
    result.check("fine", True)
    assert result.passed
    result.check("wrong", False, "got 1, expected 2")
    assert not result.passed
    assert not SectionResult("empty", "empty").passed  # no checks: nothing was verified


def test_an_exception_in_a_section_is_reported_not_raised(monkeypatch, tmp_path):
    def broken(ctx):
        raise ValueError("boom")

    monkeypatch.setattr(tour, "_registry", lambda: {"mle": ("MLE", broken)})
    result = run_section("mle", TourContext(out=tmp_path, plots=False))
    assert not result.passed and result.error == "ValueError: boom"


def test_cli_exit_code_is_1_when_a_check_fails(monkeypatch, tmp_path):
    def failing(ctx):
        r = SectionResult("mle", "")
        r.check("θ̂ = 0.7", False, "got 0.6")
        return r

    real = tour._registry()
    monkeypatch.setattr(tour, "_registry", lambda: {**real, "mle": ("MLE", failing)})
    result = runner.invoke(app, ["tour", "--section", "mle,autograd", "--no-plots"])
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "1 of 2 sections failed" in result.stdout
    result = runner.invoke(app, ["tour", "--section", "mle", "--json", "--no-plots"])
    payload = json.loads(result.stdout)
    assert result.exit_code == 1 and payload["failed"] == ["mle"] and not payload["passed"]


def test_json_output_is_machine_readable_on_stdout_only(tmp_path):
    result = runner.invoke(app, ["tour", "--section", "autograd", "--section", "derivatives",
                                 "--json", "--no-plots"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)  # nothing but JSON on stdout
    assert payload["passed"] is True
    assert [s["name"] for s in payload["sections"]] == ["autograd", "derivatives"]
    assert all(s["passed"] and s["checks"] for s in payload["sections"])
    assert result.stderr == ""


def test_comma_list_and_repeats(tmp_path):
    result = runner.invoke(app, ["tour", "-s", "autograd,mle", "-s", "autograd", "--json",
                                 "--no-plots"])  # fmt: skip
    assert [s["name"] for s in json.loads(result.stdout)["sections"]] == ["autograd", "mle"]


def test_unknown_section_exits_2_with_the_names(tmp_path):
    result = runner.invoke(app, ["tour", "--section", "autograd,backprop", "--no-plots"])
    assert result.exit_code == 2
    choices = ", ".join(f"{i} {name}" for i, name in enumerate(SECTION_NAMES, 1))
    assert result.stderr.strip().splitlines() == [
        f"ndgrad tour: error: unknown section 'backprop'; choose from: {choices}"
    ]


def test_sections_by_number_or_unique_prefix():
    from ndgrad.tour import resolve_sections

    names = tuple(SECTION_NAMES)
    assert resolve_sections(["3"]) == [names[2]] == ["gradient-descent"]
    assert resolve_sections(["soft"]) == ["softmax-regression"]
    assert resolve_sections(["Soft,1", "derivatives", "gra"]) == [
        "softmax-regression", "derivatives", "gradient-descent"]  # fmt: skip
    assert resolve_sections([str(len(names))]) == [names[-1]]
    with pytest.raises(ValueError, match=r"^no section number 0; choose from: 1 derivatives"):
        resolve_sections(["0"])
    with pytest.raises(ValueError, match=r"^unknown section 'zz'"):
        resolve_sections(["zz"])
    # a prefix two names share is ambiguous and lists just those (with a section "sequences"
    # added, "s" would be)
    with pytest.raises(
        ValueError, match=r"^ambiguous section 's'; choose from: softmax-regression, sequences$"
    ):
        resolve_sections(["s"], tuple(dict.fromkeys((*names, "sequences"))))


def test_tour_positional_sections_and_usage_errors(monkeypatch):
    result = runner.invoke(app, ["tour", "4", "aut", "--json", "--no-plots"])
    assert result.exit_code == 0, result.stderr
    assert [s["name"] for s in json.loads(result.stdout)["sections"]] == ["information", "autograd"]
    monkeypatch.setattr(tour, "SECTION_NAMES", tuple(dict.fromkeys((*SECTION_NAMES, "sequences"))))
    for args, needle in ((["s"], "ambiguous section 's'; choose from: softmax-regression, "
                                 "sequences"), (["99"], "no section number 99"),
                         (["--lr", "0"], "--lr must be a positive number"),
                         (["mle", "--tol", "-1"], "--tol must be a positive number")):  # fmt: skip
        result = runner.invoke(app, ["tour", *args, "--no-plots"])
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert (
            len(lines) == 1 and lines[0].startswith("ndgrad tour: error: ") and needle in lines[0]
        )


def test_lr_and_tol_reach_the_gradient_descent_section(tmp_path):
    result = runner.invoke(
        app, ["tour", "3", "--lr", "0.1", "--tol", "1e-8", "--json", "--no-plots"]
    )
    assert result.exit_code == 0, result.stderr
    values = json.loads(result.stdout)["sections"][0]["values"]
    assert values["lr"] == 0.1 and values["tol"] == 1e-8
    default = run_section("gradient-descent", TourContext(plots=False)).values
    assert values["iterations"] > default["iterations"]  # a smaller step takes longer
    assert values["max_abs_diff"] <= values["error_bound"]
    # above 2/λmax the steps grow: the section says so and fails, without a traceback
    diverged = run_section("gradient-descent", TourContext(plots=False, lr=3.0))
    assert diverged.error is None and not diverged.passed
    assert "the steps grow" in diverged.checks[0].detail


def test_figures_are_written_as_png_and_svg(tmp_path):
    out = tmp_path / "figs"
    result = runner.invoke(app, ["tour", "-s", "gradient-descent,information,mle",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.stdout
    for stem in ("gradient-descent", "information", "bernoulli-entropy", "likelihood"):
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (out / f"{stem}.svg").read_bytes()[:2000]
    assert "PASS" in result.stdout and "all 3 sections passed" in result.stdout


def test_no_plots_writes_nothing(tmp_path):
    out = tmp_path / "none"
    result = runner.invoke(app, ["tour", "-s", "mle", "--no-plots", "--out", str(out)])
    assert result.exit_code == 0 and not out.exists()


def test_the_whole_tour_passes(tmp_path):
    """The README's first command, in a fresh process, with figures."""
    proc = subprocess.run([sys.executable, "-m", "ndgrad", "tour", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"all {len(SECTION_NAMES)} sections passed" in proc.stdout
    expected = {"gradient-descent", "information", "bernoulli-entropy", "likelihood",
                "linear-regression", "softmax-confusion", "softmax-predictions",
                "softmax-probabilities", "convolution", "sequences-perplexity",
                "attention-heatmap"}  # fmt: skip
    assert {p.stem for p in tmp_path.glob("*.png")} == expected
    assert {p.stem for p in tmp_path.glob("*.svg")} == expected


def test_section_names_match_the_registry():
    assert tuple(tour._registry()) == SECTION_NAMES
