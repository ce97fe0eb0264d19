"""What a training run trusts: checked checkpoints, data fingerprints, finite training.

Checkpoints, data and logs come from disk and are untrusted input.  This module holds
the checks the trainer, ``--resume`` and ``advgame eval`` run on them:

- :func:`validate_checkpoint`: the structure and values of a checkpoint, completely,
  before anything is restored from it (a ``ValueError`` naming the file and the entry);
- :func:`describe_load_error`: one line saying why ``torch.load`` could not read a file
  (never torch's advice to turn ``weights_only`` off and unpickle it);
- :func:`load_member_state`: a member's parameters, with a one-line error when they do
  not fit the architecture;
- :func:`data_fingerprint` / :func:`check_fingerprint`: what data a run trained on;
- :func:`check_splits`: a training split with at least one batch, a validation split;
- :func:`check_finite_training`: stop a diverged run (:class:`TrainingDiverged`);
- :func:`finite_json`: NaN and infinities as ``null``, so logs are valid JSON.
"""

from __future__ import annotations

import math
import numbers
import os
import pickle
from contextlib import contextmanager

import torch

__all__ = ["validate_checkpoint", "describe_load_error", "load_member_state", "data_fingerprint",
           "check_fingerprint", "check_splits", "check_finite_training", "diverged_as_error", "TrainingDiverged",
           "finite_json"]


class TrainingDiverged(ValueError):
    """A training run's losses or parameters became NaN or infinite."""


# ---------------------------------------------------------------- reading
def describe_load_error(path, err) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in one line of our own words."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        return f"cannot read it ({e.strerror or type(e).__name__})"
    text = str(err)
    if size == 0:
        return "the file is empty"
    if isinstance(err, MemoryError):
        return "it needs more memory than this machine has"
    if isinstance(err, pickle.UnpicklingError) or "Weights only load failed" in text:
        if head.startswith(b"PK") or head[:1] == b"\x80":
            return ("it holds Python objects other than tensors and plain containers; refused without running "
                    "them (an advgame checkpoint never holds any)")
        return "not a torch checkpoint file"
    if head.startswith(b"PK"):
        if "central directory" in text or "corrupt" in text.lower() or isinstance(err, EOFError):
            return "truncated or corrupt (an incomplete copy?)"
        return "a zip archive that torch.save did not write (an .npz file?), not a checkpoint"
    if isinstance(err, EOFError):
        return "truncated (an incomplete copy?)"
    first = " ".join(text.split())[:200] or type(err).__name__
    return f"not a torch checkpoint file ({type(err).__name__}: {first})"


# ---------------------------------------------------------------- checks
def _fail(path, entry, what):
    raise ValueError(f"checkpoint {os.fspath(path)!r}: {entry} {what} (a damaged or edited file)")


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v, finite=True):
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool)
    return ok and (not finite or math.isfinite(float(v)))


def _check_tensor_dict(path, entry, d, finite=True):
    if not isinstance(d, dict) or not d:
        _fail(path, entry, "must be a non-empty dict of tensors")
    for k, v in d.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            _fail(path, entry, f"must map names to tensors; got {type(v).__name__} at {k!r}")
        if finite and v.is_floating_point() and not bool(torch.isfinite(v).all()):
            _fail(path, entry, f"holds NaN or infinite values in {k!r} (a diverged model)")


def _check_weights(path, entry, w, L):
    from .._checks import check_mixture_weights

    if not isinstance(w, torch.Tensor) or not w.is_floating_point():
        _fail(path, entry, f"must be a float tensor of {L} mixture weights; got {type(w).__name__}")
    try:
        check_mixture_weights(w, L, "cpu", name=entry)
    except (TypeError, ValueError) as e:
        _fail(path, entry, f"is invalid: {e}")


def _check_state_tensor(path, entry, t):
    if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8 or t.ndim != 1:
        _fail(path, entry, "must be a random generator state (a uint8 tensor)")


