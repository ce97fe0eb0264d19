"""Euclidean projection onto the simplex: properties (idempotence, KKT)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from advgame import proj_simplex

vectors = arrays(np.float64, st.integers(1, 12), elements=st.floats(-50, 50, allow_nan=False))


@given(vectors)
def test_on_simplex_and_idempotent(v):
    p = proj_simplex(v)
    assert p.min() >= 0
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(proj_simplex(p), p, atol=1e-12)


@given(vectors)
def test_kkt_conditions(v):
    """p = max(v - tau, 0): v_k - p_k is the same tau on the support and v_k <= tau off it."""
    p = proj_simplex(v)
    support = p > 1e-12
    tau = (v - p)[support]
    np.testing.assert_allclose(tau, tau.mean(), atol=1e-9)
    assert np.all(v[~support] <= tau.mean() + 1e-9)


@given(vectors, st.integers(0, 2**31))
def test_is_the_closest_point(v, seed):
    p = proj_simplex(v)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        q = rng.dirichlet(np.ones(v.size))
        assert np.linalg.norm(v - p) <= np.linalg.norm(v - q) + 1e-9


def test_torch_matches_numpy(nx):
    v = np.array([0.3, -1.2, 2.5, 0.0, 0.7])
    p = proj_simplex(nx(v))
    np.testing.assert_allclose(nx.np(p), proj_simplex(v), atol=nx.atol)
    if nx.is_torch:
        assert p.dtype == nx.dtype


def test_bad_input():
    with pytest.raises(ValueError, match="v must be a non-empty 1-D vector"):
        proj_simplex(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="v must be finite"):
        proj_simplex(np.array([np.nan, 1.0]))


# ------------------------------------------------ issue 9: every finite input
def test_regression_huge_inputs_give_points_of_the_simplex():
    """Issue 9, section 1: [1e16, 0] gave [0, 0] and [1e308, -1e308] gave [inf, inf]."""
    np.testing.assert_array_equal(proj_simplex(np.array([1e16, 0.0])), [1.0, 0.0])
    np.testing.assert_array_equal(proj_simplex(np.array([1e308, -1e308])), [1.0, 0.0])
    np.testing.assert_allclose(proj_simplex(np.array([1e16, 1e16, 0.0])), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(proj_simplex(np.array([-1e308, -1e308])), [0.5, 0.5])


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(arrays(np.float64, st.integers(1, 12), elements=finite))
def test_every_finite_input_lands_on_the_simplex(v):
    p = proj_simplex(v)
    assert np.isfinite(p).all() and p.min() >= 0
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    # the coordinates of the maximum carry the mass: anything 1 below it gets none
    assert np.all(p[v < v.max() - 1] == 0) or v.max() - 1 == v.max()


@given(arrays(np.float64, st.integers(1, 12), elements=st.floats(-1e12, 1e12)))
def test_large_inputs_satisfy_the_kkt_conditions(v):
    """On large (but exactly representable gaps) inputs the result is still the
    projection: the closest point against random points of the simplex."""
    p = proj_simplex(v)
    rng = np.random.default_rng(0)
    d = np.linalg.norm(v - p)
    for _ in range(5):
        q = rng.dirichlet(np.ones(v.size))
        assert d <= np.linalg.norm(v - q) * (1 + 1e-12) + 1e-6


def test_torch_extreme_inputs_without_host_checks(nx):
    if not nx.is_torch:
        pytest.skip("torch only")
    p = proj_simplex(nx(np.array([1e16, 0.0, -3.0])))
    np.testing.assert_allclose(nx.np(p), [1.0, 0.0, 0.0])
    assert p.dtype == nx.dtype


def test_integer_input_is_projected_in_float64():
    p = proj_simplex(np.array([3, 1, 0]))
    assert p.dtype == np.float64
    np.testing.assert_array_equal(p, [1.0, 0.0, 0.0])


def test_wrong_types_are_type_errors():
    with pytest.raises(TypeError, match="v must hold real numbers"):
        proj_simplex(np.array([True, False]))
    with pytest.raises(TypeError, match="v must hold real numbers"):
        proj_simplex(np.array([1 + 1j, 0]))
    with pytest.raises(TypeError, match="v must"):
        proj_simplex(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="v must be a non-empty 1-D vector"):
        proj_simplex(np.zeros(0))
    with pytest.raises(ValueError, match="v must be finite"):
        proj_simplex(np.array([np.inf, 1.0]))
