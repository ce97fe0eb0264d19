"""The steps of the training algorithms: MNE21 Alg. 2 and RM20 BAT (Alg. 1 and its
n-member extension), with AT and TRADES as inner losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..attacks import APGD, ARC, PGD
from ..candidates import attack_oracle, candidate_losses
from ..mixture import Mixture
from .losses import at_loss, trades_attack, trades_loss

__all__ = ["train_attack", "weight_attack", "barre_batch", "adversarial_batch", "member_step", "weight_step", "bat_weights", "AllReduceOracle",
           "natural_step", "adversarial_dataset", "sub_mixture"]


def train_attack(cfg, steps=None, seed=0):
    """The :math:`\\ell_\\infty` PGD template of training (one restart, step ``cfg.step``)."""
    return PGD(eps=cfg.eps, alpha=cfg.step, steps=cfg.attack_steps if steps is None else steps, restarts=1,
               random_start=cfg.random_start, expectation="logits", seed=seed)


def adversarial_batch(cfg, mixture, x, y, generator, loss="at"):
    """Adversarial points against the *current* mixture (MNE21 Alg. 2, line "Attack of
    images in B_t for the model (lambda_t, theta_t)"): adaptive PGD on the expected
    logits for AT, the mixture's KL for TRADES.  The attacks put every member in eval
    mode and restore the flags afterwards."""
    if loss == "trades":
        return trades_attack(mixture, x, eps=cfg.eps, step=cfg.step, steps=cfg.attack_steps, generator=generator)
    return train_attack(cfg, seed=generator).bind(mixture)(x, y)


def member_step(member, trained, optimizer, x_adv, y, x=None, loss="at", beta=6.0, scale=1.0, scaler=None):
    """One SGD step of one member on adversarial points; returns the loss.

    ``trained`` is what is called forward (the member, or its DistributedDataParallel
    wrapper).  The member is in train mode for the step (batch-norm uses and updates
    the batch statistics of the adversarial batch, as in standard adversarial
    training), while the attack that made ``x_adv`` ran it in eval mode (fixed
    statistics, so that the search for the adversarial points neither changes the
    running statistics nor depends on the batch's other examples).  It is put back in
    eval mode afterwards, the mode in which mixtures are scored. ``scale`` multiplies the
    loss that is differentiated (``member_weighting="lambda"``: ``L * lambda_k``); the
    returned loss is the unscaled one.  ``scaler``: a ``torch.amp.GradScaler`` (fp16
    training) that scales the loss and steps the optimizer.
    """
    fn = trades_loss if loss == "trades" else at_loss
    return _sgd_step(member, optimizer, lambda: fn(trained, x_adv, y, x, beta), scaler, scale=scale)


def natural_step(member, trained, optimizer, x, y, scaler=None):
    """One SGD step of cross-entropy training (BAT's "naturally train h_i on D~")."""
    return _sgd_step(member, optimizer, lambda: F.cross_entropy(trained(x), y), scaler)


def _sgd_step(member, optimizer, objective, scaler=None, scale=1.0):
    """One optimizer step on ``scale * objective()`` with ``member`` in train mode, back in
    eval mode afterwards (also when the step raises); returns the (unscaled) loss as a
    float.  With a ``GradScaler`` the loss is scaled for the backward pass and the step
    skipped on non-finite gradients (fp16)."""
    member.train()
    try:
        value = objective()
        optimizer.zero_grad(set_to_none=True)
        scaled = value if scale == 1.0 else value * scale
        if scaler is None:
            scaled.backward()
            optimizer.step()
        else:
            scaler.scale(scaled).backward()
            scaler.step(optimizer)
            scaler.update()
    finally:
        member.eval()
    return float(value.detach())


class AllReduceOracle:
    """An attack oracle whose per-member mean losses are averaged over all ranks
    (weighted by each rank's batch size), so every rank takes the same weight step."""

    def __init__(self, oracle, n_local):
        self.oracle = oracle
        self.n_local = n_local
        self.bound = getattr(oracle, "bound", None)  # the loss bound M the solver checks the losses against

    def __call__(self, weights):
        import torch.distributed as dist

        g = self.oracle(weights)
        buf = torch.cat([g.to(torch.float64) * self.n_local,
                         torch.tensor([float(self.n_local)], dtype=torch.float64, device=g.device)])
        dist.all_reduce(buf)
        return (buf[:-1] / buf[-1]).to(g.dtype)


def weight_step(cfg, solver, mixture, x, y, seed, world=1):
    r"""MNE21 Alg. 2, weight branch: :math:`T_\lambda` iterations of the chosen solver on
    the batch, warm-started from the current weights (``MixtureSolver``).

    ``"oracle"``: MNE21 Alg. 1 with the training PGD (against the mixture of each
    iterate) as the oracle; ``"entropic"`` / ``"lp"``: the candidate game of the batch
    (clean point, PGD against each member and against the mixture).  Returns the
    solver's ``Result``; the solver writes the new weights into ``mixture``.
    """
    attack = weight_attack(cfg)
    if cfg.weight_method == "oracle":
        oracle = attack_oracle(mixture, x, y, attack, loss=cfg.weight_loss, seed=seed)
        if world > 1:
            oracle = AllReduceOracle(oracle, x.shape[0])
        return solver.update(oracle=oracle)
    losses = candidate_losses(mixture, x, y, [attack], loss=cfg.weight_loss, seed=seed)
    return solver.update(losses)


def weight_attack(cfg, steps=None):
    """The attack behind the weight step's losses: the training PGD, or ARC
    (``cfg.weight_oracle == "arc"``; Dbouk & Shanbhag 2022, step eta = eps as BARRE's
    weight fit, ``cfg.attack_steps`` iterations)."""
    if cfg.weight_oracle == "arc":
        return ARC(eps=cfg.eps, steps=cfg.attack_steps if steps is None else steps, step_size=cfg.eps)
    return train_attack(cfg, steps=steps)


def barre_batch(cfg, mixture, x, y, generator):
    """BARRE's training points (Dbouk & Shanbhag 2023): APGD on the mixture's expected
    cross-entropy, ``cfg.attack_steps`` iterations, one restart, against the current
    mixture of the members trained so far."""
    attack = APGD(eps=cfg.eps, loss="ce", steps=cfg.attack_steps, restarts=1, expectation="loss", seed=generator)
    return attack.bind(mixture)(x, y)


def bat_weights(previous, alpha):
    """RM20 supplement, Alg. 2: the old weights times ``1 - alpha``, then ``alpha`` for
    the new member (for two members: RM20 Alg. 1's ``(1 - alpha, alpha)``)."""
    return torch.cat([previous * (1 - alpha), previous.new_tensor([alpha])])


def adversarial_dataset(cfg, mixture, dataset, batch_size, generator, device):
    """RM20's :math:`\\tilde D`: the whole training split attacked (PGD, ``cfg``
    settings, eps, step, ``attack_steps`` with random start) against ``mixture``."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    attack = train_attack(cfg, seed=generator).bind(mixture)
    xs, ys = [], []
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        xs.append(attack(x, y).cpu())
        ys.append(y.cpu())
    return torch.utils.data.TensorDataset(torch.cat(xs), torch.cat(ys))


def sub_mixture(members, weights, n):
    """The mixture of the first ``n`` members with the first ``n`` weights."""
    return Mixture(list(members)[:n], weights[:n])
