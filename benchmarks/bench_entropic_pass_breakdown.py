"""Where one compiled entropic pass spends its time (issue 21, item 5).

A serial, staged copy of :func:`advgame._kernels_entropic._task` on MNE21's instance
(N = m = 1000, L = 10; two points, both gradients), stopped after each stage: forward
scores of both points; + maxima; + counts of kept terms; + exponentials and sums (dense,
zero for skipped terms, or of the compacted kept terms when under a 16th are kept); +
backward products (dense, both points' from one read of each loss row, or gathered).
CPU-time minima of 15 runs each (one thread), with a numpy ``sum`` of the tensor as the
read::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/bench_entropic_pass_breakdown.py
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from advgame._kernels_entropic import (_compact, _count_kept, _DEGREE, _dense_exp, _dot, _dot2, _exp_inplace,
                                       _forward2_blocks, _gather_dot, _max, _sum64, constants)
from advgame.experiments.mne21 import make_instance


@njit(fastmath={"contract"})
def staged(F, l0, l1, C, ione, stage):
    L, N, m = F.shape
    s0, s1 = np.empty(m, F.dtype), np.empty(m, F.dtype)
    ib = np.empty(m, ione.dtype)
    fb = ib.view(F.dtype)
    idx, ev = np.empty((2, m + 1), np.int64), np.empty((2, m + 1), F.dtype)
    kept = np.zeros(2, np.int64)
    skip = C[_DEGREE + 4]
    tot = 0.0
    for i in range(N):
        _forward2_blocks(F, i, l0, l1, s0, s1, m)
        if stage == 0:
            continue
        for v in range(2):
            sv = s0 if v == 0 else s1
            mx = _max(sv, m)
            if stage == 1:
                continue
            n = _count_kept(sv, mx, m, skip)
            if stage == 2:
                continue
            if 16 * n < m:
                n = _compact(sv, mx, m, skip, idx[v], ev[v])
                _exp_inplace(ev[v], n, C, ib, fb, ione[0], ione[1])
                tot += _sum64(ev[v], n)
                kept[v] = n
            else:
                _dense_exp(sv, mx, m, skip, ev[v], C, ib, fb, ione[0], ione[1])
                tot += _sum64(ev[v], m)
                kept[v] = -1
        if stage == 3:
            continue
        if kept[0] < 0 and kept[1] < 0:
            for k in range(L):
                d0, d1 = _dot2(ev[0], ev[1], F[k, i], m)
                tot += d0 + d1
        else:
            for v in range(2):
                for k in range(L):
                    tot += (_dot(ev[v], F[k, i], m) if kept[v] < 0
                            else _gather_dot(ev[v], idx[v], kept[v], F[k, i]))
    return tot


def cpu_min(f, *a, repeat=15):
    f(*a)
    ts = []
    for _ in range(repeat):
        t = time.process_time()
        f(*a)
        ts.append(time.process_time() - t)
    return min(ts)


def main():
    game = make_instance(2.0, seed=0).game
    names = ["forward (2 points)", "+ maxima", "+ kept counts", "+ exp and sums", "+ backward"]
    for dt in (np.float64, np.float32):
        F = np.ascontiguousarray(game.view().losses.astype(dt))
        C, ione = constants(dt)
        l0 = (np.full(F.shape[0], 0.1) / 1e-3).astype(dt)
        l1 = (np.random.default_rng(0).dirichlet(np.ones(F.shape[0])) / 1e-3).astype(dt)
        times = [cpu_min(staged, F, l0, l1, C, ione, st) for st in range(5)]
        read = cpu_min(np.sum, F)
        print(f"{np.dtype(dt).name}: read (numpy sum) {read * 1e3:.2f} ms; "
              + "; ".join(f"{n} {t * 1e3:.2f} ms" for n, t in zip(names, times)))


if __name__ == "__main__":
    main()
