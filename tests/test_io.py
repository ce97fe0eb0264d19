"""Safe files (issue 9, sections 2 and 3): the atomic writer and the pickle-free npz reader."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import advgame
from advgame import _io
from advgame._io import atomic_path, read_npz

posix_only = pytest.mark.skipif(os.name != "posix", reason="symlinks, fifos and modes are POSIX")


def _write(path, text, **kw):
    with atomic_path(path, **kw) as tmp, open(tmp, "w") as f:
        f.write(text)


def _leftovers(folder):
    return sorted(p for p in os.listdir(folder) if ".advgame-tmp." in p)


# --------------------------------------------------------------------------- writing


def test_new_file_gets_plain_open_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        _write(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o644
    assert os.listdir(tmp_path) == ["a.txt"]


@posix_only
def test_existing_permissions_are_kept(tmp_path):
    p = tmp_path / "secret.npz"
    p.write_text("old")
    os.chmod(p, 0o600)
    advgame.examples.motivating_game().save(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert advgame.Game.load(p).n_classifiers == 2
    os.chmod(p, 0o640)
    _write(p, "new")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640 and p.read_text() == "new"


@posix_only
def test_symlink_is_written_through(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "game.npz"
    target.write_text("old")
    os.chmod(target, 0o600)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    g = advgame.examples.motivating_game()
    g.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert advgame.Game.load(target).risk(np.array([0.5, 0.5])) == g.risk(np.array([0.5, 0.5]))
    # the temporary file lived next to the real target, and is gone
    assert sorted(os.listdir(real_dir)) == ["game.npz"]
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real"]


@posix_only
def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "new.txt")
    _write(link, "hello")
    assert link.is_symlink() and (tmp_path / "new.txt").read_text() == "hello"


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "folder", "device", "link-to-fifo"])
def test_non_regular_targets_are_refused(tmp_path, kind):
    p = tmp_path / "target"
    if kind in ("fifo", "link-to-fifo"):
        os.mkfifo(tmp_path / "fifo")
        if kind == "fifo":
            p = tmp_path / "fifo"
        else:
            p.symlink_to(tmp_path / "fifo")
    elif kind == "folder":
        p.mkdir()
    else:
        if not os.path.exists("/dev/null"):
            pytest.skip("no /dev/null")
        p.symlink_to("/dev/null")
    expected = {"fifo": "a fifo", "link-to-fifo": "a fifo", "folder": "a folder", "device": "a device"}[kind]
    with pytest.raises(ValueError, match=f"refusing to write {p}: it is {expected}"):
        _write(p, "x")
    with pytest.raises(ValueError, match="not a regular file"):
        advgame.examples.motivating_game().save(p)
    assert _leftovers(tmp_path) == []
    if kind == "folder":
        assert p.is_dir() and os.listdir(p) == []


def test_body_error_leaves_target_untouched(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(p) as tmp, open(tmp, "w") as f:
            f.write("partial")
            raise RuntimeError("boom")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_suffix_is_kept_for_format_sniffing_writers(tmp_path):
    with atomic_path(tmp_path / "fig.png", suffix=".png") as tmp:
        assert tmp.endswith(".png") and os.path.dirname(tmp) == str(tmp_path)
        assert os.path.basename(tmp).startswith(".fig.png.advgame-tmp.")
        open(tmp, "wb").write(b"png")
    assert (tmp_path / "fig.png").read_bytes() == b"png"


def test_concurrent_writers_use_distinct_temporaries(tmp_path):
    p = tmp_path / "a.txt"
    with atomic_path(p) as t1, atomic_path(p) as t2:
        assert t1 != t2
        open(t1, "w").write("first")
        open(t2, "w").write("second")
        # a live writer's (our own) temporary is not taken for a stale one
        with atomic_path(p) as t3:
            assert os.path.exists(t1) and os.path.exists(t2)
            open(t3, "w").write("third")
    # the last rename wins, and it installed a complete file
    assert p.read_text() == "first" and _leftovers(tmp_path) == []


def _killed_save(path):
    """Run a save in a child process and SIGKILL it inside the body: a real killed save."""
    code = textwrap.dedent(f"""
        import os, signal
        from advgame._io import atomic_path
        with atomic_path({str(path)!r}) as tmp:
            open(tmp, "w").write("partial")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr


