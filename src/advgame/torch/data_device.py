"""Training batches drawn on the training device: the images as one uint8 tensor there,
batches by index, augmentation vectorized over the batch.

The same batches, bit for bit, as a ``DataLoader`` over an
:class:`~advgame.torch.data.ImageDataset` with a ``DistributedSampler`` (shuffled,
``seed``, ``drop_last=False``, reshuffled per epoch) and the dataset's augmentation
of that epoch: :func:`sampler_order` reproduces the sampler's order on each rank's
shard, and :func:`augment_batch` computes the per-item random crop and flip of
:class:`~advgame.torch.data.ImageDataset` -- a pure function of ``(seed, epoch,
index)`` through splitmix64 -- for the whole batch at once in 64-bit integer tensor
arithmetic.  A resumed run and a ``torchrun`` run therefore see the same images as
before; only the host's per-item Python work is gone.
"""

from __future__ import annotations

import math

import torch

from .._validation import check_int
from .data import ImageDataset

__all__ = ["sampler_order", "mix64", "augment_batch", "DeviceBatches"]

_M64 = (1 << 64) - 1


def _s64(v: int) -> int:
    """An unsigned 64-bit constant as the int64 with the same bits."""
    return v - (1 << 64) if v >= 1 << 63 else v


_GOLDEN, _C1, _C2 = _s64(0x9E3779B97F4A7C15), _s64(0xBF58476D1CE4E5B9), _s64(0x94D049BB133111EB)


def _shr(z, k):
    """Logical right shift of int64 bits (torch's ``>>`` is arithmetic)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def mix64(z):
    """splitmix64's finalizer on an int64 tensor (its bits read as unsigned 64-bit), the
    vectorized twin of ``advgame.torch.data._mix64``; int64 arithmetic wraps modulo 2**64."""
    z = z + _GOLDEN
    z = (z ^ _shr(z, 30)) * _C1
    z = (z ^ _shr(z, 27)) * _C2
    return z ^ _shr(z, 31)


def _umod(h, m: int):
    """``h mod m`` of int64 tensors read as unsigned 64-bit (m < 2**31)."""
    hi, lo = _shr(h, 32), h & 0xFFFFFFFF
    return ((hi % m) * ((1 << 32) % m) + lo % m) % m


def sampler_order(n: int, seed: int, epoch: int, world: int = 1, rank: int = 0) -> torch.Tensor:
    """The item order ``DistributedSampler(shuffle=True, seed=seed, drop_last=False)``
    gives rank ``rank`` of ``world`` at ``epoch`` (int64, on the CPU)."""
    n, world = check_int("n", n, 1), check_int("world", world, 1)
    rank = check_int("rank", rank, 0)
    if rank >= world:
        raise ValueError(f"rank must be in [0, {world}); got {rank}")
    g = torch.Generator()
    g.manual_seed(int(seed) + int(epoch))
    order = torch.randperm(n, generator=g)
    total = math.ceil(n / world) * world
    if total > n:
        order = order.repeat(math.ceil(total / n))[:total]  # the sampler's padding: the order again
    return order[rank:total:world]


def augment_batch(x, index, *, seed: int, epoch: int, pad: int, flip: bool):
    """Random crop (zero padding ``pad``) and horizontal flip of a batch, each item's keyed
    by ``(seed, epoch, index)`` exactly as :class:`~advgame.torch.data.ImageDataset`.

    Parameters
    ----------
    x : torch.Tensor, shape (B, C, H, W)
    index : torch.Tensor of int64, shape (B,)
        The items' indices into the image tensor (the key of their augmentation).
    """
    from .data import _mix64

    base = _s64(_mix64(_mix64(int(seed)) ^ int(epoch)) & _M64)
    h = mix64(torch.as_tensor(base, dtype=torch.int64, device=index.device) ^ index.to(torch.int64))
    B, _, H, W = x.shape
    if pad:
        span = 2 * pad + 1
        r2 = _umod(h, span * span)  # (h mod span^2): dy = h mod span, dx = (h // span) mod span
        dy, dx = r2 % span, r2 // span
        C, Wp = x.shape[1], W + 2 * pad
        padded = torch.nn.functional.pad(x, (pad,) * 4).reshape(B, C, -1)
        rows = dy[:, None, None] + torch.arange(H, device=x.device)[None, :, None]  # (B, H, 1)
        cols = dx[:, None, None] + torch.arange(W, device=x.device)[None, None, :]  # (B, 1, W)
        flat = (rows * Wp + cols).reshape(B, 1, H * W).expand(B, C, H * W)
        x = torch.gather(padded, 2, flat).reshape(B, C, H, W)
    if flip:
        do = ((h >> 63) & 1).bool()
        x = torch.where(do[:, None, None, None], x.flip(-1), x)
    return x


class DeviceBatches:
    """The training batches of an :class:`~advgame.torch.data.ImageDataset`, drawn on
    ``device`` (an iterable for one epoch, with ``len``).

    Parameters
    ----------
    dataset : ImageDataset
    device : str or torch.device
    batch_size : int
        The per-rank batch (``DataLoader``'s ``batch_size``).
    seed, epoch : int
        The sampler's seed and epoch; the augmentation's epoch.
    world, rank : int
    dtype : torch.dtype, optional
        Of the images (default: torch's default dtype, as the dataset's items).

    Notes
    -----
    The uint8 images are copied to ``device`` once per dataset and device (and kept on
    the dataset object), 150 MB for CIFAR's training split.
    """

    def __init__(self, dataset, device, batch_size, *, seed, epoch, world=1, rank=0, dtype=None):
        if not isinstance(dataset, ImageDataset):
            raise TypeError(f"dataset must be an advgame.torch.data.ImageDataset; got {type(dataset).__name__}")
        self.ds = dataset
        self.device = torch.device(device)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.seed, self.epoch = int(seed), check_int("epoch", epoch, 0)
        self.dtype = dtype or torch.get_default_dtype()
        self.order = sampler_order(len(dataset), self.seed, self.epoch, world, rank)
        cache = getattr(dataset, "_device_copy", None)
        if cache is None or cache[0] != self.device:
            cache = (self.device, dataset.images.to(self.device), dataset.labels.to(self.device),
                     dataset.indices.to(self.device))
            dataset._device_copy = cache
        _, self.images, self.labels, self.indices = cache
        self.order = self.order.to(self.device)

    def __len__(self) -> int:
        return math.ceil(self.order.shape[0] / self.batch_size)

    def __iter__(self):
        ds = self.ds
        for a in range(0, self.order.shape[0], self.batch_size):
            i = self.indices[self.order[a: a + self.batch_size]]
            x = self.images[i].to(self.dtype) / ds.scale
            if ds.augment:
                x = augment_batch(x, i, seed=ds.seed, epoch=self.epoch, pad=ds.pad, flip=ds.flip)
            yield x, self.labels[i]
