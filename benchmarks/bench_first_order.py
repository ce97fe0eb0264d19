"""First-order solvers benchmark (first-order issue).

On MNE21's synthetic instance (N=1000, m=1000, L=10, 0/1 loss; eps=2 and 3 by
default), in one run:

* iterations and time for MNE21 Algorithm 1 (paper's step size for the given budget of
  steps) and for the entropic FISTA to reach a certified duality gap <= 1e-3 and
  <= 1e-4, against the exact LP's time;
* per-iteration time as a ratio to one ``game.risk`` evaluation (median of 7);
* torch CPU (float64 and float32) against numpy per iteration;
* a GPU line only where CUDA is available.

Run: ``python benchmarks/bench_first_order.py`` (about 3 minutes on 2 cores);
``--quick``: only the per-iteration table at the first eps.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
import warnings

import numpy as np

import _timing
import advgame
from advgame.synthetic import make_instance


CPU_TIME = False  # --cpu-time: process time instead of wall time


def median_time(fn, repeat=7):
    return _timing.median_time(fn, repeat=repeat, warmup=0, clock="cpu" if CPU_TIME else "wall")


def per_iteration(game, method, max_iter=40, **opts):
    """Seconds per iteration from a fixed-iterations run (median of 3 runs)."""
    ts = []
    for _ in range(3):
        c = time.process_time()
        r = advgame.solve(game, method=method, max_iter=max_iter, **opts)
        ts.append((time.process_time() - c if CPU_TIME else r.time) / max(1, r.nit))
    return statistics.median(ts)


def to_targets(game, method, targets, **opts):
    """One run to the smallest target; the iteration (and time, pro rata) at which the
    certified gap first fell below each target, from ``info["gap_history"]``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = advgame.solve(game, method=method, tol=min(targets), **opts)
    gaps = np.asarray(r.info["gap_history"])
    out = {}
    for target in targets:
        hit = np.flatnonzero(gaps <= target)
        if hit.size:
            k = int(hit[0]) + 1
            out[target] = {"reached": True, "nit": k, "time": r.time * k / len(gaps), "gap": float(gaps[k - 1])}
        else:
            out[target] = {"reached": False, "nit": len(gaps), "time": r.time, "gap": float(gaps[-1])}
    return r, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--eps", type=float, nargs="+", default=[2.0, 3.0])
    p.add_argument("--oracle-steps", type=int, default=20000)
    p.add_argument("--entropic-steps", type=int, default=3000)
    p.add_argument("--json")
    p.add_argument("--quick", action="store_true",
                   help="only the per-iteration table, at the first eps (about 1 minute)")
    p.add_argument("--cpu-time", action="store_true",
                   help="per-iteration CPU (process) time, torch on one thread: comparable on a busy machine "
                        "(run with OMP_NUM_THREADS=1 for numpy's BLAS too)")
    args = p.parse_args()
    global CPU_TIME
    CPU_TIME = args.cpu_time
    out = {"eps": {}}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and args.cpu_time:
        torch.set_num_threads(1)
    for eps in args.eps[:1] if args.quick else args.eps:
        game = make_instance(eps, seed=0).game
        N, m, L = game.shape
        lam = np.full(L, 1.0 / L)
        floor = median_time(lambda: game.risk(lam))
        t = time.perf_counter()
        lp = advgame.solve(game)
        t_lp = time.perf_counter() - t
        R_star = lp.value
        print(f"\neps = {eps}: R* = {R_star:.6f} (LP {t_lp * 1e3:.1f} ms, gap {lp.gap:.1e}); best single "
              f"{game.best_classifier()[1]:.4f}; one risk evaluation {floor * 1e3:.2f} ms")
        rows = []
        targets = (1e-3, 1e-4)
        configs = [("oracle", dict(max_iter=args.oracle_steps), f"Alg. 1, T={args.oracle_steps}")]
        for a in (1e-3, 1e-4 / math.log(m)):
            configs.append(("entropic", dict(temperature=a, max_iter=args.entropic_steps), f"entropic a={a:.2g}"))
        for method, opts, label in [] if args.quick else configs:
            r, hits = to_targets(game, method, targets, **opts)
            for target in targets:
                h = hits[target]
                rows.append({"target": target, "method": label, "reached": h["reached"], "nit": h["nit"],
                             "time": h["time"], "gap": h["gap"], "final_excess": r.value - R_star})
        hdr = "" if args.quick else (f"{'target':>7} {'method':>22} {'reached':>7} {'iters':>6} {'time s':>7} {'gap':>8} "
               f"{'x LP time':>9}")
        if rows:
            print(hdr)
            print("-" * len(hdr))
        for r in rows:
            print(f"{r['target']:7.0e} {r['method']:>22} {str(r['reached']):>7} {r['nit']:6d} {r['time']:7.2f} "
                  f"{r['gap']:8.1e} {r['time'] / t_lp:9.0f}")

        it = {}
        it["oracle numpy"] = per_iteration(game, "oracle")
        it["entropic numpy"] = per_iteration(game, "entropic", temperature=1e-3)
        if torch is not None:
            for dt in (torch.float64, torch.float32):
                gt = game.to_torch(dtype=dt)
                name = str(dt).replace("torch.", "")
                lam_t = torch.full((L,), 1.0 / L, dtype=dt)
                it[f"risk torch {name}"] = median_time(lambda: gt.risk(lam_t))
                it[f"oracle torch {name}"] = per_iteration(gt, "oracle")
                it[f"entropic torch {name}"] = per_iteration(gt, "entropic", temperature=1e-3)
        print(f"{'per iteration':>24} {'ms':>7} {'x risk':>7} {'x numpy':>8}")
        for k, v in it.items():
            if k.startswith("risk"):
                continue
            method = k.split()[0]
            base = it[f"{method} numpy"]
            ref = floor if "numpy" in k else it["risk torch " + k.split()[-1]]
            print(f"{k:>24} {v * 1e3:7.2f} {v / ref:7.2f} {v / base:8.2f}")
        print("(x risk: against one risk evaluation of the same library and dtype)")
        out["eps"][str(eps)] = {"R_star": R_star, "lp_time": t_lp, "risk_time": floor, "to_target": rows,
                                "per_iteration": it}
    if torch is not None and torch.cuda.is_available():
        print("\nCUDA available: see benchmarks/README.md for the GPU protocol")
    else:
        print("\nno GPU on this machine: GPU timings not measured")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
