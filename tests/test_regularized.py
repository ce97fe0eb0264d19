"""RM20 on finite worlds: unit tests, the lemmas and theorems as property tests.

Every property test states, in its docstring, the finite-world statement it checks and
why it follows from (or departs from) RM20.  Worlds are drawn by hypothesis on small
integer lattices (so that equal distances and equal masses, i.e. ties, are common);
brute force (all 2**n labellings, all attacks) is the independent reference.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import advgame
from advgame.regularized import (
    NEG,
    PENALTIES,
    POS,
    Dynamics,
    FiniteWorld,
    gaussian_world,
    motivating_world,
    random_world,
)

TOL = 1e-10
# The theorem tests are what this file is for and an example costs a few milliseconds,
# so they run more examples than the project profile's 40 (the whole file stays ~15 s).
THEOREM_EXAMPLES = settings(max_examples=150)
LAMS = st.sampled_from([0.1, 0.25, 0.5, 0.75, 0.9]) | st.floats(0.01, 0.99)


# ------------------------------------------------------------------ strategies
@st.composite
def worlds(draw, penalty=None, n_min=2, n_max=6, full_support=None, lam=None, eps=None):
    """A random finite world: 1-D or 2-D lattice points, integer masses (ties on purpose),
    the l2 norm half of the time, else l1 or l-inf (the finite statements only use the
    triangle inequality)."""
    n = draw(st.integers(n_min, n_max))
    d = draw(st.sampled_from([1, 2]))
    grid = draw(st.sampled_from([1, 2, 4]))
    side = 3 * n
    coords = draw(st.lists(st.tuples(*[st.integers(0, side)] * d), min_size=n, max_size=n, unique=True))
    points = np.array(coords, dtype=float) / grid
    fs = draw(st.booleans()) if full_support is None else full_support
    lo = 1 if fs else 0
    m = np.array(draw(st.lists(st.integers(lo, 4), min_size=2 * n, max_size=2 * n)), dtype=float)
    if m.sum() == 0:
        m[n] = 1.0
    m = m.reshape(2, n) / m.sum()
    pen = draw(st.sampled_from(PENALTIES)) if penalty is None else penalty
    lam_ = draw(LAMS) if lam is None else lam
    eps_ = draw(st.sampled_from([0.5, 1.0, 1.5, 2.5])) if eps is None else eps
    norm = draw(st.sampled_from([2, 2, 1, np.inf]))
    return FiniteWorld(points, m[0], m[1], eps=eps_, penalty=pen, penalty_strength=lam_, norm=norm)


def labellings(n):
    return st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=np.int8))


def pick_attack(data, world, allowed):
    """Draw one target per (label, point) pair among ``allowed[y, i]`` (a bool (2, n, n) array)."""
    att = np.empty((2, world.n), dtype=np.intp)
    for y in (0, 1):
        for i in range(world.n):
            choices = np.flatnonzero(allowed[y, i])
            att[y, i] = choices[data.draw(st.integers(0, len(choices) - 1))]
    return att


def all_labellings(n):
    return np.array(list(itertools.product([-1, 1], repeat=n)), dtype=np.int8)


def costs_within_eps(world):
    return np.where(world.reachable, world.cost, np.inf)


def min_cost(C, x, S):
    """Cheapest allowed move from x onto the set S (a bool mask); inf when there is none."""
    return C[x, S].min() if S.any() else np.inf


# ------------------------------------------------------------------ validation
class TestValidation:
    def world(self, **kw):
        args = dict(points=[0.0, 1.0], mass_neg=[0.5, 0.0], mass_pos=[0.0, 0.5], eps=1.0)
        args.update(kw)
        return FiniteWorld(**args)

    @pytest.mark.parametrize(
        "kw, exc, match",
        [
            (dict(points=[[[0.0]], [[1.0]]]), ValueError, "points must have shape"),
            (dict(points=[0.0, np.nan]), ValueError, "points must be finite"),
            (dict(points=[1.0, 1.0]), ValueError, "points must be distinct"),
            (dict(points=["a", "b"]), TypeError, "points must hold real numbers"),
            (dict(mass_neg=[0.5]), ValueError, r"mass_neg must have shape \(n,\)"),
            (dict(mass_neg=[0.6, -0.1]), ValueError, "mass_neg must be non-negative"),
            (dict(mass_pos=[0.0, 0.6]), ValueError, "must together sum to 1"),
            (dict(mass_pos=[0.0, np.inf]), ValueError, "mass_pos must be finite"),
            (dict(eps=0.0), ValueError, r"eps must lie in \(0, inf\)"),
            (dict(eps="1"), TypeError, "eps must be a real number"),
            (dict(penalty_strength=1.0), ValueError, r"penalty_strength must lie in \[0, 1\)"),
            (dict(penalty_strength=-0.1), ValueError, r"penalty_strength must lie in \[0, 1\)"),
            (dict(penalty="l2"), ValueError, "penalty must be one of"),
            (dict(norm=0.5), ValueError, "norm must be p >= 1"),
            (dict(norm="fro"), ValueError, "norm must be one of"),
            (dict(norm=[2]), TypeError, "norm must be one of"),
        ],
    )
    def test_constructor_errors(self, kw, exc, match):
        with pytest.raises(exc, match=match):
            self.world(**kw)

    def test_labels_errors(self):
        w = self.world()
        with pytest.raises(ValueError, match="labels must contain only -1 and \\+1"):
            w.adversary_value([0, 1])
        with pytest.raises(ValueError, match=r"labels must have shape \(n,\)"):
            w.adversary_value([1, 1, 1])
        with pytest.raises(TypeError, match="labels must hold the numbers -1 and \\+1"):
            w.adversary_value([True, False])
        with pytest.raises(ValueError, match="weights must lie on the probability simplex"):
            w.adversary_value([[1, 1], [-1, -1]], [0.7, 0.7])
        with pytest.raises(ValueError, match=r"weights must have shape \(K,\)"):
            w.adversary_value([[1, 1], [-1, -1]], [1.0])
        with pytest.raises(ValueError, match="labels must be a deterministic classifier"):
            w.attackable([[1, 1], [-1, -1]])

    def test_attack_errors(self):
        w = self.world(eps=0.5)
        with pytest.raises(ValueError, match=r"attack must have shape \(2, n\)"):
            w.risk([1, 1], [0, 1])
        with pytest.raises(TypeError, match="attack must be an integer array"):
            w.risk([1, 1], [[0.0, 1.0], [0.0, 1.0]])
        with pytest.raises(ValueError, match="attack must hold point indices"):
            w.risk([1, 1], [[0, 2], [0, 1]])
        with pytest.raises(ValueError, match=r"attack\[0, 0\] = 1 moves point 0 by 1 > eps = 0.5"):
            w.risk([1, 1], [[1, 1], [0, 1]])

    def test_theorem_argument_errors(self):
        w = self.world()
        with pytest.raises(ValueError, match=r"mixture_weight must lie in \[0, 1\]"):
            w.randomization_mixture([1, -1], 1.5)
        with pytest.raises(ValueError, match="construction must be"):
            w.randomization_mixture([1, -1], 0.5, construction="boost")
        with pytest.raises(ValueError, match="delta is only used with the norm penalty"):
            w.paper_mixture_weight_interval(delta=0.5)
        wn = self.world(penalty="norm")
        with pytest.raises(ValueError, match="delta in \\(0, eps\\) is required"):
            wn.paper_mixture_weight_interval()
        with pytest.raises(ValueError, match=r"delta must lie in \(0, 1\)"):
            wn.proof_flip_set([1, -1], delta=1.0)
        with pytest.raises(ValueError, match="reading must be"):
            wn.proof_flip_set([1, -1], delta=0.5, reading="loose")
        with pytest.raises(ValueError, match=r"max_iter must lie in \[1, inf\)"):
            w.best_response_dynamics([1, -1], max_iter=0)
        with pytest.raises(ValueError, match="limit"):
            random_world(n=12, seed=0).minimax_value(limit=100)
        with pytest.raises(TypeError, match="world must be a FiniteWorld"):
            advgame.regularized.plot_pushforward_1d(None)

    def test_generators_validate_and_are_seeded(self):
        with pytest.raises(ValueError, match=r"n must lie in \[1, inf\)"):
            random_world(n=0)
        with pytest.raises(ValueError, match=r"std must lie in \(0, inf\)"):
            gaussian_world(std=0.0)
        a, b = random_world(n=5, dim=2, seed=3), random_world(n=5, dim=2, seed=np.random.default_rng(3))
        assert np.array_equal(a.points, b.points) and np.array_equal(a.masses, b.masses)
        assert random_world(n=5, full_support=True, seed=1).full_support

    def test_arrays_are_read_only(self):
        w = self.world()
        with pytest.raises(ValueError):
            w.points[0, 0] = 5.0
        assert "FiniteWorld(n=2" in repr(w)


# ------------------------------------------------- vocabulary and deprecations
def test_norm_vocabulary_and_general_p():
    """The project's norm names ("l1", "l2", "linf", any case) give the same world as the
    numbers 1, 2, inf; a general p >= 1 is supported (distances are l_p distances)."""
    pts = [[0.0, 0.0], [3.0, 4.0], [1.0, 0.5]]
    kw = dict(mass_neg=[0.2, 0.3, 0.0], mass_pos=[0.1, 0.0, 0.4], eps=5.0)
    for name, p in (("l1", 1), ("L2", 2), ("linf", np.inf), ("inf", np.inf)):
        assert np.array_equal(FiniteWorld(pts, norm=name, **kw).distances, FiniteWorld(pts, norm=p, **kw).distances)
    assert FiniteWorld(pts, norm="l2", **kw).distances[0, 1] == 5.0
    assert FiniteWorld(pts, norm=3, **kw).distances[0, 1] == pytest.approx((27 + 64) ** (1 / 3))


def test_deprecated_lam_alias():
    """``lam`` (argument and attribute) is a deprecated alias of ``penalty_strength``
    everywhere it was accepted: same world, a DeprecationWarning, and both at once is a
    TypeError."""
    args = ([0.0, 1.0], [0.5, 0.0], [0.0, 0.5], 1.0)
    new = FiniteWorld(*args, penalty_strength=0.3)
    with pytest.warns(DeprecationWarning, match="'lam' is deprecated; use 'penalty_strength'"):
        old = FiniteWorld(*args, lam=0.3)
    assert old.penalty_strength == new.penalty_strength == 0.3
    with pytest.warns(DeprecationWarning, match="'lam' is deprecated"):
        assert new.lam == 0.3
    with pytest.raises(TypeError, match="pass 'penalty_strength' only"):
        FiniteWorld(*args, penalty_strength=0.3, lam=0.3)
    for make, kw in ((motivating_world, {}), (gaussian_world, dict(n=11)), (random_world, dict(seed=0))):
        with pytest.warns(DeprecationWarning, match="'lam' is deprecated"):
            w_old = make(lam=0.25, **kw)
        w_new = make(penalty_strength=0.25, **kw)
        w_old, w_new = (w[0] if isinstance(w, tuple) else w for w in (w_old, w_new))
        assert w_old.penalty_strength == w_new.penalty_strength == 0.25
        assert np.array_equal(w_old.masses, w_new.masses)
    assert motivating_world()[0].penalty_strength == 0.0 and random_world(seed=0).penalty_strength == 0.5


def test_deprecated_alpha_names():
    """RM20's alpha is ``mixture_weight``: ``alpha=`` and the methods
    ``paper_alpha_interval`` / ``finite_alpha_threshold`` still work, with a
    DeprecationWarning, and give the same numbers as the new names."""
    world, h1 = two_point_world()
    g = world.randomization_gain(h1, mixture_weight=0.6)
    with pytest.warns(DeprecationWarning, match="'alpha' is deprecated; use 'mixture_weight'"):
        assert world.randomization_gain(h1, alpha=0.6) == g
    with pytest.warns(DeprecationWarning, match="'alpha' is deprecated"):
        old = world.randomization_mixture(h1, alpha=0.6)
    new = world.randomization_mixture(h1, 0.6)
    assert all(np.array_equal(a, b) for a, b in zip(old, new))
    with pytest.raises(TypeError, match="pass 'mixture_weight' only"):
        world.randomization_gain(h1, 0.6, alpha=0.6)
    with pytest.raises(TypeError, match="missing the argument 'mixture_weight'"):
        world.randomization_gain(h1)
    with pytest.warns(DeprecationWarning, match="use 'paper_mixture_weight_interval'"):
        assert world.paper_alpha_interval(0.5) == world.paper_mixture_weight_interval(0.5)
    with pytest.warns(DeprecationWarning, match="use 'finite_mixture_weight_threshold'"):
        assert world.finite_alpha_threshold(h1, 0.5, "literal") == world.finite_mixture_weight_threshold(h1, 0.5, "literal")


def test_argument_checks_follow_the_project_rule():
    """Arguments go through advgame._validation: a wrong type is a TypeError, a wrong
    value a ValueError, both naming the argument."""
    args = ([0.0, 1.0], [0.5, 0.0], [0.0, 0.5])
    with pytest.raises(TypeError, match="eps must be a real number"):
        FiniteWorld(*args, eps=True)
    with pytest.raises(TypeError, match="penalty_strength must be a real number"):
        FiniteWorld(*args, eps=1.0, penalty_strength="0.5")
    with pytest.raises(TypeError, match="n must be an integer"):
        random_world(n=2.0)
    with pytest.raises(TypeError, match="seed must be None, an int"):
        random_world(seed=1.5)
    with pytest.raises(TypeError, match="full_support must be True or False"):
        random_world(full_support=1)
    with pytest.raises(ValueError, match=r"n must lie in \[2, inf\)"):
        gaussian_world(n=1)
    world = FiniteWorld(*args, eps=1.0, penalty="norm")
    with pytest.raises(TypeError, match="mixture_weight must be a real number"):
        world.randomization_gain([1, -1], "0.7")
    with pytest.raises(TypeError, match="delta must be a real number"):
        world.proof_flip_set([1, -1], delta="0.5")
    with pytest.raises(ValueError, match=r"radius must lie in \[0, inf\)"):
        world.attackable([1, -1], radius=-1.0)
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        world.best_response_dynamics([1, -1], max_iter=2.5)


def test_package_layout_keeps_public_names():
    """Every public name of the former module ``advgame.regularized`` is importable from
    the package; the plotting function is the one of ``advgame.plot``."""
    import advgame.plot
    import advgame.regularized as reg

    for name in ("FiniteWorld", "Dynamics", "PENALTIES", "NEG", "POS", "motivating_world", "gaussian_world",
                 "random_world", "plot_pushforward_1d"):
        assert name in reg.__all__ and hasattr(reg, name)
    assert reg.plot_pushforward_1d is advgame.plot.plot_pushforward_1d
    assert (reg.NEG, reg.POS, reg.PENALTIES) == (0, 1, ("mass", "norm"))


# ------------------------------------------------ MNE21 Sec. 2.1 as a finite world
def test_motivating_world_numbers():
    """MNE21, Sec. 2.1: each classifier has adversarial risk 1, the uniform mixture 3/4 (lam = 0)."""
    world, labels = motivating_world()
    assert world.clean_risk(labels[0]) == pytest.approx(0.25)
    assert world.clean_risk(labels[1]) == pytest.approx(0.25)
    assert world.adversary_value(labels[0]) == pytest.approx(1.0)
    assert world.adversary_value(labels[1]) == pytest.approx(1.0)
    assert world.adversary_value(labels, [0.5, 0.5]) == pytest.approx(0.75)
    # the same number as the empirical Game of advgame.examples
    assert advgame.examples.motivating_game().risk([0.5, 0.5]) == pytest.approx(0.75)
    # and the LP over mixtures of f1, f2 finds the uniform mixture
    game, offset = world.to_game(labels)
    res = advgame.solve(game)
    assert res.value - offset == pytest.approx(0.75, abs=1e-9)
    assert np.allclose(res.weights, [0.5, 0.5], atol=1e-9)
    assert world.adversary_value(labels, res.weights) == pytest.approx(0.75, abs=1e-9)


@given(lam=st.floats(0.0, 0.99), penalty=st.sampled_from(PENALTIES))
def test_motivating_world_regularized_closed_form(lam, penalty):
    """With a penalty (every move here has length 1, so both penalties cost lam per move):
    each classifier's value is 1 - 3 lam / 4 (the -1 mass at 0 and the +1 mass at the
    correctly classified end move, the other +1 mass is already misclassified), and the
    uniform mixture's is max(0, 1/2 - lam)/2 + max(1/2, 1 - lam)/2."""
    world, labels = motivating_world(penalty_strength=lam, penalty=penalty)
    for k in range(2):
        assert world.adversary_value(labels[k]) == pytest.approx(1 - 0.75 * lam, abs=TOL)
    mix = 0.5 * max(0.0, 0.5 - lam) + 0.5 * max(0.5, 1 - lam)
    assert world.adversary_value(labels, [0.5, 0.5]) == pytest.approx(mix, abs=TOL)


