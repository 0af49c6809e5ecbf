"""Symbolic derivatives with SymPy, checked against ndgrad's numeric derivative.

Two symbolic routes, because SymPy's matrix calculus is incomplete (it leaves d det(X)/dX
unevaluated and returns 0 for d log(det X)/dX):

* matrix form: the expression on ``MatrixSymbol``s, differentiated by SymPy, with Jacobi's
  formula and the chain rule through scalar functions added here. It gives readable results
  (``4*x``, ``A*x + A.T*x``, ``X.T**(-1)``) and is shown only when its value at the point
  agrees with the element-wise route.
* element-wise: every vector/matrix becomes a ``sympy.Matrix`` of element symbols (``x[0]``,
  ``A[0,1]``...) and each output element is differentiated by each input element. Always
  available; it is the reference value.

The numeric side evaluates the same parsed expression with ndgrad tensors (float64) and takes
the Jacobian with :func:`ndgrad.autograd.functional.jacobian`.
"""

from __future__ import annotations

import ast
import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.str import StrPrinter

from ndgrad.calculus.layout import arrange, case_name, check_layout, kind_of, layout_shapes
from ndgrad.calculus.parser import ParsedExpression, evaluate, parse_expression

Shape = tuple[int, ...]

# The parser's elementwise functions as SymPy functions (both symbolic backends apply them).
_ELEMENTWISE = {
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "tanh": sp.tanh,
    "sqrt": sp.sqrt,
    "sigmoid": lambda e: 1 / (1 + sp.exp(-e)),
}
# Functions counted by the nesting bound (each can blow up SymPy's numbers).
_NESTED = set(_ELEMENTWISE) | {"softmax", "logsumexp"}


# --------------------------------------------------------------------------- bounds
# Numeric work grows with the sizes; symbolic work can grow exponentially with them (a 7x7
# determinant has 5040 terms, A**16 on 3x3 nests 3^15 products, exp nested ten deep makes
# SymPy evaluate numbers with astronomically many digits). Sizes past these are usage
# errors; expressions past the symbolic bounds get the numeric result only, with the reason.
MAX_ELEMENTS = 1_000_000  # per declared symbol
MAX_JACOBIAN = 4_000_000  # entries of the numeric derivative
SYMBOLIC_MAX_ELEMENTS = 64  # all declared symbols' elements together
SYMBOLIC_MAX_SQUARE = 5  # det/inverse of n x n: n! terms
SYMBOLIC_MAX_POWER = 6  # |k| of a matrix power A**k
SYMBOLIC_MAX_NESTING = 4  # elementwise functions inside each other (exp(exp(...)))
SYMBOLIC_MAX_NODES = 200  # operators, names and numbers in the expression
SYMBOLIC_SECONDS = 5.0  # wall time for the symbolic side (main thread only)


class SymbolicSkipped(Exception):
    """The symbolic side would be too big or too slow; the message says why."""


def _check_symbolic_budget(parsed: ParsedExpression, shapes: dict[str, Shape]) -> None:
    """Raises :class:`SymbolicSkipped` for expressions whose symbolic work would explode."""
    total = sum(int(np.prod(s)) if s else 1 for s in shapes.values())
    if total > SYMBOLIC_MAX_ELEMENTS:
        sizes = ", ".join(f"{n}: {_display_shape(s)}" for n, s in shapes.items() if s)
        raise SymbolicSkipped(
            f"{total} matrix elements ({sizes}); the symbolic limit is {SYMBOLIC_MAX_ELEMENTS}"
        )
    nodes = sum(1 for _ in ast.walk(parsed.tree.body))
    if nodes > SYMBOLIC_MAX_NODES:
        raise SymbolicSkipped(
            f"the expression has {nodes} parts; the symbolic limit is {SYMBOLIC_MAX_NODES}"
        )
    depth = _nesting(parsed.tree.body)
    if depth > SYMBOLIC_MAX_NESTING:
        raise SymbolicSkipped(
            f"functions nested {depth} deep; the symbolic limit is {SYMBOLIC_MAX_NESTING}"
        )


