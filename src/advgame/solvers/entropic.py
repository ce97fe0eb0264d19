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
forward and one backward pass over the tensor per iteration (plus one forward pass per
backtracking step), each fused with the log-sum-exp over cache-sized blocks of samples.
On a numpy game of at least :data:`advgame._jit.ENTROPIC_MIN_ENTRIES` loss entries the
compiled kernel (:mod:`advgame._kernels_entropic`, numba) makes it one pass per trial
point instead: the pass that evaluates :math:`F_\alpha(x_{k+1})` for the backtracking test
also evaluates :math:`F_\alpha` and the gradient at the next extrapolated point and the
gradient at :math:`x_{k+1}` that a restart needs, each sample's block of the tensor read
once; the iterates are the numpy path's (to about 1e-12 in float64).

The loop is the shared driver's (:mod:`advgame.solvers.driver`): the gradient at the
extrapolated point (whose soft adversary gives the lower bound), the stopping rule,
then one FISTA step; ``nit`` counts the steps taken.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _jit
from .._validation import check_bool, check_real
from ..result import Result
from .driver import (SampleSum, SolverState, certificate64, check_run_options, finish, is_float64, renamed, run,
                     sound, start_weights)

__all__ = ["solve_entropic", "entropic_objective", "EntropicMethod", "EntropicState"]

# entries (samples x attacks) per block of the fused pass: 1 MiB of float64 scores,
# which stays in a core's L2 cache across the max / exp / sum / gradient steps
_BLOCK = 131072


