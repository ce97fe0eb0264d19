"""The advgame command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import advgame
from advgame.cli import main


def test_solve_default_example(capsys):
    assert main(["solve"]) == 0
    out = capsys.readouterr().out
    assert "built-in example 'motivating'" in out
    assert "R(weights) = 0.7500000000" in out
    assert "duality gap" in out and "best deterministic classifier k=0: risk = 1.0000000000" in out


def test_example_then_solve_json(tmp_path, capsys):
    path = tmp_path / "g.npz"
    assert main(["example", "random-real", "--out", str(path), "--seed", "3"]) == 0
    capsys.readouterr()
    assert main(["solve", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    game = advgame.Game.load(path)
    ref = advgame.solve(game)
    assert data["value"] == pytest.approx(ref.value, abs=1e-12)
    assert data["gap"] <= 1e-9
    assert data["deterministic"]["risk"] == pytest.approx(game.best_classifier()[1])
    assert len(data["weights"]) == game.n_classifiers


@pytest.mark.parametrize("method,extra", [("oracle", ["--steps", "200"]), ("entropic", ["--alpha", "0.01", "--steps", "200"])])
def test_solve_first_order_methods(capsys, method, extra):
    assert main(["solve", "--example", "motivating", "--method", method, *extra, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == method
    assert data["value"] >= 0.75 - 1e-12
    assert np.isclose(sum(data["weights"]), 1.0)


def test_errors_are_reported(tmp_path, capsys):
    assert main(["solve", str(tmp_path / "missing.npz")]) == 1
    assert "error" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(2))
    assert main(["solve", str(bad)]) == 1
    assert "not an advgame game file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["solve", "--alpha", "-1"])


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "advgame", "solve", "--json"], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout)["value"] == pytest.approx(0.75)
