"""Plots for the notes and the training workflows, on matplotlib.

Figures for files are built with matplotlib's object API on the Agg canvas, so they work
without a display (CI, SSH) and never touch the global pyplot state. Under IPython (Jupyter)
the first figure switches the kernel to inline SVG display (:func:`use_svg_display`, as d2l
does), so a cell that returns a figure shows it, never ``<Figure size ...>``.
:class:`Animator` redraws a live curve in one display while a model trains (the role d2l's
``Animator`` plays); outside IPython it only records the points, so training code can always
call it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _headless() -> bool:
    return (
        os.name != "nt" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    )


def pyplot() -> Any:
    """``matplotlib.pyplot``, switched to the Agg backend first when there is no display."""
    import matplotlib

    if _headless() and not _in_ipython():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def use_svg_display() -> bool:
    """Shows matplotlib figures inline as SVG in this IPython kernel (d2l's ``use_svg_display``).

    Registers the SVG formatter for every ``Figure`` with the running shell, so a figure a
    cell returns or passes to ``display`` is drawn, whatever matplotlib backend is active.
    Returns False (and does nothing) outside IPython. :func:`new_figure` calls it once per
    shell, so a later ``%config InlineBackend.figure_formats = ...`` of the user's stands.
    """
    if not _in_ipython():
        return False
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # an IPython without matplotlib-inline: the same call, one level down
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats

        select_figure_formats(get_ipython(), {"svg"}, bbox_inches="tight")
    else:
        set_matplotlib_formats("svg")
    from IPython import get_ipython

    get_ipython()._ndgrad_inline = True  # this shell is configured: new_figure leaves it be
    return True


def _inline_once() -> None:
    if _in_ipython():
        from IPython import get_ipython

        if not getattr(get_ipython(), "_ndgrad_inline", False):
            use_svg_display()


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (5.0, 3.5)) -> Any:
    """A Figure on the Agg canvas (no display needed) and its axes array (squeezed).

    Under IPython the figure is shown inline as SVG when a cell returns it (see
    :func:`use_svg_display`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _inline_once()

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def save_figure(
    fig: Any, folder: str | os.PathLike, stem: str, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Writes ``fig`` as ``folder/stem.<fmt>`` for each format; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{stem}.{fmt}"
        fig.savefig(path, format=fmt, dpi=110)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- figures
def training_curves(history: Mapping[str, Sequence[float]], title: str = "") -> Any:
    """Loss curves (keys ending ``loss``) and, if present, accuracy curves (``acc``) by epoch."""
    loss_keys = [k for k in history if k.endswith("loss") and len(history[k])]
    metric_keys = [k for k in history if not k.endswith("loss") and len(history[k])]
    groups = [(keys, label) for keys, label in ((loss_keys, "loss"), (metric_keys, "metric"))
              if keys]  # fmt: skip
    if not groups:
        raise ValueError("training_curves: the history has no non-empty series")
    fig, axes = new_figure(1, len(groups), figsize=(5.0 * len(groups), 3.5))
    axes = np.atleast_1d(axes)
    panels = [(ax, keys, label) for ax, (keys, label) in zip(axes, groups, strict=True)]
    for ax, keys, ylabel in panels:
        names = {k.split()[-1] for k in keys}  # "train accuracy", "val accuracy" -> accuracy
        if ylabel == "metric" and len(names) == 1:
            name = names.pop()
            ylabel = {"r2": "R²", "acc": "accuracy"}.get(name, name)
        for key in keys:
            values = np.asarray(history[key], dtype=float)
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if loss_keys and all(min(history[k]) > 0 for k in loss_keys):
        axes[0].set_yscale("log")  # losses span decades
    if title:
        fig.suptitle(title)
    return fig


def likelihood_curve(successes: int, trials: int, theta_hat: float | None = None) -> Any:
    """``L(θ) = θ^k (1-θ)^(n-k)`` on (0, 1) with the maximum marked."""
    theta = np.linspace(0.001, 0.999, 400)
    likelihood = theta**successes * (1 - theta) ** (trials - successes)
    fig, ax = new_figure()
    ax.plot(
        theta,
        likelihood,
        label=rf"$L(\theta)=\theta^{{{successes}}}(1-\theta)^{{{trials - successes}}}$",
    )
    if theta_hat is not None:
        peak = theta_hat**successes * (1 - theta_hat) ** (trials - successes)
        ax.axvline(theta_hat, color="C3", ls="--", label=rf"$\hat\theta={theta_hat:.3f}$")
        ax.plot([theta_hat], [peak], "o", color="C3")
    ax.set_xlabel(r"$\theta$")
    ax.set_ylabel("likelihood")
    ax.set_title("Bernoulli likelihood")
    ax.legend()
    ax.grid(True, alpha=0.3)
    return fig


def bernoulli_entropy(base: float = 2.0) -> Any:
    """``H(p) = -p log p - (1-p) log(1-p)`` against ``p``."""
    p = np.linspace(1e-6, 1 - 1e-6, 400)
    h = -(p * np.log(p) + (1 - p) * np.log1p(-p)) / math.log(base)
    fig, ax = new_figure()
    ax.plot(p, h)
    unit = {2.0: "bits", math.e: "nats"}.get(float(base), f"log base {base:g}")
    ax.set_xlabel("p")
    ax.set_ylabel(f"H(p) [{unit}]")
    ax.set_title("Entropy of a Bernoulli(p)")
    ax.grid(True, alpha=0.3)
    return fig


def descent_path(
    loss: Any,
    path: np.ndarray,
    optimum: Sequence[float] | None = None,
    losses: Sequence[float] | None = None,
    labels: tuple[str, str] = ("θ₁", "θ₂"),
    title: str = "Gradient descent on the loss contours",
    loss_label: str = "loss",
) -> Any:
    """Gradient descent's path drawn on the contours of a two-parameter loss.

    ``loss(a, b)`` evaluates the loss on NumPy grids (broadcasting); ``path`` is the ``(k, 2)``
    sequence of iterates; ``optimum`` is marked with a star. With ``losses`` a second panel
    shows the loss per iteration on a log scale.
    """
    path = np.asarray(path, dtype=float).reshape(-1, 2)
    finite = path[np.isfinite(path).all(axis=1)]
    points = finite if optimum is None else np.vstack([finite, np.asarray(optimum, float)[None]])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = np.maximum((hi - lo) * 0.15, 0.25)
    a = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 160)
    b = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 160)
    A, B = np.meshgrid(a, b)
    Z = np.asarray(loss(A, B), dtype=float)
    panels = 2 if losses is not None else 1
    fig, axes = new_figure(1, panels, figsize=(5.0 * panels, 4.0))
    ax = np.atleast_1d(axes)[0]
    levels = np.quantile(Z[np.isfinite(Z)], np.linspace(0.0, 1.0, 16) ** 2)
    contours = ax.contour(A, B, Z, levels=np.unique(levels), cmap="viridis", linewidths=0.8)
    ax.clabel(contours, fontsize=6, fmt="%.2g")
    ax.plot(finite[:, 0], finite[:, 1], "-o", color="C3", ms=2.5, lw=1.0,
            label=f"path ({len(path) - 1} steps)")  # fmt: skip
    ax.plot(finite[:1, 0], finite[:1, 1], "s", color="C3", ms=6, label="start")
    if optimum is not None:
        ax.plot([optimum[0]], [optimum[1]], "*", color="k", ms=12, label="minimum")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best")
    if losses is not None:
        ax2 = np.atleast_1d(axes)[1]
        ax2.semilogy(np.asarray(losses, dtype=float))
        ax2.set_xlabel("iteration")
        ax2.set_ylabel(loss_label)
        ax2.set_title("Loss per iteration", fontsize=10)
        ax2.grid(True, alpha=0.3)
    return fig


def softmax_bars(
    probs: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str] | None = None,
    images: np.ndarray | None = None,
) -> Any:
    """Each example's softmax probabilities as bars (the prediction's bar highlighted), titled
    ``pred P / true T``; with ``images`` the example is drawn above its bars."""
    probs = np.asarray(probs, dtype=float)
    n, k = probs.shape
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    rows = 2 if images is not None else 1
    fig, axes = new_figure(rows, n, figsize=(2.2 * n, 2.0 * rows + 0.6))
    axes = np.asarray(axes).reshape(rows, n)
    for i in range(n):
        pred, true = int(np.argmax(probs[i])), int(labels[i])
        colors = ["C2" if j == pred == true else "C3" if j == pred else "C0" for j in range(k)]
        ax = axes[-1, i]
        ax.bar(range(k), probs[i], color=colors)
        ax.set_ylim(0, 1)
        ax.set_xticks(range(k), names, fontsize=6)
        ax.set_title(f"pred {names[pred]} / true {names[true]}", fontsize=8,
                     color="black" if pred == true else "red")  # fmt: skip
        if i == 0:
            ax.set_ylabel("softmax probability", fontsize=7)
        if images is not None:
            axes[0, i].imshow(np.asarray(images[i]), cmap="gray_r")
            axes[0, i].axis("off")
    return fig


