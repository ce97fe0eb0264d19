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
=========  =====================================  ==================================
"""

from ._base import Attack, BestIterate, cross_entropy, dlr, expected_error, margin, mixture_objective
from .apgd import APGD, apgd_checkpoints
from .arc import ARC, ARCL2
from .cw import CW
from .pgd import PGD, PGDL2

__all__ = [
    "Attack",
    "PGD",
    "PGDL2",
    "APGD",
    "CW",
    "ARC",
    "ARCL2",
    "apgd_checkpoints",
    "mixture_objective",
    "expected_error",
    "cross_entropy",
    "margin",
    "dlr",
    "BestIterate",
]
