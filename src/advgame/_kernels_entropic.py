r"""Compiled (numba) kernel of the entropic solver: one fused pass per FISTA iteration.

Imported only through :func:`advgame._jit.entropic_kernels` (this module imports numba).
:func:`lse_pass` reads each sample's ``L x m`` block of the stored ``(L, N, m)`` tensor once
and, while the block is in cache, for up to :data:`MAX_POINTS` points :math:`\lambda_v`
(already divided by the temperature):

* the scores :math:`s_{vj} = \sum_k \lambda_{vk}\,\ell_{ijk}` (plus the mask penalty),
* their maximum and the shifted exponentials :math:`e_{vj} = \exp(s_{vj} - \max_j s_{vj})`
  (a vectorized exponential, :func:`_exp_inplace`, of the whole row, or of the compacted
  kept terms when they are few; float32 uses a degree-7 polynomial; terms below
  :data:`SKIP` are skipped: they contribute less than :math:`e^{-45} < 3\cdot 10^{-20}` of
  the row's largest),
* their sum :math:`z_v` (so :math:`F_\alpha` and :math:`R` follow from ``max`` and ``z``),
* where asked, the backward product :math:`\sum_j e_{vj}\,\ell_{ij\cdot}\, w_i / z_v`
  accumulated per task of samples in float64 (the gradient of :math:`F_\alpha`).

The numpy path of :mod:`advgame.solvers.entropic` computes the same quantities block by
block with BLAS; tests/test_entropic_kernel.py checks both paths against each other.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._jit import compile_kernel

__all__ = ["lse_pass", "constants", "MAX_POINTS", "SKIP", "TASK_BYTES", "task_rows"]

#: Points evaluated in one pass at most.
MAX_POINTS = 2
#: Shifted scores below this are skipped (their exponential is < 3e-20).
SKIP = -45.0
#: Bytes of the tensor per parallel task (a few samples: each task owns a row of the
#: gradient accumulator).
TASK_BYTES = 1 << 19

# exp(r) on |r| <= log(2)/2 by its Taylor polynomial of degree 12 (error < 2.4e-16 relative)
_DEGREE = 12


def constants(dtype):
    """``(C, ione)`` for :func:`lse_pass` on a ``dtype`` tensor: ``C`` holds (in ``dtype``)
    ``1/q!`` for ``q = 0..12``, ``log2(e)``, the two parts of ``log(2)`` (the high part with
    trailing zero bits, so ``n * hi`` is exact) and :data:`SKIP`; ``ione`` (the integer type
    of the same width) the exponent bias and the mantissa width."""
    dtype = np.dtype(dtype)
    coef = [1.0 / math.factorial(q) for q in range(_DEGREE + 1)]
    if dtype == np.float64:
        hi, lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
        ione = np.array([1023, 52], dtype=np.int64)
    else:
        hi, lo = 0.693359375, -2.12194440e-4
        ione = np.array([127, 23], dtype=np.int32)
    C = np.array(coef + [1.0 / math.log(2.0), hi, lo, SKIP], dtype=dtype)
    return C, ione


def task_rows(F):
    """Samples per parallel task for the ``(L, N, m)`` tensor ``F``: about
    :data:`TASK_BYTES` of it, at least one sample."""
    L, N, m = F.shape
    return max(1, min(N, TASK_BYTES // max(1, L * m * F.itemsize)))


@njit(inline="always")
def _max(x, m):
    """max of ``x[:m]`` (eight running maxima, in registers)."""
    b0 = x[0]
    b1 = b0
    b2 = b0
    b3 = b0
    b4 = b0
    b5 = b0
    b6 = b0
    b7 = b0
    m0 = m - m % 8
    for j in range(0, m0, 8):
        b0 = max(b0, x[j])
        b1 = max(b1, x[j + 1])
        b2 = max(b2, x[j + 2])
        b3 = max(b3, x[j + 3])
        b4 = max(b4, x[j + 4])
        b5 = max(b5, x[j + 5])
        b6 = max(b6, x[j + 6])
        b7 = max(b7, x[j + 7])
    for j in range(m0, m):
        b0 = max(b0, x[j])
    return max(max(max(b0, b1), max(b2, b3)), max(max(b4, b5), max(b6, b7)))


# The reductions are separate functions compiled with ``reassoc`` (the sum may be taken in
# any order: vector lanes, several accumulators), which the rest of the kernel is not (its
# exponential relies on the order of its operations).
@njit(fastmath={"reassoc", "contract", "nsz"})
def _sum64(x, m):
    """sum of ``x[:m]``, in float64."""
    t = 0.0
    for j in range(m):
        t += np.float64(x[j])
    return t


@njit(fastmath={"reassoc", "contract", "nsz"})
def _dot(x, y, m):
    """sum of ``x[:m] * y[:m]`` in the arrays' dtype."""
    t = x[0] - x[0]
    for j in range(m):
        t += x[j] * y[j]
    return t


