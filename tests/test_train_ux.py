"""Issue 16, item 3: training a user can follow and trust, through the real entry point
(``python -m advgame``) in subprocesses, plus the library pieces behind it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

SRC = str(Path(__file__).resolve().parents[1] / "src")
FAST = ["--attack-steps", "2", "--eval-steps", "2", "--eval-samples", "40", "--batch-size", "256", "--threads", "1"]
EPOCH = re.compile(r"^epoch +(\d+)  members (\d+)  natural ([0-9.]+)  robust ([0-9.]+)  weights \[([^\]]*)\]"
                   r"(?:  gap \S+)?(?:  loss [0-9.]+)?  lr \S+  [0-9.]+s$")


def _env():
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1",
            "MPLBACKEND": "Agg"}


def cli(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "advgame", *map(str, args)], env=_env(), capture_output=True,
                       text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def epoch_lines(stdout):
    return [EPOCH.match(ln) for ln in stdout.splitlines() if ln.startswith("epoch ")]


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A 2-member Alg. 2 run of 2 epochs per member (4 epochs), stopped after 1."""
    out = tmp_path_factory.mktemp("alg2") / "run"
    p = cli("train", "--algo", "mixture", "--models", 2, "--epochs", 2, "--out", out, "--stop-after", 1, *FAST)
    return out, p


# ----------------------------------------------------------- following a run
def test_each_epoch_line_is_printed_as_the_epoch_ends(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "advgame", "train", "--models", "2", "--epochs", "2", "--out",
                             str(out), "--no-progress", *FAST], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert EPOCH.match(first.rstrip("\n")), first
        assert int(EPOCH.match(first.rstrip("\n")).group(1)) == 1
        running = proc.poll() is None  # three epochs still to train: the line came as epoch 1 ended
        rest, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert running and proc.returncode == 0, err
    lines = [first.rstrip("\n")] + rest.splitlines()
    assert [int(m.group(1)) for m in epoch_lines("\n".join(lines))] == [1, 2, 3, 4]
    log = json.loads((out / "log.json").read_text())
    for m, row in zip(epoch_lines("\n".join(lines)), log):  # the printed line is the log's row
        assert float(m.group(4)) == pytest.approx(row["robust"], abs=5e-5)


def test_the_bar_shows_the_running_loss(tmp_path):
    p = cli("train", "--algo", "at", "--epochs", 1, "--out", tmp_path / "run", *FAST)
    assert re.search(r"loss \d+\.\d{4}", p.stderr.replace("\r", "\n")), p.stderr[-500:]
    assert not (tmp_path / "run" / "x").exists()


def test_the_final_line_is_the_last_epochs_number(tmp_path):
    p = cli("train", "--algo", "mixture", "--models", 2, "--epochs", 1, "--out", tmp_path / "run", "--no-progress",
            "--select", "last", *FAST)
    last = epoch_lines(p.stdout)[-1]
    final = re.search(r"^final: natural ([0-9.]+)  robust ([0-9.]+)", p.stdout, re.M)
    assert final and final.group(1) == last.group(3) and final.group(2) == last.group(4), p.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    log = json.loads((tmp_path / "run" / "log.json").read_text())
    assert summary["robust"] == log[-1]["robust"] and summary["natural"] == log[-1]["natural"]


def test_eval_shows_progress_per_attack(stopped_run, tmp_path):
    out, _ = stopped_run
    p = cli("eval", out / "checkpoint.pt", "--attacks", "pgd-logits,arc", "--max-samples", 20, "--batch-size", 10,
            "--threads", 1, "--out", tmp_path / "e.json")
    for name in ("pgd-logits", "arc"):
        assert f"advgame eval: {name}: 10/20 examples" in p.stderr
        assert f"advgame eval: {name}: 20/20 examples" in p.stderr
    quiet = cli("eval", out / "checkpoint.pt", "--attacks", "pgd-logits", "--max-samples", 10, "--threads", 1,
                "--out", tmp_path / "q.json", "--no-progress")
    assert "advgame eval:" not in quiet.stderr


# ---------------------------------------------------------- threat models, --help
def test_each_data_set_has_its_threat_model():
    from advgame.torch.training import THREAT_MODELS, TrainConfig

    assert (TrainConfig(dataset="digits").eps, TrainConfig(dataset="digits").step) == (0.2, 0.05)
    for name in ("cifar10", "cifar100"):
        c = TrainConfig(dataset=name)
        assert (c.eps, c.step) == (8 / 255, 2 / 255) == THREAT_MODELS[name]
    assert TrainConfig(dataset="digits", eps=0.1).eps == 0.1  # an explicit eps wins


def test_saved_config_holds_the_data_sets_threat_model(stopped_run):
    out, _ = stopped_run
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["dataset"] == "digits" and cfg["eps"] == 0.2 and cfg["step"] == 0.05
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["config"]["eps"] == 0.2


