"""Choosing the weights of trained members, and rebuilding a mixture from a checkpoint."""

from __future__ import annotations

import torch

from ..candidates import candidate_losses
from ..mixture import Mixture
from .algorithms import train_attack
from .checkpoint import load_checkpoint
from .config import TrainConfig
from .integrity import load_member_state

__all__ = ["lp_weights", "mixture_from_checkpoint"]


def lp_weights(members, x, y, config, *, seed=0, batch_size=512):
    r"""Optimal weights of fixed members on a candidate game, by the exact LP.

    Beyond both papers: instead of RM20's grid search over alpha (or the weights
    MNE21 Alg. 2 ends with), build the ``(N, m, L)`` 0/1 candidate game of
    ``(x, y)`` (clean point; PGD with ``config.eval_steps`` steps, random start,
    against each member and against the uniform mixture; see
    :func:`advgame.torch.candidate_losses`) and solve it exactly
    (``advgame.solve(method="lp")``, MNE21 Eq. 4 on a finite game).

    Parameters
    ----------
    members : sequence of nn.Module or Mixture
    x, y : torch.Tensor
        Validation inputs and labels (never the test split).
    config : TrainConfig
        Threat model (``eps``, ``step``, ``eval_steps``).
    seed : int
    batch_size : int

    Returns
    -------
    weights : torch.Tensor, shape (L,)
        On the CPU, float64.
    result : advgame.Result
        The LP's result (``value``: the game's optimal 0/1 risk, ``gap``: its certificate).
    """
    import advgame

    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    attack = train_attack(config, steps=config.eval_steps)
    losses = candidate_losses(members, x, y, [attack], loss="01", batch_size=batch_size, seed=seed)
    res = advgame.solve(advgame.Game(losses.detach().cpu().double().numpy()), method="lp")
    return torch.as_tensor(res.weights, dtype=torch.float64), res


def mixture_from_checkpoint(path, device="cpu", weights="trained"):
    """The mixture saved in a training checkpoint, in eval mode.

    Parameters
    ----------
    path : str or path
        A ``checkpoint.pt`` written by ``advgame train``.
    device : str or torch.device
    weights : {"trained", "lp"}
        The weights the training ended with, or the LP weights (``--weights lp``).

    Returns
    -------
    mixture : Mixture
    config : TrainConfig
    state : dict
        The whole checkpoint.
    """
    from ..models import build_model

    state = load_checkpoint(path, map_location=device)
    cfg = TrainConfig.from_dict(state["config"])
    if weights not in ("trained", "lp"):
        raise ValueError(f"weights must be 'trained' or 'lp'; got {weights!r}")
    w = state["weights"]
    if weights == "lp":
        if state.get("weights_lp") is None:
            raise ValueError(f"checkpoint {str(path)!r} has no LP weights (train with --weights lp)")
        w = state["weights_lp"]
    members = []
    for k, s in enumerate(state["members"]):
        m = build_model(cfg.arch, state["num_classes"], tuple(state["input_shape"]), width=cfg.width)
        load_member_state(m, s, k, cfg.arch, f"checkpoint {str(path)!r}")
        members.append(m.to(device).eval())
    keep = [k for k in range(len(members)) if float(w[k]) > 0] or [0]
    mix = Mixture([members[k] for k in keep], torch.as_tensor(w)[keep].to(device=device, dtype=torch.float32))
    return mix, cfg, state
