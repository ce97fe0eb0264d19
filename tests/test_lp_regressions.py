"""Regression tests of issue 9 for the Game and the exact LP (each failed on the old code)."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import advgame
from advgame import Game, solve
from advgame.result import SolverWarning


def honest(game, res):
    """The reported certificate is the game's own, whatever the status."""
    lam = np.asarray(res.weights, dtype=np.float64)
    assert lam.min() >= 0 and abs(lam.sum() - 1) < 1e-12
    assert res.value == pytest.approx(game.risk(lam), rel=1e-12, abs=1e-300)
    lower = game.defender_value(res.adversary)[0]
    assert res.lower_bound == pytest.approx(lower, rel=1e-12, abs=1e-300)
    assert res.gap == pytest.approx(res.value - res.lower_bound, rel=1e-12, abs=1e-300)


# ------------------------------------------------------------------ section 1: wrong answers
def test_wide_binary_game_is_solved_exactly():
    """L = 55: float64 packing lost bit 54 and reported 'optimal', value 0 (true 0.5)."""
    x = np.zeros((1, 2, 55))
    x[0, 0, [0, 54]] = 1
    x[0, 1, 1:54] = 1
    g = Game(x)
    res = solve(g)
    assert res.status == "optimal"
    assert res.value == pytest.approx(0.5, abs=1e-12)
    assert g.risk(res.weights) == pytest.approx(0.5, abs=1e-12)
    honest(g, res)


@pytest.mark.parametrize("L", [54, 58, 62])
def test_wide_random_binary_games_match_the_full_lp(L):
    rng = np.random.default_rng(L)
    for _ in range(5):
        x = (rng.random((2, 3, L)) < rng.random(L)).astype(float)
        g = Game(x)
        a = solve(g, strategy="prune")
        b = solve(g, strategy="full")
        assert a.status == b.status == "optimal"
        assert a.value == pytest.approx(b.value, abs=1e-9)
        honest(g, a)


def test_sample_code_keys_do_not_overflow():
    """N * 2^L >= 2^63 overflowed the int64 (sample, code) keys."""
    g = Game(np.ones((8193, 1, 50)))
    res = solve(g)
    assert res.status == "optimal" and res.value == pytest.approx(1.0, abs=1e-12)
    honest(g, res)


@pytest.mark.parametrize("L", [60, 62])
def test_all_ones_wide_games(L):
    g = Game(np.ones((3, 2, L)))
    res = solve(g)
    assert res.status == "optimal" and res.value == pytest.approx(1.0, abs=1e-12)


def test_huge_sample_weights_are_normalized_without_overflow():
    rng = np.random.default_rng(0)
    x = rng.random((5, 3, 2))
    g = Game(x, sample_weights=[1e308] * 5)
    np.testing.assert_allclose(g.sample_weights, 0.2, rtol=1e-15)
    ref = Game(x)
    assert g.risk([0.5, 0.5]) == pytest.approx(ref.risk([0.5, 0.5]), abs=1e-15)
    res = solve(g)
    assert res.status == "optimal" and res.value == pytest.approx(solve(ref).value, abs=1e-12)


def test_infinite_tol_is_refused():
    g = advgame.examples.random_game(seed=1)
    with pytest.raises(ValueError, match="tol must be a positive number, finite; got inf"):
        solve(g, method="lp", tol=float("inf"))


def test_float32_game_certificate_is_computed_in_float64():
    rng = np.random.default_rng(3)
    x = rng.random((50, 4, 3)).astype(np.float32)
    g = Game(x)
    res = solve(g, strategy="cg")
    lam = np.asarray(res.weights, dtype=np.float64)
    value = float((np.einsum("ijk,k->ij", x.astype(np.float64), lam).max(axis=1)).mean())
    assert res.value == pytest.approx(value, abs=1e-14)
    assert res.status == "optimal" and 0 <= res.gap <= 1e-9


# ----------------------------------------------------------- section 2: fallbacks, not crashes
def test_time_limit_returns_a_result_with_an_honest_certificate():
    g = advgame.examples.random_game(seed=1)
    with pytest.warns(SolverWarning, match="time_limit"):
        res = solve(g, time_limit=1e-9)
    assert res.status == "time_limit"
    np.testing.assert_allclose(res.weights, np.full(g.n_classifiers, 1 / g.n_classifiers))
    honest(g, res)


