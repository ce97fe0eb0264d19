"""The papers' experiments, end to end (as opposed to :mod:`advgame.examples`, small
named games for tests and the CLI).

* :mod:`advgame.experiments.mne21` -- MNE21's synthetic experiment (Sec. 5.1, Figure 2):
  :class:`~advgame.experiments.mne21.SeedStreams` (one seed, one instance),
  :func:`~advgame.experiments.mne21.make_instance`,
  :func:`~advgame.experiments.mne21.run_gaussians` (what ``advgame gaussians`` runs),
  :func:`~advgame.experiments.mne21.gaussian_figures` (Figure 2's panels);
* :mod:`advgame.experiments.mne21_data` -- its data, linear classifiers and attack
  samplers.

``advgame.synthetic`` and ``advgame.experiment`` re-export these names under their
earlier module names.
"""

from . import mne21, mne21_data  # noqa: F401

__all__ = ["mne21", "mne21_data"]