# ------------------------------------------------------------ values and risks
@given(data=st.data(), world=worlds())
def test_adversary_value_is_the_supremum_over_attacks(data, world):
    """RM20, Eq. 4 / Eq. 8 maximized pointwise (Eq. 12, 28): for a mixture m and any
    attack phi within eps, R(m, phi) <= adversary_value(m), with equality exactly for
    the attacks is_adversary_best_response accepts; adversary_best_response attains it."""
    n = world.n
    K = data.draw(st.integers(1, 3))
    labels = np.stack([data.draw(labellings(n)) for _ in range(K)])
    w = np.array(data.draw(st.lists(st.integers(1, 5), min_size=K, max_size=K)), float)
    w /= w.sum()
    v = world.adversary_value(labels, w)
    br = world.adversary_best_response(labels, w)
    assert world.risk(labels, br, w) == pytest.approx(v, abs=TOL)
    assert world.is_adversary_best_response(br, labels, w)
    att = pick_attack(data, world, np.broadcast_to(world.reachable, (2, n, n)))
    r = world.risk(labels, att, w)
    assert r <= v + TOL
    assert world.is_adversary_best_response(att, labels, w) == (r >= v - 1e-9)
    # Eq. 4 = Eq. 2 minus lam * penalty
    assert r == pytest.approx(world.risk(labels, att, w, penalized=False) - world.penalty_strength * world.penalty_value(att))
    # the Game bridge computes the same value through advgame.Game
    game, offset = world.to_game(labels)
    assert game.risk(w) - offset == pytest.approx(v, abs=1e-9)


