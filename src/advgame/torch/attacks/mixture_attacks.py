r"""Attacks that use the structure of a mixture: subsets of members, targets, transfer.

A mixture with weights :math:`\lambda` is fooled on :math:`x` to the extent
:math:`\sum_k \lambda_k 1[h_k(x') \ne y]`.  Gradient attacks on the expected loss
or logits follow the *average* member and can end between the members' decision
regions, fooling none of them, when a point fooling a heavy *subset* exists.  The
attacks here search for such points directly:

* :class:`MarginSubsets` -- APGD on the expected hinged margin of a subset of the
  members (every subset for small ``L``; a documented greedy family for large ``L``);
* :class:`MultiTargeted` -- APGD on the expected hinged *targeted* margin
  :math:`\sum_k\lambda_k \max(z_{k,y} - z_{k,t}, 0)`, once per target class ``t``;
* :class:`Transfer` -- any attack run on each member alone, its points judged on
  the whole mixture.

Every point is judged by the mixture's exact expected error; each attack returns the
per-example best over everything it tried, the clean point included.
"""

from __future__ import annotations

import itertools

import torch

from ..._validation import check_int
from ..mixture import Mixture
from ._base import Attack, BestIterate, _gather, _max_other, expected_error
from .apgd import APGD
from .apgdt import top_targets

__all__ = ["MarginSubsets", "MultiTargeted", "Transfer", "member_subsets"]


def member_subsets(weights, max_exhaustive=4):
    r"""The subsets of members :class:`MarginSubsets` attacks.

    With :math:`P` the members of positive weight: every non-empty subset of
    :math:`P` when :math:`|P| \le` ``max_exhaustive``
    (:math:`2^{|P|} - 1` subsets); otherwise the **greedy rule**:

    1. every singleton :math:`\{k\}` (fool one member; the transfer attack's target),
    2. every prefix of :math:`P` sorted by decreasing weight,
       :math:`\{\pi_1\}, \{\pi_1, \pi_2\}, \dots, P` (greedily add the heaviest member
       not yet in the set: the heaviest subsets of each size),
    3. every complement of a singleton, :math:`P \setminus \{k\}` (give up exactly
       one member),

    without repeats: at most :math:`3|P| - 2` subsets.

    Parameters
    ----------
    weights : torch.Tensor or sequence of float, shape (L,)
    max_exhaustive : int

    Returns
    -------
    list of tuple of int
        Member indices, each tuple sorted; singletons first.

    Examples
    --------
    >>> member_subsets([0.5, 0.3, 0.2])
    [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    >>> len(member_subsets([0.2] * 5, max_exhaustive=4))
    13
    """
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    max_exhaustive = check_int("max_exhaustive", max_exhaustive, 1)
    pos = [k for k in range(w.numel()) if float(w[k]) > 0]
    if not pos:
        raise ValueError("weights must have at least one positive entry")
    if len(pos) <= max_exhaustive:
        return [c for r in range(1, len(pos) + 1) for c in itertools.combinations(pos, r)]
    order = sorted(pos, key=lambda k: (-float(w[k]), k))
    out = [(k,) for k in pos]
    out += [tuple(sorted(order[:j])) for j in range(2, len(order) + 1)]
    out += [tuple(k2 for k2 in pos if k2 != k) for k in pos]
    seen, uniq = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            uniq.append(s)
    return uniq


class _HingeAPGD(APGD):
    """APGD on ``-sum_k w_k max(z_{k,y} - z_{k,t}, 0)`` (``t`` the target, or the best
    other class), judged by the full mixture's expected error."""

    name = "apgd-hinge"

    def __init__(self, template, w, target=None):
        self.__dict__.update({k: v for k, v in vars(template).items()})
        self.loss, self.expectation = "margin", "loss"
        self._w, self._target = w, target

    def _eval(self, mix, x_adv, y):
        x_adv = x_adv.detach().requires_grad_(True)
        z = mix.member_logits(x_adv, param_grad=False)
        other = _max_other(z, y) if self._target is None else _gather(z, self._target)
        m = (_gather(z, y) - other).clamp(min=0)
        obj = -torch.einsum("l,lb->b", self._w.to(z.dtype), m)
        (grad,) = torch.autograd.grad(obj.sum(), x_adv)
        return obj.detach(), grad.detach(), expected_error(z.detach(), mix.weights, y)


class _APGDSettings(Attack):
    """Shared settings of the APGD-based mixture attacks."""

    def __init__(self, model, *, eps, steps, restarts, norm, bounds, seed):
        super().__init__(model, eps=eps, norm=norm, bounds=bounds, seed=seed)
        self.steps = check_int("steps", steps, 1)
        self.restarts = check_int("restarts", restarts, 1)

    def _engine(self):
        return APGD(eps=self.eps, loss="ce", steps=self.steps, restarts=self.restarts, norm=self.norm,
                    bounds=self.bounds, seed=0)

    def _best(self, mix, x, y):
        with torch.no_grad():
            z0 = mix.member_logits(x, param_grad=False)
        return z0, BestIterate(x, expected_error(z0, mix.weights, y))

    @staticmethod
    def _keep(best, mix, x_r, y):
        with torch.no_grad():
            best.update(x_r, expected_error(mix.member_logits(x_r, param_grad=False), mix.weights, y))


