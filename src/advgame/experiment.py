r"""MNE21's synthetic experiment (Sec. 5.1, Figure 2) end to end.

:func:`run_gaussians` draws the data and the random linear classifiers once, then for
each adversarial budget :math:`\varepsilon`:

1. samples ``n_attacks`` candidate attacks uniformly in each training point's ball (the
   clean point first) and builds the empirical game;
2. solves it exactly (:func:`advgame.solve`, LP) -- the optimal mixture, its in-sample
   adversarial risk and the duality-gap certificate -- and takes the best single
   classifier on the same candidates as the deterministic baseline;
3. evaluates both out of sample, on fresh test data with fresh attacks
   (:func:`out_of_sample_risk`);
4. computes the smallest adversarial risk *any* classifier reaches on the training
   data (:func:`advgame.bounds.optimal_adversarial_risk`).

It also records, at one budget, the convergence of MNE21 Algorithm 1 and of the
entropic method for several temperatures (Figure 2, middle).
"""

from __future__ import annotations

import json
import math
import time

import numpy as np

from ._io import atomic_path
from .bounds import optimal_adversarial_risk
from .game import Game
from .solvers import solve
from .synthetic import make_gaussians, random_linear_classifiers, sample_attacks

__all__ = ["out_of_sample_risk", "convergence_histories", "run_gaussians", "format_table", "write_json"]

DEFAULT_EPS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


def _eps_rng(seed, stream, eps):
    """A generator for (seed, stream, eps): the same whatever the list of budgets."""
    return np.random.default_rng([int(seed), int(stream), int(round(float(eps) * 1e6))])


def out_of_sample_risk(weights, classifiers, eps, n_samples=1000, n_attacks=1000, norm=2, seed=None,
                       data=None, loss="01"):
    r"""Adversarial risk of fixed weights on fresh data with fresh attacks.

    Parameters
    ----------
    weights : array (L,)
        The mixture (on the simplex).
    classifiers : sequence of L callables
    eps : float
        The adversary's budget.
    n_samples, n_attacks : int
        Size of the fresh test set and number of candidate attacks per point (the clean
        point first, the others uniform in the ball).
    norm : {2, inf, 1}
    seed : int or numpy.random.Generator, optional
        Seeds both the fresh data (unless ``data`` is given) and the fresh attacks.
    data : (X, y), optional
        Use this test set instead of drawing MNE21's Gaussians.
    loss : str
        ``"01"`` or ``"sigmoid"``.

    Returns
    -------
    dict
        ``randomized``: :math:`R(\lambda)` on the test game; ``per_classifier``: each
        classifier's adversarial risk on it (array (L,)); ``game``: the test game.
    """
    rng = np.random.default_rng(seed)
    if data is None:
        X, y = make_gaussians(n_samples, seed=rng)
    else:
        X, y = data
    attacks = sample_attacks(X, eps, n_attacks, norm, seed=rng)
    game = Game.from_classifiers(classifiers, X, y, attacks, loss=loss)
    return {"randomized": game.risk(weights), "per_classifier": game.classifier_risks(), "game": game}


def convergence_histories(game, alphas=(0.1, 0.01, 0.001), oracle_steps=2000, entropic_steps=300):
    """Histories :math:`R(\\lambda_t)` of Algorithm 1 and of the entropic method per alpha.

    Returns a dict ``{"oracle": Result, "entropic": {alpha: Result}}``.
    """
    out = {"oracle": solve(game, method="oracle", steps=oracle_steps), "entropic": {}}
    for a in alphas:
        out["entropic"][float(a)] = solve(game, method="entropic", alpha=float(a), steps=entropic_steps)
    return out


