"""``ndgrad.compile``: trace one call, replay its NumPy program while the signature holds."""

from __future__ import annotations

import functools
import sys
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._dynamo import tracer as _tr
from ndgrad._tensor import Tensor
from ndgrad.autograd.grad_mode import STATE

CACHE_LIMIT = 8
_EAGER = object()


class Unsupported(RuntimeError):
    """What ``fullgraph=True`` raises at a graph break (torch._dynamo.exc.Unsupported)."""


# ---------------------------------------------------------------------------- codegen
def _np_name(obj: Any) -> str | None:
    name = getattr(obj, "__name__", None)
    if name and getattr(np, name, None) is obj:
        return f"np.{name}"
    return None


class _Made:
    """An operand made above ``def replay``: by ``text``, or already bound as ``name``."""

    __slots__ = ("name", "text")

    def __init__(self, name: str | None, text: str = "") -> None:
        self.name, self.text = name, text


class _Source:
    def __init__(self) -> None:
        self.names: dict[str, Any] = {"np": np}
        self.count = 0
        self.header: list[str] = []  # constants built once, above ``def replay``
        self.alias: dict[int, str] = {}  # slot -> a name made above ``def replay``

    def const(self, text: str) -> str:
        """A NumPy scalar or dtype spelled ``text``: built once when the program is made."""
        name = f"k{self.count}"
        self.count += 1
        self.header.append(f"{name} = {text}")
        return name

    def bind(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{self.count}"
        self.count += 1
        self.names[name] = value
        return name

    def arg(self, s: Any) -> str:
        if isinstance(s, _tr.Slot):
            return self.alias.get(s.i, f"v{s.i}")
        if isinstance(s, _tr.Const):
            return self.bind("k", s.value)
        if isinstance(s, _Made):
            return s.name if s.name is not None else self.const(s.text)
        if isinstance(s, tuple):
            inner = ", ".join(self.arg(v) for v in s)
            return f"({inner},)" if len(s) == 1 else f"({inner})"
        if isinstance(s, list):
            return "[" + ", ".join(self.arg(v) for v in s) + "]"
        if s is Ellipsis:
            return "..."
        if isinstance(s, np.dtype):
            return self.const(f"np.dtype({s.name!r})")
        if type(s) in (int, bool, str, type(None), slice) or (type(s) is float and np.isfinite(s)):
            return repr(s)
        if isinstance(s, np.generic) and np.isfinite(s):
            return self.const(repr(s))  # np.float32(0.03): NumPy 2's repr evaluates back exactly
        if _np_name(s):
            return _np_name(s)
        return self.bind("k", s)


_QUERIES = {np.may_share_memory, np.shares_memory, np.result_type, np.can_cast, np.ndim, np.shape}
_MUTATING_METHODS = {"__setitem__", "fill"}


def live_tape(tape: list, returns: list[int]) -> list:
    """The tape without queries and without calls whose results nobody reads (dead code)."""
    live = set(returns)
    kept = []
    for entry in reversed(tape):
        fn, label, sargs, skw, outs = entry
        if fn in _QUERIES:
            continue
        produced = outs if isinstance(outs, tuple) else (outs,)
        mutates = (
            "out" in skw
            or (label[0] == "ufunc" and label[2] == "at")
            or (label[0] == "method" and label[1] in _MUTATING_METHODS)
            or all(o is None for o in produced)
        )
        if mutates or any(o in live for o in produced if o is not None):
            kept.append(entry)
            _slots(sargs, live)
            _slots(tuple(skw.values()), live)
    kept.reverse()
    return kept


def _single_out(skw: dict) -> bool:
    out = skw.get("out")
    return type(out) is tuple and len(out) == 1 and isinstance(out[0], _tr.Slot)


def _gather_index(sargs: tuple) -> Any:
    """The index slot of ``a[i]`` / ``a[(i,)]``."""
    key = sargs[1]
    return key[0] if type(key) is tuple else key


def _is_gather(trace: _tr.Trace, label: tuple, sargs: tuple) -> bool:
    """``a[i]`` of an ndarray by one integer index array (NumPy's take along axis 0)."""
    if label != ("method", "__getitem__") or len(sargs) != 2:
        return False
    key = sargs[1]
    if type(key) is tuple and len(key) == 1:
        key = key[0]
    if not (isinstance(sargs[0], _tr.Slot) and isinstance(key, _tr.Slot)):
        return False
    a, i = trace.plain[sargs[0].i], trace.plain[key.i]
    # a 0-d index is an integer (a[i] a view, not a copy): only an index array of ndim >= 1
    return (
        type(a) is np.ndarray
        and type(i) is np.ndarray
        and a.ndim >= 1
        and i.ndim >= 1
        and i.dtype.kind in "iu"
    )


def _plain_sum(sargs: tuple, skw: dict) -> bool:
    return len(sargs) == 1 and isinstance(sargs[0], _tr.Slot) and set(skw) <= {"axis", "dtype"}


_FILLS = {
    np.empty: None,
    np.zeros: 0,
    np.ones: 1,
    np.empty_like: None,
    np.zeros_like: 0,
    np.ones_like: 1,
}
_COPY = ("method", "copy")
_VIEW_METHODS = {"reshape", "transpose", "view", "swapaxes", "squeeze", "__getitem__", "ravel"}


def _root(a: Any) -> Any:
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


def _scalar_as_array(ufunc: Any, sargs: tuple, trace: _tr.Trace) -> tuple | None:
    """For a binary ufunc of an array and a scalar: (position, dtype) where the scalar can be a
    0-d array of the array's dtype: NumPy casts the scalar to that dtype and runs the same
    loop, but a 0-d array skips the per-call scalar conversion (about 2x faster on small arrays)."""
    if ufunc.nin != 2 or len(sargs) < 2:
        return None
    for pos in (0, 1):
        s, other = sargs[pos], sargs[1 - pos]
        if not isinstance(other, _tr.Slot):
            continue
        a = trace.plain[other.i]
        if type(a) is not np.ndarray or a.ndim == 0:
            continue
        dt = a.dtype
        if type(s) in (int, float, bool):  # weak: takes the array's dtype if it fits
            if not np.isfinite(s) or np.result_type(dt, s) != dt:
                return None
        elif not (isinstance(s, np.generic) and s.dtype == dt and np.isfinite(s)):
            return None
        if not any(t.startswith(dt.char * 2 + "->") for t in ufunc.types):
            return None
        return pos, dt
    return None


def codegen(
    trace: _tr.Trace,
    prealloc: set[int],
    returns: list[int],
    versions: tuple = ((), ()),
    pooled: set[int] = frozenset(),  # type: ignore[assignment]
) -> tuple[str, dict[str, Any]]:
    """The tape as a Python function ``replay(a0, a1, ...)`` returning the slots in ``returns``.

    Arrays whose identity is fixed across replays (guarded externals, preallocated buffers)
    are *stable*: views of them are made once, above ``def replay``, and the body reads them."""
    src = _Source()
    lines = []
    tape = live_tape(trace.tape, returns)
    used = set(returns)
    for _, _, sargs, skw, _ in tape:
        _slots(sargs, used)
        _slots(tuple(skw.values()), used)
    stable: dict[int, tuple[str, np.ndarray]] = {}  # slot -> (bound name, its array)
    for _t, a, slot in trace.externals:
        if slot in used:
            name = src.bind("e", a)
            stable[slot] = (name, a)
            lines.append(f"    v{slot} = {name}  # {tuple(a.shape)} {a.dtype}")

    fold = _Folding(trace, tape)

    def materialize(slot: int, copy: bool) -> None:
        value = fold.values.pop(slot)
        name = src.bind("k", value)
        if copy:  # a fresh copy each replay: the call writes into it, or it leaves the call
            lines.append(f"    v{slot} = {name}.copy()  # {tuple(value.shape)}, a constant")
        else:
            src.alias[slot] = name
            stable[slot] = (name, value)

    prealloc = prealloc | pooled

    def buffer(slot: int) -> str:
        if slot in pooled:
            a, b = (src.bind("p", np.zeros_like(trace.plain[slot])) for _ in range(2))
            src.names["refs"] = sys.getrefcount
            lines.append(f"    q{slot} = {a} if refs({a}) == 2 else {b} if refs({b}) == 2 else")
            lines[-1] += f" np.empty_like({a})  # a buffer nobody holds"
            return f"q{slot}"
        b = np.zeros_like(trace.plain[slot])
        name = src.bind("b", b)
        stable[slot] = (name, b)
        return name

    for k, (fn, label, sargs, skw, outs) in enumerate(tape):
        if fold.fold(k):
            continue
        for slot in fold.reads(k):
            if slot in fold.values:
                materialize(slot, fold.written_from(slot, k) or slot in returns)
        kind = label[0]
        view = _hoistable_view(trace, label, sargs, skw, outs, stable, returns)
        if view is not None:
            name = src.bind("h", view[1])
            src.alias[outs] = name
            stable[outs] = (name, view[1])
            src.header.append(f"{name} = {view[0]}  # v{outs}, a view made once")
            continue
        if kind == "ufunc" and label[2] == "__call__":
            sargs = _broadcast_free(label[1], sargs, outs, stable, trace, src)
        args = [src.arg(a) for a in sargs]
        kw = [f"{k}={src.arg(v)}" for k, v in skw.items()]
        target = (
            ", ".join(f"v{o}" if o is not None else "_" for o in outs) + ","
            if isinstance(outs, tuple)
            else (f"v{outs}" if outs is not None else "_")
        )
        if kind == "ufunc":
            ufunc, method = label[1], label[2]
            name = _np_name(ufunc) or src.bind("f", ufunc)
            if method != "__call__":
                name = f"{name}.{method}"
            out = None
            if outs in prealloc and "out" not in skw:
                out = buffer(outs)
            elif _single_out(skw):
                out = src.arg(skw["out"][0])
                kw = [f"{k}={src.arg(v)}" for k, v in skw.items() if k != "out"]
            if kw == ["casting='unsafe'"] and _one_dtype(sargs, skw, trace):
                kw = []  # every operand already has the loop's dtype: casting changes nothing
            if (
                out is not None
                and method == "__call__"
                and ufunc.nout == 1 == len(sargs) - ufunc.nin + 1
                and ufunc not in (np.maximum, np.minimum)  # (a deprecated third argument)
            ):
                args.append(out)  # ufunc(a, b, out): the output positionally parses fastest
            elif out is not None:
                kw.append(f"out={out}")
            call = f"{name}({', '.join(args + kw)})"
        elif kind == "func" and fn is np.sum and _plain_sum(sargs, skw):
            # np.sum of an ndarray is np.add.reduce (the same loop) without the dispatch;
            # arguments by position (axis, dtype, out) parse fastest
            out = buffer(outs) if outs in prealloc else None
            pos = [src.arg(skw.get("axis")), src.arg(skw.get("dtype")), out or "None"]
            while pos and pos[-1] == "None":
                pos.pop()
            call = f"np.add.reduce({', '.join(args + pos)})"
        elif kind == "func" and outs in prealloc and fn in _FILLS:
            # a new array: a buffer, filled again at each replay (np.empty: not)
            b = buffer(outs)
            fill = _FILLS[fn]
            lines.append(f"    {target} = {b}")
            call = f"{b}.fill({fill})" if fill is not None else ""
            if call:
                lines.append(f"    {call}")
            continue
        elif kind == "func":
            name = _np_name(fn) or src.bind("f", fn)
            call = f"{name}({', '.join(args + kw)})"
        elif kind == "attr":
            call = f"{args[0]}.{label[1]}"
        elif label[1] == "view" and len(args) == 1 and not kw and outs not in returns:
            # a.view() of a slot that does not leave the call: the same data, so the program
            # reads ``a`` itself (in-place writes through either reach the same memory)
            call = args[0]
        elif label == _COPY and outs in prealloc and len(args) == 1 and not kw:
            b = buffer(outs)
            lines.append(f"    np.copyto({b}, {args[0]})")
            call = b
        elif label[1] == "__getitem__" and outs in prealloc and _is_gather(trace, label, sargs):
            # a[i] with an integer index array is a.take(i, 0): the same gather, into a buffer
            index = src.arg(_gather_index(sargs))
            call = f"{args[0]}.take({index}, 0, {buffer(outs)})"
        elif label[1] == "__getitem__":
            call = f"{args[0]}[{args[1]}]"
        elif label[1] == "__setitem__":
            lines.append(f"    {args[0]}[{args[1]}] = {args[2]}")
            continue
        else:
            call = f"{args[0]}.{label[1]}({', '.join(args[1:] + kw)})"
        lines.append(f"    {target} = {call}" if target != "_" else f"    {call}")
    for slot in returns:
        if slot in fold.values:
            materialize(slot, True)
    params = ", ".join(
        [f"v{trace.inputs[p]}" for p in sorted(trace.inputs)]
        + [f"v{slot}" for _, slot, _ in trace.grad_inputs]
    )
    counters, grad_deltas = versions
    if any(d for _, d in counters) or any(d for _, d in grad_deltas):
        lines.append("    # version counters, as eager's in-place ops bumped them")
    for c, d in counters:
        if d:
            lines.append(f"    {src.bind('c', c)}[0] += {d}")
    for owner, d in grad_deltas:
        if d:
            lines.append(f"    {src.bind('o', owner)}._grad._version_counter[0] += {d}")
    ret = ", ".join(src.arg(_tr.Slot(r)) for r in returns)
    body = "\n".join(lines) or "    pass"
    header = "".join(f"{h}\n" for h in src.header)
    source = (
        f"{header}def replay({params}):\n{body}\n"
        f"    return ({ret}{',' if len(returns) == 1 else ''})\n"
    )
    return source, src.names


class _Folding:
    """Constant folding: calls that read only constants (arrays the call created with
    np.zeros/ones/full, made outside the tracer, or computed from such) run once when the
    program is made. A constant a replayed call reads is bound as is when nothing writes into
    it afterwards, else copied fresh at each replay (so is one that leaves the call)."""

    def __init__(self, trace: Any, tape: list) -> None:
        self.tape = tape
        self.values: dict[int, np.ndarray] = {s: v.copy() for s, v in trace.created_consts.items()}
        self.writes: dict[int, list[int]] = {}
        for k, entry in enumerate(tape):
            for slot in _written(entry):
                self.writes.setdefault(slot, []).append(k)
        self.shared: set[int] = set()

    def reads(self, k: int) -> set[int]:
        _fn, _label, sargs, skw, _outs = self.tape[k]
        read: set[int] = set()
        _slots(sargs, read)
        _slots(tuple(skw.values()), read)
        return read

    def written_from(self, slot: int, k: int) -> bool:
        return any(w >= k for w in self.writes.get(slot, ()))

    def fold(self, k: int) -> bool:
        fn, label, sargs, skw, outs = self.tape[k]
        values = self.values
        read = self.reads(k)
        if not all(s in values for s in read):
            return False
        if label[0] == "attr" or (label[0] == "method" and label[1] in _VIEW_METHODS):
            # a view, folded to a copy: only if neither it nor its source is written later
            produced = outs if isinstance(outs, tuple) else (outs,)
            if any(self.written_from(s, k) for s in (*read, *produced) if s is not None):
                return False

        def value(x: Any) -> Any:
            if isinstance(x, _tr.Slot):
                return values[x.i]
            if isinstance(x, _tr.Const):
                return x.value
            if isinstance(x, tuple):
                return tuple(value(v) for v in x)
            if isinstance(x, list):
                return [value(v) for v in x]
            return x

        with np.errstate(all="ignore"):
            result = fn(*value(sargs), **{n: value(v) for n, v in skw.items()})
        produced = outs if isinstance(outs, tuple) else (outs,)
        results = result if isinstance(outs, tuple) else (result,)
        for o, r in zip(produced, results, strict=True):
            if o is not None and not (isinstance(r, np.ndarray) and o in values and r is values[o]):
                values[o] = np.array(r)  # (its own memory: no view of another constant)
        return True


def _written(entry: tuple) -> set[int]:
    fn, label, sargs, skw, _outs = entry
    out: set[int] = set()
    _slots(skw.get("out", ()), out)
    if (
        (label[0] == "method" and label[1] in _MUTATING_METHODS)
        or label[-1] == "at"
        or (label[0] == "func" and fn in _tr._WRITES_FIRST)
    ):
        _slots(sargs[:1], out)
    return out


def _hoistable_view(
    trace: _tr.Trace, label: tuple, sargs: tuple, skw: dict, outs: Any, stable: dict, returns: list
) -> tuple[str, np.ndarray] | None:
    """(source, array) when this op is a view of a stable array with constant arguments: the
    view is the same memory at every replay, so it is made once."""
    if not isinstance(outs, int) or outs in returns or skw:
        return None
    if not (sargs and isinstance(sargs[0], _tr.Slot) and sargs[0].i in stable):
        return None
    if label == ("attr", "T"):
        rest: tuple = ()
    elif label[0] == "method" and label[1] in _VIEW_METHODS:
        rest = sargs[1:]
        if any(isinstance(s, (_tr.Slot, _tr.Const)) for s in _flat(rest)):
            return None  # an index array is a gather, not a view
    else:
        return None
    name, a = stable[sargs[0].i]
    r = trace.plain[outs]
    if type(r) is not np.ndarray or r is trace.plain[sargs[0].i]:
        return None
    if _root(r) is not _root(trace.plain[sargs[0].i]):
        return None  # a copy (ravel of a non-contiguous array), not a view
    if label[0] == "attr":
        return f"{name}.T", a.T
    if any(type(v) not in (int, tuple, slice, type(None)) and v is not Ellipsis for v in rest):
        return None
    made = getattr(a, label[1])(*rest)
    if not (isinstance(made, np.ndarray) and _root(made) is _root(a) and made.shape == r.shape):
        return None
    text = ", ".join(repr(v) if v is not Ellipsis else "..." for v in rest)
    if label[1] == "__getitem__":
        return f"{name}[{text}]", made
    return f"{name}.{label[1]}({text})", made


def _one_dtype(sargs: tuple, skw: dict, trace: _tr.Trace) -> bool:
    """Whether every operand and the output are arrays of one dtype (scalars made 0-d arrays
    of the loop's dtype count as such)."""
    out = skw.get("out")
    ops = [*sargs, *(out if type(out) is tuple else (out,))]
    dtypes = set()
    for s in ops:
        if isinstance(s, _Made):
            continue
        if not isinstance(s, _tr.Slot) or not isinstance(trace.plain[s.i], np.ndarray):
            return False
        dtypes.add(trace.plain[s.i].dtype)
    return len(dtypes) == 1


def _flat(x: Any) -> list:
    if isinstance(x, (tuple, list)):
        return [w for v in x for w in _flat(v)]
    return [x]


def _broadcast_free(
    ufunc: Any, sargs: tuple, outs: Any, stable: dict, trace: _tr.Trace, src: _Source
) -> tuple:
    """An elementwise call's operands as the fastest equal ones: a scalar as a 0-d array of the
    loop's dtype (made once), a one-element stable array broadcast against a bigger one as its
    0-d view (NumPy's broadcasting setup costs more than the loop on small arrays)."""
    sargs = list(sargs)
    conv = _scalar_as_array(ufunc, tuple(sargs), trace)
    if conv is not None:
        pos, dt = conv
        v = sargs[pos]
        text = repr(v)  # NumPy 2 spells a NumPy scalar np.float32(0.03): exact
        sargs[pos] = _Made(None, f"np.asarray({text}, np.{dt.name})")
    if ufunc.nin == 2 and isinstance(outs, int) and len(sargs) >= 2:
        shape = trace.plain[outs].shape if isinstance(trace.plain[outs], np.ndarray) else None
        for pos in (0, 1):
            s, other = sargs[pos], sargs[1 - pos]
            if not (isinstance(s, _tr.Slot) and s.i in stable and isinstance(other, _tr.Slot)):
                continue
            a, b = trace.plain[s.i], trace.plain[other.i]
            if (
                isinstance(a, np.ndarray)
                and isinstance(b, np.ndarray)
                and a.size == 1
                and a.shape != shape
                and b.shape == shape
                and a.ndim <= len(shape)
            ):
                name, arr = stable[s.i]
                zero = arr.reshape(())
                h = src.bind("h", zero)
                src.header.append(f"{h} = {name}.reshape(())  # v{s.i}'s one element, 0-d")
                sargs[pos] = _Made(h)
    return tuple(sargs)


# ---------------------------------------------------------------------------- signature
def _sig(x: Any, tensors: list) -> Any:
    if isinstance(x, Tensor):
        tensors.append(x)
        d = Tensor.__dict__["_data"].__get__(x, Tensor)
        return ("T", d.shape, d.dtype.str, x._requires_grad, x.grad_fn is None, x._base is None)
    if type(x) in (int, float, bool, str, type(None)):
        return (type(x).__name__, x)
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple([_sig(v, tensors) for v in x]))
    if isinstance(x, dict):
        return ("dict", tuple((k, _sig(v, tensors)) for k, v in x.items()))
    training = getattr(x, "training", None)
    if training is not None and hasattr(x, "modules"):
        return ("M", id(x), tuple(m.training for m in x.modules()))
    return ("O", id(x))


