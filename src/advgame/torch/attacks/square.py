r"""Square Attack (Andriushchenko et al. 2020) on the exact expected margin of a mixture.

A score-based random search that never looks at a gradient: the gradient-masking
check of an evaluation (if Square beats the white-box attacks, the white-box numbers
overstate the robustness).  Here the scores are exact expectations over the members,
so the search sees the mixture the way the expected accuracy judges it.
"""

from __future__ import annotations

import math

import torch

from ..._validation import check_choice, check_int, check_real
from ._base import Attack, BestIterate, batch_view, expected_error, lp_norm, margin, project

__all__ = ["Square", "square_fraction"]

#: (fraction of a 10000-query budget, divisor of p_init) -- Andriushchenko et al. 2020, App. A
_SCHEDULE = ((10, 2), (50, 4), (200, 8), (500, 16), (1000, 32), (2000, 64), (4000, 128), (6000, 256), (8000, 512))


def square_fraction(it: int, n_queries: int, p_init: float) -> float:
    r"""The fraction :math:`p` of pixels a square covers at iteration ``it``.

    The piecewise-constant schedule of Andriushchenko et al. (2020), halving
    :math:`p` at iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of a
    10000-query run, rescaled to a budget of ``n_queries``.

    Parameters
    ----------
    it : int
        The current iteration (0-based).
    n_queries : int
        The query budget.
    p_init : float
        :math:`p` at the start.

    Returns
    -------
    float

    Examples
    --------
    >>> square_fraction(0, 5000, 0.8), square_fraction(4999, 5000, 0.8)
    (0.8, 0.0015625)
    """
    t = int(it / max(n_queries, 1) * 10000)
    div = 1
    for start, d in _SCHEDULE:
        if t > start:
            div = d
    return p_init / div


def _as_image(x):
    """View a batch as (B, C, H, W): images as they are, other shapes as one row."""
    if x.ndim == 4:
        return x
    return x.reshape(x.shape[0], 1, 1, -1)


def _pseudo_gaussian(s, device, dtype):
    r"""A unit-norm :math:`s \times s` block: two halves of opposite sign, each concentrated
    on its centre (the "meta pseudo-Gaussian" shape of the L2 Square Attack)."""
    h1 = s // 2
    h2 = s - h1

    def half(h, w):
        ci, cj = (h - 1) / 2, (w - 1) / 2
        i = torch.arange(h, device=device, dtype=dtype)[:, None]
        j = torch.arange(w, device=device, dtype=dtype)[None, :]
        ring = torch.maximum((i - ci).abs(), (j - cj).abs())
        return 1.0 / (ring + 1.0) ** 2

    block = torch.cat([half(h1, s), -half(h2, s)], dim=0) if h1 > 0 else half(h2, s)
    return block / block.norm()


