"""``ndgrad calculus``: a matrix expression's derivative, symbolic and numeric, side by side."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ndgrad.cli._common import usage_error

HELP = (
    "Differentiate a matrix EXPRESSION symbolically (SymPy) and numerically (ndgrad autograd)."
    "\n\nPrints which of the four cases it is (scalar/vector by scalar/vector, matrices too), "
    "the shape of the derivative in numerator and denominator layout, the symbolic derivative, "
    "its value at the point, ndgrad's numeric value, and whether they agree (exit code 1 if "
    "not; 2 for bad input)."
    "\n\nGrammar: + - * @ / ** .T ( ) and the functions sum exp log sin cos tanh sqrt "
    "sigmoid softmax logsumexp max trace (tr) det inverse (inv) norm transpose. Anything else "
    "(imports, attributes other than .T, strings, lambdas...) is rejected."
    "\n\nProducts and powers: * is the matrix product when the shapes allow one (A*x, x.T*y, "
    "A*B; a scalar scales) and element-wise for two vectors, or matrices, of the same "
    "non-square shape (x*y); @ is the matrix product, and for two vectors of one length their "
    "inner product (x@y = x.T*y). x**k is element-wise on a vector or non-square matrix "
    "(sum(x**2) is the squared norm), a matrix power on a square matrix (A**2 = A*A, X**-1 the "
    "inverse). exp, log, sigmoid... act element-wise; softmax normalises over all elements of "
    "its argument; logsumexp and max reduce all of them to a scalar (max's gradient is 1 at the "
    "largest element; at a tie, where max has no derivative, ndgrad shares it equally, as "
    "PyTorch does, and SymPy's Heaviside(0) = 1/2 agrees only for two-way ties)."
    "\n\nWritten maths: x^2 means x**2 (x^T means x.T); a missing * is implied between a number, name or "
    "closing parenthesis and what follows: 2x = 2*x, 2x^2 = 2*x**2, x y = x*y, 2(x+1), "
    "(x+1)(x-1). A name followed by ( is a call, and functions need parentheses: write "
    "sin(2x), not sin 2x."
    "\n\nShapes: --shape x=4 (column vector), --shape A=3x3 (matrix); undeclared symbols are "
    "scalars."
    "\n\nValues: --at x=0,1,2,3; a matrix row by row with ';' between rows: --at 'A=1,2;3,4'. "
    "Symbols without a value get fixed random (seed 0) standard-normal values."
    "\n\nExample: ndgrad calculus '2*x.T*x' --shape x=4 --at x=0,1,2,3"
)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{option} expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _parse_value(name: str, text: str) -> list:
    rows = [r for r in text.replace("[", "").replace("]", "").split(";") if r.strip()]
    try:
        parsed = [[float(v) for v in r.split(",") if v.strip()] for r in rows]
    except ValueError:
        raise ValueError(
            f"--at {name}=... must be numbers separated by ',' (rows by ';'), got {text!r}"
        ) from None
    if not parsed:
        raise ValueError(f"--at {name}= has no numbers")
    if len(parsed) == 1:
        return parsed[0]
    if len({len(r) for r in parsed}) != 1:
        raise ValueError(f"--at {name}=...: rows have different lengths")
    return parsed


def _fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.6g}"


def _fmt(value: object, indent: int = 13, top: bool = True) -> str:
    """Numbers compactly; a matrix (2-D, several rows and columns) as aligned rows; deeper
    nesting (a derivative of a matrix by a vector...) on one line."""
    if top and _is_matrix(value):
        return _fmt_rows([[_fmt_number(float(v)) for v in row] for row in value], indent)  # type: ignore[union-attr]
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v, top=False) for v in value) + "]"
    return _fmt_number(float(value))  # type: ignore[arg-type]


def _is_matrix(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 1
        and all(isinstance(row, list) and len(row) > 1 for row in value)
        and all(not isinstance(v, list) for row in value for v in row)
    )


def _fmt_rows(rows: list[list[str]], indent: int = 13) -> str:
    """Rows of printed entries as a multi-line matrix, columns right-aligned::

    [[ 1, -2],
     [30,  4]]
    """
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    lines = ["[" + ", ".join(v.rjust(w) for v, w in zip(row, widths)) + "]" for row in rows]
    pad = "\n" + " " * (indent + 1)
    return "[" + ("," + pad).join(lines) + "]"


def _flat_vector(value: object) -> object:
    """A 1 x n or n x 1 nested list as a flat list (how a vector is usually written)."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        if len(value) == 1 or all(len(row) == 1 for row in value):
            return [v for row in value for v in row]
    return value