class _Entropic:
    """Buffers and passes for :math:`F_\\alpha` on one game (``alpha``: the temperature)."""

    def __init__(self, view, alpha, reduce):
        self.view = view
        self.nx = nx = view.nx
        self.alpha = alpha
        self.reduce = reduce
        N, m, L = view.shape
        F = view.losses
        self.F2 = F.reshape(L, -1)
        self.N, self.m, self.L = N, m, L
        self.buf = None  # (N, m), made by the first full-size pass (the final soft adversary)
        # samples per cache-sized block on a CPU; one block on an accelerator (one kernel
        # per step rather than one per block and step)
        rows = max(1, min(N, _BLOCK // max(m, 1))) if str(nx.device(F)) == "cpu" else max(N, 1)
        self.blocks = [(i, min(i + rows, N)) for i in range(0, N, rows)]
        self.blk = nx.zeros((rows, m), type_as=F)
        self.w = w = view.sample_weights
        self.neg = view.neg
        self.log_m = nx.log(view.n_valid) if view.n_valid is not None else math.log(m)
        self.w64 = nx.float64(w)
        self.clamp = -700.0 if nx.eps(F) < 1e-10 else -80.0
        # 1.0 on valid attacks, 0.0 on masked ones
        self.valid = None if view.mask is None else nx.astype(view.mask, F)

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
        nx = self.nx
        if self.buf is None:
            self.buf = nx.zeros((self.N, self.m), type_as=self.F2)
        buf = self.buf
        s = s_raw.reshape(self.N, self.m)
        # (in-place ops: numpy's broadcasting subtract with out= is 2-4x slower than -=)
        if self.neg is not None:
            nx.add(s, self.neg, out=buf)
        else:
            buf[...] = s
        mx = nx.max(buf, axis=1)
        buf -= mx[:, None]
        nx.clip_min_(buf, self.clamp)
        nx.exp(buf, out=buf)
        if self.neg is not None:
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
        return self.fused(source=s_raw, grad=grad)

    def fused(self, lam=None, out=None, combo=None, source=None, grad=False):
        """``(F_alpha, R, g or None)`` in one pass over the samples, block by block.

        The scores of each block of samples come from one of: ``lam`` (computed as
        ``(lam / alpha) @ F`` and stored in ``out``), ``combo = (c1, s1, c2, s2)``
        (``c1 s1 + c2 s2``, stored in ``out``: the scores of an extrapolated point, by
        linearity) or ``source`` (given scores).  Max, exp, row sums and, with ``grad``,
        the block's contribution to the gradient are computed while the block is in
        cache, so the N*m scores are read from memory once (and the tensor once per
        matrix-vector product) instead of once per elementwise pass.
        """
        nx, a, F2, m = self.nx, self.alpha, self.F2, self.m
        mx_all = nx.zeros((self.N,), type_as=F2)
        z_all = nx.zeros((self.N,), type_as=F2)
        gk = None
        if lam is not None:
            lam = lam * (1.0 / a)
        for i0, i1 in self.blocks:
            r, lo, hi = i1 - i0, i0 * m, i1 * m
            blk = self.blk[:r]
            flat = blk.reshape(-1)
            if lam is not None:
                s = out[lo:hi]
                nx.matmul(lam, F2[:, lo:hi], out=s)
            elif combo is not None:
                c1, s1, c2, s2 = combo
                s = out[lo:hi]
                s[...] = s1[lo:hi]
                if c1 != 1.0:
                    s *= c1
                if c2 != 0.0:
                    flat[...] = s2[lo:hi]
                    flat *= c2
                    s += flat
            else:
                s = source[lo:hi]
            s = s.reshape(r, m)
            if self.neg is not None:
                nx.add(s, self.neg[i0:i1], out=blk)
            else:
                blk[...] = s
            mx = nx.exp_shift_rows_(blk, self.clamp)
            if self.neg is not None:
                blk *= self.valid[i0:i1]
            z = nx.sum(blk, axis=1)
            mx_all[i0:i1] = mx
            z_all[i0:i1] = z
            if grad:
                blk *= (self.w[i0:i1] / z)[:, None]
                g = nx.float64(F2[:, lo:hi] @ flat)
                gk = g if gk is None else gk + g
        fi = a * (mx_all + nx.log(z_all) - self.log_m)
        f_local = nx.float64(fi) @ self.w64
        R_local = a * (nx.float64(mx_all) @ self.w64)
        if not grad:
            v = self.reduce(nx.stack([f_local, R_local]))
            return nx.scalar(v[0]), nx.scalar(v[1]), None
        v = self.reduce(nx.concatenate([nx.stack([f_local, R_local]), gk]))
        return nx.scalar(v[0]), nx.scalar(v[1]), nx.astype(v[2:], self.F2)


class _Speculative:
    """The compiled pass of FISTA on a numpy game (:mod:`advgame._kernels_entropic`).

    ``pass_(points, grads)`` reads the tensor once for one or two points (FISTA's candidate
    :math:`x_{k+1}` and the next extrapolated point :math:`y_{k+1}`) and returns
    ``(F_alpha, R, gradient or None)`` for each, the same quantities as
    :meth:`_Entropic.fused` at the point's scores, computed from the point itself."""

    def __init__(self, ent, kern):
        F = ent.view.losses
        self.kern, self.F, self.ent = kern, F, ent
        L, N, m = F.shape
        self.C, self.ione = kern.constants(F.dtype)
        self.rows = kern.task_rows(F)
        self.neg = ent.neg if ent.neg is not None else np.zeros((1, 1), dtype=F.dtype)
        self.w64 = np.asarray(ent.w64, dtype=np.float64)
        self.log_m = (np.log(np.asarray(ent.view.n_valid, dtype=np.float64)) if ent.view.n_valid is not None
                      else math.log(m))
        self.mx = np.empty((kern.MAX_POINTS, N))
        self.z = np.empty((kern.MAX_POINTS, N))
        self.G = np.zeros(((N + self.rows - 1) // self.rows, kern.MAX_POINTS, L))

    def pass_(self, points, grads):
        ent, nx, a = self.ent, self.ent.nx, self.ent.alpha
        P = len(points)
        lams = np.stack([p * (1.0 / a) for p in points])  # as the numpy path scales them
        mx, z, G = self.mx[:P], self.z[:P], self.G[:, :P]
        G[...] = 0.0
        self.kern.lse_pass(self.F, lams, self.neg, ent.neg is not None, self.w64, np.array(grads), self.C,
                           self.ione, self.rows, mx, z, G)
        out = []
        for v in range(P):
            f_local = (a * (mx[v] + np.log(z[v]) - self.log_m)) @ self.w64
            R_local = a * (mx[v] @ self.w64)
            if not grads[v]:
                u = ent.reduce(np.array([f_local, R_local]))
                out.append((nx.scalar(u[0]), nx.scalar(u[1]), None))
            else:
                u = ent.reduce(np.concatenate([[f_local, R_local], G[:, v].sum(axis=0)]))
                out.append((nx.scalar(u[0]), nx.scalar(u[1]), nx.astype(u[2:], self.F)))
        return out


@dataclass(eq=False)
class EntropicState(SolverState):
    """:class:`~advgame.solvers.driver.SolverState` of FISTA on :math:`F_\\alpha`.

    ``weights`` is FISTA's point :math:`x_k`; the gradient is taken at the extrapolated
    point ``y`` (scores ``sy``, formed from ``sy_combo = (c1, s1, c2, s2)`` as
    ``c1 s1 + c2 s2``: the cached scores ``sx`` of :math:`x_k` and those of
    :math:`x_{k-1}`), whose soft adversary gives ``lower_bound``; ``Lk`` is the
    Lipschitz estimate, ``t`` the momentum parameter, ``fx`` / ``fy`` the values of
    :math:`F_\\alpha`, ``best_y`` the extrapolated point with the highest :math:`D(Q)`,
    ``best_f`` :math:`F_\\alpha` at ``best_weights``.

    On the compiled path (a numpy game, :func:`advgame._jit.entropic_kernels`) no score
    vectors are kept (``sy``, ``sn``, ``sx``, ``sy_combo`` are None): the pass that tests
    :math:`x_{k+1}` also evaluates the next ``y``, and ``pending`` holds its
    ``(fy, gy)`` until the next evaluation."""

    y: Any = None
    sy: Any = None
    sn: Any = None
    sx: Any = None
    sy_combo: Any = None
    gy: Any = None
    fx: float = math.inf
    fy: float = math.inf
    t: float = 1.0
    Lk: float = math.inf
    best_y: Any = None
    best_f: float = math.inf
    reg_history: list = field(default_factory=list)
    pending: Any = None


class EntropicMethod:
    """FISTA on MNE21 Eq. 7 as ``init`` / ``evaluate`` / ``step`` on an
    :class:`EntropicState` (backtracking, step-size increase, function-value restart)."""

    def __init__(self, view, temperature, reduce, restart=True, kern=None):
        self.view, self.nx = view, view.nx
        self.ent = _Entropic(view, temperature, reduce)
        # the compiled speculative pass (one read of the tensor per iteration), or None
        self.fast = None if kern is None else _Speculative(self.ent, kern)
        self.restart = restart
        N, m, L = view.shape
        M = view.bound
        # tolerance of the descent and restart tests: far above the rounding noise of F_alpha
        # (so numpy and torch take the same branches), far below any meaningful decrease
        self.slack = max(1e-12, 1e3 * self.nx.eps(view.losses))
        self.cap = M * M * L / (4 * temperature)

    def init(self, weights) -> EntropicState:
        ent, nx = self.ent, self.nx
        if self.fast is not None:  # y = x at the start: F_alpha, R and the gradient in one pass
            ((fx, Rx, gx),) = self.fast.pass_([weights], [True])
            return EntropicState(weights=weights, best_weights=weights, value=Rx, history=[Rx], y=weights,
                                 fx=fx, Lk=self.cap / 64, best_y=weights, best_f=fx, reg_history=[fx],
                                 pending=(fx, gx))
        sx = nx.zeros((ent.N * ent.m,), type_as=ent.F2)
        fx, Rx, _ = ent.fused(lam=weights, out=sx)
        # y = x at the start: its scores are formed (copied) in the first evaluation
        return EntropicState(weights=weights, best_weights=weights, value=Rx, history=[Rx], y=weights,
                             sy=nx.empty_like(sx), sn=nx.empty_like(sx), sx=sx, sy_combo=(1.0, sx, 0.0, sx),
                             fx=fx, Lk=self.cap / 64, best_y=weights, best_f=fx, reg_history=[fx])

    def evaluate(self, st: EntropicState) -> None:
        # the extrapolated point's scores c1 s(x_k) + c2 s(x_{k-1}) (linear in the point: no
        # pass over the tensor for them), formed block by block inside the fused pass; on the
        # compiled path the last step's pass has evaluated y already
        if st.pending is not None:
            (st.fy, st.gy), st.pending = st.pending, None
        else:
            st.fy, _, st.gy = self.ent.fused(combo=st.sy_combo, out=st.sy, grad=True)
        D = self.nx.scalar(self.nx.min(st.gy))
        if D > st.lower_bound:
            st.lower_bound, st.best_y = D, st.y
        st.gap = st.value - st.lower_bound

    def _accepted(self, xn, fn, y, fy, gy, Lk) -> bool:
        """The backtracking test of a trial point ``xn`` (value ``fn``) from ``y``: ``F`` below
        its quadratic model at ``y`` with curvature ``Lk`` (up to the slack), or ``Lk`` at its cap."""
        nx = self.nx
        d = xn - y
        quad = fy + nx.scalar(d @ gy) + 0.5 * Lk * nx.scalar(d @ d)
        return fn <= quad + self.slack * max(1.0, abs(fy)) or Lk >= self.cap

    @staticmethod
    def _record(st, xn, fn, Rn) -> None:
        """An accepted iterate: its risk and objective in the histories, the best weights so far."""
        st.history.append(Rn)
        st.reg_history.append(fn)
        if Rn < st.value:
            st.value, st.best_weights, st.best_f = Rn, xn, fn
        st.gap = st.value - st.lower_bound

    def step(self, st: EntropicState) -> None:
        if self.fast is not None:
            return self._step_speculative(st)
        nx, ent, slack, cap = self.nx, self.ent, self.slack, self.cap
        y, gy, fy, Lk, sn = st.y, st.gy, st.fy, st.Lk, st.sn
        while True:
            xn = nx.proj_simplex(y - gy / Lk)
            fn, Rn, _ = ent.fused(lam=xn, out=sn)  # scores of xn into sn, F_alpha and R in one pass
            if self._accepted(xn, fn, y, fy, gy, Lk):
                break
            Lk = min(2.0 * Lk, cap)
        self._record(st, xn, fn, Rn)
        t = st.t
        if self.restart and fn > st.fx + slack * max(1.0, abs(st.fx)):
            t = 1.0  # momentum reset: the next point is xn itself
            beta = 0.0
        else:
            L_next = max(Lk * 0.9, 1e-12)
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * (L_next / Lk) * t * t))
            beta = (t - 1.0) / t_next
            t, Lk = t_next, L_next
        # y = xn + beta (xn - x), so s(y) = (1 + beta) s(xn) - beta s(x): the next
        # evaluation forms it from the two cached score vectors
        st.y = xn + beta * (xn - st.weights)
        st.sy_combo = (1.0 + beta, sn, -beta, st.sx)
        st.sx, st.sn = sn, st.sx  # the old s(x) buffer is reused after the evaluation has read it
        st.weights, st.fx, st.t, st.Lk = xn, fn, t, Lk


    def _step_speculative(self, st: EntropicState) -> None:
        """:meth:`step` with one compiled pass per trial point: the pass that evaluates the
        candidate ``xn`` (the backtracking test) also evaluates the next extrapolated point
        ``xn + beta (xn - x)`` for the momentum ``beta`` that accepting ``xn`` gives, and the
        gradient at ``xn`` that a restart (``beta = 0``) needs.  Same iterates as :meth:`step`
        (the scores of ``y`` come from ``y`` rather than from two cached score vectors)."""
        nx, slack, cap = self.nx, self.slack, self.cap
        y, gy, fy, Lk, x, t = st.y, st.gy, st.fy, st.Lk, st.weights, st.t
        while True:
            xn = nx.proj_simplex(y - gy / Lk)
            # the momentum if xn is accepted and the momentum not reset (as below)
            L_next = max(Lk * 0.9, 1e-12)
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * (L_next / Lk) * t * t))
            beta = (t - 1.0) / t_next
            if beta != 0.0:
                y_next = xn + beta * (xn - x)
                (fn, Rn, gn), (f_next, _, g_next) = self.fast.pass_([xn, y_next], [self.restart, True])
            else:
                ((fn, Rn, gn),) = self.fast.pass_([xn], [True])
            if self._accepted(xn, fn, y, fy, gy, Lk):
                break
            Lk = min(2.0 * Lk, cap)
        self._record(st, xn, fn, Rn)
        if self.restart and fn > st.fx + slack * max(1.0, abs(st.fx)):
            t = 1.0  # momentum reset: the next point is xn itself
            st.y = xn + 0.0 * (xn - x)
            st.pending = (fn, gn)
        else:
            t, Lk = t_next, L_next
            if beta != 0.0:
                st.y, st.pending = y_next, (f_next, g_next)
            else:
                st.y, st.pending = xn + beta * (xn - x), (fn, gn)
        st.weights, st.fx, st.t, st.Lk = xn, fn, t, Lk