def _nesting(node: ast.AST) -> int:
    """How deeply elementwise function calls nest in ``node`` (iterative: no recursion)."""
    deepest = 0
    stack = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        if (
            isinstance(current, ast.Call)
            and isinstance(current.func, ast.Name)
            and current.func.id in _NESTED
        ):
            depth += 1
            deepest = max(deepest, depth)
        stack.extend((child, depth) for child in ast.iter_child_nodes(current))
    return deepest


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raises :class:`SymbolicSkipped` in the block after ``seconds`` (main thread, POSIX)."""
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise SymbolicSkipped(f"SymPy took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- shapes and values
def normalize_shape(name: str, spec: Any) -> Shape:
    """A declared shape: ``()``/``1``/``"scalar"``, ``n`` (column vector), ``(m, n)``/``"mxn"``."""
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text in ("", "scalar", "()", "1"):
            return ()
        parts = text.replace("×", "x").replace(",", "x").replace("*", "x").split("x")
        try:
            spec = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(
                f"shape of {name!r} must look like 4 (vector) or 3x3 (matrix), got {spec!r}"
            ) from None
    if isinstance(spec, int):
        spec = (spec,)
    spec = tuple(int(s) for s in spec)
    if any(s < 1 for s in spec) or len(spec) > 2:
        raise ValueError(f"shape of {name!r} must be 1 or 2 positive sizes, got {spec}")
    elements = int(np.prod(spec, dtype=object))
    if elements > MAX_ELEMENTS:
        raise ValueError(f"shape of {name!r} has {elements} elements; the limit is {MAX_ELEMENTS}")
    if spec in ((), (1,), (1, 1)):
        return ()
    if len(spec) == 1:
        return (spec[0], 1)
    return spec


def _scalar_shape(shape: Shape) -> bool:
    return shape == ()


def _display_shape(shape: Shape) -> str:
    return "scalar" if shape == () else "x".join(str(s) for s in shape)


def _as_array(name: str, shape: Shape, value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    want = int(np.prod(shape)) if shape else 1
    if arr.size != want:
        raise ValueError(
            f"value of {name!r} has {arr.size} numbers but its shape {_display_shape(shape)} "
            f"needs {want}"
        )
    if arr.ndim == 2 and shape and arr.shape != shape and len(shape) == 2 and 1 not in shape:
        raise ValueError(f"value of {name!r} has shape {arr.shape}, declared {shape}")
    return arr.reshape(shape)


# --------------------------------------------------------------------------- backends
def _shape_error(op: str, a: Shape, b: Shape) -> ValueError:
    return ValueError(f"{op}: shapes {_display_shape(a)} and {_display_shape(b)} do not match")


class _ShapeRules:
    """Shape checks shared by the backends; values carry a 2-D shape or () for scalars."""

    def shape(self, a: Any) -> Shape:
        raise NotImplementedError

    def check_add(self, a: Any, b: Any, op: str) -> None:
        sa, sb = self.shape(a), self.shape(b)
        if sa != sb and not (_scalar_shape(sa) or _scalar_shape(sb)):
            raise _shape_error(op, sa, sb)

    def check_mul(self, a: Any, b: Any) -> str:
        """``"matrix"`` for a matrix product, ``"scale"`` for scaling by a scalar and
        ``"elementwise"`` for two operands of the same shape that cannot be matrix-multiplied
        (``x*y`` on vectors)."""
        sa, sb = self.shape(a), self.shape(b)
        if _scalar_shape(sa) or _scalar_shape(sb):
            return "scale"
        if sa[1] == sb[0]:
            return "matrix"
        if sa == sb:
            return "elementwise"
        raise _shape_error("product", sa, sb)

    def check_matmul(self, a: Any, b: Any) -> str:
        """``@``: the matrix product, or ``"inner"`` for two column vectors of one length."""
        sa, sb = self.shape(a), self.shape(b)
        if _scalar_shape(sa) or _scalar_shape(sb):
            return "scale"
        if sa[1] == sb[0]:
            return "matrix"
        if sa == sb and sa[1] == 1:
            return "inner"
        raise _shape_error("product", sa, sb)

    def elementwise_power(self, a: Any) -> bool:
        """``a**k`` is element-wise for vectors and non-square matrices."""
        s = self.shape(a)
        return not _scalar_shape(s) and s[0] != s[1]

    def check_square(self, a: Any, fn: str) -> None:
        s = self.shape(a)
        if _scalar_shape(s):
            return
        if s[0] != s[1]:
            raise ValueError(f"{fn} needs a square matrix, got {_display_shape(s)}")


class ExplicitBackend(_ShapeRules):
    """SymPy element symbols: vectors and matrices are ``sympy.Matrix``; 1x1 results scalars."""

    def __init__(self, shapes: dict[str, Shape]) -> None:
        self.shapes = shapes
        self.elements: dict[str, Any] = {}
        for name, shape in shapes.items():
            if shape == ():
                self.elements[name] = sp.Symbol(name, real=True)
            elif shape[1] == 1:
                self.elements[name] = sp.Matrix(
                    shape[0], 1, lambda i, j, n=name: sp.Symbol(f"{n}[{i}]", real=True)
                )
            else:
                self.elements[name] = sp.Matrix(
                    shape[0], shape[1], lambda i, j, n=name: sp.Symbol(f"{n}[{i},{j}]", real=True)
                )

    def shape(self, a: Any) -> Shape:
        return tuple(a.shape) if isinstance(a, sp.MatrixBase) else ()

    @staticmethod
    def _scalarize(a: Any) -> Any:
        if isinstance(a, sp.MatrixBase) and a.shape == (1, 1):
            return a[0, 0]
        return a

    def symbol(self, name: str) -> Any:
        return self.elements[name]

    def constant(self, value: float) -> Any:
        return sp.Integer(value) if isinstance(value, int) else sp.Float(value)

    def add(self, a: Any, b: Any) -> Any:
        self.check_add(a, b, "sum")
        return self._scalarize(self._broadcast(a, b, lambda u, v: u + v))

    def sub(self, a: Any, b: Any) -> Any:
        self.check_add(a, b, "difference")
        return self._scalarize(self._broadcast(a, b, lambda u, v: u - v))

    def _broadcast(self, a: Any, b: Any, fn: Any) -> Any:
        if isinstance(a, sp.MatrixBase) and not isinstance(b, sp.MatrixBase):
            return a.applyfunc(lambda e: fn(e, b))
        if isinstance(b, sp.MatrixBase) and not isinstance(a, sp.MatrixBase):
            return b.applyfunc(lambda e: fn(a, e))
        return fn(a, b)

    def mul(self, a: Any, b: Any) -> Any:
        if self.check_mul(a, b) == "elementwise":
            return self._scalarize(a.multiply_elementwise(b))
        return self._scalarize(a * b)

    def matmul(self, a: Any, b: Any) -> Any:
        if self.check_matmul(a, b) == "inner":
            return self._scalarize(a.T * b)
        return self._scalarize(a * b)

    def div(self, a: Any, b: Any) -> Any:
        if not _scalar_shape(self.shape(b)):
            raise ValueError("division: the divisor must be a scalar")
        return self._scalarize(a / b)

    def neg(self, a: Any) -> Any:
        return -a

    def power(self, a: Any, k: float) -> Any:
        if _scalar_shape(self.shape(a)):
            return a ** _number(k)
        if self.elementwise_power(a):
            return a.applyfunc(lambda e: e ** _number(k))
        self.check_square(a, "a matrix power")
        if k != int(k):
            raise ValueError("a matrix power needs an integer exponent")
        if abs(k) > SYMBOLIC_MAX_POWER:
            raise SymbolicSkipped(
                f"a matrix power **{int(k)}; the symbolic limit is **{SYMBOLIC_MAX_POWER}"
            )
        if k < 0:
            self._check_square_size(a, "inverse")
            return self._scalarize(a.inv(method="ADJ") ** int(-k))
        return self._scalarize(a ** int(k))

    def transpose(self, a: Any) -> Any:
        return a.T if isinstance(a, sp.MatrixBase) else a

    @staticmethod
    def _check_square_size(a: Any, name: str) -> None:
        n = a.shape[0]
        if n > SYMBOLIC_MAX_SQUARE:
            raise SymbolicSkipped(
                f"{name}() of a {n}x{n} matrix (n! terms); the symbolic limit is "
                f"{SYMBOLIC_MAX_SQUARE}x{SYMBOLIC_MAX_SQUARE}"
            )

    def call(self, name: str, a: Any) -> Any:
        matrix = isinstance(a, sp.MatrixBase)
        if name in _ELEMENTWISE:
            fn = _ELEMENTWISE[name]
            return a.applyfunc(fn) if matrix else fn(a)
        if name == "sum":
            return sum(a) if matrix else a
        if name == "softmax":
            if not matrix:
                return sp.Integer(1)
            total = sum(sp.exp(e) for e in a)
            return a.applyfunc(lambda e: sp.exp(e) / total)
        if name == "logsumexp":
            return sp.log(sum(sp.exp(e) for e in a)) if matrix else a
        if name == "max":
            return sp.Max(*a) if matrix else a
        if name == "norm":
            return sp.sqrt(sum(e**2 for e in a)) if matrix else sp.Abs(a)
        if name == "transpose":
            return self.transpose(a)
        self.check_square(a, f"{name}()")
        if not matrix:
            return {"trace": a, "det": a, "inverse": 1 / a}[name]
        if name == "trace":
            return a.trace()
        self._check_square_size(a, name)
        if name == "det":
            return a.det(method="berkowitz")
        return self._scalarize(a.inv(method="ADJ"))


class NumericBackend(_ShapeRules):
    """ndgrad float64 tensors; the same rules as :class:`ExplicitBackend`."""

    def __init__(self, values: dict[str, Any], domain_checks: bool = False) -> None:
        self.values = values
        self.domain_checks = domain_checks

    def shape(self, a: Any) -> Shape:
        return tuple(a.shape) if a.ndim == 2 else ()

    @staticmethod
    def _scalarize(a: Any) -> Any:
        return a.reshape(()) if a.ndim == 2 and tuple(a.shape) == (1, 1) else a

    def symbol(self, name: str) -> Any:
        return self.values[name]

    def constant(self, value: float) -> Any:
        from ndgrad._creation import tensor
        from ndgrad._dtype import float64

        return tensor(float(value), dtype=float64)

    def add(self, a: Any, b: Any) -> Any:
        self.check_add(a, b, "sum")
        return a + b

    def sub(self, a: Any, b: Any) -> Any:
        self.check_add(a, b, "difference")
        return a - b

    def mul(self, a: Any, b: Any) -> Any:
        return self._scalarize(a @ b) if self.check_mul(a, b) == "matrix" else a * b

    def matmul(self, a: Any, b: Any) -> Any:
        kind = self.check_matmul(a, b)
        if kind == "inner":
            return self._scalarize(a.T @ b)
        return self._scalarize(a @ b) if kind == "matrix" else a * b

    def div(self, a: Any, b: Any) -> Any:
        if not _scalar_shape(self.shape(b)):
            raise ValueError("division: the divisor must be a scalar")
        return a / b

    def neg(self, a: Any) -> Any:
        return -a

    def check_domain(self, name: str, a: Any, source: str) -> None:
        """Domain errors in words ("log is undefined at x = -1"), not NaN or complex numbers."""
        if not self.domain_checks:
            return
        v = np.asarray(a._data, dtype=np.float64)
        if name == "log":
            bad, why = v <= 0, "log needs positive numbers"
        elif name == "sqrt":
            bad, why = v < 0, "sqrt needs non-negative numbers"
        elif name == "/":
            bad, why = v == 0, "division by zero"
            if bad.any():
                raise ValueError(f"division by zero: {source} = 0")
        elif name.startswith("**"):
            k = float(name[2:])
            if v.ndim == 2 and not self.elementwise_power(a):
                return  # a matrix power: its inverse reports a singular matrix
            if not k.is_integer():
                bad, why = v < 0, "a non-integer power needs a non-negative base"
            elif k < 0:
                bad, why = v == 0, "a negative power of 0 is a division by zero"
            else:
                return
            name = f"{source}{name}" if source.isidentifier() else f"({source}){name}"
        else:
            return
        if not bad.any():
            return
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = _element_name(source, v.shape, index)
        raise ValueError(f"{name} is undefined at {where} = {_number_text(v[index])} ({why})")

    def power(self, a: Any, k: float) -> Any:
        if _scalar_shape(self.shape(a)) or self.elementwise_power(a):
            return a**k
        self.check_square(a, "a matrix power")
        if k != int(k):
            raise ValueError("a matrix power needs an integer exponent")
        base = a.inverse() if k < 0 else a
        result = None
        for _ in range(abs(int(k))):
            result = base if result is None else result @ base
        if result is None:
            from ndgrad._creation import eye

            return eye(a.shape[0], dtype=a.dtype)
        return result

    def transpose(self, a: Any) -> Any:
        return a.T if a.ndim == 2 else a

    def call(self, name: str, a: Any) -> Any:
        if name in _ELEMENTWISE:
            return getattr(a, name)()
        if name == "sum":
            return a.sum()
        if name == "softmax":
            return a.reshape(-1).softmax(0).reshape(tuple(a.shape))
        if name == "logsumexp":
            return a.reshape(-1).logsumexp(0)
        if name == "max":
            return a.max()
        if name == "norm":
            return (a * a).sum().sqrt() if a.ndim else a.abs()
        if name == "transpose":
            return self.transpose(a)
        self.check_square(a, f"{name}()")
        if a.ndim == 0:
            return {"trace": a, "det": a, "inverse": 1 / a}[name]
        return {"trace": a.trace, "det": a.det, "inverse": a.inverse}[name]()


def _number_text(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.6g}"


def _element_name(source: str, shape: tuple, index: tuple) -> str:
    """``x`` for a scalar, ``x[2]`` for a vector's element, ``A[0,1]`` for a matrix's."""
    if not shape or int(np.prod(shape)) == 1:
        return source
    base = source if source.isidentifier() else f"({source})"
    if len(shape) == 2 and 1 in shape:
        return f"{base}[{index[0] * shape[1] + index[1]}]"
    return f"{base}[{','.join(str(i) for i in index)}]"


class MatrixBackend:
    """SymPy ``MatrixSymbol`` expressions: the readable matrix-calculus form."""

    def __init__(self, shapes: dict[str, Shape]) -> None:
        self.symbols = {
            name: sp.Symbol(name, real=True) if shape == () else sp.MatrixSymbol(name, *shape)
            for name, shape in shapes.items()
        }

    def symbol(self, name: str) -> Any:
        return self.symbols[name]

    def constant(self, value: float) -> Any:
        return sp.Integer(value) if isinstance(value, int) else sp.Float(value)

    def add(self, a: Any, b: Any) -> Any:
        return a + b

    def sub(self, a: Any, b: Any) -> Any:
        return a - b

    def mul(self, a: Any, b: Any) -> Any:
        if (
            isinstance(a, sp.MatrixExpr)
            and isinstance(b, sp.MatrixExpr)
            and a.shape[1] != b.shape[0]
            and a.shape == b.shape
        ):
            return sp.HadamardProduct(a, b)
        return a * b

    def matmul(self, a: Any, b: Any) -> Any:
        if (
            isinstance(a, sp.MatrixExpr)
            and isinstance(b, sp.MatrixExpr)
            and a.shape == b.shape
            and a.shape[1] == 1
            and a.shape[0] != 1
        ):
            return a.T * b
        return a * b

    def div(self, a: Any, b: Any) -> Any:
        if isinstance(b, sp.MatrixExpr):
            raise ValueError("division by a matrix expression")
        return a / b

    def neg(self, a: Any) -> Any:
        return -a

    def power(self, a: Any, k: float) -> Any:
        if isinstance(a, sp.MatrixExpr) and a.shape[0] != a.shape[1]:
            return sp.HadamardPower(a, _number(k))
        return a ** _number(k)

    def transpose(self, a: Any) -> Any:
        return a.T if isinstance(a, sp.MatrixExpr) else a

    def call(self, name: str, a: Any) -> Any:
        matrix = isinstance(a, sp.MatrixExpr)
        if name in ("softmax", "logsumexp", "max"):
            raise NotImplementedError(f"{name} has no matrix form here")
        if name in _ELEMENTWISE:
            fn = _ELEMENTWISE[name]
            return a.applyfunc(fn) if matrix else fn(a)
        if not matrix:
            if name in ("sum", "trace", "det", "transpose"):
                return a
            if name == "inverse":
                return 1 / a
            return sp.Abs(a)
        if name == "sum":
            return sp.OneMatrix(1, a.shape[0]) * a * sp.OneMatrix(a.shape[1], 1)
        if name == "trace":
            return sp.Trace(a)
        if name == "det":
            return sp.Determinant(a)
        if name == "inverse":
            return sp.Inverse(a)
        if name == "transpose":
            return a.T
        raise NotImplementedError("norm has no matrix form here")


def _number(k: float) -> Any:
    return sp.Integer(int(k)) if float(k).is_integer() else sp.Float(k)


def _matrix_diff(expr: Any, wrt: Any) -> Any:
    """SymPy's matrix derivative plus Jacobi's formula and the scalar chain rule."""
    if isinstance(expr, sp.Determinant) and expr.arg == wrt:
        return expr * wrt.T.I
    if not isinstance(expr, sp.MatrixExpr) and isinstance(wrt, sp.MatrixSymbol):
        # A scalar built from matrix-valued scalars (det, trace): chain rule through them.
        atoms = [
            a for a in sp.preorder_traversal(expr) if isinstance(a, (sp.Determinant, sp.Trace))
        ]
        atoms = list(dict.fromkeys(atoms))
        if atoms and expr not in atoms:
            total: Any = sp.ZeroMatrix(*wrt.shape)
            dummies = {a: sp.Dummy() for a in atoms}
            plain = expr.xreplace(dummies)
            for atom, d in dummies.items():
                outer = sp.diff(plain, d).xreplace({v: k for k, v in dummies.items()})
                total = total + outer * _matrix_diff(atom, wrt)
            return total
    return expr.diff(wrt)


# --------------------------------------------------------------------------- results
@dataclass
class SymbolicDerivative:
    """The symbolic derivative of an expression with respect to one symbol."""

    expression: str
    wrt: str
    shapes: dict[str, Shape]
    y_shape: Shape
    x_shape: Shape
    case: str
    layout_shapes: dict[str, tuple]
    element_form: dict[str, Any]  # layout -> sympy Matrix / Array / scalar of element symbols
    matrix_form: dict[str, Any] | None = None  # layout -> sympy matrix expression (unverified)
    matrix_raw: Any = None
    explicit_jacobian: Any = None  # sympy Array, shape y.shape + x.shape (math shapes)
    explicit_output: Any = None
    elements: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None  # why there is no symbolic form (too big or too slow)
    # A recognised structure (softmax's Jacobian diag(s) - s*s.T): its text, both layouts, and
    # its value from the point's values (shown only when it matches the element-wise value).
    structure: str | None = None
    structure_value: Any = None  # callable: values -> numerator-layout array
    structure_verified: bool = False

    def text(self, layout: str = "numerator") -> str:
        if self.skipped is not None:
            return f"skipped: {self.skipped}"
        if self.structure is not None and self.structure_verified:
            return self.structure
        if self.matrix_form is not None:
            return _pretty(self.matrix_form[layout])
        return _pretty(self.element_form[layout])


class _Printer(StrPrinter):
    """SymPy's str printer with the names people write: det, tr, ones, I."""

    def _print_Determinant(self, e: Any) -> str:
        return f"det({self._print(e.arg)})"

    def _print_Trace(self, e: Any) -> str:
        return f"tr({self._print(e.arg)})"

    def _print_OneMatrix(self, e: Any) -> str:
        return f"ones({e.shape[0]}, {e.shape[1]})"

    def _print_Identity(self, e: Any) -> str:
        return "I"

    def _print_DiagMatrix(self, e: Any) -> str:
        return f"diag({self._print(e.args[0])})"

    def _print_ElementwiseApplyFunction(self, e: Any) -> str:
        # f.(x) with f = Lambda(_d, body): write body with x in place of _d.
        fn = e.function
        return self._print(fn.expr.xreplace({fn.variables[0]: sp.Symbol(self._print(e.expr))}))

    def _print_MatrixBase(self, e: Any) -> str:
        return (
            "["
            + ", ".join("[" + ", ".join(self._print(v) for v in row) + "]" for row in e.tolist())
            + "]"
        )

    _print_ImmutableDenseMatrix = _print_MatrixBase
    _print_MutableDenseMatrix = _print_MatrixBase


