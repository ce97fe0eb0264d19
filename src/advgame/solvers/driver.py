r"""The one iteration driver of the first-order solvers.

Both first-order methods, MNE21 Alg. 1 (:mod:`advgame.solvers.oracle`) and FISTA on
the entropic objective of MNE21 Eq. 7 (:mod:`advgame.solvers.entropic`), are written as
a *method*: an object with three functions on an explicit :class:`SolverState`, in the
manner of optax's ``init`` / ``update`` pairs (the update is split in two so that the
stopping rule sees the certificate of the current point before the step):

``method.init(weights) -> state``
    the state at the starting weights (uniform, or the warm start ``init=``);
``method.evaluate(state)``
    one oracle / gradient evaluation at the current point, which updates the
    certificate: ``state.value`` (lowest risk met), ``state.lower_bound`` (highest
    :math:`D(Q)` met) and ``state.gap``;
``method.step(state)``
    one weight update (``state.nit`` is then raised by the driver);
``method.result(state) -> dict``
    the weights, the adversary and the method's extras for the :class:`Result`.

:func:`run` loops over them with the single stopping rule shared by every method, and
:func:`finish` is the one place that turns the way a run ended into a status, a message
and (where the user must act) a :class:`~advgame.result.SolverWarning`:

* ``optimal``: the certified gap is at most ``tol``;
* ``time_limit``: ``time_limit`` seconds passed first (warning);
* ``callback``: ``callback(state)`` returned True (no warning: the user asked);
* ``max_steps``: ``max_iter`` iterations ran without reaching ``tol`` (warning);
* ``steps_completed``: ``max_iter`` iterations ran and no ``tol`` was given;
* ``optimal_inaccurate``: a low-precision (float32) run met ``tol`` on its own
  arithmetic but the float64 certificate is looser (warning).

``nit`` counts completed iterations (weight updates) in every method.  The certificate
a :class:`Result` reports is computed in float64 on the game itself
(:func:`certificate64`), and ``lower_bound <= value`` holds as reported, so the gap is
never negative.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from .._validation import check_bool, check_int, check_real
from ..result import CALLBACK, MAX_STEPS, OPTIMAL, OPTIMAL_INACCURATE, STEPS_COMPLETED, TIME_LIMIT, SolverWarning

__all__ = ["SolverState", "SampleSum", "run", "finish", "certificate64", "renamed", "check_run_options",
           "start_weights", "sound", "is_float64", "progress_bar"]

#: Bytes of float64 loss rows converted at once by :func:`certificate64`.
_CHUNK_BYTES = 1 << 22


@dataclass(eq=False)
class SolverState:
    """What a first-order solver knows after each evaluation; passed to ``callback``.

    Attributes
    ----------
    weights : array (L,)
        The current iterate (the point the next step starts from).
    nit : int
        Completed iterations (weight updates) so far.
    best_weights : array (L,)
        The iterate with the lowest risk met so far (what the solver returns).
    value : float
        Its risk :math:`R(\\lambda)` (an upper bound on the game's value).
    lower_bound : float
        The highest :math:`D(Q)` of the adversaries met so far (a lower bound).
    gap : float
        ``value - lower_bound``, the certified duality gap of the pair.
    elapsed : float
        Seconds since the solver started.
    history : list of float
        The risk of each evaluated iterate (see each method).
    gap_history : list of float
        The certified gap after each evaluation.

    Method-specific buffers live in the subclasses (``OracleState``,
    ``EntropicState``); treat the state as read-only in a callback.
    """

    weights: Any
    nit: int = 0
    best_weights: Any = None
    value: float = math.inf
    lower_bound: float = -math.inf
    gap: float = math.inf
    elapsed: float = 0.0
    history: list = field(default_factory=list)
    gap_history: list = field(default_factory=list)


class SampleSum:
    """Turns a rank's sums over its own samples into sums over all samples.

    Without ``distributed`` it is the identity.  With it, each rank's game holds a
    shard of the samples with weights normalized by the shard's total; multiplying by
    ``local_total / global_total`` and all-reducing (:meth:`NumpyBackend.all_reduce`)
    gives the sum over all samples with weights normalized by the global total, so
    shards may be unequal.
    """

    def __init__(self, view, distributed: bool):
        self.distributed = check_bool("distributed", distributed)
        self.nx = nx = view.nx
        self.scale = 1.0
        if not self.distributed:
            return
        try:
            import torch.distributed as dist
        except ImportError:  # pragma: no cover - torch missing
            raise ValueError("distributed=True needs torch.distributed (install torch)") from None
        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError(
                "distributed=True needs an initialized torch.distributed process group "
                "(call torch.distributed.init_process_group first)"
            )
        local = view.weight_total
        total = nx.all_reduce(nx.float64(nx.zeros((1,), type_as=view.sample_weights)) + local)
        self.scale = local / nx.scalar(total[0])

    def __call__(self, vec):
        """Sum ``vec`` (an array of local weighted sums) over ranks."""
        if not self.distributed:
            return vec
        return self.nx.all_reduce(vec, self.scale)


# ---------------------------------------------------------------- arguments
def renamed(func, new, new_value, old, old_value, default):
    """``(name, value)`` of an argument that has a deprecated spelling ``old``.

    Passing ``old`` emits a :class:`DeprecationWarning`; passing both is a
    :class:`TypeError`.  The name returned is the one the user wrote (for messages).
    """
    if old_value is None:
        return new, default if new_value is None else new_value
    if new_value is not None:
        raise TypeError(f"{func}: got both {new}= and {old}= (the deprecated name of {new}); pass {new}= only")
    warnings.warn(f"{func}: {old}= is deprecated; use {new}= (same meaning)", DeprecationWarning, stacklevel=4)
    return old, old_value


def check_run_options(max_iter_name, max_iter, tol, time_limit, callback):
    """Validate the options every first-order solver shares; returns them converted."""
    max_iter = check_int(max_iter_name, max_iter, 1)
    tol = check_real("tol", tol, lo=0, lo_open=True, allow_none=True)
    time_limit = check_real("time_limit", time_limit, lo=0, lo_open=True, allow_none=True)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(state) -> bool, or None; got "
                        f"{type(callback).__name__}")
    return max_iter, tol, time_limit


def start_weights(view, init):
    """The first iterate: uniform, or the warm start ``init`` (validated against the
    simplex tolerance, then clipped at zero and renormalized; a copy)."""
    nx, F = view.nx, view.losses
    L = view.shape[2]
    if init is None:
        return nx.full((L,), 1.0 / L, type_as=F)
    lam = nx.clip_min(view.check_weights(init, "init"), 0.0)
    return lam / nx.sum(lam)


# ---------------------------------------------------------------- the loop
def run(method, state, *, max_iter, tol, time_limit, callback, t0, verbose=False, label="solve"):
    """Iterate ``method`` from ``state`` until the stopping rule holds.

    Each iteration evaluates the current point (certificate), then stops on the first
    of: gap <= ``tol``; ``time_limit`` exceeded; ``callback(state)`` true; else it
    steps and counts one completed iteration.  Before evaluating, it stops when
    ``max_iter`` iterations are complete.  Returns why it stopped: ``"tol"``,
    ``"time"``, ``"callback"`` or ``"max_iter"``.

    With ``verbose`` a tqdm progress bar on stderr (titled ``label``) counts the
    iterations out of ``max_iter`` and shows the certified gap of the last evaluation;
    the iterates are the same with and without it.
    """
    bar = progress_bar(max_iter, label) if verbose else None
    try:
        while True:
            if state.nit >= max_iter:
                return "max_iter"
            method.evaluate(state)
            state.gap_history.append(state.gap)
            state.elapsed = time.perf_counter() - t0
            if bar is not None:
                bar.set_postfix_str(f"gap={state.gap:.3e}", refresh=False)
            if tol is not None and state.gap <= tol:
                return "tol"
            if time_limit is not None and state.elapsed > time_limit:
                return "time"
            if callback is not None and callback(state):
                return "callback"
            method.step(state)
            state.nit += 1
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def progress_bar(total, label):
    """A tqdm bar on stderr over ``total`` iterations (the ``verbose=True`` display)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="it", file=sys.stderr, dynamic_ncols=True)


