"""Models: ResNet-18 and WideResNet-28-10 for 32x32 inputs, and small CPU-sized models,
synthetic images and a trainer for tests, examples and benchmarks.

Every model takes inputs in ``[0, 1]`` (attacks work there); normalization, when
wanted, happens inside the model (``mean=`` / ``std=``).  :func:`build_model` builds
one by name.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_choice, check_int, check_real
from ._checks import make_generator

__all__ = ["SmallMLP", "SmallCNN", "synthetic_images", "train_classifier", "ResNet18", "WideResNet", "Normalize",
           "count_parameters", "matched_width", "resnet18", "wide_resnet", "build_model", "MODEL_NAMES", "CIFAR10_MEAN", "CIFAR10_STD"]


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
    n = check_int("n", n, 1)
    n_classes = check_int("n_classes", n_classes, 2)
    noise = check_real("noise", noise, lo=0.0)
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
    steps = check_int("steps", steps, 0)
    lr = check_real("lr", lr, lo=0.0, lo_open=True)
    N = x.shape[0]
    bs = N if batch_size is None else check_int("batch_size", batch_size, 1)
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



# --------------------------------------------------------------------------- 32x32 networks
#: Per-channel mean and standard deviation of the CIFAR-10 training images, for ``mean=`` / ``std=``.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2471, 0.2435, 0.2616)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, so that a model takes inputs in ``[0, 1]``
    (attacks work there) and normalizes inside.  ``mean=None`` is the identity."""

    def __init__(self, mean=None, std=None, channels=3):
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together (or neither)")
        self.active = mean is not None
        if self.active:
            mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
            std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
            if mean_t.shape[0] != channels or std_t.shape[0] != channels:
                raise ValueError(f"mean and std must hold {channels} values (one per channel); "
                                 f"got {mean_t.shape[0]} and {std_t.shape[0]}")
            if not bool((std_t > 0).all()):
                raise ValueError(f"std must be positive; got {std_t.flatten().tolist()}")
            self.register_buffer("mean", mean_t)
            self.register_buffer("std", std_t)

    def forward(self, x):
        if not self.active:
            return x
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


