"""The solvers of the empirical game and their dispatcher :func:`solve`."""

from __future__ import annotations

from .._validation import check_choice
from ..game import Game

__all__ = ["solve", "METHODS"]

METHODS = ("lp", "oracle", "entropic")


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
    **options
        Passed to the method; see its documentation.

    Returns
    -------
    Result
    """
    if not isinstance(game, Game):
        raise TypeError(f"game must be an advgame.Game; got {type(game).__name__}")
    check_choice("method", method, METHODS)
    if method == "lp":
        from .lp import solve_lp

        return solve_lp(game, **options)
    if method == "oracle":
        from .oracle import solve_oracle

        return solve_oracle(game, **options)
    from .entropic import solve_entropic

    return solve_entropic(game, **options)
