"""Plot functions take ax=None, return the axes, and save PNG + PDF."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from advgame.plot import plot_convergence, plot_mixture, plot_risk_vs_eps, save_figure  # noqa: E402
from advgame.synthetic import make_gaussians, random_linear_classifiers  # noqa: E402


def test_plots_return_axes(tmp_path):
    X, y = make_gaussians(60, seed=0)
    clfs = random_linear_classifiers(X, y, 3, seed=0)
    ax = plot_mixture(X, y, clfs, [0.5, 0.5, 0.0], eps=1.0, grid=30)
    assert ax.get_title() == "optimal mixture (eps = 1)"
    _, ax2 = plt.subplots()
    assert plot_convergence({"a": [0.5, 0.4, 0.3]}, 0.3, ax=ax2) is ax2
    assert ax2.get_yscale() == "log"
    res = {k: [0.4, 0.5] for k in ("randomized_in", "randomized_out", "deterministic_in", "deterministic_out",
                                   "lower_bound")}
    res["eps"] = [1.0, 2.0]
    ax3 = plot_risk_vs_eps(res)
    assert len(ax3.get_lines()) == 5
    files = save_figure(ax3.figure, tmp_path / "sub" / "fig")
    assert [f.rsplit(".", 1)[1] for f in files] == ["png", "pdf"]
    assert all((tmp_path / "sub" / f"fig.{e}").stat().st_size > 0 for e in ("png", "pdf"))
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["fig.pdf", "fig.png"]
    plt.close("all")
    # values in the colour map are probabilities of predicting +1
    np.testing.assert_allclose(ax.images[0].get_array().max() <= 1.0, True)
