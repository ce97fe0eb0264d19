"""The exact solver's torch device path on the CPU against the host path (issue 21, item 6).

On benchmarks' MNE21-like instance (:func:`bench_scale.build_losses`: L = 10 linear
classifiers, m = 1000 attacks, float32, 0/1 or sigmoid losses) stored as a torch CPU
game, one run times, alternated (``_timing.median_times``, medians):

* ``pass``: one ``game.risk(weights)`` on the torch game (a float32 matrix-vector product);
* ``host``: ``advgame.solve(game, method="lp")`` through today's host path (the game's
  zero-copy numpy view, the compiled kernels of ``advgame._kernels`` where they run),
  ``ADVGAME_LP_DEVICE=0``;
* ``device``: the same solve through :mod:`advgame.solvers.lp.device` (the 0/1 scan,
  float64 certificate and best-response passes in torch ops), ``ADVGAME_LP_DEVICE=1``;

and prints each as a multiple of one pass, ``device / host``, and checks that both give
the same weights (max difference), value and status.  ``--threads`` sets torch's threads
(default: torch's own); on a CPU shared with other work torch's parallel regions wait for
descheduled threads, so the device path's many small operations are sensitive to it.

Run: ``python benchmarks/bench_lp_device.py`` (N = 10^3 and 10^4, both losses; about a
minute) or ``--sizes 1000 --losses 01``.  ``--json FILE`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402
from bench_scale import build_losses  # noqa: E402


def _solve(game, path):
    import advgame

    old = os.environ.get("ADVGAME_LP_DEVICE")
    os.environ["ADVGAME_LP_DEVICE"] = path
    try:
        return advgame.solve(game, method="lp")
    finally:
        if old is None:
            del os.environ["ADVGAME_LP_DEVICE"]
        else:
            os.environ["ADVGAME_LP_DEVICE"] = old


def run_case(n, loss, repeat, threads=None):
    import torch

    import advgame

    F = build_losses(n, loss)
    game = advgame.Game(torch.from_numpy(np.ascontiguousarray(np.moveaxis(F, 0, 2))), bound=1.0)
    del F
    lam = torch.full((game.n_classifiers,), 1.0 / game.n_classifiers, dtype=game.dtype)
    advgame.solve(advgame.examples.random_game(seed=0))  # imports (HiGHS) outside the timings
    box = {}

    def pin():  # numba's OpenMP layer (the host path's compiled kernels) resets the shared thread count
        if threads is not None:
            torch.set_num_threads(threads)

    def host():
        pin()
        box["host"] = _solve(game, "0")

    def device():
        pin()
        box["device"] = _solve(game, "1")

    def one_pass():
        pin()
        game.risk(lam)

    one_pass, t_host, t_dev = _timing.median_times([one_pass, host, device], repeat=repeat, warmup=1)
    rh, rd = box["host"], box["device"]
    return dict(N=n, loss=loss, threads=threads or torch.get_num_threads(), pass_ms=one_pass * 1e3, host_s=t_host,
                device_s=t_dev, host_x=t_host / one_pass, device_x=t_dev / one_pass, device_over_host=t_dev / t_host,
                strategy=rd.info.get("strategy"), device=rd.info.get("device"), status=(rh.status, rd.status),
                weights_diff=float((rh.weights - rd.weights).abs().max()), value_diff=abs(rh.value - rd.value),
                gap=(rh.gap, rd.gap), load=os.getloadavg()[0])


def fmt(rows):
    lines = ["| game | N | threads | one pass | host solve | device solve | host x pass | device x pass | "
             "device / host | strategy | max weight diff | status host / device | load |", "|---" * 13 + "|"]
    for r in rows:
        lines.append(f"| {'0/1' if r['loss'] == '01' else 'sigmoid'} | {r['N']:.0e} | {r['threads']} | "
                     f"{r['pass_ms']:.1f} ms | {r['host_s']:.3f} s | {r['device_s']:.3f} s | {r['host_x']:.1f} | "
                     f"{r['device_x']:.1f} | {r['device_over_host']:.2f} | {r['strategy']} | "
                     f"{r['weights_diff']:.1e} | {r['status'][0]} / {r['status'][1]} | {r['load']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    p.add_argument("--losses", nargs="*", default=["01", "sigmoid"], choices=["01", "sigmoid"])
    p.add_argument("--repeat", type=int, default=3, help="alternated rounds (medians)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads before each timed call (default: torch's)")
    p.add_argument("--json", help="write the rows to this file")
    a = p.parse_args(argv)
    rows = []
    for loss in a.losses:
        for n in a.sizes:
            rows.append(run_case(n, loss, a.repeat, a.threads))
            print(fmt(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(fmt(rows))
    if a.json:
        from advgame._io import atomic_path

        with atomic_path(a.json) as tmp:
            with open(tmp, "w") as f:
                json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
