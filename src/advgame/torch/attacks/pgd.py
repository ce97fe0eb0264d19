"""Projected gradient descent on a mixture (RM20's Adaptive-PGD)."""

from __future__ import annotations

import torch

from ..._validation import check_bool, check_choice, check_int, check_real
from ._base import (
    Attack,
    BestIterate,
    EXPECTATIONS,
    ascent_direction,
    expected_error,
    mixture_objective,
)

__all__ = ["PGD", "PGDL2"]


class PGD(Attack):
    r"""PGD with random restarts on the exact expectation over a mixture.

    Madry et al. (2018) PGD, made adaptive to a mixture as in RM20 (supplement,
    Sec. 2.2 and "Sanity checks"): the gradient is that of the cross-entropy of the
    *expected logits* :math:`\sum_k\lambda_k h_k(x)` (``expectation="logits"``) or of
    the *expected loss* :math:`\sum_k\lambda_k \mathrm{CE}(h_k(x), y)`
    (``expectation="loss"``), computed exactly over the members (no Monte Carlo).
    Each restart starts uniformly in the ball; the returned point is, per example,
    the best iterate over all iterations and restarts (highest exact expected error,
    ties broken by the loss), the clean point included.

    .. math::

        x^{t+1} = \Pi_{B_p(x, \varepsilon) \cap [lo, hi]^d}
        \bigl(x^t + \alpha\, u_p(\nabla_x f(x^t))\bigr),

    with :math:`u_\infty(g) = \operatorname{sign}(g)` and :math:`u_2(g) = g/\|g\|_2`.

    Parameters
    ----------
    model : nn.Module, Mixture or None
        The target (None: an unbound template, see :meth:`Attack.bind`).
    eps : float
        Radius of the ball (RM20: 8/255 in :math:`\ell_\infty`).
    alpha : float, optional
        Step size (default ``eps / 4``: RM20's 2/255 for 8/255).
    steps : int
        Iterations per restart (RM20 evaluation: 100; training: 20).
    restarts : int
        Random restarts (RM20: 3).
    random_start : bool
        Start each restart uniformly in the ball (RM20: yes); with False, a single
        restart from the clean point is run whatever ``restarts`` says.
    expectation : {"logits", "loss", "probs"}
        What the expectation over the members is taken of (see
        :func:`advgame.torch.attacks.mixture_objective`).
    norm : {"linf", "l2"}
    bounds : (float, float)
        The valid input box.
    seed : int, torch.Generator or None
        Randomness of the random starts.

    Shape
    -----
    - x: :math:`(B, *)` in ``bounds``; y: :math:`(B,)` int labels;
      output: :math:`(B, *)`, with :math:`\|x_{adv} - x\|_p \le \varepsilon`.

    References
    ----------
    RM20, Sec. 6 and supplement Sec. 2.1 (Eq. 58), 2.2 (settings), 2.3 (sanity
    checks, Table 2); Madry et al., ICLR 2018.

    Examples
    --------
    >>> import torch
    >>> from advgame.torch import Mixture
    >>> from advgame.torch.models import SmallMLP
    >>> _ = torch.manual_seed(0)
    >>> mixture = Mixture([SmallMLP(4, 3, hidden=8) for _ in range(2)])
    >>> x, y = torch.rand(16, 4), torch.randint(0, 3, (16,))
    >>> attack = PGD(mixture, eps=0.1, alpha=0.02, steps=10, restarts=2, seed=0)
    >>> x_adv = attack(x, y)
    >>> bool(((x_adv - x).abs() <= 0.1 + 1e-6).all()), tuple(x_adv.shape)
    (True, (16, 4))
    """

    name = "pgd"

    def __init__(
        self,
        model=None,
        *,
        eps=8 / 255,
        alpha=None,
        steps=100,
        restarts=3,
        random_start=True,
        expectation="logits",
        norm="linf",
        bounds=(0.0, 1.0),
        seed=0,
    ):
        super().__init__(model, eps=eps, norm=norm, bounds=bounds, seed=seed)
        self.alpha = self.eps / 4 if alpha is None else check_real("alpha", alpha, lo=0, lo_open=True)
        self.steps = check_int("steps", steps, 0)
        self.restarts = check_int("restarts", restarts, 1)
        self.random_start = check_bool("random_start", random_start)
        self.expectation = check_choice("expectation", expectation, EXPECTATIONS)

    def _run(self, mix, x, y, gen):
        lam = mix.weights
        with torch.no_grad():
            best = BestIterate(x, expected_error(mix.member_logits(x, param_grad=False), lam, y))
        n_restarts = self.restarts if self.random_start else 1
        for _ in range(n_restarts):
            x_adv = self._start(x, gen, self.random_start)
            for _ in range(self.steps):
                x_adv.requires_grad_(True)
                z = mix.member_logits(x_adv, param_grad=False)
                obj = mixture_objective(z, lam, y, "ce", self.expectation)
                (grad,) = torch.autograd.grad(obj.sum(), x_adv)
                with torch.no_grad():
                    best.update(x_adv, expected_error(z, lam, y), obj)
                    x_adv = self._clip(x_adv.detach() + self.alpha * ascent_direction(grad, self.norm), x)
            with torch.no_grad():
                z = mix.member_logits(x_adv, param_grad=False)
                best.update(x_adv, expected_error(z, lam, y), mixture_objective(z, lam, y, "ce", self.expectation))
        return best.x


class PGDL2(PGD):
    """:class:`PGD` in the :math:`\\ell_2` threat model (``norm="l2"``; default eps 0.5).

    Parameters are those of :class:`PGD`; ``norm`` is fixed to ``"l2"``.
    """

    name = "pgd-l2"

    def __init__(self, model=None, *, eps=0.5, **kwargs):
        if "norm" in kwargs:
            raise TypeError("PGDL2 fixes norm='l2'; use PGD(norm=...) to choose the norm")
        super().__init__(model, eps=eps, norm="l2", **kwargs)
