"""The ``advgame`` command line.

Subcommands
-----------
``advgame solve [GAME.npz | --example NAME] [--method lp|oracle|entropic] [--json]``
    Solve a saved game (or a built-in example) and print the weights, the value, the
    duality gap, the deterministic baseline and the time.
``advgame example NAME --out FILE.npz [--seed S]``
    Write a built-in example game.
``advgame gaussians [--eps ...] [--n N] [--classifiers L] [--attacks M] [--seed S] [--out DIR] [--quick]``
    MNE21's synthetic experiment (Sec. 5.1, Figure 2; :mod:`advgame.experiments.mne21`):
    a table, ``results.json`` and four figures (the three panels and Figure 2 itself,
    PNG and PDF).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ._validation import check_scalar, norm_exponent

__all__ = ["main"]


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


def _build_parser() -> argparse.ArgumentParser:
    from .examples import EXAMPLES

    p = argparse.ArgumentParser(prog="advgame", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="solve a game and print its certificate")
    s.add_argument("game", nargs="?", help="a .npz written by Game.save or 'advgame example'")
    s.add_argument("--example", choices=sorted(EXAMPLES), help="solve a built-in example instead")
    s.add_argument("--method", choices=["lp", "oracle", "entropic"], default="lp")
    s.add_argument("--steps", type=_POSITIVE_INT, help="iterations (oracle, entropic)")
    s.add_argument("--alpha", type=_POSITIVE_REAL, help="entropic temperature")
    s.add_argument("--tol", type=_POSITIVE_REAL, help="duality-gap tolerance")
    s.add_argument("--json", action="store_true", help="print the result as JSON")

    gs = sub.add_parser("gaussians", help="MNE21's synthetic experiment: table, results.json, figures")
    gs.add_argument("--eps", type=_POSITIVE_REAL, nargs="+", help="budgets (default 0.5 1 ... 4; quick: 1 2 3)")
    gs.add_argument("--n", type=_POSITIVE_INT, help="training points (default 1000; quick 300)")
    gs.add_argument("--test", type=_POSITIVE_INT, help="fresh test points (default: as --n)")
    gs.add_argument("--classifiers", type=_POSITIVE_INT, default=10, help="random linear classifiers (10)")
    gs.add_argument("--attacks", type=_POSITIVE_INT, help="candidate attacks per point (default 1000; quick 200)")
    gs.add_argument("--norm", choices=["2", "inf", "1", "l2", "linf", "l1"], default="2",
                    help="the ball's norm (2 = l2)")
    gs.add_argument("--seed", type=_SEED, default=0)
    gs.add_argument("--out", default="results/gaussians", help="output folder (results/gaussians)")
    gs.add_argument("--quick", action="store_true", help="a small run (under 30 s)")
    gs.add_argument("--no-progress", action="store_true", help="no progress bar")

    e = sub.add_parser("example", help="write a built-in example game to a .npz file")
    e.add_argument("name", choices=sorted(EXAMPLES))
    e.add_argument("--out", required=True, help="output .npz path")
    e.add_argument("--seed", type=_SEED, default=None)
    return p


def _cmd_solve(args) -> int:
    from .examples import make_example
    from .game import Game
    from .solvers import solve

    if args.game and args.example:
        print("advgame solve: give a GAME file or --example, not both", file=sys.stderr)
        return 2
    if args.game:
        game = Game.load(args.game)
        source = args.game
    else:
        name = args.example or "motivating"
        game = make_example(name)
        source = f"built-in example '{name}'"
    opts = {}
    if args.method != "lp" and args.steps is not None:
        opts["steps"] = args.steps
    if args.method == "entropic" and args.alpha is not None:
        opts["alpha"] = args.alpha
    if args.tol is not None:
        opts["tol"] = args.tol
    res = solve(game, method=args.method, **opts)
    k, base = game.best_classifier()
    if args.json:
        out = res.to_dict()
        out.pop("history", None)
        out["game"] = {"source": source, "shape": list(game.shape), "bound": game.bound}
        out["deterministic"] = {"classifier": int(k), "risk": base}
        print(json.dumps(out, indent=2))
        return 0
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
    return 0


def _cmd_example(args) -> int:
    from .examples import make_example

    game = make_example(args.name, seed=args.seed)
    game.save(args.out)
    N, m, L = game.shape
    print(f"wrote {args.out}: example '{args.name}' (N={N}, m={m}, L={L})")
    return 0


def _cmd_gaussians(args) -> int:
    from pathlib import Path

    from .experiments.mne21 import DEFAULT_EPS, format_table, gaussian_figures, run_gaussians, write_json

    quick = args.quick
    eps = args.eps or ((1.0, 2.0, 3.0) if quick else DEFAULT_EPS)
    n = args.n or (300 if quick else 1000)
    m = args.attacks or (200 if quick else 1000)
    res = run_gaussians(eps=eps, n_samples=n, n_classifiers=args.classifiers, n_attacks=m, n_test=args.test,
                        norm=norm_exponent(args.norm), seed=args.seed, convergence_eps="auto",
                        oracle_steps=500 if quick else 2000, entropic_steps=150 if quick else 300,
                        progress=not args.no_progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(res, out / "results.json")
    figures = gaussian_figures(res, out)
    print(f"MNE21 synthetic experiment: N={n} points, L={args.classifiers} linear classifiers, m={m} attacks "
          f"(L{args.norm.lstrip('lL')} ball), seed {args.seed}")
    print(format_table(res))
    print("determ. = best single classifier; random. = optimal mixture (exact LP); 'any clf >=' = the smallest")
    print("adversarial risk any classifier reaches on the training points; gap = certified duality gap.")
    print(f"wrote {out / 'results.json'} and {', '.join(figures)} in {res['setup']['seconds']:.1f} s")
    return 0


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "solve":
            return _cmd_solve(args)
        if args.command == "example":
            return _cmd_example(args)
        if args.command == "gaussians":
            return _cmd_gaussians(args)
    except (ValueError, TypeError, OSError) as e:
        print(f"advgame {args.command}: error: {e}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2
