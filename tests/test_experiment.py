"""MNE21's synthetic experiment: out-of-sample evaluation, the runner, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from advgame.experiment import format_table, out_of_sample_risk, run_gaussians
from advgame.synthetic import make_gaussians, random_linear_classifiers

KEYS = ["eps", "deterministic_in", "deterministic_out", "randomized_in", "randomized_out", "lower_bound", "gap",
        "weights"]


def test_out_of_sample_risk_is_seeded_and_consistent():
    X, y = make_gaussians(200, seed=0)
    clfs = random_linear_classifiers(X, y, 4, seed=1)
    w = np.array([0.1, 0.2, 0.3, 0.4])
    a = out_of_sample_risk(w, clfs, 1.0, n_samples=150, n_attacks=40, seed=5)
    b = out_of_sample_risk(w, clfs, 1.0, n_samples=150, n_attacks=40, seed=5)
    assert a["randomized"] == b["randomized"]
    assert 0 <= a["randomized"] <= 1
    # a vertex of the simplex gives that classifier's own adversarial risk
    e2 = np.eye(4)[2]
    c = out_of_sample_risk(e2, clfs, 1.0, n_samples=150, n_attacks=40, seed=5)
    assert c["randomized"] == pytest.approx(a["per_classifier"][2])
    # fresh data differs from another seed's
    d = out_of_sample_risk(w, clfs, 1.0, n_samples=150, n_attacks=40, seed=6)
    assert not np.array_equal(d["game"].losses, a["game"].losses)
    # more attacks can only find more errors on the same points (same clean points, superset-free check):
    big = out_of_sample_risk(e2, clfs, 1.0, data=(X, y), n_attacks=200, seed=1)
    assert big["randomized"] <= clfs[2].adversarial_risk(X, y, 1.0) + 1e-12


def test_run_gaussians_small():
    res = run_gaussians(eps=[0.5, 3.0], n_samples=80, n_attacks=30, n_test=60, seed=3, oracle_steps=30,
                        entropic_steps=20, alphas=(0.1,))
    for k in KEYS:
        assert len(res[k]) == 2
    for i in range(2):
        assert res["randomized_in"][i] <= res["deterministic_in"][i] + 1e-12
        assert abs(res["gap"][i]) <= 1e-9
        assert np.isclose(sum(res["weights"][i]), 1.0)
    conv = res["convergence"]
    assert conv["eps"] in (0.5, 3.0)
    assert len(conv["oracle"]["history"]) == 30 and set(conv["entropic"]) == {"0.1"}
    assert min(conv["oracle"]["history"]) >= conv["optimal_value"] - 1e-12
    text = format_table(res)
    assert "determ. in" in text and text.count("\n") == 3
    # deterministic: the same seed gives the same numbers
    again = run_gaussians(eps=[0.5, 3.0], n_samples=80, n_attacks=30, n_test=60, seed=3, convergence_eps=None)
    assert again["randomized_out"] == res["randomized_out"]
    with pytest.raises(ValueError, match="eps must be a non-empty list of positive budgets"):
        run_gaussians(eps=[-1.0])


@pytest.mark.slow
def test_cli_gaussians_quick(tmp_path, capsys):
    from advgame.cli import main

    out = tmp_path / "run"
    assert main(["gaussians", "--quick", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "determ. in" in text and "wrote" in text
    data = json.loads((out / "results.json").read_text())
    for k in KEYS:
        assert k in data and len(data[k]) == 3
    assert data["eps"] == [1.0, 2.0, 3.0]
    for name in ("mixture", "convergence", "risk_vs_eps", "figure2"):
        for ext in ("png", "pdf"):
            f = out / f"{name}.{ext}"
            assert f.exists() and f.stat().st_size > 1000
    assert (out / "figure2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "figure2.pdf").read_bytes()[:5] == b"%PDF-"
