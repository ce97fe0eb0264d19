r"""MNE21 Algorithm 1: projected subgradient with an attack oracle.

.. math::

    \lambda_0 = \tfrac1L \mathbf 1,\qquad
    g_t = \Big(\textstyle\sum_i w_i\, E_{\tilde Q_i}[\ell_{\cdot k}]\Big)_{k\le L},\qquad
    \lambda_t = \Pi_{\Delta_L}(\lambda_{t-1} - \eta\, g_t),\qquad
    \eta = \frac{2}{M\sqrt{LT}},

where :math:`\tilde Q` is a :math:`\delta`-approximate best response of the adversary
to :math:`\lambda_{t-1}`, so that :math:`g_t` is a subgradient of :math:`R` at
:math:`\lambda_{t-1}` and :math:`\lambda_{t-1}^\top g_t = R(\lambda_{t-1})` for the
exact oracle.  Guarantee (MNE21, Prop. 6):

.. math::

    \min_{t \le T} R(\lambda_t) - R^* \le 2\delta + \frac{2M\sqrt L}{\sqrt T}.

Certificate.  The average :math:`\bar Q_T = \frac1T\sum_t \tilde Q_t` of the
adversary's best responses is itself a randomized adversary, and its per-classifier
losses are the average :math:`\bar g_T` of the subgradients (linearity), so
:math:`D(\bar Q_T) = \min_k \bar g_{T,k}` costs nothing.  By the regret bound of
projected subgradient descent, :math:`\min_t R(\lambda_t) - D(\bar Q_T) \le
\frac{1 - 1/L}{2\eta T} + \frac{\eta M^2 L}{2}` for the exact oracle: the gap of the
pair (best iterate, average adversary) is a certificate that shrinks like the bound.
"""

from __future__ import annotations

import math
import time

from ..result import Result
from ._common import SampleSum, check_positive_float, check_positive_int, final_status
from .simplex import proj_simplex

__all__ = ["solve_oracle"]


