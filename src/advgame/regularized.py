r"""RM20 on finite worlds: the regularized adversary, best responses, Theorems 1-3.

Pinot et al. (2020), "Randomization matters" (RM20), study the game

.. math::

    \inf_{h}\ \sup_{\phi}\ R^\Omega_{adv}(h, \phi),
    \qquad
    R^\Omega_{adv}(h, \phi) = R_{adv}(h, \phi) - \lambda\,\Omega(\phi)
    \qquad \text{(RM20, Eq. 4)}

where the adversary moves each labelled point :math:`(x, y)` to
:math:`\phi_y(x)` with :math:`\|\phi_y(x) - x\| \le \varepsilon` and pays
:math:`\lambda` per unit of moved mass (:math:`\Omega_{mass}`, Eq. 5) or
:math:`\lambda` times the distance moved (:math:`\Omega_{norm}`, Eq. 6).

A :class:`FiniteWorld` is that game on ``n`` points :math:`x_1, \dots, x_n` of
:math:`\mathbb R^d`: the data distribution is given by the masses
:math:`a_i = \nu_{-1}\mu_{-1}(x_i)` (``mass_neg``) and :math:`b_i = \nu_{+1}\mu_{+1}(x_i)`
(``mass_pos``), and the adversary may move a point only *onto another point of the
world* within :math:`\varepsilon`.  Everything is then finite and exact: a classifier is
a labelling of the points, an attack is a target index per (label, point) pair, and the
adversary's problem separates into one maximization per pair (RM20, Eq. 12 and 28).

Conventions
-----------
* A deterministic classifier is ``labels`` of shape ``(n,)`` with values in
  :math:`\{-1, +1\}`; a mixture (RM20, Def. 3) is ``labels`` of shape ``(K, n)`` with
  ``weights`` of shape ``(K,)`` on the simplex (uniform when omitted).
* An attack is an integer array of shape ``(2, n)``: ``attack[0, i]`` is the index of
  :math:`\phi_{-1}(x_i)` and ``attack[1, i]`` the index of :math:`\phi_{+1}(x_i)`
  (rows follow :data:`NEG` and :data:`POS`).
* ``lam = 0`` is the unregularized adversary of RM20, Eq. 3 (the setting of MNE21);
  the theorems need ``lam`` in (0, 1).

Finite-world readings (see ``docs/regularized.md``)
---------------------------------------------------
* There is no decision boundary: RM20's classifiers are :math:`\mathrm{sgn}\, g` with
  ``g`` continuous, and a point with :math:`g(x) = 0` counts as an error for both labels.
  Here every point carries a label, so "the projection on the complement"
  (RM20, Lemma 2) becomes "the nearest point of the other label within
  :math:`\varepsilon`".
* Masses may vanish (no full support) and ties happen (equal masses, equal distances).
  Ties are broken deterministically and documented at each method; the property tests
  quantify over *all* best responses where the statement does.

What the tests found (``tests/test_regularized.py``, ``docs/regularized.md``): Lemmas
1-3, weak duality and Thm. 2 hold on every finite world in the forms stated there;
Thm. 1 and the strictness of Thm. 2 fail for a constant Bayes classifier (nothing to
attack, so it is a pure equilibrium, in the continuous setting too); Thm. 3 holds
through its proof with the ``"boundary"`` reading of :meth:`FiniteWorld.proof_flip_set`
and fails on finite worlds with the literal one and with the statement's
:math:`h_2 \in BR(\phi)`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FiniteWorld",
    "Dynamics",
    "PENALTIES",
    "NEG",
    "POS",
    "motivating_world",
    "gaussian_world",
    "random_world",
    "plot_pushforward_1d",
]

#: The two penalties of RM20: Eq. 5 (``"mass"``) and Eq. 6 (``"norm"``).
PENALTIES = ("mass", "norm")
#: Row of an attack array holding :math:`\phi_{-1}` (the targets of the label -1 masses).
NEG = 0
#: Row of an attack array holding :math:`\phi_{+1}` (the targets of the label +1 masses).
POS = 1

# Ties: two gains, masses or distances closer than this are treated as equal.
_TOL = 1e-12


def _real(value, name, *, lo=None, hi=None, lo_open=False, hi_open=False):
    """``float(value)`` after checking it is a finite real number in the given range."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v}")
    bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
    bad_hi = hi is not None and (v >= hi if hi_open else v > hi)
    if bad_lo or bad_hi:
        left = "(" if lo_open else "["
        right = ")" if hi_open or hi is None else "]"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise ValueError(f"{name} must lie in {left}{lo_s}, {hi_s}{right}; got {v:g}")
    return v


