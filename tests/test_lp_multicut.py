"""K-group multi-cut constraint generation (issue 21, item 4): the fused best-response pass
(compiled and numpy paths against each other and the definition), the master's per-group
row scaling, its hot start, cut dropping, and the solver against the full LP on real-valued
games for every grouping (one aggregated cut, a few groups, one group per sample)."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_lp_property import check, games

import advgame
from advgame import Game, SolverWarning, solve
from advgame.solvers.lp import cuts, driver


@pytest.fixture
def jit_on_small_games(monkeypatch):
    """Lift the size gate (advgame._jit.MIN_ENTRIES) so that the compiled pass runs on small games."""
    pytest.importorskip("numba")
    monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "0")


def _real_game(N, m, L, *, dtype=np.float64, masked=False, weighted=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((N, m, L)).astype(dtype)
    mask = sw = None
    if masked:
        mask = rng.random((N, m)) < 0.6
        mask[np.arange(N), rng.integers(0, m, N)] = True
    if weighted:
        sw = rng.random(N) + 0.05
        sw[rng.random(N) < 0.1] = 0.0
    return Game(x, mask=mask, sample_weights=sw)


def _with(monkeypatch, **options):
    """``strategy="cuts"`` solves with these options of :func:`solve_multicut`."""
    monkeypatch.setattr(driver, "solve_multicut", functools.partial(cuts.solve_multicut, **options))


# ------------------------------------------------------------------ the fused pass
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_best_response_rows_equal_the_numpy_path(jit_on_small_games, dtype, masked):
    g = _real_game(300, 40, 7, dtype=dtype, masked=masked, seed=int(masked))
    view = g.view()
    lam = np.random.default_rng(1).dirichlet(np.ones(7))
    R1, mx1, j1, rows1 = cuts.best_response_rows(view, lam, use_jit=True)
    R0, mx0, j0, rows0 = cuts.best_response_rows(view, lam, use_jit=False)
    assert j1.dtype == j0.dtype == np.int64 and np.array_equal(j1, j0)
    assert np.array_equal(rows1, rows0)  # gathered from the same entries
    np.testing.assert_allclose(mx1, mx0, rtol=0, atol=1e-13)
    assert R1 == pytest.approx(R0, abs=1e-13)


@pytest.mark.parametrize("use_jit", [True, False])
def test_fused_best_response_rows_are_the_definition(jit_on_small_games, use_jit):
    g = _real_game(120, 25, 5, masked=True, seed=4)
    x, mask, w = np.asarray(g.losses), g.view().mask_numpy, g.view().sample_weights_float64
    lam = np.random.default_rng(2).dirichlet(np.ones(5))
    R, mx, jstar, rows = cuts.best_response_rows(g.view(), lam, use_jit=use_jit)
    s = np.where(mask, x @ lam, -np.inf)
    assert np.array_equal(jstar, np.argmax(s, axis=1))
    assert np.all(mask[np.arange(120), jstar])
    np.testing.assert_allclose(mx, s.max(axis=1), atol=1e-14)
    assert np.array_equal(rows, x[np.arange(120), jstar])
    assert R == pytest.approx(w @ s.max(axis=1), abs=1e-14)


def test_compiled_pass_on_request_without_kernels_is_an_error(monkeypatch):
    monkeypatch.setenv("ADVGAME_JIT", "0")
    with pytest.raises(ValueError, match="use_jit=True needs numba"):
        cuts.best_response_rows(_real_game(10, 4, 3).view(), np.full(3, 1 / 3), use_jit=True)


def test_solve_is_the_same_on_both_paths(monkeypatch, jit_on_small_games):
    g = _real_game(400, 30, 8, seed=5, weighted=True)
    r1 = solve(g, strategy="cuts")
    monkeypatch.setenv("ADVGAME_JIT", "0")
    r0 = solve(g, strategy="cuts")
    assert r1.status == r0.status == "optimal"
    assert r1.nit == r0.nit
    np.testing.assert_allclose(r1.weights, r0.weights, atol=1e-9)
    assert r1.value == pytest.approx(r0.value, abs=1e-12)


# ------------------------------------------------------------------ the master
def _master_with_cuts(K, L, rng, scale=1.0):
    W = rng.random(K) * 1e-3 + 1e-4  # small group weights: unscaled rows would be tiny
    lp = cuts._MultiMaster(L, W, scale, 1e-10, None)
    G = [rng.random((K, L)) * W[:, None] for _ in range(3)]  # weighted sums of losses in [0, 1]
    return lp, W, G


def test_cuts_are_scaled_by_their_group_weight():
    """The master's coefficients are the cuts divided by their group's weight (weighted mean
    losses, in [0, 1] here), and its solution is the LP it stands for."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(0)
    K, L = 6, 4
    lp, W, G = _master_with_cuts(K, L, rng)
    for c, Gc in enumerate(G):
        lp.add_cuts(np.arange(K), c, Gc)
    ok, _, lam, r, y = lp.solve()
    assert ok
    a = lp.h.getLp().a_matrix_
    vals = np.asarray(a.value_)[np.asarray(a.start_)[lp.first]:]  # the cuts' columns
    cut_coef = vals.reshape(-1, L + 1)[:, 1:]  # (group row 1, then L loss coefficients)
    np.testing.assert_allclose(cut_coef, np.vstack(G) / np.tile(W, 3)[:, None], rtol=1e-15)
    assert cut_coef.max() <= 1.0 and cut_coef.max() > 0.5
    # the master: min over the simplex of sum_g max_c G_gc . lam (an independent LP)
    A = np.vstack([np.hstack([Gc, -np.eye(K)]) for Gc in G])
    ref = linprog(np.r_[np.zeros(L), np.ones(K)], A_ub=A, b_ub=np.zeros(3 * K),
                  A_eq=np.r_[np.ones(L), np.zeros(K)][None], b_eq=[1.0],
                  bounds=[(0, None)] * L + [(None, None)] * K, method="highs")
    assert float(W @ r) == pytest.approx(ref.fun, abs=1e-12)
    assert lam.sum() == pytest.approx(1.0, abs=1e-12) and lam.min() >= -1e-12
    np.testing.assert_allclose(r, np.max([Gc @ lam / W for Gc in G], axis=0), atol=1e-9)
    Dk, mass = lp.adversary_losses(y)
    np.testing.assert_allclose(mass, W, rtol=1e-8)  # the multipliers of each group sum to its weight
    assert float(Dk.min()) == pytest.approx(ref.fun, abs=1e-12)  # no duality gap on the master


