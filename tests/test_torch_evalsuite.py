"""The evaluation suite: Square, APGD-T, the mixture attacks, user attacks, suites, checks.

Cross-checks against torchattacks run on an MLP trained on scikit-learn's digits
(8x8 images in [0, 1]); the rest on tiny synthetic models.
"""

from __future__ import annotations

import importlib.util
import json
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from torch import nn  # noqa: E402

from advgame.torch import APGD, PGD, Mixture, evaluate  # noqa: E402
from advgame.torch.attacks import (  # noqa: E402
    APGDT,
    CustomAttack,
    MarginSubsets,
    MixtureScores,
    MultiTargeted,
    Square,
    TorchattacksAttack,
    Transfer,
    member_subsets,
    square_fraction,
    targeted_dlr,
)
from advgame.torch.checks import EvaluationWarning, sanity_checks, shifted_mixture  # noqa: E402
from advgame.torch.models import SmallMLP, synthetic_images, train_classifier  # noqa: E402
from advgame.torch.suites import SUITE_ATTACKS, suite_attacks  # noqa: E402

torch.set_num_threads(1)


def _torchattacks():
    if importlib.util.find_spec("torchattacks") is None:
        pytest.skip("torchattacks is not installed (pip install advgame[test])")
    import torchattacks

    return torchattacks


@pytest.fixture(scope="module")
def digits():
    """An MLP trained naturally on digits, and 120 test images."""
    from advgame.torch.data import load_dataset

    d = load_dataset("digits", val_size=0.1, seed=0)
    x, y = (torch.stack([d.train[i][0] for i in range(len(d.train))]),
            torch.as_tensor([d.train[i][1] for i in range(len(d.train))]))
    xt = torch.stack([d.test[i][0] for i in range(120)])
    yt = torch.as_tensor([d.test[i][1] for i in range(120)])
    torch.manual_seed(0)
    model = train_classifier(SmallMLP(64, 10, hidden=64), x, y, steps=300, lr=1e-2, seed=0).eval()
    return model, xt, yt


@pytest.fixture(scope="module")
def mix2():
    x, y = synthetic_images(160, (3, 6, 6), 5, noise=0.3, seed=1)
    models = []
    for k in range(2):
        torch.manual_seed(10 + k)
        models.append(train_classifier(SmallMLP(108, 5, hidden=16), x[:128], y[:128], steps=120, seed=k))
    return Mixture(models, [0.7, 0.3], vectorize=False), x[128:], y[128:]


def _acc(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def _in_ball(x_adv, x, eps, norm, bounds=(0.0, 1.0)):
    d = (x_adv - x).flatten(1)
    n = d.abs().amax(1) if norm == "linf" else d.norm(dim=1)
    return bool((n <= eps + 1e-5).all()) and float(x_adv.min()) >= bounds[0] - 1e-6 and float(x_adv.max()) <= bounds[1] + 1e-6


# ------------------------------------------------------------------ Square
def test_square_schedule_halves_p_at_the_published_iterations():
    assert square_fraction(0, 10000, 0.8) == 0.8 and square_fraction(10, 10000, 0.8) == 0.8
    assert square_fraction(11, 10000, 0.8) == 0.4 and square_fraction(51, 10000, 0.8) == 0.2
    assert square_fraction(8001, 10000, 0.8) == pytest.approx(0.8 / 512)
    assert square_fraction(500, 1000, 0.8) == square_fraction(5000, 10000, 0.8)  # rescaled to the budget


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 1.5)])
def test_square_stays_in_the_threat_model_is_seeded_and_never_raises_accuracy(mix2, norm, eps):
    mix, x, y = mix2
    a = Square(mix, eps=eps, norm=norm, n_queries=200, seed=3)
    x1, x2 = a(x, y), a(x, y)
    assert _in_ball(x1, x, eps, norm) and torch.equal(x1, x2)
    acc = float(mix.expected_accuracy(x1, y))
    assert acc <= float(mix.expected_accuracy(x, y))
    assert acc < float(mix.expected_accuracy(x, y)) - 0.05  # it does find something
    # flat inputs are searched as one row of pixels
    xf = x.flatten(1)
    flat = Mixture([nn.Sequential(nn.Unflatten(1, (3, 6, 6)), m) for m in mix.members], mix.weights)
    assert _in_ball(Square(flat, eps=eps, norm=norm, n_queries=50)(xf, y), xf, eps, norm)


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 0.5)])
def test_square_cross_check_with_torchattacks_on_the_digits_mlp(digits, norm, eps):
    """L = 1, 1000 queries, two seeds each.  Stated tolerance: our Square's robust accuracy
    is never more than 3 points above torchattacks' (it is not weaker).  It is in fact
    stronger on 8x8 images (measured 0.16 vs 0.33 in Linf, 0.43 vs 0.53 in L2 on 200
    images): torchattacks draws the window's corner in [0, h - s) (never touching the last
    row and column while s is large) and one sign per batch and query."""
    ta = _torchattacks()
    model, x, y = digits
    ours = sum(_acc(model, Square(model, eps=eps, norm=norm, n_queries=1000, seed=s)(x, y), y) for s in (0, 1)) / 2
    ref = sum(_acc(model, ta.Square(model, norm={"linf": "Linf", "l2": "L2"}[norm], eps=eps, n_queries=1000,
                                    seed=s)(x, y), y) for s in (0, 1)) / 2
    assert ours <= ref + 0.03, (ours, ref)
    assert ours < _acc(model, x, y) - 0.3  # and both are real attacks


