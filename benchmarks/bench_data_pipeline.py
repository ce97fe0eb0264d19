"""The on-device training batches against the DataLoader they replace (issue 18, item 7).

In one run, on the CPU (or ``--device``), for the digits path and a CIFAR-format fixture
(``make_cifar_fixture``, ``--cifar-n`` training images, read through the real loader),
both with augmentation (random crop and, for CIFAR, flips):

* ``host per batch``: the time to draw one training batch (``--batch-size``) -- the
  old ``DataLoader`` over the per-item ``ImageDataset`` with a ``DistributedSampler``
  against :class:`advgame.torch.data_device.DeviceBatches` -- over a whole epoch, and
  their ratio;
* ``epoch``: one epoch of ``Trainer.fit`` (AT, PGD-``--steps``, validation included)
  with each pipeline (``Trainer.device_data``), and their ratio.

Both produce the same batches bit for bit (tests/test_data_device.py), so the ratios are
the pipeline's cost alone.  Medians of ``--repeats``, timed round-robin.  Writes
``benchmarks/results_data_pipeline.json``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_data_pipeline.py`` (a few minutes on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import torch

import _timing
from advgame._io import atomic_path
from advgame.torch.data import load_dataset, make_cifar_fixture
from advgame.torch.data_device import DeviceBatches
from advgame.torch.training import Trainer, TrainConfig


def old_batches(ds, batch, seed, epoch):
    from torch.utils.data import DataLoader, DistributedSampler

    sampler = DistributedSampler(ds, num_replicas=1, rank=0, shuffle=True, seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    ds.set_epoch(epoch)
    return DataLoader(ds, batch_size=batch, sampler=sampler)


def case(name, data, cfg, args, device):
    ds = data.train
    B = cfg.batch_size

    def drain(make):
        n = 0
        for x, y in make():
            n += 1
        return n

    n_batches = drain(lambda: old_batches(ds, B, cfg.seed, 1))
    t_old, t_new = _timing.median_times(
        [lambda: drain(lambda: old_batches(ds, B, cfg.seed, 1)),
         lambda: drain(lambda: DeviceBatches(ds, device, B, seed=cfg.seed, epoch=1))],
        repeat=args.repeats, warmup=1, device=device)

    def epoch(on_device):
        tr = Trainer(cfg, data, device=device)
        tr.device_data = on_device
        tr.fit(max_epochs=1)

    e_old, e_new = _timing.median_times([lambda: epoch(False), lambda: epoch(True)], repeat=args.repeats,
                                        warmup=1, device=device)
    return {"case": name, "n_train": len(ds), "batch": B, "batches": n_batches,
            "host_per_batch_old_s": t_old / n_batches, "host_per_batch_new_s": t_new / n_batches,
            "host_ratio_new_over_old": t_new / t_old,
            "epoch_old_s": e_old, "epoch_new_s": e_new, "epoch_ratio_new_over_old": e_new / e_old}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=2, help="PGD iterations of the training attack")
    ap.add_argument("--cifar-n", type=int, default=2000, help="training images of the CIFAR fixture")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results_data_pipeline.json"))
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    common = dict(algo="at", models=1, epochs=1, batch_size=args.batch_size, attack_steps=args.steps, eval_steps=2,
                  eval_samples=200, augment=True, seed=0)
    rows = []
    digits = load_dataset("digits", val_size=0.1, augment=True, seed=0)
    rows.append(case("digits (small-mlp)", digits, TrainConfig(dataset="digits", arch="small-mlp", **common), args,
                     device))
    with tempfile.TemporaryDirectory() as root:
        make_cifar_fixture(root, n_train=args.cifar_n, n_test=100, seed=0)
        cifar = load_dataset("cifar10", root, val_size=0.1, augment=True, seed=0)
        rows.append(case(f"CIFAR fixture n={args.cifar_n} (small-cnn)", cifar,
                         TrainConfig(dataset="cifar10", arch="small-cnn", **common), args, device))
    print(f"{'case':34s} {'host/batch old':>15s} {'new':>10s} {'new/old':>8s} {'epoch old':>10s} {'new':>8s} "
          f"{'new/old':>8s}")
    for r in rows:
        print(f"{r['case']:34s} {r['host_per_batch_old_s'] * 1e3:13.2f}ms {r['host_per_batch_new_s'] * 1e3:8.2f}ms "
              f"{r['host_ratio_new_over_old']:8.3f} {r['epoch_old_s']:9.2f}s {r['epoch_new_s']:7.2f}s "
              f"{r['epoch_ratio_new_over_old']:8.3f}")
    out = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(), "args": vars(args),
           "rows": rows}
    if args.out:
        with atomic_path(args.out) as tmp:
            with open(tmp, "w") as fh:
                json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