def test_master_is_hot_started_and_keeps_its_basis_when_cuts_are_dropped():
    rng = np.random.default_rng(1)
    K, L = 200, 10
    lp, W, G = _master_with_cuts(K, L, rng)
    lp.add_cuts(np.arange(K), 0, G[0])
    lp.add_cuts(np.arange(K), 1, G[1])
    assert lp.solve()[0]
    lp.add_cuts(np.arange(K), 2, G[2])
    assert lp.h.getBasis().valid  # rows added to the solved model: its basis is kept
    ok, _, _, r, y = lp.solve()
    hot = lp.h.getInfo().simplex_iteration_count
    cold = cuts._MultiMaster(L, W, 1.0, 1e-10, None)
    for c in range(3):
        cold.add_cuts(np.arange(K), c, G[c])
    ok_c, _, _, r_c, _ = cold.solve()
    assert ok and ok_c and float(W @ r) == pytest.approx(float(W @ r_c), abs=1e-12)
    assert hot < cold.h.getInfo().simplex_iteration_count
    n = lp.n_cuts
    assert lp.drop(y, 1) == int((y <= 0).sum()) > 0 and lp.n_cuts == n - int((y <= 0).sum())
    assert lp.h.getBasis().valid
    ok, _, _, r2, _ = lp.solve()  # zero-multiplier cuts: the same optimum, no pivot
    assert ok and float(W @ r2) == pytest.approx(float(W @ r), abs=1e-12)
    assert lp.h.getInfo().simplex_iteration_count == 0


# ------------------------------------------------------------------ the solver
@pytest.mark.parametrize("options", [
    dict(groups=1), dict(groups=7), dict(), dict(groups=10**6),
    dict(drop_age=1), dict(drop_age=None), dict(use_box=False),
])
def test_multicut_matches_the_full_lp(monkeypatch, options):
    g = advgame.examples.random_game(300, 40, 6, kind="real", seed=3, weighted=True)
    _with(monkeypatch, **options)
    res = solve(g, strategy="cuts")
    full = solve(g, strategy="full")
    assert res.status == "optimal" and res.info["strategy"] == "cuts"
    assert res.gap <= 1e-9 and res.value == pytest.approx(full.value, abs=1e-9)
    assert res.value == pytest.approx(g.risk(res.weights), abs=1e-12)
    assert res.lower_bound == pytest.approx(g.defender_value(res.adversary)[0], abs=1e-12)


