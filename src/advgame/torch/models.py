"""Small models and synthetic images for tests, examples and benchmarks (CPU-sized)."""

from __future__ import annotations

import torch
from torch import nn

from .attacks._base import _check_int, _check_nonneg, _check_positive, make_generator

__all__ = ["SmallMLP", "SmallCNN", "synthetic_images", "train_classifier"]


class SmallMLP(nn.Module):
    """Flatten, one hidden ReLU layer, linear logits.

    Parameters
    ----------
    in_features : int
        Number of input values per example (e.g. 3*8*8).
    n_classes : int
    hidden : int

    Shape
    -----
    - input: :math:`(B, *)` with ``in_features`` values; output: :math:`(B, n\\_classes)`.
    """

    def __init__(self, in_features, n_classes, hidden=64):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    """Two 3x3 convolutions (the second strided), global average pooling, a linear head.

    Parameters
    ----------
    in_channels : int
    n_classes : int
    width : int
        Channels of the convolutions.

    Shape
    -----
    - input: :math:`(B, in\\_channels, H, W)`; output: :math:`(B, n\\_classes)`.
    """

    def __init__(self, in_channels=3, n_classes=10, width=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * width, n_classes),
        )

    def forward(self, x):
        return self.net(x)


def synthetic_images(n, shape=(3, 8, 8), n_classes=4, noise=0.15, seed=0, device="cpu", dtype=None):
    """Seeded class-prototype images in ``[0, 1]``.

    Each class has a prototype drawn uniformly in ``[0.2, 0.8]^shape``; an example is
    its class prototype plus Gaussian noise of standard deviation ``noise``, clipped
    to ``[0, 1]``.  Labels cycle through the classes.

    Parameters
    ----------
    n : int
    shape : tuple of int
    n_classes : int
    noise : float
    seed : int or torch.Generator
    device : str or torch.device
    dtype : torch.dtype, optional

    Returns
    -------
    x : torch.Tensor, shape (n, *shape)
    y : torch.Tensor of int64, shape (n,)
    """
    n = _check_int("n", n, 1)
    n_classes = _check_int("n_classes", n_classes, 2)
    noise = _check_nonneg("noise", noise)
    dtype = dtype or torch.get_default_dtype()
    gen = make_generator(seed, device)
    protos = 0.2 + 0.6 * torch.rand((n_classes, *shape), generator=gen, device=device, dtype=dtype)
    y = torch.arange(n, device=device) % n_classes
    x = protos[y] + noise * torch.randn((n, *shape), generator=gen, device=device, dtype=dtype)
    return x.clamp(0, 1), y


def train_classifier(model, x, y, steps=200, lr=1e-2, batch_size=None, seed=0, attack=None):
    """Train ``model`` with Adam on cross-entropy (adversarially when ``attack`` is given).

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor, shape (N, ...)
    y : torch.Tensor of int64, shape (N,)
    steps : int
    lr : float
    batch_size : int, optional
        Default: the whole set each step.
    seed : int or torch.Generator
        Mini-batch sampling.
    attack : Attack, optional
        A template; each step trains on ``attack.bind(model)(x_batch, y_batch)``
        (Madry et al. adversarial training).

    Returns
    -------
    nn.Module
        ``model``, trained, in eval mode.
    """
    steps = _check_int("steps", steps, 0)
    lr = _check_positive("lr", lr)
    N = x.shape[0]
    bs = N if batch_size is None else _check_int("batch_size", batch_size, 1)
    gen = make_generator(seed, "cpu")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    bound_attack = attack.bind(model) if attack is not None else None
    for _ in range(steps):
        if bs < N:
            idx = torch.randperm(N, generator=gen)[:bs].to(x.device)
            xb, yb = x[idx], y[idx]
        else:
            xb, yb = x, y
        if bound_attack is not None:
            xb = bound_attack(xb, yb)
        model.train()
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return model

