"""The Euclidean projection onto the probability simplex, written once against the
backend operations (both backends' ``proj_simplex`` use it)."""

from __future__ import annotations

__all__ = ["proj_sorted", "proj_shifted", "rho_host"]


def proj_sorted(nx, v, rho_of):
    """Sort-based projection (Duchi et al. 2008, Fig. 1) of a finite vector ``v``.

    ``rho_of(cond)`` returns the number of leading ``True`` in ``cond`` (at least 1) in
    the form the backend indexes with: a Python int (numpy) or a 1-element tensor (torch,
    no host synchronization).
    """
    u = nx.sort_desc(v)
    css = nx.cumsum(u) - 1.0
    ind = nx.arange(v.shape[0], like=v) + 1
    rho = rho_of((u - css / ind) > 0)
    tau = css[rho - 1] / rho
    return nx.clip_min(v - tau, 0.0)


def proj_shifted(nx, v, rho_of):
    """The projection of ``v`` computed on ``max(v - max(v), -1)``, which has the same
    projection (coordinates more than 1 below the maximum get weight 0), lies in
    ``[-1, 0]`` and so neither overflows nor loses the small coordinates to rounding;
    ``v / 2 - max / 2`` cannot overflow for finite ``v``.  Renormalized onto the simplex.
    """
    mx = nx.max(v)
    d = nx.clip_min(v * 0.5 - mx * 0.5, -0.5) * 2.0
    x = proj_sorted(nx, d, rho_of)
    return x / nx.sum(x)


def rho_host(cond):
    return max(int(cond.sum()), 1)
