r"""What every attack shares: binding to a model, input checks, seeding, the losses of a
mixture, the geometry of the threat model, and the per-example best iterate.

Threat model
------------
An attack returns, for each input :math:`x_i`, a point :math:`x'_i` in the ball
:math:`\{x' : \|x' - x_i\|_p \le \varepsilon\}` (``p`` is ``"linf"`` or ``"l2"``)
and in the valid box ``bounds`` (pixels in ``[0, 1]`` by default).  Every iterate is
projected onto the ball and then clipped to the box; since :math:`x_i` is in the box,
clipping only moves coordinates towards :math:`x_i`, so the result stays in both.

The best iterate
----------------
An attack on a mixture is judged by the *exact expected error*
:math:`e_\lambda(x', y) = \sum_k \lambda_k 1[\arg\max h_k(x') \ne y]`
(RM20, Sec. 6).  Every attack keeps, per example, the best point it has seen -- the
clean point included, so an attack never reports a higher accuracy than the natural
one -- by the key (expected error, then the attack's own objective): RM20's "best
perturbation over all the iterations" (supplement, Sec. 2.2) with ties broken by the
loss it maximizes.
"""

from __future__ import annotations

import abc
import copy

import torch

from ..._validation import check_int, check_norm, check_real
from .._checks import check_bounds, check_labels, check_label_range, check_tensor, check_torch_seed, make_generator
from ..mixture import Mixture, as_mixture
from ..modes import eval_mode

__all__ = ["Attack"]

NORMS = ("linf", "l2")
EXPECTATIONS = ("logits", "loss", "probs")


# ------------------------------------------------------------------- losses
def _gather(z, y):
    """``z[..., b, y_b]`` for logits ``z`` of shape (..., B, C)."""
    idx = y.expand(z.shape[:-1]).unsqueeze(-1)
    return z.gather(-1, idx).squeeze(-1)


def _max_other(z, y):
    """``max_{j != y_b} z[..., b, j]``."""
    mask = torch.nn.functional.one_hot(y, z.shape[-1]).to(torch.bool).expand(z.shape)
    return z.masked_fill(mask, -torch.inf).amax(-1)


def cross_entropy(z, y):
    """Per-example cross-entropy of logits ``z`` (..., B, C): ``-log softmax(z)_y``."""
    return -_gather(torch.log_softmax(z, dim=-1), y)


def margin(z, y):
    r"""C&W margin :math:`z_y - \max_{j \ne y} z_j` (negative iff misclassified), (..., B)."""
    return _gather(z, y) - _max_other(z, y)


def dlr(z, y):
    r"""Difference of logits ratio (Croce & Hein 2020, Eq. 6), to be maximized.

    .. math:: \mathrm{DLR}(z, y) = -\frac{z_y - \max_{j \ne y} z_j}{z_{\pi_1} - z_{\pi_3} + 10^{-12}}

    with :math:`z_{\pi_1} \ge z_{\pi_2} \ge \dots` the sorted logits; needs at least
    three classes.
    """
    top = z.topk(3, dim=-1).values
    return -(_gather(z, y) - _max_other(z, y)) / (top[..., 0] - top[..., 2] + 1e-12)


LOSSES = {"ce": cross_entropy, "dlr": dlr, "margin": margin}


def mixture_objective(z, lam, y, loss="ce", expectation="logits"):
    r"""The attack objective of a mixture, per example.

    Parameters
    ----------
    z : torch.Tensor, shape (L, B, C)
        Members' logits.
    lam : torch.Tensor, shape (L,)
        Mixture weights.
    y : torch.Tensor of int64, shape (B,)
    loss : {"ce", "dlr", "margin"}
    expectation : {"logits", "loss", "probs"}
        ``"logits"``: the loss of the expected logits :math:`\ell(\sum_k\lambda_k
        z_k, y)` (RM20, supplement Sec. 2.2, the "expected logits" EOT);
        ``"loss"``: the expected loss :math:`\sum_k \lambda_k \ell(z_k, y)` (RM20's
        second, parallel EOT; the "adaptive PGD" of Dbouk & Shanbhag 2022);
        ``"probs"`` (cross-entropy only): :math:`-\log \sum_k \lambda_k
        \operatorname{softmax}(z_k)_y`, the log-loss of the randomized classifier.

    Returns
    -------
    torch.Tensor, shape (B,)
    """
    lam = lam.to(z.dtype)
    f = LOSSES[loss]
    if expectation == "logits":
        return f(torch.einsum("l,lbc->bc", lam, z), y)
    if expectation == "loss":
        return torch.einsum("l,lb->b", lam, f(z, y))
    if loss != "ce":
        raise ValueError(f"expectation='probs' is defined for the cross-entropy only; got loss={loss!r}")
    logp = _gather(torch.log_softmax(z, dim=-1), y)  # (L, B)
    return -torch.logsumexp(logp + torch.log(lam)[:, None], dim=0)