class _BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016): two 3x3 conv-BN, identity or 1x1 shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18, CIFAR variant: 3x3 stem of 64 channels, no max-pool, four stages of two
    basic blocks (64, 128, 256, 512 channels), global average pooling, a linear head.

    This is the network of the papers' code (the widely used ``kuangliu/pytorch-cifar``
    definition); 11,173,962 parameters for 10 classes.  ``base`` (64) sets the channels of
    the first stage (the others are 2, 4 and 8 times it): :func:`build_model`'s ``width``.
    See :func:`resnet18`.
    """

    def __init__(self, num_classes=10, in_channels=3, mean=None, std=None, base=64):
        super().__init__()
        self.normalize = Normalize(mean, std, in_channels)
        self.conv1 = nn.Conv2d(in_channels, base, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        layers, cin = [], base
        for cout, stride in ((base, 1), (2 * base, 2), (4 * base, 2), (8 * base, 2)):
            layers.append(nn.Sequential(_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)))
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(8 * base, num_classes)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(self.normalize(x))))
        out = self.layers(out)
        out = torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1)
        return self.linear(out)


class _WideBlock(nn.Module):
    """Pre-activation wide block (Zagoruyko & Komodakis 2016): BN-ReLU-conv3x3,
    dropout, BN-ReLU-conv3x3; 1x1 shortcut when the shape changes."""

    def __init__(self, cin, cout, stride, dropout):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        o = torch.relu(self.bn1(x))
        y = self.conv1(o)
        y = self.conv2(self.dropout(torch.relu(self.bn2(y))))
        return y + (x if self.shortcut is None else self.shortcut(o))


class WideResNet(nn.Module):
    """WideResNet-depth-k for 32x32 inputs (Zagoruyko & Komodakis 2016): a 3x3 stem of
    16 channels, three stages of ``(depth - 4) / 6`` pre-activation blocks with
    ``16k, 32k, 64k`` channels, BN-ReLU, global average pooling, a linear head.
    WRN-28-10 (RM20's network) has 36,479,194 parameters for 10 classes.  See
    :func:`wide_resnet`."""

    def __init__(self, depth=28, widen_factor=10, num_classes=10, dropout=0.0, in_channels=3, mean=None, std=None):
        super().__init__()
        n = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.normalize = Normalize(mean, std, in_channels)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        blocks, cin = [], widths[0]
        for stage, stride in zip(widths[1:], (1, 2, 2)):
            for b in range(n):
                blocks.append(_WideBlock(cin, stage, stride if b == 0 else 1, dropout))
                cin = stage
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(cin)
        self.linear = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        out = self.blocks(self.conv1(self.normalize(x)))
        out = torch.relu(self.bn(out))
        out = torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1)
        return self.linear(out)


def _seeded(build, seed):
    """``build()`` with torch's CPU generator seeded by ``seed`` (None: the global
    generator as it is), leaving the global generator's state untouched for an int."""
    seed = check_int("seed", seed, 0, allow_none=True)
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def resnet18(num_classes=10, in_channels=3, *, mean=None, std=None, seed=None):
    """ResNet-18 for 32x32 inputs in ``[0, 1]`` (CIFAR variant; see :class:`ResNet18`).

    Parameters
    ----------
    num_classes : int
    in_channels : int
    mean, std : sequence of float, optional
        Per-channel normalization applied inside the model (e.g. :data:`CIFAR10_MEAN`,
        :data:`CIFAR10_STD`); default none, inputs are used as they are.
    seed : int, optional
        Seeds the random initialization (on a forked CPU generator, so torch's global
        generator is left as it was); None draws from the global generator.

    Returns
    -------
    ResNet18
        On the CPU; move it with ``.to(device)``.
    """
    num_classes = check_int("num_classes", num_classes, 1)
    in_channels = check_int("in_channels", in_channels, 1)
    return _seeded(lambda: ResNet18(num_classes, in_channels, mean, std), seed)


def wide_resnet(depth=28, widen_factor=10, num_classes=10, dropout=0.0, *, in_channels=3, mean=None, std=None,
                seed=None):
    """WideResNet-``depth``-``widen_factor`` for 32x32 inputs in ``[0, 1]`` (see :class:`WideResNet`).

    Parameters
    ----------
    depth : int
        ``6n + 4`` (28 for WRN-28-10).
    widen_factor : int
    num_classes : int
    dropout : float
        Dropout probability between the two convolutions of each block, in ``[0, 1)``.
    in_channels : int
    mean, std : sequence of float, optional
        Per-channel normalization inside the model (see :func:`resnet18`).
    seed : int, optional
        Seeds the initialization (see :func:`resnet18`).

    Returns
    -------
    WideResNet
    """
    depth = check_int("depth", depth, 10)
    if (depth - 4) % 6:
        raise ValueError(f"depth must be 6n + 4 (e.g. 16, 22, 28, 34, 40); got {depth}")
    widen_factor = check_int("widen_factor", widen_factor, 1)
    num_classes = check_int("num_classes", num_classes, 1)
    in_channels = check_int("in_channels", in_channels, 1)
    dropout = check_real("dropout", dropout, lo=0.0, hi=1.0, hi_open=True)
    return _seeded(lambda: WideResNet(depth, widen_factor, num_classes, dropout, in_channels, mean, std), seed)


#: Names accepted by :func:`build_model`.
MODEL_NAMES = ("resnet18", "wrn-28-10", "small-cnn", "small-mlp")


