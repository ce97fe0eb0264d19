"""The one place that knows numpy from torch.

Every solver is written once against the small namespace below. ``get_backend(x)``
returns :class:`NumpyBackend` for numpy arrays and :class:`TorchBackend` for torch
tensors (any device, any floating dtype); the solvers call ``nx.<op>`` and never
``np.<op>`` or ``torch.<op>`` on the game's arrays, so results live on the input's
device and dtype.  The design follows POT's ``ot.backend`` (``nx = get_backend(x)``,
``type_as=``), reduced to the handful of operations the solvers need.

``import advgame`` never imports torch: :func:`is_torch` only looks into
``sys.modules``, so torch is touched only when the user already imported it and
passed a tensor.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["get_backend", "is_torch", "NumpyBackend", "TorchBackend"]


def is_torch(x: Any) -> bool:
    """True when ``x`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


class NumpyBackend:
    """Operations on numpy arrays."""

    name = "numpy"

    # --- construction -------------------------------------------------------
    def asarray(self, x, type_as=None):
        if type_as is None:
            return np.asarray(x)
        return np.asarray(x, dtype=type_as.dtype)

    def to_numpy(self, x):
        return np.asarray(x)

    def from_numpy(self, x, type_as=None):
        return self.asarray(x, type_as=type_as)

    def zeros(self, shape, type_as):
        return np.zeros(shape, dtype=type_as.dtype)

    def full(self, shape, value, type_as):
        return np.full(shape, value, dtype=type_as.dtype)

    def arange(self, n, like):
        return np.arange(n)

    def copy(self, x):
        return x.copy()

    def float64(self, x):
        return np.asarray(x, dtype=np.float64)

    # --- reductions and elementwise ----------------------------------------
    def max_argmax(self, s, axis):
        """Max and argmax along ``axis`` in one call."""
        idx = np.argmax(s, axis=axis)
        val = np.take_along_axis(s, np.expand_dims(idx, axis), axis=axis).squeeze(axis)
        return val, idx

    def max(self, s, axis=None):
        return np.max(s, axis=axis)

    def min(self, s, axis=None):
        return np.min(s, axis=axis)

    def argmin(self, s):
        return int(np.argmin(s))

    def sum(self, x, axis=None):
        return np.sum(x, axis=axis)

    def exp(self, x, out=None):
        return np.exp(x, out=out)

    def log(self, x):
        return np.log(x)

    def add(self, a, b, out=None):
        return np.add(a, b, out=out)

    def subtract(self, a, b, out=None):
        return np.subtract(a, b, out=out)

    def matmul(self, a, b, out=None):
        return np.matmul(a, b, out=out)

    def empty_like(self, x):
        return np.empty_like(x)

    def sqrt(self, x):
        return np.sqrt(x)

    def clip_min(self, x, lo):
        return np.maximum(x, lo)

    def clip_min_(self, x, lo):
        return np.maximum(x, lo, out=x)

    def where(self, c, a, b):
        return np.where(c, a, b)

    def sort_desc(self, x):
        return -np.sort(-x)

    def cumsum(self, x):
        return np.cumsum(x)

    def all_finite(self, x) -> bool:
        return bool(np.isfinite(x).all())

    def scalar(self, x) -> float:
        return float(x)

    # --- gathers / scatters -------------------------------------------------
    def gather_rows(self, F, jstar):
        """``F[:, i, jstar[i]]`` for every sample ``i``: shape (L, N)."""
        return F[:, np.arange(F.shape[1]), jstar]

    def add_at(self, flat, idx, value):
        """``flat[idx] += value`` for *distinct* indices ``idx``."""
        flat[idx] += value

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
        return np.transpose(x, axes)

    def convert(self, x, like, name, keep_dtype=False):
        """``x`` as an array of this library (``like``'s dtype unless ``keep_dtype``);
        a torch tensor is a ``TypeError`` naming ``name``."""
        if is_torch(x):
            raise TypeError(f"{name} is a torch tensor but the game holds numpy arrays; use the same library")
        return np.asarray(x) if keep_dtype else np.asarray(x, dtype=like.dtype)

    def cast(self, x, like):
        return x.astype(like.dtype)

    def isfinite(self, x):
        return np.isfinite(x)

    def any(self, x, axis):
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
        return x.dtype == np.float64


class TorchBackend:
    """Operations on torch tensors (any device, float32 or float64)."""

    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch

    def asarray(self, x, type_as=None):
        t = self.torch
        if type_as is None:
            return x if isinstance(x, t.Tensor) else t.as_tensor(x)
        return t.as_tensor(x, dtype=type_as.dtype, device=type_as.device)

    def to_numpy(self, x):
        return x.detach().cpu().numpy()

    def from_numpy(self, x, type_as=None):
        x = self.torch.from_numpy(np.ascontiguousarray(x))
        if type_as is not None:
            x = x.to(dtype=type_as.dtype, device=type_as.device)
        return x

    def zeros(self, shape, type_as):
        return self.torch.zeros(shape, dtype=type_as.dtype, device=type_as.device)

    def full(self, shape, value, type_as):
        return self.torch.full(shape, value, dtype=type_as.dtype, device=type_as.device)

    def arange(self, n, like):
        return self.torch.arange(n, device=like.device)

    def copy(self, x):
        return x.clone()

    def float64(self, x):
        return x.to(self.torch.float64)

    def max_argmax(self, s, axis):
        val, idx = self.torch.max(s, dim=axis)
        return val, idx

    def max(self, s, axis=None):
        if axis is None:
            return self.torch.max(s)
        return self.torch.amax(s, dim=axis)

    def min(self, s, axis=None):
        if axis is None:
            return self.torch.min(s)
        return self.torch.amin(s, dim=axis)

    def argmin(self, s):
        return int(self.torch.argmin(s))

    def sum(self, x, axis=None):
        if axis is None:
            return self.torch.sum(x)
        return self.torch.sum(x, dim=axis)

    def exp(self, x, out=None):
        return self.torch.exp(x, out=out) if out is not None else self.torch.exp(x)

    def log(self, x):
        return self.torch.log(x)

    def add(self, a, b, out=None):
        return self.torch.add(a, b, out=out) if out is not None else a + b

    def subtract(self, a, b, out=None):
        return self.torch.sub(a, b, out=out) if out is not None else a - b

    def matmul(self, a, b, out=None):
        if out is None:
            return a @ b
        if a.ndim == 1 and b.ndim == 2:  # vector @ matrix into a 1-D buffer
            return self.torch.mv(b.t(), a, out=out)
        return self.torch.matmul(a, b, out=out)

    def empty_like(self, x):
        return self.torch.empty_like(x)

    def sqrt(self, x):
        return self.torch.sqrt(x)

    def clip_min(self, x, lo):
        return self.torch.clamp(x, min=lo)

    def clip_min_(self, x, lo):
        return x.clamp_(min=lo)

    def where(self, c, a, b):
        return self.torch.where(c, a, b)

    def sort_desc(self, x):
        return self.torch.sort(x, descending=True).values

    def cumsum(self, x):
        return self.torch.cumsum(x, dim=0)

    def all_finite(self, x) -> bool:
        return bool(self.torch.isfinite(x).all())

    def scalar(self, x) -> float:
        return float(x)

    def gather_rows(self, F, jstar):
        return F[:, self.torch.arange(F.shape[1], device=F.device), jstar]

    def add_at(self, flat, idx, value):
        flat[idx] += value

    def device(self, x):
        return x.device

    def dtype_name(self, x) -> str:
        return str(x.dtype).replace("torch.", "")

    def eps(self, x) -> float:
        return float(self.torch.finfo(x.dtype).eps)

    # --- operations used by Game
    def has_data(self, x) -> bool:
        """False for ``meta`` tensors, which hold no data."""
        return x.device.type != "meta"

    def dtype_kind(self, x) -> str:
        """``"b"`` bool, ``"i"``/``"u"`` integers, ``"f"`` real floating, else ``"other"``."""
        t = self.torch
        if x.dtype == t.bool:
            return "b"
        if x.is_complex() or x.dtype in (t.uint16, t.uint32, t.uint64):
            return "other"
        if x.is_floating_point():
            return "f"
        return "u" if x.dtype == t.uint8 else "i"

    def working_dtype(self, x):
        """The compute dtype for ``x``: float32/float64 kept, anything else torch's default."""
        t = self.torch
        return x.dtype if x.dtype in (t.float32, t.float64) else t.get_default_dtype()

    def to_working_layout(self, x, dtype):
        """A fresh ``(L, N, m)`` contiguous copy of an ``(N, m, L)`` tensor in ``dtype``
        (detached; never the caller's storage)."""
        x = x.detach()
        out = x.permute(2, 0, 1).to(dtype=dtype).contiguous()
        return out.clone() if out.data_ptr() == x.data_ptr() else out

    def permute(self, x, axes):
        return x.permute(*axes)

    def convert(self, x, like, name, keep_dtype=False):
        """``x`` as a tensor on ``like``'s device (``like``'s dtype unless ``keep_dtype``)."""
        t = self.torch
        if not isinstance(x, t.Tensor):
            x = t.as_tensor(np.asarray(x) if keep_dtype else np.asarray(x, dtype=np.float64))
        x = x.detach().to(device=like.device)
        return x if keep_dtype else x.to(dtype=like.dtype)

    def cast(self, x, like):
        return x.to(like.dtype)

    def isfinite(self, x):
        return self.torch.isfinite(x)

    def any(self, x, axis):
        return x.any(dim=axis)

    def first_true(self, x) -> tuple:
        """Index of the first True entry, as a tuple of ints."""
        return tuple(int(v) for v in x.nonzero()[0])

    def is_two_valued(self, x, hi) -> bool:
        """True when every entry is 0 or ``hi``."""
        return bool(((x == 0) | (x == hi)).all())

    def host_float64(self, x):
        """``x`` as a float64 numpy array on the host."""
        return x.detach().to("cpu", self.torch.float64).numpy()

    def is_host_float64(self, x) -> bool:
        return x.dtype == self.torch.float64 and x.device.type == "cpu"


_NUMPY = NumpyBackend()
_TORCH: TorchBackend | None = None


def get_backend(*arrays):
    """Backend of the given arrays (all must come from the same library).

    Raises
    ------
    TypeError
        If numpy arrays and torch tensors are mixed.
    """
    global _TORCH
    kinds = {is_torch(a) for a in arrays if a is not None}
    if len(kinds) > 1:
        raise TypeError(
            "arrays mix numpy and torch; pass all of them from the same library"
        )
    if kinds == {True}:
        if _TORCH is None:
            _TORCH = TorchBackend()
        return _TORCH
    return _NUMPY
