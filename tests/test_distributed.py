"""Data-parallel first-order solvers: 2 CPU processes on the gloo backend, unequal shards."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import advgame  # noqa: E402
from _distributed_worker import CONFIGS, run, shard_data  # noqa: E402


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    import torch.multiprocessing as mp

    d = tmp_path_factory.mktemp("dist")
    mp.spawn(run, args=(2, str(d / "init"), str(d / "res")), nprocs=2, join=True)
    return d / "res"


@pytest.mark.slow
@pytest.mark.parametrize("c", range(len(CONFIGS)), ids=[f"{m}-{b}" for m, _, b in CONFIGS])
def test_two_ranks_match_single_process(rank_results, c):
    method, opts, _ = CONFIGS[c]
    r0 = np.load(f"{rank_results}.{c}.0.npz")
    r1 = np.load(f"{rank_results}.{c}.1.npz")
    # every rank ends with identical weights
    np.testing.assert_array_equal(r0["weights"], r1["weights"])
    # ... equal to a single-process solve on all the samples
    losses, mask, sw = shard_data()
    ref = advgame.solve(advgame.Game(losses, mask=mask, sample_weights=sw), method=method, **opts)
    np.testing.assert_allclose(r0["weights"], ref.weights, atol=1e-6, rtol=0)
    np.testing.assert_allclose(r0["history"], ref.history, atol=1e-6, rtol=0)
    assert float(r0["value"]) == pytest.approx(ref.value, abs=1e-6)
    assert float(r0["gap"]) == pytest.approx(ref.gap, abs=1e-6)


def test_distributed_requires_a_process_group():
    g = advgame.examples.motivating_game()
    with pytest.raises(ValueError, match="initialized torch.distributed process group"):
        advgame.solve(g, method="oracle", distributed=True)