@njit(inline="always")
def _compact(s, mx, m, skip, idx, ev):
    """The shifted scores ``s[j] - mx`` at or above ``skip`` into ``ev[:n]``, their
    positions into ``idx[:n]`` (in order); returns ``n``.  Branch-free (both arrays hold
    ``m + 1`` entries: every entry is written, kept ones advance the count)."""
    n = 0
    for j in range(m):
        t = s[j] - mx
        idx[n] = j
        ev[n] = t
        n += t >= skip
    return n


@njit(inline="always")
def _exp_inplace(x, n, C, ib, fb, bias, mbits):
    """In place ``x[:n] <- exp(x[:n])`` for ``SKIP <= x <= 0``, vectorizable:
    ``q = round(x / log 2)``, ``r = x - q log 2`` (two-part constant), the degree-12
    polynomial in ``r`` times ``2^q`` built in the exponent bits (``ib`` / ``fb``: one
    integer buffer and its floating view)."""
    log2e, hi, lo = C[_DEGREE + 1], C[_DEGREE + 2], C[_DEGREE + 3]
    c0, c1, c2, c3, c4, c5, c6 = C[0], C[1], C[2], C[3], C[4], C[5], C[6]
    c7, c8, c9, c10, c11, c12 = C[7], C[8], C[9], C[10], C[11], C[12]
    half = C[1] - C[2]
    if x.itemsize == 4:
        # float32: degree 7 (relative error < 6e-9, under float32's rounding)
        for j in range(n):
            t = x[j]
            q = np.floor(t * log2e + half)
            r = (t - q * hi) - q * lo
            p = c7
            p = p * r + c6
            p = p * r + c5
            p = p * r + c4
            p = p * r + c3
            p = p * r + c2
            p = p * r + c1
            p = p * r + c0
            x[j] = p
            ib[j] = q
    else:
        for j in range(n):
            t = x[j]
            q = np.floor(t * log2e + half)
            r = (t - q * hi) - q * lo
            p = c12
            p = p * r + c11
            p = p * r + c10
            p = p * r + c9
            p = p * r + c8
            p = p * r + c7
            p = p * r + c6
            p = p * r + c5
            p = p * r + c4
            p = p * r + c3
            p = p * r + c2
            p = p * r + c1
            p = p * r + c0
            x[j] = p
            ib[j] = q
    for j in range(n):
        ib[j] = (ib[j] + bias) << mbits
    for j in range(n):
        x[j] *= fb[j]


@njit(inline="always")
def _count_kept(s, mx, m, skip):
    """Number of shifted scores ``s[j] - mx`` at or above ``skip`` (vectorizable)."""
    n = 0
    for j in range(m):
        n += (s[j] - mx) >= skip
    return n


@njit(inline="always")
def _dense_exp(s, mx, m, skip, e, C, ib, fb, bias, mbits):
    """``e[j] = exp(s[j] - mx)`` where ``s[j] - mx >= skip``, else 0, over all ``j < m``
    (branch-free: skipped terms are clamped to ``skip`` for :func:`_exp_inplace`, then
    zeroed)."""
    for j in range(m):
        t = s[j] - mx
        e[j] = t if t >= skip else skip
    _exp_inplace(e, m, C, ib, fb, bias, mbits)
    zero = e[0] - e[0]
    for j in range(m):
        t = s[j] - mx
        e[j] = e[j] if t >= skip else zero


