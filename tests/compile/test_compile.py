"""ndgrad.compile: replayed steps give eager's numbers bit for bit; what cannot be replayed runs
eagerly with one warning naming the line (fullgraph=True raises there)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import ndgrad as torch
from ndgrad import nn
from ndgrad._dynamo import Unsupported


def _same(a, b) -> None:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    assert a.dtype == b.dtype and np.array_equal(a, b)


def _data(n=60, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X @ np.array([[2.0], [-3.4]], np.float32)[:d] + 4.2).astype(np.float32)
    return torch.from_numpy(X), torch.from_numpy(y.reshape(-1))


def _d2l_linreg():
    """d2l 3.2's step: forward, l.sum().backward(), sgd under no_grad with grad.zero_()."""
    w = torch.tensor(np.array([[0.01], [-0.02]], np.float32), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def step(X, y):
        l = (torch.matmul(X, w) + b - y.reshape((-1, 1))) ** 2 / 2
        l.sum().backward()
        with torch.no_grad():
            for p in (w, b):
                p -= 0.03 * p.grad / 10
                p.grad.zero_()
        return l

    return (w, b), step


def _run_both(make, batches):
    (params_e, step_e), (params_c, step_c) = make(), make()
    compiled = torch.compile(step_c)
    for args in batches:
        out_e, out_c = step_e(*args), compiled(*args)
        if out_e is not None:
            _same(out_e, out_c)
        for pe, pc in zip(params_e, params_c):
            _same(pe, pc)
            assert pe._version == pc._version
            assert (pe.grad is None) == (pc.grad is None)
            if pe.grad is not None:
                _same(pe.grad, pc.grad)
                assert pe.grad._version == pc.grad._version
    return compiled


def test_d2l_linear_regression_step_is_bit_identical_and_replays():
    X, y = _data()
    batches = [(X[i : i + 10], y[i : i + 10]) for i in range(0, 60, 10)]
    compiled = _run_both(_d2l_linreg, batches)
    assert len(compiled.trace_seconds) == 2  # grad None, then grad present; then replays
    assert compiled.size() == 2


def test_new_shape_traces_again():
    X, y = _data()
    batches = [(X[:10], y[:10]), (X[10:15], y[10:15]), (X[20:30], y[20:30]), (X[30:35], y[30:35])]
    compiled = _run_both(_d2l_linreg, batches)
    assert len(compiled.trace_seconds) == 3  # batch 10 (twice: .grad appears), batch 5


def test_w4_set_to_none_between_steps():
    def make():
        x = torch.tensor([1.0, -2.0], requires_grad=True)

        def step():
            y = (x * 2 + 1).sum()
            y.backward()
            return y

        return (x,), step

    (params_e, step_e), (params_c, step_c) = make(), make()
    compiled = torch.compile(step_c)
    for _ in range(3):
        params_e[0].grad = params_c[0].grad = None
        for _ in range(3):
            _same(step_e(), compiled())
            _same(params_e[0].grad, params_c[0].grad)
            assert params_e[0].grad._version == params_c[0].grad._version
    assert len(compiled.trace_seconds) == 2


def _softmax_regression(momentum=0.0):
    def make():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Flatten(), nn.Linear(16, 5))
        loss = nn.CrossEntropyLoss()
        trainer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=momentum)

        def step(X, y):
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
            return l

        return list(net.parameters()), step

    return make


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_softmax_regression_concise_sgd(momentum):
    rng = np.random.default_rng(1)
    X = torch.from_numpy(rng.normal(size=(40, 1, 4, 4)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 5, 40))
    batches = [(X[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8)]
    compiled = _run_both(_softmax_regression(momentum), batches * 2)
    assert compiled.size() >= 1
    assert len(compiled.trace_seconds) <= 3  # later steps replay


def test_mlp_adam_matches_eager():
    def make():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
        opt = torch.optim.Adam(net.parameters(), lr=0.01)

        def step(X, y):
            opt.zero_grad()
            l = ((net(X) - y) ** 2).mean()
            l.backward()
            opt.step()
            return l

        return list(net.parameters()), step

    rng = np.random.default_rng(2)
    X = torch.from_numpy(rng.normal(size=(12, 3)).astype(np.float32))
    y = torch.from_numpy(rng.normal(size=(12, 1)).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no graph break: Adam's bias corrections replay
        compiled = _run_both(make, [(X, y)] * 5)
    assert len(compiled.trace_seconds) == 2  # no state, then state: later steps replay


def test_graph_break_warns_once_naming_the_line_and_gives_eager_numbers():
    def make():
        w = torch.tensor([1.5, -0.5], requires_grad=True)

        def step(x):
            l = (w * x).sum()
            if l.item() > 0:  # the break
                l = l * 2
            l.backward()
            with torch.no_grad():
                w.sub_(0.1 * w.grad)
                w.grad.zero_()
            return l

        return (w,), step

    x = torch.tensor([1.0, 2.0])
    with pytest.warns(UserWarning, match=r"graph break \(item\(\)") as rec:
        _run_both(make, [(x,)] * 3)
    breaks = [w for w in rec if "graph break" in str(w.message)]
    assert len(breaks) == 1
    assert breaks[0].filename == __file__
    import linecache

    assert "l.item()" in linecache.getline(__file__, breaks[0].lineno)


def test_fullgraph_raises_at_the_break():
    @torch.compile(fullgraph=True)
    def f(x):
        return x * 2 if bool((x > 0).all()) else x

    with pytest.raises(Unsupported, match=r"test_compile.py:\d+ \(fullgraph=True\)"):
        f(torch.ones(3))


@pytest.mark.parametrize("what", ["print", "numpy", "random"])
def test_unreplayable_side_effects_run_eagerly(what, capsys):
    def f(x):
        y = x + 1
        if what == "print":
            print(y)
        elif what == "numpy":
            y.numpy()
        else:
            y = y + torch.rand(3)
        return y

    compiled = torch.compile(f)
    with pytest.warns(UserWarning, match="graph break"):
        first = compiled(torch.ones(3))
    torch.manual_seed(3)
    second = compiled(torch.ones(3))
    torch.manual_seed(3)
    _same(second, f(torch.ones(3)))
    assert first.shape == (3,)
    assert compiled.size() == 1 and not compiled.entries()


def test_decorator_forms_and_module():
    @torch.compile
    def a(x):
        return x * 3

    @torch.compile()
    def b(x):
        return x * 3

    @torch.compile(fullgraph=True, dynamic=False, mode="default")
    def c(x):
        return x * 3

    x = torch.arange(4.0)
    for f in (a, b, c):
        for _ in range(2):
            _same(f(x), x * 3)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    eager = [p.detach().clone() for p in net.parameters()]
    compiled = torch.compile(net)
    assert compiled is net
    X = torch.ones(5, 3)
    with torch.no_grad():
        ref = (torch.relu(X @ eager[0].T + eager[1])) @ eager[2].T + eager[3]
        for _ in range(3):
            _same(net(X), ref)
    assert len(net.forward.trace_seconds) == 1


def test_compiled_module_forward_with_backward_outside_replays_both():
    """model = compile(model); loss(model(x)).backward(): the forward replays, its result is
    one autograd node whose rule replays the traced backward; same numbers as eager."""

    def make():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 4))
        return net, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    (ne, oe), (nc, oc) = make(), make()
    nc = torch.compile(nc)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(4):
            X = torch.from_numpy(rng.normal(size=(6, 3)).astype(np.float32))
            y = torch.from_numpy(rng.integers(0, 4, 6))
            outs = []
            for net, opt in ((ne, oe), (nc, oc)):
                opt.zero_grad()
                out = net(X)
                torch.nn.functional.cross_entropy(out, y).backward()
                opt.step()
                outs.append(out)
            _same(outs[0], outs[1])
            if i:  # the first call is traced (eager's graph), later ones replay
                assert outs[1].grad_fn.name() == "CompiledFunctionBackward"
            for p, q in zip(ne.parameters(), nc.parameters(), strict=True):
                _same(p, q)
                _same(p.grad, q.grad)
                assert p._version == q._version and p.grad._version == q.grad._version
    assert len(nc.forward.trace_seconds) == 1
    with pytest.raises(RuntimeError, match="not differentiable again"):
        out = nc(X)
        (g,) = torch.autograd.grad(out.sum(), nc[0].weight, create_graph=True)


