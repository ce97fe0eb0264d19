"""The fused, block-by-block passes of the entropic solver (issue 13, item 4) against
direct evaluations of MNE21 Eq. 7 and its gradient; the backend's ``exp_shift_rows_``."""

import math

import numpy as np
import pytest

import advgame
from advgame.backend.numpy_backend import NumpyBackend
from advgame.solvers.entropic import entropic_objective

torch = pytest.importorskip("torch")


def _game(N=300, m=500, L=4, seed=0, masked=True):
    # N * m = 150,000 entries: more than one block of the fused pass, the last one partial
    rng = np.random.default_rng(seed)
    losses = rng.uniform(0.0, 1.0, (N, m, L))
    mask = rng.uniform(size=(N, m)) < 0.7 if masked else None
    if mask is not None:
        mask[:, 0] = True
    return losses, mask


def _reference(losses, mask, lam, alpha):
    """F_alpha, R and the gradient (losses under the soft adversary), float64, unblocked."""
    s = losses @ lam / alpha
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    mx = s.max(axis=1)
    e = np.exp(s - mx[:, None])
    z = e.sum(axis=1)
    m_i = mask.sum(axis=1) if mask is not None else np.full(len(s), s.shape[1])
    w = np.full(len(s), 1.0 / len(s))
    F = w @ (alpha * (mx + np.log(z) - np.log(m_i)))
    Q = e / z[:, None]
    g = np.einsum("i,ij,ijk->k", w, Q, losses)
    return F, alpha * (w @ mx), g


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kind", ["numpy", "float64", "float32"])
def test_objective_matches_unblocked_reference(masked, kind):
    losses, mask = _game(masked=masked)
    lam = np.array([0.1, 0.2, 0.3, 0.4])
    alpha = 0.05
    F_ref, _, _ = _reference(losses, mask, lam, alpha)
    if kind == "numpy":
        game, w = advgame.Game(losses, mask=mask), lam
    else:
        dt = getattr(torch, kind)
        game = advgame.Game(torch.as_tensor(losses, dtype=dt), mask=None if mask is None else torch.as_tensor(mask))
        w = torch.as_tensor(lam, dtype=dt)
    tol = 1e-12 if kind != "float32" else 1e-5
    assert entropic_objective(game, w, temperature=alpha) == pytest.approx(F_ref, rel=tol, abs=tol)


@pytest.mark.parametrize("kind", ["numpy", "float64"])
def test_gradient_at_extrapolated_points_matches_reference(kind):
    # the gradient at y is evaluated from c1 s(x_k) + c2 s(x_{k-1}) (linearity of the
    # scores), not from y; check it against the gradient recomputed at y itself
    losses, mask = _game(seed=1)
    alpha = 0.02
    game = advgame.Game(losses if kind == "numpy" else torch.as_tensor(losses), mask=mask if kind == "numpy"
                        else torch.as_tensor(mask))
    seen = []

    def check(state):
        y = np.asarray(state.y, dtype=float)
        F_ref, _, g_ref = _reference(losses, mask, y, alpha)
        np.testing.assert_allclose(np.asarray(state.gy, dtype=float), g_ref, rtol=1e-10, atol=1e-12)
        assert state.fy == pytest.approx(F_ref, rel=1e-11, abs=1e-12)
        seen.append(float(np.abs(y - np.asarray(state.weights, dtype=float)).max()))
        return False

    r = advgame.solve(game, method="entropic", temperature=alpha, max_iter=15, callback=check)
    assert r.nit == 15 and len(seen) >= 15
    assert max(seen) > 0  # some y differed from x: the extrapolation path was exercised
    F_ref, R_ref, _ = _reference(losses, mask, np.asarray(r.weights, dtype=float), alpha)
    assert r.info["regularized_value"] == pytest.approx(F_ref, rel=1e-11)
    assert r.value == pytest.approx(R_ref, rel=1e-11)


def test_numpy_and_torch_take_the_same_iterates():
    losses, mask = _game(seed=2)
    a = advgame.solve(advgame.Game(losses, mask=mask), method="entropic", temperature=0.02, max_iter=25)
    b = advgame.solve(advgame.Game(torch.as_tensor(losses), mask=torch.as_tensor(mask)), method="entropic",
                      temperature=0.02, max_iter=25)
    np.testing.assert_allclose(a.history, b.history, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(a.weights), b.weights.numpy(), atol=1e-10)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def torch_threads(request):
    # one torch thread: the numpy kernels on the tensor's memory; more: torch's own
    old = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(old)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_exp_shift_rows(lib, dtype, torch_threads):
    rng = np.random.default_rng(3)
    x = rng.normal(scale=300.0, size=(7, 50)).astype(dtype)
    x[2] = 5.0  # a constant row
    x[4, :3] = [-1e30, 7.0, 6.0]  # far below the clamp
    clamp = -80.0
    expected_mx = x.max(axis=1)
    expected = np.exp(np.maximum(x.astype(float) - expected_mx[:, None], clamp))
    if lib == "numpy":
        y = x.copy()
        mx = NumpyBackend().exp_shift_rows_(y, clamp)
    else:
        from advgame.backend.torch_backend import TorchBackend
        y = torch.from_numpy(x.copy())
        mx = TorchBackend().exp_shift_rows_(y, clamp)
        y, mx = y.numpy(), mx.numpy()
    tol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(mx, expected_mx, rtol=tol)
    np.testing.assert_allclose(y, expected, rtol=tol, atol=0)
    assert y.dtype == np.dtype(dtype)
    assert np.all(y[2] == 1.0) and y.min() == pytest.approx(math.exp(clamp), rel=tol)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_exp_shift_rows_without_clipping_needed(lib, torch_threads):
    x = np.array([[0.0, -1.0, -2.0], [3.0, 3.0, 1.0]])
    if lib == "torch":
        from advgame.backend.torch_backend import TorchBackend
        t = torch.from_numpy(x)
        mx = TorchBackend().exp_shift_rows_(t, -700.0).numpy()
    else:
        mx = NumpyBackend().exp_shift_rows_(x, -700.0)
    np.testing.assert_array_equal(mx, [0.0, 3.0])
    np.testing.assert_allclose(x, np.exp([[0.0, -1.0, -2.0], [0.0, 0.0, -2.0]]), rtol=1e-15)
