r"""Euclidean projection onto the probability simplex, for numpy and torch.

.. math::

    \Pi_{\Delta_L}(v) = \arg\min_{\lambda \in \Delta_L} \|\lambda - v\|_2
    = \max(v - \tau, 0), \quad \tau \text{ such that } \sum_k \max(v_k - \tau, 0) = 1.

The sort-based algorithm of Held, Wolfe & Crowder (1974) / Duchi et al. (2008),
:math:`O(L \log L)`.  Used by MNE21, Alg. 1 (the step :math:`\lambda_t =
\Pi_{\Delta_L}(\lambda_{t-1} - \eta g_t)`) and by the accelerated projected gradient.
The algorithm itself is the backend operation ``nx.proj_simplex`` (unchecked, used in
the solvers' inner loops); this public function checks its input once and calls it.
"""

from __future__ import annotations

from ..backend import get_backend

__all__ = ["proj_simplex"]


def proj_simplex(v):
    """Project a vector onto the probability simplex.

    Parameters
    ----------
    v : array (L,)
        numpy array or torch tensor (any device); integer input is projected in float64.

    Returns
    -------
    array (L,)
        The closest point of the simplex in Euclidean norm, same library, device and
        (floating) dtype as ``v``.  For every finite input the result is a point of the
        simplex: inputs whose magnitude defeats rounding (``[1e16, 0]``, ``[1e308,
        -1e308]``) are projected through the equivalent shifted vector
        ``max(v - max(v), -1)``.

    Raises
    ------
    TypeError
        If ``v`` is not numeric (boolean and complex included).
    ValueError
        If ``v`` is not one-dimensional, is empty or holds NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> proj_simplex(np.array([0.5, 0.2, -1.0]))
    array([0.65, 0.35, 0.  ])
    >>> proj_simplex(np.array([1e16, 0.0]))
    array([1., 0.])

    References
    ----------
    Duchi, Shalev-Shwartz, Singer, Chandra. Efficient projections onto the l1-ball for
    learning in high dimensions. ICML 2008 (Fig. 1).
    """
    nx = get_backend(v)
    try:
        v = nx.asarray(v)
    except (TypeError, ValueError) as e:
        raise TypeError(f"v must be a numeric vector (numpy array or torch tensor); got {type(v).__name__} ({e})") \
            from None
    if not nx.dtype_name(v).startswith(("float", "int", "uint", "bfloat")):
        raise TypeError(f"v must hold real numbers; got dtype {nx.dtype_name(v)}")
    if v.ndim != 1 or v.shape[0] == 0:
        raise ValueError(f"v must be a non-empty 1-D vector; got shape {tuple(v.shape)}")
    if not nx.is_floating(v):
        v = nx.float64(v)
    if not nx.all_finite(v):
        raise ValueError("v must be finite; got NaN or inf")
    return nx.proj_simplex(v)
