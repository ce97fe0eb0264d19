r"""The adversary's randomized strategy in sparse form (what the exact solver returns).

An optimal adversary of the LP (MNE21, Thm. 1) puts mass on a few attacks per sample (the
LP's active rows), so the exact solver keeps it as its support and probabilities rather
than an ``(N, m)`` array (800 MB at N = 10^5, m = 10^3 in float64).  ``Result.adversary``
still reads as the dense ``(N, m)`` array, built on first access; ``Result.adversary_sparse``
is this form.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SparseAdversary"]


class SparseAdversary:
    r"""A randomized adversary :math:`Q` as ``(sample, attack, probability)`` triples.

    Parameters
    ----------
    samples, attacks : int arrays (R,)
        Entry ``r`` is :math:`Q_{ij}` with ``i = samples[r]``, ``j = attacks[r]``; entries
        are sorted by ``(sample, attack)`` and distinct (duplicates given are summed).
    probabilities : float arrays (R,)
        The values :math:`Q_{ij} \ge 0`; each sample's row sums to 1.
    shape : tuple (N, m)

    Examples
    --------
    >>> import numpy as np
    >>> from advgame.adversary import SparseAdversary
    >>> Q = SparseAdversary([0, 0, 1], [2, 0, 1], [0.25, 0.75, 1.0], (2, 3))
    >>> Q.samples, Q.attacks, Q.probabilities
    (array([0, 0, 1]), array([0, 2, 1]), array([0.75, 0.25, 1.  ]))
    >>> Q.toarray()
    array([[0.75, 0.  , 0.25],
           [0.  , 1.  , 0.  ]])
    >>> Q.nnz, Q.shape
    (3, (2, 3))
    """

    __slots__ = ("samples", "attacks", "probabilities", "shape")

    def __init__(self, samples, attacks, probabilities, shape):
        N, m = (int(s) for s in shape)
        i = np.asarray(samples, dtype=np.int64).reshape(-1)
        j = np.asarray(attacks, dtype=np.int64).reshape(-1)
        q = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if not i.size == j.size == q.size:
            raise ValueError(f"samples, attacks and probabilities must have one length; got {i.size}, {j.size}, "
                             f"{q.size}")
        if i.size and (i.min() < 0 or i.max() >= N or j.min() < 0 or j.max() >= m):
            raise ValueError(f"samples must lie in [0, {N}) and attacks in [0, {m})")
        flat = i * m + j
        if flat.size > 1 and not np.all(flat[1:] > flat[:-1]):
            uniq, inv = np.unique(flat, return_inverse=True)
            q = np.bincount(inv.reshape(-1), weights=q, minlength=uniq.size)
            flat = uniq
            i, j = flat // m, flat % m
        self.samples, self.attacks, self.probabilities, self.shape = i, j, q, (N, m)

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return int(self.samples.size)

    def flat_indices(self):
        """``samples * m + attacks`` (sorted, distinct)."""
        return self.samples * self.shape[1] + self.attacks

    def toarray(self):
        """The dense float64 ``(N, m)`` numpy array."""
        N, m = self.shape
        Q = np.zeros(N * m, dtype=np.float64)
        Q[self.flat_indices()] = self.probabilities
        return Q.reshape(N, m)

    def __array__(self, dtype=None, copy=None):
        Q = self.toarray()
        return Q if dtype is None else Q.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"SparseAdversary(shape={self.shape}, nnz={self.nnz})"
