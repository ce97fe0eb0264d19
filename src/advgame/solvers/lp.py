r"""The exact solution of the empirical game as a linear program.

The defender's problem (MNE21, Sec. 4.2, the minimum of
:math:`\widehat{\mathcal R}^\varepsilon_{adv}(\lambda)` over :math:`\Delta_L`) in
epigraph form, one variable :math:`t_i` per sample and one constraint per
(sample, attack) row :math:`a_{ij} = \ell_{ij\cdot} \in [0, M]^L`:

.. math::

    \min_{\lambda \in \Delta_L,\ t} \ \sum_i w_i t_i
    \quad\text{s.t.}\quad a_{ij}^\top \lambda \le t_i \quad \forall (i, j)\ \text{valid}.

Its dual, with multipliers :math:`y_{ij} \ge 0`, is

.. math::

    \max_{y \ge 0,\ \nu} \ \nu \quad\text{s.t.}\quad
    \sum_j y_{ij} = w_i,\quad \sum_{ij} y_{ij} \ell_{ijk} \ge \nu \ \ \forall k,

so :math:`Q_{ij} = y_{ij} / w_i` is a randomized adversary and the dual value is
:math:`D(Q) = \min_k \sum_i w_i E_{Q_i}[\ell_{\cdot k}]` (MNE21, Thm. 1 in the finite
case: the duality gap is zero).  ``solve_lp`` returns both and the certificate
:math:`R(\lambda) - D(Q)`, computed from the two strategies, not read off the solver.

Why the reductions are exact
----------------------------
* **Pruning.**  If row :math:`a_{ij}` is dominated componentwise by another row of
  the same sample, :math:`a_{ij} \le a_{ij'}`, then :math:`a_{ij}^\top\lambda \le
  a_{ij'}^\top\lambda` for every :math:`\lambda \ge 0`: its constraint is implied and
  the LP (hence :math:`R`) is unchanged when it is dropped; duplicates are the case
  of equality.  For 0/1 losses a row is a set of classifiers, bit-packed into an
  integer code; domination is inclusion of codes.
* **Constraint generation.**  On any subset of rows the LP value :math:`v_S` is a
  lower bound of the full LP (fewer constraints), and the dual :math:`Q_S` is a valid
  adversary of the full game, so :math:`D(Q_S) \le R^* \le R(\lambda_S)`.  Adding
  each sample's best response to :math:`\lambda_S` (its most violated row) and
  re-solving until :math:`R(\lambda_S) - D(Q_S) \le` ``tol`` therefore stops with a
  certified answer; it must stop, since there are finitely many rows and a round that
  adds no row has :math:`R(\lambda_S) = v_S`.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp

from ..result import OPTIMAL, OPTIMAL_INACCURATE, SOLVER_ERROR, TIME_LIMIT, Result, SolverWarning

__all__ = ["solve_lp", "prune_binary_rows"]

_STRATEGIES = ("auto", "prune", "cg", "full")
_SOLVERS = ("highs", "cvxpy")
_PRESENCE_TABLE_MAX = 1 << 27  # bytes of int32 table entries we allow for dedup


# --------------------------------------------------------------------------- rows
def prune_binary_rows(game):
    """Public view of :func:`_prune_codes`: ``(samples, attacks, rows)``."""
    ui, uc, ujs, hi = _prune_codes(game)
    L = game._L
    rows = ((uc[:, None] >> np.arange(L)) & 1).astype(np.float64) * hi
    return ui, ujs, rows


def _prune_codes(game):
    """Undominated distinct rows of each sample of a 0/1 game.

    Every valid row ``losses[i, j, :]`` is bit-packed into the integer code
    ``sum_k [losses[i, j, k] > 0] 2^k``; duplicates are removed per sample, and a
    code is dropped when a strictly larger set (a superset of classifiers fooled)
    exists for the same sample.

    Parameters
    ----------
    game : Game
        A numpy game with ``game.is_binary`` and at most 62 classifiers.

    Returns
    -------
    samples : int array (R,)
        Sample index of each kept row (sorted by sample, then code).
    codes : int array (R,)
        The kept rows' bit codes.
    attacks : int array (R,)
        An attack index of the original game carrying that row.
    hi : float
        The common non-zero loss value.
    """
    F = game._F
    L, N, m = F.shape
    if L > 62:
        raise ValueError(f"bit-packing needs at most 62 classifiers; got L={L}")
    hi = float(game._hi)
    scale = 1.0 if hi == 0 else hi
    pw = np.ldexp(1.0, np.arange(L)) / scale
    codes = pw @ F.reshape(L, -1)
    if scale != 2.0 ** np.round(np.log2(scale)):  # 2^k / hi * hi is exact for powers of two only
        np.rint(codes, out=codes)
    keys = codes.astype(np.int64).reshape(N, m)
    keys |= (np.arange(N, dtype=np.int64) << L)[:, None]  # (sample, code) as one integer
    keys = keys.reshape(-1)
    jflat = None
    if game._mask is not None:
        valid = game._mask.reshape(-1)
        jflat = np.flatnonzero(valid) % m
        keys = keys[valid]
    if (N << L) <= _PRESENCE_TABLE_MAX:
        # dense table over (sample, code): one scatter, one scan
        table = np.full(N << L, -1, dtype=np.int32)
        table[keys] = np.tile(np.arange(m, dtype=np.int32), N) if jflat is None else jflat
        # (any attack with that code is a valid representative)
        ukeys = np.flatnonzero(table >= 0)
        ujs = table[ukeys].astype(np.int64)
    else:
        ukeys, first = np.unique(keys, return_index=True)
        ujs = first % m if jflat is None else jflat[first]
    ui = ukeys >> L
    uc = ukeys & ((1 << L) - 1)
    counts = np.bincount(ui, minlength=N)
    S = int(counts.max())
    if (N << L) <= _PRESENCE_TABLE_MAX and 2 * L * (N << L) < N * S * S:
        keep = _undominated_by_superset_transform(ui, uc, N, L)
    else:
        keep = _undominated_pairwise(ui, uc, counts, N, S)
    return ui[keep], uc[keep], ujs[keep], hi


def _merge_samples(ui, uc, N, active):
    """Group the active samples whose sets of kept codes are identical.

    Samples with the same undominated rows are interchangeable in the LP: merging them
    (adding their weights) is exact and shrinks the LP from N samples to the number of
    distinct row sets.  Returns ``(group of each active sample, group of each kept
    entry, position of each entry within its sample, group patterns (G, S))``.
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
    """Keep mask: codes with no strict superset in the same sample, by the superset-sum
    (zeta) transform of each sample's presence table over the 2^L subsets:
    ``up[c]`` = some code containing ``c`` is present; ``c`` is dominated iff
    ``up[c | 2^k]`` for some bit ``k`` not in ``c``.  Cost O(N L 2^L)."""
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


