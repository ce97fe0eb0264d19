"""RM20, Figure 1 on a fine 1-D grid, and the MNE21 Sec. 2.1 example as a finite world.

Two Gaussian classes, mu_{-1} = N(-1, 1) and mu_{+1} = N(1, 1) with equal priors,
discretized on 1201 points of [-5, 5]; the classifier is the Bayes classifier
h(x) = sign(x) (points at x <= 0 labelled -1); eps = 0.5.  The four panels show the
class densities

1. without attack;
2. under a best response of the unregularized adversary (penalty_strength = 0, RM20 Eq. 3): every
   point moved by eps towards the other class (one of its many best responses, the one
   the figure draws);
3. under a best response of the mass-penalized adversary (penalty_strength = 0.5, Eq. 5): the
   attackable points P_h(eps), N_h(eps) moved by eps across the boundary, the others
   left in place (RM20, Lemma 1);
4. under the norm-penalized adversary's best response (penalty_strength = 0.5, Eq. 6), as computed
   by ``FiniteWorld.adversary_best_response``: the attackable mass lands on the grid
   points next to the boundary (the finite form of the projection, RM20 Lemma 2),
   drawn as point masses.

Each drawn attack is checked to be a best response (``is_adversary_best_response``).

Run:  PYTHONPATH=src python docs/scripts/rm20_figure1.py [output_dir]
Writes rm20_figure1.png and rm20_figure1.pdf (default: docs/figures/), atomically.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from advgame.plot import plot_pushforward_1d, save_figure
from advgame.regularized import gaussian_world, motivating_world

EPS = 0.5
LAM = 0.5
N_GRID = 1201
HALF_WIDTH = 5.0


def shift_attack(world, labels, only_attackable):
    """Move points by eps towards the other class (clipped to the grid), optionally only the attackable ones."""
    n = world.n
    step = int(round(world.eps / (world.points[1, 0] - world.points[0, 0])))
    idx = np.arange(n)
    att = np.stack([np.minimum(idx + step, n - 1), np.maximum(idx - step, 0)])
    if only_attackable:
        zones = world.attackable(labels)
        att = np.where(zones, att, idx[None, :])
    return att


def make_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worlds = {
        "none": gaussian_world(eps=EPS, penalty_strength=0.0, penalty="mass", n=N_GRID, half_width=HALF_WIDTH),
        "mass": gaussian_world(eps=EPS, penalty_strength=LAM, penalty="mass", n=N_GRID, half_width=HALF_WIDTH),
        "norm": gaussian_world(eps=EPS, penalty_strength=LAM, penalty="norm", n=N_GRID, half_width=HALF_WIDTH),
    }
    x = worlds["none"].points[:, 0]
    h = np.where(x > 0, 1, -1)
    attacks = {
        "none": shift_attack(worlds["none"], h, only_attackable=False),
        "mass": shift_attack(worlds["mass"], h, only_attackable=True),
        "norm": worlds["norm"].adversary_best_response(h),
    }
    for key, att in attacks.items():
        if not worlds[key].is_adversary_best_response(att, h):
            raise RuntimeError(f"the {key} attack drawn is not a best response; the figure would be wrong")

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    w0 = worlds["none"]
    plot_pushforward_1d(w0, None, h, ax=axes[0], title=f"no attack (risk {w0.clean_risk(h):.3f})")
    plot_pushforward_1d(w0, attacks["none"], h, ax=axes[1], legend=False,
                        title=f"no penalty, $\\lambda=0$ (risk {w0.adversary_value(h):.3f})")
    wm = worlds["mass"]
    plot_pushforward_1d(wm, attacks["mass"], h, ax=axes[2], legend=False,
                        title=f"mass penalty, $\\lambda={LAM}$ ($R^\\Omega_{{adv}}$ {wm.adversary_value(h):.3f})")
    wn = worlds["norm"]
    plot_pushforward_1d(wn, attacks["norm"], h, ax=axes[3], dirac=True, legend=False,
                        title=f"norm penalty, $\\lambda={LAM}$ ($R^\\Omega_{{adv}}$ {wn.adversary_value(h):.3f})")
    top = max(ax.get_ylim()[1] for ax in axes)
    for ax in axes:
        ax.set_ylim(0, top)
        ax.axvline(0.0, color="0.3", lw=0.8)
        ax.set_xlim(-4, 4)
    axes[0].set_ylabel("density")
    fig.suptitle(
        f"RM20 Fig. 1 on a {N_GRID}-point grid: $\\mu_{{\\pm1}}=\\mathcal{{N}}(\\pm1,1)$, $h=\\mathrm{{sign}}(x)$, "
        f"$\\varepsilon={EPS}$ (arrows: point masses, labelled with their mass)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "figures"
    out.mkdir(parents=True, exist_ok=True)
    fig = make_figure()
    save_figure(fig, out / "rm20_figure1")  # PNG + PDF, atomically, reproducible PDF
    import matplotlib.pyplot as plt

    plt.close(fig)

    world, labels = motivating_world()
    print(
        "MNE21 Sec. 2.1 as a finite world: adversarial risk of f1 = "
        f"{world.adversary_value(labels[0]):g}, of f2 = {world.adversary_value(labels[1]):g}, "
        f"of the uniform mixture = {world.adversary_value(labels, [0.5, 0.5]):g}"
    )
    print(f"wrote {out / 'rm20_figure1.png'} and {out / 'rm20_figure1.pdf'}")


if __name__ == "__main__":
    main()
