"""Under IPython, ndgrad.plot's figures display inline as SVG and the Animator keeps one display.

An in-process ``InteractiveShell`` stands in for the Jupyter kernel: its display formatter
is what turns a cell's returned figure into the ``image/svg+xml`` a notebook shows, and
``capture_output`` records what ``display`` publishes (updates included).
"""

from __future__ import annotations

import pytest

pytest.importorskip("IPython")

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from ndgrad import plot  # noqa: E402


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    shell = InteractiveShell.instance(history_length=0)
    try:
        yield shell
    finally:
        InteractiveShell.clear_instance()


def test_outside_ipython_nothing_is_registered():
    assert not plot._in_ipython()
    assert plot.use_svg_display() is False


def test_a_returned_figure_is_svg_not_its_repr(shell):
    from matplotlib.figure import Figure

    # the bug: a fresh kernel formats a bare Figure as text only, "<Figure size 500x350 ...>"
    assert sorted(shell.display_formatter.format(Figure())[0]) == ["text/plain"]
    fig = plot.bernoulli_entropy(2.0)
    data, _ = shell.display_formatter.format(fig)
    assert "image/svg+xml" in data, sorted(data)
    assert "<svg" in data["image/svg+xml"]
    # and a figure a cell returns, as a notebook runs it
    shell.user_ns["plot"] = plot
    result = shell.run_cell("plot.likelihood_curve(7, 10, 0.7)", store_history=False)
    assert result.success
    assert "image/svg+xml" in shell.display_formatter.format(result.result)[0]


def test_the_animator_updates_one_display_and_the_curve_stays(shell):
    with capture_output() as captured:
        animator = plot.Animator(xlabel="epoch", legend=["loss"])
        assert animator.live
        for epoch in range(1, 4):
            animator.add(epoch, [1.0 / epoch])
            print(f"epoch {epoch}")  # a print must not wipe the curve
    outputs = captured.outputs
    assert len(outputs) == 3  # no clear_output: every publish is still there
    assert all("image/svg+xml" in out.data for out in outputs)
    assert "epoch 3" in captured.stdout


def test_the_animator_publishes_a_display_id_then_updates_it(shell):
    from IPython.core.displaypub import CapturingDisplayPublisher

    publisher = CapturingDisplayPublisher()
    saved, shell.display_pub = shell.display_pub, publisher
    try:
        animator = plot.Animator(legend=["a", "b"])
        for epoch in range(1, 4):
            animator.add(epoch, (1.0 / epoch, 0.5))
    finally:
        shell.display_pub = saved
    records = publisher.outputs
    assert len(records) == 3
    first_id = records[0]["transient"]["display_id"]
    assert [r["update"] for r in records] == [False, True, True]
    assert all(r["transient"]["display_id"] == first_id for r in records)
    assert all("image/svg+xml" in r["data"] for r in records)
    assert len(animator.fig.axes[0].lines) == 2


def test_a_users_figure_format_choice_stands(shell):
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    plot.bernoulli_entropy(2.0)  # the first figure selects SVG
    set_matplotlib_formats("png")  # the user's %config InlineBackend.figure_formats = {"png"}
    data, _ = shell.display_formatter.format(plot.bernoulli_entropy(2.0))
    assert "image/png" in data and "image/svg+xml" not in data
