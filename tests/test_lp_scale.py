"""The exact solver at scale (issue 13): the streamed 0/1 pass and aggregated cuts.

Correctness only (no timings): ``binary_rows`` against a direct computation, the
aggregated-cut strategy against the full LP and the certificate, and the memory the 0/1
path allocates above the stored tensor.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from test_lp_property import check, games

import advgame
from advgame import Game, SolverWarning, solve
from advgame.solvers.lp import driver
from advgame.solvers.lp.pruning import binary_rows


def direct_rows(losses, mask):
    """Distinct (sample, code) pairs of the valid rows, sorted, computed row by row."""
    N, m, L = losses.shape
    out = {}
    for i in range(N):
        for j in range(m):
            if mask is None or mask[i, j]:
                code = sum(1 << k for k in range(L) if losses[i, j, k] != 0)
                out.setdefault((i, code), j)
    keys = sorted(out)
    return np.array([k[0] for k in keys]), np.array([k[1] for k in keys]), out


@pytest.mark.parametrize("L", [1, 3, 12, 25, 40, 58])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_rows_match_a_direct_computation(L, masked, dtype):
    """Blocks of a few samples (several blocks, the dense-table, sort and packbits paths)."""
    rng = np.random.default_rng(L)
    N, m = 37, 6
    x = (rng.random((N, m, L)) < rng.random(L)).astype(dtype) * dtype(2.0)
    x[:, 1] = x[:, 0]  # duplicate rows
    mask = None
    if masked:
        mask = rng.random((N, m)) < 0.6
        mask[:, 0] = True
    g = Game(x, mask=mask)
    ii, cc, ref = direct_rows(x, mask)
    for block in (1, 7 * m * L, 1 << 20):
        ui, uc, uj = binary_rows(g.view(), block_entries=block)
        np.testing.assert_array_equal(ui, ii)
        np.testing.assert_array_equal(uc, cc)
        # the attack carries the code (any attack that does is fine)
        for i, c, j in zip(ui, uc, uj):
            assert mask is None or mask[i, j]
            assert sum(1 << k for k in range(L) if x[i, j, k] != 0) == c


@pytest.mark.parametrize("value", [0.5, 0.999, 0.0])
def test_binary_rows_detect_a_single_non_binary_entry(value):
    x = (np.random.default_rng(0).random((50, 4, 5)) < 0.5).astype(np.float32)
    x[43, 2, 3] = value if value else 0.25  # in the last block
    g = Game(x, bound=1.0)
    assert binary_rows(g.view(), block_entries=40) is None
    assert not g.is_binary


def test_masked_non_binary_entries_are_ignored():
    x = (np.random.default_rng(0).random((20, 4, 5)) < 0.5).astype(float)
    mask = np.ones((20, 4), bool)
    mask[7, 1] = False
    x[7, 1, 2] = 0.3
    g = Game(x, mask=mask)
    assert g.is_binary and binary_rows(g.view(), block_entries=20) is not None
    assert solve(g).info["strategy"] == "prune"


def test_zero_game_packs():
    g = Game(np.zeros((3, 4, 5)))
    ui, uc, uj = binary_rows(g.view())
    np.testing.assert_array_equal(ui, [0, 1, 2])
    np.testing.assert_array_equal(uc, [0, 0, 0])
    assert solve(g).value == 0.0


def test_binary_solve_allocates_little_above_the_tensor():
    """No float64 copy, no N*m index or code arrays: the 0/1 path's peak allocation stays a
    fraction of the float32 tensor plus fixed-size blocks (the old path allocated a bool copy, int64
    codes, keys and attack indices over N*m entries and 32 MB certificate blocks)."""
    rng = np.random.default_rng(0)
    N, m, L = 4000, 100, 10
    # a few distinct rows per sample (as in MNE21's games: nearby attacks fool the same sets)
    patterns = rng.random((N, 3, L)) < 0.3
    x = patterns[np.arange(N)[:, None], rng.integers(0, 3, (N, m))].astype(np.float32)
    g = Game(x)
    tensor = N * m * L * 4
    tracemalloc.start()
    try:
        res = solve(g)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.info["strategy"] == "prune" and res.status == "optimal"
    # the dense (N, m) float64 adversary is 0.2x; blocks of 2^20 losses (8 MB in float64) are
    # the constant part
    assert peak < 0.3 * tensor + 16 * 2**20


# ----------------------------------------------------------------------- aggregated cuts
def test_cuts_match_the_full_lp_on_real_losses():
    g = advgame.examples.random_game(300, 40, 6, kind="real", seed=3, weighted=True)
    res = solve(g, strategy="cuts")
    full = solve(g, strategy="full")
    assert res.status == "optimal" and res.info["strategy"] == "cuts"
    assert res.gap <= 1e-9
    assert res.value == pytest.approx(full.value, abs=1e-9)
    assert res.value == pytest.approx(g.risk(res.weights), abs=1e-12)
    assert res.lower_bound == pytest.approx(g.defender_value(res.adversary)[0], abs=1e-12)


def test_cuts_on_a_float32_game_search_in_float32_and_certify_in_float64():
    g64 = advgame.examples.random_game(400, 30, 8, kind="real", seed=7)
    g32 = Game(np.asarray(g64.losses, dtype=np.float32))
    r32 = solve(g32, strategy="cuts")
    r64 = solve(Game(np.asarray(g32.losses, dtype=np.float64)), strategy="full")
    assert r32.status == "optimal" and r32.gap <= 1e-9
    assert r32.value == pytest.approx(r64.value, abs=1e-9)


def test_auto_chooses_cuts_on_large_real_games(monkeypatch):
    monkeypatch.setattr(driver, "AUTO_CUTS_ROWS", 1000)
    g = advgame.examples.random_game(100, 20, 5, kind="real", seed=1)
    res = solve(g)
    assert res.info["strategy"] == "cuts" and res.status == "optimal"
    assert res.value == pytest.approx(solve(g, strategy="full").value, abs=1e-9)


def test_cuts_time_limit_is_honest():
    g = advgame.examples.random_game(200, 30, 6, kind="real", seed=2)
    with pytest.warns(SolverWarning, match="time_limit"):
        res = solve(g, strategy="cuts", time_limit=1e-9)
    assert res.status == "time_limit"
    assert res.value == pytest.approx(g.risk(res.weights), abs=1e-12)
    assert res.lower_bound == pytest.approx(g.defender_value(res.adversary)[0], abs=1e-12)


def test_cuts_max_iter_is_honest():
    g = advgame.examples.random_game(300, 40, 8, kind="real", seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverWarning)
        res = solve(g, strategy="cuts", max_iter=2)
    assert res.nit <= 2
    assert res.value == pytest.approx(g.risk(res.weights), abs=1e-12)
    assert res.lower_bound == pytest.approx(g.defender_value(res.adversary)[0], abs=1e-12)
    assert res.value >= solve(g).value - 1e-12


@settings(max_examples=60, deadline=None)
@given(games())
def test_cuts_on_random_games(case):
    """Every game the LP property test draws, solved by aggregated cuts: the certificate
    recomputed from the raw tensor, within tol of the full LP."""
    losses, mask, sw, _ = case
    check(losses, mask, sw, "cuts")