def _rows_of(game, ii, jj):
    return np.ascontiguousarray(game._F[:, ii, jj].T, dtype=np.float64)


# --------------------------------------------------------------------------- LP
class _EpigraphLP:
    """The epigraph LP in HiGHS (through highspy), grown row by row.

    Columns: ``lambda`` (L, >= 0) then ``t`` (one free column per sample with positive
    weight, cost ``w_i``); row 0 is ``sum(lambda) = 1``; every further row is
    ``a^T lambda - t_i <= 0``.  Rows added after a solve are warm-started from the
    previous basis (dual simplex), which is what makes constraint generation cheap.
    """

    def __init__(self, L, w, time_limit=None, tol=1e-10):
        import highspy

        self._highspy = highspy
        self.L, self.n = L, int(w.size)
        h = self.h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        self.set_tolerance(tol)
        if time_limit is not None:
            h.setOptionValue("time_limit", max(1e-3, float(time_limit)))
        inf = highspy.kHighsInf
        ncol = L + self.n
        h.addVars(ncol, np.r_[np.zeros(L), np.full(self.n, -inf)], np.full(ncol, inf))
        h.changeColsCost(ncol, np.arange(ncol, dtype=np.int32), np.r_[np.zeros(L), w].astype(np.float64))
        h.addRow(1.0, 1.0, L, np.arange(L, dtype=np.int32), np.ones(L))
        self.n_rows = 0

    def set_tolerance(self, tol):
        self.h.setOptionValue("primal_feasibility_tolerance", float(tol))
        self.h.setOptionValue("dual_feasibility_tolerance", float(tol))

    def set_time_limit(self, seconds):
        self.h.setOptionValue("time_limit", max(1e-3, float(seconds)))

    def add_rows(self, rows, samples):
        """Add ``rows[r] @ lambda - t[samples[r]] <= 0`` (samples already re-indexed)."""
        R, L = rows.shape
        if R == 0:
            return
        nz = rows != 0
        cnt = nz.sum(axis=1) + 1
        starts = np.zeros(R, dtype=np.int32)
        np.cumsum(cnt[:-1], out=starts[1:])
        total = int(cnt.sum())
        index = np.empty(total, dtype=np.int32)
        value = np.empty(total, dtype=np.float64)
        k = cnt - 1
        row_of = np.repeat(np.arange(R), k)
        within = np.arange(row_of.size) - np.repeat(np.cumsum(k) - k, k)
        dst = starts[row_of] + within
        index[dst] = np.broadcast_to(np.arange(L), rows.shape)[nz]
        value[dst] = rows[nz]
        last = starts + k
        index[last] = L + samples
        value[last] = -1.0
        inf = self._highspy.kHighsInf
        self.h.addRows(R, np.full(R, -inf), np.zeros(R), total, starts, index, value)
        self.n_rows += R

    def solve(self):
        """``(ok, status words, lambda, t, y)`` with ``y >= 0`` the rows' multipliers."""
        self.h.run()
        status = self.h.getModelStatus()
        words = self.h.modelStatusToString(status)
        if status != self._highspy.HighsModelStatus.kOptimal:
            return False, words, None, None, None
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value)
        y = -np.asarray(sol.row_dual)[1:]
        return True, words, x[: self.L], x[self.L :], y


