"""advgame.Result behaves like scipy's OptimizeResult (issue 12, Results)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping

import numpy as np
import pytest

import advgame
from advgame import Result

#: info entries each method must expose as attributes, keys and dir() entries
EXTRAS = {
    "lp": ("solver", "strategy", "rows", "rows_total"),
    "oracle": ("bound", "bound_run", "step_size", "gap_history"),
    "entropic": ("regularized_value", "bias_bound", "temperature", "lipschitz"),
}
FIELDS = ["method", "status", "success", "message", "value", "lower_bound", "gap", "weights", "adversary",
          "adversary_losses", "nit", "time", "history"]


def _solve(method, game=None, **kw):
    game = advgame.examples.random_game(12, 4, 3, kind="real", seed=3) if game is None else game
    if method != "lp":
        kw.setdefault("max_iter", 40)
    return advgame.solve(game, method=method, **kw)


@pytest.mark.parametrize("method", sorted(EXTRAS))
def test_info_entries_are_listed_by_dir_and_keys(method):
    res = _solve(method)
    names = dir(res)
    for k in EXTRAS[method]:
        assert k in res.info
        assert k in names  # tab completion offers it
        assert k in res and k in res.keys()
        assert getattr(res, k) is res.info[k] and res[k] is res.info[k]
    for k in ("x", "fun", "success", "keys", "to_dict", "weights", "info"):
        assert k in names
    assert names == sorted(names)


@pytest.mark.parametrize("method", sorted(EXTRAS))
def test_mapping_access(method):
    res = _solve(method)
    assert isinstance(res, Mapping)
    keys = list(res.keys())
    assert keys[: len(FIELDS)] == FIELDS
    assert keys[len(FIELDS):] == list(res.info)
    assert len(res) == len(keys) == len(set(keys))
    assert res["weights"] is res.weights and res["gap"] == res.gap and res["success"] is res.success
    assert res["info"] is res.info and "info" not in res  # readable as an item, not an entry (not in keys())
    assert "gap" in res and "no_such_entry" not in res and 0 not in res
    other = {"lp": "bound", "oracle": "regularized_value", "entropic": "rows"}[method]
    assert other not in res and res.get(other) is None
    with pytest.raises(KeyError):
        res["no_such_entry"]
    with pytest.raises(KeyError):
        res[0]
    d = dict(res)
    assert list(d) == keys and d["value"] == res.value
    assert dict(res.items())["nit"] == res.nit
    assert not hasattr(res, "no_such_entry")


def test_aliases_x_and_fun():
    res = _solve("oracle")
    assert res.x is res.weights and res["x"] is res.weights
    assert res.fun == res.value and res["fun"] == res.value
    assert "x" not in res.keys() and "fun" not in res.keys()  # no duplicates when iterating


@pytest.mark.parametrize("method", ["lp", "oracle", "entropic"])
def test_in_agrees_with_keys(method):
    """Issue 16: ``"x" in result`` was True while ``x`` was not in ``keys()``."""
    res = _solve(method)
    for key in ("x", "fun", "info", "weights", "gap", "no_such_entry", *res.info):
        assert (key in res) == (key in res.keys()), key
    assert "x" not in res and "fun" not in res and "weights" in res


def test_info_entry_named_like_a_field_does_not_shadow_it():
    res = Result(weights=np.array([1.0]), value=0.5, adversary=None, gap=0.0, lower_bound=0.5,
                 adversary_losses=np.array([0.5]), status="optimal", message="m", nit=1, time=0.0,
                 method="lp", info={"method": "other", "extra": 7})
    assert res["method"] == res.method == "lp"
    assert list(res).count("method") == 1
    assert res["extra"] == res.extra == 7 and "extra" in dir(res)


@pytest.mark.parametrize("method", sorted(EXTRAS))
def test_repr_lists_every_entry_aligned(method):
    res = _solve(method)
    text = repr(res)
    assert str(res) == text
    lines = [ln for ln in text.splitlines() if re.match(r"^\s*\w+: ", ln)]
    keys = [ln.split(":")[0].strip() for ln in lines]
    assert keys == list(res.keys())
    assert len({ln.index(":") for ln in lines}) == 1  # right-aligned keys, like OptimizeResult
    assert f"status: {res.status}" in text and f"nit: {res.nit}" in text
    for k in EXTRAS[method]:
        assert re.search(rf"^\s*{k}: ", text, re.M)


def test_repr_abbreviates_arrays_and_lists():
    game = advgame.examples.random_game(30, 5, 40, kind="real", seed=1)
    res = advgame.solve(game, method="oracle", max_iter=50)
    text = repr(res)
    weights_line = next(ln for ln in text.splitlines() if ln.strip().startswith("weights:"))
    assert "..." in weights_line and len(weights_line) < 120  # 40 weights, abbreviated
    assert "(50 entries)" in text  # history and gap_history
    assert len(text.splitlines()) < 40  # the (30, 5) adversary is abbreviated too
    assert np.isfinite(res.value)


def test_repr_of_a_torch_result_names_dtype_and_device():
    torch = pytest.importorskip("torch")
    game = advgame.Game(torch.tensor(advgame.examples.motivating_game().to_numpy().losses, dtype=torch.float32))
    res = advgame.solve(game, method="oracle", max_iter=10)
    assert "torch float32 on cpu" in repr(res)


def test_to_dict_and_copies_unchanged():
    res = _solve("entropic")
    d = res.to_dict()
    assert set(d) == {"method", "status", "message", "weights", "value", "lower_bound", "gap",
                      "adversary_losses", "nit", "time", "history", "info"}
    assert json.loads(json.dumps(d))["info"]["bias_bound"] == pytest.approx(res.bias_bound)
    c = copy.deepcopy(res)  # __getattr__ must not recurse on a half-built copy
    assert list(c.keys()) == list(res.keys()) and np.array_equal(c.weights, res.weights)
