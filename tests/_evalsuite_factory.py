"""A ``module:function`` factory for the ``advgame eval --factory`` test."""

from advgame.torch.models import SmallMLP


def digits_mlp():
    return SmallMLP(64, 10, hidden=8)