def _element_rows(e: Any) -> list[list[str]] | None:
    """An element-wise symbolic matrix as rows of printed entries (None if not a matrix)."""
    if not isinstance(e, sp.MatrixBase):
        return None
    return [[_pretty(v) for v in row] for row in e.tolist()]


def _pretty(e: Any) -> str:
    return _Printer().doprint(e).replace("**(-1)", "^-1").replace("**", "^")


def _math_shape(shape: Shape) -> Shape:
    if shape == ():
        return ()
    if 1 in shape:
        return (shape[0] * shape[1],)
    return shape


def _explicit_jacobian(y: Any, x: Any) -> sp.Array:
    ys = list(y) if isinstance(y, sp.MatrixBase) else [y]
    xs = list(x) if isinstance(x, sp.MatrixBase) else [x]
    y_shape = tuple(y.shape) if isinstance(y, sp.MatrixBase) else ()
    x_shape = tuple(x.shape) if isinstance(x, sp.MatrixBase) else ()
    flat = [sp.diff(yi, xj) for yi in ys for xj in xs]
    shape = _math_shape(y_shape) + _math_shape(x_shape)
    if not shape:
        return flat[0]
    return sp.Array(flat, shape)


def _default_wrt(parsed: ParsedExpression, wrt: str | None) -> str:
    if wrt is not None:
        if wrt not in parsed.symbols:
            raise ValueError(
                f"cannot differentiate with respect to {wrt!r}: it does not appear in "
                f"{parsed.text!r} (symbols: {', '.join(parsed.symbols)})"
            )
        return wrt
    for name in ("x", "X"):
        if name in parsed.symbols:
            return name
    if len(parsed.symbols) == 1:
        return parsed.symbols[0]
    raise ValueError(
        f"{parsed.text!r} has several symbols ({', '.join(parsed.symbols)}); say which to "
        "differentiate with respect to (wrt=...)"
    )


