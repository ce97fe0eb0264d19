r"""K-group multi-cut constraint generation: a small master LP for large real-valued games.

The defender's problem :math:`\min_{\lambda \in \Delta_L} R(\lambda)`,
:math:`R(\lambda) = \sum_i w_i \max_j a_{ij}^\top \lambda` (MNE21, Sec. 4.2), is a convex
piecewise-linear function of only :math:`L` variables.  Split the samples of positive
weight into :math:`K` groups :math:`g` (weights :math:`W_g`); every pass over the tensor at
weights :math:`\lambda_c` gives each sample's best response :math:`j_i^c`, and each group
the cut :math:`G_{gc} = \sum_{i \in g} w_i\, a_{i j_i^c}`.  Since
:math:`\sum_{i \in g} w_i \max_j a_{ij}^\top \lambda \ge G_{gc}^\top \lambda` for every
:math:`c`, the master

.. math::

    \min_{\lambda \in \Delta_L} \sum_g \max_c G_{gc}^\top \lambda

is below :math:`R`: an LP with :math:`L + K` variables and one row per kept cut, however
many samples the game has.  Its multipliers are an adversary of the full game (each
group's cut multipliers sum to :math:`W_g` and mix the best responses :math:`j_i^c` of the
group's samples), so the master's value is a certified lower bound and the driver
certifies the pair on the game as always.  :math:`K = 1` is one aggregated cut a round,
:math:`K = N` per-sample constraint generation; in between, a round adds up to :math:`K`
cuts from a single pass.

What makes it fast: one fused compiled pass per round gives every sample's best-response
row (:func:`best_response_rows`, :mod:`advgame._kernels_cuts`; numpy without numba); the
cuts are scaled by :math:`1 / W_g` (HiGHS's tolerances are absolute: per group, not
:math:`K`-fold); HiGHS holds the master's dual, whose basis has :math:`K + L` rows, and
re-solves it from the previous basis after the new cuts are added (:class:`_MultiMaster`);
cuts whose multiplier stays zero are deleted; a box around the best weights so far (grown
after progress, shrunk otherwise) keeps the iterates from jumping across the simplex (a
trust-region bundle method).
"""

from __future__ import annotations

import numpy as np

from ._quiet import new_highs

from ...adversary import SparseAdversary
from ...result import OPTIMAL, OPTIMAL_INACCURATE, SOLVER_ERROR, TIME_LIMIT
from .highs import clean_weights

__all__ = ["solve_multicut", "best_response_rows", "default_groups"]


def _binding(lam, lo, hi, eps=1e-12):
    """True when a box bound (one tighter than the simplex's own) is active at ``lam``."""
    return bool(np.any((lo > 0) & (lam <= lo + eps)) or np.any((hi < 1) & (lam >= hi - eps)))



#: Default number of groups of :func:`solve_multicut` (:func:`default_groups`): about
#: ``sqrt(entries) / GROUPS_PER_ROOT`` for a game of ``entries = N * m * L`` losses, at most
#: one per sample and ``MAX_GROUPS``.  A round costs one pass (``~ entries``) plus a master
#: solve whose simplex pivots grow with ``K`` in number and in cost; balancing the two gives
#: ``K ~ sqrt(entries)``.  Measured on the MNE21-like sigmoid game of
#: ``benchmarks/bench_multicut.py`` (N = 10^4, m = 1000, L = 10; loaded machine): K = 256,
#: 512, 1024, 2048 certified in 21, 15-16, 11, 10 rounds with 0.47, 0.73-0.77, 1.56-1.69,
#: 3.4 s in HiGHS; K = 1000 and 1024 measured best in ``bench_scale.py`` at N = 10^4, 10^5.
GROUPS_PER_ROOT = 10
MAX_GROUPS = 1024
#: A cut whose multiplier stayed zero for this many consecutive master solves is deleted
#: (after the next serious step).
DROP_AGE = 3


def default_groups(n, entries=None):
    """The number of groups :func:`solve_multicut` uses for ``n`` samples of positive weight
    in a game of ``entries`` losses (None: one group per sample up to ``MAX_GROUPS``)."""
    k = MAX_GROUPS if entries is None else int(np.sqrt(entries) / GROUPS_PER_ROOT)
    return int(max(1, min(MAX_GROUPS, n, k)))