def solve_oracle(game, steps: int = 1000, oracle=None, tol=None, step_size=None, oracle_delta: float = 0.0,
                 distributed: bool = False, time_limit=None):
    r"""MNE21 Algorithm 1 (oracle-based projected subgradient).

    Parameters
    ----------
    game : Game
        numpy or torch (any device and float dtype); results keep its library, device
        and dtype.
    steps : int
        T, the number of iterations (also sets the paper's step size).
    oracle : callable, optional
        ``oracle(weights) -> losses`` where ``weights`` is the current mixture (an
        array/tensor of shape (L,) like the game's) and ``losses`` (L,) are the
        per-classifier expected losses, averaged over samples, under an (approximate)
        adversary best response to ``weights``.  Default: the exact best response over
        the game's candidate attacks (:meth:`Game.best_response`).  With a custom
        oracle ``adversary`` is None and ``value`` is the oracle's value
        :math:`\lambda^\top g` (``info["game_risk"]`` holds the exact risk on the
        game's candidates).
    tol : float, optional
        Stop as soon as the certified duality gap (best iterate's risk minus
        :math:`D(\bar Q_t)`) is at most ``tol``; checked every step, at no extra cost.
    step_size : float, optional
        :math:`\eta`; default the paper's :math:`2/(M\sqrt{LT})`.
    oracle_delta : float
        The oracle's accuracy :math:`\delta` used in the reported bound (0 for exact).
    distributed : bool
        All-reduce the per-step sums over samples across ``torch.distributed`` ranks
        (each rank's game holds its own shard of the samples).
    time_limit : float, optional
        Seconds; the run stops with status ``time_limit`` when exceeded.

    Returns
    -------
    Result
        ``weights``: the best iterate; ``value``: its risk; ``adversary``: the average
        of the best responses; ``history``: :math:`R(\lambda_t)` per step (the oracle's
        value for a custom oracle); ``info["bound"]``: the Prop. 6 bound
        :math:`2\delta + 2M\sqrt L/\sqrt T`; ``info["bound_run"]``: the sharper
        subgradient bound for the steps actually run and the step size used.

    References
    ----------
    MNE21, Alg. 1 and Prop. 6; Boyd, Subgradient methods (2003).
    """
    t0 = time.perf_counter()
    T = check_positive_int("steps", steps)
    tol = check_positive_float("tol", tol, allow_none=True)
    time_limit = check_positive_float("time_limit", time_limit, allow_none=True)
    delta = float(oracle_delta)
    if not (math.isfinite(delta) and delta >= 0):
        raise ValueError(f"oracle_delta must be a non-negative number; got {oracle_delta!r}")
    if oracle is not None and not callable(oracle):
        raise TypeError(f"oracle must be callable as oracle(weights) -> losses (L,); got {type(oracle).__name__}")
    nx, F = game._nx, game._F
    N, m, L = game.shape
    M = game.bound
    eta = 2.0 / (M * math.sqrt(L * T)) if step_size is None else check_positive_float("step_size", step_size)
    reduce = SampleSum(game, distributed)

    lam = nx.full((L,), 1.0 / L, type_as=F)
    sum_g = nx.zeros((L,), type_as=F)
    counts = nx.zeros((N * m,), type_as=F) if oracle is None else None
    base = nx.arange(N, like=F) * m if oracle is None else None
    best_val, best_lam = math.inf, lam
    history = []
    gap_history = []
    best_gap = math.inf
    timed_out = False
    nit = 0
    for t in range(1, T + 1):
        if oracle is None:
            s = game._scores(lam)
            mx, jstar = nx.max_argmax(s, axis=1)
            g = nx.gather_rows(F, jstar) @ game._w
            nx.add_at(counts, base + jstar, 1.0)
        else:
            g = _call_oracle(oracle, lam, L, nx, F)
        g = reduce(g)
        val = nx.scalar(lam @ g)
        nit = t
        history.append(val)
        if val < best_val:
            best_val, best_lam = val, lam
        sum_g = sum_g + g
        lower = nx.scalar(nx.min(sum_g)) / t
        best_gap = best_val - lower
        gap_history.append(best_gap)
        if tol is not None and best_gap <= tol:
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            timed_out = True
            break
        lam = proj_simplex(lam - eta * g)

    adv_losses = sum_g / nit
    lower = nx.scalar(nx.min(adv_losses))
    info = {
        "step_size": eta,
        "bound": 2 * delta + 2 * M * math.sqrt(L) / math.sqrt(T),
        "bound_run": 2 * delta + (1 - 1 / L) / (2 * eta * nit) + eta * M * M * L / 2,
        "gap_history": gap_history,
        "oracle": "exact best response" if oracle is None else getattr(oracle, "__name__", type(oracle).__name__),
    }
    if oracle is None:
        adversary = (counts / nit).reshape(N, m)
        value = best_val
    else:
        adversary = None
        value = best_val
        info["game_risk"] = reduce_risk(game, best_lam, reduce)
    gap = value - lower
    status, message = final_status("oracle", tol, gap, timed_out, nit, T)
    return Result(
        weights=best_lam, value=float(value), adversary=adversary, gap=float(gap), lower_bound=float(lower),
        adversary_losses=adv_losses, status=status, message=message, nit=nit,
        time=time.perf_counter() - t0, history=history, method="oracle", info=info,
    )


def reduce_risk(game, lam, reduce):
    """R(lam) over all ranks' samples."""
    nx = game._nx
    s = game._scores(lam)
    mx = nx.max(s, axis=1)
    local = (game._w @ mx).reshape(1)
    return nx.scalar(reduce(local)[0])


def _call_oracle(oracle, lam, L, nx, F):
    g = oracle(nx.copy(lam))
    try:
        g = nx.asarray(g, type_as=F)
    except Exception as e:  # noqa: BLE001 - report what the oracle returned
        raise TypeError(f"oracle must return an array of {L} per-classifier losses; got {type(g).__name__}: {e}") from None
    if tuple(g.shape) != (L,):
        raise ValueError(f"oracle must return per-classifier losses of shape ({L},); got shape {tuple(g.shape)}")
    if not nx.all_finite(g):
        raise ValueError("oracle returned NaN or inf losses")
    return g