# ------------------------------------------------------------------- Lemma 1
@given(data=st.data(), world=worlds(penalty="mass"))
def test_lemma1_mass_penalty_best_response(data, world):
    """RM20, Lemma 1 (mass penalty), finite form, lam in (0, 1): a target j is optimal for
    the y-mass at x_i iff (x_i in P_h(eps) for y = +1, N_h(eps) for y = -1, and h(x_j) != y)
    or (x_i is not attackable and j = i).  Both directions are checked, for every pair.
    Consequently (RM20, Eq. 24 for the mass penalty)
    sup_phi R^Omega(h, phi) = R(h) + (1 - lam) * (mass of the attackable pairs)."""
    h = data.draw(labellings(world.n))
    opt = world.optimal_targets(h)
    zones = world.attackable(h)
    other = np.stack([h == 1, h == -1])  # other[y, j]: h(x_j) != y
    for y in (NEG, POS):
        for i in range(world.n):
            expected = (world.reachable[i] & other[y]) if zones[y, i] else (np.arange(world.n) == i)
            assert np.array_equal(opt[y, i], expected), (y, i)
    br = world.adversary_best_response(h)
    moved = br != np.arange(world.n)[None, :]
    assert np.array_equal(moved, zones)  # moves exactly the attackable pairs
    assert np.all(other[np.arange(2)[:, None], br][zones])  # across the labelling
    attacked = (world.masses * zones).sum()
    assert world.adversary_value(h) == pytest.approx(world.clean_risk(h) + (1 - world.penalty_strength) * attacked, abs=TOL)


