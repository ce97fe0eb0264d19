"""The one set of argument checks (in the spirit of scikit-learn's ``check_scalar``).

Every public entry point of advgame validates its arguments through these functions,
so the same mistake gets the same error everywhere:

* a value of the wrong **type** (a string where a number is expected, a boolean where
  an integer is expected, a float where an integer is expected, a complex array) is a
  :class:`TypeError`;
* a value of the right type but the wrong **value** (negative, NaN, inf, out of range,
  wrong shape, off the simplex) is a :class:`ValueError`;
* both name the argument and say what was expected.

Vocabulary fixed here:

* **norms** are spelled ``"l1"``, ``"l2"``, ``"linf"`` (also accepted: ``1``, ``2``,
  ``numpy.inf``, ``"inf"``, and any real ``p >= 1`` where a function supports general
  :math:`\\ell_p`); :func:`check_norm` returns the canonical spelling;
* **seeds** are ``None``, an ``int`` >= 0, or a generator of the array library
  (:class:`numpy.random.Generator`; :class:`torch.Generator` on the torch side);
* **the simplex tolerance** is :func:`simplex_tol` of the dtype: weights may be off the
  simplex by that much (rounding), no more.

This module imports numpy only; torch objects are recognised without importing torch.
"""

from __future__ import annotations

import math
import numbers
import sys

import numpy as np

__all__ = [
    "check_scalar",
    "check_int",
    "check_real",
    "check_bool",
    "check_choice",
    "check_norm",
    "norm_exponent",
    "check_seed",
    "check_rng",
    "simplex_tol",
    "check_simplex",
    "check_sample_weights",
    "check_array",
    "NORMS",
]

#: Canonical norm names.
NORMS = ("l1", "l2", "linf")

_NORM_ALIASES = {"l1": "l1", "1": "l1", "l2": "l2", "2": "l2", "linf": "linf", "inf": "linf", "l_inf": "linf"}


def _is_torch(x) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _interval(lo, hi, lo_open, hi_open) -> str:
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"{left}{lo_s}, {hi_s}{right}"


# ------------------------------------------------------------------ scalars
def check_scalar(name, value, kind="real", *, lo=None, hi=None, lo_open=False, hi_open=False,
                 allow_none=False, allow_inf=False):
    """Check a scalar argument and return it as a Python ``float`` or ``int``.

    Parameters
    ----------
    name : str
        The argument's name, used in the message.
    value : object
        What the caller passed.
    kind : {"real", "int"}
        ``"real"``: any real number (numpy scalars included; booleans refused).
        ``"int"``: an integral number (booleans and floats such as ``1.7`` or ``2.0``
        refused).
    lo, hi : float, optional
        Bounds of the accepted interval; ``lo_open`` / ``hi_open`` exclude them.
    allow_none : bool
        Return ``None`` for ``None`` instead of refusing it.
    allow_inf : bool
        Accept ``+inf`` (never NaN), e.g. for "no limit".

    Raises
    ------
    TypeError
        ``value`` is not a number of the requested kind.
    ValueError
        ``value`` is NaN, infinite (unless ``allow_inf``) or outside the interval.

    Examples
    --------
    >>> check_scalar("steps", 10, "int", lo=1)
    10
    >>> check_scalar("tol", "abc", lo=0, lo_open=True)
    Traceback (most recent call last):
    ...
    TypeError: tol must be a real number in (0, inf); got 'abc' (str)
    """
    if value is None and allow_none:
        return None
    where = _interval(lo, hi, lo_open, hi_open)
    if kind == "int":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer in {where}; got {value!r} ({type(value).__name__})")
        v = int(value)
    elif kind == "real":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number in {where}; got {value!r} ({type(value).__name__})")
        v = float(value)
        if math.isnan(v) or (math.isinf(v) and not (allow_inf and v > 0)):
            raise ValueError(f"{name} must be a finite real number in {where}; got {v}")
    else:  # pragma: no cover - programming error
        raise ValueError(f"kind must be 'real' or 'int'; got {kind!r}")
    bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
    bad_hi = hi is not None and (v >= hi if hi_open else v > hi)
    if bad_lo or bad_hi:
        raise ValueError(f"{name} must lie in {where}; got {v:g}")
    return v


