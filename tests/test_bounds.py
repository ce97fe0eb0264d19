"""advgame.bounds: the optimal adversarial risk over all classifiers.

Checks: hand-made cases with known answers, the flow/cover certificate (a feasible
matching and a vertex cover of equal mass prove both optimal), agreement with
scipy's bipartite matching and maximum flow, and that the bound never exceeds the
exact adversarial risk of a linear classifier.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.sparse.csgraph import maximum_bipartite_matching, maximum_flow
from scipy.spatial.distance import cdist

from advgame.bounds import optimal_adversarial_risk, parse_norm
from advgame.synthetic import LinearClassifier, make_gaussians, random_linear_classifiers

METRIC = {1: "cityblock", 2: "euclidean", np.inf: "chebyshev"}


def conflicts(X, y, eps, norm):
    """Independent conflict matrix between the -1 (rows) and +1 (columns) points."""
    neg, pos = np.flatnonzero(y < 0), np.flatnonzero(y > 0)
    return neg, pos, cdist(X[neg], X[pos], METRIC[norm]) <= 2 * eps


def check_certificate(res, X, y, eps, norm, w=None):
    """The matching is feasible, the cover meets every conflict, both have mass value."""
    N = len(y)
    w = np.full(N, 1.0 / N) if w is None else np.asarray(w, float) / np.sum(w)
    neg, pos, C = conflicts(X, y, eps, norm)
    # matching: on conflicts, within each point's weight, total = value
    assert res.mass.shape == (res.pairs.shape[0],)
    assert (res.mass > 0).all()
    assert np.isclose(res.mass.sum(), res.value, atol=1e-12)
    d = cdist(X[res.pairs[:, 0]], X[res.pairs[:, 1]], METRIC[norm]).diagonal() if len(res.pairs) else []
    assert np.all(np.asarray(d) <= 2 * eps)
    assert np.all(y[res.pairs[:, 0]] < 0) and np.all(y[res.pairs[:, 1]] > 0)
    used = np.bincount(res.pairs.ravel(), weights=np.repeat(res.mass, 2), minlength=N)
    assert np.all(used <= w + 1e-12)
    # cover: every conflict has a vulnerable end, and its weight equals the value
    ii, jj = np.nonzero(C)
    assert np.all(res.vulnerable[neg[ii]] | res.vulnerable[pos[jj]])
    assert np.isclose(w[res.vulnerable].sum(), res.value, atol=1e-9)
    assert res.n_conflicts == int(C.sum())


# ------------------------------------------------------------------ hand-made cases
@pytest.mark.parametrize("dist, eps, expected", [(1.0, 0.6, 0.5), (1.0, 0.4, 0.0), (2.0, 1.0, 0.5), (0.0, 0.0, 0.5)])
def test_two_opposite_points(dist, eps, expected):
    # balls of radius eps meet iff the distance is <= 2 eps (closed balls; equality conflicts)
    X = np.array([[0.0, 0.0], [dist, 0.0]])
    y = np.array([-1, 1])
    res = optimal_adversarial_risk(X, y, eps)
    assert res.value == pytest.approx(expected, abs=1e-15)
    check_certificate(res, X, y, eps, 2)


@pytest.mark.parametrize("spacing, eps, expected", [(1.0, 0.5, 1 / 3), (1.0, 0.49, 0.0), (1.0, 1.0, 1 / 3), (2.0, 1.2, 1 / 3)])
def test_three_collinear_points(spacing, eps, expected):
    # -1, +1, -1: the +1 point can be matched to one -1 only, so 1/3 even when all conflict
    X = np.array([[0.0], [spacing], [2 * spacing]])
    y = np.array([-1, 1, -1])
    res = optimal_adversarial_risk(X, y, eps)
    assert res.value == pytest.approx(expected, abs=1e-15)
    check_certificate(res, X, y, eps, 2)


def test_weighted_three_points():
    X = np.array([[0.0], [1.0], [2.0]])
    y = np.array([-1, 1, -1])
    # the +1 point (weight 0.2) absorbs 0.2 of the 0.8 negative mass around it
    res = optimal_adversarial_risk(X, y, 0.5, sample_weights=[0.5, 0.2, 0.3])
    assert res.value == pytest.approx(0.2)
    assert res.vulnerable.tolist() == [False, True, False]
    # a heavy +1 point is matched to both negatives: 0.2 + 0.3
    res = optimal_adversarial_risk(X, y, 0.5, sample_weights=[0.2, 0.5, 0.3])
    assert res.value == pytest.approx(0.5)
    check_certificate(res, X, y, 0.5, 2, w=[0.2, 0.5, 0.3])
    # relative weights are normalized
    res2 = optimal_adversarial_risk(X, y, 0.5, sample_weights=[2, 5, 3])
    assert res2.value == pytest.approx(0.5)


def test_chain_of_four_and_its_matching():
    # -1 +1 -1 +1 spaced by 1, eps = 0.5: a path of 3 conflicts, max matching 2 pairs
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([-1, 1, -1, 1])
    res = optimal_adversarial_risk(X, y, 0.5)
    assert res.value == pytest.approx(0.5)
    assert sorted(map(tuple, res.pairs.tolist())) == [(0, 1), (2, 3)]
    check_certificate(res, X, y, 0.5, 2)


@pytest.mark.parametrize(
    "norm, eps, expected",
    [(2, 0.70, 0.0), (2, 0.71, 0.5), (np.inf, 0.49, 0.0), (np.inf, 0.5, 0.5), (1, 0.99, 0.0), (1, 1.0, 0.5),
     ("linf", 0.5, 0.5), ("l1", 0.99, 0.0)],
)
def test_norms(norm, eps, expected):
    # (0,0) and (1,1): l2 distance sqrt 2, linf 1, l1 2
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    y = np.array([1, -1])
    assert optimal_adversarial_risk(X, y, eps, norm=norm).value == pytest.approx(expected)


def test_one_class_and_zero_one_labels():
    X = np.random.default_rng(0).normal(size=(20, 2))
    assert optimal_adversarial_risk(X, np.ones(20), 5.0).value == 0.0
    assert optimal_adversarial_risk(X, -np.ones(20), 5.0).value == 0.0
    y = np.where(np.arange(20) % 2 == 0, -1, 1)
    a = optimal_adversarial_risk(X, y, 0.4).value
    b = optimal_adversarial_risk(X, (y + 1) // 2, 0.4).value
    assert a == b > 0


def test_eps_large_gives_smaller_class_mass():
    # every pair conflicts: the best is to give up the smaller class
    X, y = make_gaussians(300, seed=3)
    res = optimal_adversarial_risk(X, y, 100.0)
    assert res.value == pytest.approx(min((y < 0).mean(), (y > 0).mean()), abs=1e-12)


def test_zero_weight_points_do_not_change_the_value():
    rng = np.random.default_rng(1)
    X, y = make_gaussians(60, seed=rng)
    w = rng.random(60) + 0.1
    base = optimal_adversarial_risk(X, y, 0.8, sample_weights=w)
    Xz = np.vstack([X, X[:10] + 0.01])
    yz = np.concatenate([y, -y[:10]])  # each new point conflicts with its twin
    wz = np.concatenate([w, np.zeros(10)])
    res = optimal_adversarial_risk(Xz, yz, 0.8, sample_weights=wz)
    assert res.value == pytest.approx(base.value, abs=1e-12)
    check_certificate(res, Xz, yz, 0.8, 2, w=wz)


# ------------------------------------------------------- against scipy's csgraph
def _scipy_matching_value(X, y, eps, norm):
    neg, pos, C = conflicts(X, y, eps, norm)
    if C.size == 0:
        return 0
    match = maximum_bipartite_matching(sp.csr_matrix(C), perm_type="column")
    return int((match >= 0).sum())


def _scipy_flow_value(X, y, eps, norm, w_int):
    """Max flow source -> negatives (w_i) -> positives (conflicts, cap sum w) -> sink (w_j)."""
    neg, pos, C = conflicts(X, y, eps, norm)
    n1, n2 = len(neg), len(pos)
    s, t = 0, 1 + n1 + n2
    big = int(w_int.sum())
    ii, jj = np.nonzero(C)
    rows = np.concatenate([np.zeros(n1, int), 1 + ii, 1 + n1 + np.arange(n2)])
    cols = np.concatenate([1 + np.arange(n1), 1 + n1 + jj, np.full(n2, t)])
    caps = np.concatenate([w_int[neg], np.full(len(ii), big), w_int[pos]]).astype(np.int32)
    G = sp.csr_matrix((caps, (rows, cols)), shape=(t + 1, t + 1))
    return maximum_flow(G, s, t).flow_value


@pytest.mark.parametrize("method", ["ot", "flow"])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("norm", [2, np.inf, 1])
def test_unit_weights_match_scipy_bipartite_matching(seed, norm, method):
    rng = np.random.default_rng(seed)
    N = int(rng.integers(5, 120))
    X, y = make_gaussians(N, seed=rng)
    eps = float(rng.uniform(0.1, 2.0))
    res = optimal_adversarial_risk(X, y, eps, norm=norm, method=method)
    assert res.value * N == pytest.approx(_scipy_matching_value(X, y, eps, norm), abs=1e-9)
    check_certificate(res, X, y, eps, norm)


@pytest.mark.parametrize("method", ["ot", "flow"])
@pytest.mark.parametrize("seed", range(6))
def test_integer_weights_match_scipy_maximum_flow(seed, method):
    rng = np.random.default_rng(100 + seed)
    N = int(rng.integers(5, 100))
    X = rng.integers(0, 6, size=(N, 2)).astype(float)  # a grid: ties at exactly 2 eps
    y = rng.choice([-1, 1], N)
    w = rng.integers(0, 20, N)
    w[0] += 1  # not all zero
    eps = float(rng.choice([0.5, 1.0, 1.5]))
    norm = [2, np.inf, 1][seed % 3]
    res = optimal_adversarial_risk(X, y, eps, norm=norm, sample_weights=w, method=method)
    assert res.value * w.sum() == pytest.approx(_scipy_flow_value(X, y, eps, norm, w), abs=1e-8)
    check_certificate(res, X, y, eps, norm, w=w)


@given(
    pts=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.sampled_from([-1, 1]), st.integers(0, 5)),
                 min_size=1, max_size=25),
    eps=st.sampled_from([0.0, 0.5, 1.0, 1.5]),
    norm=st.sampled_from([1, 2, np.inf]),
)
def test_property_certificate_and_flow(pts, eps, norm):
    """On small grids (many ties and boundary distances) the value equals scipy's max flow,
    and the returned matching and vertex cover certify it, for both methods."""
    arr = np.array(pts, dtype=float)
    X, y, w = arr[:, :2], arr[:, 2].astype(int), arr[:, 3].astype(int)
    if w.sum() == 0:
        w[0] = 1
    ref = _scipy_flow_value(X, y, eps, norm, w)
    for method in ("ot", "flow"):
        res = optimal_adversarial_risk(X, y, eps, norm=norm, sample_weights=w, method=method)
        assert res.value * w.sum() == pytest.approx(ref, abs=1e-8)
        check_certificate(res, X, y, eps, norm, w=w)


@pytest.mark.parametrize("eps", [0.3, 1.0, 2.5])
def test_balanced_classes_match_pydi_jog_formula(eps):
    """Equal class masses: R* = (1 - D(p-, p+)) / 2, D the OT cost between the two
    class-conditional probability measures with cost 1{d > 2 eps} (Pydi & Jog 2020)."""
    import ot

    X, y = make_gaussians(150, seed=21)
    rng = np.random.default_rng(22)
    w = rng.random(150) + 0.05
    w[y < 0] /= 2 * w[y < 0].sum()
    w[y > 0] /= 2 * w[y > 0].sum()
    neg, pos = y < 0, y > 0
    cost = (cdist(X[neg], X[pos]) > 2 * eps).astype(float)
    D = ot.emd2(w[neg] * 2, w[pos] * 2, cost)
    res = optimal_adversarial_risk(X, y, eps, sample_weights=w)
    assert res.value == pytest.approx((1 - D) / 2, abs=1e-9)


@pytest.mark.parametrize("norm", [2, np.inf])
def test_monotone_in_eps(norm):
    X, y = make_gaussians(200, seed=7)
    values = [optimal_adversarial_risk(X, y, e, norm=norm).value for e in (0.0, 0.25, 0.5, 1.0, 2.0, 3.0)]
    assert values[0] == 0.0
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))


# ---------------------------------------------------------- a valid lower bound
@pytest.mark.parametrize("norm", [2, np.inf, 1])
@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0, 3.0])
def test_bound_below_exact_risk_of_linear_classifiers(norm, eps):
    """No classifier beats the bound: checked on the exact (closed-form) adversarial risk
    of many linear classifiers, random and near-optimal ones."""
    X, y = make_gaussians(300, seed=11)
    bound = optimal_adversarial_risk(X, y, eps, norm=norm).value
    clfs = random_linear_classifiers(X, y, 50, max_risk=1.01, seed=12)
    # constant-like and axis-aligned classifiers, which are strong on this data
    clfs += [LinearClassifier([0.0, 0.0], 1.0), LinearClassifier([0.0, 0.0], -1.0)]
    clfs += [LinearClassifier([1.0, 0.0], -t) for t in np.linspace(-4, 4, 33)]
    risks = np.array([c.adversarial_risk(X, y, eps, norm) for c in clfs])
    assert bound <= risks.min() + 1e-12
    # the two constant classifiers reach the smaller class mass: the bound is at most that
    assert bound <= min((y < 0).mean(), (y > 0).mean()) + 1e-12


def test_bound_tight_in_one_dimension_with_threshold_classifiers():
    # one -1 cluster far left, one +1 cluster far right: a threshold classifier is optimal
    X = np.array([[-3.0], [-2.5], [-2.0], [2.0], [2.5], [3.0], [-0.2], [0.3]])
    y = np.array([-1, -1, -1, 1, 1, 1, 1, -1])
    eps = 0.5
    res = optimal_adversarial_risk(X, y, eps)
    clfs = [LinearClassifier([1.0], -t) for t in np.linspace(-4, 4, 801)]
    clfs += [LinearClassifier([-1.0], t) for t in np.linspace(-4, 4, 801)]
    best = min(c.adversarial_risk(X, y, eps) for c in clfs)
    assert res.value == pytest.approx(1 / 8)  # the crossed pair (-0.2, +) / (0.3, -)
    assert best == pytest.approx(res.value)


# ---------------------------------------------------------------- speed and input
def test_n1000_takes_at_most_a_few_seconds():
    X, y = make_gaussians(1000, seed=0)
    optimal_adversarial_risk(X[:10], y[:10], 1.0)  # POT imported
    t = time.perf_counter()
    res = optimal_adversarial_risk(X, y, 1.0)
    elapsed = time.perf_counter() - t
    assert 0 < res.value < 0.5
    assert elapsed < 5.0


def test_flow_method_equals_ot_on_larger_data_and_rejects_real_weights():
    X, y = make_gaussians(1000, seed=1)
    for eps in (0.5, 2.0):
        a = optimal_adversarial_risk(X, y, eps)
        b = optimal_adversarial_risk(X, y, eps, method="flow")
        assert b.value == pytest.approx(a.value, abs=1e-12)
        check_certificate(b, X, y, eps, 2)
    with pytest.raises(ValueError, match="integer sample_weights"):
        optimal_adversarial_risk(X, y, 1.0, sample_weights=np.full(1000, 0.5), method="flow")
    with pytest.raises(ValueError, match="method must be"):
        optimal_adversarial_risk(X, y, 1.0, method="lp")


def test_torch_inputs_give_the_same_value():
    torch = pytest.importorskip("torch")
    X, y = make_gaussians(80, seed=4)
    a = optimal_adversarial_risk(X, y, 0.7).value
    b = optimal_adversarial_risk(torch.from_numpy(X), torch.from_numpy(y), 0.7).value
    assert a == b


def test_conflict_graph_blocks_match_full_cdist(monkeypatch):
    import advgame.bounds as B

    rng = np.random.default_rng(0)
    A, Bp = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    full = B.conflict_graph(A, Bp, 0.6)
    monkeypatch.setattr(B, "_BLOCK_BYTES", 8 * 40 * 3)  # 3 rows per block
    assert np.array_equal(B.conflict_graph(A, Bp, 0.6), full)
    assert np.array_equal(full, cdist(A, Bp) <= 1.2)


def test_result_repr_and_float():
    X = np.array([[0.0], [1.0]])
    res = optimal_adversarial_risk(X, np.array([-1, 1]), 1.0)
    assert float(res) == 0.5
    assert "value=0.5" in repr(res)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(eps=-1.0), ValueError, "eps"),
        (dict(eps="1"), TypeError, "eps"),
        (dict(eps=float("nan")), ValueError, "eps"),
        (dict(norm=0.5), ValueError, "norm"),
        (dict(norm="l3"), ValueError, "norm"),
        (dict(norm=None), TypeError, "norm"),
        (dict(y=np.array([0, 1, 2, 1])), ValueError, "binary"),
        (dict(y=np.array([1, -1, 1])), ValueError, "y must have shape"),
        (dict(y=np.array(["a", "b", "a", "b"])), TypeError, "y"),
        (dict(X=np.zeros(4)), ValueError, "X must have shape"),
        (dict(X=np.array([[0.0], [np.nan], [1.0], [2.0]])), ValueError, "finite"),
        (dict(sample_weights=[1, -1, 1, 1]), ValueError, "non-negative"),
        (dict(sample_weights=[0, 0, 0, 0]), ValueError, "all be zero"),
        (dict(sample_weights=[1, 1]), ValueError, "sample_weights must have shape"),
    ],
)
def test_bad_input(kwargs, exc, words):
    args = dict(X=np.array([[0.0], [1.0], [2.0], [3.0]]), y=np.array([-1, 1, -1, 1]), eps=0.5)
    args.update(kwargs)
    with pytest.raises(exc, match=words):
        optimal_adversarial_risk(**args)


def test_parse_norm():
    assert parse_norm("L2") == 2 and parse_norm("linf") == np.inf and parse_norm(1) == 1
    assert parse_norm(3.5) == 3.5
    with pytest.raises(TypeError):
        parse_norm(True)


# --- class_separation (issue 20, item 3) ------------------------------------------------------

from advgame.bounds import class_separation  # noqa: E402


@pytest.mark.parametrize("norm,p", [("linf", np.inf), ("l2", 2), ("l1", 1)])
def test_class_separation_matches_brute_force(norm, p):
    rng = np.random.default_rng(3)
    X = rng.random((40, 5))
    y = rng.integers(0, 3, 40)
    s = class_separation(X, y, 0.15, norm)
    D = np.array([[np.linalg.norm(a - b, ord=p) for b in X] for a in X])
    D[y[:, None] == y[None, :]] = np.inf
    np.testing.assert_allclose(s.nearest_other, D.min(axis=1), rtol=1e-12)
    assert s.min_distance == pytest.approx(D.min())
    assert s.share_conflicting == pytest.approx(np.mean(D.min(axis=1) <= 0.3))
    assert s.separated == (D.min() > 0.3)


def test_class_separation_against_a_reference_set():
    X = np.array([[0.0], [1.0]])
    y = np.array([0, 1])
    ref = (np.array([[0.1], [0.95], [5.0]]), np.array([1, 0, 1]))
    s = class_separation(X, y, 0.1, "l2", reference=ref)
    np.testing.assert_allclose(s.nearest_other, [0.1, 0.05])
    assert s.share_conflicting == 1.0 and not s.separated
    s = class_separation(X, y, 0.01, "l2", reference=ref)
    assert s.share_conflicting == 0.0 and s.separated


def test_class_separation_pairwise_bounds_are_the_binary_optimal_risks():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 3, 60)
    s = class_separation(X, y, 0.3, "l2", pairwise_bounds=True)
    assert set(s.pairwise_risk) == {(0, 1), (0, 2), (1, 2)}
    for (a, b), value in s.pairwise_risk.items():
        sel = (y == a) | (y == b)
        assert value == pytest.approx(optimal_adversarial_risk(X[sel], y[sel] == b, 0.3, norm=2).value)
    assert s.risk_lower_bound == pytest.approx(
        max(v * np.mean((y == a) | (y == b)) for (a, b), v in s.pairwise_risk.items()))
    assert "optimal adversarial risk >=" in s.summary()
    # separated classes: every pairwise risk is 0
    far = class_separation(np.array([[0.0], [10.0], [20.0]]), [0, 1, 2], 1.0, pairwise_bounds=True)
    assert far.risk_lower_bound == 0.0 and far.separated


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(X=np.zeros((3, 2)), y=[0, 1], eps=0.1), ValueError, "y must have shape (3,)"),
        (dict(X=np.zeros((3, 2)), y=[0.5, 1, 2], eps=0.1), TypeError, "integer class labels"),
        (dict(X=np.zeros((3, 2)), y=[0, 1, 2], eps=-1), ValueError, "eps"),
        (dict(X=np.zeros(3), y=[0, 1, 2], eps=0.1), ValueError, "shape (N, d)"),
        (dict(X=np.zeros((3, 2)), y=[0, 1, 2], eps=0.1, norm="l3"), ValueError, "norm"),
        (dict(X=np.zeros((3, 2)), y=[0, 1, 2], eps=0.1, reference=np.zeros((3, 2))), TypeError, "reference"),
        (dict(X=np.zeros((3, 2)), y=[0, 1, 2], eps=0.1, reference=(np.zeros((3, 3)), [0, 1, 2])),
         ValueError, "dimension of X"),
    ],
)
def test_class_separation_bad_input(kwargs, error, words):
    with pytest.raises(error, match=re.escape(words)):
        class_separation(**kwargs)
