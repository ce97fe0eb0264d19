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