_SCALARS = (int, float, bool, str)


def _closure_sig(fn: Any, spec: list) -> tuple:
    """The Python scalars ``fn`` reads from its closure and globals (``spec``: where they are,
    found on the first call: the cells and global names that held scalars or modules then)."""
    if not spec:
        cells: list = []
        scalars: list = []  # (globals dict, name)
        for f in _functions(fn):  # fn and the Python functions it reaches by name
            cells += [c for c in (getattr(f, "__closure__", None) or ()) if _cell(c) is not None]
            g = getattr(f, "__globals__", {})
            code = getattr(f, "__code__", None)
            for n in code.co_names if code is not None else ():
                if type(g.get(n)) in _SCALARS and (g, n) not in scalars:
                    scalars.append((g, n))
        g = getattr(fn, "__globals__", {})
        code = getattr(fn, "__code__", None)
        names = code.co_names if code is not None else ()
        spec.append(tuple({id(c): c for c in cells}.values()))  # (cells are unhashable)
        spec.append(g)
        spec.append(tuple(scalars))
        spec.append(tuple(n for n in names if _is_module(g.get(n))))
    cells, g, scalars, modules = spec
    return (
        *[_cell(c) for c in cells],
        *[(type(v), v) for v in [d.get(n) for d, n in scalars]],  # 1, 1.0 and True are equal
        *[_global(g, n) for n in modules],
    )