def test_compiled_module_with_an_input_that_requires_grad_runs_eagerly():
    torch.manual_seed(0)
    net = torch.compile(nn.Linear(3, 1))
    X = torch.ones(4, 3, requires_grad=True)
    with pytest.warns(UserWarning, match="requires grad"):
        net(X).sum().backward()
    net(X).sum().backward()
    _same(net.weight.grad, torch.full((1, 3), 8.0))
    _same(X.grad, net.weight.detach().expand(4, 3) * 2)


def test_closure_scalar_is_guarded():
    scale = 2.0

    def f(x):
        return x * scale

    compiled = torch.compile(f)
    x = torch.ones(2)
    _same(compiled(x), x * 2.0)
    scale = 5.0
    _same(compiled(x), x * 5.0)


def test_explain_prints_forward_and_backward(capsys):
    _, step = _d2l_linreg()
    X, y = _data()
    step(X[:10], y[:10])  # .grad exists, as in steady state
    text = torch.compile.explain(step, X[:10], y[:10])
    assert "def replay(" in text
    assert text.count("np.matmul(") == 2  # X @ w forward, X.T @ g backward
    # the in-place sgd update, its output positional (one dtype: no casting); the step's
    # float32 scalars built once, as 0-d arrays
    assert re.search(r"(v\d+) = np\.subtract\(\1, v\d+, \1\)", text)
    assert "k" in text.split("def replay(")[0] and "np.float32(" not in text.split("def replay(")[1]
    assert "def replay(" in capsys.readouterr().out


