r"""MNE21's synthetic experiment (Sec. 5.1, Figure 2) end to end.

One seed is one instance: every entry point -- :func:`make_instance`,
:func:`run_gaussians` (and so ``advgame gaussians``), and step-by-step code in
``docs/tutorial.md`` -- draws each part of the experiment from its own named stream of
:class:`SeedStreams`, so the same seed gives the same data, classifiers and attacks
whichever way the instance is built.

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
entropic method for several temperatures (Figure 2, middle); :func:`gaussian_figures`
draws the three panels of Figure 2.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .._io import atomic_path
from .._validation import check_int, check_norm, check_real, check_rng, check_seed, norm_exponent
from ..bounds import OptimalRisk, optimal_adversarial_risk
from .mne21_data import make_gaussians, random_linear_classifiers, sample_attacks
from .mne21_figures import gaussian_figures

__all__ = [
    "DEFAULT_EPS",
    "SeedStreams",
    "SyntheticInstance",
    "make_instance",
    "out_of_sample_risk",
    "convergence_histories",
    "run_gaussians",
    "format_table",
    "write_json",
    "gaussian_figures",
]

#: The budgets of ``advgame gaussians`` (MNE21 Figure 2, right).
DEFAULT_EPS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


# ------------------------------------------------------------------- streams
class SeedStreams:
    """The independent random streams of one MNE21 instance, all derived from one seed.

    ========================  ==============================================================
    ``stream("data")``        the training points (:func:`make_gaussians`)
    ``stream("classifiers")`` the random linear classifiers (:func:`random_linear_classifiers`)
    ``stream("test_data")``   the fresh test points
    ``stream("attacks", e)``  the candidate attacks on the training points at budget ``e``
    ``stream("test_attacks", e)``  the fresh attacks on the test points at budget ``e``
    ========================  ==============================================================

    Each call returns a *new* :class:`numpy.random.Generator` at the start of its
    stream, so the parts do not depend on each other nor on the order they are drawn in:
    changing the number of attacks leaves the data and the classifiers unchanged, and
    the attacks at one budget do not depend on the list of budgets.

    Parameters
    ----------
    seed : int >= 0, numpy.random.Generator, numpy.random.SeedSequence or None
        An int is used as is (the instance of ``seed=0`` is the one of
        ``advgame gaussians --seed 0``); a generator gives one integer drawn from it; a
        seed sequence one integer of its state; None fresh entropy.

    Examples
    --------
    >>> s = SeedStreams(0)
    >>> bool(s.stream("data").random() == SeedStreams(0).stream("data").random())
    True
    """

    _FIXED = {"data": 0, "classifiers": 1, "test_data": 2}
    _PER_EPS = {"attacks": 1, "test_attacks": 2}

    def __init__(self, seed=0):
        seed = check_seed(seed)
        if seed is None:
            entropy = int(np.random.SeedSequence().entropy)
        elif isinstance(seed, np.random.Generator):
            entropy = int(seed.integers(0, 2**63 - 1))
        elif isinstance(seed, np.random.SeedSequence):
            entropy = int(seed.generate_state(1, np.uint64)[0])
        else:
            entropy = int(seed)
        self.entropy = entropy

    def stream(self, name: str, eps=None) -> np.random.Generator:
        """A fresh generator for the part ``name`` (with ``eps`` for the attacks)."""
        if name in self._FIXED:
            if eps is not None:
                raise ValueError(f"stream {name!r} does not depend on eps; got eps={eps!r}")
            return np.random.default_rng(np.random.SeedSequence(self.entropy, spawn_key=(self._FIXED[name],)))
        if name in self._PER_EPS:
            e = check_real("eps", eps, lo=0)
            return np.random.default_rng([self.entropy, self._PER_EPS[name], int(round(e * 1e6))])
        raise ValueError(f"name must be one of {tuple(self._FIXED) + tuple(self._PER_EPS)}; got {name!r}")

    def __repr__(self) -> str:
        return f"SeedStreams(entropy={self.entropy})"


# ---------------------------------------------------------------- instance
@dataclass
class SyntheticInstance:
    """One draw of MNE21's synthetic experiment (see :func:`make_instance`).

    Attributes
    ----------
    X, y : ndarray
        Training points (N, d) and labels in {-1, +1}.
    classifiers : list of LinearClassifier
    attacks : ndarray, shape (N, m, d)
    game : advgame.Game
        The empirical game with losses ``loss_tensor(classifiers, X, y, attacks, loss)``.
    eps : float
    norm : float
        The exponent p of the ball's norm.
    """

    X: np.ndarray
    y: np.ndarray
    classifiers: list
    attacks: np.ndarray
    game: object
    eps: float
    norm: float

    def optimal_risk(self) -> OptimalRisk:
        """The smallest adversarial risk any classifier reaches on ``(X, y)``
        (:func:`advgame.bounds.optimal_adversarial_risk`)."""
        return optimal_adversarial_risk(self.X, self.y, self.eps, self.norm)

    def exact_classifier_risks(self) -> np.ndarray:
        """Each classifier's exact adversarial risk (closed form), shape (L,).

        The game's ``classifier_risks()`` can only be lower (a finite attack sample)."""
        return np.array([c.adversarial_risk(self.X, self.y, self.eps, self.norm) for c in self.classifiers])


