r"""Data sets for training mixtures: CIFAR-10, CIFAR-100 and scikit-learn's digits.

:func:`load_dataset` returns a :class:`DatasetSplits` of three torch ``Dataset`` s --
``train``, ``val`` (held out from the training set, for model selection) and
``test`` (never used to choose anything) -- whose items are ``(x, y)`` with ``x`` a
float tensor ``(C, H, W)`` in ``[0, 1]`` and ``y`` an ``int64`` scalar tensor.
Attacks work in ``[0, 1]``; models normalize inside (see :mod:`advgame.torch.models`).

CIFAR is read from torchvision's on-disk format (the folders ``cifar-10-batches-py``
and ``cifar-100-python`` of the official python archives): nothing is downloaded.  The
files are pickles, and a pickle can run code, so every file is read by a restricted
unpickler that accepts numpy arrays, lists, strings and numbers only -- never by
torchvision's classes (they call the general unpickler), whether or not torchvision imports,
and no file in the folder changes that.  Each file's contents are then checked: uint8
pixels of shape ``(n, 3072)``, ``n`` integer labels in ``[0, classes)``, the class
names; anything else is a ``ValueError`` naming the file and what is wrong.
:func:`make_cifar_fixture` writes a tiny data set in that exact format, for tests.

Randomness.  The validation split is a ``torch.randperm`` drawn from a
``torch.Generator`` seeded with ``seed``.  Augmentation (random crop with padding and,
for CIFAR, horizontal flip; train split only) is a pure function of ``(seed, epoch,
index)``: call ``splits.train.set_epoch(epoch)`` each epoch.  An item's augmentation
therefore does not depend on the order items are read in, the number of loader
workers, or where a run was interrupted -- resumed runs see the same images.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .._io import atomic_path
from .._validation import check_bool, check_choice, check_int, check_real

__all__ = ["DatasetSplits", "ImageDataset", "load_dataset", "make_cifar_fixture", "DATASETS"]

#: Names accepted by :func:`load_dataset`.
DATASETS = ("cifar10", "cifar100", "digits")

_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_FIXTURE_MARKER = "advgame_fixture.json"
_MASK64 = (1 << 64) - 1


def _mix64(z: int) -> int:
    """splitmix64's finalizer: a well-mixed 64-bit hash of a 64-bit integer."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class ImageDataset(Dataset):
    """Images held in memory as integers, served as float tensors in ``[0, 1]``.

    Parameters
    ----------
    images : torch.Tensor of uint8, shape (n, C, H, W)
        Pixel values in ``[0, scale]``.
    labels : torch.Tensor of int64, shape (n,)
    scale : float
        ``x = images / scale`` (255 for CIFAR, 16 for digits).
    indices : torch.Tensor of int64, optional
        The items of ``images`` this data set serves (default: all).
    pad : int
        Augmentation: random crop of the image padded by ``pad`` zeros (0: none).
    flip : bool
        Augmentation: horizontal flip with probability 1/2.
    seed : int
        Seed of the augmentation (see the module docstring).

    Attributes
    ----------
    epoch : int
        Set by :meth:`set_epoch`; part of the augmentation's seed.
    """

    def __init__(self, images, labels, scale, indices=None, *, pad=0, flip=False, seed=0):
        self.images = images
        self.labels = labels
        self.scale = float(scale)
        self.indices = torch.arange(images.shape[0]) if indices is None else indices
        self.pad = int(pad)
        self.flip = bool(flip)
        self.seed = int(seed)
        self.epoch = 0

    @property
    def augment(self) -> bool:
        """Whether items are augmented."""
        return self.pad > 0 or self.flip

    def set_epoch(self, epoch) -> None:
        """Select the augmentation of epoch ``epoch`` (an int >= 0)."""
        self.epoch = check_int("epoch", epoch, 0)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def _augment(self, x, i):
        h = _mix64(_mix64(_mix64(self.seed) ^ self.epoch) ^ i)
        if self.pad:
            span = 2 * self.pad + 1
            dy, dx = h % span, (h // span) % span
            H, W = x.shape[-2:]
            padded = torch.nn.functional.pad(x, (self.pad,) * 4)
            x = padded[:, dy : dy + H, dx : dx + W]
        if self.flip and (h >> 63) & 1:
            x = x.flip(-1)
        return x

    def __getitem__(self, item):
        i = int(self.indices[item])
        x = self.images[i].to(torch.get_default_dtype()) / self.scale
        if self.augment:
            x = self._augment(x, i)
        return x, self.labels[i].clone()

    def tensors(self, device=None, dtype=None):
        """All items, unaugmented, as ``(x (n, C, H, W), y (n,))`` on ``device``."""
        dtype = dtype or torch.get_default_dtype()
        x = self.images[self.indices].to(device=device, dtype=dtype) / self.scale
        return x, self.labels[self.indices].to(device)


@dataclass
class DatasetSplits:
    """The three splits of a data set and what a model needs to know about it.

    Attributes
    ----------
    train, val, test : ImageDataset
        Items ``(x, y)``: ``x`` float ``(C, H, W)`` in ``[0, 1]``, ``y`` an int64
        scalar tensor.  ``val`` is held out from the training set; only ``train`` is
        augmented (when asked).
    num_classes : int
    input_shape : tuple of int
        ``(C, H, W)``.
    name : str
        ``"cifar10"``, ``"cifar100"`` or ``"digits"``.
    fingerprint : dict or None
        What the data is: ``{"name", "n_train", "n_test", "sha256"}``, the hash of the
        files read (CIFAR) or of the arrays (digits).  Training checkpoints store it and
        ``--resume`` refuses other data.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    num_classes: int
    input_shape: tuple
    name: str
    fingerprint: dict | None = None


# ------------------------------------------------------------------ readers
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays, lists, strings and numbers; nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} (only numpy arrays are expected)")


def _read_batch(path, digest=None):
    """Unpickle one CIFAR file with :class:`_ArrayUnpickler` (``digest``: a hashlib object
    the file's bytes are fed to)."""
    with open(path, "rb") as f:
        raw = f.read()
    if digest is not None:
        digest.update(os.path.basename(path).encode() + b"\0" + len(raw).to_bytes(8, "little"))
        digest.update(raw)
    return _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_names(meta, key, classes):
    """The class names of a CIFAR meta file: a list of ``classes`` strings."""
    if not isinstance(meta, dict) or key not in meta:
        raise ValueError(f"expected a dict with the key {key!r} (the class names)")
    names = meta[key]
    if not isinstance(names, (list, tuple)) or len(names) != classes or not all(isinstance(n, str) for n in names):
        got = f"{len(names)} entries" if isinstance(names, (list, tuple)) else type(names).__name__
        raise ValueError(f"{key!r} must be a list of {classes} class names (strings); got {got}")
    return list(names)


def _check_batch(entry, label_key, classes):
    """``(images uint8 (n, 3072), labels int64 (n,))`` of one CIFAR data file, checked."""
    if not isinstance(entry, dict):
        raise ValueError(f"expected a dict with the keys 'data' and {label_key!r}; got {type(entry).__name__}")
    for key in ("data", label_key):
        if key not in entry:
            raise ValueError(f"the key {key!r} is missing")
    data, labels = entry["data"], entry[label_key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        got = f"dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"'data' must be a uint8 array of pixel values 0..255; got {got}")
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"'data' must have shape (n, 3072) (n images of 3 x 32 x 32); got {data.shape}")
    n = data.shape[0]
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(f"{label_key!r} must be a list of integer labels; got an array of {labels.dtype} "
                             f"with shape {labels.shape}")
    elif isinstance(labels, (list, tuple)):
        bad = next((v for v in labels if not _is_int(v)), None)
        if bad is not None:
            raise ValueError(f"{label_key!r} must hold integer class labels; got {bad!r}")
    else:
        raise ValueError(f"{label_key!r} must be a list of integer labels; got {type(labels).__name__}")
    if len(labels) != n:
        raise ValueError(f"{n} images but {len(labels)} labels in {label_key!r}")
    y = np.asarray(labels, dtype=np.int64) if n else np.zeros(0, np.int64)
    if n and (int(y.min()) < 0 or int(y.max()) >= classes):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise ValueError(f"{label_key!r} must hold class labels in [0, {classes - 1}]; got {bad}")
    return data, y


def _read_cifar(name, root, train, digest=None):
    """``(images uint8 (n, 3, 32, 32), labels int64 (n,), class names)`` of one split,
    every file read by the restricted unpickler and checked (a ValueError naming the file)."""
    folder = Path(root) / _FOLDERS[name]
    if name == "cifar10":
        files = [f"data_batch_{k}" for k in range(1, 6)] if train else ["test_batch"]
        label_key, meta_file, meta_key, classes = "labels", "batches.meta", "label_names", 10
    else:
        files = ["train"] if train else ["test"]
        label_key, meta_file, meta_key, classes = "fine_labels", "meta", "fine_label_names", 100
    for f in [*files, meta_file]:
        if not (folder / f).is_file():
            raise ValueError(f"the {name} files under {folder} are incomplete: {f} is missing")
    data, labels = [], []
    for f in [meta_file, *files]:
        try:
            entry = _read_batch(folder / f, digest)
        except (pickle.UnpicklingError, KeyError, EOFError, ValueError, TypeError, AttributeError, IndexError,
                ImportError, MemoryError, OverflowError, RecursionError) as e:
            raise ValueError(f"the {name} files under {folder} are corrupted: {f}: "
                             f"{type(e).__name__}: {e}") from None
        try:
            if f == meta_file:
                names = _check_names(entry, meta_key, classes)
            else:
                x, y = _check_batch(entry, label_key, classes)
                data.append(x)
                labels.append(y)
        except ValueError as e:
            raise ValueError(f"the {name} files under {folder} are invalid: {f}: {e}") from None
    images = torch.from_numpy(np.vstack(data).reshape(-1, 3, 32, 32).copy())
    return images, torch.from_numpy(np.concatenate(labels)), names


def _fingerprint(name, n_train, n_test, digest):
    return {"name": name, "n_train": int(n_train), "n_test": int(n_test), "sha256": digest.hexdigest()}


def _default_root():
    return os.environ.get("ADVGAME_DATA", "data")


# ------------------------------------------------------------------ splits
def _val_count(val_size, n):
    if isinstance(val_size, (int, np.integer)) and not isinstance(val_size, (bool, np.bool_)):
        return check_int("val_size", val_size, 0, n - 1)
    frac = check_real("val_size", val_size, lo=0.0, hi=1.0, hi_open=True)
    return int(round(frac * n))


def _split(images, labels, scale, test_images, test_labels, val_size, augment, seed, pad, flip, name, num_classes,
           fingerprint=None):
    n = images.shape[0]
    n_val = _val_count(val_size, n)
    if n_val >= n:
        raise ValueError(f"val_size={val_size!r} leaves no training images (all {n} go to the validation split)")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
    aug = dict(pad=pad, flip=flip, seed=seed) if augment else {}
    return DatasetSplits(
        train=ImageDataset(images, labels, scale, train_idx, **aug),
        val=ImageDataset(images, labels, scale, val_idx),
        test=ImageDataset(test_images, test_labels, scale),
        num_classes=num_classes,
        input_shape=tuple(int(s) for s in images.shape[1:]),
        name=name,
        fingerprint=fingerprint,
    )


def load_dataset(name, root=None, *, val_size=0.1, augment=False, seed=0, reader="auto") -> DatasetSplits:
    r"""Load a data set as train / validation / test splits.

    Parameters
    ----------
    name : {"cifar10", "cifar100", "digits"}
        ``"digits"``: scikit-learn's :func:`~sklearn.datasets.load_digits` (1797 8x8
        grayscale images, 10 classes; shipped with scikit-learn), scaled to ``[0, 1]``
        as ``x / 16``, shape ``(1, 8, 8)``; its test split is a fixed quarter of the
        images (the same for every ``seed``).  ``"cifar10"`` / ``"cifar100"``: the
        official train (50000) and test (10000) sets, shape ``(3, 32, 32)``.
    root : str or path-like, optional
        For CIFAR: the folder holding ``cifar-10-batches-py`` / ``cifar-100-python``
        (torchvision's ``root``).  Default: the environment variable
        ``ADVGAME_DATA``, else ``./data``.  Ignored for digits.
    val_size : int or float
        The validation split, carved from the training set: a number of images (an
        int in ``[0, n_train)``) or a fraction (a float in ``[0, 1)``).
    augment : bool
        Augment the training split: random crop with zero padding 4 and horizontal
        flip for CIFAR (the standard recipe of RM20 and MNE21's code); random crop
        with padding 1 and no flip for the 8x8 digits.  ``val`` and ``test`` are never
        augmented.
    seed : int
        Seeds the validation split and the augmentation.
    reader : {"auto", "builtin", "torchvision"}
        Kept for compatibility: every CIFAR file is read by the restricted unpickler of
        this module (arrays, lists, strings and numbers only), whatever the value.
        ``"torchvision"`` is deprecated (a ``DeprecationWarning``): torchvision's
        classes unpickle with a general unpickler, which can run code from the file.

    Returns
    -------
    DatasetSplits

    Raises
    ------
    FileNotFoundError
        The CIFAR folder is not under ``root`` (nothing is downloaded).
    ValueError
        An unknown ``name``, a bad ``val_size`` (or one that leaves no training images),
        corrupted, incomplete or invalid files (naming the file and what is wrong).
    TypeError
        Arguments of the wrong type.

    Examples
    --------
    >>> from advgame.torch.data import load_dataset
    >>> splits = load_dataset("digits", val_size=0.1, seed=0)
    >>> len(splits.train), len(splits.val), len(splits.test), splits.input_shape
    (1213, 135, 449, (1, 8, 8))
    """
    name = check_choice("name", name, DATASETS)
    augment = check_bool("augment", augment)
    seed = check_int("seed", seed, 0)
    reader = check_choice("reader", reader, ("auto", "torchvision", "builtin"))
    if reader == "torchvision":
        warnings.warn("load_dataset(reader='torchvision') is deprecated: CIFAR files are always read by the "
                      "restricted unpickler (torchvision's classes would unpickle them with a general unpickler)",
                      DeprecationWarning, stacklevel=2)
    if isinstance(val_size, (bool, np.bool_)) or not isinstance(val_size, (int, float, np.integer, np.floating)):
        raise TypeError(f"val_size must be an int count or a float fraction in [0, 1); got {val_size!r}")
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        images = torch.from_numpy(d.images.astype(np.uint8)).unsqueeze(1)
        labels = torch.from_numpy(d.target.astype(np.int64))
        perm = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(20240))
        n_test = images.shape[0] // 4
        test_idx, train_idx = perm[:n_test].sort().values, perm[n_test:].sort().values
        digest = hashlib.sha256(images.numpy().tobytes() + labels.numpy().tobytes())
        fp = _fingerprint(name, len(train_idx), len(test_idx), digest)
        return _split(images[train_idx], labels[train_idx], 16.0, images[test_idx], labels[test_idx],
                      val_size, augment, seed, pad=1, flip=False, name=name, num_classes=10, fingerprint=fp)
    if root is None:
        root = _default_root()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or os.PathLike); got {type(root).__name__}")
    folder = Path(root) / _FOLDERS[name]
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{name} not found: expected the folder {_FOLDERS[name]!r} (torchvision's on-disk format, from the "
            f"official python archive) under root={str(root)!r}; nothing is downloaded"
        )
    digest = hashlib.sha256()
    images, labels, classes = _read_cifar(name, root, True, digest)
    t_images, t_labels, _ = _read_cifar(name, root, False, digest)
    fp = _fingerprint(name, images.shape[0], t_images.shape[0], digest)
    return _split(images, labels, 255.0, t_images, t_labels, val_size, augment, seed, pad=4, flip=True,
                  name=name, num_classes=len(classes), fingerprint=fp)