# ------------------------------------------------------------------- Lemma 2
@given(data=st.data(), world=worlds(penalty="norm"))
def test_lemma2_norm_penalty_best_response(data, world):
    """RM20, Lemma 2 (norm penalty), finite form: the y-mass at x_i (h(x_i) = y) goes to
    the nearest point of the other label within eps (the finite stand-in for the
    projection on the decision boundary) when lam * d_min < 1, stays when lam * d_min > 1
    (RM20 assumes eps <= 1 so this never happens there), and may do either at equality;
    misclassified mass stays.  Hence (RM20, Eq. 24)
    sup_phi R^Omega(h, phi) = R(h) + sum over attackable pairs of mass * max(0, 1 - lam d_min)."""
    h = data.draw(labellings(world.n))
    opt = world.optimal_targets(h)
    D, lam = world.distances, world.penalty_strength
    other = np.stack([h == 1, h == -1])
    extra = 0.0
    for y in (NEG, POS):
        for i in range(world.n):
            cand = world.reachable[i] & other[y]
            stay = np.arange(world.n) == i
            if other[y, i] or not cand.any():
                assert np.array_equal(opt[y, i], stay), (y, i)
                continue
            dmin = D[i, cand].min()
            nearest = cand & (D[i] <= dmin + 1e-12)
            g = 1.0 - lam * dmin  # the gain of the move, against 0 for staying
            if g > 1e-12:
                assert np.array_equal(opt[y, i], nearest), (y, i)
            elif g < -1e-12:
                assert np.array_equal(opt[y, i], stay), (y, i)
            else:
                assert np.array_equal(opt[y, i], nearest | stay), (y, i)
            extra += world.masses[y, i] * max(0.0, 1 - lam * dmin)
    assert world.adversary_value(h) == pytest.approx(world.clean_risk(h) + extra, abs=TOL)
    if world.eps * lam < 1:  # RM20's regime: the best response moves exactly P_h(eps), N_h(eps)
        br = world.adversary_best_response(h)
        assert np.array_equal(br != np.arange(world.n)[None, :], world.attackable(h))


# ------------------------------------------------------------------- Lemma 3
@given(data=st.data(), world=worlds(n_max=6))
def test_lemma3_defender_best_response(data, world):
    """RM20, Lemma 3, finite form: for a fixed attack phi, the labellings minimizing
    R^Omega(h, phi) are exactly those with nu_y phi_y#mu_y(B) >= nu_-y phi_-y#mu_-y(B) for
    every B inside {h = y}; on finitely many points the condition on single points is
    equivalent, and it is also sufficient (the risk is a sum over points).  Checked
    against all 2**n labellings, and on a random subset B for the set form."""
    att = pick_attack(data, world, np.broadcast_to(world.reachable, (2, world.n, world.n)))
    H = all_labellings(world.n)
    risks = np.array([world.risk(h, att) for h in H])
    best = risks.min()
    h_br = world.defender_best_response(att)
    assert world.risk(h_br, att) == pytest.approx(best, abs=TOL)
    for h, r in zip(H, risks):
        assert world.is_defender_best_response(h, att) == (r <= best + 1e-9)
    # the set form of Lemma 3 for the best response
    T = world.pushforward(att)
    B = np.array(data.draw(st.lists(st.booleans(), min_size=world.n, max_size=world.n)))
    for y, row in ((-1, 0), (1, 1)):
        S = B & (h_br == y)
        assert T[row, S].sum() >= T[1 - row, S].sum() - 1e-12
    # ties follow `prefer`
    prefer = data.draw(labellings(world.n))
    h_p = world.defender_best_response(att, prefer=prefer)
    assert world.is_defender_best_response(h_p, att)
    tie = np.abs(T[0] - T[1]) <= 1e-12
    assert np.array_equal(h_p[tie], prefer[tie])


# --------------------------------------------------- weak duality, Consequence 1
@THEOREM_EXAMPLES
@given(world=worlds(n_max=4))
def test_weak_duality_and_pure_equilibria(world):
    """RM20, Consequence 1: sup_phi inf_h R^Omega(h, phi) <= inf_h sup_phi R^Omega(h, phi)
    (weak duality, here by enumerating every labelling and every attack).  In a finite
    game with pure strategies the two are equal iff a pure Nash equilibrium exists, and
    the returned pair is then one: checked with is_pure_nash_equilibrium."""
    lo, att = world.maximin_value()
    hi, h = world.minimax_value()
    assert lo <= hi + TOL
    assert world.adversary_value(h) == pytest.approx(hi, abs=TOL)
    assert world.risk(world.defender_best_response(att), att) == pytest.approx(lo, abs=TOL)
    H = all_labellings(world.n)
    assert hi <= min(world.adversary_value(g) for g in H) + TOL
    if abs(hi - lo) <= 1e-9:  # a saddle point: the minimax labelling and the maximin attack
        assert world.is_pure_nash_equilibrium(h, att)


@THEOREM_EXAMPLES
@given(world=worlds(n_max=4, full_support=True))
def test_theorem1_full_support_characterization(world):
    """RM20, Thm. 1, finite form (full support, lam in (0, 1)): a pure Nash equilibrium
    exists iff some Bayes classifier of the clean distribution has no profitably
    attackable pair (then phi = identity is the adversary's only best response).
    Proof: by test_theorem1_no_best_response_is_stable, an equilibrium h has no
    attackable pair, so BR(h) = {identity} and h must be clean-Bayes; conversely such an
    h and the identity are best responses to each other.  Equilibrium existence is
    decided independently, by maximin == minimax over all pure strategies."""
    lo, _ = world.maximin_value()
    hi, _ = world.minimax_value()
    has_ne = abs(hi - lo) <= 1e-9
    ident = world.identity_attack()
    stable = [
        h for h in all_labellings(world.n)
        if world.is_defender_best_response(h, ident) and not world.profitably_attackable(h).any()
    ]
    assert has_ne == bool(stable)


