"""advgame.torch.data: CIFAR in torchvision's on-disk format (through a fixture), digits,
validation splits, augmentation."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import advgame

torch = pytest.importorskip("torch")

from advgame.torch.data import DATASETS, DatasetSplits, ImageDataset, load_dataset, make_cifar_fixture  # noqa: E402


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    make_cifar_fixture(root, "cifar10", n_train=50, n_test=20, seed=0)
    make_cifar_fixture(root, "cifar100", n_train=60, n_test=30, seed=1)
    return root


def test_fixture_files_are_torchvisions_format(cifar_root):
    c10 = cifar_root / "cifar-10-batches-py"
    assert sorted(p.name for p in c10.iterdir() if not p.name.endswith(".json")) == sorted(
        [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch", "batches.meta"])
    with open(c10 / "data_batch_1", "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    assert entry["data"].dtype == np.uint8 and entry["data"].shape == (10, 3072)
    assert isinstance(entry["labels"], list)
    c100 = cifar_root / "cifar-100-python"
    with open(c100 / "meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert len(meta["fine_label_names"]) == 100 and len(meta["coarse_label_names"]) == 20


@pytest.mark.parametrize("name,n_train,n_test,classes", [("cifar10", 50, 20, 10), ("cifar100", 60, 30, 100)])
@pytest.mark.parametrize("reader", ["auto", "builtin", "torchvision"])
def test_cifar_fixture_loads(cifar_root, name, n_train, n_test, classes, reader):
    if reader == "torchvision":  # deprecated: the restricted reader reads the files all the same
        with pytest.warns(DeprecationWarning, match="restricted unpickler"):
            s = load_dataset(name, cifar_root, val_size=0.2, seed=3, reader=reader)
    else:
        s = load_dataset(name, cifar_root, val_size=0.2, seed=3, reader=reader)
    assert isinstance(s, DatasetSplits)
    assert (s.name, s.num_classes, s.input_shape) == (name, classes, (3, 32, 32))
    assert (len(s.train), len(s.val), len(s.test)) == (n_train - round(0.2 * n_train), round(0.2 * n_train), n_test)
    x, y = s.train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.get_default_dtype()
    assert y.dtype == torch.int64 and y.ndim == 0
    xs, ys = s.test.tensors()
    assert 0 <= float(xs.min()) and float(xs.max()) <= 1 and float(xs.max()) > 0.5
    assert ys.tolist() == [i % classes for i in range(n_test)]  # the fixture's labels cycle through classes


def test_pixels_are_the_files_pixels(cifar_root):
    """x = data / 255 in CHW order, the layout of the official files."""
    with open(cifar_root / "cifar-10-batches-py" / "test_batch", "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    s = load_dataset("cifar10", cifar_root, reader="builtin")
    x, _ = s.test[4]
    ref = torch.from_numpy(entry["data"][4].reshape(3, 32, 32).astype(np.float32) / 255)
    assert torch.allclose(x, ref)


@pytest.mark.parametrize("name", ["cifar10", "digits"])
def test_splits_disjoint_deterministic(cifar_root, name):
    s = load_dataset(name, cifar_root, val_size=7, seed=5)
    assert len(s.val) == 7
    tr, va = set(s.train.indices.tolist()), set(s.val.indices.tolist())
    assert not tr & va and len(tr | va) == s.train.images.shape[0]
    assert s.test.images is not s.train.images  # the test set is separate storage, never split
    again = load_dataset(name, cifar_root, val_size=7, seed=5)
    assert torch.equal(again.val.indices, s.val.indices)
    other = load_dataset(name, cifar_root, val_size=7, seed=6)
    assert not torch.equal(other.val.indices, s.val.indices)
    assert torch.equal(other.test.tensors()[0], s.test.tensors()[0])  # the test set never depends on the seed


def test_val_size_zero_and_fraction():
    s = load_dataset("digits", val_size=0)
    assert len(s.val) == 0 and len(s.train) == 1348
    s = load_dataset("digits", val_size=0.5)
    assert len(s.val) == 674


def test_digits():
    s = load_dataset("digits")
    assert (s.num_classes, s.input_shape, s.name) == (10, (1, 8, 8), "digits")
    assert (len(s.train), len(s.val), len(s.test)) == (1213, 135, 449)
    x, y = s.train.tensors()
    assert x.shape == (1213, 1, 8, 8) and float(x.min()) == 0 and float(x.max()) == 1
    assert set(y.tolist()) == set(range(10))
    from sklearn.datasets import load_digits

    d = load_digits()
    assert torch.allclose(s.test[0][0][0], torch.from_numpy(d.images[int(_test_index(d, s))] / 16).float())


def _test_index(d, s):
    """The row of load_digits that is the first test image (found by content)."""
    x0 = (s.test.images[0, 0].numpy()).astype(np.float64)
    return np.flatnonzero((d.images == x0).all(axis=(1, 2)))[0]


@pytest.mark.parametrize("name,pad", [("cifar10", 4), ("digits", 1)])
def test_augmentation_train_only_and_seeded(cifar_root, name, pad):
    s = load_dataset(name, cifar_root, augment=True, seed=2)
    plain = load_dataset(name, cifar_root, augment=False, seed=2)
    assert s.train.augment and not s.val.augment and not s.test.augment
    for split in ("val", "test"):
        assert all(torch.equal(getattr(s, split)[i][0], getattr(plain, split)[i][0]) for i in range(5))
    n = min(len(s.train), 40)
    aug = torch.stack([s.train[i][0] for i in range(n)])
    ref = torch.stack([plain.train[i][0] for i in range(n)])
    assert not torch.equal(aug, ref)
    # each augmented image is a crop (and maybe a flip) of the padded original
    for i in range(n):
        padded = torch.nn.functional.pad(ref[i], (pad,) * 4)
        H, W = ref.shape[-2:]
        crops = [padded[:, a:a + H, b:b + W] for a in range(2 * pad + 1) for b in range(2 * pad + 1)]
        crops += [c.flip(-1) for c in crops] if name != "digits" else []
        assert any(torch.equal(aug[i], c) for c in crops)
    # deterministic in (seed, epoch, index), whatever the order of reads
    again = load_dataset(name, cifar_root, augment=True, seed=2)
    assert all(torch.equal(again.train[i][0], aug[i]) for i in reversed(range(n)))
    s.train.set_epoch(1)
    assert not torch.equal(torch.stack([s.train[i][0] for i in range(n)]), aug)
    s.train.set_epoch(0)
    assert torch.equal(torch.stack([s.train[i][0] for i in range(n)]), aug)
    other = load_dataset(name, cifar_root, augment=True, seed=3)
    assert not torch.equal(torch.stack([other.train[i][0] for i in range(n)]), aug)


def test_flip_happens_for_cifar_only(cifar_root):
    s = load_dataset("digits", augment=True)
    assert s.train.flip is False and s.train.pad == 1
    c = load_dataset("cifar10", cifar_root, augment=True)
    assert c.train.flip is True and c.train.pad == 4


def test_dataloader_batches(cifar_root):
    s = load_dataset("cifar10", cifar_root, augment=True)
    x, y = next(iter(torch.utils.data.DataLoader(s.train, batch_size=8)))
    assert x.shape == (8, 3, 32, 32) and y.shape == (8,) and y.dtype == torch.int64


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py") as e:
        load_dataset("cifar10", tmp_path / "nowhere")
    assert "nowhere" in str(e.value)
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        load_dataset("cifar100", tmp_path)


def test_default_root_from_environment(cifar_root, monkeypatch):
    monkeypatch.setenv("ADVGAME_DATA", str(cifar_root))
    assert len(load_dataset("cifar10").test) == 20


def test_incomplete_or_corrupted_files(tmp_path):
    folder = make_cifar_fixture(tmp_path, "cifar10", n_train=10, n_test=5)
    os.remove(folder / "data_batch_3")
    with pytest.raises(ValueError, match="cifar10 files under"):
        load_dataset("cifar10", tmp_path)
    folder = make_cifar_fixture(tmp_path / "b", "cifar10", n_train=10, n_test=5)
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="cifar10 files under"):
        load_dataset("cifar10", tmp_path / "b")


def test_builtin_reader_refuses_arbitrary_objects(tmp_path):
    """The fallback reader unpickles numpy arrays only, never an arbitrary callable."""
    folder = make_cifar_fixture(tmp_path, "cifar10", n_train=10, n_test=5)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": Evil(), "labels": [0]}, f)
    with pytest.raises(ValueError, match="refusing to unpickle"):
        load_dataset("cifar10", tmp_path, reader="builtin")


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(name="mnist"), ValueError, "name must be one of"),
    (dict(name="digits", val_size=1.0), ValueError, "val_size"),
    (dict(name="digits", val_size=-1), ValueError, "val_size"),
    (dict(name="digits", val_size=1348), ValueError, "val_size"),
    (dict(name="digits", val_size="0.1"), TypeError, "val_size"),
    (dict(name="digits", val_size=True), TypeError, "val_size"),
    (dict(name="digits", augment=1), TypeError, "augment"),
    (dict(name="digits", seed=-1), ValueError, "seed"),
    (dict(name="digits", seed=1.5), TypeError, "seed"),
    (dict(name="digits", reader="pil"), ValueError, "reader"),
    (dict(name="cifar10", root=3), TypeError, "root"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        load_dataset(**kwargs)


@pytest.mark.parametrize("kwargs,exc", [
    (dict(name="digits"), ValueError), (dict(n_train=0), ValueError), (dict(n_test=2.0), TypeError),
    (dict(seed=-3), ValueError),
])
def test_fixture_bad_arguments(tmp_path, kwargs, exc):
    with pytest.raises(exc):
        make_cifar_fixture(tmp_path, **kwargs)


def test_set_epoch_validates():
    s = load_dataset("digits", augment=True)
    with pytest.raises(ValueError, match="epoch"):
        s.train.set_epoch(-1)
    assert isinstance(s.train, ImageDataset) and "digits" in DATASETS


def test_loader_never_uses_torchvisions_unpickler(cifar_root, monkeypatch):
    """Every reader value goes through the restricted unpickler: a general pickle.load is
    never called, whether or not torchvision imports (issue 19, item 1)."""
    def general_load(*args, **kwargs):
        raise AssertionError("a general unpickler was used")

    monkeypatch.setattr(pickle, "load", general_load)
    monkeypatch.setattr(pickle, "loads", general_load)
    for reader in ("auto", "builtin"):
        assert len(load_dataset("cifar10", cifar_root, reader=reader).test) == 20


def test_docs_code_blocks_run(capsys):
    """Every python block of docs/data_and_models.md runs and prints what the page says."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "data_and_models.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        expected = [line[2:] for line in block.splitlines() if line.startswith("# ")]
        exec(compile(block, "data_and_models.md", "exec"), {})
        printed = capsys.readouterr().out.strip().splitlines()
        assert printed == expected


