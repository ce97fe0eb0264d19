"""``advgame train`` and ``advgame eval``: train robust mixtures, evaluate checkpoints.

:func:`add_subcommands` registers both on an ``argparse`` subparsers object (the
``advgame`` command does it); :func:`run` executes parsed arguments (errors: one line
on stderr, exit status 1); :func:`main` is the stand-alone entry point
(``python -m advgame.torch.commands train ...``).  See ``docs/training.md``.
"""

from __future__ import annotations

import argparse
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


def _frac(v) -> str:
    """``8/255`` for a multiple of 1/255, else the number."""
    k = v * 255
    if abs(v - round(v, 3)) < 1e-12 or abs(k - round(k)) > 1e-9:
        return f"{v:g}"
    return f"{round(k)}/255"


def add_subcommands(subparsers) -> None:
    """Register ``train`` and ``eval`` on ``subparsers`` (from ``add_subparsers``)."""
    from .training.config import (ALGOS, DATASETS, MEMBER_WEIGHTINGS, SELECTIONS, THREAT_MODELS, WEIGHT_METHODS,
                                  WEIGHT_ORACLES, TrainConfig)

    d = {k: f.default for k, f in TrainConfig.__dataclass_fields__.items()}
    t = subparsers.add_parser("train", help=_TRAIN_HELP, description=_TRAIN_HELP + ". Writes OUT/config.json (the "
                              "run's settings), OUT/checkpoint.pt after every epoch, OUT/log.csv, OUT/log.json, "
                              "OUT/summary.json and OUT/accuracy.png/.pdf, and prints each epoch's line as it ends. "
                              "Settings come from the defaults shown, then --config FILE, then the options given "
                              "(--resume and --extend: from the run's checkpoint).")
    # every training setting defaults to None here: None = not given (the defaults are TrainConfig's, shown)
    t.add_argument("--algo", choices=ALGOS, default=None,
                   help=f"mixture: MNE21 Alg. 2; bat: RM20 BAT; barre: BARRE (Dbouk & Shanbhag 2023); at / trades: "
                   f"one member (default: {d['algo']})")
    t.add_argument("--dataset", choices=DATASETS, default=None, help=f"the data set (default: {d['dataset']})")
    t.add_argument("--models", type=int, default=None,
                   help=f"L, number of members (default: {d['models']}; 1 for at/trades)")
    t.add_argument("--epochs", type=int, default=None,
                   help=f"epochs per member; Alg. 2 runs L x epochs in all (default: {d['epochs']})")
    t.add_argument("--config", default=None, metavar="FILE",
                   help="start from the settings of FILE (a run's config.json); options given override them "
                        "(default: none)")
    t.add_argument("--out", required=True, help="output folder (required)")
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt with the run's own settings, bit-identical on CPU; an "
                        "option given that differs from them is refused (default: off)")
    t.add_argument("--extend", type=int, default=None, metavar="K",
                   help="continue the run in OUT (finished or not) for K more epochs per member, with its own "
                        "settings; the learning rate stays where the schedule ended; not for bat (default: none)")
    t.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="stop after N epochs of this invocation; the line printed says how to continue "
                        "(default: run to the end)")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available, under "
                   "torchrun cuda:LOCAL_RANK; else cpu)")
    t.add_argument("--seed", type=int, default=None, help=f"seed of everything random (default: {d['seed']})")
    t.add_argument("--data-root", default=None, help="folder of the CIFAR data, torchvision's on-disk format "
                   "(default: none; needed for cifar10/cifar100)")
    t.add_argument("--arch", default=None, help="resnet18, wrn-28-10, small-cnn, small-mlp "
                   "(default: resnet18 on CIFAR, small-mlp on digits)")
    t.add_argument("--batch-size", type=int, default=None, help=f"global batch (default: {d['batch_size']})")
    t.add_argument("--lr", type=float, default=None, help=f"SGD learning rate (default: {d['lr']})")
    t.add_argument("--momentum", type=float, default=None, help=f"SGD momentum (default: {d['momentum']})")
    t.add_argument("--weight-decay", type=float, default=None,
                   help="SGD weight decay (default: 2e-4 for bat (RM20), 5e-4 otherwise)")
    t.add_argument("--milestones", type=_fraction_list, default=None,
                   help="fractions of the epochs where the lr is multiplied by --gamma (default: "
                        f"{','.join(f'{m:g}' for m in d['milestones'])})")
    t.add_argument("--gamma", type=float, default=None, help=f"lr factor at each milestone (default: {d['gamma']})")
    eps_help = ", ".join(f"{k} {_frac(v[0])}" for k, v in THREAT_MODELS.items())
    step_help = ", ".join(f"{k} {_frac(v[1])}" for k, v in THREAT_MODELS.items())
    t.add_argument("--eps", type=float, default=None, help=f"Linf radius (default: the data set's: {eps_help})")
    t.add_argument("--step", type=float, default=None, help=f"PGD step (default: the data set's: {step_help})")
    t.add_argument("--attack-steps", type=int, default=None,
                   help="training PGD steps (default: 10; 20 for bat)")
    t.add_argument("--no-random-start", dest="random_start", action="store_const", const=False, default=None,
                   help="start the training attack at the clean point (default: a random start)")
    t.add_argument("--loss", choices=("at", "trades"), default=None,
                   help=f"inner loss of --algo mixture (default: {d['loss']})")
    t.add_argument("--beta", type=float, default=None, help=f"TRADES beta (default: {d['beta']:g})")
    t.add_argument("--t-theta", type=int, default=None, help=f"MNE21 Alg. 2's T_theta (default: {d['t_theta']})")
    t.add_argument("--t-lambda", type=int, default=None, help=f"MNE21 Alg. 2's T_lambda (default: {d['t_lambda']})")
    t.add_argument("--weight-method", choices=WEIGHT_METHODS, default=None,
                   help=f"solver of Alg. 2's weight step (default: {d['weight_method']}: MNE21 Alg. 1)")
    t.add_argument("--weight-loss", choices=("01", "ce"), default=None,
                   help=f"loss of the weight step's game (default: {d['weight_loss']})")
    t.add_argument("--temperature", type=float, default=None,
                   help=f"entropic regularization of --weight-method entropic (default: {d['temperature']:g})")
    t.add_argument("--mixture-weight", type=float, default=None,
                   help=f"BAT's alpha, weight of each new member (default: {d['mixture_weight']})")
    t.add_argument("--select", choices=SELECTIONS, default=None,
                   help="the model a run ends with: best = per member phase, the epoch most robust to the "
                   f"validation PGD (MNE21 Sec. 5.2); last = the last epoch's (default: {d['select']})")
    t.add_argument("--width", type=float, default=None,
                   help="multiplies the members' width; matched_width gives the parameter-matched single model "
                   f"(default: {d['width']:g})")
    t.add_argument("--weight-oracle", choices=WEIGHT_ORACLES, default=None,
                   help="attack behind the weight step: the training PGD, or ARC (as BARRE's weight fit; barre "
                   f"always uses arc) (default: {d['weight_oracle']})")
    t.add_argument("--member-weighting", choices=MEMBER_WEIGHTINGS, default=None,
                   help="Alg. 2's member step: plain, or its loss times L * lambda_k "
                   f"(default: {d['member_weighting']})")
    t.add_argument("--eps-warmup", type=int, default=None,
                   help="epochs over which the training eps grows linearly to --eps (validation at full eps; "
                   f"keeps AT from collapsing at large eps) (default: {d['eps_warmup']})")
    t.add_argument("--weights", choices=("trained", "lp"), default=None,
                   help="lp: also compute the optimal weights of the validation candidate game (exact LP) "
                        "(default: trained)")
    t.add_argument("--eval-steps", type=int, default=None,
                   help=f"PGD steps of the per-epoch validation (default: {d['eval_steps']})")
    t.add_argument("--eval-samples", type=int, default=None,
                   help="validation examples per epoch (default: all)")
    t.add_argument("--val-size", type=float, default=None,
                   help=f"fraction of the training data held out for validation (default: {d['val_size']})")
    t.add_argument("--augment", action="store_const", const=True, default=None,
                   help="random crop (padding 4) and horizontal flip (default: off)")
    t.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (default: a bar on stderr with the running loss)")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    t.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=None,
                   help="autocast of the attacks and SGD steps (default: bf16 on CUDA that supports it, else fp32)")
    t.add_argument("--channels-last", dest="channels_last", action="store_const", const=True, default=None,
                   help="convolution kernels in channels_last (default: on CUDA)")
    t.add_argument("--no-channels-last", dest="channels_last", action="store_const", const=False,
                   help="convolution kernels in the default layout (default: channels_last on CUDA only)")
    t.add_argument("--compile", action="store_const", const=True, default=None,
                   help="torch.compile the members (pays on long GPU runs) (default: off)")
    t.set_defaults(advgame_run=_cmd_train)

    e = subparsers.add_parser("eval", help=_EVAL_HELP, description=_EVAL_HELP + " (adaptive PGD, APGD-CE/DLR "
                              "100 iterations 5 restarts, ARC; C&W in l2). One progress line per attack and batch "
                              "on stderr.")
    e.add_argument("checkpoint", nargs="?", default=None,
                   help="a checkpoint.pt written by advgame train (or give --members / --factory; default: none)")
    e.add_argument("--members", default=None, metavar="FILES",
                   help="comma-separated member files not trained by advgame: state dicts (with --arch or --factory) "
                   "or TorchScript archives; loaded with weights_only=True (default: none)")
    e.add_argument("--arch", default=None, help="architecture of state-dict members (small-mlp, small-cnn, resnet18, "
                   "wrn-28-10; default: none)")
    e.add_argument("--factory", default=None, metavar="MODULE:FUNCTION",
                   help="builds the architecture of each state dict, or (without --members) returns the members "
                   "(default: none)")
    e.add_argument("--dataset", default=None, help="data set of --members / --factory (digits, cifar10, cifar100; "
                   "default: none)")
    e.add_argument("--attacks", default=None,
                   help="'all' or comma-separated names: pgd-logits,pgd-loss,apgd-ce,"
                   "apgd-dlr,apgd-t,square,arc,margin-subsets,multi-targeted,transfer (l2 also cw-logits,cw-loss); "
                   "with --suite, added to the suite (default: all without --suite)")
    e.add_argument("--suite", choices=("quick", "standard", "full"), default=None,
                   help="a named attack suite (docs/evaluation.md): quick, standard (AutoAttack's counterpart for "
                   "mixtures, plus ARC and the mixture attacks) or full (also PGD, APGD-DLR, C&W; sanity checks on) "
                   "(default: none, --attacks all)")
    e.add_argument("--checks", dest="checks", action="store_true", default=None,
                   help="run the sanity checks (default: on with --suite full)")
    e.add_argument("--no-checks", dest="checks", action="store_false",
                   help="skip the sanity checks (default: checks on with --suite full only)")
    e.add_argument("--save-adversarials", default=None, metavar="FILE",
                   help="save the per-example worst-case inputs (torch.save of tensors; load with weights_only=True; "
                   "default: not saved)")
    e.add_argument("--eps", type=float, default=None, help="radius (default: the training eps)")
    e.add_argument("--norm", default="linf", choices=("linf", "l2"), help="the ball's norm (default: linf)")
    e.add_argument("--weights", default=None,
                   help="checkpoint: trained or lp; --members: uniform, lp (exact LP on the validation candidates) "
                   "or comma-separated weights (default: trained for a checkpoint, uniform for --members)")
    e.add_argument("--data-root", default=None, help="folder of the CIFAR data (default: none; needed for CIFAR)")
    e.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available, else cpu)")
    e.add_argument("--batch-size", type=int, default=256, help="examples per attack call (default: 256)")
    e.add_argument("--max-samples", type=int, default=None,
                   help="evaluate the first N test examples (default: all)")
    e.add_argument("--seed", type=int, default=0, help="seed of the attacks' random starts (default: 0)")
    e.add_argument("--out", default=None, help="JSON report (default: eval.json next to the checkpoint)")
    e.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    e.add_argument("--sampled", action="store_true",
                   help="also estimate the deployed (one member per query) classifier's accuracy under EoT APGD, "
                   "with a 95%% confidence interval (default: off)")
    e.add_argument("--eps-curve", default=None, metavar="EPS,EPS,...",
                   help="also draw robust accuracy against these radii (per attack and worst case; the --suite or "
                   "quick suite) to OUT_STEM_curve.png/.pdf (default: none)")
    e.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress lines (default: one line per attack and batch on stderr)")
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