@pytest.mark.parametrize("strategy", ["cg", "full"])
def test_time_limit_on_real_valued_strategies(strategy):
    g = advgame.examples.random_game(30, 5, 4, kind="real", seed=2)
    init = np.r_[1.0, np.zeros(3)]
    with pytest.warns(SolverWarning):
        res = solve(g, strategy=strategy, time_limit=1e-9, init=init)
    assert res.status == "time_limit"
    np.testing.assert_allclose(res.weights, init)  # the best weights so far: the warm start
    honest(g, res)


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_extreme_scales_work(scale):
    g = Game(np.full((2, 2, 2), scale))
    res = solve(g)
    assert res.status == "optimal" and res.value == pytest.approx(scale, rel=1e-12)
    x = np.random.default_rng(0).random((20, 4, 3))
    g1, gs = Game(x), Game(x * scale)
    r1, rs = solve(g1, strategy="cg"), solve(gs, strategy="cg", tol=1e-9 * scale)
    assert rs.status == "optimal"
    assert rs.value / scale == pytest.approx(r1.value, rel=1e-9)
    honest(gs, rs)


def test_unknown_cvxpy_solver_is_a_value_error_naming_the_choices():
    g = advgame.examples.random_game(seed=1)
    with pytest.raises(ValueError, match=r"cvxpy_solver must be one of the installed cvxpy solvers \(.*HIGHS"):
        solve(g, solver="cvxpy", cvxpy_solver="NOPE")
    with pytest.raises(TypeError, match="cvxpy_solver must be a string"):
        solve(g, solver="cvxpy", cvxpy_solver=3)


def test_adversary_from_empty_duals():
    """np.bincount of an empty input is int64: dividing it in place crashed."""
    from advgame.solvers.lp.highs import adversary_from_duals

    g = advgame.examples.random_game(seed=1)
    e = np.zeros(0, np.int64)
    N, m, L = g.shape
    Q = adversary_from_duals(g.view(), np.full(L, 1 / L), e, e, np.zeros(0), np.ones(N, bool))
    assert Q.dtype == np.float64
    np.testing.assert_allclose(Q.sum(axis=1), 1.0)


def test_meta_tensor_is_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="meta tensors are unsupported"):
        Game(torch.zeros((2, 2, 2), device="meta"))


# ------------------------------------------------------------------- section 4: speed traps
def test_presence_table_is_sized_from_the_rows_present():
    """N=2, m=3, L=26 allocated a 2^27-entry table (512 MB) for 6 rows."""
    x = (np.random.default_rng(0).random((2, 3, 26)) < 0.5).astype(float)
    g = Game(x)
    tracemalloc.start()
    try:
        res = solve(g)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.status == "optimal"
    assert peak < 32 * 2**20


def test_auto_uses_constraint_generation_when_pruning_removes_little():
    rng = np.random.default_rng(0)
    g = Game((rng.random((3000, 2, 30)) < 0.5).astype(float))
    res = solve(g)
    assert res.info["strategy"] == "cg" and res.status == "optimal"
    assert res.info["rows_kept"] > 0.9 * res.info["rows_total"]
    assert res.value == pytest.approx(solve(g, strategy="prune").value, abs=1e-9)


def test_auto_prunes_when_pruning_pays():
    g = advgame.examples.random_game(200, 50, 5, seed=0)
    assert solve(g).info["strategy"] == "prune"


# ------------------------------------------------------------- section 5: argument messages
@pytest.mark.parametrize("bound", ["2", True])
def test_bound_of_wrong_type(bound):
    with pytest.raises(TypeError, match="bound must be a real number"):
        Game(np.zeros((1, 1, 1)), bound=bound)


def test_masked_array_losses_are_refused():
    x = np.ma.masked_array(np.zeros((2, 2, 1)), mask=np.zeros((2, 2, 1), bool))
    with pytest.raises(TypeError, match="numpy masked array"):
        Game(x)


