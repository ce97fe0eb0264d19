r"""MNE21's synthetic problem (MNE21, Sec. 5.1): data, linear classifiers, attack samplers.

* :func:`make_gaussians` -- the data: :math:`P(Y=\pm1)=1/2`,
  :math:`X \mid Y=-1 \sim \mathcal N(0, I_2)`,
  :math:`X \mid Y=+1 \sim \frac12\mathcal N((-3,0), I_2) + \frac12\mathcal N((3,0), I_2)`.
* :class:`LinearClassifier` -- :math:`f(x) = w^\top x + b`, predicting +1 when
  :math:`f(x) > 0`, with its exact adversarial risk in closed form.
* :func:`random_linear_classifiers` -- random linear classifiers whose clean training
  risk is below a cap (the paper's "10 linear classifiers that achieves a standard
  training risk lower than 0.4", MNE21 Sec. 5.1, verbatim).
* :func:`sample_attacks` -- m candidate attacks per point, exactly uniform in the
  :math:`\ell_2`, :math:`\ell_\infty` or :math:`\ell_1` ball (the paper: 1000 points
  uniform in the :math:`\ell_2` ball), the clean point first.

Every random function takes ``seed``: an int >= 0, None, or a
``numpy.random.Generator`` (:func:`advgame._validation.check_rng`).  To build *the*
instance of a seed, draw each part from its own stream of
:class:`advgame.experiments.mne21.SeedStreams` (as :func:`~advgame.experiments.mne21.make_instance`
and :func:`~advgame.experiments.mne21.run_gaussians` do).
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import (
    check_array,
    check_bool,
    check_int,
    check_real,
    check_rng,
    check_sample_weights,
    norm_exponent,
)
from ..backend import is_torch

__all__ = ["make_gaussians", "LinearClassifier", "random_linear_classifiers", "sample_attacks"]


def _points(X, name="X") -> np.ndarray:
    """``X`` as a finite float64 array of shape (N, d), N, d >= 1."""
    arr = check_array(X, name)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, d) with N, d >= 1; got shape {arr.shape}")
    return arr


def _pm1_labels(y, N) -> np.ndarray:
    y = check_array(y, "y")
    if y.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},); got {y.shape}")
    if not np.isin(y, (-1, 1)).all():
        raise ValueError("y must hold labels in {-1, +1}")
    return y.astype(np.int64)


# ---------------------------------------------------------------------------- data
def make_gaussians(n_samples: int = 1000, seed=None, *, shift: float = 3.0, dim: int = 2):
    r"""Sample MNE21's synthetic data set (MNE21, Sec. 5.1).

    .. math::

        P(Y = \pm 1) = \tfrac12, \qquad
        X \mid Y = -1 \sim \mathcal N(0, I_d), \qquad
        X \mid Y = +1 \sim \tfrac12 \mathcal N(-s e_1, I_d) + \tfrac12 \mathcal N(s e_1, I_d)

    with :math:`s` = ``shift`` = 3 and :math:`d` = ``dim`` = 2 in the paper.  The
    labels are sampled (i.i.d. fair coins), so the class sizes are Binomial(N, 1/2),
    not exactly N/2; then each positive point picks its component with a fair coin.

    Parameters
    ----------
    n_samples : int, default 1000
        N, the number of points (the paper: 1000 training points).
    seed : int, numpy.random.Generator or None
    shift : float, default 3
        Distance of the two positive components from the origin along the first axis.
    dim : int, default 2
        Dimension d.

    Returns
    -------
    X : ndarray, shape (N, d), float64
    y : ndarray, shape (N,), int64, values in {-1, +1}

    References
    ----------
    MNE21, Sec. 5.1 and Figure 2.
    """
    n = check_int("n_samples", n_samples, 1)
    d = check_int("dim", dim, 1)
    s = check_real("shift", shift, lo=0)
    rng = check_rng(seed)
    y = np.where(rng.random(n) < 0.5, -1, 1).astype(np.int64)
    X = rng.standard_normal((n, d))
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    X[:, 0] += np.where(y == 1, s * side, 0.0)
    return X, y


# ---------------------------------------------------------------------- classifiers
def _dual_exponent(p: float) -> float:
    if p == 1:
        return math.inf
    if math.isinf(p):
        return 1.0
    return p / (p - 1.0)


class LinearClassifier:
    r"""A linear classifier :math:`f(x) = w^\top x + b`, predicting +1 when :math:`f(x) > 0`.

    Calling it returns the real scores :math:`f(x)` (the form
    :func:`advgame.construct.loss_tensor` expects); a numpy array gives a numpy array
    and a torch tensor gives a tensor on its device and dtype.

    Parameters
    ----------
    w : array_like, shape (d,)
    b : float
    """

    def __init__(self, w, b):
        w = check_array(w, "w")
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"w must be a finite 1-D array of shape (d,); got shape {w.shape}")
        self.w = w
        self.b = check_real("b", b)
        self._torch_cache = {}

    @property
    def dim(self) -> int:
        """d, the input dimension."""
        return self.w.size

    def __call__(self, X):
        """Scores :math:`Xw + b`, shape (n,)."""
        if is_torch(X):
            key = (X.device, X.dtype)
            if key not in self._torch_cache:
                import torch

                self._torch_cache[key] = torch.as_tensor(self.w, dtype=X.dtype, device=X.device)
            if X.shape[-1] != self.dim:
                raise ValueError(f"X must have {self.dim} columns; got shape {tuple(X.shape)}")
            return X @ self._torch_cache[key] + self.b
        X = np.asarray(X)
        if X.shape[-1] != self.dim:
            raise ValueError(f"X must have {self.dim} columns; got shape {X.shape}")
        return X @ self.w.astype(X.dtype if X.dtype.kind == "f" else np.float64, copy=False) + self.b

    def predict(self, X):
        """Labels in {-1, +1}: +1 where the score is > 0."""
        s = self(X)
        if is_torch(s):
            import torch

            return torch.where(s > 0, 1, -1)
        return np.where(s > 0, 1, -1)

    def risk(self, X, y, sample_weights=None) -> float:
        """Clean 0/1 risk on ``(X, y)`` (labels in {-1, +1}), weighted when asked."""
        X = _points(X)
        y = _pm1_labels(y, X.shape[0])
        err = (self.predict(X) != y).astype(np.float64)
        if sample_weights is None:
            return float(err.mean())
        w = check_sample_weights(sample_weights, err.size)[1]
        return float(err @ w)

    def attackable(self, X, y, eps, norm=2):
        r"""Which points the true adversary can misclassify (closed form).

        The score ranges over :math:`[f(x) - \varepsilon\|w\|_*, f(x) +
        \varepsilon\|w\|_*]` on the ball :math:`\|z - x\|_p \le \varepsilon`, with
        :math:`\|\cdot\|_*` the dual norm (:math:`\ell_q`, :math:`1/p + 1/q = 1`), so

        .. math::

            y = +1:\ f(x) - \varepsilon \|w\|_* \le 0, \qquad
            y = -1:\ f(x) + \varepsilon \|w\|_* > 0

        (the strict inequality because +1 is predicted only when :math:`f > 0`).

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        X = _points(X)
        y = _pm1_labels(y, X.shape[0])
        eps = check_real("eps", eps, lo=0)
        q = _dual_exponent(norm_exponent(norm))
        reach = eps * float(np.linalg.norm(self.w, ord=q))
        f = np.asarray(self(X.astype(np.float64)))
        return np.where(y == 1, f - reach <= 0, f + reach > 0)

    def adversarial_risk(self, X, y, eps, norm=2, sample_weights=None) -> float:
        """Exact adversarial 0/1 risk (the supremum over the ball, not a sample):
        the (weighted) fraction of :meth:`attackable` points."""
        a = self.attackable(X, y, eps, norm).astype(np.float64)
        if sample_weights is None:
            return float(a.mean())
        w = check_sample_weights(sample_weights, a.size)[1]
        return float(a @ w)

    def __repr__(self) -> str:
        return f"LinearClassifier(w={np.array2string(self.w, precision=4)}, b={self.b:.4g})"


