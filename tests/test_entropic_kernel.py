"""The entropic solver's compiled speculative pass (issue 21, item 5) against its numpy path:
the kernel's per-sample quantities against a direct float64 evaluation, the solver's iterates
on both paths, the fallbacks (ADVGAME_JIT=0, no numba, small games) and the edge cases."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import advgame
from advgame import _jit

numba = pytest.importorskip("numba")


@pytest.fixture
def jit_on(monkeypatch):
    """The tests' games are small: lift the size gate so that the compiled path runs."""
    monkeypatch.setenv("ADVGAME_JIT", "1")
    monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "0")


def _losses(N, m, L, *, kind="real", masked=False, seed=0):
    rng = np.random.default_rng(seed)
    losses = rng.uniform(0.0, 1.0, (N, m, L)) if kind == "real" else (rng.uniform(size=(N, m, L)) < 0.4) * 1.0
    mask = None
    if masked:
        mask = rng.uniform(size=(N, m)) < 0.7
        mask[:, 0] = True
    return losses, mask


def _reference(losses, mask, lam, alpha, w):
    """Per sample: max score, sum of shifted exponentials (all terms), and the gradient of
    F_alpha, in float64 from the (N, m, L) losses."""
    s = losses @ lam / alpha
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    mx = s.max(axis=1)
    e = np.exp(s - mx[:, None])
    z = e.sum(axis=1)
    g = np.einsum("i,ij,ijk->k", w / z, e, losses)
    return mx, z, g


