"""Issue 16 (items 2 and 5): the command line as a user meets it, through the real entry
point in subprocesses (exit codes, standard output, standard error)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--n", "20", "--attacks", "10", "--eps", "1", "2", "--classifiers", "3", "--no-progress"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(*args, cwd=None, **kw):
    return subprocess.run([sys.executable, "-m", "advgame", *args], capture_output=True, text=True, cwd=cwd,
                          env=_env(), timeout=600, **kw)


def run_into_closed_pipe(*args, cwd=None):
    """``advgame ARGS`` with standard output a pipe whose reader has already gone
    (``advgame ... | head`` once head has exited)."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([sys.executable, "-m", "advgame", *args], stdout=w, stderr=subprocess.PIPE,
                              text=True, cwd=cwd, env=_env(), timeout=600)
    finally:
        os.close(w)


# ---------------------------------------------------------------- item 2
def test_gaussians_default_skips_the_convergence_runs_and_says_how_to_get_them(tmp_path):
    out = run("gaussians", *SMALL, "--out", str(tmp_path / "g"))
    assert out.returncode == 0, out.stderr
    assert "--convergence" in out.stdout  # how to get the full figure
    assert out.stdout.splitlines()[-1].startswith("wrote ")
    setup = json.loads((tmp_path / "g" / "results.json").read_text())["setup"]
    assert setup["convergence"] is False
    assert not (tmp_path / "g" / "convergence.png").exists()
    assert (tmp_path / "g" / "figure2.png").exists()


def test_gaussians_convergence_option_draws_the_full_figure(tmp_path):
    out = run("gaussians", "--quick", *SMALL, "--convergence", "--out", str(tmp_path / "g"))
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "g" / "results.json").read_text())
    assert data["setup"]["convergence"] is True and data["convergence"]["oracle"]["history"]
    for ext in ("png", "pdf"):
        assert (tmp_path / "g" / f"convergence.{ext}").stat().st_size > 1000
    assert "add --convergence" not in out.stdout
    both = run("gaussians", *SMALL, "--convergence", "--no-convergence", "--out", str(tmp_path / "h"))
    assert both.returncode == 2 and "not both" in both.stderr


def test_gaussians_help_documents_convergence():
    out = run("gaussians", "--help")
    assert out.returncode == 0
    assert "--convergence" in out.stdout and "default: off" in out.stdout


def test_figure2_has_two_panels_without_convergence(tmp_path):
    pytest.importorskip("matplotlib")
    from advgame.experiments.mne21 import gaussian_figures, run_gaussians

    res = run_gaussians(eps=(1.0,), n_samples=20, n_classifiers=3, n_attacks=10, convergence_eps=None)
    import matplotlib.pyplot as plt

    made = []
    real = plt.subplots

    def spy(*a, **k):
        fig, ax = real(*a, **k)
        made.append(a)
        return fig, ax

    plt.subplots = spy
    try:
        names = gaussian_figures(res, tmp_path)
    finally:
        plt.subplots = real
    assert "convergence.png" not in names and "figure2.png" in names
    assert (1, 2) in made  # figure2: the mixture and risk panels, no blank middle panel


# ---------------------------------------------------------------- item 5
@pytest.mark.parametrize("args", [
    ("solve", "--example", "motivating", "--json"),
    ("solve", "--example", "random-real", "--method", "oracle", "--max-iter", "20"),
    ("example", "motivating", "--out", "ex.npz"),
])
def test_broken_pipe_exits_quietly(tmp_path, args):
    out = run_into_closed_pipe(*args, cwd=tmp_path)
    assert out.stderr == ""  # no traceback, no "Broken pipe" error line
    assert out.returncode == 141  # 128 + SIGPIPE, as a Unix tool killed by the signal


def test_broken_pipe_of_the_torch_commands(tmp_path):
    pytest.importorskip("torch")
    out = run_into_closed_pipe("eval", str(tmp_path / "missing.pt"), cwd=tmp_path)
    assert "Broken pipe" not in out.stderr and "Traceback" not in out.stderr
    assert out.returncode == 1  # the missing checkpoint: one line on stderr, as before


def test_pipe_into_head_is_quiet(tmp_path):
    proc = subprocess.run(f"{sys.executable} -m advgame solve --example random-real --json --history | head -1",
                          shell=True, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300)
    assert proc.stdout == "{\n" and proc.stderr == ""


def test_lp_out_of_rounds_is_max_steps_like_the_first_order_solvers():
    out = run("solve", "--example", "random-real", "--method", "lp", "--max-iter", "1", "--json")
    assert out.returncode == 3
    assert json.loads(out.stdout)["status"] == "max_steps"
    assert "stopped after 1 constraint-generation rounds" in out.stderr and "the default tolerance" in out.stderr
    oracle = run("solve", "--example", "random-real", "--method", "oracle", "--max-iter", "2", "--tol", "1e-9",
                 "--json")
    assert oracle.returncode == 3 and json.loads(oracle.stdout)["status"] == "max_steps"


def test_library_lp_out_of_rounds_status():
    import warnings

    import advgame
    from advgame.examples import make_example

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = advgame.solve(make_example("random-real"), max_iter=1)
    assert res.status == advgame.result.MAX_STEPS and not res.success
    assert any(issubclass(w.category, advgame.SolverWarning) for w in caught)
    g = advgame.examples.random_game(300, 40, 8, kind="real", seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", advgame.SolverWarning)
        for strategy in ("cg", "cuts"):
            assert advgame.solve(g, strategy=strategy, max_iter=2).status == "max_steps", strategy
        assert advgame.solve(g).status == "optimal"


def test_cli_md_lists_the_commands_help_lists():
    out = run("--help")
    listed = set(re.findall(r"^    (\w+)\s", out.stdout, flags=re.M))
    assert {"solve", "example", "gaussians", "train", "eval"} <= listed
    text = (ROOT / "docs" / "cli.md").read_text()
    headings = [ln for ln in text.splitlines() if ln.startswith("## ")]
    sections = {name for ln in headings for name in re.findall(r"`advgame (\w+)`", ln)}
    assert listed == sections
    intro = text.split("\n## ")[0]
    assert all(f"`{name}`" in intro for name in listed)
    assert "141" in text  # the broken-pipe exit code is documented


def test_torch_md_lists_models_once():
    text = (ROOT / "docs" / "torch.md").read_text()
    rows = [ln for ln in text.splitlines() if ln.startswith("| `models`")]
    assert len(rows) == 1
