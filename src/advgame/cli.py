"""The ``advgame`` command line.

Subcommands
-----------
``advgame solve [GAME.npz | --example NAME] [--method lp|oracle|entropic] [--json]``
    Solve a saved game (or a built-in example) and print the weights, the value, the
    duality gap, the deterministic baseline and the time.
``advgame example NAME --out FILE.npz [--seed S]``
    Write a built-in example game.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

__all__ = ["main"]


def _positive_float(s):
    v = float(s)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {s}")
    return v


def _positive_int(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s}")
    return v


def _build_parser() -> argparse.ArgumentParser:
    from .examples import EXAMPLES

    p = argparse.ArgumentParser(prog="advgame", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="solve a game and print its certificate")
    s.add_argument("game", nargs="?", help="a .npz written by Game.save or 'advgame example'")
    s.add_argument("--example", choices=sorted(EXAMPLES), help="solve a built-in example instead")
    s.add_argument("--method", choices=["lp", "oracle", "entropic"], default="lp")
    s.add_argument("--steps", type=_positive_int, help="iterations (oracle, entropic)")
    s.add_argument("--alpha", type=_positive_float, help="entropic temperature")
    s.add_argument("--tol", type=_positive_float, help="duality-gap tolerance")
    s.add_argument("--json", action="store_true", help="print the result as JSON")

    e = sub.add_parser("example", help="write a built-in example game to a .npz file")
    e.add_argument("name", choices=sorted(EXAMPLES))
    e.add_argument("--out", required=True, help="output .npz path")
    e.add_argument("--seed", type=int, default=None)
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


def main(argv=None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "solve":
            return _cmd_solve(args)
        if args.command == "example":
            return _cmd_example(args)
    except (ValueError, TypeError, OSError) as e:
        print(f"advgame {args.command}: error: {e}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2