def validate_checkpoint(state, path):
    """Check a training checkpoint's structure and values completely (before any use).

    Parameters
    ----------
    state : dict
        What ``torch.load(path, weights_only=True)`` returned (format already checked).
    path : str
        For messages.

    Returns
    -------
    TrainConfig
        The run's settings.

    Raises
    ------
    ValueError
        Naming the file and the first entry that is missing, of the wrong type or out
        of range: a member cut from ``members``, an ``epoch`` beyond the run, weights
        off the simplex, NaN parameters, ...
    """
    from .config import TrainConfig

    required = ("config", "epoch", "step", "members", "weights", "optimizers", "schedulers", "solver", "rng",
                "last_gap", "history", "best", "num_classes", "input_shape")
    missing = [k for k in required if k not in state]
    if missing:
        _fail(path, "entries", f"{missing} are missing")
    if not isinstance(state["config"], dict):
        _fail(path, "'config'", "must be a dict of training settings")
    try:
        cfg = TrainConfig.from_dict(state["config"])
    except (TypeError, ValueError) as e:
        _fail(path, "'config'", f"is invalid: {' '.join(str(e).split())}")
    L = cfg.models
    epoch, step = state["epoch"], state["step"]
    if not _is_int(epoch) or not 0 <= epoch <= cfg.total_epochs:
        _fail(path, "'epoch'", f"must be an int in [0, {cfg.total_epochs}] (the run's epochs); got {epoch!r}")
    if not _is_int(step) or step < 0:
        _fail(path, "'step'", f"must be an int >= 0; got {step!r}")
    for key in ("members", "optimizers", "schedulers"):
        v = state[key]
        if not isinstance(v, list) or len(v) != L:
            got = f"{len(v)} entries" if isinstance(v, list) else type(v).__name__
            _fail(path, f"'{key}'", f"must be a list of {L} entries (models={L}); got {got}")
        for k, d in enumerate(v):
            if key == "members":
                _check_tensor_dict(path, f"'members'[{k}]", d)
            elif not isinstance(d, dict):
                _fail(path, f"'{key}'[{k}]", "must be a dict")
    _check_weights(path, "'weights'", state["weights"], L)
    if state.get("weights_lp") is not None:
        _check_weights(path, "'weights_lp'", state["weights_lp"], L)
    if not isinstance(state["solver"], dict):
        _fail(path, "'solver'", "must be a dict")
    rng = state["rng"]
    if not isinstance(rng, dict) or "torch" not in rng or not isinstance(rng.get("gen"), dict):
        _fail(path, "'rng'", "must hold the random states 'torch' and 'gen'")
    _check_state_tensor(path, "'rng'['torch']", rng["torch"])
    for name in ("member", "attack"):
        if name not in rng["gen"]:
            _fail(path, f"'rng'['gen']['{name}']", "is missing")
        _check_state_tensor(path, f"'rng'['gen']['{name}']", rng["gen"][name])
    by_rank = state.get("attack_rng_by_rank")
    if by_rank is not None:
        if not isinstance(by_rank, list):
            _fail(path, "'attack_rng_by_rank'", "must be a list of generator states")
        for k, t in enumerate(by_rank):
            _check_state_tensor(path, f"'attack_rng_by_rank'[{k}]", t)
    gap = state["last_gap"]
    if gap is not None and not _is_real(gap, finite=False):
        _fail(path, "'last_gap'", f"must be a number or None; got {gap!r}")
    history = state["history"]
    if not isinstance(history, list) or not all(isinstance(r, dict) and "epoch" in r for r in history):
        _fail(path, "'history'", "must be a list of per-epoch records")
    if len(history) != epoch:
        _fail(path, "'history'", f"has {len(history)} records for {epoch} epochs")
    best = state["best"]
    if best is not None:
        if not isinstance(best, dict) or not _is_real(best.get("score")):
            _fail(path, "'best'", "must be None or a dict with a 'score' and a 'state'")
        _check_tensor_dict(path, "'best'['state']", best.get("state"))
    selected = state.get("selected")
    if selected is not None:
        if (not isinstance(selected, dict) or not _is_real(selected.get("score"))
                or not _is_int(selected.get("epoch")) or not 1 <= selected["epoch"] <= max(epoch, 1)
                or not _is_int(selected.get("phase_start")) or not 0 <= selected["phase_start"] < cfg.total_epochs
                or not isinstance(selected.get("members"), list) or not isinstance(selected.get("states"), list)
                or len(selected["members"]) != len(selected["states"])
                or not all(_is_int(k) and 0 <= k < L for k in selected["members"])):
            _fail(path, "'selected'", "must be None or the selected epoch's record (score, epoch, phase_start, "
                  "members, states, weights)")
        for k, st in enumerate(selected["states"]):
            _check_tensor_dict(path, f"'selected'['states'][{k}]", st)
        _check_weights(path, "'selected'['weights']", selected.get("weights"), L)
    if state.get("summary") is not None and not isinstance(state["summary"], dict):
        _fail(path, "'summary'", "must be None or a dict")
    C = state["num_classes"]
    if not _is_int(C) or not 2 <= C <= 1_000_000:
        _fail(path, "'num_classes'", f"must be an int >= 2; got {C!r}")
    shape = state["input_shape"]
    if (not isinstance(shape, (list, tuple)) or len(shape) != 3
            or not all(_is_int(s) and 1 <= s <= 1_000_000 for s in shape)):
        _fail(path, "'input_shape'", f"must be a list of 3 positive ints (C, H, W); got {shape!r}")
    data = state.get("data")
    if data is not None and (not isinstance(data, dict) or not isinstance(data.get("sha256"), str)):
        _fail(path, "'data'", "must be a data fingerprint (a dict with 'sha256')")
    return cfg