@pytest.mark.parametrize("kw, name", [(dict(tol="abc"), "tol"), (dict(max_iter="x"), "max_iter"),
                                      (dict(max_iter=1.7), "max_iter"), (dict(max_rounds="x"), "max_rounds"),
                                      (dict(max_rounds=1.7), "max_rounds"), (dict(time_limit="1"), "time_limit")])
def test_option_types(kw, name):
    g = advgame.examples.motivating_game()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match=f"^{name} must be"):
            solve(g, **kw)


def test_max_rounds_is_a_deprecated_alias_of_max_iter():
    g = advgame.examples.random_game(20, 5, 4, kind="real", seed=0)
    with pytest.warns(DeprecationWarning, match="max_rounds is deprecated; use max_iter"):
        a = solve(g, strategy="cg", max_rounds=50)
    b = solve(g, strategy="cg", max_iter=50)
    assert a.value == b.value and a.nit == b.nit
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="max_iter only"):
        solve(g, max_iter=3, max_rounds=3)


def test_init_warm_starts_constraint_generation():
    g = advgame.examples.random_game(60, 8, 5, kind="real", seed=4)
    cold = solve(g, strategy="cg")
    warm = solve(g, strategy="cg", init=cold.weights)
    assert warm.status == "optimal" and warm.value == pytest.approx(cold.value, abs=1e-9)
    assert warm.nit <= cold.nit
    with pytest.raises(ValueError, match="init must lie on the probability simplex"):
        solve(g, init=np.full(5, 0.5))
    with pytest.raises(ValueError, match=r"init must have shape \(5,\)"):
        solve(g, init=np.ones(3) / 3)


@pytest.mark.parametrize("strategy", ["prune", "cg", "full"])
def test_solver_failure_returns_an_honest_result(monkeypatch, strategy):
    """Every fallback path returns a Result (it crashed in _adversary_from_duals)."""
    from advgame.solvers.lp import highs

    monkeypatch.setattr(highs.EpigraphLP, "solve", lambda self: (False, "Solve error", None, None, None))
    g = advgame.examples.random_game(20, 4, 3, seed=5)
    with pytest.warns(SolverWarning, match="solver_error"):
        res = solve(g, strategy=strategy)
    assert res.status == "solver_error" and "HiGHS: Solve error" in res.message
    honest(g, res)


@pytest.mark.parametrize("path", ["numpy", "fused"])
def test_wrong_packing_cannot_look_certified(monkeypatch, path):
    """The certificate is computed on the game, not on the packed rows: a broken reduction
    gives a non-optimal status, never 'optimal' with a wrong value (both the numpy path and
    the fused scan that replaces it)."""
    from advgame.solvers.lp import driver, pruning

    if path == "numpy":
        monkeypatch.setenv("ADVGAME_JIT", "0")
        real = pruning.pack_codes
        monkeypatch.setattr(pruning, "pack_codes", lambda view: real(view) & ~np.int64(1 << 2))  # drop classifier 2
    else:
        real_scan = driver.scan_binary

        def broken(view):
            ui, uc, uj = real_scan(view)
            return ui, uc & ~np.int64(1 << 2), uj  # drop classifier 2

        monkeypatch.setattr(driver, "scan_binary", broken)
    x = np.zeros((1, 2, 3))
    x[0, 0, 2] = 1
    x[0, 1, :2] = 1
    g = Game(x)
    with pytest.warns(SolverWarning):
        res = solve(g, strategy="prune")
    assert res.status != "optimal"
    honest(g, res)
    assert res.gap > 0.1


def test_default_tolerance_follows_the_losses_scale():
    """A game of tiny losses is solved to the same optimum, not certified at once (review
    finding: an absolute 1e-9 tolerance called any answer optimal below ~1e-9)."""
    x = np.random.default_rng(2).random((40, 3, 20))
    ref = advgame.solve(advgame.Game(x))
    for scale in (1e-6, 1e-12):
        res = advgame.solve(advgame.Game(x * scale))
        assert res.status == "optimal"
        assert res.value / scale == pytest.approx(ref.value, abs=1e-8)
        assert res.gap <= 1e-9 * scale * x.max()
