"""The bridge to the solvers: candidate games (N, m, L) and attack oracles (MNE21, Alg. 1)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import advgame  # noqa: E402
from advgame.torch import ARC, PGD, Attack, Mixture, attack_oracle, candidate_losses  # noqa: E402
from advgame.torch.attacks import expected_error  # noqa: E402
from advgame.torch.models import SmallMLP, synthetic_images, train_classifier  # noqa: E402

torch.set_num_threads(1)

SHAPE = (3, 6, 6)


@pytest.fixture(scope="module")
def setup():
    x, y = synthetic_images(160, SHAPE, 4, noise=0.35, seed=2)
    models = []
    for k in range(3):
        torch.manual_seed(20 + k)
        models.append(train_classifier(SmallMLP(108, 4, hidden=12), x[:128], y[:128], steps=100, seed=k))
    return models, x[128:], y[128:]


def _attacks():
    return [PGD(eps=0.08, steps=6, restarts=1, random_start=False), ARC(eps=0.08, steps=2)]


def test_candidate_tensor_layout_and_losses(setup):
    models, x, y = setup
    losses, names = candidate_losses(models, x, y, _attacks(), return_names=True)
    N, L = len(y), len(models)
    assert losses.shape == (N, 1 + 2 * (L + 1), L)
    assert names[0] == "clean"
    assert names[1:5] == ["pgd@member0", "pgd@member1", "pgd@member2", "pgd@mixture"]
    assert names[5:] == ["arc@member0", "arc@member1", "arc@member2", "arc@mixture"]
    assert set(losses.unique().tolist()) <= {0.0, 1.0}
    clean = torch.stack([(m(x).argmax(1) != y).float() for m in models], 1)
    torch.testing.assert_close(losses[:, 0], clean)
    # an attack on member k alone never lowers member k's loss (the clean point is a candidate)
    for j, name in enumerate(names):
        if "@member" in name:
            k = int(name.split("member")[1])
            assert bool((losses[:, j, k] >= losses[:, 0, k]).all())
    # ... and an attack on the uniform mixture never lowers the mixture's expected loss
    lam = torch.full((L,), 1.0 / L)
    for j, name in enumerate(names):
        if name.endswith("@mixture"):
            assert bool((losses[:, j] @ lam >= losses[:, 0] @ lam - 1e-6).all())
    # the attacks find something: some candidate fools some member where the clean point does not
    assert float((losses[:, 1:].amax(1) - losses[:, 0]).sum()) > 0


def test_solving_the_candidate_game_gives_certified_weights(setup):
    models, x, y = setup
    losses = candidate_losses(models, x, y, _attacks())
    game = advgame.Game(losses)
    res = advgame.solve(game)
    w = res.weights
    assert isinstance(w, torch.Tensor) and w.shape == (3,)
    assert float(w.min()) >= -1e-9 and float(w.sum()) == pytest.approx(1.0)
    assert res.gap <= 1e-6  # the duality gap of the candidate game
    assert res.value == pytest.approx(game.risk(w), abs=1e-9)
    assert res.lower_bound <= res.value + 1e-12
    # the optimal mixture is no worse than the best single member on the candidate set
    assert res.value <= game.best_classifier()[1] + 1e-9
    mix = Mixture(models, w)
    assert float(mix.expected_accuracy(x, y)) >= 0.0


def test_cross_entropy_candidates_are_clipped_to_the_bound(setup):
    models, x, y = setup
    losses = candidate_losses(models, x[:10], y[:10], [PGD(eps=0.3, steps=5, restarts=1)], loss="ce", bound=2.0)
    assert float(losses.min()) >= 0.0 and float(losses.max()) <= 2.0
    assert float(losses.max()) == pytest.approx(2.0)  # something got clipped at eps=0.3
    res = advgame.solve(advgame.Game(losses, bound=2.0))
    assert res.gap <= 1e-6


def test_batching_and_a_mixture_argument(setup):
    models, x, y = setup
    whole = candidate_losses(models, x, y, _attacks())
    batched = candidate_losses(models, x, y, _attacks(), batch_size=7)
    torch.testing.assert_close(whole, batched, rtol=0, atol=0)
    mix = Mixture(models, [0.6, 0.2, 0.2])
    via_mix = candidate_losses(mix, x, y, _attacks())
    via_list = candidate_losses(models, x, y, _attacks(), weights=[0.6, 0.2, 0.2])
    torch.testing.assert_close(via_mix, via_list, rtol=0, atol=0)


def test_bad_arguments_raise(setup):
    models, x, y = setup
    with pytest.raises(ValueError, match="loss must be"):
        candidate_losses(models, x, y, _attacks(), loss="hinge")
    with pytest.raises(ValueError, match="bound applies"):
        candidate_losses(models, x, y, _attacks(), bound=3.0)
    with pytest.raises(TypeError, match="Attack"):
        candidate_losses(models, x, y, ["pgd"])
    with pytest.raises(ValueError, match="at least one"):
        candidate_losses(models, x, y, [])
    with pytest.raises(ValueError, match="y must have shape"):
        attack_oracle(models, x, y[:-1], _attacks()[0])


class _Enumerate(Attack):
    """An exact best response over a finite candidate set: the clean point, then
    ``x + offsets[j]`` clipped to the box; per example the first candidate with the
    largest expected 0/1 loss of the mixture (Game.best_response's tie rule)."""

    name = "enumerate"

    def __init__(self, model=None, *, offsets):
        super().__init__(model, eps=float(offsets.abs().max()), norm="linf")
        self.offsets = offsets

    def candidates(self, x):
        pts = [x] + [(x + o).clamp(0, 1) for o in self.offsets]
        return torch.stack(pts, 1)  # (B, m, ...)

    def _run(self, mix, x, y, gen):
        pts = self.candidates(x)
        B, m = pts.shape[:2]
        z = mix.member_logits(pts.flatten(0, 1), param_grad=False)  # (L, B*m, C)
        err = expected_error(z, mix.weights, y.repeat_interleave(m)).reshape(B, m)
        j = err.argmax(1)
        return pts[torch.arange(B), j]


def test_attack_oracle_agrees_with_the_game_best_response(setup):
    models, x, y = setup
    g = torch.Generator().manual_seed(0)
    offsets = 0.8 * (2 * torch.rand((12, *SHAPE), generator=g) - 1)
    attack = _Enumerate(offsets=offsets)
    # the game on the same candidates
    pts = attack.candidates(x)
    B, m = pts.shape[:2]
    losses = torch.stack(
        [(mm(pts.flatten(0, 1)).argmax(1) != y.repeat_interleave(m)).double().reshape(B, m) for mm in models], -1
    )
    game = advgame.Game(losses)
    oracle = attack_oracle(models, x, y, attack)
    # dyadic weights: the expected losses are exact in floating point, so ties match
    seen = set()
    for w in ([1.0, 0.0, 0.0], [0.5, 0.25, 0.25], [0.25, 0.25, 0.5], [0.125, 0.375, 0.5]):
        w = torch.tensor(w, dtype=torch.float64)
        got = oracle(w)
        assert got.shape == (3,) and got.dtype == torch.float64
        want = game.classifier_losses(game.best_response_strategy(w))
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
        assert float(w @ got) == pytest.approx(game.risk(w), abs=1e-12)
        seen.add(tuple(got.tolist()))
    assert len(seen) >= 3  # the best response moves with the weights: a real check
    assert oracle.calls == 4
    assert oracle.last_adversarial.shape == x.shape


def test_attack_oracle_with_a_real_attack(setup):
    models, x, y = setup
    oracle = attack_oracle(models, x, y, PGD(eps=0.08, steps=5, restarts=1), batch_size=16)
    w = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float32)
    g1 = oracle(w)
    g2 = oracle(w)
    assert g1.dtype == torch.float32 and g1.shape == (3,)
    torch.testing.assert_close(g1, g2, rtol=0, atol=0)  # reseeded: a function of the weights
    clean = torch.stack([(m(x).argmax(1) != y).double().mean() for m in models])
    # attacking the mixture raises its expected loss above the clean one
    assert float(w.double() @ g1.double()) > float(w.double() @ clean)
    assert float(g1.min()) >= 0.0 and float(g1.max()) <= 1.0
    ce = attack_oracle(models, x, y, PGD(eps=0.08, steps=3, restarts=1), loss="ce", bound=5.0)([1 / 3] * 3)
    assert ce.dtype == torch.float64 and float(ce.max()) <= 5.0


