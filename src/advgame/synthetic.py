"""MNE21's synthetic problem (Sec. 5.1): data, classifiers, attacks and ready instances.

The code lives in :mod:`advgame.experiments.mne21_data` (data, classifiers, attack
samplers) and :mod:`advgame.experiments.mne21` (:class:`SeedStreams`,
:func:`make_instance`); this module re-exports it under its earlier name, which keeps
working.
"""

from __future__ import annotations

from .experiments.mne21 import SeedStreams, SyntheticInstance, make_instance
from .experiments.mne21_data import LinearClassifier, make_gaussians, random_linear_classifiers, sample_attacks

__all__ = [
    "make_gaussians",
    "LinearClassifier",
    "random_linear_classifiers",
    "sample_attacks",
    "SeedStreams",
    "SyntheticInstance",
    "make_instance",
]