def _functions(fn: Any, depth: int = 3) -> list:
    """``fn`` and the Python functions it names (globals, closure cells), ``depth`` calls
    deep: where a global learning rate read by a helper is found."""
    found = [fn]
    todo = [(fn, 0)]
    while todo:
        f, d = todo.pop()
        if d >= depth:
            continue
        code, g = getattr(f, "__code__", None), getattr(f, "__globals__", {})
        named = [g.get(n) for n in (code.co_names if code is not None else ())]
        named += [_cell_value(c) for c in getattr(f, "__closure__", None) or ()]
        for v in named:
            if type(v) is types.FunctionType and v not in found:
                found.append(v)
                todo.append((v, d + 1))
    return found


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _cell(cell: Any) -> Any:
    try:
        v = cell.cell_contents
    except ValueError:
        return None
    if type(v) in _SCALARS:
        return (type(v), v)
    if _is_module(v):  # train() / eval() changes which ops run
        return ("M", id(v), tuple(m.training for m in v.modules()))
    return None


_MODULE: list = []


def _is_module(v: Any) -> bool:
    if not _MODULE:
        from ndgrad.nn.modules.module import Module

        _MODULE.append(Module)
    return isinstance(v, _MODULE[0])


def _global(g: dict, name: str) -> Any:
    v = g.get(name)
    if _is_module(v):
        return ("M", id(v), tuple(m.training for m in v.modules()))
    return v