def _clean_weights(lam):
    lam = np.clip(np.asarray(lam, dtype=np.float64), 0.0, None)
    s = lam.sum()
    if not s > 0:
        return np.full(lam.shape, 1.0 / lam.size)
    return lam / s


def _adversary_from_duals(game, lam, samples, attacks, y, active):
    """Dense (N, m) adversary from row multipliers; samples not in ``active`` (zero
    weight, or no dual mass) get their pure best response to ``lam``."""
    N, m = game._N, game._m
    y = np.clip(y, 0.0, None)
    Q = np.bincount(samples * m + attacks, weights=y, minlength=N * m).reshape(N, m)
    mass = Q.sum(axis=1)
    ok = mass > 0
    if active is not None:
        ok &= active
    Q[ok] /= mass[ok, None]
    bad = ~ok
    if bad.any():
        _, _, jstar = game._risk_and_br(lam)
        Q[bad] = 0.0
        Q[np.flatnonzero(bad), jstar[bad]] = 1.0
    return Q


# --------------------------------------------------------------------------- main
def solve_lp(game, *, solver="highs", strategy="auto", tol=None, max_rounds=100, time_limit=None,
             cvxpy_solver=None):
    r"""Solve the empirical game exactly: optimal weights, optimal adversary, certificate.

    Parameters
    ----------
    game : Game
        numpy or torch; a torch game is solved on the CPU and the result returned as
        tensors on its device and dtype.
    solver : {"highs", "cvxpy"}
        ``"highs"`` (default): HiGHS (dual simplex, through highspy) on a reduced LP.
        ``"cvxpy"``: the plain full LP through cvxpy, an independent cross-check.
    strategy : {"auto", "prune", "cg", "full"}
        How to keep the LP small. ``"prune"``: bit-pack 0/1 rows and drop
        duplicate/dominated ones (needs a 0/1 game with L <= 62); ``"cg"``: constraint
        generation; ``"full"``: every valid row. ``"auto"`` prunes 0/1 games and uses
        constraint generation otherwise.
    tol : float, optional
        Certified duality gap to reach (default ``1e-9 * max(1, M)``).
    max_rounds : int
        Constraint-generation rounds before giving up (status ``optimal_inaccurate``).
    time_limit : float, optional
        Seconds; passed to HiGHS and checked between rounds (status ``time_limit``).
    cvxpy_solver : str, optional
        cvxpy solver name for ``solver="cvxpy"`` (default HiGHS when cvxpy has it,
        else CLARABEL).

    Returns
    -------
    Result
        ``weights`` (L,), ``value`` :math:`R(\lambda)`, ``adversary`` (N, m),
        ``lower_bound`` :math:`D(Q)`, ``gap``, ``status``, ``nit`` (rounds),
        ``info`` with the strategy, number of LP rows and timings.

    References
    ----------
    MNE21, Sec. 4.2 (the finite mixture problem) and Thm. 1 (no duality gap).
    """
    t0 = time.perf_counter()
    if solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {_SOLVERS}; got {solver!r}")
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {_STRATEGIES}; got {strategy!r}")
    if tol is None:
        tol = 1e-9 * max(1.0, game.bound)
    tol = float(tol)
    if not tol > 0:
        raise ValueError(f"tol must be a positive number; got {tol}")
    if int(max_rounds) < 1:
        raise ValueError(f"max_rounds must be a positive integer; got {max_rounds}")
    if time_limit is not None and not float(time_limit) > 0:
        raise ValueError(f"time_limit must be a positive number of seconds; got {time_limit}")

    g = game.to_numpy()
    if g._F.dtype != np.float64:
        g = _float64_view(g)
    N, m, L = g.shape
    w = np.asarray(g._w, dtype=np.float64)
    active = w > 0
    info = {"solver": solver}

    sol = None
    if solver == "cvxpy":
        lam, Q, status, message, nit, extra = _solve_cvxpy(g, w, active, cvxpy_solver)
        info.update(extra)
    else:
        if strategy == "auto":
            strategy = "prune" if (L <= 62 and g.is_binary) else "cg"
        if strategy == "prune" and not (L <= 62 and g.is_binary):
            raise ValueError(
                "strategy='prune' needs a 0/1 game (every loss 0 or one common value) with "
                f"at most 62 classifiers; this game has L={L}, is_binary={g.is_binary}"
            )
        info["strategy"] = strategy
        if strategy == "prune":
            sol, extra, (status, message, nit) = _solve_pruned(g, w, active, tol, time_limit, t0)
            info.update(extra)
            if sol is None:
                lam = np.full(L, 1.0 / L)
                Q = _adversary_from_duals(g, lam, np.zeros(0, int), np.zeros(0, int), np.zeros(0), active)
            else:
                lam, Q, value, adv_losses = sol
        else:
            lam, Q, status, message, nit, extra, cert = _solve_highs(g, w, active, strategy, tol, max_rounds,
                                                                     time_limit, t0)
            info.update(extra)
            if cert is not None:
                value, adv_losses = cert
                sol = True
    if sol is None:
        # certificate from the two strategies, computed in float64 on the whole game
        value, _, _ = g._risk_and_br(lam)
        adv_losses = g._classifier_losses(Q)
    lower = float(adv_losses.min())
    gap = value - lower
    if status == OPTIMAL and gap > tol:
        status = OPTIMAL_INACCURATE
        message = (f"the LP solver stopped but the certified duality gap {gap:.3e} exceeds tol={tol:.1e} "
                   "(numerical trouble); the weights are within that gap of optimal")
    if status != OPTIMAL:
        warnings.warn(f"solve(method='lp'): {status}: {message}", SolverWarning, stacklevel=3)

    weights_out, Q_out, losses_out = lam, Q, adv_losses
    if game.backend == "torch":
        nx = game._nx
        weights_out = nx.from_numpy(lam, type_as=game._F)
        Q_out = nx.from_numpy(Q, type_as=game._F)
        losses_out = nx.from_numpy(adv_losses, type_as=game._F)
    return Result(
        weights=weights_out, value=float(value), adversary=Q_out, gap=float(gap), lower_bound=lower,
        adversary_losses=losses_out, status=status, message=message, nit=nit,
        time=time.perf_counter() - t0, history=[], method="lp", info=info,
    )


