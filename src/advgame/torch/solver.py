r"""``MixtureSolver``: the mixture weights of a training loop, updated by the core solvers.

A training loop for a mixture (MNE21, Alg. 2) alternates steps on the members'
parameters with updates of the weights :math:`\lambda \in \Delta_L`.  A weight update
solves the game of the current batch -- either a candidate game, an ``(N, m, L)`` loss
tensor (:func:`advgame.torch.candidate_losses`), or an attack oracle
(:func:`advgame.torch.attack_oracle`, MNE21, Alg. 1) -- warm-started from the current
weights, and returns the solver's :class:`~advgame.Result`: the batch's value and the
certified duality gap of the new weights on that batch.

.. code-block:: python

    solver = MixtureSolver("oracle", mixture, max_iter=100)
    for x, y in loader:
        ...  # member steps
        result = solver.update(candidate_losses(mixture, x, y, PGD(eps=8 / 255)))
        # mixture.weights now holds result.weights; result.gap certifies them on the batch

The solve runs on the weights' device (for a mixture, its members' device); the loss
tensor is moved there.  See ``docs/snippets/mixture_solver.py`` for a complete loop.
"""

from __future__ import annotations

import numbers
import warnings

import torch

from .._validation import (check_array, check_bool, check_choice, check_int, check_real, check_simplex,
                           simplex_tol)
from ..game import Game
from ..solvers import METHODS, _options, _unknown_options_error, solve
from .mixture import Mixture

__all__ = ["MixtureSolver"]

#: Options a MixtureSolver sets itself.
_RESERVED = ("init", "oracle")
_PLAIN = (bool, numbers.Real, str, type(None))


