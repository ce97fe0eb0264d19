"""The torch-side argument checks: tensors, labels, the input box, models, mixture weights.

Scalars, norms, seeds, choices and the simplex tolerance go through
:mod:`advgame._validation` (one rule for the whole library); this module holds only
what needs torch, with the same contract: a wrong type is a :class:`TypeError`, a
wrong value a :class:`ValueError`, both naming the argument and what was expected.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._validation import check_array, check_real, check_seed, simplex_tol

__all__ = [
    "check_tensor",
    "check_labels",
    "check_label_range",
    "check_bounds",
    "check_models",
    "check_mixture_weights",
    "check_torch_seed",
    "make_generator",
    "check_member_dtypes",
    "check_finite_members",
    "check_finite_inputs",
    "check_finite_logits",
]

_LABEL_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def check_tensor(x, name="x", *, floating=False):
    """``x`` must be a torch tensor holding data (not on the ``meta`` device).

    With ``floating=True`` it must also have a floating dtype.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.device.type == "meta":
        raise ValueError(
            f"{name} is a tensor on the 'meta' device, which holds no data; meta tensors are unsupported: "
            "pass a tensor on the CPU or an accelerator"
        )
    if x.is_complex():
        raise TypeError(f"{name} must hold real numbers; got dtype {x.dtype}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")
    return x


def check_labels(y, x, n_classes=None, name="y"):
    """Class labels for the batch ``x``: an integer tensor of shape ``(B,)``.

    Returns ``y`` as int64 on ``x``'s device.  With ``n_classes`` the labels must also
    lie in ``[0, n_classes)`` (see :func:`check_label_range`).
    """
    check_tensor(y, name)
    if y.dtype not in _LABEL_DTYPES:
        raise TypeError(f"{name} must hold integer class indices; got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{name} must have shape (B,) = ({x.shape[0]},) to match x; got {tuple(y.shape)}")
    y = y.to(device=x.device, dtype=torch.int64)
    if n_classes is not None:
        check_label_range(y, n_classes, name)
    return y


def check_label_range(y, n_classes, name="y"):
    """Every label must be a class index in ``[0, n_classes)`` (the model's classes)."""
    if y.numel() == 0:
        return y
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"{name} must hold class labels in [0, {n_classes - 1}] (the model has {n_classes} classes); "
            f"got {bad}"
        )
    return y


def check_bounds(bounds, name="bounds"):
    """The valid input box, a pair ``(low, high)`` of finite reals with ``low < high``."""
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (low, high) of numbers; got {bounds!r}") from None
    if isinstance(lo, torch.Tensor):
        lo = lo.item()
    if isinstance(hi, torch.Tensor):
        hi = hi.item()
    try:
        lo = check_real(f"{name}[0]", lo)
        hi = check_real(f"{name}[1]", hi)
    except ValueError:
        raise ValueError(f"{name} must be finite with low < high; got {bounds!r}") from None
    if not lo < hi:
        raise ValueError(f"{name} must be finite with low < high; got ({lo}, {hi})")
    return lo, hi


def check_models(models, name="models"):
    """A non-empty list of ``nn.Module`` (the members of a mixture)."""
    if isinstance(models, nn.Module) and not isinstance(models, nn.ModuleList):
        raise TypeError(
            f"{name} must be a sequence of nn.Module (the mixture's members); "
            f"got a single {type(models).__name__}: wrap it as [model]"
        )
    try:
        models = list(models)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of nn.Module; got {type(models).__name__}") from None
    if len(models) == 0:
        raise ValueError(f"{name} must hold at least one nn.Module; got an empty sequence")
    for k, m in enumerate(models):
        if not isinstance(m, nn.Module):
            raise TypeError(f"{name}[{k}] must be an nn.Module; got {type(m).__name__}")
    return models


