#!/usr/bin/env bash
# MNE21 Figure 2 (left: optimal mixture, 200 of the 1000 training points shown;
# middle: convergence of Algorithm 1 and of the entropic method for temperatures
# 0.1, 0.01, 0.001, best iterate so far over the faint raw curve; right: risk against
# eps), the table of docs/tutorial.md and docs/figures/gaussians/results.json, all from
# one run of `advgame gaussians` (seed 0: advgame.experiments.mne21.run_gaussians).
# Run from the repository root after `pip install -e .`. The run refuses to overwrite
# a results.json of other settings: pass --force when the settings change on purpose
# (extra arguments go to `advgame gaussians`).
set -euo pipefail
advgame gaussians --convergence --out docs/figures/gaussians --no-progress "$@"
