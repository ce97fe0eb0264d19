"""One adaptive-PGD step on an L-member mixture versus L separate single-model steps.

Three ways to take the same kind of step (Linf, cross-entropy, sign of the gradient,
projection onto the ball and the box), timed in one run:

* ``separate``: L single-model steps, one per member (what attacking each member on
  its own costs -- the "L separate single-model steps" of the issue);
* ``mixture/loop``: one step on the mixture's exact expected logits, the members
  evaluated by a Python loop (``Mixture(..., vectorize=False)``);
* ``mixture/vmap``: the same step with the members' parameters stacked
  (``torch.func.stack_module_state``) and one ``vmap``-ed call
  (``Mixture(..., vectorize=True)``).

Usage::

    python benchmarks/bench_torch_attacks.py --threads 1
    python benchmarks/bench_torch_attacks.py --device cuda --batch 256 --members 2 4 8 16

Prints a table of median milliseconds per step (and the vmap speed-up over the loop).
"""

from __future__ import annotations

import argparse
import platform

import torch

from _timing import median_times
from advgame.torch import Mixture
from advgame.torch.attacks import mixture_objective
from advgame.torch.attacks._base import ascent_direction, project
from advgame.torch.models import SmallCNN, SmallMLP


def _time(fns, device, warmup, repeats):
    """Median milliseconds of each function, timed round-robin (``_timing.median_times``)."""
    return [t * 1e3 for t in median_times(fns, repeat=repeats, warmup=warmup, device=device)]


def pgd_step(mix, x_adv, x, y, eps, alpha):
    """One Linf PGD step on the mixture's expected logits (what PGD._run does per step)."""
    x_adv = x_adv.detach().requires_grad_(True)
    z = mix.member_logits(x_adv, param_grad=False)
    obj = mixture_objective(z, mix.weights, y, "ce", "logits")
    (g,) = torch.autograd.grad(obj.sum(), x_adv)
    with torch.no_grad():
        return (x + project(x_adv + alpha * ascent_direction(g, "linf") - x, eps, "linf")).clamp(0, 1)


def make_models(arch, L, device):
    torch.manual_seed(0)
    if arch == "cnn":
        models = [SmallCNN(3, 10, width=32) for _ in range(L)]
    else:
        models = [SmallMLP(3 * 32 * 32, 10, hidden=256) for _ in range(L)]
    return [m.to(device).eval() for m in models]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--members", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--archs", nargs="+", default=["cnn", "mlp"], choices=["cnn", "mlp"])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    eps, alpha = 8 / 255, 2 / 255
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.rand((args.batch, 3, 32, 32), generator=g, device=device)
    y = torch.randint(0, 10, (args.batch,), generator=g, device=device)

    print(
        f"# torch {torch.__version__}, device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f" ({platform.processor() or platform.machine()})")
        + f", threads {torch.get_num_threads()}, batch {args.batch}, input 3x32x32, 10 classes"
    )
    print(f"{'arch':<5}{'L':>4}{'separate [ms]':>15}{'mixture/loop [ms]':>19}{'mixture/vmap [ms]':>19}{'vmap vs loop':>14}")
    rows = []
    for arch in args.archs:
        for L in args.members:
            models = make_models(arch, L, device)
            singles = [Mixture([m], vectorize=False) for m in models]
            loop = Mixture(models, vectorize=False)
            vmap = Mixture(models, vectorize=True)
            x0 = x.clone()

            def separate():
                for s in singles:
                    pgd_step(s, x0, x, y, eps, alpha)

            t_sep, t_loop, t_vmap = _time(
                [
                    separate,
                    lambda: pgd_step(loop, x0, x, y, eps, alpha),
                    lambda: pgd_step(vmap, x0, x, y, eps, alpha),
                ],
                device,
                args.warmup,
                args.repeats,
            )
            rows.append((arch, L, t_sep, t_loop, t_vmap))
            print(f"{arch:<5}{L:>4}{t_sep:>15.2f}{t_loop:>19.2f}{t_vmap:>19.2f}{t_loop / t_vmap:>13.2f}x", flush=True)
    return rows


if __name__ == "__main__":
    main()
