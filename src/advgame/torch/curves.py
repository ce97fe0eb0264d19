r"""Robust accuracy against the radius: per attack and for the per-example worst case.

The curve RM20's first sanity check draws (supplement Sec. 2.3, Table 2): as
:math:`\varepsilon` grows the robust accuracy must fall, and reach 0 once the ball
admits inputs of other classes; a curve that flattens above 0 points at gradient
masking or a broken attack.
"""

from __future__ import annotations

import os

from .._validation import check_norm
from .attacks._base import NORMS

__all__ = ["robust_accuracy_curve", "plot_robust_accuracy", "write_curve_figure"]


def robust_accuracy_curve(mixture, x, y, eps_values, norm="linf", *, suite="quick", attacks="all", batch_size=None,
                          bounds=(0.0, 1.0), seed=0):
    r"""Exact expected robust accuracy at each radius, per attack and in the worst case.

    Parameters
    ----------
    mixture : Mixture or nn.Module
    x, y : torch.Tensor
    eps_values : sequence of float
        Increasing radii (0 allowed).
    norm : {"linf", "l2"}
    suite : {"quick", "standard", "full"} or None
        As in :func:`advgame.torch.evaluate` (default ``"quick"``); None runs ``attacks``.
    attacks
        As in :func:`advgame.torch.evaluate` (used when ``suite`` is None).
    batch_size, bounds, seed
        As in :func:`advgame.torch.evaluate`.

    Returns
    -------
    dict
        ``{"eps": [...], "norm": str, "accuracy": {name: [...]}}`` with one entry per
        attack, ``"natural"`` and ``"worst"``, each a list aligned with ``eps``.
    """
    from .evaluate import evaluate

    norm = check_norm(norm, allowed=NORMS)
    eps_values = [float(e) for e in eps_values]
    if not eps_values or any(e < 0 for e in eps_values) or sorted(eps_values) != eps_values:
        raise ValueError(f"eps_values must be a non-empty increasing list of radii >= 0; got {eps_values}")
    acc = {}
    for e in eps_values:
        if suite is None:
            from .evaluate import default_attacks

            atk = default_attacks(e, norm, bounds, attacks) if isinstance(attacks, (str, list, tuple)) else attacks
            r = evaluate(mixture, x, y, e, norm, atk, batch_size=batch_size, bounds=bounds, seed=seed, checks=False)
        else:
            r = evaluate(mixture, x, y, e, norm, batch_size=batch_size, bounds=bounds, seed=seed, suite=suite,
                         checks=False)
        for k, v in r.items():
            acc.setdefault(k, []).append(float(v))
    n = len(eps_values)
    acc = {k: v for k, v in acc.items() if len(v) == n}
    return {"eps": eps_values, "norm": norm, "accuracy": acc}


def plot_robust_accuracy(curve, ax=None, worst_style=None):
    """Plot a :func:`robust_accuracy_curve`: one line per attack, the worst case in bold.

    Parameters
    ----------
    curve : dict
    ax : matplotlib Axes, optional
    worst_style : dict, optional
        Line style of the worst case (default black, width 2.5).

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 3.6))
    eps = curve["eps"]
    for k, v in curve["accuracy"].items():
        if k in ("natural", "worst"):
            continue
        ax.plot(eps, v, marker=".", lw=1, label=k)
    ax.plot(eps, curve["accuracy"]["worst"], label="worst case", **(worst_style or {"color": "k", "lw": 2.5}))
    ax.set_xlabel(f"{curve['norm']} radius eps")
    ax.set_ylabel("robust accuracy (exact expectation)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    return ax


def write_curve_figure(curve, stem) -> list:
    """Save :func:`plot_robust_accuracy` as ``stem.png`` and ``stem.pdf`` (atomically).

    Returns
    -------
    list of str
        The written paths.
    """
    import matplotlib

    if os.environ.get("MPLBACKEND") is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..plot import save_figure

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    plot_robust_accuracy(curve, ax=ax)
    fig.tight_layout()
    try:
        return save_figure(fig, str(stem))
    finally:
        plt.close(fig)
