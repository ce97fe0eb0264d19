"""Input checks of :class:`advgame.Game`: the loss tensor, the mask, sample weights, the
bound, and the strategies passed to its evaluations.

Scalars and sample weights go through :mod:`advgame._validation` (a wrong type is a
``TypeError``, a wrong value a ``ValueError``, both naming the argument); array checks
that depend on the backend go through the backend's operations, so numpy arrays and
torch tensors (any device) are checked by the same code.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._validation import check_real, check_sample_weights, simplex_tol
from ..backend import get_backend

__all__ = ["as_backend_array", "working_tensor", "check_mask", "check_bound", "game_sample_weights",
           "as_weights", "as_adversary"]


def as_backend_array(losses):
    """``(nx, losses)``: the backend of ``losses`` and ``losses`` as an array of it.

    Numpy masked arrays are refused (their mask is per entry and would be lost; pass the
    invalid attacks as ``mask=``), and so are tensors that hold no data (torch ``meta``).
    """
    if isinstance(losses, np.ma.MaskedArray):
        raise TypeError(
            "losses must be a plain array, not a numpy masked array (its mask is per entry and "
            "would be lost): pass the invalid attacks as mask= (an (N, m) boolean array, True = valid)"
        )
    nx = get_backend(losses)
    losses = nx.asarray(losses)
    if not nx.has_data(losses):
        raise TypeError("losses is a torch tensor on the 'meta' device, which holds no data; "
                        "meta tensors are unsupported: use a cpu or cuda tensor")
    return nx, losses


def working_tensor(nx, losses):
    """Check dtype and shape; return ``(F, (N, m, L))`` with ``F`` the fresh ``(L, N, m)``
    working copy in the compute dtype."""
    if nx.dtype_kind(losses) == "other":
        raise TypeError(f"losses must have a boolean, integer or floating dtype (real); got {losses.dtype}")
    if losses.ndim != 3:
        raise ValueError(
            "losses must be a 3-D array of shape (N samples, m attacks, L classifiers); "
            f"got shape {tuple(losses.shape)}"
        )
    N, m, L = (int(s) for s in losses.shape)
    if min(N, m, L) == 0:
        raise ValueError(
            f"losses must have at least one sample, attack and classifier; got shape {(N, m, L)}"
        )
    dtype = nx.working_dtype(losses)
    if nx.dtype_kind(losses) == "f" and losses.dtype != dtype:  # float16, bfloat16: say so
        warnings.warn(f"losses of dtype {nx.dtype_name(losses)} are stored and solved in "
                      f"{str(dtype).replace('torch.', '')} (advgame computes in float32 or float64)",
                      UserWarning, stacklevel=3)
    return nx.to_working_layout(losses, dtype), (N, m, L)


def _bad_index(nx, bad):
    """``(i, j, k)`` of the first True entry of an ``(L, N, m)`` boolean array."""
    k, i, j = nx.first_true(bad)
    return (i, j, k)


def check_values(nx, F, bound):
    """Finite, non-negative, at most ``bound``; returns ``(bound, largest valid loss)``."""
    lo = nx.scalar(nx.min(F))  # min and max propagate NaN and show inf
    hi = nx.scalar(nx.max(F))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"losses must be finite; found NaN or inf at index {_bad_index(nx, ~nx.isfinite(F))}")
    if lo < 0:
        raise ValueError(f"losses must lie in [0, M]; found {lo:.6g} < 0 at index {_bad_index(nx, F < 0)}")
    bound = check_bound(bound, hi)
    if hi > bound * (1 + 1e-12):
        raise ValueError(
            f"losses must lie in [0, bound={bound:.6g}]; found {hi:.6g} at index {_bad_index(nx, F > bound)}"
        )
    return bound, hi


def check_bound(bound, hi):
    """The loss bound M: given (a positive finite real) or 1 when ``hi <= 1``, else ``hi``."""
    if bound is None:
        return 1.0 if hi <= 1.0 else float(hi)
    try:
        return check_real("bound", bound, lo=0.0, lo_open=True)
    except ValueError:
        raise ValueError(f"bound must be a positive finite number; got {bound}") from None


def check_mask(nx, mask, N, m, F):
    """The ``(N, m)`` boolean mask in the game's library and device (None stays None)."""
    if mask is None:
        return None
    mask = nx.convert(mask, F, "mask", keep_dtype=True)
    if nx.dtype_kind(mask) != "b":
        raise TypeError(f"mask must be a boolean array of shape (N, m); got dtype {mask.dtype}")
    if tuple(mask.shape) != (N, m):
        raise ValueError(f"mask must have shape (N, m) = {(N, m)} to match losses; got {tuple(mask.shape)}")
    valid = nx.any(mask, 1)
    if not bool(valid.all()):
        i = nx.first_true(~valid)[0]
        raise ValueError(f"mask leaves sample {i} with no valid attack; every row of mask needs a True")
    return mask


