r"""The finite world of RM20's game: points, masses, budget, penalty, and argument checks.

:class:`FiniteWorld` holds the data of the game and validates classifiers and attacks;
what is computed on it lives in the mixins it inherits, one module per part of RM20:

* :mod:`.values` - the adversary's objective and values (RM20, Eq. 1-8);
* :mod:`.best_responses` - the players' best responses (RM20, Lemmas 1-3);
* :mod:`.theorems` - the constructions of RM20, Thm. 2 and Thm. 3;
* :mod:`.dynamics` - best-response dynamics and the pure-strategy values (RM20, Thm. 1,
  Consequence 1).
"""

from __future__ import annotations

import warnings

import numpy as np

from .._validation import check_array, check_choice, check_real, check_simplex, norm_exponent
from .best_responses import BestResponsesMixin
from .conventions import PENALTIES, renamed_argument
from .dynamics import DynamicsMixin
from .theorems import TheoremsMixin
from .values import ValuesMixin

__all__ = ["FiniteWorld"]


class FiniteWorld(ValuesMixin, BestResponsesMixin, TheoremsMixin, DynamicsMixin):
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
    penalty_strength : float, default 0.5
        RM20's regularization weight :math:`\lambda \in [0, 1)`; 0 is the unregularized
        adversary (RM20, Eq. 3).
    norm : {"l1", "l2", "linf"}, {1, 2, inf} or float >= 1
        The :math:`\ell_p` norm of the budget and of :math:`\Omega_{norm}` (RM20 uses
        :math:`\ell_2`; its Lemma 1 holds for any norm, Lemma 2 for Hilbert norms).
    lam : float, optional
        Deprecated alias of ``penalty_strength`` (emits a :class:`DeprecationWarning`).

    Raises
    ------
    TypeError
        Non-numeric arrays or parameters.
    ValueError
        Wrong shapes, NaN or inf, repeated points, negative masses, masses not summing
        to 1, ``eps <= 0``, ``penalty_strength`` outside [0, 1), an unknown penalty or
        norm.

    Examples
    --------
    >>> from advgame.regularized import motivating_world
    >>> world, labels = motivating_world()
    >>> world.adversary_value(labels[0])
    1.0
    >>> world.adversary_value(labels, [0.5, 0.5])
    0.75
    """

    def __init__(self, points, mass_neg, mass_pos, eps, penalty="mass", penalty_strength=None, norm=2, *,
                 lam=None):
        strength = renamed_argument("penalty_strength", penalty_strength, "lam", lam, default=0.5)
        pts = check_array(points, "points", finite=False)
        if pts.ndim == 1:
            pts = pts[:, None]
        if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] == 0:
            raise ValueError(
                f"points must have shape (n,) or (n, d) with n, d >= 1; got shape {np.shape(points)}"
            )
        check_array(pts, "points")  # finite
        n = pts.shape[0]
        self.penalty = check_choice("penalty", penalty, PENALTIES)
        self.penalty_strength = check_real("penalty_strength", strength, lo=0.0, hi=1.0, hi_open=True)
        self.eps = check_real("eps", eps, lo=0.0, lo_open=True)
        p = norm_exponent(norm, "norm")
        self.norm = p

        masses = []
        for name, m in (("mass_neg", mass_neg), ("mass_pos", mass_pos)):
            arr = check_array(m, name, finite=False)
            if arr.shape != (n,):
                raise ValueError(f"{name} must have shape (n,) = ({n},), one mass per point; got {arr.shape}")
            check_array(arr, name)  # finite
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
    def lam(self) -> float:
        """Deprecated alias of :attr:`penalty_strength` (emits a :class:`DeprecationWarning`)."""
        warnings.warn("'lam' is deprecated; use 'penalty_strength' (same meaning)", DeprecationWarning,
                      stacklevel=2)
        return self.penalty_strength

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
            f"penalty_strength={self.penalty_strength:g}, norm={self.norm:g})"
        )

    # ------------------------------------------------------------ validation
    def check_labels(self, labels, weights=None, name="labels"):
        """Validate a classifier or a mixture of classifiers.

        Parameters
        ----------
        labels : array_like, shape (n,) or (K, n)
            Values in {-1, +1}.
        weights : array_like, shape (K,), optional
            The mixture's weights on the simplex (default uniform).
        name : str
            The argument's name in error messages.

        Returns
        -------
        (labels, weights) : (array of int8, shape (K, n), array of float64, shape (K,))
        """
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
            w = check_array(weights, "weights")
            if w.shape != (K,):
                raise ValueError(f"weights must have shape (K,) = ({K},), one per classifier of {name}; got {w.shape}")
            check_simplex(w, K, "weights")  # the project's simplex tolerance
            # clipped, not renormalized: values stay bit-identical to earlier releases
            w = np.clip(w, 0.0, None)
        return L, w

    def check_classifier(self, labels, name="labels"):
        """Validate a deterministic classifier: an int8 array of shape (n,) in {-1, +1}."""
        arr = np.asarray(labels)
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must be a deterministic classifier of shape (n,) = ({self.n},); got shape {arr.shape}"
            )
        return self.check_labels(arr, name=name)[0][0]

    def check_attack(self, attack, name="attack"):
        """Validate an attack: target indices of shape (2, n), each within ``eps`` of its point."""
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