# ------------------------------------------------------------------- Theorem 1
@THEOREM_EXAMPLES
@given(data=st.data(), world=worlds())
def test_theorem1_no_best_response_is_stable(data, world):
    """RM20, Thm. 1 (proof), finite form, lam in (0, 1): let h have a pair (y, x_i) that
    is profitably attackable (h(x_i) = y, a point of label -y within eps, lam c < 1) and
    carry -y mass at x_i (RM20's full support gives this).  Then for EVERY phi in BR(h),
    h is not in BR(phi): phi moves all y-mass off x_i, no y-mass lands on x_i (landing on
    a point labelled y gains nothing and costs), while the -y mass at x_i stays, so
    x_i is labelled y against its transported majority (Lemma 3).  phi is drawn among
    all best responses."""
    h = data.draw(labellings(world.n))
    phi = pick_attack(data, world, world.optimal_targets(h))
    assert world.is_adversary_best_response(phi, h)
    zones = world.profitably_attackable(h)
    opposite = world.masses[::-1]  # opposite[y, i]: mass of label -y at x_i
    witness = (zones & (opposite > 0)).any()
    note(f"witness={witness}")
    if witness:
        assert not world.is_defender_best_response(h, phi)
        assert not world.is_pure_nash_equilibrium(h, phi)


@THEOREM_EXAMPLES
@given(data=st.data(), world=worlds())
def test_theorem1_best_response_dynamics(data, world):
    """Best-response dynamics (RM20, Thm. 1 machinery) end in a fixed point or a cycle
    (a deterministic map on 2**n labellings).  A reported fixed point is a pure Nash
    equilibrium, checked by brute force (its attack attains the adversary's value and
    its labelling minimizes the risk under that attack over all 2**n labellings), and,
    by the previous test, has no profitably attackable pair carrying opposite mass.  On a
    reported cycle (length >= 2) no labelling is a best response to its attack."""
    h0 = data.draw(labellings(world.n))
    dyn = world.best_response_dynamics(h0)
    assert isinstance(dyn, Dynamics)
    assert dyn.status in ("fixed_point", "cycle")
    assert np.array_equal(dyn.labels[0], h0)
    H = all_labellings(world.n)
    if dyn.status == "fixed_point":
        h, phi = dyn.equilibrium
        assert dyn.cycle_length == 1
        assert world.risk(h, phi) == pytest.approx(world.adversary_value(h), abs=TOL)
        assert world.risk(h, phi) <= min(world.risk(g, phi) for g in H) + TOL
        zones = world.profitably_attackable(h)
        assert not (zones & (world.masses[::-1] > 0)).any()
    else:
        assert dyn.equilibrium is None and dyn.cycle_length >= 2
        for h, phi in zip(dyn.cycle, dyn.attacks[dyn.cycle_start:]):
            assert not world.is_defender_best_response(h, phi)


def test_theorem1_gaussian_world_cycles():
    """RM20's setting (two Gaussians, full support on the grid): from the Bayes classifier
    the dynamics never settle, for both penalties (Thm. 1)."""
    for penalty in PENALTIES:
        world = gaussian_world(eps=0.5, penalty_strength=0.5, penalty=penalty, n=101, half_width=4.0)
        h = np.where(world.points[:, 0] > 0, 1, -1)
        dyn = world.best_response_dynamics(h)
        assert dyn.status == "cycle" and dyn.cycle_length >= 2


def test_regression_theorem1_constant_classifier_equilibrium():
    """Counterexample to RM20, Thm. 1 as stated: when nu_1 mu_1 >= nu_-1 mu_-1 everywhere,
    h = +1 everywhere is a Bayes classifier, nothing is attackable (P_h(eps) and N_h(eps)
    are empty), the identity is the adversary's best response, and (h, identity) is a
    pure Nash equilibrium.  RM20's proof needs P_h(delta) to carry mass, which fails for
    a constant h.  The same happens with full support in the continuous setting (equal
    Gaussians, prior 0.9); here on a grid of that setting."""
    world = gaussian_world(mean=0.0, prior_pos=0.9, eps=0.5, penalty_strength=0.5, n=61, half_width=3.0)
    assert world.full_support
    h = np.ones(world.n, dtype=np.int8)
    ident = world.identity_attack()
    assert np.array_equal(world.adversary_best_response(h), ident)
    assert world.is_pure_nash_equilibrium(h, ident)
    dyn = world.best_response_dynamics(h)
    assert dyn.status == "fixed_point"
    assert np.array_equal(dyn.equilibrium[0], h)
    assert world.adversary_value(h) == pytest.approx(0.1)


# --------------------------------------------------- Theorems 2 and 3: exact lines
def proof_lines(world, h1, U, alpha):
    """The finite versions of RM20's Eq. 48-51 (mass) / Eq. 53-57 (norm): the difference of
    the adversary's values between h1 and the mixture alpha h1 + (1 - alpha) h2, h2 = -h1 on
    U (a subset of P_h1), h1 elsewhere, point by point and grouped by region.  Written from
    the proof, independently of the library's maximization."""
    lam = world.penalty_strength
    C = costs_within_eps(world)
    a, b = world.mass_neg, world.mass_pos
    P, N = h1 == 1, h1 == -1
    P_eps = world.attackable(h1)[1]
    rest = P & ~U
    lines = dict.fromkeys(["53", "54", "55", "56", "57"], 0.0)
    for x in range(world.n):
        cN, cU, cR, cP = (min_cost(C, x, S) for S in (N, U, rest, P))
        if U[x]:  # Eq. 53 (+1 mass) and Eq. 54 (-1 mass) on U
            lines["53"] += b[x] * (max(0.0, 1 - lam * cN) - max(1 - alpha, 1 - lam * cN))
            lines["54"] += a[x] * (1 - max(alpha, 1 - lam * cR))
        elif P[x] and not P_eps[x]:  # Eq. 55: the safe zone, which may now attack U
            lines["55"] -= b[x] * max(0.0, 1 - alpha - lam * cU)
        elif P[x]:  # Eq. 56: P_h1(eps) outside U, two ways to attack
            lines["56"] += b[x] * (max(0.0, 1 - lam * cN) - max(0.0, 1 - lam * cN, 1 - alpha - lam * cU))
        else:  # Eq. 57: the -1 mass on N_h1, attacking U now works with probability alpha
            lines["57"] += a[x] * (max(0.0, 1 - lam * cP) - max(0.0, 1 - lam * cR, alpha - lam * cU))
    return lines


