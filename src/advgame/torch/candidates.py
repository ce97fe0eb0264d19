r"""The bridge from deep classifiers to the solvers: candidate games and attack oracles.

On deep nets the adversary's best response is an attack.  Two ways to hand it to
:func:`advgame.solve`:

* **A candidate game** (:func:`candidate_losses`): for every sample, a finite set of
  candidate points -- the clean point, and the output of each attack against each
  member and against the current mixture -- and every member's loss on each, an
  ``(N, m, L)`` tensor.  ``advgame.solve(advgame.Game(losses))`` then gives the
  optimal weights *for that candidate set* with a duality-gap certificate (MNE21,
  Sec. 4.2 and Thm. 1 in the finite case).  The candidate set restricts the
  adversary, so its value is a lower bound on the mixture's true adversarial risk:
  re-evaluate the solved mixture with :func:`advgame.torch.evaluate`.
* **An attack oracle** (:func:`attack_oracle`): a callable ``weights -> (L,)`` of
  each member's mean loss on the attack's points against the mixture with those
  weights -- the oracle of MNE21, Alg. 1, for
  ``advgame.solve(game, method="oracle", oracle=...)``.
"""

from __future__ import annotations

import torch

from .._validation import check_choice, check_int, check_real
from ._checks import check_label_range, check_labels, check_models, check_tensor, make_generator
from .attacks import Attack
from .mixture import Mixture
from .modes import eval_mode

__all__ = ["candidate_losses", "attack_oracle", "AttackOracle", "member_losses"]

LOSSES = ("01", "ce")


def _members_and_weights(models, weights):
    if isinstance(models, Mixture):
        members = list(models.members)
        if weights is None:
            weights = models.weights.detach().clone()
        return members, weights
    return check_models(models), weights


def _check_loss(loss, bound):
    loss = check_choice("loss", loss, LOSSES)
    if loss == "ce":
        bound = 10.0 if bound is None else check_real("bound", bound, lo=0, lo_open=True)
    elif bound is not None:
        raise ValueError("bound applies to loss='ce' only; 0/1 losses are bounded by 1")
    return loss, bound


def member_losses(mixture, x, y, loss="01", bound=None):
    r"""Every member's loss on a batch (members scored in eval mode, flags restored).

    Parameters
    ----------
    mixture : Mixture
    x : torch.Tensor, shape (B, ...)
    y : torch.Tensor of int, shape (B,)
        Class labels in ``[0, C)``.
    loss : {"01", "ce"}
        0/1 misclassification, or the cross-entropy clipped to ``[0, bound]``.
    bound : float, optional
        For ``"ce"`` (default 10).

    Returns
    -------
    torch.Tensor, shape (B, L)
        In ``x``'s floating dtype.
    """
    loss, bound = _check_loss(loss, bound)
    check_tensor(x, "x")
    y = check_labels(y, x)
    with eval_mode(mixture), torch.no_grad():
        z = mixture.member_logits(x, param_grad=False)  # (L, B, C)
    check_label_range(y, z.shape[-1])
    with torch.no_grad():
        if loss == "01":
            out = (z.argmax(-1) != y[None]).to(x.dtype)
        else:
            ce = -torch.log_softmax(z, dim=-1).gather(-1, y.expand(z.shape[:-1]).unsqueeze(-1)).squeeze(-1)
            out = ce.clamp(0, bound).to(x.dtype)
    return out.T


def _attack_list(attacks):
    if isinstance(attacks, Attack):
        return [(attacks.name, attacks)]
    if isinstance(attacks, dict):
        items = list(attacks.items())
    else:
        try:
            items = [(a.name if isinstance(a, Attack) else f"attack{i}", a) for i, a in enumerate(attacks)]
        except TypeError:
            raise TypeError(f"attacks must be an Attack, a list of Attack or a dict of str to Attack; got {attacks!r}") from None
    if not items:
        raise ValueError("attacks must hold at least one Attack")
    out, used = [], set()
    for name, a in items:
        if not isinstance(a, Attack):
            raise TypeError(f"attacks must hold Attack instances; {name!r} is a {type(a).__name__}")
        unique, i = name, 2
        while unique in used:
            unique, i = f"{name}-{i}", i + 1
        used.add(unique)
        out.append((unique, a))
    return out