def _shape_text(shape: tuple | list) -> str:
    return "scalar" if len(shape) == 0 else " x ".join(str(s) for s in shape)


def calculus(
    expression: Annotated[str, typer.Argument(help="Matrix expression, e.g. '2*x.T*x'.")],
    shape: Annotated[
        list[str] | None,
        typer.Option("--shape", "-s", help="NAME=SHAPE: x=4 (vector), A=3x3 (matrix). Repeatable."),
    ] = None,
    at: Annotated[
        list[str] | None,
        typer.Option("--at", "-a", help="NAME=VALUES: x=0,1,2,3 or 'A=1,2;3,4'. Repeatable."),
    ] = None,
    wrt: Annotated[
        str | None,
        typer.Option(
            "--wrt", help="Symbol to differentiate by (default x, X, or the only symbol)."
        ),
    ] = None,
    layout: Annotated[
        str, typer.Option("--layout", help="numerator or denominator: layout of the printed value.")
    ] = "numerator",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    from ndgrad.calculus import compare

    try:
        shapes = _pairs(shape or [], "--shape")
        values = {name: _parse_value(name, text) for name, text in _pairs(at or [], "--at").items()}
        result = compare(expression, shapes, values, wrt=wrt, layout=layout)
    except (ValueError, TypeError, RuntimeError, ArithmeticError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise usage_error("calculus", message) from None

    data = result.to_dict()
    if as_json:
        typer.echo(json.dumps(data))
    else:
        other = "denominator" if layout == "numerator" else "numerator"
        lines = [
            f"expression   {data['expression']}   (d/d{data['wrt']})",
            "shapes       "
            + ", ".join(f"{k}: {_shape_text(v)}" for k, v in data["shapes"].items())
            + f"; result: {_shape_text(data['output_shape'])}",
            f"case         {data['case']}",
            f"layouts      numerator {_shape_text(data['layout_shapes']['numerator'])}, "
            f"denominator {_shape_text(data['layout_shapes']['denominator'])}",
        ]
        skipped = data["symbolic_skipped"]
        if skipped is None:

            def sym_text(lay: str) -> str:
                rows = data["symbolic_elements"][lay]
                if data["symbolic_form"] == "element-wise" and rows and _is_matrix(rows):
                    return _fmt_rows(rows)
                return data["symbolic"][lay]

            lines += [
                f"symbolic     {sym_text(layout)}   ({layout} layout, "
                f"{data['symbolic_form']} form)",
                f"             {sym_text(other)}   ({other} layout)",
            ]
        else:
            lines.append(f"symbolic     skipped ({skipped}); the numeric result follows")
        values = data["values"]
        if any(_is_matrix(v) for v in values.values()):
            # Matrices take several lines: one symbol per line.
            lines += [
                ("at           " if i == 0 else " " * 13)
                + f"{k} = {_fmt(_flat_vector(v), 13 + len(k) + 3)}"
                for i, (k, v) in enumerate(values.items())
            ]
        else:
            lines.append(
                "at           "
                + ", ".join(f"{k} = {_fmt(_flat_vector(v))}" for k, v in values.items())
            )
        if skipped is None:
            lines.append(f"symbolic at  {_fmt(_flat_vector(data['symbolic_value']))}")
        lines.append(
            f"numeric      {_fmt(_flat_vector(data['numeric_value']))}   (ndgrad autograd, "
            f"{layout} layout {_shape_text(data['layout_shapes'][layout])})"
        )
        if skipped is None:
            lines.append(
                f"agree        {'yes' if data['agree'] else 'NO'} (max |difference| "
                f"{data['max_abs_diff']:.3g})"
            )
        typer.echo("\n".join(lines))
    if data["agree"] is False:
        raise typer.Exit(1)


calculus.__doc__ = HELP
