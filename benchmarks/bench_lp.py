"""Exact LP benchmark (foundation issue): advgame's LP against the full epigraph LP.

On MNE21's synthetic instance (Sec. 5.1: N=1000 Gaussian points, L=10 random linear
classifiers with clean risk < 0.4, m=1000 attacks uniform in the L2 ball, the clean
point first), for eps in {0.5, 1, 2, 3}, in one run:

* ``floor``: one ``game.risk`` evaluation (one pass over the tensor), median of 7;
* ``advgame``: ``advgame.solve(game)`` on a freshly built game (0/1 detection, pruning,
  merging, HiGHS), median of 3;
* ``scipy``: ``scipy.optimize.linprog(method="highs")`` on the full epigraph LP (all
  N*m rows), in a subprocess whose peak memory is recorded;
* ``cvxpy``: the same full LP through cvxpy + HiGHS, in a subprocess;

then a real-valued loss (sigmoid(-y f(x)/0.25), constraint generation) against the full
LP, and a larger instance (N=10^4, m=10^3) where the full LP is not attempted (its
memory is extrapolated from the N=1000 run).  Then the ``strategy="auto"`` trap of issue 9
(random 0/1 losses, N=20000, m=2, L=30: pruning keeps almost every row, so ``auto`` must
choose constraint generation): ``auto`` against ``cg`` (and, without ``--quick``, the
forced ``prune``).  Prints tables; ``--json FILE`` writes the numbers.

Run: ``python benchmarks/bench_lp.py`` (about 5 minutes on 2 cores);
``--quick`` skips the baselines' cvxpy runs and the large instance.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

import _timing
import advgame
from advgame.synthetic import make_instance


def median_time(fn, repeat):
    """``(median seconds, last return value)`` through the benchmarks' timing helper."""
    box = []
    t = _timing.median_time(lambda: box.append(fn()), repeat=repeat, warmup=0)
    return t, box[-1]


def instance(eps, loss, n=1000, m=1000, seed=0):
    return make_instance(eps, n_samples=n, n_attacks=m, loss=loss, seed=seed)


# ------------------------------------------------------------------ baselines (subprocess)
def full_lp_arrays(game):
    """The full epigraph LP: variables [lambda (L), t (N)], one row per (sample, attack)."""
    import scipy.sparse as sp

    N, m, L = game.shape
    rows = np.asarray(game.losses, dtype=np.float64).reshape(N * m, L)
    S = sp.csr_matrix((-np.ones(N * m), (np.arange(N * m), np.repeat(np.arange(N), m))), shape=(N * m, N))
    A_ub = sp.hstack([sp.csr_matrix(rows), S], format="csr")
    c = np.r_[np.zeros(L), np.asarray(game.sample_weights, dtype=np.float64)]
    A_eq = np.r_[np.ones(L), np.zeros(N)][None]
    return rows, A_ub, c, A_eq


def baseline(kind, eps, loss):
    from scipy.optimize import linprog

    game = instance(eps, loss).game
    N, m, L = game.shape
    rows, A_ub, c, A_eq = full_lp_arrays(game)
    if kind == "scipy":
        bounds = [(0, None)] * L + [(None, None)] * N
        t = time.perf_counter()
        res = linprog(c, A_ub=A_ub, b_ub=np.zeros(N * m), A_eq=A_eq, b_eq=[1.0], bounds=bounds, method="highs")
        dt = time.perf_counter() - t
        value = float(res.fun)
    else:
        import cvxpy as cp
        import scipy.sparse as sp

        lam = cp.Variable(L, nonneg=True)
        tv = cp.Variable(N)
        S = sp.csr_matrix((np.ones(N * m), (np.arange(N * m), np.repeat(np.arange(N), m))), shape=(N * m, N))
        prob = cp.Problem(cp.Minimize(np.asarray(game.sample_weights) @ tv),
                          [rows @ lam - S @ tv <= 0, cp.sum(lam) == 1])
        t = time.perf_counter()
        prob.solve(solver="HIGHS")
        dt = time.perf_counter() - t
        value = float(prob.value)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB on Linux
    print(json.dumps({"time": dt, "value": value, "peak_mb": rss}))


