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

import torch
from torch import nn

from .._validation import check_choice
from ._checks import (
    check_finite_inputs,
    check_finite_logits,
    check_finite_members,
    check_label_range,
    check_member_dtypes,
    check_labels,
    check_mixture_weights,
    check_models,
    check_tensor,
    make_generator,
)
from ._vmap import VECTORIZE, MemberLogits
from .modes import eval_mode

__all__ = ["Mixture", "MixtureLogits", "as_mixture"]


def _module_device(module, default=None):
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return default if default is not None else torch.device("cpu")


class Mixture(nn.Module):
    r"""A mixture of ``L`` classifiers with weights on the simplex.

    Parameters
    ----------
    models : sequence of nn.Module
        The members :math:`h_k`; each maps a batch ``(B, *input_shape)`` to logits
        ``(B, C)`` (the same ``C`` for all).  They are registered as submodules
        (``mixture.members``), so ``mixture.to(device)`` moves them.
    weights : array_like or torch.Tensor, shape (L,), optional
        :math:`\lambda`, non-negative and summing to one (up to
        ``advgame._validation.simplex_tol`` of its dtype per member; then
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

    :meth:`forward`, :meth:`member_logits`, :meth:`expected_logits` and
    :meth:`sample` run the members in whatever mode they are in (train mode is what
    training needs); the scoring methods :meth:`member_correct`,
    :meth:`expected_accuracy` and :meth:`num_classes` run them in eval mode
    (:func:`advgame.torch.eval_mode`) and restore every member's own flags.

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
        models = check_models(models)
        if isinstance(vectorize, int) and not isinstance(vectorize, bool):
            raise ValueError(f"vectorize must be one of {VECTORIZE}; got {vectorize!r}")
        check_choice("vectorize", vectorize, VECTORIZE)
        check_member_dtypes(models)
        check_finite_members(models)
        self.members = nn.ModuleList(models)
        device = _module_device(models[0])
        self.register_buffer("weights", check_mixture_weights(weights, len(models), device))
        self._logits = MemberLogits(models, vectorize)

    def __setattr__(self, name, value):
        # ``mixture.weights = w`` goes through the same checks as set_weights
        if name == "weights" and "_buffers" in self.__dict__ and "weights" in self._buffers:
            if value is not None:
                value = check_mixture_weights(value, len(self.members), self._buffers["weights"].device,
                                              self._buffers["weights"].dtype)
        super().__setattr__(name, value)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # load_state_dict validates the weights (simplex, finite, one per member) before copying
        key = prefix + "weights"
        if key in state_dict:
            w = state_dict[key]
            state_dict[key] = check_mixture_weights(w, len(self.members), self.weights.device, self.weights.dtype,
                                                    name=f"state_dict[{key!r}]")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def vectorize(self):
        """How the members are evaluated: ``"auto"``, ``True`` or ``False``."""
        return self._logits.vectorize

    @property
    def vmap_timing(self):
        """In ``"auto"`` mode, after the first eval-mode call: the measured seconds of
        one forward by loop and by vmap (``{"loop_s": ..., "vmap_s": ...}``; the faster
        one is used); else None."""
        return self._logits.timing

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
        w = check_mixture_weights(weights, len(self), self.weights.device, self.weights.dtype)
        with torch.no_grad():
            self.weights.copy_(w)
        return self

    def extra_repr(self) -> str:
        w = ", ".join(f"{v:.4g}" for v in self.weights.tolist())
        return f"L={len(self)}, weights=[{w}], vectorized={self.uses_vmap}"

    @property
    def uses_vmap(self) -> bool:
        """Whether :meth:`member_logits` currently evaluates the members with vmap."""
        return self._logits.uses_vmap(self.members)

    # ------------------------------------------------------------- evaluation
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
        check_tensor(x, "x")
        return self._logits(self.members, x, param_grad)

    def expected_logits(self, x):
        r"""The weighted mean of the members' logits, :math:`\sum_k \lambda_k h_k(x)`.

        Returns
        -------
        torch.Tensor, shape (B, C)
        """
        z = self.member_logits(x)
        return torch.einsum("l,lbc->bc", self.weights.to(z.dtype), z)

    def forward(self, x, log: bool = False):
        r"""Exact expected class probabilities of the randomized classifier
        (**probabilities, not logits**).

        .. math:: p_\lambda(c \mid x) = \sum_k \lambda_k \operatorname{softmax}(h_k(x))_c

        Why probabilities: the mixture is a randomized classifier, and the quantity that
        is well defined for it is an expectation over the draw of the member.  The
        expectation of the members' probabilities is a distribution over the classes,
        exact (no sampling) and differentiable; an average of the members' *logits*
        (:meth:`expected_logits`) is not the output of any member nor a probability,
        and depends on each member's logit scale.

        Tools written for logits (torchattacks, AutoAttack) apply a softmax or a
        cross-entropy to the output: give them :class:`MixtureLogits` (``log p``, whose
        softmax is ``p``), not the mixture itself.  Their *accuracy* is the accuracy
        of the argmax of ``p``, a deterministic classifier: it is not the robust
        accuracy of the randomized defense, which is :meth:`expected_accuracy`
        (``docs/torch.md``, "Handing a mixture to logit-based tools").

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
        log : bool
            Return :math:`\log p_\lambda` instead, computed stably with
            ``logsumexp`` over the members (what :class:`MixtureLogits` returns).

        Returns
        -------
        torch.Tensor, shape (B, C)
            Rows on the probability simplex (``log=False``).
        """
        z = self.member_logits(x)
        lam = self.weights.to(z.dtype)
        if log:
            logp = torch.log_softmax(z, dim=-1)
            return torch.logsumexp(logp + torch.log(lam)[:, None, None], dim=0)
        return torch.einsum("l,lbc->bc", lam, torch.softmax(z, dim=-1))

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
        check_tensor(x, "x")
        lam = self.weights
        gen = None if generator is None else make_generator(generator, lam.device, name="generator")
        idx = torch.multinomial(lam.double(), x.shape[0], replacement=True, generator=gen)
        idx = idx.to(x.device)
        z = self.member_logits(x)
        out = z[idx, torch.arange(x.shape[0], device=x.device)]
        return (out, idx) if return_index else out

    def num_classes(self, x) -> int:
        """The number of classes ``C`` the members predict, from one forward pass of the
        first member on the first example of ``x`` (in eval mode, without gradients).

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
            A batch of inputs (only ``x[:1]`` is used).

        Returns
        -------
        int
        """
        check_tensor(x, "x")
        with eval_mode(self.members[0]), torch.no_grad():
            z = self.members[0](x[:1])
        if not isinstance(z, torch.Tensor) or z.ndim != 2:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"member 0 must return logits of shape (B, C); got {shape}")
        return int(z.shape[-1])

    def member_correct(self, x, y):
        """Whether each member classifies each example correctly (members scored in
        eval mode, their flags restored).

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
        y : torch.Tensor of int, shape (B,)
            Class labels in ``[0, C)``.

        Returns
        -------
        torch.Tensor of bool, shape (L, B)

        Raises
        ------
        ValueError
            A label lies outside ``[0, C)``; ``x`` or a member's logits hold NaN or
            infinity (a diverged member is never scored as predicting class 0).
        """
        check_tensor(x, "x")
        y = check_labels(y, x)
        check_finite_inputs(x, "x")
        with eval_mode(self.members), torch.no_grad():
            z = self.member_logits(x, param_grad=False)
        check_finite_logits(z)
        check_label_range(y, z.shape[-1])
        return z.argmax(-1) == y[None]

    def expected_accuracy(self, x, y, reduction: str = "mean"):
        r"""Exact expected accuracy :math:`\sum_k \lambda_k \operatorname{acc}_k`
        (members scored in eval mode, their flags restored).

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
        y : torch.Tensor of int, shape (B,)
            Class labels in ``[0, C)``.
        reduction : {"mean", "sum", "none"}

        Returns
        -------
        torch.Tensor
            0-d for ``"mean"``/``"sum"``; ``(B,)`` per-example expected accuracies
            for ``"none"``.  (Ties in a member's logits go to the first maximal class,
            as ``argmax`` does.)
        """
        check_choice("reduction", reduction, ("mean", "sum", "none"))
        correct = self.member_correct(x, y)
        lam = self.weights.detach().to(torch.float64)
        acc = (lam / lam.sum()) @ correct.to(torch.float64)
        if reduction == "none":
            return acc
        return acc.mean() if reduction == "mean" else acc.sum()


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



class MixtureLogits(nn.Module):
    r"""A :class:`Mixture` as a module that returns logits: :math:`\log p_\lambda(c \mid x)`.

    The one way to hand a mixture to tools that expect logits (torchattacks,
    AutoAttack, a cross-entropy loss): ``softmax`` of the output is the mixture's
    exact expected probabilities :math:`p_\lambda` (:meth:`Mixture.forward`), so a
    tool's cross-entropy is the log-loss of the mixture (the objective of
    ``expectation="probs"`` in :mod:`advgame.torch.attacks`) and its gradients are the
    mixture's, computed stably with ``logsumexp`` over the members.

    What such a tool reports as accuracy is the accuracy of ``output.argmax(1)``: the
    class the mixture predicts *most likely*, a deterministic classifier.  The
    randomized defense answers member :math:`k` with probability :math:`\lambda_k`;
    its accuracy on a point is :math:`\sum_k \lambda_k 1[h_k(x) = y]`
    (:meth:`Mixture.expected_accuracy`), which can be far from the argmax's (either
    way).  Score adversarial points with ``mixture.expected_accuracy(x_adv, y)``, or
    use :func:`advgame.torch.evaluate`, whose attacks target the mixture itself.

    Parameters
    ----------
    mixture : Mixture
        Wrapped, not copied: its weights and members are the module's (``.to()``,
        ``.eval()`` and ``state_dict`` reach them as the submodule ``mixture``).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from advgame.torch import Mixture, MixtureLogits
    >>> _ = torch.manual_seed(0)
    >>> mix = Mixture([nn.Linear(4, 3), nn.Linear(4, 3)], weights=[0.25, 0.75])
    >>> x = torch.rand(5, 4)
    >>> logits = MixtureLogits(mix)(x)
    >>> bool(torch.allclose(torch.softmax(logits, 1), mix(x), atol=1e-6))
    True
    """

    def __init__(self, mixture):
        super().__init__()
        if not isinstance(mixture, Mixture):
            raise TypeError(f"mixture must be an advgame.torch.Mixture; got {type(mixture).__name__} "
                            "(a plain model already returns logits)")
        self.mixture = mixture

    def forward(self, x):
        """:math:`\\log p_\\lambda(\\cdot \\mid x)`, shape ``(B, C)``."""
        return self.mixture(x, log=True)