def test_dropping_cuts_keeps_fewer_and_still_certifies(monkeypatch):
    g = _real_game(500, 30, 8, seed=6)
    msgs = {}
    for age in (None, 1, cuts.DROP_AGE):
        _with(monkeypatch, drop_age=age)
        res = solve(g, strategy="cuts")
        assert res.status == "optimal" and res.gap <= 1e-9
        kept = int(res.message.split(" cuts kept")[0].rsplit(" ", 1)[1])
        dropped = int(res.message.split(" dropped")[0].rsplit(" ", 1)[1])
        msgs[age] = (kept, dropped, res.value)
    assert msgs[None][1] == 0 and msgs[1][1] > 0 and msgs[cuts.DROP_AGE][1] > 0
    assert msgs[1][0] < msgs[None][0]
    assert msgs[1][2] == pytest.approx(msgs[None][2], abs=1e-9)


def test_default_groups():
    assert [cuts.default_groups(n) for n in (1, 7, 1000, 10**5)] == [1, 7, 1000, cuts.MAX_GROUPS]
    # about sqrt(entries) / 10: 1000 for the N = 10^4 sigmoid benchmark, at most one per sample
    assert [cuts.default_groups(n, n * 1000 * 10) for n in (10, 1000, 10**4, 10**5)] == [10, 316, 1000, 1024]
    assert cuts.default_groups(10**9, 10**18) == cuts.MAX_GROUPS


def test_zero_weight_samples_play_their_best_response(monkeypatch):
    g = _real_game(200, 10, 5, weighted=True, seed=8)
    res = solve(g, strategy="cuts")
    w = g.view().sample_weights_float64
    idle = np.flatnonzero(w == 0)
    assert idle.size and res.status == "optimal"
    Q = np.asarray(res.adversary)
    br = g.best_response(res.weights)
    assert np.all(Q[idle, br[idle]] == 1.0)


def test_unreachable_tol_is_reported(monkeypatch):
    """A gap below float64 rounding, far below HiGHS's tolerances: the solver stops (stalled,
    or out of rounds) with the status saying so and an honest certificate."""
    g = _real_game(200, 20, 6, seed=9)
    with pytest.warns(SolverWarning, match="optimal_inaccurate|max_steps"):
        res = solve(g, strategy="cuts", tol=1e-300, max_iter=60)
    assert res.status in ("optimal_inaccurate", "max_steps") and res.nit <= 60
    assert res.gap < 1e-9
    assert res.value == pytest.approx(g.risk(res.weights), abs=1e-12)
    assert res.lower_bound == pytest.approx(g.defender_value(res.adversary)[0], abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(games(), st.sampled_from([1, 2, 5, 10**6]), st.sampled_from([1, 3, None]), st.booleans())
def test_multicut_on_random_games(monkeypatch_session, case, groups, drop_age, use_box):
    """Every game the LP property test draws, by multi-cut generation with any grouping:
    certified and within tol of the full LP (the certificate recomputed from the raw tensor)."""
    losses, mask, sw, _ = case
    with monkeypatch_session.context() as mp:
        _with(mp, groups=groups, drop_age=drop_age, use_box=use_box)
        check(losses, mask, sw, "cuts")


@pytest.fixture(scope="module")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_cut_kernels_load_lazily_and_switch_off(monkeypatch, jit_on_small_games):
    from advgame import _jit

    assert _jit.kernels(name="_kernels_cuts").br_rows64 is not None
    monkeypatch.setenv("ADVGAME_JIT", "0")
    assert _jit.kernels(name="_kernels_cuts") is None
    monkeypatch.setenv("ADVGAME_JIT", "1")
    with pytest.raises(ValueError, match="name must be"):
        _jit.kernels(name="os")


# found by the property test: the new best weights were certified by the previous master's
# adversary, but no cut was left to add (both best responses already in the master)
_STALL = "3381672137624746a74235983957112978645694968573521075984a68422261081556598665a2760398030811a43044501243639a126812579981a61364488584a6a0967253109723581a926471566792246a77a33437a25759791218a08793721707359254252863a377309a2246aaa264212412065254794629623223853437133272318472038838"


def test_stops_when_the_last_master_certifies_the_new_best_weights():
    x = np.array([10 if c == "a" else int(c) for c in _STALL], dtype=np.float64).reshape(2, 2, 69) / 10
    g = Game(x, sample_weights=np.array([0.94356662, 0.35217467]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverWarning)
        res = solve(g, strategy="cuts")
    assert res.status == "optimal" and res.gap <= 1e-9
    assert res.value == pytest.approx(solve(g, strategy="full").value, abs=1e-9)
