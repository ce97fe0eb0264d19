"""Nothing reaches standard output unless it is documented (issue 16, item 1).

highspy 1.16 prints a banner from C++ when ``highspy.Highs()`` is constructed: the text goes
to file descriptor 1, so only a subprocess sees it. Every test here runs advgame in a child
process and reads what the child wrote on its descriptor 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("highspy")


def run(args, cwd=None, timeout=300):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--method", "lp", "--max-iter", "5"],
        ["--method", "oracle", "--max-iter", "50"],
        ["--method", "entropic", "--max-iter", "50"],
    ],
    ids=["lp", "lp-rounds", "oracle", "entropic"],
)
@pytest.mark.parametrize("example", ["motivating", "random-real"])
def test_solve_json_stdout_is_json_for_every_method(example, extra):
    out = run([sys.executable, "-m", "advgame", "solve", "--example", example, "--json", *extra])
    assert out.returncode in (0, 3), out.stderr
    data = json.loads(out.stdout)  # the whole of stdout, nothing before or after
    assert "weights" in data and "gap" in data
    assert "HiGHS" not in out.stdout


_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import advgame
    rng = np.random.default_rng(0)
    real = advgame.Game(rng.random((60, 8, 4)))
    binary = advgame.Game((rng.random((60, 8, 4)) < 0.5).astype(np.float64))
    for game, strategies in ((real, ("cg", "cuts", "full")), (binary, ("prune", "cg", "cuts", "full"))):
        advgame.solve(game)
        for strategy in strategies:
            advgame.solve(game, strategy=strategy)
        advgame.solve(game, solver="cvxpy")
        advgame.solve(game, method="oracle", max_iter=20)
        advgame.solve(game, method="entropic", max_iter=20)
    """
)


def test_library_solves_print_nothing():
    out = run([sys.executable, "-c", _SCRIPT])
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


def test_highspy_construction_is_silent_at_the_descriptor_level():
    code = "from advgame.solvers.lp._quiet import new_highs; new_highs(); new_highs(); print('ok')"
    out = run([sys.executable, "-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


def test_quiet_block_keeps_earlier_python_output_and_restores_stdout():
    code = textwrap.dedent(
        """
        import os, sys
        from advgame.solvers.lp._quiet import quiet_stdout_fd
        sys.stdout.write("before ")  # buffered: must be flushed before the redirect
        with quiet_stdout_fd():
            os.write(1, b"hidden")
        print("after")
        """
    )
    out = run([sys.executable, "-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout == "before after\n"


def test_gaussians_quick_prints_only_its_table(tmp_path):
    out = run([sys.executable, "-m", "advgame", "gaussians", "--quick", "--out", str(tmp_path / "g")],
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("MNE21 synthetic experiment")
    assert "HiGHS" not in out.stdout and "Copyright" not in out.stdout
    assert lines[-1].startswith("wrote ")


def test_readme_test_command_is_what_ci_runs():
    """README's second command and .ci/run install the same pinned set (issue 16, item 1)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash\n")[1:3]]
    install, test = blocks[1].split(" && ")
    assert "-c .ci/constraints.txt" in install
    assert install.replace("python -m ", "python -m ") in ci
    assert test in ci
    pins = [ln for ln in (root / ".ci" / "constraints.txt").read_text().splitlines()
            if ln and not ln.startswith("#")]
    assert all("==" in ln for ln in pins)
    names = {ln.split("==")[0].lower() for ln in pins}
    assert {"highspy", "numpy", "scipy", "cvxpy", "torch", "pytest", "hypothesis"} <= names
