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
tensor, which is what every solver's inner loop is made of (see ``../shared/NOTES.md``:
this layout is 3-5x faster than ``(N, m, L)``).  ``game.losses`` returns an
``(N, m, L)`` view of it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ._io import atomic_path, read_npz
from ._validation import check_real, check_sample_weights
from .backend import get_backend, is_torch

__all__ = ["Game"]

_FORMAT_VERSION = 1


def _first_index(bad) -> tuple:
    """Index (as a tuple of ints) of the first True entry of a boolean array."""
    if is_torch(bad):
        return tuple(int(v) for v in bad.nonzero()[0])
    return tuple(int(v) for v in np.argwhere(bad)[0])


def _isfinite(x):
    """Elementwise finiteness for numpy arrays and torch tensors."""
    if is_torch(x):
        import torch

        return torch.isfinite(x)
    return np.isfinite(x)


def _weights_tol(nx, x) -> float:
    return max(1e-9, 1e3 * nx.eps(x))


class Game:
    r"""The empirical adversarial game: a loss tensor, a mask and sample weights.

    Parameters
    ----------
    losses : array_like or torch.Tensor, shape (N, m, L)
        ``losses[i, j, k]`` is classifier ``k``'s loss on attack ``j`` of sample
        ``i``; every valid entry must be finite and in ``[0, bound]``.  Boolean and
        integer arrays are converted to float64 (numpy) or torch's default dtype;
        floating arrays keep their dtype and device.
    mask : array_like of bool, shape (N, m), optional
        ``mask[i, j]`` is False when attack ``j`` does not exist for sample ``i``
        (samples with fewer candidates).  Masked entries of ``losses`` are ignored
        (they may hold anything, NaN included).  Every sample needs one valid attack.
    sample_weights : array_like, shape (N,), optional
        Relative, non-negative weights of the samples, normalized by their total
        (default: uniform).
    bound : float, optional
        The loss bound :math:`M`. Default: 1 when all losses are in ``[0, 1]``, else
        the largest loss.

    Raises
    ------
    TypeError
        ``losses`` of a non-numeric dtype, ``mask`` not boolean, arrays from
        different libraries.
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
        if isinstance(losses, np.ma.MaskedArray):
            raise TypeError(
                "losses must be a plain array, not a numpy masked array (its mask is per entry and "
                "would be lost): pass the invalid attacks as mask= (an (N, m) boolean array, True = valid)"
            )
        if is_torch(losses) and losses.device.type == "meta":
            raise TypeError("losses is a torch tensor on the 'meta' device, which holds no data; "
                            "meta tensors are unsupported: use a cpu or cuda tensor")
        if not is_torch(losses) and not isinstance(losses, np.ndarray):
            losses = np.asarray(losses)
        nx = get_backend(losses)
        self._nx = nx
        self._check_dtype(losses)
        if losses.ndim != 3:
            raise ValueError(
                "losses must be a 3-D array of shape (N samples, m attacks, L classifiers); "
                f"got shape {tuple(losses.shape)}"
            )
        N, m, L = (int(s) for s in losses.shape)
        if min(N, m, L) == 0:
            raise ValueError(
                f"losses must have at least one sample, attack and classifier; got shape {(N, m, L)}"
            )
        if is_torch(losses):
            losses = losses.detach()
        cdtype = self._compute_dtype(losses)

        # one copy into the (L, N, m) working layout
        if nx.name == "numpy":
            F = np.ascontiguousarray(np.moveaxis(losses, 2, 0), dtype=cdtype)
        else:
            F = losses.permute(2, 0, 1).to(dtype=cdtype).contiguous()
            if F.data_ptr() == losses.data_ptr():  # caller's storage: never alias it
                F = F.clone()

        self._mask = self._check_mask(mask, N, m, F)
        if self._mask is not None:
            invalid = ~self._mask
            if nx.name == "numpy":
                F[:, invalid] = 0.0
                neg = np.zeros((N, m), dtype=cdtype)
                neg[invalid] = -np.inf
            else:
                F[:, invalid] = 0.0
                neg = nx.zeros((N, m), type_as=F)
                neg[invalid] = -math.inf
            self._neg = neg
            self._m_valid = nx.sum(nx.asarray(self._mask, type_as=F) if nx.name == "numpy" else self._mask.to(F.dtype), axis=1)
        else:
            self._neg = None
            self._m_valid = None

        # min and max propagate NaN and show inf: no separate finiteness pass
        lo = nx.scalar(nx.min(F))
        hi = nx.scalar(nx.max(F))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(
                f"losses must be finite; found NaN or inf at index {self._bad_index(F, 'finite')}"
            )
        if lo < 0:
            raise ValueError(
                f"losses must lie in [0, M]; found {lo:.6g} < 0 at index {self._bad_index(F, 'neg')}"
            )
        if bound is None:
            bound = 1.0 if hi <= 1.0 else hi
        else:
            try:
                bound = check_real("bound", bound, lo=0.0, lo_open=True)
            except ValueError:
                raise ValueError(f"bound must be a positive finite number; got {bound}") from None
            if hi > bound * (1 + 1e-12):
                raise ValueError(
                    f"losses must lie in [0, bound={bound:.6g}]; found {hi:.6g} at index "
                    f"{self._bad_index(F, 'hi', bound)}"
                )
        self.bound = float(bound)
        self._F = F
        self._N, self._m, self._L = N, m, L
        self._raw_weights, self._w, self._wsum, self._w64 = self._check_sample_weights(sample_weights, N, F)
        self._binary = None
        self._hi = hi  # the largest valid loss

    # ------------------------------------------------------------------ checks
    def _check_dtype(self, losses):
        nx = self._nx
        if nx.name == "numpy":
            kind = losses.dtype.kind
            if kind not in "biuf":
                raise TypeError(
                    f"losses must have a boolean, integer or floating dtype; got {losses.dtype}"
                )
        else:
            torch = nx.torch
            if losses.is_complex() or losses.dtype in (torch.uint16, torch.uint32, torch.uint64):
                raise TypeError(f"losses must be a real tensor; got dtype {losses.dtype}")

    def _compute_dtype(self, losses):
        nx = self._nx
        if nx.name == "numpy":
            if losses.dtype.kind == "f" and losses.dtype.itemsize >= 4:
                return losses.dtype
            return np.float64
        torch = nx.torch
        if losses.is_floating_point() and losses.dtype in (torch.float32, torch.float64):
            return losses.dtype
        return torch.get_default_dtype()

    def _bad_index(self, F, kind, bound=None):
        if kind == "finite":
            bad = ~_isfinite(F)
        elif kind == "neg":
            bad = F < 0
        else:
            bad = F > bound
        k, i, j = _first_index(bad)
        return (i, j, k)

    def _check_mask(self, mask, N, m, F):
        if mask is None:
            return None
        nx = self._nx
        if nx.name == "numpy":
            if is_torch(mask):
                raise TypeError("mask is a torch tensor but losses is a numpy array; use the same library")
            mask = np.asarray(mask)
            if mask.dtype != np.bool_:
                raise TypeError(f"mask must be a boolean array of shape (N, m); got dtype {mask.dtype}")
        else:
            torch = nx.torch
            if not is_torch(mask):
                mask = torch.as_tensor(np.asarray(mask), device=F.device)
            if mask.dtype != torch.bool:
                raise TypeError(f"mask must be a boolean tensor of shape (N, m); got dtype {mask.dtype}")
            mask = mask.to(F.device)
        if tuple(mask.shape) != (N, m):
            raise ValueError(
                f"mask must have shape (N, m) = {(N, m)} to match losses; got {tuple(mask.shape)}"
            )
        valid = mask.any(1) if nx.name == "torch" else mask.any(axis=1)
        if not bool(valid.all()):
            i = _first_index(~valid)[0]
            raise ValueError(f"mask leaves sample {i} with no valid attack; every row of mask needs a True")
        return mask

    def _check_sample_weights(self, sample_weights, N, F):
        """``(raw float64 numpy or None, normalized in the compute dtype, total, normalized float64
        numpy)`` through :func:`advgame._validation.check_sample_weights` (scaled before summing,
        so huge weights neither overflow nor vanish)."""
        nx = self._nx
        if sample_weights is None:
            w = nx.full((N,), 1.0 / N, type_as=F)
            return None, w, float(N), np.full(N, 1.0 / N)
        if nx.name == "numpy" and is_torch(sample_weights):
            raise TypeError(
                "sample_weights is a torch tensor but losses is a numpy array; use the same library"
            )
        raw, w64 = check_sample_weights(sample_weights, N)
        top = float(raw.max())
        total = top * float((raw / top).sum())  # inf when the true total overflows
        return raw, nx.from_numpy(w64, type_as=F), total, w64

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
        classifiers : sequence of callables
            Each maps an ``(n, d)`` array of points to labels or scores.
        X : array (N, d)
            Clean points.
        y : array (N,)
            Labels.
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
        from .construct import loss_tensor

        bound = loss_kwargs.pop("bound", None)
        losses = loss_tensor(classifiers, X, y, attacks, loss=loss, batch_size=batch_size, **loss_kwargs)
        if bound is None and isinstance(loss, str):
            bound = 1.0
        return cls(losses, mask=mask, sample_weights=sample_weights, bound=bound)

    # -------------------------------------------------------------- properties
    @property
    def n_samples(self) -> int:
        """N, the number of samples."""
        return self._N

    @property
    def n_attacks(self) -> int:
        """m, the number of candidate attacks per sample (before masking)."""
        return self._m

    @property
    def n_classifiers(self) -> int:
        """L, the number of classifiers."""
        return self._L

    @property
    def shape(self) -> tuple:
        """``(N, m, L)``."""
        return (self._N, self._m, self._L)

    @property
    def losses(self):
        """The loss tensor as an ``(N, m, L)`` view (masked entries read 0)."""
        if self._nx.name == "numpy":
            return np.moveaxis(self._F, 0, 2)
        return self._F.permute(1, 2, 0)

    @property
    def mask(self):
        """The ``(N, m)`` boolean mask, or None when every attack is valid."""
        return self._mask

    @property
    def sample_weights(self):
        """Normalized sample weights ``w`` (sum to one), shape (N,)."""
        return self._w

    @property
    def backend(self) -> str:
        """``"numpy"`` or ``"torch"``."""
        return self._nx.name

    @property
    def device(self):
        """The tensor's device (``"cpu"`` for numpy)."""
        return self._nx.device(self._F)

    @property
    def dtype(self):
        """The compute dtype."""
        return self._F.dtype

    @property
    def is_binary(self) -> bool:
        """True when every valid loss is 0 or one common positive value (0/1 losses).

        Computed once and cached; the LP uses it to bit-pack rows.
        """
        if self._binary is None:
            nx, F, hi = self._nx, self._F, self._hi
            if hi == 0:
                self._binary = True
            elif nx.name == "numpy":
                # binary iff the entries equal to 0 and to hi cover the tensor
                n_hi = np.count_nonzero(F == hi)
                self._binary = n_hi + np.count_nonzero(F == 0) == F.size
            else:
                self._binary = bool(((F == 0) | (F == hi)).all())
        return self._binary

    def __repr__(self) -> str:
        N, m, L = self.shape
        extra = "" if self._mask is None else ", masked"
        return (
            f"Game(N={N}, m={m}, L={L}, bound={self.bound:g}, backend={self.backend}, "
            f"dtype={self._nx.dtype_name(self._F)}{extra})"
        )

    # --------------------------------------------------------- input checking
    def _convert(self, x, name):
        """``x`` in the game's library, device and dtype (a numpy game refuses tensors)."""
        nx, F = self._nx, self._F
        if nx.name == "numpy":
            if is_torch(x):
                raise TypeError(f"{name} is a torch tensor but the game holds numpy arrays")
            return np.asarray(x, dtype=F.dtype)
        if is_torch(x):
            return x.detach().to(device=F.device, dtype=F.dtype)
        return nx.asarray(np.asarray(x, dtype=np.float64), type_as=F)

    def _as_weights(self, weights, name="weights"):
        """Validate defender weights: shape (L,), finite, on the simplex."""
        nx, F = self._nx, self._F
        lam = self._convert(weights, name)
        if tuple(lam.shape) != (self._L,):
            raise ValueError(
                f"{name} must have shape (L,) = ({self._L},), one weight per classifier; got {tuple(lam.shape)}"
            )
        if not nx.all_finite(lam):
            raise ValueError(f"{name} must be finite; got {self._to_list(lam)}")
        tol = _weights_tol(nx, F)
        lo = nx.scalar(nx.min(lam))
        total = nx.scalar(nx.sum(lam))
        if lo < -tol or abs(total - 1.0) > tol * max(1, self._L):
            raise ValueError(
                f"{name} must lie on the probability simplex (non-negative, summing to 1); "
                f"got min {lo:.3g} and sum {total:.12g}"
            )
        return lam

    def _as_adversary(self, adversary, name="adversary"):
        """Validate an adversary strategy: (N, m), rows are distributions over valid attacks."""
        nx, F = self._nx, self._F
        Q = self._convert(adversary, name)
        if tuple(Q.shape) != (self._N, self._m):
            raise ValueError(
                f"{name} must have shape (N, m) = {(self._N, self._m)}: one distribution over "
                f"attacks per sample; got {tuple(Q.shape)}"
            )
        if not nx.all_finite(Q):
            raise ValueError(f"{name} must be finite; found NaN or inf at index {_first_index(~_isfinite(Q))}")
        tol = _weights_tol(nx, F)
        if nx.scalar(nx.min(Q)) < -tol:
            raise ValueError(
                f"{name} must be non-negative (each row is a distribution); found "
                f"{nx.scalar(nx.min(Q)):.3g} at index {_first_index(Q < -tol)}"
            )
        rows = nx.sum(Q, axis=1)
        dev = nx.max(abs(rows - 1.0))
        if nx.scalar(dev) > tol * max(1.0, math.sqrt(self._m)):
            i = _first_index(abs(rows - 1.0) == dev)[0]
            raise ValueError(
                f"{name} rows must each sum to 1 (a distribution over that sample's attacks); "
                f"row {i} sums to {nx.scalar(rows[i]):.12g}"
            )
        if self._mask is not None:
            off = nx.where(self._mask, 0.0 * Q, Q)
            if nx.scalar(nx.max(off)) > tol:
                raise ValueError(
                    f"{name} puts mass {nx.scalar(nx.max(off)):.3g} on a masked attack at index "
                    f"{_first_index(off > tol)}; masked attacks must get zero probability"
                )
        return Q

    @staticmethod
    def _to_list(x):
        return x.tolist()

    # ------------------------------------------------------------- evaluation
    def _scores(self, lam):
        """Expected loss of the mixture on every attack: ``(N, m)``, -inf on masked."""
        F = self._F
        s = (lam @ F.reshape(self._L, -1)).reshape(self._N, self._m)
        if self._neg is not None:
            s += self._neg
        return s

    def _risk_and_br(self, lam):
        """``(R(lam), per-sample max (N,), argmax (N,))`` with no input checks."""
        s = self._scores(lam)
        mx, jstar = self._nx.max_argmax(s, axis=1)
        return self._nx.scalar(self._w @ mx), mx, jstar

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
        jstar = self.best_response(weights)
        return self._one_hot(jstar)

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

    # ---------------------------------------------------- float64 certificates
    def _float64_blocks(self):
        """Yield ``(start, stop, block)``: the working tensor's samples ``start:stop`` as a
        float64 numpy ``(L, stop - start, m)`` array, in chunks of about 2^22 entries (one
        chunk, no copy, for a numpy float64 game)."""
        F, nx = self._F, self._nx
        L, N, m = F.shape
        if isinstance(F, np.ndarray) and F.dtype == np.float64:
            yield 0, N, F
            return
        step = max(1, (1 << 22) // max(1, L * m))
        for a in range(0, N, step):
            b = min(N, a + step)
            yield a, b, np.asarray(nx.to_numpy(F[:, a:b]), dtype=np.float64)

    def _risk_and_br_float64(self, lam):
        """``(R(lam), per-sample max (N,), argmax (N,))`` in float64 numpy, from a streamed pass
        over the stored tensor (``lam``: float64 numpy weights, not checked)."""
        lam = np.asarray(lam, dtype=np.float64)
        N, m, L = self.shape
        mx = np.empty(N)
        jstar = np.empty(N, dtype=np.int64)
        neg = self._neg_numpy()
        for a, b, blk in self._float64_blocks():
            s = (lam @ blk.reshape(L, -1)).reshape(b - a, m)
            if neg is not None:
                s += neg[a:b]
            jstar[a:b] = np.argmax(s, axis=1)
            mx[a:b] = s[np.arange(b - a), jstar[a:b]]
        return float(self._w64 @ mx), mx, jstar

    def _neg_numpy(self):
        if self._neg is None:
            return None
        neg = self._nx.to_numpy(self._neg)
        return np.asarray(neg, dtype=np.float64)

    def _classifier_losses_float64(self, Q):
        """``(L,)`` float64 ``sum_i w_i sum_j Q_ij losses[i, j, :]`` for a float64 numpy
        adversary ``Q`` (N, m), from the stored tensor's rows where ``Q`` has mass."""
        ii, jj = np.nonzero(Q)
        coef = Q[ii, jj] * self._w64[ii]
        return coef @ self.view().rows(ii, jj)

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
        if self._neg is not None:
            per = nx.max(F + self._neg[None], axis=2)
        else:
            per = nx.max(F, axis=2)
        return per @ self._w

    def best_classifier(self):
        """The deterministic baseline: ``(k, R(e_k))`` for the best single classifier."""
        r = self.classifier_risks()
        k = self._nx.argmin(r)
        return k, self._nx.scalar(r[k])

    # ------------------------------------------------------------ solver view
    def view(self) -> "GameView":
        """The read-only view solvers work on (the solver contract, see :class:`GameView`)."""
        return GameView(self)

    # ------------------------------------------------------------- conversion
    def to_numpy(self) -> "Game":
        """The same game on numpy arrays (self when it already is)."""
        if self._nx.name == "numpy":
            return self
        nx = self._nx
        g = Game.__new__(Game)
        g.__dict__.update(self.__dict__)
        g._nx = get_backend(np.zeros(1))
        g._F = nx.to_numpy(self._F)
        g._w = nx.to_numpy(self._w)
        g._mask = None if self._mask is None else nx.to_numpy(self._mask)
        g._neg = None if self._neg is None else nx.to_numpy(self._neg)
        g._m_valid = None if self._m_valid is None else nx.to_numpy(self._m_valid)
        return g

    def to_torch(self, device=None, dtype=None) -> "Game":
        """The same game as torch tensors on ``device`` (default cpu) with ``dtype``."""
        import torch

        np_game = self.to_numpy()
        F = torch.from_numpy(np.ascontiguousarray(np.moveaxis(np_game._F, 0, 2)))
        if dtype is not None:
            F = F.to(dtype)
        F = F.to(device or "cpu")
        mask = None if self._mask is None else torch.from_numpy(np_game._mask).to(F.device)
        sw = None if self._raw_weights is None else torch.from_numpy(np.asarray(np_game._raw_weights)).to(F.device)
        return Game(F, mask=mask, sample_weights=sw, bound=self.bound)

    # ------------------------------------------------------------------- I/O
    def save(self, path, compress: bool = False) -> None:
        """Write the game to ``path`` (``.npz``, no pickle), atomically.

        The file holds ``losses`` (N, m, L), ``mask`` (N, m) or an empty array,
        ``sample_weights`` (the relative weights given, or empty for uniform), ``bound``
        and a format version.
        """
        g = self.to_numpy()
        path = Path(path)
        arrays = {
            "format_version": np.array(_FORMAT_VERSION),
            "losses": np.ascontiguousarray(np.moveaxis(g._F, 0, 2)),
            "mask": np.zeros((0, 0), bool) if g._mask is None else g._mask,
            "sample_weights": np.zeros(0) if g._raw_weights is None else np.asarray(g._raw_weights, dtype=np.float64),
            "bound": np.array(self.bound),
        }
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **arrays)

    @classmethod
    def load(cls, path) -> "Game":
        """Read a game written by :meth:`save` (numpy arrays; never unpickles)."""
        data = read_npz(path, required={"losses", "mask", "sample_weights", "bound"},
                        what="an advgame game file")
        version = int(data["format_version"]) if "format_version" in data else 1
        if version > _FORMAT_VERSION:
            raise ValueError(f"{path} has format version {version}; this advgame reads up to {_FORMAT_VERSION}")
        losses, mask, sw = data["losses"], data["mask"], data["sample_weights"]
        try:
            bound = float(data["bound"])
        except (TypeError, ValueError):
            raise ValueError(f"{path}: 'bound' must be a number; got {data['bound']!r}") from None
        return cls(
            losses,
            mask=None if mask.size == 0 else mask,
            sample_weights=None if sw.size == 0 else sw,
            bound=bound,
        )


