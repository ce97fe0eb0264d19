"""The one timing helper of the benchmarks.

Benchmarks report ratios against a baseline measured in the same run (the machine is a
shared, noisy VM), so every script times both sides the same way: a few warm-up calls,
then the median of ``repeat`` timed calls, with the device synchronized around each call
when torch runs on an accelerator.
"""

from __future__ import annotations

import statistics
import time

__all__ = ["median_time", "sync"]


def sync(device=None) -> None:
    """Wait for queued work on ``device`` (a no-op on the CPU and without torch)."""
    if device is None:
        return
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn, repeat: int = 7, warmup: int = 1, device=None, return_last: bool = False):
    """Median wall-clock seconds of ``fn()`` over ``repeat`` calls after ``warmup`` calls.

    With ``return_last=True`` returns ``(seconds, last return value of fn)``.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f"repeat must be >= 1 and warmup >= 0; got {repeat}, {warmup}")
    out = None
    for _ in range(warmup):
        out = fn()
    sync(device)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return (med, out) if return_last else med
