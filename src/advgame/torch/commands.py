"""``advgame train`` and ``advgame eval``: train robust mixtures, evaluate checkpoints.

:func:`add_subcommands` registers both on an ``argparse`` subparsers object (the
``advgame`` command does it); :func:`run` executes parsed arguments (errors: one line
on stderr, exit status 1); :func:`main` is the stand-alone entry point
(``python -m advgame.torch.commands train ...``).  See ``docs/training.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

__all__ = ["add_subcommands", "run", "main"]

_TRAIN_HELP = "train a robust mixture (MNE21 Alg. 2, RM20 BAT, AT, TRADES)"
_EVAL_HELP = "worst-case evaluation of a training checkpoint on the test split"


def _fraction_list(text):
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions, e.g. 0.5,0.75; got {text!r}") from None


def add_subcommands(subparsers) -> None:
    """Register ``train`` and ``eval`` on ``subparsers`` (from ``add_subparsers``)."""
    from .training.config import ALGOS, DATASETS, WEIGHT_METHODS, TrainConfig

    d = TrainConfig.__dataclass_fields__
    t = subparsers.add_parser("train", help=_TRAIN_HELP, description=_TRAIN_HELP + ". Writes OUT/checkpoint.pt "
                              "after every epoch, OUT/log.csv, OUT/log.json, OUT/summary.json and "
                              "OUT/accuracy.png/.pdf.")
    t.add_argument("--algo", choices=ALGOS, default="mixture",
                   help="mixture: MNE21 Alg. 2; bat: RM20 BAT; at / trades: one member (default mixture)")
    t.add_argument("--dataset", choices=DATASETS, default="digits")
    t.add_argument("--models", type=int, default=None, help="L, number of members (default 2; 1 for at/trades)")
    t.add_argument("--epochs", type=int, default=1, help="epochs per member (Alg. 2 runs L x epochs in all)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (bit-identical on CPU)")
    t.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="stop after N epochs of this invocation (continue later with --resume)")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default cuda when available; "
                   "under torchrun cuda:LOCAL_RANK)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data-root", default=None, help="folder of the CIFAR data (torchvision's on-disk format)")
    t.add_argument("--arch", default=None, help="resnet18, wrn-28-10, small-cnn, small-mlp "
                   "(default resnet18 on CIFAR, small-mlp on digits)")
    t.add_argument("--batch-size", type=int, default=d["batch_size"].default, help="global batch (default 128)")
    t.add_argument("--lr", type=float, default=d["lr"].default, help="SGD learning rate (default 0.1)")
    t.add_argument("--momentum", type=float, default=d["momentum"].default)
    t.add_argument("--weight-decay", type=float, default=None, help="default 2e-4 for bat (RM20), 5e-4 otherwise")
    t.add_argument("--milestones", type=_fraction_list, default=d["milestones"].default,
                   help="fractions of the epochs where the lr is multiplied by --gamma (default 0.5,0.75)")
    t.add_argument("--gamma", type=float, default=d["gamma"].default)
    t.add_argument("--eps", type=float, default=d["eps"].default, help="Linf radius (default 8/255)")
    t.add_argument("--step", type=float, default=d["step"].default, help="PGD step (default 2/255)")
    t.add_argument("--attack-steps", type=int, default=None, help="training PGD steps (default 10; 20 for bat)")
    t.add_argument("--no-random-start", dest="random_start", action="store_false",
                   help="start the training attack at the clean point")
    t.add_argument("--loss", choices=("at", "trades"), default="at", help="inner loss of --algo mixture")
    t.add_argument("--beta", type=float, default=d["beta"].default, help="TRADES beta (default 6)")
    t.add_argument("--t-theta", type=int, default=d["t_theta"].default, help="MNE21 Alg. 2's T_theta")
    t.add_argument("--t-lambda", type=int, default=d["t_lambda"].default, help="MNE21 Alg. 2's T_lambda")
    t.add_argument("--weight-method", choices=WEIGHT_METHODS, default="oracle",
                   help="solver of Alg. 2's weight step (default oracle: MNE21 Alg. 1)")
    t.add_argument("--weight-loss", choices=("01", "ce"), default="01")
    t.add_argument("--temperature", type=float, default=d["temperature"].default,
                   help="entropic regularization of --weight-method entropic")
    t.add_argument("--mixture-weight", type=float, default=d["mixture_weight"].default,
                   help="BAT's alpha, weight of each new member (default 0.2)")
    t.add_argument("--weights", choices=("trained", "lp"), default="trained",
                   help="lp: also compute the optimal weights of the validation candidate game (exact LP)")
    t.add_argument("--eval-steps", type=int, default=d["eval_steps"].default, help="PGD steps of validation")
    t.add_argument("--eval-samples", type=int, default=None, help="validation examples per epoch (default all)")
    t.add_argument("--val-size", type=float, default=d["val_size"].default)
    t.add_argument("--augment", action="store_true", help="random crop (padding 4) and horizontal flip")
    t.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    t.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=None,
                   help="autocast of the attacks and SGD steps (default bf16 on CUDA that supports it, else fp32)")
    t.add_argument("--channels-last", dest="channels_last", action="store_true", default=None,
                   help="convolution kernels in channels_last (default: on CUDA)")
    t.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    t.add_argument("--compile", action="store_true", help="torch.compile the members (pays on long GPU runs)")
    t.set_defaults(advgame_run=_cmd_train)

    e = subparsers.add_parser("eval", help=_EVAL_HELP, description=_EVAL_HELP + " (adaptive PGD, APGD-CE/DLR "
                              "100 iterations 5 restarts, ARC; C&W in l2).")
    e.add_argument("checkpoint", help="a checkpoint.pt written by advgame train")
    e.add_argument("--attacks", default="all",
                   help="'all' or comma-separated names: pgd-logits,pgd-loss,apgd-ce,apgd-dlr,arc "
                   "(l2 also cw-logits,cw-loss)")
    e.add_argument("--eps", type=float, default=None, help="radius (default: the training eps)")
    e.add_argument("--norm", default="linf", choices=("linf", "l2"))
    e.add_argument("--weights", choices=("trained", "lp"), default="trained")
    e.add_argument("--data-root", default=None)
    e.add_argument("--device", default=None)
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--max-samples", type=int, default=None, help="evaluate the first N test examples")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", default=None, help="JSON report (default: eval.json next to the checkpoint)")
    e.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    e.set_defaults(advgame_run=_cmd_eval)

    from .study import add_study_command

    add_study_command(subparsers)


#: seeds accepted by train and eval (derived seeds must fit torch's 64-bit generators)
_SEED_LIMIT = 2**32


def _check_seed(seed, flag="--seed"):
    if seed is not None and not 0 <= seed < _SEED_LIMIT:
        raise ValueError(f"{flag} must be an int in [0, 2**32); got {seed}")
    return seed


def _check_positive(value, flag):
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be at least 1; got {value}")
    return value


def _device(name):
    import torch

    if name is not None:
        try:
            device = torch.device(name)
        except (RuntimeError, ValueError, TypeError):
            raise ValueError(f"--device must be cpu, cuda, cuda:N or another torch device; got {name!r}") from None
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        elif device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"--device {name}: MPS is not available on this machine; use --device cpu")
        return device
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", 0))
        return torch.device(f"cuda:{local}")
    return torch.device("cpu")


def _threads(n):
    import torch

    if n is not None:
        if n < 1:
            raise ValueError(f"--threads must be at least 1; got {n}")
        torch.set_num_threads(n)


def _init_distributed(device):
    """Join the torchrun process group (WORLD_SIZE > 1); returns whether this process did."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True


