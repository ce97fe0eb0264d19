"""Atomic file writes: a temporary file in the target's folder, renamed into place."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    The temporary file gets the permissions a plain ``open(path, "w")`` would give
    (0666 minus the umask; ``mkstemp`` alone would leave 0600), and is removed if the
    body raises, so ``path`` is either the old file or the complete new one.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_npz(path, required=(), what="an advgame .npz file"):
    """Read every array of an ``.npz`` file, never unpickling, as a dict.

    Every way a file can be unreadable (missing, a folder, empty, truncated, not a zip,
    an object array, a header that claims more memory than exists, missing keys) is a
    ``ValueError`` naming the file and the reason; nothing else escapes.
    """
    import zipfile

    import numpy as np

    path = Path(path)
    required = set(required)
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError(f"not {what}: it holds a single array, not an .npz archive")
            missing = required - set(data.files)
            if missing:
                raise ValueError(f"not {what}: missing arrays {sorted(missing)}")
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ValueError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"cannot read {path}: it is a folder") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, MemoryError, OverflowError, ValueError) as e:
        reason = str(e).split(". ")[0] if "allow_pickle" in str(e) else str(e)
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            reason = "it holds Python objects (pickled data), which advgame never loads"
        raise ValueError(f"cannot read {path}: {reason or type(e).__name__}") from None
