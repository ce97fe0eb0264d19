"""The torch backend (any device, float32 or float64); torch is imported when the
first :class:`TorchBackend` is made, i.e. when a tensor is first passed."""

from __future__ import annotations

import numpy as np

from .numpy_backend import NumpyBackend
from .projection import proj_shifted, proj_sorted, rho_host

__all__ = ["TorchBackend"]


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
        x = proj_sorted(self, v, rho_host)
        if abs(float(x.sum()) - 1.0) <= 4 * v.shape[0] * self.eps(x):
            return x
        return proj_shifted(self, v, rho_host)

    def _proj_device(self, v):
        # both candidates are computed and one is selected on the device: no host sync
        x = proj_sorted(self, v, self._rho_device)
        y = proj_shifted(self, v, self._rho_device)
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

    def exp_shift_rows_(self, x, clamp):
        cpu = x.device.type == "cpu"
        if cpu and not x.requires_grad and self.torch.get_num_threads() == 1:
            # numpy's vectorized exp is about twice as fast as torch's on one CPU thread
            # (float32 and float64); the array shares the tensor's memory
            return self.torch.from_numpy(NumpyBackend.exp_shift_rows_(x.numpy(), clamp))
        mx = self.torch.amax(x, dim=1)
        x -= mx[:, None]
        # (on an accelerator the test would synchronize: clip unconditionally there)
        if not cpu or (x.numel() and float(x.min()) < clamp):
            x.clamp_(min=clamp)
        x.exp_()
        return mx


for _name, _fn in vars(TorchBackend).items():
    if callable(_fn) and not _name.startswith("_") and _fn.__doc__ is None and hasattr(NumpyBackend, _name):
        _fn.__doc__ = getattr(NumpyBackend, _name).__doc__