def _arrange_sympy(jac: Any, y_shape: Shape, x_shape: Shape, layout: str) -> Any:
    if not isinstance(jac, sp.NDimArray):
        return jac
    arranged = arrange(np.array(jac.tolist(), dtype=object), y_shape, x_shape, layout)
    if arranged.ndim == 2:
        return sp.Matrix(arranged.tolist())
    return sp.Array(arranged.tolist()) if arranged.ndim else arranged.item()


def _prepare(
    expression: str | ParsedExpression, shapes: dict[str, Any] | None, wrt: str | None
) -> tuple[ParsedExpression, dict[str, Shape], str]:
    """The parsed expression, every symbol's normalised shape and the variable to differentiate
    by (shared by the symbolic and the numeric derivative)."""
    parsed = (
        expression if isinstance(expression, ParsedExpression) else parse_expression(expression)
    )
    shapes = dict(shapes or {})
    for name in shapes:
        if name not in parsed.symbols:
            raise ValueError(f"shape given for {name!r}, which is not in {parsed.text!r}")
    norm = {name: normalize_shape(name, shapes.get(name, ())) for name in parsed.symbols}
    wrt = _default_wrt(parsed, wrt)
    return parsed, norm, wrt


def symbolic_derivative(
    expression: str | ParsedExpression, shapes: dict[str, Any] | None = None, wrt: str | None = None
) -> SymbolicDerivative:
    """Differentiates a parsed matrix expression symbolically; undeclared symbols are scalars."""
    parsed, norm, wrt = _prepare(expression, shapes, wrt)
    _check_symbolic_budget(parsed, norm)

    explicit = ExplicitBackend(norm)
    y = evaluate(parsed, explicit)
    y_shape = explicit.shape(y)
    x_shape = norm[wrt]
    jac = _explicit_jacobian(y, explicit.elements[wrt])
    element_form = {
        lay: _arrange_sympy(jac, y_shape, x_shape, lay) for lay in ("numerator", "denominator")
    }
    result = SymbolicDerivative(
        expression=parsed.text,
        wrt=wrt,
        shapes=norm,
        y_shape=y_shape,
        x_shape=x_shape,
        case=case_name(y_shape, x_shape),
        layout_shapes=layout_shapes(y_shape, x_shape),
        element_form=element_form,
        explicit_jacobian=jac,
        explicit_output=y,
        elements=explicit.elements,
    )
    _recognise_structure(parsed, result)
    try:
        mb = MatrixBackend(norm)
        d = _matrix_diff(evaluate(parsed, mb), mb.symbols[wrt])
        d = d.doit() if hasattr(d, "doit") else d
        if not d.has(sp.Derivative) and "Derivative" not in type(d).__name__:
            result.matrix_raw = d
    except SymbolicSkipped:
        raise
    except Exception:  # noqa: BLE001 - SymPy cannot always do it; element form remains
        result.matrix_raw = None
    return result


