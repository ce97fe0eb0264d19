"""Members are scored in eval mode everywhere, their own flags restored (issue 9, sec. 2);
labels, meta and complex tensors get clear errors at every torch entry (issue 9, sec. 5);
norms and seeds follow advgame._validation on the torch side (issue 10)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from advgame.torch import (  # noqa: E402
    APGD,
    ARC,
    CW,
    PGD,
    Mixture,
    attack_oracle,
    candidate_losses,
    default_attacks,
    eval_mode,
    evaluate,
    evaluate_loader,
    member_losses,
)

torch.set_num_threads(1)

SHAPE = (3, 4, 4)
C = 4


class _Net(nn.Module):
    """A small MLP with BatchNorm and dropout (the layers whose train mode matters)."""

    def __init__(self, seed, dropout=0.0, batchnorm=True):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(48, 16),
            nn.BatchNorm1d(16) if batchnorm else nn.Identity(),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(16, C),
        )
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)

    def forward(self, x):
        return self.body(x)


def _data(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *SHAPE), generator=g), torch.randint(0, C, (n,), generator=g)


def _members(dropout=0.0, batchnorm=True):
    x, _ = _data(64, seed=5)
    ms = [_Net(k, dropout, batchnorm) for k in range(2)]
    with torch.no_grad():  # non-trivial running statistics, so train and eval mode differ
        for m in ms:
            m.train()
            for _ in range(3):
                m(x + 0.3 * torch.rand_like(x))
    return ms


def _flags(modules):
    return [m.training for top in modules for m in top.modules()]


def _bn_state(modules):
    return [b.clone() for m in modules for b in m.buffers()]


def _fast_attacks(eps=0.1):
    return {"pgd": PGD(eps=eps, steps=3, restarts=2), "apgd": APGD(eps=eps, steps=4, restarts=1)}


# ---------------------------------------------------------------- eval_mode
def test_eval_mode_switches_and_restores_every_flag():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.BatchNorm1d(2)))
    net.train()
    net[2].eval()  # mixed flags inside one module
    before = _flags([net])
    with eval_mode(net) as got:
        assert got is net
        assert not any(_flags([net]))
    assert _flags([net]) == before == [True, True, True, False, False]


def test_eval_mode_restores_flags_when_the_block_raises():
    a, b = nn.Dropout(0.1).train(), nn.Dropout(0.1).eval()
    with pytest.raises(RuntimeError, match="boom"):
        with eval_mode([a, b]):
            assert not a.training and not b.training
            raise RuntimeError("boom")
    assert a.training and not b.training


def test_eval_mode_nested_and_refuses_non_modules():
    net = nn.Dropout(0.2).train()
    ctx = eval_mode(net)
    with ctx:
        with ctx:
            assert not net.training
        assert not net.training
    assert net.training
    with pytest.raises(TypeError, match="nn.Module"):
        eval_mode(3)
    with pytest.raises(TypeError, match=r"argument 0\[1\]"):
        eval_mode([nn.ReLU(), "x"])


# ------------------------------------------- scoring in eval mode everywhere
def test_evaluate_with_batchnorm_members_in_train_mode():
    """Used to crash (BatchNorm on a batch of one in train mode) and to move the running stats."""
    ms = _members()
    x, y = _data()
    mix = Mixture(ms, [0.6, 0.4], vectorize=False)
    mix.train()
    stats = _bn_state(ms)
    report = evaluate(mix, x, y, eps=0.1, attacks=_fast_attacks())
    assert all(m.training for m in mix.modules())
    for a, b in zip(stats, _bn_state(ms)):
        assert torch.equal(a, b)
    mix.eval()
    ref = evaluate(mix, x, y, eps=0.1, attacks=_fast_attacks())
    assert dict(report) == dict(ref)
    for k in ref.per_example:
        assert torch.equal(report.per_example[k], ref.per_example[k])


def test_evaluate_with_dropout_members_is_deterministic_and_equals_eval_mode():
    ms = _members(dropout=0.5, batchnorm=False)
    x, y = _data()
    mix = Mixture(ms, [0.5, 0.5], vectorize=False).train()
    r1 = evaluate(mix, x, y, eps=0.1, attacks=_fast_attacks(), seed=3)
    r2 = evaluate(mix, x, y, eps=0.1, attacks=_fast_attacks(), seed=3)
    mix.eval()
    r_eval = evaluate(mix, x, y, eps=0.1, attacks=_fast_attacks(), seed=3)
    assert dict(r1) == dict(r2) == dict(r_eval)
    assert torch.equal(r1.per_example["worst"], r_eval.per_example["worst"])


def test_evaluate_loader_scores_in_eval_mode():
    ms = _members(dropout=0.5)
    x, y = _data()
    mix = Mixture(ms, vectorize=False).train()
    batches = [(x[:6], y[:6]), (x[6:], y[6:])]
    r1 = evaluate_loader(mix, batches, eps=0.1, attacks=_fast_attacks())
    mix.eval()
    r2 = evaluate_loader(mix, batches, eps=0.1, attacks=_fast_attacks())
    assert dict(r1) == dict(r2)


def test_candidate_losses_score_members_in_eval_mode_and_restore_mixed_flags():
    ms = _members(dropout=0.5)
    x, y = _data()
    ms[0].train()
    ms[1].eval()
    ms[0].body[4].eval()  # one dropout layer of a train-mode member already in eval mode
    before, stats = _flags(ms), _bn_state(ms)
    attacks = [PGD(eps=0.1, steps=2, restarts=1)]
    got1 = candidate_losses(ms, x, y, attacks, loss="ce")
    got2 = candidate_losses(ms, x, y, attacks, loss="ce")
    assert _flags(ms) == before
    for a, b in zip(stats, _bn_state(ms)):
        assert torch.equal(a, b)
    for m in ms:
        m.eval()
    ref = candidate_losses(ms, x, y, attacks, loss="ce")
    assert torch.equal(got1, got2) and torch.equal(got1, ref)


def test_member_losses_and_expected_accuracy_score_in_eval_mode():
    ms = _members(dropout=0.5)
    x, y = _data()
    mix = Mixture(ms, vectorize=False).train()
    got = member_losses(mix, x, y, loss="ce")
    acc = mix.expected_accuracy(x, y, reduction="none")
    assert all(m.training for m in mix.modules())
    mix.eval()
    assert torch.equal(got, member_losses(mix, x, y, loss="ce"))
    assert torch.equal(acc, mix.expected_accuracy(x, y, reduction="none"))


def test_attack_oracle_scores_in_eval_mode():
    ms = _members(dropout=0.5)
    x, y = _data()
    for m in ms:
        m.train()
    oracle = attack_oracle(ms, x, y, PGD(eps=0.1, steps=2, restarts=1), loss="ce")
    w = torch.tensor([0.3, 0.7], dtype=torch.float64)
    g1, g2 = oracle(w), oracle(w)
    assert all(m.training for mm in ms for m in mm.modules())
    for m in ms:
        m.eval()
    assert torch.equal(g1, g2) and torch.equal(g1, oracle(w))


def test_attack_restores_flags_when_it_raises():
    ms = [_Net(0, dropout=0.5), _Net(1)]
    ms[0].train()
    ms[1].eval()
    before = _flags(ms)
    two_classes = Mixture([nn.Sequential(nn.Flatten(), nn.Linear(48, 2)).train()])
    x, y = _data()
    with pytest.raises(ValueError, match="3 classes"):
        APGD(two_classes, eps=0.1, loss="dlr")(x, y % 2)
    assert all(m.training for m in two_classes.members.modules())
    mix = Mixture(ms, vectorize=False)
    PGD(mix, eps=0.1, steps=1, restarts=1)(x, y)
    assert _flags(ms) == before


# ------------------------------------------------------------ label ranges
def _entries(mix, ms, x):
    attacks = {"pgd": PGD(eps=0.1, steps=1, restarts=1)}
    return {
        "PGD": lambda yy: PGD(mix, eps=0.1, steps=1)(x, yy),
        "APGD": lambda yy: APGD(mix, eps=0.1, steps=1)(x, yy),
        "CW": lambda yy: CW(mix, eps=0.5, steps=1, binary_steps=1)(x, yy),
        "ARC": lambda yy: ARC(mix, eps=0.1, steps=1)(x, yy),
        "evaluate": lambda yy: evaluate(mix, x, yy, eps=0.1, attacks=attacks),
        "evaluate_loader": lambda yy: evaluate_loader(mix, [(x, yy)], eps=0.1, attacks=attacks),
        "candidate_losses": lambda yy: candidate_losses(ms, x, yy, [PGD(eps=0.1, steps=1)]),
        "attack_oracle": lambda yy: attack_oracle(ms, x, yy, PGD(eps=0.1, steps=1)),
        "member_losses": lambda yy: member_losses(mix, x, yy),
        "member_correct": lambda yy: mix.member_correct(x, yy),
        "expected_accuracy": lambda yy: mix.expected_accuracy(x, yy),
    }


@pytest.mark.parametrize("bad", [-1, C, 100])
def test_labels_out_of_range_are_a_value_error_at_every_entry(bad):
    ms = [_Net(k).eval() for k in range(2)]
    mix = Mixture(ms, vectorize=False)
    x, y = _data()
    y_bad = y.clone()
    y_bad[3] = bad
    for name, call in _entries(mix, ms, x).items():
        with pytest.raises(ValueError, match=rf"y must hold class labels in \[0, {C - 1}\].*got {bad}"):
            call(y_bad)
        call(y)  # the valid labels pass at the same entry


def test_meta_tensors_are_refused_clearly():
    ms = [_Net(k).eval() for k in range(2)]
    mix = Mixture(ms, vectorize=False)
    x, y = _data()
    xm = x.to("meta")
    with pytest.raises(ValueError, match="meta"):
        PGD(mix, eps=0.1)(xm, y)
    with pytest.raises(ValueError, match="meta"):
        evaluate(mix, xm, y, eps=0.1)
    with pytest.raises(ValueError, match="meta"):
        mix.member_logits(xm)
    with pytest.raises(ValueError, match="meta"):
        candidate_losses(ms, x, y.to("meta"), [PGD(eps=0.1)])
    with pytest.raises((TypeError, ValueError), match="weights"):
        Mixture(ms, torch.full((2,), 0.5, device="meta"))


def test_complex_tensors_are_a_type_error_naming_the_argument():
    ms = [_Net(k).eval() for k in range(2)]
    x, y = _data()
    with pytest.raises(TypeError, match="weights must hold real numbers"):
        Mixture(ms, torch.tensor([0.5, 0.5], dtype=torch.complex64))
    with pytest.raises(TypeError, match="x must hold real numbers"):
        PGD(Mixture(ms), eps=0.1)(x.to(torch.complex64), y)


def test_mixture_weights_use_the_simplex_tolerance_of_their_dtype():
    ms = [_Net(k).eval() for k in range(2)]
    # float32 rounding is accepted for float32 weights ...
    w32 = torch.tensor([1 / 3, 2 / 3 + 5e-5], dtype=torch.float32)
    torch.testing.assert_close(Mixture(ms, w32).weights.sum(), torch.tensor(1.0))
    # ... but the same offset in float64 is off the simplex
    with pytest.raises(ValueError, match="simplex"):
        Mixture(ms, torch.tensor([1 / 3, 2 / 3 + 5e-5], dtype=torch.float64))


# ------------------------------------------------------- norms and seeds
@pytest.mark.parametrize("norm, canon", [("linf", "linf"), (math.inf, "linf"), ("inf", "linf"), (2, "l2"), ("L2", "l2")])
def test_every_norm_spelling_works_on_the_torch_side(norm, canon):
    assert PGD(eps=0.1, norm=norm).norm == canon
    assert APGD(eps=0.1, norm=norm).norm == canon
    assert list(default_attacks(0.1, norm=norm)) == list(default_attacks(0.1, norm=canon))
    ms = [_Net(k).eval() for k in range(2)]
    x, y = _data(6)
    r = evaluate(Mixture(ms), x, y, eps=0.1, norm=norm, attacks={"p": PGD(eps=0.1, norm=canon, steps=1)})
    assert r.norm == canon
    with pytest.raises(ValueError, match="norm must be one of"):
        PGD(eps=0.1, norm="l1")


def test_seeds_follow_the_torch_seed_rule():
    assert isinstance(PGD(eps=0.1, seed=torch.Generator()).seed, torch.Generator)
    with pytest.raises(ValueError, match="seed must be None, an int >= 0 or a torch.Generator"):
        PGD(eps=0.1, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        PGD(eps=0.1, seed=1.5)
    ms = [_Net(k).eval() for k in range(2)]
    x, y = _data(6)
    with pytest.raises(TypeError, match="seed"):
        candidate_losses(ms, x, y, [PGD(eps=0.1)], seed="0")
    with pytest.raises(TypeError, match="generator"):
        Mixture(ms).sample(x, generator="0")
