"""ndgrad.plot: each figure renders headless to PNG/SVG; the Animator is a no-op outside IPython."""

from __future__ import annotations

import numpy as np
import pytest

from ndgrad import plot


def _written(fig, tmp_path, stem):
    paths = plot.save_figure(fig, tmp_path, stem)
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[1].read_bytes()[:2000]
    return paths


def test_training_curves_loss_and_metric_panels(tmp_path):
    fig = plot.training_curves({"train loss": [1.0, 0.5, 0.2], "val loss": [1.1, 0.7, 0.4],
                                "val accuracy": [0.5, 0.8, 0.9]}, "demo")  # fmt: skip
    assert len(fig.axes) == 2
    assert fig.axes[0].get_yscale() == "log"
    assert [line.get_label() for line in fig.axes[0].lines] == ["train loss", "val loss"]
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_ydata(), [0.5, 0.8, 0.9])
    assert fig.axes[1].get_ylabel() == "accuracy"
    assert plot.training_curves({"train r2": [0.1], "val r2": [0.2]}).axes[0].get_ylabel() == "R²"
    _written(fig, tmp_path, "curves")
    assert len(plot.training_curves({"train accuracy": [0.1, 0.2]}).axes) == 1
    with pytest.raises(ValueError, match="no non-empty series"):
        plot.training_curves({"train loss": []})


def test_likelihood_curve_peaks_where_marked(tmp_path):
    fig = plot.likelihood_curve(7, 10, 0.7)
    ax = fig.axes[0]
    theta, likelihood = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    assert abs(theta[np.argmax(likelihood)] - 0.7) < 0.005
    _written(fig, tmp_path, "likelihood")


def test_bernoulli_entropy_is_one_bit_at_one_half(tmp_path):
    fig = plot.bernoulli_entropy(2.0)
    line = fig.axes[0].lines[0]
    p, h = line.get_xdata(), line.get_ydata()
    assert abs(h.max() - 1.0) < 1e-4 and abs(p[np.argmax(h)] - 0.5) < 0.01
    assert "bits" in fig.axes[0].get_ylabel()
    assert "nats" in plot.bernoulli_entropy(np.e).axes[0].get_ylabel()


def test_confusion_counts_and_matrix(tmp_path):
    matrix = plot.confusion_counts([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], 3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 1], [0, 0, 2]])
    fig = plot.confusion_matrix(matrix, ["a", "b", "c"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == sorted(str(v) for v in matrix.ravel())
    _written(fig, tmp_path, "cm")


def test_image_predictions_marks_mistakes_red(tmp_path):
    images = np.random.default_rng(0).random((5, 8, 8))
    fig = plot.image_predictions(images, [1, 2, 3, 4, 5], [1, 2, 0, 4, 5], ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[2] == "pred 0 / true 3" and len(titles) == 5
    colors = [ax.title.get_color() for ax in fig.axes if ax.get_title()]
    assert colors[2] == "red" and colors[0] == "black"
    _written(fig, tmp_path, "digits")


def test_convolution_kernel_shows_input_kernel_output(tmp_path):
    X = np.ones((6, 8))
    X[:, 2:6] = 0
    output = X[:, :-1] - X[:, 1:]
    fig = plot.convolution_kernel(X, np.array([[0.98, -1.01]]), output)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["input X", "kernel K", "output Y = X ⋆ K"]
    assert sorted(t.get_text() for t in fig.axes[titles.index("kernel K")].texts) == [
        "-1.010", "0.980"]  # fmt: skip
    _written(fig, tmp_path, "conv")


def test_animator_records_without_drawing_outside_ipython():
    animator = plot.Animator(xlabel="epoch", legend=["train loss", "test acc"])
    assert animator.live is False and animator.fig is None
    for epoch in range(1, 4):
        animator.add(epoch, (1.0 / epoch, 0.5 + 0.1 * epoch))
    assert animator.X == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    assert animator.Y[0] == pytest.approx([1.0, 0.5, 1 / 3])
    animator.add(4, (None, 0.95))  # d2l passes None for a series with no point yet
    assert len(animator.Y[0]) == 3 and animator.Y[1][-1] == 0.95


def test_descent_path_draws_the_iterates_on_the_contours(tmp_path):
    path = np.array([[0.0, 0.0], [0.5, -0.4], [0.8, -0.7], [1.0, -1.0]])
    fig = plot.descent_path(lambda a, b: (a - 1) ** 2 + (b + 1) ** 2, path, optimum=(1.0, -1.0),
                            losses=[2.0, 0.5, 0.1, 0.0001])  # fmt: skip
    ax = fig.axes[0]
    assert ax.collections, "contours"
    np.testing.assert_array_equal(ax.lines[0].get_xydata(), path)
    assert fig.axes[-1].get_yscale() == "log"
    _written(fig, tmp_path, "descent")


def test_softmax_bars_highlight_the_prediction(tmp_path):
    probs = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    fig = plot.softmax_bars(probs, [1, 2], ["a", "b", "c"], images=np.zeros((2, 4, 4)))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["pred b / true b", "pred a / true c"]
    bars = [ax for ax in fig.axes if ax.patches]
    np.testing.assert_allclose([p.get_height() for p in bars[0].patches], probs[0])
    _written(fig, tmp_path, "softmax")


def test_information_bars_stack_entropy_and_kl(tmp_path):
    fig = plot.information_bars([0.5, 0.25, 0.125, 0.125], [0.25] * 4, 1.75, 2.0, 0.25)
    ax = fig.axes[1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["H(p)", "H(p, q)", "KL(p‖q)"]
    stacked = [p for p in ax.patches if abs(p.get_x() + p.get_width() / 2 - 1) < 1e-9]
    assert sum(p.get_height() for p in stacked) == 2.0
    _written(fig, tmp_path, "information")