def _softmax_jacobian(x: np.ndarray) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    e = np.exp(v - v.max())
    s = e / e.sum()
    return np.diag(s) - np.outer(s, s)


def _recognise_structure(parsed: ParsedExpression, result: SymbolicDerivative) -> None:
    """softmax of the variable vector: its Jacobian is diag(s) - s*s.T with s = softmax(x)."""
    body = parsed.tree.body
    if (
        isinstance(body, ast.Call)
        and isinstance(body.func, ast.Name)
        and body.func.id == "softmax"
        and isinstance(body.args[0], ast.Name)
        and body.args[0].id == result.wrt
        and kind_of(result.x_shape) == "vector"
    ):
        # Symmetric, so the same in both layouts.
        result.structure = f"diag(s) - s*s.T with s = softmax({result.wrt})"
        result.structure_value = lambda values: _softmax_jacobian(values[result.wrt])


def _matrix_form_layouts(d: Any, y_shape: Shape, x_shape: Shape) -> dict[str, Any] | None:
    """SymPy writes d/dX with X's index first (denominator layout) unless X is a scalar."""
    ky, kx = kind_of(y_shape), kind_of(x_shape)
    if kx == "scalar":
        return {"numerator": d, "denominator": d.T if isinstance(d, sp.MatrixExpr) else d}
    if ky in ("scalar", "vector") and kx in ("vector", "matrix") and isinstance(d, sp.MatrixExpr):
        return {"numerator": sp.Transpose(d).doit(), "denominator": d}
    return None