def _real_array(x, name):
    """A float64 copy of ``x`` after checking its dtype is numeric (not bool)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    return arr.astype(np.float64)


@dataclass
class Dynamics:
    """Best-response dynamics of the deterministic game (RM20, Thm. 1).

    Starting from ``labels[0]``, the adversary plays :math:`\\phi_t \\in BR(h_t)` and the
    defender :math:`h_{t+1} \\in BR(\\phi_t)` (ties keep :math:`h_t`'s label).  The map
    :math:`h_t \\mapsto h_{t+1}` is deterministic on a finite set, so the sequence ends in
    a fixed point (a pure Nash equilibrium) or a cycle.

    Attributes
    ----------
    labels : array of int8, shape (T + 1, n)
        :math:`h_0, \\dots, h_T`; :math:`h_T` equals :math:`h_{\\text{cycle\\_start}}`
        when ``status`` is ``"cycle"`` or ``"fixed_point"``.
    attacks : array of intp, shape (T + 1, 2, n)
        :math:`\\phi_t` = ``world.adversary_best_response(h_t)``.
    values : array (T + 1,)
        :math:`\\sup_\\phi R^\\Omega_{adv}(h_t, \\phi)`.
    status : str
        ``"fixed_point"`` (:math:`h_{T} = h_{T-1}`: a pure Nash equilibrium),
        ``"cycle"`` (a cycle of length >= 2: no labelling on it is an equilibrium) or
        ``"max_iter"``.
    cycle_start : int or None
        Index of the first labelling of the cycle (``T - 1`` for a fixed point).
    cycle_length : int
        1 for a fixed point, the period for a cycle, 0 for ``"max_iter"``.
    """

    labels: np.ndarray
    attacks: np.ndarray
    values: np.ndarray
    status: str
    cycle_start: int | None
    cycle_length: int

    @property
    def equilibrium(self):
        """``(labels, attack)`` of the pure Nash equilibrium reached, or None."""
        if self.status != "fixed_point":
            return None
        return self.labels[-1].copy(), self.attacks[-1].copy()

    @property
    def cycle(self):
        """The labellings of the cycle, shape (cycle_length, n) (empty for max_iter)."""
        if self.cycle_start is None:
            return self.labels[:0].copy()
        return self.labels[self.cycle_start:self.cycle_start + self.cycle_length].copy()


class FiniteWorld:
    r"""The RM20 game on finitely many points.

    Parameters
    ----------
    points : array_like, shape (n,) or (n, d)
        Distinct points of :math:`\mathbb R^d` (a 1-D array is read as ``d = 1``).
    mass_neg, mass_pos : array_like, shape (n,)
        :math:`a_i = \nu_{-1}\mu_{-1}(x_i)` and :math:`b_i = \nu_{+1}\mu_{+1}(x_i)`:
        non-negative, together summing to 1.
    eps : float
        The hard budget :math:`\varepsilon > 0`: :math:`x_i` may be moved onto
        :math:`x_j` only when :math:`\|x_i - x_j\| \le \varepsilon`.
    penalty : {"mass", "norm"}
        :math:`\Omega_{mass}(\phi) = \sum_i a_i 1\{\phi_{-1}(i) \ne i\} + b_i 1\{\phi_{+1}(i) \ne i\}`
        (RM20, Eq. 5) or
        :math:`\Omega_{norm}(\phi) = \sum_i a_i \|x_i - x_{\phi_{-1}(i)}\| + b_i \|x_i - x_{\phi_{+1}(i)}\|`
        (RM20, Eq. 6).
    lam : float
        The regularization weight :math:`\lambda \in [0, 1)`; 0 is the unregularized
        adversary (RM20, Eq. 3).
    norm : {1, 2, inf} or float >= 1
        The :math:`\ell_p` norm of the budget and of :math:`\Omega_{norm}` (RM20 uses
        :math:`\ell_2`; its Lemma 1 holds for any norm, Lemma 2 for Hilbert norms).

    Raises
    ------
    TypeError
        Non-numeric arrays or parameters.
    ValueError
        Wrong shapes, NaN or inf, repeated points, negative masses, masses not summing
        to 1, ``eps <= 0``, ``lam`` outside [0, 1), an unknown penalty or norm.

    Examples
    --------
    >>> from advgame.regularized import motivating_world
    >>> world, labels = motivating_world()
    >>> world.adversary_value(labels[0])
    1.0
    >>> world.adversary_value(labels, [0.5, 0.5])
    0.75
    """

    def __init__(self, points, mass_neg, mass_pos, eps, penalty="mass", lam=0.5, norm=2):
        pts = _real_array(points, "points")
        if pts.ndim == 1:
            pts = pts[:, None]
        if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] == 0:
            raise ValueError(
                f"points must have shape (n,) or (n, d) with n, d >= 1; got shape {np.shape(points)}"
            )
        if not np.all(np.isfinite(pts)):
            raise ValueError(f"points must be finite; found NaN or inf in row {int(np.argwhere(~np.isfinite(pts))[0, 0])}")
        n = pts.shape[0]
        if isinstance(penalty, str) and penalty in PENALTIES:
            self.penalty = penalty
        else:
            raise ValueError(f"penalty must be one of {PENALTIES}; got {penalty!r}")
        self.lam = _real(lam, "lam", lo=0.0, hi=1.0, hi_open=True)
        self.eps = _real(eps, "eps", lo=0.0, lo_open=True)
        if isinstance(norm, str) or isinstance(norm, (bool, np.bool_)):
            raise TypeError(f"norm must be a number >= 1 or numpy.inf; got {norm!r}")
        try:
            p = float(norm)
        except (TypeError, ValueError):
            raise TypeError(f"norm must be a number >= 1 or numpy.inf; got {norm!r}") from None
        if not (p >= 1):
            raise ValueError(f"norm must be >= 1 (an l_p norm) or numpy.inf; got {norm!r}")
        self.norm = p

        masses = []
        for name, m in (("mass_neg", mass_neg), ("mass_pos", mass_pos)):
            arr = _real_array(m, name)
            if arr.shape != (n,):
                raise ValueError(f"{name} must have shape (n,) = ({n},), one mass per point; got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} must be finite; found NaN or inf at index {int(np.argwhere(~np.isfinite(arr))[0, 0])}")
            if arr.min() < 0:
                raise ValueError(f"{name} must be non-negative; found {arr.min():.6g} at index {int(np.argmin(arr))}")
            masses.append(arr)
        total = float(masses[0].sum() + masses[1].sum())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"mass_neg and mass_pos must together sum to 1 (they are nu_-1 mu_-1 and nu_+1 mu_+1); got {total:.12g}"
            )

        diff = pts[:, None, :] - pts[None, :, :]
        if p == 2:
            D = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        else:
            D = np.linalg.norm(diff, ord=p, axis=2)
        off = D.copy()
        np.fill_diagonal(off, np.inf)
        if n > 1 and off.min() == 0:
            i, j = (int(v) for v in np.argwhere(off == 0)[0])
            raise ValueError(f"points must be distinct; points {i} and {j} coincide")
        self._points = pts
        self._a = masses[0]
        self._b = masses[1]
        self._D = D
        self._reach = D <= self.eps * (1 + 1e-12) + 1e-15
        if self.penalty == "mass":
            self._cost = 1.0 - np.eye(n)
        else:
            self._cost = D.copy()
        for arr in (self._points, self._a, self._b, self._D, self._reach, self._cost):
            arr.setflags(write=False)

    # ------------------------------------------------------------ properties
    @property
    def n(self) -> int:
        """The number of points."""
        return self._points.shape[0]

    @property
    def dim(self) -> int:
        """The dimension ``d`` of the points."""
        return self._points.shape[1]

    @property
    def points(self) -> np.ndarray:
        """The points, shape (n, d) (read-only)."""
        return self._points

    @property
    def mass_neg(self) -> np.ndarray:
        r""":math:`a_i = \nu_{-1}\mu_{-1}(x_i)`, shape (n,) (read-only)."""
        return self._a

    @property
    def mass_pos(self) -> np.ndarray:
        r""":math:`b_i = \nu_{+1}\mu_{+1}(x_i)`, shape (n,) (read-only)."""
        return self._b

    @property
    def masses(self) -> np.ndarray:
        """``[mass_neg, mass_pos]``, shape (2, n), rows indexed like an attack."""
        return np.stack([self._a, self._b])

    @property
    def distances(self) -> np.ndarray:
        """Pairwise distances :math:`\\|x_i - x_j\\|_p`, shape (n, n) (read-only)."""
        return self._D

    @property
    def reachable(self) -> np.ndarray:
        """``reachable[i, j]``: :math:`\\|x_i - x_j\\| \\le \\varepsilon`, shape (n, n)."""
        return self._reach

    @property
    def cost(self) -> np.ndarray:
        r"""Penalty per unit of mass moved from :math:`x_i` to :math:`x_j`, before :math:`\lambda`.

        :math:`1\{i \ne j\}` (mass penalty, RM20 Eq. 5) or :math:`\|x_i - x_j\|`
        (norm penalty, RM20 Eq. 6); shape (n, n).
        """
        return self._cost

    @property
    def full_support(self) -> bool:
        """True when every point carries mass of both labels (RM20's full-support assumption)."""
        return bool(np.all(self._a > 0) and np.all(self._b > 0))

    def identity_attack(self) -> np.ndarray:
        """The attack that moves nothing, shape (2, n)."""
        return np.tile(np.arange(self.n), (2, 1))

    def __repr__(self) -> str:
        return (
            f"FiniteWorld(n={self.n}, d={self.dim}, eps={self.eps:g}, penalty={self.penalty!r}, "
            f"lam={self.lam:g}, norm={self.norm:g})"
        )

    # ------------------------------------------------------------ validation
    def _as_labels(self, labels, weights=None, name="labels"):
        """Validate a classifier or mixture; return ``(L (K, n) int8, w (K,))``."""
        arr = np.asarray(labels)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold the numbers -1 and +1; got dtype {arr.dtype}")
        n = self.n
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] == 0:
            raise ValueError(
                f"{name} must have shape (n,) = ({n},) for a classifier or (K, n) = (K, {n}) for a "
                f"mixture; got shape {np.shape(labels)}"
            )
        bad = (arr != 1) & (arr != -1)
        if bad.any():
            idx = tuple(int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"{name} must contain only -1 and +1; found {arr[idx]!r} at index {idx}")
        L = arr.astype(np.int8)
        K = L.shape[0]
        if weights is None:
            w = np.full(K, 1.0 / K)
        else:
            w = _real_array(weights, "weights")
            if w.shape != (K,):
                raise ValueError(f"weights must have shape (K,) = ({K},), one per classifier of {name}; got {w.shape}")
            if not np.all(np.isfinite(w)):
                raise ValueError(f"weights must be finite; got {w.tolist()}")
            if w.min() < -1e-12 or abs(w.sum() - 1.0) > 1e-9:
                raise ValueError(
                    f"weights must lie on the probability simplex (non-negative, summing to 1); got {w.tolist()}"
                )
            w = np.clip(w, 0.0, None)
        return L, w

    def _as_deterministic(self, labels, name="labels"):
        arr = np.asarray(labels)
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must be a deterministic classifier of shape (n,) = ({self.n},); got shape {arr.shape}"
            )
        return self._as_labels(arr, name=name)[0][0]

    def _as_attack(self, attack, name="attack"):
        arr = np.asarray(attack)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an integer array of target indices; got dtype {arr.dtype}")
        if arr.shape != (2, self.n):
            raise ValueError(
                f"{name} must have shape (2, n) = (2, {self.n}): row 0 the targets of the -1 masses, "
                f"row 1 those of the +1 masses; got shape {arr.shape}"
            )
        if arr.min() < 0 or arr.max() >= self.n:
            raise ValueError(f"{name} must hold point indices in [0, {self.n}); got values in [{arr.min()}, {arr.max()}]")
        att = arr.astype(np.intp)
        src = np.arange(self.n)
        ok = self._reach[src[None, :], att]
        if not ok.all():
            y, i = (int(v) for v in np.argwhere(~ok)[0])
            j = int(att[y, i])
            raise ValueError(
                f"{name}[{y}, {i}] = {j} moves point {i} by {self._D[i, j]:.6g} > eps = {self.eps:g}; "
                "every target must lie within eps of its point"
            )
        return att

    # -------------------------------------------------------- the adversary
    def _loss(self, L, w):
        """Mixture's error probability at every target: (2, n), row y = P(m(x_j) != y)."""
        p_pos = w @ (L == 1).astype(np.float64)
        return np.stack([p_pos, 1.0 - p_pos])

    def _gains(self, L, w):
        loss = self._loss(L, w)
        g = loss[:, None, :] - self.lam * self._cost[None, :, :]
        return np.where(self._reach[None, :, :], g, -np.inf)

    def pointwise_gains(self, labels, weights=None) -> np.ndarray:
        r"""The adversary's pointwise objective, shape (2, n, n).

        .. math::

            G_y[i, j] = P\big(m(x_j) \ne y\big) - \lambda\, c(x_i, x_j)
            \quad (\|x_i - x_j\| \le \varepsilon), \qquad -\infty \text{ otherwise},

        with :math:`c` the :attr:`cost` and :math:`m` the classifier or mixture: the
        integrand of RM20, Eq. 14 (norm) and Eq. 30 (mass), written for a mixture as in
        RM20, Eq. 8.  Row ``y`` follows :data:`NEG` / :data:`POS`.
        """
        return self._gains(*self._as_labels(labels, weights))

    def pointwise_values(self, labels, weights=None) -> np.ndarray:
        r"""The best gain of each (label, point) pair, :math:`\max_j G_y[i, j]`, shape (2, n).

        Staying put is always allowed, so every entry is finite and at least
        :math:`P(m(x_i) \ne y)`.
        """
        return self._gains(*self._as_labels(labels, weights)).max(axis=2)

    def adversary_value(self, labels, weights=None) -> float:
        r"""The regularized adversarial risk against the adversary's best response.

        .. math::

            \sup_{\phi} R^\Omega_{adv}(m, \phi)
            = \sum_{i} a_i \max_{j:\|x_i-x_j\|\le\varepsilon}\big[P(m(x_j) = +1) - \lambda c_{ij}\big]
            + b_i \max_{j:\|x_i-x_j\|\le\varepsilon}\big[P(m(x_j) = -1) - \lambda c_{ij}\big]

        (RM20, Eq. 4 for a classifier and Eq. 8 for a mixture, maximized pointwise as in
        the proofs of Lemmas 1-2, Eq. 12-15 and 28-31).

        Parameters
        ----------
        labels : array_like, shape (n,) or (K, n)
            A classifier or the classifiers of a mixture, values in {-1, +1}.
        weights : array_like, shape (K,), optional
            The mixture's weights (default uniform).
        """
        L, w = self._as_labels(labels, weights)
        best = self._gains(L, w).max(axis=2)
        return float(self._a @ best[0] + self._b @ best[1])

    def optimal_targets(self, labels, weights=None) -> np.ndarray:
        r"""Every pointwise best target: ``out[y, i, j]`` is True when :math:`x_j` maximizes :math:`G_y[i, \cdot]`.

        An attack :math:`\phi` is a best response to the classifier (it attains
        :meth:`adversary_value`) exactly when ``out[y, i, attack[y, i]]`` holds for every
        pair (y, i) with positive mass; the objective separates over pairs (RM20,
        Eq. 12 and 28).  Gains within ``1e-12`` of the maximum count as maximal.

        Returns
        -------
        array of bool, shape (2, n, n)
        """
        G = self._gains(*self._as_labels(labels, weights))
        return G >= G.max(axis=2, keepdims=True) - _TOL

    def adversary_best_response(self, labels, weights=None) -> np.ndarray:
        r"""An attack :math:`\phi \in BR_\Omega(m)`, as target indices, shape (2, n).

        Each pair (y, i) goes to a maximizer of :math:`G_y[i, \cdot]`
        (:meth:`pointwise_gains`).  Ties are broken by (1) staying put, then (2) the
        smallest penalty :math:`c_{ij}`, then (3) the smallest distance, then (4) the
        smallest index; rule (1) is RM20's "the optimal attack will only change points
        that are close enough to the decision boundary" (Lemmas 1-2).  Pairs with zero
        mass get their pointwise best target too (it does not change any value).

        For a deterministic classifier this is (RM20, Lemma 1, mass penalty) a move of
        every attackable point across the labelling, onto the nearest point of the
        other label, and (Lemma 2, norm penalty) a move onto the nearest point of the
        other label, the finite stand-in for the projection on the decision boundary,
        when that is profitable (:math:`\lambda \|x_i - x_j\| < 1`).
        """
        L, w = self._as_labels(labels, weights)
        G = self._gains(L, w)
        opt = G >= G.max(axis=2, keepdims=True) - _TOL
        n = self.n
        # lexicographic key: stay first, then cost, then distance, then index
        order = np.lexsort((np.broadcast_to(np.arange(n), (n, n)), self._D, self._cost, ~np.eye(n, dtype=bool)), axis=-1)
        # order[i] lists the targets j of row i by preference
        att = np.empty((2, n), dtype=np.intp)
        for y in (0, 1):
            pref = np.take_along_axis(opt[y], order, axis=1)
            first = np.argmax(pref, axis=1)
            att[y] = order[np.arange(n), first]
        return att

    def is_adversary_best_response(self, attack, labels, weights=None) -> bool:
        """True when ``attack`` attains :meth:`adversary_value` on every pair with mass."""
        att = self._as_attack(attack)
        opt = self.optimal_targets(labels, weights)
        ok = opt[0, np.arange(self.n), att[0]] | (self._a == 0)
        ok &= opt[1, np.arange(self.n), att[1]] | (self._b == 0)
        return bool(ok.all())

    def penalty_value(self, attack) -> float:
        r""":math:`\Omega(\phi)`: RM20, Eq. 5 (mass moved) or Eq. 6 (expected distance moved)."""
        att = self._as_attack(attack)
        src = np.arange(self.n)
        return float(self._a @ self._cost[src, att[0]] + self._b @ self._cost[src, att[1]])

    def risk(self, labels, attack, weights=None, penalized=True) -> float:
        r"""The (penalized) adversarial risk of a classifier or mixture under a given attack.

        .. math::

            R^\Omega_{adv}(m, \phi) = \sum_i a_i P\big(m(x_{\phi_{-1}(i)}) = +1\big)
            + b_i P\big(m(x_{\phi_{+1}(i)}) = -1\big) - \lambda\, \Omega(\phi)

        (RM20, Eq. 4 and Eq. 8); with ``penalized=False`` the :math:`\lambda\Omega` term
        is dropped (RM20, Eq. 2).  ``attack`` must move every point within
        :math:`\varepsilon`.
        """
        L, w = self._as_labels(labels, weights)
        att = self._as_attack(attack)
        loss = self._loss(L, w)
        r = float(self._a @ loss[0, att[0]] + self._b @ loss[1, att[1]])
        if penalized:
            r -= self.lam * self.penalty_value(att)
        return r

    def clean_risk(self, labels, weights=None) -> float:
        """The risk without attack, :math:`R(m)` (RM20, Eq. 1)."""
        return self.risk(labels, self.identity_attack(), weights, penalized=False)

    # --------------------------------------------------------- the defender
    def pushforward(self, attack) -> np.ndarray:
        r"""The transported masses :math:`\nu_y\, \phi_y\#\mu_y` on the points, shape (2, n).

        Row 0 is :math:`A_j = \sum_{i:\phi_{-1}(i)=j} a_i`, row 1
        :math:`B_j = \sum_{i:\phi_{+1}(i)=j} b_i` (the distribution Lemma 3 looks at).
        """
        att = self._as_attack(attack)
        out = np.zeros((2, self.n))
        np.add.at(out[0], att[0], self._a)
        np.add.at(out[1], att[1], self._b)
        return out

    def defender_best_response(self, attack, prefer=None) -> np.ndarray:
        r"""A labelling :math:`h \in BR(\phi)`: the Bayes classifier of the transported distribution.

        .. math::

            h(x_j) = +1 \text{ if } B_j > A_j, \qquad h(x_j) = -1 \text{ if } A_j > B_j

        with :math:`A, B` = :meth:`pushforward`; the penalty does not depend on
        :math:`h`, so this minimizes :meth:`risk` exactly (RM20, Lemma 3 and the
        "Additional Result" of its supplement, for the counting measure).  Ties
        (:math:`|A_j - B_j| \le 10^{-12}`, including points that receive no mass) take
        the label of ``prefer`` when given, else +1.

        Parameters
        ----------
        attack : array of int, shape (2, n)
        prefer : array_like, shape (n,), optional
            A labelling whose labels are kept on ties.

        Returns
        -------
        array of int8, shape (n,)
        """
        T = self.pushforward(attack)
        if prefer is None:
            h = np.ones(self.n, dtype=np.int8)
        else:
            h = self._as_deterministic(prefer, name="prefer").copy()
        h[T[1] > T[0] + _TOL] = 1
        h[T[0] > T[1] + _TOL] = -1
        return h

    def is_defender_best_response(self, labels, attack) -> bool:
        r"""RM20, Lemma 3 on a finite world: :math:`h \in BR(\phi)` iff no point is labelled against its transported majority.

        For every set :math:`B \subset P_h`, :math:`\nu_1\phi_1\#\mu_1(B) \ge \nu_{-1}\phi_{-1}\#\mu_{-1}(B)`
        (and symmetrically on :math:`N_h`); on finitely many points this is the same
        condition on each single point, and it is then also sufficient (the risk is a sum
        over points).  Equalities within ``1e-12`` pass.
        """
        h = self._as_deterministic(labels)
        T = self.pushforward(attack)
        bad = ((h == 1) & (T[0] > T[1] + _TOL)) | ((h == -1) & (T[1] > T[0] + _TOL))
        return not bool(bad.any())

    def is_pure_nash_equilibrium(self, labels, attack) -> bool:
        """True when ``attack`` is in BR(labels) and ``labels`` in BR(attack) (RM20, Def. 2)."""
        return self.is_adversary_best_response(attack, labels) and self.is_defender_best_response(labels, attack)

    # ---------------------------------------------------------- structure
    def attackable(self, labels, radius=None) -> np.ndarray:
        r"""The attackable zones :math:`N_h(\delta)` and :math:`P_h(\delta)` of RM20, Sec. 4.

        :math:`P_h(\delta) = \{x \in P_h : \exists z \in N_h,\ \|z - x\| \le \delta\}`
        and likewise :math:`N_h(\delta)`, with :math:`\delta` = ``radius`` (default
        :math:`\varepsilon`), restricted to the world's points.

        Returns
        -------
        array of bool, shape (2, n)
            Row 0 is :math:`N_h(\delta)`, row 1 :math:`P_h(\delta)` (the pairs (y, i)
            whose y-mass sits on a correctly labelled point with a point of the other
            label within :math:`\delta`).
        """
        h = self._as_deterministic(labels)
        r = self.eps if radius is None else _real(radius, "radius", lo=0.0)
        near = self._D <= r * (1 + 1e-12) + 1e-15
        out = np.zeros((2, self.n), dtype=bool)
        out[0] = (h == -1) & (near & (h == 1)[None, :]).any(axis=1)
        out[1] = (h == 1) & (near & (h == -1)[None, :]).any(axis=1)
        return out

    def profitably_attackable(self, labels) -> np.ndarray:
        r"""Pairs (y, i) the best response must move: :math:`h(x_i) = y` and some :math:`x_j`
        within :math:`\varepsilon` has :math:`h(x_j) \ne y` and :math:`\lambda c_{ij} < 1`.

        With the mass penalty and :math:`\lambda < 1` this is :meth:`attackable`; with the
        norm penalty it also needs :math:`\lambda\|x_i - x_j\| < 1`, which RM20 gets from
        :math:`\varepsilon \le 1`.  Shape (2, n), rows as in :meth:`attackable`.
        """
        h = self._as_deterministic(labels)
        ok = self._reach & (self.lam * self._cost < 1 - _TOL)
        out = np.zeros((2, self.n), dtype=bool)
        out[0] = (h == -1) & (ok & (h == 1)[None, :]).any(axis=1)
        out[1] = (h == 1) & (ok & (h == -1)[None, :]).any(axis=1)
        return out

    # ------------------------------------------------- Theorems 2 and 3
    def paper_alpha_interval(self, delta=None) -> tuple:
        r"""RM20's interval of weights :math:`\alpha` on :math:`h_1`.

        Mass penalty (RM20, Thm. 2): :math:`(\max(\lambda, 1-\lambda), 1)`.
        Norm penalty (RM20, Thm. 3, supplement): :math:`(\max(1 - \lambda\delta,
        \lambda(\varepsilon - \delta)), 1)` for :math:`\delta \in (0, \varepsilon)`
        (``delta`` is then required).

        Returns
        -------
        (low, high) : (float, float)
            The open interval.
        """
        lam = self.lam
        if self.penalty == "mass":
            if delta is not None:
                raise ValueError("delta is only used with the norm penalty (RM20, Thm. 3); got a mass-penalty world")
            return (max(lam, 1 - lam), 1.0)
        if delta is None:
            raise ValueError("delta in (0, eps) is required for the norm penalty (RM20, Thm. 3)")
        d = _real(delta, "delta", lo=0.0, hi=self.eps, lo_open=True, hi_open=True)
        return (max(1 - lam * d, lam * (self.eps - d)), 1.0)

    def proof_flip_set(self, h1, delta=None, reading="boundary") -> np.ndarray:
        r"""The set :math:`U` that RM20's proofs flip to build :math:`h_2`.

        Mass penalty (proof of Thm. 2): :math:`U = P_{h_1}(\varepsilon)`.

        Norm penalty (proof of Thm. 3): RM20 takes ":math:`U \subset P_{h_1}(\varepsilon)`
        such that :math:`\min_{x\in U}\|x - \pi_{P_h\setminus P_h(\varepsilon)}(x)\| = \delta`"
        and then uses two facts about it: every :math:`x \in U` is within
        :math:`\varepsilon - \delta` of :math:`N_{h_1}`, and every point of
        :math:`P_{h_1}\setminus P_{h_1}(\varepsilon)` is at least :math:`\delta` from
        :math:`U`.  Two readings:

        ``reading="boundary"`` (default)
            .. math:: U_\delta = \{x \in P_{h_1} : d(x, N_{h_1}) \le \varepsilon - \delta\}.

            Both facts then hold in any metric space (the second by the triangle
            inequality: :math:`d(x, N) > \varepsilon` on the safe zone), so the proof
            goes through on a finite world.
        ``reading="literal"``
            .. math:: U_\delta = \{x \in P_{h_1}(\varepsilon) : d(x, P_{h_1}\setminus P_{h_1}(\varepsilon)) \ge \delta\}

            (all of :math:`P_{h_1}(\varepsilon)` when the safe zone is empty).  This is
            the text's condition; the first fact then needs the geometry of a single flat
            boundary and fails on finite worlds (``docs/regularized.md``).

        For a 1-D threshold classifier (:math:`h_1 = +1` on :math:`(b, \infty)`) both
        readings give the same set, :math:`(b, b + \varepsilon - \delta]`, as in RM20's
        Figure 4.

        Returns
        -------
        array of bool, shape (n,)
        """
        h = self._as_deterministic(h1, name="h1")
        P_eps = self.attackable(h)[1]
        if self.penalty == "mass":
            if delta is not None:
                raise ValueError("delta is only used with the norm penalty (RM20, Thm. 3); got a mass-penalty world")
            return P_eps
        if delta is None:
            raise ValueError("delta in (0, eps) is required for the norm penalty (RM20, Thm. 3)")
        d = _real(delta, "delta", lo=0.0, hi=self.eps, lo_open=True, hi_open=True)
        if reading == "boundary":
            if not (h == -1).any():
                return np.zeros(self.n, dtype=bool)
            dist_N = self._D[:, h == -1].min(axis=1)
            return (h == 1) & (dist_N <= (self.eps - d) * (1 + 1e-12) + 1e-15)
        if reading == "literal":
            safe = (h == 1) & ~P_eps
            if not safe.any():
                return P_eps
            dist_safe = self._D[:, safe].min(axis=1)
            return P_eps & (dist_safe >= d * (1 - 1e-12))
        raise ValueError(f"reading must be 'boundary' or 'literal'; got {reading!r}")

    def finite_alpha_threshold(self, h1, delta=None, reading="boundary") -> float:
        r"""A weight above which the proof's mixture never does worse than :math:`h_1` on this world.

        For :math:`h_2 = -h_1` on :math:`U` = :meth:`proof_flip_set` and :math:`h_1`
        elsewhere, redoing RM20's proof of Thm. 2 / Thm. 3 point by point gives
        :math:`R^\Omega_{adv}(m) \le R^\Omega_{adv}(h_1)` for every :math:`\alpha \in
        [\alpha_0, 1]` with

        .. math::

            \alpha_0 = \max\Big(\lambda\, \max_{x \in U} c_N(x),\
            \max_{x \in P_{h_1}\setminus P_{h_1}(\varepsilon),\ c_U(x) \le \varepsilon}
            \big(1 - \lambda\, c_U(x)\big)\Big)

        where :math:`c_N(x)` (:math:`c_U(x)`) is the smallest penalty of a move from
        :math:`x` onto a point of :math:`N_{h_1}` (of :math:`U`) within
        :math:`\varepsilon`, and :math:`U` is :meth:`proof_flip_set` with the given
        ``delta`` and ``reading``.  These conditions make every line of RM20's Eq. 48-51
        (mass) and Eq. 53-57 (norm) non-negative; a third term,
        :math:`\lambda (c_N(x) - c_U(x))` on :math:`P_{h_1}(\varepsilon)\setminus U`
        (for Eq. 56), is implied by the first through the triangle inequality and is
        included all the same.

        With the mass penalty :math:`\alpha_0 \le \max(\lambda, 1-\lambda)`, Thm. 2's
        bound.  With the norm penalty and the ``"boundary"`` reading,
        :math:`\max_U c_N \le \varepsilon - \delta` and :math:`c_U > \delta` on the safe
        zone, so :math:`\alpha_0 \le \max(1 - \lambda\delta, \lambda(\varepsilon -
        \delta))`, Thm. 3's bound.  With the ``"literal"`` reading the first bound can
        fail on a finite world and :math:`\alpha_0` can exceed Thm. 3's
        (``docs/regularized.md``).  Returns 0 when :math:`U` is empty (then
        :math:`h_2 = h_1`).
        """
        h = self._as_deterministic(h1, name="h1")
        U = self.proof_flip_set(h, delta, reading)
        if not U.any():
            return 0.0
        lam = self.lam
        C = np.where(self._reach, self._cost, np.inf)
        cN = C[:, h == -1].min(axis=1)
        terms = [lam * float(cN[U].max())]
        P_eps = self.attackable(h)[1]
        safe = (h == 1) & ~P_eps
        cU = C[:, U].min(axis=1)
        near = safe & np.isfinite(cU)
        if near.any():
            terms.append(float((1 - lam * cU[near]).max()))
        # points of P_h(eps) \ U (Eq. 56): 1 - alpha - lam c_U <= 1 - lam c_N needs alpha >= lam (c_N - c_U)
        rest = P_eps & ~U & np.isfinite(cU)
        if rest.any():
            terms.append(float((lam * (cN[rest] - cU[rest])).max()))
        return max(0.0, max(terms))

    def randomization_mixture(self, h1, alpha, construction="best_response", delta=None, reading="boundary"):
        r"""The mixture of RM20, Thm. 2 / Thm. 3: :math:`h_1` with weight :math:`\alpha`, :math:`h_2` with :math:`1 - \alpha`.

        ``construction="best_response"`` (the theorems' statement):
        :math:`\phi` = :meth:`adversary_best_response` of :math:`h_1` and
        :math:`h_2` = :meth:`defender_best_response` of :math:`\phi`, ties keeping
        :math:`h_1`'s label.

        ``construction="proof"`` (the theorems' proofs): :math:`h_2 = -h_1` on
        :math:`U` = :meth:`proof_flip_set` (``delta`` needed for the norm penalty) and
        :math:`h_2 = h_1` elsewhere.  This :math:`h_2` need not be a best response to
        :math:`\phi` (the best response also flips :math:`N_{h_1}(\varepsilon)`), which
        is why both are offered.

        Parameters
        ----------
        h1 : array_like, shape (n,)
        alpha : float in [0, 1]
            The weight of :math:`h_1`.

        Returns
        -------
        labels : array of int8, shape (2, n)
            ``[h1, h2]``.
        weights : array, shape (2,)
            ``[alpha, 1 - alpha]``.
        """
        h = self._as_deterministic(h1, name="h1")
        a = _real(alpha, "alpha", lo=0.0, hi=1.0)
        if construction == "best_response":
            if delta is not None:
                raise ValueError("delta is only used with construction='proof'")
            if reading != "boundary":
                raise ValueError("reading is only used with construction='proof'")
            phi = self.adversary_best_response(h)
            h2 = self.defender_best_response(phi, prefer=h)
        elif construction == "proof":
            U = self.proof_flip_set(h, delta, reading)
            h2 = np.where(U, -h, h).astype(np.int8)
        else:
            raise ValueError(f"construction must be 'best_response' or 'proof'; got {construction!r}")
        return np.stack([h, h2]), np.array([a, 1.0 - a])

    def randomization_gain(self, h1, alpha, construction="best_response", delta=None, reading="boundary") -> float:
        r"""How much the mixture of :meth:`randomization_mixture` lowers the adversary's value.

        .. math::

            \sup_\phi R^\Omega_{adv}(h_1, \phi) - \sup_{\phi'} R^\Omega_{adv}(m^q_{\mathbf h}, \phi')

        RM20, Thm. 2 (mass) and Thm. 3 (norm) state that it is positive for
        :math:`\alpha` in :meth:`paper_alpha_interval`.
        """
        labels, weights = self.randomization_mixture(h1, alpha, construction=construction, delta=delta, reading=reading)
        return self.adversary_value(labels[0]) - self.adversary_value(labels, weights)

    # ------------------------------------------------------- bridge to Game
    def to_game(self, labels):
        r"""The regularized game over mixtures of given classifiers, as an :class:`advgame.Game`.

        One sample per (label, point) pair with positive mass (sample weight = its mass),
        one candidate attack per point within :math:`\varepsilon` (the others masked),
        one classifier per row of ``labels``, and the losses

        .. math:: \ell_{(y,i), j, k} = 1\{h_k(x_j) \ne y\} - \lambda c_{ij} + \lambda c_{\max} \ \ge 0,

        shifted by :math:`\lambda c_{\max}` (the largest penalty of an allowed move) so
        that they are non-negative.  The penalty does not depend on :math:`k`, so for
        every weight vector ``w``, ``game.risk(w) - offset`` equals
        ``adversary_value(labels, w)`` (RM20, Eq. 8), and ``advgame.solve(game)`` finds
        the best mixture of these classifiers against the regularized adversary.

        Parameters
        ----------
        labels : array_like, shape (K, n) or (n,)

        Returns
        -------
        game : advgame.Game
        offset : float
            :math:`\lambda c_{\max}`.
        """
        from .game import Game

        L, _ = self._as_labels(labels)
        n = self.n
        pairs = [(y, i) for y, m in enumerate((self._a, self._b)) for i in range(n) if m[i] > 0]
        m_max = int(self._reach.sum(axis=1).max())
        c_max = float(np.where(self._reach, self._cost, 0.0).max())
        offset = self.lam * c_max
        N, K = len(pairs), L.shape[0]
        losses = np.zeros((N, m_max, K))
        mask = np.zeros((N, m_max), dtype=bool)
        sw = np.empty(N)
        for s_, (y, i) in enumerate(pairs):
            targets = np.flatnonzero(self._reach[i])
            wrong = (L[:, targets] != (2 * y - 1)).astype(np.float64).T  # (t, K)
            losses[s_, :len(targets)] = wrong - self.lam * self._cost[i, targets][:, None] + offset
            mask[s_, :len(targets)] = True
            sw[s_] = (self._a, self._b)[y][i]
        losses = np.clip(losses, 0.0, None)
        return Game(losses, mask=mask, sample_weights=sw, bound=1.0 + offset), offset

    # ------------------------------------------------------------ Theorem 1
    def best_response_dynamics(self, labels, max_iter=1000) -> Dynamics:
        r"""Alternate best responses from a classifier until a labelling repeats (RM20, Thm. 1).

        :math:`\phi_t` = :meth:`adversary_best_response` (:math:`h_t`),
        :math:`h_{t+1}` = :meth:`defender_best_response` (:math:`\phi_t`, prefer=:math:`h_t`).
        A fixed point :math:`h_{t+1} = h_t` is a pure Nash equilibrium
        (:math:`h_t \in BR(\phi_t)`, :math:`\phi_t \in BR_\Omega(h_t)`); a cycle of
        length >= 2 means none of its labellings is one (the defender always moves).

        Parameters
        ----------
        labels : array_like, shape (n,)
            :math:`h_0`.
        max_iter : int
            The largest number of defender moves.

        Returns
        -------
        Dynamics
        """
        h = self._as_deterministic(labels)
        if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (numbers.Integral, np.integer)) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer; got {max_iter!r}")
        seen = {h.tobytes(): 0}
        hs, atts, vals = [h], [], []
        status, start, length = "max_iter", None, 0
        for t in range(int(max_iter)):
            phi = self.adversary_best_response(hs[-1])
            atts.append(phi)
            vals.append(self.adversary_value(hs[-1]))
            nxt = self.defender_best_response(phi, prefer=hs[-1])
            hs.append(nxt)
            key = nxt.tobytes()
            if key in seen:
                start = seen[key]
                length = t + 1 - start
                status = "fixed_point" if length == 1 else "cycle"
                break
            seen[key] = t + 1
        last = hs[-1]
        atts.append(self.adversary_best_response(last))
        vals.append(self.adversary_value(last))
        return Dynamics(
            labels=np.stack(hs),
            attacks=np.stack(atts),
            values=np.array(vals),
            status=status,
            cycle_start=start,
            cycle_length=length,
        )

    def minimax_value(self, limit=2**16):
        r"""The deterministic defender's value :math:`\inf_h \sup_\phi R^\Omega_{adv}(h, \phi)` by enumeration.

        Enumerates all :math:`2^n` labellings (the right side of RM20, Consequence 1).

        Parameters
        ----------
        limit : int
            Largest number of labellings to enumerate; a larger world raises ValueError.

        Returns
        -------
        (value, labels) : (float, array of int8, shape (n,))
            The value and the first labelling (in binary order, -1 before +1) attaining it.
        """
        n = self.n
        if 2**n > limit:
            raise ValueError(f"minimax_value enumerates 2**n = {2**n} labellings, more than limit = {limit}")
        best, best_h = np.inf, None
        block = max(1, 2**22 // (2 * n * n))  # labellings per block: bounds memory to ~32 MB
        for start in range(0, 2**n, block):
            codes = np.arange(start, min(2**n, start + block))
            bits = (codes[:, None] >> np.arange(n)[None, ::-1]) & 1
            H = np.where(bits == 1, 1, -1).astype(np.int8)  # (B, n), binary order
            P = (H == 1).astype(np.float64)
            loss = np.stack([P, 1.0 - P], axis=1)  # (B, 2, n)
            G = loss[:, :, None, :] - self.lam * self._cost[None, None]
            G = np.where(self._reach[None, None], G, -np.inf).max(axis=3)  # (B, 2, n)
            vals = G[:, 0] @ self._a + G[:, 1] @ self._b
            k = int(np.argmin(vals))
            if vals[k] < best - _TOL:
                best, best_h = float(vals[k]), H[k].copy()
        return best, best_h

    def maximin_value(self, limit=2**16):
        r"""The deterministic adversary's value :math:`\sup_\phi \inf_h R^\Omega_{adv}(h, \phi)` by enumeration.

        The left side of RM20, Consequence 1 (weak duality puts it below
        :meth:`minimax_value`).  For a fixed attack the defender's best response is the
        transported Bayes classifier, so
        :math:`\inf_h R^\Omega_{adv}(h,\phi) = \sum_j \min(A_j, B_j) - \lambda\Omega(\phi)`;
        the attacks of the pairs with positive mass are enumerated, label by label.

        Parameters
        ----------
        limit : int
            Largest number of attacks per label to enumerate; a larger world raises
            ValueError.

        Returns
        -------
        (value, attack) : (float, array of intp, shape (2, n))
        """
        n = self.n
        per_label = []
        for y, m in ((0, self._a), (1, self._b)):
            idx = np.flatnonzero(m > 0)
            choices = [np.flatnonzero(self._reach[i]) for i in idx]
            count = math.prod(len(c) for c in choices)
            if count > limit:
                raise ValueError(
                    f"maximin_value would enumerate {count} attacks of the label {2 * y - 1} masses, "
                    f"more than limit = {limit}"
                )
            grids = np.meshgrid(*choices, indexing="ij") if choices else []
            targets = np.stack([g.ravel() for g in grids], axis=1) if choices else np.zeros((1, 0), dtype=np.intp)
            K = targets.shape[0]
            T = np.zeros((K, n))
            rows = np.repeat(np.arange(K), len(idx))
            np.add.at(T, (rows, targets.ravel()), np.tile(m[idx], K))
            pen = (self._cost[idx[None, :], targets] * m[idx][None, :]).sum(axis=1) if len(idx) else np.zeros(1)
            per_label.append((idx, targets, T, pen))
        (ia, ta, A, pa), (ib, tb, B, pb) = per_label
        best, arg = -np.inf, (0, 0)
        # combine the two labels' attacks; chunk over the -1 attacks to bound memory
        chunk = max(1, 2**20 // max(1, B.shape[0] * n))
        for s in range(0, A.shape[0], chunk):
            vals = np.minimum(A[s:s + chunk, None, :], B[None, :, :]).sum(axis=2)
            vals -= self.lam * (pa[s:s + chunk, None] + pb[None, :])
            k = int(np.argmax(vals))
            v = float(vals.flat[k])
            if v > best + _TOL:
                best, arg = v, (s + k // vals.shape[1], k % vals.shape[1])
        att = self.identity_attack()
        att[0, ia] = ta[arg[0]]
        att[1, ib] = tb[arg[1]]
        return best, att


# ---------------------------------------------------------------- examples
def motivating_world(lam=0.0, penalty="mass"):
    r"""The motivating example of MNE21, Sec. 2.1, as a finite world.

    :math:`P(Y=\pm1) = 1/2`; :math:`X = 0` given :math:`Y=-1`; :math:`X = \pm1` (1/2 each)
    given :math:`Y=+1`; :math:`\varepsilon = 1`.  The points are
    :math:`\{-2, -1, 0, 1, 2\}` (the ends of every unit ball around a data point; the
    two classifiers are thresholds, so these targets are all an adversary needs), with
    masses ``mass_neg = [0, 0, 1/2, 0, 0]`` and ``mass_pos = [0, 1/4, 0, 1/4, 0]``.
    The classifiers :math:`f_1(x) = -x - 1/2` and :math:`f_2(x) = x - 1/2` (predict +1
    when :math:`f > 0`) label the points ``[+1, +1, -1, -1, -1]`` and
    ``[-1, -1, -1, +1, +1]``.

    With ``lam = 0`` (MNE21's unregularized adversary) each classifier has adversarial
    risk 1 and the uniform mixture 3/4.  With the mass penalty and
    :math:`\lambda \in [0, 1)`, each classifier has value :math:`1 - 3\lambda/4` and the
    uniform mixture :math:`\tfrac12\max(0, \tfrac12 - \lambda) + \tfrac12\max(\tfrac12, 1 - \lambda)`.

    Returns
    -------
    world : FiniteWorld
    labels : array of int8, shape (2, 5)
        The labellings of :math:`f_1` and :math:`f_2`.
    """
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    world = FiniteWorld(x, [0, 0, 0.5, 0, 0], [0, 0.25, 0, 0.25, 0], eps=1.0, penalty=penalty, lam=lam)
    f = np.stack([-x - 0.5, x - 0.5])
    return world, np.where(f > 0, 1, -1).astype(np.int8)


def gaussian_world(mean=1.0, std=1.0, prior_pos=0.5, eps=0.5, penalty="mass", lam=0.5, n=801, half_width=5.0):
    r"""Two 1-D Gaussians on a uniform grid (the setting of RM20, Figure 1).

    :math:`\mu_{-1} = \mathcal N(-\text{mean}, \text{std}^2)`,
    :math:`\mu_{+1} = \mathcal N(\text{mean}, \text{std}^2)`, :math:`\nu_{+1}` =
    ``prior_pos``, discretized on ``n`` equally spaced points of
    ``[-half_width, half_width]`` (each point gets the density times the spacing,
    renormalized so the masses sum to 1).  The Bayes classifier of the clean data is
    ``numpy.where(world.points[:, 0] > 0, 1, -1)`` when ``prior_pos = 0.5``.

    Returns
    -------
    FiniteWorld
    """
    mean = _real(mean, "mean")
    std = _real(std, "std", lo=0.0, lo_open=True)
    prior_pos = _real(prior_pos, "prior_pos", lo=0.0, hi=1.0)
    half_width = _real(half_width, "half_width", lo=0.0, lo_open=True)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (numbers.Integral, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2; got {n!r}")
    x = np.linspace(-half_width, half_width, int(n))

    def dens(m):
        return np.exp(-0.5 * ((x - m) / std) ** 2)

    neg = dens(-mean)
    pos = dens(mean)
    neg = (1 - prior_pos) * neg / neg.sum()
    pos = prior_pos * pos / pos.sum()
    return FiniteWorld(x, neg, pos, eps=eps, penalty=penalty, lam=lam)


def random_world(n=6, dim=1, penalty="mass", lam=0.5, eps=1.0, full_support=True, grid=4, seed=None):
    r"""A seeded random finite world on an integer grid (ties in distance happen, on purpose).

    The points are ``n`` distinct points of :math:`\{0, \dots, \text{grid}\cdot n - 1\}^d`
    scaled by 1/``grid``; masses are uniform in (0, 1) (some set to 0 when
    ``full_support`` is False) and normalized to sum to 1.

    Parameters
    ----------
    n, dim : int
    penalty, lam, eps
        As in :class:`FiniteWorld`.
    full_support : bool
        Give every point mass of both labels.
    grid : int
        Grid points per unit.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    FiniteWorld
    """
    for name, v in (("n", n), ("dim", dim), ("grid", grid)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")
    rng = np.random.default_rng(seed)
    side = grid * n
    if side**dim < n:
        raise ValueError(f"the grid has {side**dim} points, fewer than n = {n}")
    flat = rng.choice(side**dim, size=n, replace=False)
    coords = np.stack(np.unravel_index(flat, (side,) * dim), axis=1).astype(np.float64) / grid
    m = rng.random((2, n)) + 0.05
    if not full_support:
        m *= rng.random((2, n)) < 0.7
        if m.sum() == 0:
            m[1, 0] = 1.0
    m /= m.sum()
    return FiniteWorld(coords, m[0], m[1], eps=eps, penalty=penalty, lam=lam)


def plot_pushforward_1d(world, attack=None, labels=None, ax=None, dirac=False, title=None, legend=True):
    r"""Plot the transported class densities of a 1-D world (RM20, Figure 1).

    Draws :math:`\nu_{-1}\phi_{-1}\#\mu_{-1}` (blue, dotted) and
    :math:`\nu_{+1}\phi_{+1}\#\mu_{+1}` (red, solid) as densities (mass divided by
    the local grid spacing), and, when ``labels`` is given, shades the attackable zones
    :math:`N_h(\varepsilon)` and :math:`P_h(\varepsilon)` (RM20, Sec. 4).

    Parameters
    ----------
    world : FiniteWorld
        A world with ``dim == 1``.
    attack : array of int, shape (2, n), optional
        Default: no attack.
    labels : array_like, shape (n,), optional
        A deterministic classifier, for the shading.
    ax : matplotlib.axes.Axes, optional
        Default: a new figure's axes.
    dirac : bool
        Draw the mass that the attack *moves* as point masses (vertical stems annotated
        with their mass) instead of spreading it as a density: the norm penalty's best
        response concentrates it on the points next to the boundary (RM20, Lemma 2).
    title : str, optional
    legend : bool

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(world, FiniteWorld):
        raise TypeError(f"world must be a FiniteWorld; got {type(world).__name__}")
    if world.dim != 1:
        raise ValueError(f"world must be 1-D (points of shape (n, 1)); got dim = {world.dim}")
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    x = world.points[:, 0]
    order = np.argsort(x)
    xs = x[order]
    if world.n > 1:
        gaps = np.diff(xs)
        width = np.empty(world.n)
        width[1:-1] = 0.5 * (gaps[1:] + gaps[:-1])
        width[0], width[-1] = gaps[0], gaps[-1]
    else:
        width = np.ones(1)
    att = world.identity_attack() if attack is None else world._as_attack(attack)
    moved = att != np.arange(world.n)[None, :]
    masses = world.masses
    if dirac:
        stay = np.where(moved, 0.0, masses)
        T = np.zeros((2, world.n))
        for y in (0, 1):
            np.add.at(T[y], att[y], stay[y])
        D = np.zeros((2, world.n))
        for y in (0, 1):
            np.add.at(D[y], att[y], np.where(moved[y], masses[y], 0.0))
    else:
        T = world.pushforward(att)
        D = np.zeros((2, world.n))
    styles = [("tab:blue", ":", r"$\nu_{-1}\phi_{-1}\#\mu_{-1}$"), ("tab:red", "-", r"$\nu_{1}\phi_{1}\#\mu_{1}$")]
    dens = T[:, order] / width[None, :]
    top = max(float((world.masses[:, order] / width[None, :]).max()), float(dens.max()), 1e-12)
    if labels is not None:
        h = world._as_deterministic(labels)
        zones = world.attackable(h)
        for row, colour, name in ((0, "tab:blue", r"$N_h(\varepsilon)$"), (1, "tab:red", r"$P_h(\varepsilon)$")):
            pts = x[zones[row]]
            if pts.size:
                ax.axvspan(pts.min(), pts.max(), color=colour, alpha=0.12, lw=0, label=name)
    for y, (colour, ls, name) in enumerate(styles):
        ax.plot(xs, dens[y], color=colour, ls=ls, lw=1.8, label=name)
    # point masses: the +1 arrow solid and wide, the -1 arrow dashed on top of it
    for y, (colour, ls, name) in enumerate(styles):
        hit = np.flatnonzero(D[y] > 0)
        if not hit.size:
            continue
        j = hit[np.argmax(D[y, hit])]
        ax.annotate("", xy=(x[j], 0.92 * top), xytext=(x[j], 0.0), zorder=4 - y,
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=3.0 if y == 1 else 1.4,
                                    ls="-" if y == 1 else (0, (2, 1.5))))
        ax.text(x[j] + (0.08 if y == 1 else -0.08) * (xs[-1] - xs[0]) / 8, 0.93 * top,
                f"{D[y, hit].sum():.3f}", color=colour, fontsize=8, ha="left" if y == 1 else "right", va="bottom")
    ax.set_ylim(0, 1.12 * top)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_xlabel("$x$")
    if title is not None:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    return ax
