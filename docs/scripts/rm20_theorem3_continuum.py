"""RM20, Thm. 3 (norm penalty): the two-point failure is a finite-world phenomenon.

Prints the smallest gain sup R(h1) - sup R(mixture) over mixture weights alpha inside
RM20's interval (max(1 - lam delta, lam (eps - delta)), 1), for

1. the two-point masses of ``docs/regularized.md`` (atoms at 1 and 2, lam = 0.9) with the
   targets on a fine grid of [-1, 4] (a stand-in for RM20's continuum of targets), for
   threshold classifiers h1 = +1 on x < t, t in (1, 2);
2. RM20's Gaussians (``gaussian_world``, 801 points) for thresholds t in {-0.5, 0, 0.7}.

Columns: the proof's h2 with the "literal" and "boundary" readings of U, and the
statement's h2 in BR(phi) as computed by ``defender_best_response``.

Run:  PYTHONPATH=src python docs/scripts/rm20_theorem3_continuum.py   (a few minutes; 7.5 min on a busy 2-core machine)
"""

from __future__ import annotations

import numpy as np

from advgame.regularized import FiniteWorld, gaussian_world


def smallest_gains(world, thresholds, deltas, sign):
    x = world.points[:, 0]
    out = {"literal": np.inf, "boundary": np.inf, "statement": np.inf}
    for t in thresholds:
        h1 = np.where(sign * (x - t) > 0, 1, -1).astype(np.int8)
        for delta in deltas:
            lo, _ = world.paper_mixture_weight_interval(delta)
            for alpha in np.linspace(lo, 1.0, 7)[1:-1]:
                for reading in ("literal", "boundary"):
                    g = world.randomization_gain(h1, alpha, construction="proof", delta=delta, reading=reading)
                    out[reading] = min(out[reading], g)
                out["statement"] = min(out["statement"], world.randomization_gain(h1, alpha))
    return out


def main():
    x = np.round(np.linspace(-1.0, 4.0, 2001), 10)
    i1, i2 = int(np.argmin(np.abs(x - 1))), int(np.argmin(np.abs(x - 2)))
    a, b = np.zeros_like(x), np.zeros_like(x)
    a[[i1, i2]] = np.array([1.0, 2.0]) / 9
    b[[i1, i2]] = np.array([4.0, 2.0]) / 9
    print("two-point masses, targets on a 2001-point grid, lam = 0.9")
    for eps in (0.5, 0.9, 0.99, 1.0):
        world = FiniteWorld(x, a, b, eps=eps, penalty="norm", penalty_strength=0.9)
        g = smallest_gains(world, np.linspace(1.05, 1.95, 10), [d for d in (0.1, 0.25, 0.5) if d < eps], -1)
        print(f"  eps={eps:<5g} literal {g['literal']:+.4f}  boundary {g['boundary']:+.4f}  "
              f"statement {g['statement']:+.4f}")
    print("RM20's Gaussians N(-1, 1), N(1, 1), 801 grid points")
    for eps in (0.3, 0.5, 0.9):
        for lam in (0.3, 0.5, 0.9):
            world = gaussian_world(eps=eps, penalty="norm", penalty_strength=lam, n=801, half_width=5.0)
            g = smallest_gains(world, (-0.5, 0.0, 0.7), (0.25 * eps, 0.5 * eps, 0.75 * eps), +1)
            print(f"  eps={eps:<4g} lam={lam:<4g} literal {g['literal']:+.2e}  boundary {g['boundary']:+.2e}  "
                  f"statement {g['statement']:+.2e}")


if __name__ == "__main__":
    main()