# ------------------------------------------------------------------ fixture
def _dump(path, obj):
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def make_cifar_fixture(root, name="cifar10", *, n_train=50, n_test=20, seed=0) -> Path:
    """Write a tiny data set in torchvision's exact CIFAR on-disk format.

    CIFAR-10: ``cifar-10-batches-py/data_batch_1`` ... ``data_batch_5`` (the training
    images split among them), ``test_batch`` and ``batches.meta``; CIFAR-100:
    ``cifar-100-python/train``, ``test`` and ``meta`` -- pickled dicts with the keys
    the official archives have.  Images are seeded class prototypes plus noise
    (learnable), labels cycle through the classes.  A file ``advgame_fixture.json``
    records the arguments; :func:`load_dataset` never reads it (no file in the folder
    changes how the data is read).

    Parameters
    ----------
    root : str or path-like
        Created if needed.
    name : {"cifar10", "cifar100"}
    n_train, n_test : int
        Number of training and test images (>= 1).
    seed : int

    Returns
    -------
    pathlib.Path
        The data set's folder (``root / "cifar-10-batches-py"`` or
        ``root / "cifar-100-python"``).
    """
    name = check_choice("name", name, ("cifar10", "cifar100"))
    n_train = check_int("n_train", n_train, 1)
    n_test = check_int("n_test", n_test, 1)
    seed = check_int("seed", seed, 0)
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or os.PathLike); got {type(root).__name__}")
    rng = np.random.default_rng(seed)
    C = 10 if name == "cifar10" else 100
    protos = rng.uniform(40, 215, size=(C, 3072))

    def images(n):
        y = np.arange(n) % C
        x = np.clip(protos[y] + rng.normal(0, 25, size=(n, 3072)), 0, 255).astype(np.uint8)
        return x, [int(v) for v in y]

    folder = Path(root) / _FOLDERS[name]
    folder.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr = images(n_train)
    x_te, y_te = images(n_test)
    if name == "cifar10":
        for k, idx in enumerate(np.array_split(np.arange(n_train), 5), start=1):
            _dump(folder / f"data_batch_{k}", {
                "batch_label": f"training batch {k} of 5", "labels": [y_tr[i] for i in idx],
                "data": x_tr[idx], "filenames": [f"train_{i}.png" for i in idx],
            })
        _dump(folder / "test_batch", {"batch_label": "testing batch 1 of 1", "labels": y_te, "data": x_te,
                                      "filenames": [f"test_{i}.png" for i in range(n_test)]})
        _dump(folder / "batches.meta", {"label_names": [f"class{c}" for c in range(C)],
                                        "num_cases_per_batch": max(1, n_train // 5), "num_vis": 3072})
    else:
        for split, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
            _dump(folder / split, {"batch_label": f"{split}ing batch 1 of 1", "fine_labels": y,
                                   "coarse_labels": [v // 5 for v in y], "data": x,
                                   "filenames": [f"{split}_{i}.png" for i in range(len(y))]})
        _dump(folder / "meta", {"fine_label_names": [f"class{c}" for c in range(C)],
                                "coarse_label_names": [f"super{c}" for c in range(20)]})
    with atomic_path(folder / _FIXTURE_MARKER) as tmp, open(tmp, "w") as f:
        json.dump({"name": name, "n_train": n_train, "n_test": n_test, "seed": seed}, f)
    return folder