# ------------------------------------------------------------------ APGD-T
def test_targeted_dlr_matches_its_formula():
    z = torch.tensor([[4.0, 3.0, 1.0, 0.0, -1.0]])
    y, t = torch.tensor([0]), torch.tensor([2])
    assert float(targeted_dlr(z, y, t)) == pytest.approx(-(4 - 1) / (4 - 0.5 * (1 + 0) + 1e-12))


def test_apgdt_cross_check_with_torchattacks_on_the_digits_mlp(digits):
    """L = 1, Linf eps 0.1, 9 targets, 50 steps, 1 restart: the two accuracies agree to
    within 3 points (stated tolerance)."""
    ta = _torchattacks()
    model, x, y = digits
    ours = _acc(model, APGDT(model, eps=0.1, n_targets=9, steps=50, seed=0)(x, y), y)
    ref = _acc(model, ta.APGDT(model, norm="Linf", eps=0.1, steps=50, n_restarts=1, n_classes=10, seed=0)(x, y), y)
    assert abs(ours - ref) <= 0.03, (ours, ref)
    assert ours < _acc(model, x, y) - 0.3


def test_apgdt_needs_four_classes_and_its_targets_are_the_top_wrong_classes():
    m = nn.Linear(4, 3)
    with pytest.raises(ValueError, match="at least 4 classes"):
        APGDT(m, eps=0.1, steps=2)(torch.rand(2, 4), torch.tensor([0, 1]))
    from advgame.torch.attacks import top_targets

    z = torch.tensor([[0.0, 5.0, 3.0, 4.0]])
    assert top_targets(z, torch.tensor([1]), 2).tolist() == [[3, 2]]


# ------------------------------------------------------------- mixture attacks
def test_member_subsets_exhaustive_then_greedy():
    assert member_subsets([0.5, 0.0, 0.5]) == [(0,), (2,), (0, 2)]
    w = [0.1, 0.3, 0.2, 0.25, 0.15]
    subsets = member_subsets(w, max_exhaustive=4)
    assert len(subsets) == len(set(subsets)) == 5 + 4 + 5 - 1  # singletons, prefixes (>=2), complements; P once
    assert (1, 3) in subsets and (1, 2, 3) in subsets  # heaviest two, heaviest three
    assert (0, 2, 3, 4) in subsets  # all but the heaviest
    with pytest.raises(ValueError, match="positive"):
        member_subsets([0.0, 0.0])


class _Linear2(nn.Module):
    """Two-class member with logits (w.x + b, 0): class 0 iff w.x + b > 0."""

    def __init__(self, w, b):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(w, dtype=torch.float32), requires_grad=False)
        self.b = float(b)

    def forward(self, x):
        s = x.flatten(1) @ self.w + self.b
        return torch.stack([s, torch.zeros_like(s)], 1)


