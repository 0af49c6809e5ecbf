"""Every differentiable op of issue 2, with its input domain.

Each entry is ``OpCase(name, fn, inputs)``: ``fn(lib, *tensors, **params)`` runs the op on
``lib`` (``ndgrad`` or ``torch``, whose APIs are the same), and ``inputs`` is a hypothesis
strategy giving ``(arrays, params)``: float64 arrays (differentiable inputs), int/bool
arrays (indices and masks), and the op's non-tensor arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from strategies import (
    broadcastable_shapes,
    distinct,
    floats,
    index_arrays,
    lattice,
    masks,
    nonzero,
    positive,
    shapes,
)


@dataclass(frozen=True)
class OpCase:
    name: str
    fn: Callable[..., Any]
    inputs: st.SearchStrategy
    grad: bool = True  # False: torch defines no derivative (compare values only)

    def __repr__(self) -> str:
        return self.name


def _no_params(arrays: st.SearchStrategy) -> st.SearchStrategy:
    return arrays.map(lambda a: (tuple(a), {}))


def unary(domain: Callable = floats, shape: st.SearchStrategy | None = None) -> st.SearchStrategy:
    return _no_params(
        (shape if shape is not None else shapes()).flatmap(lambda s: domain(s).map(lambda a: (a,)))
    )


def binary(da: Callable = floats, db: Callable = floats) -> st.SearchStrategy:
    return _no_params(broadcastable_shapes(2).flatmap(lambda s: st.tuples(da(s[0]), db(s[1]))))


def _dim(ndim: int) -> st.SearchStrategy:
    bound = max(ndim, 1)
    return st.integers(-bound, bound - 1)


def reduction(
    domain: Callable = floats,
    min_dims: int = 0,
    min_side: int = 1,
    keepdim: bool = True,
    tuple_dims: bool = False,
) -> st.SearchStrategy:
    """``(x,)`` with ``dim`` (an int, or with tuple_dims a tuple of dims) and ``keepdim``."""

    @st.composite
    def draw_case(draw: Any) -> tuple:
        s = draw(shapes(min_dims=min_dims, min_side=min_side))
        x = draw(domain(s))
        if tuple_dims and len(s):
            dims = draw(
                st.lists(st.integers(0, len(s) - 1), min_size=1, max_size=len(s), unique=True)
            )
            dim: Any = tuple(d - len(s) if draw(st.booleans()) else d for d in dims)
        else:
            dim = draw(_dim(len(s)))
        params = {"dim": dim}
        if keepdim:
            params["keepdim"] = draw(st.booleans())
        return (x,), params

    return draw_case()


@st.composite
def _remainder_inputs(draw: Any) -> tuple:
    # a = b * (k + f) with f in [0.1, 0.9]: a / b is never near an integer (floor jumps there).
    sa, sb = draw(broadcastable_shapes(2))
    full = np.broadcast_shapes(sa, sb)
    b = draw(nonzero(sb, 0.5, 2.0))
    k = draw(lattice(full, 0.0, 1.0, 3))
    f = draw(floats(full, 0.1, 0.9))
    return (np.asarray(np.broadcast_to(b, full) * (k + f)), b), {}


@st.composite
def _var_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1, min_side=2))
    x = draw(distinct(s))
    dim = draw(_dim(len(s)))
    params = {"dim": dim, "keepdim": draw(st.booleans())}
    form = draw(st.sampled_from(["unbiased", "correction", "none"]))
    if form == "unbiased":
        params["unbiased"] = draw(st.booleans())
    elif form == "correction":
        params["correction"] = draw(st.sampled_from([0, 1, 2])) if s[dim] > 2 else 0
    return (x,), params


@st.composite
def _matmul_inputs(draw: Any) -> tuple:
    na, nb = draw(
        st.sampled_from(
            [(1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (2, 3), (3, 3), (1, 3), (3, 1), (4, 3)]
        )
    )
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(2, min_dims=2, max_dims=2, max_side=3))
    sa = (batch_a[-(na - 2) :] if na > 2 else ()) + ((n, k) if na >= 2 else (k,))
    sb = (batch_b[-(nb - 2) :] if nb > 2 else ()) + ((k, m) if nb >= 2 else (k,))
    return (draw(floats(sa)), draw(floats(sb))), {}


def _fixed(*shape_fns: Callable[[int, int, int, int], tuple]) -> st.SearchStrategy:
    """Arrays whose shapes are built from four small sizes (for the fixed-rank products)."""

    @st.composite
    def draw_case(draw: Any) -> tuple:
        b, n, k, m = (draw(st.integers(1, 4)) for _ in range(4))
        return tuple(draw(floats(f(b, n, k, m))) for f in shape_fns), {}

    return draw_case()


@st.composite
def _addmm_inputs(draw: Any) -> tuple:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    bias_shape = draw(st.sampled_from([(n, m), (m,), (1, m), (n, 1), ()]))
    params = draw(st.sampled_from([{}, {"beta": 0.5, "alpha": 2.0}, {"alpha": -1.0}]))
    return (draw(floats(bias_shape)), draw(floats((n, k))), draw(floats((k, m)))), params


@st.composite
def _addmv_inputs(draw: Any) -> tuple:
    n, k = (draw(st.integers(1, 4)) for _ in range(2))
    bias_shape = draw(st.sampled_from([(n,), (1,), ()]))
    params = draw(st.sampled_from([{}, {"beta": 0.5, "alpha": 2.0}, {"beta": 0.0}]))
    return (draw(floats(bias_shape)), draw(floats((n, k))), draw(floats((k,)))), params


@st.composite
def _baddbmm_inputs(draw: Any) -> tuple:
    b, n, k, m = (draw(st.integers(1, 3)) for _ in range(4))
    bias_shape = draw(st.sampled_from([(b, n, m), (n, m), (1, m), ()]))
    params = draw(st.sampled_from([{}, {"beta": -1.0, "alpha": 0.5}]))
    shapes_ = [bias_shape, (b, n, k), (b, k, m)]
    return tuple(draw(floats(s)) for s in shapes_), params


@st.composite
def _sdpa_inputs(draw: Any) -> tuple:
    """Query (..., L, E), key (..., S, E), value (..., S, Ev) with broadcast batch dims, and
    optionally a boolean or float mask (broadcast), causal masking or a scale."""
    batch_q, batch_k = draw(broadcastable_shapes(2, min_dims=0, max_dims=2, max_side=2))
    n_l, n_s, e, ev = (draw(st.integers(1, 3)) for _ in range(4))
    arrays = [
        draw(floats(batch_q + (n_l, e), -2, 2)),
        draw(floats(batch_k + (n_s, e), -2, 2)),
        draw(floats(batch_k + (n_s, ev), -2, 2)),
    ]
    kind = draw(st.sampled_from(["none", "bool", "float", "causal", "scale"]))
    if kind == "bool":
        arrays.append(draw(masks((n_l, n_s))))
    elif kind == "float":
        arrays.append(draw(floats((n_l, n_s), -2, 2)))
    params = {"causal": kind == "causal", "scale": 0.7 if kind == "scale" else None}
    return tuple(arrays), params


def _sdpa(lib: Any, q: Any, k: Any, v: Any, m: Any = None, causal: bool = False, scale=None):
    f = lib.nn.functional.scaled_dot_product_attention
    return f(q, k, v, attn_mask=m, is_causal=causal, scale=scale)


@st.composite
def _linear_inputs(draw: Any) -> tuple:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    lead = draw(st.sampled_from([(n,), (), (2, n)]))
    arrays = (draw(floats((*lead, k))), draw(floats((m, k))))
    if draw(st.booleans()):
        arrays += (draw(floats((m,))),)
    return arrays, {}


@st.composite
def _wide_linear_inputs(draw: Any) -> tuple:
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(32, 34))
    return (draw(floats((n, k))), draw(floats((m, k))), draw(floats((m,)))), {}


def _well_conditioned(batch: tuple, n: int) -> st.SearchStrategy:
    """Square matrices near 2 I (invertible, away from det = 0)."""
    return floats((*batch, n, n), -0.5, 0.5).map(lambda a: a + 2 * np.eye(n))


@st.composite
def _square_inputs(draw: Any) -> tuple:
    batch = draw(st.sampled_from([(), (2,), (1, 2)]))
    return (draw(_well_conditioned(batch, draw(st.integers(1, 3)))),), {}


_EINSUM_EQUATIONS = {
    "ij,jk->ik": ((2, 3), (3, 4)),
    "bij,bjk->bik": ((2, 2, 3), (2, 3, 2)),
    "i,j->ij": ((3,), (2,)),
    "ij->j": ((2, 3),),
    "ij->ji": ((2, 3),),
    "ij,ij->": ((2, 3), (2, 3)),
    "ij,jk": ((2, 3), (3, 2)),
    "ijk,k->i": ((2, 3, 4), (4,)),
    "ij,jk,kl->il": ((2, 3), (3, 2), (2, 2)),
}


@st.composite
def _einsum_inputs(draw: Any) -> tuple:
    equation = draw(st.sampled_from(sorted(_EINSUM_EQUATIONS)))
    arrays = tuple(draw(floats(s)) for s in _EINSUM_EQUATIONS[equation])
    return arrays, {"equation": equation}


@st.composite
def _reshape_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    n = int(np.prod(s, dtype=np.int64))
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    d = draw(st.sampled_from(divisors))
    target = draw(st.sampled_from([(-1,), (d, -1), (-1, d, 1), (1, n), (d, n // d)]))
    return (draw(floats(s)),), {"shape": target}


@st.composite
def _flatten_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    a, b = sorted(draw(st.lists(st.integers(0, len(s) - 1), min_size=2, max_size=2)))
    return (draw(floats(s)),), {"start_dim": a, "end_dim": b - len(s) if b else b}


@st.composite
def _transpose_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    return (draw(floats(s)),), {"dim0": draw(_dim(len(s))), "dim1": draw(_dim(len(s)))}


@st.composite
def _permute_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    return (draw(floats(s)),), {"dims": tuple(draw(st.permutations(range(len(s)))))}


@st.composite
def _unsqueeze_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    return (draw(floats(s)),), {"dim": draw(st.integers(-len(s) - 1, len(s)))}


@st.composite
def _squeeze_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_side=1, max_side=2))
    dim = draw(st.none() | _dim(len(s))) if s else None
    return (draw(floats(s)),), {} if dim is None else {"dim": dim}


@st.composite
def _expand_inputs(draw: Any) -> tuple:
    target, s = draw(broadcastable_shapes(2))
    full = np.broadcast_shapes(target, s)
    # -1 keeps a dimension's own size.
    sizes = tuple(
        -1
        if i >= len(full) - len(s) and draw(st.booleans()) and s[i - len(full) + len(s)] == full[i]
        else full[i]
        for i in range(len(full))
    )
    return (draw(floats(s)),), {"sizes": sizes}


@st.composite
def _repeat_inputs(draw: Any) -> tuple:
    s = draw(shapes(max_dims=2))
    extra = draw(st.integers(0, 1))
    reps = tuple(draw(st.integers(1, 3)) for _ in range(len(s) + extra))
    return (draw(floats(s)),), {"repeats": reps}


@st.composite
def _cat_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    count = draw(st.integers(1, 3))
    arrays = []
    for _ in range(count):
        own = list(s)
        own[dim] = draw(st.integers(1, 3))
        arrays.append(draw(floats(tuple(own))))
    return tuple(arrays), {"dim": dim}


@st.composite
def _stack_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    count = draw(st.integers(1, 3))
    dim = draw(st.integers(-len(s) - 1, len(s)))
    return tuple(draw(floats(s)) for _ in range(count)), {"dim": dim}


@st.composite
def _split_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    size = s[dim]
    if draw(st.booleans()):
        sections: Any = draw(st.integers(1, size + 1))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, size), max_size=2)))
        bounds = [0, *cuts, size]
        sections = [bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1)]
    return (draw(floats(s)),), {"sections": sections, "dim": dim}


@st.composite
def _chunk_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    return (draw(floats(s)),), {"chunks": draw(st.integers(1, 5)), "dim": draw(_dim(len(s)))}


@st.composite
def _dims_inputs(draw: Any) -> tuple:
    """(x,) with ``dims``: a few distinct dims of x (flip, roll)."""
    s = draw(shapes(min_dims=1))
    dims = draw(st.lists(st.integers(0, len(s) - 1), min_size=1, max_size=len(s), unique=True))
    return (draw(floats(s)),), {
        "dims": tuple(d - len(s) if draw(st.booleans()) else d for d in dims)
    }


@st.composite
def _roll_inputs(draw: Any) -> tuple:
    (x,), p = draw(_dims_inputs())
    if draw(st.booleans()):
        return (x,), {"shifts": draw(st.integers(-5, 5)), "dims": None}
    return (x,), {"shifts": tuple(draw(st.integers(-5, 5)) for _ in p["dims"]), "dims": p["dims"]}


@st.composite
def _movedim_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    k = draw(st.integers(1, len(s)))
    src = draw(st.permutations(range(len(s))))[:k]
    dst = draw(st.permutations(range(len(s))))[:k]
    return (draw(floats(s)),), {"source": tuple(src), "destination": tuple(dst)}


@st.composite
def _unflatten_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    n = s[dim]
    d = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    sizes = draw(st.sampled_from([(d, n // d), (-1, d), (1, n, 1)]))
    return (draw(floats(s)),), {"dim": dim, "sizes": sizes}


@st.composite
def _sum_to_size_inputs(draw: Any) -> tuple:
    target, s = draw(broadcastable_shapes(2))
    full = np.broadcast_shapes(target, s)
    return (draw(floats(full)),), {"size": tuple(target)}


@st.composite
def _expand_as_inputs(draw: Any) -> tuple:
    """(x, y): y (integers, only its shape matters) of x's shape broadcast with another."""
    s, other = draw(broadcastable_shapes(2))
    return (draw(floats(s)), np.zeros(np.broadcast_shapes(s, other), np.int64)), {}


