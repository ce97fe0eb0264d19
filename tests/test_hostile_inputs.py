"""The standing red-team suite of the training side (issue 19).

Data, checkpoints and configuration from disk are untrusted input, and a run that went
wrong never exits 0 looking fine.  Each case states the class of behaviour expected:

- ``REFUSED``: a ``ValueError`` / ``TypeError`` / ``PermissionError`` naming the file or
  the argument and what was expected (one line on the command line, exit 1);
- ``CORRECT``: the right result;
- ``NO_CODE``: nothing from the file runs (a canary file is never created).

A new surface (a file format, a command, an argument) gets its cases here, the same way.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import advgame

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from _training_data import tiny_config, tiny_data  # noqa: E402

from advgame.torch import Mixture  # noqa: E402
from advgame.torch.data import load_dataset, make_cifar_fixture  # noqa: E402

SRC = str(Path(advgame.__file__).resolve().parents[1])
FAST = ["--eps", "0.2", "--step", "0.05", "--attack-steps", "1", "--eval-steps", "1", "--eval-samples", "20",
        "--batch-size", "256", "--no-progress", "--threads", "1"]


def run_cli(capsys, *args):
    """``advgame ARGS`` in this process: (exit code, stdout, stderr)."""
    from advgame.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    """REFUSED on the command line: exit 1, one line on stderr naming what is wrong."""
    assert code == 1, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "weights_only" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


class Canary:
    """A pickle that creates ``path`` when unpickled by a general unpickler."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# =========================================================== 1. CIFAR: no code run
@pytest.mark.parametrize("reader", ["auto", "builtin", "torchvision"])
def test_poisoned_cifar_file_never_runs(tmp_path, reader):
    """NO_CODE + REFUSED: a poisoned data_batch_1 next to the fixture marker is refused
    by every reader value; the canary is never created."""
    folder = make_cifar_fixture(tmp_path, "cifar10", n_train=10, n_test=5)
    assert (folder / "advgame_fixture.json").exists()  # the marker no longer changes what is trusted
    canary = tmp_path / "pwned"
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({"data": Canary(canary), "labels": [0]}, f)
    with pytest.warns(DeprecationWarning) if reader == "torchvision" else _nothing():
        with pytest.raises(ValueError, match=r"data_batch_1: UnpicklingError: refusing to unpickle"):
            load_dataset("cifar10", tmp_path, reader=reader)
    assert not canary.exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_WITH_TORCHVISION = r"""
import sys, types
# make torchvision importable with this CPU torch (its compiled ops are built for another)
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import torchvision.datasets  # noqa: F401  - importable: the old loader would have used it
from advgame.torch.data import load_dataset
try:
    load_dataset("cifar10", sys.argv[1], reader="auto")
except ValueError as e:
    print("refused:", e)
"""


def test_poisoned_cifar_file_never_runs_with_torchvision_importable(tmp_path):
    """NO_CODE: where torchvision imports, load_dataset(reader='auto') -- what
    ``advgame train --dataset cifar10`` calls -- still never unpickles with a general
    unpickler (the marker file once switched torchvision's MD5 check off)."""
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed")
    folder = make_cifar_fixture(tmp_path, "cifar10", n_train=10, n_test=5)
    canary = tmp_path / "pwned"
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({"data": Canary(canary), "labels": [0]}, f)
    env = dict(os.environ, PYTHONPATH=SRC)
    p = subprocess.run([sys.executable, "-c", _WITH_TORCHVISION, str(tmp_path)], env=env, capture_output=True,
                       text=True, timeout=300)
    assert not canary.exists(), "a general unpickler ran the file's code"
    assert "refused:" in p.stdout and "refusing to unpickle" in p.stdout, p.stdout + p.stderr[-2000:]


# =========================================================== 2. CIFAR: contents checked
def _edit(folder, name, change):
    with open(folder / name, "rb") as f:
        entry = pickle.load(f, encoding="latin1")  # our own fixture, in a test
    change(entry)
    with open(folder / name, "wb") as f:
        pickle.dump(entry, f, protocol=2)


