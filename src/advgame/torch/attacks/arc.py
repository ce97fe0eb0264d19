"""ARC: Attacking Randomized ensembles of Classifiers (Dbouk & Shanbhag, ICML 2022)."""

from __future__ import annotations

import torch

from ..._validation import check_bool, check_int, check_real
from ._base import (
    Attack,
    BestIterate,
    batch_view,
    expected_error,
    lp_norm,
    project,
)

__all__ = ["ARC", "ARCL2"]


def _class_gradients(z, x_in, classes):
    """Gradients of selected logits: ``d z[b, classes[b, r]] / d x_in[b]``.

    Parameters
    ----------
    z : torch.Tensor, shape (B, C)
        Logits computed from ``x_in`` (with a graph).
    x_in : torch.Tensor, shape (B, ...)
    classes : torch.Tensor of int64, shape (B, K)

    Returns
    -------
    torch.Tensor, shape (K, B, ...)
    """
    K = classes.shape[1]
    onehots = torch.nn.functional.one_hot(classes.T, z.shape[1]).to(z.dtype)  # (K, B, C)
    try:
        # retain_graph: should the batched backward fail midway, the loop below still has the graph
        (jac,) = torch.autograd.grad(z, x_in, grad_outputs=onehots, is_grads_batched=True, retain_graph=True)
        return jac
    except RuntimeError:
        # some operators have no batching rule for the vmapped backward: loop instead
        rows = []
        for r in range(K):
            (g,) = torch.autograd.grad(z, x_in, grad_outputs=onehots[r], retain_graph=r < K - 1)
            rows.append(g)
        return torch.stack(rows)


