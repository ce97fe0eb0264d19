"""Auto-PGD (Croce & Hein 2020) adapted to mixtures, as MNE21 evaluates them."""

from __future__ import annotations

import math

import torch

from ..._validation import check_choice, check_int, check_real
from ._base import (
    Attack,
    BestIterate,
    EXPECTATIONS,
    ascent_direction,
    batch_view,
    expected_error,
    mixture_objective,
)

__all__ = ["APGD", "apgd_checkpoints"]


def apgd_checkpoints(steps: int) -> list:
    r"""The iterations at which APGD may halve its step (Croce & Hein 2020, Sec. 3.2).

    :math:`w_j = \lceil p_j N \rceil` with :math:`p_0 = 0`, :math:`p_1 = 0.22` and
    :math:`p_{j+1} = p_j + \max(p_j - p_{j-1} - 0.03,\ 0.06)`, for :math:`p_j \le 1`.

    Parameters
    ----------
    steps : int
        :math:`N`, the number of iterations.

    Returns
    -------
    list of int
        Increasing, starting with 0 (e.g. ``[0, 22, 41, 57, 70, 80, 87, 93, 99]`` for
        100 steps).
    """
    steps = check_int("steps", steps, 0)
    p = [0.0, 0.22]
    while True:
        nxt = p[-1] + max(p[-1] - p[-2] - 0.03, 0.06)
        if nxt > 1 + 1e-9:
            break
        p.append(nxt)
    out = []
    for pj in p:
        w = math.ceil(pj * steps - 1e-9)
        if w <= steps and (not out or w > out[-1]):
            out.append(w)
    return out


