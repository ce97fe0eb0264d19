r"""The epigraph LP in HiGHS: the pruned 0/1 model and constraint generation.

The defender's problem (MNE21, Sec. 4.2) in epigraph form, one free variable :math:`t_i`
per sample with positive weight and one row per kept (sample, attack):

.. math::

    \min_{\lambda \in \Delta_L,\ t} \ \sum_i w_i t_i
    \quad\text{s.t.}\quad a_{ij}^\top \lambda \le t_i.

**Constraint generation.** On any subset of rows the LP value is a lower bound of the full
LP and its duals :math:`Q_S` are a valid adversary of the full game, so
:math:`D(Q_S) \le R^* \le R(\lambda_S)`.  Adding each sample's best response to
:math:`\lambda_S` (its most violated row) and re-solving until the gap is at most ``tol``
stops with a certified answer: there are finitely many rows, and a round that adds no row
has :math:`R(\lambda_S) = v_S`.

Everything here returns *candidate* strategies; the driver certifies them on the game.
"""

from __future__ import annotations


import numpy as np

from ._quiet import new_highs

from ...adversary import SparseAdversary
from ...result import OPTIMAL, OPTIMAL_INACCURATE, SOLVER_ERROR, TIME_LIMIT

__all__ = ["EpigraphLP", "lp_scale", "clean_weights", "adversary_from_duals", "sparse_adversary_from_duals",
           "solve_merged", "solve_rows"]


def lp_scale(max_loss: float) -> float:
    """A power of two bringing the losses near 1 when they are far from it (HiGHS treats
    entries above 1e20 as infinite and drops tiny ones); 1 otherwise.  Scaling every row
    by one positive factor leaves the optimal weights and the multipliers unchanged."""
    if max_loss == 0 or 2.0**-20 <= max_loss <= 2.0**20:
        return 1.0
    return float(np.ldexp(1.0, -int(np.frexp(max_loss)[1]) + 1))


def clean_weights(lam):
    """Clip at zero and renormalize (HiGHS's weights can sit 1e-12 off the simplex)."""
    lam = np.clip(np.asarray(lam, dtype=np.float64), 0.0, None)
    s = lam.sum()
    if not s > 0:
        return np.full(lam.shape, 1.0 / lam.size)
    return lam / s


def sparse_adversary_from_duals(view, lam, samples, attacks, y, active):
    """:func:`adversary_from_duals` as a :class:`~advgame.adversary.SparseAdversary` (no
    ``(N, m)`` array): the same probabilities on the same entries."""
    N, m, _ = view.shape
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, None)
    i = np.asarray(samples, dtype=np.int64)
    j = np.asarray(attacks, dtype=np.int64)
    mass = np.bincount(i, weights=y, minlength=N).astype(np.float64, copy=False)
    ok = mass > 0
    if active is not None:
        ok &= active
    keep = ok[i] & (y > 0)
    i, j, q = i[keep], j[keep], y[keep] / mass[i[keep]]
    bad = np.flatnonzero(~ok)
    if bad.size:
        _, _, jstar = view.risk_and_best_response_float64(lam)
        i, j, q = np.concatenate([i, bad]), np.concatenate([j, jstar[bad]]), np.concatenate([q, np.ones(bad.size)])
    return SparseAdversary(i, j, q, (N, m))


def adversary_from_duals(view, lam, samples, attacks, y, active):
    """Dense float64 (N, m) adversary from row multipliers ``y``; samples not in ``active``
    (zero weight) or without multiplier mass play their pure best response to ``lam``."""
    N, m, _ = view.shape
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, None)
    Q = np.bincount(np.asarray(samples, dtype=np.int64) * m + np.asarray(attacks, dtype=np.int64), weights=y,
                    minlength=N * m).astype(np.float64, copy=False).reshape(N, m)
    mass = Q.sum(axis=1)
    ok = mass > 0
    if active is not None:
        ok &= active
    Q[ok] /= mass[ok, None]
    bad = ~ok
    if bad.any():
        _, _, jstar = view.risk_and_best_response_float64(lam)
        Q[bad] = 0.0
        Q[np.flatnonzero(bad), jstar[bad]] = 1.0
    return Q