def run_gaussians(eps=DEFAULT_EPS, n_samples=1000, n_classifiers=10, n_attacks=1000, n_test=None, norm=2,
                  max_risk=0.4, seed=0, convergence_eps="auto", alphas=(0.1, 0.01, 0.001), oracle_steps=2000,
                  entropic_steps=300, progress=False):
    """Run MNE21's synthetic experiment (Sec. 5.1) for each budget in ``eps``.

    Parameters
    ----------
    eps : sequence of float
        Adversarial budgets (L2 radius by default).
    n_samples, n_classifiers, n_attacks : int
        N training points, L random linear classifiers (clean training risk below
        ``max_risk``), m candidate attacks per point (clean point first).
    n_test : int, optional
        Size of the fresh test set (default ``n_samples``).
    norm : {2, inf, 1}
    seed : int
        Seeds everything; data and classifiers do not depend on ``eps``.
    convergence_eps : float, "auto" or None
        Budget at which the first-order methods' convergence is recorded; ``"auto"``
        (default) takes the budget of ``eps`` where the optimal mixture gains most over
        the best single classifier in-sample (the first on ties); None skips it.
    alphas, oracle_steps, entropic_steps
        Settings of the convergence run.
    progress : bool
        Show a progress bar (tqdm) on standard error.

    Returns
    -------
    dict
        JSON-ready lists over ``eps``: ``eps``, ``deterministic_in``,
        ``deterministic_out``, ``randomized_in``, ``randomized_out``, ``lower_bound``,
        ``gap``, ``weights``, ``best_classifier``, ``lp_time``, plus ``setup``,
        ``classifiers`` and ``convergence``; under ``"_objects"`` the arrays for
        plotting (not serialized).
    """
    eps = [float(e) for e in eps]
    if not eps or any(not (math.isfinite(e) and e > 0) for e in eps):
        raise ValueError(f"eps must be a non-empty list of positive budgets; got {eps}")
    n_test = n_samples if n_test is None else int(n_test)
    t_start = time.perf_counter()
    root = np.random.default_rng(seed)
    s_data, s_clf, s_test = root.spawn(3)
    X, y = make_gaussians(n_samples, seed=s_data)
    clfs = random_linear_classifiers(X, y, n_classifiers, max_risk, seed=s_clf)
    Xt, yt = make_gaussians(n_test, seed=s_test)

    keys = ["eps", "deterministic_in", "deterministic_out", "randomized_in", "randomized_out", "lower_bound",
            "gap", "weights", "best_classifier", "lp_time", "lp_status"]
    res = {k: [] for k in keys}
    games = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(eps) + (1 if convergence_eps is not None else 0), desc="gaussians", unit="step",
                   leave=False)
    for e in eps:
        attacks = sample_attacks(X, e, n_attacks, norm, seed=_eps_rng(seed, 1, e))
        game = Game.from_classifiers(clfs, X, y, attacks)
        sol = solve(game)
        k, det_in = game.best_classifier()
        oos = out_of_sample_risk(sol.weights, clfs, e, n_attacks=n_attacks, norm=norm,
                                 seed=_eps_rng(seed, 2, e), data=(Xt, yt))
        bound = optimal_adversarial_risk(X, y, e, norm=norm)
        res["eps"].append(e)
        res["deterministic_in"].append(float(det_in))
        res["deterministic_out"].append(float(oos["per_classifier"][k]))
        res["randomized_in"].append(float(sol.value))
        res["randomized_out"].append(float(oos["randomized"]))
        res["lower_bound"].append(float(bound.value))
        res["gap"].append(float(sol.gap))
        res["weights"].append([float(v) for v in sol.weights])
        res["best_classifier"].append(int(k))
        res["lp_time"].append(float(sol.time))
        res["lp_status"].append(sol.status)
        games[e] = (game, attacks, sol)
        if bar is not None:
            bar.update(1)

    conv = None
    if convergence_eps is not None:
        if convergence_eps == "auto":
            gains = np.asarray(res["deterministic_in"]) - np.asarray(res["randomized_in"])
            ce = res["eps"][int(np.argmax(gains))]
        else:
            ce = float(convergence_eps)
        if ce in games:
            game, _, sol = games[ce]
        else:
            attacks = sample_attacks(X, ce, n_attacks, norm, seed=_eps_rng(seed, 1, ce))
            game = Game.from_classifiers(clfs, X, y, attacks)
            sol = solve(game)
            games[ce] = (game, attacks, sol)
        hist = convergence_histories(game, alphas, oracle_steps, entropic_steps)
        conv = {
            "eps": ce,
            "optimal_value": float(sol.value),
            "oracle": {"history": [float(v) for v in hist["oracle"].history], "gap": float(hist["oracle"].gap),
                       "time": float(hist["oracle"].time), "step_size": float(hist["oracle"].info["step_size"])},
            "entropic": {str(a): {"history": [float(v) for v in r.history], "gap": float(r.gap),
                                  "regularized_value": float(r.info["regularized_value"]), "time": float(r.time)}
                         for a, r in hist["entropic"].items()},
        }
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    res["setup"] = {"n_samples": n_samples, "n_classifiers": n_classifiers, "n_attacks": n_attacks,
                    "n_test": n_test, "norm": str(norm), "max_risk": max_risk, "seed": seed,
                    "classifier_sampler": "w ~ N(0, I2), b ~ N(0, 2^2), kept when clean training risk < max_risk",
                    "attack_sampler": "clean point first, then uniform in the eps-ball",
                    "seconds": time.perf_counter() - t_start}
    res["classifiers"] = [{"w": [float(v) for v in c.w], "b": float(c.b)} for c in clfs]
    res["convergence"] = conv
    res["_objects"] = {"X": X, "y": y, "classifiers": clfs, "games": games}
    return res


def format_table(res) -> str:
    """The results as a fixed-width text table."""
    head = (f"{'eps':>5} {'determ. in':>10} {'determ. out':>11} {'random. in':>10} {'random. out':>11} "
            f"{'any clf >=':>10} {'gap':>9} {'LP s':>6}")
    lines = [head, "-" * len(head)]
    for i, e in enumerate(res["eps"]):
        lines.append(
            f"{e:5.2f} {res['deterministic_in'][i]:10.4f} {res['deterministic_out'][i]:11.4f} "
            f"{res['randomized_in'][i]:10.4f} {res['randomized_out'][i]:11.4f} {res['lower_bound'][i]:10.4f} "
            f"{res['gap'][i]:9.1e} {res['lp_time'][i]:6.3f}"
        )
    return "\n".join(lines)


def write_json(res, path) -> None:
    """Write the JSON-ready part of ``res`` atomically."""
    data = {k: v for k, v in res.items() if not k.startswith("_")}
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=1)