def _cmd_train(args) -> int:
    import torch

    from .data import load_dataset
    from .training import Trainer, TrainConfig

    _threads(args.threads)
    _check_seed(args.seed)
    models = args.models if args.models is not None else (1 if args.algo in ("at", "trades") else 2)
    cfg = TrainConfig(algo=args.algo, dataset=args.dataset, models=models, epochs=args.epochs, arch=args.arch,
                      batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                      weight_decay=args.weight_decay, milestones=args.milestones, gamma=args.gamma, eps=args.eps,
                      step=args.step, attack_steps=args.attack_steps, random_start=args.random_start,
                      loss=args.loss, beta=args.beta, t_theta=args.t_theta, t_lambda=args.t_lambda,
                      weight_method=args.weight_method, weight_loss=args.weight_loss,
                      temperature=args.temperature, mixture_weight=args.mixture_weight,
                      weights_lp=args.weights == "lp", eval_steps=args.eval_steps, eval_samples=args.eval_samples,
                      val_size=args.val_size, augment=args.augment, seed=args.seed)
    cfg = dataclasses.replace(cfg, precision=args.precision, channels_last=args.channels_last, compile=args.compile)
    if args.stop_after is not None and args.stop_after < 1:
        raise ValueError(f"--stop-after must be at least 1; got {args.stop_after}")
    device = _device(args.device)
    joined = _init_distributed(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    lock = None
    try:
        if int(os.environ.get("RANK", "0")) == 0:  # checked and locked before anything is read or trained
            from .training.runlock import prepare_run_folder

            lock = prepare_run_folder(args.out)
        data = load_dataset(cfg.dataset, args.data_root, val_size=cfg.val_size, augment=cfg.augment, seed=cfg.seed)
        ckpt = os.path.join(args.out, "checkpoint.pt")
        if not args.resume and os.path.exists(ckpt):
            raise ValueError(f"{ckpt} exists: pass --resume to continue that run, or choose another --out")
        if args.resume and not os.path.exists(ckpt):
            raise ValueError(f"--resume: no checkpoint at {ckpt}")
        trainer = Trainer(cfg, data, out=args.out, device=device, progress=args.progress)
        if args.resume:
            trainer.resume()
        history = trainer.fit(max_epochs=args.stop_after)
        rank0 = trainer.rank == 0
        if rank0:
            for row in history[-(args.stop_after or len(history)):]:
                w = " ".join(f"{v:.3f}" for v in row["weights"])
                print(f"epoch {row['epoch']:3d}  members {row['members']}  natural {row['natural']:.4f}  "
                      f"robust {row['robust']:.4f}  weights [{w}]  {row['time']:.1f}s")
        if trainer.epoch >= cfg.total_epochs:
            summary = trainer.finish()
            if rank0:
                print(f"final: natural {summary['natural']:.4f}  robust {summary['robust']:.4f} (validation, "
                      f"PGD-{cfg.eval_steps})")
                if "lp" in summary:
                    lp = summary["lp"]
                    w = " ".join(f"{v:.3f}" for v in lp["weights"])
                    print(f"LP weights [{w}]: natural {lp['natural']:.4f}  robust {lp['robust']:.4f}")
                print(f"wrote {args.out}")
    finally:
        if lock is not None:
            lock.release()
        if joined:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


def _cmd_eval(args) -> int:
    import torch

    from .data import load_dataset
    from .evaluate import evaluate
    from .training import mixture_from_checkpoint

    _threads(args.threads)
    _check_seed(args.seed)
    _check_positive(args.max_samples, "--max-samples")
    _check_positive(args.batch_size, "--batch-size")
    _check_report_target(_report_path(args), args.checkpoint)
    device = _device(args.device)
    mix, cfg, state = mixture_from_checkpoint(args.checkpoint, device=device, weights=args.weights)
    data = load_dataset(cfg.dataset, args.data_root, val_size=cfg.val_size, augment=False, seed=cfg.seed)
    n = len(data.test) if args.max_samples is None else min(args.max_samples, len(data.test))
    xs, ys = zip(*(data.test[i] for i in range(n)))
    x, y = torch.stack(xs), torch.as_tensor(ys, dtype=torch.int64)
    attacks = "all" if args.attacks == "all" else [a.strip() for a in args.attacks.split(",") if a.strip()]
    eps = cfg.eps if args.eps is None else args.eps
    report = evaluate(mix, x, y, eps, args.norm, attacks, batch_size=args.batch_size, seed=args.seed)
    print(f"{args.checkpoint}: {cfg.algo}, {len(mix)} member(s) with positive weight, "
          f"weights {[round(float(w), 4) for w in mix.weights]} ({args.weights})")
    print(report.table())
    out = _report_path(args)
    payload = {"checkpoint": os.path.abspath(args.checkpoint), "algo": cfg.algo, "dataset": cfg.dataset,
               "weights_used": args.weights,
               "weights": [float(w) for w in (state["weights_lp"] if args.weights == "lp" else state["weights"])],
               "eps": eps,
               "norm": args.norm, "n": report.n, "accuracy": dict(report), "seconds": report.seconds,
               "skipped": report.skipped}
    from .._io import atomic_path

    from .training.integrity import finite_json

    with atomic_path(out) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(finite_json(payload), f, indent=1, allow_nan=False)
    print(f"wrote {out}")
    return 0


def _report_path(args):
    """Where ``eval`` writes its JSON report: ``--out``, else eval.json next to the checkpoint."""
    return args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "eval.json")


