"""The result object every solver returns, and its status strings.

Modelled on scipy's ``OptimizeResult`` (attribute access, a readable ``repr``) and
cvxpy's status strings (plain lowercase words).  A result is a *certificate*: the
defender's ``weights`` and the adversary's randomized strategy ``adversary`` together
bound the game's value from both sides,

.. math::

    D(Q) \\le R^* \\le R(\\lambda), \\qquad \\text{gap} = R(\\lambda) - D(Q) \\ge 0,

so ``gap`` is a proof of how far ``weights`` can be from optimal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Result",
    "SolverWarning",
    "OPTIMAL",
    "OPTIMAL_INACCURATE",
    "MAX_STEPS",
    "STEPS_COMPLETED",
    "TIME_LIMIT",
    "SOLVER_ERROR",
    "CALLBACK",
    "STATUSES",
]

#: The certified duality gap is at most the requested tolerance.
OPTIMAL = "optimal"
#: The solver finished but its certificate is looser than the tolerance (numerical
#: trouble in the LP solver, or a float32 first-order run whose float64 certificate
#: misses ``tol``); a warning is emitted.
OPTIMAL_INACCURATE = "optimal_inaccurate"
#: A tolerance was requested and the iteration limit (``max_iter``) ran out before the
#: gap reached it; a warning is emitted.
MAX_STEPS = "max_steps"
#: No tolerance was requested and the ``max_iter`` iterations were run.
STEPS_COMPLETED = "steps_completed"
#: The time limit stopped the solver before the tolerance was reached; a warning is
#: emitted.
TIME_LIMIT = "time_limit"
#: The underlying LP solver failed; ``message`` holds its words and a warning is
#: emitted.
SOLVER_ERROR = "solver_error"
#: The user's ``callback(state)`` returned True and the first-order solver stopped
#: there; the result holds the best weights so far and their certificate (no warning:
#: the user asked for it).  Counts as a success.
CALLBACK = "callback"


class SolverWarning(RuntimeWarning):
    """A solver stopped without meeting its tolerance (or its LP engine struggled).

    Emitted with the result's ``status`` and ``message``; filter it like any warning,
    e.g. ``warnings.simplefilter("ignore", advgame.SolverWarning)``.
    """


STATUSES = (OPTIMAL, OPTIMAL_INACCURATE, MAX_STEPS, STEPS_COMPLETED, TIME_LIMIT, SOLVER_ERROR, CALLBACK)


@dataclass
class Result:
    """What a solver found, with its certificate.

    Attributes
    ----------
    weights : array (L,)
        The defender's mixture on the probability simplex (same library, device and
        dtype as the game).
    value : float
        The adversarial risk :math:`R(\\lambda)` of ``weights`` (an upper bound on the
        game's value).
    adversary : array (N, m) or None
        The adversary's randomized strategy: row ``i`` is a distribution over sample
        ``i``'s valid attacks (zero on masked ones).  ``None`` only when a custom
        oracle was used (then see ``adversary_losses``).
    gap : float
        Duality gap ``value - lower_bound`` (>= 0; the first-order solvers compute
        both bounds in float64 and never report a negative gap).
    lower_bound : float
        The defender's best single-classifier risk against ``adversary``,
        :math:`D(Q) = \\min_k \\sum_i w_i E_{Q_i}[\\ell_k]` (a lower bound on the value).
    adversary_losses : array (L,)
        Per-classifier expected loss under ``adversary``.
    status : str
        One of :data:`STATUSES`.
    message : str
        A sentence saying why the solver stopped.
    nit : int
        Completed iterations: weight updates of the first-order methods,
        constraint-generation rounds of the LP.
    time : float
        Wall-clock seconds spent in the solver.
    history : list of float
        Per-iteration objective (first-order methods), empty for the LP.
    method : str
        ``"lp"``, ``"oracle"`` or ``"entropic"``.
    info : dict
        Method-specific extras (e.g. ``bound`` for Algorithm 1, ``regularized_value``
        for the entropic method, pruning statistics for the LP).
    """

    weights: Any
    value: float
    adversary: Any
    gap: float
    lower_bound: float
    adversary_losses: Any
    status: str
    message: str
    nit: int
    time: float
    history: list = field(default_factory=list)
    method: str = ""
    info: dict = field(default_factory=dict)

    def __getattr__(self, name):
        # method-specific extras read as attributes: result.bound, result.regularized_value
        info = self.__dict__.get("info")
        if info is not None and name in info:
            return info[name]
        raise AttributeError(f"Result has no attribute {name!r}")

    @property
    def success(self) -> bool:
        """True when the certificate met the requested tolerance, or the requested
        iterations ran (no ``tol``), or the user's callback stopped the run."""
        return self.status in (OPTIMAL, STEPS_COMPLETED, CALLBACK)

    def to_dict(self) -> dict:
        """JSON-friendly dictionary (arrays become nested lists)."""

        def conv(v):
            if v is None or isinstance(v, (str, bool, int)):
                return v
            if isinstance(v, float):
                return v if math.isfinite(v) else str(v)
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            if hasattr(v, "detach"):
                v = v.detach().cpu().numpy()
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, np.generic):
                return v.item()
            return str(v)

        return {
            "method": self.method,
            "status": self.status,
            "message": self.message,
            "weights": conv(self.weights),
            "value": conv(self.value),
            "lower_bound": conv(self.lower_bound),
            "gap": conv(self.gap),
            "adversary_losses": conv(self.adversary_losses),
            "nit": self.nit,
            "time": self.time,
            "history": conv(self.history),
            "info": conv(self.info),
        }

    def __repr__(self) -> str:
        def fmt(v):
            if hasattr(v, "detach"):
                v = v.detach().cpu().numpy()
            if isinstance(v, np.ndarray):
                return np.array2string(v, precision=4, suppress_small=True, threshold=12)
            return repr(v)

        lines = [
            f"     method: {self.method}",
            f"     status: {self.status}",
            f"    message: {self.message}",
            f"      value: {self.value:.10g}",
            f"lower_bound: {self.lower_bound:.10g}",
            f"        gap: {self.gap:.3e}",
            f"    weights: {fmt(self.weights)}",
            f"  adversary: {'None' if self.adversary is None else 'array' + str(tuple(self.adversary.shape))}",
            f"        nit: {self.nit}",
            f"       time: {self.time:.4f} s",
        ]
        for k, v in self.info.items():
            if isinstance(v, (int, float, str)):
                lines.append(f"{k:>11}: {v}")
        return "\n".join(lines)
