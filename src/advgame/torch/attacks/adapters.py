r"""Bring your own attack: a public base class, and adapters for callables and torchattacks.

Three ways to put an attack of your own into :func:`advgame.torch.evaluate`'s worst
case (see ``docs/evaluation.md``, "Adding an attack"):

1. Subclass :class:`CustomAttack` and implement :meth:`CustomAttack.perturb`
   ``(mixture, x, y, generator) -> x_adv``.  The base class binds it to the mixture
   under evaluation, checks the inputs, seeds the generator and puts every member in
   eval mode.
2. Pass any callable ``(x, y) -> x_adv`` (it attacks whatever model it closes over;
   :func:`advgame.torch.evaluate` wraps it in :class:`FunctionAttack` with the
   evaluation's ``eps`` and ``norm``).
3. Pass a `torchattacks <https://github.com/Harry24k/adversarial-attacks-pytorch>`_
   attack as it is (:class:`TorchattacksAttack`): it is copied and re-aimed at the
   mixture's log expected probabilities (or its expected logits).

Whatever the way, the evaluation checks that every returned point lies in the ball
and the box (``RuntimeError`` otherwise) and scores it by the exact expected accuracy.
"""

from __future__ import annotations

import abc
import copy

import torch
from torch import nn

from ..._validation import check_choice, check_norm, check_real
from ._base import NORMS, Attack

__all__ = ["CustomAttack", "FunctionAttack", "TorchattacksAttack", "MixtureScores", "as_attack", "is_torchattacks"]


class CustomAttack(Attack):
    r"""Base class of user attacks: implement :meth:`perturb`.

    Parameters
    ----------
    model : nn.Module, Mixture or None
        None makes a template that :func:`advgame.torch.evaluate` binds to the mixture.
    eps : float
    norm : {"linf", "l2"}
    bounds : (float, float)
    seed : int, torch.Generator or None

    Examples
    --------
    A random-sign attack (for illustration; it is weak):

    >>> import torch
    >>> from advgame.torch.attacks import CustomAttack
    >>> class RandomSign(CustomAttack):
    ...     name = "random-sign"
    ...     def perturb(self, mixture, x, y, generator):
    ...         s = torch.randint(0, 2, x.shape, generator=generator, device=x.device).to(x.dtype) * 2 - 1
    ...         return x + self.eps * s
    >>> model = torch.nn.Linear(4, 3)
    >>> x_adv = RandomSign(model, eps=0.1)(torch.rand(2, 4), torch.tensor([0, 1]))
    >>> tuple(x_adv.shape)
    (2, 4)
    """

    name = "custom"

    @abc.abstractmethod
    def perturb(self, mixture, x, y, generator):
        """Return adversarial inputs for a batch.

        Parameters
        ----------
        mixture : advgame.torch.Mixture
            The target, every member in eval mode; ``mixture.member_logits(x)`` gives the
            members' logits (L, B, C), ``mixture.weights`` the weights.
        x : torch.Tensor, shape (B, ...)
            Clean inputs (a copy; inside ``self.bounds``).
        y : torch.Tensor of int64, shape (B,)
        generator : torch.Generator
            The attack's randomness, seeded from ``seed``.

        Returns
        -------
        torch.Tensor, shape (B, ...)
            Points that the base class projects onto the ``eps`` ball around ``x``
            and clips to the box.
        """

    def _run(self, mix, x, y, gen):
        out = self.perturb(mix, x, y, gen)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"{type(self).__name__}.perturb must return a tensor of shape {tuple(x.shape)}; got {got}")
        return self._clip(out.detach().to(x.dtype), x)


class FunctionAttack(Attack):
    r"""Any callable ``(x, y) -> x_adv`` as an :class:`Attack`.

    The callable attacks the model it closes over; binding (what
    :func:`advgame.torch.evaluate` does) changes nothing about it, and its output is
    returned unchanged (the evaluation checks it lies in the threat model).

    Parameters
    ----------
    fn : callable
    eps : float
        The radius the callable keeps to.
    norm : {"linf", "l2"}
    name : str, optional
        For reports (default: the callable's ``__name__``).
    bounds : (float, float)
    """

    name = "function"

    def __init__(self, fn, *, eps, norm="linf", name=None, bounds=(0.0, 1.0)):
        if not callable(fn):
            raise TypeError(f"fn must be callable (x, y) -> x_adv; got {type(fn).__name__}")
        super().__init__(None, eps=eps, norm=norm, bounds=bounds, seed=0)
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def _run(self, mix, x, y, gen):
        out = self.fn(x, y)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"attack {self.name!r} must return a tensor of shape {tuple(x.shape)}; got {got}")
        return out.detach().to(device=x.device, dtype=x.dtype)