def make_instance(eps: float, n_samples: int = 1000, n_classifiers: int = 10, n_attacks: int = 1000,
                  norm=2, max_risk: float = 0.4, loss: str = "01", seed=None, **classifier_kwargs):
    r"""MNE21's synthetic experiment (Sec. 5.1) as a ready game.

    Draws the data (:func:`make_gaussians`), ``n_classifiers`` random linear
    classifiers with clean training risk below ``max_risk``
    (:func:`random_linear_classifiers`), ``n_attacks`` candidate attacks per point
    uniform in the ``eps``-ball, the clean point first (:func:`sample_attacks`), and the
    loss tensor :math:`\ell_{ijk}` = loss of classifier k on attack j of point i
    (:func:`advgame.construct.loss_tensor`).  The three draws come from the streams
    ``"data"``, ``"classifiers"`` and ``("attacks", eps)`` of :class:`SeedStreams`, the
    same as :func:`run_gaussians`: ``make_instance(eps, seed=s)`` is the game that
    ``run_gaussians(seed=s)`` solves at budget ``eps`` (same sizes).

    Parameters
    ----------
    eps : float
        The adversary's budget.
    n_samples, n_classifiers, n_attacks : int, default 1000, 10, 1000
        N, L and m (the paper's values).
    norm : {"l2", "linf", "l1"} or {2, inf, 1}, default 2
    max_risk : float, default 0.4
    loss : {"01", "sigmoid"}, default "01"
    seed : int >= 0, numpy.random.Generator or None
        See :class:`SeedStreams`.
    **classifier_kwargs
        Passed to :func:`random_linear_classifiers` (``w_scale``, ``b_scale``,
        ``max_tries``).

    Returns
    -------
    SyntheticInstance

    Examples
    --------
    >>> inst = make_instance(eps=2.0, n_samples=200, n_attacks=100, seed=0)
    >>> inst.game.shape
    (200, 100, 10)
    >>> bool(inst.optimal_risk().value <= inst.exact_classifier_risks().min())
    True
    """
    from ..construct import loss_tensor
    from ..game import Game

    eps = check_real("eps", eps, lo=0)
    p = norm_exponent(norm, general=False)
    streams = SeedStreams(seed)
    X, y = make_gaussians(n_samples, streams.stream("data"))
    clfs = random_linear_classifiers(X, y, n_classifiers, max_risk, streams.stream("classifiers"),
                                     **classifier_kwargs)
    attacks = sample_attacks(X, eps, n_attacks, p, streams.stream("attacks", eps))
    losses = loss_tensor(clfs, X, y, attacks, loss=loss)
    return SyntheticInstance(X=X, y=y, classifiers=clfs, attacks=attacks, game=Game(losses), eps=eps, norm=p)


