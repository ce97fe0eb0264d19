r"""MNE21's synthetic two-dimensional experiment (MNE21, Sec. 5.1), end to end.

* :func:`make_gaussians` -- the data: :math:`P(Y=\pm1)=1/2`,
  :math:`X \mid Y=-1 \sim \mathcal N(0, I_2)`,
  :math:`X \mid Y=+1 \sim \frac12\mathcal N((-3,0), I_2) + \frac12\mathcal N((3,0), I_2)`.
* :class:`LinearClassifier` -- :math:`f(x) = w^\top x + b`, predicting +1 when
  :math:`f(x) > 0`, with its exact adversarial risk in closed form.
* :func:`random_linear_classifiers` -- random linear classifiers whose clean training
  risk is below a cap (the paper's "10 linear classifiers that achieve a standard
  training risk lower than 0.4").
* :func:`sample_attacks` -- m candidate attacks per point, exactly uniform in the
  :math:`\ell_2`, :math:`\ell_\infty` or :math:`\ell_1` ball (the paper: 1000 points
  uniform in the :math:`\ell_2` ball), the clean point first.
* :func:`make_instance` -- all of the above plus the :class:`~advgame.Game` built from
  them, and the optimal risk over all classifiers (:mod:`advgame.bounds`).

Every random function takes ``seed``: an int, None, or a ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._checks import nonneg_real
from .backend import is_torch
from .bounds import OptimalRisk, optimal_adversarial_risk, parse_norm

__all__ = [
    "make_gaussians",
    "LinearClassifier",
    "random_linear_classifiers",
    "sample_attacks",
    "SyntheticInstance",
    "make_instance",
]


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be None, an int or a numpy.random.Generator; got {seed!r}")


def _positive_int(name, v) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name} must be a positive integer; got {v!r}")
    return int(v)


def _points(X, name="X") -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, d) with N, d >= 1; got shape {X.shape}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} must be finite")
    return X


def _pm1_labels(y, N) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"y must have shape (N,) = ({N},); got {y.shape}")
    if y.dtype.kind not in "biuf" or not np.isin(y, (-1, 1)).all():
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
    n = _positive_int("n_samples", n_samples)
    d = _positive_int("dim", dim)
    s = nonneg_real("shift", shift)
    rng = _rng(seed)
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
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or not np.isfinite(w).all():
            raise ValueError(f"w must be a finite 1-D array of shape (d,); got shape {w.shape}")
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not math.isfinite(b):
            raise ValueError(f"b must be a finite real number; got {b!r}")
        self.w = w
        self.b = float(b)
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
        w = np.asarray(sample_weights, dtype=np.float64)
        return float(err @ w / w.sum())

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
        eps = nonneg_real("eps", eps)
        q = _dual_exponent(parse_norm(norm))
        reach = eps * float(np.linalg.norm(self.w, ord=q))
        f = np.asarray(self(X.astype(np.float64)))
        return np.where(y == 1, f - reach <= 0, f + reach > 0)

    def adversarial_risk(self, X, y, eps, norm=2, sample_weights=None) -> float:
        """Exact adversarial 0/1 risk (the supremum over the ball, not a sample):
        the (weighted) fraction of :meth:`attackable` points."""
        a = self.attackable(X, y, eps, norm).astype(np.float64)
        if sample_weights is None:
            return float(a.mean())
        w = np.asarray(sample_weights, dtype=np.float64)
        return float(a @ w / w.sum())

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

    MNE21 (Sec. 5.1) only says "randomly generate 10 linear classifiers that achieve
    a standard training risk lower than 0.4".  The sampler matters: on the Sec. 5.1
    data, this default (unnormalized Gaussian :math:`w`, :math:`b` with standard
    deviation 2) is the one under which a mixture beats the best single classifier
    for :math:`\varepsilon \ge 2` as in the paper's Figure 2, whereas a unit
    :math:`w` with :math:`b \sim U[-4, 4]` gave a single optimal classifier on every
    seed tried (``shared/NOTES.md``).

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
    L = _positive_int("n_classifiers", n_classifiers)
    tries = _positive_int("max_tries", max_tries)
    cap = nonneg_real("max_risk", max_risk)
    sw = nonneg_real("w_scale", w_scale)
    sb = nonneg_real("b_scale", b_scale)
    rng = _rng(seed)
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
    X = _points(X)
    eps = nonneg_real("eps", eps)
    m = _positive_int("n_attacks", n_attacks)
    p = parse_norm(norm)
    if p not in (1.0, 2.0) and not math.isinf(p):
        raise ValueError(f"norm must be 1, 2 or inf for uniform ball sampling; got {norm!r}")
    if not isinstance(include_clean, (bool, np.bool_)):
        raise TypeError(f"include_clean must be a bool; got {include_clean!r}")
    dtype = np.dtype(dtype) if dtype is not None else X.dtype
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
    rng = _rng(seed)
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


# --------------------------------------------------------------------- end to end
@dataclass
class SyntheticInstance:
    """One draw of MNE21's synthetic experiment (see :func:`make_instance`).

    Attributes
    ----------
    X, y : ndarray
        Training points (N, d) and labels in {-1, +1}.
    classifiers : list of LinearClassifier
    attacks : ndarray, shape (N, m, d)
    game : advgame.Game
        The empirical game with losses ``loss_tensor(classifiers, X, y, attacks, loss)``.
    eps : float
    norm : float
    """

    X: np.ndarray
    y: np.ndarray
    classifiers: list
    attacks: np.ndarray
    game: object
    eps: float
    norm: float

    def optimal_risk(self) -> OptimalRisk:
        """The smallest adversarial risk any classifier reaches on ``(X, y)``
        (:func:`advgame.bounds.optimal_adversarial_risk`)."""
        return optimal_adversarial_risk(self.X, self.y, self.eps, self.norm)

    def exact_classifier_risks(self) -> np.ndarray:
        """Each classifier's exact adversarial risk (closed form), shape (L,).

        The game's ``classifier_risks()`` can only be lower (a finite attack sample)."""
        return np.array([c.adversarial_risk(self.X, self.y, self.eps, self.norm) for c in self.classifiers])


