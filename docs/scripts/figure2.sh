#!/usr/bin/env bash
# MNE21 Figure 2 (left: optimal mixture; middle: convergence of Algorithm 1 and of the
# entropic method for alpha in {0.1, 0.01, 0.001}; right: risk against eps), as in
# docs/figures/gaussians/. Run from the repository root after `pip install -e .`.
set -euo pipefail
advgame gaussians --out docs/figures/gaussians "$@"
