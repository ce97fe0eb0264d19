"""The table of docs/bounds.md: the optimal-risk bound next to the optimal mixture's risk.

Run from the repository root:  python docs/scripts/bounds_table.py
"""

from __future__ import annotations

import numpy as np

import advgame
from advgame.experiments.mne21 import make_instance

print("| seed | eps | bound `R*` | optimal mixture `R_m` | best single `R_m` | best single, exact | classifiers used |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for seed in (0, 1, 2):
    for eps in (0.5, 1.0, 2.0, 3.0, 4.0):
        inst = make_instance(eps, seed=seed)
        res = advgame.solve(inst.game)
        k, single = inst.game.best_classifier()
        exact = inst.exact_classifier_risks()[k]
        used = int((np.asarray(res.weights) > 1e-9).sum())
        print(f"| {seed} | {eps:g} | {inst.optimal_risk().value:.3f} | {res.value:.3f} | {single:.3f} | "
              f"{exact:.3f} | {used} |")
