r"""APGD-T: targeted Auto-PGD on the targeted DLR loss (Croce & Hein 2020), on a mixture."""

from __future__ import annotations

import torch

from ..._validation import check_choice, check_int
from ._base import BestIterate, _gather, expected_error
from .apgd import APGD

__all__ = ["APGDT", "targeted_dlr", "top_targets"]


def targeted_dlr(z, y, t):
    r"""Targeted difference of logits ratio (Croce & Hein 2020, Sec. 3.3), to be maximized.

    .. math:: \mathrm{DLR}_t(z, y) = -\frac{z_y - z_t}{z_{\pi_1} - (z_{\pi_3} + z_{\pi_4})/2 + 10^{-12}}

    Parameters
    ----------
    z : torch.Tensor, shape (..., B, C)
        Logits (at least four classes).
    y, t : torch.Tensor of int64, shape (B,)
        True and target classes.

    Returns
    -------
    torch.Tensor, shape (..., B)
    """
    top = z.topk(4, dim=-1).values
    return -(_gather(z, y) - _gather(z, t)) / (top[..., 0] - 0.5 * (top[..., 2] + top[..., 3]) + 1e-12)


def top_targets(z, y, k):
    r"""The ``k`` most likely wrong classes of each example, most likely first.

    Parameters
    ----------
    z : torch.Tensor, shape (B, C)
        Scores (e.g. the expected logits at the clean point).
    y : torch.Tensor of int64, shape (B,)
    k : int
        At most ``C - 1``.

    Returns
    -------
    torch.Tensor of int64, shape (B, k)
    """
    mask = torch.nn.functional.one_hot(y, z.shape[-1]).to(torch.bool)
    return z.masked_fill(mask, -torch.inf).topk(k, dim=-1).indices


class APGDT(APGD):
    r"""Targeted APGD on the targeted DLR loss, over the top-``n_targets`` wrong classes.

    AutoAttack's APGD-T (Croce & Hein, ICML 2020, Sec. 3.3 and 4): for each of the
    ``n_targets`` classes :math:`t` with the highest score at the clean point (9 on
    CIFAR-10, i.e. every wrong class), one APGD run (:class:`APGD`: same step-size
    schedule, momentum and checkpoints) maximizes :math:`\mathrm{DLR}_t`
    (:func:`targeted_dlr`) on the mixture, exactly over the members:

    * ``expectation="logits"`` (default): :math:`\mathrm{DLR}_t(\sum_k\lambda_k z_k, y)`,
      the targets ranked by the expected logits;
    * ``expectation="loss"``: :math:`\sum_k\lambda_k \mathrm{DLR}_t(z_k, y)`, the
      targets ranked by the same expected logits.

    Every run is judged by the exact expected error, and the result is the per-example
    best over all targets and restarts, the clean point included.

    Parameters
    ----------
    model : nn.Module, Mixture or None
    eps : float
    n_targets : int
        How many target classes (AutoAttack: 9); capped at ``C - 1``.
    steps : int
        Iterations per target and restart (AutoAttack: 100).
    restarts : int
        Restarts per target (AutoAttack: 1).
    expectation : {"logits", "loss"}
    rho, momentum, norm, bounds, seed
        As in :class:`APGD`.

    Raises
    ------
    ValueError
        At call time, when the model has fewer than four classes (the targeted DLR
        needs :math:`z_{\pi_4}`).

    References
    ----------
    Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
    diverse parameter-free attacks", ICML 2020 (APGD-T, the targeted DLR loss).
    """

    name = "apgd-t"

    def __init__(
        self,
        model=None,
        *,
        eps=8 / 255,
        n_targets=9,
        steps=100,
        restarts=1,
        expectation="logits",
        rho=0.75,
        momentum=0.75,
        norm="linf",
        bounds=(0.0, 1.0),
        seed=0,
    ):
        super().__init__(model, eps=eps, loss="ce", steps=steps, restarts=restarts, expectation="loss", rho=rho,
                         momentum=momentum, norm=norm, bounds=bounds, seed=seed)
        self.loss = "dlr-targeted"
        self.n_targets = check_int("n_targets", n_targets, 1)
        self.expectation = check_choice("expectation", expectation, ("logits", "loss"))
        self._target = None

    def _eval(self, mix, x_adv, y):
        x_adv = x_adv.detach().requires_grad_(True)
        z = mix.member_logits(x_adv, param_grad=False)
        lam = mix.weights.to(z.dtype)
        if self.expectation == "logits":
            obj = targeted_dlr(torch.einsum("l,lbc->bc", lam, z), y, self._target)
        else:
            obj = torch.einsum("l,lb->b", lam, targeted_dlr(z, y, self._target))
        (grad,) = torch.autograd.grad(obj.sum(), x_adv)
        return obj.detach(), grad.detach(), expected_error(z.detach(), mix.weights, y)

    def _run(self, mix, x, y, gen):
        with torch.no_grad():
            z0 = mix.member_logits(x, param_grad=False)
            best = BestIterate(x, expected_error(z0, mix.weights, y))
            n_classes = z0.shape[-1]
            if n_classes < 4:
                raise ValueError(f"APGD-T's targeted DLR loss needs at least 4 classes; the model has {n_classes}")
            targets = top_targets(torch.einsum("l,lbc->bc", mix.weights.to(z0.dtype), z0), y,
                                  min(self.n_targets, n_classes - 1))
        if self.eps == 0:
            return best.x
        try:
            for r in range(targets.shape[1]):
                self._target = targets[:, r]
                x_r = super()._run(mix, x, y, gen)
                with torch.no_grad():
                    best.update(x_r, expected_error(mix.member_logits(x_r, param_grad=False), mix.weights, y))
        finally:
            self._target = None
        return best.x