def _float64_view(g):
    """A float64 copy of a numpy game (the LP and its certificate run in float64)."""
    h = type(g).__new__(type(g))
    h.__dict__.update(g.__dict__)
    h._F = g._F.astype(np.float64)
    h._w = np.asarray(g._w, dtype=np.float64)
    h._neg = None if g._neg is None else g._neg.astype(np.float64)
    return h


def _certificate_on_rows(g, lam, ii, rows, y, w):
    """``(R(lam), D(Q))`` where Q is the multipliers ``y`` normalized per sample: R from a
    pass over the whole game, D from the working rows alone (Q lives on them)."""
    N = g._N
    R, mx, jstar = g._risk_and_br(lam)
    y = np.clip(y, 0.0, None)
    mass = np.bincount(ii, weights=y, minlength=N)
    ok = mass[ii] > 0
    coef = np.zeros_like(y)
    coef[ok] = y[ok] / mass[ii][ok] * w[ii][ok]
    Dk = coef @ rows
    # samples whose multipliers vanished play their best response (a valid Q row)
    lost = (mass <= 0) & (w > 0)
    if lost.any():
        li = np.flatnonzero(lost)
        Dk = Dk + w[li] @ _rows_of(g, li, jstar[li])
    return R, Dk, mx, jstar


def _solve_pruned(g, w, active, tol, time_limit, t0):
    """0/1 games: prune rows, merge samples with identical row sets, one exact LP."""
    N, m, L = g.shape
    extra = {"rows_total": int(N * m if g._mask is None else g._mask.sum())}
    tp = time.perf_counter()
    ui, uc, ujs, hi = _prune_codes(g)
    group, pos, patterns = _merge_samples(ui, uc, N, active)
    G, S = patterns.shape
    W = np.bincount(group[active], weights=w[active], minlength=G)
    gi, gp = np.nonzero(patterns >= 0)  # group rows, in group order
    gcodes = patterns[gi, gp]
    grows = ((gcodes[:, None] >> np.arange(L)) & 1).astype(np.float64) * hi
    extra.update(prune_time=time.perf_counter() - tp, rows_kept=int(ui.size), samples_merged=int(G),
                 rows=int(gi.size))
    if time_limit is not None and time.perf_counter() - t0 >= time_limit:
        return None, extra, (TIME_LIMIT, "time limit reached before the LP was built", 0)
    tl = time.perf_counter()
    lp = _EpigraphLP(L, W, time_limit=None if time_limit is None else time_limit - (time.perf_counter() - t0))
    lp.add_rows(grows, gi)
    best = None
    status, message, nit = OPTIMAL_INACCURATE, "", 0
    for attempt in range(2):
        nit += 1
        ok, words, lam, t, y = lp.solve()
        if not ok:
            status = TIME_LIMIT if "time" in words.lower() else SOLVER_ERROR
            message = f"HiGHS: {words}"
            break
        lam = _clean_weights(lam)
        y = np.clip(y, 0.0, None)
        mass = np.bincount(gi, weights=y, minlength=G)
        scale = np.where(mass[gi] > 0, W[gi] / np.where(mass[gi] > 0, mass[gi], 1.0), 0.0)
        yn = y * scale
        s = grows @ lam
        R = float(W @ np.maximum.reduceat(s, np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])))
        adv_losses = yn @ grows
        # groups that lost all multiplier mass (numerically) play their best row
        lost = np.flatnonzero(mass <= 0)
        if lost.size:
            first = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
            for grp in lost:
                rws = slice(first[grp], first[grp + 1] if grp + 1 < G else gi.size)
                r_best = rws.start + int(np.argmax(s[rws]))
                yn[r_best] = W[grp]
                adv_losses = adv_losses + W[grp] * grows[r_best]
        gap = R - float(adv_losses.min())
        if best is None or gap < best[0]:
            best = (gap, lam, yn, R, adv_losses)
        if gap <= tol:
            status, message = OPTIMAL, (f"exact LP on {gi.size} rows: {ui.size} undominated rows of "
                                        f"{extra['rows_total']}, {G} distinct samples")
            break
        lp.set_tolerance(1e-12)  # numerical trouble: tighten HiGHS once and re-solve
        message = f"the LP stalled at certified gap {gap:.3e} (HiGHS tolerances)"
    extra["lp_time"] = time.perf_counter() - tl
    if best is None:
        return None, extra, (status, message, nit)
    _, lam, yn, R, adv_losses = best
    # the adversary of each sample: its group's multipliers, on its own attack indices
    act = active[ui]
    gstart = np.concatenate(([0], np.cumsum(np.bincount(gi, minlength=G))[:-1]))
    e_row = gstart[group[ui[act]]] + pos[act]
    q = yn[e_row] / W[group[ui[act]]]
    Q = np.bincount(ui[act] * m + ujs[act], weights=q, minlength=N * m).reshape(N, m)
    if not active.all():
        _, _, jstar = g._risk_and_br(lam)
        idle = np.flatnonzero(~active)
        Q[idle, jstar[idle]] = 1.0
    return (lam, Q, R, adv_losses), extra, (status, message, nit)


