r"""A finite mixture of classifiers as one ``nn.Module``.

A mixture (RM20, Sec. 3; MNE21, Sec. 4.2) is a list of ``L`` classifiers
:math:`h_1, \dots, h_L` with weights :math:`\lambda \in \Delta_L`.  Deployed, it
draws member :math:`k` with probability :math:`\lambda_k` for every query
(:meth:`Mixture.sample`).  What the defender and the adversary care about is the
*expectation* over that draw, and for a finite mixture it is exact -- no Monte Carlo:

.. math::

    p_\lambda(c \mid x) = \sum_k \lambda_k\, \operatorname{softmax}(h_k(x))_c,
    \qquad
    \operatorname{acc}_\lambda(x, y) = \sum_k \lambda_k\, 1[\arg\max_c h_k(x)_c = y].

:meth:`Mixture.forward` returns the first, :meth:`Mixture.expected_accuracy` the
second (RM20, Sec. 6, "we give the exact expected accuracy").

Members with the same architecture are evaluated together: their parameters are
stacked (:func:`torch.func.stack_module_state`) and one ``vmap``-ed functional call
gives all ``L`` outputs (see ``benchmarks/bench_torch_attacks.py`` for when that is
faster than a loop).
"""

from __future__ import annotations

import time
import warnings

import torch
from torch import nn

__all__ = ["Mixture", "as_mixture"]

_VECTORIZE = ("auto", True, False)


def _check_models(models):
    if isinstance(models, nn.Module) and not isinstance(models, nn.ModuleList):
        raise TypeError(
            "models must be a sequence of nn.Module (the mixture's members); "
            f"got a single {type(models).__name__}: wrap it as [model]"
        )
    try:
        models = list(models)
    except TypeError:
        raise TypeError(f"models must be a sequence of nn.Module; got {type(models).__name__}") from None
    if len(models) == 0:
        raise ValueError("models must hold at least one nn.Module; got an empty sequence")
    for k, m in enumerate(models):
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{k}] must be an nn.Module; got {type(m).__name__}")
    return models


def _module_device(module, default=None):
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return default if default is not None else torch.device("cpu")


