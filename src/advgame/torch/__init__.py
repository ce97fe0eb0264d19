"""Deep mixtures in torch: the mixture module, adaptive attacks, worst-case evaluation,
and the bridge to the solvers.

``import advgame`` never imports torch; ``import advgame.torch`` does.

- :func:`eval_mode`: a context that puts modules in eval mode and restores each
  module's own flag (every scoring function uses it).
- :class:`Mixture`: L members with weights on the simplex, exact expected
  probabilities and accuracy, sampling as a deployed randomized classifier;
  :class:`MixtureLogits`, the mixture for tools that expect logits;
  :func:`mixture_from_checkpoint`, a trained mixture back from ``advgame train``'s
  checkpoint.
- :mod:`advgame.torch.attacks`: PGD (Linf/L2, expected logits or loss), C&W L2 with
  rejection threshold, APGD-CE/DLR, ARC -- batched, seeded, per-example best iterate.
- :func:`evaluate` / :func:`evaluate_loader`: natural, per-attack and per-example
  worst-case exact expected accuracies.
- :func:`candidate_losses` / :func:`attack_oracle`: the ``(N, m, L)`` candidate game
  for :func:`advgame.solve`, and an attack as the oracle of MNE21, Alg. 1.
- :class:`MixtureSolver`: the mixture weights, updated by the core solvers on the
  weights' device, warm-started, inside a training loop.
- :mod:`advgame.torch.data` (CIFAR-10/100 in torchvision's on-disk format, digits) and
  :mod:`advgame.torch.models` (ResNet-18, WRN-28-10, small CPU models).

See ``docs/torch.md``.
"""

from . import attacks, data, models
from .attacks import APGD, ARC, ARCL2, CW, PGD, PGDL2, Attack
from .candidates import AttackOracle, attack_oracle, candidate_losses, member_losses
from .evaluate import ATTACK_NAMES, EvaluationReport, default_attacks, evaluate, evaluate_loader
from .mixture import Mixture, MixtureLogits, as_mixture
from .modes import eval_mode
from .data import DatasetSplits, load_dataset, make_cifar_fixture
from .models import build_model
from .solver import MixtureSolver
from .training.selection import mixture_from_checkpoint

__all__ = [
    "Mixture",
    "MixtureLogits",
    "MixtureSolver",
    "mixture_from_checkpoint",
    "data",
    "load_dataset",
    "make_cifar_fixture",
    "DatasetSplits",
    "build_model",
    "as_mixture",
    "eval_mode",
    "attacks",
    "models",
    "Attack",
    "PGD",
    "PGDL2",
    "APGD",
    "CW",
    "ARC",
    "ARCL2",
    "evaluate",
    "evaluate_loader",
    "default_attacks",
    "EvaluationReport",
    "ATTACK_NAMES",
    "candidate_losses",
    "attack_oracle",
    "AttackOracle",
    "member_losses",
]
