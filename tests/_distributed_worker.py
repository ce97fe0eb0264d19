"""Worker for test_distributed: each rank solves its own shard of the samples."""

from __future__ import annotations

import numpy as np


CONFIGS = [
    ("oracle", {"max_iter": 40}, "numpy"),
    ("oracle", {"max_iter": 40}, "torch"),
    ("entropic", {"max_iter": 40, "temperature": 0.02}, "numpy"),
    ("entropic", {"max_iter": 40, "temperature": 0.02}, "torch"),
]


def shard_data():
    """The full data set (37 samples) that the two ranks split 13 / 24."""
    import advgame

    full = advgame.examples.random_game(37, 9, 5, kind="real", seed=123, mask_fraction=0.25, weighted=True)
    sw = np.random.default_rng(0).random(37) + 0.1
    return np.asarray(full.losses), np.asarray(full.mask), sw


def run(rank, world, init_file, out_file):
    import torch
    import torch.distributed as dist

    import advgame

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        losses, mask, sw = shard_data()
        sl = slice(0, 13) if rank == 0 else slice(13, 37)  # unequal shards
        for c, (method, opts, backend_name) in enumerate(CONFIGS):
            if backend_name == "torch":
                game = advgame.Game(torch.from_numpy(losses[sl].copy()), mask=torch.from_numpy(mask[sl].copy()),
                                    sample_weights=torch.from_numpy(sw[sl].copy()))
            else:
                game = advgame.Game(losses[sl], mask=mask[sl], sample_weights=sw[sl])
            res = advgame.solve(game, method=method, distributed=True, **opts)
            w = res.weights.numpy() if hasattr(res.weights, "numpy") else np.asarray(res.weights)
            np.savez(f"{out_file}.{c}.{rank}.npz", weights=w, value=res.value, gap=res.gap,
                     history=np.asarray(res.history))
        dist.barrier()  # every rank done before any tears gloo down
    finally:
        dist.destroy_process_group()
