"""Adaptive attacks on mixtures: threat model, seeding, and the sanity checks of RM20
(supplement Sec. 2.3, Table 2) and Tramer et al. (2020).

Models are tiny MLPs trained for a few hundred Adam steps on seeded synthetic
"images" (advgame.torch.models.synthetic_images), so everything runs on a CPU.
"""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from advgame.torch import APGD, ARC, ARCL2, CW, PGD, PGDL2, Mixture, evaluate  # noqa: E402
from advgame.torch.attacks import apgd_checkpoints, mixture_objective  # noqa: E402
from advgame.torch.models import SmallMLP, synthetic_images, train_classifier  # noqa: E402

torch.set_num_threads(1)

SHAPE = (3, 6, 6)
D = 3 * 6 * 6
C = 4


def _train(dtype, L=3, n_train=192, seed=0):
    x, y = synthetic_images(n_train, SHAPE, C, noise=0.3, seed=seed, dtype=dtype)
    models = []
    for k in range(L):
        torch.manual_seed(100 + k)
        models.append(train_classifier(SmallMLP(D, C, hidden=16).to(dtype), x, y, steps=150, lr=1e-2, seed=k))
    xt, yt = synthetic_images(n_train + 40, SHAPE, C, noise=0.3, seed=seed, dtype=dtype)
    return models, xt[n_train:], yt[n_train:]


@pytest.fixture(scope="module")
def setup32():
    models, x, y = _train(torch.float32)
    return Mixture(models, [0.5, 0.3, 0.2], vectorize=False), x, y


@pytest.fixture(scope="module")
def setup64():
    models, x, y = _train(torch.float64)
    return models, x[:24], y[:24]


def _lp(d, norm):
    flat = d.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