def _substitute(expr: Any, backend_symbols: dict[str, Any], values: dict[str, np.ndarray]) -> Any:
    subs = {}
    for name, sym in backend_symbols.items():
        v = values[name]
        subs[sym] = sp.Float(float(v)) if v.ndim == 0 else sp.Matrix(v.tolist())
    return expr.subs(subs).doit()


def _to_float_array(v: Any) -> np.ndarray:
    if isinstance(v, (sp.MatrixBase, sp.NDimArray)):
        return np.array(v.tolist(), dtype=np.float64)
    if isinstance(v, sp.MatrixExpr):
        return np.array(v.as_explicit().tolist(), dtype=np.float64)
    return np.array(float(v))


def _real(e: Any) -> float:
    """A SymPy number as a float: infinities as inf, complex numbers as a clear error."""
    try:
        return float(e)
    except TypeError:
        if e in (sp.zoo, sp.oo, -sp.oo) or e.is_infinite:
            return float("inf") if e != -sp.oo else float("-inf")
        if e is sp.nan:
            return float("nan")
        raise ValueError(
            f"the derivative is not a real number at this point ({_pretty(e)}); "
            "choose a point inside the domain of every function"
        ) from None


# --------------------------------------------------------------------------- comparison
@dataclass
class Comparison:
    """A symbolic derivative, evaluated at a point, next to ndgrad's numeric derivative."""

    symbolic: SymbolicDerivative
    layout: str
    values: dict[str, np.ndarray]
    output: np.ndarray
    symbolic_value: np.ndarray | None  # in ``layout``; None when the symbolic side was skipped
    numeric_value: np.ndarray  # in ``layout``
    agree: bool | None  # None when there was nothing to compare with
    max_abs_diff: float
    matrix_form_verified: bool

    @property
    def case(self) -> str:
        return self.symbolic.case

    @property
    def shapes(self) -> dict[str, tuple]:
        return self.symbolic.layout_shapes

    def text(self, layout: str | None = None) -> str:
        return self.symbolic.text(layout or self.layout)

    def to_dict(self) -> dict[str, Any]:
        s = self.symbolic
        return {
            "expression": s.expression,
            "wrt": s.wrt,
            "shapes": {k: list(v) for k, v in s.shapes.items()},
            "output_shape": list(s.y_shape),
            "case": s.case,
            "layout": self.layout,
            "layout_shapes": {k: list(v) for k, v in s.layout_shapes.items()},
            "symbolic": {lay: s.text(lay) for lay in ("numerator", "denominator")},
            "symbolic_form": (
                "skipped"
                if s.skipped is not None
                else "matrix"
                if s.matrix_form is not None or s.structure_verified
                else "element-wise"
            ),
            "symbolic_elements": {
                lay: _element_rows(s.element_form.get(lay)) for lay in ("numerator", "denominator")
            },
            "symbolic_skipped": s.skipped,
            "values": {k: v.tolist() for k, v in self.values.items()},
            "output": self.output.tolist(),
            "symbolic_value": None if self.symbolic_value is None else self.symbolic_value.tolist(),
            "numeric_value": self.numeric_value.tolist(),
            "agree": self.agree,
            "max_abs_diff": None if self.symbolic_value is None else self.max_abs_diff,
        }


