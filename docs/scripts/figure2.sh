#!/usr/bin/env bash
# MNE21 Figure 2 (left: optimal mixture; middle: convergence of Algorithm 1 and of the
# entropic method for alpha in {0.1, 0.01, 0.001}; right: risk against eps), the table of
# docs/tutorial.md and docs/figures/gaussians/results.json, all from one run of
# `advgame gaussians` (seed 0: advgame.experiments.mne21.run_gaussians). Run from the
# repository root after `pip install -e .`.
set -euo pipefail
advgame gaussians --out docs/figures/gaussians --no-progress "$@"