ATTACKS = {
    "pgd-linf-logits": lambda m: PGD(m, eps=0.1, steps=10, restarts=2),
    "pgd-linf-loss": lambda m: PGD(m, eps=0.1, steps=10, restarts=2, expectation="loss"),
    "pgd-linf-probs": lambda m: PGD(m, eps=0.1, steps=10, restarts=1, expectation="probs"),
    "pgd-l2": lambda m: PGDL2(m, eps=0.8, steps=10, restarts=2),
    "apgd-ce-linf": lambda m: APGD(m, eps=0.1, steps=12, restarts=2),
    "apgd-dlr-linf": lambda m: APGD(m, eps=0.1, steps=12, restarts=1, loss="dlr"),
    "apgd-ce-l2": lambda m: APGD(m, eps=0.8, steps=12, restarts=1, norm="l2", expectation="logits"),
    "cw-threshold": lambda m: CW(m, eps=0.8, steps=15, binary_steps=3, c=1.0),
    "cw-loss": lambda m: CW(m, eps=0.8, steps=15, binary_steps=3, c=1.0, expectation="loss"),
    "arc-linf": lambda m: ARC(m, eps=0.1, steps=4),
    "arc-l2": lambda m: ARCL2(m, eps=0.8, steps=4),
    "arc-l2-random-start": lambda m: ARCL2(m, eps=0.8, steps=2, random_start=True),
    "cw-reduce": lambda m: CW(m, eps=1.2, steps=50, binary_steps=3, c=1.0),
    "arc-topk": lambda m: ARC(m, eps=0.1, steps=3, top_k=2),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_respects_its_norm_ball_and_the_box(setup32, name):
    mix, x, y = setup32
    attack = ATTACKS[name](mix)
    x_adv = attack(x, y)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and x_adv.device == x.device
    assert not x_adv.requires_grad
    dist = _lp(x_adv - x, attack.norm)
    assert float(dist.max()) <= attack.eps * (1 + 1e-6) + 1e-6
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    # the clean point is a candidate of every attack: accuracy never rises, per example
    clean = mix.expected_accuracy(x, y, reduction="none")
    adv = mix.expected_accuracy(x_adv, y, reduction="none")
    assert bool((adv <= clean + 1e-12).all())


@pytest.mark.parametrize("name", ["pgd-linf-logits", "apgd-ce-linf", "arc-l2", "cw-reduce"])
def test_attacks_reduce_accuracy(setup32, name):
    mix, x, y = setup32
    clean = float(mix.expected_accuracy(x, y))
    adv = float(mix.expected_accuracy(ATTACKS[name](mix)(x, y), y))
    assert clean > 0.9
    assert adv < clean - 0.1


@pytest.mark.parametrize("name", ["pgd-linf-logits", "pgd-l2", "apgd-ce-linf", "arc-l2-random-start"])
def test_attacks_are_reproducible_from_their_seed(setup32, name):
    mix, x, y = setup32
    a = ATTACKS[name](mix)
    torch.testing.assert_close(a(x, y), a(x, y), rtol=0, atol=0)
    a.seed = torch.Generator().manual_seed(a.seed if isinstance(a.seed, int) else 0)
    first = a(x, y)
    second = a(x, y)  # the generator advanced: other random starts
    assert not torch.equal(first, second)


def test_random_starts_depend_on_the_seed(setup32):
    mix, x, y = setup32
    a = PGD(mix, eps=0.1, steps=0, restarts=1, seed=1)
    b = PGD(mix, eps=0.1, steps=0, restarts=1, seed=2)
    # with no steps, the result is the clean point or the random start
    assert not torch.equal(a(x, y), b(x, y))


def test_accuracy_falls_to_zero_as_eps_grows(setup32):
    """RM20, supplement Table 2: no gradient masking -- accuracy -> 0 as eps grows."""
    mix, x, y = setup32
    accs = []
    for eps in (0.0, 0.05, 0.1, 0.2, 0.4):
        x_adv = PGD(mix, eps=eps, steps=20, restarts=1)(x, y)
        accs.append(float(mix.expected_accuracy(x_adv, y)))
    assert accs[0] == pytest.approx(float(mix.expected_accuracy(x, y)))
    assert all(b <= a + 1.0 / len(y) for a, b in zip(accs, accs[1:])), accs
    assert accs[-1] <= 0.02, accs


@pytest.mark.parametrize(
    "make",
    [
        lambda m, s: PGD(m, eps=0.08, steps=s, restarts=2),
        lambda m, s: PGDL2(m, eps=0.6, steps=s, restarts=1, expectation="loss"),
        lambda m, s: ARC(m, eps=0.08, steps=s),
    ],
    ids=["pgd-linf", "pgd-l2", "arc"],
)
def test_more_iterations_never_raise_accuracy(setup32, make):
    """RM20, supplement Sec. 2.3: 200 instead of 100 iterations changes nothing for the
    worse; with the per-example best iterate and a seeded run, more steps can only help."""
    mix, x, y = setup32
    prev = None
    for steps in (2, 5, 10):
        acc = mix.expected_accuracy(make(mix, steps)(x, y), y, reduction="none")
        if prev is not None:
            assert bool((acc <= prev + 1e-12).all())
        prev = acc


class _Shifted(nn.Module):
    """A model whose logits are shifted by a constant (per member): same classifier."""

    def __init__(self, model, shift):
        super().__init__()
        self.model = model
        self.shift = shift

    def forward(self, x):
        return self.model(x) + self.shift


@pytest.mark.parametrize(
    "make",
    [
        lambda m: PGD(m, eps=0.1, steps=8, restarts=1),
        lambda m: PGD(m, eps=0.1, steps=8, restarts=1, expectation="loss"),
        lambda m: APGD(m, eps=0.1, steps=8, restarts=1, loss="dlr"),
        lambda m: CW(m, eps=0.8, steps=8, binary_steps=2, c=1.0),
        lambda m: ARC(m, eps=0.1, steps=3),
    ],
    ids=["pgd-logits", "pgd-loss", "apgd-dlr", "cw", "arc"],
)
def test_adding_a_constant_to_the_logits_changes_nothing(setup64, make):
    """Tramer et al. (2020) / RM20 supplement Sec. 2.3 sanity check."""
    models, x, y = setup64
    mix = Mixture(models, [0.5, 0.3, 0.2], vectorize=False)
    shifted = Mixture([_Shifted(m, 3.0 + 2 * k) for k, m in enumerate(models)], [0.5, 0.3, 0.2], vectorize=False)
    a = make(mix)(x, y)
    b = make(shifted)(x, y)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-8)


