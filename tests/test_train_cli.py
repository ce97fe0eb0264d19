"""``advgame train`` / ``advgame eval`` through the real entry point, in subprocesses."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import advgame

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from _training_data import needs_warm_start  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")
FAST = ["--eps", "0.2", "--step", "0.05", "--attack-steps", "2", "--eval-steps", "2", "--eval-samples", "40",
        "--batch-size", "256", "--no-progress", "--threads", "1"]


def cli(*args, check=True):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    p = subprocess.run([sys.executable, "-m", "advgame.torch.commands", *map(str, args)], env=env,
                       capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bat")
    p = cli("train", "--algo", "bat", "--dataset", "digits", "--models", 2, "--epochs", 1, "--weights", "lp",
            "--out", out, *FAST)
    return out, p


def test_train_writes_checkpoint_logs_figure_and_summary(digits_run):
    out, p = digits_run
    for name in ("checkpoint.pt", "log.csv", "log.json", "summary.json", "accuracy.png", "accuracy.pdf"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"] and [r["members"] for r in rows] == ["1", "2"]
    for r in rows:
        assert 0 <= float(r["natural"]) <= 1 and 0 <= float(r["robust"]) <= 1 and float(r["time"]) > 0
    log = json.loads((out / "log.json").read_text())
    assert log[1]["weights"] == pytest.approx([0.8, 0.2])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["weights"] == pytest.approx([0.8, 0.2]) and sum(summary["lp"]["weights"]) == pytest.approx(1)
    assert "LP weights" in p.stdout and "final: natural" in p.stdout


def test_eval_prints_the_table_and_writes_json(digits_run, tmp_path):
    out, _ = digits_run
    p = cli("eval", out / "checkpoint.pt", "--attacks", "pgd-logits,arc", "--max-samples", 30, "--threads", 1,
            "--out", tmp_path / "e.json")
    assert "pgd-logits" in p.stdout and "arc" in p.stdout and "worst" in p.stdout
    rep = json.loads((tmp_path / "e.json").read_text())
    acc = rep["accuracy"]
    assert rep["n"] == 30 and acc["worst"] <= min(acc["pgd-logits"], acc["arc"], acc["natural"]) + 1e-12
    assert rep["weights"] == pytest.approx([0.8, 0.2])
    lp = cli("eval", out / "checkpoint.pt", "--attacks", "pgd-logits", "--max-samples", 10, "--weights", "lp",
             "--threads", 1, "--out", tmp_path / "lp.json")
    assert json.loads((tmp_path / "lp.json").read_text())["weights_used"] == "lp", lp.stdout


@pytest.mark.slow
@needs_warm_start
def test_interrupted_then_resumed_run_is_bit_identical(tmp_path):
    common = ["train", "--algo", "mixture", "--models", 2, "--epochs", 1, "--dataset", "digits", *FAST]
    cli(*common, "--out", tmp_path / "full")
    cli(*common, "--out", tmp_path / "part", "--stop-after", 1)
    assert not (tmp_path / "part" / "summary.json").exists()
    cli(*common, "--out", tmp_path / "part", "--resume")
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == b["step"]
    assert torch.equal(a["weights"], b["weights"])
    for sa, sb in zip(a["members"], b["members"]):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a["history"][-1]["robust"] == b["history"][-1]["robust"]


def test_cifar_fixture_through_the_real_loader(tmp_path):
    from advgame.torch.data import make_cifar_fixture

    make_cifar_fixture(tmp_path / "data", "cifar10", n_train=40, n_test=10, seed=0)
    p = cli("train", "--algo", "at", "--dataset", "cifar10", "--data-root", tmp_path / "data", "--arch", "small-cnn",
            "--epochs", 1, "--val-size", 0.2, "--augment", "--out", tmp_path / "run", *FAST)
    assert "epoch   1" in p.stdout
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ck["input_shape"] == [3, 32, 32] and ck["num_classes"] == 10


@pytest.mark.parametrize("args, match", [
    (["train", "--algo", "at", "--models", "2", "--out", "{tmp}/x"], "models must be 1"),
    (["train", "--algo", "mixture", "--out", "{tmp}/y", "--resume"], "no checkpoint"),
    (["train", "--dataset", "cifar10", "--data-root", "{tmp}/nothing", "--out", "{tmp}/z"], "cifar"),
    (["eval", "{tmp}/missing.pt"], "does not exist"),
])
def test_errors_are_one_line_and_nonzero(tmp_path, capsys, args, match):
    from advgame.torch.commands import main

    assert main([a.format(tmp=tmp_path) for a in args] + ["--threads", "1"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("advgame ") and match in lines[0].lower(), lines


def test_error_exit_status_of_the_real_entry_point(tmp_path):
    p = cli("train", "--algo", "bat", "--models", 1, "--out", tmp_path / "x", check=False)
    assert p.returncode == 1 and p.stderr.strip() == "advgame train: error: models must be at least 2 for " \
        "algo='bat'; got 1"


def test_advgame_entry_point_dispatches_train_and_eval():
    """``advgame train/eval`` (the installed command's module) reach the torch commands,
    and ``advgame --help`` lists them without importing torch."""
    env = dict(os.environ, PYTHONPATH=str(Path(advgame.__file__).parents[1]))
    p = subprocess.run([sys.executable, "-m", "advgame", "train", "--help"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0 and "--algo" in p.stdout and "--resume" in p.stdout
    p = subprocess.run([sys.executable, "-m", "advgame", "eval", "/nonexistent/ckpt.pt"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and "advgame eval: error" in p.stderr
    code = "import sys, advgame.cli as c; c._build_parser(); print('torch' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert p.stdout.strip() == "False"
