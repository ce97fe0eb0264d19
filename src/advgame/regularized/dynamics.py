r"""Best-response dynamics and the pure-strategy values of the game (RM20, Thm. 1, Consequence 1).

:class:`Dynamics` records a run of alternating best responses;
:class:`DynamicsMixin` (a part of :class:`~advgame.regularized.FiniteWorld`) runs them
and computes the two sides of RM20's Consequence 1 (inf-sup and sup-inf over pure
strategies) by enumeration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from .conventions import TIE_TOL

__all__ = ["Dynamics", "DynamicsMixin"]


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



class DynamicsMixin:
    """Theorem 1 and Consequence 1 (mixed into :class:`~advgame.regularized.FiniteWorld`)."""

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
        h = self.check_classifier(labels)
        max_iter = check_int("max_iter", max_iter, 1)
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
        limit = check_int("limit", limit, 1)
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
            G = loss[:, :, None, :] - self.penalty_strength * self.cost[None, None]
            G = np.where(self.reachable[None, None], G, -np.inf).max(axis=3)  # (B, 2, n)
            vals = G[:, 0] @ self.mass_neg + G[:, 1] @ self.mass_pos
            k = int(np.argmin(vals))
            if vals[k] < best - TIE_TOL:
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
        limit = check_int("limit", limit, 1)
        n = self.n
        per_label = []
        for y, m in ((0, self.mass_neg), (1, self.mass_pos)):
            idx = np.flatnonzero(m > 0)
            choices = [np.flatnonzero(self.reachable[i]) for i in idx]
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
            pen = (self.cost[idx[None, :], targets] * m[idx][None, :]).sum(axis=1) if len(idx) else np.zeros(1)
            per_label.append((idx, targets, T, pen))
        (ia, ta, A, pa), (ib, tb, B, pb) = per_label
        best, arg = -np.inf, (0, 0)
        # combine the two labels' attacks; chunk over the -1 attacks to bound memory
        chunk = max(1, 2**20 // max(1, B.shape[0] * n))
        for s in range(0, A.shape[0], chunk):
            vals = np.minimum(A[s:s + chunk, None, :], B[None, :, :]).sum(axis=2)
            vals -= self.penalty_strength * (pa[s:s + chunk, None] + pb[None, :])
            k = int(np.argmax(vals))
            v = float(vals.flat[k])
            if v > best + TIE_TOL:
                best, arg = v, (s + k // vals.shape[1], k % vals.shape[1])
        att = self.identity_attack()
        att[0, ia] = ta[arg[0]]
        att[1, ib] = tb[arg[1]]
        return best, att


