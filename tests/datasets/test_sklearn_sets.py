"""scikit-learn's bundled datasets and the reproducible split."""

from __future__ import annotations

import numpy as np
import pytest

from ndgrad.datasets.sklearn_sets import SKLEARN_SETS, load_sklearn, split_indices

EXPECTED = {
    "digits": (1797, 64, 10),
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
    "breast-cancer": (569, 30, 2),
    "diabetes": (442, 10, 0),
}


@pytest.mark.parametrize("name", list(SKLEARN_SETS))
def test_shapes_classes_and_types(name):
    ds = load_sklearn(name)
    n, d, k = EXPECTED[name]
    assert ds.X.shape == (n, d) and ds.X.dtype == np.float64 and len(ds) == n
    assert ds.num_classes == k and len(ds.feature_names) == d
    if k:
        assert ds.y.dtype == np.int64 and set(np.unique(ds.y)) == set(range(k))
    else:
        assert ds.task == "regression" and ds.y.dtype == np.float64
    X, y = ds.tensors()
    assert tuple(X.shape) == (n, d) and str(X.dtype) == "ndgrad.float32"


def test_digits_have_image_shape():
    assert load_sklearn("digits").image_shape == (8, 8)


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown scikit-learn dataset 'mnist'.*digits"):
        load_sklearn("mnist")


def test_split_is_reproducible_disjoint_and_stratified():
    y = np.repeat(np.arange(3), [50, 30, 20])
    tr, te = split_indices(100, 0.2, seed=3, stratify=y)
    tr2, te2 = split_indices(100, 0.2, seed=3, stratify=y)
    np.testing.assert_array_equal(tr, tr2)
    np.testing.assert_array_equal(te, te2)
    assert set(tr).isdisjoint(te) and len(tr) + len(te) == 100
    assert np.bincount(y[te]).tolist() == [10, 6, 4]
    assert not np.array_equal(te, split_indices(100, 0.2, seed=4, stratify=y)[1])
    tr, te = split_indices(10, 0.3)
    assert len(te) == 3 and len(tr) == 7
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        split_indices(10, 1.5)
