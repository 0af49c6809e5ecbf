"""``torch.testing.assert_close``: PyTorch's default tolerances per dtype, its attribute checks
and its failure messages, word for word."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ndgrad._tensor import Tensor

# (rtol, atol) by dtype; integers and bools compare exactly
_TOLERANCES = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}


def _torch_str(value: Any) -> str:
    return str(value).replace("ndgrad.", "torch.")


def _type_name(value: Any) -> str:
    return "<class 'ndgrad.Tensor'>" if isinstance(value, Tensor) else str(type(value))


def _fail(text: str, msg: Any, where: str) -> None:
    if callable(msg):
        text = msg(text)
    elif msg is not None:
        text = msg
    raise AssertionError(text + (f"\n\nThe failure occurred for item {where}" if where else ""))


def _tolerances(dtypes: tuple, rtol: Any, atol: Any) -> tuple:
    if rtol is not None:
        return rtol, atol
    pairs = [_TOLERANCES.get(d, (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _compare(actual: Any, expected: Any, where: str, opts: dict) -> None:
    if isinstance(actual, Tensor) or isinstance(expected, Tensor) or isinstance(actual, np.ndarray):
        _compare_tensors(actual, expected, where, opts)
        return
    scalars = (bool, int, float, complex, np.number, np.bool_)
    if isinstance(actual, scalars) and isinstance(expected, scalars):
        _compare_scalars(actual, expected, where, opts)
        return
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        if set(actual) != set(expected):
            _fail(
                "The keys of the mappings do not match:\n"
                f"Missing keys in the actual mapping: {sorted(set(expected) - set(actual))}\n"
                f"Additional keys in the actual mapping: {sorted(set(actual) - set(expected))}",
                opts["msg"],
                where,
            )
        for key in expected:
            _compare(actual[key], expected[key], f"{where}[{key!r}]", opts)
        return
    if (
        isinstance(actual, Sequence)
        and isinstance(expected, Sequence)
        and not isinstance(actual, str)
        and not isinstance(expected, str)
    ):
        if len(actual) != len(expected):
            _fail(
                f"The length of the sequences mismatch: {len(actual)} != {len(expected)}",
                opts["msg"],
                where,
            )
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _compare(a, e, f"{where}[{i}]", opts)
        return
    raise TypeError(
        f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}."
    )


def _compare_scalars(actual: Any, expected: Any, where: str, opts: dict) -> None:
    if isinstance(actual, (bool, np.bool_)) and isinstance(expected, (bool, np.bool_)):
        if bool(actual) != bool(expected):
            _fail(f"Booleans mismatch: {actual} is not {expected}", opts["msg"], where)
        return
    if opts["check_dtype"] and type(actual) is not type(expected):
        _fail(f"The (d)types do not match: {type(actual)} != {type(expected)}.", opts["msg"], where)
    exact = all(isinstance(v, (int, np.integer)) for v in (actual, expected))
    rtol, atol = _tolerances(("int64",) if exact else ("float64",), opts["rtol"], opts["atol"])
    a, e = complex(actual), complex(expected)
    if opts["equal_nan"] and _isnan(a) and _isnan(e):
        return
    diff = abs(a - e)
    if not _isnan(a) and not _isnan(e) and diff <= atol + rtol * abs(e):
        return
    abs_diff = abs(actual - expected)
    rel = diff / abs(e) if e != 0 else (math.nan if diff == 0 else math.inf)
    _fail(_scalar_message(actual, expected, abs_diff, rel, rtol, atol), opts["msg"], where)


def _scalar_message(
    actual: Any, expected: Any, abs_diff: Any, rel: Any, rtol: Any, atol: Any
) -> str:
    equal = not rtol and not atol
    allowed = ("", "") if equal else (f" (up to {atol} allowed)", f" (up to {rtol} allowed)")
    return (
        f"Scalars are not {'equal' if equal else 'close'}!\n\nExpected {expected} but got "
        f"{actual}.\nAbsolute difference: {abs_diff}{allowed[0]}\n"
        f"Relative difference: {rel}{allowed[1]}"
    )


def _isnan(value: complex) -> bool:
    return math.isnan(value.real) or math.isnan(value.imag)


def _compare_tensors(actual: Any, expected: Any, where: str, opts: dict) -> None:
    from ndgrad import _creation

    if not isinstance(actual, Tensor) or not isinstance(expected, Tensor):
        if isinstance(actual, Tensor) != isinstance(expected, Tensor) and not opts["numpy_ok"]:
            raise TypeError(
                f"No comparison pair was able to handle inputs of type {_type_name(actual)} "
                f"and {_type_name(expected)}."
            )
        actual = _creation.as_tensor(actual)
        expected = _creation.as_tensor(expected)
    if actual.shape != expected.shape:
        _fail(
            f"The values for attribute 'shape' do not match: {_torch_str(actual.shape)} != "
            f"{_torch_str(expected.shape)}.",
            opts["msg"],
            where,
        )
    if opts["check_device"] and actual.device != expected.device:
        _fail(
            f"The values for attribute 'device' do not match: {actual.device} != "
            f"{expected.device}.",
            opts["msg"],
            where,
        )
    if opts["check_dtype"] and actual.dtype != expected.dtype:
        _fail(
            f"The values for attribute 'dtype' do not match: {_torch_str(actual.dtype)} != "
            f"{_torch_str(expected.dtype)}.",
            opts["msg"],
            where,
        )
    a = np.asarray(actual.detach().cpu().numpy())
    e = np.asarray(expected.detach().cpu().numpy())
    rtol, atol = _tolerances((a.dtype.name, e.dtype.name), opts["rtol"], opts["atol"])
    common = np.result_type(a, e)
    if common.kind == "b":
        a, e, common = a.astype(np.int64), e.astype(np.int64), np.dtype(np.int64)
    a, e = a.astype(common, copy=False), e.astype(common, copy=False)
    with np.errstate(all="ignore"):
        if common.kind in "fc":
            close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=opts["equal_nan"])
        else:
            close = np.abs(a.astype(np.float64) - e) <= atol + rtol * np.abs(e.astype(np.float64))
        if close.all():
            return
        if a.ndim == 0:
            scalars = (a.item(), e.item())
            _compare_scalars_of_tensor(scalars, where, opts, rtol, atol, common)
            return
        abs_diff = np.abs(a - e) if common.kind in "fc" else np.abs(a.astype(np.int64) - e)
        fdiff = abs_diff.astype(np.float32) if common.kind in "iub" else abs_diff
        rel_diff = fdiff / np.abs(e).astype(fdiff.dtype)
    total, bad = a.size, int((~close).sum())
    where_abs = np.unravel_index(_argmax_nan(abs_diff), a.shape)
    where_rel = np.unravel_index(_argmax_nan(rel_diff), a.shape)
    equal = not rtol and not atol
    text = [
        f"Tensor-likes are not {'equal' if equal else 'close'}!",
        "",
        f"Mismatched elements: {bad} / {total} ({bad / total * 100:.1f}%)",
        f"Greatest absolute difference: {abs_diff[where_abs].item()} at index "
        f"{tuple(int(i) for i in where_abs)}" + ("" if equal else f" (up to {atol} allowed)"),
        f"Greatest relative difference: {rel_diff[where_rel].item()} at index "
        f"{tuple(int(i) for i in where_rel)}" + ("" if equal else f" (up to {rtol} allowed)"),
    ]
    _fail("\n".join(text), opts["msg"], where)


def _compare_scalars_of_tensor(
    pair: tuple, where: str, opts: dict, rtol: float, atol: float, common: np.dtype
) -> None:
    actual, expected = pair
    with np.errstate(all="ignore"):
        a, e = np.asarray(actual, common), np.asarray(expected, common)
        abs_diff = np.abs(a - e)
        rel = (abs_diff.astype(np.float32) if common.kind in "iub" else abs_diff) / np.abs(e)
    message = _scalar_message(actual, expected, abs_diff.item(), rel.item(), rtol, atol)
    _fail(message, opts["msg"], where)


def _argmax_nan(values: np.ndarray) -> int:
    flat = values.reshape(-1)
    nans = np.flatnonzero(np.isnan(flat)) if flat.dtype.kind in "fc" else []
    return int(nans[0]) if len(nans) else int(np.argmax(flat))


def assert_close(
    actual: Any,
    expected: Any,
    *,
    allow_subclasses: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg: Any = None,
) -> None:
    """Raises AssertionError unless ``actual`` and ``expected`` (tensors, NumPy arrays,
    numbers, or sequences/mappings of them) are close: ``|a - e| <= atol + rtol * |e|``
    elementwise, with PyTorch's defaults for the dtype when neither tolerance is given."""
    if (rtol is None) != (atol is None):
        raise ValueError(
            "Both 'rtol' and 'atol' must be either specified or omitted, but got no "
            f"{'atol' if atol is None else 'rtol'}."
        )
    opts = {
        "rtol": rtol,
        "atol": atol,
        "equal_nan": equal_nan,
        "check_device": check_device,
        "check_dtype": check_dtype,
        "msg": msg,
        "numpy_ok": isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray),
    }
    _compare(actual, expected, "", opts)
