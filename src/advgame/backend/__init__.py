r"""The one place that knows numpy from torch: the backend contract.

Every solver is written once against the small namespace below. ``get_backend(x)``
returns :class:`NumpyBackend` for numpy arrays and :class:`TorchBackend` for torch
tensors (any device, any floating dtype); the solvers call ``nx.<op>`` and never
``np.<op>`` or ``torch.<op>`` on the game's arrays, so results live on the input's
device and dtype.  The design follows POT's ``ot.backend`` (``nx = get_backend(x)``,
``type_as=``), reduced to the operations the solvers and :class:`advgame.Game` need.
No caller branches on the library's name: an operation that differs between the two
libraries belongs here, once, with its contract written below.

The contract
------------
Arguments called ``x``, ``a``, ``b``, ``s``, ``v`` are arrays of the backend's library
(numpy ``ndarray`` / torch ``Tensor``); ``type_as`` / ``like`` is such an array whose
dtype and device the result takes.  Unless stated, an operation returns a new array of
the input's dtype and device and never synchronizes a GPU with the host; the few that
return Python numbers (:meth:`scalar`, :meth:`argmin`, :meth:`all_finite`) do, and are
meant for entry checks and for once-per-iteration scalars.

=================  =========================================================
construction       ``asarray``, ``to_numpy``, ``from_numpy``, ``zeros``,
                   ``full``, ``arange``, ``copy``, ``empty_like``
dtypes             ``float64``, ``astype``, ``is_floating``, ``eps``,
                   ``dtype_max``, ``dtype_name``, ``device``
reductions         ``max_argmax``, ``max``, ``min``, ``argmin``, ``sum``,
                   ``cumsum``, ``sort_desc``, ``all_finite``, ``scalar``
elementwise        ``exp``, ``log``, ``sqrt``, ``add``, ``subtract``,
                   ``matmul``, ``clip_min``, ``clip_min_``, ``where``
assembly           ``stack``, ``concatenate``
gathers/scatters   ``gather_rows``, ``add_at``
algorithms         ``proj_simplex`` (unchecked Euclidean projection onto the
                   probability simplex), ``all_reduce`` (sum over
                   ``torch.distributed`` ranks)
Game's input       ``has_data``, ``dtype_kind``, ``working_dtype``,
                   ``to_working_layout``, ``permute``, ``convert``, ``cast``,
                   ``isfinite``, ``any``, ``first_true``, ``is_two_valued``,
                   ``host_float64``, ``is_host_float64``
=================  =========================================================

Layout: :mod:`.numpy_backend` (the reference, with every docstring),
:mod:`.torch_backend`, :mod:`.projection` (the simplex projection both use) and
:mod:`.detect` (:func:`is_torch`).

``import advgame`` never imports torch: :func:`is_torch` only looks into
``sys.modules``, so torch is touched only when the user already imported it and
passed a tensor.
"""

from __future__ import annotations

from .detect import is_torch
from .numpy_backend import NumpyBackend
from .torch_backend import TorchBackend

__all__ = ["get_backend", "is_torch", "NumpyBackend", "TorchBackend"]


_NUMPY = NumpyBackend()
_TORCH: TorchBackend | None = None


def get_backend(*arrays):
    """Backend of the given arrays (all must come from the same library).

    Raises
    ------
    TypeError
        If numpy arrays and torch tensors are mixed.
    """
    global _TORCH
    kinds = {is_torch(a) for a in arrays if a is not None}
    if len(kinds) > 1:
        raise TypeError(
            "arrays mix numpy and torch; pass all of them from the same library"
        )
    if kinds == {True}:
        if _TORCH is None:
            _TORCH = TorchBackend()
        return _TORCH
    return _NUMPY
