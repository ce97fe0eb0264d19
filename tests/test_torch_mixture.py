"""advgame.torch.Mixture: exact expectations, sampling, weights, vectorized members."""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from advgame.torch import Mixture, as_mixture  # noqa: E402
from advgame.torch.models import SmallCNN, SmallMLP  # noqa: E402

torch.set_num_threads(1)


def _mlps(L=3, d=12, C=4, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return [SmallMLP(d, C, hidden=8).to(dtype).eval() for _ in range(L)]


def test_import_advgame_does_not_import_torch():
    code = "import sys, advgame; assert 'torch' not in sys.modules, 'advgame imported torch'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_forward_is_exact_expected_probabilities():
    ms = _mlps()
    lam = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    mix = Mixture(ms, lam)
    x = torch.rand(7, 12, dtype=torch.float64)
    expected = sum(lam[k] * torch.softmax(ms[k](x), -1) for k in range(3))
    torch.testing.assert_close(mix(x), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mix(x, log=True), expected.log(), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(mix.expected_logits(x), sum(lam[k] * ms[k](x) for k in range(3)))


def test_log_probabilities_with_a_zero_weight_are_finite():
    ms = _mlps(L=2)
    mix = Mixture(ms, [1.0, 0.0])
    x = torch.rand(5, 12, dtype=torch.float64)
    out = mix(x, log=True)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.log_softmax(ms[0](x), -1))


def test_expected_accuracy_is_the_weighted_sum_of_member_accuracies():
    ms = _mlps(L=4)
    lam = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    mix = Mixture(ms, lam)
    x = torch.rand(50, 12, dtype=torch.float64)
    y = torch.randint(0, 4, (50,))
    accs = torch.stack([(m(x).argmax(1) == y).double().mean() for m in ms])
    assert float(mix.expected_accuracy(x, y)) == pytest.approx(float(lam @ accs), abs=1e-12)
    per = mix.expected_accuracy(x, y, reduction="none")
    assert per.shape == (50,)
    assert float(per.sum()) == pytest.approx(float(mix.expected_accuracy(x, y, reduction="sum")))
    assert mix.member_correct(x, y).shape == (4, 50)


def test_weights_are_a_buffer_in_the_state_dict():
    ms = _mlps(L=2)
    mix = Mixture(ms, [0.25, 0.75])
    sd = mix.state_dict()
    assert "weights" in sd
    torch.testing.assert_close(sd["weights"], torch.tensor([0.25, 0.75], dtype=sd["weights"].dtype))
    other = Mixture(_mlps(L=2, seed=1))
    other.load_state_dict(sd)
    torch.testing.assert_close(other.weights, mix.weights)
    x = torch.rand(4, 12, dtype=torch.float64)
    torch.testing.assert_close(other(x), mix(x))
    mix.set_weights([1.0, 0.0])
    assert mix.weights.tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    "weights, exc, words",
    [
        ([0.5, 0.6], ValueError, "simplex"),
        ([-0.2, 1.2], ValueError, "simplex"),
        ([1.0], ValueError, "shape"),
        ([float("nan"), 1.0], ValueError, "finite"),
        ("ab", TypeError, "weights"),
    ],
)
def test_bad_weights_raise_naming_the_argument(weights, exc, words):
    with pytest.raises(exc, match=words):
        Mixture(_mlps(L=2), weights)


def test_bad_models_raise():
    with pytest.raises(TypeError, match="wrap it as"):
        Mixture(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="at least one"):
        Mixture([])
    with pytest.raises(TypeError, match=r"models\[1\]"):
        Mixture([nn.Linear(2, 2), "not a module"])
    with pytest.raises(ValueError, match="vectorize"):
        Mixture([nn.Linear(2, 2)], vectorize="yes")
    with pytest.raises(ValueError, match="member 0 must return logits"):
        Mixture([nn.Identity()])(torch.rand(3, 2, 2))
    with pytest.raises(TypeError, match="nn.Module"):
        as_mixture("model")