def compare(
    expression: str | ParsedExpression,
    shapes: dict[str, Any] | None = None,
    at: dict[str, Any] | None = None,
    wrt: str | None = None,
    layout: str = "numerator",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    seed: int = 0,
) -> Comparison:
    """Symbolic (SymPy) and numeric (ndgrad) derivatives of ``expression`` at the point ``at``.

    Symbols without a value get standard-normal values from a generator seeded with ``seed``.
    """
    from ndgrad._creation import tensor
    from ndgrad._dtype import float64
    from ndgrad.autograd.functional import jacobian

    check_layout(layout)
    parsed, norm, wrt = _prepare(expression, shapes, wrt)
    at = dict(at or {})
    for name in at:
        if name not in norm:
            raise ValueError(f"value given for {name!r}, which is not in {parsed.text!r}")
    rng = np.random.default_rng(seed)
    values = {
        name: _as_array(name, shape, at[name]) if name in at else rng.standard_normal(shape)
        for name, shape in norm.items()
    }

    # Numeric first: the same expression on ndgrad tensors, Jacobian by reverse-mode autograd.
    from ndgrad.autograd.grad_mode import no_grad

    consts = {name: tensor(v, dtype=float64) for name, v in values.items()}
    backend = NumericBackend(consts)
    backend.domain_checks = True
    with no_grad():
        y_num = evaluate(parsed, backend)  # checks shapes and domains before any heavy work
    backend.domain_checks = False
    y_shape = backend.shape(y_num)
    x_shape = norm[wrt]
    entries = (int(np.prod(y_shape)) if y_shape else 1) * (int(np.prod(x_shape)) if x_shape else 1)
    if entries > MAX_JACOBIAN:
        raise ValueError(
            f"the derivative of {parsed.text!r} by {wrt!r} has {entries} entries; the limit is "
            f"{MAX_JACOBIAN}"
        )

    def f(x: Any) -> Any:
        return evaluate(parsed, NumericBackend({**consts, wrt: x}))

    jac_num = jacobian(f, consts[wrt])
    numeric_value = arrange(np.asarray(jac_num._data), y_shape, x_shape, layout)

    try:
        with _time_limit(SYMBOLIC_SECONDS):
            return _compare_symbolic(parsed, norm, wrt, values, layout, numeric_value, rtol, atol)
    except SymbolicSkipped as exc:
        skipped = SymbolicDerivative(
            expression=parsed.text,
            wrt=wrt,
            shapes=norm,
            y_shape=y_shape,
            x_shape=x_shape,
            case=case_name(y_shape, x_shape),
            layout_shapes=layout_shapes(y_shape, x_shape),
            element_form={},
            skipped=str(exc),
        )
        return Comparison(
            symbolic=skipped,
            layout=layout,
            values=values,
            output=np.asarray(y_num._data, dtype=np.float64),
            symbolic_value=None,
            numeric_value=numeric_value,
            agree=None,
            max_abs_diff=float("nan"),
            matrix_form_verified=False,
        )