#: ``advgame train``'s options that are training settings (TrainConfig fields), with
#: their TrainConfig names; ``--weights`` maps to ``weights_lp``
_SETTINGS = ("algo", "dataset", "models", "epochs", "arch", "batch_size", "lr", "momentum", "weight_decay",
             "milestones", "gamma", "eps", "step", "attack_steps", "random_start", "loss", "beta", "t_theta",
             "t_lambda", "weight_method", "weight_loss", "temperature", "mixture_weight", "eval_steps",
             "eval_samples", "val_size", "augment", "seed", "select", "width", "weight_oracle", "member_weighting",
             "precision", "channels_last", "compile", "eps_warmup")


def _given_settings(args) -> dict:
    """The training settings given on the command line (TrainConfig names)."""
    given = {k: getattr(args, k) for k in _SETTINGS if getattr(args, k) is not None}
    if args.weights is not None:
        given["weights_lp"] = args.weights == "lp"
    return given


def _flag(name) -> str:
    return "--weights" if name == "weights_lp" else "--" + name.replace("_", "-")


def _train_config(args, checkpoint_config=None):
    """The run's TrainConfig: defaults, then --config FILE (or the checkpoint's settings
    for --resume / --extend), then the options given."""
    from .training.config import TrainConfig, load_config

    given = _given_settings(args)
    if args.extend is not None:
        if given:
            raise ValueError(f"--extend continues the run with its own settings; drop {', '.join(map(_flag, given))}")
        base = checkpoint_config.to_dict()
        base["epochs"] = checkpoint_config.epochs + args.extend
        return TrainConfig.from_dict(base)
    if checkpoint_config is not None:  # --resume: the run's settings; a differing option is refused later
        base = checkpoint_config.to_dict()
    elif args.config is not None:
        base = load_config(args.config).to_dict()
    else:
        base = {}
    if "models" not in given and "models" not in base and given.get("algo") in ("at", "trades"):
        given["models"] = 1
    return TrainConfig.from_dict({**base, **given})


