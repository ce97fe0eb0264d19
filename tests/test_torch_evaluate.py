"""advgame.torch.evaluate: per-attack and per-example worst-case exact accuracies."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from advgame.torch import (  # noqa: E402
    APGD,
    ARC,
    ATTACK_NAMES,
    CW,
    PGD,
    EvaluationReport,
    Mixture,
    default_attacks,
    evaluate,
    evaluate_loader,
)
from advgame.torch.models import SmallMLP, synthetic_images, train_classifier  # noqa: E402

torch.set_num_threads(1)

SHAPE = (3, 6, 6)


@pytest.fixture(scope="module")
def setup():
    x, y = synthetic_images(160, SHAPE, 4, noise=0.3, seed=1)
    models = []
    for k in range(2):
        torch.manual_seed(10 + k)
        models.append(train_classifier(SmallMLP(108, 4, hidden=16), x[:128], y[:128], steps=120, seed=k))
    return Mixture(models, [0.7, 0.3], vectorize=False), x[128:], y[128:]


def _fast(eps, norm="linf"):
    out = {
        "pgd-logits": PGD(eps=eps, norm=norm, steps=8, restarts=1),
        "pgd-loss": PGD(eps=eps, norm=norm, steps=8, restarts=1, expectation="loss"),
        "apgd-ce": APGD(eps=eps, norm=norm, steps=8, restarts=1),
        "arc": ARC(eps=eps, norm=norm, steps=3),
    }
    if norm == "l2":
        out["cw"] = CW(eps=eps, steps=10, binary_steps=2, c=1.0)
    return out


def test_report_holds_natural_attacks_and_the_per_example_worst_case(setup):
    mix, x, y = setup
    report = evaluate(mix, x, y, eps=0.1, attacks=_fast(0.1))
    assert isinstance(report, EvaluationReport) and isinstance(report, dict)
    assert list(report) == ["natural", "pgd-logits", "pgd-loss", "apgd-ce", "arc", "worst"]
    assert report["natural"] == pytest.approx(float(mix.expected_accuracy(x, y)))
    per = report.per_example
    stacked = torch.stack([per[k] for k in report if k != "worst"])
    torch.testing.assert_close(per["worst"], stacked.amin(0))
    assert report["worst"] == pytest.approx(float(per["worst"].mean()))
    for k, v in report.items():
        assert 0.0 <= v <= 1.0
        assert report["worst"] <= v + 1e-12
    # the attacks do bite, and the worst case is at least as low as every attack
    assert report["worst"] < report["natural"]
    assert set(report.seconds) == {"pgd-logits", "pgd-loss", "apgd-ce", "arc"}
    assert report.n == len(y)


def test_report_prints_as_a_table(setup):
    mix, x, y = setup
    report = evaluate(mix, x[:8], y[:8], eps=0.1, attacks=_fast(0.1))
    text = str(report)
    lines = text.splitlines()
    assert "linf eps=0.1" in lines[0] and "n=8" in lines[0]
    for name in report:
        row = next(line for line in lines if line.startswith(name + " "))
        assert f"{report[name]:.4f}" in row


def test_l2_evaluation_with_cw_respects_the_threshold(setup):
    mix, x, y = setup
    report = evaluate(mix, x[:16], y[:16], eps=0.9, norm="l2", attacks=_fast(0.9, "l2"))
    assert "cw" in report
    assert report["worst"] <= min(v for k, v in report.items() if k != "worst")


def test_batches_and_loader_give_the_same_report(setup):
    mix, x, y = setup
    attacks = _fast(0.1)
    attacks["pgd-logits"] = PGD(eps=0.1, steps=4, restarts=2)  # random starts across batches
    whole = evaluate(mix, x, y, eps=0.1, attacks=attacks, batch_size=12, seed=5)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=12, shuffle=False)
    again = evaluate_loader(mix, loader, eps=0.1, attacks=attacks, seed=5)
    assert dict(whole) == dict(again)
    for k in whole.per_example:
        torch.testing.assert_close(whole.per_example[k], again.per_example[k], rtol=0, atol=0)
    part = evaluate_loader(mix, loader, eps=0.1, attacks=attacks, seed=5, max_batches=1)
    assert part.n == 12


def test_eps_zero_reports_the_natural_accuracy_everywhere(setup):
    mix, x, y = setup
    report = evaluate(mix, x, y, eps=0.0, attacks=_fast(0.0))
    for v in report.values():
        assert v == pytest.approx(report["natural"])


def test_default_attacks_carry_the_published_settings():
    linf = default_attacks(8 / 255, "linf")
    assert list(linf) == list(ATTACK_NAMES["linf"])
    pgd = linf["pgd-logits"]
    assert (pgd.eps, pgd.alpha, pgd.steps, pgd.restarts, pgd.random_start) == pytest.approx(
        (8 / 255, 2 / 255, 100, 3, True)
    )
    assert linf["pgd-loss"].expectation == "loss"
    apgd = linf["apgd-ce"]
    assert (apgd.steps, apgd.restarts, apgd.loss) == (100, 5, "ce")
    assert linf["apgd-dlr"].loss == "dlr"
    arc = linf["arc"]
    assert (arc.steps, arc.step_size, arc.random_start) == (20, pytest.approx(8 / 255), False)
    l2 = default_attacks(0.5, "l2")
    assert list(l2) == list(ATTACK_NAMES["l2"])
    cw = l2["cw-logits"]
    assert (cw.c, cw.lr, cw.binary_steps, cw.steps, cw.eps) == (1e-3, 0.01, 9, 100, 0.5)
    assert l2["cw-loss"].expectation == "loss"
    assert l2["arc"].step_size == pytest.approx(0.125)
    assert all(a.model is None for a in l2.values())


def test_all_skips_dlr_for_two_classes_and_says_so():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Flatten(), nn.Linear(12, 2)).eval()
    x = torch.rand(6, 12)
    y = torch.randint(0, 2, (6,))
    # "all" with tiny settings: monkeypatching is unnecessary, two-class linear models are fast
    report = evaluate(m, x, y, eps=0.05, attacks="all")
    assert "apgd-dlr" not in report
    assert "apgd-dlr" in report.skipped and "3 classes" in report.skipped["apgd-dlr"]
    assert "skipped" in str(report)
    assert set(report) == {"natural", "pgd-logits", "pgd-loss", "apgd-ce", "arc", "worst"}


def test_bad_arguments_raise(setup):
    mix, x, y = setup
    with pytest.raises(ValueError, match="unknown attack 'fgsm'"):
        evaluate(mix, x, y, eps=0.1, attacks=["fgsm"])
    with pytest.raises(ValueError, match="cw-logits"):
        evaluate(mix, x, y, eps=0.1, norm="linf", attacks=["cw-logits"])
    with pytest.raises(ValueError, match="norm"):
        evaluate(mix, x, y, eps=0.1, norm="linf", attacks={"p": PGD(eps=0.1, norm="l2")})
    with pytest.raises(ValueError, match="outside the evaluation's ball"):
        evaluate(mix, x, y, eps=0.1, attacks={"p": PGD(eps=0.2)})
    with pytest.raises(ValueError, match="rejection threshold"):
        evaluate(mix, x, y, eps=0.5, norm="l2", attacks={"cw": CW(eps=None)})
    with pytest.raises(ValueError, match="reserved"):
        evaluate(mix, x, y, eps=0.1, attacks={"worst": PGD(eps=0.1)})
    with pytest.raises(TypeError, match="Attack"):
        evaluate(mix, x, y, eps=0.1, attacks=[PGD(eps=0.1), 3])
    with pytest.raises(ValueError, match="eps must"):
        evaluate(mix, x, y, eps=-1.0)
    with pytest.raises(ValueError, match="y must have shape"):
        evaluate(mix, x, y[:-1], eps=0.1)


class _Cheater(PGD):
    """An attack that leaves the ball (to check evaluate's threat-model guard)."""

    def _run(self, mix, x, y, gen):
        return (x + 2 * self.eps).clamp(0, 1)


def test_evaluate_refuses_points_outside_the_threat_model(setup):
    mix, x, y = setup
    with pytest.raises(RuntimeError, match="outside the threat model"):
        evaluate(mix, x, y, eps=0.05, attacks={"cheat": _Cheater(eps=0.05)})


@pytest.mark.slow
@pytest.mark.parametrize("norm, eps", [("linf", 0.1), ("l2", 0.9)])
def test_all_default_attacks_on_a_small_mixture(setup, norm, eps):
    """The full protocol with the published settings, on 12 examples."""
    mix, x, y = setup
    report = evaluate(mix, x[:12], y[:12], eps=eps, norm=norm, attacks="all")
    assert list(report) == ["natural", *ATTACK_NAMES[norm], "worst"]
    assert report["worst"] <= min(report.values()) + 1e-12
    assert report["worst"] < report["natural"]
