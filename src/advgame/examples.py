"""Built-in example games.

* :func:`motivating_game` -- MNE21, Sec. 2.1: randomized value exactly 3/4, each
  deterministic classifier 1.
* :func:`random_game` -- seeded random games, 0/1 or real-valued, optionally masked.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_bool, check_choice, check_int, check_real, check_rng
from .game import Game

__all__ = ["motivating_game", "random_game", "EXAMPLES", "make_example"]


def motivating_game() -> Game:
    r"""The motivating example of MNE21, Sec. 2.1, as an empirical game.

    :math:`P(Y=\pm1)=1/2`, :math:`X=0` given :math:`Y=-1`, :math:`X=\pm1` (1/2 each)
    given :math:`Y=+1`; the adversary moves a point by at most 1; the classifiers are
    :math:`f_1(x) = -x - 1/2` and :math:`f_2(x) = x - 1/2` (predict +1 when
    :math:`f(x) > 0`).  The candidate attacks of a point :math:`x` are
    :math:`\{x - 1, x, x + 1\}` (the ends of the ball suffice: both classifiers are
    monotone).  Samples, with weights (1/2, 1/4, 1/4), and their 0/1 loss rows
    ``[f1, f2]``:

    ======================  =====================  ==================
    sample                  attacks                rows
    ======================  =====================  ==================
    x = 0, y = -1 (1/2)     -1, 0, 1               [1,0] [0,0] [0,1]
    x = 1, y = +1 (1/4)     0, 1, 2                [1,1] [1,0] [1,0]
    x = -1, y = +1 (1/4)    -2, -1, 0              [0,1] [0,1] [1,1]
    ======================  =====================  ==================

    Hence :math:`R(\lambda) = 1/2 + 1/2 \max(\lambda_1, \lambda_2)`: each classifier
    alone has adversarial risk 1, the uniform mixture 3/4, which is optimal.
    """
    x = np.array([0.0, 1.0, -1.0])
    y = np.array([-1, 1, 1])
    attacks = x[:, None] + np.array([-1.0, 0.0, 1.0])[None, :]  # (3, 3)
    f = np.stack([-attacks - 0.5, attacks - 0.5], axis=-1)  # (3, 3, 2) scores
    pred = np.where(f > 0, 1, -1)
    losses = (pred != y[:, None, None]).astype(np.float64)
    return Game(losses, sample_weights=np.array([0.5, 0.25, 0.25]))


def random_game(n_samples: int = 50, n_attacks: int = 20, n_classifiers: int = 5, kind: str = "binary",
                seed=None, p: float = 0.3, mask_fraction: float = 0.0, weighted: bool = False) -> Game:
    """A seeded random game.

    Parameters
    ----------
    n_samples, n_attacks, n_classifiers : int
        N, m and L.
    kind : {"binary", "real"}
        0/1 losses (Bernoulli(``p``), attack 0 of each sample being the "clean" row
        with the lowest losses) or real losses uniform in [0, 1].
    seed : int >= 0, numpy.random.Generator or None
    p : float
        Probability of a loss of 1 in binary games.
    mask_fraction : float
        Fraction of attacks (other than attack 0) masked out at random.
    weighted : bool
        Draw random positive sample weights instead of uniform ones.
    """
    n_samples = check_int("n_samples", n_samples, 1)
    n_attacks = check_int("n_attacks", n_attacks, 1)
    n_classifiers = check_int("n_classifiers", n_classifiers, 1)
    check_choice("kind", kind, ("binary", "real"))
    p = check_real("p", p, lo=0, hi=1)
    mask_fraction = check_real("mask_fraction", mask_fraction, lo=0, hi=1, hi_open=True)
    weighted = check_bool("weighted", weighted)
    rng = check_rng(seed)
    shape = (int(n_samples), int(n_attacks), int(n_classifiers))
    if kind == "binary":
        losses = (rng.random(shape) < p).astype(np.float64)
        losses[:, 0, :] = losses.min(axis=1)  # the clean point: no worse than any attack
    else:
        losses = rng.random(shape)
    mask = None
    if mask_fraction > 0:
        mask = rng.random(shape[:2]) >= mask_fraction
        mask[:, 0] = True
    sw = rng.random(shape[0]) + 0.1 if weighted else None
    return Game(losses, mask=mask, sample_weights=sw)


EXAMPLES = {
    "motivating": lambda seed=None: motivating_game(),
    "random-binary": lambda seed=None: random_game(200, 50, 8, kind="binary", seed=0 if seed is None else seed),
    "random-real": lambda seed=None: random_game(200, 50, 8, kind="real", seed=0 if seed is None else seed),
}


def make_example(name: str, seed=None) -> Game:
    """Build the built-in example ``name`` (one of ``EXAMPLES``)."""
    check_choice("name", name, sorted(EXAMPLES))
    return EXAMPLES[name](seed=seed)