def _set(key, value):
    return lambda e: e.__setitem__(key, value(e) if callable(value) else value)


CIFAR_CASES = {
    "extra label": ("data_batch_1", _set("labels", lambda e: e["labels"] + [3]), "10 images but 11 labels"),
    "float pixels in [0, 1]": ("data_batch_1", _set("data", lambda e: e["data"] / 255.0), "uint8"),
    "int16 pixels": ("data_batch_2", _set("data", lambda e: e["data"].astype(np.int16) * 3), "uint8"),
    "NaN pixels": ("data_batch_1", _set("data", lambda e: np.full(e["data"].shape, np.nan)), "uint8"),
    "label 2.7": ("data_batch_3", _set("labels", lambda e: [2.7] + e["labels"][1:]), "integer class labels"),
    "label True": ("data_batch_3", _set("labels", lambda e: [True] + e["labels"][1:]), "integer class labels"),
    "label 10 of 10 classes": ("data_batch_1", _set("labels", lambda e: [10] + e["labels"][1:]),
                               r"labels in [0, 9]; got 10"),
    "negative label": ("test_batch", _set("labels", lambda e: [-1] + e["labels"][1:]), "got -1"),
    "test_batch with fewer labels": ("test_batch", _set("labels", lambda e: e["labels"][:-2]),
                                     "20 images but 18 labels"),
    "wrong image size": ("data_batch_1", _set("data", lambda e: e["data"][:, :3000]), "shape (n, 3072)"),
    "pixels as a list": ("data_batch_1", _set("data", lambda e: e["data"].tolist()), "uint8"),
    "labels missing": ("data_batch_4", lambda e: e.pop("labels"), "'labels' is missing"),
    "9 class names": ("batches.meta", _set("label_names", lambda e: e["label_names"][:9]), "10 class names"),
    "class names not strings": ("batches.meta", _set("label_names", list(range(10))), "10 class names"),
    "a list instead of a dict": ("data_batch_5", lambda e: None, None),
}


@pytest.mark.parametrize("case", list(CIFAR_CASES))
def test_cifar_contents_are_checked_per_file(tmp_path, case):
    """REFUSED: a ValueError naming the file and what is wrong, never a silently shifted
    label, a black image, a wrapped integer or a truncated label."""
    folder = make_cifar_fixture(tmp_path, "cifar10", n_train=50, n_test=20)
    name, change, match = CIFAR_CASES[case]
    if match is None:  # the whole file replaced by a list
        with open(folder / name, "wb") as f:
            pickle.dump([1, 2, 3], f, protocol=2)
        match = "expected a dict"
    else:
        _edit(folder, name, change)
    with pytest.raises(ValueError) as info:
        load_dataset("cifar10", tmp_path)
    msg = str(info.value)
    assert f"{name}: " in msg and match in msg and "\n" not in msg, msg


def test_cifar100_labels_checked_against_100_classes(tmp_path):
    folder = make_cifar_fixture(tmp_path, "cifar100", n_train=30, n_test=10)
    _edit(folder, "train", _set("fine_labels", lambda e: [100] + e["fine_labels"][1:]))
    with pytest.raises(ValueError, match=r"train: 'fine_labels' must hold class labels in \[0, 99\]"):
        load_dataset("cifar100", tmp_path)


def test_valid_cifar_is_read_exactly(tmp_path):
    """CORRECT: the fixture's pixels and labels, in order (the checks change nothing)."""
    folder = make_cifar_fixture(tmp_path, "cifar10", n_train=50, n_test=20, seed=4)
    s = load_dataset("cifar10", tmp_path, val_size=0)
    x, y = s.train.tensors()
    batches = []
    for k in range(1, 6):
        with open(folder / f"data_batch_{k}", "rb") as f:
            batches.append(pickle.load(f, encoding="latin1"))
    ref = np.vstack([b["data"] for b in batches]).reshape(-1, 3, 32, 32) / 255.0
    assert torch.allclose(x.double(), torch.from_numpy(ref))
    assert y.tolist() == sum((b["labels"] for b in batches), [])