@THEOREM_EXAMPLES
@given(data=st.data(), world=worlds(), alpha=st.floats(0.0, 1.0))
def test_theorems_2_3_exact_gain_decomposition(data, world, alpha):
    """RM20, Eq. 47-51 (proof of Thm. 2) and Eq. 52-57 (proof of Thm. 3), finite form: for
    every alpha in [0, 1] and the proof's h2, randomization_gain equals the sum of the
    proof's lines, each written with the 'stay' option (0) kept inside its max (the paper
    drops it where its assumptions make it inactive) and with the finite cheapest moves
    in place of projections.  For the norm penalty both readings of U are checked."""
    h1 = data.draw(labellings(world.n))
    if world.penalty == "mass":
        cases = [dict()]
    else:
        delta = data.draw(st.sampled_from([0.25, 0.5, 0.75])) * world.eps
        cases = [dict(delta=delta, reading="boundary"), dict(delta=delta, reading="literal")]
    for kw in cases:
        U = world.proof_flip_set(h1, **kw)
        gain = world.randomization_gain(h1, alpha, construction="proof", **kw)
        lines = proof_lines(world, h1, U, alpha)
        assert gain == pytest.approx(sum(lines.values()), abs=1e-9), (kw, lines)


# ------------------------------------------------------------------- Theorem 2
@THEOREM_EXAMPLES
@given(data=st.data(), world=worlds(penalty="mass"))
def test_theorem2_any_best_responses(data, world):
    """RM20, Thm. 2 as stated (mass penalty, lam in (0, 1)), finite form: for EVERY
    phi in BR(h1), EVERY h2 in BR(phi) and alpha in [max(lam, 1 - lam), 1),

        sup R^Omega(h1) - sup R^Omega(alpha h1 + (1 - alpha) h2)
            >= (1 - max(alpha, 1 - lam)) * sum_{x attackable for h1} mass of label -h1(x) at x.

    Proof (pointwise): correctly classified, attackable pairs keep value <= 1 - lam (alpha >=
    lam); unattackable correct pairs gain at most (1 - alpha) where h2 flips them, which
    only happens where the opposite clean mass is at least as large and gains (1 - alpha)
    (alpha >= 1 - lam); at an attackable x the opposite mass drops from 1 to at most
    max(alpha, 1 - lam).  So the gain is >= 0 always, and > 0 when an attackable point
    carries opposite mass, which RM20's full support gives whenever P_h1(eps) or
    N_h1(eps) is non-empty.  phi and the ties of h2 are drawn at random."""
    h1 = data.draw(labellings(world.n))
    lo, _ = world.paper_mixture_weight_interval()
    alpha = data.draw(st.floats(lo, 1.0, exclude_max=True))
    phi = pick_attack(data, world, world.optimal_targets(h1))
    h2 = world.defender_best_response(phi, prefer=data.draw(labellings(world.n)))
    assert world.is_defender_best_response(h2, phi)
    labels, weights = np.stack([h1, h2]), np.array([alpha, 1 - alpha])
    gain = world.adversary_value(h1) - world.adversary_value(labels, weights)
    zones = world.attackable(h1)
    bound = (1 - max(alpha, 1 - world.penalty_strength)) * world.masses[::-1][zones].sum()
    assert gain >= bound - 1e-9
    if world.full_support and zones.any():
        assert gain > 0
    # the library's construction is one of these
    assert world.randomization_gain(h1, alpha) >= -1e-9
    lab, wts = world.randomization_mixture(h1, alpha)
    assert np.array_equal(lab[0], h1) and np.allclose(wts, [alpha, 1 - alpha])
    assert world.is_defender_best_response(lab[1], world.adversary_best_response(h1))


def test_regression_theorem2_strictness_needs_an_attackable_zone():
    """Counterexample to the strict inequality of RM20, Thm. 2 as stated: for a constant
    h1 that is a Bayes classifier of the clean data, nothing is attackable, phi is the
    identity, h2 = h1 (ties kept) and the mixture is h1 itself: the gain is exactly 0,
    with full support.  (The same constant classifier as the Thm. 1 regression.)"""
    world = gaussian_world(mean=0.0, prior_pos=0.9, eps=0.5, penalty_strength=0.3, n=61, half_width=3.0)
    h1 = np.ones(world.n, dtype=np.int8)
    lo, _ = world.paper_mixture_weight_interval()
    for alpha in (lo + 0.01, 0.9, 0.99):
        assert world.randomization_gain(h1, alpha) == 0.0
        assert world.randomization_gain(h1, alpha, construction="proof") == 0.0


@THEOREM_EXAMPLES
@given(data=st.data(), world=worlds(penalty="mass"))
def test_theorem2_proof_construction(data, world):
    """RM20, proof of Thm. 2 (h2 = -h1 on U = P_h1(eps) only): for alpha in
    [max(lam, 1 - lam), 1), Eq. 48 and Eq. 50 vanish and Eq. 49, 51 are >= 0, so the gain
    is >= (1 - max(alpha, 1 - lam)) * nu_-1 mu_-1(U) >= 0: strict as soon as U carries -1
    mass (RM20's full support)."""
    h1 = data.draw(labellings(world.n))
    lo, _ = world.paper_mixture_weight_interval()
    alpha = data.draw(st.floats(lo, 1.0, exclude_max=True))
    U = world.proof_flip_set(h1)
    gain = world.randomization_gain(h1, alpha, construction="proof")
    assert gain >= (1 - max(alpha, 1 - world.penalty_strength)) * world.mass_neg[U].sum() - 1e-9
    assert world.finite_mixture_weight_threshold(h1) <= lo + 1e-12


# ------------------------------------------------------------------- Theorem 3
@THEOREM_EXAMPLES
@given(data=st.data(), world=worlds(penalty="norm"))
def test_theorem3_proof_construction(data, world):
    """RM20, Thm. 3 (norm penalty) through its proof, finite form, with the 'boundary'
    reading U = {x in P_h1 : d(x, N_h1) <= eps - delta}: for every delta in (0, eps) and
    alpha in the paper's interval (max(1 - lam delta, lam (eps - delta)), 1),
    Eq. 53 >= 0 (alpha >= lam (eps - delta) >= lam d(x, N)), Eq. 55 = 0 (a safe point is
    more than delta from U, by the triangle inequality), Eq. 56 >= 0 (triangle
    inequality again), Eq. 57 >= 0, and Eq. 54 gives the strict part:

        gain >= sum_{x in U} nu_-1 mu_-1(x) (1 - max(alpha, 1 - lam c(x, P_h1 minus U))) > 0

    when U carries -1 mass.  No continuity is used, so the statement holds on every finite
    world (any l_p norm, any eps, lam)."""
    h1 = data.draw(labellings(world.n))
    delta = data.draw(st.floats(0.05, 0.95)) * world.eps
    lo, _ = world.paper_mixture_weight_interval(delta)
    if lo >= 1:  # lam (eps - delta) >= 1: the interval is empty (RM20 has eps <= 1)
        return
    alpha = data.draw(st.floats(lo, 1.0, exclude_min=True, exclude_max=True))
    U = world.proof_flip_set(h1, delta)
    gain = world.randomization_gain(h1, alpha, construction="proof", delta=delta)
    C = costs_within_eps(world)
    rest = (h1 == 1) & ~U
    bound = sum(world.mass_neg[x] * (1 - max(alpha, 1 - world.penalty_strength * min_cost(C, x, rest)))
                for x in np.flatnonzero(U))
    assert gain >= bound - 1e-9
    assert world.finite_mixture_weight_threshold(h1, delta) <= lo + 1e-12


