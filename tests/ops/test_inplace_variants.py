"""Every in-place variant ``x.op_(...)`` bound on Tensor equals ``x.op(...)`` bit for bit.

The in-place op is the out-of-place op's result written into the tensor (some keep a direct
ufunc write when nothing is recorded: optimizer steps), so both must give the same bits on
the same float32 inputs. Names are found from ``dir(Tensor)``: every ``<stem>_`` whose
``<stem>`` is also a method needs a recipe below (or a reason to be skipped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import ndgrad

Recipe = Callable[[np.random.Generator], tuple[np.ndarray, tuple, dict]]


def _f32(rng: np.random.Generator, *shape: int, low: float = -2.0, high: float = 2.0) -> Any:
    return rng.uniform(low, high, shape).astype(np.float32)


def _t(a: np.ndarray) -> ndgrad.Tensor:
    return ndgrad.tensor(a)


def _unary(low: float = -2.0, high: float = 2.0) -> Recipe:
    return lambda rng: (_f32(rng, 3, 4, low=low, high=high), (), {})


def _with_tensor(low: float = -2.0, high: float = 2.0, **kwargs: Any) -> Recipe:
    return lambda rng: (
        _f32(rng, 3, 4),
        (_t(_f32(rng, 3, 4, low=low, high=high)),),
        kwargs,
    )


def _ints(rng: np.random.Generator) -> tuple:
    return rng.integers(0, 64, (3, 4)), (_t(rng.integers(0, 64, (3, 4))),), {}


def _bools(rng: np.random.Generator) -> tuple:
    return rng.random((3, 4)) < 0.5, (_t(rng.random((3, 4)) < 0.5),), {}


RECIPES: dict[str, Recipe] = {
    "abs": _unary(),
    "neg": _unary(),
    "sign": _unary(),
    "exp": _unary(),
    "log": _unary(0.1, 3.0),
    "sqrt": _unary(0.0, 3.0),
    "square": _unary(),
    "reciprocal": _unary(0.5, 2.0),
    "sin": _unary(),
    "sinh": _unary(),
    "cosh": _unary(),
    "cos": _unary(),
    "tanh": _unary(),
    "sigmoid": _unary(),
    "relu": _unary(),
    "floor": _unary(),
    "ceil": _unary(),
    "trunc": _unary(),
    "round": _unary(),
    "nan_to_num": lambda rng: (
        np.array([np.nan, np.inf, -np.inf, 1.5], np.float32),
        (),
        {"nan": 0.5, "posinf": 7.0},
    ),
    "add": _with_tensor(alpha=0.3),
    "sub": _with_tensor(alpha=1.7),
    "mul": _with_tensor(),
    "div": _with_tensor(0.5, 2.0),
    "pow": lambda rng: (_f32(rng, 3, 4, low=0.1, high=2.0), (_t(_f32(rng, 3, 4)),), {}),
    "floor_divide": _with_tensor(0.5, 2.0),
    "remainder": _with_tensor(0.5, 2.0),
    "fmod": _with_tensor(0.5, 2.0),
    "maximum": _with_tensor(),
    "minimum": _with_tensor(),
    "bitwise_and": _ints,
    "bitwise_or": _ints,
    "clamp": lambda rng: (_f32(rng, 3, 4), (-0.5, 0.7), {}),
    "clip": lambda rng: (_f32(rng, 3, 4), (-0.5, 0.7), {}),
    "clamp_min": lambda rng: (_f32(rng, 3, 4), (0.1,), {}),
    "clamp_max": lambda rng: (_f32(rng, 3, 4), (0.1,), {}),
    "lerp": lambda rng: (_f32(rng, 3, 4), (_t(_f32(rng, 3, 4)), 0.7), {}),
    "addcmul": lambda rng: (
        _f32(rng, 3, 4),
        (_t(_f32(rng, 3, 4)), _t(_f32(rng, 4))),
        {"value": 0.3},
    ),
    "addcdiv": lambda rng: (
        _f32(rng, 3, 4),
        (_t(_f32(rng, 3, 4)), _t(_f32(rng, 3, 1, low=0.5, high=2.0))),
        {"value": -1.3},
    ),
    "masked_fill": lambda rng: (_f32(rng, 3, 4), (_t(rng.random((3, 4)) < 0.5), 0.25), {}),
    "index_fill": lambda rng: (_f32(rng, 3, 4), (1, _t(np.array([0, 2])), -1.5), {}),
    "scatter": lambda rng: (
        _f32(rng, 3, 4),
        (0, _t(np.array([[2, 0, 1, 1]])), _t(_f32(rng, 1, 4))),
        {},
    ),
    "scatter_add": lambda rng: (
        _f32(rng, 3, 4),
        (0, _t(np.array([[2, 0, 1, 1], [2, 2, 0, 1]])), _t(_f32(rng, 2, 4))),
        {},
    ),
    "softmax": lambda rng: (_f32(rng, 3, 4), (1,), {}),
    "log_softmax": lambda rng: (_f32(rng, 3, 4), (1,), {}),
    "tril": lambda rng: (_f32(rng, 4, 4), (), {}),
    "triu": lambda rng: (_f32(rng, 4, 4), (1,), {}),
    "t": lambda rng: (_f32(rng, 3, 4), (), {}),
    "transpose": lambda rng: (_f32(rng, 2, 3, 4), (0, 2), {}),
    "squeeze": lambda rng: (_f32(rng, 3, 1, 4), (1,), {}),
    "unsqueeze": lambda rng: (_f32(rng, 3, 4), (1,), {}),
    # inverse trig, special functions, float binaries (test_math_more.py checks values)
    **{
        name: _unary(-0.9, 0.9)
        for name in "asin acos atanh arcsin arccos arctanh erfinv logit".split()
    },
    **{
        name: _unary()
        for name in "tan atan arctan asinh arcsinh deg2rad rad2deg sinc exp2 expm1 erf erfc "
        "frac negative sgn".split()
    },
    **{name: _unary(1.1, 3.0) for name in ("acosh", "arccosh")},
    **{name: _unary(0.5, 3.0) for name in "lgamma digamma i0 log10 log1p log2 rsqrt".split()},
    **{
        name: _with_tensor(0.5, 2.0)
        for name in "atan2 arctan2 hypot xlogy copysign heaviside nextafter".split()
    },
    # comparisons and logical ops keep the tensor's dtype in place: bool tensors compare equal
    **{
        name: _bools
        for name in "eq ne lt le gt ge greater less greater_equal less_equal not_equal "
        "logical_and logical_or logical_xor".split()
    },
    "logical_not": lambda rng: (rng.random((3, 4)) < 0.5, (), {}),
    "gcd": _ints,
    "lcm": _ints,
    "polygamma": lambda rng: (_f32(rng, 3, 4, low=0.5, high=2.0), (2,), {}),
    "mvlgamma": lambda rng: (_f32(rng, 3, 4, low=1.5, high=3.0), (2,), {}),
    "float_power": lambda rng: (_f32(rng, 3, 4, low=0.5, high=2.0).astype(np.float64), (1.5,), {}),
    "ldexp": lambda rng: (_f32(rng, 3, 4), (_t(rng.integers(-3, 4, (3, 4))),), {}),
    "cumsum": lambda rng: (_f32(rng, 3, 4), (1,), {}),
    "cumprod": lambda rng: (_f32(rng, 3, 4), (0,), {}),
    "renorm": lambda rng: (_f32(rng, 3, 4), (2, 0, 1.0), {}),
    "swapaxes": lambda rng: (_f32(rng, 2, 3, 4), (0, 2), {}),
    "swapdims": lambda rng: (_f32(rng, 2, 3, 4), (1, 2), {}),
    "addbmm": lambda rng: (_f32(rng, 3, 4), (_t(_f32(rng, 2, 3, 5)), _t(_f32(rng, 2, 5, 4))), {}),
    "index_add": lambda rng: (
        _f32(rng, 3, 4),
        (0, _t(np.array([2, 0, 2])), _t(_f32(rng, 3, 4))),
        {},
    ),
    "index_copy": lambda rng: (_f32(rng, 3, 4), (1, _t(np.array([3, 0])), _t(_f32(rng, 3, 2))), {}),
    "index_reduce": lambda rng: (
        _f32(rng, 3, 4),
        (0, _t(np.array([2, 0, 2])), _t(_f32(rng, 3, 4)), "amax"),
        {"include_self": False},
    ),
    "index_put": lambda rng: (
        _f32(rng, 3, 4),
        ((_t(np.array([0, 2, 0])), _t(np.array([1, 1, 1]))), _t(_f32(rng, 3)), True),
        {},
    ),
    "masked_scatter": lambda rng: (
        _f32(rng, 3, 4),
        (_t(rng.random((3, 4)) < 0.5), _t(_f32(rng, 12))),
        {},
    ),
    "scatter_reduce": lambda rng: (
        _f32(rng, 3, 4),
        (0, _t(np.array([[2, 0, 1, 1], [2, 2, 0, 1]])), _t(_f32(rng, 2, 4)), "mean"),
        {},
    ),
    "addr": lambda rng: (_f32(rng, 3, 4), (_t(_f32(rng, 3)), _t(_f32(rng, 4))), {"alpha": 0.5}),
    # aliases and the rest of the dense API
    **{name: _unary() for name in "absolute fix conj_physical".split()},
    **{name: _with_tensor(0.5, 2.0) for name in "divide true_divide multiply".split()},
    "subtract": _with_tensor(alpha=0.5),
    **{name: _ints for name in "bitwise_xor bitwise_left_shift bitwise_right_shift".split()},
    "bitwise_not": lambda rng: (rng.integers(-64, 64, (3, 4)), (), {}),
    "addmm": lambda rng: (
        _f32(rng, 3, 4),
        (_t(_f32(rng, 3, 5)), _t(_f32(rng, 5, 4))),
        {"beta": 0.5},
    ),
    "addmv": lambda rng: (_f32(rng, 3), (_t(_f32(rng, 3, 5)), _t(_f32(rng, 5))), {"alpha": 2.0}),
    "baddbmm": lambda rng: (
        _f32(rng, 2, 3, 4),
        (_t(_f32(rng, 2, 3, 5)), _t(_f32(rng, 2, 5, 4))),
        {},
    ),
    **{
        name: lambda rng: (
            _f32(rng, 3, 4, low=0.5, high=3.0),
            (_t(_f32(rng, 3, 4, low=0.1, high=3.0)),),
            {},
        )
        for name in ("igamma", "igammac")
    },
    "put": lambda rng: (_f32(rng, 3, 4), (_t(np.array([0, 5, 5, -1])), _t(_f32(rng, 4)), True), {}),
    "as_strided": lambda rng: (_f32(rng, 3, 4), ((2, 3), (1, 2), 1), {}),
    "resize": lambda rng: (_f32(rng, 3, 4), (2, 5), {}),
    "resize_as": lambda rng: (_f32(rng, 3, 4), (_t(_f32(rng, 2, 2)),), {}),
}

# Not an op whose result is written back: state changes.
SKIPPED = {
    "detach": "detach_ changes autograd state, not values",
    "requires_grad": "requires_grad_ changes autograd state, not values",
    "bernoulli": "x.bernoulli_(p) overwrites x with random draws; x.bernoulli() reads x as p",
}


def _pairs() -> list[str]:
    T = ndgrad.Tensor
    return sorted(
        name[:-1]
        for name in dir(T)
        if name.endswith("_")
        and not name.startswith("_")
        and callable(getattr(T, name))
        and hasattr(T, name[:-1])
    )


def test_every_pair_has_a_recipe_or_a_reason() -> None:
    missing = [s for s in _pairs() if s not in RECIPES and s not in SKIPPED]
    assert not missing, f"in-place variants without a recipe in this test: {missing}"


def test_pure_and_random_fills_have_no_out_of_place_method() -> None:
    # fill_, zero_, copy_, fill_diagonal_ and the random fills (normal_, uniform_...) are not
    # pairs: they overwrite the contents, so there is nothing to compare them with.
    T = ndgrad.Tensor
    for name in ("fill_", "zero_", "copy_", "normal_", "uniform_", "random_"):
        assert hasattr(T, name) and name[:-1] not in _pairs()


@pytest.mark.parametrize("stem", [s for s in _pairs() if s in RECIPES])
def test_inplace_equals_out_of_place_bit_for_bit(stem: str) -> None:
    rng = np.random.default_rng(sum(map(ord, stem)))
    data, args, kwargs = RECIPES[stem](rng)
    expected = getattr(ndgrad.tensor(data), stem)(*args, **kwargs)
    x = ndgrad.tensor(data)
    out = getattr(x, stem + "_")(*args, **kwargs)
    assert out is x
    a, b = x.numpy(), expected.numpy()
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), (
        f"{stem}_ differs from {stem}: {a} vs {b}"
    )


@pytest.mark.parametrize("stem", ["add", "sub", "mul", "div", "addcmul", "addcdiv"])
def test_recorded_inplace_equals_out_of_place_bit_for_bit(stem: str) -> None:
    # The fast paths (direct ufunc writes) and the recorded path give the same bits.
    rng = np.random.default_rng(7)
    data, args, kwargs = RECIPES[stem](rng)
    leaf = ndgrad.tensor(data, requires_grad=True)
    x = leaf * 1
    expected = getattr(x, stem)(*args, **kwargs)
    getattr(x, stem + "_")(*args, **kwargs)
    assert x.detach().numpy().tobytes() == expected.detach().numpy().tobytes()
    x.sum().backward()
    assert leaf.grad is not None
