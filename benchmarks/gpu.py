"""Device benchmark of deep-mixture training (issue 18, item 5), one script, one run.

On synthetic CIFAR-shaped data (random 3x32x32 images, nothing to download) and
ResNet-18, for each precision (fp32, bf16) and without / with ``torch.compile``:

* ``standard``: one SGD step of cross-entropy training;
* ``at``: one step of PGD-``steps`` adversarial training of one member (the attack,
  then the SGD step: :func:`~advgame.torch.training.algorithms.adversarial_batch` and
  :func:`~advgame.torch.training.algorithms.member_step`, what the Trainer runs);
* ``alg2-L2``, ``alg2-L3``: one member step of MNE21 Alg. 2 with L members (adaptive
  PGD against the L-member mixture, one SGD step of one member), and the ratio
  ``alg2 / (L x at)`` (target <= 1.1);

each as images per second and the time of an epoch of ``--n-train`` examples, and the
model FLOP utilization (FLOPs of one step counted by ``torch.utils.flop_counter``,
divided by the step's time and the device's peak: bf16 dense tensor-core peak for
bf16, TF32 for fp32, where cuDNN's convolutions run by default; ``--peak-tflops``
for a device the table does not know; none on a CPU).  Then, in fp32 eager mode:

* ``attack``: PGD-``steps`` throughput of advgame's PGD against torchattacks' PGD on
  the same member (when torchattacks is installed);
* ``members-together``: the PGD attack on an L = 3 mixture with the members looped
  against one ``torch.func.vmap`` call (``Mixture(vectorize=False/True)``);
* ``solvers``: the time of one iteration of the entropic and oracle solvers on an
  ``N x m x L`` float32 game (10^5 x 10^3 x 10, 4 GB) as a fraction of one pass over
  the tensor (a measured ``sum`` and the device's nominal memory bandwidth);
* ``lp``: the exact solver on the MNE21-like game of ``benchmarks/bench_scale.py``
  (``--lp-n`` samples, m = 1000, L = 10, 0/1 and sigmoid losses, stored on the device):
  its device path (issue 21 item 6: 0/1 scan, float64 certificate and best-response
  passes in torch ops on the device) against the host path (the tensor copied to the
  host), each as a multiple of one device pass, with the 0/1 scan and the float64 pass
  alone.

Compiled cases come last and are skipped (and said so) once ``--budget-s`` is spent, so
the whole script stays under 8 minutes on one GPU.  Writes ``--json`` and a Markdown
table (``--table``; printed too).

Run on a GPU: ``python benchmarks/gpu.py`` (``--device cuda`` is the default when CUDA
is up); on a CPU: ``python benchmarks/gpu.py --quick`` (a small CNN, batch 8, a small
game, compile with the ``eager`` backend: a smoke run of every code path, seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

#: dense peak TFLOP/s (bf16 tensor cores, TF32 tensor cores) and memory bandwidth (GB/s), by device name
DEVICES = {
    "H200": (989.0, 494.0, 4800.0),
    "H100 SXM": (989.0, 494.0, 3350.0),
    "H100 PCIe": (756.0, 378.0, 2000.0),
    "H100": (989.0, 494.0, 3350.0),
    "A100-SXM4-80GB": (312.0, 156.0, 2039.0),
    "A100": (312.0, 156.0, 1555.0),
    "L40S": (362.0, 183.0, 864.0),
    "A10G": (70.0, 35.0, 600.0),
    "V100": (125.0, 15.7, 900.0),
}


def device_peaks(device, peak_tflops=None, bandwidth_gbs=None):
    """``{"bf16": FLOP/s, "fp32": FLOP/s, "bandwidth": B/s, "name": str}`` of ``device``
    (None where unknown; the arguments override the table)."""
    name = platform.processor() or platform.machine()
    bf16 = tf32 = bw = None
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, (b, t, m) in DEVICES.items():
            if key.lower() in name.lower():
                bf16, tf32, bw = b * 1e12, t * 1e12, m * 1e9
                break
    if peak_tflops is not None:
        bf16 = tf32 = peak_tflops * 1e12
    if bandwidth_gbs is not None:
        bw = bandwidth_gbs * 1e9
    return {"name": name, "bf16": bf16, "fp32": tf32, "bandwidth": bw}


def count_flops(fn):
    """FLOPs of one call of ``fn`` (``torch.utils.flop_counter``)."""
    from torch.utils.flop_counter import FlopCounterMode

    mode = FlopCounterMode(display=False)
    with mode:
        fn()
    return int(mode.get_total_flops())


def step_flops(model, x, y, steps, models):
    """FLOPs of each case, composed of counted pieces: a forward ``F`` (no grad), a
    forward and backward to the input ``G`` (an attack iteration of one member, the
    parameters frozen) and an SGD step ``T`` (forward and backward in train mode).
    PGD against L members costs ``L (steps G + 2 F)`` (its iterations, the clean and
    the last point's forward); AT is that with L = 1 plus ``T``.  (The flop counter
    cannot run inside the attack's ``torch.autograd.grad``, hence the composition.)"""
    import torch.nn.functional as F_

    def forward():
        with torch.no_grad():
            model(x)

    def input_grad():
        xr = x.detach().clone().requires_grad_(True)
        F_.cross_entropy(model(xr), y).backward()

    def train():
        model.train()
        try:
            F_.cross_entropy(model(x), y).backward()
        finally:
            model.eval()
            model.zero_grad(set_to_none=True)

    f = count_flops(forward)
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        g = count_flops(input_grad)
    finally:
        for p, r in zip(model.parameters(), flags):
            p.requires_grad_(r)
    t = count_flops(train)
    out = {"standard": t, "at": steps * g + 2 * f + t}
    for L in models:
        out[f"alg2-L{L}"] = L * (steps * g + 2 * f) + t
    return out


class Budget:
    def __init__(self, seconds):
        self.end = time.perf_counter() + seconds

    def left(self):
        return self.end - time.perf_counter()


def training_cases(args, device, precision, compiled, peaks, flops_cache):
    """Rows of the standard / AT / Alg. 2 cases at one precision and compile setting."""
    from advgame.torch import Mixture
    from advgame.torch.models import build_model
    from advgame.torch.training import TrainConfig
    from advgame.torch.training.algorithms import adversarial_batch, member_step, natural_step
    from advgame.torch.training.precision import autocast, grad_scaler, prepare_member

    B, Lmax = args.batch_size, max(args.models)
    cfg = TrainConfig(algo="mixture", dataset="cifar10", models=Lmax, arch=args.arch, attack_steps=args.steps)
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(B, 3, 32, 32, generator=gen, device=device)
    y = torch.randint(0, 10, (B,), generator=gen, device=device)
    channels_last = device.type == "cuda"
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    members = []
    for k in range(Lmax):
        m = build_model(args.arch, 10, (3, 32, 32), seed=k).to(device).eval()
        members.append(prepare_member(m, precision=precision, channels_last=channels_last, compile=compiled,
                                      compile_backend=args.compile_backend))
    opts = [torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9) for m in members]
    scaler = grad_scaler(precision, device)
    vec = False if compiled else "auto"

    def standard():
        with autocast(precision, device):
            natural_step(members[0], members[0], opts[0], x, y, scaler=scaler)

    single = Mixture([members[0]], vectorize=vec)

    def at():
        with autocast(precision, device):
            x_adv = adversarial_batch(cfg, single, x, y, gen)
            member_step(members[0], members[0], opts[0], x_adv, y, scaler=scaler)

    fns = {"standard": standard, "at": at}
    for L in args.models:
        mix = Mixture(members[:L], vectorize=vec)

        def alg2(mix=mix):
            with autocast(precision, device):
                x_adv = adversarial_batch(cfg, mix, x, y, gen)
                member_step(members[0], members[0], opts[0], x_adv, y, scaler=scaler)

        fns[f"alg2-L{L}"] = alg2
    names = list(fns)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for fn in fns.values():  # warm-up (compilation, cuDNN autotuning, the vmap/loop choice)
        fn()
        fn()
    warm_s = time.perf_counter() - t0
    times = _timing.median_times(list(fns.values()), repeat=args.repeats, warmup=0, device=device)
    rows = []
    n_batches = math.ceil(args.n_train / B)
    peak = peaks["bf16" if precision == "bf16" else "fp32"]
    if not compiled and not flops_cache:  # FLOPs do not depend on precision or compilation: count once
        flops_cache.update(step_flops(members[0], x, y, args.steps, args.models))
    for name, t in zip(names, times):
        flops = flops_cache.get(name)
        rows.append({
            "case": name, "precision": precision, "compile": compiled, "batch": B, "step_s": t,
            "images_per_s": B / t, "epoch_s": n_batches * t,
            "tflops_per_s": None if flops is None else flops / t / 1e12,
            "mfu": None if flops is None or peak is None else flops / t / peak,
            "warmup_s": warm_s,
        })
    peak_gb = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    for row in rows:
        row["peak_memory_gib"] = peak_gb  # of the case group (the L = max(models) members and their attacks)
    at_t = times[names.index("at")]
    for L in args.models:
        row = rows[names.index(f"alg2-L{L}")]
        row["alg2_over_L_at"] = row["step_s"] / (L * at_t)
    return rows


