r"""``solve_lp``: argument checks, the choice of reduction, and the certificate.

The LP (MNE21, Sec. 4.2) and its dual,

.. math::

    \min_{\lambda \in \Delta_L,\ t} \sum_i w_i t_i \ \text{s.t.}\ a_{ij}^\top\lambda \le t_i,
    \qquad
    \max_{y \ge 0,\ \nu} \nu \ \text{s.t.}\ \sum_j y_{ij} = w_i,\
    \sum_{ij} y_{ij} \ell_{ijk} \ge \nu\ \forall k,

give optimal weights and, through :math:`Q_{ij} = y_{ij} / w_i`, an optimal randomized
adversary (MNE21, Thm. 1 in the finite case: no duality gap).

The certificate a :class:`~advgame.result.Result` reports (``value`` :math:`R(\lambda)`,
``lower_bound`` :math:`D(Q)`, ``gap``) is always computed in float64 from the returned
weights and adversary on the user's own game (one streamed pass over the stored tensor),
never from packed, pruned or merged rows: a reduction can make a solve faster, never make a
wrong answer look certified.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ..._validation import check_bool, check_choice, check_int, check_real, check_simplex
from ...result import MAX_STEPS, OPTIMAL, OPTIMAL_INACCURATE, TIME_LIMIT, Result, SolverWarning
from .cvxpy_lp import installed_solvers, solve_cvxpy
from ...adversary import SparseAdversary
from .highs import lp_scale, solve_merged, solve_rows, sparse_adversary_from_duals
from .cuts import solve_multicut
from .device import DeviceView, device_view
from .pruning import MAX_PACKED_BITS, merge_samples, scan_binary
from ..driver import progress_bar

__all__ = ["solve_lp", "STRATEGIES", "SOLVERS"]

STRATEGIES = ("auto", "prune", "cg", "cuts", "full")
SOLVERS = ("highs", "cvxpy")
#: ``strategy="auto"`` solves the pruned LP when it has at most this many rows, or when
#: pruning and merging removed at least half of the rows; else constraint generation
#: (an LP on almost all rows is far slower than a few constraint-generation rounds).
AUTO_SMALL_LP = 4096
#: ``strategy="auto"`` on games that are not pruned uses aggregated cuts (:mod:`.cuts`) from
#: this many rows on, per-sample constraint generation below (measured on MNE21-like sigmoid
#: games: cg is faster at N * m = 10^6, aggregated cuts 3-5x faster at 10^7).  Re-measured with
#: the K-group multi-cut (issue 21; N = 10^3 and 3 * 10^3, m = 1000, L = 10, medians of 3 under
#: load): cg 0.074 / 1.32 s, cuts 0.059 / 1.39 s, comparable below the threshold, so it stays.
AUTO_CUTS_ROWS = 4_000_000
#: Default rounds of ``strategy="cuts"`` (a round adds at most one cut per group of samples: with few
#: groups it needs more, cheaper rounds).
CUTS_MAX_ITER = 1000


def _check_options(view, solver, strategy, tol, max_iter, max_rounds, time_limit, cvxpy_solver, init):
    check_choice("solver", solver, SOLVERS)
    check_choice("strategy", strategy, STRATEGIES)
    if tol is None:  # relative to the losses' scale: a game of tiny losses is not certified at once;
        # a float32 game's weights and risk are rounded to float32: no gap below its precision
        tol = max(1e-9, 8 * view.nx.eps(view.losses)) * (view.max_loss if view.max_loss > 0 else 1.0)
    else:
        try:
            tol = check_real("tol", tol, lo=0.0, lo_open=True)
        except ValueError:
            raise ValueError(f"tol must be a positive number, finite; got {tol}") from None
    if max_rounds is not None:
        warnings.warn("max_rounds is deprecated; use max_iter", DeprecationWarning, stacklevel=4)
        if max_iter is not None:
            raise TypeError("give max_iter only (max_rounds is its deprecated alias)")
        max_iter = check_int("max_rounds", max_rounds, 1)
    max_iter = None if max_iter is None else check_int("max_iter", max_iter, 1)
    time_limit = check_real("time_limit", time_limit, lo=0.0, lo_open=True, allow_none=True, allow_inf=True)
    if time_limit is not None and time_limit == float("inf"):
        time_limit = None
    if solver == "cvxpy":
        choices = installed_solvers()
        if cvxpy_solver is None:
            cvxpy_solver = "HIGHS" if "HIGHS" in choices else "CLARABEL"
        elif not isinstance(cvxpy_solver, str):
            raise TypeError(f"cvxpy_solver must be a string, one of {choices}; got {cvxpy_solver!r}")
        elif cvxpy_solver not in choices:
            raise ValueError(f"cvxpy_solver must be one of the installed cvxpy solvers {choices}; "
                             f"got {cvxpy_solver!r}")
    L = view.shape[2]
    init = None if init is None else check_simplex(init, L, "init")
    return tol, max_iter, time_limit, cvxpy_solver, init


def _reduce_binary(view, w, active):
    """Prune and merge a 0/1 game: the merged LP's data (see :func:`.highs.solve_merged`),
    or None when the game is not 0/1 (found in the same streamed pass that packs it)."""
    N, m, L = view.shape
    # compiled fused pass where numba is available, else numpy; a torch game's device scan
    rows = view.scan_binary() if isinstance(view, DeviceView) else scan_binary(view)
    if rows is None:
        return None
    ui, uc, ujs = rows
    hi = float(view.max_loss)
    group, pos, patterns = merge_samples(ui, uc, N, active)
    G = patterns.shape[0]
    gi, gp = np.nonzero(patterns >= 0)  # group rows, in group order
    gcodes = patterns[gi, gp]
    grows = ((gcodes[:, None] >> np.arange(L)) & 1).astype(np.float64) * hi
    W = np.bincount(group[active], weights=w[active], minlength=G)
    return dict(ui=ui, ujs=ujs, group=group, pos=pos, gi=gi, grows=grows, W=W, active=active)


class _FromNumpyLike:
    """A numpy array as an array of ``proto``'s library, dtype and device (picklable, so
    that a result whose adversary is still sparse can be pickled)."""

    def __init__(self, proto):
        self.proto = proto

    def __call__(self, dense):
        from ...backend import get_backend

        return get_backend(self.proto).from_numpy(dense, type_as=self.proto)


def solve_lp(game, *, solver="highs", strategy="auto", tol=None, max_iter=None, time_limit=None,
             cvxpy_solver=None, init=None, max_rounds=None, verbose=False):
    r"""Solve the empirical game exactly: optimal weights, optimal adversary, certificate.

    Parameters
    ----------
    game : Game
        numpy or torch; the result of a torch game is returned as tensors on its device
        and dtype.  A torch game off the CPU (CUDA) keeps its tensor there
        (:mod:`advgame.solvers.lp.device`): the 0/1 check, bit codes, distinct and
        undominated codes of each sample, the float64 certificate and the best-response
        passes of constraint generation run on the device in torch ops, block by block
        over samples, and only the kept codes, ``(N,)`` maxima and argmaxes and the LP's
        rows go to the host (HiGHS runs there); the answer is the host path's (the same
        pruned LP; float64 passes rounded as a float64 dot product).  A torch game on the
        CPU takes the host path (a zero-copy numpy view, faster there);
        ``ADVGAME_LP_DEVICE=1``/``0`` in the environment forces the device/host path.
    solver : {"highs", "cvxpy"}
        ``"highs"`` (default): HiGHS (dual simplex, through highspy) on a reduced LP.
        ``"cvxpy"``: the plain full LP through cvxpy, an independent cross-check.
    strategy : {"auto", "prune", "cg", "full"}
        How to keep the LP small. ``"prune"``: bit-pack 0/1 rows and drop duplicate and
        dominated ones, merge identical samples (needs a 0/1 game with L <= 62);
        ``"cg"``: constraint generation (each round adds each sample's best response);
        ``"cuts"``: K-group multi-cut constraint generation in the L-dimensional weight
        space with a trust region: each round one fused float64 pass adds, per group of
        samples, the sum of their best-response rows as one cut
        (:func:`advgame.solvers.lp.cuts.solve_multicut`: a small master LP, for large
        real-valued games); ``"full"``: every valid row. ``"auto"``: pruning for 0/1 games
        with L <= 62 when it shrinks the LP (to at most 4096 rows, or by at least half),
        else ``"cuts"`` from 4 * 10^6 valid rows on and ``"cg"`` below.
    tol : float, optional
        Certified duality gap to reach, finite and positive (default ``1e-9`` times the
        largest loss of the game, so that the tolerance follows the losses' scale; for a
        float32 game 8 float32 epsilons, about 1e-6, times it: the weights it returns and
        their risk are float32).
    max_iter : int, optional
        Constraint-generation rounds before giving up (status ``max_steps``, as for the
        first-order solvers; ``optimal_inaccurate`` is kept for numerical trouble);
        default 100 (``"cuts"``: 1000, at most one cut per group of samples a round).
    time_limit : float, optional
        Seconds; passed to HiGHS and checked between rounds. When it runs out the result
        has status ``time_limit``, the best weights found so far (``init`` or uniform when
        none) and their honest certificate.
    cvxpy_solver : str, optional
        cvxpy solver name for ``solver="cvxpy"``, one of ``cvxpy.installed_solvers()``
        (default HiGHS when cvxpy has it, else CLARABEL).
    init : array (L,), optional
        Warm-start weights on the simplex: constraint generation starts from the best
        responses to them instead of the uniform mixture (validated, and otherwise unused,
        by the pruned 0/1 path).
    max_rounds : int, optional
        Deprecated alias of ``max_iter``.
    verbose : bool
        A progress bar on stderr over the rounds of ``"cg"`` and ``"cuts"`` (the certified
        gap of each round's weights, the LP's rows); the pruned and full LPs are one
        solve each. The result is the same either way.

    Returns
    -------
    Result
        ``weights`` (L,), ``value`` :math:`R(\lambda)`, ``adversary`` (N, m) (kept sparse:
        ``adversary_sparse``, dense on first access),
        ``lower_bound`` :math:`D(Q)`, ``gap``, ``status``, ``nit`` (rounds), ``info``
        with the strategy, number of LP rows and timings. The certificate is computed in
        float64 on the game itself, for the weights as returned (rounded to a torch game's
        dtype): ``value`` is at least their risk as they are and renormalized, and for a
        float32 game the risk the game computes for them in float32, so
        ``game.risk(res.weights) <= res.value``.

    References
    ----------
    MNE21, Sec. 4.2 (the finite mixture problem) and Thm. 1 (no duality gap).
    """
    t0 = time.perf_counter()
    gview = game.view()
    verbose = check_bool("verbose", verbose)
    tol, max_iter, time_limit, cvxpy_solver, init = _check_options(
        gview, solver, strategy, tol, max_iter, max_rounds, time_limit, cvxpy_solver, init)
    view = device_view(gview, solver)  # a torch game's evaluations on its device, else the numpy view
    N, m, L = view.shape
    w = view.sample_weights_float64
    active = w > 0
    scale = lp_scale(view.max_loss)
    info = {"solver": solver}
    if isinstance(view, DeviceView):
        info["device"] = str(view.device)
    rows_total = int(N * m if view.mask_numpy is None else view.mask_numpy.sum())
    start = np.full(L, 1.0 / L) if init is None else init

    def left():
        return None if time_limit is None else time_limit - (time.perf_counter() - t0)

    lam = Q = support = None
    if solver == "cvxpy":
        lam, Q, status, message, nit, extra = solve_cvxpy(view, w, active, cvxpy_solver)
        info.update(extra)
    else:
        info["rows_total"] = rows_total
        red = None
        if strategy in ("auto", "prune") and L <= MAX_PACKED_BITS and view.binary_known is not False:
            tp = time.perf_counter()
            red = _reduce_binary(view, w, active)  # detects 0/1 in the same pass (None when not)
        if strategy == "prune" and red is None:
            raise ValueError(
                "strategy='prune' needs a 0/1 game (every loss 0 or one common value) with "
                f"at most {MAX_PACKED_BITS} classifiers; this game has L={L}, is_binary={view.is_binary}"
            )
        if red is not None:
            red["rows_total"] = rows_total
            info.update(prune_time=time.perf_counter() - tp, rows_kept=int(red["ui"].size),
                        samples_merged=int(red["W"].size))
            n_rows = red["gi"].size
            if strategy == "auto" and n_rows > AUTO_SMALL_LP and 2 * n_rows > rows_total:
                red = None  # pruning removed little: constraint generation is faster
        if red is not None:
            info.update(strategy="prune", rows=int(red["gi"].size))
            if left() is not None and left() <= 0:
                status, message, nit = TIME_LIMIT, "time limit reached before the LP was built", 0
            else:
                tl = time.perf_counter()
                lam, Q, status, message, nit, support = solve_merged(view, red, tol, left, scale)
                info["lp_time"] = time.perf_counter() - tl
        else:
            if strategy == "auto":
                strategy = "cuts" if rows_total >= AUTO_CUTS_ROWS else "cg"
            info["strategy"] = strategy
            tl = time.perf_counter()
            rounds = (CUTS_MAX_ITER if strategy == "cuts" else 100) if max_iter is None else max_iter
            bar = progress = None
            if verbose and strategy != "full":  # a tick per round: the certified gap of its weights, the rows
                bar = progress_bar(rounds, f"solve(method='lp', strategy={strategy!r})")

                def progress(rnd, gap, n_rows):
                    bar.n = rnd
                    bar.set_postfix_str(f"gap={max(gap, 0.0):.3e}, rows={n_rows}")
            try:
                if strategy == "cuts":
                    lam, Q, status, message, nit, n_rows = solve_multicut(view, w, active, tol, rounds, left, scale,
                                                                          start, progress=progress)
                else:
                    lam, Q, status, message, nit, n_rows = solve_rows(view, w, active, strategy, tol, rounds, left,
                                                                      scale, start, progress=progress)
            finally:
                if bar is not None:
                    bar.close()
            info.update(rows=int(n_rows), lp_time=time.perf_counter() - tl)
            if status == OPTIMAL_INACCURATE and strategy != "full" and nit >= rounds:
                status = MAX_STEPS  # the rounds ran out: the first-order solvers' status for max_iter
    if lam is None:  # no LP solution: the starting weights and their best response
        lam = start
        Q = sparse_adversary_from_duals(view, lam, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), active)
    # the certificate, in float64 from the game itself, of the weights as they are returned
    lam_cert = lam
    if gview.nx is not view.nx:  # returned in the game's dtype: certify those rounded weights
        lam_cert = np.asarray(gview.nx.host_float64(gview.nx.from_numpy(lam, type_as=gview.losses)))
    value, adv_losses = view.certificate(lam_cert, Q, support)  # Q a SparseAdversary: its support's rows
    value = max(value, value / float(np.sum(lam_cert)))  # and of the mixture they stand for (R is homogeneous)
    if gview.nx.dtype_name(gview.losses) != "float64":  # and as the game's own arithmetic evaluates them
        value = max(value, float(game.risk(gview.nx.from_numpy(lam, type_as=gview.losses)
                                           if gview.nx is not view.nx else lam)))
    lower = min(float(adv_losses.min()), value)  # R >= D by weak duality; D above R is rounding
    gap = max(0.0, value - lower)
    if status == OPTIMAL and not gap <= tol:
        status = OPTIMAL_INACCURATE
        message = (f"the LP solver stopped but the certified duality gap {gap:.3e} exceeds tol={tol:.1e} "
                   "(numerical trouble); the weights are within that gap of optimal")
    if status != OPTIMAL:
        warnings.warn(f"solve(method='lp'): {status}: {message}", SolverWarning, stacklevel=3)

    weights_out, Q_out, losses_out, convert = lam, Q, adv_losses, None
    if gview.nx is not view.nx:  # back to the game's library, device and dtype
        like = gview.losses
        weights_out = gview.nx.from_numpy(lam, type_as=like)
        losses_out = gview.nx.from_numpy(adv_losses, type_as=like)
        if isinstance(Q, SparseAdversary):  # made dense (and converted) when first read
            convert = _FromNumpyLike(gview.nx.zeros((0,), type_as=like))
        else:
            Q_out = gview.nx.from_numpy(Q, type_as=like)
    res = Result(
        weights=weights_out, value=float(value), adversary=Q_out, gap=float(gap), lower_bound=lower,
        adversary_losses=losses_out, status=status, message=message, nit=nit,
        time=time.perf_counter() - t0, history=[], method="lp", info=info,
    )
    if convert is not None:
        res._adversary_convert = convert
    return res