def make_instance(eps: float, n_samples: int = 1000, n_classifiers: int = 10, n_attacks: int = 1000,
                  norm=2, max_risk: float = 0.4, loss: str = "01", seed=None, **classifier_kwargs):
    r"""MNE21's synthetic experiment (Sec. 5.1) as a ready game.

    Draws the data (:func:`make_gaussians`), ``n_classifiers`` random linear
    classifiers with clean training risk below ``max_risk``
    (:func:`random_linear_classifiers`), ``n_attacks`` candidate attacks per point
    uniform in the ``eps``-ball, the clean point first (:func:`sample_attacks`), and the
    loss tensor :math:`\ell_{ijk}` = loss of classifier k on attack j of point i
    (:func:`advgame.construct.loss_tensor`).  The three draws use independent streams
    spawned from ``seed``, so e.g. changing ``n_attacks`` leaves the data and the
    classifiers unchanged.

    Parameters
    ----------
    eps : float
        The adversary's budget.
    n_samples, n_classifiers, n_attacks : int, default 1000, 10, 1000
        N, L and m (the paper's values).
    norm : {2, inf, 1}, default 2
    max_risk : float, default 0.4
    loss : {"01", "sigmoid"}, default "01"
    seed : int, numpy.random.Generator or None
    **classifier_kwargs
        Passed to :func:`random_linear_classifiers` (``w_scale``, ``b_scale``,
        ``max_tries``).

    Returns
    -------
    SyntheticInstance

    Examples
    --------
    >>> inst = make_instance(eps=2.0, n_samples=200, n_attacks=100, seed=0)
    >>> inst.game.shape
    (200, 100, 10)
    >>> bool(inst.optimal_risk().value <= inst.exact_classifier_risks().min())
    True
    """
    from .construct import loss_tensor
    from .game import Game

    rng = _rng(seed)
    s_data, s_clf, s_att = (np.random.default_rng(s) for s in rng.integers(0, 2**63 - 1, size=3))
    X, y = make_gaussians(n_samples, s_data)
    clfs = random_linear_classifiers(X, y, n_classifiers, max_risk, s_clf, **classifier_kwargs)
    attacks = sample_attacks(X, eps, n_attacks, norm, s_att)
    losses = loss_tensor(clfs, X, y, attacks, loss=loss)
    return SyntheticInstance(X=X, y=y, classifiers=clfs, attacks=attacks, game=Game(losses),
                             eps=float(eps), norm=parse_norm(norm))
