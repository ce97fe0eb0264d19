"""Adaptive attacks on mixtures of classifiers, with a torchattacks-like call.

Every attack is a small class: ``attack = PGD(model, eps=8/255); x_adv = attack(x, y)``.
``model`` is an ``nn.Module`` (a one-member mixture) or an
:class:`advgame.torch.Mixture`; every loss is the *exact* expectation over the
members (no Monte Carlo), every attack is batched, seeded, keeps the per-example best
iterate by exact expected error, and returns points inside its norm ball and the
valid box.

=========  =====================================  ==================================
class      threat model                           reference
=========  =====================================  ==================================
PGD        Linf / L2 (``norm=``), restarts        RM20 supplement Sec. 2.2
PGDL2      L2                                     (PGD with ``norm="l2"``)
APGD       Linf / L2, CE or DLR loss, restarts    Croce & Hein 2020; MNE21 Sec. 5.2
CW         L2 with rejection threshold            Carlini & Wagner 2017; RM20 Sec. 6
ARC        Linf / L2                              Dbouk & Shanbhag 2022, Alg. 2
ARCL2      L2                                     (ARC with ``norm="l2"``)
APGDT      Linf / L2, targeted DLR, top-k targets Croce & Hein 2020 (APGD-T)
Square     Linf / L2, score-based random search   Andriushchenko et al. 2020
MarginSubsets  Linf / L2, hinged margin of        (mixture-specific; see
           subsets of the members                 :mod:`.mixture_attacks`)
MultiTargeted  Linf / L2, one run per target      Gowal et al. 2019
Transfer   any attack on each member alone        (mixture-specific)
=========  =====================================  ==================================

Your own attack: subclass :class:`CustomAttack` (implement ``perturb``), or hand
:func:`advgame.torch.evaluate` any callable ``(x, y) -> x_adv`` or a torchattacks
attack (:mod:`.adapters`).
"""

from ._base import Attack, BestIterate, cross_entropy, dlr, expected_error, margin, mixture_objective
from .adapters import CustomAttack, FunctionAttack, MixtureScores, TorchattacksAttack, as_attack
from .apgd import APGD, apgd_checkpoints
from .apgdt import APGDT, targeted_dlr, top_targets
from .arc import ARC, ARCL2
from .cw import CW
from .mixture_attacks import MarginSubsets, MultiTargeted, Transfer, member_subsets
from .pgd import PGD, PGDL2
from .square import Square, square_fraction

__all__ = [
    "Attack",
    "PGD",
    "PGDL2",
    "APGD",
    "CW",
    "ARC",
    "ARCL2",
    "APGDT",
    "Square",
    "MarginSubsets",
    "MultiTargeted",
    "Transfer",
    "CustomAttack",
    "FunctionAttack",
    "TorchattacksAttack",
    "MixtureScores",
    "as_attack",
    "member_subsets",
    "square_fraction",
    "targeted_dlr",
    "top_targets",
    "apgd_checkpoints",
    "mixture_objective",
    "expected_error",
    "cross_entropy",
    "margin",
    "dlr",
    "BestIterate",
]