def test_mode_explain_prints_each_traced_program(capsys):
    f = torch.compile(lambda x: (x * 2).exp(), mode="explain")
    f(torch.ones(2))
    f(torch.ones(2))
    out = capsys.readouterr().out
    assert out.count("def replay(") == 1 and "np.exp(" in out


def test_train_eval_of_a_captured_module_is_guarded():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    f = torch.compile(lambda x: net(x))
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32))
    with torch.no_grad():
        train = [f(x) for _ in range(2)]
        net.eval()
        ev = f(x)
        ref = net(x)
    _same(ev, ref)
    assert not np.array_equal(train[1].numpy(), ev.numpy())


def test_aliased_arguments_trace_again():
    f = torch.compile(lambda a, b: a.mul_(2) + b)
    x, y = torch.ones(3), torch.ones(3)
    f(x, y)
    f(x, y)
    z = torch.ones(3)
    out = f(z, z)  # the same tensor twice: a.mul_ is seen through b
    _same(out, torch.full((3,), 4.0))


def test_arguments_getting_a_grad_run_eagerly():
    def step(w):
        (w * w).sum().backward()

    f = torch.compile(step)
    with pytest.warns(UserWarning, match="arguments that get a .grad"):
        for _ in range(2):
            w = torch.tensor([1.0, 2.0], requires_grad=True)
            f(w)
            _same(w.grad, torch.tensor([2.0, 4.0]))


