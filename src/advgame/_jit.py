"""The compiled kernels, loaded at the first solve that needs them.

The fused scans of :mod:`advgame._kernels` are compiled with numba
(``njit(parallel=True, cache=True)``) the first time a solver asks for them, never at
``import advgame``.  Where numba is not installed, cannot compile, or is switched off
(``ADVGAME_JIT=0`` in the environment), :func:`kernels` returns None and every caller runs
its pure-numpy path, which gives the same results (tests/test_jit_paths.py checks both).

The on-disk cache (numba writes it next to the sources, else under
``NUMBA_CACHE_DIR`` or the user's cache directory) saves the compile time of later
processes; where no cache location is writable the kernels are compiled without one.
"""

from __future__ import annotations

import os
import threading
import warnings

__all__ = ["kernels", "entropic_kernels", "enabled", "compile_kernel"]

_lock = threading.Lock()
_state = {"module": None, "tried": False, "error": None, "pid": None}
#: the states of further kernel modules (``kernels(name=...)``), as ``_state`` for ``_kernels``
_states = {"_kernels": _state}


def enabled() -> bool:
    """False when ``ADVGAME_JIT`` is set to ``0`` (read at every call: tests switch it)."""
    return os.environ.get("ADVGAME_JIT", "1").strip().lower() not in ("0", "false", "no", "off")


def compile_kernel(fn, njit, **options):
    """``njit(cache=True, **options)(fn)``, or without the cache where numba finds no writable
    cache location (it raises RuntimeError "cannot cache function ..." at decoration)."""
    try:
        return njit(cache=True, **options)(fn)
    except RuntimeError as err:
        if "cannot cache" not in str(err):
            raise
        return njit(cache=False, **options)(fn)


#: Games with fewer loss entries run the numpy paths unless ``ADVGAME_JIT_MIN_ENTRIES`` says
#: otherwise: compiling the kernels costs tens of seconds on first use and loading them from
#: the cache about a second per process, more than they save on small games (the numpy
#: 0/1 pass takes about 10 ms at 10^7 entries); MNE21's instance (10^7 entries) stays on
#: numpy, N = 10^4 (10^8 entries) and above use the kernels.
MIN_ENTRIES = 1 << 25


def min_entries() -> int:
    """``ADVGAME_JIT_MIN_ENTRIES`` from the environment (read at every call), else :data:`MIN_ENTRIES`."""
    raw = os.environ.get("ADVGAME_JIT_MIN_ENTRIES", "").strip()
    try:
        return max(0, int(raw)) if raw else MIN_ENTRIES
    except ValueError:
        return MIN_ENTRIES


def kernels(entries=None, name="_kernels"):
    """The compiled kernel namespace (:mod:`advgame._kernels`), or None for the numpy paths.

    ``entries``: the number of loss entries of the game at hand; below :func:`min_entries`
    the numpy paths run (and numba is not even imported).  ``name``: another kernel module
    of the package loaded the same way (``"_kernels_cuts"``: :mod:`advgame._kernels_cuts`).

    None also in a process forked from one that loaded the kernels: numba's GNU OpenMP
    threading layer terminates a forked child that launches a parallel kernel, so such a
    child (a data-loader worker, ``multiprocessing`` with ``fork``) runs the numpy paths.
    """
    if not enabled():
        return None
    if entries is not None and entries < min_entries():
        return None
    if name not in ("_kernels", "_kernels_cuts"):
        raise ValueError(f"name must be '_kernels' or '_kernels_cuts'; got {name!r}")
    _state = _states.setdefault(name, {"module": None, "tried": False, "error": None, "pid": None})
    if _state["tried"]:
        return _state["module"] if _state["pid"] == os.getpid() else None
    with _lock:
        if not _state["tried"]:
            try:
                import importlib

                _state["module"] = importlib.import_module(f".{name}", __package__)
            except ImportError as err:  # numba not installed: the numpy paths
                _state["error"] = err
            except Exception as err:  # noqa: BLE001  a broken numba install must not break solves
                _state["error"] = err
                warnings.warn(f"advgame: the compiled kernels are unavailable ({err!r}); using numpy",
                              RuntimeWarning, stacklevel=2)
            _state["pid"] = os.getpid()
            _state["tried"] = True
    return _state["module"] if _state["pid"] == os.getpid() else None


#: The entropic solver's kernel (:mod:`advgame._kernels_entropic`) runs on games with at least
#: this many loss entries unless ``ADVGAME_JIT_MIN_ENTRIES`` says otherwise: a FISTA run makes
#: hundreds of passes over the tensor, so the second or so of loading the kernel pays off at
#: smaller sizes than for the exact solver's one or two passes (MNE21's instance, 10^7
#: entries, uses it).
ENTROPIC_MIN_ENTRIES = 1 << 22

_entropic_state = {"module": None, "tried": False, "error": None, "pid": None}


def entropic_kernels(entries=None):
    """The entropic solver's compiled kernel namespace (:mod:`advgame._kernels_entropic`), or
    None for its numpy path; as :func:`kernels` (switch, fork rule, warnings), with the size
    gate :data:`ENTROPIC_MIN_ENTRIES` when ``ADVGAME_JIT_MIN_ENTRIES`` is not set."""
    if not enabled():
        return None
    gate = min_entries() if os.environ.get("ADVGAME_JIT_MIN_ENTRIES", "").strip() else ENTROPIC_MIN_ENTRIES
    if entries is not None and entries < gate:
        return None
    st = _entropic_state
    if not st["tried"]:
        with _lock:
            if not st["tried"]:
                try:
                    from . import _kernels_entropic

                    st["module"] = _kernels_entropic
                except ImportError as err:  # numba not installed: the numpy path
                    st["error"] = err
                except Exception as err:  # noqa: BLE001  a broken numba install must not break solves
                    st["error"] = err
                    warnings.warn(f"advgame: the compiled entropic kernel is unavailable ({err!r}); using numpy",
                                  RuntimeWarning, stacklevel=2)
                st["pid"] = os.getpid()
                st["tried"] = True
    return st["module"] if st["pid"] == os.getpid() else None