class ARC(Attack):
    r"""The ARC attack on a randomized ensemble (Dbouk & Shanbhag 2022, Alg. 2).

    Adaptive PGD on the expected loss can fail against a mixture even when an
    :math:`\varepsilon`-perturbation fooling it exists (Dbouk & Shanbhag 2022, Thm. 1:
    PGD is *inconsistent* for randomized ensembles of linear classifiers).  ARC
    instead walks through the members **in order of decreasing weight** and, for
    each, steps towards that member's nearest (linearized) decision boundary, sized
    so as not to undo what the heavier members already gave:

    for each of ``steps`` iterations, with the current perturbation
    :math:`\delta` and a local step :math:`\hat\delta = 0` of norm at most
    :math:`\eta`,

    1. for members :math:`k` by decreasing :math:`\lambda_k`, at
       :math:`x + \delta + \hat\delta`: with :math:`m` the member's predicted class,
       :math:`w_j = \nabla(z_m - z_j)`, the distance to the closest linearized
       boundary is :math:`\zeta = \min_{j\ne m} (z_m - z_j)/\|w_j\|_q`
       (:math:`q` the dual norm) and :math:`g` the unit-:math:`\ell_p` direction
       towards it (:math:`-w/\|w\|_2`, or :math:`-\operatorname{sign}(w)` for
       :math:`\ell_\infty`);
    2. the step length is :math:`\beta = \eta` for the heaviest member, else,
       when the boundary is within reach (:math:`\zeta < \eta`),
       :math:`\beta = \frac{\eta}{\eta - \zeta}\,|\zeta - \langle \tilde g,
       \hat\delta\rangle| + \rho` with :math:`\tilde g = -w/\|w\|_q` and
       :math:`\rho = 0.05\,\varepsilon`;
    3. the candidate :math:`\hat\delta' = \eta\,(\hat\delta + \beta g)/\|\hat\delta +
       \beta g\|_p` is kept when the exact expected accuracy at
       :math:`\Pi(x + \delta + \hat\delta')` is no higher than with :math:`\hat\delta`;

    then :math:`\delta \leftarrow \Pi(\delta + \hat\delta)` when that does not raise
    the expected accuracy.  :math:`\Pi` projects onto the ball and clips to the box.
    Members with zero weight are skipped.  The returned point is the per-example
    best by exact expected error, the clean point included.

    Parameters
    ----------
    model : nn.Module, Mixture or None
    eps : float
    steps : int
        :math:`K`, outer iterations (Dbouk & Shanbhag's CIFAR-10 runs: 20).
    step_size : float, optional
        :math:`\eta`, the radius of the local step (default: ``eps`` for
        :math:`\ell_\infty`, as in their 8/255 runs; ``eps / 4`` for :math:`\ell_2`,
        as in their 128/255 runs with :math:`\eta` = 32/255).
    rho : float, optional
        Overshoot :math:`\rho` (default ``0.05 * eps``).
    top_k : int, optional
        Search the boundaries of the ``top_k`` largest logits only (their "ARC-lite";
        default: all classes).  Costs ``top_k`` backward passes per member and step
        instead of ``C``.
    random_start : bool
        Start uniformly in the ball (their default: no).
    norm : {"linf", "l2"}
    bounds : (float, float)
    seed : int, torch.Generator or None

    Shape
    -----
    - x: :math:`(B, *)`; y: :math:`(B,)`; output: :math:`(B, *)`.

    References
    ----------
    H. Dbouk and N. R. Shanbhag, "Adversarial Vulnerability of Randomized
    Ensembles", ICML 2022, Alg. 1 (linear binary case) and Alg. 2 (ARC); their
    Table 1: BAT ResNet-20 on CIFAR-10 at 8/255 drops from 61.1% (adaptive PGD) to
    40.7% (ARC).
    """

    name = "arc"

    def __init__(
        self,
        model=None,
        *,
        eps=8 / 255,
        steps=20,
        step_size=None,
        rho=None,
        top_k=None,
        random_start=False,
        norm="linf",
        bounds=(0.0, 1.0),
        seed=0,
    ):
        super().__init__(model, eps=eps, norm=norm, bounds=bounds, seed=seed)
        self.steps = check_int("steps", steps, 0)
        if step_size is None:
            step_size = self.eps if self.norm == "linf" else self.eps / 4
            self.step_size = step_size
        else:
            self.step_size = check_real("step_size", step_size, lo=0, lo_open=True)
        self.rho = 0.05 * self.eps if rho is None else check_real("rho", rho, lo=0)
        self.top_k = None if top_k is None else check_int("top_k", top_k, 2)
        self.random_start = check_bool("random_start", random_start)

    def _accuracy(self, mix, x_adv, y):
        return 1.0 - expected_error(mix.member_logits(x_adv, param_grad=False), mix.weights, y)

    def _boundary(self, member, p, C):
        """Distance ``zeta`` (B,), unit step ``g`` (B, ...) and ``g_tilde`` at ``p`` for one member."""
        p = p.detach().requires_grad_(True)
        z = member(p)
        if z.ndim != 2 or z.shape[0] != p.shape[0]:
            raise ValueError(f"members must return logits of shape (B, C); got {tuple(z.shape)}")
        K = C if self.top_k is None else min(self.top_k, C)
        top = z.detach().topk(K, dim=1)
        classes = top.indices  # (B, K); column 0 is the predicted class m
        jac = _class_gradients(z, p, classes)  # (K, B, ...)
        with torch.no_grad():
            w = jac[0][None] - jac[1:]  # (K-1, B, ...): grad(z_m - z_j)
            gaps = (top.values[:, :1] - top.values[:, 1:]).T  # (K-1, B), >= 0
            q = "l1" if self.norm == "linf" else "l2"
            wn = lp_norm(w.flatten(0, 1), q).reshape(gaps.shape)
            zeta_all = gaps / (wn + 1e-10)
            j = zeta_all.argmin(0)  # (B,)
            b = torch.arange(p.shape[0], device=p.device)
            zeta = zeta_all[j, b]
            w_star = w[j, b]  # (B, ...)
            wn_star = wn[j, b]
            g_tilde = -w_star / batch_view(wn_star + 1e-10, w_star)
            g = -w_star.sign() if self.norm == "linf" else g_tilde
        return zeta, g, g_tilde

    def _run(self, mix, x, y, gen):
        lam = mix.weights
        with torch.no_grad():
            z0 = mix.member_logits(x, param_grad=False)
            best = BestIterate(x, expected_error(z0, lam, y))
        if self.eps == 0 or self.steps == 0:
            return best.x
        C = z0.shape[-1]
        order = [int(k) for k in torch.argsort(lam.detach().cpu(), descending=True, stable=True) if float(lam[k]) > 0]
        eta, rho = self.step_size, self.rho
        lo, hi = self.bounds

        def point(d):
            """The point x + d, projected onto the ball and clipped to the box."""
            return (x + project(d, self.eps, self.norm)).clamp(lo, hi)

        x_cur = self._start(x, gen, self.random_start)
        with torch.no_grad():
            acc = self._accuracy(mix, x_cur, y)
            best.update(x_cur, 1.0 - acc)
        for t in range(self.steps):
            delta = x_cur - x
            local = torch.zeros_like(x)
            acc_local = acc.clone()
            for pos, k in enumerate(order):
                zeta, g, g_tilde = self._boundary(mix.members[k], x_cur + local, C)
                with torch.no_grad():
                    beta = torch.full_like(zeta, eta)
                    if pos > 0:
                        dot = (g_tilde * local).flatten(1).sum(1)
                        beta_c = eta / (eta - zeta + 1e-10) * (zeta - dot).abs() + rho
                        beta = torch.where(zeta < eta, beta_c, beta)
                    cand = local + batch_view(beta, x) * g
                    cand = eta * cand / batch_view(lp_norm(cand, self.norm) + 1e-12, cand)
                    acc_c = self._accuracy(mix, point(delta + cand), y)
                    keep = acc_c <= acc_local
                    local = torch.where(batch_view(keep, x), cand, local)
                    acc_local = torch.minimum(acc_local, acc_c)
            with torch.no_grad():
                x_new = point(delta + local)
                acc_n = self._accuracy(mix, x_new, y)
                keep = acc_n <= acc
                x_cur = torch.where(batch_view(keep, x), x_new, x_cur)
                acc = torch.minimum(acc, acc_n)
                # ties go to the later iterate: ARC's output is its last accepted point
                best.update(x_cur, 1.0 - acc, torch.full_like(acc, float(t + 1)))
        return best.x


class ARCL2(ARC):
    """:class:`ARC` in the :math:`\\ell_2` threat model (``norm="l2"``; default eps 0.5)."""

    name = "arc-l2"

    def __init__(self, model=None, *, eps=0.5, **kwargs):
        if "norm" in kwargs:
            raise TypeError("ARCL2 fixes norm='l2'; use ARC(norm=...) to choose the norm")
        super().__init__(model, eps=eps, norm="l2", **kwargs)