# -------------------------------------------------------------------- runner
class _Progress:
    """A tqdm bar over the phases of :func:`run_gaussians` (or nothing when off).

    :meth:`phase` advances past the previous phase and names the next one, so the bar
    moves through every budget and every convergence run instead of waiting on the last.
    """

    def __init__(self, on: bool, total: int):
        self.bar = None
        self.started = False
        if on:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="gaussians", unit="phase", leave=False)

    def phase(self, label) -> None:
        if self.bar is None:
            return
        if self.started:
            self.bar.update(1)
        self.started = label is not None
        if label is not None:
            self.bar.set_postfix_str(label, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            if self.started:
                self.bar.update(1)
            self.bar.close()


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
    norm : {"l2", "linf", "l1"} or {2, inf, 1}
    seed : int >= 0, numpy.random.Generator or None
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
    from ..game import Game

    rng = check_rng(seed)
    if data is None:
        X, y = make_gaussians(n_samples, seed=rng)
    else:
        X, y = data
    attacks = sample_attacks(X, eps, n_attacks, norm, seed=rng)
    game = Game.from_classifiers(classifiers, X, y, attacks, loss=loss)
    return {"randomized": game.risk(weights), "per_classifier": game.classifier_risks(), "game": game}


def convergence_histories(game, temperatures=(0.1, 0.01, 0.001), oracle_steps=2000, entropic_steps=300, *,
                          alphas=None, progress=None):
    """Histories :math:`R(\\lambda_t)` of MNE21 Algorithm 1 and of the entropic method
    (MNE21 Eq. 7) for each temperature in ``temperatures``.

    ``alphas`` is the deprecated name of ``temperatures`` (DeprecationWarning).
    ``progress``, optional, is called with a label before each of the
    ``1 + len(temperatures)`` runs and with None after the last.

    Returns a dict ``{"oracle": Result, "entropic": {temperature: Result}}``.
    """
    from ..solvers import solve

    temperatures = _temperatures(temperatures, alphas)
    tick = progress if progress is not None else (lambda label: None)
    tick("Algorithm 1")
    out = {"oracle": solve(game, method="oracle", max_iter=oracle_steps), "entropic": {}}
    for a in temperatures:
        tick(f"entropic T={float(a):g}")
        out["entropic"][float(a)] = solve(game, method="entropic", temperature=float(a), max_iter=entropic_steps)
    tick(None)
    return out


def _temperatures(temperatures, alphas) -> tuple:
    """``temperatures``, or the deprecated ``alphas`` when given, checked (> 0)."""
    if alphas is not None:
        warnings.warn("alphas is deprecated; use temperatures (the entropic temperature of MNE21 Eq. 7)",
                      DeprecationWarning, stacklevel=3)
        temperatures = alphas
    return tuple(check_real("temperatures", t, lo=0, lo_open=True) for t in temperatures)


def _check_budgets(eps) -> list:
    eps = list(eps)
    if not eps:
        raise ValueError("eps must be a non-empty list of positive budgets; got []")
    try:
        return [check_real("eps", e, lo=0, lo_open=True) for e in eps]
    except ValueError as err:
        raise ValueError(f"eps must be a non-empty list of positive budgets ({err})") from None


def run_gaussians(eps=DEFAULT_EPS, n_samples=1000, n_classifiers=10, n_attacks=1000, n_test=None, norm=2,
                  max_risk=0.4, seed=0, convergence_eps="auto", temperatures=(0.1, 0.01, 0.001),
                  oracle_steps=2000, entropic_steps=300, progress=False, *, alphas=None):
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
    norm : {"l2", "linf", "l1"} or {2, inf, 1}
    seed : int >= 0
        Seeds everything through :class:`SeedStreams`: the game at budget ``e`` is
        ``make_instance(e, n_samples, n_classifiers, n_attacks, norm, max_risk,
        seed=seed).game``; data and classifiers do not depend on ``eps``.
    convergence_eps : float, "auto" or None
        Budget at which the first-order methods' convergence is recorded; ``"auto"``
        (default) takes the budget of ``eps`` where the optimal mixture gains most over
        the best single classifier in-sample (the first on ties); None skips it.
    temperatures, oracle_steps, entropic_steps
        Settings of the convergence run: the entropic method's temperatures (MNE21
        Eq. 7's alpha), the iterations of Algorithm 1 and of the entropic method.
        ``alphas`` is the deprecated name of ``temperatures`` (DeprecationWarning).
    progress : bool
        Show a progress bar (tqdm) on standard error over three phases per budget
        (attacks and LP, out-of-sample evaluation, the lower bound) and one per
        convergence run, naming the current phase.

    Returns
    -------
    dict
        JSON-ready lists over ``eps``: ``eps``, ``deterministic_in``,
        ``deterministic_out``, ``randomized_in``, ``randomized_out``, ``lower_bound``,
        ``gap``, ``weights``, ``best_classifier``, ``lp_time``, plus ``setup`` (the
        run's settings, which ``advgame gaussians`` compares before overwriting a run),
        ``classifiers`` and ``convergence``; under ``"_objects"`` the arrays for
        plotting (not serialized).
    """
    from ..game import Game
    from ..solvers import solve

    eps = _check_budgets(eps)
    temperatures = _temperatures(temperatures, alphas)
    seed = check_seed(seed)
    n_test = n_samples if n_test is None else check_int("n_test", n_test, 1)
    p = norm_exponent(norm, general=False)
    if convergence_eps not in (None, "auto"):
        convergence_eps = check_real("convergence_eps", convergence_eps, lo=0, lo_open=True)
    t_start = time.perf_counter()
    streams = SeedStreams(seed)
    X, y = make_gaussians(n_samples, seed=streams.stream("data"))
    clfs = random_linear_classifiers(X, y, n_classifiers, max_risk, seed=streams.stream("classifiers"))
    Xt, yt = make_gaussians(n_test, seed=streams.stream("test_data"))

    keys = ["eps", "deterministic_in", "deterministic_out", "randomized_in", "randomized_out", "lower_bound",
            "gap", "weights", "best_classifier", "lp_time", "lp_status"]
    res = {k: [] for k in keys}
    games = {}
    n_conv = 0 if convergence_eps is None else 1 + len(temperatures)
    bar = _Progress(progress, total=3 * len(eps) + n_conv)

    def solve_at(e):
        attacks = sample_attacks(X, e, n_attacks, p, seed=streams.stream("attacks", e))
        game = Game.from_classifiers(clfs, X, y, attacks)
        games[e] = (game, attacks, solve(game))
        return games[e]

    for e in eps:
        bar.phase(f"eps={e:g}: attacks + LP")
        game, _, sol = solve_at(e)
        k, det_in = game.best_classifier()
        bar.phase(f"eps={e:g}: out of sample")
        oos = out_of_sample_risk(sol.weights, clfs, e, n_attacks=n_attacks, norm=p,
                                 seed=streams.stream("test_attacks", e), data=(Xt, yt))
        bar.phase(f"eps={e:g}: bound")
        bound = optimal_adversarial_risk(X, y, e, norm=p)
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

    conv = None
    if convergence_eps is not None:
        if convergence_eps == "auto":
            gains = np.asarray(res["deterministic_in"]) - np.asarray(res["randomized_in"])
            ce = res["eps"][int(np.argmax(gains))]
        else:
            ce = convergence_eps
        game, _, sol = games[ce] if ce in games else solve_at(ce)
        hist = convergence_histories(game, temperatures, oracle_steps, entropic_steps, progress=bar.phase)
        conv = {
            "eps": ce,
            "optimal_value": float(sol.value),
            "oracle": {"history": [float(v) for v in hist["oracle"].history], "gap": float(hist["oracle"].gap),
                       "time": float(hist["oracle"].time), "step_size": float(hist["oracle"].info["step_size"])},
            "entropic": {str(a): {"history": [float(v) for v in r.history], "gap": float(r.gap),
                                  "regularized_value": float(r.info["regularized_value"]), "time": float(r.time)}
                         for a, r in hist["entropic"].items()},
        }
    bar.close()

    res["setup"] = {"n_samples": n_samples, "n_classifiers": n_classifiers, "n_attacks": n_attacks,
                    "n_test": n_test, "norm": check_norm(p), "max_risk": max_risk, "seed": seed, "eps": list(eps),
                    "convergence": convergence_eps is not None, "convergence_eps": convergence_eps,
                    "oracle_steps": oracle_steps, "entropic_steps": entropic_steps,
                    "temperatures": list(temperatures),
                    "classifier_sampler": "w ~ N(0, I2), b ~ N(0, 2^2), kept when clean training risk < max_risk",
                    "attack_sampler": "clean point first, then uniform in the eps-ball",
                    "seconds": time.perf_counter() - t_start}
    res["classifiers"] = [{"w": [float(v) for v in c.w], "b": float(c.b)} for c in clfs]
    res["convergence"] = conv
    res["_objects"] = {"X": X, "y": y, "classifiers": clfs, "games": games}
    return res


def format_table(res) -> str:
    """The results of :func:`run_gaussians` as a fixed-width text table.

    The ``gap`` column shows the certified duality gap (``res["gap"]``), clamped at 0 for
    display (the solvers already report a difference below zero by rounding as 0)."""
    head = (f"{'eps':>5} {'determ. in':>10} {'determ. out':>11} {'random. in':>10} {'random. out':>11} "
            f"{'any clf >=':>10} {'gap':>9} {'LP s':>6}")
    lines = [head, "-" * len(head)]
    for i, e in enumerate(res["eps"]):
        lines.append(
            f"{e:5.2f} {res['deterministic_in'][i]:10.4f} {res['deterministic_out'][i]:11.4f} "
            f"{res['randomized_in'][i]:10.4f} {res['randomized_out'][i]:11.4f} {res['lower_bound'][i]:10.4f} "
            f"{max(res['gap'][i], 0.0):9.1e} {res['lp_time'][i]:6.3f}"
        )
    return "\n".join(lines)


def write_json(res, path) -> None:
    """Write the JSON-ready part of ``res`` (keys not starting with ``_``) atomically."""
    data = {k: v for k, v in res.items() if not k.startswith("_")}
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=1)