def _temperature(view, name, value):
    """A temperature valid for this game: positive, and neither so small that the
    scores ``loss / temperature`` nor so large that the first step ``256 temperature /
    (M L)`` overflow the game's dtype."""
    a = check_real(name, value, lo=0, lo_open=True)
    nx, F = view.nx, view.losses
    N, m, L = view.shape
    M = view.bound
    big = 1e-3 * nx.dtype_max(F)
    lo, hi = M / big, big * M * L / 256
    if not lo <= a <= hi:
        raise ValueError(f"{name} must lie in [{lo:.3g}, {hi:.3g}] for this game (beyond, the scores or steps "
                         f"overflow {nx.dtype_name(F)}); got {a:g}")
    return a


def entropic_objective(game, weights, temperature=None, *, alpha=None) -> float:
    r""":math:`F_\alpha(\lambda)` of MNE21, Eq. 7 (with sample weights), for checks.

    ``temperature`` is :math:`\alpha`; ``alpha=`` is its deprecated name."""
    name, temperature = renamed("entropic_objective", "temperature", temperature, "alpha", alpha, None)
    if temperature is None:
        raise TypeError("entropic_objective() needs temperature=")
    view = game.view()
    temperature = _temperature(view, name, temperature)
    lam = view.check_weights(weights)
    ent = _Entropic(view, temperature, SampleSum(view, False))
    return ent.evaluate(ent.scores(lam))[0]