class GameView:
    r"""What a solver may read from a :class:`Game`: the solver contract.

    Solvers (``advgame.solvers``, ``advgame.torch.MixtureSolver``) use this view and
    nothing else of a game; it exposes the working data read-only and the few
    evaluations every solver needs.  Arrays are the game's own (no copy): never write
    into them.

    Attributes
    ----------
    nx : backend
        The array library's backend (:func:`advgame.backend.get_backend`).
    losses : array (L, N, m)
        The working tensor in the compute dtype; masked entries hold 0.
    sample_weights : array (N,)
        Normalized sample weights :math:`w` (sum to one), compute dtype.
    weight_total : float
        The total of the relative sample weights given (N for uniform weights); what
        data-parallel solvers need to combine shards.
    mask : array (N, m) of bool or None
        Valid attacks (None: all valid).
    neg : array (N, m) or None
        0 on valid attacks, ``-inf`` on masked ones (added to scores).
    n_valid : array (N,) or None
        Number of valid attacks per sample (None: all ``m``).
    bound : float
        The loss bound :math:`M`.
    max_loss : float
        The largest valid loss.
    shape : tuple
        ``(N, m, L)``.
    """

    __slots__ = ("_game",)

    def __init__(self, game):
        object.__setattr__(self, "_game", game)

    def __setattr__(self, name, value):
        raise AttributeError("GameView is read-only")

    # data
    nx = property(lambda self: self._game._nx)
    losses = property(lambda self: self._game._F)
    sample_weights = property(lambda self: self._game._w)
    weight_total = property(lambda self: float(self._game._wsum))
    mask = property(lambda self: self._game._mask)
    neg = property(lambda self: self._game._neg)
    n_valid = property(lambda self: self._game._m_valid)
    bound = property(lambda self: self._game.bound)
    max_loss = property(lambda self: float(self._game._hi))
    shape = property(lambda self: self._game.shape)
    is_binary = property(lambda self: self._game.is_binary)
    dtype = property(lambda self: self._game._F.dtype)
    game = property(lambda self: self._game)

    # evaluations (no input checks: the caller validated once at the entry)
    def scores(self, weights):
        """``(N, m)`` expected loss of the mixture on every attack, ``-inf`` on masked ones."""
        return self._game._scores(weights)

    def risk_and_best_response(self, weights):
        """``(R(weights), per-sample max (N,), per-sample argmax (N,))``."""
        return self._game._risk_and_br(weights)

    def classifier_losses(self, adversary):
        """``(L,)`` each classifier's expected loss under an ``(N, m)`` adversary."""
        return self._game._classifier_losses(adversary)

    def one_hot(self, attacks):
        """``(N, m)`` pure adversary playing ``attacks[i]`` on sample ``i``."""
        return self._game._one_hot(attacks)

    def rows(self, samples, attacks):
        """``(R, L)`` float64 numpy loss rows ``losses[samples[r], attacks[r], :]``."""
        F = self._game._F
        nx = self._game._nx
        return np.ascontiguousarray(nx.to_numpy(F[:, samples, attacks]).T, dtype=np.float64)

    def risk_and_best_response_float64(self, weights):
        """``(R, per-sample max (N,), argmax (N,))`` in float64 numpy for float64 numpy
        ``weights``, from a pass over the stored tensor streamed in chunks of samples (no float64
        copy of the whole tensor).  What certificates are computed from."""
        return self._game._risk_and_br_float64(weights)

    def classifier_losses_float64(self, adversary):
        """``(L,)`` float64 classifier losses of a float64 numpy ``(N, m)`` adversary, from the
        stored tensor's rows where the adversary has mass."""
        return self._game._classifier_losses_float64(adversary)

    def certificate(self, weights, adversary):
        """``(value, adversary_losses)`` of a (weights, adversary) pair in float64, from the game
        itself (never from a reduced copy): ``value`` :math:`R(\\lambda)`, ``adversary_losses``
        the (L,) losses whose minimum is :math:`D(Q)`; the gap is their difference (weak duality,
        MNE21 Thm. 1)."""
        value = self.risk_and_best_response_float64(weights)[0]
        return value, self.classifier_losses_float64(adversary)

    @property
    def sample_weights_float64(self):
        """Normalized sample weights as a float64 numpy vector (certificates, LP costs)."""
        return self._game._w64

    @property
    def mask_numpy(self):
        """The mask as a numpy boolean array, or None."""
        m = self._game._mask
        return None if m is None else np.asarray(self._game._nx.to_numpy(m), dtype=bool)

    def check_weights(self, weights, name="weights"):
        """Validate defender weights once (shape (L,), finite, on the simplex); returns them
        in the game's library, device and dtype."""
        return self._game._as_weights(weights, name)

    def to_numpy(self) -> "GameView":
        """The view of the same game on numpy arrays."""
        return self._game.to_numpy().view()
