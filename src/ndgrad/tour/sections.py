"""The tour's sections, in the order of the seed notes. Each computes with ndgrad and checks.

Expected values come from the closed-form answers the notes derive (``d(x³)/dx = 3x²``,
``∇(2xᵀx) = 4x``, the normal equations, ``θ̂ = k/n``, ...), evaluated independently in NumPy
float64, never from the computation being checked.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import ndgrad
from ndgrad.tour import SectionResult, TourContext


def _fmt(values: Any, digits: int = 4) -> str:
    array = np.asarray(values, dtype=float)
    if array.ndim == 0:
        return f"{float(array):.{digits}g}"
    text = np.array2string(array, precision=digits, separator=", ", suppress_small=True,
                           max_line_width=10_000)  # fmt: skip
    return " ".join(text.split()).replace("[ ", "[")  # one line, even for matrices


def _close(a: Any, b: Any, atol: float) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0.0, atol=atol))


# ----------------------------------------------------------------------------- 1. derivatives
def derivative_shapes(ctx: TourContext) -> SectionResult:
    from ndgrad.calculus import derivative

    r = SectionResult("derivatives", "")
    f64 = ndgrad.float64
    xs, xv = 2.0, np.array([1.0, 2.0, 3.0])
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    cases = [
        # (formula, f, x, expected in the notes' (numerator) layout: the shape is the lesson)
        ("y = x³ at x = 2 → 3x²", lambda x: x**3, xs, np.array(3 * xs**2)),
        ("y = Σxᵢ² at x = [1,2,3] → 2xᵀ (a row)", lambda x: (x * x).sum(), xv,
         (2 * xv).reshape(1, 3)),
        ("y = [x, x², x³] at x = 2 → [1, 2x, 3x²]ᵀ (a column)",
         lambda x: ndgrad.stack([x, x**2, x**3]), xs,
         np.array([1.0, 2 * xs, 3 * xs**2]).reshape(3, 1)),
        ("y = Ax, A 2×3 → A (one row per yᵢ)", lambda x: ndgrad.tensor(A, dtype=f64) @ x, xv, A),
    ]  # fmt: skip
    r.values["cases"] = []
    for formula, f, x, expected in cases:
        d = derivative(f, ndgrad.tensor(x, dtype=f64), layout="numerator")
        got = np.asarray(d.numerator.numpy() if hasattr(d.numerator, "numpy") else d.numerator)
        ok = r.check(d.case, _close(got, expected, 1e-12),
                     f"got {_fmt(got)} of shape {list(got.shape)}, expected {_fmt(expected)} "
                     f"of shape {list(expected.shape)}")  # fmt: skip
        r.lines.append(f"{d.case}: {formula} = {_fmt(got)}; numerator layout "
                       f"{list(d.shapes['numerator'])}, denominator layout "
                       f"{list(d.shapes['denominator'])}")  # fmt: skip
        r.values["cases"].append({"case": d.case, "formula": formula, "derivative": got.tolist(),
                                  "shape": list(got.shape), "passed": ok})  # fmt: skip
    return r


# ----------------------------------------------------------------------------- 2. autograd
def autograd_examples(ctx: TourContext) -> SectionResult:
    r = SectionResult("autograd", "")
    x = ndgrad.arange(4.0)
    x.requires_grad_(True)
    y = 2 * ndgrad.dot(x, x)
    y.backward()
    expected = 4 * np.arange(4.0)  # d(2xᵀx)/dx = 4x
    r.check("y = 2xᵀx = 28", y.item() == 28.0, f"y = {y.item()}")
    r.check("∇y = 4x = [0, 4, 8, 12]", _close(x.grad.numpy(), expected, 0.0),
            f"x.grad = {x.grad.tolist()}")  # fmt: skip
    r.lines.append(f"x = {x.detach().tolist()}, y = 2xᵀx = {y.item():g}, "
                   f"x.grad = {x.grad.tolist()} (4x)")  # fmt: skip
    r.values["y"] = y.item()
    r.values["grad_2xTx"] = x.grad.tolist()

    x.grad.zero_()
    y = x.sum()
    y.backward()
    r.check("∇ sum(x) = [1, 1, 1, 1]", _close(x.grad.numpy(), np.ones(4), 0.0),
            f"x.grad = {x.grad.tolist()}")  # fmt: skip
    r.lines.append(f"after x.grad.zero_(): y = x.sum(), x.grad = {x.grad.tolist()}")
    r.values["grad_sum"] = x.grad.tolist()
    return r


# ----------------------------------------------------------------------------- 3. GD
def gradient_descent_section(ctx: TourContext) -> SectionResult:
    from ndgrad.optim import gradient_descent

    r = SectionResult("gradient-descent", "")
    rng = np.random.default_rng(ctx.seed)
    m, theta_true = 100, np.array([1.0, 2.0, -1.5])  # bias first, as h(x) = θ₀ + θ₁x₁ + θ₂x₂
    features = rng.uniform(-1, 1, (m, 2))
    design = np.hstack([np.ones((m, 1)), features])
    targets = design @ theta_true + rng.normal(0, 0.1, m)

    X, y = ndgrad.tensor(design), ndgrad.tensor(targets)
    theta = ndgrad.zeros(3, dtype=ndgrad.float64, requires_grad=True)
    lr = 0.5 if ctx.lr is None else ctx.lr
    tol = 1e-6 if ctx.tol is None else ctx.tol
    path: list[np.ndarray] = []  # θ at every evaluation: the iterates, for the figure

    def loss() -> ndgrad.Tensor:
        path.append(theta.detach().numpy().copy())
        residual = X @ theta - y
        return (residual * residual).sum() / (2 * m)  # J(θ) = ‖Xθ − y‖² / 2m

    # J is quadratic with Hessian H = XᵀX/m: the steps shrink only for α < 2/λmax(H); above
    # that they grow, so a few dozen iterations show the divergence.
    eigenvalues = np.linalg.eigvalsh(design.T @ design / m)
    stable = lr < 2 / eigenvalues[-1]
    with np.errstate(over="ignore", invalid="ignore"):
        run = gradient_descent(loss, [theta], lr=lr, tol=tol, max_iter=10_000 if stable else 30)
    normal_eq = np.linalg.solve(design.T @ design, design.T @ targets)
    got = theta.detach().numpy()
    gap = float(np.max(np.abs(got - normal_eq)))
    # θ − θ* = H⁻¹∇J, so once every |α ∂J/∂θⱼ| < ε, ‖θ − θ*‖ ≤ ‖∇J‖ / λmin(H) ≤ √n ε / (α λmin):
    # the tolerance bounds the error.
    bound = math.sqrt(len(got)) * run.steps[-1] / (lr * eigenvalues[0])
    r.check("stopped because every step < ε", run.converged,
            f"{run.iterations} iterations, last step {run.steps[-1]:.2e}"
            + ("" if stable else f"; α ≥ 2/λmax = {2 / eigenvalues[-1]:.3g}: the steps grow"))  # fmt: skip
    r.check("θ is within √n·ε/(α·λmin) of the normal equation (XᵀX)⁻¹Xᵀy",
            run.converged and gap <= bound * (1 + 1e-9) + 1e-12,
            f"max |Δθ| = {gap:.2e}, bound {bound:.2e}")  # fmt: skip
    r.lines += [
        f"lr α = {lr:g}, tolerance ε = {tol:g}: "
        + (f"converged after {run.iterations} iterations" if run.converged
           else f"not converged after {run.iterations} iterations")
        + f" (loss {run.losses[0]:.4f} → {run.losses[-1]:.6g})",
        f"θ (gradient descent) = {_fmt(got, 6)}",
        f"θ (normal equation)  = {_fmt(normal_eq, 6)}   max |Δθ| = {gap:.1e}",
        f"stable for α < 2/λmax(XᵀX/m) = {2 / eigenvalues[-1]:.3g}",
    ]  # fmt: skip
    r.values.update(iterations=run.iterations, theta=got.tolist(), max_abs_diff=gap,
                    normal_equation=normal_eq.tolist(), lr=lr, tol=tol,
                    error_bound=bound)  # fmt: skip
    if ctx.plots:
        from ndgrad.plot import descent_path

        theta0 = normal_eq[0]

        def slice_loss(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            # J(θ₁, θ₂) with θ₀ at its optimum: the features are centred, so θ₀ barely couples.
            pred = theta0 + a[..., None] * features[:, 0] + b[..., None] * features[:, 1]
            return ((pred - targets) ** 2).sum(-1) / (2 * m)

        iterates = np.array(path)[:, 1:]
        far = np.flatnonzero(np.abs(iterates - normal_eq[1:]).max(1) > 20)  # diverging: the start
        iterates = iterates[: far[0] + 1] if len(far) else iterates
        j_star = float(np.sum((design @ normal_eq - targets) ** 2) / (2 * m))
        with np.errstate(invalid="ignore"):
            excess = np.maximum(np.asarray(run.losses) - j_star, 1e-16)  # J(θ) − J(θ*) > 0
        fig = descent_path(slice_loss, iterates, optimum=normal_eq[1:], losses=excess,
                           loss_label="J(θ) − J(θ*)",
                           title=f"Gradient descent, α = {lr:g}, stopped at ε = {tol:g}\n"
                                 f"contours of J(θ₁, θ₂) at θ₀ = {theta0:.3f}")  # fmt: skip
        ctx.save(fig, "gradient-descent", r)
    return r


# ----------------------------------------------------------------------------- 4. information
def _information(p: ndgrad.Tensor, q: ndgrad.Tensor, base: float) -> tuple[float, float, float]:
    from ndgrad import information

    h = information.entropy(p, base=base).item()
    ce = information.cross_entropy(p, q, base=base).item()
    kl = information.kl_divergence(p, q, base=base).item()
    return h, ce, kl


def information_section(ctx: TourContext) -> SectionResult:
    r = SectionResult("information", "")
    p_np = np.array([0.5, 0.25, 0.125, 0.125])
    q_np = np.full(4, 0.25)
    p, q = ndgrad.tensor(p_np, dtype=ndgrad.float64), ndgrad.tensor(q_np, dtype=ndgrad.float64)
    # Closed forms for these dyadic distributions, in bits: H = Σ pᵢ log₂(1/pᵢ) = 1.75,
    # H(p, q) = log₂ 4 = 2, so KL = 0.25.
    exact_bits = {"H": float(-(p_np * np.log2(p_np)).sum()), "CE": 2.0}
    exact_bits["KL"] = exact_bits["CE"] - exact_bits["H"]
    for unit, base in (("bits", 2.0), ("nats", math.e)):
        h, ce, kl = _information(p, q, base)
        scale = 1.0 if base == 2.0 else math.log(2)
        r.check(f"H(p) = {exact_bits['H'] * scale:.4f} {unit}",
                abs(h - exact_bits["H"] * scale) < 1e-12, f"{h}")  # fmt: skip
        r.check(f"H(p, q) = {exact_bits['CE'] * scale:.4f} {unit}",
                abs(ce - exact_bits["CE"] * scale) < 1e-12, f"{ce}")  # fmt: skip
        r.check(f"KL(p‖q) = H(p, q) − H(p) in {unit}", abs(kl - (ce - h)) < 1e-12,
                f"KL = {kl}, CE − H = {ce - h}")  # fmt: skip
        r.lines.append(f"[{unit}] H(p) = {h:.4f}, H(p, q) = {ce:.4f}, KL(p‖q) = {kl:.4f} "
                       f"= {ce:.4f} − {h:.4f}")  # fmt: skip
        r.values[unit] = {"entropy": h, "cross_entropy": ce, "kl": kl}
    kl_self = _information(p, p, 2.0)[2]
    r.check("KL(p‖p) = 0", abs(kl_self) < 1e-15, f"{kl_self}")
    r.lines.insert(0, f"p = {p_np.tolist()}, q = {q_np.tolist()} (uniform)")
    r.lines.append("KL(p‖p) = 0: minimising H(p, q) over q minimises KL(p‖q)")
    if ctx.plots:
        from ndgrad.plot import bernoulli_entropy, information_bars

        bits = r.values["bits"]
        ctx.save(information_bars(p_np, q_np, bits["entropy"], bits["cross_entropy"],
                                  bits["kl"], "bits"), "information", r)  # fmt: skip
        ctx.save(bernoulli_entropy(2.0), "bernoulli-entropy", r)
    return r


# ----------------------------------------------------------------------------- 5. MLE
def mle_section(ctx: TourContext) -> SectionResult:
    from ndgrad.estimation import fit_bernoulli
    from ndgrad.optim import gradient_descent

    r = SectionResult("mle", "")
    draws = ndgrad.tensor([1, 0, 1, 1, 0, 1, 1, 1, 0, 1], dtype=ndgrad.float64)  # 7 white, 3 black
    k, n = int(draws.sum().item()), draws.numel()
    theta = ndgrad.tensor(0.5, dtype=ndgrad.float64, requires_grad=True)

    def negative_log_likelihood() -> ndgrad.Tensor:
        # −(1/n) log L(θ|X) = −(1/n) Σ [xᵢ log θ + (1 − xᵢ) log(1 − θ)]: the binary cross-entropy.
        return -(draws * theta.log() + (1 - draws) * (1 - theta).log()).mean()

    run = gradient_descent(negative_log_likelihood, [theta], lr=0.1, tol=1e-12, max_iter=5000)
    theta_hat = theta.item()
    likelihood = theta_hat**k * (1 - theta_hat) ** (n - k)
    r.check("θ̂ = k/n = 0.7", run.converged and abs(theta_hat - k / n) < 1e-9, f"θ̂ = {theta_hat}")
    closed_form = float(fit_bernoulli(draws).probs.item())  # the estimator θ̂ = mean(X)
    r.check("gradient descent agrees with the closed-form fit", abs(closed_form - theta_hat) < 1e-9,
            f"fit_bernoulli: {closed_form}")  # fmt: skip
    grid = np.linspace(0.0, 1.0, 1001)
    grid_max = float(grid[np.argmax(grid**k * (1 - grid) ** (n - k))])
    r.check("the likelihood curve peaks at 0.7", abs(grid_max - 0.7) < 1e-9, f"{grid_max}")
    bce = _binary_cross_entropy(ndgrad.full((n,), theta_hat, dtype=ndgrad.float64), draws)
    nll = -math.log(likelihood) / n
    r.check("−log L(θ̂)/n = binary cross-entropy", abs(bce - nll) < 1e-12, f"{bce} vs {nll}")
    r.lines += [
        f"X = {draws.long().tolist()}: {k} white, {n - k} black; L(θ) = θ^{k}(1−θ)^{n - k}",
        f"gradient descent on −log L: θ̂ = {theta_hat:.6f} after {run.iterations} iterations "
        f"(analytic k/n = {k / n})",
        f"L(θ̂) = {likelihood:.4e}; −log L(θ̂)/n = {nll:.6f} = BCE = {bce:.6f}",
    ]
    r.values.update(theta_hat=theta_hat, iterations=run.iterations, likelihood=likelihood,
                    nll_per_sample=nll, binary_cross_entropy=bce)  # fmt: skip
    if ctx.plots:
        from ndgrad.plot import likelihood_curve

        ctx.save(likelihood_curve(k, n, theta_hat), "likelihood", r)
    return r


def _binary_cross_entropy(probs: ndgrad.Tensor, targets: ndgrad.Tensor) -> float:
    from ndgrad.nn import functional as F

    return F.binary_cross_entropy(probs, targets).item()


# ----------------------------------------------------------------------------- 6. linreg
def _synthetic_data(w: ndgrad.Tensor, b: float, n: int) -> tuple[ndgrad.Tensor, ndgrad.Tensor]:
    from ndgrad.datasets.synthetic import synthetic_data

    return synthetic_data(w, b, n)


def linear_regression(ctx: TourContext) -> SectionResult:
    r = SectionResult("linear-regression", "")
    true_w, true_b = ndgrad.tensor([2.0, -3.4]), 4.2
    features, labels = _synthetic_data(true_w, true_b, 1000)
    labels = labels.reshape(-1, 1)
    w = ndgrad.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = ndgrad.zeros(1, requires_grad=True)
    lr, epochs, batch_size = 0.03, 3, 10
    n = features.shape[0]
    history = []
    for _ in range(epochs):
        order = ndgrad.randperm(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            X, y = features[idx], labels[idx]
            loss = ((X @ w + b - y) ** 2 / 2).sum()  # d2l's squared_loss, summed
            loss.backward()
            with ndgrad.no_grad():  # d2l's sgd: param -= lr * grad / batch_size
                for param in (w, b):
                    param -= lr * param.grad / batch_size
                    param.grad.zero_()
        with ndgrad.no_grad():
            history.append(((features @ w + b - labels) ** 2 / 2).mean().item())
    w_err = (true_w - w.detach().reshape(true_w.shape)).numpy()
    b_err = true_b - b.item()
    r.check("w ≈ [2, -3.4]", np.max(np.abs(w_err)) < 0.01, f"error {_fmt(w_err)}")
    r.check("b ≈ 4.2", abs(b_err) < 0.01, f"error {b_err:.2e}")
    r.check("loss fell to the noise level (σ²/2 = 5e-5)", history[-1] < 2e-4, f"{history[-1]:.2e}")
    for epoch, value in enumerate(history, 1):
        r.lines.append(f"epoch {epoch}, loss {value:f}")
    r.lines.append(f"w = {_fmt(w.detach().reshape(-1).numpy(), 5)} (true [2, -3.4]), "
                   f"b = {b.item():.4f} (true 4.2)")  # fmt: skip
    r.values.update(w=w.detach().reshape(-1).tolist(), b=b.item(), losses=history,
                    w_error=w_err.tolist(), b_error=b_err)  # fmt: skip
    if ctx.plots:
        from ndgrad.plot import training_curves

        ctx.save(training_curves({"train loss": history}, "Linear regression (minibatch SGD)"),
                 "linear-regression", r)  # fmt: skip
    return r


# ----------------------------------------------------------------------------- 7. softmax
def softmax_regression(ctx: TourContext) -> SectionResult:
    from ndgrad.datasets.sklearn_sets import load_sklearn, split_indices

    r = SectionResult("softmax-regression", "")
    data = load_sklearn("digits")
    train_idx, test_idx = split_indices(len(data), 0.2, seed=ctx.seed, stratify=data.y)
    mean = data.X[train_idx].mean(0)
    std = data.X[train_idx].std(0) + 1e-8  # constant pixels: avoid 0/0
    X_all = ((data.X - mean) / std).astype(np.float32)
    X_train, y_train = ndgrad.tensor(X_all[train_idx]), ndgrad.tensor(data.y[train_idx])
    X_test, y_test = ndgrad.tensor(X_all[test_idx]), ndgrad.tensor(data.y[test_idx])

    num_inputs, num_outputs = X_all.shape[1], data.num_classes
    W = ndgrad.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = ndgrad.zeros(num_outputs, requires_grad=True)
    lr, epochs, batch_size = 0.1, 15, 32

    def net(X: ndgrad.Tensor) -> ndgrad.Tensor:
        return X @ W + b  # logits; softmax is folded into the loss

    def cross_entropy(logits: ndgrad.Tensor, y: ndgrad.Tensor) -> ndgrad.Tensor:
        # −log softmax(o)_y, with log-softmax's max shift so exp never overflows.
        return -logits.log_softmax(dim=1)[ndgrad.arange(len(y)), y]

    def accuracy(X: ndgrad.Tensor, y: ndgrad.Tensor) -> float:
        with ndgrad.no_grad():
            return (net(X).argmax(dim=1) == y).float().mean().item()

    n = len(y_train)
    history: dict[str, list[float]] = {"train loss": [], "train acc": [], "test acc": []}
    for _ in range(epochs):
        order = ndgrad.randperm(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss = cross_entropy(net(X_train[idx]), y_train[idx]).sum()
            loss.backward()
            with ndgrad.no_grad():
                for param in (W, b):
                    param -= lr * param.grad / len(idx)
                    param.grad.zero_()
            total += loss.item()
        history["train loss"].append(total / n)
        history["train acc"].append(accuracy(X_train, y_train))
        history["test acc"].append(accuracy(X_test, y_test))
    test_acc = history["test acc"][-1]
    with ndgrad.no_grad():
        probs = net(X_test).softmax(dim=1)
    r.check("test accuracy ≥ 0.93", test_acc >= 0.93, f"{test_acc:.4f}")
    r.check("softmax rows sum to 1", _close(probs.sum(1).numpy(), np.ones(len(y_test)), 1e-5))
    r.lines += [
        f"{n} training / {len(y_test)} test images of 8×8 pixels, 10 classes; "
        f"W {num_inputs}×{num_outputs}, lr {lr}, batch {batch_size}, {epochs} epochs",
        f"train loss {history['train loss'][0]:.3f} → {history['train loss'][-1]:.3f}; "
        f"train accuracy {history['train acc'][-1]:.3f}; test accuracy {test_acc:.3f}",
    ]
    r.values.update(test_accuracy=test_acc, train_accuracy=history["train acc"][-1],
                    history=history)  # fmt: skip
    if ctx.plots:
        from ndgrad.plot import confusion_counts, confusion_matrix, image_predictions, softmax_bars

        preds = probs.argmax(dim=1).numpy()
        matrix = confusion_counts(y_test.numpy(), preds, num_outputs)
        ctx.save(confusion_matrix(matrix, data.class_names, "Softmax regression: digits test set"),
                 "softmax-confusion", r)  # fmt: skip
        images = data.X[test_idx][:24].reshape(-1, 8, 8)
        ctx.save(image_predictions(images, y_test.numpy()[:24], preds[:24], ncols=8),
                 "softmax-predictions", r)  # fmt: skip
        # softmax's output for a few test digits: the first mistake, if any, and the first three
        wrong = [int(i) for i in np.flatnonzero(preds != y_test.numpy())[:1]]
        shown = (wrong + [i for i in range(len(preds)) if i not in wrong])[:4]
        ctx.save(softmax_bars(probs.numpy()[shown], y_test.numpy()[shown], data.class_names,
                              data.X[test_idx][shown].reshape(-1, 8, 8)),
                 "softmax-probabilities", r)  # fmt: skip
    return r


# ----------------------------------------------------------------------------- 8. convolution
def corr2d(X: ndgrad.Tensor, K: ndgrad.Tensor) -> ndgrad.Tensor:
    """Two-dimensional cross-correlation by hand, as d2l 7.2 writes it (two Python loops)."""
    h, w = K.shape
    Y = ndgrad.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + h, j : j + w] * K).sum()
    return Y


def convolution_section(ctx: TourContext) -> SectionResult:
    from ndgrad import nn
    from ndgrad.nn import functional as F

    r = SectionResult("convolution", "")

    def conv(X: ndgrad.Tensor, K: ndgrad.Tensor) -> np.ndarray:  # F.conv2d on one channel
        with ndgrad.no_grad():
            return F.conv2d(X[None, None], K[None, None])[0, 0].numpy()

    # (1) the cross-correlation by hand agrees with F.conv2d (d2l's 3×3 example: [[19, 25], [37, 43]])
    X0 = ndgrad.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K0 = ndgrad.tensor([[0.0, 1.0], [2.0, 3.0]])
    by_hand = corr2d(X0, K0).numpy()
    r.check("corr2d(X, K) = [[19, 25], [37, 43]]", _close(by_hand, [[19, 25], [37, 43]], 0.0),
            f"got {_fmt(by_hand)}")  # fmt: skip
    r.check("corr2d by hand = F.conv2d", _close(by_hand, conv(X0, K0), 1e-5),
            f"F.conv2d: {_fmt(conv(X0, K0))}")  # fmt: skip
    R = ndgrad.randn(7, 9)  # and on a random image with a random 3×2 kernel
    KR = ndgrad.randn(3, 2)
    diff = float(np.max(np.abs(corr2d(R, KR).numpy() - conv(R, KR))))
    r.check("corr2d = F.conv2d on a random 7×9 image, 3×2 kernel", diff < 1e-5, f"{diff:.2e}")

    # (2) edge detection: black stripe (zeros) in columns 2-5 of a white 6×8 image
    X = ndgrad.ones((6, 8))
    X[:, 2:6] = 0
    K = ndgrad.tensor([[1.0, -1.0]])
    Y = corr2d(X, K)
    expected = np.zeros((6, 7))
    expected[:, 1], expected[:, 5] = 1.0, -1.0  # white→black: 1; black→white: -1
    r.check("Y = corr2d(X, [[1, -1]]): 1 at the white→black edge, -1 at black→white",
            _close(Y.numpy(), expected, 0.0), f"Y = {_fmt(Y.numpy())}")  # fmt: skip
    r.check("the same edges through F.conv2d", _close(conv(X, K), expected, 0.0))
    Yt = corr2d(X.t(), K)
    r.check("corr2d(Xᵀ, K) = 0: K only detects vertical edges", _close(Yt.numpy(), 0.0 * Yt.numpy(), 0.0)
            and Yt.shape == (8, 5), f"{_fmt(Yt.numpy())}")  # fmt: skip

    # (3) learning the kernel from X and Y (d2l: lr 3e-2, 10 epochs, squared error summed)
    conv2d = nn.LazyConv2d(1, kernel_size=(1, 2), bias=False)
    Xb, Yb = X.reshape((1, 1, 6, 8)), Y.reshape((1, 1, 6, 7))
    lr, losses = 3e-2, []
    for i in range(10):
        Y_hat = conv2d(Xb)
        loss = (Y_hat - Yb) ** 2
        conv2d.zero_grad()
        loss.sum().backward()
        conv2d.weight.data[:] -= lr * conv2d.weight.grad
        losses.append(loss.sum().item())
        if (i + 1) % 2 == 0:
            r.lines.append(f"epoch {i + 1}, loss {losses[-1]:.3f}")
    learned = conv2d.weight.detach().reshape((1, 2)).numpy()
    # The update is linear in the kernel's error: after 10 steps any start within the default
    # init's bound ±1/√2 ends within 0.088 of [1, -1], so 0.1 holds for every seed.
    r.check("the learned kernel ≈ [[1, -1]] (within 0.1)", _close(learned, [[1.0, -1.0]], 0.1),
            f"learned {_fmt(learned)}")  # fmt: skip
    r.check("the loss fell", losses[-1] < losses[0], f"{losses[0]:.3f} → {losses[-1]:.3f}")
    r.lines[:0] = [
        f"corr2d(X, K) by hand (two loops) = {_fmt(by_hand)} = F.conv2d; "
        f"on a random 7×9 image the largest difference is {diff:.1e}",
        "X: 6×8 ones with a black stripe in columns 2-5; K = [[1, -1]]; Y = corr2d(X, K) has 1 "
        "in column 1 and -1 in column 5; corr2d(Xᵀ, K) is all zeros",
    ]
    r.lines.append(f"learned kernel {_fmt(learned)} (true [[1, -1]])")
    r.values.update(corr2d=by_hand.tolist(), max_diff_vs_conv2d=diff, edges=Y.numpy().tolist(),
                    losses=losses, learned_kernel=learned.reshape(-1).tolist())  # fmt: skip
    if ctx.plots:
        from ndgrad.plot import convolution_kernel

        with ndgrad.no_grad():
            output = conv2d(Xb)[0, 0].numpy()
        ctx.save(convolution_kernel(X.numpy(), learned, output), "convolution", r)
    return r


# ------------------------------------------------------------------------ sequence models
def _nadaraya_watson_data(n_train: int = 50) -> tuple[ndgrad.Tensor, ...]:
    """d2l 11.2's data: y = 2 sin(x) + x^0.8 + noise at 50 sorted points in [0, 5)."""
    x_train, _ = ndgrad.sort(ndgrad.rand(n_train) * 5)
    f = lambda x: 2 * ndgrad.sin(x) + x**0.8  # noqa: E731
    y_train = f(x_train) + ndgrad.normal(0.0, 0.5, (n_train,))
    x_test = ndgrad.arange(0, 5, 0.1)
    return x_train, y_train, x_test, f(x_test)