def _solve_highs(g, w, active, strategy, tol, max_rounds, time_limit, t0):
    N, m, L = g.shape
    extra = {"rows_total": int(N * m if g._mask is None else g._mask.sum())}
    act_idx = np.flatnonzero(active)
    remap = np.full(N, -1, dtype=np.int64)
    remap[act_idx] = np.arange(act_idx.size)

    def left():
        return None if time_limit is None else time_limit - (time.perf_counter() - t0)

    def fallback(status, message, nit):
        lam = np.full(L, 1.0 / L)
        Q = _adversary_from_duals(g, lam, np.zeros(0, int), np.zeros(0, int), np.zeros(0), active)
        return lam, Q, status, message, nit, extra, None

    # the working set of rows
    tp = time.perf_counter()
    if strategy == "full":
        if g._mask is not None:
            ii, jj = np.nonzero(g._mask)
        else:
            ii, jj = np.repeat(np.arange(N), m), np.tile(np.arange(m), N)
        ii, jj = ii.astype(np.int64), jj.astype(np.int64)
        rows = _rows_of(g, ii, jj)
    else:  # constraint generation starts from the best responses to the uniform mixture
        _, _, j0 = g._risk_and_br(np.full(L, 1.0 / L))
        ii, jj = np.arange(N, dtype=np.int64), np.asarray(j0, dtype=np.int64)
        rows = _rows_of(g, ii, jj)
    keep = active[ii]
    ii, jj, rows = ii[keep], jj[keep], rows[keep]
    extra["prune_time"] = time.perf_counter() - tp

    if left() is not None and left() <= 0:
        return fallback(TIME_LIMIT, "time limit reached before the LP was built", 0)
    lp = _EpigraphLP(L, w[act_idx], time_limit=left())
    lp.add_rows(rows, remap[ii])
    in_set = None
    if strategy == "cg":
        in_set = np.zeros(N * m, dtype=bool)
        in_set[ii * m + jj] = True

    lp_time = 0.0
    best = None  # (gap, lam, ii, jj, y)
    status = OPTIMAL_INACCURATE
    message = f"constraint generation did not certify the gap within {max_rounds} rounds"
    tightened = False
    rnd = 0
    for rnd in range(1, int(max_rounds) + 1):
        if left() is not None:
            if left() <= 0:
                status, message = TIME_LIMIT, f"time limit reached after {rnd - 1} rounds"
                rnd -= 1
                break
            lp.set_time_limit(left())
        tl = time.perf_counter()
        ok, words, lam, t, y = lp.solve()
        lp_time += time.perf_counter() - tl
        if not ok:
            status = TIME_LIMIT if "time" in words.lower() else SOLVER_ERROR
            message = f"HiGHS: {words} (round {rnd})"
            break
        lam = _clean_weights(lam)
        value, Dk, mx, jstar = _certificate_on_rows(g, lam, ii, rows, y, w)
        gap = value - float(Dk.min())
        if best is None or gap < best[0]:
            best = (gap, lam, ii, jj, y, value, Dk)
        if gap <= tol:
            status = OPTIMAL
            message = (f"exact LP on all {lp.n_rows} rows" if strategy == "full" else
                       f"constraint generation certified the gap in {rnd} rounds ({lp.n_rows} rows)")
            break
        new = np.zeros(N, dtype=bool)
        if strategy == "cg":
            t_full = np.full(N, -np.inf)
            t_full[act_idx] = t
            new = active & (mx > t_full + 1e-12 * max(1.0, g.bound)) & ~in_set[np.arange(N) * m + jstar]
        if not new.any():
            if tightened:
                message = (f"the LP stalled at certified gap {gap:.3e} after {rnd} rounds "
                           "(HiGHS tolerances); the weights are within that gap of optimal")
                break
            lp.set_tolerance(1e-12)  # every row is in: tighten HiGHS and re-solve once
            tightened = True
            continue
        ni = np.flatnonzero(new)
        nj = np.asarray(jstar[ni], dtype=np.int64)
        in_set[ni * m + nj] = True
        new_rows = _rows_of(g, ni, nj)
        lp.add_rows(new_rows, remap[ni])
        ii = np.concatenate([ii, ni])
        jj = np.concatenate([jj, nj])
        rows = np.vstack([rows, new_rows])
    extra["rows"] = int(lp.n_rows)
    extra["lp_time"] = lp_time
    if best is None:
        return fallback(status, message, rnd)
    _, lam, bi, bj, by, value, Dk = best
    Q = _adversary_from_duals(g, lam, bi, bj, by, active)
    return lam, Q, status, message, rnd, extra, (value, Dk)


