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

The loop is the shared driver's (:mod:`advgame.solvers.driver`): one evaluation of the
oracle at :math:`\lambda_{t-1}`, the stopping rule, then the step to :math:`\lambda_t`;
``nit`` counts the steps taken.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from .._validation import check_bool, check_real
from ..result import Result
from .driver import (SampleSum, SolverState, certificate64, check_run_options, finish, is_float64, renamed, run,
                     sound, start_weights)

__all__ = ["solve_oracle", "OracleMethod", "OracleState"]


@dataclass(eq=False)
class OracleState(SolverState):
    """:class:`~advgame.solvers.driver.SolverState` of MNE21 Alg. 1, plus its buffers:
    ``g`` (the last subgradient), ``sum_g`` (float64 sum of the subgradients),
    ``counts`` (how often each attack was the best response; None with a custom
    oracle) and ``n_eval`` (oracle calls)."""

    g: Any = None
    sum_g: Any = None
    counts: Any = None
    n_eval: int = 0


class OracleMethod:
    """MNE21 Alg. 1 as ``init`` / ``evaluate`` / ``step`` on an :class:`OracleState`.

    Parameters
    ----------
    view : GameView
        The game's solver view.
    step_size : float
        :math:`\\eta`.
    oracle : callable or None
        ``oracle(weights) -> losses``; None: the exact best response.
    reduce : SampleSum
        Sums over samples (across ranks when distributed).
    """

    def __init__(self, view, step_size, oracle, reduce):
        self.view, self.nx, self.F = view, view.nx, view.losses
        self.eta, self.oracle, self.reduce = step_size, oracle, reduce
        N, m, L = view.shape
        self.N, self.m, self.L = N, m, L
        self.w = view.sample_weights
        self.w64 = self.nx.float64(self.w)
        self.exact = is_float64(view)
        self.base = self.nx.arange(N, like=self.F) * m if oracle is None else None

    def init(self, weights) -> OracleState:
        nx, F = self.nx, self.F
        counts = nx.zeros((self.N * self.m,), type_as=F) if self.oracle is None else None
        return OracleState(weights=weights, best_weights=weights, sum_g=nx.float64(nx.zeros((self.L,), type_as=F)),
                           counts=counts)

    def evaluate(self, st: OracleState) -> None:
        nx, lam = self.nx, st.weights
        if self.oracle is None:
            s = self.view.scores(lam)
            _, jstar = nx.max_argmax(s, axis=1)
            rows = nx.gather_rows(self.F, jstar)
            g = self.reduce(rows @ self.w)
            # the certificate's sums in float64 (the same arrays for a float64 game)
            g64 = g if self.exact else self.reduce(nx.float64(rows) @ self.w64)
            nx.add_at(st.counts, self.base + jstar, 1.0)
        else:
            g = self.reduce(_call_oracle(self.oracle, lam, self.L, nx, self.F, self.view.bound))
            g64 = nx.float64(g)
        val = nx.scalar(nx.float64(lam) @ g64)
        st.n_eval += 1
        st.history.append(val)
        if val < st.value:
            st.value, st.best_weights = val, lam
        st.sum_g = st.sum_g + g64
        st.lower_bound = nx.scalar(nx.min(st.sum_g)) / st.n_eval
        st.gap = st.value - st.lower_bound
        st.g = g

    def step(self, st: OracleState) -> None:
        st.weights = self.nx.proj_simplex(st.weights - self.eta * st.g)


