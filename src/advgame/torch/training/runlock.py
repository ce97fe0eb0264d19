"""One training run per output folder: the folder is checked and locked before training.

:func:`prepare_run_folder` creates ``--out`` (or finds it), checks that it is a folder
this process can write, and takes an exclusive lock on ``OUT/.advgame-train.lock``
(:func:`fcntl.flock`, held until the run ends; the operating system releases it when
the process dies, even by ``kill -9``).  A second ``advgame train`` on the same folder
is refused at once instead of overwriting the first run's checkpoint and logs.
"""

from __future__ import annotations

import errno
import os

__all__ = ["RunLock", "prepare_run_folder", "LOCK_NAME"]

#: the lock file inside a run folder
LOCK_NAME = ".advgame-train.lock"


class RunLock:
    """An exclusive lock on a run folder; :meth:`release` (or the process's end) frees it."""

    def __init__(self, folder, fd):
        self.folder, self._fd = folder, fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
        except (ImportError, OSError):
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _why(err) -> str:
    return {errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.EROFS: "read-only file system",
            errno.ENOSPC: "no space left", errno.ENOTDIR: "a part of the path is a file, not a folder"
            }.get(err.errno, err.strerror or type(err).__name__)


def prepare_run_folder(out, flag="--out") -> RunLock:
    """Create and check the run folder ``out`` and lock it for this run.

    Raises
    ------
    ValueError
        ``out`` is a file, cannot be created or written, or another run holds its lock
        (one line naming ``flag`` and the folder).
    """
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"{flag} {out} is a file, not a folder: choose a folder for the run")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{flag} {out}: cannot create the folder ({_why(e)})") from None
    path = os.path.join(out, LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise ValueError(f"{flag} {out}: cannot write in the folder ({_why(e)})") from None
    if not os.access(out, os.W_OK):
        os.close(fd)
        raise ValueError(f"{flag} {out}: cannot write in the folder (permission denied)")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no advisory locks
        return RunLock(out, fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "another process"
        except OSError:
            holder = "another process"
        os.close(fd)
        raise ValueError(f"{flag} {out} is in use by another advgame train (pid {holder}); wait for it to end "
                         "or choose another folder") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return RunLock(out, fd)