def _epoch_line(row) -> str:
    w = " ".join(f"{v:.3f}" for v in row["weights"])
    gap = "" if row.get("gap") is None else f"  gap {row['gap']:.1e}"
    loss = "" if row.get("loss") is None else f"  loss {row['loss']:.4f}"
    return (f"epoch {row['epoch']:3d}  members {row['members']}  natural {row['natural']:.4f}  "
            f"robust {row['robust']:.4f}  weights [{w}]{gap}{loss}  lr {row['lr']:g}  {row['time']:.1f}s")


def _resume_command(args) -> str:
    words = ["advgame", "train", "--out", args.out, "--resume"]
    for flag, value in (("--data-root", args.data_root), ("--device", args.device), ("--threads", args.threads)):
        if value is not None:
            words += [flag, str(value)]
    import shlex

    return " ".join(shlex.quote(str(w)) for w in words)


def _cmd_train(args) -> int:
    import torch

    from .data import load_dataset
    from .training import Trainer, TrainConfig, load_checkpoint

    _threads(args.threads)
    _check_seed(args.seed)
    if args.stop_after is not None and args.stop_after < 1:
        raise ValueError(f"--stop-after must be at least 1; got {args.stop_after}")
    if args.extend is not None and args.extend < 1:
        raise ValueError(f"--extend must be at least 1 (epochs per member to add); got {args.extend}")
    if args.config is not None and (args.resume or args.extend is not None):
        raise ValueError("--resume and --extend take the run's settings from its checkpoint; drop --config")
    ckpt = os.path.join(args.out, "checkpoint.pt")
    continuing = args.resume or args.extend is not None
    if not continuing and os.path.exists(ckpt):
        raise ValueError(f"{ckpt} exists: pass --resume to continue that run, --extend K to train it K more "
                         "epochs per member, or choose another --out")
    if continuing and not os.path.exists(ckpt):
        raise ValueError(f"{'--resume' if args.resume else '--extend'}: no checkpoint at {ckpt}")
    saved = TrainConfig.from_dict(load_checkpoint(ckpt)["config"]) if continuing else None
    cfg = _train_config(args, saved)
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
        trainer = Trainer(cfg, data, out=args.out, device=device, progress=args.progress)
        rank0 = trainer.rank == 0
        if continuing:
            trainer.resume(extend=args.extend is not None)
            if rank0 and args.extend is not None:
                print(f"extending {args.out}: {saved.epochs} -> {cfg.epochs} epochs per member "
                      f"({trainer.epoch} of {cfg.total_epochs} epochs done)", flush=True)

        def show(row):
            print(_epoch_line(row), flush=True)

        trainer.fit(max_epochs=args.stop_after, on_epoch=show)
        if trainer.epoch >= cfg.total_epochs:
            summary = trainer.finish()
            if rank0:
                which = (f"epoch {summary['selected_epoch']}, the most robust (--select best)"
                         if cfg.select == "best" else "the last epoch")
                print(f"final: natural {summary['natural']:.4f}  robust {summary['robust']:.4f} (validation, "
                      f"PGD-{cfg.eval_steps}, {which}, with its attack seed)")
                if "lp" in summary:
                    lp = summary["lp"]
                    w = " ".join(f"{v:.3f}" for v in lp["weights"])
                    print(f"LP weights [{w}]: natural {lp['natural']:.4f}  robust {lp['robust']:.4f}")
                print(f"wrote {args.out}")
        elif rank0:
            print(f"stopped after {trainer.epoch} of {cfg.total_epochs} epochs (checkpoint "
                  f"{trainer.checkpoint_path}); continue with: {_resume_command(args)}")
    finally:
        if lock is not None:
            lock.release()
        if joined:
            import torch.distributed as dist

            dist.destroy_process_group()
    return 0