def candidate_losses(
    models,
    x,
    y,
    attacks,
    *,
    weights=None,
    loss="01",
    bound=None,
    batch_size=None,
    seed=0,
    return_names=False,
):
    r"""The ``(N, m, L)`` loss tensor of a candidate game, built on the device.

    Every member is scored and attacked in eval mode
    (:func:`advgame.torch.eval_mode`), each member's own flags restored afterwards.

    Candidates of sample :math:`i`, in order: the clean point; then, for each
    attack, its output against member 1, ..., member L (each attacked alone) and
    against the mixture with ``weights``.  So :math:`m = 1 + A (L + 1)` for ``A``
    attacks, and ``losses[i, j, k]`` is member :math:`k`'s loss on candidate
    :math:`j` of sample :math:`i`.

    Parameters
    ----------
    models : sequence of nn.Module, or Mixture
        The members (a mixture: its members, and its weights as the default
        ``weights``).
    x : torch.Tensor, shape (N, ...)
        Clean inputs (moved batch by batch to the members' device).
    y : torch.Tensor of int, shape (N,)
    attacks : Attack, list of Attack, or dict of str to Attack
        Templates (e.g. ``PGD(eps=8/255)``); each is bound to every target.
    weights : array_like (L,), optional
        The "current mixture" to attack (default: uniform, or the mixture's own).
    loss : {"01", "ce"}
        0/1 loss (default), or the cross-entropy clipped to ``[0, bound]``.
    bound : float, optional
        Clip value for ``"ce"`` (default 10); pass the same ``bound`` to ``Game``.
    batch_size : int, optional
        Examples per attack call (default: all).
    seed : int or None
        Attack ``a`` draws its random starts from a generator seeded ``seed + a``
        (advancing over targets and batches); None keeps the attacks' own seeds.
    return_names : bool
        Also return the ``m`` candidate names (``"clean"``, ``"pgd@member0"``, ...,
        ``"pgd@mixture"``).

    Returns
    -------
    torch.Tensor, shape (N, m, L)
        On the members' device, in ``x``'s floating dtype.  Feed it to
        ``advgame.Game`` and ``advgame.solve``.
    names : list of str
        Only with ``return_names``.

    Examples
    --------
    >>> import torch, advgame
    >>> from advgame.torch import PGD
    >>> from advgame.torch.models import SmallMLP
    >>> _ = torch.manual_seed(0)
    >>> models = [SmallMLP(4, 3, hidden=8) for _ in range(2)]
    >>> x, y = torch.rand(16, 4), torch.randint(0, 3, (16,))
    >>> losses = candidate_losses(models, x, y, [PGD(eps=0.1, steps=5)])
    >>> tuple(losses.shape)  # (N samples, m candidate attacks, L members)
    (16, 4, 2)
    >>> res = advgame.solve(advgame.Game(losses))
    >>> res.status, res.gap
    ('optimal', 0.0)
    """
    members, weights = _members_and_weights(models, weights)
    L = len(members)
    mixture = Mixture(members, weights)
    device = mixture.weights.device
    check_tensor(x, "x", floating=True)
    y = check_labels(y, x, mixture.num_classes(x[:1].to(device)))
    loss, bound = _check_loss(loss, bound)
    seed = check_int("seed", seed, 0, allow_none=True)
    items = _attack_list(attacks)
    N = x.shape[0]
    bs = N if batch_size is None else check_int("batch_size", batch_size, 1)

    singles = [Mixture([m], vectorize=False) for m in members]
    targets = [(f"member{k}", s) for k, s in enumerate(singles)] + [("mixture", mixture)]
    bound_attacks = []
    for a_idx, (name, a) in enumerate(items):
        gen = make_generator(seed + a_idx, device) if seed is not None else None
        for tname, target in targets:
            b = a.bind(target)
            if gen is not None:
                b.seed = gen
            bound_attacks.append((f"{name}@{tname}", b))

    names = ["clean"] + [n for n, _ in bound_attacks]
    out = torch.empty((N, len(names), L), device=device, dtype=x.dtype)
    with eval_mode(members):  # members scored in eval mode, each one's flags restored
        for i in range(0, N, bs):
            xb = x[i : i + bs].to(device)
            yb = y[i : i + bs].to(device)
            out[i : i + bs, 0] = member_losses(mixture, xb, yb, loss, bound)
            for j, (_, atk) in enumerate(bound_attacks, start=1):
                out[i : i + bs, j] = member_losses(mixture, atk(xb, yb), yb, loss, bound)
    return (out, names) if return_names else out


