r"""The players' best responses on a finite world (RM20, Lemmas 1-3, Def. 1-2).

:class:`BestResponsesMixin` is a part of :class:`~advgame.regularized.FiniteWorld`:
the adversary's best responses to a classifier or mixture (RM20, Lemma 1 for the mass
penalty, Lemma 2 for the norm penalty), the defender's best response to an attack (the
Bayes classifier of the transported distribution, RM20, Lemma 3), and the test for a
pure Nash equilibrium (RM20, Def. 2).
"""

from __future__ import annotations

import numpy as np

from .conventions import TIE_TOL

__all__ = ["BestResponsesMixin"]


class BestResponsesMixin:
    """Best responses (mixed into :class:`~advgame.regularized.FiniteWorld`)."""

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
        G = self.pointwise_gains(labels, weights)
        return G >= G.max(axis=2, keepdims=True) - TIE_TOL

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
        G = self.pointwise_gains(labels, weights)
        opt = G >= G.max(axis=2, keepdims=True) - TIE_TOL
        n = self.n
        # lexicographic key: stay first, then cost, then distance, then index
        order = np.lexsort((np.broadcast_to(np.arange(n), (n, n)), self.distances, self.cost, ~np.eye(n, dtype=bool)), axis=-1)
        # order[i] lists the targets j of row i by preference
        att = np.empty((2, n), dtype=np.intp)
        for y in (0, 1):
            pref = np.take_along_axis(opt[y], order, axis=1)
            first = np.argmax(pref, axis=1)
            att[y] = order[np.arange(n), first]
        return att

    def is_adversary_best_response(self, attack, labels, weights=None) -> bool:
        """True when ``attack`` attains :meth:`adversary_value` on every pair with mass."""
        att = self.check_attack(attack)
        opt = self.optimal_targets(labels, weights)
        ok = opt[0, np.arange(self.n), att[0]] | (self.mass_neg == 0)
        ok &= opt[1, np.arange(self.n), att[1]] | (self.mass_pos == 0)
        return bool(ok.all())

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
            h = self.check_classifier(prefer, name="prefer").copy()
        h[T[1] > T[0] + TIE_TOL] = 1
        h[T[0] > T[1] + TIE_TOL] = -1
        return h

    def is_defender_best_response(self, labels, attack) -> bool:
        r"""RM20, Lemma 3 on a finite world: :math:`h \in BR(\phi)` iff no point is labelled against its transported majority.

        For every set :math:`B \subset P_h`, :math:`\nu_1\phi_1\#\mu_1(B) \ge \nu_{-1}\phi_{-1}\#\mu_{-1}(B)`
        (and symmetrically on :math:`N_h`); on finitely many points this is the same
        condition on each single point, and it is then also sufficient (the risk is a sum
        over points).  Equalities within ``1e-12`` pass.
        """
        h = self.check_classifier(labels)
        T = self.pushforward(attack)
        bad = ((h == 1) & (T[0] > T[1] + TIE_TOL)) | ((h == -1) & (T[1] > T[0] + TIE_TOL))
        return not bool(bad.any())

    def is_pure_nash_equilibrium(self, labels, attack) -> bool:
        """True when ``attack`` is in BR(labels) and ``labels`` in BR(attack) (RM20, Def. 2)."""
        return self.is_adversary_best_response(attack, labels) and self.is_defender_best_response(labels, attack)

    def profitably_attackable(self, labels) -> np.ndarray:
        r"""Pairs (y, i) the best response must move: :math:`h(x_i) = y` and some :math:`x_j`
        within :math:`\varepsilon` has :math:`h(x_j) \ne y` and :math:`\lambda c_{ij} < 1`.

        With the mass penalty and :math:`\lambda < 1` this is :meth:`attackable`; with the
        norm penalty it also needs :math:`\lambda\|x_i - x_j\| < 1`, which RM20 gets from
        :math:`\varepsilon \le 1`.  Shape (2, n), rows as in :meth:`attackable`.
        """
        h = self.check_classifier(labels)
        ok = self.reachable & (self.penalty_strength * self.cost < 1 - TIE_TOL)
        out = np.zeros((2, self.n), dtype=bool)
        out[0] = (h == -1) & (ok & (h == 1)[None, :]).any(axis=1)
        out[1] = (h == 1) & (ok & (h == -1)[None, :]).any(axis=1)
        return out

