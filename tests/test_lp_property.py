"""Property test (issue 9, section 7): solve's value against the full epigraph LP through
``scipy.optimize.linprog(method="highs")``, and its certificate against the raw tensor.

The reference LP uses every valid (sample, attack) row, none of advgame's reductions
(bit-packing, dominance pruning, sample merging, constraint generation); the certificate
is recomputed in float64 from the numpy tensor the game was built from.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import advgame
from advgame import Game

STRATEGIES = ("auto", "prune", "cg", "full")


@st.composite
def games(draw, n=(1, 40), m=(1, 5), L=(1, 70)):
    """``(losses, mask, sample_weights, strategy)``: 0/1 or real losses, every L in the range."""
    N_ = draw(st.integers(*n))
    m_ = draw(st.integers(*m))
    L_ = draw(st.integers(*L))
    kind = draw(st.sampled_from(["binary", "binary_scaled", "real"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "real":
        losses = np.round(rng.random((N_, m_, L_)), draw(st.sampled_from([1, 3, 8])))
    else:
        # per-classifier densities, so that high-order bits matter as much as low ones
        p = rng.random(L_)
        losses = (rng.random((N_, m_, L_)) < p).astype(np.float64)
        if kind == "binary_scaled":
            losses *= draw(st.sampled_from([0.3, 2.0, 7.5]))
    mask = None
    if draw(st.booleans()):
        mask = rng.random((N_, m_)) < 0.7
        mask[np.arange(N_), rng.integers(0, m_, N_)] = True
        losses[~mask] = np.nan  # masked entries may hold anything
    sw = None
    if draw(st.booleans()):
        sw = rng.random(N_) + 0.05
        sw[rng.random(N_) < 0.1] = 0.0  # zero-weight samples
        if not sw.any():
            sw[0] = 1.0
    strategy = draw(st.sampled_from(STRATEGIES))
    return losses, mask, sw, strategy


def reference_lp(losses, mask, w):
    """Optimal value and weights of the full epigraph LP, independent of advgame."""
    N, m, L = losses.shape
    valid = np.ones((N, m), bool) if mask is None else mask
    ii, jj = np.nonzero(valid)
    R = ii.size
    A = sp.hstack([sp.csr_matrix(losses[ii, jj]), sp.csr_matrix((-np.ones(R), (np.arange(R), ii)), shape=(R, N))])
    c = np.r_[np.zeros(L), w]
    res = linprog(c, A_ub=A, b_ub=np.zeros(R), A_eq=np.r_[np.ones(L), np.zeros(N)][None], b_eq=[1.0],
                  bounds=[(0, None)] * L + [(None, None)] * N, method="highs",
                  options=dict(primal_feasibility_tolerance=1e-10, dual_feasibility_tolerance=1e-10))
    assert res.status == 0, res.message
    return res.fun, np.clip(res.x[:L], 0, None) / np.clip(res.x[:L], 0, None).sum()


def raw_risk(losses, mask, w, lam):
    s = np.einsum("ijk,k->ij", np.nan_to_num(losses), lam)
    if mask is not None:
        s[~mask] = -np.inf
    return float(w @ s.max(axis=1))


def check(losses, mask, sw, strategy):
    N, m, L = losses.shape
    g = Game(losses, mask=mask, sample_weights=sw)
    packable = g.is_binary and L <= 62
    if strategy == "prune" and not packable:
        with pytest.raises(ValueError, match="strategy='prune' needs a 0/1 game"):
            advgame.solve(g, strategy=strategy)
        strategy = "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("error", advgame.SolverWarning)  # every solve here must certify
        res = advgame.solve(g, strategy=strategy)
    M = g.bound
    tol = 1e-9 * max(1.0, M)
    w = np.full(N, 1.0 / N) if sw is None else sw / sw.sum()
    lam = np.asarray(res.weights, dtype=np.float64)
    Q = np.asarray(res.adversary, dtype=np.float64)
    # the reported certificate, recomputed from the raw tensor in float64
    assert res.status == "optimal"
    assert lam.min() >= 0 and abs(lam.sum() - 1) < 1e-12
    assert Q.min() >= 0
    np.testing.assert_allclose(Q.sum(axis=1), 1.0, atol=1e-12)
    if mask is not None:
        assert np.all(Q[~mask] == 0)
    value = raw_risk(losses, mask, w, lam)
    assert res.value == pytest.approx(value, abs=1e-12 * max(1.0, M))
    assert res.value == pytest.approx(g.risk(lam), abs=1e-12 * max(1.0, M))
    adv = np.einsum("ij,ijk->k", Q * w[:, None], np.nan_to_num(losses))
    np.testing.assert_allclose(np.asarray(res.adversary_losses, dtype=np.float64), adv, rtol=0,
                               atol=1e-12 * max(1.0, M))
    assert res.lower_bound == pytest.approx(adv.min(), abs=1e-12 * max(1.0, M))
    assert res.gap == pytest.approx(res.value - res.lower_bound, abs=1e-12 * max(1.0, M))
    assert -tol <= res.gap <= tol
    # the value against the full LP, independent of every reduction
    ref_value, ref_lam = reference_lp(np.nan_to_num(losses), mask, w)
    assert res.value == pytest.approx(ref_value, abs=tol)
    assert res.value <= raw_risk(losses, mask, w, ref_lam) + tol  # ours is optimal ...
    assert res.lower_bound <= raw_risk(losses, mask, w, ref_lam) + tol  # ... and D(Q) a lower bound


@settings(max_examples=500)
@given(games())
def test_lp_matches_full_lp_small(game):
    check(*game)


@settings(max_examples=200)
@given(games(n=(1, 6), m=(2, 4), L=(50, 70)))
def test_lp_matches_full_lp_wide_binary(game):
    """The range where float64 bit-packing used to lose bits (L >= 54)."""
    check(*game)


@settings(max_examples=40)
@given(games(n=(200, 3000), m=(1, 3), L=(1, 12)))
def test_lp_matches_full_lp_many_samples(game):
    check(*game)


@pytest.mark.slow
@settings(max_examples=6)
@given(games(n=(2000, 5000), m=(2, 6), L=(20, 70)))
def test_lp_matches_full_lp_large(game):
    check(*game)
