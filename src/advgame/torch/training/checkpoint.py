"""Checkpoints of a training run: atomic writes, safe loads, every random state."""

from __future__ import annotations

import os

import torch

from ..._io import atomic_path

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "CHECKPOINT_FORMAT"]

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
        The file is missing, unreadable or not an advgame training checkpoint.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint {path!r} does not exist or is not a file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - every unreadable file is one error
        raise ValueError(f"checkpoint {path!r} is not readable: {type(err).__name__}: {err}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path!r} is not an advgame training checkpoint (format {CHECKPOINT_FORMAT!r})")
    return state
