"""Property tests: any tree of supported objects survives save/load exactly."""

from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ndgrad

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8,
          np.bool_]  # fmt: skip

tensors = (
    st.sampled_from(DTYPES)
    .flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    )
    .map(ndgrad.tensor)
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**62), 2**62), st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True),
)  # fmt: skip
keys = st.one_of(st.text(max_size=6), st.integers(-5, 50))
trees = st.recursive(
    st.one_of(scalars, tensors),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(keys, children, max_size=4).map(lambda d: OrderedDict(d)),
    ),
    max_leaves=12,
)


def _assert_identical(a, b) -> None:
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, ndgrad.Tensor):
        assert a.dtype is b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_identical(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_identical(x, y)
    elif isinstance(a, float):
        assert (np.isnan(a) and np.isnan(b)) or (a == b and np.copysign(1, a) == np.copysign(1, b))
    else:
        assert a == b


@given(trees)
def test_any_tree_round_trips(tree):
    buffer = io.BytesIO()
    ndgrad.save(tree, buffer)
    buffer.seek(0)
    _assert_identical(tree, ndgrad.load(buffer))


@given(trees, st.data())
def test_any_truncation_is_a_runtime_error(tree, data):
    buffer = io.BytesIO()
    ndgrad.save(tree, buffer)
    raw = buffer.getvalue()
    cut = data.draw(st.integers(0, len(raw) - 1))
    try:
        ndgrad.load(io.BytesIO(raw[:cut]))
    except RuntimeError as exc:
        assert "truncated" in str(exc) or "corrupt" in str(exc) or "not an ndgrad" in str(exc)
    else:
        raise AssertionError(f"loading {cut} of {len(raw)} bytes did not fail")