def _cmd_eval(args) -> int:
    from .data import load_dataset
    from .training import mixture_from_checkpoint

    _threads(args.threads)
    _check_seed(args.seed)
    _check_positive(args.max_samples, "--max-samples")
    _check_positive(args.batch_size, "--batch-size")
    _check_report_target(_report_path(args), args.checkpoint)
    device = _device(args.device)
    if args.checkpoint is None:
        return _cmd_eval_external(args, device)
    for flag in ("members", "arch", "factory", "dataset"):
        if getattr(args, flag) is not None:
            raise ValueError(f"--{flag} describes members not trained by advgame: give it instead of a checkpoint")
    args.weights = args.weights or "trained"
    mix, cfg, state = mixture_from_checkpoint(args.checkpoint, device=device, weights=args.weights)
    data = load_dataset(cfg.dataset, args.data_root, val_size=cfg.val_size, augment=False, seed=cfg.seed)
    x, y = _test_tensors(data, args.max_samples)
    attacks = "all" if args.attacks in (None, "all") else [a.strip() for a in args.attacks.split(",") if a.strip()]
    eps = cfg.eps if args.eps is None else args.eps
    report = _evaluate_and_print(args, mix, x, y, eps, attacks,
                                 f"{args.checkpoint}: {cfg.algo}, {len(mix)} member(s) with positive weight, "
                                 f"weights {[round(float(w), 4) for w in mix.weights]} ({args.weights})")
    out = _report_path(args)
    payload = {"checkpoint": os.path.abspath(args.checkpoint), "algo": cfg.algo, "dataset": cfg.dataset,
               "weights_used": args.weights,
               "weights": [float(w) for w in (state["weights_lp"] if args.weights == "lp" else state["weights"])],
               "eps": eps,
               "norm": args.norm, "n": report.n, "accuracy": dict(report), "seconds": report.seconds,
               "skipped": report.skipped}
    payload.update(_extras(args, mix, x, y, eps, out))
    report.save_json(out, **payload)
    print(f"wrote {out}")
    return 0