def attack_cases(args, device):
    """advgame's PGD against torchattacks' PGD, and members looped against vmapped."""
    from advgame.torch import Mixture
    from advgame.torch.attacks import PGD
    from advgame.torch.models import build_model

    B = args.batch_size
    gen = torch.Generator(device=device).manual_seed(1)
    x = torch.rand(B, 3, 32, 32, generator=gen, device=device)
    y = torch.randint(0, 10, (B,), generator=gen, device=device)
    members = [build_model(args.arch, 10, (3, 32, 32), seed=k).to(device).eval() for k in range(3)]
    eps, alpha = 8 / 255, 2 / 255
    ours = PGD(Mixture([members[0]]), eps=eps, alpha=alpha, steps=args.steps, restarts=1, seed=0)
    fns, names = [lambda: ours(x, y)], ["advgame PGD"]
    try:
        import torchattacks

        theirs = torchattacks.PGD(members[0], eps=eps, alpha=alpha, steps=args.steps, random_start=True)
        fns.append(lambda: theirs(x, y))
        names.append("torchattacks PGD")
    except ImportError:
        pass
    loop = PGD(Mixture(members, vectorize=False), eps=eps, alpha=alpha, steps=args.steps, restarts=1, seed=0)
    vm = PGD(Mixture(members, vectorize=True), eps=eps, alpha=alpha, steps=args.steps, restarts=1, seed=0)
    fns += [lambda: loop(x, y), lambda: vm(x, y)]
    names += ["PGD L=3 looped", "PGD L=3 vmap"]
    times = _timing.median_times(fns, repeat=args.repeats, warmup=1, device=device)
    out = {n: {"step_s": t, "images_per_s": B / t} for n, t in zip(names, times)}
    if "torchattacks PGD" in out:
        out["advgame_over_torchattacks_throughput"] = (out["advgame PGD"]["images_per_s"]
                                                       / out["torchattacks PGD"]["images_per_s"])
    out["vmap_speedup_L3"] = out["PGD L=3 looped"]["step_s"] / out["PGD L=3 vmap"]["step_s"]
    return out


