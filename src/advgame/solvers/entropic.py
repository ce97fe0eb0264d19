r"""The entropic relaxation of the empirical game, solved by accelerated projected
gradient (MNE21, Eq. 7 and Sec. 4.2).

.. math::

    F_\alpha(\lambda) = \sum_i w_i\, \alpha \log\Big(\frac{1}{m_i}\sum_{j}
    \exp\big(\tfrac{\ell_{ij\cdot}^\top\lambda}{\alpha}\big)\Big),

the adversary's problem regularized by :math:`\alpha\,\mathrm{KL}(Q_i \,\|\,
\mathcal U_i)` against the uniform distribution on sample :math:`i`'s :math:`m_i`
valid attacks (MNE21, Eq. 7 and the closed form above it).  :math:`F_\alpha` is convex
and smooth; its gradient is the per-classifier loss under the soft adversary
:math:`Q_{ij} \propto \exp(\ell_{ij\cdot}^\top\lambda / \alpha)`.

Bounds used here (derived below; MNE21, Prop. 3 and 5 give the limit
:math:`\alpha \to 0` and a bound under an assumption on the mass of near-optimal
attacks; this is the assumption-free version for a finite candidate set).  With
:math:`\log m := \sum_i w_i \log m_i` and :math:`\lambda_\alpha = \arg\min F_\alpha`:

.. math::

    R(\lambda) - \alpha\log m \le F_\alpha(\lambda) \le R(\lambda), \qquad
    R(\lambda_\alpha) - R^* \le \alpha \log m, \qquad
    |F_\alpha(\lambda_\alpha) - R^*| \le \alpha \log m.

*Proof.* Per sample, :math:`\max_j s_j - \alpha\log m_i \le \alpha\log\frac1{m_i}
\sum_j e^{s_j/\alpha} \le \max_j s_j`; sum with weights :math:`w_i`.  Then
:math:`R(\lambda_\alpha) \le F_\alpha(\lambda_\alpha) + \alpha\log m \le
F_\alpha(\lambda^*) + \alpha\log m \le R^* + \alpha\log m`, and
:math:`R^* - \alpha\log m \le R(\lambda_\alpha) - \alpha\log m \le
F_\alpha(\lambda_\alpha) \le F_\alpha(\lambda^*) \le R^*`.  The soft adversary's own
gap obeys the same bound: :math:`E_{Q_i}[s] \ge \max_j s_j - \alpha\log m_i`, so at
:math:`\lambda_\alpha` (where :math:`\lambda_\alpha^\top\nabla F_\alpha =
\min_k \nabla_k F_\alpha` by the KKT conditions) :math:`R(\lambda_\alpha) -
D(Q(\lambda_\alpha)) \le \alpha\log m`.

Algorithm: FISTA (Beck & Teboulle 2009) with backtracking on the Lipschitz constant,
capped by the valid bound :math:`L_f \le M^2 L / (4\alpha)` (the Hessian is
:math:`\alpha^{-1}\sum_i w_i \mathrm{Cov}_{Q_i}(\ell_{ij\cdot})`, and on the simplex's
tangent space :math:`\mathrm{Var}(a^\top d) \le M^2\|d\|_1^2/4 \le M^2 L\|d\|_2^2/4`),
the step-size-increase rule of Scheinberg, Goldfarb & Bai (2014), and the function-value
restart of O'Donoghue & Candès (2015).  Scores are linear in :math:`\lambda`, so the
extrapolated point's scores are a combination of two cached score vectors: one
forward and one backward pass over the tensor per iteration.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..result import Result
from ._common import SampleSum, check_positive_float, check_positive_int, final_status
from .simplex import proj_simplex

__all__ = ["solve_entropic", "entropic_objective"]


class _Entropic:
    """Buffers and passes for :math:`F_\\alpha` on one game."""

    def __init__(self, game, alpha, reduce):
        self.g = game
        self.nx = nx = game._nx
        self.alpha = alpha
        self.reduce = reduce
        N, m, L = game.shape
        self.F2 = game._F.reshape(L, -1)
        self.N, self.m, self.L = N, m, L
        self.buf = nx.zeros((N, m), type_as=game._F)
        w = game._w
        self.w = w
        if game._m_valid is not None:
            self.log_m = nx.log(game._m_valid)
        else:
            self.log_m = math.log(m)
        self.w64 = nx.float64(w)
        self.clamp = -700.0 if nx.eps(game._F) < 1e-10 else -80.0
        self.valid = None
        if game._mask is not None:  # 1.0 on valid attacks, 0.0 on masked ones
            self.valid = game._mask.astype(game._F.dtype) if nx.name == "numpy" else game._mask.to(game._F.dtype)

    def scores(self, lam, out=None):
        """Scaled raw scores ``(lam / alpha) @ F``, flat (N*m,), without the mask
        penalty; linear in ``lam``."""
        nx = self.nx
        if out is None:
            out = nx.zeros((self.N * self.m,), type_as=self.F2)
        nx.matmul(lam * (1.0 / self.alpha), self.F2, out=out)
        return out

    def _exp_shifted(self, s_raw):
        """buf <- exp(s - max_j s) on valid attacks, 0 on masked ones; returns the max.

        Arguments below ``clamp`` are clipped before ``exp``: values there are below
        1e-304 (float64) / 1e-34 (float32) relative to the row's largest term, and
        ``exp`` is an order of magnitude slower where it underflows.
        """
        nx, buf, game = self.nx, self.buf, self.g
        s = s_raw.reshape(self.N, self.m)
        # (in-place ops: numpy's broadcasting subtract with out= is 2-4x slower than -=)
        if game._neg is not None:
            nx.add(s, game._neg, out=buf)
        else:
            buf[...] = s
        mx = nx.max(buf, axis=1)
        buf -= mx[:, None]
        nx.clip_min_(buf, self.clamp)
        nx.exp(buf, out=buf)
        if game._neg is not None:
            buf *= self.valid
        return mx

    def softmax(self, s_raw):
        """The soft adversary at these scores: (N, m), row i is softmax(s_i / alpha)."""
        self._exp_shifted(s_raw)
        buf = self.buf
        buf /= self.nx.sum(buf, axis=1)[:, None]
        return self.nx.copy(buf)

    def evaluate(self, s_raw, grad=False):
        """``(F_alpha, R, g or None)`` at the point with scaled scores ``s_raw``.

        ``g`` is the gradient of F_alpha, i.e. the per-classifier losses under the soft
        adversary; every sum over samples goes through ``reduce`` (data parallel).
        """
        nx, a, buf = self.nx, self.alpha, self.buf
        mx = self._exp_shifted(s_raw)
        z = nx.sum(buf, axis=1)
        fi = a * (mx + nx.log(z) - self.log_m)
        f_local = nx.float64(fi) @ self.w64
        R_local = a * (nx.float64(mx) @ self.w64)
        if not grad:
            v = self.reduce(_stack(nx, [f_local, R_local]))
            return nx.scalar(v[0]), nx.scalar(v[1]), None
        buf *= (self.w / z)[:, None]
        gk = self.F2 @ buf.reshape(-1)
        v = self.reduce(_stack(nx, [f_local, R_local], nx.float64(gk)))
        g = v[2:]
        g = g.astype(self.F2.dtype) if nx.name == "numpy" else g.to(self.F2.dtype)
        return nx.scalar(v[0]), nx.scalar(v[1]), g


def _stack(nx, scalars, vec=None):
    if nx.name == "numpy":
        parts = [np.asarray([float(x) for x in scalars])]
        if vec is not None:
            parts.append(np.asarray(vec, dtype=np.float64))
        return np.concatenate(parts)
    torch = nx.torch
    parts = [torch.stack([x.reshape(()) for x in scalars])]
    if vec is not None:
        parts.append(vec)
    return torch.cat(parts)


def entropic_objective(game, weights, alpha) -> float:
    r""":math:`F_\alpha(\lambda)` of MNE21, Eq. 7 (with sample weights), for checks."""
    alpha = check_positive_float("alpha", alpha)
    lam = game._as_weights(weights)
    ent = _Entropic(game, alpha, SampleSum(game, False))
    return ent.evaluate(ent.scores(lam))[0]


def solve_entropic(game, alpha=None, steps: int = 500, tol=None, distributed: bool = False, time_limit=None,
                   restart: bool = True):
    r"""Accelerated projected gradient (FISTA) on the entropic objective, MNE21 Eq. 7.

    Parameters
    ----------
    game : Game
        numpy or torch (any device, float32 or float64).
    alpha : float, optional
        Temperature :math:`\alpha > 0` of the entropic regularization.  Default
        ``1e-3 * M``.  The answer is biased by at most :math:`\alpha\log m`
        (module docstring), so choose ``alpha <= target_gap / log(m)``.
    steps : int
        Maximum number of iterations.
    tol : float, optional
        Stop when the certified duality gap (best iterate's true risk minus the best
        soft adversary's :math:`D(Q)`) is at most ``tol``; checked every step at no
        extra cost.
    distributed : bool
        All-reduce every sum over samples across ``torch.distributed`` ranks.
    time_limit : float, optional
        Seconds.
    restart : bool
        Function-value restart of the momentum (O'Donoghue & Candès 2015).

    Returns
    -------
    Result
        ``weights``: the iterate with the lowest true risk; ``value``: that risk
        :math:`R(\lambda)`; ``adversary``: the soft adversary (per-sample softmax of the
        scores at temperature ``alpha``) with the highest :math:`D(Q)` met;
        ``history``: :math:`R(\lambda_k)` per step; ``info["regularized_value"]``:
        :math:`F_\alpha(\text{weights})`; ``info["regularized_history"]``,
        ``info["gap_history"]`` (certified gap at each gradient evaluation),
        ``info["lipschitz"]`` (final estimate), ``info["bias_bound"]``
        (:math:`\alpha\log m`).

    References
    ----------
    MNE21, Eq. 7, Prop. 3 and 5, Sec. 4.2 (accelerated PGD); Beck & Teboulle (2009),
    FISTA; Scheinberg, Goldfarb & Bai (2014); O'Donoghue & Candès (2015).
    """
    t0 = time.perf_counter()
    alpha = 1e-3 * game.bound if alpha is None else check_positive_float("alpha", alpha)
    T = check_positive_int("steps", steps)
    tol = check_positive_float("tol", tol, allow_none=True)
    time_limit = check_positive_float("time_limit", time_limit, allow_none=True)
    nx, F = game._nx, game._F
    N, m, L = game.shape
    M = game.bound
    reduce = SampleSum(game, distributed)
    ent = _Entropic(game, alpha, reduce)
    # tolerance of the descent and restart tests: far above the rounding noise of F_alpha
    # (so numpy and torch take the same branches), far below any meaningful decrease
    slack = max(1e-12, 1e3 * nx.eps(F))
    cap = M * M * L / (4 * alpha)
    Lk = cap / 64

    x = nx.full((L,), 1.0 / L, type_as=F)
    sy = ent.scores(x)  # scores of the extrapolated point y (y = x at the start)
    fx, Rx, _ = ent.evaluate(sy)
    y = x
    sn = nx.empty_like(sy)  # scores of the candidate point xn
    t = 1.0
    best_R, best_x, best_f = Rx, x, fx
    best_D, best_y = -math.inf, x
    history, reg_history, gap_history = [Rx], [fx], []
    timed_out = False
    nit = 0
    gap = math.inf
    for k in range(1, T + 1):
        fy, _, gy = ent.evaluate(sy, grad=True)
        D = nx.scalar(nx.min(gy))
        if D > best_D:
            best_D, best_y = D, y
        gap = best_R - best_D
        gap_history.append(gap)
        if tol is not None and gap <= tol:
            break
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            timed_out = True
            break
        nit = k
        while True:
            xn = proj_simplex(y - gy / Lk)
            ent.scores(xn, out=sn)
            fn, Rn, _ = ent.evaluate(sn)
            d = xn - y
            quad = fy + nx.scalar(d @ gy) + 0.5 * Lk * nx.scalar(d @ d)
            if fn <= quad + slack * max(1.0, abs(fy)) or Lk >= cap:
                break
            Lk = min(2.0 * Lk, cap)
        history.append(Rn)
        reg_history.append(fn)
        if Rn < best_R:
            best_R, best_x, best_f = Rn, xn, fn
        gap = best_R - best_D
        if restart and fn > fx + slack * max(1.0, abs(fx)):
            t = 1.0  # momentum reset: the next point is xn itself
            beta = 0.0
        else:
            L_next = max(Lk * 0.9, 1e-12)
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * (L_next / Lk) * t * t))
            beta = (t - 1.0) / t_next
            t, Lk = t_next, L_next
        # y = xn + beta (xn - x).  Its scores are linear in y; recomputing them with one
        # matrix-vector product is faster than the three elementwise passes of
        # sn + beta (sn - s(x)) (BLAS streams the tensor on all cores), and exact.
        y = xn + beta * (xn - x)
        if beta == 0.0:
            sy[...] = sn
        else:
            ent.scores(y, out=sy)
        x, fx = xn, fn

    # the soft adversary at the best dual point, as an (N, m) strategy
    s_best = ent.scores(best_y)
    _, _, g_best = ent.evaluate(s_best, grad=True)
    Q = ent.softmax(s_best)
    lower = nx.scalar(nx.min(g_best))
    gap = best_R - lower
    bias = alpha * (nx.scalar(nx.float64(ent.log_m) @ ent.w64) if game._m_valid is not None else math.log(m))
    status, message = final_status("entropic", tol, gap, timed_out, nit, T)
    info = {
        "alpha": alpha,
        "regularized_value": best_f,
        "regularized_history": reg_history,
        "gap_history": gap_history,
        "lipschitz": Lk,
        "lipschitz_cap": cap,
        "bias_bound": bias,
    }
    return Result(
        weights=best_x, value=float(best_R), adversary=Q, gap=float(gap), lower_bound=float(lower),
        adversary_losses=g_best, status=status, message=message, nit=nit,
        time=time.perf_counter() - t0, history=history, method="entropic", info=info,
    )