class EpigraphLP:
    """The epigraph LP in HiGHS (through highspy), grown row by row.

    Columns: ``lambda`` (L, >= 0) then ``t`` (one free column per sample with positive
    weight, cost ``w_i``); row 0 is ``sum(lambda) = 1``; every further row is
    ``scale * a^T lambda - t_i <= 0``.  Rows added after a solve are warm-started from the
    previous basis (dual simplex), which is what makes constraint generation cheap.
    """

    def __init__(self, L, w, time_limit=None, tol=1e-10, scale=1.0):
        import highspy

        self._highspy = highspy
        self.L, self.n, self.scale = L, int(w.size), float(scale)
        h = self.h = new_highs()  # silent: highspy >= 1.16 prints a banner when constructed
        self.set_tolerance(tol)
        if time_limit is not None:
            self.set_time_limit(time_limit)
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
        """Add ``rows[r] @ lambda <= t[samples[r]]`` (samples already re-indexed)."""
        R, L = rows.shape
        if R == 0:
            return
        if self.scale != 1.0:
            rows = rows * self.scale
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
        """``(ok, status words, lambda, t, y)``: ``t`` in loss units, ``y >= 0`` the rows'
        multipliers."""
        self.h.run()
        status = self.h.getModelStatus()
        words = self.h.modelStatusToString(status)
        if status != self._highspy.HighsModelStatus.kOptimal:
            return False, words, None, None, None
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value)
        y = -np.asarray(sol.row_dual)[1:]
        return True, words, x[: self.L], x[self.L :] / self.scale, y


def _failure(words):
    return TIME_LIMIT if "time" in words.lower() else SOLVER_ERROR


def solve_merged(view, red, tol, left, scale):
    """One exact LP on a reduced 0/1 game (:func:`advgame.solvers.lp.pruning` output merged
    into groups): ``red`` holds ``gi`` (group of each row), ``grows`` (R, L), ``W`` (group
    weights), ``ui``, ``ujs``, ``group``, ``pos``.  Returns ``(lam, Q or None, status,
    message, nit)``."""
    N, m, L = view.shape
    gi, grows, W = red["gi"], red["grows"], red["W"]
    G = W.size
    lp = EpigraphLP(L, W, time_limit=left(), scale=scale)
    lp.add_rows(grows, gi)
    best = None
    status, message, nit = OPTIMAL_INACCURATE, "", 0
    first = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
    for _ in range(2):
        nit += 1
        ok, words, lam, t, y = lp.solve()
        if not ok:
            status, message = _failure(words), f"HiGHS: {words}"
            break
        lam = clean_weights(lam)
        y = np.clip(y, 0.0, None)
        mass = np.bincount(gi, weights=y, minlength=G)
        yn = y * np.where(mass[gi] > 0, W[gi] / np.where(mass[gi] > 0, mass[gi], 1.0), 0.0)
        s = grows @ lam
        R = float(W @ np.maximum.reduceat(s, first))
        adv_losses = yn @ grows
        for grp in np.flatnonzero(mass <= 0):  # groups that lost their multipliers: best row
            stop = first[grp + 1] if grp + 1 < G else gi.size
            r_best = first[grp] + int(np.argmax(s[first[grp]:stop]))
            yn[r_best] = W[grp]
            adv_losses = adv_losses + W[grp] * grows[r_best]
        gap = R - float(adv_losses.min())
        if best is None or gap < best[0]:
            best = (gap, lam, yn)
        if gap <= tol:
            status, message = OPTIMAL, (f"exact LP on {gi.size} rows: {red['ui'].size} undominated rows of "
                                        f"{red['rows_total']}, {G} distinct samples")
            break
        lp.set_tolerance(1e-12)  # numerical trouble: tighten HiGHS once and re-solve
        message = f"the LP stalled at certified gap {gap:.3e} (HiGHS tolerances)"
    if best is None:
        return None, None, status, message, nit, None
    _, lam, yn = best
    # the adversary of each sample: its group's multipliers, on its own attack indices
    ui, ujs, group, pos, active = red["ui"], red["ujs"], red["group"], red["pos"], red["active"]
    act = active[ui]
    gstart = np.concatenate(([0], np.cumsum(np.bincount(gi, minlength=G))[:-1]))
    e_row = gstart[group[ui[act]]] + pos[act]
    q = yn[e_row] / W[group[ui[act]]]
    si, sj = ui[act], ujs[act]
    if not active.all():
        _, _, jstar = view.risk_and_best_response_float64(lam)
        idle = np.flatnonzero(~active)
        si, sj, q = np.concatenate([si, idle]), np.concatenate([sj, jstar[idle]]), np.concatenate([q, np.ones(idle.size)])
    nz = q > 0
    return lam, SparseAdversary(si[nz], sj[nz], q[nz], (N, m)), status, message, nit, None


