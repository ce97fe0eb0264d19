"""MNE21's synthetic experiment: out-of-sample evaluation, the runner, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import advgame
from advgame.experiment import format_table, out_of_sample_risk, run_gaussians
from advgame.experiments.mne21 import make_instance
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
                        entropic_steps=20, temperatures=(0.1,))
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


def test_format_table_never_shows_a_negative_gap():
    # issue 12: the table printed -1.1e-16 for a certificate that rounding made negative
    res = {k: [0.3] for k in KEYS if k not in ("weights", "best_classifier", "lp_status")}
    res.update(eps=[1.0], gap=[-1.1e-16], lp_time=[0.01])
    text = format_table(res)
    assert "-1.1e-16" not in text and "-" not in text.splitlines()[-1]
    assert "0.0e+00" in text.splitlines()[-1]
    assert res["gap"] == [-1.1e-16]  # only the display is clamped


def test_run_gaussians_progress_moves_through_every_phase(capsys):
    res = run_gaussians(eps=[1.0, 2.0], n_samples=30, n_attacks=10, n_test=20, seed=0, oracle_steps=10,
                        entropic_steps=10, temperatures=(0.1, 0.01), progress=True)
    err = capsys.readouterr().err
    for phase in ("eps=1: attacks + LP", "eps=2: out of sample", "eps=2: bound", "Algorithm 1",
                  "entropic T=0.1", "entropic T=0.01"):
        assert phase in err, phase
    # the bar counts 3 phases per budget and one per convergence run: 2 * 3 + 1 + 2
    assert "0/9" in err and "8/9" in err
    setup = res["setup"]
    assert setup["eps"] == [1.0, 2.0] and setup["convergence"] is True
    assert (setup["oracle_steps"], setup["entropic_steps"], setup["temperatures"]) == (10, 10, [0.1, 0.01])


@pytest.mark.slow
def test_cli_gaussians_quick(tmp_path, capsys):
    from advgame.cli import main

    out = tmp_path / "run"
    assert main(["gaussians", "--quick", "--convergence", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    # a run of other settings into the same folder is refused (issue 12: --quick overwrote the full run)
    assert main(["gaussians", "--quick", "--convergence", "--seed", "1", "--out", str(out), "--no-progress"]) == 1
    assert "other settings" in capsys.readouterr().err
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


# ----------------------------------------------------- one seed, one instance (issue 9, section 6)
def _tutorial_path(seed, eps, n, L, m):
    """The step-by-step code of docs/tutorial.md, sections 1-2."""
    from advgame.experiments.mne21 import SeedStreams
    from advgame.experiments.mne21_data import sample_attacks

    streams = SeedStreams(seed)
    X, y = make_gaussians(n, seed=streams.stream("data"))
    clfs = random_linear_classifiers(X, y, L, max_risk=0.4, seed=streams.stream("classifiers"))
    attacks = sample_attacks(X, eps, n_attacks=m, norm="l2", seed=streams.stream("attacks", eps))
    game = advgame.Game.from_classifiers(clfs, X, y, attacks)
    return X, clfs, attacks, game


def _same_instance(a, b):
    (Xa, ca, Aa, ga), (Xb, cb, Ab, gb) = a, b
    np.testing.assert_array_equal(Xa, Xb)
    assert [(c.w.tolist(), c.b) for c in ca] == [(c.w.tolist(), c.b) for c in cb]
    np.testing.assert_array_equal(Aa, Ab)
    np.testing.assert_array_equal(np.asarray(ga.losses), np.asarray(gb.losses))


@pytest.mark.parametrize("seed", [0, 7])
def test_one_seed_one_instance_small(seed):
    # the tutorial's code, run_gaussians (advgame gaussians) and make_instance build the
    # same game from the same seed; on the old code the three disagreed
    eps, n, L, m = 3.0, 120, 6, 40
    tut = _tutorial_path(seed, eps, n, L, m)
    inst = make_instance(eps, n_samples=n, n_classifiers=L, n_attacks=m, seed=seed)
    run = run_gaussians(eps=[1.0, eps], n_samples=n, n_classifiers=L, n_attacks=m, seed=seed,
                        convergence_eps=None)
    game, attacks, _ = run["_objects"]["games"][eps]
    _same_instance(tut, (inst.X, inst.classifiers, inst.attacks, inst.game))
    _same_instance(tut, (run["_objects"]["X"], run["_objects"]["classifiers"], attacks, game))
    # the old-path names are the same objects
    import advgame.experiment
    import advgame.synthetic

    assert advgame.synthetic.make_instance is make_instance
    assert advgame.experiment.run_gaussians is run_gaussians


@pytest.mark.slow
def test_one_seed_one_instance_paper_size():
    # issue 9: at eps = 3, seed 0, the best single classifier was 0.935, 0.730 or 0.772
    # depending on the entry point; now it is one number (0.730, the CLI's) on all three
    eps = 3.0
    tut = _tutorial_path(0, eps, 1000, 10, 1000)
    inst = make_instance(eps, seed=0)
    run = run_gaussians(eps=[eps], seed=0, convergence_eps=None)
    dets = [tut[3].best_classifier()[1], inst.game.best_classifier()[1], run["deterministic_in"][0]]
    assert dets[0] == dets[1] == dets[2]
    assert dets[0] == pytest.approx(0.730, abs=5e-4)


def test_seed_streams():
    from advgame.experiments.mne21 import SeedStreams

    s = SeedStreams(3)
    # each call starts its stream afresh; the parts are independent of each other
    assert s.stream("data").random() == s.stream("data").random()
    assert s.stream("data").random() != s.stream("classifiers").random()
    assert s.stream("attacks", 1.0).random() != s.stream("attacks", 2.0).random()
    assert s.stream("attacks", 1.0).random() != s.stream("test_attacks", 1.0).random()
    # an int seed is the CLI's seed: the data stream is numpy's first spawned child of it
    np.testing.assert_array_equal(s.stream("data").random(5), np.random.default_rng(3).spawn(1)[0].random(5))
    # a generator gives one integer of its stream: reproducible from the same generator state
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    assert SeedStreams(g1).entropy == SeedStreams(g2).entropy
    assert SeedStreams(None).entropy != SeedStreams(None).entropy
    with pytest.raises(ValueError, match="name must be one of"):
        s.stream("labels")
    with pytest.raises(ValueError, match="does not depend on eps"):
        s.stream("data", 1.0)
    with pytest.raises(TypeError, match="eps"):
        s.stream("attacks")
    with pytest.raises(TypeError, match="seed"):
        SeedStreams("0")
    with pytest.raises(ValueError, match="seed"):
        SeedStreams(-1)


def test_attacks_do_not_depend_on_the_list_of_budgets():
    a = run_gaussians(eps=[2.0], n_samples=60, n_classifiers=4, n_attacks=20, seed=1, convergence_eps=None)
    b = run_gaussians(eps=[0.5, 2.0], n_samples=60, n_classifiers=4, n_attacks=20, seed=1, convergence_eps=None)
    np.testing.assert_array_equal(a["_objects"]["games"][2.0][1], b["_objects"]["games"][2.0][1])
    assert a["randomized_out"][0] == b["randomized_out"][1]


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(eps=["1"]), TypeError, "eps"),
        (dict(eps=[0.0]), ValueError, "positive budgets"),
        (dict(eps=[]), ValueError, "non-empty"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(seed=-2), ValueError, "seed"),
        (dict(n_test=0), ValueError, "n_test"),
        (dict(n_test=2.5), TypeError, "n_test"),
        (dict(norm="l3"), ValueError, "norm"),
        (dict(norm=3), ValueError, "norm"),
        (dict(convergence_eps="best"), TypeError, "convergence_eps"),
        (dict(n_samples=10.0), TypeError, "n_samples"),
    ],
)
def test_run_gaussians_bad_arguments(kwargs, exc, words):
    args = dict(eps=[1.0], n_samples=30, n_classifiers=2, n_attacks=5, convergence_eps=None)
    args.update(kwargs)
    with pytest.raises(exc, match=words):
        run_gaussians(**args)


def test_make_instance_checks_and_norm_names():
    a = make_instance(1.0, n_samples=40, n_classifiers=3, n_attacks=8, norm="linf", seed=2)
    b = make_instance(1.0, n_samples=40, n_classifiers=3, n_attacks=8, norm=np.inf, seed=2)
    assert a.norm == np.inf
    np.testing.assert_array_equal(a.attacks, b.attacks)
    assert np.abs(a.attacks - a.X[:, None]).max() <= 1.0 + 1e-12
    with pytest.raises(TypeError, match="eps"):
        make_instance("1", n_samples=40)
    with pytest.raises(ValueError, match="eps"):
        make_instance(-1.0, n_samples=40)
    with pytest.raises(ValueError, match="norm"):
        make_instance(1.0, n_samples=40, norm=3)


def test_alphas_is_a_deprecated_alias_of_temperatures():
    args = dict(eps=[3.0], n_samples=40, n_classifiers=3, n_attacks=10, seed=2, oracle_steps=5, entropic_steps=5)
    new = run_gaussians(temperatures=(0.05,), **args)
    with pytest.warns(DeprecationWarning, match="alphas is deprecated; use temperatures"):
        old = run_gaussians(alphas=(0.05,), **args)
    assert set(new["convergence"]["entropic"]) == {"0.05"}
    assert old["convergence"]["entropic"]["0.05"]["history"] == new["convergence"]["entropic"]["0.05"]["history"]
    from advgame.experiments.mne21 import convergence_histories

    game = new["_objects"]["games"][3.0][0]
    with pytest.warns(DeprecationWarning, match="alphas"):
        h = convergence_histories(game, alphas=(0.05,), oracle_steps=3, entropic_steps=3)
    assert set(h["entropic"]) == {0.05}
    with pytest.raises(ValueError, match="temperatures"):
        convergence_histories(game, temperatures=(0.0,))
