"""Figures (matplotlib is imported here only, so ``import advgame`` stays light).

Every function takes ``ax=None`` (a new figure when None) and returns the axes.
:func:`save_figure` writes a figure as PNG and PDF, atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._io import atomic_path
__all__ = ["plot_mixture", "plot_convergence", "plot_risk_vs_eps", "save_figure"]


def _axes(ax, figsize=(5, 4)):
    import matplotlib

    if ax is None:
        if os.environ.get("MPLBACKEND") is None and matplotlib.get_backend().lower() != "agg":
            try:
                matplotlib.use("Agg")
            except Exception:  # noqa: BLE001 - keep the user's backend if it cannot switch
                pass
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_mixture(X, y, classifiers, weights, eps=None, ax=None, n_balls=4, grid=240, seed=0, lim=None):
    """Data, classifiers and the mixture's probability of predicting +1 (MNE21 Fig. 2, left).

    Parameters
    ----------
    X : array (N, 2), y : array (N,) in {-1, +1}
    classifiers : sequence of :class:`advgame.experiments.mne21_data.LinearClassifier`
    weights : array (L,)
        The mixture; a classifier's line is drawn darker the larger its weight.
    eps : float, optional
        Draw the L2 attack ball of ``n_balls`` random points (chosen with ``seed``).
    """
    import matplotlib.patches as mpatches

    ax = _axes(ax, (5.5, 4.5))
    X = np.asarray(X)
    y = np.asarray(y)
    w = np.asarray(weights, dtype=float)
    if lim is None:
        lo, hi = X.min(axis=0) - 1, X.max(axis=0) + 1
    else:
        lo, hi = np.asarray(lim[0], float), np.asarray(lim[1], float)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
    P = np.stack([gx.ravel(), gy.ravel()], axis=1)
    prob = np.zeros(P.shape[0])
    for wk, c in zip(w, classifiers):
        prob += wk * (np.asarray(c(P)) > 0)
    im = ax.imshow(prob.reshape(grid, grid), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
                   cmap="viridis", vmin=0, vmax=1, alpha=0.5)
    ax.figure.colorbar(im, ax=ax, label="P(mixture predicts +1)", shrink=0.8)
    ax.scatter(*X[y == -1].T, s=6, c="tab:blue", label="y = -1")
    ax.scatter(*X[y == 1].T, s=6, c="tab:red", label="y = +1")
    xs = np.linspace(lo[0], hi[0], 2)
    for wk, c in zip(w, classifiers):
        cw, cb = np.asarray(c.w, float), float(c.b)
        alpha = 0.15 + 0.85 * (wk / max(w.max(), 1e-12))
        if abs(cw[1]) > 1e-12:
            ax.plot(xs, -(cw[0] * xs + cb) / cw[1], color="k", lw=1.0 + 2 * (wk > 1e-6), alpha=alpha)
        else:
            ax.axvline(-cb / cw[0], color="k", lw=1.0, alpha=alpha)
    if eps is not None and n_balls > 0:
        idx = np.random.default_rng(seed).choice(len(X), size=min(n_balls, len(X)), replace=False)
        for i in idx:
            ax.add_patch(mpatches.Circle(X[i], eps, fill=False, lw=0.9, ls="--", color="0.25"))
            ax.plot(*X[i], "x", color="0.25", ms=5)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="upper right", fontsize=7, markerscale=2)
    title = "optimal mixture" + (f" (eps = {eps:g})" if eps is not None else "")
    ax.set_title(title)
    return ax


def plot_convergence(histories, optimal_value, ax=None, floor=1e-10):
    r""":math:`R(\lambda_t) - R^*` against t, log scale (MNE21 Fig. 2, middle).

    Parameters
    ----------
    histories : dict
        Label -> sequence of :math:`R(\lambda_t)`.
    optimal_value : float
        :math:`R^*` (e.g. from the exact LP).
    floor : float
        Differences below it (exact optimum reached) are drawn at ``floor``.
    """
    ax = _axes(ax)
    for label, h in histories.items():
        h = np.asarray(h, dtype=float)
        ax.plot(np.arange(1, len(h) + 1), np.maximum(h - optimal_value, floor), label=label, lw=1.2)
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("iteration t (t = 1 is the uniform mixture)")
    ax.set_ylabel(r"$R(\lambda_t) - R^*$")
    ax.set_title("convergence")
    ax.legend(fontsize=8)
    return ax


def plot_risk_vs_eps(res, ax=None):
    """In- and out-of-sample adversarial risk against eps (MNE21 Fig. 2, right), with the
    smallest risk any classifier reaches (:func:`advgame.bounds.optimal_adversarial_risk`)."""
    ax = _axes(ax)
    e = res["eps"]
    ax.plot(e, res["randomized_in"], "o-", color="tab:green", label="randomized, in-sample")
    ax.plot(e, res["randomized_out"], "o--", color="tab:green", label="randomized, out-of-sample")
    ax.plot(e, res["deterministic_in"], "s-", color="tab:purple", label="best deterministic, in-sample")
    ax.plot(e, res["deterministic_out"], "s--", color="tab:purple", label="best deterministic, out-of-sample")
    ax.plot(e, res["lower_bound"], "k:", label="any classifier (lower bound)")
    ax.set_xlabel("eps")
    ax.set_ylabel("adversarial 0/1 risk")
    ax.set_title("risk against the budget")
    ax.legend(fontsize=7)
    return ax


def save_figure(fig, path_stem) -> list:
    """Save ``fig`` as ``path_stem.png`` and ``path_stem.pdf`` (temp file + rename)."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("png", "pdf"):
        target = stem.with_suffix("." + ext)
        with atomic_path(target, suffix="." + ext) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight",
                        metadata={"CreationDate": None} if ext == "pdf" else None)
        written.append(str(target))
    return written