class AttackOracle:
    r"""An approximate best-response oracle for MNE21, Alg. 1: ``oracle(weights) -> (L,)``.

    Calling it attacks the mixture of ``models`` with ``weights`` on the stored
    samples and returns each member's mean loss on the attack's points (members in
    eval mode during the call, their own flags restored afterwards),

    .. math:: g_k(\lambda) = \frac1N \sum_i \ell\bigl(h_k(\tilde x_i(\lambda)), y_i\bigr),

    where :math:`\tilde x_i(\lambda)` is the attack's output against the mixture
    :math:`\lambda`; :math:`\lambda^\top g(\lambda)` is the attack's estimate of the
    adversarial risk :math:`R(\lambda)` and :math:`g(\lambda)` a subgradient of it
    when the attack is an exact best response (MNE21, Sec. 4.2).  Built by
    :func:`attack_oracle`.

    Attributes
    ----------
    calls : int
        Number of calls so far.
    last_adversarial : torch.Tensor or None
        The attack's points of the last call, shape (N, ...), on the device.
    """

    def __init__(self, members, x, y, attack, loss, bound, batch_size, seed):
        self.mixture = Mixture(members)
        self.x = x
        self.y = y
        self.attack = attack.bind(self.mixture) if isinstance(attack, Attack) else attack(self.mixture)
        if not callable(self.attack):
            raise TypeError("attack must be an Attack or a callable model -> (x, y -> x_adv)")
        self.loss, self.bound = loss, bound
        self.batch_size = batch_size
        self.seed = seed
        self.calls = 0
        self.last_adversarial = None

    def __call__(self, weights):
        """Mean loss of each member under the attack on the mixture ``weights``.

        Parameters
        ----------
        weights : array_like or torch.Tensor, shape (L,)
            On the simplex.

        Returns
        -------
        torch.Tensor, shape (L,)
            Same dtype and device as ``weights`` when it is a floating tensor, else
            float64 on the members' device.
        """
        self.mixture.set_weights(weights)
        device = self.mixture.weights.device
        if isinstance(self.attack, Attack) and self.seed is not None:
            self.attack.seed = make_generator(self.seed, device)
        N = self.x.shape[0]
        bs = N if self.batch_size is None else self.batch_size
        total = torch.zeros(len(self.mixture), device=device, dtype=torch.float64)
        advs = []
        with eval_mode(self.mixture):  # members scored in eval mode, each one's flags restored
            for i in range(0, N, bs):
                xb = self.x[i : i + bs].to(device)
                yb = self.y[i : i + bs].to(device)
                xa = self.attack(xb, yb)
                advs.append(xa)
                total += member_losses(self.mixture, xa, yb, self.loss, self.bound).to(torch.float64).sum(0)
        self.calls += 1
        self.last_adversarial = torch.cat(advs)
        g = total / N
        if isinstance(weights, torch.Tensor) and weights.is_floating_point():
            return g.to(device=weights.device, dtype=weights.dtype)
        return g


def attack_oracle(models, x, y, attack, loss="01", *, bound=None, batch_size=None, seed=0):
    r"""An attack as the oracle of MNE21, Alg. 1.

    Parameters
    ----------
    models : sequence of nn.Module, or Mixture
        The members (for a mixture, its members; its weights are ignored).
    x : torch.Tensor, shape (N, ...)
    y : torch.Tensor of int, shape (N,)
    attack : Attack or callable
        A template bound to the mixture at construction (or a factory
        ``model -> callable(x, y) -> x_adv``).
    loss : {"01", "ce"}
        Each member's loss on the attack's points (``"ce"``: clipped to
        ``[0, bound]``, default bound 10).
    bound : float, optional
    batch_size : int, optional
    seed : int or None
        With an int, every call reseeds the attack identically, so the oracle is a
        deterministic function of the weights.

    Returns
    -------
    AttackOracle
        ``oracle(weights) -> torch.Tensor (L,)``, for
        ``advgame.solve(game, method="oracle", oracle=oracle)``.
    """
    members, _ = _members_and_weights(models, None)
    check_tensor(x, "x", floating=True)
    y = check_labels(y, x)
    loss, bound = _check_loss(loss, bound)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    if not (isinstance(attack, Attack) or callable(attack)):
        raise TypeError(f"attack must be an Attack or a callable; got {type(attack).__name__}")
    seed = check_int("seed", seed, 0, allow_none=True)
    oracle = AttackOracle(members, x, y, attack, loss, bound, batch_size, seed)
    check_label_range(y, oracle.mixture.num_classes(x[:1].to(oracle.mixture.weights.device)))
    return oracle

