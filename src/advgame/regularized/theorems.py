r"""The constructions of RM20's "randomization matters" theorems (Thm. 2 and Thm. 3).

:class:`TheoremsMixin` is a part of :class:`~advgame.regularized.FiniteWorld`: the
interval of mixture weights the theorems state, the set :math:`U` their proofs flip,
the weight above which the proofs' mixture provably does no worse on a given finite
world, and the mixture itself with its gain.  RM20's :math:`\alpha` (the weight of
:math:`h_1`) is called ``mixture_weight`` here; ``alpha`` remains as a deprecated alias.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._validation import check_choice, check_real
from .conventions import renamed_argument

__all__ = ["TheoremsMixin"]


class TheoremsMixin:
    """RM20, Thm. 2 and Thm. 3 (mixed into :class:`~advgame.regularized.FiniteWorld`)."""

    # ------------------------------------------------- Theorems 2 and 3
    def paper_mixture_weight_interval(self, delta=None) -> tuple:
        r"""RM20's interval of mixture weights :math:`\alpha` (the weight of :math:`h_1`).

        Mass penalty (RM20, Thm. 2): :math:`(\max(\lambda, 1-\lambda), 1)`.
        Norm penalty (RM20, Thm. 3, supplement): :math:`(\max(1 - \lambda\delta,
        \lambda(\varepsilon - \delta)), 1)` for :math:`\delta \in (0, \varepsilon)`
        (``delta`` is then required).

        Returns
        -------
        (low, high) : (float, float)
            The open interval.
        """
        lam = self.penalty_strength
        if self.penalty == "mass":
            if delta is not None:
                raise ValueError("delta is only used with the norm penalty (RM20, Thm. 3); got a mass-penalty world")
            return (max(lam, 1 - lam), 1.0)
        if delta is None:
            raise ValueError("delta in (0, eps) is required for the norm penalty (RM20, Thm. 3)")
        d = check_real("delta", delta, lo=0.0, hi=self.eps, lo_open=True, hi_open=True)
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
        h = self.check_classifier(h1, name="h1")
        P_eps = self.attackable(h)[1]
        if self.penalty == "mass":
            if delta is not None:
                raise ValueError("delta is only used with the norm penalty (RM20, Thm. 3); got a mass-penalty world")
            return P_eps
        if delta is None:
            raise ValueError("delta in (0, eps) is required for the norm penalty (RM20, Thm. 3)")
        d = check_real("delta", delta, lo=0.0, hi=self.eps, lo_open=True, hi_open=True)
        check_choice("reading", reading, ("boundary", "literal"))
        if reading == "boundary":
            if not (h == -1).any():
                return np.zeros(self.n, dtype=bool)
            dist_N = self.distances[:, h == -1].min(axis=1)
            return (h == 1) & (dist_N <= (self.eps - d) * (1 + 1e-12) + 1e-15)
        safe = (h == 1) & ~P_eps  # reading == "literal"
        if not safe.any():
            return P_eps
        dist_safe = self.distances[:, safe].min(axis=1)
        return P_eps & (dist_safe >= d * (1 - 1e-12))

    def finite_mixture_weight_threshold(self, h1, delta=None, reading="boundary") -> float:
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
        h = self.check_classifier(h1, name="h1")
        U = self.proof_flip_set(h, delta, reading)
        if not U.any():
            return 0.0
        lam = self.penalty_strength
        C = np.where(self.reachable, self.cost, np.inf)
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

    def randomization_mixture(self, h1, mixture_weight=None, construction="best_response", delta=None,
                              reading="boundary", *, alpha=None):
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
        mixture_weight : float in [0, 1]
            RM20's :math:`\alpha`, the weight of :math:`h_1`.
        construction : {"best_response", "proof"}
        delta : float in (0, eps), optional
            The :math:`\delta` of RM20, Thm. 3 (norm penalty, ``construction="proof"``).
        reading : {"boundary", "literal"}
            The reading of the proof's set :math:`U` (:meth:`proof_flip_set`).
        alpha : float, optional
            Deprecated alias of ``mixture_weight`` (emits a :class:`DeprecationWarning`).

        Returns
        -------
        labels : array of int8, shape (2, n)
            ``[h1, h2]``.
        weights : array, shape (2,)
            ``[mixture_weight, 1 - mixture_weight]``.
        """
        weight = renamed_argument("mixture_weight", mixture_weight, "alpha", alpha)
        h = self.check_classifier(h1, name="h1")
        a = check_real("mixture_weight", weight, lo=0.0, hi=1.0)
        check_choice("construction", construction, ("best_response", "proof"))
        if construction == "best_response":
            if delta is not None:
                raise ValueError("delta is only used with construction='proof'")
            if reading != "boundary":
                raise ValueError("reading is only used with construction='proof'")
            phi = self.adversary_best_response(h)
            h2 = self.defender_best_response(phi, prefer=h)
        else:
            U = self.proof_flip_set(h, delta, reading)
            h2 = np.where(U, -h, h).astype(np.int8)
        return np.stack([h, h2]), np.array([a, 1.0 - a])

    def randomization_gain(self, h1, mixture_weight=None, construction="best_response", delta=None,
                           reading="boundary", *, alpha=None) -> float:
        r"""How much the mixture of :meth:`randomization_mixture` lowers the adversary's value.

        .. math::

            \sup_\phi R^\Omega_{adv}(h_1, \phi) - \sup_{\phi'} R^\Omega_{adv}(m^q_{\mathbf h}, \phi')

        RM20, Thm. 2 (mass) and Thm. 3 (norm) state that it is positive for
        :math:`\alpha` in :meth:`paper_mixture_weight_interval`.  On a finite world it can
        be 0 (nothing attackable) and, for the norm penalty with the ``"literal"`` reading
        of the proof's set or with the statement's :math:`h_2`, negative
        (``docs/regularized.md``, "Finite-world phenomena").  Arguments as in
        :meth:`randomization_mixture`.
        """
        weight = renamed_argument("mixture_weight", mixture_weight, "alpha", alpha)
        labels, weights = self.randomization_mixture(h1, weight, construction=construction, delta=delta,
                                                     reading=reading)
        return self.adversary_value(labels[0]) - self.adversary_value(labels, weights)

    # ------------------------------------------------------ deprecated names
    def paper_alpha_interval(self, delta=None) -> tuple:
        """Deprecated alias of :meth:`paper_mixture_weight_interval` (emits a :class:`DeprecationWarning`)."""
        warnings.warn("'paper_alpha_interval' is deprecated; use 'paper_mixture_weight_interval'",
                      DeprecationWarning, stacklevel=2)
        return self.paper_mixture_weight_interval(delta)

    def finite_alpha_threshold(self, h1, delta=None, reading="boundary") -> float:
        """Deprecated alias of :meth:`finite_mixture_weight_threshold` (emits a :class:`DeprecationWarning`)."""
        warnings.warn("'finite_alpha_threshold' is deprecated; use 'finite_mixture_weight_threshold'",
                      DeprecationWarning, stacklevel=2)
        return self.finite_mixture_weight_threshold(h1, delta, reading)
