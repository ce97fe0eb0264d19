"""The exact LP: strong duality, invariances, pruning/constraint generation, cvxpy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _games import game_params, make_arrays
from hypothesis import given, settings
from hypothesis import strategies as st

import advgame
from advgame import Game, solve
from advgame.solvers.lp import prune_binary_rows


def check_certificate(game, res, tol=1e-9):
    """The properties every LP result must have."""
    assert res.status == "optimal"
    assert res.gap <= tol and res.gap >= -tol
    w = np.asarray(res.weights)
    assert w.min() >= 0 and abs(w.sum() - 1) < 1e-12
    Q = np.asarray(res.adversary)
    assert Q.shape == game.shape[:2]
    assert Q.min() >= 0
    np.testing.assert_allclose(Q.sum(axis=1), 1.0, atol=1e-12)
    if game.mask is not None:
        assert np.all(Q[~np.asarray(game.mask)] == 0)
    assert game.risk(w) == pytest.approx(res.value, abs=1e-12)
    assert game.defender_value(Q)[0] == pytest.approx(res.value, abs=tol)
    assert game.duality_gap(w, Q) <= tol


def test_motivating_example():
    g = advgame.examples.motivating_game()
    res = solve(g)
    check_certificate(g, res)
    assert res.value == pytest.approx(0.75, abs=1e-12)
    np.testing.assert_allclose(res.weights, [0.5, 0.5], atol=1e-12)
    assert res.history == [] and res.method == "lp"
    # the adversary must randomize on the x = 0 sample: 1/2 to each side
    np.testing.assert_allclose(res.adversary[0], [0.5, 0.0, 0.5], atol=1e-12)


@given(game_params())
def test_strong_duality_and_value_below_best_classifier(params):
    losses, mask, sw = make_arrays(**params)
    g = Game(losses, mask=mask, sample_weights=sw)
    res = solve(g)
    check_certificate(g, res)
    assert res.value <= g.best_classifier()[1] + 1e-12


@given(game_params(), st.integers(0, 2**31))
def test_optimal_value_is_a_minimum(params, seed):
    """No random mixture beats the LP's value, and no random adversary beats its D(Q)."""
    rng = np.random.default_rng(seed)
    losses, mask, sw = make_arrays(**params)
    g = Game(losses, mask=mask, sample_weights=sw)
    res = solve(g)
    for _ in range(5):
        lam = rng.dirichlet(np.ones(params["L"]))
        assert g.risk(lam) >= res.value - 1e-12
        Q = rng.exponential(size=(params["n"], params["m"]))
        if mask is not None:
            Q[~mask] = 0
        Q /= Q.sum(axis=1, keepdims=True)
        assert g.defender_value(Q)[0] <= res.value + 1e-12


@given(game_params(), st.integers(0, 2**31))
def test_invariances(params, seed):
    """The value does not change when classifiers or attacks are permuted, an attack is
    duplicated or a dominated one added, a classifier duplicated, or sample weights scaled."""
    rng = np.random.default_rng(seed)
    losses, mask, sw = make_arrays(**params)
    N, m, L = losses.shape
    v = solve(Game(losses, mask=mask, sample_weights=sw)).value

    pk = rng.permutation(L)
    assert solve(Game(losses[:, :, pk], mask=mask, sample_weights=sw)).value == pytest.approx(v, abs=1e-9)
    pj = rng.permutation(m)
    mask_p = None if mask is None else mask[:, pj]
    assert solve(Game(losses[:, pj], mask=mask_p, sample_weights=sw)).value == pytest.approx(v, abs=1e-9)

    # duplicate attack j of every sample, and add an attack dominated by it
    j = np.argmax(mask, axis=1) if mask is not None else np.zeros(N, int)
    row = losses[np.arange(N), j]
    dominated = row * rng.random(row.shape)
    big = np.concatenate([losses, row[:, None], dominated[:, None]], axis=1)
    big_mask = None if mask is None else np.concatenate([mask, np.ones((N, 2), bool)], axis=1)
    assert solve(Game(big, mask=big_mask, sample_weights=sw)).value == pytest.approx(v, abs=1e-9)

    dup = np.concatenate([losses, losses[:, :, :1]], axis=2)
    assert solve(Game(dup, mask=mask, sample_weights=sw)).value == pytest.approx(v, abs=1e-9)

    sw2 = (np.ones(N) if sw is None else sw) * 7.5
    assert solve(Game(losses, mask=mask, sample_weights=sw2)).value == pytest.approx(v, abs=1e-9)


@given(game_params(kinds=("binary",)))
def test_strategies_agree_on_binary_games(params):
    losses, mask, sw = make_arrays(**params)
    g = Game(losses, mask=mask, sample_weights=sw)
    vals = []
    for strategy in ("prune", "cg", "full"):
        res = solve(g, strategy=strategy)
        check_certificate(g, res)
        vals.append(res.value)
    assert max(vals) - min(vals) <= 1e-9


@settings(max_examples=15)
@given(game_params())
def test_lp_agrees_with_cvxpy(params):
    losses, mask, sw = make_arrays(**params)
    g = Game(losses, mask=mask, sample_weights=sw)
    a = solve(g)
    b = solve(g, solver="cvxpy")
    assert b.status in ("optimal", "optimal_inaccurate")
    assert b.info["solver"] == "cvxpy"
    assert abs(a.value - b.value) <= 1e-7
    assert b.gap <= 1e-7