@pytest.mark.parametrize("command", ["train", "eval"])
def test_help_shows_every_default(command):
    p = cli(command, "--help")
    blocks, current = {}, None
    for line in p.stdout.split("options:", 1)[1].splitlines():
        m = re.match(r"^  (--[\w-]+)", line)
        if m:
            current = m.group(1)
            blocks[current] = line
        elif current and line.startswith("    "):
            blocks[current] += " " + line.strip()
    assert len(blocks) > 5
    missing = [opt for opt, text in blocks.items() if opt != "--help" and "default" not in text
               and "(required)" not in text]
    assert not missing, missing
    if command == "train":
        assert "digits 0.2" in blocks["--eps"] and "8/255" in blocks["--eps"] and "2/255" in blocks["--step"]
        assert "(default: digits)" in blocks["--dataset"] and "(default: 1)" in blocks["--epochs"]


# --------------------------------------------------- stop, resume, extend, config
def test_stop_after_says_how_to_continue_and_that_command_works(stopped_run):
    out, p = stopped_run
    m = re.search(r"^stopped after 1 of 4 epochs .*; continue with: (advgame train .*)$", p.stdout, re.M)
    assert m, p.stdout
    args = m.group(1).split()[1:]
    assert args[:4] == ["train", "--out", str(out), "--resume"]
    again = cli(*args, "--no-progress")  # the printed command, as given
    assert [int(x.group(1)) for x in epoch_lines(again.stdout)] == [2, 3, 4]
    assert "final:" in again.stdout


def test_exact_resume_still_refuses_other_settings(stopped_run):
    out, _ = stopped_run
    p = cli("train", "--out", out, "--resume", "--epochs", 5, check=False)
    assert p.returncode == 1 and "other settings" in p.stderr and "epochs" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_extend_continues_a_finished_run(tmp_path):
    out = tmp_path / "run"
    cli("train", "--algo", "at", "--epochs", 2, "--out", out, "--no-progress", "--milestones", "0.5", *FAST)
    before = json.loads((out / "log.json").read_text())
    p = cli("train", "--out", out, "--extend", 2, "--no-progress", "--threads", 1)
    assert "2 -> 4 epochs per member" in p.stdout
    assert [int(m.group(1)) for m in epoch_lines(p.stdout)] == [3, 4]
    log = json.loads((out / "log.json").read_text())
    assert [r["epoch"] for r in log] == [1, 2, 3, 4] and log[:2] == before
    # the schedule is not stretched: the added epochs train at the rate the run ended with
    assert log[2]["lr"] == log[3]["lr"] == pytest.approx(before[-1]["lr"]) == pytest.approx(0.1 * 0.1)
    assert json.loads((out / "config.json").read_text())["epochs"] == 4
    assert json.loads((out / "summary.json").read_text())["epochs"] == 4


def test_extend_refusals(tmp_path, stopped_run):
    out, _ = stopped_run
    p = cli("train", "--out", out, "--extend", 1, "--lr", 0.5, check=False)
    assert p.returncode == 1 and "drop --lr" in p.stderr
    p = cli("train", "--out", tmp_path / "none", "--extend", 1, check=False)
    assert p.returncode == 1 and "no checkpoint" in p.stderr
    p = cli("train", "--out", out, "--extend", 0, check=False)
    assert p.returncode == 1 and "--extend must be at least 1" in p.stderr


def test_extend_refuses_bat(tmp_path):
    from _training_data import tiny_config, tiny_data

    from advgame.torch.training import Trainer

    cfg = tiny_config(algo="bat", models=2, epochs=1)
    t = Trainer(cfg, tiny_data(), out=tmp_path)
    t.fit()
    more = tiny_config(algo="bat", models=2, epochs=2)
    with pytest.raises(ValueError, match="BAT run cannot be extended"):
        Trainer(more, tiny_data(), out=tmp_path).resume(extend=True)


def test_config_file_reproduces_a_run(tmp_path):
    a = tmp_path / "a"
    cli("train", "--algo", "at", "--epochs", 1, "--lr", 0.05, "--seed", 4, "--out", a, "--no-progress", *FAST)
    b = tmp_path / "b"
    cli("train", "--config", a / "config.json", "--out", b, "--no-progress", "--threads", 1)
    ca, cb = (json.loads((d / "config.json").read_text()) for d in (a, b))
    assert ca == cb and ca["lr"] == 0.05 and ca["seed"] == 4
    la, lb = (json.loads((d / "log.json").read_text()) for d in (a, b))
    assert [r["robust"] for r in la] == [r["robust"] for r in lb]  # same settings, same run


