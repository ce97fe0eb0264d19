r"""The smallest adversarial risk that *any* classifier reaches on binary data.

For a binary problem the optimal adversarial 0/1 risk over all classifiers --
deterministic or randomized, mixtures included -- is an optimal-transport quantity
(Bhagoji, Cullina and Mittal 2019; Pydi and Jog 2020): two points of opposite labels
whose eps-balls intersect (they *conflict*) cannot both be defended, and the optimum
is the mass of a maximum weighted matching of conflicting pairs.
:func:`optimal_adversarial_risk` computes it exactly for an empirical distribution
with POT's network simplex (``ot.emd``) and returns, besides the value, the matching
(a flow) and a minimum-weight vertex cover (the points an optimal classifier gives
up); the two have equal mass, which certifies both.  ``docs/bounds.md`` gives the
derivation and how to read the bound next to a mixture's risk.

References
----------
.. [1] A. N. Bhagoji, D. Cullina, P. Mittal. "Lower bounds on adversarial robustness
   from optimal transport." NeurIPS 2019.
.. [2] M. S. Pydi, V. Jog. "Adversarial risk via optimal transport and optimal
   couplings." ICML 2020.
.. [3] M. S. Pydi, V. Jog. "The many faces of adversarial risk." NeurIPS 2021
   (unequal class priors).
.. [4] L. Meunier et al. "Mixed Nash equilibria in the adversarial examples game."
   ICML 2021 (MNE21), Sec. 5.1 (the synthetic problem this bound is compared with).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow
from scipy.spatial.distance import cdist

from ._validation import check_array, check_choice, check_real, check_sample_weights, norm_exponent

__all__ = ["OptimalRisk", "Separation", "class_separation", "optimal_adversarial_risk", "conflict_graph", "parse_norm"]

_METHODS = ("ot", "flow")

# rows of the distance matrix computed at a time: keeps one block <= ~32 MB
_BLOCK_BYTES = 32 * 2**20


def parse_norm(norm) -> float:
    """The ``p`` of an :math:`\\ell_p` norm, from ``"l1"``, ``"l2"``, ``"linf"``, ``1``,
    ``2``, ``numpy.inf`` or any real ``p >= 1`` (:func:`advgame._validation.norm_exponent`).

    Raises
    ------
    TypeError
        ``norm`` is neither a number nor a string.
    ValueError
        ``norm`` is a string not in the list, or a number below 1 (not a norm).
    """
    return norm_exponent(norm)


def _cdist_args(p: float) -> dict:
    if p == 1:
        return {"metric": "cityblock"}
    if p == 2:
        return {"metric": "euclidean"}
    if math.isinf(p):
        return {"metric": "chebyshev"}
    return {"metric": "minkowski", "p": p}


def _as_points(X, name="X") -> np.ndarray:
    X = check_array(X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (N, d); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one point; got shape {X.shape}")
    return X


def _binary_labels(y, N) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (negative, positive) of a label vector with at most two values."""
    if hasattr(y, "detach") and hasattr(y, "cpu"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must hold numeric labels; got dtype {y.dtype}")
    if y.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},) to match X; got {y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y must be finite")
    values = np.unique(y)
    if values.size > 2:
        raise ValueError(
            f"y must be binary (two distinct labels, e.g. -1/+1 or 0/1); got {values.size} distinct values"
        )
    if values.size == 1:
        # one class only: call it the positive class when its label is positive
        pos = (y > 0) if values[0] > 0 else np.zeros(N, bool)
    else:
        pos = y == values[1]
    return ~pos, pos


def conflict_graph(X_neg, X_pos, eps, norm=2) -> np.ndarray:
    r"""Boolean matrix of conflicts between two point sets.

    ``C[i, j]`` is True when :math:`\|x^-_i - x^+_j\|_p \le 2\varepsilon`, i.e. when
    the closed :math:`\varepsilon`-balls around the two points intersect (in any norm
    the midpoint lies in both).  Computed in row blocks of at most ~32 MB of
    distances.

    Parameters
    ----------
    X_neg : array_like, shape (n1, d)
    X_pos : array_like, shape (n2, d)
    eps : float
        Non-negative radius.
    norm : {1, 2, inf} or float >= 1 or {"l1", "l2", "linf"}
    """
    p = norm_exponent(norm)
    eps = check_real("eps", eps, lo=0)
    A = check_array(X_neg, "X_neg")
    B = check_array(X_pos, "X_pos")
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError(
            f"X_neg and X_pos must have shapes (n1, d) and (n2, d) with the same d; got {A.shape} and {B.shape}"
        )
    out = np.zeros((A.shape[0], B.shape[0]), dtype=bool)
    if out.size == 0:
        return out
    rows = max(1, _BLOCK_BYTES // (8 * B.shape[0]))
    args = _cdist_args(p)
    for s in range(0, A.shape[0], rows):
        out[s : s + rows] = cdist(A[s : s + rows], B, **args) <= 2.0 * eps
    return out


@dataclass(frozen=True)
class OptimalRisk:
    """What :func:`optimal_adversarial_risk` found.

    Attributes
    ----------
    value : float
        The optimal adversarial 0/1 risk over all classifiers, in ``[0, 1/2]`` for
        balanced classes (at most the mass of the smaller class).
    eps : float
    norm : float
        ``p`` of the :math:`\\ell_p` norm (``inf`` for :math:`\\ell_\\infty`).
    pairs : ndarray of int, shape (K, 2)
        Conflicting pairs ``(i, j)`` (row indices into ``X``; ``y[i]`` the smaller
        label, ``y[j]`` the larger) that carry matched mass.
    mass : ndarray, shape (K,)
        The mass matched on each pair (a flow; sums to ``value``).  Each point's total
        matched mass is at most its normalized weight.
    vulnerable : ndarray of bool, shape (N,)
        A minimum-weight vertex cover of the conflict graph: every conflicting pair
        has a vulnerable end, and the normalized weight of the vulnerable points
        equals ``value``.  The classifier predicting the larger label exactly on the
        union of the eps-balls of the non-vulnerable larger-label points is optimal:
        it errs at most on the vulnerable points.
    n_conflicts : int
        Number of conflicting pairs of opposite labels (zero-weight points included).
    """

    value: float
    eps: float
    norm: float
    pairs: np.ndarray
    mass: np.ndarray
    vulnerable: np.ndarray
    n_conflicts: int

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        return (
            f"OptimalRisk(value={self.value:.6g}, eps={self.eps:g}, norm={self.norm:g}, "
            f"matched_pairs={len(self.mass)}, n_conflicts={self.n_conflicts}, "
            f"vulnerable={int(self.vulnerable.sum())})"
        )


def optimal_adversarial_risk(X, y, eps, norm=2, sample_weights=None, method="ot") -> OptimalRisk:
    r"""The smallest adversarial 0/1 risk any classifier reaches on binary data.

    The data are the weighted empirical distribution
    :math:`\mu = \mu_- + \mu_+`, :math:`\mu_\pm = \sum_{i: y_i = \pm} w_i \delta_{x_i}`
    (``sample_weights`` normalized to sum to one).  The adversary moves each point
    inside its closed ball :math:`B_\varepsilon(x) = \{z : \|z - x\|_p \le
    \varepsilon\}`.  A classifier :math:`h`, possibly randomized (:math:`h(z) \in [0,
    1]` the probability of predicting the positive class; mixtures of classifiers are
    such an :math:`h`), has adversarial risk

    .. math::

        R_\varepsilon(h) = \sum_{i:\,y_i=-} w_i \sup_{z \in B_\varepsilon(x_i)} h(z)
                         + \sum_{j:\,y_j=+} w_j \sup_{z \in B_\varepsilon(x_j)} (1 - h(z)).

    Call :math:`(i, j)`, :math:`y_i = -`, :math:`y_j = +`, a *conflict* when
    :math:`\|x_i - x_j\|_p \le 2\varepsilon`, i.e. when the two balls meet (the
    midpoint lies in both).  Then

    .. math::

        R^*_\varepsilon \;=\; \inf_h R_\varepsilon(h)
        \;=\; \max_{\gamma \in \Gamma} \sum_{(i,j)\ \text{conflict}} \gamma_{ij}
        \;=\; \min_{V \text{ vertex cover}} \sum_{k \in V} w_k,

    where :math:`\Gamma = \{\gamma \ge 0 : \gamma_{ij} = 0` off conflicts,
    :math:`\sum_j \gamma_{ij} \le w_i,\ \sum_i \gamma_{ij} \le w_j\}` (weighted
    bipartite matchings, i.e. flows) and a vertex cover is a set of points meeting
    every conflict.

    *Every matching forces its mass* (lower bound): for a conflict pick
    :math:`z_{ij}` in both balls; then :math:`\sup_{B(x_i)} h \ge h(z_{ij})` and
    :math:`\sup_{B(x_j)} (1-h) \ge 1 - h(z_{ij})`, so, splitting each :math:`w_k` along
    :math:`\gamma`, :math:`R_\varepsilon(h) \ge \sum_{ij} \gamma_{ij}\,(h(z_{ij}) + 1
    - h(z_{ij})) = \sum_{ij} \gamma_{ij}`.
    *Every cover is reachable* (upper bound): with :math:`h = 1` on the union of the
    balls of the positive points outside :math:`V` and 0 elsewhere, a point outside
    :math:`V` is never moved across (a negative one's ball meets no such ball), so
    :math:`R_\varepsilon(h) \le w(V)`.
    *The two meet*: the maximum flow through the network source -> negatives
    (capacity :math:`w_i`) -> positives (capacity :math:`\infty` on conflicts) ->
    sink (capacity :math:`w_j`) equals its minimum cut, and the finite cuts are
    exactly the vertex covers (max-flow min-cut; the weighted König-Egerváry theorem).

    In optimal-transport form (Bhagoji et al. 2019; Pydi & Jog 2020, equal priors;
    Pydi & Jog 2021 for unequal ones), with :math:`P = \mu_-(\mathbb R^d)`, :math:`Q = \mu_+(\mathbb
    R^d)` and :math:`c_\varepsilon(x, x') = 1\{\|x - x'\|_p > 2\varepsilon\}`,

    .. math::

        R^*_\varepsilon = \max(P, Q) - \min_{\pi}\ \sum c_\varepsilon\, d\pi,

    the minimum running over the couplings of :math:`\mu_-` and :math:`\mu_+` padded
    with a dummy point of mass :math:`|P - Q|` (cost 1 to every point) on the lighter
    side: a coupling of total mass :math:`\max(P, Q)` pays 1 on all of it but its
    conflicting part, and any flow extends to such a coupling by pairing the leftover
    mass arbitrarily.  For
    :math:`P = Q = 1/2` this is Pydi & Jog's :math:`\frac12(1 - D_{c_\varepsilon}(p_-,
    p_+))` with the class-conditional probability measures :math:`p_\pm`.  It is solved
    with ``ot.emd`` (exact network simplex; or, with ``method="flow"``, as the
    maximum flow itself with scipy) on the points that have a conflict; a
    minimum vertex cover is then read off the residual network (the points the
    source cannot reach, among the negatives, and those it can, among the
    positives), and its weight is checked against the flow.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Points (numpy array, or a torch tensor, converted).
    y : array_like, shape (N,)
        Binary labels: at most two distinct values (-1/+1, 0/1, ...).
    eps : float
        Non-negative radius of the adversary's ball.
    norm : {2, 1, inf} or float >= 1 or {"l2", "l1", "linf"}, default 2
        The :math:`\ell_p` norm of the ball; conflicts use the same norm.
    sample_weights : array_like, shape (N,), optional
        Relative non-negative weights, normalized by their total (default uniform).
    method : {"ot", "flow"}, default "ot"
        ``"ot"``: the OT problem above with POT's exact network simplex (any real
        weights; dense, about 0.1 s for N = 1000, 25 s for N = 10^4).  ``"flow"``:
        the same maximum flow with scipy's Dinic algorithm on integer capacities
        (uniform weights, or integer ``sample_weights`` such as counts; exact; sparse,
        about 1.5 s for N = 10^4).  Both give the same value; the matching and the
        cover may differ where the optimum is not unique.

    Returns
    -------
    OptimalRisk
        ``value`` (float), the matching ``pairs`` / ``mass``, a minimum vertex cover
        ``vulnerable`` and ``n_conflicts``.

    Raises
    ------
    TypeError
        Non-numeric ``X``, ``y``, ``sample_weights``, ``eps`` or ``norm``.
    ValueError
        Wrong shapes, NaN or inf, more than two labels, negative ``eps``, a ``norm``
        below 1, negative or all-zero ``sample_weights``, an unknown ``method``,
        non-integer ``sample_weights`` with ``method="flow"``.
    RuntimeError
        The flow solver did not reach an optimum.

    Notes
    -----
    This is the risk of the *true* adversary (the supremum over the ball).  The
    empirical game of :class:`advgame.Game` replaces the ball by m sampled points,
    which can only lower a classifier's risk; a mixture's sampled risk may hence fall
    below this bound when the attack sample is too weak (see ``docs/bounds.md``).
    Two points of opposite labels at the same location conflict for every ``eps``.
    Cost: one distance matrix between the classes (in blocks, O(N^2) memory for
    the boolean conflict matrix) and a flow problem on the conflicting points.

    References
    ----------
    .. [1] Bhagoji, Cullina, Mittal. "Lower bounds on adversarial robustness from
       optimal transport." NeurIPS 2019.
    .. [2] Pydi, Jog. "Adversarial risk via optimal transport and optimal couplings."
       ICML 2020.
    .. [3] Pydi, Jog. "The many faces of adversarial risk." NeurIPS 2021 (unequal
       class priors).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([-1, 1, -1])
    >>> optimal_adversarial_risk(X, y, eps=0.5).value   # one +1 point between two -1
    0.3333333333333333
    >>> optimal_adversarial_risk(X, y, eps=0.4).value   # balls 0.2 apart
    0.0
    """
    X = _as_points(X)
    N = X.shape[0]
    neg, pos = _binary_labels(y, N)
    p_norm = norm_exponent(norm)
    eps = check_real("eps", eps, lo=0)
    if sample_weights is None:
        w, raw = np.full(N, 1.0 / N), None
    else:
        raw, w = check_sample_weights(sample_weights, N)
    check_choice("method", method, _METHODS)
    if method == "flow":
        units = _integer_units(raw, N)

    idx_neg = np.flatnonzero(neg)
    idx_pos = np.flatnonzero(pos)
    conflict = conflict_graph(X[idx_neg], X[idx_pos], eps, p_norm)
    n_conflicts = int(conflict.sum())
    vulnerable = np.zeros(N, dtype=bool)

    # the weighted problem lives on positive-weight points with at least one conflict
    # with a positive-weight point
    wn, wp = w[idx_neg], w[idx_pos]
    live = conflict & (wn[:, None] > 0) & (wp[None, :] > 0)
    rows = np.flatnonzero(live.any(axis=1))
    cols = np.flatnonzero(live.any(axis=0))
    pairs = np.zeros((0, 2), dtype=np.int64)
    mass = np.zeros(0)
    value = 0.0
    if rows.size:
        C = live[np.ix_(rows, cols)]
        del live
        ci, cj = np.nonzero(C)
        if method == "ot":
            a, b = wn[rows], wp[cols]
            fe = _flow_ot(a, b, C, ci, cj)
            tol = 1e-12 * max(float(a.max()), float(b.max()))
        else:
            a, b = units[idx_neg[rows]], units[idx_pos[cols]]
            fe = _flow_dinic(a, b, ci, cj)
            tol = 0.5
        del C
        cover_rows, cover_cols = _min_cover(a, b, ci, cj, fe, tol)
        if method == "flow":  # integers -> masses
            total = float(units.sum())
            a, b, fe = a / total, b / total, fe / total
        value = float(fe.sum())
        vulnerable[idx_neg[rows[cover_rows]]] = True
        vulnerable[idx_pos[cols[cover_cols]]] = True
        cover_weight = float(a[cover_rows].sum() + b[cover_cols].sum())
        if abs(cover_weight - value) > 1e-9:
            warnings.warn(
                f"optimal_adversarial_risk: the vertex cover ({cover_weight:.12g}) and the matching "
                f"({value:.12g}) differ by more than 1e-9 (numerical trouble in the flow solver)",
                RuntimeWarning,
                stacklevel=2,
            )
        on = fe > 0
        pairs = np.stack([idx_neg[rows[ci[on]]], idx_pos[cols[cj[on]]]], axis=1).astype(np.int64)
        mass = fe[on]

    # zero-weight points cost nothing: put those with any conflict in the cover, so it
    # still meets every conflict
    zero_neg = wn == 0
    zero_pos = wp == 0
    if zero_neg.any() or zero_pos.any():
        vulnerable[idx_neg[zero_neg & conflict.any(axis=1)]] = True
        vulnerable[idx_pos[zero_pos & conflict.any(axis=0)]] = True

    return OptimalRisk(
        value=value,
        eps=eps,
        norm=p_norm,
        pairs=pairs,
        mass=mass,
        vulnerable=vulnerable,
        n_conflicts=n_conflicts,
    )


def _integer_units(raw, N) -> np.ndarray:
    """Integer capacities for method="flow": 1 per point, or the integer sample weights."""
    if raw is None:
        return np.ones(N, dtype=np.int64)
    if (raw != np.round(raw)).any():
        raise ValueError(
            "method='flow' needs integer sample_weights (counts); got non-integer weights -- use method='ot'"
        )
    units = raw.astype(np.int64)
    if units.sum() >= 2**30:
        raise ValueError(
            f"method='flow' needs sample_weights summing to less than 2**30; got {units.sum()} -- use method='ot'"
        )
    return units


def _flow_ot(a, b, C, ci, cj) -> np.ndarray:
    """Maximum flow (weighted bipartite matching) on the conflicts ``C`` with capacities
    ``a`` (rows) and ``b`` (columns), as an exact OT problem (``ot.emd``); the flow on
    each edge ``(ci[e], cj[e])``."""
    import ot  # lazy: POT imports torch when it is installed

    na, nb = C.shape
    cost = (~C).astype(np.float64)  # 0 on conflicts, 1 elsewhere
    P, Q = float(a.sum()), float(b.sum())
    aa, bb = a, b
    if P > Q:  # dummy column absorbs the surplus of the heavier side, at cost 1
        bb = np.append(b, P - Q)
        cost = np.hstack([cost, np.ones((na, 1))])
    elif Q > P:
        aa = np.append(a, Q - P)
        cost = np.vstack([cost, np.ones((1, nb))])
    G, log = ot.emd(aa, bb, cost, numItermax=max(10**6, 20 * cost.size), log=True)
    if log.get("result_code", 1) != 1:
        raise RuntimeError(
            f"optimal_adversarial_risk: POT's network simplex did not reach an optimum "
            f"(result_code={log.get('result_code')}, {log.get('warning')})"
        )
    return G[ci, cj]


def _flow_dinic(a, b, ci, cj) -> np.ndarray:
    """Integer maximum flow source -> rows (``a``) -> columns (conflicts, unbounded) ->
    sink (``b``) with scipy's Dinic algorithm; the flow on each conflict edge."""
    na, nb = a.size, b.size
    s, t = 0, 1 + na + nb
    big = int(a.sum()) + 1
    src = np.concatenate([np.zeros(na, np.int64), ci + 1, 1 + na + np.arange(nb)])
    dst = np.concatenate([1 + np.arange(na), cj + 1 + na, np.full(nb, t)])
    cap = np.concatenate([a, np.full(ci.size, big), b]).astype(np.int32)
    G = sp.csr_matrix((cap, (src, dst)), shape=(t + 1, t + 1))
    F = maximum_flow(G, s, t, method="dinic").flow.tocsr()
    return np.asarray(F[ci + 1, cj + 1 + na]).ravel().astype(np.float64)


def _min_cover(a, b, ci, cj, fe, tol) -> tuple[np.ndarray, np.ndarray]:
    """A minimum vertex cover from a maximum flow (König's construction).

    ``fe[e]`` is the flow on conflict edge ``(ci[e], cj[e])``.  Nodes reachable from
    the source in the residual network: a row ``i`` directly when it is unsaturated, a
    column ``j`` from a reachable row through a conflict (unbounded capacity), a row
    from a reachable column through an edge carrying flow.  The cover is the
    unreachable rows plus the reachable columns.
    """
    na, nb = a.size, b.size
    src_res = a - np.bincount(ci, weights=fe, minlength=na) > tol
    sink_res = b - np.bincount(cj, weights=fe, minlength=nb) > tol
    # node 0 = source, 1..na rows, na+1..na+nb columns
    s_to_r = np.flatnonzero(src_res) + 1
    back = fe > tol
    src = np.concatenate([np.zeros(s_to_r.size, np.int64), ci + 1, cj[back] + 1 + na])
    dst = np.concatenate([s_to_r, cj + 1 + na, ci[back] + 1])
    n = 1 + na + nb
    graph = sp.csr_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
    reach = np.zeros(n, dtype=bool)
    reach[breadth_first_order(graph, 0, directed=True, return_predecessors=False)] = True
    reach_rows, reach_cols = reach[1 : na + 1], reach[na + 1 :]
    if (reach_cols & sink_res).any():
        raise RuntimeError(
            "optimal_adversarial_risk: the flow from the solver admits an augmenting "
            "path (it is not maximal); numerical trouble in the flow solver"
        )
    return ~reach_rows, reach_cols


@dataclass(frozen=True)
class Separation:
    """What :func:`class_separation` found.

    Attributes
    ----------
    eps : float
    norm : float
        ``p`` of the :math:`\\ell_p` norm (``inf`` for :math:`\\ell_\\infty`).
    nearest_other : ndarray, shape (N,)
        For each point of ``X``, the distance to the nearest reference point of another
        class (``inf`` when the reference set has no other class).
    share_conflicting : float
        The share of points of ``X`` with a reference point of another class within
        ``2 eps``: the points whose eps-ball meets another class's eps-ball. When it is 0,
        a deterministic classifier can reach zero adversarial risk on these points, and
        randomization has nothing to win there (MNE21 Sec. 3).
    min_distance : float
        The smallest distance between a point of ``X`` and a reference point of another
        class (the smallest inter-class distance when the reference set is ``X``).
    separated : bool
        ``min_distance > 2 eps``: the classes are 2-eps-separated on these points.
    pairwise_risk : dict or None
        With ``pairwise_bounds=True``: ``{(a, b): value}`` for each pair of classes
        ``a < b`` of ``X``, the optimal adversarial 0/1 risk any classifier reaches on the
        binary subproblem of those two classes' points (:func:`optimal_adversarial_risk`).
    risk_lower_bound : float or None
        With ``pairwise_bounds=True``: ``max`` over pairs of (share of the points in the
        pair) x (its pairwise risk), a lower bound on the optimal multi-class adversarial
        0/1 risk on ``X`` (a multi-class classifier restricted to two classes errs at least
        as often as the best binary one).
    """

    eps: float
    norm: float
    nearest_other: np.ndarray
    share_conflicting: float
    min_distance: float
    separated: bool
    pairwise_risk: dict | None = None
    risk_lower_bound: float | None = None

    def summary(self) -> str:
        """One line for reports."""
        p = "inf" if math.isinf(self.norm) else f"{self.norm:g}"
        line = (
            f"eps={self.eps:g} (l{p}): {100 * self.share_conflicting:.1f}% of points have another class "
            f"within 2 eps; smallest inter-class distance {self.min_distance:.4g} "
            f"({'>' if self.separated else '<='} 2 eps = {2 * self.eps:.4g})"
        )
        if self.risk_lower_bound is not None:
            line += f"; optimal adversarial risk >= {self.risk_lower_bound:.4f}"
        return line


def class_separation(X, y, eps, norm="linf", *, reference=None, pairwise_bounds=False) -> Separation:
    r"""How far apart the classes of a data set are, measured against an eps-ball adversary.

    Two points of different classes *conflict* when their closed eps-balls meet,
    :math:`\|x_i - x_j\|_p \le 2\varepsilon`. Without conflicts a deterministic classifier
    can be exactly robust on the points, so a randomized mixture cannot beat it there
    (MNE21's argument needs conflicting points). This diagnostic says, for a data set and a
    budget, whether that is the case.

    Parameters
    ----------
    X : array_like, shape (N, d)
        The points (images flattened), e.g. a test split.
    y : array_like of int, shape (N,)
        Their class labels.
    eps : float
        Non-negative radius of the adversary's ball.
    norm : {"linf", "l2", "l1"} or float >= 1, default "linf"
    reference : tuple (X_ref, y_ref), optional
        The points to measure against (e.g. the training split); default ``(X, y)``.
        A point is never compared with itself: with the default, ``nearest_other`` ignores
        the point's own class, so self-distances never enter.
    pairwise_bounds : bool, default False
        Also compute the optimal-transport lower bound of each binary subproblem (pair of
        classes of ``X``) with :func:`optimal_adversarial_risk` (network simplex; costs a
        few seconds per pair at a thousand points).

    Returns
    -------
    Separation

    Notes
    -----
    Distances are computed in blocks of ~32 MB: time :math:`O(N N_{ref} d)`, memory
    independent of ``N``. On CIFAR-10's 50 000 training images this is about
    :math:`10^{13}` operations: pass a subsample.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.3, 0.0], [1.0, 0.0], [1.2, 0.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> s = class_separation(X, y, eps=0.2, norm="linf")
    >>> s.min_distance, s.share_conflicting, s.separated
    (0.7, 0.0, True)
    >>> class_separation(X, y, eps=0.4).share_conflicting   # 0.3 and 1.0 are 0.7 <= 0.8 apart
    0.5
    """
    p = norm_exponent(norm)
    eps = check_real("eps", eps, lo=0)
    pairwise_bounds = bool(pairwise_bounds)
    X = _as_points(X)
    labels = _class_labels(y, X.shape[0], "y")
    if reference is None:
        R, r = X, labels
    else:
        if not isinstance(reference, (tuple, list)) or len(reference) != 2:
            raise TypeError("reference must be a pair (X_ref, y_ref)")
        R = _as_points(reference[0], "reference[0]")
        if R.shape[1] != X.shape[1]:
            raise ValueError(
                f"reference[0] must have the dimension of X ({X.shape[1]}); got shape {R.shape}"
            )
        r = _class_labels(reference[1], R.shape[0], "reference[1]")
    nearest = np.full(X.shape[0], np.inf)
    rows = max(1, _BLOCK_BYTES // (8 * R.shape[0]))
    args = _cdist_args(p)
    for s in range(0, X.shape[0], rows):
        D = cdist(X[s : s + rows], R, **args)
        D[labels[s : s + rows, None] == r[None, :]] = np.inf
        nearest[s : s + rows] = D.min(axis=1)
    min_distance = float(nearest.min())
    share = float(np.mean(nearest <= 2.0 * eps))
    pairwise, bound = None, None
    if pairwise_bounds:
        pairwise, bound = {}, 0.0
        classes = np.unique(labels)
        for ia, a in enumerate(classes):
            for b in classes[ia + 1 :]:
                sel = (labels == a) | (labels == b)
                value = optimal_adversarial_risk(X[sel], (labels[sel] == b).astype(int), eps, norm=p).value
                pairwise[(int(a), int(b))] = float(value)
                bound = max(bound, float(value) * sel.mean())
    return Separation(
        eps=float(eps), norm=p, nearest_other=nearest, share_conflicting=share,
        min_distance=min_distance, separated=bool(min_distance > 2.0 * eps),
        pairwise_risk=pairwise, risk_lower_bound=bound,
    )


def _class_labels(y, N, name) -> np.ndarray:
    if hasattr(y, "detach") and hasattr(y, "cpu"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.dtype.kind not in "biu":
        if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
            y = y.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer class labels; got dtype {y.dtype}")
    if y.shape != (N,):
        raise ValueError(f"{name} must have shape ({N},) to match its points; got {y.shape}")
    return y
