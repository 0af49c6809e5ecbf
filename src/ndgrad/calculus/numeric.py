"""Numeric derivatives with ndgrad's autograd, classified and laid out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ndgrad.calculus.layout import arrange, case_name, check_layout, kind_of, layout_shapes


@dataclass
class Derivative:
    """dy/dx at a point: which case it is, its shapes in both layouts, and its values.

    ``jacobian`` has PyTorch's shape ``y.shape + x.shape``; ``value`` is laid out in
    ``layout``; ``numerator`` and ``denominator`` are both layouts.
    """

    case: str
    y_kind: str
    x_kind: str
    y_shape: tuple[int, ...]
    x_shape: tuple[int, ...]
    layout: str
    shapes: dict[str, tuple]
    output: Any
    jacobian: Any
    numerator: Any
    denominator: Any

    @property
    def value(self) -> Any:
        return self.numerator if self.layout == "numerator" else self.denominator

    def __str__(self) -> str:
        return (
            f"{self.case}: y {list(self.y_shape)} by x {list(self.x_shape)}; "
            f"numerator layout {self.shapes['numerator']}, denominator layout "
            f"{self.shapes['denominator']}; value ({self.layout}) = {self.value.tolist()}"
        )


def derivative(f: Callable[[Any], Any], x: Any, layout: str = "numerator") -> Derivative:
    """Differentiates ``f`` at ``x`` with ndgrad's autograd (one backward per output element).

    ``x`` is a Tensor (kept in its floating dtype) or a number / nested list (float64).
    """
    from ndgrad._creation import tensor
    from ndgrad._dtype import float64
    from ndgrad._tensor import Tensor
    from ndgrad.autograd.functional import jacobian

    check_layout(layout)
    if not isinstance(x, Tensor):
        x = tensor(x, dtype=float64)
    if not x.is_floating_point():
        x = x.double()
    x = x.detach()
    y = f(x)
    if not isinstance(y, Tensor):
        raise TypeError(f"derivative: f must return a Tensor, got {type(y).__name__}")
    jac = jacobian(f, x)
    y_shape, x_shape = tuple(y.shape), tuple(x.shape)
    return Derivative(
        case=case_name(y_shape, x_shape),
        y_kind=kind_of(y_shape),
        x_kind=kind_of(x_shape),
        y_shape=y_shape,
        x_shape=x_shape,
        layout=layout,
        shapes=layout_shapes(y_shape, x_shape),
        output=y.detach(),
        jacobian=jac,
        numerator=arrange(jac, y_shape, x_shape, "numerator"),
        denominator=arrange(jac, y_shape, x_shape, "denominator"),
    )
