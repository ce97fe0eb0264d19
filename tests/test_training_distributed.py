"""torchrun-style data parallelism of the trainer: 2 CPU processes on gloo."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from _training_data import tiny_data  # noqa: E402
from _training_dist_worker import distributed_config, run  # noqa: E402
from _training_data import needs_warm_start  # noqa: E402


@pytest.mark.slow
@needs_warm_start
def test_two_ranks_match_one_process_with_the_same_global_batch(tmp_path):
    """One epoch of MNE21 Alg. 2 (L = 2, member and weight steps) on 2 ranks with 16
    examples each vs. one process with the global batch of 32: DistributedSampler gives
    rank r the examples r, r + 2, ... of the same permutation, DDP averages the
    gradients, the oracle's losses are all-reduced.  Tolerance 1e-4 on every parameter
    (float32 sums in another order); the weights are identical on both ranks."""
    import torch.multiprocessing as mp

    from advgame.torch.training import Trainer

    mp.spawn(run, args=(2, str(tmp_path / "init"), str(tmp_path / "res")), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "res.0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "res.1.pt", weights_only=True)
    assert torch.equal(r0["weights"], r1["weights"])
    for a, b in zip(r0["members"], r1["members"]):
        assert all(torch.equal(a[k], b[k]) for k in a)

    # only rank 0 wrote the checkpoint; it holds each rank's attack generator state
    ck = torch.load(tmp_path / "res.run" / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 2 and len(ck["attack_rng_by_rank"]) == 2
    assert not torch.equal(ck["attack_rng_by_rank"][0], ck["attack_rng_by_rank"][1])
    assert sorted(p.name for p in (tmp_path / "res.run").iterdir()) == ["checkpoint.pt", "config.json", "log.csv", "log.json"]

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = Trainer(distributed_config(), tiny_data(n_train=128))
        single.fit()
    finally:
        torch.set_num_threads(n)
    assert single.step == r0["step"] == 2 * 128 // 32
    assert float(single.mixture.weights.min()) < 0.49  # a weight step moved the weights
    torch.testing.assert_close(r0["weights"], single.mixture.weights, atol=1e-4, rtol=0)
    for m, s in zip(single.members, r0["members"]):
        for k, v in m.state_dict().items():
            torch.testing.assert_close(s[k], v, atol=1e-4, rtol=0)