def solve_oracle(game, max_iter=None, oracle=None, tol=None, step_size=None, oracle_delta: float = 0.0,
                 distributed: bool = False, time_limit=None, *, init=None, callback=None, steps=None,
                 verbose=False):
    r"""MNE21 Algorithm 1 (oracle-based projected subgradient).

    Parameters
    ----------
    game : Game
        numpy or torch (any device and float dtype); results keep its library, device
        and dtype.
    max_iter : int
        T, the number of iterations (weight updates; also sets the paper's step size).
        Default 1000.
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
        :math:`D(\bar Q_t)`) is at most ``tol``; checked every iteration, at no extra cost.
    step_size : float, optional
        :math:`\eta`; default the paper's :math:`2/(M\sqrt{LT})`.
    oracle_delta : float
        The oracle's accuracy :math:`\delta` used in the reported bound (0 for exact).
    distributed : bool
        All-reduce the per-iteration sums over samples across ``torch.distributed``
        ranks (each rank's game holds its own shard of the samples).
    time_limit : float, optional
        Seconds; the run stops with status ``time_limit`` when exceeded.
    init : array (L,), optional
        Warm start: the first iterate :math:`\lambda_0` (weights on the simplex, up to
        ``max(1e-9, 1000 eps)`` of the dtype, the simplex tolerance); default uniform.
    callback : callable, optional
        ``callback(state) -> bool`` called after each evaluation with the
        :class:`OracleState` (``nit``, ``weights``, ``best_weights``, ``value``,
        ``lower_bound``, ``gap``, ``elapsed``); returning True stops the run with status
        ``"callback"``.
    steps : int, optional
        Deprecated name of ``max_iter`` (DeprecationWarning).
    verbose : bool
        Show a tqdm progress bar on stderr over the ``max_iter`` iterations, with the
        certified gap of the last evaluation; the result is the same either way.

    Returns
    -------
    Result
        ``weights``: the best iterate; ``value``: its risk; ``adversary``: the average
        of the best responses; ``history``: :math:`R(\lambda_t)` per evaluation (the
        oracle's value for a custom oracle); ``nit``: iterations (steps) taken;
        ``info["bound"]``: the Prop. 6 bound :math:`2\delta + 2M\sqrt L/\sqrt T`;
        ``info["bound_run"]``: the sharper subgradient bound for the iterations
        actually run and the step size used.  ``value``, ``lower_bound`` and ``gap``
        are float64 evaluations on the game (for a float32 game too), with
        ``gap >= 0``.

    Raises
    ------
    TypeError, ValueError
        For a wrong argument, naming it; ``step_size`` so large that a step would
        overflow the game's dtype is a ValueError.

    References
    ----------
    MNE21, Alg. 1 and Prop. 6; Boyd, Subgradient methods (2003).
    """
    t0 = time.perf_counter()
    name, max_iter = renamed("solve_oracle", "max_iter", max_iter, "steps", steps, 1000)
    T, tol, time_limit = check_run_options(name, max_iter, tol, time_limit, callback)
    verbose = check_bool("verbose", verbose)
    delta = check_real("oracle_delta", oracle_delta, lo=0)
    if oracle is not None and not callable(oracle):
        raise TypeError(f"oracle must be callable as oracle(weights) -> losses (L,); got {type(oracle).__name__}")
    view = game.view()
    nx = view.nx
    N, m, L = view.shape
    M = view.bound
    if step_size is None:
        eta = 2.0 / (M * math.sqrt(L * T))
    else:
        eta = check_real("step_size", step_size, lo=0, lo_open=True)
        limit = 1e-3 * nx.dtype_max(view.losses) / M
        if eta > limit:
            raise ValueError(f"step_size must be at most {limit:.3g} for this game (step_size * bound would "
                             f"overflow {nx.dtype_name(view.losses)}); got {eta:g}")
    reduce = SampleSum(view, distributed)
    method = OracleMethod(view, eta, oracle, reduce)
    state = method.init(start_weights(view, init))
    reason = run(method, state, max_iter=T, tol=tol, time_limit=time_limit, callback=callback, t0=t0,
                 verbose=verbose, label="solve(method='oracle')")

    nit, n_eval = state.nit, state.n_eval
    best = state.best_weights
    adv_losses = state.sum_g / n_eval
    value, lower = state.value, nx.scalar(nx.min(adv_losses))
    info = {
        "step_size": eta,
        "bound": 2 * delta + 2 * M * math.sqrt(L) / math.sqrt(T),
        "bound_run": 2 * delta + (1 - 1 / L) / (2 * eta * n_eval) + eta * M * M * L / 2,
        "gap_history": state.gap_history,
        "oracle": "exact best response" if oracle is None else getattr(oracle, "__name__", type(oracle).__name__),
    }
    if oracle is None:
        adversary = (state.counts / n_eval).reshape(N, m)
        if not method.exact:  # the certificate of a low-precision game, in float64
            value, adv_losses = certificate64(view, best, adversary, reduce)
            lower = nx.scalar(nx.min(adv_losses))
    else:
        adversary = None
        info["game_risk"] = reduce_risk(view, best, reduce)
    value, lower, gap = sound(value, lower)
    status, message = finish("oracle", reason, tol, gap, nit, T, name)
    return Result(
        weights=best, value=value, adversary=adversary, gap=gap, lower_bound=lower,
        adversary_losses=nx.astype(adv_losses, view.losses), status=status, message=message, nit=nit,
        time=time.perf_counter() - t0, history=state.history, method="oracle", info=info,
    )


def reduce_risk(view, lam, reduce):
    """R(lam) over all ranks' samples."""
    nx = view.nx
    mx = nx.max(view.scores(lam), axis=1)
    local = (view.sample_weights @ mx).reshape(1)
    return nx.scalar(reduce(local)[0])


def _call_oracle(oracle, lam, L, nx, F, bound=None):
    """The oracle's losses at ``lam``, checked on every call: shape (L,), finite, and in
    ``[0, bound]`` (expected losses of the game's loss; anything else would certify a
    wrong value)."""
    g = oracle(nx.copy(lam))
    try:
        g = nx.asarray(g, type_as=F)
    except Exception as e:  # noqa: BLE001 - report what the oracle returned
        raise TypeError(f"oracle must return an array of {L} per-classifier losses; got {type(g).__name__}: "
                        f"{e}") from None
    if tuple(g.shape) != (L,):
        raise ValueError(f"oracle must return per-classifier losses of shape ({L},); got shape {tuple(g.shape)}")
    if not nx.all_finite(g):
        raise ValueError("oracle returned NaN or inf losses")
    if bound is not None:
        lo, hi = nx.scalar(nx.min(g)), nx.scalar(nx.max(g))
        slack = float(bound) * max(1e-12, 8 * nx.eps(F))  # the oracle's own rounding
        if lo < -slack or hi > bound + slack:
            raise ValueError(f"oracle returned losses outside [0, bound={bound:g}] (min {lo:.6g}, max {hi:.6g}): "
                             "an oracle returns expected losses of the game's loss, each in [0, bound]; fix the "
                             "oracle or give the right bound")
    return g
