"""Training algorithms (MNE21 Alg. 2, RM20 BAT, AT/TRADES) and exact resume, on tiny data."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from _training_data import needs_warm_start, tiny_config, tiny_data  # noqa: E402

from advgame.torch import Mixture  # noqa: E402
from advgame.torch.training import (  # noqa: E402
    Trainer,
    TrainConfig,
    load_checkpoint,
    trades_attack,
    trades_loss,
)
from advgame.torch.training.algorithms import bat_weights, member_step  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------- config
def test_config_defaults_follow_the_papers():
    c = TrainConfig(algo="mixture", dataset="cifar10")
    assert (c.lr, c.momentum, c.weight_decay, c.attack_steps, c.beta) == (0.1, 0.9, 5e-4, 10, 6.0)
    assert c.eps == pytest.approx(8 / 255) and c.step == pytest.approx(2 / 255) and c.arch == "resnet18"
    b = TrainConfig(algo="bat", dataset="cifar10", models=2)
    assert (b.weight_decay, b.attack_steps, b.mixture_weight) == (2e-4, 20, 0.2)
    assert TrainConfig(algo="trades", models=1).loss == "trades"
    assert TrainConfig.from_dict(b.to_dict()) == b


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(algo="at", models=2), ValueError, "models must be 1"),
    (dict(algo="bat", models=1), ValueError, "at least 2"),
    (dict(algo="boost"), ValueError, "algo must be one of"),
    (dict(batch_size="64"), TypeError, "batch_size must be an integer"),
    (dict(lr=0.0), ValueError, "lr must lie in"),
    (dict(mixture_weight=1.0), ValueError, "mixture_weight"),
    (dict(milestones=(0.5, 1.5)), ValueError, "milestones"),
    (dict(random_start=1), TypeError, "random_start must be True or False"),
])
def test_config_rejects_bad_settings(kwargs, err, match):
    with pytest.raises(err, match=match):
        TrainConfig(**kwargs)


# ---------------------------------------------------------------- losses
def test_trades_loss_is_cross_entropy_plus_beta_kl():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    x, y = torch.rand(8, 5), torch.randint(0, 3, (8,))
    ce = torch.nn.functional.cross_entropy(model(x), y)
    assert torch.allclose(trades_loss(model, x, y, x, beta=6.0), ce, atol=1e-6)  # KL(p || p) = 0
    x_adv = (x + 0.3).clamp(0, 1)
    p, q = torch.softmax(model(x), 1), torch.softmax(model(x_adv), 1)
    kl = (p * (p.log() - q.log())).sum(1).mean()
    assert torch.allclose(trades_loss(model, x_adv, y, x, beta=2.0), ce + 2.0 * kl, atol=1e-5)


def test_trades_loss_normalizes_clean_and_adversarial_batches_separately():
    """Issue 20 item 5: two forward passes, as Zhang et al.: in train mode, batch norm uses
    the clean batch's statistics for the clean logits (a concatenated pass would not)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3)).train()
    x, y = torch.rand(16, 5), torch.randint(0, 3, (16,))
    x_adv = x + 2.0  # far away: very different batch statistics
    z, z_adv = model(x), model(x_adv)
    kl = torch.nn.functional.kl_div(torch.log_softmax(z_adv, 1), torch.log_softmax(z, 1), reduction="batchmean",
                                    log_target=True)
    expected = torch.nn.functional.cross_entropy(z, y) + 6.0 * kl
    assert torch.allclose(trades_loss(model, x_adv, y, x, beta=6.0), expected, atol=1e-6)
    joint = model(torch.cat([x, x_adv]))
    concatenated = torch.nn.functional.cross_entropy(joint[:16], y) + 6.0 * torch.nn.functional.kl_div(
        torch.log_softmax(joint[16:], 1), torch.log_softmax(joint[:16], 1), reduction="batchmean", log_target=True)
    assert not torch.allclose(concatenated, expected, atol=1e-3)


def test_trades_attack_stays_in_the_ball_and_raises_the_kl():
    torch.manual_seed(0)
    mix = Mixture([torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)], [0.3, 0.7])
    x = torch.rand(16, 5)
    gen = torch.Generator().manual_seed(0)
    x_adv = trades_attack(mix, x, eps=0.1, step=0.03, steps=5, generator=gen)
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6 and float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1
    with torch.no_grad():
        kl = torch.nn.functional.kl_div(mix(x_adv, log=True), mix(x, log=True), reduction="sum", log_target=True)
    assert float(kl) > 1e-4


