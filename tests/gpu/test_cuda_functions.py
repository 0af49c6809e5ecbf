"""The torch.* functions and Tensor methods of tests/ops/test_functions.py (about 1100 one-line
expressions) on ``cuda`` tensors give the CPU's results.

Each expression runs twice with ndgrad: once as written, once with every creation function
defaulting to ``device="cuda"``; values, dtypes and raised exception classes must agree.
Random draws (the devices' generators differ) and ``numpy()`` (refused for device tensors, as
in torch) are left out; printed results are compared without their ``device='cuda:0'``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tests.gpu._device import OnDevice
from tests.ops import test_functions as cases
from tests.ops._cases import DATA

import ndgrad

LISTS = (
    "POINTWISE_AND_LOGIC",
    "REDUCTIONS_CREATION_LINALG",
    "SHAPES_INDEXING_DIVISION",
    "ORDER_STATISTICS_AND_HELPERS",
    "QUANTILES_AND_LAYOUT",
    "LEARNER_IDIOMS",
)
CREATION = {
    "tensor", "zeros", "ones", "full", "eye", "arange", "linspace", "logspace", "empty",
    "as_tensor", "zeros_like", "ones_like", "full_like",
}  # fmt: skip
RANDOM = ("rand", "manual_seed", "multinomial", "bernoulli", "normal(", "dropout", "Generator")
HOST_ONLY = ("numpy()", "is_cuda", ".device", "from_numpy", "np.")


def evaluate(lib: Any, expr: str) -> Any:
    names = {"torch": lib, "F": ndgrad.nn.functional, "nn": ndgrad.nn, **DATA}
    try:
        return eval(expr, names)  # noqa: S307 - the expressions are this package's test cases
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return exc


def normalised(value: Any) -> Any:
    if isinstance(value, ndgrad.Tensor):
        return ("tensor", value.detach().cpu().numpy(), str(value.dtype))
    if isinstance(value, (tuple, list)):
        return [normalised(v) for v in value]
    if isinstance(value, BaseException):
        return ("raised", type(value).__name__)
    if isinstance(value, str):
        value = value.replace(", device='cuda:0'", "").replace("device='cuda:0', ", "")
        return value.replace("ndgrad.cuda.", "ndgrad.")  # type(): torch.cuda.FloatTensor
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, tuple) and len(a) == 3 and a[0] == "tensor":
        if not (isinstance(b, tuple) and len(b) == 3 and b[0] == "tensor" and a[2] == b[2]):
            return False
        return a[1].shape == b[1].shape and np.allclose(a[1], b[1], rtol=1e-6, equal_nan=True)
    try:
        return bool(a == b) or (a != a and b != b)  # NaN == NaN here
    except Exception:  # noqa: BLE001 - arrays compared elementwise
        return repr(a) == repr(b)


def test_functions_on_cuda_equal_the_cpu(cuda: Any) -> None:
    exprs = [e if isinstance(e, str) else e[0] for name in LISTS for e in getattr(cases, name)]
    checked, differ = 0, []
    for expr in exprs:
        if any(word in expr for word in RANDOM + HOST_ONLY):
            continue
        want = normalised(evaluate(ndgrad, expr))
        got = normalised(evaluate(OnDevice("cuda", CREATION), expr))
        checked += 1
        if not same(want, got):
            differ.append(f"{expr}\n  cpu:  {want!r:.200}\n  cuda: {got!r:.200}")
    assert checked > 1000
    assert not differ, f"{len(differ)} of {checked} differ:\n" + "\n".join(differ[:20])