def build_model(name, num_classes, input_shape, *, mean=None, std=None, seed=None, width=1.0):
    """A model by name, for inputs of ``input_shape`` in ``[0, 1]``.

    Parameters
    ----------
    name : {"resnet18", "wrn-28-10", "small-cnn", "small-mlp"}
        ``"resnet18"`` / ``"wrn-28-10"``: the 32x32 networks (:func:`resnet18`,
        :func:`wide_resnet`; any input size works through global pooling).
        ``"small-cnn"`` / ``"small-mlp"``: :class:`SmallCNN` and :class:`SmallMLP`, the
        CPU path (e.g. digits).
    num_classes : int
    input_shape : tuple of int
        ``(C, H, W)`` of one example (``DatasetSplits.input_shape``).
    mean, std : sequence of float, optional
        Normalization inside the model (the two large networks only).
    seed : int, optional
        Seeds the initialization (see :func:`resnet18`).
    width : float, default 1
        Multiplies the model's width: the hidden units of ``"small-mlp"`` (64), the channels
        of ``"small-cnn"`` (16) and of ``"resnet18"``'s first stage (64), the widen factor of
        ``"wrn-28-10"`` (10); each rounded to an integer >= 1. :func:`matched_width` finds the
        width of a single model with as many parameters as ``L`` members (the
        parameter-matched baseline of a mixture).

    Returns
    -------
    nn.Module
    """
    name = check_choice("name", name, MODEL_NAMES)
    width = check_real("width", width, lo=0, lo_open=True)
    num_classes = check_int("num_classes", num_classes, 1)
    try:
        shape = tuple(check_int("input_shape", s, 1) for s in input_shape)
    except TypeError:
        raise TypeError(f"input_shape must be a tuple of positive ints (C, H, W); got {input_shape!r}") from None
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W); got {input_shape!r}")
    def scaled(n):
        return max(1, int(round(n * width)))

    if name == "resnet18":
        if width == 1.0:
            return resnet18(num_classes, shape[0], mean=mean, std=std, seed=seed)
        return _seeded(lambda: ResNet18(num_classes, shape[0], mean, std, base=scaled(64)), seed)
    if name == "wrn-28-10":
        return wide_resnet(28, scaled(10), num_classes, in_channels=shape[0], mean=mean, std=std, seed=seed)
    if mean is not None or std is not None:
        raise ValueError(f"mean and std apply to 'resnet18' and 'wrn-28-10' only; got them for {name!r}")
    if name == "small-cnn":
        return _seeded(lambda: SmallCNN(shape[0], num_classes, width=scaled(16)), seed)
    return _seeded(lambda: SmallMLP(shape[0] * shape[1] * shape[2], num_classes, hidden=scaled(64)), seed)


def count_parameters(model) -> int:
    """Number of scalar parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def matched_width(name, num_classes, input_shape, factor):
    """The ``width`` of :func:`build_model` whose model has about ``factor`` times the
    parameters of the ``width=1`` model: the single model matched to a mixture of ``factor``
    members (MNE21's comparison, made fair in parameters).

    The width is searched on the grid of integer layer sizes the model can take, and the
    closest parameter count wins (models are built on the ``meta`` device: nothing is
    allocated).

    Examples
    --------
    >>> w = matched_width("small-mlp", 10, (1, 8, 8), 2)
    >>> w, count_parameters(build_model("small-mlp", 10, (1, 8, 8), width=w))
    (2.0, 9610)
    >>> 2 * count_parameters(build_model("small-mlp", 10, (1, 8, 8)))
    9620
    """
    factor = check_real("factor", factor, lo=1)
    base = {"small-mlp": 64, "small-cnn": 16, "resnet18": 64, "wrn-28-10": 10}[check_choice("name", name, MODEL_NAMES)]

    def params(units):
        with torch.device("meta"):
            return count_parameters(build_model(name, num_classes, input_shape, width=units / base))

    target = factor * params(base)
    lo, hi = base, base
    while params(hi) < target:
        hi *= 2
    while hi - lo > 1:  # parameters grow with the units: bisection on the integer grid
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if params(mid) < target else (lo, mid)
    best = min((lo, hi), key=lambda u: abs(params(u) - target))
    return best / base