@st.composite
def _narrow_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    start = draw(st.integers(0, s[dim] - 1))
    length = draw(st.integers(0, s[dim] - start))
    return (draw(floats(s)),), {"dim": dim, "start": start, "length": length}


@st.composite
def _select_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    index = draw(st.integers(-s[dim], s[dim] - 1))
    return (draw(floats(s)),), {"dim": dim, "index": index}


@st.composite
def _matrix_offset_inputs(draw: Any) -> tuple:
    """(x,) of 2 or more dims with a diagonal offset (tril, triu)."""
    s = draw(shapes(min_dims=2))
    return (draw(floats(s)),), {"diagonal": draw(st.integers(-3, 3))}


@st.composite
def _diag_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1, max_dims=2))
    return (draw(floats(s)),), {"diagonal": draw(st.integers(-2, 2))}


@st.composite
def _tile_inputs(draw: Any) -> tuple:
    s = draw(shapes(max_dims=2))
    reps = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, len(s) + 1))))
    return (draw(floats(s)),), {"dims": reps}


@st.composite
def _repeat_interleave_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(st.none() | _dim(len(s)))
    n = int(np.prod(s)) if dim is None else s[dim]
    if draw(st.booleans()):
        return (draw(floats(s)),), {"repeats": draw(st.integers(0, 3)), "dim": dim}
    counts = np.asarray(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), np.int64)
    return (draw(floats(s)), counts), {"dim": dim}


@st.composite
def _tensor_split_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    if draw(st.booleans()):
        sections: Any = draw(st.integers(1, s[dim] + 2))
    else:
        sections = sorted(draw(st.lists(st.integers(0, s[dim] + 1), max_size=3)))
    return (draw(floats(s)),), {"sections": sections, "dim": dim}


@st.composite
def _same_shape_pair(draw: Any) -> tuple:
    s = draw(shapes())
    return (draw(floats(s)), draw(floats(s))), {}


@st.composite
def _hstack_inputs(draw: Any) -> tuple:
    s = draw(shapes(max_dims=3))
    count = draw(st.integers(1, 3))
    arrays = []
    for _ in range(count):
        own = list(s)
        if len(own) >= 1:
            own[1 if len(own) > 1 else 0] = draw(st.integers(1, 3))
        arrays.append(draw(floats(tuple(own))))
    return tuple(arrays), {}


@st.composite
def _gather_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    idx_shape = tuple(
        draw(st.integers(1, 4)) if i == dim % len(s) else draw(st.integers(1, n))
        for i, n in enumerate(s)
    )
    index = draw(index_arrays(idx_shape, s[dim]))
    return (draw(floats(s)), np.where(index < 0, index + s[dim], index)), {"dim": dim}


@st.composite
def _basic_index(draw: Any) -> tuple:
    """Ints, slices (with steps), None and Ellipsis."""
    s = draw(shapes(min_dims=1))
    key: list = []
    for n in s:
        kind = draw(st.sampled_from(["int", "slice", "full", "none"]))
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n - 1, n))
            stop = draw(st.none() | st.integers(-n - 1, n + 1))
            key.append(slice(start, stop, draw(st.none() | st.integers(1, 3))))
        elif kind == "full":
            key.append(slice(None))
        else:
            key += [None, slice(None)]
    if draw(st.booleans()) and len(key) > 1:
        key = [Ellipsis, *key[draw(st.integers(1, len(key) - 1)) :]]
    return (draw(floats(s)),), {"key": tuple(key)}


@st.composite
def _advanced_index(draw: Any) -> tuple:
    """An integer tensor (or list) in one dimension, optionally with ints/slices around it."""
    s = draw(shapes(min_dims=1))
    dim = draw(st.integers(0, len(s) - 1))
    idx = draw(index_arrays(draw(shapes(min_dims=1, max_dims=2)), s[dim]))
    return (draw(floats(s)), idx), {"dim": dim, "as_list": draw(st.booleans())}


@st.composite
def _paired_index(draw: Any) -> tuple:
    """Two broadcasting integer tensors (``y_hat[range(n), y]``-style picks)."""
    s = draw(shapes(min_dims=2))
    sa, sb = draw(broadcastable_shapes(2, min_dims=1, max_dims=2))
    return (draw(floats(s)), draw(index_arrays(sa, s[0])), draw(index_arrays(sb, s[1]))), {}