def best_response_rows(view, lam, use_jit=None):
    """One float64 pass at weights ``lam``: ``(R, mx (N,), jstar (N,) int64, rows (N, L))``,
    each sample's best-response score, first argmax and loss row ``losses[i, jstar[i], :]``.

    ``use_jit``: None (the compiled fused pass :func:`advgame._kernels_cuts.br_rows64`
    where the kernels are available and the game large enough), True (the compiled pass, a
    ValueError where it is unavailable) or False (numpy: the streamed float64 pass, then a
    gather of the rows).  Both give the same argmax and rows.
    """
    from ... import _jit

    N, m, L = view.shape
    F = getattr(view, "losses", None)  # None for a device view: it keeps its tensor on the device
    lam = np.ascontiguousarray(lam, dtype=np.float64)
    fits = isinstance(F, np.ndarray) and F.dtype in (np.float32, np.float64)
    kern = None
    if use_jit is not False and fits:
        kern = _jit.kernels(None if use_jit else F.size, name="_kernels_cuts")
    if use_jit and kern is None:
        raise ValueError("use_jit=True needs numba and a numpy float32/float64 game "
                         "(the compiled kernels are unavailable, ADVGAME_JIT=0, or the game is not numpy)")
    if kern is None:
        R, mx, jstar = view.risk_and_best_response_float64(lam)
        jstar = np.asarray(jstar, dtype=np.int64)
        return R, mx, jstar, view.rows(np.arange(N), jstar)
    neg = view.neg
    neg = np.zeros((1, 1)) if neg is None else np.ascontiguousarray(view.nx.host_float64(neg))
    mx = np.empty(N)
    jstar = np.empty(N, dtype=np.int64)
    rows = np.empty((N, L))
    kern.br_rows64(F, lam, neg, view.neg is not None, mx, jstar, rows)
    return float(view.sample_weights_float64 @ mx), mx, jstar, rows