# =========================================================== 2. empty splits
@pytest.mark.parametrize("val_size", [0.9999, 1347])
def test_split_that_leaves_no_training_images_is_refused(val_size):
    """REFUSED: no training step would run."""
    if isinstance(val_size, int):  # a count is checked against n - 1 already
        with pytest.raises(ValueError, match="val_size"):
            load_dataset("digits", val_size=1348)
        return
    with pytest.raises(ValueError, match="leaves no training images"):
        load_dataset("digits", val_size=val_size)


def test_trainer_refuses_an_empty_validation_split():
    from advgame.torch.training import Trainer

    data = tiny_data()
    data.val = torch.utils.data.TensorDataset(torch.zeros(0, 1, 6, 6), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(ValueError, match="validation split is empty"):
        Trainer(tiny_config(), data)


def test_cli_val_size_that_empties_training_is_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--dataset", "digits", "--val-size", "0.9999", "--out", tmp_path / "r",
                           *FAST)
    assert_one_line_error(code, err, "leaves no training images")


# =========================================================== 2. divergence
def test_diverged_training_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    """REFUSED: NaN losses or parameters stop the run with TrainingDiverged; the
    checkpoint of the last good epoch stays, loadable; the logs are valid JSON."""
    from advgame.torch.training import Trainer, load_checkpoint
    from advgame.torch.training.integrity import TrainingDiverged

    tr = Trainer(tiny_config(epochs=2), tiny_data(), out=tmp_path)
    tr.fit(max_epochs=1)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    for opt in tr.optimizers:
        for group in opt.param_groups:
            group["lr"] = 1e30
    with pytest.raises(TrainingDiverged, match=r"diverged in epoch 2: .*kept in .*checkpoint.pt.*--lr"):
        tr.fit(max_epochs=1)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1
    json.loads((tmp_path / "log.json").read_text(), parse_constant=_no_constants)


def test_cli_diverged_run_exits_nonzero(capsys, tmp_path):
    """REFUSED: ``--lr 1e8`` on digits never exits 0 with 'natural 0.05 robust 0.05'."""
    code, out, err = run_cli(capsys, "train", "--dataset", "digits", "--models", 2, "--lr", "1e8",
                             "--out", tmp_path / "r", *FAST)
    assert_one_line_error(code, err, "diverged in epoch 1", "--lr")
    assert "final:" not in out and not (tmp_path / "r" / "checkpoint.pt").exists()


def _no_constants(name):
    raise ValueError(f"log.json holds {name}, which is not JSON")


def test_logs_are_valid_json_with_nan_values(tmp_path):
    """CORRECT: NaN and infinities become null."""
    from advgame.torch.training import read_log, write_logs

    write_logs(tmp_path, [{"epoch": 1, "members": 2, "natural": float("nan"), "robust": 0.5, "weights": [0.5, 0.5],
                           "gap": float("inf"), "lr": 0.1, "loss": float("nan"), "time": 1.0}])
    rows = json.loads((tmp_path / "log.json").read_text(), parse_constant=_no_constants)
    assert rows[0]["natural"] is None and rows[0]["gap"] is None and read_log(tmp_path)[0]["robust"] == 0.5


@pytest.mark.parametrize("where", ["parameter", "input"])
def test_mixture_refuses_non_finite_members_and_inputs(where):
    """REFUSED: a NaN member is never scored as predicting class 0."""
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    x, y = torch.rand(6, 4), torch.zeros(6, dtype=torch.int64)
    if where == "parameter":
        with torch.no_grad():
            b.weight.fill_(float("nan"))
        with pytest.raises(ValueError, match=r"models\[1\] holds NaN"):
            Mixture([a, b])
        mix = Mixture([a, torch.nn.Linear(4, 3)], vectorize=False)
        with torch.no_grad():
            mix.members[1].weight.fill_(float("nan"))  # diverged after construction
        with pytest.raises(ValueError, match="member 1 returned NaN"):
            mix.expected_accuracy(x, y)
    else:
        x[2, 1] = float("nan")
        with pytest.raises(ValueError, match="x holds NaN"):
            Mixture([a, b]).expected_accuracy(x, y)