def _run_kernel(kern, losses, mask, lams, grads, dtype):
    N, m, L = losses.shape
    F = np.ascontiguousarray(np.moveaxis(losses, 2, 0).astype(dtype))
    neg = np.where(mask, 0.0, -np.inf).astype(dtype) if mask is not None else np.zeros((1, 1), dtype=dtype)
    C, ione = kern.constants(dtype)
    rows = kern.task_rows(F)
    P = len(lams)
    mx, z = np.empty((P, N)), np.empty((P, N))
    G = np.zeros(((N + rows - 1) // rows, P, L))
    w = np.full(N, 1.0 / N)
    kern.lse_pass(F, np.stack(lams).astype(dtype), neg, mask is not None, w, np.array(grads), C, ione, rows,
                  mx, z, G)
    return mx, z, G.sum(axis=0), w


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("shape", [(37, 131, 4), (5, 64, 3), (9, 1, 3), (11, 70, 1)])
@pytest.mark.parametrize("alpha", [0.5, 0.004, 0.0005])
def test_kernel_pass_is_the_definition(jit_on, dtype, masked, shape, alpha):
    """Both points, gradients for one or both, tails of the 64-attack blocks, m = 1, L = 1;
    alpha = 0.5 keeps most terms, alpha = 0.004 skips most (both dense exponentials and
    backward), alpha = 0.0005 keeps a few per sample (under a 16th: compacted, gathers)."""
    kern = _jit.entropic_kernels()
    assert kern is not None
    N, m, L = shape
    losses, mask = _losses(N, m, L, masked=masked and m > 1, seed=N)
    rng = np.random.default_rng(1)
    lam1, lam2 = rng.dirichlet(np.ones(L)), rng.dirichlet(np.ones(L))
    for grads in ([True, True], [False, True]):
        mx, z, g, w = _run_kernel(kern, losses, mask, [lam1 / alpha, lam2 / alpha], grads, dtype)
        lams = [np.asarray(lam / alpha, dtype=dtype).astype(np.float64) for lam in (lam1, lam2)]
        for v in range(2):
            mx_r, z_r, g_r = _reference(losses.astype(dtype).astype(np.float64), mask, lams[v], 1.0, w)
            rtol = 1e-13 if dtype == np.float64 else 2e-5
            np.testing.assert_allclose(mx[v], mx_r, rtol=rtol, atol=rtol * np.abs(mx_r).max())
            np.testing.assert_allclose(z[v], z_r, rtol=rtol)
            if grads[v]:
                np.testing.assert_allclose(g[v], g_r, rtol=rtol, atol=1e-15)
            else:
                assert not g[v].any()
    mx, z, g, w = _run_kernel(kern, losses, mask, [lam1 / alpha], [True], dtype)  # one point
    mx_r, z_r, g_r = _reference(losses.astype(dtype).astype(np.float64), mask,
                                np.asarray(lam1 / alpha, dtype=dtype).astype(np.float64), 1.0, w)
    np.testing.assert_allclose(g[0], g_r, rtol=1e-13 if dtype == np.float64 else 2e-5, atol=1e-15)


def test_kernel_skips_only_negligible_terms(jit_on):
    """Every term but the row's largest far below -45 (all skipped): z is exactly 1 and the
    gradient is the best response's loss row; a term at -44 is kept, one at -46 is not."""
    kern = _jit.entropic_kernels()
    N, m, L = 3, 100, 2
    losses = np.zeros((N, m, L))
    losses[:, 7, :] = 1.0  # attack 7 has score 1 / alpha, every other 0
    mx, z, g, w = _run_kernel(kern, losses, None, [np.full(L, 0.5) / 1e-3], [True], np.float64)
    assert np.all(z[0] == 1.0) and np.allclose(mx[0], 1e3)
    np.testing.assert_allclose(g[0], np.ones(L), rtol=1e-15)
    for gap, kept in ((44.0, True), (46.0, False)):
        losses = np.zeros((1, 3, 1))
        losses[0, 0, 0], losses[0, 1, 0] = gap, 0.0  # shifted scores 0, -gap, -gap
        mx, z, g, w = _run_kernel(kern, losses, None, [np.ones(1)], [True], np.float64)
        assert z[0, 0] == (pytest.approx(1.0 + 2.0 * math.exp(-gap), rel=1e-15) if kept else 1.0)


def _np(x):
    return np.array(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float)


def _trace(game, **kw):
    rec = []

    def cb(st):
        rec.append((_np(st.weights), _np(st.y), float(st.fy), _np(st.gy), st.Lk, st.t, st.sx is None))
        return False

    res = advgame.solve(game, method="entropic", callback=cb, **kw)
    return res, rec


def _both_paths(monkeypatch, game, **kw):
    monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "0")
    monkeypatch.setenv("ADVGAME_JIT", "0")
    r0, t0 = _trace(game, **kw)
    monkeypatch.setenv("ADVGAME_JIT", "1")
    r1, t1 = _trace(game, **kw)
    assert not any(t[-1] for t in t0), "ADVGAME_JIT=0 must run the numpy path"
    assert all(t[-1] for t in t1), "the compiled path keeps no score vectors"
    return r0, t0, r1, t1


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("restart", [True, False])
def test_float64_iterates_are_the_numpy_paths(monkeypatch, masked, restart):
    losses, mask = _losses(300, 200, 5, masked=masked)
    game = advgame.Game(losses, mask=mask)
    r0, t0, r1, t1 = _both_paths(monkeypatch, game, temperature=0.01, max_iter=60, restart=restart)
    assert (r0.status, r0.nit, len(t0)) == (r1.status, r1.nit, len(t1))
    for a, b in zip(t0, t1):
        np.testing.assert_allclose(b[0], a[0], rtol=0, atol=1e-11)  # x_k
        np.testing.assert_allclose(b[1], a[1], rtol=0, atol=1e-11)  # y_k
        assert b[2] == pytest.approx(a[2], rel=1e-13, abs=1e-14)  # F_alpha(y_k)
        np.testing.assert_allclose(b[3], a[3], rtol=1e-10, atol=1e-12)  # gradient at y_k (1/alpha times y)
        assert (b[4], b[5]) == pytest.approx((a[4], a[5]), rel=1e-12)  # Lipschitz estimate, momentum
    np.testing.assert_allclose(r1.history, r0.history, rtol=0, atol=1e-13)
    np.testing.assert_allclose(r1.info["regularized_history"], r0.info["regularized_history"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(r1.info["gap_history"], r0.info["gap_history"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(r1.weights, r0.weights, rtol=0, atol=1e-11)
    assert r1.value == pytest.approx(r0.value, abs=1e-13) and r1.gap == pytest.approx(r0.gap, abs=1e-12)
    # the run exercised backtracking (the estimate doubled) and, with restart, a momentum reset
    Lk = [t[4] for t in t0]
    assert any(b > a for a, b in zip(Lk, Lk[1:]))
    if restart:
        assert any(t[5] == 1.0 for t in t0[2:])


def test_float32_iterates_follow_the_numpy_path(monkeypatch):
    """float32: the compiled pass sums in another order (and forms y's scores from y), so
    the iterates agree to float32 rounding at first; FISTA's trajectory on this flat random
    game then drifts (as numpy's and torch's float32 paths do from each other), while the
    certified values agree."""
    losses, mask = _losses(300, 200, 5, masked=True)
    game = advgame.Game(losses.astype(np.float32), mask=mask)
    r0, t0, r1, t1 = _both_paths(monkeypatch, game, temperature=0.01, max_iter=60)
    assert (r0.status, r0.nit) == (r1.status, r1.nit)
    for a, b in zip(t0[:10], t1[:10]):
        np.testing.assert_allclose(b[0], a[0], rtol=0, atol=1e-5)
        assert b[2] == pytest.approx(a[2], rel=1e-6)
    assert r1.value == pytest.approx(r0.value, abs=1e-6)
    assert r1.lower_bound == pytest.approx(r0.lower_bound, abs=1e-4)
    Lk = [t[4] for t in t0]
    assert any(b > a for a, b in zip(Lk, Lk[1:]))  # backtracking (restarts: float64 tests; float32's
    # restart slack, 1000 eps, makes them rare)


@pytest.mark.filterwarnings("ignore::advgame.SolverWarning")
@pytest.mark.parametrize("shape", [(40, 30, 1), (40, 1, 4), (25, 70, 3)])
def test_edge_cases_solve_the_same_on_both_paths(monkeypatch, shape):
    N, m, L = shape
    losses, mask = _losses(N, m, L, kind="binary", seed=3)
    game = advgame.Game(losses)
    r0, t0, r1, t1 = _both_paths(monkeypatch, game, temperature=1e-3, max_iter=20, tol=1e-9)
    assert (r0.status, r0.nit) == (r1.status, r1.nit)
    np.testing.assert_allclose(r1.weights, r0.weights, rtol=0, atol=1e-12)
    assert r1.value == pytest.approx(r0.value, abs=1e-14) and r1.gap == pytest.approx(r0.gap, abs=1e-12)


def test_warnings_are_the_same(monkeypatch):
    losses, _ = _losses(60, 40, 4)
    game = advgame.Game(losses)
    got = []
    for jit in ("0", "1"):
        monkeypatch.setenv("ADVGAME_JIT", jit)
        monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "0")
        with pytest.warns(advgame.SolverWarning) as rec:
            r = advgame.solve(game, method="entropic", temperature=0.01, max_iter=5, tol=1e-12)
        got.append((r.status, [str(w.message) for w in rec if issubclass(w.category, advgame.SolverWarning)]))
    assert got[0] == got[1] and got[0][0] == "max_steps"


def test_switch_off_and_size_gate(monkeypatch):
    monkeypatch.setenv("ADVGAME_JIT", "0")
    assert _jit.entropic_kernels() is None
    monkeypatch.setenv("ADVGAME_JIT", "1")
    monkeypatch.delenv("ADVGAME_JIT_MIN_ENTRIES", raising=False)
    assert _jit.entropic_kernels(_jit.ENTROPIC_MIN_ENTRIES - 1) is None
    assert _jit.entropic_kernels(_jit.ENTROPIC_MIN_ENTRIES) is not None
    monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "100")
    assert _jit.entropic_kernels(99) is None and _jit.entropic_kernels(100) is not None


def test_torch_games_keep_their_path(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "0")
    losses, _ = _losses(30, 20, 3)
    _, rec = _trace(advgame.Game(torch.as_tensor(losses)), temperature=0.01, max_iter=3)
    assert not any(t[-1] for t in rec)


def _run(code, **env):
    import os

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, **env))
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_without_numba_the_numpy_path_solves():
    code = ("import sys; sys.modules['numba'] = None\n"
            "import numpy as np, advgame\n"
            "from advgame import _jit\n"
            "g = advgame.Game(np.random.default_rng(0).random((30, 20, 3)))\n"
            "r = advgame.solve(g, method='entropic', temperature=0.01, max_iter=5,"
            " callback=lambda st: print(st.sx is not None) or False)\n"
            "print(r.status, _jit.entropic_kernels() is None)")
    out = _run(code, ADVGAME_JIT_MIN_ENTRIES="0", ADVGAME_JIT="1")
    assert out[-2:] == ["steps_completed", "True"] and set(out[:-2]) == {"True"}


def test_small_entropic_solve_does_not_import_numba():
    code = ("import sys, numpy as np, advgame\n"
            "g = advgame.Game(np.random.default_rng(0).random((30, 20, 3)))\n"
            "r = advgame.solve(g, method='entropic', temperature=0.01, max_iter=5)\n"
            "print(r.status, 'numba' in sys.modules)")
    assert _run(code, ADVGAME_JIT="1", ADVGAME_JIT_MIN_ENTRIES="") == ["steps_completed", "False"]