def finish(method_name, reason, tol, gap, nit, max_iter, max_iter_name="max_iter"):
    """Status and message of a first-order run that ended for ``reason`` with the
    (float64) certified ``gap``; warns with :class:`SolverWarning` where the user must act.
    """
    if tol is not None and gap <= tol:
        return OPTIMAL, f"certified duality gap {gap:.3e} <= tol={tol:.1e} after {nit} iterations"
    if reason == "callback":
        msg = f"callback asked to stop after {nit} iterations; certified duality gap {gap:.3e}"
        return CALLBACK, msg
    if reason == "time":
        status, msg = TIME_LIMIT, f"time limit reached after {nit} iterations with duality gap {gap:.3e}"
    elif reason == "tol":
        status, msg = OPTIMAL_INACCURATE, (
            f"the iterates met tol={tol:.1e} in the game's precision after {nit} iterations, but the float64 "
            f"certificate is {gap:.3e}: use a float64 game or loosen tol")
    elif tol is not None:
        status, msg = MAX_STEPS, (f"{max_iter_name}={max_iter} iterations did not reach tol={tol:.1e}: certified "
                                  f"duality gap {gap:.3e}; raise {max_iter_name} or loosen tol")
    else:
        return STEPS_COMPLETED, f"ran {nit} iterations; certified duality gap {gap:.3e}"
    warnings.warn(f"solve(method={method_name!r}): {status}: {msg}", SolverWarning, stacklevel=4)
    return status, msg


