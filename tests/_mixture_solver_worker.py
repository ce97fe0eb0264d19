"""Worker for test_mixture_solver's distributed test: each rank updates on its own shard."""

from __future__ import annotations


def shard_losses():
    """The full batch (30 samples, 4 candidates, 3 members) that the two ranks split 12 / 18."""
    import torch

    g = torch.Generator().manual_seed(7)
    return torch.rand((30, 4, 3), generator=g, dtype=torch.float64)


def run(rank, world, init_file, out_file, method, opts):
    import torch
    import torch.distributed as dist

    from advgame.torch.solver import MixtureSolver

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        losses = shard_losses()
        shard = losses[:12] if rank == 0 else losses[12:]
        solver = MixtureSolver(method, L=3, weights=torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64),
                               distributed=True, **opts)
        for _ in range(2):
            res = solver.update(shard)
        torch.save({"weights": solver.weights.clone(), "value": res.value, "gap": res.gap}, f"{out_file}.{rank}.pt")
        dist.barrier()  # every rank done before any tears gloo down
    finally:
        dist.destroy_process_group()