def run_baseline(kind, eps, loss, timeout):
    cmd = [sys.executable, __file__, "--baseline", kind, "--eps", str(eps), "--loss", loss]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"time": float("nan"), "value": float("nan"), "peak_mb": float("nan"), "note": f"> {timeout} s"}
    except subprocess.CalledProcessError as e:
        return {"time": float("nan"), "value": float("nan"), "peak_mb": float("nan"),
                "note": "failed: " + e.stderr.strip().splitlines()[-1][:80]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ main
def bench_one(eps, loss, with_cvxpy, timeout, n=1000, m=1000, baselines=True):
    inst = instance(eps, loss, n=n, m=m)
    raw = np.asarray(inst.game.losses)
    lam_u = np.full(inst.game.n_classifiers, 0.1)
    floor, _ = median_time(lambda: inst.game.risk(lam_u), 7)
    build, _ = median_time(lambda: advgame.Game(raw), 3)

    def fresh_solve():
        g = advgame.Game(raw)
        t = time.perf_counter()
        r = advgame.solve(g)
        return time.perf_counter() - t, r

    runs = [fresh_solve() for _ in range(3)]
    t_adv = statistics.median(t for t, _ in runs)
    res = runs[0][1]
    row = {"eps": eps, "loss": loss, "N": n, "m": m, "floor": floor, "build": build, "advgame": t_adv,
           "value": res.value, "gap": res.gap, "status": res.status, "rows": res.info.get("rows"),
           "rows_kept": res.info.get("rows_kept"), "samples_merged": res.info.get("samples_merged"),
           "rounds": res.nit, "best_single": inst.game.best_classifier()[1]}
    if baselines:
        sc = run_baseline("scipy", eps, loss, timeout)
        row.update(scipy=sc["time"], scipy_value=sc["value"], scipy_mb=sc["peak_mb"])
        if with_cvxpy:
            cv = run_baseline("cvxpy", eps, loss, timeout)
            row.update(cvxpy=cv["time"], cvxpy_value=cv["value"], cvxpy_mb=cv["peak_mb"])
    return row


def bench_auto_choice(quick, repeat=3):
    """Random 0/1 game where pruning removes almost nothing: auto vs cg (vs prune)."""
    rng = np.random.default_rng(0)
    raw = (rng.random((20_000, 2, 30)) < 0.5).astype(np.float64)
    out = []
    for strategy in ("auto", "cg") if quick else ("auto", "cg", "prune"):
        def run():
            g = advgame.Game(raw)
            t = time.perf_counter()
            r = advgame.solve(g, strategy=strategy)
            return time.perf_counter() - t, r

        runs = [run() for _ in range(repeat if strategy != "prune" else 1)]
        res = runs[0][1]
        out.append({"case": "random01 N=20000 m=2 L=30", "strategy": strategy,
                    "time": statistics.median(t for t, _ in runs), "chosen": res.info.get("strategy"),
                    "value": res.value, "gap": res.gap, "status": res.status, "rows": res.info.get("rows"),
                    "rows_kept": res.info.get("rows_kept"), "rows_total": res.info.get("rows_total")})
    return out


def fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--baseline", choices=["scipy", "cvxpy"])
    p.add_argument("--eps", type=float)
    p.add_argument("--loss", default="01")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--json")
    args = p.parse_args()
    if args.baseline:
        baseline(args.baseline, args.eps, args.loss)
        return
    print(f"advgame {advgame.__version__}, numpy {np.__version__}, {os.cpu_count()} cores")
    rows = []
    for eps in (0.5, 1.0, 2.0, 3.0):
        rows.append(bench_one(eps, "01", not args.quick, args.timeout))
        print(f"  done eps={eps} (0/1)", file=sys.stderr)
    rows.append(bench_one(2.0, "sigmoid", not args.quick, args.timeout))
    if not args.quick:
        for loss in ("01", "sigmoid"):
            rows.append(bench_one(2.0, loss, False, args.timeout, n=10_000, baselines=False))
    auto_rows = bench_auto_choice(args.quick)
    print("  done random 0/1 auto-choice case", file=sys.stderr)
    # extrapolated memory of the full LP at N=10^4 (10x the rows of N=1000)
    mb_1000 = [r["scipy_mb"] for r in rows if r["N"] == 1000 and r["loss"] == "01" and "scipy_mb" in r]

    hdr = (f"{'loss':>7} {'N':>6} {'eps':>4} {'floor ms':>8} {'build ms':>8} {'advgame ms':>10} {'x floor':>7} "
           f"{'scipy s':>7} {'x faster':>8} {'cvxpy s':>7} {'x faster':>8} {'|dv| scipy':>10} {'|dv| cvxpy':>10} "
           f"{'gap':>8} {'rows':>6} {'rounds':>6} {'R det':>6} {'R mix':>6}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        sc, cv = r.get("scipy"), r.get("cvxpy")
        print(f"{r['loss']:>7} {r['N']:>6} {r['eps']:>4} {r['floor'] * 1e3:8.2f} {r['build'] * 1e3:8.1f} "
              f"{r['advgame'] * 1e3:10.1f} {r['advgame'] / r['floor']:7.1f} {fmt(sc, '7.2f')} "
              f"{fmt(None if sc is None else sc / r['advgame'], '8.0f')} {fmt(cv, '7.2f')} "
              f"{fmt(None if cv is None else cv / r['advgame'], '8.0f')} "
              f"{fmt(None if sc is None else abs(r['value'] - r['scipy_value']), '10.1e')} "
              f"{fmt(None if cv is None else abs(r['value'] - r['cvxpy_value']), '10.1e')} "
              f"{r['gap']:8.1e} {fmt(r['rows'], '6d')} {r['rounds']:>6} {r['best_single']:6.3f} {r['value']:6.3f}")
    if mb_1000:
        print(f"full LP peak memory at N=1000: {max(mb_1000):.0f} MB (scipy); N=10^4 has 10x the rows "
              f"(about {10 * max(mb_1000) / 1024:.0f} GB extrapolated): not attempted on this 24 GB machine")
    print()
    print(f"{'case':>26} {'strategy':>8} {'chosen':>6} {'time s':>7} {'rows kept':>9} {'LP rows':>7} {'value':>8} {'gap':>8}")
    for r in auto_rows:
        print(f"{r['case']:>26} {r['strategy']:>8} {r['chosen']:>6} {r['time']:7.2f} {fmt(r['rows_kept'], '9d')} "
              f"{fmt(r['rows'], '7d')} {r['value']:8.5f} {r['gap']:8.1e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows + auto_rows, f, indent=1)


if __name__ == "__main__":
    main()