def test_algorithm1_with_the_enumerating_oracle_matches_the_exact_oracle(setup):
    """solve(method="oracle", oracle=attack_oracle(...)) is MNE21 Alg. 1 with an attack as
    the oracle: with an attack that enumerates the game's own candidates it must take the
    same steps as the default exact oracle on that game."""
    models, x, y = setup
    g = torch.Generator().manual_seed(1)
    attack = _Enumerate(offsets=0.8 * (2 * torch.rand((10, *SHAPE), generator=g) - 1))
    pts = attack.candidates(x)
    B, m = pts.shape[:2]
    losses = torch.stack(
        [(mm(pts.flatten(0, 1)).argmax(1) != y.repeat_interleave(m)).double().reshape(B, m) for mm in models], -1
    )
    game = advgame.Game(losses)
    exact = advgame.solve(game, method="oracle", max_iter=25)
    via_attack = advgame.solve(game, method="oracle", max_iter=25, oracle=attack_oracle(models, x, y, attack))
    torch.testing.assert_close(via_attack.weights, exact.weights, rtol=0, atol=1e-12)
    assert via_attack.history == pytest.approx(exact.history, abs=1e-12)
    assert via_attack.adversary is None and via_attack.gap == pytest.approx(exact.gap, abs=1e-12)


def test_algorithm1_with_pgd_on_the_candidate_game(setup):
    """The deep-net loop: candidates from attacks, the exact LP on them, and Alg. 1 with a
    PGD oracle; both give weights on the simplex and report their certificates."""
    models, x, y = setup
    losses = candidate_losses(models, x, y, _attacks())
    game = advgame.Game(losses)
    lp = advgame.solve(game)
    assert lp.status == "optimal" and lp.gap <= 1e-9
    oracle = attack_oracle(models, x, y, PGD(eps=0.08, steps=4, restarts=1, random_start=False))
    res = advgame.solve(game, method="oracle", max_iter=8, oracle=oracle)
    assert oracle.calls == 8 and len(res.history) == 8
    w = res.weights.double()
    assert float(w.min()) >= 0 and float(w.sum()) == pytest.approx(1.0, abs=1e-6)
    # the oracle's value never exceeds 1 (0/1 loss) and its certificate is consistent
    assert 0.0 <= res.lower_bound <= res.value <= 1.0
    assert res.info["game_risk"] == pytest.approx(game.risk(res.weights), abs=1e-12)