@THEOREM_EXAMPLES
@given(data=st.data(), world=worlds(penalty="norm"), reading=st.sampled_from(["boundary", "literal"]))
def test_theorem3_finite_threshold(data, world, reading):
    """For any of the proof's sets U (both readings), alpha >= finite_mixture_weight_threshold
    (lam max_U c_N, 1 - lam min c_U over the safe zone, and lam (c_N - c_U) on the rest of
    P_h1(eps)) makes every line of Eq. 53-57 non-negative, so the gain is >= 0."""
    h1 = data.draw(labellings(world.n))
    delta = data.draw(st.floats(0.05, 0.95)) * world.eps
    thr = world.finite_mixture_weight_threshold(h1, delta, reading=reading)
    if thr >= 1:
        return
    alpha = data.draw(st.floats(thr, 1.0))
    assert world.randomization_gain(h1, alpha, construction="proof", delta=delta, reading=reading) >= -1e-9


def two_point_world():
    """Points 1 and 2 (distance 1 = eps), lam = 0.9, h1 = (+1, -1), masses a = (1, 2)/9, b = (4, 2)/9."""
    world = FiniteWorld([1.0, 2.0], np.array([1.0, 2.0]) / 9, np.array([4.0, 2.0]) / 9,
                        eps=1.0, penalty="norm", penalty_strength=0.9)
    return world, np.array([1, -1], dtype=np.int8)


def test_regression_theorem3_literal_reading_fails_on_finite_worlds():
    """Finite-world phenomenon (NOT a counterexample to RM20, Thm. 3): the adversary may
    land on the world's two points only.  With delta = 0.5 the paper's interval is
    (max(1 - 0.45, 0.45), 1) = (0.55, 1); take alpha = 0.6.

    * The proof's h2 with the literal U (points of P_h1(eps) at distance >= delta from the
      safe zone P_h1 minus P_h1(eps), which is empty here): U = {x=1}, although x=1 is at
      distance 1 > eps - delta from N_h1.  The +1 mass there was attacked for 1 - 0.9 =
      0.1; against the mixture it just stays, misclassified with probability 0.4.  Gain
      = -0.6/9 < 0.
    * The statement's h2 in BR(phi) flips both points; same value, gain -0.6/9 < 0.

    RM20's setting differs in two ways: the adversary may move a point anywhere within
    eps (onto the decision boundary, which U then borders), and eps lies in (0, 1) (here
    eps = 1).  With a continuum of targets the same masses give no failure
    (test_theorem3_same_masses_with_a_continuum_of_targets); the gaps between atoms, not
    eps = 1, cause it (test_regression_theorem3_finite_world_inside_rm20_eps_range).
    With the 'boundary' reading, U is empty here (gain 0) and Thm. 3 holds on every
    finite world (test_theorem3_proof_construction); finite_mixture_weight_threshold for
    the literal U is lam * 1 = 0.9."""
    world, h1 = two_point_world()
    delta, alpha = 0.5, 0.6
    lo, _ = world.paper_mixture_weight_interval(delta)
    assert lo == pytest.approx(0.55) and lo < alpha
    assert np.array_equal(world.proof_flip_set(h1, delta, reading="literal"), [True, False])
    assert world.adversary_value(h1) == pytest.approx(3.6 / 9)
    g_lit = world.randomization_gain(h1, alpha, construction="proof", delta=delta, reading="literal")
    g_br = world.randomization_gain(h1, alpha)
    assert g_lit == pytest.approx(-0.6 / 9) and g_br == pytest.approx(-0.6 / 9)
    assert world.finite_mixture_weight_threshold(h1, delta, reading="literal") == pytest.approx(0.9)
    assert world.randomization_gain(h1, 0.9, construction="proof", delta=delta, reading="literal") >= 0
    assert not world.proof_flip_set(h1, delta).any()
    assert world.randomization_gain(h1, alpha, construction="proof", delta=delta) == 0.0


def test_regression_theorem3_finite_world_inside_rm20_eps_range():
    """The two-point phenomenon does not need eps = 1: the same masses on the points 0 and
    0.9 with eps = 0.9 (inside RM20's (0, 1)), lam = 0.9, delta = 0.45: the interval is
    (0.595, 1) and at alpha = 0.6 the literal U = {x=0} and the statement's h2 both give
    gain -0.06/9 < 0 (the +1 mass at 0 was attacked for 1 - 0.81 = 0.19, against the
    mixture it stays for 0.4).  A finite-world fact: the adversary cannot stop at the
    decision boundary between the two atoms."""
    world = FiniteWorld([0.0, 0.9], np.array([1.0, 2.0]) / 9, np.array([4.0, 2.0]) / 9,
                        eps=0.9, penalty="norm", penalty_strength=0.9)
    h1 = np.array([1, -1], dtype=np.int8)
    delta, alpha = 0.45, 0.6
    lo, _ = world.paper_mixture_weight_interval(delta)
    assert lo == pytest.approx(0.595) and lo < alpha
    g_lit = world.randomization_gain(h1, alpha, construction="proof", delta=delta, reading="literal")
    assert g_lit == pytest.approx(-0.06 / 9)
    assert world.randomization_gain(h1, alpha) == pytest.approx(-0.06 / 9)
    assert world.randomization_gain(h1, alpha, construction="proof", delta=delta) == 0.0