def random_linear_classifiers(X, y, n_classifiers: int = 10, max_risk: float = 0.4, seed=None, *,
                              w_scale: float = 1.0, b_scale: float = 2.0, max_tries: int = 100_000):
    r"""Random linear classifiers whose clean training risk is below ``max_risk``.

    Rejection sampling: draw

    .. math::

        w \sim \mathcal N(0, \sigma_w^2 I_d), \qquad b \sim \mathcal N(0, \sigma_b^2),

    with :math:`\sigma_w` = ``w_scale`` = 1 and :math:`\sigma_b` = ``b_scale`` = 2 (so
    :math:`b \sim \mathcal N(0, 4)`), and keep :math:`f(x) = w^\top x + b` when its
    clean 0/1 risk on ``(X, y)`` is strictly below ``max_risk``, until
    ``n_classifiers`` are kept (in the order drawn).  Nothing is flipped or fitted.

    MNE21 (Sec. 5.1) only says "randomly generate 10 linear classifiers that achieves
    a standard training risk lower than 0.4".  The sampler matters, but less than one
    might think: on the instances of seeds 0-3 (N = 1000, m = 1000 l2 attacks), the
    optimal mixture beat the best single classifier at eps = 1, 2, 3, 4 on 0, 2, 4, 4
    of the 4 seeds with this default (unnormalized Gaussian :math:`w`, :math:`b` with
    standard deviation 2), and on 0, 1, 3, 4 of 4 with a unit :math:`w` (uniform
    direction) and :math:`b \sim U[-4, 4]`: randomization helps at large budgets under
    both, from eps = 2 on only sometimes (``docs/scripts/mne21_samplers.py`` measures
    it; ``docs/tutorial.md`` has the table).

    Parameters
    ----------
    X : array_like, shape (N, d)
    y : array_like, shape (N,), labels in {-1, +1}
    n_classifiers : int, default 10
    max_risk : float, default 0.4
        The cap on the clean training risk (strict).
    seed : int, numpy.random.Generator or None
    w_scale, b_scale : float, default 1 and 2
        Standard deviations of the entries of ``w`` and of ``b``.
    max_tries : int, default 100000
        Most candidates drawn in all before giving up.

    Returns
    -------
    list of LinearClassifier

    Raises
    ------
    RuntimeError
        Fewer than ``n_classifiers`` candidates passed the cap within ``max_tries``
        draws (raise ``max_risk`` or ``max_tries``).
    """
    X = _points(X)
    y = _pm1_labels(y, X.shape[0])
    L = check_int("n_classifiers", n_classifiers, 1)
    tries = check_int("max_tries", max_tries, 1)
    cap = check_real("max_risk", max_risk, lo=0)
    sw = check_real("w_scale", w_scale, lo=0)
    sb = check_real("b_scale", b_scale, lo=0)
    rng = check_rng(seed)
    Xf = X.astype(np.float64)
    d = X.shape[1]
    kept = []
    drawn = 0
    while len(kept) < L and drawn < tries:
        batch = min(256, tries - drawn)
        W = sw * rng.standard_normal((batch, d))
        B = sb * rng.standard_normal(batch)
        drawn += batch
        pred = np.where(Xf @ W.T + B > 0, 1, -1)  # (N, batch)
        risks = (pred != y[:, None]).mean(axis=0)
        for k in np.flatnonzero(risks < cap):
            kept.append(LinearClassifier(W[k], float(B[k])))
            if len(kept) == L:
                break
    if len(kept) < L:
        raise RuntimeError(
            f"random_linear_classifiers: only {len(kept)} of n_classifiers={L} random linear classifiers "
            f"reached a training risk below max_risk={cap} in max_tries={tries} draws; raise max_risk or max_tries"
        )
    return kept


