"""The exact solver at scale (issue 13): one pass, ``solve`` and memory, N = 10^3 .. 10^5.

MNE21-like data (Sec. 5.1): Gaussian points (:func:`advgame.experiments.mne21_data.make_gaussians`),
L = 10 random linear classifiers with clean risk < 0.4, m = 1000 attacks uniform in the
L2 ball of radius eps = 2 (the clean point first), the loss either 0/1 or
sigmoid(-margin / 0.25).  The float32 tensor is built in chunks of samples directly in
the game's ``(L, N, m)`` storage order (4 GB at N = 10^5), so building it never holds a
float64 copy.

Each case runs in a fresh subprocess (one at a time: never two 4 GB games at once) and
reports

* ``pass``: one ``game.risk(weights)`` (one multi-threaded float32 matrix-vector product
  over the tensor); ``read``: the bandwidth-limited pass, a 2-thread numba read (sum) of
  the stored tensor (numpy's ``sum`` without numba); both measured alternated with the
  warm solves (5 rounds for N <= 10^4, 3 above; medians), so ``warm x read`` is a ratio
  within one run; ``load`` is the 1-minute load average when the case ended;
* the first line: ``import advgame`` plus a first 0/1 solve in a fresh process, with the
  compiled kernels compiled (empty ``NUMBA_CACHE_DIR``) and then loaded from that cache;
* ``fresh``: ``advgame.solve(game, method="lp")`` on a game that has never been solved
  (0/1 detection included); ``warm``: a further call on the same game (medians of 3 for
  N <= 10^4, one call at N = 10^5; the peak memory is the first fresh call's);
* ``x pass``: ``fresh / pass`` and ``warm / pass``;
* ``rss``: the process's resident memory with the game stored; ``solve +``: the peak
  resident memory during the fresh ``solve`` above that (``VmHWM`` reset through
  ``/proc/self/clear_refs`` before the call), and that as a fraction of the tensor;
* ``highs full``: HiGHS on the full epigraph LP (``strategy="full"``, every row), N =
  10^3 only and not with ``--quick``.

Run: ``python benchmarks/bench_scale.py`` (N = 10^3, 10^4, 10^5; several minutes and
about 9 GB at N = 10^5) or ``--quick`` (N = 10^3 and 10^4, no full LP: under two
minutes).  ``--json FILE`` writes the rows; ``--case N LOSS`` runs one case in this
process (what the driver runs in each subprocess).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import _timing

EPS, M, L, TEMPERATURE, SEED = 2.0, 1000, 10, 0.25, 0


def build_losses(n, loss, seed=SEED, chunk=2000):
    """``(L, N, m)`` float32 losses of the MNE21-like instance, built in chunks of samples."""
    from advgame.experiments.mne21_data import make_gaussians, random_linear_classifiers, sample_attacks

    rng = np.random.default_rng(seed)
    X, y = make_gaussians(n, rng)
    clfs = random_linear_classifiers(X, y, L, 0.4, rng)
    W = np.stack([c.w for c in clfs])  # (L, d)
    b = np.array([c.b for c in clfs])
    out = np.empty((L, n, M), dtype=np.float32)
    for a in range(0, n, chunk):
        z = min(n, a + chunk)
        att = sample_attacks(X[a:z], EPS, M, 2, rng)  # (c, m, d)
        margin = (np.einsum("cmd,ld->lcm", att, W) + b[:, None, None]) * y[a:z][None, :, None]
        if loss == "01":
            out[:, a:z] = margin <= 0  # a score of exactly 0 predicts -1
        else:
            out[:, a:z] = 1.0 / (1.0 + np.exp(margin / TEMPERATURE))
    return out


def _status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def read_pass_fn(F):
    """The bandwidth-limited pass over the stored tensor ``F`` measured in the same run: a
    2-thread numba read (sum) when numba is installed, else numpy's ``F.sum()``; returns
    ``(fn, name)``."""
    try:
        from numba import njit, prange
    except ImportError:
        return (lambda: F.sum()), "numpy sum"

    @njit(parallel=True, fastmath=True, cache=False)
    def _read(x):  # each sample's L rows of m losses summed: a vectorized, 2-thread read
        L, N, m = x.shape
        part = np.zeros(N)
        for i in prange(N):
            acc = x.dtype.type(0)
            for k in range(L):
                row = x[k, i]
                for j in range(m):
                    acc += row[j]
            part[i] = acc
        return part.sum()

    _read(F)
    return (lambda: _read(F)), "numba read"


def startup_times():
    """``(first call, cached start-up)`` seconds: ``import advgame`` plus a first 0/1 solve
    (the compiled kernels: compiled, then loaded from the cache) in two fresh processes
    sharing an empty ``NUMBA_CACHE_DIR``; None without numba."""
    import tempfile

    try:
        import numba  # noqa: F401
    except ImportError:
        return None
    code = ("import time; t = time.perf_counter(); import numpy as np, advgame;"
            "g = advgame.Game((np.random.default_rng(0).random((50, 20, 10)) < .5) * 1.0);"
            "advgame.solve(g); print(time.perf_counter() - t)")
    out = []
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            out.append(float(r.stdout.split()[-1]))
    return tuple(out)


def run_case(n, loss, full_lp):
    import advgame

    F = build_losses(n, loss)
    # an (N, m, L) view of the (L, N, m) array: the game copies it once into its storage
    game = advgame.Game(np.moveaxis(F, 0, 2), bound=1.0)
    repeat = 3 if n <= 10_000 else 1  # fresh games are copies of F: only where they are cheap
    if repeat == 1:
        del F
    tensor_mb = n * M * L * 4 / 2**20
    rss = _status_kb("VmRSS") / 1024
    lam = np.full(L, 1.0 / L)
    advgame.solve(advgame.examples.random_game(seed=0))  # imports (HiGHS) outside the timings
    one_pass = _timing.median_time(lambda: game.risk(lam), repeat=5, warmup=1)
    _reset_peak()
    base = _status_kb("VmRSS") / 1024
    t = time.perf_counter()
    r = advgame.solve(game, method="lp")
    fresh = time.perf_counter() - t
    peak = _status_kb("VmHWM") / 1024 - base
    fresh_times = [fresh]
    for _ in range(repeat - 1):
        g2 = advgame.Game(np.moveaxis(F, 0, 2), bound=1.0)
        t = time.perf_counter()
        advgame.solve(g2, method="lp")
        fresh_times.append(time.perf_counter() - t)
        del g2
    fresh = statistics.median(fresh_times)  # single shots: each on a game built outside the timing
    box = []
    stored = np.asarray(game.view().to_numpy().losses)
    read, read_name = read_pass_fn(stored)
    # alternated: one pass, one bandwidth-limited read, one warm solve per round; medians
    rounds = 5 if n <= 10_000 else 3
    one_pass, read_s, warm = _timing.median_times(
        [lambda: game.risk(lam), read, lambda: box.append(advgame.solve(game, method="lp"))], repeat=rounds, warmup=0)
    r2 = box[-1]
    row = dict(N=n, loss=loss, pass_ms=one_pass * 1e3, fresh_s=fresh, warm_s=warm, fresh_x=fresh / one_pass,
               warm_x=warm / one_pass, read_ms=read_s * 1e3, read=read_name, fresh_x_read=fresh / read_s,
               warm_x_read=warm / read_s, load=os.getloadavg()[0],
               rss_mb=rss, solve_peak_mb=peak, tensor_mb=tensor_mb,
               solve_peak_frac=peak / tensor_mb, status=r.status, gap=r.gap, value=r.value,
               strategy=r.info.get("strategy"), rows=r.info.get("rows"), nit=r.nit, warm_gap=r2.gap)
    if full_lp:
        t = time.perf_counter()
        rf = advgame.solve(game, method="lp", strategy="full")
        row.update(highs_full_s=time.perf_counter() - t, highs_full_value=rf.value)
    return row


def fmt(rows):
    head = ("| game | N | one pass | read | solve fresh | solve warm | fresh x pass | warm x pass | warm x read | "
            "process RSS | solve peak above game | HiGHS full LP | status, gap | rounds | load |")
    lines = [head, "| --- " * 15 + "|"]
    for r in rows:
        full = f"{r['highs_full_s']:.1f} s" if "highs_full_s" in r else ""
        lines.append(
            f"| {'0/1' if r['loss'] == '01' else 'sigmoid'} | {r['N']:.0e} | {r['pass_ms']:.1f} ms | "
            f"{r['read_ms']:.1f} ms | {r['fresh_s']:.3f} s | {r['warm_s']:.3f} s | {r['fresh_x']:.1f} | "
            f"{r['warm_x']:.1f} | {r['warm_x_read']:.1f} | "
            f"{r['rss_mb']:.0f} MB | {r['solve_peak_mb']:.0f} MB ({100 * r['solve_peak_frac']:.0f} %) | {full} | "
            f"{r['status']}, {r['gap']:.1e} | {r['nit']} | {r['load']:.1f} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="N = 10^3 and 10^4 only, no full LP")
    p.add_argument("--no-full-lp", action="store_true", help="skip HiGHS on the full LP")
    p.add_argument("--sizes", type=int, nargs="*", help="sample sizes (default 1000 10000 [100000])")
    p.add_argument("--losses", nargs="*", default=["01", "sigmoid"], choices=["01", "sigmoid"])
    p.add_argument("--json", help="write the rows to this file")
    p.add_argument("--case", nargs=2, metavar=("N", "LOSS"), help=argparse.SUPPRESS)
    p.add_argument("--full-lp", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.case:
        print(json.dumps(run_case(int(a.case[0]), a.case[1], a.full_lp)))
        return
    sizes = a.sizes or ([1000, 10000] if a.quick else [1000, 10000, 100000])
    st = startup_times()
    if st is not None:
        print(f"import advgame + first 0/1 solve: {st[0]:.2f} s compiling the kernels, {st[1]:.2f} s from the cache "
              f"(ADVGAME_JIT={os.environ.get('ADVGAME_JIT', '1')})", flush=True)
    rows = []
    for loss in a.losses:
        for n in sizes:
            cmd = [sys.executable, __file__, "--case", str(n), loss]
            if n <= 1000 and not (a.quick or a.no_full_lp):
                cmd.append("--full-lp")
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
            if out.returncode != 0:
                print(f"N={n} {loss}: failed\n{out.stderr}", file=sys.stderr)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(fmt(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(fmt(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"startup_s": st, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
