"""MNE21's synthetic experiment (Sec. 5.1, Figure 2): the runner.

The code lives in :mod:`advgame.experiments.mne21`; this module re-exports the runner
under its earlier name, which keeps working.
"""

from __future__ import annotations

from .experiments.mne21 import (
    DEFAULT_EPS,
    convergence_histories,
    format_table,
    gaussian_figures,
    out_of_sample_risk,
    run_gaussians,
    write_json,
)

__all__ = ["DEFAULT_EPS", "out_of_sample_risk", "convergence_histories", "run_gaussians", "format_table",
           "write_json", "gaussian_figures"]