class APGD(Attack):
    r"""APGD-CE / APGD-DLR with restarts on the exact expectation over a mixture.

    Auto-PGD (Croce & Hein, ICML 2020, Alg. 1): a step size that starts at
    :math:`2\varepsilon` and is halved at checkpoints (:func:`apgd_checkpoints`)
    when fewer than ``rho`` of the steps since the last checkpoint increased the
    objective or when neither the step size nor the best objective changed (then the
    iterate restarts from the best point), and a momentum of 0.75:

    .. math::

        z^{k+1} = \Pi\bigl(x^k + \eta^k u_p(\nabla f(x^k))\bigr),\quad
        x^{k+1} = \Pi\bigl(x^k + 0.75 (z^{k+1} - x^k) + 0.25 (x^k - x^{k-1})\bigr).

    Adapted to mixtures as in MNE21 (Sec. 5.2: "an adapted version of AutoPGD ...
    for randomized classifiers with both CE and DLR loss ... 100 iterations and 5
    restarts"): the objective is the exact expected loss over the members
    (``expectation="loss"``, default) or the loss of the expected logits.  Every
    restart starts uniformly in the ball; the returned point is the per-example best
    iterate by exact expected error (ties: the objective), the clean point included.

    Parameters
    ----------
    model : nn.Module, Mixture or None
    eps : float
    loss : {"ce", "dlr"}
        Cross-entropy or the difference of logits ratio (needs >= 3 classes).
    steps : int
        :math:`N` (MNE21: 100).
    restarts : int
        (MNE21: 5).
    expectation : {"loss", "logits", "probs"}
        See :func:`advgame.torch.attacks.mixture_objective` (``"probs"`` with CE only).
    rho : float
        Checkpoint condition 1 threshold (0.75).
    momentum : float
        :math:`\alpha` of the update (0.75).
    norm : {"linf", "l2"}
    bounds : (float, float)
    seed : int, torch.Generator or None

    Shape
    -----
    - x: :math:`(B, *)`; y: :math:`(B,)`; output: :math:`(B, *)`.

    References
    ----------
    Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble
    of diverse parameter-free attacks", ICML 2020, Alg. 1 and Eq. 6 (DLR);
    MNE21, Sec. 5.2 and App. D (evaluation of mixtures).
    """

    name = "apgd"

    def __init__(
        self,
        model=None,
        *,
        eps=8 / 255,
        loss="ce",
        steps=100,
        restarts=5,
        expectation="loss",
        rho=0.75,
        momentum=0.75,
        norm="linf",
        bounds=(0.0, 1.0),
        seed=0,
    ):
        super().__init__(model, eps=eps, norm=norm, bounds=bounds, seed=seed)
        self.loss = check_choice("loss", loss, ("ce", "dlr"))
        self.steps = check_int("steps", steps, 1)
        self.restarts = check_int("restarts", restarts, 1)
        self.expectation = check_choice("expectation", expectation, EXPECTATIONS)
        if self.expectation == "probs" and self.loss != "ce":
            raise ValueError("expectation='probs' is defined for loss='ce' only")
        self.rho = check_real("rho", rho, lo=0)
        self.momentum = check_real("momentum", momentum, lo=0)
        if self.momentum > 1:
            raise ValueError(f"momentum must be in [0, 1]; got {momentum}")

    def _eval(self, mix, x_adv, y):
        """Objective, its gradient and the expected error at ``x_adv``."""
        x_adv = x_adv.detach().requires_grad_(True)
        z = mix.member_logits(x_adv, param_grad=False)
        obj = mixture_objective(z, mix.weights, y, self.loss, self.expectation)
        (grad,) = torch.autograd.grad(obj.sum(), x_adv)
        return obj.detach(), grad.detach(), expected_error(z.detach(), mix.weights, y)

    def _run(self, mix, x, y, gen):
        n_classes = None
        with torch.no_grad():
            z0 = mix.member_logits(x, param_grad=False)
            n_classes = z0.shape[-1]
            best = BestIterate(x, expected_error(z0, mix.weights, y))
        if self.loss == "dlr" and n_classes < 3:
            raise ValueError(f"loss='dlr' needs at least 3 classes; the model has {n_classes}")
        if self.eps == 0:
            return best.x
        checkpoints = set(apgd_checkpoints(self.steps)[1:])
        a = self.momentum
        for _ in range(self.restarts):
            x0 = self._start(x, gen, True)
            f0, g0, e0 = self._eval(mix, x0, y)
            best.update(x0, e0, f0)
            eta = torch.full((x.shape[0],), 2 * self.eps, device=x.device, dtype=x.dtype)
            x_max, f_max, g_max = x0.clone(), f0.clone(), g0.clone()
            x1 = self._clip(x0 + batch_view(eta, x) * ascent_direction(g0, self.norm), x)
            f1, g1, e1 = self._eval(mix, x1, y)
            best.update(x1, e1, f1)
            up = f1 > f_max
            x_max[up], f_max[up], g_max[up] = x1[up], f1[up], g1[up]
            count = (f1 > f0).to(torch.int64)
            x_prev, x_cur, f_cur, g_cur = x0, x1, f1, g1
            last, eta_last, fmax_last = 0, eta.clone(), f_max.clone()
            for k in range(1, self.steps):
                with torch.no_grad():
                    z = self._clip(x_cur + batch_view(eta, x) * ascent_direction(g_cur, self.norm), x)
                    x_next = self._clip(x_cur + a * (z - x_cur) + (1 - a) * (x_cur - x_prev), x)
                f_next, g_next, e_next = self._eval(mix, x_next, y)
                best.update(x_next, e_next, f_next)
                up = f_next > f_max
                x_max[up], f_max[up], g_max[up] = x_next[up], f_next[up], g_next[up]
                increased = (f_next > f_cur).to(torch.int64)
                x_prev, x_cur, f_cur, g_cur = x_cur, x_next, f_next, g_next
                if k in checkpoints:
                    # count holds 1[f(x^{i+1}) > f(x^i)] for i in [w_{j-1}, w_j - 1]
                    cond1 = count.to(x.dtype) < self.rho * (k - last)
                    cond2 = (eta == eta_last) & (f_max == fmax_last)
                    reduce = cond1 | cond2
                    eta = torch.where(reduce, eta / 2, eta)
                    if bool(reduce.any()):
                        x_cur = x_cur.clone()
                        x_cur[reduce] = x_max[reduce]
                        x_prev = x_prev.clone()
                        x_prev[reduce] = x_max[reduce]
                        f_cur = torch.where(reduce, f_max, f_cur)
                        g_cur = g_cur.clone()
                        g_cur[reduce] = g_max[reduce]
                    count = torch.zeros_like(count)
                    last, eta_last, fmax_last = k, eta.clone(), f_max.clone()
                count = count + increased
        return best.x
