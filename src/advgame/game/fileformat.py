"""The game file format: one ``.npz`` (no pickle), written atomically.

Arrays: ``format_version``, ``losses`` (N, m, L), ``mask`` (N, m) or an empty array,
``sample_weights`` (the relative weights given, or empty for uniform) and ``bound``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import atomic_path, read_npz

__all__ = ["FORMAT_VERSION", "write_game", "read_game"]

FORMAT_VERSION = 1
#: the arrays of the format (the only members of a game file that are read)
_ARRAYS = ("format_version", "losses", "mask", "sample_weights", "bound")


def write_game(path, losses, mask, sample_weights, bound, compress=False) -> None:
    """Write numpy arrays of a game to ``path`` atomically (:func:`advgame._io.atomic_path`)."""
    arrays = {
        "format_version": np.array(FORMAT_VERSION),
        "losses": np.ascontiguousarray(losses),
        "mask": np.zeros((0, 0), bool) if mask is None else np.asarray(mask),
        "sample_weights": np.zeros(0) if sample_weights is None else np.asarray(sample_weights, dtype=np.float64),
        "bound": np.array(bound),
    }
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **arrays)


def read_game(path):
    """``(losses, mask or None, sample_weights or None, bound)`` from a game file; every
    unreadable or foreign file is a ``ValueError`` naming it (:func:`advgame._io.read_npz`)."""
    data = read_npz(path, required={"losses", "mask", "sample_weights", "bound"}, what="an advgame game file",
                    keys=_ARRAYS)  # other members are never decompressed
    version = 1
    if "format_version" in data:
        v = data["format_version"]
        if v.shape != () or v.dtype.kind not in "iu":
            raise ValueError(f"cannot read {path}: 'format_version' must be an integer scalar; got {v!r}")
        version = int(v)
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} has format version {version}; this advgame reads up to {FORMAT_VERSION}")
    losses, mask, sw = data["losses"], data["mask"], data["sample_weights"]
    try:
        if data["bound"].shape != ():
            raise ValueError
        bound = float(data["bound"])
    except (TypeError, ValueError):
        raise ValueError(f"{path}: 'bound' must be a number; got {data['bound']!r}") from None
    return losses, (None if mask.size == 0 else mask), (None if sw.size == 0 else sw), bound