@posix_only
def test_killed_save_is_cleaned_by_the_next_save(tmp_path):
    p = tmp_path / "game.npz"
    _killed_save(p)
    first = _leftovers(tmp_path)
    assert len(first) == 1 and not p.exists()
    _killed_save(p)  # the second killed save already removes the first one's file
    second = _leftovers(tmp_path)
    assert len(second) == 1 and second != first
    # a temporary of another file, another host, or a live process is not touched
    others = [f".other.npz{_io._TMP_TAG}{_io._host()}.1.ab",
              f".game.npz{_io._TMP_TAG}some-other-host.1.ab",
              f".game.npz{_io._TMP_TAG}{_io._host()}.{os.getppid()}.ab"]
    for name in others:
        (tmp_path / name).write_text("x")
    advgame.examples.motivating_game().save(p)
    assert advgame.Game.load(p).n_classifiers == 2
    assert _leftovers(tmp_path) == sorted(others)


# --------------------------------------------------------------------------- reading


def _game_arrays(**override):
    arrays = {"losses": np.zeros((2, 1, 2)), "mask": np.zeros((0, 0), bool), "sample_weights": np.zeros(0),
              "bound": np.array(1.0), "format_version": np.array(2)}
    arrays.update(override)
    return arrays


def _npy_bytes(header, payload=b""):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + payload


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _bad_files(tmp_path):
    """(file, reason pattern) for every kind of unreadable game file."""
    good = tmp_path / "good.npz"
    np.savez(good, **_game_arrays())
    raw = good.read_bytes()
    cases = {}

    p = tmp_path / "truncated.npz"
    p.write_bytes(raw[: len(raw) // 2])
    cases[p] = "truncated or corrupt zip archive"

    p = tmp_path / "empty.npz"
    p.write_bytes(b"")
    cases[p] = "the file is empty"

    p = tmp_path / "text.npz"
    p.write_text("losses = [[1, 0]]\n")
    cases[p] = "not an advgame game file: not a zip archive"

    p = tmp_path / "single.npz"
    with open(p, "wb") as f:
        np.save(f, np.zeros((2, 1, 2)))
    cases[p] = r"holds a single array \(.npy\), not an .npz archive"

    # a header that claims 800 TB, in an otherwise valid archive
    p = tmp_path / "huge.npz"
    members = {f"{k}.npy": _npy_bytes(np.lib.format.header_data_from_array_1_0(v), v.tobytes())
               for k, v in _game_arrays().items()}
    members["losses.npy"] = _npy_bytes({"descr": "<f8", "fortran_order": False,
                                         "shape": (10**7, 10**5, 10**3)}, b"\0" * 64)
    _zip(p, members)
    cases[p] = r"array 'losses' claims shape \(10000000, 100000, 1000\) of float64 \(8000000000000000 bytes\) " \
               r"but the file holds 64 bytes"

    p = tmp_path / "pickled.npz"
    np.savez(p, **_game_arrays(losses=np.array([{"a": 1}, None], dtype=object)))
    cases[p] = r"array 'losses' holds Python objects \(pickled data\), which advgame never loads"

    p = tmp_path / "badheader.npz"
    members["losses.npy"] = b"\x93NUMPY\x01\x00\x04\x00{}  "
    _zip(p, members)
    cases[p] = "cannot read"

    p = tmp_path / "folder.npz"
    p.mkdir()
    cases[p] = "it is a folder"

    cases[tmp_path / "missing.npz"] = "no such file"

    if hasattr(os, "mkfifo"):
        p = tmp_path / "fifo.npz"
        os.mkfifo(p)  # opening it would block forever
        cases[p] = "not a regular file"
    return cases


def test_every_unreadable_file_is_a_value_error_naming_it(tmp_path):
    for path, reason in _bad_files(tmp_path).items():
        with pytest.raises(ValueError) as info:
            advgame.Game.load(path)
        message = str(info.value)
        assert message.startswith(f"cannot read {path}: "), message
        assert __import__("re").search(reason, message), (reason, message)
        assert "allow_pickle" not in message and "\n" not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_huge_header_is_refused_before_allocating(tmp_path, monkeypatch):
    p = tmp_path / "big.npz"
    np.savez(p, **_game_arrays(losses=np.zeros((10, 10, 10))))
    monkeypatch.setattr(_io, "_physical_memory", lambda: 4000)
    with pytest.raises(ValueError, match=r"array 'losses' needs 0.0 GiB, more than this machine's memory"):
        advgame.Game.load(p)

    def no_allocation(*args, **kwargs):
        raise AssertionError("allocated before checking the header")

    monkeypatch.setattr(_io, "_physical_memory", lambda: None)
    big = tmp_path / "claims.npz"
    _zip(big, {"losses.npy": _npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (2**40,)}, b"\0" * 8)})
    monkeypatch.setattr(np, "empty", no_allocation)
    monkeypatch.setattr(np, "frombuffer", no_allocation)
    with pytest.raises(ValueError, match=r"claims shape \(1099511627776,\)"):
        read_npz(big)