def sequences_section(ctx: TourContext) -> SectionResult:
    from ndgrad import nn
    from ndgrad.training.language import (
        LanguageModelSpec,
        TextSettings,
        fit_language_model,
        language_hyperparameters,
        load_text_corpus,
        predict_ch8,
    )

    r = SectionResult("sequences", "")

    # (1) a character-level GRU on The Time Machine (d2l 9.5/10.1), a few seconds of training
    corpus, vocab = load_text_corpus("time-machine", max_tokens=10000)
    spec = LanguageModelSpec(model="gru", vocab_size=len(vocab), num_hiddens=128)
    hyper = language_hyperparameters("gru", epochs=8)
    result = fit_language_model(spec, corpus, vocab, hyper, TextSettings(), seed=ctx.seed)
    ppl = result.checkpoint.history.perplexity
    sample = predict_ch8("time traveller", 30, result.model, vocab)
    r.check(f"perplexity starts near the vocabulary size ({len(vocab)}): a uniform guess",
            10 < ppl[0] < 2 * len(vocab), f"epoch 1: {ppl[0]:.2f}")  # fmt: skip
    r.check("perplexity falls to under half of the first epoch's",
            ppl[-1] < ppl[0] / 2, " → ".join(f"{p:.2f}" for p in ppl))  # fmt: skip
    r.check("the model continues a prefix with characters of its vocabulary",
            sample.startswith("time traveller") and set(sample) <= set(vocab.idx_to_token),
            repr(sample))  # fmt: skip
    r.lines += [
        f"GRU (128 hidden) on {len(corpus)} characters of The Time Machine, {len(vocab)} tokens, "
        f"Adam lr {hyper.lr}: perplexity " + " → ".join(f"{p:.1f}" for p in ppl),
        f"'time traveller' continues as {sample!r}",
    ]

    # (2) attention pooling that learns its kernel width (d2l 11.2, Nadaraya-Watson)
    x_train, y_train, x_test, y_truth = _nadaraya_watson_data()
    n = len(x_train)
    not_self = (1 - ndgrad.eye(n)).type(ndgrad.bool)  # each point attends to the others
    keys = x_train.repeat((n, 1))[not_self].reshape((n, -1))
    values = y_train.repeat((n, 1))[not_self].reshape((n, -1))

    class NWKernelRegression(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(ndgrad.ones((1,)))

        def forward(self, queries: ndgrad.Tensor, keys: ndgrad.Tensor, values: ndgrad.Tensor):
            queries = queries.repeat_interleave(keys.shape[1]).reshape((-1, keys.shape[1]))
            self.attention_weights = nn.functional.softmax(
                -(((queries - keys) * self.w) ** 2) / 2, dim=1
            )
            return ndgrad.bmm(self.attention_weights.unsqueeze(1), values.unsqueeze(-1)).reshape(-1)

    net = NWKernelRegression()
    loss_fn = nn.MSELoss(reduction="none")
    trainer = ndgrad.optim.SGD(net.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        trainer.zero_grad()
        loss = loss_fn(net(x_train, keys, values), y_train)
        loss.sum().backward()
        trainer.step()
        losses.append(loss.sum().item())
    with ndgrad.no_grad():
        test_keys, test_values = x_train.repeat((len(x_test), 1)), y_train.repeat((len(x_test), 1))
        y_hat = net(x_test, test_keys, test_values)
        weights = net.attention_weights.numpy()
    peaks = x_train.numpy()[weights.argmax(axis=1)]
    distance = float(np.abs(peaks - x_test.numpy()).max())
    row_sums = weights.sum(axis=1)
    r.check(
        "each query's attention weights sum to 1", _close(row_sums, np.ones_like(row_sums), 1e-5)
    )
    r.check("training sharpened the kernel: the loss fell", losses[-1] < losses[0],
            f"{losses[0]:.2f} → {losses[-1]:.2f}, w = {net.w.item():.2f}")  # fmt: skip
    r.check("each query attends most to a training input within 0.5 of it", distance < 0.5,
            f"largest distance {distance:.3f}")  # fmt: skip
    test_mse = float(((y_hat - y_truth) ** 2).mean().item())
    r.lines.append(
        f"Nadaraya-Watson attention pooling on 50 noisy points: summed loss "
        f"{losses[0]:.1f} → {losses[-1]:.1f} in 5 SGD steps, learned w = {net.w.item():.2f}, "
        f"test MSE against the noiseless curve {test_mse:.3f}"
    )
    r.values.update(perplexity=ppl, sample=sample, nw_losses=losses, nw_w=net.w.item(),
                    nw_test_mse=test_mse)  # fmt: skip
    if ctx.plots:
        from ndgrad.plot import attention_heatmap, training_curves

        ctx.save(training_curves({"train perplexity": ppl}, "GRU on The Time Machine"),
                 "sequences-perplexity", r)  # fmt: skip
        ctx.save(attention_heatmap(weights, xlabel="sorted training inputs",
                                   ylabel="test inputs", title="Attention weights (trained)"),
                 "attention-heatmap", r)  # fmt: skip
    return r