@njit(fastmath={"reassoc", "contract", "nsz"})
def _dot2(x, y, row, m):
    """``(sum x[:m] * row[:m], sum y[:m] * row[:m])`` in the arrays' dtype (``row`` read once)."""
    t = x[0] - x[0]
    u = t
    for j in range(m):
        r = row[j]
        t += x[j] * r
        u += y[j] * r
    return t, u


@njit(fastmath={"reassoc", "contract", "nsz"})
def _gather_dot(ev, idx, n, row):
    """``sum_q ev[q] * row[idx[q]]`` over the kept terms."""
    t = ev[0] - ev[0]
    for q in range(n):
        t += ev[q] * row[idx[q]]
    return t


@njit(inline="always")
def _forward1(F, i, l0, s0, m):
    """``s0[j] = sum_k l0[k] F[k, i, j]``: eight scores held in registers over the
    classifiers (one store each, no read-modify-write of ``s0`` per classifier)."""
    L = F.shape[0]
    m0 = m - m % 8
    for j in range(0, m0, 8):
        a = l0[0]
        t0 = a * F[0, i, j]
        t1 = a * F[0, i, j + 1]
        t2 = a * F[0, i, j + 2]
        t3 = a * F[0, i, j + 3]
        t4 = a * F[0, i, j + 4]
        t5 = a * F[0, i, j + 5]
        t6 = a * F[0, i, j + 6]
        t7 = a * F[0, i, j + 7]
        for k in range(1, L):
            a = l0[k]
            t0 += a * F[k, i, j]
            t1 += a * F[k, i, j + 1]
            t2 += a * F[k, i, j + 2]
            t3 += a * F[k, i, j + 3]
            t4 += a * F[k, i, j + 4]
            t5 += a * F[k, i, j + 5]
            t6 += a * F[k, i, j + 6]
            t7 += a * F[k, i, j + 7]
        s0[j] = t0
        s0[j + 1] = t1
        s0[j + 2] = t2
        s0[j + 3] = t3
        s0[j + 4] = t4
        s0[j + 5] = t5
        s0[j + 6] = t6
        s0[j + 7] = t7
    for j in range(m0, m):
        t = l0[0] * F[0, i, j]
        for k in range(1, L):
            t += l0[k] * F[k, i, j]
        s0[j] = t


@njit(inline="always")
def _forward2_blocks(F, i, l0, l1, s0, s1, m):
    """:func:`_forward1` for two points, by blocks of 64 attacks: each loss read once, the
    block's 2 x 64 scores updated in place per classifier (vectorized; measured faster here
    than 8 register accumulators per point, which the compiler leaves scalar)."""
    L = F.shape[0]
    B = 64
    m0 = m - m % B
    for j0 in range(0, m0, B):
        a = l0[0]
        b = l1[0]
        for u in range(B):
            x = F[0, i, j0 + u]
            s0[j0 + u] = a * x
            s1[j0 + u] = b * x
        for k in range(1, L):
            a = l0[k]
            b = l1[k]
            for u in range(B):
                x = F[k, i, j0 + u]
                s0[j0 + u] += a * x
                s1[j0 + u] += b * x
    for j in range(m0, m):
        x = F[0, i, j]
        t = l0[0] * x
        v = l1[0] * x
        for k in range(1, L):
            x = F[k, i, j]
            t += l0[k] * x
            v += l1[k] * x
        s0[j] = t
        s1[j] = v


