r"""The deployed randomized classifier: one member drawn per query, attacked with EoT.

A mixture is deployed by drawing a member :math:`k \sim \lambda` for each query
(:meth:`advgame.torch.Mixture.sample`).  Its accuracy on a fixed input :math:`x'` is a
random variable whose mean is the exact expected accuracy
:math:`\sum_k \lambda_k 1[h_k(x') = y]` -- the quantity RM20 and MNE21 report and
:func:`advgame.torch.evaluate` computes.  What differs is the *attacker*: against the
deployed classifier it only sees sampled outputs and gradients, so it averages over
draws (Expectation over Transformation, Athalye et al. 2018), as AutoAttack's ``rand``
version does (APGD-CE and APGD-DLR with 20 EoT samples per step).  The exact-
expectation attacks of :func:`~advgame.torch.evaluate` are at least as strong (they
see the exact expectation), so the sampled accuracy under EoT is normally *higher*
than the exact expected robust accuracy: a number to report besides it, never instead.

:func:`sampled_accuracy` estimates the deployed classifier's accuracy at the EoT
attacks' points from ``draws`` fresh queries per example, with a normal confidence
interval over the examples.
"""

from __future__ import annotations

import math

import torch

from .._validation import check_int, check_real
from ._checks import check_labels, check_tensor, make_generator
from .attacks._base import LOSSES, expected_error
from .attacks.apgd import APGD
from .mixture import as_mixture
from .modes import eval_mode

__all__ = ["EoTAPGD", "sampled_accuracy", "sampled_correct"]


def _draw(lam, shape, gen, device):
    idx = torch.multinomial(lam.detach().double().cpu(), int(torch.tensor(shape).prod()), replacement=True,
                            generator=gen if gen is not None and gen.device.type == "cpu" else None)
    return idx.reshape(shape).to(device)


def sampled_correct(mixture, x, y, draws, generator):
    r"""Whether the deployed classifier is right, for ``draws`` independent queries per example.

    Parameters
    ----------
    mixture : Mixture
    x : torch.Tensor, shape (B, ...)
    y : torch.Tensor of int64, shape (B,)
    draws : int
    generator : torch.Generator (CPU)

    Returns
    -------
    torch.Tensor of bool, shape (draws, B)
    """
    with torch.no_grad():
        z = mixture.member_logits(x, param_grad=False)  # (L, B, C)
    idx = _draw(mixture.weights, (draws, x.shape[0]), generator, x.device)
    pred = z.argmax(-1)  # (L, B)
    return pred.gather(0, idx) == y[None]


class EoTAPGD(APGD):
    r"""APGD against the deployed (sampled) classifier, with EoT gradients.

    Each step's objective is the mean of the loss of ``eot_samples`` members drawn from
    :math:`\lambda` (independently per example); the best iterate is judged by the
    error of one sampled query, as AutoAttack's ``rand`` version does.  Parameters as in
    :class:`advgame.torch.attacks.APGD`, plus ``eot_samples`` (AutoAttack: 20).
    The member draws use a CPU generator seeded from ``seed``.  (The clean point, the
    starting best, is scored by its exact expected error, as in :class:`APGD`.)
    """

    name = "apgd-eot"

    def __init__(self, model=None, *, eot_samples=20, **kwargs):
        kwargs.setdefault("restarts", 1)
        super().__init__(model, **kwargs)
        self.eot_samples = check_int("eot_samples", eot_samples, 1)
        self._cpu_gen = None

    def _eval(self, mix, x_adv, y):
        x_adv = x_adv.detach().requires_grad_(True)
        z = mix.member_logits(x_adv, param_grad=False)  # (L, B, C)
        B = x_adv.shape[0]
        idx = _draw(mix.weights, (self.eot_samples + 1, B), self._cpu_gen, z.device)
        zs = z.gather(0, idx[..., None].expand(-1, -1, z.shape[-1]))  # (E+1, B, C)
        obj = LOSSES[self.loss](zs[:-1], y).mean(0)
        (grad,) = torch.autograd.grad(obj.sum(), x_adv)
        wrong = (zs[-1].detach().argmax(-1) != y).to(torch.float64)
        return obj.detach(), grad.detach(), wrong

    def _run(self, mix, x, y, gen):
        seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device))
        self._cpu_gen = torch.Generator().manual_seed(seed)
        try:
            return super()._run(mix, x, y, gen)
        finally:
            self._cpu_gen = None


