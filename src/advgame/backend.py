r"""The one place that knows numpy from torch: the backend contract.

Every solver is written once against the small namespace below. ``get_backend(x)``
returns :class:`NumpyBackend` for numpy arrays and :class:`TorchBackend` for torch
tensors (any device, any floating dtype); the solvers call ``nx.<op>`` and never
``np.<op>`` or ``torch.<op>`` on the game's arrays, so results live on the input's
device and dtype.  The design follows POT's ``ot.backend`` (``nx = get_backend(x)``,
``type_as=``), reduced to the operations the solvers and :class:`advgame.Game` need.
No caller branches on the library's name: an operation that differs between the two
libraries belongs here, once, with its contract written below.

The contract
------------
Arguments called ``x``, ``a``, ``b``, ``s``, ``v`` are arrays of the backend's library
(numpy ``ndarray`` / torch ``Tensor``); ``type_as`` / ``like`` is such an array whose
dtype and device the result takes.  Unless stated, an operation returns a new array of
the input's dtype and device and never synchronizes a GPU with the host; the few that
return Python numbers (:meth:`scalar`, :meth:`argmin`, :meth:`all_finite`) do, and are
meant for entry checks and for once-per-iteration scalars.

=================  =========================================================
construction       ``asarray``, ``to_numpy``, ``from_numpy``, ``zeros``,
                   ``full``, ``arange``, ``copy``, ``empty_like``
dtypes             ``float64``, ``astype``, ``is_floating``, ``eps``,
                   ``dtype_max``, ``dtype_name``, ``device``
reductions         ``max_argmax``, ``max``, ``min``, ``argmin``, ``sum``,
                   ``cumsum``, ``sort_desc``, ``all_finite``, ``scalar``
elementwise        ``exp``, ``log``, ``sqrt``, ``add``, ``subtract``,
                   ``matmul``, ``clip_min``, ``clip_min_``, ``where``
assembly           ``stack``, ``concatenate``
gathers/scatters   ``gather_rows``, ``add_at``
algorithms         ``proj_simplex`` (unchecked Euclidean projection onto the
                   probability simplex), ``all_reduce`` (sum over
                   ``torch.distributed`` ranks)
=================  =========================================================

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


def _proj_sorted(nx, v, rho_of):
    """Sort-based projection (Duchi et al. 2008, Fig. 1) of a finite vector ``v``.

    ``rho_of(cond)`` returns the number of leading ``True`` in ``cond`` (at least 1) in
    the form the backend indexes with: a Python int (numpy) or a 1-element tensor (torch,
    no host synchronization).
    """
    u = nx.sort_desc(v)
    css = nx.cumsum(u) - 1.0
    ind = nx.arange(v.shape[0], like=v) + 1
    rho = rho_of((u - css / ind) > 0)
    tau = css[rho - 1] / rho
    return nx.clip_min(v - tau, 0.0)


def _proj_shifted(nx, v, rho_of):
    """The projection of ``v`` computed on ``max(v - max(v), -1)``, which has the same
    projection (coordinates more than 1 below the maximum get weight 0), lies in
    ``[-1, 0]`` and so neither overflows nor loses the small coordinates to rounding;
    ``v / 2 - max / 2`` cannot overflow for finite ``v``.  Renormalized onto the simplex.
    """
    mx = nx.max(v)
    d = nx.clip_min(v * 0.5 - mx * 0.5, -0.5) * 2.0
    x = _proj_sorted(nx, d, rho_of)
    return x / nx.sum(x)


def _rho_host(cond):
    return max(int(cond.sum()), 1)


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
            x = _proj_sorted(self, v, _rho_host)
        if abs(float(x.sum()) - 1.0) <= 4 * x.shape[0] * self.eps(x):
            return x
        return _proj_shifted(self, v, _rho_host)

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
    """Operations on torch tensors (any device, float32 or float64); the contract of
    every operation is the docstring of the same method of :class:`NumpyBackend`."""

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

    def empty_like(self, x):
        return self.torch.empty_like(x)

    def float64(self, x):
        return x.to(self.torch.float64)

    def astype(self, x, type_as):
        return x.to(dtype=type_as.dtype, device=type_as.device)

    def is_floating(self, x) -> bool:
        return bool(x.is_floating_point())

    def dtype_max(self, x) -> float:
        return float(self.torch.finfo(x.dtype).max)

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

    def stack(self, xs):
        return self.torch.stack([x.reshape(()) for x in xs])

    def concatenate(self, xs):
        return self.torch.cat(list(xs))

    def gather_rows(self, F, jstar):
        return F[:, self.torch.arange(F.shape[1], device=F.device), jstar]

    def add_at(self, flat, idx, value):
        flat[idx] += value

    def proj_simplex(self, v):
        if v.device.type == "cpu":  # host memory: a Python-level branch costs no sync
            return self._proj_host(v)
        return self._proj_device(v)

    def _proj_host(self, v):
        x = _proj_sorted(self, v, _rho_host)
        if abs(float(x.sum()) - 1.0) <= 4 * v.shape[0] * self.eps(x):
            return x
        return _proj_shifted(self, v, _rho_host)

    def _proj_device(self, v):
        # both candidates are computed and one is selected on the device: no host sync
        x = _proj_sorted(self, v, self._rho_device)
        y = _proj_shifted(self, v, self._rho_device)
        ok = self.torch.abs(x.sum() - 1.0) <= 4 * v.shape[0] * self.eps(x)
        return self.torch.where(ok, x, y)

    @staticmethod
    def _rho_device(cond):
        # a 1-element index tensor: indexing with it stays on the device
        return cond.sum().clamp_(min=1).reshape(1)

    def all_reduce(self, x, scale=1.0):
        import torch.distributed as dist

        out = x * scale
        dist.all_reduce(out)
        return out

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


NumpyBackend.device.__doc__ = "The device of ``x`` (``\"cpu\"`` for numpy, a ``torch.device`` for tensors)."
NumpyBackend.dtype_name.__doc__ = "The dtype's name without the library prefix (``\"float32\"``)."
NumpyBackend.eps.__doc__ = "Machine epsilon of ``x``'s (floating) dtype."
for _name, _fn in vars(TorchBackend).items():
    if callable(_fn) and not _name.startswith("_") and _fn.__doc__ is None and hasattr(NumpyBackend, _name):
        _fn.__doc__ = getattr(NumpyBackend, _name).__doc__


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
