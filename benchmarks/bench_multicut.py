"""K-group multi-cut constraint generation (issue 21, item 4): rounds and time against K.

The MNE21-like sigmoid instance of ``bench_scale.py`` (m = 1000, L = 10, eps = 2), one
``solve(game, method="lp", strategy="cuts")`` per configuration of
:func:`advgame.solvers.lp.cuts.solve_multicut` (number of groups ``K``, trust region on or
off, cut dropping), alternated with one ``game.risk`` pass (medians of ``--repeat``
rounds after one warm-up), with the time spent in HiGHS and in the fused best-response
passes of the same solves.

Run: ``python benchmarks/bench_multicut.py --n 10000 --groups 256 512 1024 2048``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np

import advgame
import bench_scale
from advgame.solvers.lp import cuts, driver


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--groups", type=int, nargs="*", default=[256, 1024])
    p.add_argument("--box", choices=["on", "off", "both"], default="on")
    p.add_argument("--drop-age", type=int, default=cuts.DROP_AGE, help="0: never drop cuts")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    F = bench_scale.build_losses(a.n, "sigmoid")
    game = advgame.Game(np.moveaxis(F, 0, 2), bound=1.0)
    del F
    lam = np.full(bench_scale.L, 1.0 / bench_scale.L)
    acc = {"highs": 0.0, "pass": 0.0}
    solve_master, br = cuts._MultiMaster.solve, cuts.best_response_rows

    def timed_solve(self):
        t = time.perf_counter()
        out = solve_master(self)
        acc["highs"] += time.perf_counter() - t
        return out

    def timed_br(*args, **kw):
        t = time.perf_counter()
        out = br(*args, **kw)
        acc["pass"] += time.perf_counter() - t
        return out

    cuts._MultiMaster.solve, cuts.best_response_rows = timed_solve, timed_br
    boxes = {"on": [True], "off": [False], "both": [True, False]}[a.box]
    configs = [dict(groups=K, use_box=b, drop_age=a.drop_age or None) for K in a.groups for b in boxes]
    print("| K | box | rounds | solve | one pass | solve x pass | HiGHS | passes in solve | cuts kept | gap |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for cfg in configs:
        driver.solve_multicut = functools.partial(cuts.solve_multicut, **cfg)
        advgame.solve(game, method="lp", strategy="cuts")  # warm-up (kernels loaded)
        rows = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            game.risk(lam)
            one = time.perf_counter() - t
            acc.update(highs=0.0, **{"pass": 0.0})
            t = time.perf_counter()
            r = advgame.solve(game, method="lp", strategy="cuts")
            rows.append((time.perf_counter() - t, one, acc["highs"], acc["pass"], r))
        s, one, hs, ps = (statistics.median(x[k] for x in rows) for k in range(4))
        r = rows[-1][4]
        kept = r.message.split(" cuts kept")[0].rsplit(" ", 1)[-1] if "cuts kept" in r.message else "-"
        print(f"| {cfg['groups']} | {'on' if cfg['use_box'] else 'off'} | {r.nit} | {s:.3f} s | {1e3 * one:.1f} ms | "
              f"{s / one:.1f} | {hs:.3f} s | {ps:.3f} s | {kept} | {r.gap:.1e} |", flush=True)


if __name__ == "__main__":
    main()
