"""advgame.synthetic: MNE21 Sec. 5.1 data, random linear classifiers, ball samplers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import advgame
from advgame.synthetic import (
    LinearClassifier,
    make_gaussians,
    make_instance,
    random_linear_classifiers,
    sample_attacks,
)


# ------------------------------------------------------------------------- data
def test_gaussians_shapes_labels_and_balance():
    N = 20000
    X, y = make_gaussians(N, seed=0)
    assert X.shape == (N, 2) and y.shape == (N,)
    assert set(np.unique(y)) == {-1, 1}
    # P(Y = +1) = 1/2: within 5 standard deviations sqrt(1/(4N))
    assert abs((y == 1).mean() - 0.5) < 5 * np.sqrt(0.25 / N)
    neg, pos = X[y == -1], X[y == 1]
    # X | Y=-1 ~ N(0, I)
    assert np.allclose(neg.mean(0), 0, atol=0.05)
    assert np.allclose(np.cov(neg.T), np.eye(2), atol=0.06)
    # X | Y=+1: components at (+-3, 0) with equal probability, unit variance
    right = pos[:, 0] > 0
    assert abs(right.mean() - 0.5) < 5 * np.sqrt(0.25 / len(pos))
    assert np.allclose(pos[right].mean(0), [3, 0], atol=0.06)
    assert np.allclose(pos[~right].mean(0), [-3, 0], atol=0.06)
    assert abs(pos[:, 1].std() - 1) < 0.05


def test_gaussians_seeding():
    a = make_gaussians(50, seed=3)
    b = make_gaussians(50, seed=3)
    c = make_gaussians(50, seed=4)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(make_gaussians(20, seed=g1)[0], make_gaussians(20, seed=g2)[0])
    # a Generator is consumed: the next draw differs
    assert not np.array_equal(make_gaussians(20, seed=g1)[0], make_gaussians(20, seed=9)[0])


def test_gaussians_options_and_errors():
    X, y = make_gaussians(100, seed=0, shift=0.0, dim=5)
    assert X.shape == (100, 5)
    with pytest.raises(ValueError, match="n_samples"):
        make_gaussians(0)
    with pytest.raises(TypeError, match="seed"):
        make_gaussians(10, seed="abc")
    with pytest.raises(ValueError, match="shift"):
        make_gaussians(10, shift=-1.0)


# ------------------------------------------------------------------ classifiers
def test_random_classifiers_honour_the_risk_cap_and_seed():
    X, y = make_gaussians(1000, seed=0)
    clfs = random_linear_classifiers(X, y, 10, max_risk=0.4, seed=1)
    assert len(clfs) == 10
    for c in clfs:
        err = np.mean(np.where(X @ c.w + c.b > 0, 1, -1) != y)  # recomputed independently
        assert err < 0.4
        assert c.risk(X, y) == pytest.approx(err)
    again = random_linear_classifiers(X, y, 10, max_risk=0.4, seed=1)
    assert all(np.array_equal(a.w, b.w) and a.b == b.b for a, b in zip(clfs, again))
    other = random_linear_classifiers(X, y, 10, max_risk=0.4, seed=2)
    assert not np.array_equal(clfs[0].w, other[0].w)


def test_default_sampler_is_w_standard_normal_b_std_2():
    # with no cap every draw is kept, so the kept parameters are the raw draws
    X, y = make_gaussians(20, seed=0)
    clfs = random_linear_classifiers(X, y, 4000, max_risk=1.01, seed=5)
    W = np.array([c.w for c in clfs])
    b = np.array([c.b for c in clfs])
    assert abs(W.std() - 1.0) < 0.05 and abs(W.mean()) < 0.05
    assert abs(b.std() - 2.0) < 0.1 and abs(b.mean()) < 0.1
    assert stats.kstest(b / 2.0, "norm").pvalue > 1e-3


def test_random_classifiers_give_up_after_max_tries():
    X, y = make_gaussians(200, seed=0)
    with pytest.raises(RuntimeError, match="max_tries"):
        random_linear_classifiers(X, y, 3, max_risk=0.0, seed=0, max_tries=500)
    with pytest.raises(ValueError, match="y must hold labels"):
        random_linear_classifiers(X, (y + 1) // 2, 3)
    with pytest.raises(ValueError, match="n_classifiers"):
        random_linear_classifiers(X, y, 0)


def test_linear_classifier_numpy_and_torch():
    c = LinearClassifier([1.0, -2.0], 0.5)
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.25]])
    assert np.allclose(c(X), [0.5, -0.5, 0.0])
    assert c.predict(X).tolist() == [1, -1, -1]  # a score of 0 predicts -1
    torch = pytest.importorskip("torch")
    Xt = torch.tensor(X, dtype=torch.float32)
    out = c(Xt)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert np.allclose(out.numpy(), [0.5, -0.5, 0.0])
    assert c.predict(Xt).tolist() == [1, -1, -1]
    with pytest.raises(ValueError, match="columns"):
        c(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="w must"):
        LinearClassifier([[1.0]], 0.0)


@pytest.mark.parametrize("norm", [2, np.inf, 1])
def test_exact_adversarial_risk_closed_form(norm):
    """attackable() agrees with the explicit worst-case point, and a dense sample of the
    ball never finds an attack on a point it calls safe."""
    rng = np.random.default_rng(0)
    X, y = make_gaussians(300, seed=rng)
    c = LinearClassifier(rng.normal(size=2), float(rng.normal()))
    eps = 0.7
    att = c.attackable(X, y, eps, norm)
    # worst direction: -y times the dual-norm maximiser of <w, u> over the unit ball
    w = c.w
    if norm == 2:
        u = w / np.linalg.norm(w)
    elif norm == np.inf:
        u = np.sign(w)
    else:
        u = np.zeros(2)
        u[np.argmax(np.abs(w))] = np.sign(w[np.argmax(np.abs(w))])
    z = X - eps * y[:, None] * u[None, :]
    s = c(z)
    fooled = np.where(y == 1, s <= 1e-12, s > -1e-12)
    assert np.array_equal(att, fooled)
    # a sample of 4000 points in each ball finds no attack on a safe point
    A = sample_attacks(X, eps, 4000, norm, seed=1)
    pred = np.where(A @ w + c.b > 0, 1, -1)
    sampled = (pred != y[:, None]).any(axis=1)
    assert not np.any(sampled & ~att)
    assert c.adversarial_risk(X, y, eps, norm) == pytest.approx(att.mean())
    assert c.adversarial_risk(X, y, 0.0, norm) == pytest.approx(c.risk(X, y))


# ---------------------------------------------------------------------- attacks
@pytest.mark.parametrize("norm, ord_", [(2, 2), (np.inf, np.inf), ("l1", 1), ("linf", np.inf)])
def test_attacks_inside_the_ball_clean_first(norm, ord_):
    X, _ = make_gaussians(40, seed=0)
    eps = 0.8
    A = sample_attacks(X, eps, 500, norm, seed=1)
    assert A.shape == (40, 500, 2) and A.dtype == np.float64
    assert np.array_equal(A[:, 0], X)
    d = np.linalg.norm(A - X[:, None, :], ord=ord_, axis=-1)
    assert d.max() <= eps * (1 + 1e-12)
    assert d[:, 1:].min() > 0  # the other candidates are random
    B = sample_attacks(X, eps, 500, norm, seed=1, include_clean=False)
    assert not np.any(np.all(B == X[:, None, :], axis=-1))


@pytest.mark.parametrize("norm, ord_", [(2, 2), (np.inf, np.inf), (1, 1)])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_attacks_are_exactly_uniform(norm, ord_, d):
    """Uniform in a d-dimensional ball: P(||u|| <= r) = r^d, so ||u||^d ~ U[0, 1]; and the
    direction is symmetric (each coordinate has a symmetric law)."""
    X = np.zeros((1, d))
    A = sample_attacks(X, 2.0, 20001, norm, seed=3)[0, 1:] / 2.0
    r = np.linalg.norm(A, ord=ord_, axis=-1) ** d
    assert stats.kstest(r, "uniform").pvalue > 1e-3
    assert abs(np.mean(A[:, 0] > 0) - 0.5) < 0.02
    if norm == np.inf:  # each coordinate U[-1, 1]
        assert stats.kstest((A[:, 0] + 1) / 2, "uniform").pvalue > 1e-3


def test_attacks_seeding_clip_and_errors():
    X = np.random.default_rng(0).uniform(0.1, 0.9, size=(10, 3))
    a = sample_attacks(X, 0.3, 50, seed=7)
    assert np.array_equal(a, sample_attacks(X, 0.3, 50, seed=7))
    assert not np.array_equal(a, sample_attacks(X, 0.3, 50, seed=8))
    c = sample_attacks(X, 0.3, 200, seed=7, clip=(0.0, 1.0))
    assert c.min() >= 0.0 and c.max() <= 1.0
    assert (c == 0.0).any() or (c == 1.0).any()  # something was clipped
    assert np.linalg.norm(c - X[:, None, :], axis=-1).max() <= 0.3 * (1 + 1e-12)
    assert sample_attacks(X.astype(np.float32), 0.3, 5, seed=0).dtype == np.float32
    assert np.array_equal(sample_attacks(X, 0.0, 5, seed=0), np.repeat(X[:, None], 5, axis=1))
    with pytest.raises(ValueError, match="clip box"):
        sample_attacks(X + 1.0, 0.3, 5, clip=(0.0, 1.0))
    with pytest.raises(ValueError, match="eps"):
        sample_attacks(X, -0.1, 5)
    with pytest.raises(ValueError, match="n_attacks"):
        sample_attacks(X, 0.1, 0)
    with pytest.raises(ValueError, match="norm"):
        sample_attacks(X, 0.1, 5, norm=3)
    with pytest.raises(ValueError, match="X must have shape"):
        sample_attacks(X[0], 0.1, 5)


# ------------------------------------------------------------------- end to end
def test_make_instance_end_to_end():
    inst = make_instance(2.0, n_samples=300, n_classifiers=6, n_attacks=200, seed=0)
    assert inst.game.shape == (300, 200, 6)
    assert inst.attacks.shape == (300, 200, 2)
    assert np.array_equal(inst.attacks[:, 0], inst.X)
    # a finite attack sample can only lower each classifier's risk
    exact = inst.exact_classifier_risks()
    sampled = np.asarray(inst.game.classifier_risks())
    assert np.all(sampled <= exact + 1e-12)
    assert np.all(exact - sampled < 0.1)  # ... but 200 points in a 2-D ball come close
    bound = inst.optimal_risk().value
    assert bound <= exact.min() + 1e-12
    res = advgame.solve(inst.game)
    assert res.value <= sampled.min() + 1e-9


def test_make_instance_streams_are_independent():
    a = make_instance(1.0, n_samples=100, n_classifiers=3, n_attacks=20, seed=5)
    b = make_instance(1.0, n_samples=100, n_classifiers=3, n_attacks=40, seed=5)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert all(np.array_equal(u.w, v.w) for u, v in zip(a.classifiers, b.classifiers))
    s = make_instance(1.0, n_samples=100, n_classifiers=3, n_attacks=20, seed=5, loss="sigmoid")
    L = np.asarray(s.game.losses)
    assert 0 <= L.min() and L.max() <= 1 and not s.game.is_binary


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: make_gaussians(10.0), TypeError, "n_samples"),
        (lambda: make_gaussians(True), TypeError, "n_samples"),
        (lambda: make_gaussians(10, seed=-1), ValueError, "seed"),
        (lambda: make_gaussians(10, shift="3"), TypeError, "shift"),
        (lambda: make_gaussians(10, dim=0), ValueError, "dim"),
        (lambda: sample_attacks(np.zeros((2, 2)), "0.1", 5), TypeError, "eps"),
        (lambda: sample_attacks(np.zeros((2, 2)), 0.1, 2.0), TypeError, "n_attacks"),
        (lambda: sample_attacks(np.zeros((2, 2)), 0.1, 5, norm="l3"), ValueError, "norm"),
        (lambda: sample_attacks(np.zeros((2, 2)), 0.1, 5, include_clean=1), TypeError, "include_clean"),
        (lambda: sample_attacks(np.array([["a", "b"]]), 0.1, 5), TypeError, "X"),
        (lambda: LinearClassifier([1.0, 0.0], "0"), TypeError, "b"),
        (lambda: LinearClassifier([1.0, np.nan], 0.0), ValueError, "w must be finite"),
        (lambda: LinearClassifier([1.0, 0.0], 0.0).adversarial_risk(np.zeros((2, 2)), [1, -1], -1.0),
         ValueError, "eps"),
        (lambda: LinearClassifier([1.0, 0.0], 0.0).risk(np.zeros((2, 2)), [1, -1], sample_weights=[1, -1]),
         ValueError, "sample_weights"),
        (lambda: random_linear_classifiers(np.zeros((4, 2)), [1, -1, 1, -1], 2, max_risk=-0.1), ValueError,
         "max_risk"),
    ],
)
def test_checks_go_through_validation(call, exc, words):
    # wrong type -> TypeError, wrong value -> ValueError, naming the argument (issue 10)
    with pytest.raises(exc, match=words):
        call()


def test_norm_vocabulary_and_weighted_risk():
    X, y = make_gaussians(50, seed=0)
    a = sample_attacks(X, 0.5, 7, norm="linf", seed=1)
    b = sample_attacks(X, 0.5, 7, norm=np.inf, seed=1)
    np.testing.assert_array_equal(a, b)
    c = LinearClassifier([1.0, 0.0], 0.0)
    assert c.adversarial_risk(X, y, 0.5, norm="l1") == c.adversarial_risk(X, y, 0.5, norm=1)
    # weighted risks: weights scaled by any constant give the same risk, huge ones included
    w = np.arange(1.0, 51.0)
    assert c.risk(X, y, w) == pytest.approx(c.risk(X, y, w * 1e300))
    assert c.adversarial_risk(X, y, 0.5, sample_weights=w) == pytest.approx(
        c.adversarial_risk(X, y, 0.5, sample_weights=w / 7))
