"""Carlini & Wagner's L2 attack on a mixture, with RM20's rejection threshold."""

from __future__ import annotations

import torch

from ..._validation import check_bool, check_choice, check_int, check_real
from ._base import (
    Attack,
    batch_view,
    expected_error,
    lp_norm,
    margin,
)

__all__ = ["CW"]


class CW(Attack):
    r"""Adaptive :math:`\ell_2` Carlini-Wagner attack with binary search and rejection.

    Minimizes, per example, over :math:`x' = lo + (hi - lo)(\tanh w + 1)/2` (always
    in the box),

    .. math:: \|x' - x\|_2^2 + c \cdot \max\bigl(m(x', y), -\kappa\bigr)

    with Adam, where :math:`m` is the C&W margin :math:`z_y - \max_{j\ne y} z_j` of
    the expected logits (``expectation="logits"``) or the expected margin
    :math:`\sum_k\lambda_k \max(m_k, -\kappa)` (``expectation="loss"``; RM20 runs
    both "in parallel").  The constant :math:`c` is found per example by binary
    search (multiplied by 10 while no success, else bisected), where success is a
    negative margin.

    The C&W perturbation is unbounded; RM20 (Sec. 6) turns it into an
    :math:`\ell_2`-ball attack by a *rejection threshold* :math:`\varepsilon_2`: an
    example whose perturbation exceeds it is replaced by the clean point.  Here,
    with ``eps`` given, the attack returns per example the iterate (over all
    binary-search steps and iterations) *within* the threshold with the highest
    exact expected error (ties: smaller norm), and the clean point when there is
    none -- every point RM20's rule could return is among the candidates, so this is
    at least as strong.  With ``eps=None`` it is the classic attack: the
    smallest-norm successful iterate (or the clean point).

    Parameters
    ----------
    model : nn.Module, Mixture or None
    eps : float or None
        Rejection threshold :math:`\varepsilon_2` (RM20: 0.4, 0.6, 0.8 on CIFAR);
        None: no threshold.
    c : float
        Initial constant (RM20: 1e-3).
    kappa : float
        Confidence :math:`\kappa` (0).
    steps : int
        Adam iterations per binary-search step (RM20: 100).
    lr : float
        Adam learning rate (RM20: 0.01).
    binary_steps : int
        Binary-search steps on :math:`c` (RM20: 9).
    abort_early : bool
        Stop a binary-search step when the total objective has not decreased by
        1e-4 relative over ``steps // 10`` iterations (Carlini & Wagner's rule; RM20
        "allow the abortion when it has already converged").
    expectation : {"logits", "loss"}
    bounds : (float, float)
    seed : int, torch.Generator or None
        Unused (the attack is deterministic); accepted for a uniform interface.

    Shape
    -----
    - x: :math:`(B, *)`; y: :math:`(B,)`; output: :math:`(B, *)`, with
      :math:`\|x_{adv} - x\|_2 \le \varepsilon` when ``eps`` is given.

    References
    ----------
    Carlini & Wagner, "Towards evaluating the robustness of neural networks",
    IEEE S&P 2017; RM20, Sec. 6 (rejection threshold) and supplement Sec. 2.1
    (Eq. 59), 2.2 (settings, "Computing Adaptive-l2-C&W on a mixture").
    """

    name = "cw"

    def __init__(
        self,
        model=None,
        *,
        eps=None,
        c=1e-3,
        kappa=0.0,
        steps=100,
        lr=0.01,
        binary_steps=9,
        abort_early=True,
        expectation="logits",
        bounds=(0.0, 1.0),
        seed=0,
    ):
        threshold = check_real("eps", eps, lo=0, allow_none=True)
        super().__init__(model, eps=0.0 if threshold is None else threshold, norm="l2", bounds=bounds, seed=seed)
        self.eps = threshold
        self.c = check_real("c", c, lo=0, lo_open=True)
        self.kappa = check_real("kappa", kappa, lo=0)
        self.steps = check_int("steps", steps, 1)
        self.lr = check_real("lr", lr, lo=0, lo_open=True)
        self.binary_steps = check_int("binary_steps", binary_steps, 1)
        self.abort_early = check_bool("abort_early", abort_early)
        self.expectation = check_choice("expectation", expectation, ("logits", "loss"))

    def _margins(self, z, lam, y):
        """(margin used for success, clamped margin in the objective), each (B,)."""
        lam = lam.to(z.dtype)
        if self.expectation == "logits":
            m = margin(torch.einsum("l,lbc->bc", lam, z), y)
            return m, m.clamp_min(-self.kappa)
        mk = margin(z, y)  # (L, B)
        return lam @ mk, lam @ mk.clamp_min(-self.kappa)

    def _run(self, mix, x, y, gen):
        lam = mix.weights
        lo, hi = self.bounds
        B = x.shape[0]
        dev, dt = x.device, x.dtype
        with torch.no_grad():
            err0 = expected_error(mix.member_logits(x, param_grad=False), lam, y)
        best_x = x.clone()
        best_err = err0.clone()
        inf = torch.full((B,), torch.inf, device=dev, dtype=dt)
        best_dist = torch.zeros((B,), device=dev, dtype=dt) if self.eps is not None else inf.clone()

        # w-space of the clean point (shrunk slightly so atanh stays finite)
        u = ((x - lo) / (hi - lo) * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6)
        w0 = torch.atanh(u)
        c = torch.full((B,), self.c, device=dev, dtype=dt)
        lower = torch.zeros((B,), device=dev, dtype=dt)
        upper = torch.full((B,), 1e10, device=dev, dtype=dt)
        check_every = max(self.steps // 10, 1)

        for _ in range(self.binary_steps):
            w = w0.clone().requires_grad_(True)
            opt = torch.optim.Adam([w], lr=self.lr)
            success = torch.zeros((B,), device=dev, dtype=torch.bool)
            prev = torch.inf
            for it in range(self.steps):
                x_adv = lo + (hi - lo) * (torch.tanh(w) + 1) / 2
                z = mix.member_logits(x_adv, param_grad=False)
                m, m_clamped = self._margins(z, lam, y)
                dist2 = (x_adv - x).flatten(1).pow(2).sum(1)
                total = (dist2 + c * m_clamped).sum()
                with torch.no_grad():
                    dist = dist2.sqrt()
                    ok = m < 0
                    success |= ok
                    err = expected_error(z, lam, y)
                    if self.eps is not None:
                        inside = dist <= self.eps
                        better = inside & ((err > best_err) | ((err == best_err) & (dist < best_dist)))
                    else:
                        better = ok & (dist < best_dist)
                    best_x = torch.where(batch_view(better, x), x_adv.detach(), best_x)
                    best_err = torch.where(better, err, best_err)
                    best_dist = torch.where(better, dist, best_dist)
                # gradient with respect to w only: the members' .grad stay untouched
                (w.grad,) = torch.autograd.grad(total, w)
                opt.step()
                if self.abort_early and (it + 1) % check_every == 0:
                    t = float(total.detach())
                    if t > prev * 0.9999:
                        break
                    prev = t
            with torch.no_grad():
                upper = torch.where(success, torch.minimum(upper, c), upper)
                lower = torch.where(success, lower, torch.maximum(lower, c))
                searching = upper < 1e9
                c = torch.where(searching, (lower + upper) / 2, c * 10)
        if self.eps is not None:
            # the rejection rule, checked on the returned points themselves
            d = lp_norm(best_x - x, "l2")
            best_x = torch.where(batch_view(d > self.eps, x), x, best_x)
        return best_x.clamp(lo, hi)