def test_margin_subsets_fools_the_heaviest_pair_that_can_be_fooled_together():
    """Three linear members at x = (0.5, 0.5), label 0, weights (0.45, 0.45, 0.1): members 0
    and 1 are fooled together at x1, x2 < 0.3 (inside eps = 0.25); member 2 only at
    x1 > 0.7, the other way.  The best point fools the pair: expected accuracy 0.1."""
    members = [_Linear2([1.0, 0.0], -0.3), _Linear2([0.0, 1.0], -0.3), _Linear2([-30.0, 0.0], 21.0)]
    mix = Mixture(members, [0.45, 0.45, 0.1], vectorize=False)
    x, y = torch.full((1, 2), 0.5), torch.tensor([0])
    assert float(mix.expected_accuracy(x, y)) == pytest.approx(1.0)
    x_adv = MarginSubsets(mix, eps=0.25, steps=30)(x, y)
    assert float(mix.expected_accuracy(x_adv, y)) == pytest.approx(0.1)
    assert bool((x_adv <= 0.3).all())


def test_mixture_attacks_stay_in_the_ball_and_are_seeded(mix2):
    mix, x, y = mix2
    for a in (MarginSubsets(mix, eps=0.1, steps=10, seed=1), MultiTargeted(mix, eps=0.1, n_targets=2, steps=10, seed=1),
              Transfer(mix, eps=0.1, attack=PGD(eps=0.1, steps=5, restarts=1), seed=1)):
        x1, x2 = a(x, y), a(x, y)
        assert _in_ball(x1, x, 0.1, "linf") and torch.equal(x1, x2), type(a).__name__
        assert float(mix.expected_accuracy(x1, y)) < float(mix.expected_accuracy(x, y))
    with pytest.raises(ValueError, match="eps"):
        Transfer(eps=0.1, attack=PGD(eps=0.2))


# ------------------------------------------------------------ user attacks
class _Shrink(CustomAttack):
    """Moves every pixel towards 0.5 by 2 eps (the base class projects it back)."""

    name = "shrink"

    def perturb(self, mixture, x, y, generator):
        return x + 2 * self.eps * torch.sign(0.5 - x)


def test_user_attacks_join_the_worst_case(mix2):
    ta = _torchattacks()
    mix, x, y = mix2
    other = SmallMLP(108, 5, hidden=4)
    user_ta = ta.PGD(other, eps=0.1, alpha=0.02, steps=10, random_start=False)
    calls = []

    def fn(xb, yb):
        calls.append(xb.shape[0])
        return (xb + 0.05).clamp(0, 1)

    report = evaluate(mix, x, y, eps=0.1, attacks={"apgd": APGD(eps=0.1, steps=5, restarts=1), "shrink": _Shrink(eps=0.1),
                                                   "ta-pgd": user_ta, "plus": fn}, batch_size=16)
    assert list(report) == ["natural", "apgd", "shrink", "ta-pgd", "plus", "worst"]
    assert calls == [16, 16]
    per = report.per_example
    for k in report.attacks:
        assert bool((per["worst"] <= per[k] + 1e-12).all()), k
    # the torchattacks attack was re-aimed at the mixture, and the user's object left alone
    assert user_ta.model is other
    direct = ta.PGD(MixtureScores(mix), eps=0.1, alpha=0.02, steps=10, random_start=False)(x, y)
    assert report["ta-pgd"] == pytest.approx(float(mix.expected_accuracy(direct, y)))
    assert report["ta-pgd"] < report["natural"] - 0.05
    assert TorchattacksAttack(user_ta).norm == "linf" and TorchattacksAttack(ta.PGDL2(other, eps=1.0)).norm == "l2"
    with pytest.raises(TypeError, match="callable"):
        evaluate(mix, x, y, eps=0.1, attacks={"bad": 3})


