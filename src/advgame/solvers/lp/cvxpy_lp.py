"""The plain full epigraph LP through cvxpy: an independent cross-check of the HiGHS path."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ...result import OPTIMAL, SOLVER_ERROR
from ._quiet import quiet_stdout_fd
from .highs import adversary_from_duals, clean_weights

__all__ = ["installed_solvers", "solve_cvxpy"]


def installed_solvers():
    """The cvxpy solver names installed here."""
    import cvxpy as cp

    return tuple(cp.installed_solvers())


def solve_cvxpy(view, w, active, cvxpy_solver):
    """Every valid row of the game in one cvxpy problem.

    Returns ``(lam or None, Q or None, status, message, nit, info)``; ``cvxpy_solver`` must be
    one of :func:`installed_solvers` (checked by the driver).
    """
    import cvxpy as cp

    N, m, L = view.shape
    act_idx = np.flatnonzero(active)
    remap = np.full(N, -1, dtype=np.int64)
    remap[act_idx] = np.arange(act_idx.size)
    mask = view.mask_numpy
    if mask is not None:
        ii, jj = np.nonzero(mask)
    else:
        ii, jj = np.repeat(np.arange(N), m), np.tile(np.arange(m), N)
    keep = active[ii]
    ii, jj = ii[keep], jj[keep]
    rows = view.rows(ii, jj)
    n = act_idx.size
    S = sp.csr_matrix((np.ones(ii.size), (np.arange(ii.size), remap[ii])), shape=(ii.size, n))
    lam = cp.Variable(L, nonneg=True)
    t = cp.Variable(n)
    cons = [rows @ lam - S @ t <= 0, cp.sum(lam) == 1]
    prob = cp.Problem(cp.Minimize(w[act_idx] @ t), cons)
    info = {"cvxpy_solver": cvxpy_solver}
    tc = time.perf_counter()
    try:
        with quiet_stdout_fd():  # cvxpy's HiGHS interface constructs highspy.Highs() (banner)
            prob.solve(solver=cvxpy_solver)
    except cp.error.SolverError as e:
        return None, None, SOLVER_ERROR, f"cvxpy ({cvxpy_solver}): {e}", 1, info
    info.update(rows=int(ii.size), lp_time=time.perf_counter() - tc)
    if prob.status not in ("optimal", "optimal_inaccurate") or lam.value is None:
        return None, None, SOLVER_ERROR, f"cvxpy ({cvxpy_solver}) status {prob.status}", 1, info
    lam_v = clean_weights(lam.value)  # CLARABEL's weights can sit ~1e-8 off the simplex
    y = np.asarray(cons[0].dual_value, dtype=np.float64).reshape(-1)
    Q = adversary_from_duals(view, lam_v, ii, jj, y, active)
    return lam_v, Q, OPTIMAL, f"cvxpy ({cvxpy_solver}) on the full LP ({ii.size} rows)", 1, info