# =========================================================== 2. data fingerprint
def test_resume_on_other_data_is_refused(tmp_path):
    """REFUSED: the checkpoint's fingerprint (sizes, SHA-256 of the files) differs."""
    from advgame.torch.training import Trainer

    make_cifar_fixture(tmp_path / "a", "cifar10", n_train=50, n_test=10, seed=0)
    make_cifar_fixture(tmp_path / "b", "cifar10", n_train=80, n_test=10, seed=0)
    cfg = tiny_config(dataset="cifar10", arch="small-mlp", epochs=2, eval_samples=5, val_size=0.2)
    a = load_dataset("cifar10", tmp_path / "a", val_size=0.2)
    b = load_dataset("cifar10", tmp_path / "b", val_size=0.2)
    assert a.fingerprint["n_train"] == 50 and a.fingerprint["sha256"] != b.fingerprint["sha256"]
    Trainer(cfg, a, out=tmp_path / "run").fit(max_epochs=1)
    with pytest.raises(ValueError, match=r"trained on other data: n_train 50 \(now 80\)"):
        Trainer(cfg, b, out=tmp_path / "run").resume()
    assert Trainer(cfg, load_dataset("cifar10", tmp_path / "a", val_size=0.2), out=tmp_path / "run").resume()


# =========================================================== 2. Mixture weights
@pytest.mark.parametrize("weights", [[2.0, -1.0], [float("nan"), 1.0], [0.0, 0.0], [0.5, 0.5, 0.0], [0.3, 0.3]])
@pytest.mark.parametrize("how", ["load_state_dict", "assign"])
def test_mixture_weights_validated_on_every_write(weights, how):
    """REFUSED: weights off the simplex never reach expected_accuracy."""
    mix = Mixture([torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)])
    w = torch.tensor(weights)
    with pytest.raises(ValueError, match="weights"):
        if how == "load_state_dict":
            mix.load_state_dict({**mix.state_dict(), "weights": w})
        else:
            mix.weights = w
    assert torch.equal(mix.weights, torch.full((2,), 0.5))


def test_mixture_weights_valid_writes_still_work():
    """CORRECT: a valid state dict loads (renormalized), assignment validates."""
    mix = Mixture([torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)])
    mix.load_state_dict({**mix.state_dict(), "weights": torch.tensor([0.25, 0.75])})
    assert mix.weights.tolist() == [0.25, 0.75]
    mix.weights = torch.tensor([1.0, 0.0])
    assert mix.weights.tolist() == [1.0, 0.0]


def test_mixture_refuses_members_of_different_dtypes():
    """REFUSED at construction, not in a matmul later."""
    with pytest.raises(ValueError, match=r"one dtype: models\[0\] is torch.float32 but models\[1\] is torch.float64"):
        Mixture([torch.nn.Linear(4, 3), torch.nn.Linear(4, 3).double()])


# =========================================================== 2. attack oracle
@pytest.mark.parametrize("losses,ok", [([-1.0, 0.1], False), ([5.0, 0.5], False), ([0.3, 1.0 + 1e-3], False),
                                       ([float("nan"), 0.2], False), ([0.3, 0.6], True), ([0.0, 1.0], True)])
def test_oracle_losses_are_checked_against_the_bound_on_every_call(losses, ok):
    """REFUSED: an oracle outside [0, M] would certify a wrong value; CORRECT otherwise."""
    game = advgame.Game(np.random.default_rng(0).random((5, 3, 2)))
    calls = []

    def oracle(w):
        calls.append(1)
        return np.array(losses if len(calls) > 1 else [0.5, 0.5])  # bad from the second call on

    if ok:
        res = advgame.solve(game, method="oracle", oracle=oracle, max_iter=5)
        assert 0 <= res.value <= 1
    else:
        with pytest.raises(ValueError, match=r"oracle returned (NaN|losses outside \[0, bound=1\])"):
            advgame.solve(game, method="oracle", oracle=oracle, max_iter=5)
        assert len(calls) == 2


