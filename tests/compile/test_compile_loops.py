"""The d2l training loops under ndgrad.compile: no graph break (warnings are errors here, and
``fullgraph=True`` raises at any break), bit-for-bit eager numbers over several steps
(parameters, .grad, optimizer state, version counters), later steps replaying."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ndgrad as torch
import ndgrad.nn.functional as F
from ndgrad import nn


def _same(a, b) -> None:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _check_state(opt_e, opt_c, pe, pc) -> None:
    if opt_e is None:
        return
    for p, q in zip(pe, pc, strict=True):
        se, sc = opt_e.state.get(p, {}), opt_c.state.get(q, {})
        assert se.keys() == sc.keys()
        for k in se:
            _same(se[k], sc[k])
            if isinstance(se[k], torch.Tensor):
                assert se[k]._version == sc[k]._version, k


def _run(make, batches, fullgraph=True, traces=2):
    """``make()`` -> (params, optimizer or None, step); eager and compiled copies side by side."""
    (pe, oe, step_e), (pc, oc, step_c) = make(), make()
    compiled = torch.compile(step_c, fullgraph=fullgraph)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for args in batches:
            out_e, out_c = step_e(*args), compiled(*args)
            if out_e is not None:
                _same(out_e, out_c)
            for p, q in zip(pe, pc, strict=True):
                _same(p, q)
                assert p._version == q._version
                assert (p.grad is None) == (q.grad is None)
                if p.grad is not None:
                    _same(p.grad, q.grad)
                    assert p.grad._version == q.grad._version
            _check_state(oe, oc, pe, pc)
    assert len(compiled.trace_seconds) <= traces  # later steps replay
    assert compiled.size() >= 1
    return compiled


def _regression_batches(n_batches=5, batch=8, d=2, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        X = rng.normal(size=(batch, d)).astype(np.float32)
        y = (X @ np.array([[2.0], [-3.4]], np.float32)[:d] + 4.2).astype(np.float32)
        out.append((torch.from_numpy(X), torch.from_numpy(y)))
    return out


def _class_batches(n_batches=5, batch=8, d=12, classes=4, seed=1):
    rng = np.random.default_rng(seed)
    return [
        (
            torch.from_numpy(rng.normal(size=(batch, 1, 3, d // 3)).astype(np.float32)),
            torch.from_numpy(rng.integers(0, classes, batch)),
        )
        for _ in range(n_batches)
    ]


def test_concise_linear_regression():
    def make():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(2, 1))
        loss = nn.MSELoss()
        trainer = torch.optim.SGD(net.parameters(), lr=0.03)

        def step(X, y):
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
            return l

        return list(net.parameters()), trainer, step

    _run(make, _regression_batches())


def _scratch_make(hidden):
    """d2l 3.6 (softmax regression) or 4.2 (MLP) from scratch: own softmax, cross-entropy
    by fancy indexing, relu as max with zeros, sgd under no_grad."""

    def make():
        rng = np.random.default_rng(3)
        sizes = [12, hidden, 4] if hidden else [12, 4]
        params = []
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            w = rng.normal(0, 0.1, (fan_in, fan_out)).astype(np.float32)
            params += [
                torch.tensor(w, requires_grad=True),
                torch.zeros(fan_out, requires_grad=True),
            ]

        def softmax(X):
            X_exp = torch.exp(X)
            return X_exp / X_exp.sum(1, keepdim=True)

        def relu(X):
            return torch.max(X, torch.zeros_like(X))

        def net(X):
            H = X.reshape((-1, 12))
            for i in range(0, len(params) - 2, 2):
                H = relu(H @ params[i] + params[i + 1])
            return softmax(H @ params[-2] + params[-1])

        def cross_entropy(y_hat, y):
            return -torch.log(y_hat[list(range(len(y_hat))), y])

        def sgd(params, lr, batch_size):
            with torch.no_grad():
                for param in params:
                    param -= lr * param.grad / batch_size
                    param.grad.zero_()

        def step(X, y):
            l = cross_entropy(net(X), y)
            l.sum().backward()
            sgd(params, 0.1, X.shape[0])
            return l

        return params, None, step

    return make


@pytest.mark.parametrize("hidden", [0, 16], ids=["softmax_regression", "mlp"])
def test_scratch_classification(hidden):
    _run(_scratch_make(hidden), _class_batches())


@pytest.mark.parametrize("opt", ["adam", "adamw_amsgrad", "sgd_momentum"])
def test_concise_mlp_optimizers_and_cross_entropy(opt):
    def make():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))
        if opt == "adam":
            trainer = torch.optim.Adam(net.parameters(), lr=0.01)
        elif opt == "adamw_amsgrad":
            trainer = torch.optim.AdamW(net.parameters(), lr=0.01, amsgrad=True)
        else:
            trainer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

        def step(X, y):
            trainer.zero_grad()
            l = F.cross_entropy(net(X), y)
            l.backward()
            trainer.step()
            return l

        return list(net.parameters()), trainer, step

    _run(make, _class_batches(6))


def test_module_style_training_step():
    """d2l's new-edition classes: a Module with loss/configure_optimizers and its own SGD,
    the Trainer's step (training_step, zero_grad, backward, step) compiled as one call."""

    class SGD:
        def __init__(self, params, lr):
            self.params, self.lr = params, lr

        def step(self):
            for param in self.params:
                param -= self.lr * param.grad

        def zero_grad(self):
            for param in self.params:
                if param.grad is not None:
                    param.grad.zero_()

    class LinearRegressionScratch(nn.Module):
        def __init__(self, num_inputs, lr):
            super().__init__()
            self.lr = lr
            self.w = torch.tensor([[0.01], [-0.02]], requires_grad=True)
            self.b = torch.zeros(1, requires_grad=True)

        def forward(self, X):
            return torch.matmul(X, self.w) + self.b

        def loss(self, y_hat, y):
            return ((y_hat - y) ** 2 / 2).mean()

        def training_step(self, batch):
            return self.loss(self(*batch[:-1]), batch[-1])

        def configure_optimizers(self):
            return SGD([self.w, self.b], self.lr)

    def make():
        model = LinearRegressionScratch(2, lr=0.03)
        optim = model.configure_optimizers()

        def fit_step(X, y):
            loss = model.training_step((X, y))
            optim.zero_grad()
            with torch.no_grad():  # the book calls backward under no_grad
                loss.backward()
                optim.step()
            return loss

        return [model.w, model.b], None, fit_step

    _run(make, _regression_batches())


