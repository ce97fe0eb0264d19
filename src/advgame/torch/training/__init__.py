"""Training robust mixtures: MNE21 Alg. 2, RM20 BAT, AT and TRADES baselines.

- :class:`TrainConfig`: every hyperparameter (papers' defaults; each data set's
  threat model), validated; :func:`save_config` / :func:`load_config`, the run's
  ``config.json``.
- :class:`Trainer`: the loop, per-epoch validation (natural and PGD-20 accuracy),
  checkpoints with exact resume, ``torchrun`` data parallelism.
- :func:`lp_weights`: the optimal weights of trained members on the validation
  split's candidate game, by the exact LP (beyond both papers).
- :func:`plot_runs` / :func:`write_figure`: MNE21 Fig. 3 style curves.

The command line is ``advgame train`` / ``advgame eval`` (:mod:`advgame.torch.commands`).
See ``docs/training.md``.
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .config import ALGOS, DATASETS, THREAT_MODELS, WEIGHT_METHODS, TrainConfig, load_config, save_config
from .losses import at_loss, trades_attack, trades_loss
from .report import plot_runs, plot_training, read_log, write_figure, write_logs
from .selection import lp_weights, mixture_from_checkpoint
from .trainer import Trainer

__all__ = [
    "TrainConfig",
    "Trainer",
    "ALGOS",
    "DATASETS",
    "WEIGHT_METHODS",
    "THREAT_MODELS",
    "save_config",
    "load_config",
    "at_loss",
    "trades_loss",
    "trades_attack",
    "lp_weights",
    "mixture_from_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "plot_training",
    "plot_runs",
    "write_figure",
    "write_logs",
    "read_log",
]
