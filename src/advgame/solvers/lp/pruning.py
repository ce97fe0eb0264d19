r"""Exact reductions of 0/1 games: bit-packing, duplicate and dominance pruning, merging.

A 0/1 row :math:`a_{ij} = \ell_{ij\cdot} \in \{0, M\}^L` is the set of classifiers that
attack :math:`j` fools on sample :math:`i`; it is packed into the integer code
:math:`\sum_k [\ell_{ijk} > 0]\, 2^k`.  Packing is exact: codes are built from the bits
(``numpy.packbits``) or, where it is exact, from one matrix-vector product per block of
samples (:func:`pack_codes`), in the same streamed pass that detects the 0/1 structure and
finds each sample's distinct rows (:func:`binary_rows`).  Games with more
than 62 classifiers are not packed (the LP driver uses constraint generation).

Why the reductions are exact (MNE21, Sec. 4.2, the epigraph LP): if
:math:`a_{ij} \le a_{ij'}` componentwise, then :math:`a_{ij}^\top\lambda \le
a_{ij'}^\top\lambda` for every :math:`\lambda \ge 0`, so row :math:`(i, j)`'s constraint
is implied; duplicates are the case of equality.  Samples with identical sets of kept
rows are interchangeable and may be merged by adding their weights.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_PACKED_BITS", "prune_binary_rows", "prune_codes", "merge_samples", "pack_codes", "binary_rows",
           "LossBlock", "scan_binary"]

MAX_PACKED_BITS = 62  # codes are non-negative int64 (-1 pads)
PRESENCE_TABLE_MAX = 1 << 27  # entries of a dense (sample, code) table we allow
_SCAN_WIDTH = 16  # kept codes per sample the fused scan's first pass has room for


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
    view = game.view().to_numpy()
    ui, uc, ujs, hi = prune_codes(view)
    L = view.shape[2]
    rows = ((uc[:, None] >> np.arange(L)) & 1).astype(np.float64) * hi
    return ui, ujs, rows


def _is_power_of_two(x: float) -> bool:
    mant, _ = np.frexp(x)
    return x > 0 and mant == 0.5


class LossBlock:
    """A block of samples of a 0/1 game, what :func:`pack_codes` reads: ``losses`` a numpy
    ``(L, c, m)`` array (a view into the stored tensor) and ``max_loss`` the common non-zero
    value."""

    __slots__ = ("losses", "max_loss")

    def __init__(self, losses, max_loss):
        self.losses, self.max_loss = losses, float(max_loss)


def pack_codes(view):
    """Exact bit codes of every (sample, attack) row of a 0/1 block: int array ``(c * m,)``.

    Parameters
    ----------
    view : GameView or LossBlock
        Losses ``(L, c, m)`` whose entries are all 0 or ``max_loss``, ``L <= 62``.

    Notes
    -----
    Exact by construction: with a power-of-two ``M`` the product of the stored 0/M entries
    with the weights :math:`2^k / M` is one matrix-vector product whose partial sums are
    integers below :math:`2^{24}` (float32, ``L <= 24``) or :math:`2^{53}` (float64,
    ``L <= 53``); otherwise the 0/1 indicator is multiplied instead; past 53 classifiers
    the bits are packed with ``numpy.packbits``.  (MNE21's losses are 0/1, so the product
    runs on the stored tensor directly: a multi-threaded BLAS call.)
    """
    F = np.asarray(view.losses)
    L, c, m = (int(s) for s in F.shape)
    if L > MAX_PACKED_BITS:
        raise ValueError(f"bit-packing needs at most {MAX_PACKED_BITS} classifiers; got L={L}")
    hi = float(view.max_loss)
    out = np.int32 if L <= 31 else np.int64
    if hi == 0:
        return np.zeros(c * m, dtype=out)
    flat = F.reshape(L, -1)
    if L <= 53:
        wdt = np.float32 if L <= 24 else np.float64
        direct = _is_power_of_two(hi) and (flat.dtype == np.float64 or (flat.dtype == wdt))
        if direct:
            coef = (np.ldexp(1.0, np.arange(L)) / hi).astype(flat.dtype)
            return (coef @ flat).astype(out)
        coef = np.ldexp(1.0, np.arange(L)).astype(wdt)
        return (coef @ (flat != 0).astype(wdt)).astype(out)
    bits = np.packbits(flat != 0, axis=0, bitorder="little")
    codes = np.zeros(c * m, dtype=np.int64)
    for b in range(bits.shape[0]):
        codes |= bits[b].astype(np.int64) << (8 * b)
    return codes


def _block_unique(codes, a, c, m, L, js, si, valid):
    """Distinct (sample, code) pairs of one block of ``c`` samples starting at ``a``: sorted by
    sample then code, with an attack carrying each."""
    jb, sb = js[: c * m], si[: c * m]
    if valid is not None:
        codes, jb, sb = codes[valid], jb[valid], sb[valid]
    if (c - 1).bit_length() + L > MAX_PACKED_BITS:  # (sample, code) does not fit one int64 key
        order = np.lexsort((codes, sb))
        ss, cs = sb[order], codes[order]
        first = np.r_[True, (ss[1:] != ss[:-1]) | (cs[1:] != cs[:-1])]
        return ss[first] + a, cs[first], jb[order[first]].astype(np.int64)
    keys = (sb << L) | codes
    if (1 << L) <= 4 * m:  # a dense table over (sample, code) of this block: the first attack of each
        table = np.full(c << L, m, dtype=np.int32)
        np.minimum.at(table, keys, jb)
        ukeys = np.flatnonzero(table < m)
        ujs = table[ukeys]
    else:
        ukeys, first = np.unique(keys, return_index=True)
        ujs = jb[first]
    return (ukeys >> L) + a, ukeys & ((1 << L) - 1), ujs.astype(np.int64)


def binary_rows(view, block_entries=1 << 20):
    """One streamed pass over the stored tensor: 0/1 detection, packing and each sample's
    distinct rows, in blocks of samples of about ``block_entries`` losses (no copy of the
    tensor, no array of ``N * m`` entries).

    Returns
    -------
    (samples, codes, attacks) int64 arrays sorted by sample then code, or None when some
    valid loss is neither 0 nor ``max_loss`` (the pass stops at the first such block).
    """
    F = np.asarray(view.losses)
    L, N, m = (int(s) for s in F.shape)
    hi = float(view.max_loss)
    mask = view.mask_numpy
    step = max(1, min(N, block_entries // max(1, L * m)))
    js = np.tile(np.arange(m, dtype=np.int32), step)
    si = np.repeat(np.arange(step, dtype=np.int64), m)
    parts = []
    for a in range(0, N, step):
        b = min(N, a + step)
        X = F[:, a:b]
        if hi != 0 and np.count_nonzero(X == hi) + np.count_nonzero(X == 0) != X.size:
            return None  # masked entries hold 0: only valid entries can fail
        codes = pack_codes(LossBlock(X, hi))
        valid = None if mask is None else mask[a:b].reshape(-1)
        parts.append(_block_unique(np.asarray(codes, dtype=np.int64), a, b - a, m, L, js, si, valid))
    return tuple(np.concatenate([p[k] for p in parts]).astype(np.int64, copy=False) for k in range(3))


def scan_binary(view, use_jit=None, block_entries=1 << 22):
    """0/1 detection, packing, distinct and undominated codes of each sample: what
    :func:`binary_rows` then :func:`prune_codes` give, in one fused compiled pass.

    Parameters
    ----------
    view : GameView
        numpy view, ``L <= 62``.
    use_jit : bool, optional
        True: the compiled kernel (:func:`advgame._kernels.scan01`, ValueError where it is
        unavailable); False: the numpy path (:func:`binary_rows`, :func:`prune_codes`);
        None (default): the kernel when available.
    block_entries : int
        Entries of the output blocks for samples keeping more than 16 codes (bounds the
        scratch memory; the first pass holds 16 codes per sample).

    Returns
    -------
    (samples, codes, attacks) int64 arrays sorted by sample then code (the first attack
    carrying each code), or None when some valid loss is neither 0 nor ``max_loss``.  Both
    paths return the same arrays.
    """
    from ... import _jit

    K = None if use_jit is False else _jit.kernels(None if use_jit else view.shape[0] * view.shape[1] * view.shape[2])
    if K is None:
        if use_jit:
            raise ValueError("use_jit=True needs numba (the compiled kernels are unavailable or ADVGAME_JIT=0)")
        rows = binary_rows(view)
        if rows is None:
            return None
        ui, uc, uj, _ = prune_codes(view, rows)
        return ui, uc, uj
    F = np.asarray(view.losses)
    L, N, m = (int(s) for s in F.shape)
    if L > MAX_PACKED_BITS:
        raise ValueError(f"bit-packing needs at most {MAX_PACKED_BITS} classifiers; got L={L}")
    mask = view.mask_numpy
    has_mask = mask is not None
    mask = np.ascontiguousarray(mask) if has_mask else np.ones((1, 1), dtype=bool)
    cap = max(1, min(m, 1 << min(L, 40)))  # distinct codes of a sample
    hi = F.dtype.type(view.max_loss)
    one = np.ones(1, dtype=np.int32 if L <= 31 else np.int64)
    # one parallel pass with room for a few kept codes per sample, then the samples that keep
    # more, in blocks with room for all
    width = min(cap, _SCAN_WIDTH)
    samples = np.arange(N, dtype=np.int64)
    codes, att, cnt = np.empty((N, width), np.int64), np.empty((N, width), np.int64), np.empty(N, np.int64)
    if K.scan01(F, samples, hi, mask, has_mask, cap, codes, att, cnt, one):
        return None
    total = int(cnt[cnt > 0].sum())
    over = np.flatnonzero(cnt < 0)
    parts = [(samples, codes, att, cnt)]
    step = max(1, block_entries // cap)
    for a in range(0, over.size, step):
        idx = over[a : a + step]
        c2, a2, n2 = np.empty((idx.size, cap), np.int64), np.empty((idx.size, cap), np.int64), np.empty(idx.size, np.int64)
        K.scan01(F, idx, hi, mask, has_mask, cap, c2, a2, n2, one)
        parts.append((idx, c2, a2, n2))
        total += int(n2.sum())
    ui, uc, uj = (np.empty(total, dtype=np.int64) for _ in range(3))
    pos = 0
    for idx, c, at, n in parts:
        pos = K.compact01(c, at, n, idx, ui, uc, uj, pos)
    if over.size:  # rows sorted by sample again
        order = np.argsort(ui, kind="stable")
        ui, uc, uj = ui[order], uc[order], uj[order]
    return ui, uc, uj


def prune_codes(view, rows=None):
    """Undominated distinct codes of each sample of a 0/1 game.

    Parameters
    ----------
    view : GameView
    rows : tuple, optional
        :func:`binary_rows` of the view, when already computed.

    Returns
    -------
    samples, codes, attacks : int arrays (R,)
        Kept rows sorted by sample then code, their bit codes, and an attack index
        carrying each.
    hi : float
        The common non-zero loss value.
    """
    L, N, m = (int(s) for s in view.losses.shape)
    if rows is None:
        rows = binary_rows(view)
        if rows is None:
            raise ValueError("prune_codes needs a 0/1 game (every valid loss 0 or one common value)")
    ui, uc, ujs = rows
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
