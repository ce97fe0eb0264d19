"""The solvers of the empirical game and their dispatcher :func:`solve`."""

from __future__ import annotations

import difflib
import functools
import inspect
import sys

from .._validation import check_bool, check_choice
from ..game import Game

__all__ = ["solve", "METHODS"]

METHODS = ("lp", "oracle", "entropic")

#: Deprecated spellings of options (accepted, with a DeprecationWarning, by the methods
#: whose signature has them) and the names that replace them.
_DEPRECATED = {"steps": "max_iter", "max_rounds": "max_iter", "alpha": "temperature"}


def _solver(method):
    """The function that solves ``method`` (imported on first use)."""
    if method == "lp":
        from .lp import solve_lp

        return solve_lp
    if method == "oracle":
        from .oracle import solve_oracle

        return solve_oracle
    from .entropic import solve_entropic

    return solve_entropic


@functools.lru_cache(maxsize=None)
def _own_options(method) -> tuple:
    """The keywords of ``method``'s solver function (deprecated spellings included)."""
    return tuple(p.name for p in inspect.signature(_solver(method)).parameters.values()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "game")


def _options(method) -> tuple:
    """Every keyword ``solve(game, method=method, ...)`` takes: the solver's own
    parameters (deprecated spellings included) and ``verbose``."""
    names = _own_options(method)
    return names if "verbose" in names else names + ("verbose",)


def _unknown_options_error(method, unknown, accepted) -> TypeError:
    """The TypeError for options ``unknown`` that ``method`` does not take: for each,
    the method that takes it, or the closest accepted name; then what ``method`` accepts."""
    current = [n for n in accepted if n not in _DEPRECATED]
    # near misses of a deprecated spelling point to its replacement, when this method has it
    pool = {n: n for n in current}
    pool.update({old: new for old, new in _DEPRECATED.items() if new in current})
    notes = []
    for name in unknown:
        others = [m for m in METHODS if m != method and name in _options(m)]
        if name in _DEPRECATED and _DEPRECATED[name] in current:  # another method's old spelling
            notes.append(f"{name!r} (did you mean {_DEPRECATED[name]!r}?)")
        elif others:
            notes.append(f"{name!r} (an option of {' and '.join(f'method={m!r}' for m in others)})")
        else:
            close = difflib.get_close_matches(name, list(pool), n=1, cutoff=0.6)
            elsewhere = [(n, m) for m in METHODS if m != method for n in _options(m)
                         if n not in _DEPRECATED and n not in current]
            near = difflib.get_close_matches(name, [n for n, _ in elsewhere], n=1, cutoff=0.6)
            if close:
                notes.append(f"{name!r} (did you mean {pool[close[0]]!r}?)")
            elif near:
                owner = next(m for n, m in elsewhere if n == near[0])
                notes.append(f"{name!r} (did you mean {near[0]!r}, an option of method={owner!r}?)")
            else:
                notes.append(repr(name))
    word = "argument" if len(unknown) == 1 else "arguments"
    return TypeError(f"solve(method={method!r}) got an unexpected keyword {word} {', '.join(notes)}; "
                     f"method={method!r} accepts: {', '.join(current)}")


def _summary(res) -> str:
    """The one line ``verbose=True`` prints when a solve ends."""
    words = [f"solve(method={res.method!r}): {res.status}", f"nit={res.nit}"]
    if "rows" in res.info:
        words.append(f"rows={res.info['rows']}" + (f" of {res.info['rows_total']}" if "rows_total" in res.info
                                                   else ""))
    words += [f"value={res.value:.10g}", f"gap={res.gap:.3e}", f"time={res.time:.3g} s"]
    return ", ".join(words)


def solve(game, method: str = "lp", **options):
    """Solve the empirical adversarial game.

    Parameters
    ----------
    game : Game
        The game (numpy or torch).
    method : {"lp", "oracle", "entropic"}
        ``"lp"``: the exact linear program (:func:`advgame.solvers.lp.solve_lp`).
        ``"oracle"``: MNE21 Algorithm 1, projected subgradient with an attack oracle
        (:func:`advgame.solvers.oracle.solve_oracle`).
        ``"entropic"``: accelerated projected gradient on the entropic objective,
        MNE21 Eq. 7 (:func:`advgame.solvers.entropic.solve_entropic`).
    verbose : bool, optional
        Report progress on stderr (default False: print nothing).  The first-order
        methods show a tqdm progress bar over the ``max_iter`` iterations with the
        current certified duality gap; every method prints one summary line when the
        solve ends (status, iterations, LP rows for the LP, value, gap, time).  The
        result is the same with and without it.
    **options
        Passed to the method; see its documentation.

    Returns
    -------
    Result

    Raises
    ------
    TypeError
        For an option the method does not take, naming it, the closest accepted name
        (or the method that takes it) and the options the method accepts.
    """
    if not isinstance(game, Game):
        raise TypeError(f"game must be an advgame.Game; got {type(game).__name__}")
    check_choice("method", method, METHODS)
    accepted = _options(method)
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise _unknown_options_error(method, unknown, accepted)
    verbose = check_bool("verbose", options.get("verbose", False))
    solver = _solver(method)
    if "verbose" not in _own_options(method):  # the dispatcher's summary line is all it shows
        options.pop("verbose", None)
    res = solver(game, **options)
    if verbose:
        print(_summary(res), file=sys.stderr, flush=True)
    return res