_TORCHVISION_DATASETS_ONLY = r"""
import sys, types
# torchvision's PyPI wheel is built for CUDA torch: with the CPU torch its compiled detection
# ops (nms, roi_align) do not load and registering their meta kernels fails at import. The
# dataset classes are pure Python: skip only that registration to reach them.
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import numpy as np
import torch
from torchvision.datasets import CIFAR10, CIFAR100
from advgame.torch.data import load_dataset
root, name = sys.argv[1], sys.argv[2]
cls = CIFAR10 if name == "cifar10" else CIFAR100
# the fixture's files have their own checksums: a cross-check of the format, in a test only
cls = type(cls.__name__, (cls,), {"train_list": [[f, None] for f, _ in cls.train_list],
                                  "test_list": [[f, None] for f, _ in cls.test_list],
                                  "meta": {**cls.meta, "md5": None}})
b = load_dataset(name, root, val_size=0)
for train, ours in ((True, b.train), (False, b.test)):
    tv = cls(root, train=train, download=False)
    x, y = ours.tensors()
    ref = torch.from_numpy(np.ascontiguousarray(tv.data.transpose(0, 3, 1, 2))).float() / 255
    assert x.shape == ref.shape and torch.equal(x, ref), train
    assert y.tolist() == list(tv.targets), train
print("ok", len(b.train), len(b.test))
"""


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_torchvisions_own_cifar_classes_read_the_fixture_like_the_builtin_reader(tmp_path, name):
    """Runs torchvision's CIFAR10/CIFAR100 classes on the fixture in a subprocess, even where
    the installed torchvision wheel's compiled ops do not match this torch build."""
    import subprocess
    import sys

    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed")
    make_cifar_fixture(tmp_path, name, n_train=30, n_test=10, seed=3)  # returns the data set's folder
    root = tmp_path
    env = dict(os.environ, PYTHONPATH=str(Path(advgame.__file__).parents[1]))
    out = subprocess.run([sys.executable, "-c", _TORCHVISION_DATASETS_ONLY, str(root), name], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok ")