def _reference_pgd(models, lam, x, y, eps, alpha, steps, expectation):
    """A plain PGD (Linf, no random start) with the per-example best iterate by
    (exact expected error, loss), written independently of the library."""
    best_x, best_err, best_loss = x.clone(), None, None

    def err_and_loss(xa, with_grad):
        xa = xa.clone().requires_grad_(with_grad)
        outs = [m(xa) for m in models]
        if expectation == "logits":
            z = sum(w * o for w, o in zip(lam, outs))
            loss = nn.functional.cross_entropy(z, y, reduction="none")
        else:
            loss = sum(w * nn.functional.cross_entropy(o, y, reduction="none") for w, o in zip(lam, outs))
        err = sum(w * (o.argmax(1) != y).double() for w, o in zip(lam, outs))
        grad = torch.autograd.grad(loss.sum(), xa)[0] if with_grad else None
        return err.detach(), loss.detach(), grad

    best_err, _, _ = err_and_loss(x, False)
    best_loss = torch.full_like(best_err, -float("inf"))
    xa = x.clone()
    for t in range(steps + 1):
        err, loss, grad = err_and_loss(xa, t < steps)
        better = (err > best_err) | ((err == best_err) & (loss.double() > best_loss))
        best_x[better] = xa[better]
        best_err = torch.where(better, err, best_err)
        best_loss = torch.where(better, loss.double(), best_loss)
        if t < steps:
            xa = torch.min(torch.max(xa + alpha * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return best_x


@pytest.mark.parametrize("expectation", ["logits", "loss"])
def test_pgd_matches_an_independent_reference(setup64, expectation):
    models, x, y = setup64
    lam = [0.5, 0.3, 0.2]
    ref = _reference_pgd(models, lam, x, y, 0.1, 0.025, 10, expectation)
    for vectorize in (False, True):
        mix = Mixture(models, lam, vectorize=vectorize)
        ours = PGD(mix, eps=0.1, alpha=0.025, steps=10, random_start=False, expectation=expectation)(x, y)
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-10)


def test_one_member_mixture_gives_the_single_model_attack(setup64):
    models, x, y = setup64
    m = models[0]
    for make in (
        lambda t: PGD(t, eps=0.1, steps=6, restarts=2),
        lambda t: APGD(t, eps=0.1, steps=6, restarts=1),
        lambda t: ARC(t, eps=0.1, steps=2),
    ):
        torch.testing.assert_close(make(m)(x, y), make(Mixture([m]))(x, y), rtol=0, atol=0)
    ref = _reference_pgd([m], [1.0], x, y, 0.1, 0.025, 8, "logits")
    ours = PGD(m, eps=0.1, alpha=0.025, steps=8, random_start=False)(x, y)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-10)


def test_expectations_of_the_objective():
    torch.manual_seed(0)
    z = torch.randn(3, 5, 4, dtype=torch.float64)
    lam = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    y = torch.randint(0, 4, (5,))
    ce = nn.functional.cross_entropy
    torch.testing.assert_close(mixture_objective(z, lam, y, "ce", "logits"), ce(torch.einsum("l,lbc->bc", lam, z), y, reduction="none"))
    torch.testing.assert_close(mixture_objective(z, lam, y, "ce", "loss"), sum(lam[k] * ce(z[k], y, reduction="none") for k in range(3)))
    probs = sum(lam[k] * torch.softmax(z[k], -1) for k in range(3))
    torch.testing.assert_close(mixture_objective(z, lam, y, "ce", "probs"), -probs.gather(1, y[:, None]).squeeze(1).log())
    with pytest.raises(ValueError, match="probs"):
        mixture_objective(z, lam, y, "dlr", "probs")


def _torchattacks():
    """torchattacks when installed (the test extra installs it); skipped only when absent:
    an installed but broken torchattacks fails the test instead of skipping it."""
    if importlib.util.find_spec("torchattacks") is None:
        pytest.skip("torchattacks is not installed (pip install advgame[test])")
    import torchattacks

    return torchattacks