def _certificate_on_rows(view, lam, ii, rows, y, w):
    """``(R(lam), D_k (L,), per-sample max, argmax)``: R from a float64 pass over the game,
    D from the working rows (actual rows of the game; Q lives on them)."""
    N = view.shape[0]
    R, mx, jstar = view.risk_and_best_response_float64(lam)
    y = np.clip(y, 0.0, None)
    mass = np.bincount(ii, weights=y, minlength=N)
    ok = mass[ii] > 0
    coef = np.zeros_like(y)
    coef[ok] = y[ok] / mass[ii][ok] * w[ii][ok]
    Dk = coef @ rows
    lost = (mass <= 0) & (w > 0)  # samples whose multipliers vanished play their best response
    if lost.any():
        li = np.flatnonzero(lost)
        Dk = Dk + w[li] @ view.rows(li, jstar[li])
    return R, Dk, mx, jstar


def solve_rows(view, w, active, strategy, tol, max_iter, left, scale, start, progress=None):
    """Constraint generation (``strategy="cg"``, from the best responses to ``start``) or the
    full LP (``"full"``).  Returns ``(lam or None, Q or None, status, message, nit, rows)``."""
    N, m, L = view.shape
    act_idx = np.flatnonzero(active)
    remap = np.full(N, -1, dtype=np.int64)
    remap[act_idx] = np.arange(act_idx.size)
    if strategy == "full":
        mask = view.mask_numpy
        if mask is not None:
            ii, jj = np.nonzero(mask)
        else:
            ii, jj = np.repeat(np.arange(N), m), np.tile(np.arange(m), N)
        ii, jj = ii.astype(np.int64), jj.astype(np.int64)
    else:
        _, _, j0 = view.risk_and_best_response_float64(start)
        ii, jj = np.arange(N, dtype=np.int64), np.asarray(j0, dtype=np.int64)
    keep = active[ii]
    ii, jj = ii[keep], jj[keep]
    rows = view.rows(ii, jj)
    if left() is not None and left() <= 0:
        return None, None, TIME_LIMIT, "time limit reached before the LP was built", 0, 0
    lp = EpigraphLP(L, w[act_idx], time_limit=left(), scale=scale)
    lp.add_rows(rows, remap[ii])
    in_set = None
    if strategy == "cg":
        in_set = np.zeros(N * m, dtype=bool)
        in_set[ii * m + jj] = True
    best = None
    status = OPTIMAL_INACCURATE
    message = f"constraint generation did not certify the gap within max_iter={max_iter} rounds"
    tightened = False
    # a row is violated beyond rounding by this much (relative to the losses' scale)
    slack = 1e-12 * (max(1.0, view.bound) if scale == 1.0 else view.max_loss)
    rnd = 0
    for rnd in range(1, max_iter + 1):
        if left() is not None:
            if left() <= 0:
                status, message = TIME_LIMIT, f"time limit reached after {rnd - 1} rounds"
                rnd -= 1
                break
            lp.set_time_limit(left())
        ok, words, lam, t, y = lp.solve()
        if not ok:
            status, message = _failure(words), f"HiGHS: {words} (round {rnd})"
            break
        lam = clean_weights(lam)
        value, Dk, mx, jstar = _certificate_on_rows(view, lam, ii, rows, y, w)
        gap = value - float(Dk.min())
        if progress is not None:
            progress(rnd, gap, lp.n_rows)
        if best is None or gap < best[0]:
            best = (gap, lam, ii, jj, y)
        if gap <= tol:
            status = OPTIMAL
            message = (f"exact LP on all {lp.n_rows} rows" if strategy == "full" else
                       f"constraint generation certified the gap in {rnd} rounds ({lp.n_rows} rows)")
            break
        new = np.zeros(N, dtype=bool)
        if strategy == "cg":
            t_full = np.full(N, -np.inf)
            t_full[act_idx] = t
            new = active & (mx > t_full + slack) & ~in_set[np.arange(N) * m + jstar]
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
        new_rows = view.rows(ni, nj)
        lp.add_rows(new_rows, remap[ni])
        ii = np.concatenate([ii, ni])
        jj = np.concatenate([jj, nj])
        rows = np.vstack([rows, new_rows])
    if best is None:
        return None, None, status, message, rnd, lp.n_rows
    _, lam, bi, bj, by = best
    return lam, sparse_adversary_from_duals(view, lam, bi, bj, by, active), status, message, rnd, lp.n_rows
