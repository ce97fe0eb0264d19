"""Per-iteration cost of the entropic solver against one risk evaluation (issue 13, item 4).

MNE21's synthetic instance (``advgame.experiments.mne21.make_instance(2.0, seed=0)``:
N = m = 1000, L = 10, 0/1 loss), temperature 1e-3, 40 FISTA iterations; a solve and one
risk evaluation at the uniform weights timed round-robin ``--repeat`` times (7) after one
warm-up call each (which loads or compiles the numba kernel where the version has one),
medians; numpy float64, numpy float32, torch float64 and torch float32 (CPU).  To compare two versions in one alternated run, point
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
    p.add_argument("--repeat", type=int, default=7, help="solves (and risk evaluations) timed, round-robin")
    p.add_argument("--pass", dest="one_pass", action="store_true",
                   help="also time one compiled pass (two points, both gradients) against the risk "
                        "evaluation, and count the passes per iteration (versions with the kernel)")
    args = p.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))  # read when numba is first imported
    torch.set_num_threads(args.threads)
    game = make_instance(2.0, seed=0).game
    L = game.shape[2]
    games = [("numpy float64", game, np.full(L, 1.0 / L)),
             ("numpy float32", advgame.Game(np.moveaxis(game.view().losses, 0, 2).astype(np.float32)),
              np.full(L, 1.0 / L, dtype=np.float32))]
    for dt in () if args.numpy_only else (torch.float64, torch.float32):
        games.append((f"torch {str(dt)[6:]}", game.to_torch(dtype=dt), torch.full((L,), 1.0 / L, dtype=dt)))
    for tag, g, lam in games:
        out = {}

        def solve():
            out["r"] = advgame.solve(g, method="entropic", temperature=1e-3, max_iter=args.max_iter)

        # round-robin: a solve, then a risk evaluation, args.repeat times (after a warm-up
        # call of each, which loads or compiles the numba kernel), medians
        t_solve, risk = _timing.median_times([solve, lambda: g.risk(lam)], repeat=args.repeat, warmup=1,
                                             clock="cpu" if args.threads == 1 else "wall")
        r = out["r"]
        it = t_solve / r.nit
        print(f"{args.label:>8} {tag:>14}: iteration {it * 1e3:6.2f} ms, risk {risk * 1e3:5.2f} ms, "
              f"ratio {it / risk:5.2f}; value {r.value:.9f}, gap {r.gap:.3e}, nit {r.nit}")
        if args.one_pass and tag.startswith("numpy"):
            one_pass(args, tag, g, lam)


def one_pass(args, tag, g, lam):
    """One compiled speculative pass against one risk evaluation, and passes per iteration."""
    from advgame import _jit
    from advgame.solvers import entropic
    from advgame.solvers.driver import SampleSum

    kern = _jit.entropic_kernels(g.view().losses.size)
    if kern is None:
        print(f"{args.label:>8} {tag:>14}: no compiled kernel in this version / setting")
        return
    view = g.view()
    spec = entropic._Speculative(entropic._Entropic(view, 1e-3, SampleSum(view, False)), kern)
    other = np.random.default_rng(0).dirichlet(np.ones(lam.shape[0])).astype(lam.dtype)
    t_pass, t_y, risk = _timing.median_times([lambda: spec.pass_([lam, other], [True, True]),
                                              lambda: spec.pass_([lam, other], [False, True]), lambda: g.risk(lam)],
                                             repeat=args.repeat, warmup=1,
                                             clock="cpu" if args.threads == 1 else "wall")
    calls = [0]
    orig = entropic._Speculative.pass_

    def counted(self, points, grads):
        calls[0] += 1
        return orig(self, points, grads)

    entropic._Speculative.pass_ = counted
    try:
        r = advgame.solve(g, method="entropic", temperature=1e-3, max_iter=args.max_iter)
    finally:
        entropic._Speculative.pass_ = orig
    print(f"{args.label:>8} {tag:>14}: one pass {t_pass * 1e3:6.2f} ms, risk {risk * 1e3:5.2f} ms, "
          f"ratio {t_pass / risk:5.2f}; {calls[0] / r.nit:.3f} passes per iteration; without the "
          f"gradient at x_k+1 {t_y * 1e3:6.2f} ms")

if __name__ == "__main__":
    main()