@pytest.mark.slow
def test_pgd_cross_check_with_torchattacks(setup32):
    """Independent reference: torchattacks' PGD on one member, without random start.

    Both walk the same trajectory x_k (same step, projection and clipping); ours
    returns, per example, the best of the clean point and x_1, ..., x_T by (0/1 error,
    cross-entropy), the first on ties.  torchattacks with ``steps=k`` returns x_k, so
    the best of its ten runs must equal our single run exactly.
    """
    torchattacks = _torchattacks()
    mix, x, y = setup32
    m = mix.members[0].eval()
    steps = 10
    ours = PGD(m, eps=0.1, alpha=0.025, steps=steps, random_start=False)(x, y)
    trajectory = [x] + [
        torchattacks.PGD(m, eps=0.1, alpha=0.025, steps=k, random_start=False)(x, y) for k in range(1, steps + 1)
    ]
    with torch.no_grad():
        best, best_err, best_obj = trajectory[0].clone(), None, None
        for xk in trajectory:
            z = m(xk)
            err = (z.argmax(1) != y).double()
            obj = torch.nn.functional.cross_entropy(z, y, reduction="none")
            if best_err is None:
                best_err, best_obj = err, torch.full_like(obj, -torch.inf)
            better = (err > best_err) | ((err == best_err) & (obj > best_obj))
            best[better] = xk[better]
            best_err = torch.where(better, err, best_err)
            best_obj = torch.where(better, obj, best_obj)
    torch.testing.assert_close(ours, best, rtol=0, atol=1e-6)
    assert not torch.equal(trajectory[-1], x)  # the attack moved the points
    # ours keeps the best iterate, theirs the last: never worse per example
    acc_theirs = (m(trajectory[-1]).argmax(1) == y).double()
    acc_ours = (m(ours).argmax(1) == y).double()
    assert bool((acc_ours <= acc_theirs).all())


# ------------------------------------------------------------------------- APGD
def test_apgd_checkpoints_follow_croce_and_hein():
    assert apgd_checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]
    assert apgd_checkpoints(10) == [0, 3, 5, 6, 7, 8, 9, 10]
    assert apgd_checkpoints(1)[0] == 0


def test_apgd_dlr_needs_three_classes():
    torch.manual_seed(0)
    m = nn.Linear(4, 2).eval()
    with pytest.raises(ValueError, match="3 classes"):
        APGD(m, eps=0.1, loss="dlr", steps=2, restarts=1)(torch.rand(3, 4), torch.tensor([0, 1, 0]))


# ---------------------------------------------------------------------- C&W
def test_cw_rejection_threshold_keeps_the_clean_point(setup32):
    mix, x, y = setup32
    out = CW(mix, eps=1e-9, steps=5, binary_steps=2, c=10.0)(x, y)
    torch.testing.assert_close(out, x, rtol=0, atol=0)


def test_cw_without_threshold_finds_small_successful_perturbations(setup32):
    mix, x, y = setup32
    out = CW(mix, eps=None, steps=30, binary_steps=4, c=1.0, lr=0.05)(x, y)
    z = mix.expected_logits(out)
    fooled = z.argmax(1) != y
    moved = _lp(out - x, "l2") > 0
    assert float(fooled.double().mean()) > 0.8
    # an example is either fooled (a successful iterate) or returned unchanged
    assert bool((fooled | ~moved).all())
    # minimal-norm: the successful perturbations are smaller than the unconstrained PGD-L2 ball needed
    assert float(_lp(out - x, "l2")[fooled].median()) < 2.0


# ----------------------------------------------------------------------- ARC
def _linear_pair(dtype=torch.float64, d=8):
    """Two linear 2-class members in d dims (Dbouk & Shanbhag 2022, Sec. 4 spirit):
    h1 = [0, x_0 + 1] (weight 0.6) and h2 = [0, -5 x_0 + 1] (weight 0.4).  From
    x_0 = 0 both predict class 1; the best attack in |x_0| <= 1.2 moves to x_0 = -1.2,
    fooling the heavier member (accuracy 0.4), but the gradients of both the expected
    logits and the expected loss point to +x_0 (accuracy 0.6)."""

    def lin(w, b):
        m = nn.Linear(d, 2).to(dtype)
        with torch.no_grad():
            m.weight.zero_()
            m.bias.zero_()
            m.weight[1, 0] = w
            m.bias[1] = b
        return m.eval()

    mix = Mixture([lin(1.0, 1.0), lin(-5.0, 1.0)], torch.tensor([0.6, 0.4], dtype=dtype))
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(6, d, dtype=dtype)
    x[:, 1:] = torch.rand(6, d - 1, generator=g, dtype=dtype) - 0.5
    y = torch.ones(6, dtype=torch.long)
    return mix, x, y


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_arc_beats_adaptive_pgd_on_a_linear_mixture(norm):
    mix, x, y = _linear_pair()
    box = (-3.0, 3.0)
    pgd_logits = PGD(mix, eps=1.2, norm=norm, random_start=False, bounds=box)(x, y)
    pgd_loss = PGD(mix, eps=1.2, norm=norm, random_start=False, expectation="loss", bounds=box)(x, y)
    arc = ARC(mix, eps=1.2, norm=norm, bounds=box)(x, y)
    assert mix.expected_accuracy(pgd_logits, y, "none").tolist() == pytest.approx([0.6] * 6)
    assert mix.expected_accuracy(pgd_loss, y, "none").tolist() == pytest.approx([0.6] * 6)
    assert mix.expected_accuracy(arc, y, "none").tolist() == pytest.approx([0.4] * 6)
    # evaluate reports the worst case over the attacks: ARC's
    attacks = {
        "pgd-logits": PGD(eps=1.2, norm=norm, random_start=False, bounds=box),
        "pgd-loss": PGD(eps=1.2, norm=norm, random_start=False, expectation="loss", bounds=box),
        "arc": ARC(eps=1.2, norm=norm, bounds=box),
    }
    report = evaluate(mix, x, y, eps=1.2, norm=norm, attacks=attacks, bounds=box)
    assert report["pgd-logits"] == pytest.approx(0.6)
    assert report["worst"] == pytest.approx(0.4)