def information_bars(
    p: Sequence[float], q: Sequence[float], entropy: float, cross_entropy: float, kl: float,
    unit: str = "bits",
) -> Any:  # fmt: skip
    """Two distributions side by side, then H(p), H(p, q) and KL(p‖q) as bars, with
    H(p, q) drawn as H(p) + KL(p‖q)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    fig, (ax1, ax2) = new_figure(1, 2, figsize=(9.0, 3.5))
    idx = np.arange(len(p))
    ax1.bar(idx - 0.2, p, width=0.4, label="p")
    ax1.bar(idx + 0.2, q, width=0.4, label="q")
    ax1.set_xticks(idx, [str(i) for i in idx])
    ax1.set_xlabel("outcome")
    ax1.set_ylabel("probability")
    ax1.set_title("p and q")
    ax1.legend()
    ax2.bar(0, entropy, color="C0")
    ax2.bar(1, entropy, color="C0", label="H(p)")
    ax2.bar(1, kl, bottom=entropy, color="C3", label="KL(p‖q)")
    ax2.bar(2, kl, color="C3")
    ax2.set_xticks([0, 1, 2], ["H(p)", "H(p, q)", "KL(p‖q)"])
    for x, v in ((0, entropy), (1, cross_entropy), (2, kl)):
        ax2.text(x, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    ax2.set_ylabel(unit)
    ax2.set_title("cross-entropy = entropy + KL")
    ax2.legend(fontsize=7)
    return fig


def confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str] | None = None, title: str = "Confusion matrix"
) -> Any:
    """Counts with true classes as rows and predictions as columns."""
    matrix = np.asarray(matrix)
    k = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    size = max(4.0, 0.45 * k + 2)
    fig, ax = new_figure(figsize=(size, size * 0.9))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black")  # fmt: skip
    return fig


def image_predictions(
    images: np.ndarray,
    labels: Sequence[int],
    predictions: Sequence[int],
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
) -> Any:
    """A grid of images titled ``pred P / true T``; wrong predictions in red."""
    images = np.asarray(images)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = new_figure(nrows, ncols, figsize=(1.5 * ncols, 1.6 * nrows))
    names = list(class_names) if class_names is not None else None
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r")
        pred, true = int(predictions[i]), int(labels[i])
        text = f"pred {names[pred] if names else pred} / true {names[true] if names else true}"
        ax.set_title(text, fontsize=7, color="black" if pred == true else "red")
    return fig


def convolution_kernel(image: np.ndarray, kernel: np.ndarray, output: np.ndarray) -> Any:
    """The input image, a (learned) kernel and the output of the cross-correlation, side by side."""
    panels = [("input X", np.asarray(image)), ("kernel K", np.asarray(kernel)),
              ("output Y = X ⋆ K", np.asarray(output))]  # fmt: skip
    fig, axes = new_figure(1, 3, figsize=(10.0, 3.0))
    for ax, (title, values) in zip(axes, panels):
        limit = max(float(np.abs(values).max()), 1e-12)
        image = ax.imshow(values, cmap="RdBu_r" if values.min() < 0 else "gray",
                          vmin=-limit if values.min() < 0 else 0.0, vmax=limit)  # fmt: skip
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(title)
        ax.set_xticks(range(values.shape[1]))
        ax.set_yticks(range(values.shape[0]))
        if values.size <= 8:  # label the kernel's weights
            for (i, j), v in np.ndenumerate(values):
                ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=9,
                        color="white" if abs(v) > limit / 2 else "black")  # fmt: skip
    return fig


def confusion_counts(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


# ----------------------------------------------------------------------------- live curve
def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ != "TerminalInteractiveShell"


class Animator:
    """Plots data points as they arrive, redrawing in place in Jupyter (d2l's ``Animator``).

    Outside a Jupyter kernel it records the points (``X``, ``Y``) and draws nothing, so a
    training loop can call :meth:`add` unconditionally.
    """

    def __init__(
        self,
        xlabel: str | None = None,
        ylabel: str | None = None,
        legend: Sequence[str] | None = None,
        xlim: tuple[float, float] | None = None,
        ylim: tuple[float, float] | None = None,
        xscale: str = "linear",
        yscale: str = "linear",
        fmts: Sequence[str] = ("-", "m--", "g-.", "r:"),
        nrows: int = 1,
        ncols: int = 1,
        figsize: tuple[float, float] = (3.5, 2.5),
        live: bool | None = None,
    ) -> None:
        self.legend = list(legend or [])
        self.fmts = tuple(fmts)
        self.X: list[list[float]] = []
        self.Y: list[list[float]] = []
        self.live = _in_ipython() if live is None else live
        self.fig = self.axes = None
        self._handle: Any = None  # the one display the curve is redrawn in (IPython)
        if self.live:
            self.fig, axes = new_figure(nrows, ncols, figsize=figsize)
            self.axes = np.atleast_1d(axes).ravel()
            self._style = dict(xlabel=xlabel, ylabel=ylabel, xlim=xlim, ylim=ylim,
                               xscale=xscale, yscale=yscale)  # fmt: skip

    def add(self, x: float | Sequence[float], y: float | Sequence[float]) -> None:
        ys = list(y) if isinstance(y, (list, tuple, np.ndarray)) else [y]
        xs = list(x) if isinstance(x, (list, tuple, np.ndarray)) else [x] * len(ys)
        while len(self.X) < len(ys):
            self.X.append([])
            self.Y.append([])
        for i, (a, b) in enumerate(zip(xs, ys, strict=False)):
            if a is not None and b is not None:
                self.X[i].append(float(a))
                self.Y[i].append(float(b))
        if self.live:
            self._draw()

    def _draw(self) -> None:
        from IPython import display

        ax = self.axes[0]
        ax.cla()
        for xs, ys, fmt in zip(self.X, self.Y, self.fmts, strict=False):
            ax.plot(xs, ys, fmt)
        s = self._style
        ax.set_xlabel(s["xlabel"] or "")
        ax.set_ylabel(s["ylabel"] or "")
        ax.set_xscale(s["xscale"])
        ax.set_yscale(s["yscale"])
        if s["xlim"]:
            ax.set_xlim(s["xlim"])
        if s["ylim"]:
            ax.set_ylim(s["ylim"])
        if self.legend:
            ax.legend(self.legend)
        ax.grid(True, alpha=0.3)
        # One display, updated in place: the final curve stays, and printing in the same
        # cell (an epoch's loss) neither wipes it nor is wiped by it.
        if self._handle is None:
            self._handle = display.display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)


__all__ = [
    "Animator", "bernoulli_entropy", "confusion_counts", "confusion_matrix", "descent_path",
    "image_predictions", "information_bars", "likelihood_curve", "new_figure", "pyplot",
    "save_figure", "softmax_bars", "training_curves", "use_svg_display",
]  # fmt: skip


def attention_heatmap(
    weights: np.ndarray, xlabel: str = "keys", ylabel: str = "queries", title: str = ""
) -> Any:
    """A matrix of attention weights, one row per query (d2l's ``show_heatmaps``)."""
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 2:
        raise ValueError(f"attention_heatmap: expected a 2-D matrix, got shape {weights.shape}")
    fig, ax = new_figure(figsize=(4.5, 4.0))
    image = ax.imshow(weights, cmap="Reds", aspect="auto")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return fig
