r"""Worlds to experiment with: MNE21's motivating example, RM20's Gaussians, random worlds.

Each returns a :class:`~advgame.regularized.FiniteWorld`; ``penalty_strength`` is
RM20's :math:`\lambda` (``lam`` remains as a deprecated alias).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_bool, check_int, check_real, check_rng
from .conventions import renamed_argument
from .world import FiniteWorld

__all__ = ["motivating_world", "gaussian_world", "random_world"]

def motivating_world(penalty_strength=None, penalty="mass", *, lam=None):
    r"""The motivating example of MNE21, Sec. 2.1, as a finite world.

    :math:`P(Y=\pm1) = 1/2`; :math:`X = 0` given :math:`Y=-1`; :math:`X = \pm1` (1/2 each)
    given :math:`Y=+1`; :math:`\varepsilon = 1`.  The points are
    :math:`\{-2, -1, 0, 1, 2\}` (the ends of every unit ball around a data point; the
    two classifiers are thresholds, so these targets are all an adversary needs), with
    masses ``mass_neg = [0, 0, 1/2, 0, 0]`` and ``mass_pos = [0, 1/4, 0, 1/4, 0]``.
    The classifiers :math:`f_1(x) = -x - 1/2` and :math:`f_2(x) = x - 1/2` (predict +1
    when :math:`f > 0`) label the points ``[+1, +1, -1, -1, -1]`` and
    ``[-1, -1, -1, +1, +1]``.

    With ``penalty_strength = 0`` (the default: MNE21's unregularized adversary) each
    classifier has adversarial risk 1 and the uniform mixture 3/4.  With a penalty and
    :math:`\lambda \in [0, 1)` (every move has length 1, so both penalties cost
    :math:`\lambda` per move), each classifier has value :math:`1 - 3\lambda/4` and the
    uniform mixture :math:`\tfrac12\max(0, \tfrac12 - \lambda) + \tfrac12\max(\tfrac12, 1 - \lambda)`.

    Parameters
    ----------
    penalty_strength : float in [0, 1), default 0
        RM20's :math:`\lambda`.
    penalty : {"mass", "norm"}
    lam : float, optional
        Deprecated alias of ``penalty_strength``.

    Returns
    -------
    world : FiniteWorld
    labels : array of int8, shape (2, 5)
        The labellings of :math:`f_1` and :math:`f_2`.
    """
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    strength = renamed_argument("penalty_strength", penalty_strength, "lam", lam, default=0.0)
    world = FiniteWorld(x, [0, 0, 0.5, 0, 0], [0, 0.25, 0, 0.25, 0], eps=1.0, penalty=penalty,
                        penalty_strength=strength)
    f = np.stack([-x - 0.5, x - 0.5])
    return world, np.where(f > 0, 1, -1).astype(np.int8)


def gaussian_world(mean=1.0, std=1.0, prior_pos=0.5, eps=0.5, penalty="mass", penalty_strength=None, n=801,
                   half_width=5.0, *, lam=None):
    r"""Two 1-D Gaussians on a uniform grid (the setting of RM20, Figure 1).

    :math:`\mu_{-1} = \mathcal N(-\text{mean}, \text{std}^2)`,
    :math:`\mu_{+1} = \mathcal N(\text{mean}, \text{std}^2)`, :math:`\nu_{+1}` =
    ``prior_pos``, discretized on ``n`` equally spaced points of
    ``[-half_width, half_width]`` (each point gets the density times the spacing,
    renormalized so the masses sum to 1).  The Bayes classifier of the clean data is
    ``numpy.where(world.points[:, 0] > 0, 1, -1)`` when ``prior_pos = 0.5``.

    Parameters
    ----------
    mean : float
        The classes' means are ``-mean`` and ``+mean``.
    std : float > 0
    prior_pos : float in [0, 1]
        :math:`\nu_{+1}`.
    eps, penalty
        As in :class:`FiniteWorld`.
    penalty_strength : float in [0, 1), default 0.5
        RM20's :math:`\lambda`.
    n : int >= 2
        Grid points.
    half_width : float > 0
    lam : float, optional
        Deprecated alias of ``penalty_strength``.

    Returns
    -------
    FiniteWorld
    """
    strength = renamed_argument("penalty_strength", penalty_strength, "lam", lam, default=0.5)
    mean = check_real("mean", mean)
    std = check_real("std", std, lo=0.0, lo_open=True)
    prior_pos = check_real("prior_pos", prior_pos, lo=0.0, hi=1.0)
    half_width = check_real("half_width", half_width, lo=0.0, lo_open=True)
    n = check_int("n", n, 2)
    x = np.linspace(-half_width, half_width, int(n))

    def dens(m):
        return np.exp(-0.5 * ((x - m) / std) ** 2)

    neg = dens(-mean)
    pos = dens(mean)
    neg = (1 - prior_pos) * neg / neg.sum()
    pos = prior_pos * pos / pos.sum()
    return FiniteWorld(x, neg, pos, eps=eps, penalty=penalty, penalty_strength=strength)


def random_world(n=6, dim=1, penalty="mass", penalty_strength=None, eps=1.0, full_support=True, grid=4, seed=None, *,
                 lam=None):
    r"""A seeded random finite world on an integer grid (ties in distance happen, on purpose).

    The points are ``n`` distinct points of :math:`\{0, \dots, \text{grid}\cdot n - 1\}^d`
    scaled by 1/``grid``; masses are uniform in (0, 1) (some set to 0 when
    ``full_support`` is False) and normalized to sum to 1.

    Parameters
    ----------
    n, dim : int
    penalty, penalty_strength, eps
        As in :class:`FiniteWorld` (``penalty_strength`` default 0.5).
    full_support : bool
        Give every point mass of both labels.
    grid : int
        Grid points per unit.
    seed : None, int >= 0 or numpy.random.Generator
        The same seed gives the same world; a generator is drawn from.
    lam : float, optional
        Deprecated alias of ``penalty_strength``.

    Returns
    -------
    FiniteWorld
    """
    strength = renamed_argument("penalty_strength", penalty_strength, "lam", lam, default=0.5)
    n, dim, grid = (check_int(name, v, 1) for name, v in (("n", n), ("dim", dim), ("grid", grid)))
    full_support = check_bool("full_support", full_support)
    rng = check_rng(seed)
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
    return FiniteWorld(coords, m[0], m[1], eps=eps, penalty=penalty, penalty_strength=strength)


