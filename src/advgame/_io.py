"""Safe files: atomic writes (:func:`atomic_path`) and pickle-free ``.npz`` reads (:func:`read_npz`).

Writing
-------
:func:`atomic_path` yields a temporary path in the folder of the file that will finally
be written; when the body succeeds the temporary file is flushed to disk and renamed over
the target in one step, so a reader sees either the old file or the complete new one.

* A symlink is written *through*: the link stays and its target (resolved with
  :func:`os.path.realpath`) receives the new content, atomically.
* An existing file keeps its permission bits (a 0600 file stays 0600); a new file gets
  ``0666`` minus the umask, as ``open(path, "w")`` would give.
* A target that exists but is not a regular file (a folder, a fifo, a device, a socket)
  is refused with a :class:`ValueError` naming it; nothing is written.  A read-only
  target (no write bit, or not writable by this user) is refused with a
  :class:`PermissionError`: the writer never replaces a file ``open(path, "w")`` could
  not write.  Errors name the target, never the temporary file; a temporary name that
  would pass 255 characters is shortened (the name's start and a hash of it).
* Temporary names are ``.NAME.advgame-tmp.HOST.PID.TOKEN`` plus ``suffix``: unique per
  writer, so concurrent saves to the same path never write into one temporary file
  (the last rename wins, and each rename installs a complete file). A save that was
  killed (``SIGKILL``, power loss) leaves its temporary file behind; the next save to
  the same path removes every such file whose writer was on this host and is no
  longer running (POSIX only: elsewhere stale files are left for the user). Files of live writers, and of writers on other hosts sharing the
  folder (their process ids mean nothing here), are left alone.

Reading
-------
:func:`read_npz` opens the zip archive itself and reads each ``.npy`` member's header
with :mod:`numpy.lib.format` *before* reading any data: object (pickled) arrays are
refused, and so is a header whose shape claims more bytes than the member holds or than
the machine's memory, so a crafted file cannot make advgame allocate terabytes.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
import stat
import zipfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "read_npz"]

_TMP_TAG = ".advgame-tmp."


def _host() -> str:
    """This machine's name, reduced to characters safe in a file name."""
    name = socket.gethostname() or "host"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64]


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # on Windows os.kill(pid, 0) would terminate the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


#: the longest file name most file systems take (ext4, xfs, btrfs, apfs, ntfs)
_NAME_MAX = 255
#: room left in a temporary name for the pid, the token and the suffix
_TMP_TAIL = 48


def _tmp_prefix(name: str) -> str:
    """``.NAME.advgame-tmp.HOST.``, with NAME shortened (its start and a hash of the
    whole) when the temporary name would not fit in 255 characters."""
    host = _host()
    room = _NAME_MAX - _TMP_TAIL - len(_TMP_TAG) - len(host) - 2
    if len(name.encode()) > room:
        import hashlib

        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = name.encode()[: max(0, room - 17)].decode("utf-8", "ignore") + "~" + digest
    return f".{name}{_TMP_TAG}{host}."