def load_member_state(model, member_state, k, arch, path="the checkpoint"):
    """``model.load_state_dict(member_state)`` with a one-line ``ValueError`` when the
    parameters do not fit (another architecture, number of classes or input shape)."""
    try:
        model.load_state_dict(member_state)
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = " ".join(lines[1:3]) if len(lines) > 1 else (lines[0] if lines else type(e).__name__)
        raise ValueError(f"{path}: member {k} does not fit the architecture {arch!r} with these classes and "
                         f"input shape: {detail[:300]}") from None


# ---------------------------------------------------------------- data
def data_fingerprint(data):
    """The data set's fingerprint (``data.fingerprint``) or None when it has none."""
    fp = getattr(data, "fingerprint", None)
    return dict(fp) if isinstance(fp, dict) else None


def check_fingerprint(saved, data, path="the checkpoint"):
    """Refuse to resume on other data than the checkpoint was trained on."""
    now = data_fingerprint(data)
    if saved is None or now is None or saved == now:
        return
    diff = ", ".join(f"{k} {saved.get(k)!r} (now {now.get(k)!r})" for k in sorted(set(saved) | set(now))
                     if saved.get(k) != now.get(k))
    raise ValueError(f"{path} was trained on other data: {diff}; resume with the same data (--data-root) "
                     "or start a new run")


def check_splits(data, world=1):
    """A training split that gives every process at least one batch, and a validation split."""
    n_train, n_val = len(data.train), len(data.val)
    if n_train < world:
        raise ValueError(f"the training split has {n_train} examples: fewer than one batch per process "
                         f"({world}); lower the validation share (--val-size) or add data")
    if n_val == 0:
        raise ValueError("the validation split is empty: raise the validation share (--val-size)")


# ---------------------------------------------------------------- divergence
def _bad_member(trainer):
    for k, m in enumerate(trainer.members):
        for name, t in m.named_parameters():
            if not bool(torch.isfinite(t).all()):
                return f"member {k}'s parameter {name!r} is NaN or infinite"
    if not bool(torch.isfinite(trainer.mixture.weights).all()):
        return "the mixture weights are NaN or infinite"
    x = trainer._val[0][:64].to(trainer.device)  # finite but huge parameters: the outputs overflow
    if len(x):
        from ..modes import eval_mode

        with eval_mode(trainer.members), torch.no_grad():
            for k, m in enumerate(trainer.members):
                if not bool(torch.isfinite(m(x)).all()):
                    return f"member {k}'s outputs are NaN or infinite"
    return None


def check_finite_training(trainer, losses, lr):
    """Raise :class:`TrainingDiverged` when this epoch's losses or the members' parameters
    are not finite; the run's last good checkpoint is left as it is."""
    bad = next((v for v in losses if not math.isfinite(float(v))), None)
    what = f"a training loss is {bad}" if bad is not None else _bad_member(trainer)
    if what is None:
        return
    _diverged(trainer, what, lr)


@contextmanager
def diverged_as_error(trainer, lr):
    """Within an epoch: an error raised while the members are no longer finite (a NaN
    member refused by a mixture, NaN oracle losses) is the run diverging."""
    try:
        yield
    except (ValueError, RuntimeError) as err:
        if isinstance(err, TrainingDiverged):
            raise
        what = _bad_member(trainer)
        if what is None:
            raise
        _diverged(trainer, what, lr)


def _diverged(trainer, what, lr):
    where = trainer.checkpoint_path
    if where is not None and os.path.exists(where) and trainer.epoch > 0:
        kept = f"the last good checkpoint (epoch {trainer.epoch}) is kept in {where}"
    else:
        kept = "no checkpoint was written"
    raise TrainingDiverged(f"training diverged in epoch {trainer.epoch + 1}: {what}; {kept}; lower the "
                           f"learning rate (--lr, now {lr:g})") from None


def finite_json(obj):
    """``obj`` with every NaN or infinite float replaced by None (valid JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj
