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