def test_options_given_override_the_config_file(tmp_path):
    import argparse

    from advgame.torch.commands import _train_config, add_subcommands
    from advgame.torch.training import TrainConfig, save_config

    save_config(tmp_path / "c.json", TrainConfig(algo="at", models=1, lr=0.05, seed=4))

    def parse(*argv):
        p = argparse.ArgumentParser()
        add_subcommands(p.add_subparsers(dest="command"))
        return p.parse_args(["train", *argv])

    cfg = _train_config(parse("--config", str(tmp_path / "c.json"), "--seed", "5", "--out", "x"))
    assert (cfg.algo, cfg.lr, cfg.seed) == ("at", 0.05, 5)
    assert _train_config(parse("--out", "x", "--algo", "trades")).models == 1  # at/trades default to L = 1
    assert _train_config(parse("--out", "x")) == TrainConfig()


@pytest.mark.parametrize("content,match", [
    ("not json", "not a JSON settings file"),
    ("[1, 2]", "JSON object"),
    ('{"algo": "mixture"}', "format"),
    ('{"format": "advgame-train-config-1", "algo": "mixture", "lr": -1}', "lr"),
    ('{"format": "advgame-train-config-1", "algo": "sgd"}', "algo"),
    ('{"format": "advgame-train-config-1", "__class__": "x"}', "unknown training settings"),
    ('{"format": "advgame-train-config-1", "milestones": "0.5"}', "milestones"),
    ('{"format": "advgame-train-config-1", "lr": NaN}', "NaN"),
    ('{"format": "advgame-train-config-1", "arch": 3}', "arch"),
])
def test_config_file_is_validated_as_untrusted_input(tmp_path, content, match):
    f = tmp_path / "config.json"
    f.write_text(content)
    p = cli("train", "--config", f, "--out", tmp_path / "run", check=False)
    assert p.returncode == 1, p.stdout
    assert len(p.stderr.strip().splitlines()) == 1 and match in p.stderr and "config.json" in p.stderr, p.stderr
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_a_huge_config_file_is_refused(tmp_path):
    from advgame.torch.training import load_config

    f = tmp_path / "config.json"
    f.write_text('{"format": "advgame-train-config-1", "x": "' + "a" * (1 << 20) + '"}')
    with pytest.raises(ValueError, match="larger than"):
        load_config(f)


def test_config_round_trip_and_atomic_write(tmp_path, monkeypatch):
    from advgame.torch.training import TrainConfig, load_config, save_config

    cfg = TrainConfig(algo="bat", dataset="cifar10", models=3, milestones=(0.3,), lr=0.02)
    save_config(tmp_path / "c.json", cfg)
    assert load_config(tmp_path / "c.json") == cfg
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temporary file left behind
    import advgame._io

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("json.dump", boom)
    with pytest.raises(OSError):
        save_config(tmp_path / "c.json", TrainConfig())
    assert load_config(tmp_path / "c.json") == cfg  # the old file is intact
    assert advgame._io is not None


# --------------------------------------------------------------- the library side
def test_fit_calls_on_epoch_after_each_checkpoint(tmp_path):
    from _training_data import tiny_config, tiny_data

    from advgame.torch.training import Trainer, load_checkpoint

    seen = []

    def on_epoch(row):
        seen.append((row["epoch"], load_checkpoint(tmp_path / "checkpoint.pt")["epoch"]))

    Trainer(tiny_config(epochs=1), tiny_data(), out=tmp_path).fit(on_epoch=on_epoch)
    assert seen == [(1, 1), (2, 2)]


def test_bat_figure_draws_phases_in_order_with_a_marker_per_member():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from advgame.torch.training import plot_training

    history = [{"epoch": e, "members": 1 + (e - 1) // 3, "natural": 0.5, "robust": 0.1 * e, "weights": [1.0]}
               for e in range(1, 10)]
    ax = plot_training(history[::-1], "robust")  # in any order
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == list(range(1, 10))  # epochs, phases in order (not epochs / L)
    markers = [ln for ln in ax.get_lines() if ln.get_marker() == "D"]
    assert [float(ln.get_xdata()[0]) for ln in markers] == [4.0, 7.0]  # members 2 and 3 enter
    assert "epoch" in ax.get_xlabel() and "per member" not in ax.get_xlabel()
    # an Alg. 2 run keeps MNE21 Fig. 3's epochs-per-member axis
    alg2 = [{"epoch": e, "members": 2, "natural": 0.5, "robust": 0.2, "weights": [0.5, 0.5]} for e in range(1, 5)]
    ax2 = plot_training(alg2)
    assert list(ax2.get_lines()[0].get_xdata()) == [0.5, 1.0, 1.5, 2.0]


def test_mixture_from_checkpoint_loads_a_trained_run(stopped_run):
    from advgame.torch import Mixture, MixtureLogits, mixture_from_checkpoint

    out, _ = stopped_run
    mix, cfg, state = mixture_from_checkpoint(out / "checkpoint.pt")
    assert isinstance(mix, Mixture) and cfg.dataset == "digits" and state["epoch"] >= 1
    assert not any(m.training for m in mix.members)
    x = torch.rand(3, 64)
    assert torch.allclose(torch.softmax(MixtureLogits(mix)(x), 1), mix(x), atol=1e-6)