def test_arc_top_k_equal_to_the_number_of_classes_is_full_arc(setup32):
    mix, x, y = setup32
    full = ARC(mix, eps=0.1, steps=3)(x, y)
    topk = ARC(mix, eps=0.1, steps=3, top_k=C)(x, y)
    torch.testing.assert_close(full, topk, rtol=0, atol=1e-6)


def test_arc_walks_members_by_decreasing_weight_and_skips_zero_weights(monkeypatch):
    mix, x, y = _linear_pair()
    order = []
    orig = ARC._boundary

    def spy(self, member, p, n_classes):
        order.append(next(k for k, m in enumerate(mix.members) if m is member))
        return orig(self, member, p, n_classes)

    monkeypatch.setattr(ARC, "_boundary", spy)
    mix.set_weights([0.3, 0.7])
    ARC(mix, eps=1.2, steps=2, bounds=(-3, 3))(x, y)
    assert order == [1, 0, 1, 0]
    order.clear()
    mix.set_weights([0.0, 1.0])
    ARC(mix, eps=1.2, steps=3, bounds=(-3, 3))(x, y)
    assert order == [1, 1, 1]


def test_arc_class_gradients_match_the_jacobian_also_in_the_fallback(monkeypatch):
    from advgame.torch.attacks import arc as arc_module

    torch.manual_seed(0)
    m = SmallMLP(6, 5, hidden=7).double().eval()
    x = torch.rand(3, 6, dtype=torch.float64)
    classes = torch.tensor([[4, 0, 2], [1, 3, 0], [2, 2, 4]])
    jac = torch.autograd.functional.jacobian(lambda v: m(v), x)  # (B, C, B, D)
    want = torch.stack([jac[torch.arange(3), classes[:, r], torch.arange(3)] for r in range(3)])
    xin = x.clone().requires_grad_(True)
    got = arc_module._class_gradients(m(xin), xin, classes)
    torch.testing.assert_close(got, want)
    real_grad = torch.autograd.grad

    def no_batched(*args, **kwargs):
        if kwargs.get("is_grads_batched"):
            raise RuntimeError("no batching rule")
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", no_batched)
    xin = x.clone().requires_grad_(True)
    torch.testing.assert_close(arc_module._class_gradients(m(xin), xin, classes), want)