def test_a_user_attack_leaving_the_ball_is_an_error(mix2):
    mix, x, y = mix2
    with pytest.raises(RuntimeError, match="outside the threat model"):
        evaluate(mix, x, y, eps=0.1, attacks={"far": lambda xb, yb: (xb + 0.3).clamp(0, 1)})


# ------------------------------------------------------------------ suites
def test_suites_hold_the_published_attacks_and_skip_with_reasons():
    std, skipped = suite_attacks("standard", 0.1, n_classes=10, n_members=2)
    assert {"apgd-ce", "apgd-t", "square", "arc"} <= set(std) and not skipped
    assert std["square"].n_queries == 5000 and std["apgd-t"].n_targets == 9 and std["apgd-ce"].restarts == 1
    full, _ = suite_attacks("full", 0.5, "l2", n_classes=10, n_members=2)
    assert set(SUITE_ATTACKS["standard"]["l2"]) < set(full) and {"cw-logits", "pgd-loss", "apgd-dlr"} <= set(full)
    assert full["apgd-ce"].restarts == 5
    _, skipped = suite_attacks("standard", 0.1, n_classes=3, n_members=1)
    assert set(skipped) == {"apgd-t", "transfer"}
    with pytest.raises(ValueError, match="suite"):
        suite_attacks("huge", 0.1)


def test_suite_report_worst_case_json_and_adversarials(mix2, tmp_path):
    mix, x, y = mix2
    report = evaluate(mix, x[:12], y[:12], eps=0.1, suite="quick", keep_adversarials=True,
                      attacks={"pgd": PGD(eps=0.1, steps=5, restarts=1)})
    assert report.attacks == ["apgd-ce", "apgd-t", "square", "arc", "pgd"] and report.checks == []
    per = report.per_example
    for k in report.attacks:
        assert bool((per["worst"] <= per[k] + 1e-12).all()), k
        assert k in report.settings and report.seconds[k] > 0
    # the kept inputs give the worst case, inside the ball
    x_adv = report.adversarials
    assert _in_ball(x_adv, x[:12], 0.1, "linf")
    torch.testing.assert_close(mix.expected_accuracy(x_adv, y[:12], reduction="none").cpu(), per["worst"])
    report.save_json(tmp_path / "r.json", model="m")
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["model"] == "m" and d["suite"] == "quick" and len(d["per_example"]["broken_by"]) == 12
    broken = d["per_example"]["broken_by"]
    for i, names in enumerate(broken):
        lowered = per["worst"][i] < per["natural"][i]
        assert bool(lowered) == bool(names)
        for a in names:
            assert d["per_example"]["accuracy"][a][i] == pytest.approx(float(per["worst"][i]))
    report.save_adversarials(tmp_path / "adv.pt")
    saved = torch.load(tmp_path / "adv.pt", weights_only=True)
    assert torch.equal(saved["x_adv"], x_adv) and saved["norm"] == "linf"
    assert "settings:" in report.table()


# ------------------------------------------------------------------ checks
class _Quantized(nn.Module):
    """Logits rounded to integers: the gradient is zero almost everywhere (masked)."""

    def __init__(self, base):
        super().__init__()
        self.base = base

    def forward(self, x):
        return torch.round(self.base(x))


def test_square_alone_finds_a_gradient_masked_model_and_the_checks_flag_it(digits):
    model, x, y = digits
    masked = _Quantized(model).eval()
    x, y = x[:60], y[:60]
    attacks = {"pgd": PGD(eps=0.1, steps=20, restarts=1), "apgd-ce": APGD(eps=0.1, steps=20, restarts=1),
               "square": Square(eps=0.1, n_queries=500)}
    with pytest.warns(EvaluationWarning, match="square-vs-white-box"):
        report = evaluate(masked, x, y, eps=0.1, attacks=attacks, checks=True)
    # the white-box attacks rate it (almost) as robust as it is accurate; Square does not
    assert report["apgd-ce"] >= report["natural"] - 0.1 and report["pgd"] >= report["natural"] - 0.1
    assert report["square"] < report["apgd-ce"] - 0.3
    assert "square-vs-white-box" in report.flags()
    # the same evaluation of the unmasked model passes that check
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        clean = evaluate(model, x, y, eps=0.1, attacks=attacks, checks=True)
    names = {c.name: c for c in clean.checks}
    assert names["square-vs-white-box"].passed and names["logit-shift"].passed and names["large-eps"].passed


