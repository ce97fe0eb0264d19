"""The command line as a user meets it (issue 12): every test runs the real entry point,
``python -m advgame``, in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

import advgame


def run(*args, cwd=None):
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "advgame", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def option_blocks(help_text):
    """{'--opt': 'its help text'} from argparse's option list."""
    blocks, current = {}, None
    for line in help_text.splitlines():
        m = re.match(r"^  (-\S+|--\S+)", line)
        if m:
            current = m.group(1).rstrip(",")
            blocks[current] = line
        elif current and line.startswith("      "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


def test_help_has_no_rest_markup_and_lists_exit_codes():
    out = run("--help")
    assert out.returncode == 0
    assert "``" not in out.stdout and ":mod:" not in out.stdout
    assert "exit codes:" in out.stdout
    for code in ("0", "1", "2", "3", "130"):
        assert re.search(rf"^  {code} +\S", out.stdout, re.M), code


def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"advgame {advgame.__version__}"


def test_every_solve_option_has_help_with_its_default():
    out = run("solve", "--help")
    assert out.returncode == 0 and "``" not in out.stdout
    blocks = option_blocks(out.stdout)
    for opt in ("--example", "--method", "--max-iter", "--temperature", "--step-size", "--tol", "--time-limit",
                "--json", "--history"):
        assert opt in blocks, opt
        if opt != "--example":
            assert "default" in blocks[opt], (opt, blocks[opt])
    # the deprecated aliases work but are not advertised
    assert "--steps" not in out.stdout and "--alpha" not in out.stdout
    assert "exit codes:" in out.stdout


@pytest.mark.parametrize("command", ["gaussians", "example"])
def test_other_commands_show_their_defaults(command):
    out = run(command, "--help")
    assert out.returncode == 0 and "``" not in out.stdout and "(default: None)" not in out.stdout
    blocks = option_blocks(out.stdout)
    options = [o for o in blocks if o.startswith("--") and o != "--help" and o != "--out" or
               (o == "--out" and command == "gaussians")]
    assert options
    for opt in options:
        assert "default" in blocks[opt], (opt, blocks[opt])


def test_solve_without_a_game_is_an_error():
    out = run("solve")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--example" in lines[0] and "GAME" in lines[0]


@pytest.mark.parametrize(
    "method, option",
    [("lp", ["--temperature", "0.1"]),
     ("oracle", ["--temperature", "0.1"]), ("oracle", ["--alpha", "0.1"]), ("entropic", ["--step-size", "0.1"]),
     ("lp", ["--step-size", "0.1"])],
)
def test_options_of_other_methods_are_refused(method, option):
    # (--max-iter applies to every method: the LP's constraint-generation rounds)
    out = run("solve", "--example", "motivating", "--method", method, *option)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("advgame solve: error: ") and f"does not apply to --method {method}" in lines[-1]
    assert "Traceback" not in out.stderr and out.stdout == ""


@pytest.mark.parametrize("method, hint", [("oracle", "--max-iter"), ("entropic", "--temperature")])
def test_tolerance_not_reached_exits_3_with_one_line_for_the_method(method, hint):
    out = run("solve", "--example", "random-real", "--method", method, "--max-iter", "5", "--tol", "1e-9")
    assert out.returncode == 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    line = lines[0]
    assert line.startswith("advgame solve: warning: ") and hint in line and "--tol" in line
    assert "cli.py" not in line and ".py" not in line and "SolverWarning" not in line
    if method == "oracle":
        assert "alpha" not in line and "temperature" not in line
    assert "status: max_steps" in out.stdout  # the result is printed all the same


def test_tolerance_reached_exits_0_without_warning():
    out = run("solve", "--example", "motivating", "--method", "oracle", "--max-iter", "2000", "--tol", "0.05")
    assert out.returncode == 0 and out.stderr == ""


def test_json_histories_only_with_the_flag():
    base = ["solve", "--example", "random-real", "--method", "entropic", "--max-iter", "30", "--json"]
    plain = json.loads(run(*base).stdout)
    assert "history" not in plain
    assert not [k for k in plain["info"] if k.endswith("history")]
    assert "regularized_value" in plain["info"]
    full = json.loads(run(*base, "--history").stdout)
    assert len(full["history"]) >= 30
    assert len(full["info"]["gap_history"]) >= 30 and len(full["info"]["regularized_history"]) >= 30
    lp = json.loads(run("solve", "--example", "random-real", "--json").stdout)
    assert "history" not in lp and lp["exit_code"] == 0
    assert run("solve", "--example", "random-real", "--history").returncode == 2  # --history needs --json


def test_deprecated_aliases_still_work():
    new = json.loads(run("solve", "--example", "random-real", "--method", "entropic", "--max-iter", "40",
                         "--temperature", "0.05", "--json").stdout)
    out = run("solve", "--example", "random-real", "--method", "entropic", "--steps", "40", "--alpha", "0.05", "--json")
    assert out.returncode == 0
    assert "--steps is deprecated; use --max-iter" in out.stderr
    assert "--alpha is deprecated; use --temperature" in out.stderr
    assert json.loads(out.stdout)["weights"] == new["weights"]
    both = run("solve", "--example", "random-real", "--method", "oracle", "--steps", "4", "--max-iter", "4")
    assert both.returncode == 2 and "not both" in both.stderr


SMALL = ["--n", "20", "--attacks", "10", "--eps", "1", "--classifiers", "3", "--no-progress"]


def test_gaussians_refuses_to_overwrite_a_run_of_other_settings(tmp_path):
    out = str(tmp_path / "run")
    first = run("gaussians", *SMALL, "--no-convergence", "--out", out)
    assert first.returncode == 0, first.stderr
    setup = json.loads((tmp_path / "run" / "results.json").read_text())["setup"]
    assert setup["convergence"] is False and setup["eps"] == [1.0]
    assert not (tmp_path / "run" / "convergence.png").exists()  # --no-convergence: no convergence runs
    again = run("gaussians", *SMALL, "--no-convergence", "--out", out)  # same settings: fine
    assert again.returncode == 0
    other = run("gaussians", *SMALL, "--no-convergence", "--seed", "1", "--out", out)
    assert other.returncode == 1
    assert "other settings" in other.stderr and "seed=0 (now 1)" in other.stderr and "--force" in other.stderr
    assert json.loads((tmp_path / "run" / "results.json").read_text())["setup"]["seed"] == 0
    forced = run("gaussians", *SMALL, "--no-convergence", "--seed", "1", "--out", out, "--force")
    assert forced.returncode == 0
    assert json.loads((tmp_path / "run" / "results.json").read_text())["setup"]["seed"] == 1


def test_gaussians_quick_has_its_own_default_folder(tmp_path):
    out = run("gaussians", "--quick", *SMALL, "--no-convergence", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "results" / "gaussians-quick" / "results.json").exists()
    assert not (tmp_path / "results" / "gaussians").exists()
    assert "never below 0" in out.stdout


def test_max_iter_is_the_lps_round_limit():
    out = run("solve", "--example", "random-real", "--method", "lp", "--max-iter", "1", "--json")
    assert out.returncode in (0, 3), out.stderr
    assert json.loads(out.stdout)["nit"] <= 1
