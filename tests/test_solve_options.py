"""solve(): clear unknown-option errors and the verbose= progress display (issue 12, Results)."""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest

import advgame
from advgame.solvers.entropic import solve_entropic
from advgame.solvers.lp import solve_lp
from advgame.solvers.oracle import solve_oracle

SOLVERS = {"lp": solve_lp, "oracle": solve_oracle, "entropic": solve_entropic}
DEPRECATED = {"steps", "max_rounds", "alpha"}


def _game():
    return advgame.examples.random_game(15, 4, 3, kind="real", seed=7)


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_unknown_option_names_solve_method_suggestion_and_accepted(method):
    with pytest.raises(TypeError) as e:
        advgame.solve(_game(), method=method, stepz=10)
    msg = str(e.value)
    assert f"solve(method={method!r})" in msg and "'stepz'" in msg
    assert "solve_" not in msg  # no internal function name
    assert "did you mean 'max_iter'?" in msg  # stepz ~ steps, the deprecated name of max_iter
    accepted = msg.split("accepts: ")[1].split(", ")
    own = [p for p in inspect.signature(SOLVERS[method]).parameters if p != "game" and p not in DEPRECATED]
    assert accepted == own + (["verbose"] if "verbose" not in own else [])


@pytest.mark.parametrize("method,typo,meant", [
    ("lp", "strategi", "strategy"), ("oracle", "step_sizes", "step_size"), ("entropic", "temprature", "temperature"),
    ("oracle", "verbos", "verbose"), ("lp", "tols", "tol"),
])
def test_typo_suggests_the_closest_option(method, typo, meant):
    with pytest.raises(TypeError, match=re.escape(f"{typo!r} (did you mean {meant!r}?)")):
        advgame.solve(_game(), method=method, **{typo: 1})


@pytest.mark.parametrize("method,option,owner", [
    ("oracle", "temperature", "entropic"), ("lp", "step_size", "oracle"), ("lp", "restart", "entropic"),
    ("entropic", "oracle_delta", "oracle"), ("oracle", "cvxpy_solver", "lp"),
])
def test_option_of_another_method_says_which(method, option, owner):
    with pytest.raises(TypeError, match=re.escape(f"{option!r} (an option of method={owner!r})")):
        advgame.solve(_game(), method=method, **{option: 1.0})


def test_typo_of_another_methods_option_and_deprecated_spelling():
    with pytest.raises(TypeError, match=re.escape("did you mean 'temperature', an option of method='entropic'?")):
        advgame.solve(_game(), method="lp", temprature=1.0)
    with pytest.raises(TypeError, match=re.escape("'max_rounds' (did you mean 'max_iter'?)")):
        advgame.solve(_game(), method="entropic", max_rounds=3)


def test_several_unknown_options_are_all_named():
    with pytest.raises(TypeError, match=r"unexpected keyword arguments 'tols' \(did you mean 'tol'\?\), 'foo';"):
        advgame.solve(_game(), method="entropic", tols=1, foo=2)


@pytest.mark.parametrize("method,old", [("lp", "max_rounds"), ("oracle", "steps"), ("entropic", "steps"),
                                        ("entropic", "alpha")])
def test_deprecated_spellings_still_pass(method, old):
    with pytest.warns(DeprecationWarning, match=f"{old}=? is deprecated"):
        res = advgame.solve(_game(), method=method, **{old: 0.01 if old == "alpha" else 30})
    assert res.method == method


@pytest.mark.parametrize("method", ["oracle", "entropic"])
def test_verbose_shows_a_bar_over_iterations(method, capsys):
    res = advgame.solve(_game(), method=method, max_iter=37, verbose=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert f"solve(method={method!r})" in err
    assert "37/37" in err and "gap=" in err  # total = max_iter, postfix = certified gap
    last = err.strip().splitlines()[-1]  # the summary line
    assert last.startswith(f"solve(method={method!r}): {res.status}, nit=37,") and f"gap={res.gap:.3e}" in last


def test_verbose_bar_also_from_the_solver_function(capsys):
    solve_oracle(_game(), max_iter=12, verbose=True)
    assert "12/12" in capsys.readouterr().err


def test_verbose_lp_prints_one_summary_line(capsys):
    res = advgame.solve(_game(), strategy="prune" if _game().is_binary else "full", verbose=True)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"solve(method='lp'): {res.status}, nit={res.nit}, rows={res.rows} of "
                               f"{res.rows_total}")
    assert f"gap={res.gap:.3e}" in lines[0] and "time=" in lines[0]


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_quiet_by_default(method, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        advgame.solve(_game(), method=method, verbose=False)
        advgame.solve(_game(), method=method)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_verbose_must_be_a_bool(method):
    with pytest.raises(TypeError, match="verbose"):
        advgame.solve(_game(), method=method, verbose="yes")


@pytest.mark.parametrize("method,kw", [("lp", {}), ("oracle", {"max_iter": 60}), ("entropic", {"max_iter": 60}),
                                       ("entropic", {"tol": 1e-3}), ("oracle", {"tol": 1e-2, "max_iter": 500})])
def test_results_identical_with_verbose(method, kw, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = advgame.solve(_game(), method=method, **kw)
        b = advgame.solve(_game(), method=method, verbose=True, **kw)
    assert capsys.readouterr().err != ""
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.adversary, b.adversary)
    assert (a.value, a.lower_bound, a.gap, a.nit, a.status) == (b.value, b.lower_bound, b.gap, b.nit, b.status)
    assert a.history == b.history and a.info.get("gap_history") == b.info.get("gap_history")


@pytest.mark.parametrize("strategy", ["cg", "cuts"])
def test_verbose_lp_shows_a_bar_over_rounds(strategy, capsys):
    game = advgame.examples.random_game(300, 50, 6, kind="real", seed=1)
    quiet = advgame.solve(game, strategy=strategy)
    capsys.readouterr()
    res = advgame.solve(game, strategy=strategy, verbose=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert f"solve(method='lp', strategy='{strategy}')" in err and "gap=" in err and "rows=" in err
    assert f"{res.nit}/" in err  # the bar ends at the rounds run
    assert err.strip().splitlines()[-1].startswith("solve(method='lp'): optimal")  # then the summary line
    assert res.weights.tolist() == quiet.weights.tolist() and res.gap == quiet.gap and res.nit == quiet.nit