def expected_error(z, lam, y):
    r"""Exact expected 0/1 error :math:`\sum_k \lambda_k 1[\arg\max z_k \ne y]`, shape (B,)."""
    wrong = (z.argmax(-1) != y[None]).to(torch.float64)
    lam = lam.detach().to(torch.float64)
    return (lam / lam.sum()) @ wrong


# ----------------------------------------------------------------- geometry
def batch_view(v, x):
    """Reshape a per-example vector (B,) to broadcast against ``x`` (B, ...)."""
    return v.reshape((-1,) + (1,) * (x.ndim - 1))


def lp_norm(d, norm):
    """Per-example norm of ``d`` (B, ...): ``"linf"``, ``"l2"`` or ``"l1"``, shape (B,)."""
    flat = d.flatten(1)
    if norm == "linf":
        return flat.abs().amax(1)
    if norm == "l2":
        return flat.norm(dim=1)
    return flat.abs().sum(1)


def project(delta, eps, norm):
    """Project perturbations (B, ...) onto the ``norm`` ball of radius ``eps``."""
    if norm == "linf":
        return delta.clamp(-eps, eps)
    n = lp_norm(delta, "l2")
    scale = torch.clamp(eps / (n + 1e-12), max=1.0)
    return delta * batch_view(scale, delta)


def ascent_direction(g, norm):
    """Steepest-ascent direction of unit ``norm`` for a gradient ``g``: sign or ``g/||g||_2``."""
    if norm == "linf":
        return g.sign()
    n = lp_norm(g, "l2")
    return g / batch_view(n + 1e-12, g)


def random_in_ball(x, eps, norm, gen):
    """A point drawn uniformly from the ``norm`` ball of radius ``eps`` around each example."""
    if norm == "linf":
        u = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        return (2 * u - 1) * eps
    d = x[0].numel()
    v = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    v = v / batch_view(lp_norm(v, "l2") + 1e-12, v)
    r = torch.rand(x.shape[0], generator=gen, device=x.device, dtype=x.dtype) ** (1.0 / d)
    return v * batch_view(eps * r, v)


class BestIterate:
    """Per-example best point by (expected error, objective), starting from ``x``.

    Parameters
    ----------
    x : torch.Tensor, shape (B, ...)
        The starting point (the clean inputs).
    err : torch.Tensor, shape (B,)
        Its expected error.
    """

    def __init__(self, x, err):
        self.x = x.detach().clone()
        self.err = err.detach().clone()
        self.obj = torch.full_like(self.err, -torch.inf)

    def update(self, x, err, obj=None):
        """Keep ``x[i]`` where it beats the best so far; returns the mask of updates."""
        obj = torch.zeros_like(err) if obj is None else obj.detach().to(self.obj.dtype)
        better = (err > self.err) | ((err == self.err) & (obj > self.obj))
        # torch.where rather than masked assignment: no host-device synchronization
        self.x = torch.where(batch_view(better, self.x), x.detach().to(self.x.dtype), self.x)
        self.err = torch.where(better, err, self.err)
        self.obj = torch.where(better, obj, self.obj)
        return better