def solve_entropic(game, temperature=None, max_iter=None, tol=None, distributed: bool = False, time_limit=None,
                   restart: bool = True, *, init=None, callback=None, alpha=None,
                   steps=None, verbose=False):
    r"""Accelerated projected gradient (FISTA) on the entropic objective, MNE21 Eq. 7.

    Parameters
    ----------
    game : Game
        numpy or torch (any device, float32 or float64).
    temperature : float, optional
        Temperature :math:`\alpha > 0` of the entropic regularization.  Default
        ``1e-3 * M``.  The answer is biased by at most :math:`\alpha\log m`
        (module docstring), so choose ``temperature <= target_gap / log(m)``.
    max_iter : int
        Maximum number of iterations (FISTA steps).  Default 500.
    tol : float, optional
        Stop when the certified duality gap (best iterate's true risk minus the best
        soft adversary's :math:`D(Q)`) is at most ``tol``; checked every iteration at
        no extra cost.
    distributed : bool
        All-reduce every sum over samples across ``torch.distributed`` ranks.
    time_limit : float, optional
        Seconds.
    restart : bool
        Function-value restart of the momentum (O'Donoghue & Candès 2015).
    init : array (L,), optional
        Warm start: FISTA's first point (weights on the simplex, up to
        ``max(1e-9, 1000 eps)`` of the dtype, the simplex tolerance); default uniform.
    callback : callable, optional
        ``callback(state) -> bool`` called after each gradient evaluation with the
        :class:`EntropicState` (``nit``, ``weights``, ``best_weights``, ``value``,
        ``lower_bound``, ``gap``, ``elapsed``); returning True stops the run with
        status ``"callback"``.
    alpha : float, optional
        Deprecated name of ``temperature`` (DeprecationWarning).
    steps : int, optional
        Deprecated name of ``max_iter`` (DeprecationWarning).
    verbose : bool
        Show a tqdm progress bar on stderr over the ``max_iter`` iterations, with the
        certified gap of the last evaluation; the result is the same either way.

    Returns
    -------
    Result
        ``weights``: the iterate with the lowest true risk; ``value``: that risk
        :math:`R(\lambda)`; ``adversary``: the soft adversary (per-sample softmax of the
        scores at the temperature) with the highest :math:`D(Q)` met; ``history``:
        :math:`R(\lambda_k)` of the starting point and after each step;
        ``info["regularized_value"]``: :math:`F_\alpha(\text{weights})`;
        ``info["regularized_history"]``, ``info["gap_history"]`` (certified gap at each
        gradient evaluation), ``info["lipschitz"]`` (final estimate),
        ``info["bias_bound"]`` (:math:`\alpha\log m`), ``info["temperature"]`` (also
        ``info["alpha"]``).  ``value``, ``lower_bound`` and ``gap`` are float64
        evaluations on the game (for a float32 game too), with ``gap >= 0``.

    Raises
    ------
    TypeError, ValueError
        For a wrong argument, naming it; a temperature so small or so large that the
        scores or the steps would overflow the game's dtype is a ValueError.

    References
    ----------
    MNE21, Eq. 7, Prop. 3 and 5, Sec. 4.2 (accelerated PGD); Beck & Teboulle (2009),
    FISTA; Scheinberg, Goldfarb & Bai (2014); O'Donoghue & Candès (2015).
    """
    t0 = time.perf_counter()
    tname, temperature = renamed("solve_entropic", "temperature", temperature, "alpha", alpha, None)
    name, max_iter = renamed("solve_entropic", "max_iter", max_iter, "steps", steps, 500)
    T, tol, time_limit = check_run_options(name, max_iter, tol, time_limit, callback)
    verbose = check_bool("verbose", verbose)
    restart = check_bool("restart", restart)
    view = game.view()
    nx = view.nx
    alpha = 1e-3 * view.bound if temperature is None else _temperature(view, tname, temperature)
    reduce = SampleSum(view, distributed)
    F = view.losses
    kern = (_jit.entropic_kernels(F.size) if isinstance(F, np.ndarray) and F.dtype in (np.float32, np.float64)
            else None)
    method = EntropicMethod(view, alpha, reduce, restart, kern)
    state = method.init(start_weights(view, init))
    reason = run(method, state, max_iter=T, tol=tol, time_limit=time_limit, callback=callback, t0=t0,
                 verbose=verbose, label="solve(method='entropic')")

    # the soft adversary at the best dual point, as an (N, m) strategy
    ent = method.ent
    s_best = ent.scores(state.best_y)
    _, _, g_best = ent.evaluate(s_best, grad=True)
    Q = ent.softmax(s_best)
    value, lower = state.value, nx.scalar(nx.min(g_best))
    if not is_float64(view):  # the certificate of a low-precision game, in float64
        value, losses64 = certificate64(view, state.best_weights, Q, reduce)
        lower, g_best = nx.scalar(nx.min(losses64)), nx.astype(losses64, view.losses)
    value, lower, gap = sound(value, lower)
    N, m, L = view.shape
    bias = alpha * (nx.scalar(nx.float64(ent.log_m) @ ent.w64) if view.n_valid is not None else math.log(m))
    status, message = finish("entropic", reason, tol, gap, state.nit, T, name)
    info = {
        "temperature": alpha,
        "alpha": alpha,
        "regularized_value": state.best_f,
        "regularized_history": state.reg_history,
        "gap_history": state.gap_history,
        "lipschitz": state.Lk,
        "lipschitz_cap": method.cap,
        "bias_bound": bias,
    }
    return Result(
        weights=state.best_weights, value=value, adversary=Q, gap=gap, lower_bound=lower,
        adversary_losses=g_best, status=status, message=message, nit=state.nit,
        time=time.perf_counter() - t0, history=state.history, method="entropic", info=info,
    )