class Square(Attack):
    r"""Square Attack on the exact expected margin of a mixture (Linf and L2).

    A random search over perturbations made of squares (Andriushchenko et al., ECCV
    2020, Alg. 1-3): each query changes one square window of side :math:`s` (the
    fraction :math:`p` of the pixels it covers follows :func:`square_fraction`) and
    keeps the change when it does not make the example's score worse.

    * ``norm="linf"``: the start is vertical stripes of :math:`\pm\varepsilon`; a
      query sets the window to a fresh :math:`\pm\varepsilon` per channel (flipped if
      it would not change anything).
    * ``norm="l2"``: the start tiles the image with pseudo-Gaussian blocks of random
      sign (side ``min(H, W) // 5``; Gaussian noise for images under 10 pixels a side),
      scaled to norm :math:`\varepsilon`; a query moves the mass of a second
      window into the first one, adds a pseudo-Gaussian block there, and rescales so
      that no more than the unused budget is spent.

    The score of a point is judged, per example, by the **exact expected error**
    :math:`\sum_k \lambda_k 1[\arg\max h_k(x') \ne y]` first (higher is better) and
    then by the margin objective (lower is better):

    * ``expectation="loss"`` (default): the expected hinged margin
      :math:`\sum_k \lambda_k \max(z_{k,y} - \max_{j\ne y} z_{k,j},\, 0)`, i.e.
      the margins of the members that still classify correctly;
    * ``expectation="logits"``: the margin of the expected logits
      :math:`\sum_k\lambda_k z_k` (with ``L = 1`` both are Andriushchenko et al.'s
      margin loss, up to the hinge).

    An example stops using queries once every member with positive weight
    misclassifies it.  The result is the best point over all restarts (by the same
    key), the clean point included.

    Parameters
    ----------
    model : nn.Module, Mixture or None
    eps : float
    norm : {"linf", "l2"}
    n_queries : int
        Query budget per restart, the initial query included (AutoAttack: 5000).
    restarts : int
        Independent runs from fresh random starts (AutoAttack: 1).
    p_init : float
        Initial fraction of the pixels a square covers (AutoAttack: 0.8, in (0, 1]).
    expectation : {"loss", "logits"}
    bounds : (float, float)
    seed : int, torch.Generator or None

    Notes
    -----
    Images are ``(B, C, H, W)``; any other shape is searched as one row of pixels
    (``(B, 1, 1, d)``).  The window position is drawn once per query for the whole
    batch (as in the reference implementation); the signs and blocks per example.

    References
    ----------
    M. Andriushchenko, F. Croce, N. Flammarion and M. Hein, "Square Attack: a
    query-efficient black-box adversarial attack via random search", ECCV 2020;
    Croce & Hein, ICML 2020 (Square in AutoAttack: 5000 queries, p_init 0.8).

    Examples
    --------
    >>> import torch
    >>> from advgame.torch.models import SmallMLP
    >>> _ = torch.manual_seed(0)
    >>> model = SmallMLP(16, 3, hidden=8)
    >>> x, y = torch.rand(4, 1, 4, 4), torch.randint(0, 3, (4,))
    >>> x_adv = Square(model, eps=0.1, n_queries=50, seed=0)(x, y)
    >>> bool(((x_adv - x).abs() <= 0.1 + 1e-6).all())
    True
    """

    name = "square"

    def __init__(
        self,
        model=None,
        *,
        eps=8 / 255,
        norm="linf",
        n_queries=5000,
        restarts=1,
        p_init=0.8,
        expectation="loss",
        bounds=(0.0, 1.0),
        seed=0,
    ):
        super().__init__(model, eps=eps, norm=norm, bounds=bounds, seed=seed)
        self.n_queries = check_int("n_queries", n_queries, 1)
        self.restarts = check_int("restarts", restarts, 1)
        self.p_init = check_real("p_init", p_init, lo=0, lo_open=True, hi=1)
        self.expectation = check_choice("expectation", expectation, ("loss", "logits"))

    # ------------------------------------------------------------- scoring
    def _score(self, mix, x, y):
        """Expected error (B,) and margin objective (B,) at ``x``."""
        with torch.no_grad():
            z = mix.member_logits(x, param_grad=False)
            lam = mix.weights.to(z.dtype)
            if self.expectation == "logits":
                obj = margin(torch.einsum("l,lbc->bc", lam, z), y)
            else:
                obj = torch.einsum("l,lb->b", lam, margin(z, y).clamp(min=0))
            return expected_error(z, mix.weights, y), obj

    def _run(self, mix, x, y, gen):
        lam = mix.weights.detach().to(torch.float64)
        full = float((lam[lam > 0] / lam.sum()).sum())  # expected error when every member is fooled
        err0, obj0 = self._score(mix, x, y)
        best = BestIterate(x, err0)
        best.obj = -obj0.to(best.obj.dtype)
        if self.eps == 0:
            return best.x
        for _ in range(self.restarts):
            x_r, err_r, obj_r = self._one_run(mix, x, y, gen, full)
            best.update(x_r, err_r, -obj_r)
        return best.x

    # -------------------------------------------------------------- search
    def _one_run(self, mix, x, y, gen, full):
        shape = x.shape
        xi = _as_image(x)
        B, c, h, w = xi.shape
        lo, hi = self.bounds
        eps = self.eps
        dev, dt = x.device, x.dtype
        n_features = c * h * w

        def rand_sign(*size):
            return torch.randint(0, 2, size, generator=gen, device=dev).to(dt) * 2 - 1

        # --- the start
        if self.norm == "linf":
            delta = eps * rand_sign(B, c, 1, w).expand(B, c, h, w)
        else:
            delta = self._l2_start(B, c, h, w, gen, dev, dt)
        x_best = (xi + delta).clamp(lo, hi)
        if self.norm == "l2":
            x_best = self._clip_img(x_best, xi)
        err, obj = self._score(mix, x_best.reshape(shape), y)
        tol = 1e-12
        for it in range(1, self.n_queries):
            active = (err < full - tol).nonzero().squeeze(1)
            if active.numel() == 0:
                break
            xa, xc = xi[active], x_best[active]
            p = square_fraction(it, self.n_queries, self.p_init)
            if h == 1:  # a row of pixels: the window covers the fraction p of it
                s = (1, max(int(round(p * w)), 1 if self.norm == "linf" else 3))
            else:
                side = max(int(round(math.sqrt(p * n_features / c))), 1 if self.norm == "linf" else 3)
                if self.norm == "l2" and side % 2 == 0:
                    side += 1
                s = (side, side)
            if self.norm == "linf":
                x_new = self._linf_query(xa, xc, s, gen, rand_sign)
            else:
                x_new = self._l2_query(xa, xc, s, gen)
            e_new, o_new = self._score(mix, x_new.reshape((-1,) + tuple(shape[1:])), y[active])
            e_old, o_old = err[active], obj[active]
            better = (e_new > e_old) | ((e_new == e_old) & (o_new <= o_old))
            x_best[active] = torch.where(batch_view(better, xc), x_new, xc)
            err[active] = torch.where(better, e_new, e_old)
            obj[active] = torch.where(better, o_new, o_old)
        return x_best.reshape(shape), err, obj

    def _window(self, s, h, w, gen, dev):
        sh, sw = min(s[0], h), min(s[1], w)
        vh = int(torch.randint(0, h - sh + 1, (1,), generator=gen, device=dev))
        vw = int(torch.randint(0, w - sw + 1, (1,), generator=gen, device=dev))
        return slice(vh, vh + sh), slice(vw, vw + sw)

    def _linf_query(self, xa, xc, s, gen, rand_sign):
        lo, hi = self.bounds
        eps = self.eps
        n, c, h, w = xa.shape
        rows, cols = self._window(s, h, w, gen, xa.device)
        delta = xc - xa
        new = eps * rand_sign(n, c, 1, 1)
        cur = delta[:, :, rows, cols]
        # a query that changes nothing is wasted: flip the sign where the window already holds it
        same = ((cur - new).abs() < 1e-7 * max(eps, 1.0)).flatten(2).all(-1)
        new = torch.where(same[..., None, None], -new, new)
        delta = delta.clone()
        delta[:, :, rows, cols] = new
        return (xa + delta).clamp(lo, hi)

    def _l2_start(self, B, c, h, w, gen, dev, dt):
        s = max(min(h, w) // 5, 1) if min(h, w) >= 5 else max(min(h, w), 1)
        delta = torch.zeros(B, c, h, w, device=dev, dtype=dt)
        block = _pseudo_gaussian(s, dev, dt) if s > 1 else torch.ones(1, 1, device=dev, dtype=dt)
        for i in range(0, h - s + 1, s):
            for j in range(0, w - s + 1, s):
                sign = torch.randint(0, 2, (B, c, 1, 1), generator=gen, device=dev).to(dt) * 2 - 1
                delta[:, :, i : i + s, j : j + s] = block * sign
        if h * w > 1 and s == 1:
            delta = torch.randn(B, c, h, w, generator=gen, device=dev, dtype=dt)
        n = lp_norm(delta, "l2")
        return delta * batch_view(self.eps / (n + 1e-12), delta)

    def _clip_img(self, x_new, xi):
        lo, hi = self.bounds
        d = project(x_new - xi, self.eps, "l2")
        return (xi + d).clamp(lo, hi)

    def _l2_query(self, xa, xc, s, gen):
        n, c, h, w = xa.shape
        dev, dt = xa.device, xa.dtype
        delta = xc - xa
        r1, c1 = self._window(s, h, w, gen, dev)
        r2, c2 = self._window(s, h, w, gen, dev)
        in1 = torch.zeros(1, 1, h, w, device=dev, dtype=torch.bool)
        in1[..., r1, c1] = True
        in2 = torch.zeros_like(in1)
        in2[..., r2, c2] = True
        union = in1 | in2
        # mass (per channel) the two windows hold, and the budget not yet used
        mass = (delta * union).pow(2).flatten(2).sum(-1)  # (n, c)
        unused = (self.eps**2 - delta.pow(2).flatten(1).sum(1)).clamp(min=0)  # (n,)
        budget = (mass + unused[:, None] / c).sqrt()  # (n, c)
        sh, sw = r1.stop - r1.start, c1.stop - c1.start
        block = _pseudo_gaussian(max(sh, sw), dev, dt)[:sh, :sw]
        if torch.rand((), generator=gen, device=dev) < 0.5 and sh == sw:
            block = block.T
        sign = torch.randint(0, 2, (n, c, 1, 1), generator=gen, device=dev).to(dt) * 2 - 1
        w1 = delta[:, :, r1, c1] + sign * block * budget[..., None, None]
        w1 = w1 / (w1.flatten(2).norm(dim=-1)[..., None, None] + 1e-12) * budget[..., None, None]
        new = delta * (~union)
        new[:, :, r1, c1] = w1
        return self._clip_img(xa + new, xa)