# --------------------------------------------------------------- input checks
def test_bad_inputs_raise_naming_the_argument(setup32):
    mix, x, y = setup32
    a = PGD(mix, eps=0.1, steps=1)
    with pytest.raises(TypeError, match="x must be a floating"):
        a((x * 255).to(torch.uint8), y)
    with pytest.raises(ValueError, match=r"y must have shape"):
        a(x, y[:-1])
    with pytest.raises(TypeError, match="y must hold integer"):
        a(x, y.double())
    with pytest.raises(ValueError, match="valid box"):
        a(x + 2.0, y)
    with pytest.raises(TypeError, match="dtype"):
        a(x.double(), y)
    with pytest.raises(ValueError, match="not bound"):
        PGD(eps=0.1)(x, y)
    with pytest.raises(ValueError, match="eps must"):
        PGD(mix, eps=-0.1)
    with pytest.raises(ValueError, match="norm must be"):
        PGD(mix, eps=0.1, norm="l3")
    with pytest.raises(ValueError, match="steps must"):
        PGD(mix, eps=0.1, steps=-1)
    with pytest.raises(ValueError, match="expectation must be"):
        PGD(mix, eps=0.1, expectation="mean")
    with pytest.raises(TypeError, match="seed must be"):
        PGD(mix, eps=0.1, seed="0")
    with pytest.raises(ValueError, match="bounds must be"):
        PGD(mix, eps=0.1, bounds=(1, 0))
    with pytest.raises(TypeError, match="PGDL2 fixes norm"):
        PGDL2(mix, norm="linf")
    with pytest.raises(ValueError, match="loss must be"):
        APGD(mix, loss="mse")
    with pytest.raises(ValueError, match="top_k must"):
        ARC(mix, top_k=1)


def test_attack_restores_training_flags_and_leaves_gradients_alone():
    torch.manual_seed(0)
    m = SmallMLP(D, C, hidden=8).train()
    x, y = synthetic_images(8, SHAPE, C, seed=3)
    PGD(m, eps=0.1, steps=2, restarts=1)(x, y)
    CW(m, eps=0.5, steps=2, binary_steps=1)(x, y)
    ARC(m, eps=0.1, steps=1)(x, y)
    assert m.training and all(mod.training for mod in m.modules())
    assert all(p.grad is None for p in m.parameters())


def test_eps_zero_returns_the_clean_points(setup32):
    mix, x, y = setup32
    for a in (PGD(mix, eps=0.0, steps=3), APGD(mix, eps=0.0, steps=3, restarts=1), ARC(mix, eps=0.0, steps=2)):
        torch.testing.assert_close(a(x, y), x, rtol=0, atol=0)


def test_attack_under_no_grad_and_bind(setup32):
    mix, x, y = setup32
    template = PGD(eps=0.1, steps=3, restarts=1)
    with torch.no_grad():
        out = template.bind(mix)(x, y)
    assert float(mix.expected_accuracy(out, y)) <= float(mix.expected_accuracy(x, y))
    assert template.model is None
    assert "PGD(" in repr(template) and "eps=0.1" in repr(template)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_attacks_run_on_cuda(setup32):
    mix, x, y = setup32
    mix_gpu = Mixture([m for m in mix.members], mix.weights.clone()).to("cuda")
    xg, yg = x.to("cuda"), y.to("cuda")
    for a in (PGD(mix_gpu, eps=0.1, steps=5), APGD(mix_gpu, eps=0.1, steps=5, restarts=1), ARC(mix_gpu, eps=0.1, steps=2), CW(mix_gpu, eps=0.8, steps=5, binary_steps=2)):
        out = a(xg, yg)
        assert out.device.type == "cuda"
        assert float(_lp(out - xg, a.norm).max()) <= a.eps + 1e-5
    mix_gpu.to("cpu")


# ------------------------------------------------------------------ properties
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from advgame.torch.attacks._base import project, random_in_ball  # noqa: E402


@given(
    norm=st.sampled_from(["linf", "l2"]),
    eps=st.floats(0.0, 2.0),
    scale=st.floats(0.0, 5.0),
    seed=st.integers(0, 2**16),
)
def test_property_projection_then_clipping_stays_in_ball_and_box(norm, eps, scale, seed):
    """Pi(x + d) = clip(x + proj_eps(d)) lies in B_p(x, eps) and [0, 1]^d for every d,
    and proj_eps leaves points already inside the ball unchanged."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((4, 2, 3, 3), generator=g, dtype=torch.float64)
    d = scale * torch.randn(x.shape, generator=g, dtype=torch.float64)
    out = (x + project(d, eps, norm)).clamp(0, 1)
    assert float(_lp(out - x, norm).max()) <= eps * (1 + 1e-12) + 1e-15
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    inside = random_in_ball(x, eps, norm, g)
    assert float(_lp(inside, norm).max()) <= eps * (1 + 1e-12) + 1e-15
    torch.testing.assert_close(project(inside, eps, norm), inside, rtol=1e-9, atol=1e-12)