def solver_cases(args, device, peaks):
    """Seconds per iteration of the entropic and oracle solvers against one pass over the game."""
    import advgame
    from advgame import Game

    N, m, L = args.game
    gen = torch.Generator(device=device).manual_seed(2)
    losses = torch.rand(N, m, L, generator=gen, device=device, dtype=torch.float32)
    nbytes = losses.numel() * losses.element_size()
    game = Game(losses)
    pass_s = _timing.median_time(lambda: losses.sum(), repeat=max(3, args.repeats), warmup=1, device=device)
    out = {"shape": [N, m, L], "bytes": nbytes, "pass_s": pass_s,
           "nominal_pass_s": None if peaks["bandwidth"] is None else nbytes / peaks["bandwidth"]}
    k1, k2 = args.solver_iters
    for method in ("entropic", "oracle"):
        def run(k, method=method):
            return advgame.solve(game, method=method, max_iter=k)

        t1, t2 = _timing.median_times([lambda: run(k1), lambda: run(k2)], repeat=max(3, args.repeats), warmup=1,
                                      device=device)
        it = max(t2 - t1, 1e-12) / (k2 - k1)  # per iteration, the set-up cost cancelled
        out[method] = {"iteration_s": it, "pass_fraction": pass_s / it,
                       "bandwidth_fraction": None if out["nominal_pass_s"] is None else out["nominal_pass_s"] / it}
    return out