@njit(fastmath={"contract"}, nogil=True)
def _task(F, lams, neg, has_neg, w, want_grad, C, ione, i0, i1, mx_out, z_out, g):
    """Samples ``i0:i1`` of :func:`_lse_pass`, their backward products added to ``g`` (P, L)
    (a plain compiled function called from the parallel loop).

    Per sample and point: the scores (:func:`_forward1` / :func:`_forward2_blocks`), the max,
    the count of kept terms; when they are under a 16th of the attacks, the kept shifted
    scores compacted (:func:`_compact`), their exponentials, sum and gathered backward
    products; else dense exponentials (:func:`_dense_exp`, zero for skipped terms) and dense
    backward products, both points' from one read of each loss row (:func:`_dot2`)."""
    L, N, m = F.shape
    P = lams.shape[0]
    bias, mbits = ione[0], ione[1]
    skip = C[_DEGREE + 4]
    s0 = np.empty(m, dtype=F.dtype)
    s1 = np.empty(m, dtype=F.dtype)
    idx = np.empty((2, m + 1), dtype=np.int64)
    ev = np.empty((2, m + 1), dtype=F.dtype)
    ib = np.empty(m, dtype=ione.dtype)
    fb = ib.view(F.dtype)
    dense = np.zeros(2, dtype=np.bool_)
    kept = np.zeros(2, dtype=np.int64)
    l0 = lams[0]
    l1 = lams[P - 1]
    for i in range(i0, i1):
        if P == 2:
            _forward2_blocks(F, i, l0, l1, s0, s1, m)
        else:
            _forward1(F, i, l0, s0, m)
        for v in range(P):
            sv = s0 if v == 0 else s1
            if has_neg:
                nr = neg[i]
                for j in range(m):
                    sv[j] += nr[j]
            mx = _max(sv, m)
            iv = idx[v]
            e = ev[v]
            n = _count_kept(sv, mx, m, skip)
            sparse = 16 * n < m
            if sparse:
                # few kept terms: compact them, exponentials and gathers on those only
                n = _compact(sv, mx, m, skip, iv, e)
                _exp_inplace(e, n, C, ib, fb, bias, mbits)
                z = _sum64(e, n)
            else:
                # otherwise: dense exponentials (zero for skipped terms), no compaction
                _dense_exp(sv, mx, m, skip, e, C, ib, fb, bias, mbits)
                z = _sum64(e, m)
            mx_out[v, i] = mx
            z_out[v, i] = z
            dense[v] = not sparse
            kept[v] = n
        # backward: the sample's block is still in cache
        if P == 2 and dense[0] and dense[1] and want_grad[0] and want_grad[1]:
            # both points dense: each loss row read once for the two products
            c0 = w[i] / z_out[0, i]
            c1 = w[i] / z_out[1, i]
            e0 = ev[0]
            e1 = ev[1]
            for k in range(L):
                d0, d1 = _dot2(e0, e1, F[k, i], m)
                g[0, k] += c0 * d0
                g[1, k] += c1 * d1
            continue
        for v in range(P):
            if not want_grad[v]:
                continue
            cv = w[i] / z_out[v, i]
            e = ev[v]
            if dense[v]:
                for k in range(L):
                    g[v, k] += cv * _dot(e, F[k, i], m)
            else:
                for k in range(L):
                    g[v, k] += cv * _gather_dot(e, idx[v], kept[v], F[k, i])

def _lse_pass(F, lams, neg, has_neg, w, want_grad, C, ione, rows, mx_out, z_out, G):
    """One pass over ``F`` (L, N, m) for the points ``lams`` (P, L), P = 1 or 2, in F's dtype.

    Tasks of ``rows`` samples run in parallel; each sample's ``L x m`` block is read once
    (the backward products re-read it from cache).  Writes, for each point ``v`` and sample
    ``i``, ``mx_out[v, i]`` (the max score) and ``z_out[v, i]`` (the sum of the shifted
    exponentials); where ``want_grad[v]``, adds ``(w_i / z) sum_j e_j F[:, i, j]`` to
    ``G[task, v, :]`` (``task = i // rows``; ``G`` zeroed by the caller)."""
    N = F.shape[1]
    ntasks = (N + rows - 1) // rows
    for c in prange(ntasks):
        _task(F, lams, neg, has_neg, w, want_grad, C, ione, c * rows, min(N, (c + 1) * rows), mx_out, z_out, G[c])


lse_pass = compile_kernel(_lse_pass, njit, parallel=True, nogil=True, fastmath={"contract"})
