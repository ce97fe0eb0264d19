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
from scipy.optimize import linprog

from ..result import OPTIMAL, OPTIMAL_INACCURATE, SOLVER_ERROR, TIME_LIMIT, Result

__all__ = ["solve_lp", "prune_binary_rows"]

_STRATEGIES = ("auto", "prune", "cg", "full")
_SOLVERS = ("highs", "cvxpy")
_PRESENCE_TABLE_MAX = 1 << 27  # bytes of int32 table entries we allow for dedup


# --------------------------------------------------------------------------- rows
def prune_binary_rows(game):
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
        Sample index of each kept row (sorted).
    attacks : int array (R,)
        An attack index of the original game carrying that row.
    rows : float array (R, L)
        The kept loss rows.
    """
    F = game._F
    L, N, m = F.shape
    if L > 62:
        raise ValueError(f"bit-packing needs at most 62 classifiers; got L={L}")
    hi = float(F.max())
    scale = 1.0 if hi == 0 else hi
    pw = np.ldexp(1.0, np.arange(L)) / scale
    codes = np.rint(pw @ F.reshape(L, -1)).astype(np.int64)  # (N*m,)
    jflat = np.tile(np.arange(m, dtype=np.int64), N)
    keys = (np.repeat(np.arange(N, dtype=np.int64), m) << L) | codes
    if game._mask is not None:
        valid = game._mask.reshape(-1)
        keys, jflat = keys[valid], jflat[valid]
    if (N << L) <= _PRESENCE_TABLE_MAX:
        # dense table over (sample, code): one scatter, one scan
        table = np.full(N << L, -1, dtype=np.int32)
        table[keys] = jflat  # any attack with that code is a valid representative
        ukeys = np.flatnonzero(table >= 0)
        ujs = table[ukeys].astype(np.int64)
    else:
        ukeys, first = np.unique(keys, return_index=True)
        ujs = jflat[first]
    ui = ukeys >> L
    uc = ukeys & ((1 << L) - 1)

    # componentwise domination = strict inclusion of codes, within each sample
    counts = np.bincount(ui, minlength=N)
    S = int(counts.max())
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
    keep = ~dominated[ui, pos]
    ui, uc, ujs = ui[keep], uc[keep], ujs[keep]
    rows = ((uc[:, None] >> np.arange(L)) & 1).astype(np.float64) * hi
    return ui, ujs, rows


def _initial_rows(game):
    """Constraint generation's first working set: each sample's best response to every
    single classifier and to the uniform mixture (at most L + 1 rows per sample)."""
    F = game._F
    L, N, m = F.shape
    if game._neg is not None:
        Fm = F + game._neg[None]
        cand = np.argmax(Fm, axis=2)  # (L, N)
    else:
        cand = np.argmax(F, axis=2)
    _, _, ju = game._risk_and_br(np.full(L, 1.0 / L))
    cand = np.vstack([cand, ju[None]]).T  # (N, L+1)
    cand = np.sort(cand, axis=1)
    first = np.ones_like(cand, dtype=bool)
    first[:, 1:] = cand[:, 1:] != cand[:, :-1]
    ii = np.broadcast_to(np.arange(N)[:, None], cand.shape)[first]
    jj = cand[first]
    return ii.astype(np.int64), jj.astype(np.int64)


def _rows_of(game, ii, jj):
    return np.ascontiguousarray(game._F[:, ii, jj].T, dtype=np.float64)


# --------------------------------------------------------------------------- LP
def _solve_epigraph(rows, samples, w, L, time_limit=None, tight=False):
    """Solve the epigraph LP on the given rows with HiGHS.

    Returns ``(lam, t, y, res)`` where ``y >= 0`` are the row multipliers, or
    ``(None, None, None, res)`` on failure.  Samples must be re-indexed 0..n-1.
    """
    R = rows.shape[0]
    n = int(w.shape[0])
    nz = rows != 0
    cnt = nz.sum(axis=1)
    indptr = np.zeros(R + 1, dtype=np.int64)
    np.cumsum(cnt + 1, out=indptr[1:])
    cols = np.broadcast_to(np.arange(L), rows.shape)
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1], dtype=np.float64)
    # per row: its nonzero loss columns, then -1 on t_i
    order_pos = indptr[:-1]
    flat_nz_rows = np.repeat(np.arange(R), cnt)
    within = np.arange(flat_nz_rows.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    dst = order_pos[flat_nz_rows] + within
    indices[dst] = cols[nz]
    data[dst] = rows[nz]
    last = indptr[1:] - 1
    indices[last] = L + samples
    data[last] = -1.0
    A_ub = sp.csr_matrix((data, indices, indptr), shape=(R, L + n))
    A_eq = sp.csr_matrix((np.ones(L), (np.zeros(L, dtype=np.int64), np.arange(L))), shape=(1, L + n))
    c = np.concatenate([np.zeros(L), w])
    bounds = np.array([(0.0, None)] * L + [(None, None)] * n, dtype=object)
    opts = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
    if tight:
        opts = {"primal_feasibility_tolerance": 1e-12, "dual_feasibility_tolerance": 1e-12, "presolve": False}
    if time_limit is not None:
        opts["time_limit"] = max(1e-3, float(time_limit))
    res = linprog(
        c, A_ub=A_ub, b_ub=np.zeros(R), A_eq=A_eq, b_eq=np.ones(1),
        bounds=[tuple(b) for b in bounds], method="highs-ds", options=opts,
    )
    if res.status != 0 or res.x is None:
        return None, None, None, res
    lam = res.x[:L]
    t = res.x[L:]
    y = -np.asarray(res.ineqlin.marginals)
    return lam, t, y, res


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
    Q = np.zeros((N, m), dtype=np.float64)
    y = np.clip(y, 0.0, None)
    np.add.at(Q, (samples, attacks), y)
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
        ``"highs"`` (default): HiGHS dual simplex through scipy on a reduced LP.
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
        Seconds; passed to HiGHS and checked between rounds.
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
        lam, Q, status, message, nit, extra = _solve_highs(g, w, active, strategy, tol, max_rounds,
                                                           time_limit, t0)
        info.update(extra)

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
        warnings.warn(f"solve(method='lp'): {status}: {message}", RuntimeWarning, stacklevel=3)

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


def _solve_highs(g, w, active, strategy, tol, max_rounds, time_limit, t0):
    N, m, L = g.shape
    extra = {"rows_total": int(N * m if g._mask is None else g._mask.sum())}
    act_idx = np.flatnonzero(active)
    remap = np.full(N, -1, dtype=np.int64)
    remap[act_idx] = np.arange(act_idx.size)
    w_act = w[act_idx]

    def lp(ii, jj, rows, tight=False):
        keep = active[ii]
        ii, jj, rows = ii[keep], jj[keep], rows[keep]
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            return None
        lam, t, y, res = _solve_epigraph(rows, remap[ii], w_act, L, time_limit=left, tight=tight)
        return lam, t, y, res, ii, jj, rows

    if strategy in ("prune", "full"):
        tp = time.perf_counter()
        if strategy == "prune":
            ii, jj, rows = prune_binary_rows(g)
        else:
            ii, jj = (np.nonzero(g._mask) if g._mask is not None else
                      (np.repeat(np.arange(N), m), np.tile(np.arange(m), N)))
            ii, jj = ii.astype(np.int64), jj.astype(np.int64)
            rows = _rows_of(g, ii, jj)
        extra["prune_time"] = time.perf_counter() - tp
        extra["rows"] = int(rows.shape[0])
        tl = time.perf_counter()
        out = lp(ii, jj, rows)
        if out is None:
            lam = np.full(L, 1.0 / L)
            return lam, _adversary_from_duals(g, lam, ii[:0], jj[:0], np.zeros(0), active), TIME_LIMIT, \
                "time limit reached before the LP was solved", 0, extra
        lam, t, y, res, ii_a, jj_a, rows_a = out
        if lam is None:
            status = TIME_LIMIT if res.status == 1 else SOLVER_ERROR
            lam = np.full(L, 1.0 / L)
            Q = _adversary_from_duals(g, lam, ii_a[:0], jj_a[:0], np.zeros(0), active)
            return lam, Q, status, f"HiGHS: {res.message}", 1, extra
        lam = _clean_weights(lam)
        # HiGHS may leave a bound/slack-degenerate vertex with a loose dual: polish once
        Q = _adversary_from_duals(g, lam, ii_a, jj_a, y, active)
        gap = g._risk_and_br(lam)[0] - float(g._classifier_losses(Q).min())
        if gap > tol:
            out2 = lp(ii, jj, rows, tight=True)
            if out2 is not None and out2[0] is not None:
                lam2 = _clean_weights(out2[0])
                Q2 = _adversary_from_duals(g, lam2, out2[4], out2[5], out2[2], active)
                gap2 = g._risk_and_br(lam2)[0] - float(g._classifier_losses(Q2).min())
                if gap2 < gap:
                    lam, Q = lam2, Q2
        extra["lp_time"] = time.perf_counter() - tl
        return lam, Q, OPTIMAL, f"exact LP on {rows.shape[0]} rows ({strategy})", 1, extra

    # constraint generation
    ii, jj = _initial_rows(g)
    in_set = np.zeros(N * m, dtype=bool)
    in_set[ii * m + jj] = True
    rows = _rows_of(g, ii, jj)
    best = None  # (gap, lam, Q)
    lp_time = 0.0
    status, message = OPTIMAL_INACCURATE, f"constraint generation did not certify the gap within {max_rounds} rounds"
    tight = False
    for rnd in range(1, int(max_rounds) + 1):
        tl = time.perf_counter()
        out = lp(ii, jj, rows, tight=tight)
        lp_time += time.perf_counter() - tl
        if out is None:
            status, message = TIME_LIMIT, f"time limit reached after {rnd - 1} rounds"
            break
        lam, t, y, res, ii_a, jj_a, _ = out
        if lam is None:
            status = TIME_LIMIT if res.status == 1 else SOLVER_ERROR
            message = f"HiGHS: {res.message} (round {rnd})"
            break
        lam = _clean_weights(lam)
        value, mx, jstar = g._risk_and_br(lam)
        Q = _adversary_from_duals(g, lam, ii_a, jj_a, y, active)
        lower = float(g._classifier_losses(Q).min())
        gap = value - lower
        if best is None or gap < best[0]:
            best = (gap, lam, Q, rnd)
        if gap <= tol:
            status, message = OPTIMAL, f"constraint generation certified the gap in {rnd} rounds"
            break
        # add each sample's best response where it is not in the working set yet
        t_full = np.full(N, -np.inf)
        t_full[act_idx] = t
        viol = active & (mx > t_full + 1e-12 * max(1.0, g.bound))
        new = viol & ~in_set[np.arange(N) * m + jstar]
        if not new.any():
            if tight:
                message = (f"constraint generation stalled at gap {gap:.3e} after {rnd} rounds: "
                           "no violated row left (LP solver tolerance)")
                break
            tight = True  # tighten HiGHS's tolerances and retry once
            continue
        ni = np.flatnonzero(new)
        nj = jstar[ni]
        in_set[ni * m + nj] = True
        ii = np.concatenate([ii, ni])
        jj = np.concatenate([jj, nj])
        rows = np.vstack([rows, _rows_of(g, ni, nj)])
    extra["rows"] = int(rows.shape[0])
    extra["lp_time"] = lp_time
    if best is None:
        lam = np.full(L, 1.0 / L)
        Q = _adversary_from_duals(g, lam, ii[:0], jj[:0], np.zeros(0), active)
        return lam, Q, status, message, 0, extra
    _, lam, Q, rnd_best = best
    return lam, Q, status, message, rnd, extra


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
