"""Per-iteration cost of the entropic solver against one risk evaluation (issue 13, item 4).

MNE21's synthetic instance (``advgame.experiments.mne21.make_instance(2.0, seed=0)``:
N = m = 1000, L = 10, 0/1 loss), temperature 1e-3, 40 FISTA iterations, median of 3
solves after one warm-up solve (which loads or compiles the numba kernel where the
version has one); one risk evaluation at the uniform weights, median of 7; numpy float64,
numpy float32, torch float64 and torch float32 (CPU).  To compare two versions in one alternated run, point
``PYTHONPATH`` at each version's ``src`` in turn::

    for k in 1 2; do for src in /path/old/src /path/new/src; do
        PYTHONPATH=$src OMP_NUM_THREADS=1 python benchmarks/bench_entropic_iteration.py --label $src
    done; done

``--threads 1`` (default) uses CPU (process) time, comparable on a busy machine;
``--threads 2`` uses wall time with two torch threads (run with ``OMP_NUM_THREADS=2``).
numba's threads are set to the same number (``NUMBA_NUM_THREADS``, unless already set).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

import _timing
import advgame
from advgame.experiments.mne21 import make_instance


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--label", default="")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-iter", type=int, default=40)
    p.add_argument("--numpy-only", action="store_true", help="skip the torch games")
    args = p.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))  # read when numba is first imported
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    game = make_instance(2.0, seed=0).game
    L = game.shape[2]
    games = [("numpy float64", game, np.full(L, 1.0 / L)),
             ("numpy float32", advgame.Game(np.moveaxis(game.view().losses, 0, 2).astype(np.float32)),
              np.full(L, 1.0 / L, dtype=np.float32))]
    for dt in () if args.numpy_only else (torch.float64, torch.float32):
        games.append((f"torch {str(dt)[6:]}", game.to_torch(dtype=dt), torch.full((L,), 1.0 / L, dtype=dt)))
    for tag, g, lam in games:
        its = []
        advgame.solve(g, method="entropic", temperature=1e-3, max_iter=2)  # warm-up: kernel load
        for _ in range(3):
            c = clock()
            r = advgame.solve(g, method="entropic", temperature=1e-3, max_iter=args.max_iter)
            its.append((clock() - c) / r.nit)
        risk = _timing.median_time(lambda: g.risk(lam), repeat=7, warmup=1,
                                   clock="cpu" if args.threads == 1 else "wall")
        it = statistics.median(its)
        print(f"{args.label:>8} {tag:>14}: iteration {it * 1e3:6.2f} ms, risk {risk * 1e3:5.2f} ms, "
              f"ratio {it / risk:5.2f}; value {r.value:.9f}, gap {r.gap:.3e}, nit {r.nit}")


if __name__ == "__main__":
    main()
