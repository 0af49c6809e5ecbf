"""The four derivative-shape cases and the numerator / denominator layouts.

For ``y`` in R^m and ``x`` in R^n, numerator layout writes dy/dx as m x n (a gradient of a
scalar is a 1 x n row, a derivative of a vector by a scalar an m x 1 column); denominator
layout writes its transpose. With a matrix X (p x q), a scalar's derivative is q x p in
numerator layout and p x q (the shape of X) in denominator layout; a matrix Y (m x n) by a
scalar is m x n in numerator layout. Other pairs (vector or matrix by matrix...) are tensors:
``y.shape + x.shape`` in numerator layout, ``x.shape + y.shape`` in denominator layout.

Vectors are columns; a shape with one element is a scalar, ``(n,)``, ``(n, 1)`` and ``(1, n)``
are vectors of length n.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

LAYOUTS = ("numerator", "denominator")

_CASE_NAMES = {
    ("scalar", "scalar"): "scalar by scalar",
    ("scalar", "vector"): "scalar by vector (gradient)",
    ("vector", "scalar"): "vector by scalar",
    ("vector", "vector"): "vector by vector (Jacobian)",
    ("scalar", "matrix"): "scalar by matrix",
    ("matrix", "scalar"): "matrix by scalar",
}


def kind_of(shape: tuple[int, ...]) -> str:
    """``"scalar"``, ``"vector"``, ``"matrix"`` or ``"tensor"`` for an array shape."""
    shape = tuple(shape)
    numel = 1
    for s in shape:
        numel *= s
    if numel == 1:
        return "scalar"
    if len(shape) == 1 or (len(shape) == 2 and 1 in shape):
        return "vector"
    if len(shape) == 2:
        return "matrix"
    return "tensor"


def math_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape without the unit dimensions of scalars and vectors: (), (n,), (m, n)..."""
    kind = kind_of(shape)
    if kind == "scalar":
        return ()
    if kind == "vector":
        n = 1
        for s in shape:
            n *= s
        return (n,)
    return tuple(shape)


def case_name(y_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> str:
    ky, kx = kind_of(y_shape), kind_of(x_shape)
    return _CASE_NAMES.get((ky, kx), f"{ky} by {kx} (higher-order tensor)")


def layout_shapes(y_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> dict[str, tuple]:
    """The shape of dy/dx in each layout."""
    ky, kx = kind_of(y_shape), kind_of(x_shape)
    my, mx = math_shape(y_shape), math_shape(x_shape)
    if (ky, kx) == ("scalar", "scalar"):
        return {"numerator": (), "denominator": ()}
    if (ky, kx) == ("scalar", "vector"):
        return {"numerator": (1, mx[0]), "denominator": (mx[0], 1)}
    if (ky, kx) == ("vector", "scalar"):
        return {"numerator": (my[0], 1), "denominator": (1, my[0])}
    if (ky, kx) == ("vector", "vector"):
        return {"numerator": (my[0], mx[0]), "denominator": (mx[0], my[0])}
    if (ky, kx) == ("scalar", "matrix"):
        return {"numerator": mx[::-1], "denominator": mx}
    if (ky, kx) == ("matrix", "scalar"):
        return {"numerator": my, "denominator": my[::-1]}
    return {"numerator": my + mx, "denominator": mx + my}


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'numerator' or 'denominator', got {layout!r}")
    return layout


def arrange(jac: Any, y_shape: tuple[int, ...], x_shape: tuple[int, ...], layout: str) -> Any:
    """Lays out a Jacobian given as ``y.shape + x.shape`` (PyTorch's convention).

    Works on ndgrad Tensors and NumPy arrays alike (reshape, transpose, permute).
    """
    check_layout(layout)
    ky, kx = kind_of(y_shape), kind_of(x_shape)
    my, mx = math_shape(y_shape), math_shape(x_shape)
    j = jac.reshape(my + mx)
    pair = (ky, kx)
    if pair == ("scalar", "scalar"):
        return j
    if pair in (("scalar", "vector"), ("vector", "scalar")):
        return j.reshape(layout_shapes(y_shape, x_shape)[layout])
    if pair in (("vector", "vector"), ("matrix", "scalar")):
        return j if layout == "numerator" else j.T
    if pair == ("scalar", "matrix"):
        return j.T if layout == "numerator" else j
    if layout == "numerator":
        return j
    ny, nx = len(my), len(mx)
    return _permute(j, tuple(range(ny, ny + nx)) + tuple(range(ny)))


def _permute(j: Any, order: tuple[int, ...]) -> Any:
    from ndgrad._tensor import Tensor

    if isinstance(j, Tensor):
        return j.permute(*order)
    return j.transpose(order)
