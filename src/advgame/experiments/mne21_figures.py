"""MNE21 Figure 2's three panels from :func:`advgame.experiments.mne21.run_gaussians`
(re-exported there as ``gaussian_figures``)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["gaussian_figures"]


def gaussian_figures(res, out) -> list:
    """Draw MNE21 Figure 2 from :func:`run_gaussians`'s result into the folder ``out``.

    Writes ``mixture``, ``convergence`` (when recorded), ``risk_vs_eps`` and
    ``figure2`` (the panels side by side: three with the convergence runs, else two),
    each as PNG and PDF, and returns the file names written.  Needs matplotlib.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plot import plot_convergence, plot_mixture, plot_risk_vs_eps, save_figure

    out = Path(out)
    objs = res["_objects"]
    conv = res["convergence"]
    ce = conv["eps"] if conv else res["eps"][-1]
    _, _, sol = objs["games"][ce]
    written = []

    def left(ax):
        plot_mixture(objs["X"], objs["y"], objs["classifiers"], sol.weights, eps=ce, ax=ax, norm=res["setup"]["norm"],
                     n_points=200, seed=0, lim=((-7, -4), (7, 4)))

    def middle(ax):
        hist = {"Algorithm 1 (oracle)": conv["oracle"]["history"]}
        for a, h in conv["entropic"].items():
            hist[f"entropic, temperature {float(a):g}"] = h["history"]
        plot_convergence(hist, conv["optimal_value"], ax=ax)
        ax.set_title(f"convergence (eps = {ce:g})")

    panels = [("mixture", left), ("convergence", middle), ("risk_vs_eps", lambda ax: plot_risk_vs_eps(res, ax=ax))]
    for name, draw in panels:
        if name == "convergence" and not conv:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        draw(ax)
        written += save_figure(fig, out / name)
        plt.close(fig)
    shown = [(name, draw) for name, draw in panels if conv or name != "convergence"]
    fig, axes = plt.subplots(1, len(shown), figsize=(5.7 * len(shown), 4.8))
    for (name, draw), ax in zip(shown, axes):
        draw(ax)
    fig.tight_layout()
    written += save_figure(fig, out / "figure2")
    plt.close(fig)
    return [Path(p).name for p in written]
