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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .adversary import SparseAdversary

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
#: misses ``tol``); a warning is emitted.  (Not the end of ``max_iter``: that is
#: :data:`MAX_STEPS` for every method.)
OPTIMAL_INACCURATE = "optimal_inaccurate"
#: A tolerance was requested and the iteration limit (``max_iter``) ran out before the
#: gap reached it; a warning is emitted.  One status for one event, whatever the method:
#: the first-order solvers' iterations and the LP's constraint-generation rounds.
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


#: The order of a result's keys (then its ``info`` entries); ``repr`` follows it.
_FIELDS = ("method", "status", "success", "message", "value", "lower_bound", "gap", "weights", "adversary",
           "adversary_losses", "nit", "time", "history")
#: scipy's names for two fields (``OptimizeResult.x`` / ``.fun``).
_ALIASES = {"x": "weights", "fun": "value"}


@dataclass(eq=False)
class Result(Mapping):
    """What a solver found, with its certificate.

    A result behaves like scipy's ``OptimizeResult``: every entry is an attribute and a
    key (``res.gap``, ``res["gap"]``, ``"gap" in res``, ``res.keys()``, ``dict(res)``),
    ``x`` and ``fun`` are scipy's names of ``weights`` and ``value`` (aliases: they read
    as attributes and items but are not entries, so ``"x" in res`` is False, as
    ``"x" in res.keys()``), and ``repr`` lists
    the entries as aligned ``key: value`` lines with arrays abbreviated.  The
    method-specific entries of ``info`` are entries too: they are listed by ``keys()``
    and ``dir()`` (so tab completion offers them) and read as attributes.

    Attributes
    ----------
    weights : array (L,)
        The defender's mixture on the probability simplex (same library, device and
        dtype as the game).  Alias ``x``.
    value : float
        The adversarial risk :math:`R(\\lambda)` of ``weights`` (an upper bound on the
        game's value).  Alias ``fun``.
    adversary : array (N, m) or None
        The adversary's randomized strategy: row ``i`` is a distribution over sample
        ``i``'s valid attacks (zero on masked ones).  ``None`` only when a custom
        oracle was used (then see ``adversary_losses``).  The exact solver keeps it
        sparse (``adversary_sparse``) and builds this dense array on first access.
    adversary_sparse : SparseAdversary or None
        The same strategy as :class:`~advgame.adversary.SparseAdversary` (support and
        probabilities, float64 numpy): what ``method="lp"`` returns without building the
        ``(N, m)`` array; built from ``adversary`` for the other methods.  Not a key.
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
    success : bool
        ``status`` is ``optimal``, ``steps_completed`` or ``callback`` (read-only).
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
        for the entropic method, row counts for the LP); each is also an entry of the
        result (``res.bound``, ``res["bound"]``).

    Examples
    --------
    >>> import advgame
    >>> res = advgame.solve(advgame.examples.motivating_game())
    >>> res.status, res["value"], res.fun == res.value, res.x is res.weights
    ('optimal', 0.75, True, True)
    >>> "gap" in res, "rows" in res, "bound" in res      # the LP has row counts, no bound
    (True, True, False)
    >>> res.rows == res.info["rows"] == res["rows"] and "rows" in dir(res)
    True
    >>> list(res.keys())[:4]
    ['method', 'status', 'success', 'message']
    >>> print(res)                                        # doctest: +ELLIPSIS
              method: lp
              status: optimal
             success: True
             message: exact LP on 3 rows: 4 undominated rows of 9, 2 distinct samples
               value: 0.75
    ...
             weights: [0.5 0.5]
    ...
                rows: 3
    ...
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

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.__dict__.get("info") or ()))

    @property
    def success(self) -> bool:
        """True when the certificate met the requested tolerance, or the requested
        iterations ran (no ``tol``), or the user's callback stopped the run."""
        return self.status in (OPTIMAL, STEPS_COMPLETED, CALLBACK)

    @property
    def x(self):
        """scipy's name of ``weights``."""
        return self.weights

    @property
    def fun(self) -> float:
        """scipy's name of ``value``."""
        return self.value

    # ------------------------------------------------------------ mapping access
    def keys(self):
        """The entries: the fields (``success`` included, ``info`` excluded) in a fixed
        order, then the ``info`` entries whose names are not fields (a snapshot, as
        ``dict_keys``; the aliases ``x``, ``fun`` and ``info`` itself are not listed)."""
        return dict.fromkeys(self).keys()

    def __iter__(self):
        yield from _FIELDS
        for k in self.info:
            if k not in _FIELDS:
                yield k

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key) -> bool:
        """``key in result`` is ``key in result.keys()``: the aliases ``x``, ``fun`` and
        ``info`` read as items but are not entries (so ``in`` and ``keys()`` agree)."""
        return isinstance(key, str) and (key in _FIELDS or (key in self.info and key != "info"))

    def __getitem__(self, key):
        if not isinstance(key, str):
            raise KeyError(key)
        if key in _FIELDS or key == "info":
            return getattr(self, key)
        if key in _ALIASES:
            return getattr(self, _ALIASES[key])
        if key in self.info:
            return self.info[key]
        raise KeyError(key)

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
        keys = list(self)
        width = max(map(len, keys))
        lines = []
        for k in keys:
            v = self[k] if k != "adversary" else self.__dict__.get("_adversary_dense", self.__dict__.get("_adversary"))
            text = _short(v, k).replace("\n", "\n" + " " * (width + 2))
            lines.append(f"{k:>{width}}: {text}")
        return "\n".join(lines)

    __str__ = __repr__