def test_shifted_mixture_predicts_the_same():
    members = [SmallMLP(4, 3, hidden=5) for _ in range(2)]
    mix = Mixture(members, [0.4, 0.6], vectorize=False)
    x, y = torch.rand(20, 4), torch.randint(0, 3, (20,))
    sh = shifted_mixture(mix)
    torch.testing.assert_close(sh.expected_accuracy(x, y), mix.expected_accuracy(x, y))
    assert not torch.allclose(sh.member_logits(x), mix.member_logits(x))


def test_more_iterations_check_flags_an_unconverged_attack(mix2):
    mix, x, y = mix2
    weak = {"pgd": PGD(eps=0.15, alpha=0.01, steps=2, restarts=1)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        report = evaluate(mix, x, y, eps=0.15, attacks=weak, checks=True)
    check = {c.name: c for c in report.checks}["more-iterations"]
    assert not check.passed and check.value > 0.01 and "more-iterations" in report.flags()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sanity_checks(mix, x, y, report, weak, n_check=40)
    assert any(issubclass(w.category, EvaluationWarning) and "more-iterations" in str(w.message) for w in rec)


# ------------------------------------------------- sampled classifier, curve
def test_sampled_accuracy_interval_and_its_relation_to_the_expected_accuracy(mix2):
    from advgame.torch.sampled import EoTAPGD, sampled_accuracy, sampled_correct

    mix, x, y = mix2
    # at eps = 0 the sampled accuracy estimates the exact expected accuracy of the clean points
    s0 = sampled_accuracy(mix, x, y, 0.0, draws=400, seed=1,
                          attacks={"eot": EoTAPGD(eps=0.0, steps=2, eot_samples=2)})
    exact = float(mix.expected_accuracy(x, y))
    assert s0["expected"] == pytest.approx(exact) and s0["ci"][0] <= exact <= s0["ci"][1]
    s = sampled_accuracy(mix, x, y, 0.1, draws=50, seed=0,
                         attacks={"eot": EoTAPGD(eps=0.1, steps=10, eot_samples=4)})
    assert s["ci"][0] <= s["accuracy"] <= s["ci"][1] and s["accuracy"] < exact - 0.1
    # EoT sees less than the exact-expectation attack: it is not stronger (within the interval)
    exact_attack = float(evaluate(mix, x, y, 0.1, attacks={"a": APGD(eps=0.1, steps=10, restarts=1)})["a"])
    assert s["ci"][1] >= exact_attack - 0.05
    c = sampled_correct(mix, x, y, 1000, torch.Generator().manual_seed(0))
    torch.testing.assert_close(c.double().mean(0), mix.expected_accuracy(x, y, reduction="none").double(),
                               atol=0.08, rtol=0)


def test_robust_accuracy_curve_falls_to_zero_and_is_drawn(mix2, tmp_path):
    from advgame.torch.curves import plot_robust_accuracy, robust_accuracy_curve, write_curve_figure

    mix, x, y = mix2
    curve = robust_accuracy_curve(mix, x[:16], y[:16], [0.0, 0.1, 1.0], suite=None,
                                  attacks=["pgd-logits", "apgd-ce"])
    worst = curve["accuracy"]["worst"]
    assert worst[0] == pytest.approx(float(mix.expected_accuracy(x[:16], y[:16])))
    assert worst[0] >= worst[1] >= worst[2] and worst[2] <= 0.02
    paths = write_curve_figure(curve, tmp_path / "curve")
    assert [p[-3:] for p in paths] == ["png", "pdf"] and all((tmp_path / f"curve.{e}").stat().st_size > 0
                                                               for e in ("png", "pdf"))
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_robust_accuracy(curve)
    assert len(ax.lines) == 3
    with pytest.raises(ValueError, match="increasing"):
        robust_accuracy_curve(mix, x, y, [0.2, 0.1])


# ------------------------------------------------------- external members, CLI
def _cli(*args):
    from advgame.torch.commands import main

    return main([str(a) for a in args])


def test_eval_cli_on_members_not_trained_by_advgame(tmp_path, capsys):
    from advgame.torch.models import build_model

    m0, m1 = build_model("small-mlp", 10, (1, 8, 8), seed=0), SmallMLP(64, 10, hidden=8)
    torch.save(m0.state_dict(), tmp_path / "a.pt")
    torch.save(m1.state_dict(), tmp_path / "b.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(m1), tmp_path / "b_ts.pt")
    out = tmp_path / "e.json"
    rc = _cli("eval", "--members", f"{tmp_path / 'a.pt'},{tmp_path / 'b_ts.pt'}", "--arch", "small-mlp",
              "--dataset", "digits", "--eps", 0.1, "--weights", "0.25,0.75", "--suite", "quick", "--max-samples", 8,
              "--save-adversarials", tmp_path / "adv.pt", "--out", out, "--threads", 1)
    text = capsys.readouterr().out
    assert rc == 0 and "apgd-t" in text and "square" in text and "worst" in text
    d = json.loads(out.read_text())
    assert d["weights"] == pytest.approx([0.25, 0.75]) and d["suite"] == "quick" and d["n"] == 8
    assert set(d["per_example"]["accuracy"]) >= {"natural", "apgd-ce", "apgd-t", "square", "arc", "worst"}
    assert "square" in d["settings"] and d["seconds"]["square"] > 0
    adv = torch.load(tmp_path / "adv.pt", weights_only=True)
    assert adv["x_adv"].shape == (8, 1, 8, 8)
    # a factory (module:function) instead of --arch; errors are one line, status 1
    rc = _cli("eval", "--members", tmp_path / "b.pt", "--factory", "_evalsuite_factory:digits_mlp", "--dataset",
              "digits", "--eps", 0.1, "--attacks", "apgd-ce", "--max-samples", 4, "--out", tmp_path / "f.json")
    assert rc == 0, capsys.readouterr().err
    assert _cli("eval", "--members", tmp_path / "a.pt", "--dataset", "digits", "--eps", 0.1) == 1
    assert "--arch" in capsys.readouterr().err
    torch.save({"w": [1, 2]}, tmp_path / "pickled.pt")  # not a tensor-only state dict
    assert _cli("eval", "--members", tmp_path / "pickled.pt", "--arch", "small-mlp", "--dataset", "digits",
                "--eps", 0.1) == 1


def test_external_mixture_lp_weights_and_checks():
    from advgame.torch.external import external_mixture, parse_weights

    assert parse_weights(None, 3) == pytest.approx([1 / 3] * 3) and parse_weights("1,3", 2) == [0.25, 0.75]
    with pytest.raises(ValueError, match="one entry per member"):
        parse_weights("1,2,3", 2)
    x, y = synthetic_images(64, (1, 8, 8), 10, noise=0.3, seed=0)
    robust = train_classifier(SmallMLP(64, 10, hidden=16), x, y, steps=100, seed=0)
    broken = SmallMLP(64, 10, hidden=16)  # untrained: the LP gives it no weight
    mix, w = external_mixture([], factory=lambda: [robust, broken], weights="lp", val=(x, y), eps=0.05)
    assert w[0] > 0.9 and len(mix) >= 1


class _Constant(nn.Module):
    """Always predicts class 0, whatever the input (logits with no dependence on x)."""

    def forward(self, x):
        z = torch.zeros(x.shape[0], 4, dtype=x.dtype, device=x.device)
        z[:, 0] = 1.0
        return z + 0 * x.flatten(1)[:, :1]


def test_large_eps_check_flags_a_model_attacks_cannot_move():
    x, y = torch.rand(12, 1, 4, 4), torch.zeros(12, dtype=torch.int64)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        report = evaluate(_Constant(), x, y, eps=0.1, attacks={"apgd": APGD(eps=0.1, steps=5, restarts=1)},
                          checks=True)
    big = {c.name: c for c in report.checks}["large-eps"]
    assert not big.passed and big.value == pytest.approx(1.0) and "gradient masking" in big.meaning
    assert any("large-eps" in str(w.message) for w in rec if issubclass(w.category, EvaluationWarning))
    assert "[FLAG] large-eps" in report.table()


@pytest.mark.slow
def test_full_suite_is_never_weaker_than_standard_per_example(mix2):
    mix, x, y = mix2
    std = evaluate(mix, x[:6], y[:6], eps=0.1, suite="standard")
    full = evaluate(mix, x[:6], y[:6], eps=0.1, suite="full", checks=False)
    assert full.attacks[: len(std.attacks)] == std.attacks
    assert bool((full.per_example["worst"] <= std.per_example["worst"] + 1e-12).all())
    for k in std.attacks:
        if k != "apgd-ce":  # same settings and generator: the same points
            torch.testing.assert_close(full.per_example[k], std.per_example[k])


def test_the_new_user_complaints_of_issue_17_are_gone(mix2):
    """`--attacks square` was refused, torchattacks.Square raised TypeError, and a custom
    attack needed the private Attack._run."""
    ta = _torchattacks()
    from advgame.torch import default_attacks
    from advgame.torch.evaluate import evaluate_loader

    mix, x, y = mix2
    atk = default_attacks(0.1, names=["square", "apgd-t", "margin-subsets"])
    assert [type(a).__name__ for a in atk.values()] == ["Square", "APGDT", "MarginSubsets"]
    report = evaluate(mix, x[:8], y[:8], eps=0.1,
                      attacks={"square": ta.Square(mix.members[0], eps=0.1, n_queries=100, seed=0)})
    assert report["square"] <= report["natural"] and "ta" not in report.attacks
    with pytest.raises(ValueError, match="valid names"):
        default_attacks(0.1, names=["fab-t"])
    # evaluate_loader: suite, checks on the first batch
    loader = [(x[:6], y[:6]), (x[6:12], y[6:12])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        r = evaluate_loader(mix, loader, eps=0.1, suite="quick", checks=True)
    assert r.n == 12 and r.suite == "quick" and {c.name for c in r.checks} >= {"large-eps", "square-vs-white-box"}


def test_skip_broken_attacks_only_unbroken_points_and_keeps_the_worst_case(mix2):
    mix, x, y = mix2
    seen = []

    def recorder(xb, yb):
        seen.append(xb.clone())
        return (xb + 0.05).clamp(0, 1)

    attacks = {"pgd": PGD(eps=0.05, alpha=0.02, steps=10, random_start=False),
               "pgd-small": PGD(eps=0.02, alpha=0.01, steps=5, random_start=False), "plus": recorder}
    plain = evaluate(mix, x, y, eps=0.05, attacks=attacks, keep_adversarials=True)
    seen.clear()
    fast = evaluate(mix, x, y, eps=0.05, attacks=attacks, keep_adversarials=True, skip_broken=True)
    # the same worst case, per example; the first attack's row is exact
    torch.testing.assert_close(fast.per_example["worst"], plain.per_example["worst"])
    torch.testing.assert_close(fast.per_example["pgd"], plain.per_example["pgd"])
    # later attacks saw only the examples not yet broken, and count the broken ones as 0
    before = torch.minimum(plain.per_example["natural"], torch.minimum(plain.per_example["pgd"],
                                                                      plain.per_example["pgd-small"]))
    alive = before > 0
    assert 0 < int(alive.sum()) < x.shape[0]  # the case is not trivial
    assert len(seen) == 1 and seen[0].shape[0] == int(alive.sum())
    assert torch.equal(seen[0], x[alive])
    assert bool((fast.per_example["plus"][~alive] == 0).all())
    torch.testing.assert_close(fast.per_example["plus"][alive], plain.per_example["plus"][alive])
    # each returned worst-case point gives the reported accuracy
    acc = mix.expected_accuracy(fast.adversarials, y, reduction="none")
    torch.testing.assert_close(acc, fast.per_example["worst"])
    with pytest.raises((TypeError, ValueError), match="skip_broken"):
        evaluate(mix, x, y, eps=0.05, attacks=attacks, skip_broken="yes")