def test_mixture_solver_checks_its_oracle():
    from advgame.torch import MixtureSolver

    solver = MixtureSolver("oracle", weights=torch.full((2,), 0.5, dtype=torch.float64), max_iter=3)
    with pytest.raises(ValueError, match="outside"):
        solver.update(oracle=lambda w: torch.tensor([-1.0, 0.1], dtype=torch.float64))


# =========================================================== 2. float32 certificate
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lib", ["torch", "numpy"])
@pytest.mark.parametrize("method", ["lp", "oracle", "entropic"])
def test_float32_certificate_describes_the_returned_weights(seed, lib, method):
    """CORRECT: game.risk(res.weights) <= res.value for a float32 game (the certificate
    is of the weights returned, in their dtype), and the LP solve is still 'optimal'."""
    F = (np.random.default_rng(seed).random((200, 10, 5)) < 0.5).astype(np.float32)
    game = advgame.Game(torch.from_numpy(F) if lib == "torch" else F)
    res = advgame.solve(game, method=method, **({} if method == "lp" else {"max_iter": 100}))
    assert res.status == ("optimal" if method == "lp" else "steps_completed")
    assert float(game.risk(res.weights)) <= res.value
    assert res.lower_bound <= res.value and res.gap == pytest.approx(res.value - res.lower_bound)


# =========================================================== checkpoints
@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory):
    """A real checkpoint of ``advgame train --dataset digits`` (2 members, 1 epoch each)."""
    from advgame.cli import main

    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--dataset", "digits", "--models", "2", "--out", str(out), *FAST]) == 0
    return out / "checkpoint.pt"


def _tamper(src, dst, change):
    state = torch.load(src, weights_only=True)
    change(state)
    torch.save(state, dst)
    return dst


def _nan_member(s):
    k = next(iter(s["members"][1]))
    s["members"][1][k] = torch.full_like(s["members"][1][k], float("nan"))