# ------------------------------------------------------------------ RM20 (advgame.regularized)
__all__ += ["plot_pushforward_1d"]


def plot_pushforward_1d(world, attack=None, labels=None, ax=None, dirac=False, title=None, legend=True):
    r"""Plot the transported class densities of a 1-D world (RM20, Figure 1).

    Also importable as ``advgame.regularized.plot_pushforward_1d``.

    Draws :math:`\nu_{-1}\phi_{-1}\#\mu_{-1}` (blue, dotted) and
    :math:`\nu_{+1}\phi_{+1}\#\mu_{+1}` (red, solid) as densities (mass divided by
    the local grid spacing), and, when ``labels`` is given, shades the attackable zones
    :math:`N_h(\varepsilon)` and :math:`P_h(\varepsilon)` (RM20, Sec. 4).

    Parameters
    ----------
    world : FiniteWorld
        A world with ``dim == 1``.
    attack : array of int, shape (2, n), optional
        Default: no attack.
    labels : array_like, shape (n,), optional
        A deterministic classifier, for the shading.
    ax : matplotlib.axes.Axes, optional
        Default: a new figure's axes.
    dirac : bool
        Draw the mass that the attack *moves* as point masses (vertical stems annotated
        with their mass) instead of spreading it as a density: the norm penalty's best
        response concentrates it on the points next to the boundary (RM20, Lemma 2).
    title : str, optional
    legend : bool

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .regularized import FiniteWorld

    if not isinstance(world, FiniteWorld):
        raise TypeError(f"world must be a FiniteWorld; got {type(world).__name__}")
    if world.dim != 1:
        raise ValueError(f"world must be 1-D (points of shape (n, 1)); got dim = {world.dim}")
    ax = _axes(ax, figsize=(4, 3))
    x = world.points[:, 0]
    order = np.argsort(x)
    xs = x[order]
    if world.n > 1:
        gaps = np.diff(xs)
        width = np.empty(world.n)
        width[1:-1] = 0.5 * (gaps[1:] + gaps[:-1])
        width[0], width[-1] = gaps[0], gaps[-1]
    else:
        width = np.ones(1)
    att = world.identity_attack() if attack is None else world.check_attack(attack)
    moved = att != np.arange(world.n)[None, :]
    masses = world.masses
    if dirac:
        stay = np.where(moved, 0.0, masses)
        T = np.zeros((2, world.n))
        for y in (0, 1):
            np.add.at(T[y], att[y], stay[y])
        D = np.zeros((2, world.n))
        for y in (0, 1):
            np.add.at(D[y], att[y], np.where(moved[y], masses[y], 0.0))
    else:
        T = world.pushforward(att)
        D = np.zeros((2, world.n))
    styles = [("tab:blue", ":", r"$\nu_{-1}\phi_{-1}\#\mu_{-1}$"), ("tab:red", "-", r"$\nu_{1}\phi_{1}\#\mu_{1}$")]
    dens = T[:, order] / width[None, :]
    top = max(float((world.masses[:, order] / width[None, :]).max()), float(dens.max()), 1e-12)
    if labels is not None:
        h = world.check_classifier(labels)
        zones = world.attackable(h)
        for row, colour, name in ((0, "tab:blue", r"$N_h(\varepsilon)$"), (1, "tab:red", r"$P_h(\varepsilon)$")):
            pts = x[zones[row]]
            if pts.size:
                ax.axvspan(pts.min(), pts.max(), color=colour, alpha=0.12, lw=0, label=name)
    for y, (colour, ls, name) in enumerate(styles):
        ax.plot(xs, dens[y], color=colour, ls=ls, lw=1.8, label=name)
    # point masses: the +1 arrow solid and wide, the -1 arrow dashed on top of it
    for y, (colour, ls, name) in enumerate(styles):
        hit = np.flatnonzero(D[y] > 0)
        if not hit.size:
            continue
        j = hit[np.argmax(D[y, hit])]
        ax.annotate("", xy=(x[j], 0.92 * top), xytext=(x[j], 0.0), zorder=4 - y,
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=3.0 if y == 1 else 1.4,
                                    ls="-" if y == 1 else (0, (2, 1.5))))
        ax.text(x[j] + (0.08 if y == 1 else -0.08) * (xs[-1] - xs[0]) / 8, 0.93 * top,
                f"{D[y, hit].sum():.3f}", color=colour, fontsize=8, ha="left" if y == 1 else "right", va="bottom")
    ax.set_ylim(0, 1.12 * top)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_xlabel("$x$")
    if title is not None:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    return ax