def test_sample_draws_members_with_the_mixture_weights():
    ms = _mlps(L=3)
    lam = [0.6, 0.3, 0.1]
    mix = Mixture(ms, lam)
    x = torch.rand(1, 12, dtype=torch.float64).expand(20000, 12)
    logits, idx = mix.sample(x, generator=0, return_index=True)
    freq = torch.bincount(idx, minlength=3).double() / idx.numel()
    # 4 standard deviations of a binomial proportion at n=20000
    assert torch.allclose(freq, torch.tensor(lam, dtype=torch.float64), atol=4 * (0.25 / 20000) ** 0.5)
    z = torch.stack([m(x[:1]) for m in ms])[:, 0]  # (L, C)
    torch.testing.assert_close(logits, z[idx])
    again = mix.sample(x[:50], generator=0)
    torch.testing.assert_close(again, mix.sample(x[:50], generator=torch.Generator().manual_seed(0)))
    with pytest.raises(TypeError, match="generator"):
        mix.sample(x, generator="seed")


def test_one_member_mixture_is_the_model():
    (m,) = _mlps(L=1)
    x = torch.rand(6, 12, dtype=torch.float64)
    mix = as_mixture(m)
    assert isinstance(mix, Mixture) and len(mix) == 1
    torch.testing.assert_close(mix(x), torch.softmax(m(x), -1))
    assert as_mixture(mix) is mix


