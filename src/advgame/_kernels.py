r"""Compiled (numba) kernels: fused single passes over the stored ``(L, N, m)`` tensor.

Imported only through :func:`advgame._jit.kernels` (this module imports numba).  Each
kernel has a pure-numpy counterpart giving the same results (tests/test_jit_paths.py):

* :func:`scan01` replaces ``binary_rows`` + ``prune_codes`` of
  :mod:`advgame.solvers.lp.pruning`: per sample, in parallel, the bit code of every valid
  attack (with the "not 0/1" test in the same sweep), the sample's distinct codes (a
  :math:`2^L` stamp table for :math:`L \le 16`, a stable sort above; the first attack
  carrying each code), and the undominated ones (codes visited by decreasing popcount, each
  tested against the codes kept so far: a strict superset has more bits), sorted by code.
* :func:`risk_br64` is the float64 certificate pass: each sample's scores
  :math:`\sum_k \lambda_k \ell_{ijk}` accumulated in float64 (converted on the fly, fused
  multiply-adds), their max and first argmax in the same sweep.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._jit import compile_kernel

__all__ = ["scan01", "compact01", "risk_br64", "TABLE_BITS", "CHUNK"]

#: Distinct codes are found with a 2^L stamp table up to this many classifiers.
TABLE_BITS = 16
#: Samples per parallel task.
CHUNK = 16


@njit(inline="always")
def _popcount(x):
    x = x - ((x >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (x * 0x0101010101010101) >> 56


def _scan01(F, samples, hi, mask, has_mask, cap, out_codes, out_att, out_cnt, one):
    """Samples ``samples[t]`` into row ``t`` of the outputs; ``out_cnt[t] = -1`` when the
    sample keeps more codes than ``out_codes`` has columns (the caller re-runs those with
    room for all).  One parallel region for all samples (a region per block of samples
    costs a thread wake-up and join each, dear on a shared machine).  True when some valid
    loss is neither 0 nor ``hi`` (every task then stops at its next sample)."""
    L, _, m = F.shape
    n = samples.size
    width = out_codes.shape[1]
    small = L <= TABLE_BITS
    tsize = (1 << L) if small else 1
    nchunks = (n + CHUNK - 1) // CHUNK
    stop = np.zeros(1, dtype=np.bool_)
    for c in prange(nchunks):
        codes = np.zeros(m, dtype=one.dtype)  # int32 up to 31 classifiers: half the traffic
        stamp = np.full(tsize, -1, dtype=np.int64)
        dcodes = np.empty(cap + 1, dtype=np.int64)  # +1: the branch-free writes
        datt = np.empty(cap + 1, dtype=np.int64)
        cnt = np.empty(cap, dtype=np.int64)
        kcodes = np.empty(cap, dtype=np.int64)
        katt = np.empty(cap, dtype=np.int64)
        order = np.empty(cap, dtype=np.int64)
        head = np.empty(L + 2, dtype=np.int64)
        valid = np.empty(m, dtype=np.int64)
        for t in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if stop[0]:
                break
            i = samples[t]
            for j in range(m):
                codes[j] = 0
            nbad = False
            for k in range(L):  # branch-free: vectorized compares, shifts and ors
                row = F[k, i]
                for j in range(m):
                    v = row[j]
                    codes[j] |= (one[0] * (v != 0)) << k
                    nbad |= (v != 0) & (v != hi)
            if nbad:
                stop[0] = True
                break
            # the valid attacks, in order
            mv = 0
            if has_mask:
                for j in range(m):
                    if mask[i, j]:
                        valid[mv] = j
                        mv += 1
            # distinct codes, the first attack carrying each
            S = 0
            if small and not has_mask:  # branch-free: always write at S, advance when new
                for j in range(m):
                    cd = codes[j]
                    new = stamp[cd] != i
                    stamp[cd] = i
                    dcodes[S] = cd
                    datt[S] = j
                    S += new
            elif small:
                for q in range(mv):
                    j = valid[q]
                    cd = codes[j]
                    new = stamp[cd] != i
                    stamp[cd] = i
                    dcodes[S] = cd
                    datt[S] = j
                    S += new
            else:
                if not has_mask:
                    for j in range(m):
                        valid[j] = j
                    mv = m
                vc = np.empty(mv, dtype=np.int64)
                for q in range(mv):
                    vc[q] = codes[valid[q]]
                srt = np.argsort(vc, kind="mergesort")
                for q in range(mv):
                    cd = vc[srt[q]]
                    if S == 0 or dcodes[S - 1] != cd:
                        dcodes[S] = cd
                        datt[S] = valid[srt[q]]
                        S += 1
            # dominance among the sample's distinct codes (strict supersets): a strict superset
            # has more bits, so visiting codes by decreasing popcount, a code is dominated iff it
            # is a subset of a code kept before it (domination is transitive): S x kept tests
            for p in range(L + 2):
                head[p] = 0
            for s in range(S):  # counting sort by decreasing popcount (stable)
                cnt[s] = L - _popcount(dcodes[s])
                head[cnt[s] + 1] += 1
            for p in range(L + 1):
                head[p + 1] += head[p]
            for s in range(S):
                order[head[cnt[s]]] = s
                head[cnt[s]] += 1
            K = 0
            for q in range(S):
                s = order[q]
                cd = dcodes[s]
                dom = False
                for r in range(K):
                    if (cd & ~kcodes[r]) == 0:
                        dom = True
                        break
                if not dom:  # insert, keeping kcodes sorted by code (K is small)
                    r = K
                    while r > 0 and kcodes[r - 1] > cd:
                        kcodes[r] = kcodes[r - 1]
                        katt[r] = katt[r - 1]
                        r -= 1
                    kcodes[r] = cd
                    katt[r] = datt[s]
                    K += 1
            if K > width:
                out_cnt[t] = -1
                continue
            for s in range(K):
                out_codes[t, s] = kcodes[s]
                out_att[t, s] = katt[s]
            out_cnt[t] = K
    return stop[0]


def _compact01(out_codes, out_att, out_cnt, samples, ui, uc, uj, pos):
    """Append the rows of the samples with ``out_cnt >= 0`` (in order) at ``pos``."""
    for t in range(out_cnt.size):
        for s in range(out_cnt[t]):
            ui[pos] = samples[t]
            uc[pos] = out_codes[t, s]
            uj[pos] = out_att[t, s]
            pos += 1
    return pos


def _risk_br64(F, lam, neg, has_neg, mx, jstar, want_argmax):
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
            if want_argmax:
                jstar[i] = arg


scan01 = compile_kernel(_scan01, njit, parallel=True, nogil=True)
compact01 = compile_kernel(_compact01, njit, nogil=True)
risk_br64 = compile_kernel(_risk_br64, njit, parallel=True, nogil=True, fastmath={"contract"})
