"""Time of the evaluation suites as ratios to one adaptive PGD-100 run (issue 17, item 10).

For a training checkpoint, on its test split (one CPU thread): the wall time (median of
three runs, after a warm-up) of
``evaluate(attacks={"pgd": PGD(steps=100, restarts=1, expectation="logits")})``, then
of ``suite="quick"``, ``"standard"`` and ``"full"`` (with its sanity checks), each
reported as a multiple of the PGD-100 run.  Ratios measured in one run on one machine;
no timed assertion anywhere.

Usage: python benchmarks/bench_eval_suites.py CHECKPOINT [--max-samples N]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--max-samples", type=int, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    from advgame.torch import PGD, evaluate
    from advgame.torch.checks import EvaluationWarning
    from advgame.torch.data import load_dataset
    from advgame.torch.training import mixture_from_checkpoint

    mix, cfg, _ = mixture_from_checkpoint(args.checkpoint)
    data = load_dataset(cfg.dataset, val_size=cfg.val_size, augment=False, seed=cfg.seed)
    n = len(data.test) if args.max_samples is None else min(args.max_samples, len(data.test))
    x = torch.stack([data.test[i][0] for i in range(n)])
    y = torch.as_tensor([data.test[i][1] for i in range(n)])
    rows = []
    evaluate(mix, x[:8], y[:8], cfg.eps, attacks={"warm-up": PGD(eps=cfg.eps, steps=2, restarts=1)})
    times = []
    for _ in range(3):  # the median of three runs: the machine is shared
        t = time.perf_counter()
        r = evaluate(mix, x, y, cfg.eps, attacks={"pgd-100": PGD(eps=cfg.eps, steps=100, restarts=1)})
        times.append(time.perf_counter() - t)
    base = sorted(times)[1]
    rows.append(("PGD-100 (1 restart, expected logits)", base, r["worst"]))
    for suite in ("quick", "standard", "full"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EvaluationWarning)
            t = time.perf_counter()
            r = evaluate(mix, x, y, cfg.eps, suite=suite)
            rows.append((f"suite {suite}" + (" (with checks)" if r.checks else ""), time.perf_counter() - t,
                         r["worst"]))
    print(f"{args.checkpoint}: L={len(mix)}, n={n}, eps={cfg.eps}, torch threads 1")
    for name, s, w in rows:
        print(f"  {name:40s} {s:8.1f} s  {s / base:6.1f} x PGD-100   worst {w:.4f}")


if __name__ == "__main__":
    main()
