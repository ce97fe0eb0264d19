"""The advgame command line: solve adversarial examples games (MNE21, RM20).

Subcommands:

  advgame solve GAME.npz | --example NAME  [--method lp|oracle|entropic] [--json]
      Solve a saved game (or a named built-in example) and print the weights, the
      value, the certified duality gap, the deterministic baseline and the time.
  advgame example NAME --out FILE.npz [--seed S]
      Write a built-in example game.
  advgame gaussians [--quick] [--convergence] [--eps ...] [--n N] [--classifiers L] ...
      MNE21's synthetic experiment (Sec. 5.1, Figure 2; advgame.experiments.mne21):
      a table, results.json and figures (PNG and PDF): the mixture, risk against eps
      and Figure 2; --convergence adds the first-order solvers' convergence panel.
  advgame train --algo mixture|bat|at|trades --dataset cifar10|cifar100|digits --out DIR ...
      Train a robust mixture (needs torch; docs/training.md).
  advgame eval CHECKPOINT [--attacks ...]
      Worst-case evaluation of a trained mixture on the test split (needs torch).
  advgame study STUDY.toml [--out DIR] [--workers N]
      Train and evaluate every (method, eps, seed) cell of a study; a report with means,
      spreads and paired differences (needs torch; docs/studies.md).

The full reference, with the exit codes, is docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from ._validation import check_scalar, norm_exponent

__all__ = ["main", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_NOT_CONVERGED", "EXIT_INTERRUPTED",
           "EXIT_BROKEN_PIPE"]

#: Exit codes of ``advgame`` (listed in ``advgame --help`` and docs/cli.md).
EXIT_OK = 0
#: An input, file or value error (one line on standard error).
EXIT_ERROR = 1
#: A command-line usage error (argparse: unknown option, bad value, option not for the method).
EXIT_USAGE = 2
#: ``solve``: the solver stopped before its tolerance was certified (status other than
#: ``optimal`` / ``steps_completed``); the result is still printed.
EXIT_NOT_CONVERGED = 3
#: Interrupted (Ctrl-C).
EXIT_INTERRUPTED = 130
#: Standard output was closed by its reader (``advgame solve --json | head``): the
#: command stops quietly, with the status of a Unix tool ended by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141

_EPILOG = f"""\
exit codes:
  {EXIT_OK}    success
  {EXIT_ERROR}    error in the input (unreadable file, invalid game, ...): one line on stderr
  {EXIT_USAGE}    usage error (unknown option, bad value, option that does not apply to --method)
  {EXIT_NOT_CONVERGED}    solve: the tolerance was not reached (status max_steps, time_limit,
       optimal_inaccurate or solver_error); the result is printed all the same
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
  {EXIT_BROKEN_PIPE}  standard output closed by its reader (e.g. '| head'): stopped quietly

