"""Record-and-replay of the NumPy calls one call of a function makes.

While a function is traced, every Tensor's array is seen through ``Traced``, an ndarray
subclass whose ``__array_ufunc__``/``__array_function__`` and array methods log each call
(the NumPy function, which arrays it read by slot, its constants, which slot it produced)
and then run it on the plain arrays: the traced call *is* the eager call, so its numbers are
eager's. Arrays that existed before the call (parameters, ``.grad``, optimizer state) are
captured by identity and guarded; the function's tensor arguments are input slots. The tape
becomes Python source (``codegen``), which is also what ``mode="explain"`` prints.

Anything the tape cannot replay makes the trace unusable (``Trace.breaks``): a tensor's
value read into Python (``item``, ``bool``, ``float``, printing, ``numpy()``), a random draw,
an array call the tracer does not know, state created during the call that outlives it.
"""

from __future__ import annotations

import gc
import os
import sys
import weakref
from typing import Any

import numpy as np

import ndgrad
from ndgrad import _backend, _creation
from ndgrad._tensor import Tensor

_ACTIVE: Trace | None = None
_WRAPPING = [False]
_DATA = Tensor.__dict__["_data"]
_GRAD = Tensor.__dict__["_grad"]
_PKG = os.path.dirname(ndgrad.__file__)
_NP = os.path.dirname(np.__file__)


class GraphBreak(Exception):
    """Raised inside a trace under ``fullgraph=True``."""


class Slot:
    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


class Const:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _wrap(plain: np.ndarray) -> Traced:
    _WRAPPING[0] = True
    try:
        return np.ndarray.view(plain, Traced)
    finally:
        _WRAPPING[0] = False


def _plain(a: Any) -> Any:
    if isinstance(a, Traced):
        return np.ndarray.view(a, np.ndarray)
    if isinstance(a, (tuple, list)):
        return type(a)(_plain(x) for x in a)
    return a


