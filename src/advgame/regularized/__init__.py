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

Layout, by what the paper proves
--------------------------------
* :mod:`.world` - :class:`FiniteWorld`: the points, masses, budget and penalty, and the
  checks of classifiers and attacks;
* :mod:`.values` - the adversary's objective and values (RM20, Eq. 1-8), the bridge to
  :class:`advgame.Game`;
* :mod:`.best_responses` - best responses of both players (RM20, Lemmas 1-3);
* :mod:`.theorems` - the constructions of Thm. 2 (mass) and Thm. 3 (norm);
* :mod:`.dynamics` - best-response dynamics and pure-strategy values (Thm. 1,
  Consequence 1);
* :mod:`.instances` - MNE21's motivating example, RM20's Gaussians, random worlds;
* :mod:`.conventions` - row order of attacks, penalties, tie tolerance;
* the figure function :func:`plot_pushforward_1d` lives in :mod:`advgame.plot`.

Conventions
-----------
* A deterministic classifier is ``labels`` of shape ``(n,)`` with values in
  :math:`\{-1, +1\}`; a mixture (RM20, Def. 3) is ``labels`` of shape ``(K, n)`` with
  ``weights`` of shape ``(K,)`` on the simplex (uniform when omitted).
* An attack is an integer array of shape ``(2, n)``: ``attack[0, i]`` is the index of
  :math:`\phi_{-1}(x_i)` and ``attack[1, i]`` the index of :math:`\phi_{+1}(x_i)`
  (rows follow :data:`NEG` and :data:`POS`).
* ``penalty_strength`` is RM20's :math:`\lambda`; 0 is the unregularized adversary of
  RM20, Eq. 3 (the setting of MNE21); the theorems need it in (0, 1).
  ``mixture_weight`` is RM20's :math:`\alpha`, the weight of :math:`h_1` in Thm. 2-3.
  The old names ``lam`` and ``alpha`` still work and emit a :class:`DeprecationWarning`.

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
1-3, weak duality and Thm. 2 hold on every finite world in the forms stated there.
Thm. 1 and the strictness of Thm. 2 fail for a constant Bayes classifier (nothing to
attack, so it is a pure equilibrium): a genuine counterexample, in the continuous
setting too.  Thm. 3 holds on every finite world through its proof with the
``"boundary"`` reading of :meth:`FiniteWorld.proof_flip_set`; with the literal reading
or the statement's :math:`h_2 \in BR(\phi)` it can fail on a finite world, because the
adversary can land on the world's points only.  That is a finite-world phenomenon, not
a counterexample to RM20: with a continuum of targets (and on RM20's Gaussians) the
theorem held in every case checked.
"""

from ..plot import plot_pushforward_1d
from .conventions import NEG, PENALTIES, POS, TIE_TOL
from .dynamics import Dynamics
from .instances import gaussian_world, motivating_world, random_world
from .world import FiniteWorld

__all__ = [
    "FiniteWorld",
    "Dynamics",
    "PENALTIES",
    "NEG",
    "POS",
    "TIE_TOL",
    "motivating_world",
    "gaussian_world",
    "random_world",
    "plot_pushforward_1d",
]