def lp_cases(args, device):
    """The exact solver (``method="lp"``) on a game stored on ``device``: its device path
    (:mod:`advgame.solvers.lp.device`, the default for a CUDA game) against the host path
    (``ADVGAME_LP_DEVICE=0``: the tensor copied to the host, today's numpy/compiled path),
    each as a multiple of one device pass (``game.risk``); for 0/1 losses also the device
    0/1 scan and float64 certificate pass alone.  MNE21-like instance of
    ``benchmarks/bench_scale.py`` (m = 1000 attacks, L = 10, float32), ``--lp-n`` samples."""
    import numpy as np

    import advgame
    from advgame.solvers.lp.device import DeviceView
    from bench_scale import build_losses

    def solve(game, path):
        old = os.environ.get("ADVGAME_LP_DEVICE")
        os.environ["ADVGAME_LP_DEVICE"] = path
        try:
            return advgame.solve(game, method="lp")
        finally:
            if old is None:
                del os.environ["ADVGAME_LP_DEVICE"]
            else:
                os.environ["ADVGAME_LP_DEVICE"] = old

    repeat = max(1, min(3, args.repeats))
    out = {"N": args.lp_n, "repeat": repeat}
    advgame.solve(advgame.examples.random_game(seed=0))  # imports (HiGHS) outside the timings
    for loss in ("01", "sigmoid"):
        F = build_losses(args.lp_n, loss)  # (L, N, m) float32 on the host
        losses = torch.from_numpy(np.ascontiguousarray(np.moveaxis(F, 0, 2))).to(device)
        del F
        game = advgame.Game(losses, bound=1.0)
        del losses
        L = game.n_classifiers
        lam = torch.full((L,), 1.0 / L, dtype=game.dtype, device=device)
        box, view = {}, None
        fns = [lambda: game.risk(lam),
               lambda: box.__setitem__("device", solve(game, "1")),
               lambda: box.__setitem__("host", solve(game, "0"))]
        names = ["pass_s", "device_solve_s", "host_solve_s"]
        if loss == "01":
            view = DeviceView(game.view())
            lam64 = np.full(L, 1.0 / L)
            fns += [view.scan_binary, lambda: view.risk_and_best_response_float64(lam64, argmax=False)]
            names += ["device_scan_s", "device_float64_pass_s"]
        times = _timing.median_times(fns, repeat=repeat, warmup=1, device=device)
        row = dict(zip(names, times))
        rd, rh = box["device"], box["host"]
        row.update(device_x_pass=row["device_solve_s"] / row["pass_s"], host_x_pass=row["host_solve_s"] / row["pass_s"],
                   device_over_host=row["device_solve_s"] / row["host_solve_s"], strategy=rd.info.get("strategy"),
                   path=rd.info.get("device"), status=[rd.status, rh.status], value_diff=abs(rd.value - rh.value),
                   weights_diff=float((rd.weights - rh.weights).abs().max()), gap=rd.gap)
        for key in ("device_scan_s", "device_float64_pass_s"):
            if key in row:
                row[key[:-2] + "_x_pass"] = row[key] / row["pass_s"]
        out[loss] = row
        game = view = fns = box = rd = rh = None  # the device memory freed before the next game
    return out


