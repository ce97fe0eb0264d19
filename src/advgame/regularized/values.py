r"""The adversary's objective and values on a finite world (RM20, Eq. 1-8).

:class:`ValuesMixin` is a part of :class:`~advgame.regularized.FiniteWorld`: the
pointwise gains of the regularized adversary, the values of classifiers and mixtures
against its best response, risks under a given attack, the transported masses, the
attackable zones of RM20, Sec. 4, and the bridge to :class:`advgame.Game`.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_real

__all__ = ["ValuesMixin"]


class ValuesMixin:
    """Values of the regularized game (mixed into :class:`~advgame.regularized.FiniteWorld`)."""

    # -------------------------------------------------------- the adversary
    def _loss(self, L, w):
        """Mixture's error probability at every target: (2, n), row y = P(m(x_j) != y)."""
        p_pos = w @ (L == 1).astype(np.float64)
        return np.stack([p_pos, 1.0 - p_pos])

    def _gains(self, L, w):
        loss = self._loss(L, w)
        g = loss[:, None, :] - self.penalty_strength * self.cost[None, :, :]
        return np.where(self.reachable[None, :, :], g, -np.inf)

    def pointwise_gains(self, labels, weights=None) -> np.ndarray:
        r"""The adversary's pointwise objective, shape (2, n, n).

        .. math::

            G_y[i, j] = P\big(m(x_j) \ne y\big) - \lambda\, c(x_i, x_j)
            \quad (\|x_i - x_j\| \le \varepsilon), \qquad -\infty \text{ otherwise},

        with :math:`c` the :attr:`cost` and :math:`m` the classifier or mixture: the
        integrand of RM20, Eq. 14 (norm) and Eq. 30 (mass), written for a mixture as in
        RM20, Eq. 8.  Row ``y`` follows :data:`NEG` / :data:`POS`.
        """
        return self._gains(*self.check_labels(labels, weights))

    def pointwise_values(self, labels, weights=None) -> np.ndarray:
        r"""The best gain of each (label, point) pair, :math:`\max_j G_y[i, j]`, shape (2, n).

        Staying put is always allowed, so every entry is finite and at least
        :math:`P(m(x_i) \ne y)`.
        """
        return self._gains(*self.check_labels(labels, weights)).max(axis=2)

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
        L, w = self.check_labels(labels, weights)
        best = self._gains(L, w).max(axis=2)
        return float(self.mass_neg @ best[0] + self.mass_pos @ best[1])

    def penalty_value(self, attack) -> float:
        r""":math:`\Omega(\phi)`: RM20, Eq. 5 (mass moved) or Eq. 6 (expected distance moved)."""
        att = self.check_attack(attack)
        src = np.arange(self.n)
        return float(self.mass_neg @ self.cost[src, att[0]] + self.mass_pos @ self.cost[src, att[1]])

    def risk(self, labels, attack, weights=None, penalized=True) -> float:
        r"""The (penalized) adversarial risk of a classifier or mixture under a given attack.

        .. math::

            R^\Omega_{adv}(m, \phi) = \sum_i a_i P\big(m(x_{\phi_{-1}(i)}) = +1\big)
            + b_i P\big(m(x_{\phi_{+1}(i)}) = -1\big) - \lambda\, \Omega(\phi)

        (RM20, Eq. 4 and Eq. 8); with ``penalized=False`` the :math:`\lambda\Omega` term
        is dropped (RM20, Eq. 2).  ``attack`` must move every point within
        :math:`\varepsilon`.
        """
        L, w = self.check_labels(labels, weights)
        att = self.check_attack(attack)
        loss = self._loss(L, w)
        r = float(self.mass_neg @ loss[0, att[0]] + self.mass_pos @ loss[1, att[1]])
        if penalized:
            r -= self.penalty_strength * self.penalty_value(att)
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
        att = self.check_attack(attack)
        out = np.zeros((2, self.n))
        np.add.at(out[0], att[0], self.mass_neg)
        np.add.at(out[1], att[1], self.mass_pos)
        return out

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
        h = self.check_classifier(labels)
        r = self.eps if radius is None else check_real("radius", radius, lo=0.0)
        near = self.distances <= r * (1 + 1e-12) + 1e-15
        out = np.zeros((2, self.n), dtype=bool)
        out[0] = (h == -1) & (near & (h == 1)[None, :]).any(axis=1)
        out[1] = (h == 1) & (near & (h == -1)[None, :]).any(axis=1)
        return out

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
        from ..game import Game

        L, _ = self.check_labels(labels)
        n = self.n
        pairs = [(y, i) for y, m in enumerate((self.mass_neg, self.mass_pos)) for i in range(n) if m[i] > 0]
        m_max = int(self.reachable.sum(axis=1).max())
        c_max = float(np.where(self.reachable, self.cost, 0.0).max())
        offset = self.penalty_strength * c_max
        N, K = len(pairs), L.shape[0]
        losses = np.zeros((N, m_max, K))
        mask = np.zeros((N, m_max), dtype=bool)
        sw = np.empty(N)
        for s_, (y, i) in enumerate(pairs):
            targets = np.flatnonzero(self.reachable[i])
            wrong = (L[:, targets] != (2 * y - 1)).astype(np.float64).T  # (t, K)
            losses[s_, :len(targets)] = wrong - self.penalty_strength * self.cost[i, targets][:, None] + offset
            mask[s_, :len(targets)] = True
            sw[s_] = (self.mass_neg, self.mass_pos)[y][i]
        losses = np.clip(losses, 0.0, None)
        return Game(losses, mask=mask, sample_weights=sw, bound=1.0 + offset), offset