def test_member_step_trains_in_train_mode_and_leaves_eval_mode():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    model.eval()
    seen = []
    model[1].register_forward_hook(lambda m, i, o: seen.append(m.training))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model[0].weight.detach().clone()
    member_step(model, model, opt, torch.rand(6, 4), torch.randint(0, 3, (6,)))
    assert seen == [True] and not model.training and not model[1].training
    assert not torch.equal(before, model[0].weight)


def test_bat_weights_rescale_by_one_minus_alpha():
    w = bat_weights(torch.tensor([1.0]), 0.2)
    assert torch.allclose(w, torch.tensor([0.8, 0.2]))
    w3 = bat_weights(w, 0.2)
    assert torch.allclose(w3, torch.tensor([0.64, 0.16, 0.2])) and float(w3.sum()) == pytest.approx(1.0)


# ---------------------------------------------------------------- Alg. 2
@needs_warm_start
def test_algorithm2_alternates_member_and_weight_steps_as_written():
    """MNE21 Alg. 2: step t is a weight step iff t mod (T_theta L + 1) == 0, else one
    uniformly drawn member takes exactly one SGD step."""
    cfg = tiny_config(models=2, t_theta=2)  # weight step every 5th batch
    tr = Trainer(cfg, tiny_data(n_train=160))
    weight_steps, member_steps = [], []
    update = tr.solver.update

    def spy_update(*a, **k):
        weight_steps.append(tr.step)
        return update(*a, **k)

    tr.solver.update = spy_update
    for k, opt in enumerate(tr.optimizers):
        step = opt.step

        def spy_step(*a, _k=k, _step=step, **kw):
            member_steps.append((tr.step, _k))
            return _step(*a, **kw)

        opt.step = spy_step
    tr.fit()
    n_batches = cfg.total_epochs * (160 // 16)  # L x epochs epochs (MNE21, Sec. 5.2)
    assert weight_steps == [t for t in range(1, n_batches + 1) if t % 5 == 0]
    assert [t for t, _ in member_steps] == [t for t in range(1, n_batches + 1) if t % 5 != 0]
    assert {k for _, k in member_steps} == {0, 1}  # both members drawn (seeded)
    w = tr.mixture.weights
    assert float(w.min()) >= 0 and float(w.sum()) == pytest.approx(1.0, abs=1e-6)
    assert len(tr.history) == cfg.total_epochs == 2


def test_one_member_is_plain_adversarial_training():
    tr = Trainer(tiny_config(algo="at", models=1), tiny_data())
    calls = []
    tr.solver.update = lambda *a, **k: calls.append(1)
    tr.fit()
    assert calls == [] and tr.step == 6 and tr.mixture.weights.tolist() == [1.0]


# ---------------------------------------------------------------- BAT
def test_bat_three_members_weights_and_best_first_member():
    cfg = tiny_config(algo="bat", models=3, epochs=2, attack_steps=2)
    tr = Trainer(cfg, tiny_data())
    hist = tr.fit()
    assert [r["members"] for r in hist] == [1, 1, 2, 2, 3, 3]
    assert torch.allclose(tr.mixture.weights, torch.tensor([0.64, 0.16, 0.2]))
    # RM20's bestAUA: h1 is the phase-0 epoch with the best validation robust accuracy
    best = max(r["robust"] for r in hist[:2])
    assert tr.best[0] == best
    for k, v in tr.members[0].state_dict().items():
        assert torch.equal(v, tr.best[1][k])
    assert hist[2]["weights"] == pytest.approx([0.8, 0.2])


def test_lp_weights_are_reported_next_to_the_trained_ones(tmp_path):
    cfg = tiny_config(algo="bat", models=2, weights_lp=True)
    tr = Trainer(cfg, tiny_data(), out=tmp_path)
    tr.fit()
    s = tr.finish()
    assert s["weights"] == pytest.approx([0.8, 0.2])
    w = torch.tensor(s["lp"]["weights"])
    assert float(w.min()) >= -1e-9 and float(w.sum()) == pytest.approx(1.0, abs=1e-6)
    assert 0 <= s["lp"]["robust"] <= 1 and s["lp"]["gap"] <= 1e-6
    assert (tmp_path / "summary.json").exists() and (tmp_path / "accuracy.png").exists()
    assert load_checkpoint(tmp_path / "checkpoint.pt")["weights_lp"] is not None


# ---------------------------------------------------------------- resume
def _assert_same_state(a, b):
    for ma, mb in zip(a.members, b.members):
        for (ka, va), (kb, vb) in zip(ma.state_dict().items(), mb.state_dict().items()):
            assert ka == kb and torch.equal(va, vb), ka
    assert torch.equal(a.mixture.weights, b.mixture.weights)
    for oa, ob in zip(a.optimizers, b.optimizers):
        for sa, sb in zip(oa.state_dict()["state"].values(), ob.state_dict()["state"].values()):
            assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    assert a.step == b.step and a.history[-1]["robust"] == b.history[-1]["robust"]


@pytest.mark.parametrize("algo, models, epochs", [pytest.param("mixture", 2, 1, marks=needs_warm_start),
                                                   ("bat", 2, 1), ("trades", 1, 2)])
def test_resume_is_bit_identical(tmp_path, algo, models, epochs):
    """An uninterrupted run and a run stopped after one epoch, then resumed from its
    checkpoint by a fresh Trainer, end with equal parameters, weights and optimizers."""
    cfg = tiny_config(algo=algo, models=models, epochs=epochs, milestones=(0.5,))
    full = Trainer(cfg, tiny_data(), out=tmp_path / "full")
    full.fit()
    part = Trainer(cfg, tiny_data(), out=tmp_path / "part")
    part.fit(max_epochs=1)
    assert part.epoch == 1
    resumed = Trainer(cfg, tiny_data(), out=tmp_path / "part")
    assert resumed.resume()
    assert resumed.epoch == 1
    resumed.fit()
    _assert_same_state(full, resumed)
    assert [r["natural"] for r in full.history] == [r["natural"] for r in resumed.history]


@needs_warm_start
def test_resume_refuses_other_settings(tmp_path):
    tr = Trainer(tiny_config(), tiny_data(), out=tmp_path)
    tr.fit(max_epochs=1)
    other = Trainer(tiny_config(lr=0.01), tiny_data(), out=tmp_path)
    with pytest.raises(ValueError, match="other settings.*lr"):
        other.resume()


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not readable"):
        load_checkpoint(bad)
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an advgame training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_plot_runs_returns_axes_with_one_line_per_run():
    import matplotlib

    matplotlib.use("Agg")
    from advgame.torch.training import plot_runs

    h1 = [{"epoch": e, "members": 1, "natural": 0.5, "robust": 0.1 * e} for e in (1, 2)]
    h2 = [{"epoch": e, "members": 2, "natural": 0.5, "robust": 0.1} for e in (1, 2, 3, 4)]
    ax = plot_runs({"L=1": h1, "L=2": h2}, "robust")
    assert len(ax.lines) == 2
    assert list(ax.lines[1].get_xdata()) == [0.5, 1.0, 1.5, 2.0]  # epochs per member (MNE21 Fig. 3)
    assert ax.get_xlabel() == "epochs per member"
    with pytest.raises(ValueError, match="metric"):
        plot_runs({"x": h1}, "accuracy", ax=ax)


@pytest.mark.parametrize("overrides", [dict(weight_method="entropic", temperature=0.05),
                                       dict(weight_method="lp"),
                                       dict(loss="trades", weight_loss="ce")])
@needs_warm_start
def test_algorithm2_weight_solvers_and_trades(overrides):
    """The weight step through MixtureSolver with each solver (candidate game of the
    batch for entropic / lp), and TRADES as the inner loss of Alg. 2."""
    if overrides.get("weight_method") == "lp":
        import inspect

        from advgame.solvers.lp import solve_lp

        if "init" not in inspect.signature(solve_lp).parameters:
            pytest.skip("solve(method='lp') has no init= yet (MixtureSolver warm-starts every method)")
    cfg = tiny_config(models=2, **overrides)
    tr = Trainer(cfg, tiny_data())
    before = tr.mixture.weights.clone()
    hist = tr.fit()
    w = tr.mixture.weights
    assert float(w.min()) >= 0 and float(w.sum()) == pytest.approx(1.0, abs=1e-5)
    assert not torch.equal(before, w)  # the weight steps moved the weights
    assert hist[-1]["gap"] is not None and hist[-1]["gap"] >= -1e-6
    assert all(r["loss"] is not None and r["loss"] > 0 for r in hist)


def test_log_shows_the_learning_rate_each_epoch_trained_at(tmp_path):
    """The ``lr`` column is read before the scheduler steps (review finding)."""
    cfg = tiny_config(algo="at", models=1, epochs=2, milestones=(0.5,), gamma=0.1)
    history = Trainer(cfg, tiny_data(), out=None).fit()
    assert [row["lr"] for row in history] == pytest.approx([cfg.lr, cfg.lr * 0.1])
