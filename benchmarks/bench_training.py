"""Training benchmark (training issue, item 9), both ratios in one run.

1. One step of MNE21 Alg. 2 with L members (adaptive PGD against the L-member mixture,
   ``steps`` iterations, then one SGD step of one member) against L times one step of
   adversarial training of one member (PGD with the same ``steps`` against that member,
   one SGD step), at equal attack iterations.  Target: ratio <= 1.1 (L forward and
   backward passes per attack iteration is the floor of both).
2. One weight update of Alg. 2 by the oracle solver (MNE21 Alg. 1, ``T_lambda``
   iterations, PGD as the oracle) on a batch against one epoch of Alg. 2.  The epoch's
   time is ``n_batches`` times the measured mean time of a step of the Alg. 2 cycle
   (``T_theta L`` member steps and one weight step), for a training split of
   ``--n-train`` examples (45000: CIFAR-10 less its validation split).  Target < 5 %.

Inputs are random 3x32x32 images (CIFAR's shape); timings are medians over
``--repeats``.  Writes ``benchmarks/results_training.json``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_training.py`` (about a minute on a CPU;
``--device cuda --arch resnet18`` on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import torch

import _timing
from advgame._io import atomic_path
from advgame.torch import Mixture
from advgame.torch.models import build_model
from advgame.torch.training import TrainConfig
from advgame.torch.training.algorithms import adversarial_batch, member_step, weight_step


def median_time(fn, device, repeats):
    return _timing.median_time(fn, repeat=repeats, warmup=1, device=device)


def main(argv=None):
    from advgame.torch.solver import MixtureSolver

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="small-cnn")
    ap.add_argument("--models", type=int, default=2, help="L")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10, help="PGD iterations of training (MNE21: 10)")
    ap.add_argument("--t-lambda", type=int, default=5)
    ap.add_argument("--t-theta", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=45000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results_training.json"))
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    L, B = args.models, args.batch_size
    cfg = TrainConfig(algo="mixture", dataset="cifar10", models=L, arch=args.arch, attack_steps=args.steps,
                      t_lambda=args.t_lambda, t_theta=args.t_theta)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(B, 3, 32, 32, generator=gen, device=device)
    y = torch.randint(0, 10, (B,), generator=gen, device=device)
    members = [build_model(args.arch, 10, (3, 32, 32), seed=k).to(device).eval() for k in range(L)]
    mixture = Mixture(members)
    opts = [torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9) for m in members]
    singles = [Mixture([m]) for m in members]

    def alg2_member_step():
        x_adv = adversarial_batch(cfg, mixture, x, y, gen)
        member_step(members[0], members[0], opts[0], x_adv, y)

    def at_steps():
        for k in range(L):
            x_adv = adversarial_batch(cfg, singles[k], x, y, gen)
            member_step(members[k], members[k], opts[k], x_adv, y)

    solver = MixtureSolver("oracle", mixture=mixture, max_iter=args.t_lambda)

    def weight_update():
        weight_step(cfg, solver, mixture, x, y, seed=0)

    t_alg2 = median_time(alg2_member_step, device, args.repeats)
    t_at = median_time(at_steps, device, args.repeats)
    t_w = median_time(weight_update, device, args.repeats)
    cycle = args.t_theta * L + 1
    n_batches = -(-args.n_train // B)
    t_epoch = n_batches * ((cycle - 1) * t_alg2 + t_w) / cycle
    res = {
        "device": str(device), "arch": args.arch, "L": L, "batch_size": B, "attack_steps": args.steps,
        "t_lambda": args.t_lambda, "t_theta": args.t_theta, "n_train": args.n_train,
        "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
        "alg2_step_s": t_alg2, "L_at_steps_s": t_at, "ratio_alg2_vs_L_at": t_alg2 / t_at,
        "weight_update_s": t_w, "epoch_estimate_s": t_epoch, "ratio_weight_update_vs_epoch": t_w / t_epoch,
    }
    print(f"Alg. 2 step, L={L}: {t_alg2 * 1e3:.1f} ms; L x AT step: {t_at * 1e3:.1f} ms; "
          f"ratio {res['ratio_alg2_vs_L_at']:.3f} (target <= 1.1)")
    print(f"oracle weight update (T_lambda={args.t_lambda}): {t_w * 1e3:.1f} ms; epoch of {n_batches} batches: "
          f"{t_epoch:.1f} s (estimated); ratio {100 * res['ratio_weight_update_vs_epoch']:.3f} % (target < 5 %)")
    with atomic_path(args.out) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)
    print(f"wrote {args.out}")
    return res


if __name__ == "__main__":
    main()
