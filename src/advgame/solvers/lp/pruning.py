r"""Exact reductions of 0/1 games: bit-packing, duplicate and dominance pruning, merging.

A 0/1 row :math:`a_{ij} = \ell_{ij\cdot} \in \{0, M\}^L` is the set of classifiers that
attack :math:`j` fools on sample :math:`i`; it is packed into the integer code
:math:`\sum_k [\ell_{ijk} > 0]\, 2^k`.  Packing is exact: codes are built from the bits
(``numpy.packbits``) or, where it is exact, from one float64 matrix-vector product
(a power-of-two ``M`` and ``L <= 53``, or ``L <= 40`` with rounding).  Games with more
than 62 classifiers are not packed (the LP driver uses constraint generation).

Why the reductions are exact (MNE21, Sec. 4.2, the epigraph LP): if
:math:`a_{ij} \le a_{ij'}` componentwise, then :math:`a_{ij}^\top\lambda \le
a_{ij'}^\top\lambda` for every :math:`\lambda \ge 0`, so row :math:`(i, j)`'s constraint
is implied; duplicates are the case of equality.  Samples with identical sets of kept
rows are interchangeable and may be merged by adding their weights.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_PACKED_BITS", "prune_binary_rows", "prune_codes", "merge_samples", "pack_codes"]

MAX_PACKED_BITS = 62  # codes are non-negative int64 (-1 pads)
PRESENCE_TABLE_MAX = 1 << 27  # entries of a dense (sample, code) table we allow
PRESENCE_TABLE_PER_ROW = 16  # ... and at most this many entries per row present


def prune_binary_rows(game):
    """Undominated distinct rows of each sample of a 0/1 game.

    Parameters
    ----------
    game : Game
        A 0/1 game (``game.is_binary``) with at most 62 classifiers.

    Returns
    -------
    samples : int array (R,)
        Sample of each kept row (sorted by sample, then code).
    attacks : int array (R,)
        An attack of that sample carrying the row.
    rows : float64 array (R, L)
        The kept rows.
    """
    view = game.view()
    ui, uc, ujs, hi = prune_codes(view)
    L = view.shape[2]
    rows = ((uc[:, None] >> np.arange(L)) & 1).astype(np.float64) * hi
    return ui, ujs, rows


def _is_power_of_two(x: float) -> bool:
    mant, _ = np.frexp(x)
    return x > 0 and mant == 0.5


def pack_codes(view):
    """Exact bit codes of every (sample, attack) row: int64 array ``(N * m,)``.

    Parameters
    ----------
    view : GameView
        A 0/1 game's view with ``L <= 62``.
    """
    F = view.losses
    nx = view.nx
    L, N, m = (int(s) for s in F.shape)
    if L > MAX_PACKED_BITS:
        raise ValueError(f"bit-packing needs at most {MAX_PACKED_BITS} classifiers; got L={L}")
    hi = float(view.max_loss)
    flat = F.reshape(L, -1)
    is_f64 = isinstance(flat, np.ndarray) and flat.dtype == np.float64
    if hi == 0:
        return np.zeros(N * m, dtype=np.int64)
    if is_f64 and (L <= 40 or (L <= 53 and _is_power_of_two(hi))):
        # every partial sum is an integer below 2^53 (times hi): exact (or within 0.01 of one)
        codes = (np.ldexp(1.0, np.arange(L)) / hi) @ flat
        if not _is_power_of_two(hi):
            np.rint(codes, out=codes)
        return codes.astype(np.int64)
    bits = np.packbits(np.asarray(nx.to_numpy(flat)) != 0, axis=0, bitorder="little")
    codes = np.zeros(N * m, dtype=np.int64)
    for b in range(bits.shape[0]):
        codes |= bits[b].astype(np.int64) << (8 * b)
    return codes


def _unique_per_sample(codes, N, m, L, valid):
    """``(samples, codes, attacks)`` of the distinct (sample, code) pairs among the valid rows,
    sorted by sample then code; the attack is the last one carrying the pair."""
    if N.bit_length() + L <= MAX_PACKED_BITS:  # (sample, code) fits one int64 key
        if valid is None:
            keys = (codes.reshape(N, m) | (np.arange(N, dtype=np.int64) << L)[:, None]).reshape(-1)
            js = np.tile(np.arange(m, dtype=np.int32), N)
        else:
            idx = np.flatnonzero(valid)
            keys = codes[idx] | ((idx // m) << L)
            js = (idx % m).astype(np.int32)
        if (N << L) <= min(PRESENCE_TABLE_MAX, PRESENCE_TABLE_PER_ROW * keys.size):
            # dense table over (sample, code), sized from the rows present
            table = np.full(N << L, -1, dtype=np.int32)
            table[keys] = js
            ukeys = np.flatnonzero(table >= 0)
            ujs = table[ukeys].astype(np.int64)
        else:
            ukeys, first = np.unique(keys[::-1], return_index=True)
            ujs = js[keys.size - 1 - first].astype(np.int64)
        return ukeys >> L, ukeys & ((1 << L) - 1), ujs
    idx = np.arange(N * m, dtype=np.int64) if valid is None else np.flatnonzero(valid)
    c = codes if valid is None else codes[idx]
    s = idx // m
    order = np.lexsort((c, s))
    ss, cs = s[order], c[order]
    last = np.r_[(ss[1:] != ss[:-1]) | (cs[1:] != cs[:-1]), True]
    pick = order[last]
    return s[pick], c[pick], idx[pick] % m


def prune_codes(view):
    """Undominated distinct codes of each sample of a 0/1 game.

    Returns
    -------
    samples, codes, attacks : int arrays (R,)
        Kept rows sorted by sample then code, their bit codes, and an attack index
        carrying each.
    hi : float
        The common non-zero loss value.
    """
    L, N, m = (int(s) for s in view.losses.shape)
    codes = pack_codes(view)
    valid = view.mask_numpy
    ui, uc, ujs = _unique_per_sample(codes, N, m, L, None if valid is None else valid.reshape(-1))
    counts = np.bincount(ui, minlength=N)
    S = int(counts.max())
    if (N << L) <= PRESENCE_TABLE_MAX and 2 * L * (N << L) < N * S * S:
        keep = _undominated_by_superset_transform(ui, uc, N, L)
    else:
        keep = _undominated_pairwise(ui, uc, counts, N, S)
    return ui[keep], uc[keep], ujs[keep], float(view.max_loss)


def merge_samples(ui, uc, N, active):
    """Group the active samples whose sets of kept codes are identical.

    Returns ``(group of each sample (-1 when inactive), position of each entry within its
    sample, group patterns (G, S) padded with -1)``.
    """
    counts = np.bincount(ui, minlength=N)
    S = int(counts.max())
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(ui.size) - starts[ui]
    P = np.full((N, S), -1, dtype=np.int64)
    P[ui, pos] = uc
    act = np.flatnonzero(active)
    patterns, inv = np.unique(P[act], axis=0, return_inverse=True)
    group = np.full(N, -1, dtype=np.int64)
    group[act] = inv.reshape(-1)
    return group, pos, patterns


def _undominated_pairwise(ui, uc, counts, N, S):
    """Keep mask: codes with no strict superset in the same sample, by pairwise tests
    on an (N, S) padding of each sample's distinct codes (chunked over samples)."""
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(ui.size) - starts[ui]
    P = np.full((N, S), -1, dtype=np.int64)
    P[ui, pos] = uc
    dominated = np.zeros((N, S), dtype=bool)
    chunk = max(1, int(4_000_000 // max(1, S * S)))
    for a in range(0, N, chunk):
        blk = P[a : a + chunk]
        A = blk[:, :, None]
        B = blk[:, None, :]
        sub = ((A & ~B) == 0) & (A != B) & (B >= 0)
        dominated[a : a + chunk] = sub.any(axis=2)
    return ~dominated[ui, pos]


def _undominated_by_superset_transform(ui, uc, N, L):
    """Keep mask by the superset-sum (zeta) transform of each sample's presence table over
    the 2^L subsets: ``up[c]`` = some code containing ``c`` is present; ``c`` is dominated
    iff ``up[c | 2^k]`` for some bit ``k`` not in ``c``.  Cost O(N L 2^L)."""
    present = np.zeros((N, 1 << L), dtype=bool)
    present[ui, uc] = True
    up = present.reshape((N,) + (2,) * L).copy()
    dom = np.zeros_like(up)
    for axis in range(1, L + 1):  # axis 1 is the highest bit
        lo = [slice(None)] * (L + 1)
        hi = [slice(None)] * (L + 1)
        lo[axis], hi[axis] = 0, 1
        up[tuple(lo)] |= up[tuple(hi)]
    for axis in range(1, L + 1):
        lo = [slice(None)] * (L + 1)
        hi = [slice(None)] * (L + 1)
        lo[axis], hi[axis] = 0, 1
        dom[tuple(lo)] |= up[tuple(hi)]
    return ~dom.reshape(N, 1 << L)[ui, uc]