class MixtureSolver:
    r"""Mixture weights kept up to date by :func:`advgame.solve`, for training loops.

    Parameters
    ----------
    method : {"oracle", "entropic", "lp"}
        The solver of each update: MNE21, Alg. 1 (``"oracle"``), FISTA on the entropic
        objective of MNE21, Eq. 7 (``"entropic"``), or the exact LP (``"lp"``; on the
        CPU, the result moved back).  Updates with an attack oracle need ``"oracle"``.
    mixture : Mixture, optional
        Its weights (the buffer ``mixture.weights``) are the solver's weights, and
        every update writes the new ones into it (:meth:`Mixture.set_weights`).
    weights : array_like or torch.Tensor, shape (L,), optional
        Without ``mixture``: the initial weights, on the simplex (default uniform).
    L : int, optional
        Without ``mixture`` and ``weights``: the number of members.  Without any of
        ``mixture``, ``weights`` and ``L``, the first :meth:`update` with a loss tensor
        sets them: ``L`` from its last dimension, uniform weights in its dtype (a
        floating tensor's, else torch's default) on ``device`` or, when ``device`` is
        not given, the tensor's device.  Until then :attr:`weights` and :attr:`L` are
        None, and an ``oracle=`` update (which carries no ``L``) is a ValueError.
    device : str or torch.device, optional
        Without ``mixture``: where the weights live and the solves run (default: the
        device of a ``weights`` tensor, of the first loss tensor when the weights are
        inferred, else the CPU).
    **solver_options
        Passed to :func:`advgame.solve` at every update, e.g. ``max_iter``, ``tol``,
        ``step_size``, ``time_limit``, ``callback`` (``"oracle"``/``"entropic"``),
        ``temperature`` (``"entropic"``).  Checked here, in the constructor: an option
        ``method`` does not take is a TypeError naming it, a bad value a
        ValueError/TypeError naming it.  Warnings of an update (e.g.
        :class:`advgame.SolverWarning`) point at the line that called :meth:`update`.  ``distributed=True`` passes through to the
        solvers (each rank's update sees its own shard of the batch, every sum over
        samples is all-reduced), and the new weights are broadcast from rank 0, so all
        ranks end with identical weights.  ``init`` is set by the solver (the current
        weights: every update is warm-started).

    Attributes
    ----------
    weights : torch.Tensor, shape (L,)
        The current weights (for a mixture, its buffer itself).
    updates : int
        Number of updates done.
    last_result : Result or None
        The result of the latest update.

    Examples
    --------
    >>> import torch, advgame
    >>> from advgame.torch import MixtureSolver
    >>> solver = MixtureSolver("lp", L=2)
    >>> losses = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # one sample, two attacks
    >>> res = solver.update(losses)  # doctest: +SKIP
    >>> solver.weights.tolist(), res.value  # doctest: +SKIP
    ([0.5, 0.5], 0.5)

    References
    ----------
    MNE21, Alg. 1 (oracle updates) and Alg. 2 (the weight step of mixture training);
    MNE21, Eq. 7 (entropic relaxation).
    """

    def __init__(self, method="oracle", mixture=None, *, weights=None, L=None, device=None, **solver_options):
        self.method = check_choice("method", method, METHODS)
        self.options = self._check_options(solver_options)
        self.mixture = None
        self._weights = None
        self._device = None
        if mixture is not None:
            if not isinstance(mixture, Mixture):
                raise TypeError(f"mixture must be an advgame.torch.Mixture; got {type(mixture).__name__}")
            if weights is not None:
                raise ValueError("give the initial weights through the mixture (Mixture(..., weights=)) or weights "
                                 "without a mixture, not both")
            if L is not None and check_int("L", L, 1) != len(mixture):
                raise ValueError(f"L must equal the mixture's number of members ({len(mixture)}); got {L}")
            if device is not None and torch.device(device) != mixture.weights.device:
                raise ValueError(f"device must be the mixture's device ({mixture.weights.device}); got {device}: "
                                 "move the mixture with mixture.to(device)")
            self.mixture = mixture
        else:
            self._device = None if device is None else torch.device(device)
            if weights is None and L is None:  # L, dtype and device from the first update's losses
                self.updates = 0
                self.last_result = None
                return
            if weights is not None:
                if device is None and isinstance(weights, torch.Tensor):
                    device = weights.device
                dtype = weights.dtype if isinstance(weights, torch.Tensor) and weights.is_floating_point() else None
                n = int(check_array(weights, "weights", ndim=1).shape[0])
                if L is not None and check_int("L", L, 1) != n:
                    raise ValueError(f"L must equal len(weights) = {n}; got {L}")
                w = torch.as_tensor(check_simplex(weights, n, "weights", tol=_tol(weights)))
            else:
                n = check_int("L", L, 1)
                w, dtype = torch.full((n,), 1.0 / n, dtype=torch.float64), None
            self._weights = w.to(device=torch.device("cpu" if device is None else device),
                                 dtype=dtype or torch.get_default_dtype())
        self.updates = 0
        self.last_result = None

    # ---------------------------------------------------------------- options
    def _check_options(self, options):
        _check_values(self.method, options)
        for key in _RESERVED:
            if key in options:
                raise TypeError(f"{key}= is set by MixtureSolver ({'the current weights' if key == 'init' else 'pass it to update()'}); "
                                "do not pass it as a solver option")
        opts = dict(options)
        if "distributed" in opts:
            opts["distributed"] = check_bool("distributed", opts["distributed"])
            if opts["distributed"] and self.method == "lp":
                raise ValueError("distributed=True applies to method 'oracle' and 'entropic' (the LP solves one "
                                 "process's game); use one of them, or gather the losses yourself")
        return opts

    # ------------------------------------------------------------- properties
    @property
    def weights(self):
        """The current weights, shape (L,), on :attr:`device` (None until the first
        update when they are inferred)."""
        return self.mixture.weights if self.mixture is not None else self._weights

    @property
    def L(self):
        """The number of members (None until the first update when it is inferred)."""
        return None if self.weights is None else int(self.weights.shape[0])

    @property
    def device(self):
        """Where the weights live and the solves run (before inferred weights exist:
        the ``device`` given, else None)."""
        return self._device if self.weights is None else self.weights.device

    def _infer(self, losses):
        """Uniform weights for ``losses``' L, in its dtype, on ``device`` or its device."""
        n = int(losses.shape[-1])
        dtype = losses.dtype if losses.is_floating_point() else torch.get_default_dtype()
        self._weights = torch.full((n,), 1.0 / n, dtype=dtype, device=self._device or losses.device)

    @property
    def distributed(self) -> bool:
        return bool(self.options.get("distributed", False))

    def __repr__(self) -> str:
        w = "not yet inferred" if self.weights is None else ", ".join(f"{v:.4g}" for v in self.weights.tolist())
        return f"MixtureSolver(method={self.method!r}, weights=[{w}], updates={self.updates}, options={self.options})"

    # ----------------------------------------------------------------- update
    def _set(self, new):
        new = new.detach().to(device=self.device, dtype=self.weights.dtype)
        if self.distributed:
            import torch.distributed as dist

            dist.broadcast(new, src=0)  # identical weights on every rank, bit for bit
        if self.mixture is not None:
            self.mixture.set_weights(new)
        else:
            self._weights = _simplex_tensor(new, self.L)

    def update(self, losses=None, *, oracle=None, mask=None, sample_weights=None, bound=None, **options):
        r"""One weight update on the current batch, warm-started from the current weights.

        Parameters
        ----------
        losses : torch.Tensor, shape (N, m, L), optional
            The batch's candidate game (e.g. :func:`advgame.torch.candidate_losses`):
            ``losses[i, j, k]`` is member ``k``'s loss on candidate ``j`` of sample
            ``i``.  Moved to :attr:`device`.  Solved by ``advgame.solve(Game(losses,
            mask, sample_weights, bound), method=self.method, init=self.weights,
            **options)``.
        oracle : callable, optional
            An attack oracle ``weights -> (L,)`` losses (e.g.
            :func:`advgame.torch.attack_oracle` on the batch): runs MNE21, Alg. 1
            with it (``method="oracle"`` only).  Without ``losses`` the game is a
            placeholder that only carries ``L`` and the loss bound ``M`` (which sets
            Alg. 1's step size): ``bound``, else the oracle's ``bound`` attribute,
            else 1 (0/1 losses).
        mask, sample_weights, bound :
            Passed to :class:`advgame.Game`.
        **options
            Override the solver options of the constructor for this update.

        Returns
        -------
        Result
            The solver's result on this batch: ``weights`` (now also in
            :attr:`weights` and the mixture), ``value``, ``gap`` (certified on the
            batch's candidate game; for an oracle, relative to the oracle's
            responses), ``status``, ``nit``.
        """
        if losses is None and oracle is None:
            raise TypeError("update() needs a loss tensor (N, m, L) or oracle=")
        opts = {**self.options, **self._check_options(options)}
        if self.weights is None:
            if losses is None:
                raise ValueError("this MixtureSolver infers L from its first loss tensor: pass losses, or give "
                                 "L= (or weights=, or a mixture) to the constructor for oracle= updates")
            if not isinstance(losses, torch.Tensor) or losses.ndim != 3 or losses.shape[-1] < 1:
                raise ValueError("losses must be a torch.Tensor of shape (N, m, L) with L >= 1; got "
                                 f"{tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__}")
            self._infer(losses)
        if oracle is not None:
            if not callable(oracle):
                raise TypeError(f"oracle must be callable as oracle(weights) -> (L,) losses; got {type(oracle).__name__}")
            if self.method != "oracle":
                raise ValueError(f"oracle= updates run MNE21 Alg. 1: they need method='oracle'; this solver has "
                                 f"method={self.method!r}")
            opts["oracle"] = oracle
        if losses is not None:
            if not isinstance(losses, torch.Tensor):
                raise TypeError(f"losses must be a torch.Tensor of shape (N, m, L); got {type(losses).__name__}")
            if losses.ndim != 3 or losses.shape[-1] != self.L:
                raise ValueError(f"losses must have shape (N, m, L) with L = {self.L}; got {tuple(losses.shape)}")
            dev = self.device
            game = Game(losses.to(dev), mask=None if mask is None else mask.to(dev) if isinstance(mask, torch.Tensor) else mask,
                        sample_weights=sample_weights, bound=bound)
        else:
            if mask is not None or sample_weights is not None:
                raise ValueError("mask and sample_weights describe a loss tensor; pass losses with them")
            M = bound if bound is not None else getattr(oracle, "bound", None)
            M = 1.0 if M is None else check_real("bound", M, lo=0.0, lo_open=True)
            placeholder = torch.zeros((1, 1, self.L), device=self.device, dtype=self.weights.dtype)
            game = Game(placeholder, bound=M)
        # the warm start renormalized in float64 (a float32 buffer is off the simplex by more than float64's
        # tolerance; the solvers check init in float64 and cast it to the game's dtype)
        init = self.weights.detach().to(dtype=torch.float64).clamp_min(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = solve(game, method=self.method, init=init / init.sum(), **opts)
        for w in caught:  # re-emitted at the caller of update(), through the user's filters
            warnings.warn(w.message, w.category, stacklevel=2)
        if losses is None:
            result.info.pop("game_risk", None)  # the placeholder's risk means nothing
        self._set(torch.as_tensor(result.weights))
        self.updates += 1
        self.last_result = result
        return result

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """The solver's state, loadable with ``torch.load(..., weights_only=True)``.

        Returns
        -------
        dict
            ``weights`` (a CPU tensor), ``method``, ``options`` (those that are plain
            numbers, strings, booleans or None: a ``callback`` is not saved), ``updates``.
        """
        return {
            "weights": self.weights.detach().to("cpu").clone(),
            "method": self.method,
            "options": {k: v for k, v in self.options.items() if isinstance(v, _PLAIN)},
            "updates": self.updates,
        }

    def load_state_dict(self, state) -> "MixtureSolver":
        """Restore a :meth:`state_dict`: weights (written into the mixture), method,
        options (merged over the current ones, so a ``callback`` given to the
        constructor stays) and the update count.

        Returns
        -------
        MixtureSolver
            ``self``.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from MixtureSolver.state_dict(); got {type(state).__name__}")
        missing = {"weights", "method", "options", "updates"} - set(state)
        if missing:
            raise ValueError(f"state is missing {sorted(missing)}; expected MixtureSolver.state_dict()'s keys")
        method = check_choice("state['method']", state["method"], METHODS)
        if not isinstance(state["options"], dict):
            raise TypeError(f"state['options'] must be a dict; got {type(state['options']).__name__}")
        updates = check_int("state['updates']", state["updates"], 0)
        n = self.L
        if n is None:  # weights not inferred yet: the state's
            n = int(check_array(state["weights"], "state['weights']", ndim=1).shape[0])
        w = torch.as_tensor(check_simplex(state["weights"], n, "state['weights']", tol=_tol(state["weights"])))
        old_method = self.method
        self.method = method
        try:
            options = {**self.options, **self._check_options(state["options"])}
        except (TypeError, ValueError):
            self.method = old_method
            raise
        self.options = options
        if self.weights is None:
            dtype = w.dtype if isinstance(state["weights"], torch.Tensor) else torch.get_default_dtype()
            new = w.to(device=self._device or torch.device("cpu"), dtype=dtype)
        else:
            new = w.to(device=self.device, dtype=self.weights.dtype)
        if self.mixture is not None:
            self.mixture.set_weights(new)
        else:
            self._weights = new
        self.updates = updates
        return self


def _check_values(method, options):
    """The solver options of ``method``, checked as :func:`advgame.solve` would at the
    first update: unknown names (TypeError naming them), then the values every method
    shares and the method's own scalars (ValueError/TypeError naming the option)."""
    accepted = _options(method) + _RESERVED
    unknown = [k for k in options if k not in accepted and k != "distributed"]
    if unknown:
        raise _unknown_options_error(method, unknown, _options(method))
    if options.get("max_iter") is not None:
        check_int("max_iter", options["max_iter"], 1)
    for name in ("tol", "time_limit", "temperature", "step_size"):
        if options.get(name) is not None:
            check_real(name, options[name], lo=0, lo_open=True)
    if "verbose" in options:
        check_bool("verbose", options["verbose"])
    cb = options.get("callback")
    if cb is not None and not callable(cb):
        raise TypeError(f"callback must be callable as callback(state) -> bool, or None; got {type(cb).__name__}")


def _simplex_tensor(w, L):
    """``w`` (a tensor) checked to lie on the simplex, returned on its device and dtype."""
    ok = torch.as_tensor(check_simplex(w, L, "weights", tol=_tol(w)))
    return ok.to(device=w.device, dtype=w.dtype)


def _tol(w):
    """The simplex tolerance of ``w``'s dtype (float64 for anything but a float tensor)."""
    if isinstance(w, torch.Tensor) and w.is_floating_point():
        return simplex_tol(w.dtype)
    return simplex_tol()
