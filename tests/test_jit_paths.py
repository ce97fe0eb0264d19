"""The compiled kernels (issue 21) against their pure-numpy paths, the sparse adversary, and
how the compiler is loaded: lazily, switchable (ADVGAME_JIT=0), without a writable cache."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import advgame
from advgame import _jit
from advgame.adversary import SparseAdversary
from advgame.solvers.lp.pruning import scan_binary

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _kernels_on_small_games(monkeypatch):
    """The tests' games are small: lift the size gate (advgame._jit.MIN_ENTRIES) so that the
    compiled paths run on them, in this process and in the children it starts."""
    monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "0")


def test_small_games_run_numpy_without_importing_numba(monkeypatch):
    monkeypatch.delenv("ADVGAME_JIT_MIN_ENTRIES")
    assert _jit.kernels(10**7) is None and _jit.min_entries() == _jit.MIN_ENTRIES
    code = ("import sys, numpy as np, advgame; r = advgame.solve(advgame.Game((np.random.default_rng(0)"
            ".random((200, 50, 10)) < .5) * 1.0)); print(r.status, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["optimal", "False"]
    monkeypatch.setenv("ADVGAME_JIT_MIN_ENTRIES", "not a number")
    assert _jit.min_entries() == _jit.MIN_ENTRIES


def _binary_game(N, m, L, *, p=0.4, hi=1.0, masked=False, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((N, m, L)) < p).astype(dtype) * dtype(hi)
    mask = None
    if masked:
        mask = rng.random((N, m)) < 0.6
        mask[:, rng.integers(m)] = True
    return advgame.Game(x, mask=mask, bound=max(hi, 1.0))


CASES = [  # (N, m, L, masked, dtype, hi): the 2^L table (L <= 16), the sorted path, int64 codes
    (60, 7, 3, False, np.float64, 1.0),
    (300, 40, 10, True, np.float32, 1.0),
    (200, 60, 6, False, np.float32, 3.0),  # max loss not a power of two
    (100, 30, 20, False, np.float32, 1.0),
    (40, 25, 40, True, np.float64, 0.5),
    (30, 12, 62, False, np.float64, 1.0),
]


@pytest.mark.parametrize("N, m, L, masked, dtype, hi", CASES)
def test_fused_scan_equals_the_numpy_path(N, m, L, masked, dtype, hi):
    g = _binary_game(N, m, L, masked=masked, dtype=dtype, hi=hi, seed=L)
    fused = scan_binary(g.view(), use_jit=True, block_entries=max(1, N * m * L // 3))  # several blocks
    plain = scan_binary(g.view(), use_jit=False)
    assert fused is not None and plain is not None
    for a, b in zip(fused, plain):
        assert a.dtype == np.int64 and np.array_equal(a, b)


def test_fused_scan_is_the_definition():
    """Independent of both paths: per sample, the distinct valid codes with no strict
    superset among them, each with its first attack."""
    g = _binary_game(50, 20, 5, masked=True, seed=3)
    x, mask = g.to_numpy().losses, g.view().mask_numpy  # (N, m, L)
    ui, uc, uj = scan_binary(g.view(), use_jit=True)
    want = []
    for i in range(50):
        codes = {}
        for j in range(20):
            if mask[i, j]:
                c = int(sum(int(x[i, j, k] > 0) << k for k in range(5)))
                codes.setdefault(c, j)
        for c in sorted(codes):
            if not any(d != c and (c & ~d) == 0 for d in codes):
                want.append((i, c, codes[c]))
    assert list(zip(ui.tolist(), uc.tolist(), uj.tolist())) == want


@pytest.mark.parametrize("value", [0.5, 2.0, 0.25])
def test_fused_scan_detects_a_non_binary_entry(value):
    g0 = _binary_game(80, 9, 4, seed=1)
    x = g0.to_numpy().losses.copy()
    x[61, 4, 2] = value
    g = advgame.Game(x, bound=2.0)
    assert scan_binary(g.view(), use_jit=True, block_entries=100) is None
    assert scan_binary(g.view(), use_jit=False) is None


def test_all_zero_game_keeps_one_row_per_sample():
    g = advgame.Game(np.zeros((5, 4, 3)))
    for use in (True, False):
        ui, uc, uj = scan_binary(g.view(), use_jit=use)
        assert ui.tolist() == list(range(5)) and uc.tolist() == [0] * 5 and uj.tolist() == [0] * 5


@pytest.mark.parametrize("dtype, masked", [(np.float64, False), (np.float32, True)])
def test_compiled_certificate_pass_equals_the_numpy_pass(monkeypatch, dtype, masked):
    rng = np.random.default_rng(4)
    x = rng.random((120, 33, 7)).astype(dtype)
    mask = rng.random((120, 33)) < 0.5 if masked else None
    if mask is not None:
        mask[:, 0] = True
    g = advgame.Game(x, mask=mask)
    lam = rng.dirichlet(np.ones(7))
    R1, mx1, j1 = g.view().risk_and_best_response_float64(lam)
    monkeypatch.setenv("ADVGAME_JIT", "0")
    R0, mx0, j0 = g.view().risk_and_best_response_float64(lam)
    assert R1 == pytest.approx(R0, rel=1e-14, abs=1e-15)
    np.testing.assert_allclose(mx1, mx0, rtol=1e-14, atol=1e-15)
    assert np.array_equal(j1, j0)
    if masked:
        assert mask[np.arange(120), j1].all()


def test_solve_gives_the_same_answer_on_both_paths(monkeypatch):
    g = _binary_game(400, 50, 8, masked=True, p=0.3, seed=7)
    a = advgame.solve(g)
    monkeypatch.setenv("ADVGAME_JIT", "0")
    b = advgame.solve(g)
    assert a.status == b.status == "optimal" and a.rows == b.rows
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.adversary, b.adversary)
    assert a.value == pytest.approx(b.value, abs=1e-14) and a.gap <= 1e-9


def test_lp_adversary_is_sparse_and_dense_on_request():
    g = _binary_game(200, 30, 6, masked=True, seed=2)
    res = advgame.solve(g)
    sp = res.adversary_sparse
    assert isinstance(sp, SparseAdversary) and "_adversary_dense" not in res.__dict__
    assert sp.nnz <= 200 * 6 + 200 and "SparseAdversary" in repr(res)
    Q = res.adversary
    assert Q.shape == (200, 30) and Q.dtype == np.float64 and res["adversary"] is Q
    np.testing.assert_allclose(Q.sum(axis=1), 1.0, atol=1e-12)
    assert not Q[~g.view().mask_numpy].any()
    np.testing.assert_array_equal(np.asarray(sp), Q)
    # the certificate read from the sparse form is the one of the dense array
    assert res.lower_bound == pytest.approx(g.defender_value(Q)[0], abs=1e-12)
    assert g.duality_gap(res.weights, Q) == pytest.approx(res.gap, abs=1e-12)


@pytest.mark.parametrize("strategy", ["cg", "full", "cuts"])
def test_constraint_generation_adversary_is_sparse(strategy):
    g = advgame.examples.random_game(60, 12, 5, seed=8)
    res = advgame.solve(g, strategy=strategy)
    assert isinstance(res.adversary_sparse, SparseAdversary) and res.status == "optimal"
    assert res.lower_bound == pytest.approx(g.defender_value(res.adversary)[0], abs=1e-12)
    np.testing.assert_allclose(res.adversary.sum(axis=1), 1.0, atol=1e-12)


def test_lp_adversary_of_a_torch_game_is_a_tensor():
    torch = pytest.importorskip("torch")
    g64 = _binary_game(50, 10, 4, seed=5)
    g = advgame.Game(torch.as_tensor(g64.to_numpy().losses, dtype=torch.float32))
    res = advgame.solve(g)
    assert isinstance(res.adversary, torch.Tensor) and res.adversary.dtype == torch.float32
    assert res.adversary.shape == (50, 10)
    np.testing.assert_allclose(res.adversary.numpy(), res.adversary_sparse.toarray(), atol=1e-7)
    fresh = advgame.solve(g)  # a result whose adversary is still sparse pickles, then reads as a tensor
    import pickle

    back = pickle.loads(pickle.dumps(fresh))
    assert "_adversary_dense" not in back.__dict__
    assert isinstance(back.adversary, torch.Tensor) and torch.equal(back.adversary, res.adversary)


def test_sparse_adversary_sums_duplicates_and_checks_input():
    Q = SparseAdversary([1, 0, 1], [0, 1, 0], [0.5, 1.0, 0.5], (2, 2))
    assert Q.nnz == 2 and Q.toarray().tolist() == [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="attacks in"):
        SparseAdversary([0], [3], [1.0], (2, 2))
    with pytest.raises(ValueError, match="one length"):
        SparseAdversary([0, 1], [0], [1.0], (2, 2))


def test_result_with_a_dense_adversary_has_a_sparse_view():
    res = advgame.solve(advgame.examples.random_game(30, 5, 3, seed=1), method="entropic", max_iter=5)
    sp = res.adversary_sparse
    np.testing.assert_array_equal(sp.toarray(), res.adversary)


def test_switch_off_gives_no_kernels(monkeypatch):
    monkeypatch.setenv("ADVGAME_JIT", "0")
    assert _jit.kernels() is None
    with pytest.raises(ValueError, match="use_jit=True"):
        scan_binary(advgame.Game(np.zeros((2, 2, 2))).view(), use_jit=True)


def test_unwritable_cache_compiles_without_it():
    calls = []

    def fake_njit(cache, **options):
        calls.append(cache)
        if cache:
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x.py'")
        return lambda fn: fn

    f = _jit.compile_kernel(lambda: 3, fake_njit, parallel=True)
    assert f() == 3 and calls == [True, False]

    def other_error(cache, **options):
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        _jit.compile_kernel(lambda: 3, other_error)


def test_unwritable_cache_directory_end_to_end(tmp_path):
    """A process whose numba cache directory cannot be written still solves (the package's
    own __pycache__ may be writable here, so the user-wide locator is what is exercised when
    it is not; either way the solve must succeed)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    code = ("import numpy as np, advgame; g = advgame.Game((np.random.default_rng(0).random((30, 6, 4)) < .5) * 1.0);"
            "r = advgame.solve(g); print(r.status)")
    import os

    env = dict(os.environ, NUMBA_CACHE_DIR=str(ro / "cache"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    ro.chmod(0o700)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "optimal"


def test_import_is_light_and_the_compiler_loads_at_the_first_solve():
    code = ("import sys, numpy as np, advgame; a = 'numba' in sys.modules;"
            "advgame.solve(advgame.Game((np.random.default_rng(0).random((20, 5, 3)) < .5) * 1.0));"
            "print(a, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def _solve_in_child(conn):
    g = _binary_game(40, 8, 4, seed=9)
    conn.send((advgame.solve(g).status, _jit.kernels() is None))
    conn.close()


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_child_solves_on_the_numpy_path():
    """numba's GNU OpenMP layer terminates a forked child that launches a parallel kernel
    ("fork() called from a process already using GNU OpenMP"): a child forked after a solve
    must run the numpy paths and finish."""
    import multiprocessing as mp

    advgame.solve(_binary_game(40, 8, 4, seed=9))  # the parent has used the kernels
    assert _jit.kernels() is not None
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_solve_in_child, args=(child,))
    p.start()
    p.join(300)  # a terminated child ends at once
    got = parent.recv() if parent.poll(1) else None
    assert p.exitcode == 0 and got == ("optimal", True)
