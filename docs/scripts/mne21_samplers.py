"""Does a mixture beat the best single classifier? Two samplers of random linear classifiers.

MNE21 (Sec. 5.1) does not say how its 10 random linear classifiers are drawn. This
script compares, on the instances of ``SeedStreams(seed)`` (N = 1000, m = 1000 l2
attacks, the clean point first), advgame's default sampler (``w ~ N(0, I2)``,
``b ~ N(0, 2^2)``) with a unit ``w`` (uniform direction) and ``b ~ U[-4, 4]``, both kept
when the clean training risk is below 0.4. For each seed and budget it prints the best
single classifier's in-sample risk, the optimal mixture's (exact LP) and the gain.

Run from the repository root:  python docs/scripts/mne21_samplers.py [--seeds 0 1 2 3]
"""

from __future__ import annotations

import argparse

import numpy as np

import advgame
from advgame.experiments.mne21 import SeedStreams
from advgame.experiments.mne21_data import LinearClassifier, make_gaussians, random_linear_classifiers, sample_attacks


def unit_w_classifiers(X, y, n, rng, max_risk=0.4):
    """w a uniform unit vector, b ~ U[-4, 4]; kept when the clean risk is below max_risk."""
    kept = []
    while len(kept) < n:
        theta = rng.uniform(0, 2 * np.pi)
        c = LinearClassifier([np.cos(theta), np.sin(theta)], float(rng.uniform(-4, 4)))
        if c.risk(X, y) < max_risk:
            kept.append(c)
    return kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--eps", type=float, nargs="+", default=[1.0, 2.0, 3.0, 4.0])
    args = ap.parse_args()
    wins = {}
    print(f"{'sampler':>9} {'seed':>4} {'eps':>4} {'best single':>11} {'mixture':>8} {'gain':>7}")
    for seed in args.seeds:
        s = SeedStreams(seed)
        X, y = make_gaussians(1000, s.stream("data"))
        samplers = {"gaussian": random_linear_classifiers(X, y, 10, 0.4, s.stream("classifiers")),
                    "unit-w": unit_w_classifiers(X, y, 10, s.stream("classifiers"))}
        for eps in args.eps:
            attacks = sample_attacks(X, eps, 1000, "l2", s.stream("attacks", eps))
            for name, clfs in samplers.items():
                game = advgame.Game.from_classifiers(clfs, X, y, attacks)
                det = game.best_classifier()[1]
                val = advgame.solve(game).value
                gain = det - val
                wins.setdefault((name, eps), []).append(gain > 1e-9)
                print(f"{name:>9} {seed:4d} {eps:4g} {det:11.4f} {val:8.4f} {gain:7.4f}")
    print("\nseeds on which the mixture beats the best single classifier:")
    for (name, eps), w in sorted(wins.items()):
        print(f"  {name:>9} eps = {eps:g}: {sum(w)} of {len(w)}")


if __name__ == "__main__":
    main()
