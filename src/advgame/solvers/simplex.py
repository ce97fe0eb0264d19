r"""Euclidean projection onto the probability simplex, for numpy and torch.

.. math::

    \Pi_{\Delta_L}(v) = \arg\min_{\lambda \in \Delta_L} \|\lambda - v\|_2
    = \max(v - \tau, 0), \quad \tau \text{ such that } \sum_k \max(v_k - \tau, 0) = 1.

The sort-based algorithm of Held, Wolfe & Crowder (1974) / Duchi et al. (2008),
:math:`O(L \log L)`.  Used by MNE21, Alg. 1 (the step :math:`\lambda_t =
\Pi_{\Delta_L}(\lambda_{t-1} - \eta g_t)`) and by the accelerated projected gradient.
"""

from __future__ import annotations

from ..backend import get_backend

__all__ = ["proj_simplex"]


def proj_simplex(v):
    """Project a vector onto the probability simplex.

    Parameters
    ----------
    v : array (L,)
        numpy array or torch tensor (any device).

    Returns
    -------
    array (L,)
        The closest point of the simplex in Euclidean norm, same library, device and
        dtype as ``v``.

    Raises
    ------
    ValueError
        If ``v`` is not one-dimensional, is empty or holds NaN/inf.

    References
    ----------
    Duchi, Shalev-Shwartz, Singer, Chandra. Efficient projections onto the l1-ball for
    learning in high dimensions. ICML 2008 (Fig. 1).
    """
    nx = get_backend(v)
    v = nx.asarray(v)
    if v.ndim != 1 or v.shape[0] == 0:
        raise ValueError(f"v must be a non-empty 1-D vector; got shape {tuple(v.shape)}")
    if not nx.all_finite(v):
        raise ValueError("v must be finite; got NaN or inf")
    u = nx.sort_desc(v)
    css = nx.cumsum(u) - 1.0
    ind = nx.arange(v.shape[0], like=v) + 1
    cond = (u - css / ind) > 0
    # rho = last index where cond holds (cond is True for a prefix)
    rho = int(nx.sum(cond))
    tau = css[rho - 1] / rho
    return nx.clip_min(v - tau, 0.0)
