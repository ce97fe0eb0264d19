"""The on-device training batches (issue 18, item 1): the same batches, bit for bit, as
the DataLoader + DistributedSampler + per-item augmentation they replace."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from advgame.torch.data import ImageDataset, _mix64, load_dataset, make_cifar_fixture
from advgame.torch.data_device import DeviceBatches, augment_batch, mix64, sampler_order


def _old_batches(ds, batch, seed, epoch, world=1, rank=0):
    sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    ds.set_epoch(epoch)
    return list(DataLoader(ds, batch_size=batch, sampler=sampler))


def test_mix64_matches_the_python_hash():
    vals = [0, 1, 2, 12345, 2**31, 2**62 + 7, 2**63 - 1]
    z = torch.tensor(vals, dtype=torch.int64)
    got = [v & (2**64 - 1) for v in mix64(z).tolist()]
    assert got == [_mix64(v) for v in vals]


@pytest.mark.parametrize("n, world", [(10, 1), (10, 3), (7, 4), (3, 8)])
def test_sampler_order_is_the_distributed_samplers(n, world):
    ds = torch.utils.data.TensorDataset(torch.arange(n))
    for epoch in (0, 5):
        for rank in range(world):
            s = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=11, drop_last=False)
            s.set_epoch(epoch)
            assert sampler_order(n, 11, epoch, world, rank).tolist() == list(s)
    with pytest.raises(ValueError, match="rank"):
        sampler_order(5, 0, 0, world=2, rank=2)


@pytest.mark.parametrize("pad, flip", [(4, True), (1, False), (0, True), (2, False)])
def test_augment_batch_equals_the_per_item_augmentation(pad, flip):
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8, generator=gen)
    ds = ImageDataset(images, torch.zeros(40, dtype=torch.int64), 255, pad=pad, flip=flip, seed=9)
    ds.set_epoch(3)
    idx = torch.arange(40)
    got = augment_batch(images.float() / 255, idx, seed=9, epoch=3, pad=pad, flip=flip)
    want = torch.stack([ds[i][0] for i in range(40)])
    assert torch.equal(got, want)
    if pad:  # the crops vary (not all equal to the identity crop)
        assert not torch.equal(got, images.float() / 255)


def _fixture_train(tmp_path):
    make_cifar_fixture(tmp_path, n_train=60, n_test=10, seed=1)
    root = tmp_path
    return load_dataset("cifar10", root, val_size=0.2, augment=True, seed=4).train


@pytest.mark.parametrize("world, batch", [(1, 16), (2, 8), (3, 7)])
def test_device_batches_equal_the_dataloader_on_cifar(tmp_path, world, batch):
    ds = _fixture_train(tmp_path)
    assert ds.augment and ds.flip and ds.pad == 4
    for epoch in (0, 2):
        for rank in range(world):
            old = _old_batches(ds, batch, 4, epoch, world, rank)
            new = list(DeviceBatches(ds, "cpu", batch, seed=4, epoch=epoch, world=world, rank=rank))
            assert len(new) == len(old) == len(DeviceBatches(ds, "cpu", batch, seed=4, epoch=epoch, world=world,
                                                             rank=rank))
            for (xa, ya), (xb, yb) in zip(old, new):
                assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_device_batches_equal_the_dataloader_on_digits():
    ds = load_dataset("digits", val_size=0.1, augment=True, seed=2).train
    old = _old_batches(ds, 128, 2, 1)
    new = list(DeviceBatches(ds, "cpu", 128, seed=2, epoch=1))
    assert len(old) == len(new)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(old, new))


def test_device_batches_reject_other_datasets():
    with pytest.raises(TypeError, match="ImageDataset"):
        DeviceBatches(torch.utils.data.TensorDataset(torch.zeros(3)), "cpu", 2, seed=0, epoch=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_batches_on_cuda_equal_the_cpu(tmp_path):
    ds = _fixture_train(tmp_path)
    cpu = list(DeviceBatches(ds, "cpu", 16, seed=4, epoch=1))
    cuda = list(DeviceBatches(ds, "cuda", 16, seed=4, epoch=1))
    assert all(torch.equal(a[0], b[0].cpu()) and torch.equal(a[1], b[1].cpu()) for a, b in zip(cpu, cuda))


def test_trainer_on_device_batches_trains_exactly_as_the_dataloader(tmp_path):
    """A digits run with the on-device batches ends bit-identical to one with the DataLoader
    (and so exact resume and the torchrun equality carry over)."""
    from advgame.torch.training import Trainer, TrainConfig

    data = load_dataset("digits", val_size=0.2, augment=True, seed=0)
    cfg = TrainConfig(algo="at", dataset="digits", models=1, epochs=2, batch_size=256, eps=0.1, step=0.05,
                      attack_steps=1, eval_steps=1, eval_samples=64, augment=True, seed=0)
    runs = []
    for on_device in (True, False):
        tr = Trainer(cfg, data)
        tr.device_data = on_device
        assert (type(tr._loader(data.train, 0)).__name__ == "DeviceBatches") == on_device
        tr.fit()
        runs.append(tr)
    a, b = runs
    for (ka, va), (kb, vb) in zip(a.members[0].state_dict().items(), b.members[0].state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