def game_sample_weights(nx, sample_weights, N, F):
    """``(relative float64 numpy or None, normalized in the compute dtype, total, normalized
    float64 numpy)`` through :func:`advgame._validation.check_sample_weights` (scaled before
    summing: huge weights neither overflow nor vanish)."""
    if sample_weights is None:
        return None, nx.full((N,), 1.0 / N, type_as=F), float(N), np.full(N, 1.0 / N)
    nx.convert(sample_weights, F, "sample_weights", keep_dtype=True)  # same library as losses
    raw, w64 = check_sample_weights(sample_weights, N)
    top = float(raw.max())
    total = top * float((raw / top).sum())  # inf when the true total overflows
    return raw, nx.from_numpy(w64, type_as=F), total, w64


def as_weights(nx, F, L, weights, name="weights"):
    """Defender weights in the game's library, device and dtype: shape (L,), finite, on the
    simplex up to :func:`advgame._validation.simplex_tol` of the compute dtype."""
    lam = nx.convert(weights, F, name)
    if tuple(lam.shape) != (L,):
        raise ValueError(f"{name} must have shape (L,) = ({L},), one weight per classifier; got {tuple(lam.shape)}")
    if not nx.all_finite(lam):
        raise ValueError(f"{name} must be finite; got {lam.tolist()}")
    tol = simplex_tol(F.dtype)
    lo = nx.scalar(nx.min(lam))
    total = nx.scalar(nx.sum(lam))
    if lo < -tol or abs(total - 1.0) > tol * max(1, L):
        raise ValueError(
            f"{name} must lie on the probability simplex (non-negative, summing to 1); "
            f"got min {lo:.3g} and sum {total:.12g}"
        )
    return lam


def as_adversary(nx, F, mask, adversary, name="adversary"):
    """An adversary strategy ``(N, m)``: rows are distributions over valid attacks."""
    _, N, m = F.shape
    Q = nx.convert(adversary, F, name)
    if tuple(Q.shape) != (N, m):
        raise ValueError(
            f"{name} must have shape (N, m) = {(N, m)}: one distribution over "
            f"attacks per sample; got {tuple(Q.shape)}"
        )
    if not nx.all_finite(Q):
        raise ValueError(f"{name} must be finite; found NaN or inf at index {nx.first_true(~nx.isfinite(Q))}")
    tol = simplex_tol(F.dtype)
    if nx.scalar(nx.min(Q)) < -tol:
        raise ValueError(
            f"{name} must be non-negative (each row is a distribution); found "
            f"{nx.scalar(nx.min(Q)):.3g} at index {nx.first_true(Q < -tol)}"
        )
    rows = nx.sum(Q, axis=1)
    dev = nx.max(abs(rows - 1.0))
    if nx.scalar(dev) > tol * max(1.0, math.sqrt(m)):
        i = nx.first_true(abs(rows - 1.0) == dev)[0]
        raise ValueError(
            f"{name} rows must each sum to 1 (a distribution over that sample's attacks); "
            f"row {i} sums to {nx.scalar(rows[i]):.12g}"
        )
    if mask is not None:
        off = nx.where(mask, 0.0 * Q, Q)
        if nx.scalar(nx.max(off)) > tol:
            raise ValueError(
                f"{name} puts mass {nx.scalar(nx.max(off)):.3g} on a masked attack at index "
                f"{nx.first_true(off > tol)}; masked attacks must get zero probability"
            )
    return Q
