"""Breakdown of a warm 0/1 solve (issue 21): alternated medians (9 rounds) of each stage,
as multiples of the bandwidth-limited read of the same run.

Run: ``python benchmarks/bench_scale_breakdown.py 10000`` (N; MNE21-like 0/1 data of
``bench_scale.py``).
"""
import os
import sys

import numpy as np

from bench_scale import build_losses, read_pass_fn
import advgame, _timing
from advgame.solvers.lp.pruning import scan_binary, merge_samples
n = int(sys.argv[1])
game = advgame.Game(np.moveaxis(build_losses(n, '01'), 0, 2), bound=1.0)
v = game.view(); lam = np.full(10, .1)
F = np.asarray(v.losses)
read, _ = read_pass_fn(F)
advgame.solve(game)
ui, uc, uj = scan_binary(v)
act = np.ones(n, bool)
fns = [lambda: game.risk(lam), read, lambda: scan_binary(v), lambda: v.risk_and_best_response_float64(lam),
       lambda: merge_samples(ui, uc, n, act), lambda: advgame.solve(game)]
names = ["pass", "read", "fused scan", "float64 certificate pass", "merge", "solve"]
t = _timing.median_times(fns, repeat=9, warmup=1)
for nm, x in zip(names, t):
    print(f"N={n} {nm:>26}: {x*1e3:7.1f} ms  {x/t[1]:5.2f} x read")
print("load", os.getloadavg()[0])