def test_lstm_language_model_step():
    """d2l 9.5/10.1's step: one-hot inputs, nn.LSTM, a dense head, cross-entropy, BPTT,
    clip_grad_norm_, SGD."""

    def make():
        torch.manual_seed(0)
        lstm, dense = nn.LSTM(5, 8), nn.Linear(8, 5)
        params = list(lstm.parameters()) + list(dense.parameters())
        opt = torch.optim.SGD(params, lr=0.5)

        def step(X, Y):
            out, _ = lstm(F.one_hot(X.T, 5).float())
            l = F.cross_entropy(dense(out.reshape(-1, 8)), Y.T.reshape(-1))
            opt.zero_grad()
            l.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            return l

        return params, opt, step

    rng = np.random.default_rng(0)
    batches = [
        (torch.from_numpy(rng.integers(0, 5, (3, 6))), torch.from_numpy(rng.integers(0, 5, (3, 6))))
        for _ in range(4)
    ]
    compiled = _run(make, batches)
    # the gates are written (out=) into views of the layer's one result: a[t] stays a view
    # (a gather into a buffer of its own would leave the result unwritten)
    source = "\n".join(e.source for e in compiled.entries())
    assert ".take(0, 0," not in source and ".take(1, 0," not in source


def test_a_changed_value_decision_traces_again_and_raises_as_eagerly():
    """Cross-entropy's target check is a guard: an ignored target (-100) takes the general
    path (traced anew; it breaks there, so it runs eagerly), an out-of-range one raises
    IndexError as eagerly; the replayable program stays."""
    torch.manual_seed(0)
    net = nn.Linear(3, 4)
    f = torch.compile(lambda X, y: F.cross_entropy(net(X), y).detach())
    X = torch.ones(5, 3)
    y = torch.tensor([0, 1, 2, 3, 0])
    _same(f(X, y), F.cross_entropy(net(X), y).detach())
    _same(f(X, y), F.cross_entropy(net(X), y).detach())
    with pytest.raises(IndexError, match="out of bounds"):
        f(X, torch.tensor([0, 1, 9, 3, 0]))
    ignored = torch.tensor([0, -100, 2, 3, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(f(X, ignored), F.cross_entropy(net(X), ignored).detach())
    before = len(f.trace_seconds)
    _same(f(X, y), F.cross_entropy(net(X), y).detach())
    assert len(f.trace_seconds) == before  # the first program still replays


def test_a_value_check_on_an_array_the_call_wrote_first_is_not_a_guard():
    """A decision read from an array the call changed in place before the check (an
    optimizer's step counter after ``+= 1``) cannot be checked before the replay: the call
    is not replayed from a guard evaluated on the old value (it runs eagerly instead)."""
    from ndgrad._dynamo.tracer import value_check

    counter = torch.zeros(())

    def step(x):
        counter.add_(1)
        if value_check(lambda c: bool(c > 2), counter._data):
            return x * 2
        return x * 3

    f = torch.compile(step)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(5):
            seen.append(f(torch.ones(2)).tolist())
    assert seen == [[3.0, 3.0]] * 2 + [[2.0, 2.0]] * 3


@pytest.mark.parametrize("form", ["concise_softmax", "concise_mlp", "scratch_mlp"])
def test_replayed_w2_w3_steps_allocate_no_arrays(form):
    """W2/W3-like steps (batch 256 of 784 features; hidden 256, 64 classes): once warm, a
    replay allocates none of its arrays (each is 64 KiB or more, but the biases); what
    tracemalloc still sees is NumPy's own cast scratch (32 KiB for the ReLU mask product)
    and the Tensor objects. New .grad tensors and the loss get one of two buffers, the one
    the caller let go of; a held buffer is never reused."""
    import tracemalloc

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(256, 1, 28, 28)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 64, 256))
    if form.startswith("concise"):
        hidden = [nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 64)]
        net = nn.Sequential(
            nn.Flatten(), *(hidden if form == "concise_mlp" else [nn.Linear(784, 64)])
        )
        loss, trainer = nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1)

        def step(X, y):
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
            return l

        params = list(net.parameters())
    else:
        params, step = _scratch_w3()
    compiled = torch.compile(step, fullgraph=True)
    for _ in range(3):
        l = compiled(X, y)
    tracemalloc.start()
    for _ in range(3):
        l = compiled(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40 * 1024, peak
    held = [p.grad for p in params] + [l]  # the caller keeps these: never written again
    kept = [g.numpy().copy() for g in held]
    for _ in range(2):
        compiled(X * 2, y)
    assert all(np.array_equal(g.numpy(), k) for g, k in zip(held, kept, strict=True))
    assert len(compiled.trace_seconds) == 2 and l.shape is not None


def _scratch_w3():
    rng = np.random.default_rng(1)
    params = [
        torch.tensor(rng.normal(0, 0.01, (784, 256)).astype(np.float32), requires_grad=True),
        torch.zeros(256, requires_grad=True),
        torch.tensor(rng.normal(0, 0.01, (256, 64)).astype(np.float32), requires_grad=True),
        torch.zeros(64, requires_grad=True),
    ]

    def step(X, y):
        W1, b1, W2, b2 = params
        H = torch.relu(X.reshape((-1, 784)) @ W1 + b1)
        l = F.cross_entropy(H @ W2 + b2, y, reduction="none")
        l.sum().backward()
        with torch.no_grad():
            for p in params:
                p -= 0.1 * p.grad / 256
                p.grad.zero_()
        return l

    return params, step


def test_d2l_trainer_fits_a_compiled_model_bit_for_bit():
    """The book's own Trainer API (d2l 1.0.3 under the torch alias): ``trainer.fit`` of
    ``torch.compile(d2l.LinearRegression(...))``: its training_step and fit_epoch run as the
    book wrote them, the model's forward replays (the LazyLinear is set up on the first call,
    then traced) and its backward is one replayed node; the weights equal eager's exactly."""
    pytest.importorskip("d2l")
    from tests.alias.conftest import PROGRAMS, python

    result = python(
        """
        import json, sys, warnings
        import numpy as np
        import ndgrad
        ndgrad.install_as_torch()
        import torch
        sys.path.insert(0, PROGRAMS_DIR)
        import _standins  # pandas and requests, which d2l imports, where not installed
        from d2l import torch as d2l
        warnings.simplefilter("error")

        def run(compiled):
            torch.manual_seed(0)
            data = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2)
            model = d2l.LinearRegression(lr=0.03)
            if compiled:
                model = torch.compile(model)
            d2l.Trainer(max_epochs=2).fit(model, data)
            w, b = model.get_w_b()
            return w.detach().numpy(), b.detach().numpy(), model

        we, be, _ = run(False)
        wc, bc, model = run(True)
        print(json.dumps(dict(
            same=bool(np.array_equal(we, wc) and np.array_equal(be, bc)),
            replayed=model.forward.size() >= 1,
        )))
        """.replace("PROGRAMS_DIR", repr(str(PROGRAMS))),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    assert out == {"same": True, "replayed": True}
