"""MNE21 Algorithm 1 and the entropic accelerated projected gradient."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _games import game_params, make_arrays, make_game
from hypothesis import given, settings

import advgame
from advgame import Game, solve
from advgame.solvers.entropic import entropic_objective


def lp_value(game):
    return solve(game).value


# ---------------------------------------------------------------- Algorithm 1
@given(game_params())
def test_prop6_bound_holds(params):
    """MNE21 Prop. 6 with the exact oracle (delta = 0): min_t R(lam_t) - R* <= 2 M sqrt(L/T)."""
    g = make_game(params)
    T = 50
    res = solve(g, method="oracle", max_iter=T)
    R_star = lp_value(g)
    bound = 2 * g.bound * math.sqrt(params["L"]) / math.sqrt(T)
    assert res.info["bound"] == pytest.approx(bound)
    assert min(res.history) - R_star <= bound + 1e-12
    assert res.value - R_star <= res.info["bound_run"] + 1e-12
    # the certificate is valid: D(Qbar) <= R* <= value
    assert res.lower_bound <= R_star + 1e-12 <= res.value + 2e-12
    assert g.duality_gap(res.weights, res.adversary) == pytest.approx(res.gap, abs=1e-12)


@given(game_params())
def test_oracle_history_and_iterates(params):
    g = make_game(params)
    res = solve(g, method="oracle", max_iter=30)
    assert res.nit == 30 and len(res.history) == 30
    assert res.history[0] == pytest.approx(g.risk(np.full(params["L"], 1 / params["L"])), abs=1e-12)
    assert res.value == pytest.approx(min(res.history), abs=0)
    assert g.risk(res.weights) == pytest.approx(res.value, abs=1e-12)
    w = np.asarray(res.weights)
    assert w.min() >= 0 and abs(w.sum() - 1) < 1e-12
    assert res.status == "steps_completed"


def test_oracle_paper_step_size_and_default_steps():
    g = advgame.examples.random_game(20, 5, 4, seed=0)
    res = solve(g, method="oracle")
    assert res.nit == 1000
    assert res.info["step_size"] == pytest.approx(2 / (1 * math.sqrt(4 * 1000)))


def test_oracle_tol_stops_with_certificate():
    g = advgame.examples.motivating_game()
    res = solve(g, method="oracle", max_iter=20000, tol=1e-3)
    assert res.status == "optimal" and res.gap <= 1e-3 and res.nit < 20000
    assert res.value - 0.75 <= 1e-3


def test_oracle_max_steps_warns():
    g = advgame.examples.random_game(50, 10, 5, kind="real", seed=1)
    with pytest.warns(advgame.SolverWarning, match="max_steps: max_iter=5 iterations did not reach tol"):
        res = solve(g, method="oracle", max_iter=5, tol=1e-12)
    assert res.status == "max_steps" and res.gap > 1e-12


def test_custom_oracle_equals_default():
    g = advgame.examples.random_game(40, 8, 5, kind="real", seed=2, weighted=True)

    def oracle(lam):
        Q = g.best_response_strategy(lam)
        return g.classifier_losses(Q)

    a = solve(g, method="oracle", max_iter=40)
    b = solve(g, method="oracle", max_iter=40, oracle=oracle)
    np.testing.assert_allclose(b.history, a.history, atol=1e-14)
    np.testing.assert_allclose(b.weights, a.weights, atol=1e-14)
    assert b.adversary is None
    assert b.gap == pytest.approx(a.gap, abs=1e-12)
    assert b.info["game_risk"] == pytest.approx(b.value, abs=1e-12)


def test_approximate_oracle_bound_includes_delta():
    g = advgame.examples.random_game(30, 8, 4, kind="real", seed=3)
    res = solve(g, method="oracle", max_iter=100,
                oracle=lambda lam: g.classifier_losses(g.best_response_strategy(lam)), oracle_delta=0.05)
    assert res.info["bound"] == pytest.approx(0.1 + 2 * math.sqrt(4) / 10)


def test_oracle_bad_input():
    g = advgame.examples.motivating_game()
    with pytest.raises(ValueError, match=r"max_iter must lie in \[1, inf\)"):
        solve(g, method="oracle", max_iter=0)
    with pytest.raises(ValueError, match=r"tol must lie in \(0, inf\)"):
        solve(g, method="oracle", tol=-1)
    with pytest.raises(ValueError, match=r"step_size must lie in \(0, inf\)"):
        solve(g, method="oracle", step_size=0)
    with pytest.raises(TypeError, match="oracle must be callable"):
        solve(g, method="oracle", oracle=3)
    with pytest.raises(ValueError, match=r"oracle must return per-classifier losses of shape \(2,\)"):
        solve(g, method="oracle", max_iter=2, oracle=lambda lam: np.zeros(3))
    with pytest.raises(ValueError, match="oracle returned NaN"):
        solve(g, method="oracle", max_iter=2, oracle=lambda lam: np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match=r"oracle_delta must lie in \[0, inf\)"):
        solve(g, method="oracle", oracle_delta=-1)


# ---------------------------------------------------------------- entropic
@given(game_params())
def test_entropic_sandwich(params):
    """R(lam) - alpha log m <= F_alpha(lam) <= R(lam) for every lam (per-sample log-sum-exp bounds)."""
    losses, mask, sw = make_arrays(**params)
    g = Game(losses, mask=mask, sample_weights=sw)
    lam = np.random.default_rng(params["seed"] % 1000).dirichlet(np.ones(params["L"]))
    w = g.sample_weights
    m_i = mask.sum(axis=1) if mask is not None else np.full(params["n"], params["m"])
    for alpha in (1.0, 0.1, 0.01):
        F = entropic_objective(g, lam, alpha)
        R = g.risk(lam)
        assert F <= R + 1e-12
        assert F >= R - alpha * float(w @ np.log(m_i)) - 1e-12


@settings(max_examples=20)
@given(game_params())
def test_entropic_converges_to_lp_as_alpha_shrinks(params):
    """R(lam_alpha) - R* <= alpha log m and |F_alpha(lam_alpha) - R*| <= alpha log m
    (derived in advgame.solvers.entropic), checked at the FISTA solution, whose own
    optimization error is bounded by its certified gap."""
    g = make_game(params)
    R_star = lp_value(g)
    for alpha in (0.1, 0.01, 0.001):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = solve(g, method="entropic", temperature=alpha, max_iter=3000, tol=1e-9)
        bias = res.info["bias_bound"]
        assert res.value - R_star <= bias + 1e-7
        assert abs(res.regularized_value - R_star) <= bias + 1e-7
        assert res.lower_bound <= R_star + 1e-12 <= res.value + 2e-12
        assert res.regularized_value <= res.value + 1e-12


def test_entropic_soft_adversary_certificate():
    g = advgame.examples.random_game(60, 15, 5, kind="binary", seed=7, mask_fraction=0.2, weighted=True)
    res = solve(g, method="entropic", temperature=0.01, max_iter=400)
    Q = np.asarray(res.adversary)
    np.testing.assert_allclose(Q.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(Q[~g.mask] == 0)
    assert g.defender_value(Q)[0] == pytest.approx(res.lower_bound, abs=1e-12)
    assert g.duality_gap(res.weights, Q) == pytest.approx(res.gap, abs=1e-12)
    assert g.risk(res.weights) == pytest.approx(res.value, abs=1e-12)
    assert res.value == pytest.approx(min(res.history), abs=0)
    w = np.asarray(res.weights)
    assert w.min() >= 0 and abs(w.sum() - 1) < 1e-12


def test_entropic_tol_and_warning():
    g = advgame.examples.random_game(80, 20, 6, kind="real", seed=8)
    res = solve(g, method="entropic", temperature=1e-3, max_iter=2000, tol=1e-4)
    assert res.status == "optimal" and res.gap <= 1e-4
    with pytest.warns(RuntimeWarning, match="entropic.*max_steps"):
        res = solve(g, method="entropic", temperature=0.5, max_iter=3, tol=1e-9)
    assert res.status == "max_steps"


def test_entropic_bad_input():
    g = advgame.examples.motivating_game()
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature must"):
            solve(g, method="entropic", temperature=bad)
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        solve(g, method="entropic", max_iter=2.5)


def test_entropic_motivating_example():
    res = solve(advgame.examples.motivating_game(), method="entropic", temperature=1e-3, max_iter=500, tol=1e-8)
    assert res.status == "optimal"
    assert res.value == pytest.approx(0.75, abs=1e-8)


# ---------------------------------------------------------------- backends
@pytest.mark.parametrize("method,opts", [("oracle", {"max_iter": 60}),
                                         ("entropic", {"max_iter": 60, "temperature": 0.02})])
def test_numpy_and_torch_float64_iterates_agree(method, opts):
    torch = pytest.importorskip("torch")
    params = dict(n=40, m=12, L=5, kind="real", seed=21, masked=True, weighted=True)
    g = make_game(params)
    gt = g.to_torch(dtype=torch.float64)
    a = solve(g, method=method, **opts)
    b = solve(gt, method=method, **opts)
    np.testing.assert_allclose(np.asarray(b.history), np.asarray(a.history), atol=1e-10, rtol=0)
    np.testing.assert_allclose(b.weights.numpy(), a.weights, atol=1e-10, rtol=0)
    np.testing.assert_allclose(b.adversary.numpy(), a.adversary, atol=1e-10, rtol=0)
    assert b.weights.dtype == torch.float64 and b.adversary.dtype == torch.float64
    assert abs(a.gap - b.gap) <= 1e-10


@pytest.mark.parametrize("method", ["oracle", "entropic"])
def test_float32_torch_games(method):
    torch = pytest.importorskip("torch")
    g = advgame.examples.random_game(50, 10, 4, kind="binary", seed=5, mask_fraction=0.2)
    gt = g.to_torch(dtype=torch.float32)
    res = solve(gt, method=method, max_iter=300, **({"temperature": 0.01} if method == "entropic" else {}))
    assert res.weights.dtype == torch.float32 and res.weights.device.type == "cpu"
    assert res.adversary.dtype == torch.float32
    w = res.weights.double()
    assert w.min() >= 0 and abs(float(w.sum()) - 1) < 1e-6
    R_star = lp_value(g)
    assert res.lower_bound - 1e-5 <= R_star <= res.value + 1e-5
    assert g.risk(w.numpy() / w.sum().item()) == pytest.approx(res.value, abs=1e-5)