def user_frame() -> tuple[str, int]:
    """The innermost frame outside ndgrad and NumPy: the user's line."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        if not (name.startswith(_PKG) or name.startswith(_NP) or "<replay" in name):
            return name, f.f_lineno
        f = f.f_back
    return "<unknown>", 0


class Traced(np.ndarray):
    """An array seen by the tracer (see the module docstring)."""

    def __array_finalize__(self, obj: Any) -> None:
        if not _WRAPPING[0] and _ACTIVE is not None:
            _ACTIVE.unsupported("an array operation the tracer does not record")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        if _ACTIVE is None:
            return fn(*_plain(inputs), **{k: _plain(v) for k, v in kwargs.items()})
        return _ACTIVE.call(fn, ("ufunc", ufunc, method), inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if _ACTIVE is None:
            return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
        return _ACTIVE.call(func, ("func", func), args, kwargs)


def _method(name: str) -> Any:
    base = getattr(np.ndarray, name)

    def method(self: Traced, *args: Any, **kwargs: Any) -> Any:
        if _ACTIVE is None:
            return base(_plain(self), *_plain(args), **kwargs)
        return _ACTIVE.call(base, ("method", name), (self, *args), kwargs)

    method.__name__ = name
    return method


for _name in (
    "reshape",
    "astype",
    "copy",
    "transpose",
    "view",
    "ravel",
    "flatten",
    "squeeze",
    "swapaxes",
    "fill",
    "__getitem__",
    "__setitem__",
    "argmax",
    "argmin",
    "take",
    "repeat",
    "cumsum",
    "nonzero",
    "dot",
):
    setattr(Traced, _name, _method(_name))


def _transpose_attr(a: np.ndarray) -> np.ndarray:
    return a.T


def _T(self: Traced) -> Any:  # noqa: N802
    if _ACTIVE is None:
        return _plain(self).T
    return _ACTIVE.call(_transpose_attr, ("attr", "T"), (self,), {})


Traced.T = property(_T)  # type: ignore[assignment, method-assign]


def _breaking(name: str) -> Any:
    base = getattr(np.ndarray, name)

    def method(self: Traced, *args: Any) -> Any:
        if _ACTIVE is not None:
            _ACTIVE.graph_break(f"{name.strip('_')}() of a traced tensor")
        return base(_plain(self), *args)

    method.__name__ = name
    return method


for _name in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "tobytes"):
    setattr(Traced, _name, _breaking(_name))


def _break_repr(self: Traced) -> str:
    if _ACTIVE is not None:
        _ACTIVE.graph_break("printing a traced tensor")
    return repr(_plain(self))


Traced.__repr__ = _break_repr  # type: ignore[method-assign]
Traced.__str__ = _break_repr  # type: ignore[method-assign]


class _NoRandom:
    def __getattr__(self, name: str) -> Any:
        if _ACTIVE is not None:
            _ACTIVE.graph_break("a random number draw")
        return getattr(self._rng, name)

    def __init__(self, rng: Any) -> None:
        object.__setattr__(self, "_rng", rng)


def host_call(fn: Any, *args: Any) -> Any:
    """``fn(*args)``: a small computation on the host (Python numbers from 0-d arrays, say)
    that returns arrays. Traced, it is one call on the tape that the replay makes again, so
    values that change every step (Adam's bias corrections) stay out of the constants."""
    if _ACTIVE is None:
        return fn(*args)
    return _ACTIVE.call(fn, ("func", fn), args, {})


def value_check(fn: Any, *args: Any) -> Any:
    """``fn(*args)``: a decision on argument values (a loss's target validation) that picks
    which ops run. Traced, it becomes a guard: every replay calls ``fn`` on that call's
    arrays first and replays only if it decides the same (it may raise, as eagerly)."""
    if _ACTIVE is None:
        return fn(*args)
    return _ACTIVE.check(fn, args)


# NumPy functions that write into their first argument
_WRITES_FIRST = {np.copyto, np.put, np.put_along_axis, np.place, np.putmask, np.fill_diagonal}


class Trace:
    """One traced call: the tape and what replaying it needs."""

    def __init__(self, arg_tensors: dict[int, int], fullgraph: bool) -> None:
        self.arg_tensors = arg_tensors  # id(tensor) -> input position
        self.fullgraph = fullgraph
        self.plain: list[Any] = []  # slot -> plain array (at trace time)
        self.views: list[Any] = []  # slot -> Traced view
        self.by_view: dict[int, int] = {}
        self.by_plain: dict[int, int] = {}
        self.inputs: dict[int, int] = {}  # input position -> slot
        self.externals: list[tuple[Tensor, Any, int]] = []  # (tensor, plain array, slot)
        self.ext_guards: list[tuple] = []
        self.grad_seen: dict[int, tuple[Tensor, Any]] = {}
        self.counters: dict[int, tuple[list, int]] = {}
        self.adopted: dict[int, Tensor] = {}
        self.created: dict[int, weakref.ref] = {}
        self.tape: list[tuple] = []
        self.breaks: list[tuple[str, str, int]] = []
        self.optimizers: dict[int, Any] = {}
        self.grad_owner: dict[int, Tensor] = {}  # id(.grad tensor) -> the tensor it belongs to
        self.grad_inputs: list[tuple[Tensor, int, list]] = []  # (owner, slot, counter)
        self.counters_start: dict[int, int] = {}
        self.backward_ran = False
        self.created_consts: dict[int, np.ndarray] = {}  # slot -> value when first read
        self.depth = 0  # > 0 inside a recorded call (its own array creations are not calls)
        self.split: tuple | None = None  # a backward recorded after the forward (see eval_frame)
        self.value_checks: list[tuple] = []  # (fn, arg specs, decision, tape length then)

    def is_created(self, t: Tensor) -> bool:
        ref = self.created.get(id(t))
        return ref is not None and ref() is t

    # ------------------------------------------------------------------ slots
    def new_slot(self, plain: Any) -> Traced:
        if isinstance(plain, np.generic):
            plain = np.asarray(plain)
        i = len(self.plain)
        view = _wrap(plain)
        self.plain.append(plain)
        self.views.append(view)
        self.by_view[id(view)] = i
        self.by_plain[id(plain)] = i
        return view

    def adopt(self, t: Tensor, a: np.ndarray) -> Traced:
        """A tensor's array from before the call: an input slot or a guarded external."""
        if id(a) in self.by_plain:
            return self.views[self.by_plain[id(a)]]
        alias = self._alias(a)
        if alias is not None:
            return alias
        view = self.new_slot(a)
        slot = len(self.plain) - 1
        if self.is_created(t):
            # made in the call outside the tracer (torch.zeros, say): its value then is a
            # constant of the program (copied at each replay if the call writes into it)
            self.created_consts[slot] = a.copy()
            return view
        pos = self.arg_tensors.get(id(t))
        owner = self.grad_owner.get(id(t))
        if pos is not None:
            self.inputs[pos] = slot
        elif owner is not None and _GRAD.__get__(owner, Tensor) is t and not t._requires_grad:
            # a .grad: read from its owner at every replay (set_to_none makes new ones)
            self.grad_inputs.append((owner, slot, t._version_counter))
            self.counters_start[id(t._version_counter)] = t._version_counter[0]
            self.adopted[id(t)] = t
            return view
        else:
            self.externals.append((t, a, slot))
            self.ext_guards.append((t, a, t._requires_grad, t.grad_fn is None))
        self.adopted[id(t)] = t
        c = t._version_counter
        if id(c) not in self.counters:
            self.counters[id(c)] = (c, c[0])
        return view

    def _alias(self, a: np.ndarray) -> Traced | None:
        """``a`` made from a traced array outside the tracer (``np.asarray(traced, dtype)``
        gives a plain view of it): the same slot when it is the whole array, else a break
        (the replay would read the memory of the traced call)."""
        base = a.base
        while base is not None:
            i = self.by_view.get(id(base)) if isinstance(base, Traced) else None
            if i is None:
                i = self.by_plain.get(id(base))
            if i is not None:
                p = self.plain[i]
                if (
                    a.shape == p.shape
                    and a.dtype == p.dtype
                    and a.strides == p.strides
                    and a.ctypes.data == p.ctypes.data
                ):
                    return self.views[i]
                self.unsupported("a view of a traced array made outside the tracer")
                return None
            base = base.base if isinstance(base, np.ndarray) else None
        return None

    def spec(self, x: Any) -> Any:
        if isinstance(x, Traced):
            i = self.by_view.get(id(x))
            if i is None:
                self.unsupported("an array view the tracer did not make")
                return Const(_plain(x))
            return Slot(i)
        if isinstance(x, np.ndarray):
            base = x
            while base is not None:
                if id(base) in self.by_plain or isinstance(base, Traced):
                    self.unsupported("a plain array that shares memory with a traced one")
                    break
                base = base.base
            return Const(x)
        if isinstance(x, tuple):
            return tuple(self.spec(v) for v in x)
        if isinstance(x, list):
            return [self.spec(v) for v in x]
        if isinstance(x, Tensor):
            self.unsupported("a Tensor passed to NumPy")
        return x

    def value(self, s: Any) -> Any:
        if isinstance(s, Slot):
            return self.plain[s.i]
        if isinstance(s, Const):
            return s.value
        if isinstance(s, tuple):
            return tuple(self.value(v) for v in s)
        if isinstance(s, list):
            return [self.value(v) for v in s]
        return s

    def call(self, fn: Any, label: tuple, args: tuple, kwargs: dict) -> Any:
        sargs = self.spec(tuple(args))
        skw = {k: self.spec(v) for k, v in kwargs.items()}
        written = label[-1] == "at" or (label[0] == "func" and fn in _WRITES_FIRST)
        for s in (skw.get("out"), sargs[0] if written else None):
            for o in s if isinstance(s, tuple) else (s,):
                if isinstance(o, Const):
                    self.unsupported("a write into an array the tracer does not own")
        self.depth += 1
        try:
            result = fn(*self.value(sargs), **{k: self.value(v) for k, v in skw.items()})
        finally:
            self.depth -= 1
        outs: Any
        if isinstance(result, tuple):
            views = tuple(self._out(r) for r in result)
            outs = tuple(self.by_view[id(v)] if isinstance(v, Traced) else None for v in views)
            ret: Any = views
        else:
            ret = self._out(result)
            outs = self.by_view[id(ret)] if isinstance(ret, Traced) else None
        self.tape.append((fn, label, sargs, skw, outs))
        return ret

    def check(self, fn: Any, args: tuple) -> Any:
        sargs = self.spec(tuple(args))
        decision = fn(*self.value(sargs))
        self.value_checks.append((fn, sargs, decision, len(self.tape)))
        return decision

    def _out(self, r: Any) -> Any:
        if isinstance(r, (np.ndarray, np.generic)):
            i = self.by_plain.get(id(r))
            if i is not None:
                return self.views[i]
            return self.new_slot(r)
        return r

    # ------------------------------------------------------------------ breaks
    def graph_break(self, reason: str) -> None:
        file, line = user_frame()
        if not self.breaks:
            self.breaks.append((reason, file, line))
        if self.fullgraph:
            raise GraphBreak(f"{reason} at {file}:{line} (fullgraph=True)")

    def unsupported(self, reason: str) -> None:
        self.graph_break(reason)


_CREATORS = ("empty", "zeros", "ones", "full")


def _creator(tr: Trace, fn: Any) -> Any:
    def created(*args: Any, **kwargs: Any) -> Any:
        if tr.depth or _ACTIVE is not tr:
            return fn(*args, **kwargs)
        return tr.call(fn, ("func", fn), args, kwargs)

    created.__name__ = fn.__name__
    return created


class tracing:  # noqa: N801 - a context manager
    """Installs the hooks of a :class:`Trace` (Tensor arrays seen as Traced) and removes them."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def __enter__(self) -> Trace:
        global _ACTIVE
        tr = self.trace

        def get_data(t: Tensor) -> Any:
            a = _DATA.__get__(t, Tensor)
            if type(a) is not Traced and isinstance(a, np.ndarray):
                a = tr.adopt(t, a)
                _DATA.__set__(t, a)
            return a

        def set_data(t: Tensor, v: Any) -> None:
            if id(t) in tr.adopted:
                if v is not _DATA.__get__(t, Tensor):
                    tr.unsupported("rebinding a tensor's data (.data = or set_)")
            elif not tr.is_created(t):  # (ids of dead tensors are reused)
                tr.created[id(t)] = weakref.ref(t)
            _DATA.__set__(t, v)

        def get_grad(t: Tensor) -> Any:
            g = _GRAD.__get__(t, Tensor)
            if not tr.is_created(t) and id(t) not in tr.grad_seen:
                tr.grad_seen[id(t)] = (t, g)
                if g is not None:
                    tr.grad_owner[id(g)] = t
            return g

        def set_grad(t: Tensor, v: Any) -> None:
            if not tr.is_created(t) and id(t) not in tr.grad_seen:
                tr.grad_seen[id(t)] = (t, _GRAD.__get__(t, Tensor))
            _GRAD.__set__(t, v)

        self.saved_numpy = Tensor.numpy

        def numpy(t: Tensor, *, force: bool = False) -> Any:
            tr.graph_break("Tensor.numpy()")
            return self.saved_numpy(t, force=force)

        from ndgrad.optim.optimizer import Optimizer

        self.patched = []
        todo = [Optimizer]
        while todo:
            cls = todo.pop()
            todo.extend(cls.__subclasses__())
            if "step" in cls.__dict__:
                orig = cls.__dict__["step"]

                def step(opt: Any, *a: Any, _orig: Any = orig, **k: Any) -> Any:
                    tr.optimizers[id(opt)] = opt
                    return _orig(opt, *a, **k)

                self.patched.append((cls, orig))
                cls.step = step
        from ndgrad.autograd import graph

        self.graph = graph
        self.run_tree, self.run_graph = graph._run_tree, graph._run_graph

        def run_tree(*a: Any, **k: Any) -> Any:
            tr.backward_ran = True
            return self.run_tree(*a, **k)

        def run_graph(*a: Any, **k: Any) -> Any:
            tr.backward_ran = True
            return self.run_graph(*a, **k)

        graph._run_tree, graph._run_graph = run_tree, run_graph
        gen = _creation.default_generator
        self.rng = gen._rng
        gen._rng = _NoRandom(self.rng)
        # New arrays are recorded: writes into them (``out = np.empty(shape); out[...] = g``)
        # are then seen, where an unrecorded array would be a constant of the program.
        self.creators = {name: getattr(np, name) for name in _CREATORS}
        for name, fn in self.creators.items():
            setattr(np, name, _creator(tr, fn))
        Tensor._data = property(get_data, set_data)  # type: ignore[assignment]
        Tensor._grad = property(get_grad, set_grad)  # type: ignore[assignment]
        Tensor.numpy = numpy  # type: ignore[method-assign]
        _backend._XP_BY_TYPE[Traced] = np
        _ACTIVE = tr
        return tr

    def __exit__(self, *exc: Any) -> None:
        global _ACTIVE
        _ACTIVE = None
        Tensor._data = _DATA  # type: ignore[assignment]
        Tensor._grad = _GRAD  # type: ignore[assignment]
        Tensor.numpy = self.saved_numpy  # type: ignore[method-assign]
        _backend._XP_BY_TYPE.pop(Traced, None)
        _creation.default_generator._rng = self.rng
        for name, fn in self.creators.items():
            setattr(np, name, fn)
        self.graph._run_tree, self.graph._run_graph = self.run_tree, self.run_graph
        for cls, orig in self.patched:
            cls.step = orig
        tr = self.trace
        # Every tensor that was seen gets its plain array back.
        for t in list(tr.adopted.values()) + alive(tr):
            a = _DATA.__get__(t, Tensor)
            if isinstance(a, Traced):
                i = tr.by_view.get(id(a))
                _DATA.__set__(t, tr.plain[i] if i is not None else _plain(a))


def alive(trace: Trace) -> list[Tensor]:
    return [t for t in (r() for r in trace.created.values()) if t is not None]


def survivors(trace: Trace, expected: set[int]) -> list[Tensor]:
    """Tensors made during the call still alive after it, besides the ``expected`` ids
    (collecting reference cycles only if there are any)."""
    found = [t for t in alive(trace) if id(t) not in expected]
    if found:
        found = None
        gc.collect()
        found = [t for t in alive(trace) if id(t) not in expected]
    return found