#: the largest file ``eval --out`` reads to see whether it is a report it may replace
_REPORT_MAX_BYTES = 16 << 20


def _check_report_target(out, checkpoint):
    """Refuse to write the report over anything but an earlier report (the checkpoint
    itself, a folder, any other file): a ValueError naming ``--out``."""
    if not os.path.lexists(out):
        return
    if os.path.isdir(out):
        raise ValueError(f"--out {out} is a folder; give the report's file name "
                         f"(e.g. {os.path.join(out, 'eval.json')})")
    if os.path.exists(checkpoint) and os.path.exists(out) and os.path.samefile(out, checkpoint):
        raise ValueError(f"--out {out} is the checkpoint itself; refusing to overwrite it with the report")
    report = None
    try:
        if os.path.getsize(out) <= _REPORT_MAX_BYTES:
            with open(out, encoding="utf-8") as f:
                report = json.load(f)
    except (OSError, ValueError):
        report = None
    if not (isinstance(report, dict) and "checkpoint" in report and "accuracy" in report):
        raise ValueError(f"--out {out} exists and is not an advgame eval report; refusing to overwrite it "
                         "(remove it or choose another --out)")


def run(args) -> int:
    """Execute parsed ``train`` / ``eval`` arguments; errors: one line on stderr, status 1;
    Ctrl-C: one line, status 130."""
    try:
        return args.advgame_run(args)
    except (ValueError, TypeError, OSError, RuntimeError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"advgame {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: one line, exit 130 (as the core commands)
        hint = ""
        ckpt = os.path.join(args.out, "checkpoint.pt") if args.command == "train" else None
        if ckpt is not None and os.path.exists(ckpt):
            hint = f"; the last checkpoint is {ckpt} (continue with --resume)"
        print(f"advgame {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


def main(argv=None) -> int:
    """``python -m advgame.torch.commands {train,eval} ...``."""
    parser = argparse.ArgumentParser(prog="advgame", description="train and evaluate robust mixtures")
    sub = parser.add_subparsers(dest="command", required=True)
    add_subcommands(sub)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