@pytest.mark.parametrize("make", [lambda: SmallMLP(3 * 6 * 6, 5, hidden=16), lambda: SmallCNN(3, 5, width=4)])
def test_vectorized_members_match_the_loop(make):
    torch.manual_seed(0)
    ms = [make().eval() for _ in range(3)]
    x = torch.rand(9, 3, 6, 6)
    vec = Mixture(ms, [0.2, 0.3, 0.5], vectorize=True)
    loop = Mixture(ms, [0.2, 0.3, 0.5], vectorize=False)
    assert vec.uses_vmap and not loop.uses_vmap
    torch.testing.assert_close(vec.member_logits(x), loop.member_logits(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(vec(x), loop(x), rtol=1e-5, atol=1e-6)
    # gradients with respect to the inputs agree too
    xv = x.clone().requires_grad_(True)
    xl = x.clone().requires_grad_(True)
    (gv,) = torch.autograd.grad(vec(xv, log=True)[:, 0].sum(), xv)
    (gl,) = torch.autograd.grad(loop(xl, log=True)[:, 0].sum(), xl)
    torch.testing.assert_close(gv, gl, rtol=1e-4, atol=1e-6)


def test_auto_mode_checks_and_times_vmap_once():
    torch.manual_seed(0)
    ms = [SmallCNN(3, 4, width=4).eval() for _ in range(3)]
    mix = Mixture(ms)
    x = torch.rand(8, 3, 6, 6)
    ref = Mixture(ms, vectorize=False).member_logits(x)
    torch.testing.assert_close(mix.member_logits(x), ref, rtol=1e-5, atol=1e-5)
    assert set(mix.vmap_timing) == {"loop_s", "vmap_s"}
    assert mix.uses_vmap == (mix.vmap_timing["vmap_s"] <= mix.vmap_timing["loop_s"])


def test_heterogeneous_members_are_looped():
    ms = [SmallMLP(12, 3, hidden=4).eval(), SmallMLP(12, 3, hidden=6).eval()]
    mix = Mixture(ms)
    assert not mix.uses_vmap
    assert mix(torch.rand(2, 12)).shape == (2, 3)


class _Scaled(nn.Module):
    """Same parameters as its siblings, but a Python attribute changes the output."""

    def __init__(self, scale):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.scale = scale

    def forward(self, x):
        return self.lin(x) * self.scale


def test_auto_mode_falls_back_when_vmap_disagrees():
    torch.manual_seed(0)
    ms = [_Scaled(1.0).eval(), _Scaled(5.0).eval()]
    mix = Mixture(ms)
    x = torch.rand(3, 4)
    with pytest.warns(UserWarning, match="differ from a plain loop"):
        z = mix.member_logits(x)
    torch.testing.assert_close(z, torch.stack([m(x) for m in ms]))
    assert not mix.uses_vmap


def test_vectorized_cache_follows_parameter_updates():
    torch.manual_seed(0)
    ms = [SmallMLP(12, 3, hidden=4).eval() for _ in range(2)]
    mix = Mixture(ms, vectorize=True)
    x = torch.rand(5, 12)
    before = mix.member_logits(x, param_grad=False)
    with torch.no_grad():
        ms[1].net[3].bias.add_(10.0)  # in place: the version counter moves
    after = mix.member_logits(x, param_grad=False)
    torch.testing.assert_close(after[0], before[0])
    torch.testing.assert_close(after[1], before[1] + 10.0)


def test_training_through_the_mixture_reaches_member_parameters():
    torch.manual_seed(0)
    ms = [SmallMLP(12, 3, hidden=4).eval() for _ in range(2)]
    for vectorize in (True, False):
        mix = Mixture(ms, [0.5, 0.5], vectorize=vectorize)
        for m in ms:
            m.zero_grad(set_to_none=True)
        x, y = torch.rand(5, 12), torch.randint(0, 3, (5,))
        loss = nn.functional.nll_loss(mix(x, log=True), y)
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for m in ms for p in m.parameters())
        assert float(ms[1].net[3].weight.grad.abs().sum()) > 0


def test_train_mode_members_are_looped():
    torch.manual_seed(0)
    ms = [SmallMLP(12, 3, hidden=4) for _ in range(2)]  # training mode
    mix = Mixture(ms, vectorize=True)
    assert not mix.uses_vmap
    mix.eval()
    assert mix.uses_vmap


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixture_on_cuda_matches_cpu():
    ms = _mlps(L=3, dtype=torch.float32)
    mix = Mixture(ms, [0.2, 0.3, 0.5])
    x = torch.rand(16, 12)
    y = torch.randint(0, 4, (16,))
    cpu = mix(x)
    acc = mix.expected_accuracy(x, y)
    mix.to("cuda")
    assert mix.weights.device.type == "cuda"
    torch.testing.assert_close(mix(x.to("cuda")).cpu(), cpu, rtol=1e-4, atol=1e-5)
    assert float(mix.expected_accuracy(x.to("cuda"), y.to("cuda"))) == pytest.approx(float(acc))
    assert mix.sample(x.to("cuda"), generator=0).device.type == "cuda"


# ------------------------------------------------------------------ properties
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(
    raw=st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=1, max_size=5).filter(lambda v: sum(v) > 1e-3),
    seed=st.integers(0, 2**16),
)
def test_property_mixture_is_the_convex_combination_of_its_members(raw, seed):
    """For any weights on the simplex: forward = sum_k lam_k softmax(h_k), a distribution;
    log forward = its log; expected accuracy = sum_k lam_k acc_k (RM20, Sec. 6)."""
    L = len(raw)
    lam = torch.tensor(raw, dtype=torch.float64)
    lam = lam / lam.sum()
    torch.manual_seed(seed)
    ms = [nn.Linear(5, 3).double().eval() for _ in range(L)]
    mix = Mixture(ms, lam, vectorize=False)
    x = torch.randn(6, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (6,))
    p = mix(x)
    torch.testing.assert_close(p, sum(lam[k] * torch.softmax(ms[k](x), -1) for k in range(L)))
    torch.testing.assert_close(p.sum(1), torch.ones(6, dtype=torch.float64))
    torch.testing.assert_close(mix(x, log=True).exp(), p)
    accs = torch.stack([(m(x).argmax(1) == y).double() for m in ms])  # (L, B)
    torch.testing.assert_close(mix.expected_accuracy(x, y, "none"), lam @ accs)