def _aliasing(tensors: list) -> tuple:
    """Which arguments are the same tensor or share memory (replay binds by position)."""
    first: dict[int, int] = {}
    out = []
    get = Tensor.__dict__["_data"].__get__
    for i, t in enumerate(tensors):
        d = get(t, Tensor)
        while d.base is not None and isinstance(d.base, np.ndarray):
            d = d.base
        out.append(first.setdefault(id(d), i))
        out.append(first.setdefault(id(t) + 1, i))  # +1: never an array's id
    return tuple(out)


class _Entry:
    """A replayable program and its guards."""

    def __init__(self, trace: _tr.Trace, replay: Any, source: str, plan: dict) -> None:
        self.replay = replay
        self.source = source
        self.ext_guards = trace.ext_guards
        grads = {id(owner): c for owner, _, c in trace.grad_inputs}
        self.grad_guards = []  # (tensor, its .grad seen first, (shape, dtype) if read anew)
        for t, g in trace.grad_seen.values():
            meta = None
            # a .grad read from its owner at replay, or never read as an array (only tested
            # for None, as zero_grad does): any .grad of that shape and dtype will do
            if g is not None and (id(t) in grads or id(g) not in trace.adopted):
                d = Tensor.__dict__["_data"].__get__(g, Tensor)
                meta = (d.shape, d.dtype)
            self.grad_guards.append((t, g, meta))
        self.grad_owners = [owner for owner, _, _ in trace.grad_inputs]

        self.grad_effects = plan["grad_effects"]
        self.result = plan["result"]
        self.n_inputs = len(trace.inputs)
        self.input_positions = sorted(trace.inputs)
        self.optimizers = [(o, _opt_sig(o)) for o in trace.optimizers.values()]
        self.check: Callable | None = None  # made by _make_check
        # (fn, [("in", argument) | ("p", prelude result) | ("k", value)], decision)
        self.value_checks = plan["value_checks"]
        self.prelude = plan["prelude"]
        self.simple = not self.grad_effects and self.result[0] == "C"

    def guards_hold(self, tensors: list) -> bool:
        get = Tensor.__dict__["_data"].__get__
        made: Any = ()
        if self.prelude is not None:
            made = self.prelude(*[get(tensors[p], Tensor) for p in self.input_positions])
        for fn, args, decision in self.value_checks:
            values = [
                get(tensors[v], Tensor) if k == "in" else made[v] if k == "p" else v
                for k, v in args
            ]
            if fn(*values) != decision:
                return False
        for t, a, rg, leaf in self.ext_guards:
            if get(t, Tensor) is not a or t._requires_grad != rg or (t.grad_fn is None) != leaf:
                return False
        for t, g, meta in self.grad_guards:
            now = t._grad
            if meta is None:
                if now is not g:
                    return False
            elif now is None or now._requires_grad:
                return False
            else:
                d = get(now, Tensor)
                if d.shape != meta[0] or d.dtype != meta[1]:
                    return False
        return all(_opt_sig(o) == s for o, s in self.optimizers)