def _remove_stale_temporaries(directory: Path, name: str) -> None:
    """Remove temporary files of killed saves to ``directory / name`` (this host's only)."""
    prefix = _tmp_prefix(name)
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        pid_text = entry[len(prefix):].split(".", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            st = os.lstat(directory / entry)
            if stat.S_ISREG(st.st_mode):
                os.unlink(directory / entry)
        except OSError:  # another writer removed it first, or no permission
            pass


def _resolve_target(path: Path) -> tuple[Path, int | None]:
    """The file that will be written (symlinks followed) and its permission bits if it exists."""
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a fifo" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        via = "" if target == Path(os.path.abspath(path)) else f" (the link points to {target})"
        raise ValueError(f"refusing to write {path}: it is {kind}{via}, not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o222 or not os.access(target, os.W_OK):  # open(path, "w") would fail (or root overrides it)
        raise PermissionError(errno.EACCES, f"refusing to replace {path}: the file is not writable "
                              f"(mode {mode:o}); make it writable or write elsewhere", str(path))
    return target, mode


@contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. A symlink is written through (its target gets the content).
    suffix : str
        The temporary file's name ends with it (e.g. ``".png"``, for writers that choose
        the format from the extension).

    Yields
    ------
    str
        A fresh, empty file's path in the target's folder; the body writes it.

    Raises
    ------
    ValueError
        If ``path`` exists and is not a regular file (folder, fifo, device, socket).
    PermissionError
        If ``path`` exists and is not writable (no write permission bit, or not writable
        by this user): a read-only file is never replaced.  Errors name ``path``, never
        the temporary file.

    Notes
    -----
    The target keeps its permission bits; a new file gets ``0666`` minus the umask. If
    the body raises, the temporary file is removed and ``path`` is untouched. Temporary
    files of killed saves to the same path are removed by the next save (see the module
    docstring for the naming rule and concurrent writers).

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> target = os.path.join(folder, "out.txt")
    >>> with atomic_path(target) as tmp, open(tmp, "w") as f:
    ...     _ = f.write("hello")
    >>> open(target).read(), os.listdir(folder)
    ('hello', ['out.txt'])
    """
    target, mode = _resolve_target(Path(path))
    directory, name = target.parent, target.name
    _remove_stale_temporaries(directory, name)
    tmp = directory / f"{_tmp_prefix(name)}{os.getpid()}.{secrets.token_hex(4)}{suffix}"
    # 0o666 here lets the kernel apply the umask, as open(path, "w") does.
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as err:  # name the file the user asked for, not the temporary one
        why = err.strerror or type(err).__name__
        if isinstance(err, (FileNotFoundError, NotADirectoryError)):
            why = f"its folder {directory} does not exist"
        elif isinstance(err, PermissionError):
            why = f"no permission to write in the folder {directory}"
        raise type(err)(err.errno, f"cannot write {path}: {why}", str(path)) from None
    os.close(fd)
    try:
        yield str(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        # The target may have become a non-regular file while the body ran.
        _resolve_target(target)
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError) and err.filename is not None and os.fspath(err.filename) == str(tmp):
            err.filename = str(path)  # the message names the target, never the temporary file
        raise


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str):
    """Read one ``.npy`` member, checking its header before allocating anything."""
    from numpy.lib import format as npformat

    with archive.open(info) as f:  # the header only
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = npformat.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = npformat.read_array_header_2_0(f)
        else:
            raise ValueError(f"array {key!r} has an unsupported .npy format version {version}")
        header_size = f.tell()
        if dtype.hasobject:
            raise ValueError(f"array {key!r} holds Python objects (pickled data), which advgame never loads")
        count = 1
        for s in shape:
            count *= int(s)
        claimed = count * dtype.itemsize
        held = info.file_size - header_size
        if claimed != held:
            raise ValueError(f"array {key!r} claims shape {tuple(shape)} of {dtype} ({claimed} bytes) "
                             f"but the file holds {max(held, 0)} bytes for it (corrupt or crafted file)")
        memory = _physical_memory()
        if memory is not None and claimed > memory:
            raise ValueError(f"array {key!r} needs {claimed / 2**30:.1f} GiB, more than this machine's "
                             f"memory ({memory / 2**30:.1f} GiB)")
    # The header is sound: let numpy read the data (chunked, into one array it allocates).
    with archive.open(info) as f:
        return npformat.read_array(f, allow_pickle=False)


def read_npz(path, required=(), what="an advgame .npz file", keys=None):
    """Read the arrays of an ``.npz`` file, never unpickling, as a dict.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    required : iterable of str
        Names of arrays that must be present.
    what : str
        How to call the expected file in messages ("an advgame game file").
    keys : iterable of str, optional
        Read only these arrays (the ones a format uses); the archive's other members
        are never decompressed.  Default: every array.

    Returns
    -------
    dict of str to numpy.ndarray

    Raises
    ------
    ValueError
        For every way the file can be unreadable (missing, a folder or other non-regular
        file, empty, truncated, not a zip, a single ``.npy`` array, an object array, a
        header that claims more bytes than the file holds or than the machine has,
        missing arrays), naming the file and the reason; nothing else escapes.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(p, x=np.arange(3))
    >>> read_npz(p, required={"x"})
    {'x': array([0, 1, 2])}
    >>> read_npz(p, required={"y"})
    Traceback (most recent call last):
    ...
    ValueError: cannot read ...a.npz: not an advgame .npz file: missing arrays ['y']
    """
    path = Path(path)
    try:
        return _read_npz(path, set(required), what, None if keys is None else set(keys))
    except ValueError as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    except FileNotFoundError:
        raise ValueError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"cannot read {path}: it is a folder") from None
    except PermissionError:
        raise ValueError(f"cannot read {path}: permission denied") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        raise ValueError(f"cannot read {path}: truncated or corrupt zip archive") from None
    except (RuntimeError, NotImplementedError) as e:  # encrypted members, unknown compression
        raise ValueError(f"cannot read {path}: unsupported zip archive ({e})") from None
    except (OSError, KeyError, MemoryError, OverflowError, TypeError, IndexError) as e:
        if "allow_pickle" in str(e):  # never repeat numpy's advice
            e = "it holds Python objects (pickled data), which advgame never loads"
        raise ValueError(f"cannot read {path}: {e or type(e).__name__}") from None


def _read_npz(path: Path, required: set, what: str, keys=None) -> dict:
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("not a regular file")
    if st.st_size == 0:
        raise ValueError("the file is empty")
    with open(path, "rb") as f:
        head = f.read(6)
        if head == b"\x93NUMPY":
            raise ValueError(f"not {what}: it holds a single array (.npy), not an .npz archive")
        if not zipfile.is_zipfile(f):
            if head.startswith(b"PK"):
                raise ValueError("truncated or corrupt zip archive")
            raise ValueError(f"not {what}: not a zip archive (an .npz file is a zip of .npy arrays)")
        f.seek(0)
        arrays = {}
        with zipfile.ZipFile(f) as archive:
            members = [i for i in archive.infolist() if i.filename.endswith(".npy")]
            names = [i.filename[: -len(".npy")] for i in members]
            missing = required - set(names)
            if missing:
                raise ValueError(f"not {what}: missing arrays {sorted(missing)}")
            if len(set(names)) != len(names):
                raise ValueError(f"not {what}: an array name appears twice")
            wanted = [(i, k) for i, k in zip(members, names) if keys is None or k in keys]
            sizes, memory = [i.file_size for i, _ in wanted], _physical_memory()
            total = sum(sizes)
            if memory is not None and total > memory >= max(sizes, default=0):  # one array: its own message
                raise ValueError(f"its arrays need {total / 2**30:.1f} GiB, more than this machine's memory "
                                 f"({memory / 2**30:.1f} GiB)")
            for info, key in wanted:
                arrays[key] = _read_member(archive, info, key)
    return arrays
