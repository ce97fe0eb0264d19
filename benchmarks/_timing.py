"""The one timing helper of the benchmarks.

Benchmarks report ratios against a baseline measured in the same run (the machine is a
shared, noisy VM), so every script times both sides the same way: warm-up calls, then
the median of ``repeat`` timed calls, with the device synchronized around each call when
torch runs on an accelerator.  Several functions are timed round-robin (interleaved), so
that a change of machine load hits every variant alike.

Scripts in this folder import it as ``from _timing import median_time, median_times``
(``python benchmarks/bench_x.py`` puts the folder on ``sys.path``).
"""

from __future__ import annotations

import statistics
import time

__all__ = ["median_time", "median_times", "sync", "CLOCKS"]

#: ``"wall"``: ``time.perf_counter``; ``"cpu"``: this process's CPU time
#: (``time.process_time``), steadier on a machine shared with other work.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def sync(device=None) -> None:
    """Wait for queued work on ``device`` (a no-op on the CPU and without torch)."""
    if device is None:
        return
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_times(fns, repeat: int = 7, warmup: int = 1, device=None, clock: str = "wall") -> list:
    """Median seconds of each function of ``fns``, timed round-robin after ``warmup`` calls each."""
    if repeat < 1 or warmup < 0:
        raise ValueError(f"repeat must be >= 1 and warmup >= 0; got {repeat}, {warmup}")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {tuple(CLOCKS)}; got {clock!r}")
    now = CLOCKS[clock]
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            sync(device)
            t = now()
            fn()
            sync(device)
            times[i].append(now() - t)
    return [statistics.median(t) for t in times]


def median_time(fn, repeat: int = 7, warmup: int = 1, device=None, clock: str = "wall") -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls after ``warmup`` calls."""
    return median_times([fn], repeat=repeat, warmup=warmup, device=device, clock=clock)[0]
