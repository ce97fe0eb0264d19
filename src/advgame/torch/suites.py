r"""Evaluation suites: named sets of attacks with published settings.

=========  ====================================================================
suite      attacks (in order)
=========  ====================================================================
quick      apgd-ce (100 steps, 1 restart), apgd-t (3 targets), square (1000
           queries), arc -- a first look, not a robustness claim
standard   the mixture counterpart of AutoAttack's "standard" version: apgd-ce
           (100 x 1), apgd-t (9 targets, 100 x 1), square (5000 queries),
           plus arc and the mixture-specific attacks margin-subsets,
           multi-targeted and transfer
full       standard (apgd-ce with 5 restarts instead of 1), then pgd-logits
           and pgd-loss (100 steps x 3 restarts), apgd-dlr (100 x 5), and in
           L2 cw-logits and cw-loss; the sanity checks run by default.  The
           standard attacks come first, so with the same ``seed`` each gets
           the generator it gets in ``standard``: full's per-example worst
           case is never above standard's
=========  ====================================================================

Every attack is computed exactly over the members; the report's worst case is the
per-example minimum over the suite (see :func:`advgame.torch.evaluate`).
"""

from __future__ import annotations

from .._validation import check_choice, check_norm, check_real
from ._checks import check_bounds
from .attacks import APGD, APGDT, ARC, CW, PGD, MarginSubsets, MultiTargeted, Square, Transfer
from .attacks._base import NORMS

__all__ = ["SUITES", "SUITE_ATTACKS", "ALL_ATTACK_NAMES", "make_attack", "suite_attacks"]

SUITES = ("quick", "standard", "full")

#: every attack a name stands for (``default_attacks`` and ``--attacks`` accept them all)
ALL_ATTACK_NAMES = ("pgd-logits", "pgd-loss", "cw-logits", "cw-loss", "apgd-ce", "apgd-dlr", "apgd-t", "square",
                    "arc", "margin-subsets", "multi-targeted", "transfer")

_STANDARD = ("apgd-ce", "apgd-t", "square", "arc", "margin-subsets", "multi-targeted", "transfer")

#: the attacks of each suite, per norm, in the order they run
SUITE_ATTACKS = {
    "quick": {"linf": ("apgd-ce", "apgd-t", "square", "arc"), "l2": ("apgd-ce", "apgd-t", "square", "arc")},
    "standard": {"linf": _STANDARD, "l2": _STANDARD},
    # standard's attacks first: with the same seed, attack i gets the same generator in both
    # suites, so full's worst case is never above standard's (apgd-ce's first restart is the same)
    "full": {
        "linf": _STANDARD + ("pgd-logits", "pgd-loss", "apgd-dlr"),
        "l2": _STANDARD + ("pgd-logits", "pgd-loss", "apgd-dlr", "cw-logits", "cw-loss"),
    },
}


def make_attack(name, eps, norm="linf", bounds=(0.0, 1.0), suite="full"):
    r"""One attack template by name, with the settings it has in ``suite``.

    ``suite`` changes only how much work an attack does: ``quick`` runs APGD-T on 3
    targets and Square with 1000 queries; ``full`` runs APGD-CE with 5 restarts
    (MNE21's setting) where ``standard`` runs 1 (AutoAttack's).

    Parameters
    ----------
    name : str
        One of :data:`ALL_ATTACK_NAMES` (``cw-*``: L2 only).
    eps : float
    norm : {"linf", "l2"}
    bounds : (float, float)
    suite : {"quick", "standard", "full"}

    Returns
    -------
    Attack
        An unbound template.
    """
    eps = check_real("eps", eps, lo=0)
    norm = check_norm(norm, allowed=NORMS)
    bounds = check_bounds(bounds)
    suite = check_choice("suite", suite, SUITES)
    name = check_choice("attack name", name, ALL_ATTACK_NAMES)
    if name.startswith("cw-") and norm != "l2":
        raise ValueError(f"attack {name!r} is an L2 attack; the evaluation is in {norm!r}")
    c = dict(eps=eps, bounds=bounds)
    quick = suite == "quick"
    if name in ("pgd-logits", "pgd-loss"):
        return PGD(norm=norm, steps=100, restarts=3, expectation=name[4:], **c)
    if name in ("cw-logits", "cw-loss"):
        return CW(expectation=name[3:], **c)
    if name == "apgd-ce":
        return APGD(norm=norm, loss="ce", steps=100, restarts=5 if suite == "full" else 1, **c)
    if name == "apgd-dlr":
        return APGD(norm=norm, loss="dlr", steps=100, restarts=5, **c)
    if name == "apgd-t":
        return APGDT(norm=norm, n_targets=3 if quick else 9, steps=100, restarts=1, **c)
    if name == "square":
        return Square(norm=norm, n_queries=1000 if quick else 5000, restarts=1, **c)
    if name == "arc":
        return ARC(norm=norm, steps=20, **c)
    if name == "margin-subsets":
        return MarginSubsets(norm=norm, steps=100, restarts=1, **c)
    if name == "multi-targeted":
        return MultiTargeted(norm=norm, steps=100, restarts=1, **c)
    return Transfer(norm=norm, **c)


def suite_attacks(suite, eps, norm="linf", bounds=(0.0, 1.0), *, n_classes=None, n_members=None):
    r"""The attack templates of a suite, and the ones it skips with the reason.

    Parameters
    ----------
    suite : {"quick", "standard", "full"}
    eps : float
    norm : {"linf", "l2"}
    bounds : (float, float)
    n_classes : int, optional
        Skips ``apgd-t`` below 4 classes and ``apgd-dlr`` below 3 (the DLR losses
        need them).
    n_members : int, optional
        Members with positive weight: ``transfer`` is skipped for one (it would repeat
        APGD-CE on the same model).

    Returns
    -------
    attacks : dict of str to Attack
    skipped : dict of str to str

    Examples
    --------
    >>> attacks, skipped = suite_attacks("standard", 0.1, n_classes=10, n_members=2)
    >>> list(attacks)
    ['apgd-ce', 'apgd-t', 'square', 'arc', 'margin-subsets', 'multi-targeted', 'transfer']
    """
    suite = check_choice("suite", suite, SUITES)
    norm = check_norm(norm, allowed=NORMS)
    out, skipped = {}, {}
    for name in SUITE_ATTACKS[suite][norm]:
        if name == "apgd-t" and n_classes is not None and n_classes < 4:
            skipped[name] = f"the targeted DLR loss needs >= 4 classes; the model has {n_classes}"
        elif name == "apgd-dlr" and n_classes is not None and n_classes < 3:
            skipped[name] = f"the DLR loss needs >= 3 classes; the model has {n_classes}"
        elif name == "transfer" and n_members is not None and n_members < 2:
            skipped[name] = "one member with positive weight: transfer would repeat apgd-ce"
        else:
            out[name] = make_attack(name, eps, norm, bounds, suite)
    return out, skipped
