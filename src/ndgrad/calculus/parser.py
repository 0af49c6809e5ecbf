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
    function := sum exp log sin cos tanh sqrt sigmoid softmax logsumexp max
                trace tr det inverse inv norm transpose

Written mathematics is accepted too: ``x^2`` is ``x**2`` (SymPy's ``convert_xor``; ``x^T``
is ``x.T``) and a
product may be written without ``*`` (SymPy's implicit multiplication): ``2x`` is ``2*x``,
``2x^2`` is ``2*x**2``, ``x y`` is ``x*y``, ``2(x+1)`` and ``(x+1)(x-1)`` are products. A name
directly followed by ``(`` stays a call, so ``x(y)`` is an (unknown) function, not ``x*y``,
and a function needs parentheses: ``sin 2x`` is rejected ("write sin(2*x)"). These rewrites
are made on Python's token stream (lexing only) before the tree is parsed and checked, so the
whitelist sees, and guards, the rewritten text.

``*`` is the matrix product when the shapes allow one (``A*x``, ``x.T*y``, ``A*B``; a scalar
scales) and element-wise for two vectors (or matrices) of the same non-square shape
(``x*y``); ``@`` is the matrix product, and for two column vectors of the same length their
inner product (``x@y`` = ``x.T*y``); ``/`` divides by a scalar; ``M**k`` is a matrix power of a
square matrix (``X**-1`` the inverse), element-wise on a vector or non-square matrix
(``sum(x**2)``) and an ordinary power of a scalar; ``exp``, ``log``, ``sin``, ``sigmoid``...
act element-wise; ``softmax`` normalises over all elements of its argument and ``logsumexp``
and ``max`` reduce all of them to a scalar.
"""

from __future__ import annotations

import ast
import io
import keyword
import tokenize
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
    "sigmoid": "sigmoid",
    "softmax": "softmax",
    "logsumexp": "logsumexp",
    "max": "max",
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
    original = text
    text = implicit_to_explicit(text.strip())
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        shown = repr(original) if text == original.strip() else f"{original!r} (read as {text!r})"
        raise ValueError(f"cannot parse {shown}: {exc.msg} (column {exc.offset})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ValueError(f"cannot parse {text!r}: expression too deeply nested") from None
    symbols: list[str] = []
    _check(text, tree.body, symbols)
    return ParsedExpression(text, tree, tuple(dict.fromkeys(symbols)))


# Tokens after which, and before which, a missing ``*`` is implied (``2x``, ``x y``, ``)(``).
_ENDS_OPERAND = (tokenize.NUMBER, tokenize.NAME)
_STARTS_OPERAND = (tokenize.NUMBER, tokenize.NAME)


def _is_word(tok: tokenize.TokenInfo) -> bool:
    return tok.type == tokenize.NAME and not keyword.iskeyword(tok.string)


def implicit_to_explicit(text: str) -> str:
    """``x^2`` -> ``x**2`` and ``2x``/``x y``/``2(x+1)`` -> ``2*x``/``x*y``/``2*(x+1)``.

    Works on Python's token stream (lexing, nothing is evaluated) and returns the rewritten
    text, which :func:`parse_expression` then parses and checks against the whitelist. Text
    the tokenizer cannot read is returned unchanged (the parser reports it). Keywords are
    left alone (``lambda x: x`` stays a lambda, and is rejected as one).
    """
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT)
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    lines = text.splitlines(keepends=True) or [""]
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return starts[pos[0] - 1] + pos[1]

    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string == "^":
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            transpose = nxt is not None and nxt.type == tokenize.NAME and nxt.string == "T"
            edits.append((offset(tok.start), offset(tok.end), "." if transpose else "**"))
        if i == 0:
            continue
        prev = tokens[i - 1]
        if (
            _is_word(prev)
            and prev.string in FUNCTIONS
            and not (tok.type == tokenize.OP and tok.string == "(")
        ):
            if tok.type in _STARTS_OPERAND:
                raise ValueError(
                    f"{prev.string} needs parentheses: write {prev.string}(...) "
                    f"(e.g. {prev.string}(2*x), not {prev.string} 2x) in {text!r}"
                )
            continue
        after_operand = (prev.type == tokenize.NUMBER or _is_word(prev)) or (
            prev.type == tokenize.OP and prev.string == ")"
        )
        before_operand = (tok.type == tokenize.NUMBER or _is_word(tok)) or (
            tok.type == tokenize.OP
            and tok.string == "("
            and (prev.type == tokenize.NUMBER or prev.string == ")")
        )
        if (
            after_operand
            and before_operand
            and not (prev.type == tokenize.NUMBER and tok.type == tokenize.NUMBER)
        ):
            edits.append((offset(prev.end), offset(tok.start), "*"))
    if not edits:
        return text
    out, last = [], 0
    for start, end, new in edits:
        out.append(text[last:start])
        out.append(new)
        last = end
    out.append(text[last:])
    return "".join(out)


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
    """Walks the validated tree, building the value with ``backend``.

    A backend with a ``check_domain(name, value, source)`` method is shown each function's
    argument (and each power's base, as ``"**k"``) with its source text before it is applied.
    """
    return _eval(parsed.tree.body, backend, parsed.text)


def _eval(node: ast.AST, be: Backend, text: str = "") -> Any:
    check = getattr(be, "check_domain", None)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            base, k = _eval(node.left, be, text), _exponent("", node.right)
            if check is not None:
                check(f"**{k:g}", base, ast.get_source_segment(text, node.left) or "the base")
            return be.power(base, k)
        op = _BINOPS[type(node.op)]
        left, right = _eval(node.left, be, text), _eval(node.right, be, text)
        if isinstance(node.op, ast.MatMult):
            return be.matmul(left, right) if hasattr(be, "matmul") else be.mul(left, right)
        if isinstance(node.op, ast.Div) and check is not None:
            check("/", right, ast.get_source_segment(text, node.right) or "the divisor")
        return getattr(be, op)(left, right)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, be, text)
        return be.neg(value) if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call):
        name = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
        arg = _eval(node.args[0], be, text)
        if check is not None:
            check(name, arg, ast.get_source_segment(text, node.args[0]) or "the argument")
        return be.call(name, arg)
    if isinstance(node, ast.Attribute):
        return be.transpose(_eval(node.value, be, text))
    if isinstance(node, ast.Name):
        return be.symbol(node.id)
    if isinstance(node, ast.Constant):
        return be.constant(node.value)
    raise ValueError(f"unexpected node {type(node).__name__}")  # unreachable after _check
