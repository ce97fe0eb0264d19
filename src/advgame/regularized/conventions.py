"""Conventions shared by the modules of :mod:`advgame.regularized`.

The row order of attack arrays, the penalties, the tie tolerance, and the one helper
that maps a deprecated argument name onto its new name (vocabulary of ``docs/``:
``penalty_strength`` is RM20's :math:`\\lambda`, ``mixture_weight`` RM20's
:math:`\\alpha`).
"""

from __future__ import annotations

import warnings

__all__ = ["PENALTIES", "NEG", "POS", "TIE_TOL", "renamed_argument"]

#: The two penalties of RM20: Eq. 5 (``"mass"``) and Eq. 6 (``"norm"``).
PENALTIES = ("mass", "norm")
#: Row of an attack array holding :math:`\phi_{-1}` (the targets of the label -1 masses).
NEG = 0
#: Row of an attack array holding :math:`\phi_{+1}` (the targets of the label +1 masses).
POS = 1
#: Ties: two gains, masses or distances closer than this are treated as equal.
TIE_TOL = 1e-12

_MISSING = object()


def renamed_argument(new_name, new_value, old_name, old_value, *, default=_MISSING, stacklevel=3):
    """The value of an argument that was renamed from ``old_name`` to ``new_name``.

    ``old_value`` is what the caller passed under the old name (``None`` when it was not
    used); using it emits a :class:`DeprecationWarning`.  Passing both names is a
    :class:`TypeError`, as is passing neither when there is no ``default``.
    """
    if old_value is None:
        if new_value is None:
            if default is _MISSING:
                raise TypeError(f"missing the argument {new_name!r}")
            return default
        return new_value
    if new_value is not None:
        raise TypeError(f"pass {new_name!r} only; {old_name!r} is its deprecated alias")
    warnings.warn(f"{old_name!r} is deprecated; use {new_name!r} (same meaning)", DeprecationWarning,
                  stacklevel=stacklevel)
    return old_value