def _solve_cvxpy(g, w, active, cvxpy_solver):
    import cvxpy as cp

    N, m, L = g.shape
    act_idx = np.flatnonzero(active)
    remap = np.full(N, -1, dtype=np.int64)
    remap[act_idx] = np.arange(act_idx.size)
    if g._mask is not None:
        ii, jj = np.nonzero(g._mask)
    else:
        ii, jj = np.repeat(np.arange(N), m), np.tile(np.arange(m), N)
    keep = active[ii]
    ii, jj = ii[keep], jj[keep]
    rows = _rows_of(g, ii, jj)
    n = act_idx.size
    S = sp.csr_matrix((np.ones(ii.size), (np.arange(ii.size), remap[ii])), shape=(ii.size, n))
    lam = cp.Variable(L, nonneg=True)
    t = cp.Variable(n)
    cons = [rows @ lam - S @ t <= 0, cp.sum(lam) == 1]
    prob = cp.Problem(cp.Minimize(w[act_idx] @ t), cons)
    if cvxpy_solver is None:
        cvxpy_solver = "HIGHS" if "HIGHS" in cp.installed_solvers() else "CLARABEL"
    tc = time.perf_counter()
    try:
        prob.solve(solver=cvxpy_solver)
    except cp.error.SolverError as e:
        lam_v = np.full(L, 1.0 / L)
        Q = _adversary_from_duals(g, lam_v, ii[:0], jj[:0], np.zeros(0), active)
        return lam_v, Q, SOLVER_ERROR, f"cvxpy ({cvxpy_solver}): {e}", 1, {"cvxpy_solver": cvxpy_solver}
    extra = {"cvxpy_solver": cvxpy_solver, "rows": int(ii.size), "lp_time": time.perf_counter() - tc}
    if prob.status not in ("optimal", "optimal_inaccurate") or lam.value is None:
        lam_v = np.full(L, 1.0 / L)
        Q = _adversary_from_duals(g, lam_v, ii[:0], jj[:0], np.zeros(0), active)
        return lam_v, Q, SOLVER_ERROR, f"cvxpy ({cvxpy_solver}) status {prob.status}", 1, extra
    lam_v = _clean_weights(lam.value)  # CLARABEL's weights can sit ~1e-8 off the simplex
    y = np.asarray(cons[0].dual_value, dtype=np.float64).reshape(-1)
    Q = _adversary_from_duals(g, lam_v, ii, jj, y, active)
    return lam_v, Q, OPTIMAL, f"cvxpy ({cvxpy_solver}) on the full LP ({ii.size} rows)", 1, extra