def test_replayed_step_allocates_no_new_arrays():
    import tracemalloc

    (w, b), step = _d2l_linreg()
    X, y = _data(n=2000)  # a 2000x1 float32 intermediate is 8000 bytes
    compiled = torch.compile(step)
    for _ in range(3):
        compiled(X, y)
    tracemalloc.start()
    compiled(X, y)
    compiled(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8000 + 4000  # the returned loss only; every other buffer is reused


def test_an_error_inside_leaves_no_trace_behind():
    f = torch.compile(lambda x: x.reshape(5))
    with pytest.raises(RuntimeError):
        f(torch.ones(3))
    _same(torch.ones(3) + 1, torch.full((3,), 2.0))
    _same(f(torch.ones(5)), torch.ones(5))


GLOBAL_SCALE = 2.0
GLOBAL_NET = nn.Linear(2, 2)


def _uses_globals(x):
    return GLOBAL_NET(x) * GLOBAL_SCALE


def test_global_scalar_and_module_are_guarded():
    global GLOBAL_SCALE
    compiled = torch.compile(_uses_globals)
    x = torch.ones(3, 2)
    try:
        with torch.no_grad():
            _same(compiled(x), GLOBAL_NET(x) * 2.0)
            GLOBAL_SCALE = 5.0
            _same(compiled(x), GLOBAL_NET(x) * 5.0)
            GLOBAL_NET.eval()
            _same(compiled(x), GLOBAL_NET(x) * 5.0)
        assert compiled.size() == 3
    finally:
        GLOBAL_SCALE = 2.0
        GLOBAL_NET.train()


LR = 0.1


def _sgd(params):  # reads the global LR: a helper of the compiled step
    with torch.no_grad():
        for p in params:
            p -= LR * p.grad
            p.grad.zero_()


def test_a_changed_global_learning_rate_read_by_a_helper_traces_again():
    global LR
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    w_eager = torch.tensor([1.0, -2.0], requires_grad=True)

    def step(w):
        (w * w).sum().backward()
        _sgd([w])

    def outer():  # the compiled function reads w from its closure (not an argument)
        step(w)

    compiled = torch.compile(outer)
    try:
        for lr in (0.1, 0.1, 0.5, 0.5, 1, 1):  # a float, then another, then an int
            LR = lr
            compiled()
            step(w_eager)
            _same(w, w_eager)
        assert compiled.size() == 4  # 0.1 (no .grad, then .grad), 0.5, the int 1
    finally:
        LR = 0.1


def test_a_global_int_then_float_traces_again():
    global GLOBAL_SCALE
    f = torch.compile(lambda x: x * GLOBAL_SCALE)
    x = torch.arange(3)
    try:
        GLOBAL_SCALE = 2
        _same(f(x), torch.tensor([0, 2, 4]))  # int64
        GLOBAL_SCALE = 2.0  # equal to 2, but a float: float32 results
        _same(f(x), torch.tensor([0.0, 2.0, 4.0]))
    finally:
        GLOBAL_SCALE = 2.0


def test_dynamic_true_traces_each_batch_size_and_stays_bit_identical():
    """dynamic=True does not generalise shapes: each batch size is its own program (as
    PyTorch before automatic dynamic shapes), bounded by the cache; past it, eager."""
    (w, b), step = _d2l_linreg()
    (w2, b2), step2 = _d2l_linreg()
    compiled = torch.compile(step, dynamic=True)
    X, y = _data(n=200)
    sizes = [10, 7, 10, 7, 3, 5, 6, 8, 9, 11, 12]
    start = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in sizes:
            _same(
                compiled(X[start : start + n], y[start : start + n]),
                step2(X[start : start + n], y[start : start + n]),
            )
            _same(w, w2)
            _same(b, b2)
            start += n
    assert compiled.size() == torch._dynamo.eval_frame.CACHE_LIMIT
    assert sum("cache limit" in str(m.message) for m in caught) == 1


def test_the_program_that_replayed_is_tried_first():
    X, y = _data()
    batches = [(X[i : i + 10], y[i : i + 10]) for i in range(0, 60, 10)]
    compiled = _run_both(_d2l_linreg, batches)
    (entries,) = [v for v in compiled.cache.values()]
    # traced first with .grad None, then with .grad: the second one replays, checked first
    assert len(entries) == 2 and len(compiled.trace_seconds) == 2
    assert compiled.fast[1] is entries[1] and len(entries[1].grad_owners) == 2
    assert not entries[0].grad_owners
    steady = entries[1]
    # the general path (a guard the fast check does not hold) also tries it first
    compiled.fast = None
    X2, y2 = _data(seed=3)
    compiled(X2[:10], y2[:10])
    assert entries[0] is steady and compiled.fast[1] is steady
    assert len(compiled.trace_seconds) == 2


def test_a_plain_view_reads_its_source_and_stays_bit_identical():
    def make():
        w = torch.tensor(np.array([[0.5], [-1.5]], np.float32), requires_grad=True)

        def step(X, y):
            y2 = y.reshape((-1, 1))  # already (n, 1): a plain view, read in place by replay
            l = ((X @ w - y2) ** 2).mean()
            l.backward()
            with torch.no_grad():
                w.sub_(0.1 * w.grad)
                w.grad.zero_()
            return l.detach(), y.reshape((-1, 1))  # a returned view stays a view

        return (w,), step

    X, y = _data()
    y = y.reshape((-1, 1))
    batches = [(X[i : i + 10], y[i : i + 10]) for i in range(0, 60, 10)]
    (_, step_e), (_, step_c) = make(), make()
    compiled = torch.compile(step_c)
    for args in batches:
        (le, ve), (lc, vc) = step_e(*args), compiled(*args)
        _same(le, lc)
        _same(ve, vc)
        assert vc.numpy().base is not None and np.shares_memory(vc.numpy(), args[1].numpy())
    entry = compiled.entries()[0]
    assert entry.source.count(".view()") == 1, entry.source


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_minibatch_gather_replays_as_take_bit_identically(dtype):
    features, labels = _data()
    labels = labels.reshape((-1, 1))

    def make():
        (w, b), _ = _d2l_linreg()

        def step(batch):
            X, y = features[batch], labels[batch]
            l = (torch.matmul(X, w) + b - y.reshape((-1, 1))) ** 2 / 2
            l.sum().backward()
            with torch.no_grad():
                for p in (w, b):
                    p -= 0.03 * p.grad / 10
                    p.grad.zero_()
            return X.sum()

        return (w, b), step

    order = np.random.default_rng(1).permutation(60).astype(dtype)
    order[:3] = [-1, -60, 59]  # negative indices wrap as in eager
    batches = [(torch.from_numpy(order[i : i + 10]),) for i in range(0, 60, 10)]
    compiled = _run_both(make, batches)
    assert all(".take(" in e.source for e in compiled.entries())
    with pytest.raises(IndexError):  # out of range raises as eager's a[i] does
        compiled(torch.from_numpy(np.full(10, 60, dtype)))


def test_boolean_mask_index_is_not_a_take():
    def f(x, m):
        return x[m] * 2

    compiled = torch.compile(f)
    x = torch.arange(6.0)
    m = torch.from_numpy(np.array([1, 0, 1, 1, 0, 0], bool))
    for _ in range(3):
        _same(compiled(x, m), f(x, m))
    assert all(".take(" not in e.source for e in compiled.entries())


def test_a_zero_d_index_then_written_in_place_matches_eager():
    def make():
        a = torch.zeros(4, 3)

        def step(i):
            with torch.no_grad():
                row = a[i]
                row += 1
            return a * 1

        return (a,), step

    _run_both(make, [(torch.tensor(k % 4),) for k in range(6)])


def test_folded_constants_returned_or_written_are_fresh_each_call():
    def f(x):
        z = torch.zeros(3)  # a constant of the program (folded)
        acc = torch.zeros(3)
        acc += x  # written in the call: a fresh copy each replay
        return acc * 2, z * 1  # the second result is a constant too

    compiled = torch.compile(f)
    x = torch.ones(3)
    for _ in range(3):
        a, b = compiled(x)
        _same(a, torch.full((3,), 2.0))
        _same(b, torch.zeros(3))
        b.add_(5)  # the caller's writes do not reach the program
    assert len(compiled.trace_seconds) == 1


def test_new_dtype_requires_grad_or_grad_mode_traces_again():
    w = torch.tensor([1.0, 2.0], requires_grad=True)

    def f(x):
        return (x * w).detach() * 2

    compiled = torch.compile(f)
    x32 = torch.tensor([1.0, 3.0])
    x64 = torch.tensor([1.0, 3.0], dtype=torch.float64)
    xrg = torch.tensor([1.0, 3.0], requires_grad=True)
    for x in (x32, x32, x64, x64, xrg, xrg):
        _same(compiled(x), f(x))
    with torch.no_grad():
        _same(compiled(x32), f(x32))
    assert compiled.size() == 4  # float32, float64, requires_grad, no_grad
