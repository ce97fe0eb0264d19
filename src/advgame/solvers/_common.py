"""Pieces shared by the first-order solvers: argument checks, data-parallel sums,
and the final status/warning logic."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..result import MAX_STEPS, OPTIMAL, STEPS_COMPLETED, TIME_LIMIT, SolverWarning

__all__ = ["check_positive_int", "check_positive_float", "SampleSum", "final_status"]


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def check_positive_float(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number; got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return v


class SampleSum:
    """Turns a rank's sums over its own samples into sums over all samples.

    Without ``distributed`` it is the identity.  With it, each rank's game holds a
    shard of the samples with weights normalized by the shard's total; multiplying by
    ``local_total / global_total`` and all-reducing gives the sum over all samples with
    weights normalized by the global total, so shards may be unequal.
    """

    def __init__(self, game, distributed: bool):
        self.distributed = bool(distributed)
        self.nx = game._nx
        self.scale = 1.0
        self.world_size = 1
        if not self.distributed:
            return
        try:
            import torch.distributed as dist
        except ImportError:  # pragma: no cover - torch missing
            raise ValueError("distributed=True needs torch.distributed (install torch)") from None
        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError(
                "distributed=True needs an initialized torch.distributed process group "
                "(call torch.distributed.init_process_group first)"
            )
        self.dist = dist
        self.world_size = dist.get_world_size()
        local = float(game._wsum)
        total = float(self._reduce_np(np.array([local], dtype=np.float64))[0])
        self.scale = local / total

    def _reduce_np(self, arr):
        import torch

        t = torch.from_numpy(np.array(arr, dtype=np.float64, copy=True))
        self.dist.all_reduce(t)
        return t.numpy()

    def __call__(self, vec):
        """Sum ``vec`` (a numpy array or torch tensor of local weighted sums) over ranks."""
        if not self.distributed:
            return vec
        if self.nx.name == "numpy":
            return self._reduce_np(np.asarray(vec, dtype=np.float64) * self.scale).astype(np.asarray(vec).dtype)
        out = vec * self.scale
        self.dist.all_reduce(out)
        return out


def final_status(method, tol, gap, timed_out, nit, steps):
    """Status and message after a first-order run, warning where the user must act."""
    if tol is not None and gap <= tol:
        return OPTIMAL, f"certified duality gap {gap:.3e} <= tol={tol:.1e} after {nit} steps"
    if timed_out:
        status, msg = TIME_LIMIT, f"time limit reached after {nit} steps with duality gap {gap:.3e}"
    elif tol is not None:
        status, msg = MAX_STEPS, (f"{steps} steps did not reach tol={tol:.1e}: certified duality gap "
                                  f"{gap:.3e}; raise steps (or alpha's accuracy) or loosen tol")
    else:
        return STEPS_COMPLETED, f"ran {nit} steps; certified duality gap {gap:.3e}"
    warnings.warn(f"solve(method={method!r}): {status}: {msg}", SolverWarning, stacklevel=4)
    return status, msg