def sampled_accuracy(mixture, x, y, eps, norm="linf", *, attacks=None, draws=100, confidence=0.95, batch_size=None,
                     bounds=(0.0, 1.0), seed=0):
    r"""Accuracy of the deployed randomized classifier under EoT attacks, with a confidence interval.

    Each attack (default: :class:`EoTAPGD` with CE and with DLR, 100 steps, 1
    restart, 20 EoT samples -- AutoAttack's ``rand`` version) is run per batch; per
    example the attacker keeps the point whose ``draws`` sampled queries gave the most
    errors (ties: the earlier attack); then ``draws`` *fresh* queries at the kept point
    estimate the per-example accuracy :math:`\hat p_i`.  The estimate is
    :math:`\bar p = \frac1N\sum_i \hat p_i` with the normal interval
    :math:`\bar p \pm z_{1-\alpha/2}\, s_{\hat p}/\sqrt N` (clipped to [0, 1]).

    Parameters
    ----------
    mixture : Mixture
    x, y : torch.Tensor
    eps : float
    norm : {"linf", "l2"}
    attacks : dict of str to Attack, optional
    draws : int
        Sampled queries per example and point (default 100).
    confidence : float
        Of the interval (default 0.95).
    batch_size : int, optional
    bounds : (float, float)
    seed : int

    Returns
    -------
    dict
        ``accuracy`` (the estimate), ``ci`` (low, high), ``expected`` (the exact
        expected accuracy at the same points, the ``draws -> inf`` limit),
        ``per_attack`` (each attack's sampled estimate), ``draws``, ``confidence``, ``n``.
    """
    from statistics import NormalDist

    mix = as_mixture(mixture)
    check_tensor(x, "x", floating=True)
    y = check_labels(y, x)
    draws = check_int("draws", draws, 1)
    confidence = check_real("confidence", confidence, lo=0, hi=1, lo_open=True, hi_open=True)
    seed = check_int("seed", seed, 0)
    if attacks is None:
        common = dict(eps=eps, norm=norm, steps=100, bounds=bounds, eot_samples=20)
        attacks = {"apgd-ce-eot": EoTAPGD(loss="ce", **common), "apgd-dlr-eot": EoTAPGD(loss="dlr", **common)}
    gen = torch.Generator().manual_seed(seed)
    dev = mix.weights.device
    bs = x.shape[0] if batch_size is None else check_int("batch_size", batch_size, 1)
    p_hat, exact, per_attack = [], [], {k: [] for k in attacks}
    with eval_mode(mix):
        for i in range(0, x.shape[0], bs):
            xb, yb = x[i : i + bs].to(dev), y[i : i + bs].to(dev)
            best_x, best_err = xb, sampled_correct(mix, xb, yb, draws, gen).logical_not().double().mean(0)
            for j, (name, a) in enumerate(attacks.items()):
                a = a.bind(mix)
                a.seed = make_generator(seed + 1 + j, dev)
                xa = a(xb, yb)
                e = sampled_correct(mix, xa, yb, draws, gen).logical_not().double().mean(0)
                per_attack[name].append(1 - e)
                better = e > best_err
                best_x = torch.where(better.reshape((-1,) + (1,) * (xb.ndim - 1)), xa, best_x)
                best_err = torch.maximum(e, best_err)
            p_hat.append(sampled_correct(mix, best_x, yb, draws, gen).double().mean(0).cpu())
            with torch.no_grad():
                exact.append(1 - expected_error(mix.member_logits(best_x, param_grad=False), mix.weights, yb).cpu())
    p = torch.cat(p_hat)
    n = p.numel()
    mean = float(p.mean())
    sd = float(p.std()) if n > 1 else 0.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    half = z * sd / math.sqrt(n)
    return {"accuracy": mean, "ci": (max(0.0, mean - half), min(1.0, mean + half)),
            "expected": float(torch.cat(exact).mean()),
            "per_attack": {k: float(torch.cat(v).mean()) for k, v in per_attack.items()},
            "draws": draws, "confidence": confidence, "n": n}