def _get_adversary(self):
    Q = self.__dict__.get("_adversary")
    if not isinstance(Q, SparseAdversary):
        return Q
    dense = self.__dict__.get("_adversary_dense")
    if dense is None:  # built on first access, in the game's library, device and dtype
        convert = self.__dict__.get("_adversary_convert")
        dense = Q.toarray() if convert is None else convert(Q.toarray())
        self.__dict__["_adversary_dense"] = dense
    return dense


def _set_adversary(self, Q):
    self.__dict__["_adversary"] = Q
    self.__dict__.pop("_adversary_dense", None)


def _get_adversary_sparse(self):
    Q = self.__dict__.get("_adversary")
    if Q is None or isinstance(Q, SparseAdversary):
        return Q
    if hasattr(Q, "detach"):
        Q = Q.detach().cpu().numpy()
    Q = np.asarray(Q, dtype=np.float64)
    i, j = np.nonzero(Q)
    return SparseAdversary(i, j, Q[i, j], Q.shape)


# ``adversary`` holds what the solver gave (dense, or a SparseAdversary made dense on first read)
Result.adversary = property(_get_adversary, _set_adversary, doc="The adversary's strategy, (N, m) (see the class).")
Result.adversary_sparse = property(_get_adversary_sparse, doc="The adversary as a SparseAdversary (see the class).")


def _short(v, key: str = "") -> str:
    """One entry of ``Result.__repr__``: numbers in full, arrays and lists abbreviated."""
    if v is None or isinstance(v, (bool, str, int, np.integer)):
        return str(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if key == "time":
            return f"{v:.4g} s"
        return f"{v:.3e}" if key == "gap" else f"{v:.10g}"
    suffix = ""
    if hasattr(v, "detach"):  # a torch tensor: its values, then its dtype and device
        suffix = f"  ({str(v.dtype).replace('torch.', 'torch ')} on {v.device})"
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return np.array2string(v, precision=4, suppress_small=True, threshold=12, edgeitems=3) + suffix
    if isinstance(v, SparseAdversary):
        return repr(v) + " (dense on access)"
    if isinstance(v, (list, tuple)):
        if len(v) and all(isinstance(x, (int, float, np.integer, np.floating)) for x in v):
            xs = [f"{float(x):.4g}" for x in v]
            if len(xs) > 6:
                xs = xs[:3] + ["..."] + xs[-3:]
            return f"[{', '.join(xs)}]" + (f" ({len(v)} entries)" if len(v) > 6 else "")
        return f"list of {len(v)}" if len(v) > 6 else repr(v)
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."
