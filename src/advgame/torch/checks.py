r"""Automated sanity checks of a robustness evaluation (RM20 supplement Sec. 2.3, Table 2;
Athalye et al. 2018; Tramer et al. 2020).

An evaluation can be wrong in ways its own numbers do not show.  After the attacks,
:func:`sanity_checks` runs four checks and reports each as a :class:`Check`; a check
that fails is a flag in the report and an :class:`EvaluationWarning` saying what it may
mean:

=================  ==========================================================  =========================
check              passes when                                                 a failure suggests
=================  ==========================================================  =========================
large-eps          accuracy at a radius that admits every input in the box     gradient masking, or a
                   (Linf: the box width; L2: width * sqrt(d)) is <= 0.02       bug in the evaluation
more-iterations    doubling the steps and restarts of the strongest gradient   too few steps / restarts
                   attack lowers the worst case by <= ``margin``
logit-shift        adding a constant per member to the logits changes the      an attack that depends on
                   strongest gradient attack's accuracy by <= ``margin``       the logits' offset (a bug)
square-vs-white    Square (gradient-free) is not below the white-box worst     gradient masking: the
                   case by more than ``margin``                                white-box numbers overstate
                                                                               the robustness
=================  ==========================================================  =========================

``margin`` defaults to 0.01 (one point of exact expected accuracy).  The checks run
on the first ``n_check`` examples (default 200) to bound their cost.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings

import torch
from torch import nn

from .._validation import check_int, check_real
from .attacks import APGD, Square
from .attacks.adapters import FunctionAttack, TorchattacksAttack
from .mixture import Mixture

__all__ = ["Check", "EvaluationWarning", "sanity_checks", "shifted_mixture"]


class EvaluationWarning(UserWarning):
    """A sanity check of an evaluation failed (see :mod:`advgame.torch.checks`)."""


@dataclasses.dataclass
class Check:
    """The result of one sanity check.

    Attributes
    ----------
    name : str
    passed : bool
    value : float
        The measured quantity (an accuracy or a difference of accuracies).
    threshold : float
        The check passes when ``value <= threshold``.
    summary : str
        One line: what was measured.
    meaning : str
        What a failure may mean (empty when passed).
    """

    name: str
    passed: bool
    value: float
    threshold: float
    summary: str
    meaning: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Shifted(nn.Module):
    def __init__(self, member, shift):
        super().__init__()
        self.member = member
        self.shift = shift

    def forward(self, x):
        return self.member(x) + self.shift


def shifted_mixture(mixture, shifts=None):
    """The same mixture with a constant added to every logit of each member.

    Parameters
    ----------
    mixture : Mixture
    shifts : sequence of float, optional
        One constant per member (default ``7.5 * (k + 1)``).

    Returns
    -------
    Mixture
        Same predictions, same weights, same expected accuracy everywhere.
    """
    if shifts is None:
        shifts = [7.5 * (k + 1) for k in range(len(mixture))]
    members = [_Shifted(m, float(c)) for m, c in zip(mixture.members, shifts)]
    return Mixture(members, mixture.weights.detach().clone(), vectorize=False)


def _acc(mix, attack, x, y, batch_size):
    out = []
    for i in range(0, x.shape[0], batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        out.append(mix.expected_accuracy(attack(xb, yb), yb, reduction="none").cpu())
    return torch.cat(out)


def _white_box(report, attacks):
    """Names of the gradient attacks (advgame's own, not Square, not user callables)."""
    return [k for k, a in attacks.items()
            if not isinstance(a, (Square, FunctionAttack, TorchattacksAttack)) and k in report]


def sanity_checks(mixture, x, y, report, attacks, *, bounds=(0.0, 1.0), seed=0, batch_size=None, margin=0.01,
                  large_eps_tol=0.02, n_check=200, warn=True):
    r"""Run the four sanity checks of an evaluation.

    Parameters
    ----------
    mixture : Mixture
    x, y : torch.Tensor
        The evaluated examples (the checks use the first ``n_check``).
    report : EvaluationReport
        The evaluation's report (its per-example accuracies).
    attacks : dict of str to Attack
        The attacks the report ran (bound or templates).
    bounds : (float, float)
    seed : int or None
    batch_size : int, optional
    margin : float
        Tolerance of the iteration, shift and Square checks (accuracy points / 100).
    large_eps_tol : float
        Highest accepted accuracy at the large radius.
    n_check : int
    warn : bool
        Issue an :class:`EvaluationWarning` per failed check.

    Returns
    -------
    list of Check
    """
    margin = check_real("margin", margin, lo=0)
    large_eps_tol = check_real("large_eps_tol", large_eps_tol, lo=0)
    n_check = check_int("n_check", n_check, 1)
    n = min(n_check, x.shape[0])
    dev = mixture.weights.device
    xs, ys = x[:n].to(dev), y[:n].to(dev)
    bs = n if batch_size is None else batch_size
    seed = 0 if seed is None else seed
    per = {k: v[:n] for k, v in report.per_example.items()}
    eps, norm = report.eps, report.norm
    lo, hi = bounds
    out = []

    # 1. large eps: every input in the box is allowed
    d = xs[0].numel()
    big = (hi - lo) * (1.0 if norm == "linf" else math.sqrt(d))
    a1 = APGD(mixture, eps=big, norm=norm, steps=50, restarts=1, bounds=bounds, seed=seed)
    a2 = Square(mixture, eps=big, norm=norm, n_queries=300, bounds=bounds, seed=seed)
    acc_big = float(torch.minimum(_acc(mixture, a1, xs, ys, bs), _acc(mixture, a2, xs, ys, bs)).mean())
    ok = acc_big <= large_eps_tol
    out.append(Check("large-eps", ok, acc_big, large_eps_tol,
                     f"accuracy {acc_big:.4f} at {norm} eps={big:.4g} (APGD-CE 50 steps, Square 300 queries)",
                     "" if ok else "robust accuracy does not fall to 0 although every input in the box is allowed: "
                     "the attacks cannot follow this model's gradients or scores (gradient masking?) or the "
                     "evaluation has a bug"))

    wb = _white_box(report, attacks)
    strongest = min(wb, key=lambda k: float(per[k].mean())) if wb else None

    # 2. more iterations and restarts
    if strongest is not None and hasattr(attacks[strongest], "steps"):
        a = copy.copy(attacks[strongest]).bind(mixture)
        a.steps = 2 * a.steps
        if hasattr(a, "restarts"):
            a.restarts = 2 * a.restarts
        a.seed = seed + 1000
        worst = per["worst"]
        new_worst = torch.minimum(worst, _acc(mixture, a, xs, ys, bs))
        drop = float(worst.mean() - new_worst.mean())
        ok = drop <= margin
        out.append(Check("more-iterations", ok, drop, margin,
                         f"doubling steps and restarts of {strongest} lowers the worst case by {drop:.4f}",
                         "" if ok else f"the attacks have not converged ({strongest} with twice the steps and "
                         "restarts finds more): run more iterations / restarts before trusting the number"))
    # 3. a constant added to the logits changes nothing
    if strongest is not None:
        shifted = shifted_mixture(mixture)
        base = copy.copy(attacks[strongest])
        a_plain, a_shift = base.bind(mixture), base.bind(shifted)
        a_plain.seed = a_shift.seed = seed + 2000
        acc_plain = _acc(mixture, a_plain, xs, ys, bs)
        acc_shift = _acc(shifted, a_shift, xs, ys, bs)
        diff = float((acc_plain.mean() - acc_shift.mean()).abs())
        ok = diff <= margin
        out.append(Check("logit-shift", ok, diff, margin,
                         f"{strongest}: accuracy {float(acc_plain.mean()):.4f}, with shifted logits "
                         f"{float(acc_shift.mean()):.4f}",
                         "" if ok else "adding a constant to the logits changed an attack's result: it depends on "
                         "the logits' offset (a numerical problem or a bug)"))
    # 4. Square is not stronger than the white-box attacks
    if wb:
        wb_worst = torch.stack([per["natural"]] + [per[k] for k in wb]).amin(0)
        sq = [k for k, a in attacks.items() if isinstance(a, Square) and k in per]
        if sq:
            acc_sq = torch.stack([per[k] for k in sq]).amin(0)
            how = "from the evaluation"
        else:
            a = Square(mixture, eps=eps, norm=norm, n_queries=1000, bounds=bounds, seed=seed + 3000)
            acc_sq = _acc(mixture, a, xs, ys, bs)
            how = "1000 queries"
        gap = float(wb_worst.mean() - acc_sq.mean())
        n_better = int((acc_sq < wb_worst - 1e-12).sum())
        ok = gap <= margin
        out.append(Check("square-vs-white-box", ok, gap, margin,
                         f"Square ({how}) {float(acc_sq.mean()):.4f} vs white-box worst case "
                         f"{float(wb_worst.mean()):.4f}; Square lower on {n_better} of {n} examples",
                         "" if ok else "a gradient-free attack beats the white-box attacks: the gradients are "
                         "masked or obfuscated, and the white-box numbers overstate the robustness"))
    if warn:
        for c in out:
            if not c.passed:
                warnings.warn(f"sanity check {c.name!r} failed: {c.summary}; {c.meaning}", EvaluationWarning,
                              stacklevel=3)
    return out