# ------------------------------------------------------------------- base
class Attack(abc.ABC):
    r"""Base class: ``attack(x, y) -> x_adv`` on a model or a :class:`Mixture`.

    Parameters
    ----------
    model : nn.Module, Mixture or None
        What to attack.  A plain module is a one-member mixture.  ``None`` makes an
        unbound *template* (used by :func:`advgame.torch.evaluate`,
        :func:`advgame.torch.candidate_losses` and
        :func:`advgame.torch.attack_oracle`, which :meth:`bind` it to each target).
    eps : float
        Radius of the threat model's ball.
    norm : {"linf", "l2"}
        Also accepted: ``inf`` and ``2`` (see :func:`advgame._validation.check_norm`).
    bounds : (float, float)
        The valid box for the inputs (default ``(0, 1)``).
    seed : int, torch.Generator or None
        Randomness of random starts.  An int seeds a fresh generator on the inputs'
        device at every call (reproducible); a generator is used as is (its state
        advances); None draws a seed from torch's global RNG.

    Notes
    -----
    During a call every module of the target is put in eval mode
    (:func:`advgame.torch.eval_mode`) and each module's flag is restored afterwards,
    also when the call raises; gradients are taken with respect to the inputs only, so the
    members' ``.grad`` fields are left untouched.
    """

    #: short name used in reports
    name = "attack"

    def __init__(self, model=None, *, eps, norm="linf", bounds=(0.0, 1.0), seed=0):
        self.model = None if model is None else as_mixture(model)
        self._raw_model = model
        self.eps = check_real("eps", eps, lo=0)
        self.norm = check_norm(norm, allowed=NORMS)
        self.bounds = check_bounds(bounds)
        self.seed = check_torch_seed(seed)

    # -------------------------------------------------------------- binding
    def bind(self, model) -> "Attack":
        """A copy of this attack (same settings) aimed at ``model``."""
        new = copy.copy(self)
        new.model = as_mixture(model)
        new._raw_model = model
        return new

    def __repr__(self) -> str:
        skip = {"model", "_raw_model"}
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k not in skip and not k.startswith("_"))
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------- calling
    def __call__(self, x, y):
        """Attack a batch.

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
            Clean inputs inside ``bounds``, on the model's device.
        y : torch.Tensor of int, shape (B,)
            True labels, in ``[0, C)`` for a model with ``C`` classes.

        Returns
        -------
        torch.Tensor, shape (B, ...)
            Adversarial inputs: same dtype and device as ``x``, inside the threat
            model's ball and the box; detached.
        """
        if self.model is None:
            raise ValueError(
                f"{type(self).__name__} is not bound to a model: pass one to the constructor or use .bind(model)"
            )
        x, y = self._check_inputs(x, y)
        mix = self.model
        gen = make_generator(self.seed, x.device)
        with eval_mode(mix):
            check_label_range(y, mix.num_classes(x))
            with torch.enable_grad():
                x_adv = self._run(mix, x, y, gen)
        return x_adv.detach()

    def _check_inputs(self, x, y):
        check_tensor(x, "x", floating=True)
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"x must be a non-empty batch of shape (B, ...); got {tuple(x.shape)}")
        y = check_labels(y, x)
        dev = self.model.weights.device
        if x.device.type != dev.type:
            raise ValueError(f"x is on {x.device} but the model is on {dev}; move one of them")
        for p in self.model.members.parameters():
            if p.is_floating_point() and p.dtype != x.dtype:
                raise TypeError(f"x has dtype {x.dtype} but the model's parameters are {p.dtype}; convert one of them")
            break
        lo, hi = self.bounds
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x must be finite")
        xmin, xmax = float(x.min()), float(x.max())
        tol = 1e-6 * max(1.0, hi - lo)
        if xmin < lo - tol or xmax > hi + tol:
            raise ValueError(
                f"x must lie in the valid box bounds=({lo:g}, {hi:g}); got values in [{xmin:.6g}, {xmax:.6g}]"
            )
        return x.detach().clone().clamp(lo, hi), y

    @abc.abstractmethod
    def _run(self, mix: Mixture, x, y, gen):
        """The attack proper: ``x`` (B, ...) clean, ``y`` (B,), ``gen`` a generator."""

    # -------------------------------------------------------------- helpers
    def _clip(self, x_adv, x):
        """Project ``x_adv`` onto the ball around ``x`` and clip it to the box."""
        lo, hi = self.bounds
        return (x + project(x_adv - x, self.eps, self.norm)).clamp(lo, hi)

    def _start(self, x, gen, random_start):
        if not random_start or self.eps == 0:
            return x.clone()
        return self._clip(x + random_in_ball(x, self.eps, self.norm, gen), x)