Reference: docs/cli.md."""

#: Options of ``solve`` and the methods they apply to (the rest are refused).
_METHOD_OPTIONS = {
    "max_iter": ("lp", "oracle", "entropic"),
    "temperature": ("entropic",),
    "step_size": ("oracle",),
    "tol": ("lp", "oracle", "entropic"),
    "time_limit": ("lp", "oracle", "entropic"),
}
#: The solvers' defaults, shown in ``advgame solve --help``.
_DEFAULT_MAX_ITER = {"lp": 100, "oracle": 1000, "entropic": 500}


def _number(kind, **bounds):
    """An argparse ``type``: the string parsed as ``int`` or ``float``, then checked by
    :func:`advgame._validation.check_scalar` (``bounds``: ``lo``, ``lo_open``, ...)."""
    what = "an integer" if kind == "int" else "a number"

    def parse(text):
        try:
            value = int(text) if kind == "int" else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return check_scalar("the value", value, kind, **bounds)
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = f"{kind}_argument"  # argparse names the type in its messages
    return parse


_POSITIVE_REAL = _number("real", lo=0, lo_open=True)
_POSITIVE_INT = _number("int", lo=1)
_SEED = _number("int", lo=0)


def _version() -> str:
    from . import __version__

    return f"advgame {__version__}"


def _build_parser() -> argparse.ArgumentParser:
    from .examples import EXAMPLES

    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="advgame", description=__doc__.split("\n\nThe full")[0], epilog=_EPILOG,
                                formatter_class=fmt)
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in _TORCH_COMMANDS.items():  # listed here, parsed by advgame.torch.commands (needs torch)
        sub.add_parser(name, help=text + "; see 'advgame " + name + " --help'", add_help=False)

    s = sub.add_parser("solve", help="solve a game and print its certificate", epilog=_EPILOG, formatter_class=fmt,
                       description="Solve a saved game (or a named built-in example) and print its certificate.")
    s.add_argument("game", nargs="?", help="a .npz written by Game.save or 'advgame example' "
                                           "(required unless --example is given)")
    s.add_argument("--example", choices=sorted(EXAMPLES), help="solve this built-in example instead of a file")
    s.add_argument("--method", choices=["lp", "oracle", "entropic"], default="lp",
                   help="lp: the exact linear program; oracle: MNE21 Algorithm 1; entropic: FISTA on MNE21 "
                        "Eq. 7 (default: lp)")
    s.add_argument("--max-iter", type=_POSITIVE_INT, dest="max_iter",
                   help="iteration limit (default: "
                        f"{_DEFAULT_MAX_ITER['lp']} constraint-generation rounds for lp (1000 for its 'cuts' strategy), "
                        f"{_DEFAULT_MAX_ITER['oracle']} for oracle, {_DEFAULT_MAX_ITER['entropic']} for entropic)")
    s.add_argument("--steps", type=_POSITIVE_INT, dest="steps", help=argparse.SUPPRESS)  # deprecated --max-iter
    s.add_argument("--temperature", type=_POSITIVE_REAL, dest="temperature",
                   help="entropic only: the temperature alpha of MNE21 Eq. 7 (default: 1e-3 * M, M the game's "
                        "loss bound); the answer is biased by at most temperature * log(m)")
    s.add_argument("--alpha", type=_POSITIVE_REAL, dest="alpha", help=argparse.SUPPRESS)  # deprecated --temperature
    s.add_argument("--step-size", type=_POSITIVE_REAL, dest="step_size",
                   help="oracle only: the step eta of MNE21 Alg. 1 (default: 2 / (M sqrt(L T)))")
    s.add_argument("--tol", type=_POSITIVE_REAL,
                   help="certified duality gap to reach (default: lp 1e-9 times the largest loss; oracle and entropic: "
                        "none, run --max-iter iterations)")
    s.add_argument("--time-limit", type=_POSITIVE_REAL, dest="time_limit",
                   help="seconds before the solver stops (default: none)")
    s.add_argument("--json", action="store_true", help="print the result as JSON (default: text)")
    s.add_argument("--history", action="store_true",
                   help="with --json: include the per-iteration histories (history and the *_history lists "
                        "of info); default: no histories")

    gs = sub.add_parser("gaussians", help="MNE21's synthetic experiment: table, results.json, figures",
                        epilog=_EPILOG, formatter_class=fmt,
                        description="MNE21's synthetic experiment (Sec. 5.1, Figure 2). A run refuses to write "
                                    "into a folder holding a run of other settings unless --force is given.")
    gs.add_argument("--eps", type=_POSITIVE_REAL, nargs="+",
                    help="budgets (default: 0.5 1 ... 4; with --quick: 1 2 3)")
    gs.add_argument("--n", type=_POSITIVE_INT, help="training points (default: 1000; with --quick: 300)")
    gs.add_argument("--test", type=_POSITIVE_INT, help="fresh test points (default: as --n)")
    gs.add_argument("--classifiers", type=_POSITIVE_INT, default=10, help="random linear classifiers (default: 10)")
    gs.add_argument("--attacks", type=_POSITIVE_INT,
                    help="candidate attacks per point (default: 1000; with --quick: 200)")
    gs.add_argument("--norm", choices=["2", "inf", "1", "l2", "linf", "l1"], default="2",
                    help="the ball's norm (2 = l2; default: 2)")
    gs.add_argument("--seed", type=_SEED, default=0, help="seed of the whole instance (default: 0)")
    gs.add_argument("--out", help="output folder (default: results/gaussians; with --quick: results/gaussians-quick)")
    gs.add_argument("--quick", action="store_true", help="a small run (default: off)")
    gs.add_argument("--convergence", action="store_true",
                    help="also run Algorithm 1 and the entropic method (three temperatures) at one budget and draw "
                         "their convergence: the full Figure 2 (its middle panel); most of the run's time "
                         "(default: off: the exact solves only)")
    gs.add_argument("--no-convergence", action="store_true", dest="no_convergence",
                    help=argparse.SUPPRESS)  # the default since the convergence runs became --convergence
    gs.add_argument("--force", action="store_true", help="overwrite a run of other settings in --out (default: off)")
    gs.add_argument("--no-progress", action="store_true", help="no progress bar (default: a bar on stderr)")

    e = sub.add_parser("example", help="write a built-in example game to a .npz file", epilog=_EPILOG,
                       formatter_class=fmt)
    e.add_argument("name", choices=sorted(EXAMPLES), help="the example")
    e.add_argument("--out", required=True, help="output .npz path")
    e.add_argument("--seed", type=_SEED, default=None, help="seed of the random examples (default: 0)")
    return p


# ----------------------------------------------------------------------- solve
def _usage_error(command, message) -> int:
    print(f"advgame {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _merge_alias(args, new, old, flag_new, flag_old):
    """The value of ``--new``, or of its deprecated alias ``--old`` (with a one-line note)."""
    value, legacy = getattr(args, new), getattr(args, old)
    if legacy is None:
        return value
    if value is not None:
        raise ValueError(f"give {flag_new} or its deprecated alias {flag_old}, not both")
    print(f"advgame solve: note: {flag_old} is deprecated; use {flag_new}", file=sys.stderr)
    return legacy


def _solver_options(method, args) -> dict:
    """The keyword arguments of ``advgame.solve(game, method=method, ...)`` from the options.

    Refuses (ValueError, one line) an option that does not apply to ``method``.
    """
    given = {
        "max_iter": _merge_alias(args, "max_iter", "steps", "--max-iter", "--steps"),
        "temperature": _merge_alias(args, "temperature", "alpha", "--temperature", "--alpha"),
        "step_size": args.step_size,
        "tol": args.tol,
        "time_limit": args.time_limit,
    }
    given = {k: v for k, v in given.items() if v is not None}
    for name in given:
        if method not in _METHOD_OPTIONS[name]:
            ok = ", ".join(_METHOD_OPTIONS[name])
            raise ValueError(f"--{name.replace('_', '-')} does not apply to --method {method} (only to {ok})")
    return given


def _warning_line(method, res, opts) -> str:
    """One line saying why the solver stopped short, in terms of the command's options."""
    from .result import MAX_STEPS, TIME_LIMIT

    gap = f"certified duality gap {res.gap:.3e}"
    tol = opts.get("tol")
    if res.status == MAX_STEPS:
        advice = "raise --max-iter or loosen --tol"
        if method == "entropic":
            advice += " (or lower --temperature: its bias is at most temperature * log(m))"
        limit = f"--tol {tol:g}" if tol is not None else "the default tolerance"
        what = "constraint-generation rounds" if method == "lp" else "iterations"
        return f"--method {method} stopped after {res.nit} {what} with {gap} > {limit}; {advice}"
    if res.status == TIME_LIMIT:
        return f"--method {method} hit --time-limit after {res.nit} iterations with {gap}; raise --time-limit"
    return f"--method {method} ended with status {res.status}: {' '.join(str(res.message).split())}"