def test_cvxpy_with_clarabel_cleans_weights():
    cp = pytest.importorskip("cvxpy")
    if "CLARABEL" not in cp.installed_solvers():
        pytest.skip("CLARABEL not installed")
    g = advgame.examples.random_game(40, 8, 4, kind="real", seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = solve(g, solver="cvxpy", cvxpy_solver="CLARABEL")
    w = np.asarray(r.weights)
    assert w.min() >= 0 and abs(w.sum() - 1) < 1e-14
    assert abs(r.value - solve(g).value) < 1e-6


def test_pruning_is_exact_and_small():
    """Pruned rows are undominated and distinct, and the LP on them has the full value."""
    g = advgame.examples.random_game(60, 40, 5, kind="binary", seed=4, p=0.2, mask_fraction=0.3)
    ii, jj, rows = prune_binary_rows(g)
    assert rows.shape[0] < 60 * 40
    # each kept row is the loss row of (ii, jj) and is valid
    np.testing.assert_array_equal(rows, g.losses[ii, jj])
    assert g.mask[ii, jj].all()
    for i in range(60):
        R = rows[ii == i]
        assert len({tuple(r) for r in R}) == len(R)  # distinct
        for a in range(len(R)):
            for b in range(len(R)):
                if a != b:
                    assert not np.all(R[a] <= R[b])  # not dominated
        # every valid row of the sample is dominated by (or equal to) a kept row
        for j in np.flatnonzero(g.mask[i]):
            assert np.any(np.all(g.losses[i, j] <= R, axis=1))
    full = solve(g, strategy="full")
    pruned = solve(g, strategy="prune")
    assert pruned.info["rows"] == rows.shape[0]
    assert pruned.value == pytest.approx(full.value, abs=1e-12)


def test_binary_with_nonunit_value_prunes():
    g = Game(2.0 * (np.random.default_rng(0).random((30, 10, 3)) < 0.5))
    assert g.bound == 2.0 and g.is_binary
    res = solve(g)
    assert res.info["strategy"] == "prune"
    check_certificate(g, res, tol=2e-9)
    assert res.value == pytest.approx(solve(g, strategy="full").value, abs=1e-12)


def test_constraint_generation_on_real_losses():
    g = advgame.examples.random_game(200, 60, 6, kind="real", seed=3, weighted=True)
    res = solve(g)
    assert res.info["strategy"] == "cg"
    check_certificate(g, res)
    assert res.info["rows"] < 200 * 60 / 3
    assert res.value == pytest.approx(solve(g, strategy="full").value, abs=1e-9)


def test_zero_weight_samples_get_a_best_response():
    losses, mask, _ = make_arrays(6, 4, 3, "real", 9, True, False)
    sw = np.array([1.0, 0.0, 2.0, 0.0, 1.0, 1.0])
    g = Game(losses, mask=mask, sample_weights=sw)
    res = solve(g)
    check_certificate(g, res)
    ref = solve(Game(losses[sw > 0], mask=mask[sw > 0], sample_weights=sw[sw > 0]))
    assert res.value == pytest.approx(ref.value, abs=1e-12)


def test_single_classifier_and_single_attack():
    g = Game(np.array([[[0.3], [0.7]], [[0.1], [0.0]]]))
    res = solve(g)
    assert res.value == pytest.approx(0.5 * 0.7 + 0.5 * 0.1)
    check_certificate(g, res)
    g1 = Game(np.array([[[1.0, 0.0, 0.5]]]))
    r1 = solve(g1)
    assert r1.value == pytest.approx(0.0) and np.asarray(r1.weights)[1] == pytest.approx(1.0)


def test_torch_game_returns_tensors(nx64):
    params = dict(n=20, m=6, L=4, kind="real", seed=1, masked=True, weighted=True)
    losses, mask, sw = make_arrays(**params)
    g = Game(nx64(losses), mask=nx64(mask), sample_weights=nx64(sw))
    res = solve(g)
    ref = solve(Game(losses, mask=mask, sample_weights=sw))
    assert res.value == pytest.approx(ref.value, abs=1e-12)
    if nx64.is_torch:
        assert isinstance(res.weights, nx64.torch.Tensor) and res.weights.dtype == nx64.torch.float64
        assert isinstance(res.adversary, nx64.torch.Tensor)
    assert g.duality_gap(res.weights, res.adversary) <= 1e-9


def test_bad_options():
    g = advgame.examples.motivating_game()
    with pytest.raises(ValueError, match="method must be one of"):
        solve(g, method="simplex")
    with pytest.raises(ValueError, match="solver must be one of"):
        solve(g, solver="gurobi")
    with pytest.raises(ValueError, match="strategy must be one of"):
        solve(g, strategy="magic")
    with pytest.raises(ValueError, match="tol must be a positive number"):
        solve(g, tol=0)
    with pytest.raises(ValueError, match="strategy='prune' needs a 0/1 game"):
        solve(advgame.examples.random_game(3, 3, 2, kind="real", seed=0), strategy="prune")
    with pytest.raises(TypeError, match="game must be an advgame.Game"):
        solve(np.zeros((1, 1, 1)))
    with pytest.raises(TypeError, match="unexpected keyword"):
        solve(g, steps=3)


def test_result_object():
    res = solve(advgame.examples.motivating_game())
    d = res.to_dict()
    assert d["value"] == pytest.approx(0.75) and d["status"] == "optimal"
    assert "gap" in repr(res) and res.success
    assert res.rows == res.info["rows"]  # info entries read as attributes
    with pytest.raises(AttributeError):
        res.no_such_field