# -------------------------------------------------------------------------- attacks
def _unit_ball(rng, shape, d, p) -> np.ndarray:
    """Points exactly uniform in the unit l_p ball, p in {1, 2, inf}: shape + (d,)."""
    if p == 2:
        # uniform direction times radius U^(1/d): P(|z| <= r) = r^d
        g = rng.standard_normal(shape + (d,))
        norm = np.linalg.norm(g, axis=-1, keepdims=True)
        norm[norm == 0] = 1.0  # probability zero; keeps the point at the centre
        r = rng.random(shape + (1,)) ** (1.0 / d)
        return g / norm * r
    if math.isinf(p):
        return rng.uniform(-1.0, 1.0, shape + (d,))
    # l1: E_1..E_{d+1} i.i.d. Exp(1); (E_1..E_d) / sum(E) is uniform on the
    # simplex {z >= 0, sum z <= 1}; random signs spread it over the l1 ball
    e = rng.standard_exponential(shape + (d + 1,))
    z = e[..., :d] / e.sum(axis=-1, keepdims=True)
    return z * np.where(rng.random(shape + (d,)) < 0.5, -1.0, 1.0)


def sample_attacks(X, eps, n_attacks: int = 1000, norm=2, seed=None, *, include_clean: bool = True,
                   clip=None, dtype=None) -> np.ndarray:
    r"""Candidate attacks drawn uniformly in each point's :math:`\varepsilon`-ball.

    For every point :math:`x_i`, ``n_attacks`` points :math:`x_i + \varepsilon u`, with
    :math:`u` exactly uniform in the unit ball of the norm:

    * :math:`\ell_2`: :math:`u = r\, g / \|g\|_2`, :math:`g \sim \mathcal N(0, I_d)`,
      :math:`r = U^{1/d}`, :math:`U \sim U[0, 1]` (so :math:`P(\|u\| \le r) = r^d`);
    * :math:`\ell_\infty`: :math:`u \sim U[-1, 1]^d`;
    * :math:`\ell_1`: :math:`u_k = s_k E_k / \sum_{l=1}^{d+1} E_l`, :math:`E_l` i.i.d.
      Exp(1), :math:`s_k` random signs.

    MNE21, Sec. 5.1 simulates the adversary by 1000 such points in the
    :math:`\ell_2` ball and takes the worst for the loss; with ``include_clean`` the
    clean point is candidate 0 (the adversary may always stay put), followed by
    ``n_attacks - 1`` random points.

    Parameters
    ----------
    X : array_like, shape (N, d)
    eps : float
        Radius, >= 0.
    n_attacks : int, default 1000
        m, candidates per point (the clean one included when ``include_clean``).
    norm : {2, inf, 1} or {"l2", "linf", "l1"}, default 2
    seed : int, numpy.random.Generator or None
    include_clean : bool, default True
        Make ``attacks[:, 0]`` equal to ``X``.
    clip : (float, float), optional
        A box ``(lo, hi)`` every attack is clipped into (e.g. ``(0, 1)`` for images).
        ``X`` must lie inside it; clipping is a projection onto a box containing the
        centre, so the clipped points stay in the ball (but are no longer uniform).
    dtype : numpy dtype, optional
        Output dtype (default: ``X``'s floating dtype, float64 for integer ``X``).

    Returns
    -------
    ndarray, shape (N, m, d)
        ``N * m * d`` numbers: sample in chunks of points for large problems.
    """
    in_dtype = getattr(X, "dtype", None)
    X = _points(X)
    eps = check_real("eps", eps, lo=0)
    m = check_int("n_attacks", n_attacks, 1)
    p = norm_exponent(norm, general=False)
    include_clean = check_bool("include_clean", include_clean)
    if dtype is not None:
        dtype = np.dtype(dtype)
    elif isinstance(in_dtype, np.dtype) and in_dtype.kind == "f":
        dtype = in_dtype
    else:
        dtype = np.dtype(np.float64)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating dtype; got {dtype}")
    lo = hi = None
    if clip is not None:
        try:
            lo, hi = (float(c) for c in clip)
        except (TypeError, ValueError):
            raise TypeError(f"clip must be a pair (lo, hi) of numbers; got {clip!r}") from None
        if not lo <= hi:
            raise ValueError(f"clip must satisfy lo <= hi; got {clip!r}")
        if X.min() < lo or X.max() > hi:
            raise ValueError(f"X must lie inside the clip box [{lo}, {hi}]; found values in [{X.min()}, {X.max()}]")
    rng = check_rng(seed)
    N, d = X.shape
    start = 1 if include_clean else 0
    out = np.empty((N, m, d), dtype=dtype)
    if include_clean:
        out[:, 0] = X
    if m > start:
        out[:, start:] = X[:, None, :] + eps * _unit_ball(rng, (N, m - start), d, p)
    if clip is not None:
        np.clip(out, lo, hi, out=out)
    return out
