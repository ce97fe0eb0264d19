"""Keep third-party solvers off the process's standard output.

highspy 1.16 prints a two-line banner ("Running HiGHS 1.16.0 ... Copyright ...") from C++
when a ``highspy.Highs`` object is *constructed*, before any option such as
``output_flag=False`` can be set. The text goes straight to file descriptor 1, so
``contextlib.redirect_stdout`` cannot catch it. advgame documents what it writes on
standard output (the CLI's tables and ``--json``) and nothing else, so every solver object
is created through :func:`new_highs`, and cvxpy's HiGHS route runs inside
:func:`quiet_stdout_fd`.

The redirect is at the file-descriptor level and process-wide while it lasts, so it is kept
as short as possible (one constructor call, or cvxpy's solve) and serialized by a lock;
Python-level output is flushed before it, so nothing the caller wrote earlier is lost.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

__all__ = ["new_highs", "quiet_stdout_fd"]

_LOCK = threading.RLock()


@contextlib.contextmanager
def quiet_stdout_fd():
    """Send whatever is written to file descriptor 1 inside the block to ``os.devnull``.

    Falls back to doing nothing when descriptor 1 cannot be duplicated (a closed stdout).
    """
    with _LOCK:
        try:
            sys.stdout.flush()
        except (AttributeError, OSError, ValueError):
            pass
        try:
            saved = os.dup(1)
        except OSError:
            yield
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
            finally:
                os.close(devnull)
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def new_highs():
    """A silent ``highspy.Highs()``: banner suppressed, ``output_flag`` off."""
    import highspy

    with quiet_stdout_fd():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h