# ---------------------------------------------------------- the certificate
def certificate64(view, weights, adversary, reduce):
    r"""``(R(weights), losses)`` in float64 from the game's own tensor.

    ``R`` is the adversarial risk :math:`\sum_i w_i \max_j \ell_{ij\cdot}^\top\lambda`
    of ``weights`` as they are (a float32 vector summing to 1 + 1e-7 is not renormalized;
    sample weights are renormalized in float64), and at least the risk of the mixture they
    stand for (``weights / sum(weights)``) and the risk the game computes for them in its
    own dtype (``game.risk(weights)``); ``losses`` (float64, shape (L,)) each
    classifier's expected loss under ``adversary`` (rows renormalized in float64;
    ``None`` when ``adversary`` is None),
    so that :math:`D(Q) = \min_k` ``losses[k]``.  The tensor is converted to float64 in
    chunks of samples (4 MiB at a time: cache-sized; the whole certificate costs about
    four float32 passes over the tensor); every sum goes through ``reduce``.
    """
    nx, F = view.nx, view.losses
    N, m, L = view.shape
    lam = nx.float64(weights)  # as returned, not renormalized: a float32 sum of 1 + 1e-7 counts
    w = nx.float64(view.sample_weights)
    w = w / nx.sum(w)  # a float32 game's normalized weights sum to 1 only to ~1e-7
    neg = view.neg
    chunk = max(1, _CHUNK_BYTES // (8 * L * max(m, 1)))
    R = nx.zeros((1,), type_as=lam)
    losses = None if adversary is None else nx.zeros((L,), type_as=lam)
    for a in range(0, N, chunk):
        b = min(N, a + chunk)
        Fc = nx.float64(F[:, a:b, :]).reshape(L, -1)
        s = (lam @ Fc).reshape(b - a, m)
        if neg is not None:
            s = s + nx.float64(neg[a:b])
        R = R + nx.max(s, axis=1) @ w[a:b]
        if adversary is not None:
            Q = nx.float64(adversary[a:b])
            Q = Q * (w[a:b] / nx.sum(Q, axis=1))[:, None]
            losses = losses + Fc @ Q.reshape(-1)
    # the risk as the game's own arithmetic computes it for these weights (game.risk): the
    # value reported is at least that, so it describes the weights in their dtype
    own = (view.sample_weights @ nx.max(view.scores(weights), axis=1)).reshape(1)
    own = float(nx.scalar(reduce(own)[0]))
    total = nx.scalar(nx.sum(lam))  # R is positively homogeneous: R(lam / total) = R(lam) / total
    if losses is None:
        R = nx.scalar(reduce(R)[0])
        return max(R, R / total, own), None
    v = reduce(nx.concatenate([R, losses]))
    R = nx.scalar(v[0])
    return max(R, R / total, own), v[1:]


def sound(value, lower):
    """``(value, lower, gap)`` with ``lower <= value`` enforced: both are float64
    evaluations of quantities with :math:`D(Q) \\le R(\\lambda)`, so a negative gap can
    only be rounding (of the order of 1e-16), and is reported as 0."""
    value, lower = float(value), float(lower)
    lower = min(lower, value)
    return value, lower, value - lower


def is_float64(view) -> bool:
    """True when the game computes in float64 (its own certificate is then float64)."""
    return view.nx.dtype_name(view.losses) == "float64"