def _opt_sig(opt: Any) -> tuple:
    return tuple(
        tuple((k, v) for k, v in g.items() if type(v) in (int, float, bool, str, tuple))
        for g in opt.param_groups
    )


def _flatten(x: Any, out: list) -> None:
    if isinstance(x, Tensor):
        out.append(x)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _flatten(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _flatten(v, out)


class CompiledFunction:
    """What ``ndgrad.compile(fn)`` returns: call it like ``fn``."""

    def __init__(self, fn: Callable, fullgraph: bool, mode: str | None, module: Any = None):
        self.fn = fn
        self.fullgraph = fullgraph
        self.mode = mode
        self.module = module
        self.cache: dict[Any, Any] = {}
        self.trace_seconds: list[float] = []
        self.warned: set = set()
        self.closure_spec: list = []
        self.fast: tuple | None = None  # (check, entry) of the program that last ran
        self.broken: set = set()  # keys whose trace broke once
        functools.update_wrapper(self, fn)

    def _key(self, args: tuple, kwargs: dict, tensors: list) -> Any:
        key = (
            STATE.enabled,
            _sig(args, tensors),
            _sig(kwargs, tensors) if kwargs else (),
            _closure_sig(self.fn, self.closure_spec),
        )
        if len(tensors) > 1:
            key += (_aliasing(tensors),)
        if self.module is not None:
            key += (tuple(m.training for m in self.module.modules()),)
        return key

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fast = self.fast
        if fast is not None:
            inputs = fast[0](args, kwargs)
            if inputs is not None:
                entry = fast[1]
                if entry.simple:  # no .grad rebound, no tensor returned
                    entry.replay(*inputs)
                    return entry.result[1]
                return _run(entry, inputs)
        tensors: list = []
        try:
            key = self._key(args, kwargs, tensors)
            entries = self.cache.get(key)  # hashes the key once; TypeError if it cannot
        except TypeError:
            return self.fn(*args, **kwargs)
        if entries is _EAGER:
            return self.fn(*args, **kwargs)
        if entries is not None:
            for i, entry in enumerate(entries):
                if entry.guards_hold(tensors):
                    if i:  # the program that last replayed is tried first next time
                        entries.insert(0, entries.pop(i))
                    if entry.check is not None:
                        self.fast = (entry.check, entry)
                    return self._replay(entry, tensors)
        if self.size() >= CACHE_LIMIT:
            self._warn("cache", "ndgrad.compile: cache limit reached; running eagerly")
            return self.fn(*args, **kwargs)
        return self._trace(key, args, kwargs, tensors)

    def size(self) -> int:
        """How many programs are cached (signatures that run eagerly count one)."""
        return sum(1 if v is _EAGER else len(v) for v in self.cache.values())

    def entries(self) -> list:
        """The cached programs."""
        return [e for v in self.cache.values() if v is not _EAGER for e in v]

    def _warn(self, tag: Any, message: str, file: str | None = None, line: int = 0) -> None:
        if tag in self.warned:
            return
        self.warned.add(tag)
        if file is None:
            warnings.warn(message, UserWarning, stacklevel=3)
        else:
            warnings.warn_explicit(message, UserWarning, file, line)

    def _replay(self, entry: _Entry, tensors: list) -> Any:
        get = Tensor.__dict__["_data"].__get__
        inputs = [get(tensors[p], Tensor) for p in entry.input_positions]
        inputs += [get(t._grad, Tensor) for t in entry.grad_owners]
        return _run(entry, inputs)

    def _trace(self, key: Any, args: tuple, kwargs: dict, tensors: list) -> Any:
        import time

        start = time.perf_counter()
        positions = {id(t): i for i, t in enumerate(tensors)}
        trace = _tr.Trace(positions, self.fullgraph)
        try:
            with _tr.tracing(trace):
                out = self.fn(*args, **kwargs)
                results = self._results(trace, out)
        except _tr.GraphBreak as e:
            raise Unsupported(str(e)) from None
        if trace.breaks:
            reason, file, line = trace.breaks[0]
            # A first call may set things up once (a lazy module's parameters): the next call
            # traces again; a break twice runs this signature eagerly from then on.
            first = key not in self.broken
            self.broken.add(key)
            if first and reason.startswith("rebinding"):
                return out
            if not self.cache.get(key):  # (programs for other values of a checked argument stay)
                self.cache[key] = _EAGER
            self._warn(
                ("break", file, line),
                f"ndgrad.compile: graph break ({reason}); this function runs eagerly",
                file,
                line,
            )
            return out
        if any(
            id(t) in positions and (t._requires_grad or g is not None)
            for t, g in trace.grad_seen.values()
        ):
            # .grad of an argument: replay binds arguments' arrays, not their .grad
            self.cache[key] = _EAGER
            self._warn("arggrad", "ndgrad.compile: arguments that get a .grad run eagerly")
            return out
        if trace.split is not None:
            entry = self._plan_split(trace, out)
        else:
            entry = self._plan(trace, out, results)
        if entry is not None:
            self.cache.setdefault(key, []).append(entry)
            entry.check = _make_check(self, key, args, kwargs, entry)
            self.fast = (entry.check, entry) if entry.check is not None else None
            if self.mode == "explain":
                seconds = time.perf_counter() - start
                print(f"# ndgrad.compile: {self.fn.__qualname__}, traced in {1e3 * seconds:.1f} ms")
                print(entry.source)
        self.trace_seconds.append(time.perf_counter() - start)
        return out

    def _results(self, trace: _tr.Trace, out: Any) -> list:
        found: list = []
        _flatten(out, found)
        # A result with a graph for backward() outside the call cannot be replayed (the program
        # has no graph); one returned after the call's own backward() comes back detached.
        graphed = [t for t in found if t.grad_fn is not None and not trace.backward_ran]
        if graphed and found == [out] and not trace.breaks:
            trace.split = _trace_backward(trace, out)
        elif graphed:
            trace.unsupported("returning tensors with a graph for backward() outside")
        return found

    def _plan_split(self, trace: _tr.Trace, out: Tensor) -> _Entry | None:
        """A result with a graph: the forward program, and a backward program (the rules of
        the traced graph, recorded through autograd.grad) run as one autograd node's rule."""
        split, g_slot, leaves, grad_slots = trace.split
        if trace.grad_inputs or trace.grad_seen or not leaves:
            return None
        inputs = set(trace.inputs.values())
        externals = {slot for _t, _a, slot in trace.externals}
        fwd_tape, bwd_tape = trace.tape[:split], trace.tape[split:]
        if any(_written(e) & (inputs | externals) for e in bwd_tape):
            return None  # the backward writes state
        bwd_live = live_tape(bwd_tape, grad_slots)
        produced: set[int] = set()
        read: set[int] = set(grad_slots)
        for _fn, _label, sargs, skw, outs in bwd_live:
            _slots(sargs, read)
            _slots(tuple(skw.values()), read)
            produced.update(o for o in (outs if isinstance(outs, tuple) else (outs,)) if o)
        keep = externals | set(trace.created_consts) | {g_slot}
        saved = sorted(read - produced - keep)
        out_slot = trace.by_plain.get(id(Tensor.__dict__["_data"].__get__(out, Tensor)))
        if out_slot is None or any(s is None for s in grad_slots):
            return None
        returns = [out_slot] + [s for s in saved if s != out_slot]
        fwd = _Proxy(trace, fwd_tape)
        fwd.inputs = trace.inputs
        deltas = [(c, c[0] - v) for c, v in trace.counters.values()]
        source_f, names_f = codegen(fwd, _buffers(fwd, returns)[0], returns, (deltas, ()))
        bwd = _Proxy(trace, bwd_tape)
        bwd.inputs = {i: s for i, s in enumerate([g_slot, *returns])}
        source_b, names_b = codegen(bwd, _buffers(bwd, grad_slots)[0], grad_slots)
        exec(compile(source_f, f"<replay {self.fn.__name__}>", "exec"), names_f)
        exec(compile(source_b, f"<replay {self.fn.__name__} backward>", "exec"), names_b)
        checked = _value_checks(trace)
        if checked is None:
            return None
        plan = {
            "value_checks": checked[0],
            "prelude": checked[1],
            "grad_effects": [],
            "result": ("G", names_b["replay"], leaves, self.fn.__name__),
        }
        text = source_f + "\n# the backward (one autograd node's rule: g, then the forward's)\n"
        return _Entry(trace, names_f["replay"], text + source_b, plan)

    def _plan(self, trace: _tr.Trace, out: Any, results: list) -> _Entry | None:
        returned = {id(t) for t in results}
        grad_effects = []
        returns: list[int] = []
        slot_of: dict[int, int] = {}

        def need(a: Any) -> int:
            i = trace.by_plain.get(id(a))
            if i not in returns:
                returns.append(i)
            return returns.index(i)

        for t, first in trace.grad_seen.values():
            now = Tensor.__dict__["_grad"].__get__(t, Tensor)
            if now is first:
                continue
            if now is None:
                grad_effects.append((t, "none", None))
            elif trace.is_created(now) and not now._requires_grad:
                data = Tensor.__dict__["_data"].__get__(now, Tensor)
                if id(data) in trace.by_plain:
                    grad_effects.append((t, "new", (need(data), now._version_counter[0])))
                elif type(data) is np.ndarray and trace.spec(data).__class__ is _tr.Const:
                    # a gradient that does not depend on any input: folded to a constant
                    grad_effects.append((t, "const", (data.copy(), now._version_counter[0])))
                else:
                    return None
                returned.add(id(now))
            else:
                return None
        for t in results:
            data = Tensor.__dict__["_data"].__get__(t, Tensor)
            if id(data) not in trace.by_plain:
                return None
            slot_of[id(t)] = need(data)
        for t in _tr.survivors(trace, returned):
            if id(t) not in returned:
                return None  # state created in the call outlives it: trace again next time
        prealloc, pooled = _buffers(trace, returns)
        deltas = [(c, c[0] - v) for c, v in trace.counters.values()]
        grad_deltas = [
            (owner, c[0] - trace.counters_start.get(id(c), c[0]))
            for owner, _, c in trace.grad_inputs
        ]
        checked = _value_checks(trace)
        if checked is None:
            return None
        value_checks, prelude = checked
        source, names = codegen(trace, prealloc, returns, (deltas, grad_deltas), pooled)
        for fn, args, decision in value_checks:
            shown = ", ".join(
                f"arg{v}" if k == "in" else f"prelude[{v}]" if k == "p" else repr(v)
                for k, v in args
            )
            name = getattr(fn, "__qualname__", repr(fn))
            source = f"# guard: {name}({shown}) == {decision!r}\n" + source
        code = compile(source, f"<replay {self.fn.__name__}>", "exec")
        exec(code, names)
        plan = {
            "value_checks": value_checks,
            "prelude": prelude,
            "grad_effects": grad_effects,
            "result": _skeleton(out, slot_of),
        }
        return _Entry(trace, names["replay"], source, plan)


def _buffers(trace: Any, returns: list[int]) -> tuple[set[int], set[int]]:
    """(preallocated, pooled): the slots made into buffers at each replay."""
    # Slots that leave the call get fresh arrays: they and whatever they view.
    escaping = set(returns)
    for _fn, label, sargs, _skw, outs in reversed(trace.tape):
        produced = outs if isinstance(outs, tuple) else (outs,)
        if label[0] != "ufunc" and label != _COPY and any(o in escaping for o in produced):
            _slots(sargs, escaping)
    made = {
        outs
        for fn, label, sargs, skw, outs in trace.tape
        if isinstance(outs, int)
        and isinstance(trace.plain[outs], np.ndarray)
        and (
            # ops that make their result (one given ``out=`` writes into another slot)
            (label[0] == "ufunc" and label[2] in ("__call__", "reduce") and "out" not in skw)
            or (fn is np.sum and _plain_sum(sargs, skw))
            or (not skw and _is_gather(trace, label, sargs))
            or fn in _FILLS
            or (label == _COPY and len(sargs) == 1 and not skw)
        )
    }
    prealloc = made - escaping
    # What leaves the call (a new .grad, the loss) gets one of two buffers, the one its
    # last holder has let go of (a new array only while the caller keeps both)
    pooled = (made & escaping) - set(trace.inputs.values())
    return prealloc, pooled


def _value_checks(trace: _tr.Trace) -> tuple[list, Callable | None] | None:
    """The trace's value checks as guards: (checks, prelude). A check reads arguments,
    guarded arrays and constants, or arrays the call computed from those alone by ops that
    write nothing (``y.T``, ``X.reshape(-1)``): ``prelude(*inputs)`` recomputes those before
    the replay. None when a check reads anything else or an array written before the check."""
    position = {slot: p for p, slot in trace.inputs.items()}
    external = {slot: a for _t, a, slot in trace.externals}
    needed: list[int] = []
    sub: set[int] = set()  # tape entries the prelude makes again
    out = []
    for fn, sargs, decision, at in trace.value_checks:
        producer: dict[int, int] = {}
        written: set[int] = set()
        for k, (_fn, label, _sargs, skw, outs) in enumerate(trace.tape[:at]):
            _slots(skw.get("out", ()), written)
            if label[0] == "method" and label[1] in _MUTATING_METHODS or label[-1] == "at":
                _slots(_sargs[:1], written)
            for o in outs if isinstance(outs, tuple) else (outs,):
                if o is not None:
                    producer[o] = k
        args = []
        for s in sargs:
            if isinstance(s, _tr.Slot) and s.i in position:
                args.append(("in", position[s.i]))
            elif isinstance(s, _tr.Slot) and s.i in external:
                args.append(("k", external[s.i]))
            elif isinstance(s, _tr.Slot):
                if not _pure_slice(trace, s.i, producer, position, external, sub):
                    return None
                if s.i not in needed:
                    needed.append(s.i)
                args.append(("p", needed.index(s.i)))
            elif isinstance(s, (tuple, list)):
                return None
            else:
                args.append(("k", s.value if isinstance(s, _tr.Const) else s))
        read: set[int] = set(needed)
        _slots(sargs, read)  # arguments and guarded arrays it reads directly, too
        for k in sub:
            _slots(trace.tape[k][2], read)
        if written & read:
            return None
        out.append((fn, args, decision))
    if not needed:
        return out, None
    proxy = _Proxy(trace, [trace.tape[k] for k in sorted(sub)])
    source, names = codegen(proxy, set(), needed)  # type: ignore[arg-type]
    exec(compile(source, "<guard prelude>", "exec"), names)
    return out, names["replay"]


class _Proxy:
    """A trace seen through part of its tape (a value check's prelude)."""

    def __init__(self, trace: _tr.Trace, tape: list) -> None:
        self.tape = tape
        self.plain, self.inputs, self.externals = trace.plain, trace.inputs, trace.externals
        self.created_consts = trace.created_consts
        self.grad_inputs: list = []


def _pure_slice(
    trace: _tr.Trace, slot: int, producer: dict, position: dict, external: dict, sub: set
) -> bool:
    """Adds to ``sub`` the tape entries that make ``slot`` from arguments, guarded arrays and
    constants by calls that write nothing; False if it is made otherwise."""
    if slot in position or slot in external or slot in trace.created_consts:
        return True
    k = producer.get(slot)
    if k is None:
        return False
    fn, label, sargs, skw, _outs = trace.tape[k]
    if "out" in skw or label[-1] == "at" or (label[0] == "func" and fn in _tr._WRITES_FIRST):
        return False
    if label[0] == "method" and label[1] in _MUTATING_METHODS:
        return False
    sub.add(k)
    inner: set[int] = set()
    _slots(sargs, inner)
    _slots(tuple(skw.values()), inner)
    return all(_pure_slice(trace, i, producer, position, external, sub) for i in inner)


def _run(entry: _Entry, inputs: Any) -> Any:
    arrays = entry.replay(*inputs)
    for t, kind, value in entry.grad_effects:
        if kind == "none":
            t._grad = None
        elif kind == "const":
            g = Tensor._make(value[0].copy())
            g._version_counter[0] = value[1]
            t._grad = g
        else:
            g = Tensor._make(arrays[value[0]])
            g._version_counter[0] = value[1]
            t._grad = g
    result = entry.result
    if result[0] == "C":
        return result[1]
    if result[0] == "G":
        return _with_backward(result, arrays)
    return _rebuild(result, arrays)


def _with_backward(result: tuple, arrays: tuple) -> Tensor:
    """The forward's result as the output of one node whose rule replays the backward."""
    from ndgrad.autograd.graph import record

    _, backward, leaves, name = result

    def rule(xp: Any, g: Any) -> tuple:
        if isinstance(g, Tensor):
            raise RuntimeError(
                f"ndgrad.compile: {name}'s compiled forward has a replayed backward that is not "
                "differentiable again (create_graph=True); call the uncompiled forward"
            )
        return backward(g, *arrays)

    return record("CompiledFunctionBackward", arrays[0], leaves, rule)


def _trace_backward(trace: _tr.Trace, out: Tensor) -> tuple | None:
    """Records the backward of ``out``'s graph (autograd.grad with a gradient that is an
    input of the program) after the forward: (tape length before it, the gradient's slot,
    the leaves, their gradients' slots). None (a break) when an argument is a leaf."""
    from ndgrad.autograd import grad as autograd_grad
    from ndgrad.autograd.graph import _topological_order

    leaves = [v for v in _topological_order([out.grad_fn]) if isinstance(v, Tensor)]
    if any(id(t) in trace.arg_tensors for t in leaves):
        trace.unsupported("an argument that requires grad, with backward() outside")
        return None
    split = len(trace.tape)
    data = Tensor.__dict__["_data"].__get__(out, Tensor)
    g0 = np.ndarray.copy(trace.plain[trace.by_view[id(data)]])
    g0.fill(1)
    g = Tensor._make(trace.new_slot(g0))
    g_slot = len(trace.plain) - 1
    grads = autograd_grad(out, leaves, grad_outputs=g, retain_graph=True, allow_unused=True)
    used = [(t, gr) for t, gr in zip(leaves, grads, strict=True) if gr is not None]
    slots = [trace.by_view.get(id(Tensor.__dict__["_data"].__get__(gr, Tensor))) for _, gr in used]
    return split, g_slot, [t for t, _ in used], slots


def _make_check(
    compiled: CompiledFunction, key: tuple, args: tuple, kwargs: dict, entry: _Entry
) -> Callable | None:
    """One straight-line Python function for the common case of a call that replays the
    program it replayed last: ``check(args, kwargs)`` returns the replay's input arrays when
    the call has ``key`` (argument shapes, dtypes, flags, closure and global scalars, module
    train/eval, aliasing) and ``entry``'s guards hold, else None (then the general path, which
    builds the key, decides). Arguments nested in lists or dicts only take the general path."""
    if kwargs:
        return None
    names: dict[str, Any] = {"STATE": STATE, "ndarray": np.ndarray}
    lines = [f"    if kwargs or len(args) != {len(args)} or STATE.enabled is not {key[0]}:"]
    lines.append("        return None")

    def const(prefix: str, value: Any) -> str:
        name = f"{prefix}{len(names)}"
        names[name] = value
        return name

    def fail(cond: str) -> None:
        lines.append(f"    if {cond}:\n        return None")

    tensors = []
    for i, (a, sig) in enumerate(zip(args, key[1][1], strict=True)):
        lines.append(f"    a{i} = args[{i}]")
        if sig[0] == "T":
            _, shape, _, rg, leaf, base_none = sig
            d = Tensor.__dict__["_data"].__get__(a, Tensor)
            tensors.append(f"a{i}")
            fail(f"type(a{i}) is not {const('t', type(a))}")
            lines.append(f"    d{i} = a{i}._data")
            dt = const("dt", d.dtype)
            same = f"is not {dt}" if np.dtype(d.dtype.str) is d.dtype else f"!= {dt}"
            fail(
                f"type(d{i}) is not ndarray"
                f" or d{i}.shape != {shape!r} or d{i}.dtype {same}"
                f" or a{i}._requires_grad is not {rg}"
                f" or a{i}.grad_fn is {'not ' if leaf else ''}None"
                f" or a{i}._base is {'not ' if base_none else ''}None"
            )
        elif sig[0] in ("int", "float", "bool", "str", "NoneType"):
            fail(f"type(a{i}) is not {const('t', type(a))} or a{i} != {const('k', sig[1])}")
        elif sig[0] == "M":
            names["_module_sig"] = _module_sig
            fail(f"_module_sig(a{i}) != {const('k', (sig[1], sig[2]))}")
        elif sig[0] == "O":
            fail(f"id(a{i}) != {sig[1]}")
        else:
            return None
    cells, g, scalars, modules = compiled.closure_spec
    sigs = iter(key[3])
    for c in cells:  # a cell that became empty raises ValueError: the general path decides
        lines.append(f"    x = {const('c', c)}.cell_contents")
        sig = next(sigs)
        if sig is not None and sig[0] == "M":
            names["_module_sig"] = _module_sig
            fail(f"_module_sig(x) != {const('k', sig[1:])}")
        elif sig is not None:
            fail(f"type(x) is not {const('t', sig[0])} or x != {const('k', sig[1])}")
        else:
            return None
    for d, n in scalars:
        lines.append(f"    x = {const('G', d)}.get({n!r})")
        sig = next(sigs)
        fail(f"type(x) is not {const('t', sig[0])} or x != {const('k', sig[1])}")
    if modules:
        names["_closure_sig"], names["fn"], names["spec"] = (
            _closure_sig,
            compiled.fn,
            compiled.closure_spec,
        )
        fail(f"_closure_sig(fn, spec) != {const('k', key[3])}")
    rest = 4
    if len(tensors) > 1:
        names["_aliasing"] = _aliasing
        fail(f"_aliasing([{', '.join(tensors)}]) != {const('k', key[rest])}")
        rest += 1
    if compiled.module is not None:
        names["_module_sig"] = _module_sig
        fail(f"_module_sig({const('m', compiled.module)})[1] != {const('k', key[rest])}")
    for t, a, rg, leaf in entry.ext_guards:
        n = const("e", t)
        fail(
            f"{n}._data is not {const('a', a)} or {n}._requires_grad is not {rg}"
            f" or {n}.grad_fn is {'not ' if leaf else ''}None"
        )
    for t, g, meta in entry.grad_guards:
        n = const("g", t)
        if meta is None:
            fail(f"{n}._grad is not {const('k', g)}")
        else:
            lines.append(f"    x = {n}._grad")
            fail("x is None or x._requires_grad")
            lines.append("    x = x._data")
            fail(f"x.shape != {meta[0]!r} or x.dtype != {const('dt', meta[1])}")
    if entry.prelude is not None:
        made = ", ".join(f"d{tensors[p][1:]}" for p in entry.input_positions)
        lines.append(f"    made = {const('f', entry.prelude)}({made})")
    for fn, vargs, decision in entry.value_checks:
        shown = [
            f"d{tensors[v][1:]}" if k == "in" else f"made[{v}]" if k == "p" else const("k", v)
            for k, v in vargs
        ]
        fail(f"{const('f', fn)}({', '.join(shown)}) != {const('k', decision)}")
    if entry.optimizers:
        names["_opt_sig"] = _opt_sig
        for o, sig in entry.optimizers:
            fail(f"_opt_sig({const('o', o)}) != {const('k', sig)}")
    inputs = [f"d{tensors[p][1:]}" for p in entry.input_positions]
    inputs += [f"{const('g', t)}._grad._data" for t in entry.grad_owners]
    lines.append(f"    return ({', '.join(inputs)}{',' if len(inputs) == 1 else ''})")
    body = "\n".join("    " + line for line in "\n".join(lines).splitlines())
    source = (
        f"def check(args, kwargs):\n    try:\n{body}\n    except ValueError:\n        return None\n"
    )
    exec(compile(source, f"<guard {compiled.fn.__name__}>", "exec"), names)
    return names["check"]


def _module_sig(m: Any) -> tuple:
    return (id(m), tuple(x.training for x in m.modules()))


def _slots(spec: Any, into: set) -> None:
    if isinstance(spec, _tr.Slot):
        into.add(spec.i)
    elif isinstance(spec, (tuple, list)):
        for v in spec:
            _slots(v, into)


def _skeleton(out: Any, slot_of: dict) -> Any:
    if isinstance(out, Tensor):
        return ("T", slot_of[id(out)])
    if isinstance(out, (list, tuple)):
        return (type(out), [_skeleton(v, slot_of) for v in out])
    if isinstance(out, dict):
        return (dict, {k: _skeleton(v, slot_of) for k, v in out.items()})
    return ("C", out)


def _rebuild(skel: Any, arrays: tuple) -> Any:
    kind = skel[0]
    if kind == "T":
        return Tensor._make(arrays[skel[1]])
    if kind == "C":
        return skel[1]
    if kind is dict:
        return {k: _rebuild(v, arrays) for k, v in skel[1].items()}
    return kind(_rebuild(v, arrays) for v in skel[1])
