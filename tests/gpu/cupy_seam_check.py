"""Manual GPU check, not part of the test suite: ndgrad's ops on CuPy arrays via the backend seam.

Run from the repository root on a machine with CuPy and a GPU:
``python3 tests/gpu/cupy_seam_check.py``. Each case runs forward and backward on NumPy and on
CuPy arrays and compares values and gradients; the report goes to stdout and
``$OUT/gpu_seam.json``.
"""

import json
import os
import sys
import traceback

sys.path.insert(0, "src")

import cupy as cp  # noqa: E402
import numpy as np  # noqa: E402

import ndgrad  # noqa: E402
import ndgrad.nn.functional as F  # noqa: E402
from ndgrad._backend import register_backend  # noqa: E402
from ndgrad._tensor import Tensor  # noqa: E402

register_backend("cuda", cp, array_type=cp.ndarray)
rng = np.random.default_rng(0)
X = rng.normal(size=(8, 5))
W = rng.normal(size=(3, 5))
b = rng.normal(size=3)
y = rng.integers(0, 3, size=8)


def make(arr, gpu, grad=False):
    t = Tensor._make(cp.asarray(arr) if gpu else np.asarray(arr))
    return t.requires_grad_() if grad else t


def host(a):
    return cp.asnumpy(a) if isinstance(a, cp.ndarray) else np.asarray(a)


cases = {
    "exp_sum": lambda x, w, bb, yy: x.exp().sum(),
    "log_softmax": lambda x, w, bb, yy: x.log_softmax(1).sum(),
    "softmax_dim0": lambda x, w, bb, yy: (x.softmax(0) * x).sum(),
    "sigmoid_tanh_relu": lambda x, w, bb, yy: (x.sigmoid() + x.tanh() + x.relu()).mean(),
    "matmul_bias": lambda x, w, bb, yy: ((x @ w.T + bb) ** 2).sum(),
    "F.linear": lambda x, w, bb, yy: F.linear(x, w, bb).pow(2).mean(),
    "cross_entropy": lambda x, w, bb, yy: F.cross_entropy(F.linear(x, w, bb), yy),
    "mse": lambda x, w, bb, yy: F.mse_loss(F.linear(x, w, bb), F.linear(x, w, bb).detach() * 0.5),
    "max_dim": lambda x, w, bb, yy: x.max(dim=1).values.sum(),
    "reshape_t_cat": lambda x, w, bb, yy: ndgrad.cat([x.reshape(5, 8).T, x], 1).var(),
    "index_int_array": lambda x, w, bb, yy: x[Tensor._make(yy._data), 1:4].sum(),
    "gather": lambda x, w, bb, yy: x.gather(1, yy.unsqueeze(1)).sum(),
    "norm_clamp": lambda x, w, bb, yy: x.clamp(-0.5, 0.5).norm(),
    "logsumexp_mean": lambda x, w, bb, yy: x.logsumexp(1).mean(),
}
report = {
    "cupy": cp.__version__,
    "device": cp.cuda.runtime.getDeviceProperties(0)["name"].decode(),
    "cases": {},
}
for name, fn in cases.items():
    try:
        outs = []
        for gpu in (False, True):
            x, w, bb = make(X, gpu, True), make(W, gpu, True), make(b, gpu, True)
            yy = make(y.astype(np.int64), gpu)
            out = fn(x, w, bb, yy)
            if gpu:
                report["cases"].setdefault(
                    name + ":forward", {"ok": bool(np.allclose(host(out._data), outs[0][0]))}
                )
            out.backward()
            outs.append(
                (
                    host(out._data),
                    [host(t.grad._data) for t in (x, w, bb) if t.grad is not None],
                    type(out._data).__module__,
                    str(out.device),
                )
            )
        (v0, g0, _, _), (v1, g1, mod, dev) = outs
        ok = (
            np.allclose(v0, v1)
            and len(g0) == len(g1)
            and all(np.allclose(a, c) for a, c in zip(g0, g1))
        )
        report["cases"][name] = {"ok": bool(ok), "result_module": mod, "device": dev}
    except Exception as exc:
        report["cases"][name] = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}"[:300],
            "where": traceback.format_exc().splitlines()[-3][:200],
        }
print(json.dumps(report, indent=1))
os.makedirs(os.environ.get("OUT", "."), exist_ok=True)
json.dump(report, open(os.path.join(os.environ.get("OUT", "."), "gpu_seam.json"), "w"), indent=1)
