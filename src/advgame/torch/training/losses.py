"""Inner losses of adversarial training: AT (Madry et al.) and TRADES (Zhang et al.)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..modes import eval_mode

__all__ = ["at_loss", "trades_loss", "trades_attack"]


def at_loss(model, x_adv, y, x=None, beta=None):
    """Cross-entropy of ``model`` on the adversarial points (Madry et al., 2018).

    ``x`` and ``beta`` are ignored (same signature as :func:`trades_loss`).
    """
    return F.cross_entropy(model(x_adv), y)


def trades_loss(model, x_adv, y, x, beta=6.0):
    r"""TRADES: :math:`\mathrm{CE}(f(x), y) + \beta\,\mathrm{KL}(p_f(x) \,\|\, p_f(x'))`.

    Zhang et al., ICML 2019, Eq. 5 (the KL term averaged over the batch, ``beta = 6`` the
    TRADES paper's default). The clean and the adversarial batch go through ``model`` in two
    forward passes, as in Zhang et al.'s training: with batch normalization in train mode
    each pass is normalized by its own batch's statistics (one concatenated pass would mix
    the clean and adversarial statistics; the same numbers for models without batch norm).
    """
    z = model(x)
    z_adv = model(x_adv)
    kl = F.kl_div(F.log_softmax(z_adv, dim=1), F.log_softmax(z, dim=1), reduction="batchmean", log_target=True)
    return F.cross_entropy(z, y) + beta * kl


def trades_attack(mixture, x, *, eps, step, steps, generator, bounds=(0.0, 1.0)):
    r"""TRADES' inner maximization against a mixture, in :math:`\ell_\infty`.

    Maximizes :math:`\mathrm{KL}(p_\lambda(x) \,\|\, p_\lambda(x'))` over the ball,
    with :math:`p_\lambda` the mixture's exact expected probabilities, by ``steps``
    signed-gradient steps from ``x + 0.001 N(0, I)`` (Zhang et al., 2019, Alg. 1,
    made adaptive to the mixture as in MNE21, Sec. 5.2).  Members in eval mode.
    """
    lo, hi = bounds
    with eval_mode(mixture), torch.enable_grad():
        with torch.no_grad():
            p_clean = mixture(x, log=True)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        x_adv = (x + 0.001 * noise).clamp(lo, hi).detach()
        for _ in range(steps):
            x_adv.requires_grad_(True)
            kl = F.kl_div(mixture(x_adv, log=True), p_clean, reduction="sum", log_target=True)
            (g,) = torch.autograd.grad(kl, x_adv)
            with torch.no_grad():
                x_adv = torch.min(torch.max(x_adv + step * g.sign(), x - eps), x + eps).clamp(lo, hi)
    return x_adv.detach()
