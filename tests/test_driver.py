"""The shared driver of the first-order solvers (advgame.solvers.driver): one meaning
of nit, one stopping rule, warm start, callback, deprecated names, argument checks,
and the float64 certificate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import advgame
from advgame import solve
from advgame.solvers.driver import SolverState
from advgame.solvers.entropic import entropic_objective

METHODS = [("oracle", {}), ("entropic", {"temperature": 0.01})]
IDS = ["oracle", "entropic"]


def game(seed=2):
    return advgame.examples.random_game(40, 8, 5, kind="real", seed=seed, weighted=True, mask_fraction=0.2)


# ----------------------------------------------------------------- nit
@pytest.mark.parametrize("method,opts", METHODS, ids=IDS)
def test_nit_counts_completed_iterations(method, opts):
    r = solve(game(), method=method, max_iter=25, **opts)
    assert r.status == "steps_completed" and r.nit == 25
    assert len(r.info["gap_history"]) == 25  # one evaluation before each step
    # the oracle records the risk of each evaluated iterate; FISTA the start and each step
    assert len(r.history) == (25 if method == "oracle" else 26)


@pytest.mark.parametrize("method,opts", METHODS, ids=IDS)
def test_tol_stops_after_the_evaluation_that_meets_it(method, opts):
    tol = 2e-2
    r = solve(game(), method=method, max_iter=5000, tol=tol, **opts)
    gaps = r.info["gap_history"]
    assert r.status == "optimal" and r.gap <= tol
    assert gaps[-1] <= tol and all(g > tol for g in gaps[:-1])
    assert len(gaps) == r.nit + 1  # evaluated, met tol, did not step


# ------------------------------------------------------------- callback
@pytest.mark.parametrize("method,opts", METHODS, ids=IDS)
def test_callback_sees_the_state_and_stops(method, opts):
    seen = []

    def cb(state):
        assert isinstance(state, SolverState)
        seen.append((state.nit, state.value, state.lower_bound, state.gap))
        return state.nit >= 7

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a requested stop warns nothing
        r = solve(game(), method=method, max_iter=100, callback=cb, **opts)
    assert r.status == "callback" and r.success and r.nit == 7
    assert [s[0] for s in seen] == list(range(8))
    for _, value, lower, gap in seen:
        assert value >= lower and gap == pytest.approx(value - lower)
    assert "callback" in advgame.result.STATUSES


def test_callback_false_never_stops():
    r = solve(game(), method="oracle", max_iter=12, callback=lambda s: False)
    assert r.status == "steps_completed" and r.nit == 12


def test_callback_must_be_callable():
    with pytest.raises(TypeError, match="callback must be callable"):
        solve(game(), method="entropic", callback=3)


# ----------------------------------------------------------- warm start
@pytest.mark.parametrize("method,opts", METHODS, ids=IDS)
def test_warm_start_starts_at_init(method, opts):
    g = game()
    init = np.array([0.6, 0.1, 0.1, 0.1, 0.1])
    r = solve(g, method=method, max_iter=1, init=init, **opts)
    assert r.history[0] == pytest.approx(g.risk(init), abs=1e-12)


@pytest.mark.parametrize("method,opts", METHODS, ids=IDS)
def test_warm_start_continues_a_run(method, opts):
    g = game(5)
    r1 = solve(g, method=method, max_iter=60, **opts)
    r2 = solve(g, method=method, max_iter=60, init=r1.weights, **opts)
    assert r2.value <= r1.value + 1e-12  # the best iterate can only improve on init
    assert r2.history[0] == pytest.approx(r1.value, abs=1e-12)


def test_warm_start_on_torch_keeps_device_and_dtype():
    torch = pytest.importorskip("torch")
    gt = game().to_torch(dtype=torch.float32)
    r = solve(gt, method="oracle", max_iter=5, init=[0.2] * 5)
    assert r.weights.dtype == torch.float32 and r.history[0] == pytest.approx(game().risk([0.2] * 5), abs=1e-6)


def test_init_is_validated_with_the_simplex_tolerance():
    g = game()
    with pytest.raises(ValueError, match="init must have shape"):
        solve(g, method="oracle", init=[0.5, 0.5])
    with pytest.raises(ValueError, match="init must lie on the probability simplex"):
        solve(g, method="entropic", init=[0.5, 0.5, 0.5, 0.0, 0.0])
    # rounding-level deviations are accepted and removed
    init = np.full(5, 0.2) + 1e-12
    r = solve(g, method="oracle", max_iter=1, init=init)
    assert r.history[0] == pytest.approx(g.risk(np.full(5, 0.2)), abs=1e-10)


def test_mixture_solver_call_pattern():
    """What the training issue's MixtureSolver calls: method, init, max_iter, tol,
    callback and a custom oracle together."""
    g = game()
    calls = []

    def oracle(weights):
        calls.append(1)
        return g.classifier_losses(g.best_response_strategy(weights))

    r = solve(g, method="oracle", init=np.full(5, 0.2), max_iter=30, tol=1e-9, oracle=oracle,
              callback=lambda s: s.nit >= 10)
    assert r.status == "callback" and r.nit == 10 and len(calls) == 11


# -------------------------------------------------------- deprecations
@pytest.mark.parametrize("method,old,new", [
    ("oracle", {"steps": 20}, {"max_iter": 20}),
    ("entropic", {"steps": 20, "temperature": 0.05}, {"max_iter": 20, "temperature": 0.05}),
    ("entropic", {"max_iter": 20, "alpha": 0.05}, {"max_iter": 20, "temperature": 0.05}),
])
def test_deprecated_names_warn_and_mean_the_same(method, old, new):
    g = game()
    with pytest.warns(DeprecationWarning, match=r"(steps|alpha)= is deprecated; use (max_iter|temperature)="):
        a = solve(g, method=method, **old)
    b = solve(g, method=method, **new)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.value == b.value and a.history == b.history


def test_deprecated_and_new_name_together_is_an_error():
    with pytest.raises(TypeError, match="got both max_iter= and steps="):
        solve(game(), method="oracle", max_iter=3, steps=3)
    with pytest.raises(TypeError, match="got both temperature= and alpha="):
        solve(game(), method="entropic", temperature=0.1, alpha=0.1)


def test_errors_name_the_argument_the_user_wrote():
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match=r"steps must lie in \[1, inf\)"):
        solve(game(), method="oracle", steps=0)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="alpha must"):
        solve(game(), method="entropic", alpha=-1.0)


def test_entropic_objective_temperature_and_alias():
    g = game()
    lam = np.full(5, 0.2)
    with pytest.warns(DeprecationWarning, match="alpha= is deprecated"):
        a = entropic_objective(g, lam, alpha=0.1)
    assert a == entropic_objective(g, lam, 0.1) == entropic_objective(g, lam, temperature=0.1)


# ------------------------------------------ argument checks (issue 9, sec. 5)
@pytest.mark.parametrize("method", ["oracle", "entropic"])
def test_argument_types_and_values(method):
    g = game()
    with pytest.raises(TypeError, match="tol must be a real number"):
        solve(g, method=method, tol="abc")
    with pytest.raises(ValueError, match="tol must be a finite"):
        solve(g, method=method, tol=float("inf"))
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        solve(g, method=method, max_iter=1.7)
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        solve(g, method=method, max_iter="x")
    with pytest.raises(ValueError, match="time_limit must lie"):
        solve(g, method=method, time_limit=-1)
    with pytest.raises(TypeError, match="distributed must be True or False"):
        solve(g, method=method, distributed="yes")


def test_huge_step_size_is_a_value_error_naming_it():
    """Issue 9, sec. 5: ended in "v must be finite" from proj_simplex."""
    with pytest.raises(ValueError, match="step_size must be at most"):
        solve(game(), method="oracle", step_size=1e306)


def test_large_finite_step_size_is_handled():
    """A step of 1e30 moves lambda - eta g to ~1e30: the projection stays on the simplex."""
    g = game()
    r = solve(g, method="oracle", max_iter=20, step_size=1e30)
    w = np.asarray(r.weights)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0, abs=1e-12)
    assert r.value == pytest.approx(g.risk(w), abs=1e-12) and r.gap >= 0


@pytest.mark.parametrize("bad", [1e306, 1e-320])
def test_extreme_temperature_is_a_value_error_naming_it(bad):
    with pytest.raises(ValueError, match="temperature must lie in"):
        solve(game(), method="entropic", temperature=bad)


def test_float32_limits_follow_the_dtype():
    torch = pytest.importorskip("torch")
    gt = game().to_torch(dtype=torch.float32)
    with pytest.raises(ValueError, match="step_size must be at most .* float32"):
        solve(gt, method="oracle", step_size=1e36)
    with pytest.raises(ValueError, match="temperature must lie in .* float32"):
        solve(gt, method="entropic", temperature=1e-40)


# ------------------------------------------------------------ statuses
@pytest.mark.parametrize("method,opts", METHODS, ids=IDS)
def test_time_limit_status_warns(method, opts):
    with pytest.warns(advgame.SolverWarning, match="time_limit"):
        r = solve(game(), method=method, time_limit=1e-9, tol=1e-9, **opts)
    assert r.status == "time_limit" and not r.success and r.nit == 0
    assert r.gap >= 0


# ------------------------------------------------- float64 certificate
@pytest.mark.parametrize("method,opts", METHODS, ids=IDS)
def test_float32_certificate_is_computed_in_float64(method, opts):
    """Issue 9, sec. 5: float32 runs reported a negative gap.  The certificate is the
    float64 risk of the returned weights (at least the game's own float32 risk of them,
    issue 19) and the float64 D(Q) of the returned adversary on the game's own (float32)
    losses."""
    torch = pytest.importorskip("torch")
    g = advgame.examples.random_game(64, 8, 5, kind="real", seed=11)  # uniform weights 1/64: exact in float32
    gt = g.to_torch(dtype=torch.float32)
    r = solve(gt, method=method, max_iter=200, **opts)
    ref = advgame.Game(gt.losses.double().numpy(), mask=None if gt.mask is None else gt.mask.numpy())
    w = r.weights.double().numpy()
    # issue 19: the value describes the returned float32 weights -- as they are, as the
    # mixture they stand for, and as the game's float32 arithmetic evaluates them
    R = ref.risk(w / w.sum())  # of the weights as they are: R(w) = R(w / sum) * sum (homogeneous)
    assert r.value >= max(R, R * w.sum(), float(gt.risk(r.weights)))
    assert r.value == pytest.approx(ref.risk(w / w.sum()), abs=1e-6)
    Q = r.adversary.double().numpy()
    Q = Q / Q.sum(axis=1, keepdims=True)
    assert r.lower_bound == pytest.approx(float(ref.classifier_losses(Q).min()), abs=1e-12)
    assert r.gap == r.value - r.lower_bound >= 0


@pytest.mark.parametrize("seed", [1, 5, 27])
def test_regression_float32_oracle_gap_is_never_negative(seed):
    """Issue 9, sec. 5: on these 0/1 games the float32 oracle run reached the equilibrium
    and reported gaps of -2.4e-7 / -6e-8 / -1.2e-7 (float32 value minus float32 lower
    bound).  Computed in float64 the certificate is sound, and it matches the LP."""
    torch = pytest.importorskip("torch")
    g = advgame.examples.random_game(30, 6, 3, kind="binary", seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", advgame.SolverWarning)
        r = solve(g.to_torch(dtype=torch.float32), method="oracle", max_iter=2000, tol=1e-9)
    assert r.gap >= 0 and r.lower_bound <= r.value
    R_star = solve(g).value
    assert r.lower_bound <= R_star + 1e-12 and R_star <= r.value + 1e-12


def test_gap_is_never_negative_at_an_exact_equilibrium():
    """The motivating game reaches its equilibrium exactly; value and lower bound are
    then equal up to rounding, which must not show as a negative gap."""
    torch = pytest.importorskip("torch")
    g = advgame.examples.motivating_game()
    for gg in (g, g.to_torch(dtype=torch.float32), g.to_torch()):
        for method, opts in METHODS:
            r = solve(gg, method=method, max_iter=300, **opts)
            assert r.gap >= 0 and r.lower_bound <= r.value