def _compare_symbolic(
    parsed: ParsedExpression,
    norm: dict[str, Shape],
    wrt: str,
    values: dict[str, np.ndarray],
    layout: str,
    numeric_value: np.ndarray,
    rtol: float,
    atol: float,
) -> Comparison:
    sym = symbolic_derivative(parsed, norm, wrt)
    # Reference: the element-wise symbolic Jacobian at the point.
    numbers = {}
    for name, elems in sym.elements.items():
        if isinstance(elems, sp.MatrixBase):
            for e, v in zip(elems, values[name].reshape(-1), strict=True):
                numbers[e] = sp.Float(float(v))
        else:
            numbers[elems] = sp.Float(float(values[name]))
    jac = sym.explicit_jacobian
    jac_value = (
        np.array([_real(e.xreplace(numbers)) for e in sp.flatten(jac)]).reshape(jac.shape)
        if isinstance(jac, sp.NDimArray)
        else np.array(_real(jac.xreplace(numbers)))
    )
    out = sym.explicit_output
    out_value = (
        np.array([[_real(e) for e in row] for row in out.xreplace(numbers).tolist()])
        if isinstance(out, sp.MatrixBase)
        else np.array(_real(out.xreplace(numbers)))
    )
    symbolic_value = arrange(jac_value, sym.y_shape, sym.x_shape, layout)

    with np.errstate(invalid="ignore"):
        diff = np.abs(symbolic_value - numeric_value)
    finite = np.isfinite(symbolic_value).all() and np.isfinite(numeric_value).all()
    agree = bool(finite and np.allclose(symbolic_value, numeric_value, rtol=rtol, atol=atol))

    if sym.structure is not None:
        sym.structure_verified = bool(
            np.allclose(
                sym.structure_value(values),
                arrange(jac_value, sym.y_shape, sym.x_shape, "numerator"),
                rtol=1e-9,
                atol=1e-12,
            )
        )
    # The matrix form is shown only when it gives the same numbers.
    verified = False
    if sym.matrix_raw is not None:
        try:
            mb = MatrixBackend(sym.shapes)
            raw_value = _to_float_array(_substitute(sym.matrix_raw, mb.symbols, values))
            reference = arrange(jac_value, sym.y_shape, sym.x_shape, "denominator")
            if kind_of(sym.x_shape) == "scalar":
                reference = arrange(jac_value, sym.y_shape, sym.x_shape, "numerator")
            verified = raw_value.size == reference.size and np.allclose(
                np.squeeze(raw_value), np.squeeze(reference), rtol=1e-9, atol=1e-12
            )
        except SymbolicSkipped:
            raise
        except Exception:  # noqa: BLE001 - an unevaluable form is simply not shown
            verified = False
        if verified:
            sym.matrix_form = _matrix_form_layouts(sym.matrix_raw, sym.y_shape, sym.x_shape)
            verified = sym.matrix_form is not None
    return Comparison(
        symbolic=sym,
        layout=layout,
        values=values,
        output=out_value,
        symbolic_value=symbolic_value,
        numeric_value=numeric_value,
        agree=agree,
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        matrix_form_verified=verified or sym.structure_verified,
    )
