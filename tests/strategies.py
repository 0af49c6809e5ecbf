"""Hypothesis strategies for tensor tests: shapes, broadcastable shapes, arrays on safe domains.

The value strategies keep inputs away from points where an op is not differentiable
(ties for max/min, zero for abs/relu, clamp bounds, integer quotients for remainder),
so finite differences and PyTorch agree without loosening tolerances.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIDE = 4


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = MAX_SIDE
) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes of a few small dimensions."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, max_side: int = MAX_SIDE
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``num_shapes`` shapes that broadcast together (size-1 and missing leading dims)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda b: b.input_shapes)


def floats(shape: Sequence[int], low: float = -2.0, high: float = 2.0) -> st.SearchStrategy:
    """float64 arrays with elements in ``[low, high]``."""
    return hnp.arrays(
        np.float64,
        tuple(shape),
        elements=st.floats(low, high, allow_nan=False, allow_infinity=False),
    )


def positive(shape: Sequence[int], low: float = 0.5, high: float = 2.5) -> st.SearchStrategy:
    """Strictly positive arrays (log, sqrt, pow bases, divisors)."""
    return floats(shape, low, high)


def nonzero(shape: Sequence[int], low: float = 0.3, high: float = 2.0) -> st.SearchStrategy:
    """Arrays with ``low <= |x| <= high`` (abs, relu, divisors of either sign)."""
    magnitude = floats(shape, low, high)
    signs = hnp.arrays(np.float64, tuple(shape), elements=st.sampled_from([-1.0, 1.0]))
    return st.tuples(magnitude, signs).map(lambda ms: np.asarray(ms[0] * ms[1]))


def lattice(
    shape: Sequence[int], offset: float, step: float = 0.2, span: int = 8
) -> st.SearchStrategy:
    """Values ``k * step + offset``: two lattices with different offsets never tie."""
    return hnp.arrays(
        np.float64, tuple(shape), elements=st.integers(-span, span).map(lambda k: k * step + offset)
    )


def distinct(shape: Sequence[int], step: float = 0.25) -> st.SearchStrategy:
    """Arrays whose elements are all different (by at least ``step``): no ties for max/min/sort."""
    n = int(np.prod(shape, dtype=np.int64))
    return (
        st.permutations(range(n))
        .map(lambda perm: (np.asarray(perm, dtype=np.float64) - n / 2) * step + 0.1)
        .map(lambda a: a.reshape(tuple(shape)))
    )


def index_arrays(shape: Sequence[int], size: int) -> st.SearchStrategy:
    """int64 arrays of valid indices into a dimension of length ``size`` (negatives included)."""
    return hnp.arrays(np.int64, tuple(shape), elements=st.integers(-size, size - 1))


def masks(shape: Sequence[int]) -> st.SearchStrategy:
    return hnp.arrays(np.bool_, tuple(shape), elements=st.booleans())
