"""Where one compiled entropic pass spends its time (issue 21, item 5).

A serial, staged copy of :func:`advgame._kernels_entropic._task` on MNE21's instance
(N = m = 1000, L = 10; two points, both gradients), stopped after each stage: forward
scores of both points; + maxima; + compaction of the kept shifted scores; + exponentials
and sums; + gathered backward products.  CPU-time minima of 15 runs each (one thread),
with a numpy ``sum`` of the tensor as the read::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python benchmarks/bench_entropic_pass_breakdown.py
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from advgame._kernels_entropic import (_compact, _DEGREE, _exp_inplace, _forward2_blocks, _gather_dot, _max,
                                       _sum64, constants)
from advgame.experiments.mne21 import make_instance


@njit(fastmath={"contract"})
def staged(F, l0, l1, C, ione, stage):
    L, N, m = F.shape
    s0, s1 = np.empty(m, F.dtype), np.empty(m, F.dtype)
    ib = np.empty(m, ione.dtype)
    fb = ib.view(F.dtype)
    idx, ev = np.empty(m + 1, np.int64), np.empty(m + 1, F.dtype)
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
            n = _compact(sv, mx, m, C[_DEGREE + 4], idx, ev)
            if stage == 2:
                continue
            _exp_inplace(ev, n, C, ib, fb, ione[0], ione[1])
            tot += _sum64(ev, n)
            if stage == 3:
                continue
            for k in range(L):
                tot += _gather_dot(ev, idx, n, F[k, i])
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
    names = ["forward (2 points)", "+ maxima", "+ compaction", "+ exp and sums", "+ backward"]
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