def _test_tensors(data, max_samples, split="test"):
    import torch

    if max_samples is not None and max_samples < 1:
        raise ValueError(f"--max-samples must be at least 1; got {max_samples}")
    ds = getattr(data, split)
    n = len(ds) if max_samples is None else min(max_samples, len(ds))
    xs, ys = zip(*(ds[i] for i in range(n)))
    return torch.stack(xs), torch.as_tensor(ys, dtype=torch.int64)


def _extras(args, mix, x, y, eps, out):
    """--sampled and --eps-curve: printed, and returned for the JSON report."""
    extra = {}
    if args.sampled:
        from .sampled import sampled_accuracy

        s = sampled_accuracy(mix, x, y, eps, args.norm, batch_size=args.batch_size, seed=args.seed)
        print(f"deployed classifier (one member per query) under EoT APGD-CE/DLR: accuracy {s['accuracy']:.4f}, "
              f"{int(100 * s['confidence'])}% CI [{s['ci'][0]:.4f}, {s['ci'][1]:.4f}] ({s['draws']} queries per "
              f"example; exact expected accuracy at the same points {s['expected']:.4f})")
        extra["sampled"] = s
    if args.eps_curve is not None:
        from .curves import robust_accuracy_curve, write_curve_figure

        radii = _fraction_list(args.eps_curve)
        curve = robust_accuracy_curve(mix, x, y, radii, args.norm, suite=args.suite or "quick",
                                      batch_size=args.batch_size, seed=args.seed)
        stem = os.path.splitext(out)[0] + "_curve"
        for path in write_curve_figure(curve, stem):
            print(f"wrote {path}")
        extra["curve"] = curve
    return extra