def atoms_on_a_grid(eps, n_grid=401):
    """The two-point world's masses (atoms at 1 and 2) with targets on a fine grid of
    [-1, 4]: a stand-in for RM20's continuum of targets (the adversary can stop next to
    any decision boundary)."""
    x = np.round(np.linspace(-1.0, 4.0, n_grid), 12)
    a, b = np.zeros(n_grid), np.zeros(n_grid)
    i1, i2 = int(np.argmin(np.abs(x - 1))), int(np.argmin(np.abs(x - 2)))
    a[[i1, i2]] = np.array([1.0, 2.0]) / 9
    b[[i1, i2]] = np.array([4.0, 2.0]) / 9
    return FiniteWorld(x, a, b, eps=eps, penalty="norm", penalty_strength=0.9), x, i1


@pytest.mark.parametrize("eps", [0.9, 1.0])
def test_theorem3_same_masses_with_a_continuum_of_targets(eps):
    """RM20, Thm. 3 through its proof holds on the two-point masses once the adversary has
    (a fine grid standing for) a continuum of targets: for threshold classifiers h1 (+1 on
    x < t, t between the atoms), delta in (0, eps) and alpha in the paper's interval, the
    proof's mixture gains >= 0 under both readings of U (equal for a threshold, up to a
    grid point),
    and > 0 when U carries the -1 mass at the atom 1."""
    world, x, i1 = atoms_on_a_grid(eps)
    strict = 0
    for t in (1.1, 1.5, 1.9):
        h1 = np.where(x < t, 1, -1).astype(np.int8)
        for delta in (0.25 * eps, 0.5 * eps):
            lo, _ = world.paper_mixture_weight_interval(delta)
            U = world.proof_flip_set(h1, delta)
            # the readings coincide for a threshold, up to one grid point at the end of U
            assert (U != world.proof_flip_set(h1, delta, reading="literal")).sum() <= 1
            for alpha in np.linspace(lo, 1.0, 5)[1:-1]:
                for reading in ("boundary", "literal"):
                    g = world.randomization_gain(h1, alpha, construction="proof", delta=delta, reading=reading)
                    assert g >= -1e-12, (t, delta, alpha, reading)
                    if U[i1]:
                        assert g > 0
                        strict += 1
    assert strict > 0


def test_theorem3_holds_on_gaussians():
    """RM20's Gaussian setting (Figure 1) on a fine grid, norm penalty: for threshold
    classifiers, eps in (0, 1), several lam, delta and alpha in the paper's interval, the
    proof's mixture (both readings) and the statement's h2 in BR(phi) all gain > 0."""
    for eps, lam in ((0.5, 0.5), (0.9, 0.9), (0.3, 0.3)):
        world = gaussian_world(eps=eps, penalty="norm", penalty_strength=lam, n=401, half_width=5.0)
        x = world.points[:, 0]
        for t in (-0.5, 0.0, 0.7):
            h1 = np.where(x > t, 1, -1)
            for delta in (0.25 * eps, 0.75 * eps):
                lo, _ = world.paper_mixture_weight_interval(delta)
                for alpha in np.linspace(lo, 1.0, 4)[1:-1]:
                    for reading in ("boundary", "literal"):
                        assert world.randomization_gain(h1, alpha, construction="proof", delta=delta,
                                                        reading=reading) > 0
                    assert world.randomization_gain(h1, alpha) > 0


@given(data=st.data(), world=worlds(penalty="norm"))
def test_mixture_value_convexity_bound(data, world):
    """RM20, Thm. 3 as stated takes h2 in BR(phi); its proof uses a different h2.  On
    finite worlds the statement's version fails (test_regression_theorem3_literal_...):
    this test records what does hold for it, the unconditional convexity bound
    sup R(mixture) <= alpha sup R(h1) + (1 - alpha) sup R(h2) (the adversary's pointwise
    max is convex in the classifier), so the gain is negative only when h2 alone does
    worse than h1 against its own best response."""
    h1 = data.draw(labellings(world.n))
    alpha = data.draw(st.floats(0.0, 1.0))
    labels, weights = world.randomization_mixture(h1, alpha)
    v1, v2 = world.adversary_value(labels[0]), world.adversary_value(labels[1])
    vm = world.adversary_value(labels, weights)
    assert vm <= alpha * v1 + (1 - alpha) * v2 + 1e-9
    if world.randomization_gain(h1, alpha) < -1e-9:
        assert v2 > v1


# ------------------------------------------------------------------ Figure 1
def test_figure1_best_responses_on_gaussians():
    """RM20, Figure 1 and the comments under Lemmas 1-2, on a grid of two Gaussians with
    the Bayes classifier h = sign(x): the mass penalty's best response leaves no +1 mass
    on P_h(eps) and no -1 mass on N_h(eps); the norm penalty's puts all of it on the two
    grid points next to 0 (a point mass at the boundary); the unregularized adversary
    (lam = 0) gets R(h) plus all attackable mass, the regularized ones less."""
    eps = 0.5
    worlds_ = {p: gaussian_world(eps=eps, penalty_strength=0.5, penalty=p, n=201, half_width=5.0) for p in PENALTIES}
    x = worlds_["mass"].points[:, 0]
    h = np.where(x > 0, 1, -1)
    zones = worlds_["mass"].attackable(h)
    assert x[zones[POS]].min() > 0 and x[zones[POS]].max() == pytest.approx(eps)
    T = worlds_["mass"].pushforward(worlds_["mass"].adversary_best_response(h))
    assert T[POS, zones[POS]].sum() == 0 and T[NEG, zones[NEG]].sum() == 0
    Tn = worlds_["norm"].pushforward(worlds_["norm"].adversary_best_response(h))
    moved_pos = worlds_["norm"].mass_pos[zones[POS]].sum()
    j0 = int(np.argmin(np.abs(x - 0.0)))  # x = 0, labelled -1: the nearest point across for +1 mass
    assert Tn[POS, j0] == pytest.approx(worlds_["norm"].mass_pos[j0] + moved_pos)
    free = gaussian_world(eps=eps, penalty_strength=0.0, n=201, half_width=5.0)
    attacked = (free.masses * free.attackable(h)).sum()
    assert free.adversary_value(h) == pytest.approx(free.clean_risk(h) + attacked)
    assert worlds_["mass"].adversary_value(h) < free.adversary_value(h)
    assert worlds_["norm"].adversary_value(h) < free.adversary_value(h)


def test_figure1_script_runs(tmp_path):
    """The figure script runs and writes both files."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("matplotlib")
    path = Path(__file__).resolve().parents[1] / "docs" / "scripts" / "rm20_figure1.py"
    spec = importlib.util.spec_from_file_location("rm20_figure1", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main([str(tmp_path)])
    for ext in ("png", "pdf"):
        assert (tmp_path / f"rm20_figure1.{ext}").stat().st_size > 1000
