"""Issue 16, item 3: the Gaussian mixture panel's legend covers no point, and its fill
shows the colours of its colour bar."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from advgame.plot import plot_mixture  # noqa: E402
from advgame.synthetic import make_gaussians, random_linear_classifiers  # noqa: E402


def _panel():
    X, y = make_gaussians(300, seed=0)
    clfs = random_linear_classifiers(X, y, 4, seed=0)
    ax = plot_mixture(X, y, clfs, [0.4, 0.3, 0.2, 0.1], eps=2.0, grid=40, lim=((-7, -4), (7, 4)))
    ax.figure.canvas.draw()
    return ax, X


def test_legend_covers_no_point():
    ax, X = _panel()
    box = ax.get_legend().get_window_extent()
    shown = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    pix = ax.transData.transform(shown)
    inside = (pix[:, 0] >= box.x0) & (pix[:, 0] <= box.x1) & (pix[:, 1] >= box.y0) & (pix[:, 1] <= box.y1)
    assert not inside.any()
    assert not box.overlaps(ax.get_window_extent())  # outside the plotting area altogether


def test_fill_matches_its_colour_bar():
    ax, _ = _panel()
    im = ax.images[0]
    assert im.get_alpha() in (None, 1.0)  # a translucent fill looks lighter than its colour bar
    cbar = im.colorbar
    assert cbar is not None and cbar.mappable is im
    # the colour the fill shows for a probability is the colour bar's at that value
    for p in (0.0, 0.3, 1.0):
        assert np.allclose(im.to_rgba(p), cbar.cmap(cbar.norm(p)))
        assert im.to_rgba(p)[3] == 1.0
