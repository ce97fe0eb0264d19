"""Built-in example games."""

from __future__ import annotations

import numpy as np
import pytest

import advgame
from advgame.examples import make_example, random_game


def test_random_game_is_seeded_and_shaped():
    a = random_game(10, 4, 3, kind="binary", seed=7)
    b = random_game(10, 4, 3, kind="binary", seed=7)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert a.shape == (10, 4, 3) and a.is_binary
    # the clean attack (index 0) is no worse than any other attack
    assert np.all(a.losses[:, :1] <= a.losses)
    r = random_game(10, 4, 3, kind="real", seed=np.random.default_rng(1), mask_fraction=0.5, weighted=True)
    assert not r.is_binary and r.mask[:, 0].all()


def test_random_game_bad_arguments():
    with pytest.raises(ValueError, match="n_samples must lie in"):
        random_game(0)
    with pytest.raises(ValueError, match="kind must be one of"):
        random_game(kind="ternary")
    with pytest.raises(ValueError, match="p must lie in"):
        random_game(p=2)
    with pytest.raises(ValueError, match="mask_fraction must lie in"):
        random_game(mask_fraction=1)
    with pytest.raises(ValueError, match="name must be one of"):
        make_example("nope")


def test_motivating_game_solution():
    res = advgame.solve(make_example("motivating"))
    assert res.value == pytest.approx(0.75)
    assert res.gap <= 1e-12
