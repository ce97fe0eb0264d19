r"""Compiled (numba) kernel of the multi-cut constraint generation (:mod:`advgame.solvers.lp.cuts`).

Imported only through :func:`advgame._jit.kernels` (``name="_kernels_cuts"``; this module
imports numba).  :func:`br_rows64` is one fused float64 pass over the stored ``(L, N, m)``
tensor giving, per sample, the score of its best response
:math:`\max_j \sum_k \lambda_k \ell_{ijk}`, the first argmax :math:`j_i`, and the loss row
:math:`\ell_{i j_i \cdot}` of that best response (read while the sample's losses are in
cache), which the group aggregates of the cuts are summed from.  Its pure-numpy counterpart,
:func:`advgame.solvers.lp.cuts.best_response_rows` with ``use_jit=False``, gives the same
argmax and rows (tests/test_lp_multicut.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._jit import compile_kernel

__all__ = ["br_rows64", "CHUNK"]

#: Samples per parallel task.
CHUNK = 16


def _br_rows64(F, lam, neg, has_neg, mx, jstar, brow):
    L, N, m = F.shape
    nchunks = (N + CHUNK - 1) // CHUNK
    for c in prange(nchunks):
        s = np.empty(m, dtype=np.float64)
        for i in range(c * CHUNK, min(N, (c + 1) * CHUNK)):
            row = F[0, i]
            l0 = lam[0]
            for j in range(m):
                s[j] = l0 * np.float64(row[j])
            for k in range(1, L):
                row = F[k, i]
                lk = lam[k]
                for j in range(m):
                    s[j] += lk * np.float64(row[j])
            if has_neg:
                for j in range(m):
                    s[j] += neg[i, j]
            best = s[0]
            arg = 0
            for j in range(1, m):
                if s[j] > best:
                    best = s[j]
                    arg = j
            mx[i] = best
            jstar[i] = arg
            for k in range(L):
                brow[i, k] = np.float64(F[k, i, arg])


br_rows64 = compile_kernel(_br_rows64, njit, parallel=True, nogil=True, fastmath={"contract"})
