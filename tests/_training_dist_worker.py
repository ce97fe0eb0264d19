"""Worker for test_training_distributed: one epoch of MNE21 Alg. 2 on 2 gloo ranks."""

from __future__ import annotations


def run(rank, world, init_file, out_file):
    import torch
    import torch.distributed as dist

    from _training_data import tiny_data
    from advgame.torch.training import Trainer

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        tr = Trainer(distributed_config(), tiny_data(n_train=128), out=f"{out_file}.run")
        tr.fit()
        torch.save({"members": [m.state_dict() for m in tr.members], "weights": tr.mixture.weights.clone(),
                    "step": tr.step}, f"{out_file}.{rank}.pt")
        dist.barrier()  # every rank done before any tears gloo down (a rank leaving early can abort its peer)
    finally:
        dist.destroy_process_group()


def distributed_config():
    from _training_data import tiny_config

    # no random start: the attack is then a deterministic function of each example, so
    # the 2-rank run and the single-process run attack the same points
    return tiny_config(models=2, epochs=1, batch_size=32, random_start=False, t_lambda=3)