def _json_result(res, history: bool) -> dict:
    """``res.to_dict()`` with no histories unless ``history`` (one rule for every method)."""
    out = res.to_dict()
    if not history:
        out.pop("history", None)
        out["info"] = {k: v for k, v in out.get("info", {}).items() if not k.endswith("history")}
    return out


def _cmd_solve(args) -> int:
    from .examples import make_example
    from .game import Game
    from .result import SolverWarning
    from .solvers import solve

    if args.game and args.example:
        return _usage_error("solve", "give a GAME file or --example NAME, not both")
    if not args.game and not args.example:
        return _usage_error("solve", "give a GAME file (.npz) or --example NAME (see advgame solve --help)")
    if args.history and not args.json:
        return _usage_error("solve", "--history applies to --json output only")
    try:
        opts = _solver_options(args.method, args)
    except ValueError as err:
        return _usage_error("solve", str(err))
    if args.game:
        game = Game.load(args.game)
        source = args.game
    else:
        game = make_example(args.example)
        source = f"built-in example '{args.example}'"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SolverWarning)
        res = solve(game, method=args.method, **opts)
    for w in caught:  # other warnings go on to the user's filters
        if not issubclass(w.category, SolverWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    code = EXIT_OK if res.success else EXIT_NOT_CONVERGED
    if not res.success or any(issubclass(w.category, SolverWarning) for w in caught):
        print(f"advgame solve: warning: {_warning_line(args.method, res, args.__dict__)}", file=sys.stderr)
    k, base = game.best_classifier()
    if args.json:
        out = _json_result(res, args.history)
        out["game"] = {"source": source, "shape": list(game.shape), "bound": game.bound}
        out["deterministic"] = {"classifier": int(k), "risk": base}
        out["exit_code"] = code
        print(json.dumps(out, indent=2))
        return code
    w = np.asarray(res.weights)
    N, m, L = game.shape
    print(f"game: {source}  (N={N} samples, m={m} attacks, L={L} classifiers, M={game.bound:g})")
    print(f"method: {res.method}   status: {res.status}   ({res.message})")
    print("weights: " + " ".join(f"{x:.4f}" for x in w))
    print(f"randomized adversarial risk  R(weights) = {res.value:.10f}")
    print(f"adversary's certificate      D(Q)       = {res.lower_bound:.10f}")
    print(f"duality gap                             = {res.gap:.3e}")
    print(f"best deterministic classifier k={k}: risk = {base:.10f}  (randomization gains {base - res.value:.6f})")
    print(f"time: {res.time:.4f} s, iterations: {res.nit}")
    return code


def _cmd_example(args) -> int:
    from .examples import make_example

    game = make_example(args.name, seed=args.seed)
    game.save(args.out)
    N, m, L = game.shape
    print(f"wrote {args.out}: example '{args.name}' (N={N}, m={m}, L={L})")
    return EXIT_OK


# ------------------------------------------------------------------- gaussians
#: Settings that make two ``gaussians`` runs the same experiment (``setup`` of results.json).
_RUN_SETTINGS = ("eps", "n_samples", "n_classifiers", "n_attacks", "n_test", "norm", "seed", "convergence",
                 "oracle_steps", "entropic_steps")


def _check_out_folder(out: Path, settings: dict, force: bool) -> None:
    """Refuse (ValueError) to overwrite a run of other settings in ``out`` unless ``force``."""
    old_file = out / "results.json"
    if force or not old_file.exists():
        return
    try:
        old = json.loads(old_file.read_text()).get("setup", {})
    except (ValueError, AttributeError):
        old = {}
    differ = [k for k in _RUN_SETTINGS if old.get(k) != settings[k]]
    if differ:
        was = ", ".join(f"{k}={old.get(k)!r} (now {settings[k]!r})" for k in differ)
        raise ValueError(f"{out} holds a run of other settings: {was}; use another --out or --force to overwrite")


def _cmd_gaussians(args) -> int:
    from ._validation import check_norm
    from .experiments.mne21 import DEFAULT_EPS, format_table, gaussian_figures, run_gaussians, write_json

    quick = args.quick
    if args.convergence and args.no_convergence:
        return _usage_error("gaussians", "give --convergence or --no-convergence, not both")
    convergence = args.convergence
    eps = [float(e) for e in (args.eps or ((1.0, 2.0, 3.0) if quick else DEFAULT_EPS))]
    n = args.n or (300 if quick else 1000)
    m = args.attacks or (200 if quick else 1000)
    p = norm_exponent(args.norm)
    kwargs = dict(eps=eps, n_samples=n, n_classifiers=args.classifiers, n_attacks=m, n_test=args.test or n,
                  norm=p, seed=args.seed, convergence_eps="auto" if convergence else None,
                  oracle_steps=500 if quick else 2000, entropic_steps=150 if quick else 300)
    settings = {k: kwargs.get(k) for k in _RUN_SETTINGS}
    settings.update(norm=check_norm(p), convergence=convergence)
    out = Path(args.out or ("results/gaussians-quick" if quick else "results/gaussians"))
    _check_out_folder(out, settings, args.force)
    res = run_gaussians(progress=not args.no_progress, **kwargs)
    out.mkdir(parents=True, exist_ok=True)
    write_json(res, out / "results.json")
    figures = gaussian_figures(res, out)
    print(f"MNE21 synthetic experiment: N={n} points, L={args.classifiers} linear classifiers, m={m} attacks "
          f"({check_norm(p)} ball), seed {args.seed}")
    print(format_table(res))
    print("determ. = best single classifier; random. = optimal mixture (exact LP); 'any clf >=' = the smallest")
    print("adversarial risk any classifier reaches on the training points; gap = certified duality gap as")
    print("computed (results.json); never below 0.")
    if not convergence:
        print("(the convergence runs of Algorithm 1 and the entropic method, Figure 2's middle panel: add "
              "--convergence)")
    print(f"wrote {out / 'results.json'} and {', '.join(figures)} in {res['setup']['seconds']:.1f} s")
    return EXIT_OK


#: Commands of the torch side: ``main`` hands them to :mod:`advgame.torch.commands`, so
#: the other commands never import torch.
_TORCH_COMMANDS = {
    "train": "train a robust mixture (MNE21 Alg. 2, RM20 BAT, AT, TRADES)",
    "eval": "worst-case evaluation of a training checkpoint on the test split",
    "study": "train and evaluate every (method, eps, seed) cell of a study file and report",
}


def main(argv=None) -> int:
    """``advgame ...``: run one command; returns its exit code.

    A closed standard output (``advgame solve --json | head``) ends the command quietly
    with :data:`EXIT_BROKEN_PIPE`, as Unix tools do."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _broken_pipe()


def _broken_pipe() -> int:
    """Point standard output at /dev/null (so that Python's final flush stays quiet)
    and return :data:`EXIT_BROKEN_PIPE`."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (e.g. captured)
        pass
    return EXIT_BROKEN_PIPE


def _main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _TORCH_COMMANDS:
        try:
            from .torch.commands import main as torch_main
        except ImportError as e:
            print(f"advgame {argv[0]}: error: needs torch ({e}); install it with pip install 'advgame[torch]'",
                  file=sys.stderr)
            return 1
        return torch_main(argv)
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "solve":
            return _cmd_solve(args)
        if args.command == "example":
            return _cmd_example(args)
        if args.command == "gaussians":
            return _cmd_gaussians(args)
    except BrokenPipeError:
        raise  # main() ends quietly
    except (ValueError, TypeError, OSError) as e:
        message = " ".join(str(e).split()) or type(e).__name__  # always one line
        print(f"advgame {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"advgame {args.command}: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return 2