class MarginSubsets(_APGDSettings):
    r"""APGD on the hinged margin of each subset of the members (:func:`member_subsets`).

    For a subset :math:`S`, the objective (maximized) is
    :math:`-\sum_{k\in S} \lambda_k \max(z_{k,y} - \max_{j\ne y} z_{k,j},\, 0)`:
    push every member of :math:`S` that still classifies :math:`x` correctly across
    its boundary, and ignore the others.  The best point fools a heavy subset that
    can be fooled *together*, which is what maximizes the expected error; attacks on
    the full expected loss may settle between the members instead.

    Parameters
    ----------
    model : nn.Module, Mixture or None
    eps : float
    steps : int
        APGD iterations per subset and restart (default 100).
    restarts : int
        Per subset (default 1).
    max_exhaustive : int
        Attack every subset up to this many positive-weight members (default 4:
        at most 15 subsets); above it, the greedy rule of :func:`member_subsets`.
    norm, bounds, seed
        As in :class:`Attack`.
    """

    name = "margin-subsets"

    def __init__(self, model=None, *, eps=8 / 255, steps=100, restarts=1, max_exhaustive=4, norm="linf",
                 bounds=(0.0, 1.0), seed=0):
        super().__init__(model, eps=eps, steps=steps, restarts=restarts, norm=norm, bounds=bounds, seed=seed)
        self.max_exhaustive = check_int("max_exhaustive", max_exhaustive, 1)

    def _run(self, mix, x, y, gen):
        _, best = self._best(mix, x, y)
        if self.eps == 0:
            return best.x
        lam = mix.weights.detach()
        engine = self._engine()
        for subset in member_subsets(lam, self.max_exhaustive):
            w = torch.zeros_like(lam)
            w[list(subset)] = lam[list(subset)]
            self._keep(best, mix, _HingeAPGD(engine, w / w.sum())._run(mix, x, y, gen), y)
        return best.x


class MultiTargeted(_APGDSettings):
    r"""Multi-targeted margin APGD: one run per target class, on the expected hinged margin.

    For each target :math:`t` among the ``n_targets`` wrong classes with the largest
    expected logits at the clean point (default: every wrong class), APGD maximizes
    :math:`-\sum_k \lambda_k \max(z_{k,y} - z_{k,t},\, 0)` (Gowal et al. 2019's
    multi-targeted attack, with the margin taken per member and averaged exactly).

    Parameters
    ----------
    model : nn.Module, Mixture or None
    eps : float
    n_targets : int, optional
        Default: every wrong class (``C - 1``).
    steps, restarts : int
        Per target (default 100, 1).
    norm, bounds, seed
        As in :class:`Attack`.

    References
    ----------
    S. Gowal, J. Uesato, C. Qin, P.-S. Huang, T. Mann and P. Kohli, "An alternative
    surrogate loss for PGD-based adversarial testing", 2019.
    """

    name = "multi-targeted"

    def __init__(self, model=None, *, eps=8 / 255, n_targets=None, steps=100, restarts=1, norm="linf",
                 bounds=(0.0, 1.0), seed=0):
        super().__init__(model, eps=eps, steps=steps, restarts=restarts, norm=norm, bounds=bounds, seed=seed)
        self.n_targets = check_int("n_targets", n_targets, 1, allow_none=True)

    def _run(self, mix, x, y, gen):
        z0, best = self._best(mix, x, y)
        if self.eps == 0:
            return best.x
        n_classes = z0.shape[-1]
        k = n_classes - 1 if self.n_targets is None else min(self.n_targets, n_classes - 1)
        lam = mix.weights.detach()
        targets = top_targets(torch.einsum("l,lbc->bc", lam.to(z0.dtype), z0), y, k)
        engine = self._engine()
        for r in range(k):
            self._keep(best, mix, _HingeAPGD(engine, lam / lam.sum(), targets[:, r])._run(mix, x, y, gen), y)
        return best.x


class Transfer(Attack):
    r"""Per-member attacks transferred to the mixture.

    ``attack`` (a template, default APGD-CE with 100 steps and 1 restart) is run
    against each member of positive weight *alone*; each member's points are judged
    on the whole mixture by the exact expected error, and the per-example best is
    returned (the clean point included).  The points MNE21's candidate games hold
    (:func:`advgame.torch.candidate_losses`) are of this kind.

    Parameters
    ----------
    model : nn.Module, Mixture or None
    attack : Attack, optional
        The per-member attack (its ``eps`` and ``norm`` must match).
    eps : float
    norm, bounds, seed
        As in :class:`Attack`; ``seed`` drives the per-member attack's random starts.
    """

    name = "transfer"

    def __init__(self, model=None, *, eps=8 / 255, attack=None, norm="linf", bounds=(0.0, 1.0), seed=0):
        super().__init__(model, eps=eps, norm=norm, bounds=bounds, seed=seed)
        if attack is None:
            attack = APGD(eps=self.eps, loss="ce", steps=100, restarts=1, norm=self.norm, bounds=self.bounds)
        if not isinstance(attack, Attack):
            raise TypeError(f"attack must be an advgame Attack; got {type(attack).__name__}")
        if attack.norm != self.norm or attack.eps > self.eps * (1 + 1e-9):
            raise ValueError(f"attack must work in norm {self.norm!r} with eps <= {self.eps:g}; "
                             f"got norm={attack.norm!r}, eps={attack.eps:g}")
        self.attack = attack

    def _run(self, mix, x, y, gen):
        with torch.no_grad():
            best = BestIterate(x, expected_error(mix.member_logits(x, param_grad=False), mix.weights, y))
        if self.eps == 0:
            return best.x
        for k, member in enumerate(mix.members):
            if float(mix.weights[k]) <= 0:
                continue
            a = self.attack.bind(Mixture([member], vectorize=False))
            a.seed = gen
            x_k = a._run(a.model, x, y, gen)
            with torch.no_grad():
                best.update(x_k, expected_error(mix.member_logits(x_k, param_grad=False), mix.weights, y))
        return best.x