def table(result):
    """The Markdown table of a result."""
    lines = ["| case | precision | compile | images/s | epoch (s) | TFLOP/s | MFU | Alg.2/(L x AT) |",
             "|---|---|---|---:|---:|---:|---:|---:|"]

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    for r in result["training"]:
        lines.append(f"| {r['case']} | {r['precision']} | {'yes' if r['compile'] else 'no'} | "
                     f"{r['images_per_s']:.1f} | {r['epoch_s']:.1f} | {f(r['tflops_per_s'], '.3g')} | "
                     f"{f(r['mfu'], '.1%')} | {f(r.get('alg2_over_L_at'), '.2f')} |")
    for s in result["skipped"]:
        lines.append(f"| skipped: {s} | | | | | | | |")
    att = result.get("attack")
    if att:
        lines += ["", "| attack (fp32, eager) | images/s |", "|---|---:|"]
        lines += [f"| {k} | {v['images_per_s']:.1f} |" for k, v in att.items() if isinstance(v, dict)]
        if "advgame_over_torchattacks_throughput" in att:
            lines.append(f"| advgame / torchattacks | {att['advgame_over_torchattacks_throughput']:.2f} |")
        lines.append(f"| vmap speed-up, L = 3 | {att['vmap_speedup_L3']:.2f} |")
    sol = result.get("solvers")
    if sol:
        lines += ["", f"| solver on {' x '.join(map(str, sol['shape']))} float32 | s / iteration | "
                      "measured pass / iteration | bandwidth-limit pass / iteration |", "|---|---:|---:|---:|"]
        for method in ("entropic", "oracle"):
            s = sol[method]
            lines.append(f"| {method} | {s['iteration_s']:.4g} | {s['pass_fraction']:.1%} | "
                         f"{f(s['bandwidth_fraction'], '.1%')} |")
        lines.append(f"| one pass (sum) | {sol['pass_s']:.4g} | | |")
    lp = result.get("lp")
    if lp:
        lines += ["", f"| exact LP, MNE21-like N = {lp['N']} float32 | one pass (s) | device path x pass | "
                      "host path x pass | device / host | 0/1 scan x pass | float64 pass x pass | status |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        for loss in ("01", "sigmoid"):
            r = lp[loss]
            lines.append(f"| {'0/1' if loss == '01' else 'sigmoid'} ({r['strategy']}) | {r['pass_s']:.4g} | "
                         f"{r['device_x_pass']:.1f} | {r['host_x_pass']:.1f} | {r['device_over_host']:.2f} | "
                         f"{f(r.get('device_scan_x_pass'), '.1f')} | {f(r.get('device_float64_pass_x_pass'), '.1f')} | "
                         f"{r['status'][0]} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="a small, fast run of every code path (CPU)")
    ap.add_argument("--arch", default=None, help="default resnet18 (small-cnn with --quick)")
    ap.add_argument("--batch-size", type=int, default=None, help="default 512 (8 with --quick)")
    ap.add_argument("--steps", type=int, default=None, help="PGD iterations (default 10; 2 with --quick)")
    ap.add_argument("--models", type=int, nargs="+", default=[2, 3], help="the L of the Alg. 2 cases")
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--compile", choices=["both", "off", "on"], default="both")
    ap.add_argument("--compile-backend", default=None, help="default inductor (eager with --quick)")
    ap.add_argument("--repeats", type=int, default=None, help="default 5 (1 with --quick)")
    ap.add_argument("--n-train", type=int, default=50000)
    ap.add_argument("--game", type=int, nargs=3, default=None, metavar=("N", "M", "L"),
                    help="solver game (default 100000 1000 10; 200 20 4 with --quick)")
    ap.add_argument("--solver-iters", type=int, nargs=2, default=[5, 25])
    ap.add_argument("--lp-n", type=int, default=None,
                    help="samples of the exact-LP game (MNE21-like, m = 1000, L = 10; default 10000, 100 with --quick)")
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--bandwidth-gbs", type=float, default=None)
    ap.add_argument("--budget-s", type=float, default=300.0,
                    help="start no compiled case after this many seconds (default 300: one more fits 8 min)")
    ap.add_argument("--json", default=os.path.join(HERE, "results_gpu.json"))
    ap.add_argument("--table", default=os.path.join(HERE, "results_gpu.md"))
    args = ap.parse_args(argv)
    q = args.quick
    args.arch = args.arch or ("small-cnn" if q else "resnet18")
    args.batch_size = args.batch_size or (8 if q else 512)
    args.steps = args.steps or (2 if q else 10)
    args.repeats = args.repeats or (1 if q else 5)
    args.compile_backend = args.compile_backend or ("eager" if q else "inductor")
    args.game = args.game or ([200, 20, 4] if q else [100000, 1000, 10])
    args.lp_n = args.lp_n or (100 if q else 10000)
    if args.solver_iters[1] <= args.solver_iters[0]:
        ap.error("--solver-iters K1 K2 needs K2 > K1")
    if q:
        args.solver_iters = [2, 6]
    device = torch.device(args.device)
    budget = Budget(args.budget_s)
    from advgame.torch.training.precision import set_cudnn_benchmark

    set_cudnn_benchmark(device)
    peaks = device_peaks(device, args.peak_tflops, args.bandwidth_gbs)
    result = {"device": peaks["name"], "torch": torch.__version__, "args": vars(args), "peaks": peaks,
              "training": [], "skipped": []}
    flops = {}
    compiled = {"both": [False, True], "off": [False], "on": [True]}[args.compile]
    t_start = time.perf_counter()
    if False in compiled:
        for p in args.precisions:
            result["training"] += training_cases(args, device, p, False, peaks, flops)
    result["attack"] = attack_cases(args, device)
    result["solvers"] = solver_cases(args, device, peaks)
    result["lp"] = lp_cases(args, device)
    if True in compiled:  # last: compilation is the slowest part, skipped once the budget is spent
        for p in args.precisions:
            if budget.left() < 0:
                result["skipped"].append(f"{p} compile (budget of {args.budget_s:.0f} s spent)")
                continue
            result["training"] += training_cases(args, device, p, True, peaks, flops)
    result["total_s"] = time.perf_counter() - t_start
    text = table(result)
    print(text)
    from advgame._io import atomic_path

    for path, body in ((args.json, json.dumps(result, indent=2)), (args.table, text + "\n")):
        if path:
            with atomic_path(path) as tmp:
                with open(tmp, "w") as fh:
                    fh.write(body)
    return result


if __name__ == "__main__":
    main()
