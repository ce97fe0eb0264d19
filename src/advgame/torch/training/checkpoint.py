"""Checkpoints of a training run: atomic writes, safe loads, every random state."""

from __future__ import annotations

import os
import warnings

import torch

from ..._io import atomic_path
from .config import TrainConfig
from .integrity import (check_fingerprint, data_fingerprint, describe_load_error, load_member_state,
                        validate_checkpoint)

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "trainer_state", "restore_trainer",
           "CHECKPOINT_FORMAT"]

#: the ``format`` entry of every checkpoint written by this version
CHECKPOINT_FORMAT = "advgame-train-1"


def rng_state(generators) -> dict:
    """Torch's global CPU and CUDA states and those of ``generators`` (a dict of
    ``torch.Generator``), all as ``uint8`` tensors (loadable with ``weights_only``)."""
    state = {"torch": torch.get_rng_state(), "gen": {k: g.get_state() for k, g in generators.items()}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state, generators) -> None:
    """Restore what :func:`rng_state` saved (CUDA states only where CUDA is up)."""
    torch.set_rng_state(state["torch"])
    for k, g in generators.items():
        g.set_state(state["gen"][k])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, state) -> None:
    """Write ``state`` (tensors and plain containers only) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, never unpickling code.

    Raises
    ------
    ValueError
        The file is missing, unreadable, not an advgame training checkpoint, or one
        whose structure or values are invalid
        (:func:`~advgame.torch.training.integrity.validate_checkpoint`); one line
        naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint {path!r} does not exist or is not a file")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols: the error below says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - every unreadable file is one error, in our words
        raise ValueError(f"checkpoint {path!r} is not readable: {describe_load_error(path, err)}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path!r} is not an advgame training checkpoint (format {CHECKPOINT_FORMAT!r})")
    validate_checkpoint(state, path)
    return state


# ------------------------------------------------------- a trainer's state
def trainer_state(trainer) -> dict:
    """Everything a resumed run of :class:`~advgame.torch.training.Trainer` needs:
    tensors and plain containers only (loadable with ``weights_only=True``)."""
    best = None
    if trainer.best is not None:
        best = {"score": trainer.best[0], "state": trainer.best[1]}
    return {
        "format": CHECKPOINT_FORMAT,
        "config": trainer.cfg.to_dict(),
        "epoch": trainer.epoch,
        "step": trainer.step,
        "members": [m.state_dict() for m in trainer.members],
        "weights": trainer.mixture.weights.detach().cpu().clone(),
        "optimizers": [o.state_dict() for o in trainer.optimizers],
        "schedulers": [s.state_dict() for s in trainer.schedulers],
        "solver": trainer.solver.state_dict(),
        "rng": rng_state(trainer.generators),
        "attack_rng_by_rank": _gather_attack_states(trainer),
        "last_gap": trainer.last_gap,
        "history": trainer.history,
        "best": best,
        "selected": trainer.selected,
        "weights_lp": trainer.weights_lp,
        "summary": trainer.summary,
        "num_classes": int(trainer.data.num_classes),
        "input_shape": list(trainer.data.input_shape),
        "data": data_fingerprint(trainer.data),
        "scaler": None if getattr(trainer, "scaler", None) is None else trainer.scaler.state_dict(),
        "precision": getattr(trainer, "precision", None),  # resolved (config None: by device)
    }


def restore_trainer(trainer, state) -> None:
    """Restore :func:`trainer_state` into the trainer; a checkpoint written with other
    settings is a ValueError."""
    saved = TrainConfig.from_dict(state["config"])
    if saved != trainer.cfg:
        diff = {k: (v, getattr(trainer.cfg, k)) for k, v in saved.to_dict().items()
                if trainer.cfg.to_dict()[k] != v}
        raise ValueError(f"the checkpoint was written with other settings (saved, now): {diff}")
    check_fingerprint(state.get("data"), trainer.data)
    saved_precision = state.get("precision")
    if saved_precision is not None and saved_precision != getattr(trainer, "precision", saved_precision):
        raise ValueError(f"the checkpoint was trained in {saved_precision} and this run is {trainer.precision} "
                         f"(pass --precision {saved_precision}: resume is exact within one precision)")
    for k, (m, s) in enumerate(zip(trainer.members, state["members"])):
        load_member_state(m, s, k, trainer.cfg.arch)
    try:
        trainer.mixture.set_weights(state["weights"].to(trainer.device))
        for o, s in zip(trainer.optimizers, state["optimizers"]):
            o.load_state_dict(s)
        for sch, s in zip(trainer.schedulers, state["schedulers"]):
            sch.load_state_dict(s)
        trainer.solver.load_state_dict(state["solver"])
        set_rng_state(state["rng"], trainer.generators)
        if getattr(trainer, "scaler", None) is not None and state.get("scaler"):  # fp16's loss scale
            trainer.scaler.load_state_dict(state["scaler"])
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as e:
        msg = " ".join(str(e).split())[:300] or type(e).__name__
        raise ValueError(f"the checkpoint does not fit this run: {type(e).__name__}: {msg}") from None
    by_rank = state.get("attack_rng_by_rank")
    if trainer.world > 1 and by_rank is not None and len(by_rank) == trainer.world:
        trainer.generators["attack"].set_state(by_rank[trainer.rank])  # each rank its own random starts
    trainer.epoch, trainer.step, trainer.last_gap = state["epoch"], state["step"], state["last_gap"]
    trainer.history = list(state["history"])
    trainer.best = None if state["best"] is None else (state["best"]["score"], state["best"]["state"])
    trainer.selected = state.get("selected")  # absent in checkpoints of earlier versions
    trainer._bat_data = None
    trainer.weights_lp = state.get("weights_lp")
    trainer.summary = state.get("summary")


def _gather_attack_states(trainer):
    """Every rank's attack generator state of the trainer (a collective call under
    torchrun)."""
    if trainer.world == 1:
        return None
    import torch.distributed as dist

    mine = trainer.generators["attack"].get_state()
    comm = mine.to(trainer.device) if dist.get_backend() == "nccl" else mine
    states = [torch.empty_like(comm) for _ in range(trainer.world)]
    dist.all_gather(states, comm)
    return [t.cpu() for t in states]