@st.composite
def _mask_index(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    lead = draw(st.integers(1, len(s)))
    return (draw(floats(s)), draw(masks(s[:lead]))), {}


@st.composite
def _setitem_basic(draw: Any) -> tuple:
    (x,), params = draw(_basic_index())
    target = x[params["key"]].shape
    value_shape = draw(st.sampled_from([target, target[1:] if target else (), ()]))
    return (x, draw(floats(value_shape))), params


@st.composite
def _setitem_advanced(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    # Unique indices: with repeats, which write wins is unspecified in both libraries.
    n = draw(st.integers(1, s[0]))
    rows = np.asarray(draw(st.permutations(range(s[0])))[:n], dtype=np.int64)
    value_shape = draw(st.sampled_from([(n, *s[1:]), s[1:], ()]))
    return (draw(floats(s)), rows, draw(floats(value_shape))), {}


@st.composite
def _setitem_mask(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    return (draw(floats(s)), draw(masks(s))), {"value": draw(st.floats(-2, 2))}


@st.composite
def _where_inputs(draw: Any) -> tuple:
    sc, sa, sb = draw(broadcastable_shapes(3))
    return (draw(masks(sc)), draw(floats(sa)), draw(floats(sb))), {}


@st.composite
def _masked_fill_inputs(draw: Any) -> tuple:
    sx, sm = draw(broadcastable_shapes(2))
    full = np.broadcast_shapes(sx, sm)
    return (draw(floats(full)), draw(masks(sm))), {"value": draw(st.floats(-2, 2))}


@st.composite
def _softmax_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    return (draw(floats(s, -4, 4)),), {"dim": draw(_dim(len(s)))}


@st.composite
def _norm_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    x = draw(nonzero(s))
    p = draw(st.sampled_from([2, 1, 3, "fro"]))
    params: dict = {"p": p}
    if s and draw(st.booleans()):
        params["dim"] = draw(_dim(len(s)))
        params["keepdim"] = draw(st.booleans())
    return (x,), params


@st.composite
def _maxmin_pair(draw: Any) -> tuple:
    sa, sb = draw(broadcastable_shapes(2))
    return (draw(lattice(sa, 0.05)), draw(lattice(sb, 0.15))), {}


@st.composite
def _clamp_tensor_bounds(draw: Any) -> tuple:
    sx, slo, shi = draw(broadcastable_shapes(3))
    # x takes the broadcast shape: torch 2.13's clamp backward fails when x itself broadcasts.
    sx = np.broadcast_shapes(sx, slo, shi)
    # x on one lattice, lower bounds below and upper bounds above on others: no ties.
    return (
        draw(lattice(sx, 0.05)),
        draw(lattice(slo, -0.02, 0.2, 3)),
        draw(lattice(shi, 0.12, 0.2, 3).map(lambda a: a + 0.5)),
    ), {}


def _pick(lib: Any, x: Any, idx: Any, dim: int, as_list: bool) -> Any:
    key = (slice(None),) * dim + (idx.tolist() if as_list else idx,)
    return x[key]


def _setitem(lib: Any, x: Any, value: Any, key: Any) -> Any:
    y = x.clone()
    y[key] = value
    return y * 1.0


def _setitem_rows(lib: Any, x: Any, rows: Any, value: Any) -> Any:
    y = x * 2.0
    y[rows] = value
    return y


def _setitem_masked(lib: Any, x: Any, mask: Any, value: float) -> Any:
    y = x + 0.0
    y[mask] = value
    return y


def _var(lib: Any, x: Any, **params: Any) -> Any:
    return x.var(**params)


def _std(lib: Any, x: Any, **params: Any) -> Any:
    return lib.std(x, **params)


@st.composite
def _norm_p_inputs(draw: Any) -> tuple:
    # p-norms other than 1, 2, 3 (distinct values: no ties for the infinity norms)
    s = draw(shapes(min_dims=1))
    p = draw(st.sampled_from([0.5, 1.5, 4, float("inf"), float("-inf")]))
    x = draw(distinct(s) if p in (float("inf"), float("-inf")) else nonzero(s))
    params: dict = {"p": p}
    if draw(st.booleans()):
        params["dim"] = draw(_dim(len(s)))
        params["keepdim"] = draw(st.booleans())
    return (x,), params


@st.composite
def _class_inputs(draw: Any) -> tuple:
    """Logits ``(N, C)`` or ``(N, C, d)``, class indices, the reduction (losses over classes)."""
    from hypothesis.extra import numpy as hnp

    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    extra = draw(st.sampled_from([(), (2,)]))
    x = draw(floats((n, c) + extra, -3, 3))
    t = draw(hnp.arrays(np.int64, (n,) + extra, elements=st.integers(0, c - 1)))
    return (x, t), {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}


@st.composite
def _class_weight_inputs(draw: Any) -> tuple:
    # the class weights are a constant of the loss (torch defines no derivative for them)
    (x, t), params = draw(_class_inputs())
    weight = draw(st.lists(st.floats(0.5, 2.0), min_size=x.shape[1], max_size=x.shape[1]))
    return (x, t), {**params, "weight": tuple(weight)}


@st.composite
def _bce_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    # targets inside (0, 1): finite differences must not step out of [0, 1], which PyTorch refuses
    p, t = draw(floats(s, 0.1, 0.9)), draw(floats(s, 0.01, 0.99))
    return (p, t), {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}


def _cross_entropy_weighted(lib: Any, x: Any, t: Any, reduction: str, weight: tuple) -> Any:
    w = lib.tensor(weight, dtype=x.dtype)
    return lib.nn.functional.cross_entropy(x, t, weight=w, reduction=reduction)


def _nll_weighted(lib: Any, x: Any, t: Any, reduction: str, weight: tuple) -> Any:
    w = lib.tensor(weight, dtype=x.dtype)
    return lib.nn.functional.nll_loss(x, t, weight=w, reduction=reduction)


@st.composite
def _scatter_inputs(draw: Any) -> tuple:
    """x, an index whose entries along ``dim`` are distinct (which duplicate write wins is
    unspecified), and a source of the index's shape."""
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    d = dim % len(s)
    k = draw(st.integers(1, s[d]))
    perm = np.asarray(draw(st.permutations(range(s[d])))[:k], dtype=np.int64)
    idx_shape = tuple(k if i == d else draw(st.integers(1, n)) for i, n in enumerate(s))
    index = np.broadcast_to(perm.reshape([-1 if i == d else 1 for i in range(len(s))]), idx_shape)
    return (draw(floats(s)), index.copy(), draw(floats(idx_shape))), {"dim": dim}


@st.composite
def _scatter_add_inputs(draw: Any) -> tuple:
    (x, index), params = draw(_gather_inputs())
    return (x, index, draw(floats(index.shape))), params


@st.composite
def _take_along_dim_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    d = dim % len(s)
    idx_shape = tuple(
        draw(st.integers(1, 3)) if i == d else draw(st.sampled_from([1, n]))
        for i, n in enumerate(s)
    )
    index = draw(index_arrays(idx_shape, s[d]))
    return (draw(floats(s)), np.where(index < 0, index + s[d], index)), {"dim": dim}


@st.composite
def _index_select_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    index = draw(index_arrays((draw(st.integers(1, 4)),), s[dim]))
    return (draw(floats(s)), np.where(index < 0, index + s[dim], index)), {"dim": dim}


@st.composite
def _index_fill_inputs(draw: Any) -> tuple:
    (x, index), params = draw(_index_select_inputs())
    return (x, index), {**params, "value": draw(st.floats(-2, 2))}


@st.composite
def _take_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    size = int(np.prod(s, dtype=np.int64))
    return (draw(floats(s)), draw(index_arrays(draw(shapes(max_dims=2)), size))), {}


@st.composite
def _sort_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    return (draw(distinct(s)),), {"dim": draw(_dim(len(s))), "descending": draw(st.booleans())}


@st.composite
def _topk_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    k = draw(st.integers(0, s[dim]))
    return (draw(distinct(s)),), {"k": k, "dim": dim, "largest": draw(st.booleans())}


@st.composite
def _addc_inputs(draw: Any, divisor: bool = False) -> tuple:
    sx, s1, s2 = draw(broadcastable_shapes(3))
    second = nonzero(s2, 0.5, 2.0) if divisor else floats(s2)
    arrays = (draw(floats(sx)), draw(floats(s1)), draw(second))
    return arrays, {"value": draw(st.sampled_from([1, 0.5, -2.0]))}


@st.composite
def _norm_p_inputs(draw: Any) -> tuple:
    # p-norms other than 1, 2, 3 (distinct values: no ties for the infinity norms)
    s = draw(shapes(min_dims=1))
    p = draw(st.sampled_from([0.5, 1.5, 4, float("inf"), float("-inf")]))
    x = draw(distinct(s) if p in (float("inf"), float("-inf")) else nonzero(s))
    params: dict = {"p": p}
    if draw(st.booleans()):
        params["dim"] = draw(_dim(len(s)))
        params["keepdim"] = draw(st.booleans())
    return (x,), params


@st.composite
def _class_inputs(draw: Any) -> tuple:
    """Logits ``(N, C)`` or ``(N, C, d)``, class indices, the reduction (losses over classes)."""
    from hypothesis.extra import numpy as hnp

    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    extra = draw(st.sampled_from([(), (2,)]))
    x = draw(floats((n, c) + extra, -3, 3))
    t = draw(hnp.arrays(np.int64, (n,) + extra, elements=st.integers(0, c - 1)))
    return (x, t), {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}


@st.composite
def _class_weight_inputs(draw: Any) -> tuple:
    # the class weights are a constant of the loss (torch defines no derivative for them)
    (x, t), params = draw(_class_inputs())
    weight = draw(st.lists(st.floats(0.5, 2.0), min_size=x.shape[1], max_size=x.shape[1]))
    return (x, t), {**params, "weight": tuple(weight)}


@st.composite
def _bce_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    # targets inside (0, 1): finite differences must not step out of [0, 1], which PyTorch refuses
    p, t = draw(floats(s, 0.1, 0.9)), draw(floats(s, 0.01, 0.99))
    return (p, t), {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}


def _cross_entropy_weighted(lib: Any, x: Any, t: Any, reduction: str, weight: tuple) -> Any:
    w = lib.tensor(weight, dtype=x.dtype)
    return lib.nn.functional.cross_entropy(x, t, weight=w, reduction=reduction)


def _nll_weighted(lib: Any, x: Any, t: Any, reduction: str, weight: tuple) -> Any:
    w = lib.tensor(weight, dtype=x.dtype)
    return lib.nn.functional.nll_loss(x, t, weight=w, reduction=reduction)


@st.composite
def _conv_inputs(draw: Any, n: int = 2, transposed: bool = False) -> tuple:
    """``(x, w[, b])`` and small stride/padding/dilation/groups for conv{n}d (transposed:
    conv_transpose{n}d with an output_padding below the stride)."""
    groups = draw(st.sampled_from([1, 2]))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    batch = draw(st.sampled_from([(1,), (2,), ()]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(n))
    stride = draw(st.integers(1, 2))
    dilation = draw(st.integers(1, 2))
    padding = draw(st.integers(0, 1))
    if transposed:
        spatial = tuple(draw(st.integers(1, 3)) for _ in range(n))
        padding = min([padding] + [(dilation * (k - 1)) // 2 for k in kernel])
    else:
        spatial = tuple(
            draw(st.integers(max(1, dilation * (k - 1) + 1 - 2 * padding), 3 + k)) for k in kernel
        )
    w_shape = (c, o // groups) + kernel if transposed else (o, c // groups) + kernel
    arrays = (draw(floats(batch + (c,) + spatial)), draw(floats(w_shape)))
    if draw(st.booleans()):
        arrays += (draw(floats((o,))),)
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if transposed:
        params["output_padding"] = draw(st.integers(0, max(stride, dilation) - 1))
    return arrays, params


@st.composite
def _unfold_inputs(draw: Any) -> tuple:
    kernel = (draw(st.integers(1, 2)), draw(st.integers(1, 3)))
    shape = draw(st.sampled_from([(1, 2), (2, 1), (2,)])) + tuple(
        draw(st.integers(k, 4)) for k in kernel
    )
    params = dict(
        kernel_size=kernel, stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, 1))
    )
    return (draw(floats(shape)),), params


@st.composite
def _fold_inputs(draw: Any) -> tuple:
    kernel = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = (draw(st.integers(2, 4)), draw(st.integers(2, 4)))
    stride = draw(st.integers(1, 2))
    blocks = [(m - k) // stride + 1 for m, k in zip(size, kernel)]
    c = draw(st.integers(1, 2))
    lead = draw(st.sampled_from([(1,), (2,), ()]))
    x = draw(floats(lead + (c * kernel[0] * kernel[1], blocks[0] * blocks[1])))
    return (x,), dict(output_size=size, kernel_size=kernel, stride=stride)


@st.composite
def _ldexp_inputs(draw: Any) -> tuple:
    # exponents of x's shape (torch 2.13 warns when they broadcast x), not negative: torch
    # multiplies the gradient by 2 ** e in integers, 0 for e < 0 (test_math_more checks that)
    s = draw(shapes())
    exponents = hnp.arrays(np.int64, s, elements=st.integers(0, 3))
    return (draw(floats(s)), draw(exponents)), {}


@st.composite
def _diff_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    params: dict = {"n": draw(st.integers(0, 3)), "dim": dim, "side": None}
    arrays = (draw(floats(s)),)
    if draw(st.booleans()):
        extra = list(s)
        extra[dim] = draw(st.integers(1, 2))
        params["side"] = draw(st.sampled_from(["prepend", "append"]))
        arrays += (draw(floats(tuple(extra))),)
    return arrays, params


def _diff(lib: Any, x: Any, *extra: Any, n: int, dim: int, side: str | None) -> Any:
    return lib.diff(x, n, dim, **({side: extra[0]} if side else {}))


@st.composite
def _rot90_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=2))
    return (draw(floats(s)),), {"k": draw(st.integers(-2, 5))}


@st.composite
def _scatter_reduce_inputs(
    draw: Any, distinct_values: bool = False, nonzero_values: bool = False
) -> tuple:
    """x, an index with repeats (several sources meet in one place), a source, the dim and
    include_self; distinct values for amax/amin (no ties), nonzero ones for prod."""
    (x, index), params = draw(_gather_inputs())
    if distinct_values:
        both = draw(distinct((x.size + index.size,)))
        x, src = both[: x.size].reshape(x.shape), both[x.size :].reshape(index.shape)
    elif nonzero_values:
        x, src = draw(nonzero(x.shape, 0.5, 1.5)), draw(nonzero(index.shape, 0.5, 1.5))
    else:
        src = draw(floats(index.shape))
    return (x, index, src), {**params, "include_self": draw(st.booleans())}


@st.composite
def _index_add_inputs(draw: Any) -> tuple:
    """x, a 1-D index along dim (repeats allowed), a source with the index's length there."""
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    k = draw(st.integers(1, 4))
    index = draw(hnp.arrays(np.int64, (k,), elements=st.integers(0, s[dim] - 1)))
    src_shape = tuple(k if i == dim % len(s) else n for i, n in enumerate(s))
    return (draw(floats(s)), index, draw(floats(src_shape))), {"dim": dim}


@st.composite
def _index_copy_inputs(draw: Any) -> tuple:
    """As for index_add, without repeats (which copy wins is unspecified)."""
    s = draw(shapes(min_dims=1))
    dim = draw(_dim(len(s)))
    perm = draw(st.permutations(range(s[dim])))
    k = draw(st.integers(1, s[dim]))
    src_shape = tuple(k if i == dim % len(s) else n for i, n in enumerate(s))
    index = np.asarray(perm[:k], dtype=np.int64)
    return (draw(floats(s)), index, draw(floats(src_shape))), {"dim": dim}


@st.composite
def _index_put_inputs(draw: Any) -> tuple:
    s = draw(shapes(min_dims=1))
    k = draw(st.integers(1, 4))
    index = draw(hnp.arrays(np.int64, (k,), elements=st.integers(-s[0], s[0] - 1)))
    value_shape = draw(st.sampled_from([(k,) + s[1:], s[1:], ()]))
    return (draw(floats(s)), index, draw(floats(value_shape))), {}


@st.composite
def _masked_scatter_inputs(draw: Any) -> tuple:
    s = draw(shapes())
    m = draw(masks(s))
    extra = draw(st.integers(0, 2))
    return (draw(floats(s)), m, draw(floats((int(m.sum()) + extra,)))), {}


OPS: list[OpCase] = [
    # ------------------------------------------------------------------ arithmetic
    OpCase("add", lambda lib, a, b: a + b, binary()),
    OpCase("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=2.5), binary()),
    OpCase("sub", lambda lib, a, b: a - b, binary()),
    OpCase("mul", lambda lib, a, b: a * b, binary()),
    OpCase("div", lambda lib, a, b: a / b, binary(floats, nonzero)),
    OpCase(
        "floordiv",
        lambda lib, a, b: a // b,
        binary(lambda s: lattice(s, 0.05), nonzero),
        grad=False,
    ),
    OpCase("remainder", lambda lib, a, b: a % b, _remainder_inputs()),
    OpCase("pow_tensor", lambda lib, a, b: a**b, binary(positive, floats)),
    OpCase("pow_int", lambda lib, a: a**3, unary()),
    OpCase("pow_float", lambda lib, a: a**-1.5, unary(positive)),
    OpCase("pow_half", lambda lib, a: lib.pow(a, 0.5), unary(positive)),
    OpCase("neg", lambda lib, a: -a, unary()),
    OpCase("radd", lambda lib, a: 1.5 + a, unary()),
    OpCase("rsub", lambda lib, a: 2 - a, unary()),
    OpCase("rmul", lambda lib, a: 3 * a, unary()),
    OpCase("rtruediv", lambda lib, a: 2.0 / a, unary(nonzero)),
    OpCase("rpow", lambda lib, a: 2.0**a, unary()),
    OpCase("rpow_int_base", lambda lib, a: 3**a, unary()),
    # Reflected // and % (torch defines no derivative for scalar % tensor): divisors in
    # 0.7..1.5 keep 7.3 / a away from the integers where floor jumps.
    OpCase(
        "rfloordiv", lambda lib, a: 7.3 // a, unary(lambda s: lattice(s, 1.1, 0.2, 2)), grad=False
    ),
    OpCase("rmod", lambda lib, a: 7.3 % a, unary(lambda s: lattice(s, 1.1, 0.2, 2)), grad=False),
    OpCase("matmul_operator", lambda lib, a, b: a @ b, _matmul_inputs()),
    # ------------------------------------------------------------------ unary
    OpCase("abs", lambda lib, a: lib.abs(a), unary(nonzero)),
    OpCase("exp", lambda lib, a: lib.exp(a), unary()),
    OpCase("log", lambda lib, a: lib.log(a), unary(positive)),
    OpCase("log2", lambda lib, a: lib.log2(a), unary(positive)),
    OpCase("log10", lambda lib, a: a.log10(), unary(positive)),
    OpCase("sqrt", lambda lib, a: lib.sqrt(a), unary(positive)),
    OpCase("rsqrt", lambda lib, a: lib.rsqrt(a), unary(positive)),
    OpCase("sin", lambda lib, a: lib.sin(a), unary()),
    OpCase("cos", lambda lib, a: a.cos(), unary()),
    OpCase("sinh", lambda lib, a: lib.sinh(a), unary()),
    OpCase("cosh", lambda lib, a: a.cosh(), unary()),
    OpCase("tanh", lambda lib, a: lib.tanh(a), unary()),
    OpCase("sigmoid", lambda lib, a: lib.sigmoid(a), unary(lambda s: floats(s, -6, 6))),
    OpCase("tan", lambda lib, a: lib.tan(a), unary(lambda s: floats(s, -1.2, 1.2))),
    OpCase("asin", lambda lib, a: lib.asin(a), unary(lambda s: floats(s, -0.9, 0.9))),
    OpCase("acos", lambda lib, a: a.arccos(), unary(lambda s: floats(s, -0.9, 0.9))),
    OpCase("atan", lambda lib, a: lib.arctan(a), unary()),
    OpCase("asinh", lambda lib, a: a.asinh(), unary()),
    OpCase("acosh", lambda lib, a: lib.acosh(a), unary(lambda s: floats(s, 1.1, 3))),
    OpCase("atanh", lambda lib, a: lib.atanh(a), unary(lambda s: floats(s, -0.9, 0.9))),
    OpCase("atan2", lambda lib, a, b: lib.atan2(a, b), binary(nonzero, nonzero)),
    OpCase("hypot", lambda lib, a, b: lib.hypot(a, b), binary(nonzero, nonzero)),
    OpCase("logaddexp", lambda lib, a, b: lib.logaddexp(a, b), binary()),
    OpCase("logaddexp2", lambda lib, a, b: a.logaddexp2(b), binary()),
    OpCase("xlogy", lambda lib, a, b: lib.xlogy(a, b), binary(floats, positive)),
    OpCase("xlogy_scalar", lambda lib, b: lib.xlogy(2.5, b), unary(positive)),
    OpCase("logit", lambda lib, a: lib.logit(a), unary(lambda s: floats(s, 0.1, 0.9))),
    OpCase(
        "logit_eps", lambda lib, a: a.logit(eps=0.05), unary(lambda s: lattice(s, 0.125, 0.25, 3))
    ),
    OpCase("copysign", lambda lib, a, b: lib.copysign(a, b), binary(nonzero, nonzero)),
    OpCase("float_power", lambda lib, a, b: lib.float_power(a, b), binary(positive, floats)),
    OpCase("float_power_scalar", lambda lib, a: lib.float_power(a, 3), unary()),
    OpCase("fmax", lambda lib, a, b: lib.fmax(a, b), _maxmin_pair()),
    OpCase("fmin", lambda lib, a, b: a.fmin(b), _maxmin_pair()),
    OpCase("deg2rad", lambda lib, a: lib.deg2rad(a), unary()),
    OpCase("rad2deg", lambda lib, a: a.rad2deg(), unary()),
    OpCase("sinc", lambda lib, a: lib.sinc(a), unary(nonzero)),
    OpCase("exp2", lambda lib, a: lib.exp2(a), unary()),
    OpCase("expm1", lambda lib, a: a.expm1(), unary()),
    OpCase("log1p", lambda lib, a: lib.log1p(a), unary(positive)),
    OpCase("erf", lambda lib, a: lib.erf(a), unary()),
    OpCase("erfc", lambda lib, a: lib.erfc(a), unary()),
    OpCase("erfinv", lambda lib, a: a.erfinv(), unary(lambda s: floats(s, -0.9, 0.9))),
    OpCase("lgamma", lambda lib, a: lib.lgamma(a), unary(positive)),
    OpCase("digamma", lambda lib, a: a.digamma(), unary(positive)),
    OpCase("polygamma", lambda lib, a: lib.polygamma(2, a), unary(positive)),
    OpCase("i0", lambda lib, a: lib.i0(a), unary(nonzero)),
    OpCase("mvlgamma", lambda lib, a: lib.mvlgamma(a, 3), unary(lambda s: floats(s, 1.5, 3))),
    OpCase("ldexp", lambda lib, a, e: lib.ldexp(a, e), _ldexp_inputs()),
    OpCase("relu", lambda lib, a: lib.relu(a), unary(nonzero)),
    OpCase("clamp", lambda lib, a: lib.clamp(a, -0.5, 0.5), unary(lambda s: lattice(s, 0.05))),
    OpCase("clamp_min", lambda lib, a: a.clamp(min=-0.5), unary(lambda s: lattice(s, 0.05))),
    OpCase("clamp_max", lambda lib, a: a.clamp(max=0.5), unary(lambda s: lattice(s, 0.05))),
    OpCase("clip", lambda lib, a: lib.clip(a, -0.5, 0.5), unary(lambda s: lattice(s, 0.05))),
    OpCase("clamp_tensors", lambda lib, a, lo, hi: lib.clamp(a, lo, hi), _clamp_tensor_bounds()),
    OpCase("maximum", lambda lib, a, b: lib.maximum(a, b), _maxmin_pair()),
    OpCase("minimum", lambda lib, a, b: lib.minimum(a, b), _maxmin_pair()),
    OpCase("max_binary", lambda lib, a, b: lib.max(a, b), _maxmin_pair()),
    OpCase("where", lambda lib, c, a, b: lib.where(c, a, b), _where_inputs()),
    OpCase("where_scalar", lambda lib, c, a, b: lib.where(c, a, 0.0), _where_inputs()),
    OpCase("masked_fill", lambda lib, x, m, value: x.masked_fill(m, value), _masked_fill_inputs()),
    # ------------------------------------------------------------------ reductions
    OpCase("sum_all", lambda lib, x: x.sum(), unary()),
    OpCase(
        "sum_dim",
        lambda lib, x, dim, keepdim: lib.sum(x, dim, keepdim=keepdim),
        reduction(tuple_dims=True),
    ),
    OpCase("mean_all", lambda lib, x: x.mean(), unary()),
    OpCase(
        "mean_dim",
        lambda lib, x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim),
        reduction(tuple_dims=True),
    ),
    OpCase("prod_all", lambda lib, x: x.prod(), unary(lambda s: nonzero(s, 0.5, 1.5))),
    OpCase(
        "prod_dim",
        lambda lib, x, dim, keepdim: lib.prod(x, dim, keepdim),
        reduction(lambda s: nonzero(s, 0.5, 1.5)),
    ),
    OpCase("var", _var, _var_inputs()),
    OpCase("var_all", lambda lib, x: x.var(), unary(distinct, shapes(min_dims=1, min_side=2))),
    OpCase("std", _std, _var_inputs()),
    OpCase(
        "std_all",
        lambda lib, x: lib.std(x, unbiased=False),
        unary(distinct, shapes(min_dims=1, min_side=2)),
    ),
    OpCase("max_all", lambda lib, x: x.max(), unary(distinct)),
    OpCase("min_all", lambda lib, x: lib.min(x), unary(distinct)),
    OpCase(
        "max_dim",
        lambda lib, x, dim, keepdim: tuple(x.max(dim=dim, keepdim=keepdim)),
        reduction(distinct),
    ),
    OpCase(
        "min_dim", lambda lib, x, dim, keepdim: tuple(lib.min(x, dim, keepdim)), reduction(distinct)
    ),
    OpCase(
        "argmax",
        lambda lib, x, dim, keepdim: x.argmax(dim=dim, keepdim=keepdim),
        reduction(distinct),
        grad=False,
    ),
    OpCase(
        "argmin",
        lambda lib, x, dim, keepdim: lib.argmin(x, dim, keepdim),
        reduction(distinct),
        grad=False,
    ),
    OpCase("argmax_all", lambda lib, x: lib.argmax(x), unary(distinct), grad=False),
    OpCase("cumsum", lambda lib, x, dim: x.cumsum(dim), reduction(keepdim=False)),
    OpCase(
        "cummax", lambda lib, x, dim: tuple(lib.cummax(x, dim)), reduction(distinct, keepdim=False)
    ),
    OpCase("cummin", lambda lib, x, dim: tuple(x.cummin(dim)), reduction(distinct, keepdim=False)),
    OpCase("logcumsumexp", lambda lib, x, dim: lib.logcumsumexp(x, dim), reduction(keepdim=False)),
    OpCase("diff", _diff, _diff_inputs()),
    OpCase("nanmean", lambda lib, x, dim, keepdim: lib.nanmean(x, dim, keepdim), reduction()),
    OpCase("cov", lambda lib, x: lib.cov(x), unary(distinct, shapes(1, 2, min_side=2))),
    OpCase(
        "cov_weights",
        lambda lib, x, w: lib.cov(x, correction=0, aweights=w),
        _fixed(lambda b, n, k, m: (n, k + 1), lambda b, n, k, m: (k + 1,)).map(
            lambda c: ((c[0][0], np.abs(c[0][1]) + 0.5), {})
        ),
    ),
    OpCase("corrcoef", lambda lib, x: lib.corrcoef(x), unary(distinct, shapes(2, 2, min_side=2))),
    OpCase(
        "trapezoid",
        lambda lib, y, dim: lib.trapezoid(y, dx=0.5, dim=dim),
        reduction(keepdim=False, min_dims=1),
    ),
    OpCase(
        "trapezoid_x",
        lambda lib, y, x: lib.trapezoid(y, x),
        _fixed(lambda b, n, k, m: (n, k), lambda b, n, k, m: (k,)),
    ),
    OpCase(
        "cumulative_trapezoid",
        lambda lib, y, dim: lib.cumulative_trapezoid(y, dim=dim),
        reduction(keepdim=False, min_dims=1),
    ),
    OpCase(
        "nanquantile",
        lambda lib, x, dim, keepdim: lib.nanquantile(x, 0.3, dim, keepdim),
        reduction(distinct, min_dims=1),
    ),
    OpCase("norm", lambda lib, x, **p: x.norm(**p), _norm_inputs()),
    OpCase(
        "logsumexp",
        lambda lib, x, dim, keepdim: lib.logsumexp(x, dim, keepdim=keepdim),
        reduction(lambda s: floats(s, -4, 4), tuple_dims=True),
    ),
    OpCase("softmax", lambda lib, x, dim: lib.softmax(x, dim), _softmax_inputs()),
    OpCase("log_softmax", lambda lib, x, dim: x.log_softmax(dim=dim), _softmax_inputs()),
    OpCase(
        "cumprod",
        lambda lib, x, dim: x.cumprod(dim),
        reduction(lambda s: nonzero(s, 0.5, 1.5), keepdim=False),
    ),
    OpCase(
        "amax",
        lambda lib, x, dim, keepdim: lib.amax(x, dim, keepdim),
        reduction(distinct, tuple_dims=True),
    ),
    OpCase("amin", lambda lib, x, dim, keepdim: x.amin(dim, keepdim=keepdim), reduction(distinct)),
    OpCase("norm_p", lambda lib, x, **p: x.norm(**p), _norm_p_inputs()),
    OpCase("dist", lambda lib, a, b: lib.dist(a, b, 3), binary(nonzero, lambda s: floats(s, 3, 4))),
    OpCase("median_all", lambda lib, x: x.median(), unary(distinct)),
    OpCase(
        "median_dim",
        lambda lib, x, dim, keepdim: tuple(lib.median(x, dim, keepdim)),
        reduction(distinct),
    ),
    OpCase(
        "kthvalue",
        lambda lib, x, dim, keepdim: tuple(x.kthvalue(1, dim, keepdim)),
        reduction(distinct),
    ),
    OpCase(
        "cross_entropy",
        lambda lib, x, t, reduction: lib.nn.functional.cross_entropy(x, t, reduction=reduction),
        _class_inputs(),
    ),
    OpCase("cross_entropy_weight", _cross_entropy_weighted, _class_weight_inputs()),
    OpCase(
        "nll_loss",
        lambda lib, x, t, reduction: lib.nn.functional.nll_loss(x, t, reduction=reduction),
        _class_inputs(),
    ),
    OpCase("nll_loss_weight", _nll_weighted, _class_weight_inputs()),
    OpCase(
        "binary_cross_entropy",
        lambda lib, p, t, reduction: lib.nn.functional.binary_cross_entropy(
            p, t, reduction=reduction
        ),
        _bce_inputs(),
    ),
    OpCase(
        "all", lambda lib, m: (m.all(), lib.all(m, 0)), unary(masks, shapes(min_dims=1)), grad=False
    ),
    OpCase(
        "any",
        lambda lib, x, dim, keepdim: (x > 0).any(dim, keepdim=keepdim),
        reduction(),
        grad=False,
    ),
    # ------------------------------------------------------------------ linear algebra
    OpCase("matmul", lambda lib, a, b: lib.matmul(a, b), _matmul_inputs()),
    OpCase(
        "mm",
        lambda lib, a, b: lib.mm(a, b),
        _fixed(lambda b, n, k, m: (n, k), lambda b, n, k, m: (k, m)),
    ),
    OpCase(
        "mv", lambda lib, a, v: a.mv(v), _fixed(lambda b, n, k, m: (n, k), lambda b, n, k, m: (k,))
    ),
    OpCase(
        "dot",
        lambda lib, a, b: lib.dot(a, b),
        _fixed(lambda b, n, k, m: (k,), lambda b, n, k, m: (k,)),
    ),
    OpCase(
        "bmm",
        lambda lib, a, b: lib.bmm(a, b),
        _fixed(lambda b, n, k, m: (b, n, k), lambda b, n, k, m: (b, k, m)),
    ),
    OpCase(
        "outer",
        lambda lib, a, b: lib.outer(a, b),
        _fixed(lambda b, n, k, m: (n,), lambda b, n, k, m: (m,)),
    ),
    OpCase("addmm", lambda lib, c, a, b, **p: lib.addmm(c, a, b, **p), _addmm_inputs()),
    OpCase("addmm_method", lambda lib, c, a, b, **p: c.addmm(a, b, **p), _addmm_inputs()),
    OpCase("addmv", lambda lib, c, a, v, **p: lib.addmv(c, a, v, **p), _addmv_inputs()),
    OpCase("baddbmm", lambda lib, c, a, b, **p: lib.baddbmm(c, a, b, **p), _baddbmm_inputs()),
    OpCase("scaled_dot_product_attention", _sdpa, _sdpa_inputs()),
    OpCase("linear", lambda lib, *xs: lib.nn.functional.linear(*xs), _linear_inputs()),
    OpCase(
        "inner",
        lambda lib, a, b: a.inner(b),
        _fixed(lambda b, n, k, m: (k,), lambda b, n, k, m: (k,)),
    ),
    OpCase(
        "ger",
        lambda lib, a, b: a.ger(b),
        _fixed(lambda b, n, k, m: (n,), lambda b, n, k, m: (m,)),
    ),
    OpCase("einsum", lambda lib, *xs, equation: lib.einsum(equation, *xs), _einsum_inputs()),
    OpCase("inverse", lambda lib, a: lib.inverse(a), _square_inputs()),
    OpCase("linalg_inv", lambda lib, a: lib.linalg.inv(a), _square_inputs()),
    OpCase("det", lambda lib, a: lib.det(a), _square_inputs()),
    OpCase("linalg_det", lambda lib, a: lib.linalg.det(a), _square_inputs()),
    OpCase("det_method", lambda lib, a: a.det(), _square_inputs()),
    OpCase("trace", lambda lib, a: lib.trace(a), unary(shape=shapes(min_dims=2, max_dims=2))),
    # 32 outputs or more: the weight's gradient is computed row-major ((g.T @ x).T of w.T)
    OpCase("linear_wide", lambda lib, *xs: lib.nn.functional.linear(*xs), _wide_linear_inputs()),
    OpCase(
        "inner_nd",
        lambda lib, a, b: lib.inner(a, b),
        _fixed(lambda b, n, k, m: (b, n, k), lambda b, n, k, m: (m, k)),
    ),
    OpCase(
        "vecdot",
        lambda lib, a, b: lib.linalg.vecdot(a, b),
        _fixed(lambda b, n, k, m: (n, k), lambda b, n, k, m: (k,)),
    ),
    OpCase(
        "kron",
        lambda lib, a, b: lib.kron(a, b),
        _fixed(lambda b, n, k, m: (n, k), lambda b, n, k, m: (b, m)),
    ),
    OpCase(
        "kron_ranks",
        lambda lib, a, b: a.kron(b),
        _fixed(lambda b, n, k, m: (n,), lambda b, n, k, m: (b, k, m)),
    ),
    OpCase(
        "tensordot",
        lambda lib, a, b: lib.tensordot(a, b, dims=([1, 0], [0, 2])),
        _fixed(lambda b, n, k, m: (b, n, k), lambda b, n, k, m: (n, m, b)),
    ),
    OpCase(
        "tensordot_int",
        lambda lib, a, b: lib.tensordot(a, b, 1),
        _fixed(lambda b, n, k, m: (b, n, k), lambda b, n, k, m: (k, m)),
    ),
    OpCase(
        "chain_matmul",
        lambda lib, a, b, c: lib.chain_matmul(a, b, c),
        _fixed(lambda b, n, k, m: (n, k), lambda b, n, k, m: (k, m), lambda b, n, k, m: (m, b)),
    ),
    OpCase(
        "addbmm",
        lambda lib, x, a, b: lib.addbmm(x, a, b, beta=0.5, alpha=-2.0),
        _fixed(
            lambda b, n, k, m: (n, m), lambda b, n, k, m: (b, n, k), lambda b, n, k, m: (b, k, m)
        ),
    ),
    OpCase(
        "addr",
        lambda lib, x, a, b: x.addr(a, b, alpha=1.5),
        _fixed(lambda b, n, k, m: (1, m), lambda b, n, k, m: (n,), lambda b, n, k, m: (m,)),
    ),
    OpCase(
        "cross",
        lambda lib, a, b: lib.cross(a, b, dim=1),
        _fixed(lambda b, n, k, m: (n, 3), lambda b, n, k, m: (n, 3)),
    ),
    OpCase(
        "linalg_cross",
        lambda lib, a, b: lib.linalg.cross(a, b),
        _fixed(lambda b, n, k, m: (n, 1, 3), lambda b, n, k, m: (1, k, 3)),
    ),
    OpCase(
        "block_diag",
        lambda lib, a, b, c: lib.block_diag(a, b, c),
        _fixed(lambda b, n, k, m: (n, k), lambda b, n, k, m: (m,), lambda b, n, k, m: ()),
    ),
    OpCase("rot90", lambda lib, x, k: lib.rot90(x, k, (1, 0)), _rot90_inputs()),
    OpCase(
        "vander",
        lambda lib, x, n: lib.vander(x, n, increasing=n % 2 == 0),
        _fixed(lambda b, n, k, m: (n,)).map(lambda c: (c[0], {"n": 4})),
        grad=False,  # torch 2.13's vander cannot be differentiated (an in-place cumprod)
    ),
    OpCase(
        "diagonal_nd",
        lambda lib, x, **p: x.diagonal(**p),
        _fixed(lambda b, n, k, m: (b, n, k)).flatmap(
            lambda c: st.sampled_from(
                [{"dim1": 1, "dim2": 2}, {"offset": 1, "dim1": -1, "dim2": 0}, {"offset": -1}]
            ).map(lambda p: (c[0], p))
        ),
    ),
    OpCase(
        "diag_embed",
        lambda lib, x, **p: lib.diag_embed(x, **p),
        _fixed(lambda b, n, k, m: (b, n)).flatmap(
            lambda c: st.sampled_from(
                [{}, {"offset": 1}, {"offset": -2, "dim1": 0, "dim2": 2}, {"dim1": 2, "dim2": 0}]
            ).map(lambda p: (c[0], p))
        ),
    ),
    OpCase("diagflat", lambda lib, x: lib.diagflat(x, -1), unary(shape=shapes(max_dims=2))),
    OpCase(
        "renorm",
        lambda lib, x, dim: x.renorm(2, dim, 1.5),
        reduction(lambda s: nonzero(s, 0.3, 1.2), min_dims=2, keepdim=False),
    ),
    # ------------------------------------------------------------------ shapes
    OpCase("reshape", lambda lib, x, shape: x.reshape(shape), _reshape_inputs()),
    OpCase("reshape_varargs", lambda lib, x, shape: lib.reshape(x, shape), _reshape_inputs()),
    OpCase("view", lambda lib, x, shape: x.view(*shape), _reshape_inputs()),
    OpCase("flatten", lambda lib, x, **p: lib.flatten(x, **p), _flatten_inputs()),
    OpCase("transpose", lambda lib, x, dim0, dim1: x.transpose(dim0, dim1), _transpose_inputs()),
    OpCase(
        "permute",
        lambda lib, x, dims: x.permute(*dims) if dims else x.permute(dims),
        _permute_inputs(),
    ),
    OpCase("permute_tuple", lambda lib, x, dims: lib.permute(x, dims), _permute_inputs()),
    OpCase("T", lambda lib, x: x.T, unary(shape=shapes(max_dims=2))),
    OpCase("t", lambda lib, x: x.t(), unary(shape=shapes(max_dims=2))),
    OpCase("unsqueeze", lambda lib, x, dim: lib.unsqueeze(x, dim), _unsqueeze_inputs()),
    OpCase("squeeze", lambda lib, x, **p: x.squeeze(**p), _squeeze_inputs()),
    OpCase(
        "expand",
        lambda lib, x, sizes: x.expand(*sizes) if sizes else x.expand(sizes),
        _expand_inputs(),
    ),
    OpCase(
        "repeat",
        lambda lib, x, repeats: x.repeat(*repeats) if repeats else x.repeat(repeats),
        _repeat_inputs(),
    ),
    OpCase("cat", lambda lib, *xs, dim: lib.cat(xs, dim=dim), _cat_inputs()),
    OpCase("stack", lambda lib, *xs, dim: lib.stack(list(xs), dim), _stack_inputs()),
    OpCase(
        "split", lambda lib, x, sections, dim: tuple(lib.split(x, sections, dim)), _split_inputs()
    ),
    OpCase("chunk", lambda lib, x, chunks, dim: tuple(x.chunk(chunks, dim)), _chunk_inputs()),
    OpCase(
        "unbind",
        lambda lib, x, dim: tuple(x.unbind(dim)),
        _chunk_inputs().map(lambda c: (c[0], {"dim": c[1]["dim"]})),
    ),
    OpCase(
        "tensor_split",
        lambda lib, x, sections, dim: tuple(lib.tensor_split(x, sections, dim)),
        _tensor_split_inputs(),
    ),
    OpCase("narrow", lambda lib, x, **p: x.narrow(**p), _narrow_inputs()),
    OpCase("select", lambda lib, x, **p: lib.select(x, **p), _select_inputs()),
    OpCase("unflatten", lambda lib, x, dim, sizes: x.unflatten(dim, sizes), _unflatten_inputs()),
    OpCase("ravel", lambda lib, x: x.ravel(), unary()),
    OpCase("movedim", lambda lib, x, **p: lib.movedim(x, **p), _movedim_inputs()),
    OpCase("swapaxes", lambda lib, x, dim0, dim1: x.swapaxes(dim0, dim1), _transpose_inputs()),
    OpCase("mT", lambda lib, x: x.mT, unary(shape=shapes(min_dims=2))),
    OpCase("view_as", lambda lib, x, y: x.reshape(-1).view_as(y), _same_shape_pair()),
    OpCase("expand_as", lambda lib, x, y: x.expand_as(y), _expand_as_inputs()),
    OpCase("broadcast_to", lambda lib, x, sizes: lib.broadcast_to(x, sizes), _expand_inputs()),
    OpCase("broadcast_tensors", lambda lib, a, b: tuple(lib.broadcast_tensors(a, b)), binary()),
    OpCase("sum_to_size", lambda lib, x, size: x.sum_to_size(size), _sum_to_size_inputs()),
    OpCase("tile", lambda lib, x, dims: lib.tile(x, dims), _tile_inputs()),
    OpCase("flip", lambda lib, x, dims: lib.flip(x, dims), _dims_inputs()),
    OpCase("fliplr", lambda lib, x: lib.fliplr(x), unary(shape=shapes(min_dims=2))),
    OpCase("flipud", lambda lib, x: x.flipud(), unary(shape=shapes(min_dims=1))),
    OpCase("roll", lambda lib, x, shifts, dims: lib.roll(x, shifts, dims), _roll_inputs()),
    OpCase("contiguous", lambda lib, x: x.t().contiguous(), unary(shape=shapes(max_dims=2))),
    OpCase("clone", lambda lib, x: x.clone(), unary()),
    OpCase("tril", lambda lib, x, diagonal: lib.tril(x, diagonal), _matrix_offset_inputs()),
    OpCase("triu", lambda lib, x, diagonal: x.triu(diagonal), _matrix_offset_inputs()),
    OpCase("diag", lambda lib, x, diagonal: lib.diag(x, diagonal), _diag_inputs()),
    OpCase(
        "diagonal",
        lambda lib, x, diagonal: x.diagonal(diagonal),
        _diag_inputs().filter(lambda c: c[0][0].ndim == 2),
    ),
    OpCase(
        "repeat_interleave",
        lambda lib, x, *counts, **p: x.repeat_interleave(
            lib.tensor(counts[0]) if counts else p.pop("repeats"), **p
        ),
        _repeat_interleave_inputs(),
    ),
    OpCase("hstack", lambda lib, *xs: lib.hstack(list(xs)), _hstack_inputs()),
    OpCase("vstack", lambda lib, *xs: lib.vstack(list(xs)), _same_shape_pair()),
    OpCase("dstack", lambda lib, *xs: lib.dstack(list(xs)), _same_shape_pair()),
    OpCase("column_stack", lambda lib, a, b: lib.column_stack([a, b]), _same_shape_pair()),
    OpCase("atleast_3d", lambda lib, x: lib.atleast_3d(x), unary()),
    OpCase(
        "meshgrid",
        lambda lib, a, b: tuple(lib.meshgrid(a, b, indexing="xy")),
        _fixed(lambda b, n, k, m: (n,), lambda b, n, k, m: (m,)),
    ),
    OpCase(
        "cartesian_prod",
        lambda lib, a, b: lib.cartesian_prod(a, b),
        _fixed(lambda b, n, k, m: (n,), lambda b, n, k, m: (k,)),
    ),
    OpCase("gather", lambda lib, x, idx, dim: lib.gather(x, dim, idx), _gather_inputs()),
    # ------------------------------------------------------------------ indexing
    OpCase("index_basic", lambda lib, x, key: x[key], _basic_index()),
    OpCase("index_tensor", _pick, _advanced_index()),
    OpCase("index_pairs", lambda lib, x, i, j: x[i, j], _paired_index()),
    OpCase("index_mask", lambda lib, x, m: x[m], _mask_index()),
    OpCase("setitem_basic", lambda lib, x, v, key: _setitem(lib, x, v, key), _setitem_basic()),
    OpCase("setitem_rows", _setitem_rows, _setitem_advanced()),
    OpCase("setitem_mask", _setitem_masked, _setitem_mask()),
    OpCase("scatter", lambda lib, x, i, src, dim: x.scatter(dim, i, src), _scatter_inputs()),
    OpCase(
        "scatter_value",
        lambda lib, x, i, src, dim: x.scatter(dim, i, 1.5) * src.sum(),
        _scatter_inputs(),
    ),
    OpCase(
        "scatter_add",
        lambda lib, x, i, src, dim: lib.scatter_add(x, dim, i, src),
        _scatter_add_inputs(),
    ),
    OpCase(
        "scatter_reduce_sum",
        lambda lib, x, i, src, dim, include_self: x.scatter_reduce(
            dim, i, src, "sum", include_self=include_self
        ),
        _scatter_reduce_inputs(),
    ),
    OpCase(
        "scatter_reduce_mean",
        lambda lib, x, i, src, dim, include_self: lib.scatter_reduce(
            x, dim, i, src, "mean", include_self=include_self
        ),
        _scatter_reduce_inputs(),
    ),
    OpCase(
        "scatter_reduce_amax",
        lambda lib, x, i, src, dim, include_self: x.scatter_reduce(
            dim, i, src, "amax", include_self=include_self
        ),
        _scatter_reduce_inputs(distinct_values=True),
    ),
    OpCase(
        "scatter_reduce_amin",
        lambda lib, x, i, src, dim, include_self: x.scatter_reduce(
            dim, i, src, "amin", include_self=include_self
        ),
        _scatter_reduce_inputs(distinct_values=True),
    ),
    OpCase(
        "scatter_reduce_prod",
        lambda lib, x, i, src, dim, include_self: x.scatter_reduce(
            dim, i, src, "prod", include_self=include_self
        ),
        _scatter_reduce_inputs(nonzero_values=True),
    ),
    OpCase(
        "index_add",
        lambda lib, x, i, src, dim: x.index_add(dim, i, src, alpha=1.5),
        _index_add_inputs(),
    ),
    OpCase(
        "index_copy",
        lambda lib, x, i, src, dim: lib.index_copy(x, dim, i, src),
        _index_copy_inputs(),
    ),
    OpCase(
        "index_reduce_mean",
        lambda lib, x, i, src, dim: x.index_reduce(dim, i, src, "mean", include_self=False),
        _index_add_inputs(),
    ),
    OpCase(
        "index_put_accumulate",
        lambda lib, x, i, v: lib.index_put(x, (i,), v, accumulate=True),
        _index_put_inputs(),
    ),
    OpCase(
        "masked_scatter",
        lambda lib, x, m, src: x.masked_scatter(m, src),
        _masked_scatter_inputs(),
    ),
    OpCase(
        "select_scatter",
        lambda lib, x, src: lib.select_scatter(x, src, 1, -1),
        _fixed(lambda b, n, k, m: (b, n, k), lambda b, n, k, m: (b, k)),
    ),
    OpCase(
        "slice_scatter",
        lambda lib, x, src: x.slice_scatter(src, 1, 1, None, 2),
        _fixed(lambda b, n, k, m: (b, 2 * n + 1, k), lambda b, n, k, m: (b, n, k)),
    ),
    OpCase(
        "diagonal_scatter",
        lambda lib, x, src: lib.diagonal_scatter(x, src, 1, 2, 0),
        _fixed(lambda b, n, k, m: (b + 1, n, b), lambda b, n, k, m: (n, b)),
    ),
    OpCase(
        "take_along_dim",
        lambda lib, x, i, dim: lib.take_along_dim(x, i, dim),
        _take_along_dim_inputs(),
    ),
    OpCase(
        "take_along_dim_flat",
        lambda lib, x, i, dim: lib.take_along_dim(x, i.reshape(-1)),
        _take_along_dim_inputs(),
    ),
    OpCase(
        "index_select", lambda lib, x, i, dim: lib.index_select(x, dim, i), _index_select_inputs()
    ),
    OpCase(
        "index_fill",
        lambda lib, x, i, dim, value: x.index_fill(dim, i, value),
        _index_fill_inputs(),
    ),
    OpCase(
        "masked_select", lambda lib, x, m, value: lib.masked_select(x, m), _masked_fill_inputs()
    ),
    OpCase("take", lambda lib, x, i: lib.take(x, i), _take_inputs()),
    OpCase("sort", lambda lib, x, **p: lib.sort(x, **p).values, _sort_inputs()),
    OpCase("topk", lambda lib, x, **p: x.topk(**p).values, _topk_inputs()),
    OpCase(
        "addcmul", lambda lib, x, a, b, value: lib.addcmul(x, a, b, value=value), _addc_inputs()
    ),
    OpCase(
        "addcdiv", lambda lib, x, a, b, value: lib.addcdiv(x, a, b, value=value), _addc_inputs(True)
    ),
    OpCase("conv2d", lambda lib, *xs, **p: lib.nn.functional.conv2d(*xs, **p), _conv_inputs(2)),
    OpCase("conv1d", lambda lib, *xs, **p: lib.nn.functional.conv1d(*xs, **p), _conv_inputs(1)),
    OpCase(
        "conv_transpose2d",
        lambda lib, *xs, **p: lib.nn.functional.conv_transpose2d(*xs, **p),
        _conv_inputs(2, transposed=True),
    ),
    OpCase(
        "conv_transpose1d",
        lambda lib, *xs, **p: lib.nn.functional.conv_transpose1d(*xs, **p),
        _conv_inputs(1, transposed=True),
    ),
    OpCase("unfold", lambda lib, x, **p: lib.nn.functional.unfold(x, **p), _unfold_inputs()),
    OpCase("fold", lambda lib, x, **p: lib.nn.functional.fold(x, **p), _fold_inputs()),
]


# ----------------------------------------------------------------------------- normalisation
def _spread(shape: tuple) -> st.SearchStrategy:
    """Small noise on a ramp: every normalised group has a clear spread (no var ~ 0)."""
    ramp = (np.arange(int(np.prod(shape))) % 7 - 3.0).reshape(shape)
    return floats(shape, -0.4, 0.4).map(lambda a: a + ramp)


@st.composite
def _batch_norm_inputs(draw: Any) -> tuple:
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    spatial = draw(st.sampled_from([(), (3,), (2, 2)]))
    if n * int(np.prod(spatial)) < 2:
        n = 2
    x = draw(_spread((n, c, *spatial)))
    arrays = (x, draw(floats((c,), 0.5, 2.0)), draw(floats((c,))))
    return arrays, {"training": draw(st.booleans())}


def _batch_norm(lib: Any, x: Any, w: Any, b: Any, training: bool) -> Any:
    c = x.shape[1]
    rm = lib.linspace(-1, 1, c, dtype=x.dtype)
    rv = lib.linspace(0.5, 2, c, dtype=x.dtype)
    return lib.nn.functional.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3)


@st.composite
def _layer_norm_inputs(draw: Any) -> tuple:
    shape = draw(st.sampled_from([(4,), (2, 3), (2, 2, 3), (1, 5)]))
    k = draw(st.integers(1, len(shape)))
    ns = shape[len(shape) - k :]
    affine = draw(st.booleans())
    arrays = (draw(_spread(shape)),)
    if affine:
        arrays += (draw(floats(ns, 0.5, 2.0)), draw(floats(ns)))
    return arrays, {"ns": ns}


@st.composite
def _group_norm_inputs(draw: Any) -> tuple:
    groups, per = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    spatial = draw(st.sampled_from([(), (3,), (2, 2)]))
    if per * int(np.prod(spatial)) < 2:
        spatial = (2,)
    c = groups * per
    x = draw(_spread((draw(st.integers(1, 2)), c, *spatial)))
    arrays = (x, draw(floats((c,), 0.5, 2.0)), draw(floats((c,))))
    return arrays, {"groups": groups}


@st.composite
def _instance_norm_inputs(draw: Any) -> tuple:
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    x = draw(_spread((n, c, draw(st.integers(2, 4)))))
    return (x, draw(floats((c,), 0.5, 2.0)), draw(floats((c,)))), {}


OPS += [
    OpCase("batch_norm", _batch_norm, _batch_norm_inputs()),
    OpCase(
        "layer_norm",
        lambda lib, x, *wb, ns: lib.nn.functional.layer_norm(x, ns, *wb),
        _layer_norm_inputs(),
    ),
    OpCase(
        "group_norm",
        lambda lib, x, w, b, groups: lib.nn.functional.group_norm(x, groups, w, b),
        _group_norm_inputs(),
    ),
    OpCase(
        "instance_norm",
        lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b),
        _instance_norm_inputs(),
    ),
]


# ----------------------------------------------------------------------------- pooling, padding,
# interpolation (issue 11): small float64 inputs; max pooling on distinct values (no ties)
@st.composite
def _pool_inputs(draw: Any, ties: bool = True) -> tuple:
    lead = draw(st.sampled_from([(1, 2), (2,), (2, 1)]))
    shape = (*lead, draw(st.integers(3, 5)), draw(st.integers(3, 5)))
    x = draw(floats(shape) if ties else distinct(shape))
    params = draw(
        st.sampled_from(
            [
                {"kernel_size": 2},
                {"kernel_size": 3, "stride": 2, "padding": 1},
                {"kernel_size": 2, "stride": 1, "ceil_mode": True},
                {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 0)},
            ]
        )
    )
    return (x,), params


@st.composite
def _pool1d_inputs(draw: Any, ties: bool = True) -> tuple:
    shape = (draw(st.integers(1, 2)), 2, draw(st.integers(3, 6)))
    x = draw(floats(shape) if ties else distinct(shape))
    k = draw(st.integers(1, 3))
    return (x,), {"kernel_size": k, "stride": draw(st.integers(1, 2)), "padding": k // 2}


@st.composite
def _adaptive_inputs(draw: Any, ties: bool = True) -> tuple:
    shape = (draw(st.integers(1, 2)), 2, draw(st.integers(2, 5)), draw(st.integers(2, 5)))
    x = draw(floats(shape) if ties else distinct(shape))
    size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return (x,), {"output_size": size}


@st.composite
def _pad_inputs(draw: Any) -> tuple:
    shape = (2, draw(st.integers(3, 4)), draw(st.integers(3, 4)))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    lo, hi = (0, 2) if mode != "constant" else (-1, 2)
    pad = tuple(draw(st.integers(lo, hi)) for _ in range(4))
    return (draw(floats(shape)),), {"pad": pad, "mode": mode}


@st.composite
def _interpolate_inputs(draw: Any) -> tuple:
    shape = (1, 2, draw(st.integers(2, 4)), draw(st.integers(2, 4)))
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    params: dict = {"mode": mode}
    if draw(st.booleans()):
        params["size"] = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    else:
        params["scale_factor"] = draw(st.sampled_from([2, 1.5, 0.7]))
    if mode == "bilinear":
        params["align_corners"] = draw(st.booleans())
    return (draw(floats(shape)),), params


OPS.extend(
    [
        OpCase(
            "max_pool2d",
            lambda lib, x, **p: lib.nn.functional.max_pool2d(x, **p),
            _pool_inputs(ties=False),
        ),
        OpCase(
            "avg_pool2d",
            lambda lib, x, **p: lib.nn.functional.avg_pool2d(x, **p, count_include_pad=False),
            _pool_inputs(),
        ),
        OpCase(
            "max_pool1d",
            lambda lib, x, **p: lib.nn.functional.max_pool1d(x, **p),
            _pool1d_inputs(ties=False),
        ),
        OpCase(
            "avg_pool1d",
            lambda lib, x, **p: lib.nn.functional.avg_pool1d(x, **p),
            _pool1d_inputs(),
        ),
        OpCase(
            "adaptive_avg_pool2d",
            lambda lib, x, **p: lib.nn.functional.adaptive_avg_pool2d(x, **p),
            _adaptive_inputs(),
        ),
        OpCase(
            "adaptive_max_pool2d",
            lambda lib, x, **p: lib.nn.functional.adaptive_max_pool2d(x, **p),
            _adaptive_inputs(ties=False),
        ),
        OpCase("pad", lambda lib, x, **p: lib.nn.functional.pad(x, **p), _pad_inputs()),
        OpCase(
            "interpolate",
            lambda lib, x, **p: lib.nn.functional.interpolate(x, **p),
            _interpolate_inputs(),
        ),
    ]
)

OPS_BY_NAME = {op.name: op for op in OPS}
