"""A small, safe grammar for matrix expressions such as ``2*x.T*x`` or ``log(det(X))``.

The text is parsed by Python's ``ast.parse`` (parsing only: nothing is compiled or run) and
every node is checked against a whitelist before a tree walker evaluates it with a backend
(SymPy matrix symbols, SymPy element symbols, or ndgrad tensors). Anything else (calls other
than the listed functions, attribute access other than ``.T``, names starting with ``_``,
strings, lambdas, subscripts, comparisons...) is rejected with a ``ValueError`` naming the
offending token.

Grammar::

    expr   := expr (+ | - | * | @ | /) expr | -expr | +expr | expr ** number
            | atom.T | function(expr) | name | number | (expr)
    function := sum exp log sin cos tanh sqrt trace tr det inverse inv norm transpose

``*`` and ``@`` are matrix products (a scalar operand scales); ``/`` divides by a scalar;
``M**k`` is a matrix power of a square matrix (``X**-1`` the inverse) and an ordinary power
of a scalar; ``exp``, ``log``, ``sin``... act elementwise on vectors and matrices.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Protocol

MAX_LENGTH = 400
MAX_EXPONENT = 16

FUNCTIONS = {
    "sum": "sum",
    "exp": "exp",
    "log": "log",
    "sin": "sin",
    "cos": "cos",
    "tanh": "tanh",
    "sqrt": "sqrt",
    "trace": "trace",
    "tr": "trace",
    "det": "det",
    "inverse": "inverse",
    "inv": "inverse",
    "norm": "norm",
    "transpose": "transpose",
}

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.MatMult: "mul", ast.Div: "div"}


@dataclass(frozen=True)
class ParsedExpression:
    """A validated expression: its text, checked tree and the symbol names it uses."""

    text: str
    tree: ast.Expression
    symbols: tuple[str, ...]


class Backend(Protocol):
    def symbol(self, name: str) -> Any: ...
    def constant(self, value: float) -> Any: ...
    def add(self, a: Any, b: Any) -> Any: ...
    def sub(self, a: Any, b: Any) -> Any: ...
    def mul(self, a: Any, b: Any) -> Any: ...
    def div(self, a: Any, b: Any) -> Any: ...
    def neg(self, a: Any) -> Any: ...
    def power(self, a: Any, k: float) -> Any: ...
    def transpose(self, a: Any) -> Any: ...
    def call(self, name: str, a: Any) -> Any: ...


def _token(text: str, node: ast.AST) -> str:
    segment = ast.get_source_segment(text, node)
    return segment if segment is not None else type(node).__name__


def _reject(text: str, node: ast.AST, why: str) -> ValueError:
    col = getattr(node, "col_offset", None)
    where = f" at column {col}" if col is not None else ""
    return ValueError(f"{why}: {_token(text, node)!r}{where} in {text!r}")


def parse_expression(text: str) -> ParsedExpression:
    """Parses and validates ``text``; raises ``ValueError`` naming any rejected token."""
    if not isinstance(text, str):
        raise ValueError(f"expression must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression too long ({len(text)} > {MAX_LENGTH} characters)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse {text!r}: {exc.msg} (column {exc.offset})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ValueError(f"cannot parse {text!r}: expression too deeply nested") from None
    symbols: list[str] = []
    _check(text.strip(), tree.body, symbols)
    return ParsedExpression(text.strip(), tree, tuple(dict.fromkeys(symbols)))


def _check_name(text: str, node: ast.Name) -> None:
    if node.id.startswith("_"):
        raise _reject(text, node, "names starting with '_' are not allowed")
    if not node.id.isidentifier() or not node.id.isascii():
        raise _reject(text, node, "invalid name")


def _exponent(text: str, node: ast.AST) -> float:
    """The exponent of ``**``: a number (optionally negated) of modest size."""
    sign = 1.0
    inner = node
    if isinstance(inner, ast.UnaryOp) and isinstance(inner.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(inner.op, ast.USub) else 1.0
        inner = inner.operand
    if not (isinstance(inner, ast.Constant) and type(inner.value) in (int, float)):
        raise _reject(text, node, "the exponent of ** must be a number")
    value = sign * inner.value
    if abs(value) > MAX_EXPONENT:
        raise _reject(text, node, f"exponent larger than {MAX_EXPONENT} in magnitude")
    return value


def _check(text: str, node: ast.AST, symbols: list[str]) -> None:
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            _check(text, node.left, symbols)
            _exponent(text, node.right)
            return
        if type(node.op) not in _BINOPS:
            raise _reject(text, node, f"operator {type(node.op).__name__} is not allowed")
        _check(text, node.left, symbols)
        _check(text, node.right, symbols)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _reject(text, node, f"operator {type(node.op).__name__} is not allowed")
        _check(text, node.operand, symbols)
    elif isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            raise _reject(text, func, "only plain function names may be called")
        _check_name(text, func)
        if func.id not in FUNCTIONS:
            raise _reject(text, func, f"unknown function (allowed: {', '.join(sorted(FUNCTIONS))})")
        if node.keywords:
            raise _reject(text, node.keywords[0], "keyword arguments are not allowed")
        if len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise _reject(text, node, f"{func.id}() takes exactly one argument")
        _check(text, node.args[0], symbols)
    elif isinstance(node, ast.Attribute):
        if node.attr != "T":
            raise _reject(text, node, f"attribute '.{node.attr}' is not allowed (only .T)")
        _check(text, node.value, symbols)
    elif isinstance(node, ast.Name):
        _check_name(text, node)
        if node.id in FUNCTIONS:
            raise _reject(text, node, "a function name is not a value; call it")
        symbols.append(node.id)
    elif isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):
            what = "string" if isinstance(node.value, (str, bytes)) else type(node.value).__name__
            raise _reject(text, node, f"{what} literals are not allowed")
    elif isinstance(node, ast.Lambda):
        raise _reject(text, node, "lambda is not allowed")
    else:
        raise _reject(text, node, f"{type(node).__name__} syntax is not allowed")


def evaluate(parsed: ParsedExpression, backend: Backend) -> Any:
    """Walks the validated tree, building the value with ``backend``."""
    return _eval(parsed.tree.body, backend)


def _eval(node: ast.AST, be: Backend) -> Any:
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            return be.power(_eval(node.left, be), _exponent("", node.right))
        op = _BINOPS[type(node.op)]
        return getattr(be, op)(_eval(node.left, be), _eval(node.right, be))
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, be)
        return be.neg(value) if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call):
        return be.call(FUNCTIONS[node.func.id], _eval(node.args[0], be))  # type: ignore[attr-defined]
    if isinstance(node, ast.Attribute):
        return be.transpose(_eval(node.value, be))
    if isinstance(node, ast.Name):
        return be.symbol(node.id)
    if isinstance(node, ast.Constant):
        return be.constant(node.value)
    raise ValueError(f"unexpected node {type(node).__name__}")  # unreachable after _check
