r"""The empirical adversarial examples game (MNE21, Sec. 4.2).

N samples, each with m candidate attacks inside its eps-ball, and L classifiers give
a loss tensor ``losses[i, j, k]`` in :math:`[0, M]`.  The defender plays weights
:math:`\lambda` on the simplex :math:`\Delta_L`; the adversary plays, for each sample,
a distribution :math:`Q_i` over that sample's valid attacks.  With sample weights
:math:`w` normalized to sum to one,

.. math::

    R(\lambda) = \sum_i w_i \max_j \sum_k \lambda_k \ell_{ijk}
    \qquad
    D(Q) = \min_k \sum_i w_i \sum_j Q_{ij} \ell_{ijk}

are the adversarial risk of the mixture (MNE21, Sec. 4.2, the empirical
:math:`\widehat{\mathcal R}^\varepsilon_{adv}(\lambda)`) and the best a single
classifier does against the randomized adversary.  Weak duality
:math:`D(Q) \le R(\lambda)` holds for every pair; the gap is zero exactly at a Nash
equilibrium (MNE21, Thm. 1; for finite games, von Neumann's minimax theorem).

Storage
-------
The tensor is stored once, as ``(L, N, m)`` contiguous in the compute dtype: then the
forward pass :math:`\lambda^\top \ell` is one matrix-vector product over the whole
tensor, which is what every solver's inner loop is made of (measured 3-5x faster than
an ``(N, m, L)`` layout).  ``game.losses`` returns an ``(N, m, L)`` view of it.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _jit
from ..backend import get_backend
from . import checks
from .fileformat import read_game, write_game
from .view import GameView

__all__ = ["Game"]


class Game:
    r"""The empirical adversarial game: a loss tensor, a mask and sample weights.

    Parameters
    ----------
    losses : array_like or torch.Tensor, shape (N, m, L)
        ``losses[i, j, k]`` is classifier ``k``'s loss on attack ``j`` of sample
        ``i``; every valid entry must be finite and in ``[0, bound]``.  Boolean and
        integer arrays are converted to float64 (numpy) or torch's default dtype;
        floating arrays keep their dtype and device.  Numpy masked arrays are refused
        with a ``TypeError`` (their mask is per entry): pass ``mask=`` instead.  Torch
        ``meta`` tensors (no data) are refused with a ``TypeError``.
    mask : array_like of bool, shape (N, m), optional
        ``mask[i, j]`` is False when attack ``j`` does not exist for sample ``i``
        (samples with fewer candidates).  Masked entries of ``losses`` are ignored
        (they may hold anything, NaN included).  Every sample needs one valid attack.
    sample_weights : array_like, shape (N,), optional
        Relative, non-negative weights of the samples, normalized by their total
        (default: uniform); huge weights are scaled before summing, so ``1e308`` works.
    bound : float, optional
        The loss bound :math:`M`. Default: 1 when all losses are in ``[0, 1]``, else
        the largest loss.

    Raises
    ------
    TypeError
        ``losses`` of a non-numeric dtype, a masked array or a meta tensor, ``mask``
        not boolean, arrays from different libraries, ``bound`` not a real number.
    ValueError
        Wrong shapes, NaN or inf, losses outside ``[0, bound]``, a sample without
        valid attacks, negative or all-zero sample weights, a non-positive bound.

    Examples
    --------
    >>> import numpy as np, advgame
    >>> game = advgame.examples.motivating_game()
    >>> game.best_classifier()
    (0, 1.0)
    >>> round(game.risk([0.5, 0.5]), 12)
    0.75
    """

    def __init__(self, losses, mask=None, sample_weights=None, bound=None):
        nx, losses = checks.as_backend_array(losses)
        F, (N, m, L) = checks.working_tensor(nx, losses)
        mask = checks.check_mask(nx, mask, N, m, F)
        neg = m_valid = None
        if mask is not None:
            invalid = ~mask
            F[:, invalid] = 0.0
            neg = nx.zeros((N, m), type_as=F)
            neg[invalid] = -math.inf
            m_valid = nx.sum(nx.cast(mask, F), axis=1)
        bound, hi = checks.check_values(nx, F, bound)
        raw, w, wsum, w64 = checks.game_sample_weights(nx, sample_weights, N, F)
        self._set(nx, F, mask, neg, m_valid, raw, w, wsum, w64, bound, hi, None)

    def _set(self, nx, F, mask, neg, m_valid, raw, w, wsum, w64, bound, hi, binary):
        self._nx, self._F = nx, F
        self._L, self._N, self._m = (int(s) for s in F.shape)
        self._mask, self._neg, self._m_valid = mask, neg, m_valid
        self._raw_weights, self._w, self._wsum, self._w64 = raw, w, wsum, w64
        self.bound = float(bound)
        self._hi = hi  # the largest valid loss
        self._binary = binary

    @classmethod
    def _from_parts(cls, *parts) -> "Game":
        """A game from already-validated parts (see :meth:`_set`); no checks, no copies."""
        g = cls.__new__(cls)
        g._set(*parts)
        return g

    @classmethod
    def from_classifiers(cls, classifiers, X, y, attacks=None, loss="01", *, mask=None, sample_weights=None,
                         batch_size=None, **loss_kwargs) -> "Game":
        """Build the game from classifiers, data and candidate attacks.

        ``losses[i, j, k]`` is the loss of ``classifiers[k]`` on attack ``j`` of sample
        ``i``, computed in memory-bounded batches by
        :func:`advgame.construct.loss_tensor` (see there for what a classifier may
        return: labels or scores, numpy or torch).

        Parameters
        ----------
        classifiers : sequence of callables or fitted estimators
            Each maps an ``(n, d)`` array of points to labels or scores, or is a fitted
            scikit-learn-style estimator (anything with ``predict``; see
            :func:`advgame.construct.loss_tensor`).
        X : array (N, d)
            Clean points.
        y : array (N,)
            Labels of any type (strings included), as in scikit-learn.
        attacks : array (N, m, d), optional
            Candidate attacks per sample (default: the clean points only).
        loss : {"01", "sigmoid"} or callable
            0/1 loss (bound 1), ``sigmoid(-margin / temperature)`` (bound 1), or a
            callable ``loss(outputs, y)`` (bound: its maximum, or ``loss_kwargs['bound']``).
        mask, sample_weights
            As in :class:`Game`.
        batch_size : int, optional
            Samples per batch (default: about 64 MB of attack points per batch).
        """
        from ..construct import loss_tensor

        bound = loss_kwargs.pop("bound", None)
        losses = loss_tensor(classifiers, X, y, attacks, loss=loss, batch_size=batch_size, **loss_kwargs)
        if bound is None and isinstance(loss, str):
            bound = 1.0
        return cls(losses, mask=mask, sample_weights=sample_weights, bound=bound)

    # -------------------------------------------------------------- properties
    n_samples = property(lambda self: self._N, doc="N, the number of samples.")
    n_attacks = property(lambda self: self._m, doc="m, the number of candidate attacks per sample (before masking).")
    n_classifiers = property(lambda self: self._L, doc="L, the number of classifiers.")
    shape = property(lambda self: (self._N, self._m, self._L), doc="``(N, m, L)``.")
    mask = property(lambda self: self._mask, doc="The ``(N, m)`` boolean mask, or None when every attack is valid.")
    sample_weights = property(lambda self: self._w, doc="Normalized sample weights ``w`` (sum to one), shape (N,).")
    backend = property(lambda self: self._nx.name, doc='``"numpy"`` or ``"torch"``.')
    device = property(lambda self: self._nx.device(self._F), doc='The tensor\'s device (``"cpu"`` for numpy).')
    dtype = property(lambda self: self._F.dtype, doc="The compute dtype.")

    @property
    def losses(self):
        """The loss tensor as an ``(N, m, L)`` view (masked entries read 0)."""
        return self._nx.permute(self._F, (1, 2, 0))

    @property
    def is_binary(self) -> bool:
        """True when every valid loss is 0 or one common positive value (0/1 losses).

        Computed once and cached; the LP uses it to bit-pack rows.
        """
        if self._binary is None:
            self._binary = self._hi == 0 or self._nx.is_two_valued(self._F, self._hi)
        return self._binary

    def __repr__(self) -> str:
        N, m, L = self.shape
        extra = "" if self._mask is None else ", masked"
        return (
            f"Game(N={N}, m={m}, L={L}, bound={self.bound:g}, backend={self.backend}, "
            f"device={self.device}, dtype={self._nx.dtype_name(self._F)}{extra})"
        )

    # --------------------------------------------------------- input checking
    def _as_weights(self, weights, name="weights"):
        return checks.as_weights(self._nx, self._F, self._L, weights, name)

    def _as_adversary(self, adversary, name="adversary"):
        return checks.as_adversary(self._nx, self._F, self._mask, adversary, name)

    # ------------------------------------------------------------- evaluation
    def _scores(self, lam):
        """Expected loss of the mixture on every attack: ``(N, m)``, -inf on masked."""
        s = (lam @ self._F.reshape(self._L, -1)).reshape(self._N, self._m)
        if self._neg is not None:
            s += self._neg
        return s

    def _risk_and_br(self, lam):
        """``(R(lam), per-sample max (N,), argmax (N,))`` with no input checks."""
        mx, jstar = self._nx.max_argmax(self._scores(lam), axis=1)
        return self._nx.scalar(self._w @ mx), mx, jstar

    def _risk_and_br_float64(self, lam, argmax=True):
        """:meth:`_risk_and_br` in float64 numpy from a pass over the stored tensor, streamed
        in chunks of about 2^20 entries (one chunk, no copy, for a float64 host tensor).
        With ``argmax=False`` the third item is None (the risk alone is cheaper)."""
        nx, F = self._nx, self._F
        lam = np.asarray(lam, dtype=np.float64)
        L, N, m = F.shape
        mx = np.empty(N)
        jstar = np.empty(N, dtype=np.int64) if argmax else None
        neg = None if self._neg is None else nx.host_float64(self._neg)
        kern = (_jit.kernels(F.size) if isinstance(F, np.ndarray) and F.dtype in (np.float32, np.float64)
                else None)
        if kern is not None:  # one compiled sweep: convert, multiply-add, max and argmax
            kern.risk_br64(F, np.ascontiguousarray(lam), neg if neg is not None else np.zeros((1, 1)),
                           neg is not None, mx, jstar if argmax else np.empty(1, dtype=np.int64), argmax)
            return float(self._w64 @ mx), mx, jstar
        # blocks of about 2^20 entries: the float64 block stays in cache (measured at N = 10^4,
        # m = 10^3, L = 10 float32: 25 ms with 2^20, 43 ms with 2^22, 61 ms with 2^16)
        step = N if nx.is_host_float64(F) else max(1, (1 << 20) // max(1, L * m))
        for a in range(0, N, step):
            b = min(N, a + step)
            s = (lam @ nx.host_float64(F[:, a:b]).reshape(L, -1)).reshape(b - a, m)
            if neg is not None:
                s += neg[a:b]
            if argmax:
                jstar[a:b] = np.argmax(s, axis=1)
                mx[a:b] = s[np.arange(b - a), jstar[a:b]]
            else:
                np.max(s, axis=1, out=mx[a:b])
        return float(self._w64 @ mx), mx, jstar

    def scores(self, weights):
        """Expected loss of the mixture on every candidate attack.

        Returns
        -------
        array (N, m)
            :math:`\\sum_k \\lambda_k \\ell_{ijk}`, ``-inf`` on masked attacks.
        """
        return self._scores(self._as_weights(weights))

    def risk(self, weights) -> float:
        r"""Adversarial risk of the mixture, :math:`R(\lambda)=\sum_i w_i\max_j\sum_k\lambda_k\ell_{ijk}`.

        References: MNE21, Sec. 4.2 (the empirical adversarial risk of a finite mixture).
        """
        return self._risk_and_br(self._as_weights(weights))[0]

    def best_response(self, weights):
        """The attack oracle: each sample's best attack against the mixture.

        Returns
        -------
        array of int, shape (N,)
            ``argmax_j sum_k weights[k] * losses[i, j, k]`` (the first on ties; never a
            masked attack).
        """
        return self._risk_and_br(self._as_weights(weights))[2]

    def best_response_strategy(self, weights):
        """The pure best response as an ``(N, m)`` one-hot adversary strategy."""
        return self._one_hot(self.best_response(weights))

    def _one_hot(self, jstar):
        nx = self._nx
        Q = nx.zeros((self._N, self._m), type_as=self._F)
        base = nx.arange(self._N, like=self._F) * self._m
        nx.add_at(Q.reshape(-1), base + jstar, 1.0)
        return Q

    def _classifier_losses(self, Q):
        """``sum_i w_i sum_j Q_ij losses[i, j, :]`` with no checks: shape (L,)."""
        P = Q * self._w[:, None]
        return self._F.reshape(self._L, -1) @ P.reshape(-1)

    def classifier_losses(self, adversary):
        """Each classifier's expected loss under a randomized adversary, shape (L,)."""
        return self._classifier_losses(self._as_adversary(adversary))

    def defender_value(self, adversary):
        r"""Best single classifier against a randomized adversary.

        .. math:: D(Q) = \min_k \sum_i w_i \sum_j Q_{ij}\,\ell_{ijk}

        A lower bound on the game's value for every ``Q`` (weak duality). Since the
        objective is linear in the defender's weights, a single classifier is always
        among the defender's best responses.

        Returns
        -------
        (value, k) : (float, int)
        """
        g = self.classifier_losses(adversary)
        k = self._nx.argmin(g)
        return self._nx.scalar(g[k]), k

    def duality_gap(self, weights, adversary) -> float:
        r"""Certificate :math:`R(\lambda) - D(Q) \ge 0`; zero exactly at a Nash equilibrium."""
        return self.risk(weights) - self.defender_value(adversary)[0]

    def classifier_risks(self):
        """Adversarial risk of each single classifier, shape (L,) (one pass)."""
        nx, F = self._nx, self._F
        per = nx.max(F if self._neg is None else F + self._neg[None], axis=2)
        return per @ self._w

    def best_classifier(self):
        """The deterministic baseline: ``(k, R(e_k))`` for the best single classifier."""
        r = self.classifier_risks()
        k = self._nx.argmin(r)
        return k, self._nx.scalar(r[k])

    # ------------------------------------------------------ views, conversion
    def view(self) -> GameView:
        """The read-only view solvers work on (the solver contract, see :class:`GameView`)."""
        return GameView(self)

    def to_numpy(self) -> "Game":
        """The same game on numpy arrays (sharing them when the game already is numpy)."""
        nx = self._nx
        np_nx = get_backend(np.zeros(0))
        if nx is np_nx:
            return self
        conv = [None if a is None else nx.to_numpy(a) for a in (self._F, self._mask, self._neg, self._m_valid)]
        return Game._from_parts(np_nx, *conv, self._raw_weights, nx.to_numpy(self._w), self._wsum, self._w64,
                                self.bound, self._hi, self._binary)

    def to_torch(self, device=None, dtype=None) -> "Game":
        """The same game as torch tensors on ``device`` (default cpu) with ``dtype``."""
        import torch

        np_game = self.to_numpy()
        F = torch.from_numpy(np.ascontiguousarray(np.moveaxis(np_game._F, 0, 2)))
        if dtype is not None:
            F = F.to(dtype)
        F = F.to(device or "cpu")
        mask = None if self._mask is None else torch.from_numpy(np_game._mask).to(F.device)
        sw = None if self._raw_weights is None else torch.from_numpy(np.asarray(self._raw_weights)).to(F.device)
        return Game(F, mask=mask, sample_weights=sw, bound=self.bound)

    # ------------------------------------------------------------------- I/O
    def save(self, path, compress: bool = False) -> None:
        """Write the game to ``path`` (``.npz``, no pickle), atomically.

        The file holds ``losses`` (N, m, L), ``mask`` (N, m) or an empty array,
        ``sample_weights`` (the relative weights given, or empty for uniform), ``bound``
        and a format version (:mod:`advgame.game.fileformat`).
        """
        g = self.to_numpy()
        write_game(path, np.moveaxis(g._F, 0, 2), g._mask, self._raw_weights, self.bound, compress=compress)

    @classmethod
    def load(cls, path) -> "Game":
        """Read a game written by :meth:`save` (numpy arrays; never unpickles)."""
        losses, mask, sw, bound = read_game(path)
        try:
            return cls(losses, mask=mask, sample_weights=sw, bound=bound)
        except (TypeError, ValueError) as e:  # name the file whose content is invalid
            raise type(e)(f"{path}: {e}") from None