def check_int(name, value, minimum=None, maximum=None, *, allow_none=False):
    """An integer in ``[minimum, maximum]`` (see :func:`check_scalar`)."""
    return check_scalar(name, value, "int", lo=minimum, hi=maximum, allow_none=allow_none)


def check_real(name, value, *, lo=None, hi=None, lo_open=False, hi_open=False, allow_none=False,
               allow_inf=False):
    """A real number in the given interval (see :func:`check_scalar`)."""
    return check_scalar(name, value, "real", lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open,
                        allow_none=allow_none, allow_inf=allow_inf)


def check_bool(name, value):
    """A boolean (Python or numpy); anything else is a ``TypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__})")
    return bool(value)


def check_choice(name, value, allowed):
    """``value`` must be one of ``allowed`` (compared with ``==``; strings case-sensitive)."""
    try:
        ok = value in allowed
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {tuple(allowed)}; got {value!r}")
    return value


# -------------------------------------------------------------------- norms
def norm_exponent(norm, name="norm", *, general=True) -> float:
    """The ``p`` of an :math:`\\ell_p` norm given as ``"l1"``, ``"l2"``, ``"linf"``, ``1``,
    ``2``, ``inf`` or (``general=True``) any real ``p >= 1``."""
    if isinstance(norm, str):
        key = _NORM_ALIASES.get(norm.strip().lower())
        if key is None:
            raise ValueError(f"{name} must be one of {NORMS} (or 1, 2, inf); got {norm!r}")
        return {"l1": 1.0, "l2": 2.0, "linf": math.inf}[key]
    if isinstance(norm, (bool, np.bool_)) or not isinstance(norm, numbers.Real):
        raise TypeError(f"{name} must be one of {NORMS} or a real p >= 1; got {norm!r} ({type(norm).__name__})")
    p = float(norm)
    if math.isnan(p) or p < 1:
        raise ValueError(f"{name} must be p >= 1 (an l_p norm); got {norm!r}")
    if not general and p not in (1.0, 2.0, math.inf):
        raise ValueError(f"{name} must be one of {NORMS} (or 1, 2, inf); got {norm!r}")
    return p


def check_norm(norm, name="norm", allowed=NORMS) -> str:
    """The canonical name (``"l1"``, ``"l2"`` or ``"linf"``) of a norm given in any
    accepted spelling, restricted to ``allowed``.

    >>> check_norm(2), check_norm("Linf"), check_norm(float("inf"))
    ('l2', 'linf', 'linf')
    """
    p = norm_exponent(norm, name, general=False)
    canon = {1.0: "l1", 2.0: "l2", math.inf: "linf"}[p]
    if canon not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}; got {norm!r}")
    return canon


# -------------------------------------------------------------------- seeds
def check_seed(seed, name="seed", *, library="numpy"):
    """Validate a seed: ``None``, an int >= 0, or a generator of ``library``.

    Returns the seed unchanged (an ``int`` for integral values).  ``library="torch"``
    accepts a :class:`torch.Generator` instead of a :class:`numpy.random.Generator`.
    """
    if seed is None:
        return None
    if library == "numpy" and isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return seed
    if library == "torch":
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(seed, torch.Generator):
            return seed
    gen = "numpy.random.Generator" if library == "numpy" else "torch.Generator"
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be None, an int >= 0 or a {gen}; got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{name} must be None, an int >= 0 or a {gen}; got {seed}")
    return int(seed)


def check_rng(seed, name="seed") -> np.random.Generator:
    """A :class:`numpy.random.Generator` from a seed (see :func:`check_seed`); a generator
    passed in is returned as is, so successive calls draw from one stream."""
    seed = check_seed(seed, name)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


# ------------------------------------------------------------------- arrays
def simplex_tol(dtype=np.float64) -> float:
    """How far weights may be off the simplex (negative entries, sum minus one) by
    rounding alone: ``max(1e-9, 1000 * eps(dtype))`` (about 1.2e-4 in float32)."""
    if _is_torch_dtype(dtype):
        import torch

        eps = torch.finfo(dtype).eps
    else:
        eps = np.finfo(np.dtype(dtype)).eps if np.dtype(dtype).kind == "f" else np.finfo(np.float64).eps
    return max(1e-9, 1e3 * float(eps))


def _is_torch_dtype(dtype) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(dtype, torch.dtype)


def _as_float64_numpy(x, name):
    """A float64 numpy copy of a real array or tensor (bool/complex/object refused)."""
    if _is_torch(x):
        torch = sys.modules["torch"]
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers; got dtype {x.dtype}")
        if x.device.type == "meta":
            raise TypeError(f"{name} is a tensor on the 'meta' device, which holds no data; use a real device")
        return x.detach().to("cpu").double().numpy()
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name} must be a plain array; numpy masked arrays are refused (their mask would be "
                        "lost): pass the mask explicitly where the function takes one")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__} ({e})") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    return arr.astype(np.float64)


def check_array(x, name, *, ndim=None, shape=None, finite=True, lo=None, hi=None):
    """A float64 numpy copy of ``x`` after checking its type, shape and values.

    ``shape`` may hold ``None`` for free axes. Torch tensors are accepted (copied to the
    CPU); complex, boolean and object arrays and numpy masked arrays are refused.
    """
    arr = _as_float64_numpy(x, name)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {want}; got {arr.shape}")
    if finite and not np.isfinite(arr).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; found {arr[idx]} at index {idx}")
    if lo is not None and arr.size and arr.min() < lo:
        idx = tuple(int(i) for i in np.argwhere(arr < lo)[0])
        raise ValueError(f"{name} must be >= {lo:g}; found {arr[idx]:g} at index {idx}")
    if hi is not None and arr.size and arr.max() > hi:
        idx = tuple(int(i) for i in np.argwhere(arr > hi)[0])
        raise ValueError(f"{name} must be <= {hi:g}; found {arr[idx]:g} at index {idx}")
    return arr


def check_simplex(weights, L, name="weights", *, tol=None):
    """Defender weights as a float64 numpy vector of shape ``(L,)`` on the simplex.

    Entries may be off by :func:`simplex_tol` (rounding); the returned vector is
    clipped at zero and renormalized, so it lies exactly on the simplex.
    """
    w = check_array(weights, name, shape=(L,))
    tol = simplex_tol() if tol is None else tol
    lo, total = float(w.min()), float(w.sum())
    if lo < -tol or abs(total - 1.0) > tol * max(1, L):
        raise ValueError(
            f"{name} must lie on the probability simplex (non-negative, summing to 1); "
            f"got min {lo:.3g} and sum {total:.12g}"
        )
    w = np.clip(w, 0.0, None)
    return w / w.sum()


def check_sample_weights(sample_weights, N, name="sample_weights"):
    """Relative sample weights as ``(raw float64, normalized float64)`` numpy vectors.

    Weights must be finite and non-negative, not all zero.  Normalization scales by the
    largest weight first, so huge weights (``1e308``) neither overflow nor vanish.
    """
    sw = check_array(sample_weights, name, shape=(N,))
    if sw.size and sw.min() < 0:
        i = int(np.argmax(sw < 0))
        raise ValueError(f"{name} must be non-negative; found {sw[i]:.6g} at index {i}")
    top = float(sw.max()) if sw.size else 0.0
    if not top > 0:
        raise ValueError(f"{name} must not all be zero (they are normalized by their total)")
    scaled = sw / top
    return sw, scaled / scaled.sum()
