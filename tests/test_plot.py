"""Plot functions take ax=None, return the axes, and save PNG + PDF."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from advgame.plot import plot_convergence, plot_mixture, plot_risk_vs_eps, save_figure  # noqa: E402
from advgame.synthetic import LinearClassifier, make_gaussians, random_linear_classifiers  # noqa: E402


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


def _patches(ax, kind):
    return [p for p in ax.patches if type(p).__name__ == kind]


@pytest.mark.parametrize("norm, kind", [("l2", "Circle"), ("linf", "Rectangle"), ("l1", "Polygon"), (np.inf, "Rectangle")])
def test_mixture_draws_the_ball_of_the_norm_with_legend_entries(norm, kind):
    X, y = make_gaussians(40, seed=1)
    clfs = random_linear_classifiers(X, y, 2, seed=1)
    ax = plot_mixture(X, y, clfs, [0.5, 0.5], eps=0.7, norm=norm, n_balls=3, grid=20)
    balls = _patches(ax, kind)
    assert len(balls) == 3
    if kind == "Rectangle":  # a square of side 2 eps
        assert balls[0].get_width() == pytest.approx(1.4) and balls[0].get_height() == pytest.approx(1.4)
    if kind == "Polygon":  # a diamond: 4 corners at distance eps along the axes
        xy = balls[0].get_xy()[:4] - balls[0].get_xy()[:4].mean(axis=0)
        np.testing.assert_allclose(np.sort(np.abs(xy).sum(axis=1)), [0.7] * 4)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("ball, radius 0.7" in t for t in labels) and any("centre" in t for t in labels)
    plt.close("all")


def test_mixture_shows_a_seeded_class_balanced_sample_and_says_so():
    X, y = make_gaussians(300, seed=2)
    y = np.where(np.arange(300) < 250, 1, -1)  # unbalanced classes: 250 / 50
    clfs = [LinearClassifier([1.0, 0.0], 0.0), LinearClassifier([0.0, 1.0], 0.5)]
    ax = plot_mixture(X, y, clfs, [1.0, 0.0], n_points=60, seed=3, grid=20)
    assert "60 of 300 points shown" in ax.get_title()
    sizes = sorted(len(c.get_offsets()) for c in ax.collections if len(c.get_offsets()))
    assert sizes == [30, 30]
    again = plot_mixture(X, y, clfs, [1.0, 0.0], n_points=60, seed=3, grid=20)
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), again.collections[0].get_offsets())
    full = plot_mixture(X, y, clfs, [1.0, 0.0], grid=20)
    assert "shown" not in full.get_title()
    plt.close("all")


def test_mixture_regions_of_any_classifier():
    sk_tree = pytest.importorskip("sklearn.tree")
    sk_lin = pytest.importorskip("sklearn.linear_model")
    X, y = make_gaussians(120, seed=4)
    names = np.where(y > 0, "pos", "neg")
    tree = sk_tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, names)
    logit = sk_lin.LogisticRegression().fit(X, names)
    rule = lambda P: np.where(P[:, 1] > 0, "pos", "neg")  # noqa: E731
    ax = plot_mixture(X, names, [tree, logit, rule], [0.5, 0.25, 0.25], grid=25, lim=((-5, -5), (5, 5)))
    g = np.linspace(-5, 5, 25)
    gx, gy = np.meshgrid(g, g)
    P = np.stack([gx.ravel(), gy.ravel()], axis=1)
    want = 0.5 * (tree.predict(P) == "pos") + 0.25 * (logit.predict(P) == "pos") + 0.25 * (rule(P) == "pos")
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()).ravel(), want)
    assert "P(mixture predicts pos)" in ax.figure.axes[-1].get_ylabel()
    plt.close("all")


def test_convergence_plots_the_best_iterate_so_far_over_the_faint_raw_curve():
    h = [0.9, 0.5, 0.7, 0.4, 0.6, 0.45]
    ax = plot_convergence({"Algorithm 1": h}, 0.3)
    raw, best = ax.get_lines()
    np.testing.assert_allclose(raw.get_ydata(), np.array(h) - 0.3)
    np.testing.assert_allclose(best.get_ydata(), np.array([0.9, 0.5, 0.5, 0.4, 0.4, 0.4]) - 0.3)
    assert raw.get_alpha() < 0.5 and best.get_label() == "Algorithm 1" and raw.get_color() == best.get_color()
    only_raw = plot_convergence({"a": h}, 0.3, best_so_far=False)
    assert len(only_raw.get_lines()) == 1
    plt.close("all")
