"""Random game strategies shared by the tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import advgame


@st.composite
def game_params(draw, max_n=8, max_m=6, max_l=5, kinds=("binary", "real")):
    return dict(
        n=draw(st.integers(1, max_n)),
        m=draw(st.integers(1, max_m)),
        L=draw(st.integers(1, max_l)),
        kind=draw(st.sampled_from(kinds)),
        seed=draw(st.integers(0, 2**32 - 1)),
        masked=draw(st.booleans()),
        weighted=draw(st.booleans()),
    )


def make_arrays(n, m, L, kind, seed, masked, weighted):
    """numpy (losses, mask, sample_weights) for a random game."""
    rng = np.random.default_rng(seed)
    if kind == "binary":
        losses = (rng.random((n, m, L)) < 0.4).astype(np.float64)
    else:
        losses = np.round(rng.random((n, m, L)), 3)
    mask = None
    if masked:
        mask = rng.random((n, m)) < 0.7
        mask[np.arange(n), rng.integers(0, m, n)] = True
    sw = rng.random(n) + 0.05 if weighted else None
    return losses, mask, sw


def make_game(params, nx=None):
    losses, mask, sw = make_arrays(**params)
    if nx is not None:
        return advgame.Game(nx(losses), mask=nx(mask), sample_weights=nx(sw))
    return advgame.Game(losses, mask=mask, sample_weights=sw)