class _MultiMaster:
    r"""The K-group master LP, held in HiGHS in its dual form, grown and pruned column by
    column and hot-started.

    The master :math:`\min \sum_g W_g r_g` s.t. :math:`A_c^\top \lambda \le r_{g(c)}` for
    every cut :math:`c`, :math:`\lambda \in \Delta_L` (inside the box ``lo <= lambda <= hi``
    of the trust region when one is set), with :math:`A_c = s\, G_c / W_{g(c)}`: a cut's row
    divided by its group's weight is a weighted mean of loss rows, so HiGHS's absolute
    tolerance on each cut adds up to ``tol * sum_g W_g = tol`` in the objective, not ``K *
    tol``.  HiGHS holds its dual

    .. math::

        \max_{y \ge 0, \nu, \alpha \ge 0, \beta \ge 0}\ \nu + lo^\top \alpha - hi^\top \beta
        \quad\text{s.t.}\quad \sum_{c \in g} y_c = W_g,\quad
        \sum_c y_c A_{ck} - \nu - \alpha_k + \beta_k = 0,

    whose basis has ``K + L`` rows however many cuts there are (the row form's basis grows
    with the cuts, and a simplex pivot with it): a cut is a column ``y_c``, added to the
    solved model (primal simplex from the previous basis) and deleted when its multiplier
    ``y_c`` stays zero; the weights :math:`\lambda` and :math:`r` are the rows' duals.
    """

    def __init__(self, L, W, scale, tol, time_limit):
        import highspy

        self.hs = highspy
        h = self.h = new_highs()
        h.setOptionValue("primal_feasibility_tolerance", float(tol))
        h.setOptionValue("dual_feasibility_tolerance", float(tol))
        h.setOptionValue("presolve", "off")  # a small LP re-solved from its basis
        h.setOptionValue("simplex_strategy", 4)  # primal simplex: new columns keep the basis feasible
        h.setOptionValue("simplex_scale_strategy", 0)  # the cuts are scaled already (per group)
        if time_limit is not None:
            h.setOptionValue("time_limit", max(1e-3, float(time_limit)))
        inf = highspy.kHighsInf
        K = W.size
        self.L, self.K, self.W, self.scale = L, K, W, float(scale)
        # columns: nu (free, cost -1), alpha (L), beta (L, fixed at 0 without a box), then the cuts
        h.addVars(1 + 2 * L, np.r_[-inf, np.zeros(2 * L)], np.r_[inf, np.full(L, inf), np.zeros(L)])
        h.changeColCost(0, -1.0)
        h.addRows(K, W, W, 0, np.zeros(K, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        idx = np.arange(L, dtype=np.int32)
        h.addRows(L, np.zeros(L), np.zeros(L), 3 * L, 3 * idx,
                  np.stack([np.zeros(L, dtype=np.int32), 1 + idx, 1 + L + idx], axis=1).reshape(-1).astype(np.int32),
                  np.tile([-1.0, -1.0, 1.0], L))
        self.first = 1 + 2 * L  # the first cut's column
        # the cuts, in HiGHS's column order: group, round, aggregated row G, age
        self.group = np.zeros(0, dtype=np.int64)
        self.round = np.zeros(0, dtype=np.int64)
        self.G = np.zeros((0, L))
        self.age = np.zeros(0, dtype=np.int64)

    @property
    def n_cuts(self):
        return self.group.size

    def add_cuts(self, groups, rnd, G):
        """Add the cuts ``G[r]`` (unscaled aggregated rows) of ``groups[r]``, found in round ``rnd``."""
        R, L = G.shape
        if R == 0:
            return
        starts = np.arange(R, dtype=np.int32) * (L + 1)
        index = np.empty((R, L + 1), dtype=np.int32)
        index[:, 0] = groups
        index[:, 1:] = self.K + np.arange(L)
        value = np.empty((R, L + 1))
        value[:, 0] = 1.0
        value[:, 1:] = (self.scale / self.W[groups])[:, None] * G
        self.h.addCols(R, np.zeros(R), np.zeros(R), np.full(R, self.hs.kHighsInf), R * (L + 1), starts,
                       index.reshape(-1), value.reshape(-1))
        self.group = np.r_[self.group, groups]
        self.round = np.r_[self.round, np.full(R, rnd, dtype=np.int64)]
        self.G = np.vstack([self.G, G])
        self.age = np.r_[self.age, np.zeros(R, dtype=np.int64)]

    def drop(self, y, age, delete=True):
        """Age the cuts by their multipliers ``y`` (one per cut) and (when ``delete``) delete
        those whose multiplier has been zero for ``age`` solves; returns the number deleted."""
        self.age = np.where(y > 0, 0, self.age + 1)
        gone = np.flatnonzero(self.age >= age) if delete else np.zeros(0, dtype=np.int64)
        if gone.size:
            self.h.deleteCols(gone.size, (gone + self.first).astype(np.int32))
            keep = self.age < age
            self.group, self.round, self.G, self.age = self.group[keep], self.round[keep], self.G[keep], self.age[keep]
        return int(gone.size)

    def set_box(self, lo, hi):
        """The trust region ``lo <= lambda <= hi`` (``hi`` may be infinite: no upper bound)."""
        L = self.L
        fin = np.isfinite(hi)
        self.h.changeColsCost(2 * L, np.arange(1, 1 + 2 * L, dtype=np.int32),
                              np.r_[-lo, np.where(fin, hi, 0.0)])
        self.h.changeColsBounds(L, np.arange(1 + L, 1 + 2 * L, dtype=np.int32), np.zeros(L),
                                np.where(fin, self.hs.kHighsInf, 0.0))

    def solve(self):
        """``(ok, words, lambda, r (K,) in loss-per-weight units, cut multipliers y >= 0)``."""
        self.h.run()
        status = self.h.getModelStatus()
        words = self.h.modelStatusToString(status)
        if status != self.hs.HighsModelStatus.kOptimal:
            return False, words, None, None, None
        sol = self.h.getSolution()
        pi = np.asarray(sol.row_dual)
        y = np.clip(np.asarray(sol.col_value)[self.first:], 0.0, None)
        return True, words, pi[self.K:], -pi[: self.K] / self.scale, y

    def adversary_losses(self, y):
        """``(L,)`` losses of the master's adversary (each group mixes its cuts' best
        responses by their multipliers, normalized to the group's weight) and the groups'
        multiplier mass ``(K,)``."""
        mass = np.bincount(self.group, weights=y, minlength=self.K)
        mg = mass[self.group]
        coef = np.where(mg > 0, y / np.where(mg > 0, mg, 1.0), 0.0)
        return coef @ self.G, mass


def solve_multicut(view, w, active, tol, max_iter, left, scale, start, groups=None, drop_age=DROP_AGE,
                   use_box=True, use_jit=None, progress=None):
    r"""K-group multi-cut constraint generation.

    The samples of positive weight are split into ``groups`` contiguous groups (default
    :func:`default_groups`); every round one fused float64 pass at the current weights
    gives each sample's best-response row (:func:`best_response_rows`), and each group whose
    aggregated row :math:`G_g = \sum_{i \in g} w_i \ell_{i j_i}` cuts off the master's
    solution adds that cut (scaled by :math:`1 / W_g`, see :class:`_MultiMaster`).  The
    master :math:`\min_{\lambda \in \Delta_L} \sum_g \max_c G_{gc}^\top \lambda` is below
    :math:`R`; its multipliers mix, per group, the best responses of the cuts, an adversary
    of the full game, so ``R(best weights) - D(adversary)`` is a certified gap.  Cuts whose
    multiplier stayed zero for ``drop_age`` solves are deleted after the next serious step
    (None: never).  ``use_box``: a box around the best weights so far, doubled after a
    serious step (a lower risk), divided by 4 after a null step.  ``scale`` is
    not used: the master is scaled by the largest loss (HiGHS's tolerances are absolute).
    ``use_jit``: as in :func:`best_response_rows`.

    Returns ``(lam or None, adversary or None, status, message, nit, cuts)``: the best
    weights found and the adversary of the master's multipliers for the driver to certify,
    and the number of cuts kept.
    """
    N, m, L = view.shape
    act = np.flatnonzero(active)
    n = act.size
    K = default_groups(n, N * m * L) if groups is None else int(max(1, min(groups, n)))
    starts = (np.arange(K, dtype=np.int64) * n) // K
    group_of = np.full(N, -1, dtype=np.int64)
    group_of[act] = np.repeat(np.arange(K), np.diff(np.r_[starts, n]))
    W = np.add.reduceat(w[act], starts)
    # the master in units of the largest loss (a power of two: exact), so that HiGHS's absolute
    # tolerances, which it takes no lower than 1e-10, are relative to the losses
    top = view.max_loss
    scale = float(np.ldexp(1.0, -int(np.frexp(top)[1]) + 1)) if top > 0 else 1.0
    lp_tol = float(np.clip(tol * scale / 10, 1e-10, 1e-9))
    lp = _MultiMaster(L, W, scale, lp_tol, left())
    # a cut is new when the master's solution violates it beyond the master's own tolerance
    # (HiGHS's weights satisfy the cuts it holds only to within lp_tol: no duplicates)
    slack = 2 * lp_tol / scale
    serious = False
    J = []  # best responses of each round (int32 (N,))
    lam = np.asarray(start, dtype=np.float64)
    best = None  # (gap, weights, cut rounds, cut groups, multipliers)
    last = None  # the last master's (D, cut rounds, cut groups, multipliers)
    lam_best, R_best = None, np.inf
    radius = 1.0
    r = None
    tightened = False
    dropped = 0
    status, message = OPTIMAL_INACCURATE, f"multi-cut generation did not certify the gap in {max_iter} rounds"
    nit = 0
    for nit in range(1, max_iter + 1):
        if left() is not None and left() <= 0:
            status, message, nit = TIME_LIMIT, f"time limit reached after {nit - 1} rounds", nit - 1
            break
        R, _, jstar, brow = best_response_rows(view, lam, use_jit)
        serious = R < R_best
        if serious:
            if lam_best is not None and use_box:
                radius = min(1.0, 2 * radius)
            lam_best, R_best = lam, R
        elif use_box:
            radius = max(radius / 4, 1e-6)
        if serious and last is not None:  # the last master's adversary against the new best weights
            gap = R_best - last[0]
            if gap < best[0]:
                best = (gap, lam_best) + last[1:]
            if gap <= tol:
                if progress is not None:
                    progress(nit, gap, lp.n_cuts)
                status = OPTIMAL
                message = (f"multi-cut generation certified the gap in {nit} rounds ({K} groups, {lp.n_cuts} cuts "
                           f"kept, {dropped} dropped)")
                break
        J.append(jstar.astype(np.int32))
        G = np.add.reduceat(w[act, None] * brow[act], starts, axis=0)  # (K, L) group aggregates
        if r is None:
            cut = np.arange(K)
        else:  # only the groups whose cut the master's solution violates
            cut = np.flatnonzero((G @ lam) / W > r + slack)
        if cut.size == 0 and r is not None and use_box and radius < 1.0:
            radius = 1.0  # the box held the master's solution back: solve without it
        elif cut.size == 0 and r is not None:
            if tightened:
                message = (f"multi-cut generation stalled at certified gap {best[0]:.3e} after {nit} rounds "
                           "(HiGHS tolerances); the weights are within that gap of optimal")
                break
            lp.h.setOptionValue("primal_feasibility_tolerance", 1e-10)  # HiGHS's tightest, re-solve once
            lp.h.setOptionValue("dual_feasibility_tolerance", 1e-10)
            tightened = True
        lp.add_cuts(cut, nit - 1, G[cut])
        if left() is not None:
            lp.h.setOptionValue("time_limit", max(1e-3, float(left())))
        boxed = use_box and radius < 1.0
        lo = np.clip(lam_best - radius, 0, None) if boxed else np.zeros(L)
        hi = np.clip(lam_best + radius, None, 1.0) if boxed else np.full(L, np.inf)
        if use_box:
            lp.set_box(lo, hi)
        ok, words, lam_new, r, y = lp.solve()
        if ok and boxed and _binding(lam_new, lo, hi) and float(W @ r) >= R_best - tol:
            # the best weights minimize the model inside the box, hence everywhere (convexity):
            # re-solve without the box for multipliers free of box terms
            lp.set_box(np.zeros(L), np.full(L, np.inf))
            ok, words, lam_new, r, y = lp.solve()
        if not ok:
            status = TIME_LIMIT if "time" in words.lower() else SOLVER_ERROR
            message = f"HiGHS: {words} (round {nit})"
            break
        Dk, _ = lp.adversary_losses(y)
        last = (float(Dk.min()), lp.round.copy(), lp.group.copy(), y.copy())
        gap = R_best - last[0]
        if progress is not None:
            progress(nit, gap, lp.n_cuts)
        if best is None or gap < best[0]:
            best = (gap, lam_best) + last[1:]
        if gap <= tol:
            status = OPTIMAL
            message = (f"multi-cut generation certified the gap in {nit} rounds ({K} groups, {lp.n_cuts} cuts "
                       f"kept, {dropped} dropped)")
            break
        if drop_age is not None:  # aged on every solve, deleted after a serious step only (null
            # steps keep the model that the next iterate is chosen from: no cycling)
            dropped += lp.drop(y, drop_age, delete=serious)
        lam = clean_weights(lam_new)
    if best is None:
        return None, None, status, message, nit, lp.n_cuts
    _, lam_b, rounds_b, groups_b, y_b = best
    return lam_b, _multicut_adversary(view, J, rounds_b, groups_b, y_b, group_of, W, lam_b), status, message, nit, \
        lp.n_cuts


def _multicut_adversary(view, J, rounds, groups, y, group_of, W, lam):
    """The master's adversary as a :class:`~advgame.adversary.SparseAdversary`: sample ``i``
    of group ``g`` plays ``J[c][i]`` with probability ``y_gc / sum_c y_gc`` for each cut
    ``(g, c)``; samples of zero weight or of a group without multiplier mass play their
    best response to ``lam``."""
    N, m, _ = view.shape
    K = W.size
    mass = np.bincount(groups, weights=y, minlength=K)
    ii, jj, qq = [], [], []
    has = group_of >= 0
    for c in np.unique(rounds[y > 0]):
        sel = (rounds == c) & (y > 0)
        q = np.zeros(K)
        q[groups[sel]] = y[sel] / mass[groups[sel]]
        qi = np.where(has, q[np.maximum(group_of, 0)], 0.0)
        i = np.flatnonzero(qi > 0)
        ii.append(i)
        jj.append(J[c][i].astype(np.int64))
        qq.append(qi[i])
    lost = ~has | (mass[np.maximum(group_of, 0)] <= 0)
    if lost.any():
        _, _, jstar = view.risk_and_best_response_float64(lam)
        li = np.flatnonzero(lost)
        ii.append(li)
        jj.append(np.asarray(jstar[li], dtype=np.int64))
        qq.append(np.ones(li.size))
    cat = (lambda a, t: np.concatenate(a) if a else np.zeros(0, t))
    return SparseAdversary(cat(ii, np.int64), cat(jj, np.int64), cat(qq, np.float64), (N, m))
