"""Training options of the studies issue (20): best-epoch selection, BARRE, ARC as the
weight oracle, the lambda-weighted member step, the width of the members."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from advgame.torch.data import load_dataset  # noqa: E402
from advgame.torch.training import Trainer, TrainConfig  # noqa: E402
from advgame.torch.training.algorithms import _sgd_step  # noqa: E402

FAST = dict(batch_size=512, attack_steps=1, eval_steps=2, eval_samples=30)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _states(members):
    return [{k: v.clone() for k, v in m.state_dict().items()} for m in members]


def _equal(a, b):
    return all(torch.equal(x, y) for sa, sb in zip(a, b) for x, y in zip(sa.values(), sb.values()))


@pytest.mark.parametrize("algo, models", [("at", 1), ("mixture", 2)])
def test_select_best_ends_with_the_most_robust_epoch(digits, tmp_path, algo, models):
    cfg = TrainConfig(algo=algo, models=models, epochs=3, seed=1, **FAST)
    tr = Trainer(cfg, digits, out=tmp_path / "run")
    snapshots = []
    while tr.epoch < cfg.total_epochs:
        tr.fit(max_epochs=1)
        if tr.epoch < cfg.total_epochs:
            snapshots.append((_states(tr.members), tr.mixture.weights.clone()))
    robust = [r["robust"] for r in tr.history]
    best = max(range(len(robust)), key=lambda e: (robust[e], -e))  # the first of the most robust epochs
    summary = tr.finish()
    assert summary["selected_epoch"] == best + 1 and summary["select"] == "best"
    assert summary["robust"] == robust[best] and summary["natural"] == tr.history[best]["natural"]
    if best + 1 < cfg.total_epochs:  # the run ends with that epoch's members and weights
        states, weights = snapshots[best]
        assert _equal(_states(tr.members), states) and torch.equal(tr.mixture.weights, weights)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert _equal(saved["members"], _states(tr.members))


def test_select_last_keeps_the_last_epoch(digits):
    cfg = TrainConfig(algo="at", models=1, epochs=2, seed=1, select="last", **FAST)
    tr = Trainer(cfg, digits)
    tr.fit()
    last = _states(tr.members)
    summary = tr.finish()
    assert summary["selected_epoch"] == 2 and summary["robust"] == tr.history[-1]["robust"]
    assert _equal(_states(tr.members), last)


def test_selection_resumes_bit_identically(digits, tmp_path):
    cfg = TrainConfig(algo="mixture", models=2, epochs=2, seed=3, **FAST)
    whole = Trainer(cfg, digits, out=tmp_path / "a")
    whole.fit()
    part = Trainer(cfg, digits, out=tmp_path / "b")
    part.fit(max_epochs=3)
    again = Trainer(cfg, digits, out=tmp_path / "b")
    assert again.resume()
    assert again.selected is not None and again.selected["epoch"] == part.selected["epoch"]
    again.fit()
    assert _equal(_states(whole.members), _states(again.members))
    assert torch.equal(whole.mixture.weights, again.mixture.weights)
    assert whole.finish() == again.finish()


def test_barre_trains_members_in_turn_from_the_previous_one(digits, tmp_path):
    cfg = TrainConfig(algo="barre", models=2, epochs=2, seed=0, t_lambda=3, select="last", **FAST)
    tr = Trainer(cfg, digits, out=tmp_path / "run")
    tr.fit(max_epochs=2)  # phase 0: member 0 alone; then member 1 starts as a copy of member 0
    assert tr.active() == 2
    assert _equal(_states(tr.members[1:]), _states(tr.members[:1]))
    assert torch.allclose(tr.mixture.weights, torch.tensor([0.5, 0.5]))
    before0 = _states(tr.members[:1])
    tr.fit()
    assert _equal(_states(tr.members[:1]), before0)  # phase 1 trains member 1 only
    assert not _equal(_states(tr.members[1:]), before0)
    w = tr.mixture.weights
    assert torch.all(w >= 0) and abs(float(w.sum()) - 1) < 1e-6
    assert tr.history[-1]["gap"] is not None and tr.history[-1]["gap"] >= 0  # the ARC weight fit's certificate
    assert tr.history[0]["members"] == 1 and tr.history[-1]["members"] == 2


def test_barre_needs_two_members_and_checkpoints_resume(digits, tmp_path):
    with pytest.raises(ValueError, match="at least 2 for algo='barre'"):
        TrainConfig(algo="barre", models=1)
    cfg = TrainConfig(algo="barre", models=2, epochs=2, seed=0, t_lambda=2, **FAST)
    whole = Trainer(cfg, digits, out=tmp_path / "a")
    whole.fit()
    part = Trainer(cfg, digits, out=tmp_path / "b")
    part.fit(max_epochs=3)
    again = Trainer(cfg, digits, out=tmp_path / "b")
    again.resume()
    again.fit()
    assert _equal(_states(whole.members), _states(again.members))
    assert torch.equal(whole.mixture.weights, again.mixture.weights)


def test_arc_weight_oracle_in_algorithm_2(digits):
    cfg = TrainConfig(algo="mixture", models=2, epochs=1, seed=0, weight_oracle="arc", t_lambda=3, **FAST)
    tr = Trainer(cfg, digits)
    tr.fit()
    assert tr.history[-1]["gap"] is not None and tr.history[-1]["gap"] >= 0
    assert abs(float(tr.mixture.weights.sum()) - 1) < 1e-6


def test_lambda_weighted_member_step_scales_the_gradient():
    torch.manual_seed(0)
    models = [torch.nn.Linear(3, 2) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    x, y = torch.rand(5, 3), torch.tensor([0, 1, 0, 1, 1])
    steps = []
    for m, scale in zip(models, (1.0, 2.0)):
        before = m.weight.detach().clone()
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        _sgd_step(m, opt, lambda m=m: torch.nn.functional.cross_entropy(m(x), y), scale=scale)
        steps.append(m.weight.detach() - before)
    assert torch.allclose(steps[1], 2 * steps[0], atol=1e-7)
    cfg = TrainConfig(algo="mixture", models=2, epochs=1, member_weighting="lambda", **FAST)
    assert cfg.member_weighting == "lambda"
    with pytest.raises(ValueError, match="member_weighting"):
        TrainConfig(member_weighting="sqrt")


def test_width_builds_wider_members(digits):
    tr = Trainer(TrainConfig(algo="at", models=1, epochs=1, width=2.0, **FAST), digits)
    assert tr.members[0].net[1].out_features == 128
    with pytest.raises(ValueError, match="width"):
        TrainConfig(width=0)


def test_cli_options_and_final_line(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "advgame", "train", "--algo", "barre", "--models", "2", "--epochs", "1",
                        "--out", str(out), "--no-progress", "--attack-steps", "1", "--eval-steps", "2",
                        "--eval-samples", "40", "--batch-size", "256", "--threads", "1", "--t-lambda", "2"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert f"epoch {summary['selected_epoch']}, the most robust (--select best)" in p.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["algo"] == "barre" and config["select"] == "best"
    helptext = subprocess.run([sys.executable, "-m", "advgame", "train", "--help"], capture_output=True,
                              text=True).stdout
    for flag in ("--select", "--width", "--weight-oracle", "--member-weighting", "barre"):
        assert flag in helptext


def test_eps_warmup_schedule_and_validation():
    cfg = TrainConfig(algo="at", models=1, epochs=6, eps=0.3, step=0.075, eps_warmup=3)
    budgets = [cfg.training_budget(e) for e in range(1, 7)]
    assert budgets[0] == pytest.approx((0.1, 0.025)) and budgets[1] == pytest.approx((0.2, 0.05))
    assert budgets[2:] == [(0.3, 0.075)] * 4
    plain = TrainConfig(algo="at", models=1, epochs=2, eps=0.3, step=0.1)
    assert plain.training_budget(1) == (0.3, 0.1)
    with pytest.raises(ValueError, match="eps_warmup"):
        TrainConfig(algo="at", models=1, epochs=2, eps_warmup=3)
    with pytest.raises(ValueError, match="eps_warmup"):
        TrainConfig(algo="at", models=1, epochs=2, eps_warmup=-1)


@pytest.mark.parametrize("algo, models", [("at", 1), ("mixture", 2), ("barre", 2)])
def test_eps_warmup_trains_at_the_growing_budget_and_validates_at_eps(digits, monkeypatch, algo, models):
    import advgame.torch.training.trainer as trainer_module

    seen, validated = [], []
    for name in ("adversarial_batch", "barre_batch"):
        original = getattr(trainer_module, name)

        def spy(cfg, *args, _original=original, **kwargs):
            seen.append((tr.epoch + 1, round(cfg.eps, 6), round(cfg.step, 6)))
            return _original(cfg, *args, **kwargs)

        monkeypatch.setattr(trainer_module, name, spy)
    cfg = TrainConfig(algo=algo, models=models, epochs=2, eps=0.2, step=0.05, eps_warmup=2, seed=0, **FAST)
    tr = Trainer(cfg, digits)
    original_validate = tr.validate

    def validate(*args, **kwargs):
        validated.append(tr.cfg.eps)
        return original_validate(*args, **kwargs)

    tr.validate = validate
    tr.fit()
    assert {(e, s) for ep, e, s in seen if ep == 1} == {(0.1, 0.025)}
    assert {(e, s) for ep, e, s in seen if ep >= 2} == {(0.2, 0.05)}
    assert validated and set(validated) == {0.2} and tr.cfg.eps == 0.2 and tr.cfg.step == 0.05


def test_eps_warmup_on_the_command_line_and_in_the_saved_config(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "advgame", "train", "--dataset", "digits", "--algo", "at", "--epochs", "2",
           "--eps-warmup", "1", "--batch-size", "512", "--attack-steps", "1", "--eval-steps", "1",
           "--eval-samples", "20", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "config.json").read_text())["eps_warmup"] == 1
    bad = subprocess.run(cmd[:-2] + ["--eps-warmup", "5", "--out", str(tmp_path / "bad")],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "eps_warmup" in bad.stderr


def test_a_wider_members_checkpoint_loads(digits, tmp_path):
    from advgame.torch import mixture_from_checkpoint

    cfg = TrainConfig(algo="at", models=1, epochs=1, width=2.0, seed=0, **FAST)
    tr = Trainer(cfg, digits, out=tmp_path / "wide")
    tr.fit()
    tr.finish()
    mix, loaded, _ = mixture_from_checkpoint(tmp_path / "wide" / "checkpoint.pt")
    assert loaded.width == 2.0
    x = torch.rand(4, *digits.input_shape)
    assert torch.allclose(mix(x), tr.current_mixture()(x), atol=1e-6)