def test_reader_roundtrips_orders_and_dtypes(tmp_path):
    arrays = {"c": np.arange(12.0).reshape(3, 4), "f": np.asfortranarray(np.arange(6).reshape(2, 3)),
              "b": np.array([True, False]), "s": np.array(3.5), "e": np.zeros((0, 4), np.float32)}
    for compressed in (False, True):
        p = tmp_path / f"a{compressed}.npz"
        (np.savez_compressed if compressed else np.savez)(p, **arrays)
        out = read_npz(p)
        assert sorted(out) == sorted(arrays)
        for k, v in arrays.items():
            assert out[k].dtype == v.dtype and out[k].shape == v.shape and np.array_equal(out[k], v)
            assert out[k].flags.writeable


def test_cli_main_prints_one_line_for_every_bad_file(tmp_path, capsys):
    from advgame.cli import main

    for path, reason in _bad_files(tmp_path).items():
        assert main(["solve", str(path)]) == 1
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1, captured.err
        assert captured.err.startswith(f"advgame solve: error: cannot read {path}: "), captured.err
        assert "allow_pickle" not in captured.err


def test_cli_prints_one_line_for_a_bad_file(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    cases = _bad_files(tmp_path)
    for path in (tmp_path / "truncated.npz", tmp_path / "huge.npz", tmp_path / "pickled.npz"):
        assert path in cases
        proc = subprocess.run([sys.executable, "-m", "advgame", "solve", str(path)], capture_output=True,
                              text=True, env=env, timeout=60)
        assert proc.returncode == 1, (path, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith(f"advgame solve: error: cannot read {path}: "), lines[0]
        assert "Traceback" not in proc.stderr and "allow_pickle" not in proc.stderr
        assert proc.stdout == ""


@pytest.mark.parametrize("error,code,expected", [
    (ValueError("first line\n  second line"), 1, "advgame solve: error: first line second line"),
    (KeyboardInterrupt(), 130, "advgame solve: interrupted"),
])
def test_cli_main_errors_are_one_line(monkeypatch, capsys, error, code, expected):
    from advgame import cli

    def fail(args):
        raise error

    monkeypatch.setattr(cli, "_cmd_solve", fail)
    assert cli.main(["solve"]) == code
    assert capsys.readouterr().err == expected + "\n"