def _check_weights(weights, L, device, dtype=None):
    """Validate mixture weights: shape (L,), finite, on the simplex (then renormalized).

    Validation runs in float64; the result has ``dtype`` (default: the input's
    floating dtype for a tensor, else torch's default dtype) and lives on ``device``.
    """
    if weights is None:
        return torch.full((L,), 1.0 / L, device=device, dtype=dtype or torch.get_default_dtype())
    if isinstance(weights, torch.Tensor):
        if weights.is_complex() or not (weights.is_floating_point() or weights.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"weights must be real numbers; got dtype {weights.dtype}")
        target = dtype or (weights.dtype if weights.dtype in (torch.float32, torch.float64) else torch.get_default_dtype())
        w = weights.detach().to(device="cpu", dtype=torch.float64)
    else:
        try:
            w = torch.as_tensor(weights, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"weights must be a sequence of L={L} real numbers; got {weights!r}") from None
        target = dtype or torch.get_default_dtype()
    if tuple(w.shape) != (L,):
        raise ValueError(f"weights must have shape (L,) = ({L},), one weight per member; got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"weights must be finite; got {w.tolist()}")
    tol = 1e-5 * max(1, L)
    lo = float(w.min())
    total = float(w.sum())
    if lo < -tol or abs(total - 1.0) > tol:
        raise ValueError(
            "weights must lie on the probability simplex (non-negative, summing to 1); "
            f"got min {lo:.3g} and sum {total:.9g}"
        )
    w = w.clamp_min(0)
    return (w / w.sum()).to(device=device, dtype=target)


def _same_architecture(models) -> bool:
    """True when every member has the first member's type, parameters and buffers."""
    first = models[0]

    def signature(m):
        return (
            type(m),
            tuple((n, tuple(p.shape), p.dtype, p.device) for n, p in m.named_parameters()),
            tuple((n, tuple(b.shape), b.dtype, b.device) for n, b in m.named_buffers()),
        )

    sig = signature(first)
    if not sig[1]:  # nothing to stack: a loop is as good
        return False
    return all(signature(m) == sig for m in models[1:])


class Mixture(nn.Module):
    r"""A mixture of ``L`` classifiers with weights on the simplex.

    Parameters
    ----------
    models : sequence of nn.Module
        The members :math:`h_k`; each maps a batch ``(B, *input_shape)`` to logits
        ``(B, C)`` (the same ``C`` for all).  They are registered as submodules
        (``mixture.members``), so ``mixture.to(device)`` moves them.
    weights : array_like or torch.Tensor, shape (L,), optional
        :math:`\lambda`, non-negative and summing to one (up to ``1e-5 L``; then
        renormalized).  Default: uniform.  Stored as the buffer ``weights``, so it is
        part of ``state_dict``.
    vectorize : {"auto", True, False}
        How the members are evaluated.  ``"auto"``: together with
        ``torch.func.vmap`` when all members share one architecture (same class,
        parameter and buffer names, shapes and dtypes) and the mixture is in eval
        mode; the first such call checks the vmapped output against a plain loop and
        falls back to the loop (with a warning) if they differ or vmap fails.
        ``True``: always vmap in eval mode (errors propagate).  ``False``: always loop.

    Notes
    -----
    The stacked copy of the members' parameters used by vmap is cached and rebuilt
    whenever a member's parameter or buffer changes (in place, by an optimizer step,
    or by ``.to()``), so training the members between calls is safe.  When gradients
    with respect to the members' parameters are needed (grad mode on and some
    parameter ``requires_grad``), :meth:`member_logits` stacks the live parameters
    differentiably instead.

    References
    ----------
    RM20, Sec. 3 (mixtures of classifiers) and Sec. 6 (exact expected accuracy);
    MNE21, Sec. 4.2 (finite mixtures :math:`\lambda \in \Delta_L`).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from advgame.torch import Mixture
    >>> _ = torch.manual_seed(0)
    >>> mix = Mixture([nn.Linear(4, 3), nn.Linear(4, 3)], weights=[0.25, 0.75])
    >>> x = torch.rand(5, 4)
    >>> mix(x).shape, bool(torch.allclose(mix(x).sum(1), torch.ones(5)))
    (torch.Size([5, 3]), True)
    """

    def __init__(self, models, weights=None, *, vectorize="auto"):
        super().__init__()
        models = _check_models(models)
        if vectorize not in _VECTORIZE or isinstance(vectorize, int) and not isinstance(vectorize, bool):
            raise ValueError(f"vectorize must be one of {_VECTORIZE}; got {vectorize!r}")
        self.members = nn.ModuleList(models)
        device = _module_device(models[0])
        self.register_buffer("weights", _check_weights(weights, len(models), device))
        self.vectorize = vectorize
        self._same_arch = _same_architecture(models)
        self._vmap_checked = vectorize is True
        self._vmap_ok = True
        self._stack_key = None
        self._stack = None
        #: in "auto" mode, after the first eval-mode call: the measured seconds of one
        #: forward by loop and by vmap (the faster one is used)
        self.vmap_timing = None

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.members)

    @property
    def n_members(self) -> int:
        """L, the number of members."""
        return len(self.members)

    def set_weights(self, weights) -> "Mixture":
        """Replace :math:`\\lambda` (validated as in the constructor), in place.

        Returns
        -------
        Mixture
            ``self``.
        """
        w = _check_weights(weights, len(self), self.weights.device, self.weights.dtype)
        with torch.no_grad():
            self.weights.copy_(w)
        return self

    def extra_repr(self) -> str:
        w = ", ".join(f"{v:.4g}" for v in self.weights.tolist())
        return f"L={len(self)}, weights=[{w}], vectorized={self.uses_vmap}"

    @property
    def uses_vmap(self) -> bool:
        """Whether :meth:`member_logits` currently evaluates the members with vmap."""
        if self.vectorize is False or not self._vmap_ok:
            return False
        if any(mod.training for member in self.members for mod in member.modules()):
            return False
        if self.vectorize is True:
            return True
        return self._same_arch

    # ------------------------------------------------------------- evaluation
    def _loop_logits(self, x):
        outs = []
        for k, m in enumerate(self.members):
            z = m(x)
            if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] != x.shape[0]:
                shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
                raise ValueError(
                    f"member {k} must return logits of shape (B, C) = ({x.shape[0]}, C) for an input "
                    f"batch of {x.shape[0]}; got {shape}"
                )
            outs.append(z)
        try:
            return torch.stack(outs)
        except RuntimeError:
            raise ValueError(
                f"members must all return the same number of classes; got {[tuple(o.shape) for o in outs]}"
            ) from None

    def _stack_state(self, differentiable):
        members = list(self.members)
        if differentiable:
            pdicts = [dict(m.named_parameters()) for m in members]
            bdicts = [dict(m.named_buffers()) for m in members]
            params = {n: torch.stack([d[n] for d in pdicts]) for n in pdicts[0]}
            buffers = {n: torch.stack([d[n] for d in bdicts]) for n in bdicts[0]}
            return params, buffers
        tensors = [t for m in members for t in (*m.parameters(), *m.buffers())]
        key = tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in tensors)
        if key != self._stack_key:
            with torch.no_grad():
                params, buffers = torch.func.stack_module_state(members)
                params = {n: p.detach() for n, p in params.items()}
            self._stack = (params, buffers)
            self._stack_key = key
        return self._stack

    def _vmap_logits(self, x, differentiable):
        params, buffers = self._stack_state(differentiable)
        base = self.members[0]

        def call(p, b, inp):
            return torch.func.functional_call(base, (p, b), (inp,))

        z = torch.vmap(call, in_dims=(0, 0, None), randomness="different")(params, buffers, x)
        if z.ndim != 3 or z.shape[1] != x.shape[0]:
            raise ValueError(
                f"members must return logits of shape (B, C); the stacked call returned {tuple(z.shape)}"
            )
        return z

    def member_logits(self, x, *, param_grad=None):
        """All members' logits on a batch.

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
            Inputs, on the members' device.
        param_grad : bool, optional
            Whether the result must be differentiable with respect to the members'
            parameters.  Default: when grad mode is on and some parameter requires
            grad.  Attacks pass ``False`` (they differentiate with respect to ``x``
            only), which lets the vmap path use its cached stacked parameters.

        Returns
        -------
        torch.Tensor, shape (L, B, C)
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        if not self.uses_vmap:
            return self._loop_logits(x)
        if param_grad is None:
            param_grad = torch.is_grad_enabled() and any(p.requires_grad for p in self.members.parameters())
        if self._vmap_checked:
            return self._vmap_logits(x, param_grad)
        # first vectorized call in "auto" mode: check vmap against the loop, and time both
        self._vmap_checked = True
        try:
            with torch.no_grad():
                z_vmap = self._vmap_logits(x, False)
        except Exception as err:  # noqa: BLE001 - any vmap failure means: use the loop
            self._vmap_ok = False
            warnings.warn(
                f"Mixture: evaluating the members with torch.vmap failed ({type(err).__name__}: {err}); "
                "falling back to a loop over the members",
                UserWarning,
                stacklevel=2,
            )
            return self._loop_logits(x)
        with torch.no_grad():
            z_loop = self._loop_logits(x)
            same = _close(z_vmap, z_loop)
            if same:
                t_loop = _best_time(lambda: self._loop_logits(x), x.device)
                t_vmap = _best_time(lambda: self._vmap_logits(x, False), x.device)
                self.vmap_timing = {"loop_s": t_loop, "vmap_s": t_vmap}
        if not same:
            self._vmap_ok = False
            warnings.warn(
                "Mixture: the members share an architecture but their vmapped outputs differ from a "
                "plain loop (the members hold state outside their parameters and buffers); "
                "falling back to a loop over the members",
                UserWarning,
                stacklevel=2,
            )
        elif t_vmap > t_loop:
            self._vmap_ok = False
        return self.member_logits(x, param_grad=param_grad)

    def expected_logits(self, x):
        r"""The weighted mean of the members' logits, :math:`\sum_k \lambda_k h_k(x)`.

        Returns
        -------
        torch.Tensor, shape (B, C)
        """
        z = self.member_logits(x)
        return torch.einsum("l,lbc->bc", self.weights.to(z.dtype), z)

    def forward(self, x, log: bool = False):
        r"""Exact expected class probabilities of the randomized classifier.

        .. math:: p_\lambda(c \mid x) = \sum_k \lambda_k \operatorname{softmax}(h_k(x))_c

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
        log : bool
            Return :math:`\log p_\lambda` instead, computed stably with
            ``logsumexp`` over the members.

        Returns
        -------
        torch.Tensor, shape (B, C)
        """
        z = self.member_logits(x)
        lam = self.weights.to(z.dtype)
        if log:
            logp = torch.log_softmax(z, dim=-1)
            return torch.logsumexp(logp + torch.log(lam)[:, None, None], dim=0)
        return torch.einsum("l,lbc->bc", lam, torch.softmax(z, dim=-1))

    def _generator(self, generator, device):
        if generator is None:
            return None
        if isinstance(generator, torch.Generator):
            if torch.device(generator.device).type != torch.device(device).type:
                raise ValueError(
                    f"generator must live on the mixture's device ({device}); got one on {generator.device}"
                )
            return generator
        if isinstance(generator, bool) or not isinstance(generator, int):
            raise TypeError(f"generator must be None, an int seed or a torch.Generator; got {generator!r}")
        return torch.Generator(device=device).manual_seed(int(generator))

    def sample(self, x, generator=None, return_index: bool = False):
        """Deploy the mixture: draw one member per example and return its logits.

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
        generator : None, int or torch.Generator
            Source of randomness: a seed, a generator on the mixture's device, or
            None for torch's global generator.
        return_index : bool
            Also return the drawn member of each example.

        Returns
        -------
        logits : torch.Tensor, shape (B, C)
            ``h_{k_i}(x_i)`` with :math:`k_i \\sim \\lambda` independently.
        index : torch.Tensor of int64, shape (B,)
            Only with ``return_index``.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        lam = self.weights
        gen = self._generator(generator, lam.device)
        idx = torch.multinomial(lam.double(), x.shape[0], replacement=True, generator=gen)
        idx = idx.to(x.device)
        z = self.member_logits(x)
        out = z[idx, torch.arange(x.shape[0], device=x.device)]
        return (out, idx) if return_index else out

    def member_correct(self, x, y):
        """Whether each member classifies each example correctly.

        Returns
        -------
        torch.Tensor of bool, shape (L, B)
        """
        y = _check_labels(y, x)
        with torch.no_grad():
            z = self.member_logits(x, param_grad=False)
        return z.argmax(-1) == y[None]

    def expected_accuracy(self, x, y, reduction: str = "mean"):
        r"""Exact expected accuracy :math:`\sum_k \lambda_k \operatorname{acc}_k`.

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
        y : torch.Tensor of int, shape (B,)
        reduction : {"mean", "sum", "none"}

        Returns
        -------
        torch.Tensor
            0-d for ``"mean"``/``"sum"``; ``(B,)`` per-example expected accuracies
            for ``"none"``.  (Ties in a member's logits go to the first maximal class,
            as ``argmax`` does.)
        """
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
        correct = self.member_correct(x, y)
        lam = self.weights.detach().to(torch.float64)
        acc = (lam / lam.sum()) @ correct.to(torch.float64)
        if reduction == "none":
            return acc
        return acc.mean() if reduction == "mean" else acc.sum()


def _best_time(fn, device, repeats=2) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` (synchronizing a CUDA device)."""
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def _close(a, b) -> bool:
    """Whether two logit tensors agree up to the rounding of their dtype."""
    if a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    rel = 1e-4 if a.dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-9
    scale = 1.0 + float(b.abs().max())
    return float((a - b).abs().max()) <= rel * scale


def _check_labels(y, x):
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of class indices; got {type(y).__name__}")
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"y must hold integer class indices; got dtype {y.dtype}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must have shape (B,) = ({x.shape[0]},) to match x; got {tuple(y.shape)}")
    return y.to(device=x.device, dtype=torch.int64)


def as_mixture(model) -> Mixture:
    """``model`` itself when it is a :class:`Mixture`, else a one-member mixture of it.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module``.
    """
    if isinstance(model, Mixture):
        return model
    if isinstance(model, nn.Module) and not isinstance(model, nn.ModuleList):
        return Mixture([model], vectorize=False)
    raise TypeError(f"model must be an nn.Module or an advgame.torch.Mixture; got {type(model).__name__}")

