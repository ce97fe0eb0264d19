"""The numpy backend: the reference implementation of the contract (every docstring
of the contract is on :class:`NumpyBackend`)."""

from __future__ import annotations

import numpy as np

from .detect import is_torch
from .projection import proj_shifted, proj_sorted, rho_host

__all__ = ["NumpyBackend"]


class NumpyBackend:
    """Operations on numpy arrays (the reference: every docstring of the contract is
    here; :class:`TorchBackend` implements the same operations for torch tensors)."""

    name = "numpy"

    # --- construction -------------------------------------------------------
    def asarray(self, x, type_as=None):
        """``x`` as an array of this library (no copy when it already is one), with
        ``type_as``'s dtype and device when given."""
        if type_as is None:
            return np.asarray(x)
        return np.asarray(x, dtype=type_as.dtype)

    def to_numpy(self, x):
        """A numpy array with ``x``'s values (copied to the host for a tensor)."""
        return np.asarray(x)

    def from_numpy(self, x, type_as=None):
        """The numpy array ``x`` as an array of this library (on ``type_as``'s dtype and
        device when given)."""
        return self.asarray(x, type_as=type_as)

    def zeros(self, shape, type_as):
        """Zeros of ``shape`` with ``type_as``'s dtype and device."""
        return np.zeros(shape, dtype=type_as.dtype)

    def full(self, shape, value, type_as):
        """An array of ``shape`` filled with ``value``, ``type_as``'s dtype and device."""
        return np.full(shape, value, dtype=type_as.dtype)

    def arange(self, n, like):
        """The integers ``0 .. n-1`` (integer dtype) on ``like``'s device."""
        return np.arange(n)

    def copy(self, x):
        """An independent copy of ``x``."""
        return x.copy()

    def empty_like(self, x):
        """An uninitialized array of ``x``'s shape, dtype and device."""
        return np.empty_like(x)

    # --- dtypes -------------------------------------------------------------
    def float64(self, x):
        """``x`` in float64 on its device (no copy when it already is float64)."""
        return np.asarray(x, dtype=np.float64)

    def astype(self, x, type_as):
        """``x`` converted to ``type_as``'s dtype and device."""
        return x.astype(type_as.dtype)

    def is_floating(self, x) -> bool:
        """True when ``x`` has a real floating dtype."""
        return x.dtype.kind == "f"

    def dtype_max(self, x) -> float:
        """The largest finite number of ``x``'s (floating) dtype."""
        return float(np.finfo(x.dtype).max)

    # --- reductions and elementwise ----------------------------------------
    def max_argmax(self, s, axis):
        """Max and argmax of ``s`` along ``axis`` in one call (first maximum on ties)."""
        idx = np.argmax(s, axis=axis)
        val = np.take_along_axis(s, np.expand_dims(idx, axis), axis=axis).squeeze(axis)
        return val, idx

    def max(self, s, axis=None):
        """Maximum of ``s`` (over all entries, or along ``axis``) as an array."""
        return np.max(s, axis=axis)

    def min(self, s, axis=None):
        """Minimum of ``s`` (over all entries, or along ``axis``) as an array."""
        return np.min(s, axis=axis)

    def argmin(self, s):
        """Index of the smallest entry of ``s`` as a Python int (first one on ties)."""
        return int(np.argmin(s))

    def sum(self, x, axis=None):
        """Sum of ``x`` (over all entries, or along ``axis``) as an array."""
        return np.sum(x, axis=axis)

    def exp(self, x, out=None):
        """Elementwise exponential, into ``out`` when given."""
        return np.exp(x, out=out)

    def log(self, x):
        """Elementwise natural logarithm."""
        return np.log(x)

    def add(self, a, b, out=None):
        """``a + b`` (broadcasting), into ``out`` when given."""
        return np.add(a, b, out=out)

    def subtract(self, a, b, out=None):
        """``a - b`` (broadcasting), into ``out`` when given."""
        return np.subtract(a, b, out=out)

    def matmul(self, a, b, out=None):
        """``a @ b``, into ``out`` when given (a vector times a matrix included)."""
        return np.matmul(a, b, out=out)

    def sqrt(self, x):
        """Elementwise square root."""
        return np.sqrt(x)

    def clip_min(self, x, lo):
        """``max(x, lo)`` elementwise, a new array."""
        return np.maximum(x, lo)

    def clip_min_(self, x, lo):
        """``max(x, lo)`` elementwise, in place; returns ``x``."""
        return np.maximum(x, lo, out=x)

    def where(self, c, a, b):
        """``a`` where the boolean ``c`` holds, else ``b`` (broadcasting)."""
        return np.where(c, a, b)

    def sort_desc(self, x):
        """The 1-D ``x`` sorted in decreasing order."""
        return -np.sort(-x)

    def cumsum(self, x):
        """Cumulative sum of the 1-D ``x``."""
        return np.cumsum(x)

    def all_finite(self, x) -> bool:
        """True when no entry of ``x`` is NaN or infinite (a host synchronization)."""
        return bool(np.isfinite(x).all())

    def scalar(self, x) -> float:
        """The one-element ``x`` as a Python float (a host synchronization)."""
        return float(x)

    # --- assembly -----------------------------------------------------------
    def stack(self, xs):
        """The 0-d arrays (or scalars of this library) ``xs`` as one 1-D array."""
        return np.stack([np.asarray(x) for x in xs])

    def concatenate(self, xs):
        """The 1-D arrays ``xs`` end to end."""
        return np.concatenate(xs)

    # --- gathers / scatters -------------------------------------------------
    def gather_rows(self, F, jstar):
        """``F[:, i, jstar[i]]`` for every sample ``i`` of an (L, N, m) ``F``: shape (L, N)."""
        return F[:, np.arange(F.shape[1]), jstar]

    def add_at(self, flat, idx, value):
        """``flat[idx] += value`` in place, for *distinct* indices ``idx``."""
        flat[idx] += value

    # --- algorithms ---------------------------------------------------------
    def proj_simplex(self, v):
        r"""Euclidean projection of a finite 1-D ``v`` onto the probability simplex,
        :math:`\arg\min_{\lambda\in\Delta_L}\|\lambda - v\|_2`, **unchecked**: the
        caller guarantees a non-empty finite floating vector (the inner loops of the
        solvers; :func:`advgame.proj_simplex` is the checked public version).

        The sort-based algorithm of Duchi et al. (2008), exact to rounding on
        well-scaled inputs.  Where rounding degrades it (the result's sum is off 1 by
        more than ``4 L eps``: large entries, ``[1e16, 0]``, or a range that
        overflows, ``[1e308, -1e308]``) the same algorithm runs on the shifted vector
        ``max(v - max(v), -1)``, which has the same projection and lies in ``[-1, 0]``,
        and the result is renormalized.  The result is on the simplex (to rounding)
        for every finite input.  No host synchronization on a GPU.
        """
        with np.errstate(over="ignore", invalid="ignore"):  # the plain pass may overflow
            x = proj_sorted(self, v, rho_host)
        if abs(float(x.sum()) - 1.0) <= 4 * x.shape[0] * self.eps(x):
            return x
        return proj_shifted(self, v, rho_host)

    def all_reduce(self, x, scale=1.0):
        """``scale * x`` summed over the ranks of the initialized ``torch.distributed``
        process group (numpy arrays travel as float64 CPU tensors); same dtype as ``x``."""
        import torch
        import torch.distributed as dist

        t = torch.from_numpy(np.asarray(x, dtype=np.float64) * scale)
        dist.all_reduce(t)
        return t.numpy().astype(np.asarray(x).dtype)

    # --- misc ---------------------------------------------------------------
    def device(self, x):
        return "cpu"

    def dtype_name(self, x) -> str:
        return str(x.dtype)

    def eps(self, x) -> float:
        return float(np.finfo(x.dtype).eps)

    # --- operations used by Game
    def has_data(self, x) -> bool:
        """False for arrays that hold no data (torch's ``meta`` tensors); True here."""
        return True

    def dtype_kind(self, x) -> str:
        """``"b"`` bool, ``"i"``/``"u"`` integers, ``"f"`` real floating, else ``"other"``."""
        k = x.dtype.kind
        return k if k in "biuf" else "other"

    def working_dtype(self, x):
        """The compute dtype for ``x``: float32/float64 kept, anything else float64."""
        return x.dtype if x.dtype.kind == "f" and x.dtype.itemsize >= 4 else np.dtype(np.float64)

    def to_working_layout(self, x, dtype):
        """A fresh ``(L, N, m)`` C-contiguous copy of an ``(N, m, L)`` array in ``dtype``."""
        out = np.ascontiguousarray(np.moveaxis(x, 2, 0), dtype=dtype)
        return out.copy() if np.may_share_memory(out, x) else out

    def permute(self, x, axes):
        """``x`` with its axes reordered as ``axes`` (a view where the library allows)."""
        return np.transpose(x, axes)

    def convert(self, x, like, name, keep_dtype=False):
        """``x`` as an array of this library (``like``'s dtype unless ``keep_dtype``);
        a torch tensor is a ``TypeError`` naming ``name``."""
        if is_torch(x):
            raise TypeError(f"{name} is a torch tensor but the game holds numpy arrays; use the same library")
        return np.asarray(x) if keep_dtype else np.asarray(x, dtype=like.dtype)

    def cast(self, x, like):
        """``x`` converted to ``like``'s dtype."""
        return x.astype(like.dtype)

    def isfinite(self, x):
        """Elementwise finiteness (a boolean array of ``x``'s shape)."""
        return np.isfinite(x)

    def any(self, x, axis):
        """Logical or of a boolean array along ``axis``."""
        return x.any(axis=axis)

    def first_true(self, x) -> tuple:
        """Index of the first True entry, as a tuple of ints."""
        return tuple(int(v) for v in np.argwhere(x)[0])

    def is_two_valued(self, x, hi) -> bool:
        """True when every entry is 0 or ``hi`` (streamed in blocks of 2^20 entries: no
        full-size boolean temporaries; stops at the first block that fails)."""
        flat = x.reshape(-1)
        step = 1 << 20
        for a in range(0, flat.size, step):
            blk = flat[a : a + step]
            if np.count_nonzero(blk == hi) + np.count_nonzero(blk == 0) != blk.size:
                return False
        return True

    def host_float64(self, x):
        """``x`` as a float64 numpy array (no copy when it already is one)."""
        return np.asarray(x, dtype=np.float64)

    def is_host_float64(self, x) -> bool:
        """True when ``x`` is already a float64 array in host memory (no conversion needed)."""
        return x.dtype == np.float64

    @staticmethod
    def exp_shift_rows_(x, clamp):
        """In place on a 2-D ``x``: ``x <- exp(max(x - rowmax, clamp))``; returns the
        row maxima (shape ``(rows,)``).

        The step of a row-wise log-sum-exp / softmax: afterwards ``log(x.sum(1)) +
        rowmax`` is the row's log-sum-exp.  Arguments below ``clamp`` (a negative
        number) are raised to it before ``exp``, where ``exp`` underflows and is an
        order of magnitude slower; the clip pass is skipped when no entry lies below
        ``clamp``.  A row whose maximum is ``-inf`` gives ``nan`` entries.
        """
        mx = np.max(x, axis=1)
        x -= mx[:, None]
        if x.size and np.min(x) < clamp:
            np.maximum(x, clamp, out=x)
        np.exp(x, out=x)
        return mx


NumpyBackend.device.__doc__ = "The device of ``x`` (``\"cpu\"`` for numpy, a ``torch.device`` for tensors)."
NumpyBackend.dtype_name.__doc__ = "The dtype's name without the library prefix (``\"float32\"``)."
NumpyBackend.eps.__doc__ = "Machine epsilon of ``x``'s (floating) dtype."
