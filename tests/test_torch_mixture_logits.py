"""Issue 16, item 4: what Mixture.forward returns, MixtureLogits for logit-based tools,
and mixture_from_checkpoint exported from advgame.torch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import advgame.torch as at  # noqa: E402
from advgame.torch import Mixture, MixtureLogits  # noqa: E402


def _mix(weights=(0.3, 0.7)):
    torch.manual_seed(0)
    return Mixture([nn.Linear(6, 4), nn.Linear(6, 4)], weights=list(weights)).double()


def test_forward_returns_probabilities_and_the_wrapper_their_log():
    mix = _mix()
    x = torch.rand(8, 6, dtype=torch.float64)
    p = mix(x)
    assert torch.allclose(p.sum(1), torch.ones(8, dtype=torch.float64)) and (p >= 0).all()
    z = MixtureLogits(mix)(x)
    assert torch.allclose(torch.softmax(z, 1), p, atol=1e-12)
    assert torch.allclose(z, torch.log(p), atol=1e-12)
    # cross-entropy on the wrapper is the mixture's log-loss
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    ce = nn.functional.cross_entropy(z, y)
    assert torch.allclose(ce, -torch.log(p[torch.arange(8), y]).mean())


def test_wrapper_is_differentiable_and_follows_the_mixture():
    mix = _mix()
    wrapped = MixtureLogits(mix)
    x = torch.rand(5, 6, dtype=torch.float64, requires_grad=True)
    wrapped(x).logsumexp(1).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    mix.set_weights([1.0, 0.0])  # the wrapper sees the mixture's new weights (not a copy)
    x2 = torch.rand(5, 6, dtype=torch.float64)
    assert torch.allclose(wrapped(x2), torch.log_softmax(mix.members[0](x2), 1), atol=1e-12)
    assert "mixture.weights" in wrapped.state_dict()


def test_wrapper_refuses_a_plain_model():
    with pytest.raises(TypeError, match="Mixture"):
        MixtureLogits(nn.Linear(2, 2))


def test_argmax_accuracy_differs_from_expected_accuracy():
    """The docs' warning in the smallest case: two members that disagree, weights 0.5/0.5."""
    a, b = nn.Linear(1, 2), nn.Linear(1, 2)
    with torch.no_grad():
        a.weight.zero_(); a.bias.copy_(torch.tensor([1.0, 0.0]))   # always class 0
        b.weight.zero_(); b.bias.copy_(torch.tensor([0.0, 1.2]))   # always class 1, more confident
    mix = Mixture([a, b], weights=[0.5, 0.5])
    x, y = torch.zeros(10, 1), torch.zeros(10, dtype=torch.int64)
    argmax_acc = (MixtureLogits(mix)(x).argmax(1) == y).float().mean()
    assert float(argmax_acc) == 0.0 and float(mix.expected_accuracy(x, y)) == 0.5


def test_torchattacks_accepts_the_wrapper():
    torchattacks = pytest.importorskip("torchattacks")
    mix = _mix().float()
    x = torch.rand(6, 6)
    y = torch.randint(0, 4, (6,))
    x_adv = torchattacks.PGD(MixtureLogits(mix), eps=0.1, alpha=0.05, steps=3)(x, y)
    assert x_adv.shape == x.shape and (x_adv - x).abs().max() <= 0.1 + 1e-6


def test_mixture_from_checkpoint_is_exported():
    from advgame.torch.training import mixture_from_checkpoint

    assert at.mixture_from_checkpoint is mixture_from_checkpoint
    assert "mixture_from_checkpoint" in at.__all__ and "MixtureLogits" in at.__all__
    assert "Returns" in mixture_from_checkpoint.__doc__