def _cmd_eval_external(args, device):
    from .data import load_dataset
    from .external import external_mixture

    if args.members is None and args.factory is None:
        raise ValueError("give a checkpoint, or members not trained by advgame (--members FILES and/or --factory)")
    if args.dataset is None or args.eps is None:
        raise ValueError("--members / --factory need --dataset and --eps")
    data = load_dataset(args.dataset, args.data_root, val_size=0.1, augment=False, seed=args.seed)
    val = None
    if args.weights == "lp":
        val = _test_tensors(data, 1000, split="val")
    paths = [p.strip() for p in args.members.split(",") if p.strip()] if args.members else []
    mix, w = external_mixture(paths, arch=args.arch, factory=args.factory, weights=args.weights,
                              num_classes=data.num_classes, input_shape=data.input_shape, device=device, val=val,
                              eps=args.eps, norm=args.norm, seed=args.seed)
    x, y = _test_tensors(data, args.max_samples)
    attacks = "all" if args.attacks in (None, "all") else [a.strip() for a in args.attacks.split(",") if a.strip()]
    report = _evaluate_and_print(args, mix, x, y, args.eps, attacks,
                                 f"{len(w)} member(s) ({', '.join(paths) or args.factory}), weights "
                                 f"{[round(v, 4) for v in w]} ({args.weights or 'uniform'})")
    out = _report_path(args)
    payload = {"members": paths, "factory": args.factory, "arch": args.arch, "dataset": args.dataset,
               "weights_used": args.weights or "uniform", "weights": w}
    payload.update(_extras(args, mix, x, y, args.eps, out))
    report.save_json(out, **payload)
    print(f"wrote {out}")
    return 0


def _evaluate_and_print(args, mix, x, y, eps, attacks, header):
    """``eval``'s evaluation (progress lines on stderr unless --no-progress), its table,
    the failed sanity checks as warnings, and --save-adversarials; returns the report."""
    from .evaluate import evaluate

    n = x.shape[0]

    def progress(name, done, seconds):
        print(f"advgame eval: {name}: {done}/{n} examples, {seconds:.1f} s", file=sys.stderr, flush=True)

    report = evaluate(mix, x, y, eps, args.norm, attacks, batch_size=args.batch_size, seed=args.seed,
                      suite=args.suite, checks=args.checks, keep_adversarials=args.save_adversarials is not None,
                      progress=progress if args.progress else None)
    print(header)
    print(report.table())
    for c in report.checks:
        if not c.passed:
            print(f"warning: sanity check {c.name} failed: {c.meaning}", file=sys.stderr)
    if args.save_adversarials is not None:
        report.save_adversarials(args.save_adversarials)
        print(f"wrote {args.save_adversarials}")
    return report


def _report_path(args):
    """Where ``eval`` writes its JSON report: ``--out``, else eval.json next to the checkpoint."""
    if args.out:
        return args.out
    if args.checkpoint is None:  # members not trained by advgame
        return "eval.json"
    return os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "eval.json")


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
    if checkpoint is not None and os.path.exists(checkpoint) and os.path.exists(out) and os.path.samefile(
            out, checkpoint):
        raise ValueError(f"--out {out} is the checkpoint itself; refusing to overwrite it with the report")
    report = None
    try:
        if os.path.getsize(out) <= _REPORT_MAX_BYTES:
            with open(out, encoding="utf-8") as f:
                report = json.load(f)
    except (OSError, ValueError):
        report = None
    if not (isinstance(report, dict) and ("checkpoint" in report or "members" in report) and "accuracy" in report):
        raise ValueError(f"--out {out} exists and is not an advgame eval report; refusing to overwrite it "
                         "(remove it or choose another --out)")


def run(args) -> int:
    """Execute parsed ``train`` / ``eval`` arguments; errors: one line on stderr, status 1;
    Ctrl-C: one line, status 130."""
    try:
        return args.advgame_run(args)
    except BrokenPipeError:
        raise  # advgame.cli.main ends quietly (exit status 141)
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