class MixtureScores(nn.Module):
    r"""A mixture as a plain classifier for attack libraries that expect logits.

    ``output="log-probs"``: :math:`\log \sum_k \lambda_k \operatorname{softmax}(h_k(x))`
    (the randomized classifier's log-probabilities; cross-entropy on them is the
    expected-probability loss); ``output="logits"``: :math:`\sum_k\lambda_k h_k(x)`.
    Both are exact (no sampling).
    """

    def __init__(self, mixture, output="log-probs"):
        super().__init__()
        self.mixture = mixture
        self.output = check_choice("output", output, ("log-probs", "logits"))

    def forward(self, x):
        if self.output == "logits":
            z = self.mixture.member_logits(x)
            return torch.einsum("l,lbc->bc", self.mixture.weights.to(z.dtype), z)
        return self.mixture(x, log=True)


def is_torchattacks(obj) -> bool:
    """Whether ``obj`` is a torchattacks attack (without importing torchattacks)."""
    return any(c.__module__.startswith("torchattacks") and c.__name__ == "Attack" for c in type(obj).__mro__)


def _torchattacks_norm(atk):
    norm = getattr(atk, "norm", None)
    if isinstance(norm, str) and norm.lower() in ("linf", "l2"):
        return norm.lower()
    return "l2" if type(atk).__name__.upper().endswith("L2") else "linf"


class TorchattacksAttack(Attack):
    r"""A torchattacks attack, taken as it is, aimed at a mixture.

    At every call the attack is deep-copied with its model replaced by
    :class:`MixtureScores` of the target (the user's object is never changed), and
    called as ``attack(x, y)``.

    Parameters
    ----------
    attack : torchattacks.Attack
        E.g. ``torchattacks.Square(model, eps=8/255)``; the model it was built on is
        replaced by the mixture under evaluation.
    eps : float, optional
        Default: ``attack.eps`` (required for attacks without one, e.g. C&W).
    norm : {"linf", "l2"}, optional
        Default: ``attack.norm`` when it has one, ``"l2"`` for class names ending in
        ``L2``, else ``"linf"``.
    output : {"log-probs", "logits"}
        What the attack sees as logits (see :class:`MixtureScores`).
    model : nn.Module, Mixture or None
    bounds : (float, float)
    """

    def __init__(self, attack, *, eps=None, norm=None, output="log-probs", model=None, bounds=(0.0, 1.0)):
        if not is_torchattacks(attack):
            raise TypeError(f"attack must be a torchattacks attack; got {type(attack).__name__}")
        if eps is None:
            eps = getattr(attack, "eps", None)
            if eps is None:
                raise ValueError(f"{type(attack).__name__} has no eps attribute: pass eps= (the radius it keeps to)")
        super().__init__(model, eps=float(eps), norm=norm or _torchattacks_norm(attack), bounds=bounds, seed=0)
        self.attack = attack
        self.output = check_choice("output", output, ("log-probs", "logits"))
        self.name = "ta-" + type(attack).__name__.lower()

    def _run(self, mix, x, y, gen):
        scores = MixtureScores(mix, self.output)
        old = getattr(self.attack, "model", None)
        memo = {id(old): scores} if old is not None else {}
        atk = copy.deepcopy(self.attack, memo)
        atk.set_model(scores)
        atk.set_device(x.device)
        out = atk(x, y)
        return out.detach().to(dtype=x.dtype)


def as_attack(obj, *, eps, norm, bounds=(0.0, 1.0), name=None):
    r"""An :class:`Attack` from an Attack, a torchattacks attack or a callable ``(x, y) -> x_adv``.

    Parameters
    ----------
    obj : Attack, torchattacks.Attack or callable
    eps : float
        The evaluation's radius (for callables; torchattacks attacks keep their own).
    norm : {"linf", "l2"}
    bounds : (float, float)
    name : str, optional

    Returns
    -------
    Attack

    Raises
    ------
    TypeError
        For anything else.
    """
    eps = check_real("eps", eps, lo=0)
    norm = check_norm(norm, allowed=NORMS)
    if isinstance(obj, Attack):
        return obj
    if is_torchattacks(obj):
        return TorchattacksAttack(obj, bounds=bounds)
    if callable(obj) and not isinstance(obj, nn.Module):
        return FunctionAttack(obj, eps=eps, norm=norm, bounds=bounds, name=name)
    raise TypeError(
        f"an attack must be an advgame Attack, a torchattacks attack or a callable (x, y) -> x_adv; "
        f"got {type(obj).__name__}"
    )