def check_mixture_weights(weights, L, device, dtype=None, name="weights"):
    """Mixture weights: shape ``(L,)``, finite, on the simplex (then renormalized).

    ``None`` gives uniform weights.  Validation runs in float64 through
    :func:`advgame._validation.check_simplex`, with the tolerance
    :func:`advgame._validation.simplex_tol` of the input's dtype; the result has
    ``dtype`` (default: the input's floating dtype for a tensor, else torch's
    default dtype) and lives on ``device``.
    """
    if weights is None:
        return torch.full((L,), 1.0 / L, device=device, dtype=dtype or torch.get_default_dtype())
    if isinstance(weights, torch.Tensor):
        check_tensor(weights, name)
        tol = simplex_tol(weights.dtype if weights.is_floating_point() else torch.float64)
        target = dtype or (weights.dtype if weights.dtype in (torch.float32, torch.float64) else torch.get_default_dtype())
    else:
        kind = getattr(getattr(weights, "dtype", None), "kind", None)
        tol = simplex_tol(weights.dtype if kind == "f" else np.float64)
        target = dtype or torch.get_default_dtype()
    w = check_array(weights, name, shape=(L,))
    lo, total = float(w.min()), float(w.sum())
    if lo < -tol or abs(total - 1.0) > tol * max(1, L):
        raise ValueError(
            f"{name} must lie on the probability simplex (non-negative, summing to 1 up to {tol:.2g} per "
            f"member), one weight per member (L={L}); got min {lo:.3g} and sum {total:.12g}"
        )
    w = torch.from_numpy(w).clamp_min(0)
    return (w / w.sum()).to(device=device, dtype=target)


def check_torch_seed(seed, name="seed"):
    """A seed on the torch side: ``None``, an int >= 0 or a :class:`torch.Generator`."""
    return check_seed(seed, name, library="torch")


def make_generator(seed, device, name="seed") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` from a seed (None: drawn from torch's global RNG).

    A generator passed in is returned as is (it must live on ``device``'s type).
    """
    device = torch.device(device)
    seed = check_torch_seed(seed, name)
    if isinstance(seed, torch.Generator):
        if torch.device(seed.device).type != device.type:
            raise ValueError(f"{name} is a torch.Generator on {seed.device}, but the inputs are on {device}")
        return seed
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator(device=device).manual_seed(seed)



def check_member_dtypes(models, name="models"):
    """All members' floating-point parameters and buffers share one dtype (a mixture of
    float32 and float64 members would fail later, inside a matmul)."""
    seen = None
    for k, m in enumerate(models):
        dtypes = {t.dtype for t in [*m.parameters(), *m.buffers()] if t.is_floating_point()}
        if len(dtypes) > 1:
            raise ValueError(f"{name}[{k}] mixes parameter dtypes {sorted(map(str, dtypes))}; "
                             "convert it to one dtype (e.g. .float())")
        if dtypes:
            d = dtypes.pop()
            if seen is None:
                seen = (k, d)
            elif d != seen[1]:
                raise ValueError(f"all members must have one dtype: {name}[{seen[0]}] is {seen[1]} but "
                                 f"{name}[{k}] is {d}; convert them (e.g. .float() or .double())")
    return models


def check_finite_members(models, name="models"):
    """No member holds NaN or infinite parameters or floating buffers (a diverged model
    predicts class 0 everywhere and must never be scored)."""
    for k, m in enumerate(models):
        for pname, t in [*m.named_parameters(), *m.named_buffers()]:
            if t.is_floating_point() and t.device.type != "meta" and not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name}[{k}] holds NaN or infinite values (in {pname!r}): a diverged model "
                                 "cannot be part of a mixture")
    return models


def check_finite_inputs(x, name="x"):
    """The inputs hold no NaN or infinity."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or infinite values; inputs must be finite")
    return x


def check_finite_logits(z):
    """Every member's logits ``(L, B, C)`` are finite (else the member diverged)."""
    if z.is_floating_point():
        ok = torch.isfinite(z).flatten(1).all(dim=1)
        if not bool(ok.all()):
            k = int((~ok).nonzero()[0, 0])
            raise ValueError(f"member {k} returned NaN or infinite logits (a diverged model is never scored as "
                             "predicting class 0)")
    return z
