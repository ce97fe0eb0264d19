"""Argument checks shared across modules (messages name the argument and what was expected)."""

from __future__ import annotations

import math
import numbers

__all__ = ["nonneg_real"]


def nonneg_real(name, value, allow_none=False):
    """``value`` as a float, which must be a finite real number >= 0.

    Raises ``TypeError`` for non-numbers (booleans included) and ``ValueError`` for
    negative, infinite or NaN values.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a non-negative real number; got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative finite number; got {value!r}")
    return value