TAMPERED = {
    "members cut to one": (lambda s: s["members"].pop(), "'members' must be a list of 2 entries"),
    "epoch 999": (lambda s: s.__setitem__("epoch", 999), "'epoch' must be an int in [0, 2]"),
    "epoch -1": (lambda s: s.__setitem__("epoch", -1), "'epoch' must be an int"),
    "weights missing": (lambda s: s.pop("weights"), "['weights'] are missing"),
    "weights [2, -1]": (lambda s: s.__setitem__("weights", torch.tensor([2.0, -1.0])), "simplex"),
    "weights of 3": (lambda s: s.__setitem__("weights", torch.full((3,), 1 / 3)), "'weights' is invalid"),
    "NaN member": (_nan_member, "'members'[1] holds NaN"),
    "history cut": (lambda s: s["history"].pop(), "'history' has 1 records for 2 epochs"),
    "unknown setting": (lambda s: s["config"].__setitem__("lr_x", 1), "unknown training settings"),
    "bad setting": (lambda s: s["config"].__setitem__("models", 0), "'config' is invalid"),
    "rng missing": (lambda s: s.pop("rng"), "['rng'] are missing"),
    "rng not a state": (lambda s: s["rng"]["gen"].__setitem__("member", torch.zeros(3)), "generator state"),
    "num_classes text": (lambda s: s.__setitem__("num_classes", "ten"), "'num_classes' must be an int"),
    "input_shape 2-d": (lambda s: s.__setitem__("input_shape", [8, 8]), "'input_shape' must be a list of 3"),
    "optimizers cut": (lambda s: s["optimizers"].pop(), "'optimizers' must be a list of 2"),
    "best garbage": (lambda s: s.__setitem__("best", {"score": "x"}), "'best' must be None or a dict"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_checkpoint_is_refused_before_use(digits_checkpoint, tmp_path, case):
    """REFUSED: by load_checkpoint, hence by eval (mixture_from_checkpoint) and --resume."""
    from advgame.torch.training import load_checkpoint, mixture_from_checkpoint

    change, match = TAMPERED[case]
    path = _tamper(digits_checkpoint, tmp_path / "checkpoint.pt", change)
    for load in (load_checkpoint, mixture_from_checkpoint):
        with pytest.raises(ValueError) as info:
            load(path)
        assert match in str(info.value) and str(path) in str(info.value), str(info.value)


def test_wrong_architecture_is_one_line(digits_checkpoint, tmp_path, capsys):
    """REFUSED: parameters that do not fit the architecture or the number of classes."""
    for change in (lambda s: s["config"].__setitem__("arch", "small-cnn"),
                   lambda s: s.__setitem__("num_classes", 7)):
        path = _tamper(digits_checkpoint, tmp_path / "c.pt", change)
        code, _, err = run_cli(capsys, "eval", path, "--max-samples", 5, "--threads", 1)
        assert_one_line_error(code, err, "member 0 does not fit the architecture")


def _write(content):
    def make(path):
        if callable(content):
            content(path)
        else:
            Path(path).write_bytes(content)
        return path
    return make


def _truncated(src):
    return lambda path: Path(path).write_bytes(src.read_bytes()[:2000])


def _missing_keys(src):
    return lambda path: torch.save({"format": "advgame-train-1", "config": {}}, path)


def _npz(path):
    with open(path, "wb") as f:
        np.savez(f, losses=np.zeros((2, 2, 2)))


def _pickle_bomb(canary):
    return lambda path: Path(path).write_bytes(pickle.dumps(Canary(canary)))


def _torch_pickle(canary):
    return lambda path: torch.save(Canary(canary), path)


@pytest.mark.parametrize("case", ["empty", "truncated", "json", "npz", "pickle", "torch pickle", "missing keys",
                                  "folder"])
def test_unreadable_checkpoint_is_one_line(digits_checkpoint, tmp_path, capsys, case):
    """REFUSED + NO_CODE: one line naming the file, never torch's advice to unpickle."""
    canary = tmp_path / "pwned"
    make = {
        "empty": _write(b""), "truncated": _truncated(digits_checkpoint),
        "json": _write(b'{"format": "advgame-train-1"}'), "npz": _npz, "pickle": _pickle_bomb(canary),
        "torch pickle": _torch_pickle(canary), "missing keys": _missing_keys(digits_checkpoint),
        "folder": lambda p: os.mkdir(p),
    }[case]
    path = tmp_path / "c.pt"
    make(path)
    expect = {"empty": "empty", "truncated": "truncated", "json": "not a torch checkpoint",
              "npz": "zip archive that torch.save did not write", "pickle": "refused without running",
              "torch pickle": "refused without running", "missing keys": "are missing",
              "folder": "not a file"}[case]
    code, _, err = run_cli(capsys, "eval", path, "--threads", 1)
    assert_one_line_error(code, err, str(path), expect)
    assert not canary.exists()


@pytest.mark.parametrize("args,needle", [
    (["--max-samples", "0"], "--max-samples must be at least 1"),
    (["--seed", str(10**20)], "--seed must be an int in [0, 2**32)"),
    (["--device", "gpu"], "--device must be cpu, cuda"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_bad_eval_arguments_are_one_line(digits_checkpoint, capsys, args, needle):
    code, _, err = run_cli(capsys, "eval", digits_checkpoint, *args)
    assert_one_line_error(code, err, needle)


def test_eval_on_cuda_without_cuda_is_one_line(digits_checkpoint, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run_cli(capsys, "eval", digits_checkpoint, "--device", "cuda")
    assert_one_line_error(code, err, "CUDA is not available")
    assert "map_location" not in err


# =========================================================== 3. data lost
@pytest.mark.parametrize("target", ["the checkpoint", "another file", "a folder"])
def test_eval_out_never_overwrites_what_is_not_a_report(digits_checkpoint, tmp_path, capsys, target):
    """REFUSED before the evaluation runs; the file is untouched."""
    if target == "the checkpoint":
        out = digits_checkpoint
    elif target == "another file":
        out = tmp_path / "notes.txt"
        out.write_text("my notes")
    else:
        out = tmp_path / "folder"
        out.mkdir()
    before = out.read_bytes() if out.is_file() else None
    code, _, err = run_cli(capsys, "eval", digits_checkpoint, "--out", out, "--max-samples", 5)
    assert_one_line_error(code, err, f"--out {out}")
    if before is not None:
        assert out.read_bytes() == before


def test_eval_out_may_replace_an_earlier_report(tmp_path):
    """CORRECT: a previous report is replaced (the check lets it through)."""
    from advgame.torch.commands import _check_report_target

    out = tmp_path / "eval.json"
    out.write_text(json.dumps({"checkpoint": "x", "accuracy": {"natural": 0.5}}))
    _check_report_target(str(out), str(tmp_path / "checkpoint.pt"))
    out.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not an advgame eval report"):
        _check_report_target(str(out), str(tmp_path / "checkpoint.pt"))


def test_atomic_writer_refuses_read_only_files(tmp_path):
    """REFUSED: Game.save never replaces a 0444 file (even as root); the error names it."""
    target = tmp_path / "game.npz"
    advgame.Game(np.zeros((2, 2, 2))).save(target)
    os.chmod(target, 0o444)
    before = target.read_bytes()
    with pytest.raises(PermissionError, match=r"not writable") as info:
        advgame.Game(np.ones((2, 2, 2))).save(target)
    assert str(target) in str(info.value) and "advgame-tmp" not in str(info.value)
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["game.npz"]


def test_atomic_writer_errors_name_the_target(tmp_path):
    """REFUSED: a missing folder is reported for the target, not the temporary file."""
    target = tmp_path / "no" / "such" / "game.npz"
    with pytest.raises(FileNotFoundError) as info:
        advgame.Game(np.zeros((2, 2, 2))).save(target)
    assert str(target) in str(info.value) and "advgame-tmp" not in str(info.value)


def test_atomic_writer_handles_long_names(tmp_path):
    """CORRECT: a valid 244-character name is written (its temporary name is shortened)."""
    from advgame._io import atomic_path

    target = tmp_path / ("g" * 240 + ".npz")
    advgame.Game(np.zeros((2, 2, 2))).save(target)
    assert advgame.Game.load(target).shape == (2, 2, 2)
    with pytest.raises(RuntimeError):  # a failed body still removes its temporary file
        with atomic_path(target) as tmp:
            assert len(os.path.basename(tmp)) <= 255
            raise RuntimeError("stop")
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_body_errors_name_the_target(tmp_path):
    from advgame._io import atomic_path

    target = tmp_path / "x.bin"
    with pytest.raises(PermissionError) as info:
        with atomic_path(target) as tmp:
            raise PermissionError(13, "Permission denied", tmp)
    assert str(target) in str(info.value) and "advgame-tmp" not in str(info.value)


def test_run_folder_is_locked(tmp_path, capsys):
    """REFUSED: a second train on a folder in use exits 1 at once; the first run's files stay."""
    from advgame.torch.training.runlock import prepare_run_folder

    out = tmp_path / "run"
    with prepare_run_folder(out):
        code, _, err = run_cli(capsys, "train", "--dataset", "digits", "--out", out, *FAST)
        assert_one_line_error(code, err, "in use by another advgame train")
        assert not (out / "checkpoint.pt").exists()
    prepare_run_folder(out).release()  # free again once released


_HOLD_LOCK = r"""
import sys, time
from advgame.torch.training.runlock import prepare_run_folder
lock = prepare_run_folder(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_run_folder_lock_holds_across_processes(tmp_path):
    from advgame.torch.training.runlock import prepare_run_folder

    p = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path / "run")], stdout=subprocess.PIPE,
                         text=True, env=dict(os.environ, PYTHONPATH=SRC))
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=rf"in use by another advgame train \(pid {p.pid}\)"):
            prepare_run_folder(tmp_path / "run")
    finally:
        p.kill()
        p.wait()
    prepare_run_folder(tmp_path / "run").release()  # the lock died with its process


# =========================================================== 4. train arguments
@pytest.mark.parametrize("case", ["out is a file", "out under a file", "seed 10**20", "device cuda"])
def test_bad_train_arguments_are_one_line_before_training(tmp_path, capsys, monkeypatch, case):
    from advgame.torch.training import Trainer

    def never(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(Trainer, "fit", never)
    (tmp_path / "file").write_text("x")
    args = {"out is a file": ["--out", tmp_path / "file"],
            "out under a file": ["--out", tmp_path / "file" / "run"],
            "seed 10**20": ["--out", tmp_path / "r", "--seed", str(10**20)],
            "device cuda": ["--out", tmp_path / "r", "--device", "cuda"]}[case]
    if case == "device cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    needle = {"out is a file": "is a file, not a folder", "out under a file": "cannot create the folder",
              "seed 10**20": "seed must be an int in [0, 2**32)", "device cuda": "CUDA is not available"}[case]
    code, _, err = run_cli(capsys, "train", "--dataset", "digits", *args, *FAST)
    assert_one_line_error(code, err, needle)


def test_ctrl_c_during_train_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    from advgame.torch.training import Trainer

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "fit", interrupted)
    code, _, err = run_cli(capsys, "train", "--dataset", "digits", "--out", tmp_path / "r", *FAST)
    assert code == 130 and err.strip() == "advgame train: interrupted" and "Traceback" not in err


# =========================================================== 4. npz: only the format's arrays
def test_game_file_reads_only_the_formats_arrays(tmp_path, monkeypatch):
    """CORRECT and bounded: an unused (compressed, large) member is never decompressed."""
    from advgame import _io

    path = tmp_path / "g.npz"
    with open(path, "wb") as f:
        np.savez_compressed(f, losses=np.zeros((2, 3, 2)), mask=np.zeros((0, 0), bool), sample_weights=np.zeros(0),
                            bound=np.array(1.0), format_version=np.array(1), junk=np.zeros(2**24))
    read = []
    original = _io._read_member
    monkeypatch.setattr(_io, "_read_member", lambda a, info, key: read.append(key) or original(a, info, key))
    assert advgame.Game.load(path).shape == (2, 3, 2)
    assert "junk" not in read and set(read) == {"losses", "mask", "sample_weights", "bound", "format_version"}


def test_npz_total_size_is_bounded_before_reading(tmp_path, monkeypatch):
    """REFUSED: arrays that together exceed the machine's memory, before any is read."""
    from advgame import _io

    path = tmp_path / "g.npz"
    np.savez(path, a=np.zeros(1000), b=np.zeros(1000))
    monkeypatch.setattr(_io, "_physical_memory", lambda: 12_000)
    monkeypatch.setattr(_io, "_read_member", lambda *a: pytest.fail("read before the bound was checked"))
    with pytest.raises(ValueError, match="more than this machine's memory"):
        _io.read_npz(path)


def test_resume_from_a_damaged_checkpoint_is_one_line(digits_checkpoint, tmp_path, capsys):
    """REFUSED: ``train --resume`` on a checkpoint with missing entries (was a KeyError)."""
    out = tmp_path / "run"
    out.mkdir()
    _tamper(digits_checkpoint, out / "checkpoint.pt", lambda s: s.pop("optimizers"))
    code, _, err = run_cli(capsys, "train", "--dataset", "digits", "--models", 2, "--out", out, "--resume", *FAST)
    assert_one_line_error(code, err, "['optimizers'] are missing")
