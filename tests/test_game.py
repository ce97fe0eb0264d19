"""Game: validation, evaluation (risk, best response, defender value, gap), I/O."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import advgame
from advgame import Game

from _games import game_params, make_arrays, make_game


def naive_risk(losses, mask, sw, lam):
    N, m, L = losses.shape
    w = np.ones(N) if sw is None else np.asarray(sw, float)
    w = w / w.sum()
    total = 0.0
    for i in range(N):
        best = -np.inf
        for j in range(m):
            if mask is not None and not mask[i, j]:
                continue
            best = max(best, sum(lam[k] * losses[i, j, k] for k in range(L)))
        total += w[i] * best
    return total


def random_simplex(rng, L):
    x = rng.exponential(size=L)
    return x / x.sum()


def random_adversary(rng, mask, N, m):
    Q = rng.exponential(size=(N, m))
    if mask is not None:
        Q[~mask] = 0
    return Q / Q.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ validation
class TestValidation:
    def test_wrong_ndim(self):
        with pytest.raises(ValueError, match=r"losses must be a 3-D array of shape \(N samples, m attacks, L classifiers\); got shape \(3, 4\)"):
            Game(np.zeros((3, 4)))

    def test_empty_dimension(self):
        with pytest.raises(ValueError, match="at least one sample"):
            Game(np.zeros((0, 2, 2)))

    def test_bad_dtype(self):
        with pytest.raises(TypeError, match="losses must have a boolean, integer or floating dtype"):
            Game(np.array([[["a"]]]))
        with pytest.raises(TypeError, match="losses must have a boolean, integer or floating dtype"):
            Game(np.ones((1, 1, 1), dtype=complex))

    def test_nan_and_inf(self):
        x = np.zeros((2, 3, 2))
        x[1, 2, 0] = np.nan
        with pytest.raises(ValueError, match=r"losses must be finite; found NaN or inf at index \(1, 2, 0\)"):
            Game(x)
        x[1, 2, 0] = np.inf
        with pytest.raises(ValueError, match="losses must be finite"):
            Game(x)

    def test_negative_loss(self):
        x = np.zeros((2, 3, 2))
        x[0, 1, 1] = -0.5
        with pytest.raises(ValueError, match=r"losses must lie in \[0, M\]; found -0.5 < 0 at index \(0, 1, 1\)"):
            Game(x)

    def test_loss_above_bound(self):
        x = np.zeros((2, 3, 2))
        x[1, 0, 1] = 2.0
        with pytest.raises(ValueError, match=r"losses must lie in \[0, bound=1\]; found 2 at index \(1, 0, 1\)"):
            Game(x, bound=1.0)

    @pytest.mark.parametrize("bound", [0, -1, np.inf, np.nan])
    def test_bad_bound(self, bound):
        with pytest.raises(ValueError, match="bound must be a positive finite number"):
            Game(np.zeros((1, 1, 1)), bound=bound)

    def test_bound_defaults(self):
        assert Game(np.full((1, 2, 2), 0.3)).bound == 1.0
        assert Game(np.full((1, 2, 2), 3.5)).bound == 3.5
        assert Game(np.zeros((1, 2, 2))).bound == 1.0
        assert Game(np.full((1, 2, 2), 0.3), bound=2).bound == 2.0

    def test_mask_shape_dtype_and_empty_row(self):
        x = np.zeros((2, 3, 2))
        with pytest.raises(ValueError, match=r"mask must have shape \(N, m\) = \(2, 3\) to match losses; got \(3, 2\)"):
            Game(x, mask=np.ones((3, 2), bool))
        with pytest.raises(TypeError, match="mask must be a boolean array"):
            Game(x, mask=np.ones((2, 3)))
        mask = np.ones((2, 3), bool)
        mask[1] = False
        with pytest.raises(ValueError, match="mask leaves sample 1 with no valid attack"):
            Game(x, mask=mask)

    def test_masked_entries_may_hold_nan(self):
        x = np.zeros((2, 3, 2))
        x[0, 2] = np.nan
        mask = np.ones((2, 3), bool)
        mask[0, 2] = False
        g = Game(x, mask=mask)
        assert np.isfinite(g.losses).all()

    def test_sample_weights(self):
        x = np.zeros((3, 2, 2))
        with pytest.raises(ValueError, match=r"sample_weights must have shape \(3,\); got \(2,\)"):
            Game(x, sample_weights=[1, 2])
        with pytest.raises(ValueError, match="sample_weights must be non-negative; found -1 at index 2"):
            Game(x, sample_weights=[1, 2, -1])
        with pytest.raises(ValueError, match="sample_weights must not all be zero"):
            Game(x, sample_weights=[0, 0, 0])
        with pytest.raises(ValueError, match=r"sample_weights must be finite; found nan at index \(1,\)"):
            Game(x, sample_weights=[1, np.nan, 1])
        g = Game(x, sample_weights=[1, 2, 1])
        np.testing.assert_allclose(g.sample_weights, [0.25, 0.5, 0.25])

    def test_weights_argument_checks(self):
        g = advgame.examples.motivating_game()
        with pytest.raises(ValueError, match=r"weights must have shape \(L,\) = \(2,\)"):
            g.risk([1.0])
        with pytest.raises(ValueError, match="weights must lie on the probability simplex"):
            g.risk([0.7, 0.7])
        with pytest.raises(ValueError, match="weights must lie on the probability simplex"):
            g.risk([1.5, -0.5])
        with pytest.raises(ValueError, match="weights must be finite"):
            g.risk([np.nan, 1.0])

    def test_adversary_argument_checks(self):
        g = advgame.examples.motivating_game()
        with pytest.raises(ValueError, match=r"adversary must have shape \(N, m\) = \(3, 3\)"):
            g.defender_value(np.ones((3, 2)) / 2)
        Q = np.full((3, 3), 1 / 3)
        Q[1] = [0.5, 0.6, -0.1]
        with pytest.raises(ValueError, match="adversary must be non-negative"):
            g.defender_value(Q)
        Q[1] = [0.5, 0.6, 0.1]
        with pytest.raises(ValueError, match="row 1 sums to 1.2"):
            g.defender_value(Q)

    def test_adversary_mass_on_masked_attack(self):
        mask = np.array([[True, False]])
        g = Game(np.zeros((1, 2, 1)), mask=mask)
        with pytest.raises(ValueError, match="masked attack"):
            g.defender_value(np.array([[0.5, 0.5]]))


# ------------------------------------------------------------------ evaluation
def test_motivating_example_numbers():
    g = advgame.examples.motivating_game()
    assert g.shape == (3, 3, 2)
    np.testing.assert_allclose(g.classifier_risks(), [1.0, 1.0])
    assert g.best_classifier() == (0, 1.0)
    assert g.risk([0.5, 0.5]) == pytest.approx(0.75, abs=1e-15)
    for a in np.linspace(0, 1, 11):
        assert g.risk([a, 1 - a]) == pytest.approx(0.5 + 0.5 * max(a, 1 - a), abs=1e-15)
    # the adversary that moves 0 to +1 or -1 with probability 1/2 each
    Q = np.array([[0.5, 0, 0.5], [1, 0, 0], [0, 0, 1]])
    assert g.defender_value(Q)[0] == pytest.approx(0.75, abs=1e-15)
    assert g.duality_gap([0.5, 0.5], Q) == pytest.approx(0.0, abs=1e-15)
    # MNE21 Sec. 2.1: if the adversary always moves 0 to +1, f1 alone gets risk 1/2
    Q1 = np.array([[0, 0, 1], [1, 0, 0], [0, 0, 1]])
    value, k = g.defender_value(Q1)
    assert (value, k) == (pytest.approx(0.5, abs=1e-15), 0)
    np.testing.assert_allclose(g.classifier_losses(Q1), [0.5, 1.0])


@given(game_params(), st.integers(0, 2**31))
def test_risk_matches_naive_loop(params, seed):
    losses, mask, sw = make_arrays(**params)
    g = Game(losses, mask=mask, sample_weights=sw)
    lam = random_simplex(np.random.default_rng(seed), params["L"])
    assert g.risk(lam) == pytest.approx(naive_risk(losses, mask, sw, lam), abs=1e-12)


@given(game_params(), st.integers(0, 2**31))
def test_best_response_attains_the_max(params, seed):
    losses, mask, sw = make_arrays(**params)
    g = Game(losses, mask=mask, sample_weights=sw)
    lam = random_simplex(np.random.default_rng(seed), params["L"])
    j = g.best_response(lam)
    vals = losses[np.arange(params["n"]), j] @ lam
    s = losses @ lam
    if mask is not None:
        assert mask[np.arange(params["n"]), j].all()
        s = np.where(mask, s, -np.inf)
    np.testing.assert_allclose(vals, s.max(axis=1), atol=1e-12)
    Q = g.best_response_strategy(lam)
    # the defender's linear objective against the pure best response is R(lam)
    assert float(g.classifier_losses(Q) @ lam) == pytest.approx(g.risk(lam), abs=1e-12)


@given(game_params(), st.integers(0, 2**31))
def test_weak_duality_for_any_pair(params, seed):
    """D(Q) <= R(lam) for every defender mixture and every randomized adversary."""
    rng = np.random.default_rng(seed)
    losses, mask, sw = make_arrays(**params)
    g = Game(losses, mask=mask, sample_weights=sw)
    lam = random_simplex(rng, params["L"])
    Q = random_adversary(rng, mask, params["n"], params["m"])
    assert g.duality_gap(lam, Q) >= -1e-12
    assert g.defender_value(Q)[0] <= g.risk(lam) + 1e-12


def test_best_classifier_is_min_over_vertices():
    g = advgame.examples.random_game(30, 10, 6, kind="real", seed=3, mask_fraction=0.3, weighted=True)
    risks = [g.risk(np.eye(6)[k]) for k in range(6)]
    k, r = g.best_classifier()
    assert k == int(np.argmin(risks))
    assert r == pytest.approx(min(risks), abs=1e-12)


def test_dtype_conversion():
    g = Game(np.ones((2, 2, 2), dtype=bool))
    assert g.dtype == np.float64
    g32 = Game(np.ones((2, 2, 2), dtype=np.float32))
    assert g32.dtype == np.float32
    assert Game(np.ones((2, 2, 2), dtype=np.int64)).dtype == np.float64


def test_does_not_alias_caller_array():
    x = np.zeros((2, 2, 2))
    g = Game(x)
    x[0, 0, 0] = 1.0
    assert g.losses[0, 0, 0] == 0.0


def test_binary_detection():
    assert Game(np.array([[[0.0, 1.0]]])).is_binary
    assert Game(np.array([[[0.0, 2.0]]])).is_binary
    assert not Game(np.array([[[0.0, 0.5, 1.0]]])).is_binary
    assert Game(np.zeros((1, 1, 1))).is_binary


# ------------------------------------------------------------------ I/O
@pytest.mark.parametrize("masked", [False, True])
def test_save_load_roundtrip(tmp_path, masked):
    g = advgame.examples.random_game(12, 5, 3, kind="real", seed=1, mask_fraction=0.3 if masked else 0,
                                     weighted=True)
    path = tmp_path / "g.npz"
    g.save(path)
    h = Game.load(path)
    np.testing.assert_array_equal(h.losses, g.losses)
    np.testing.assert_allclose(h.sample_weights, g.sample_weights)
    assert h.bound == g.bound
    if masked:
        np.testing.assert_array_equal(h.mask, g.mask)
    else:
        assert h.mask is None
    lam = np.full(3, 1 / 3)
    assert h.risk(lam) == g.risk(lam)
    # atomic write: no temporary file is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]


def test_load_rejects_pickles_and_foreign_files(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, losses=np.array([{"a": 1}], dtype=object), mask=np.zeros((0, 0), bool),
             sample_weights=np.zeros(0), bound=np.array(1.0))
    with pytest.raises(ValueError, match="pickled data"):
        Game.load(p)
    q = tmp_path / "other.npz"
    np.savez(q, x=np.zeros(3))
    with pytest.raises(ValueError, match=r"not an advgame game file: missing arrays \['bound', 'losses', 'mask', 'sample_weights'\]"):
        Game.load(q)


def test_save_compressed(tmp_path):
    g = advgame.examples.random_game(50, 20, 4, seed=0)
    g.save(tmp_path / "c.npz", compress=True)
    assert Game.load(tmp_path / "c.npz").risk(np.full(4, 0.25)) == g.risk(np.full(4, 0.25))


def test_repr_and_properties():
    g = advgame.examples.random_game(4, 3, 2, seed=0, mask_fraction=0.3)
    assert "Game(N=4, m=3, L=2" in repr(g) and "masked" in repr(g)
    assert (g.n_samples, g.n_attacks, g.n_classifiers) == (4, 3, 2)
    assert g.losses.shape == (4, 3, 2)
    assert g.backend == "numpy" and g.device == "cpu"


# ------------------------------------------------------------------ torch games
def test_torch_game_evaluations_match_numpy(nx):
    params = dict(n=7, m=5, L=4, kind="real", seed=11, masked=True, weighted=True)
    g_np = make_game(params)
    g = make_game(params, nx)
    lam = np.array([0.1, 0.2, 0.3, 0.4])
    assert g.risk(nx(lam)) == pytest.approx(g_np.risk(lam), abs=nx.atol)
    np.testing.assert_array_equal(nx.np(g.best_response(nx(lam))), g_np.best_response(lam))
    Q = random_adversary(np.random.default_rng(0), g_np.mask, 7, 5)
    assert g.defender_value(nx(Q))[0] == pytest.approx(g_np.defender_value(Q)[0], abs=nx.atol)
    k, r = g.best_classifier()
    assert (k, r) == (g_np.best_classifier()[0], pytest.approx(g_np.best_classifier()[1], abs=nx.atol))
    if nx.is_torch:
        assert g.backend == "torch"
        assert g.dtype == nx.dtype


def test_torch_game_roundtrip_conversions(tmp_path):
    torch = pytest.importorskip("torch")
    g = advgame.examples.random_game(6, 4, 3, seed=2, mask_fraction=0.2, weighted=True)
    gt = g.to_torch(dtype=torch.float64)
    assert isinstance(gt.losses, torch.Tensor)
    back = gt.to_numpy()
    np.testing.assert_array_equal(back.losses, g.losses)
    gt.save(tmp_path / "t.npz")
    assert Game.load(tmp_path / "t.npz").risk(np.full(3, 1 / 3)) == pytest.approx(g.risk(np.full(3, 1 / 3)))
    # mixing libraries is an error
    with pytest.raises(TypeError, match="torch tensor but the game holds numpy"):
        g.risk(torch.full((3,), 1 / 3))


def test_half_precision_is_upcast_with_a_warning_and_repr_shows_the_device():
    """Issue 12: a float16 game is not upcast silently; ``repr`` names the device."""
    with pytest.warns(UserWarning, match="float16 are stored and solved in float64"):
        g = Game(np.zeros((2, 2, 2), dtype=np.float16))
    assert g.dtype == np.float64
    assert "device=cpu" in repr(g)
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="float16 are stored and solved in float32"):
        gt = Game(torch.zeros(2, 2, 2, dtype=torch.float16))
    assert gt.dtype == torch.float32 and "device=cpu" in repr(gt) and "dtype=float32" in repr(gt)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Game(np.zeros((2, 2, 2), dtype=np.float32))  # float32 / float64 / ints / bools: no warning
        Game(np.zeros((2, 2, 2), dtype=np.int8))
