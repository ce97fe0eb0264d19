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


def _shown_points(y, n_points, seed):
    """Indices of at most ``n_points`` points, as evenly as possible across classes (seeded)."""
    N = len(y)
    if n_points is None or n_points >= N:
        return np.arange(N)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    take = [0] * len(pools)
    left = n_points
    while left > 0:  # round-robin over the classes that still have points
        progressed = False
        for i, pool in enumerate(pools):
            if left > 0 and take[i] < len(pool):
                take[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return np.sort(np.concatenate([pool[:t] for pool, t in zip(pools, take)]))


def _ball_patch(center, eps, p, **kw):
    """The ``eps``-ball of the l_p norm (p in {1, 2, inf}) around ``center`` as a patch."""
    import matplotlib.patches as mpatches

    cx, cy = float(center[0]), float(center[1])
    if p == 2:
        return mpatches.Circle((cx, cy), eps, **kw)
    if np.isinf(p):
        return mpatches.Rectangle((cx - eps, cy - eps), 2 * eps, 2 * eps, **kw)
    return mpatches.Polygon([(cx + eps, cy), (cx, cy + eps), (cx - eps, cy), (cx, cy - eps)], closed=True, **kw)


def _linear_line(clf):
    """(w, b) of a binary linear classifier in 2-D (``w``/``b`` or scikit-learn's
    ``coef_``/``intercept_``), or None for any other classifier."""
    if hasattr(clf, "w") and hasattr(clf, "b"):
        w, b = np.asarray(clf.w, float).ravel(), float(np.ravel(clf.b)[0])
    elif hasattr(clf, "coef_") and hasattr(clf, "intercept_") and np.asarray(clf.coef_).shape == (1, 2):
        w, b = np.asarray(clf.coef_, float)[0], float(np.ravel(clf.intercept_)[0])
    else:
        return None
    return (w, b) if w.shape == (2,) and np.abs(w).max() > 0 else None


def plot_mixture(X, y, classifiers, weights, eps=None, ax=None, n_balls=4, grid=240, seed=0, lim=None, norm=2,
                 n_points=None):
    """Data, classifiers and the mixture's probability of predicting the positive class
    (MNE21 Fig. 2, left).

    Parameters
    ----------
    X : array (N, 2)
    y : array (N,)
        Binary labels of any type; the positive class is the larger of the two
        (``+1`` for -1/+1 labels).
    classifiers : sequence of callables or fitted estimators
        Anything :func:`advgame.construct.loss_tensor` takes; the decision regions are
        found by evaluating every classifier on a ``grid`` x ``grid`` grid.  A linear
        classifier (``w``/``b``, or scikit-learn's ``coef_``/``intercept_``) is drawn
        as its exact line; any other as the contour of its decision region.  Lines are
        darker the larger the classifier's weight.
    weights : array (L,)
        The mixture.
    eps : float, optional
        Draw the attack ball of ``n_balls`` random points (chosen with ``seed``).
    norm : {"l2", "linf", "l1"} or {2, inf, 1}, default 2
        The ball's norm: circles (l2), squares (linf), diamonds (l1).
    n_points : int, optional
        Draw at most this many points, sampled with ``seed`` as evenly as possible
        across the classes; the title says how many of the N points are shown.
        Default: all.
    lim : ((xmin, ymin), (xmax, ymax)), optional
        The plotted window (default: the data's range plus 1).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from ._validation import check_int, norm_exponent
    from .construct import loss_tensor

    ax = _axes(ax, (5.5, 4.5))
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    w = np.asarray(weights, dtype=float)
    p = norm_exponent(norm, general=False)
    grid = check_int("grid", grid, 2)
    classes = np.unique(y)
    if len(classes) > 2:
        raise ValueError(f"y must hold binary labels for plot_mixture; got {len(classes)} classes")
    pos = classes[-1]
    if lim is None:
        lo, hi = X.min(axis=0) - 1, X.max(axis=0) + 1
    else:
        lo, hi = np.asarray(lim[0], float), np.asarray(lim[1], float)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid))
    P = np.stack([gx.ravel(), gy.ravel()], axis=1)
    # predicts_pos[:, k] = 1{classifier k predicts the positive class}: one minus its 0/1 loss against it
    predicts_pos = 1.0 - loss_tensor(list(classifiers), P, np.full(len(P), pos, dtype=y.dtype))[:, 0, :]
    prob = predicts_pos @ w
    # opaque, in viridis lightened towards white: the fill and its colour bar show the same colours
    im = ax.imshow(prob.reshape(grid, grid), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
                   cmap=_light_cmap("viridis"), vmin=0, vmax=1)
    ax.figure.colorbar(im, ax=ax, label=f"P(mixture predicts {pos})", shrink=0.8)
    shown = _shown_points(y, n_points, seed)
    colors = ["tab:blue", "tab:red"]
    for c, color in zip(classes, colors):
        idx = shown[y[shown] == c]
        ax.scatter(*X[idx].T, s=6, c=color, label=f"y = {c} ({len(idx)} shown)")
    xs = np.linspace(lo[0], hi[0], 2)
    for k, (wk, clf) in enumerate(zip(w, classifiers)):
        alpha = 0.15 + 0.85 * (wk / max(w.max(), 1e-12))
        lw = 1.0 + 2 * (wk > 1e-6)
        line = _linear_line(clf)
        label = "classifiers (darker: more weight)" if k == 0 else None
        if line is None:
            ax.contour(gx, gy, predicts_pos[:, k].reshape(grid, grid), levels=[0.5], colors="k",
                       linewidths=lw, alpha=alpha)
            if label:
                ax.plot([], [], color="k", label=label)
        elif abs(line[0][1]) > 1e-12:
            ax.plot(xs, -(line[0][0] * xs + line[1]) / line[0][1], color="k", lw=lw, alpha=alpha, label=label)
        else:
            ax.axvline(-line[1] / line[0][0], color="k", lw=lw, alpha=alpha, label=label)
    if eps is not None and n_balls > 0:
        name = {1.0: "l1", 2.0: "l2"}.get(p, "linf")
        idx = np.random.default_rng(seed).choice(len(X), size=min(n_balls, len(X)), replace=False)
        for j, i in enumerate(idx):
            ax.add_patch(_ball_patch(X[i], eps, p, fill=False, lw=0.9, ls="--", color="0.25",
                                     label=f"{name} ball, radius {eps:g}" if j == 0 else None))
            ax.plot(*X[i], "x", color="0.25", ms=5, label="its centre (a data point)" if j == 0 else None)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    # below the axes, where it covers no point
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6, markerscale=2, frameon=False)
    title = "optimal mixture" + (f" (eps = {eps:g})" if eps is not None else "")
    if len(shown) < len(X):
        title += f"\n{len(shown)} of {len(X)} points shown"
    ax.set_title(title)
    return ax


def _light_cmap(name, white=0.5, n=256):
    """The colormap ``name`` blended with white (``white`` in [0, 1]) into an opaque
    ``ListedColormap``: a light background whose colour bar shows exactly its colours."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    base = matplotlib.colormaps[name](np.linspace(0, 1, n))
    base[:, :3] = (1 - white) * base[:, :3] + white
    return ListedColormap(base, name=f"{name}_light")


def plot_convergence(histories, optimal_value, ax=None, floor=1e-10, best_so_far=True):
    r""":math:`R(\lambda_t) - R^*` against t, log scale (MNE21 Fig. 2, middle).

    Parameters
    ----------
    histories : dict
        Label -> sequence of :math:`R(\lambda_t)`.
    optimal_value : float
        :math:`R^*` (e.g. from the exact LP).
    floor : float
        Differences below it (exact optimum reached) are drawn at ``floor``.
    best_so_far : bool, default True
        Draw the best iterate so far, :math:`\min_{s \le t} R(\lambda_s) - R^*` (what
        MNE21 Prop. 6 bounds for Algorithm 1, and what the solvers return), solid, with
        the raw curve faint behind it.  False: the raw curves only.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    for label, h in histories.items():
        h = np.asarray(h, dtype=float)
        t = np.arange(1, len(h) + 1)
        if best_so_far:
            (raw,) = ax.plot(t, np.maximum(h - optimal_value, floor), lw=0.6, alpha=0.25)
            ax.plot(t, np.maximum(np.minimum.accumulate(h) - optimal_value, floor), label=label, lw=1.4,
                    color=raw.get_color())
        else:
            ax.plot(t, np.maximum(h - optimal_value, floor), label=label, lw=1.2)
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("iteration t (t = 1 is the uniform mixture)")
    if best_so_far:
        ax.set_ylabel(r"$\min_{s \leq t} R(\lambda_s) - R^*$ (faint: $R(\lambda_t) - R^*$)")
    else:
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

